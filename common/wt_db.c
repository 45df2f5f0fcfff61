#include "wt_db.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wt_buf.h"
#include "wt_log.h"

typedef struct prepared {
  char name[WT_DB_NAME_MAX];
  const char *sql; /* statement text pointers are static strings */
} prepared;

struct wt_db {
  PGconn *conn;
  char *url;
  char component[WT_DB_COMPONENT_MAX];
  bool log_sql;
  size_t nprepared;
  prepared prep[WT_DB_MAX_PREPARED];
  wt_db_counters counters;
  /* the pipeline wt_db_send put out and wt_db_wait has not read */
  bool in_flight;
  size_t flight_n;
  uint64_t flight_t0;
  bool flight_prep[WT_DB_MAX_PIPELINE];
};

/* --- process-wide stats ------------------------------------------------ */

typedef struct stat_entry {
  char component[WT_DB_COMPONENT_MAX];
  char name[WT_DB_NAME_MAX];
  wt_db_stat stat;
} stat_entry;

typedef struct comp_entry {
  char component[WT_DB_COMPONENT_MAX];
  uint64_t round_trips;
} comp_entry;

#define COMPONENTS_MAX 16

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static stat_entry stats[WT_DB_STATS_MAX];
static size_t nstats;
static comp_entry comps[COMPONENTS_MAX];
static size_t ncomps;

static stat_entry *stat_find(const char *component, const char *name,
                             bool create) {
  for (size_t i = 0; i < nstats; i++)
    if (strcmp(stats[i].name, name) == 0 &&
        strcmp(stats[i].component, component) == 0)
      return &stats[i];
  if (!create)
    return NULL;
  if (nstats == WT_DB_STATS_MAX) /* full: pool the rest under "other" */
    return strcmp(name, "other") == 0 ? NULL : stat_find(component, "other", 0);
  snprintf(stats[nstats].component, sizeof(stats[nstats].component), "%s",
           component);
  snprintf(stats[nstats].name, sizeof(stats[nstats].name), "%s", name);
  return &stats[nstats++];
}

static comp_entry *comp_find(const char *component, bool create) {
  for (size_t i = 0; i < ncomps; i++)
    if (strcmp(comps[i].component, component) == 0)
      return &comps[i];
  if (!create || ncomps == COMPONENTS_MAX)
    return NULL;
  snprintf(comps[ncomps].component, sizeof(comps[ncomps].component), "%s",
           component);
  return &comps[ncomps++];
}

int wt_db_stats_get(const char *component, const char *name, wt_db_stat *out) {
  stat_entry *e;
  int rc = -1;
  pthread_mutex_lock(&stats_lock);
  e = stat_find(component, name, false);
  if (e) {
    *out = e->stat;
    rc = 0;
  }
  pthread_mutex_unlock(&stats_lock);
  return rc;
}

uint64_t wt_db_stats_round_trips(const char *component) {
  comp_entry *c;
  uint64_t n = 0;
  pthread_mutex_lock(&stats_lock);
  c = comp_find(component, false);
  if (c)
    n = c->round_trips;
  pthread_mutex_unlock(&stats_lock);
  return n;
}

void wt_db_stats_reset(void) {
  pthread_mutex_lock(&stats_lock);
  nstats = 0;
  ncomps = 0;
  pthread_mutex_unlock(&stats_lock);
}

/* snprintf that tracks the total length needed. */

size_t wt_db_stats_prometheus(char *buf, size_t size) {
  static const struct {
    const char *metric, *help;
    size_t field;
    bool seconds;
  } series[] = {
      {"wt_db_statements_total", "SQL statements run",
       offsetof(wt_db_stat, calls), false},
      {"wt_db_rows_total", "Rows returned or affected",
       offsetof(wt_db_stat, rows), false},
      {"wt_db_statement_errors_total", "SQL statements that failed",
       offsetof(wt_db_stat, errors), false},
      {"wt_db_statement_seconds_total",
       "Each statement's own time: from the result before it in its pipeline "
       "(or the send) to its result",
       offsetof(wt_db_stat, micros), true},
  };
  size_t len = 0;
  if (size)
    buf[0] = '\0';
  pthread_mutex_lock(&stats_lock);
  wt_snappendf(buf, size, &len,
               "# HELP wt_db_round_trips_total Round trips to PostgreSQL\n"
               "# TYPE wt_db_round_trips_total counter\n");
  for (size_t i = 0; i < ncomps; i++)
    wt_snappendf(buf, size, &len,
                 "wt_db_round_trips_total{component=\"%s\"} %llu\n",
                 comps[i].component, (unsigned long long)comps[i].round_trips);
  for (size_t s = 0; s < sizeof(series) / sizeof(series[0]); s++) {
    wt_snappendf(buf, size, &len, "# HELP %s %s\n# TYPE %s counter\n",
                 series[s].metric, series[s].help, series[s].metric);
    for (size_t i = 0; i < nstats; i++) {
      uint64_t v;
      memcpy(&v, (const char *)&stats[i].stat + series[s].field, sizeof(v));
      if (series[s].seconds)
        wt_snappendf(buf, size, &len,
                     "%s{component=\"%s\",statement=\"%s\"} %.6f\n",
                     series[s].metric, stats[i].component, stats[i].name,
                     (double)v / 1e6);
      else
        wt_snappendf(buf, size, &len,
                     "%s{component=\"%s\",statement=\"%s\"} %llu\n",
                     series[s].metric, stats[i].component, stats[i].name,
                     (unsigned long long)v);
    }
  }
  pthread_mutex_unlock(&stats_lock);
  return len;
}

/* --- connections ------------------------------------------------------- */

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void copy_error(const PGconn *conn, const PGresult *res, char *errstr,
                       size_t errstr_size) {
  const char *msg = res ? PQresultErrorMessage(res) : NULL;
  if (!msg || !*msg)
    msg = PQerrorMessage(conn);
  wt_errf(errstr, errstr_size, "%s", msg);
  /* libpq messages end with a newline */
  if (errstr && errstr_size) {
    size_t n = strlen(errstr);
    while (n > 0 && (errstr[n - 1] == '\n' || errstr[n - 1] == ' '))
      errstr[--n] = '\0';
  }
}

static void on_notice(void *arg, const char *message) {
  (void)arg;
  WT_DEBUG("pg notice %s", message);
}

static wt_err open_conn(wt_db *db, char *errstr, size_t errstr_size) {
  db->conn = PQconnectdb(db->url);
  db->nprepared = 0;
  if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
    copy_error(db->conn, NULL, errstr, errstr_size);
    PQfinish(db->conn);
    db->conn = NULL;
    return WT_ERR_DB_CONN;
  }
  PQsetNoticeProcessor(db->conn, on_notice, NULL);
  /* Non-blocking sends let a long pipeline be flushed while the server's
   * answers are read, so neither side can fill its buffer and wait. */
  if (PQsetnonblocking(db->conn, 1) != 0) {
    copy_error(db->conn, NULL, errstr, errstr_size);
    PQfinish(db->conn);
    db->conn = NULL;
    return WT_ERR_DB_CONN;
  }
  return WT_OK;
}

wt_err wt_db_connect(const char *url, const char *component, bool log_sql,
                     wt_db **out, char *errstr, size_t errstr_size) {
  wt_db *db = calloc(1, sizeof(*db));
  wt_err err;
  *out = NULL;
  if (!db || !(db->url = strdup(url))) {
    free(db);
    wt_errf(errstr, errstr_size, "out of memory");
    return WT_ERR_NOMEM;
  }
  snprintf(db->component, sizeof(db->component), "%s", component);
  db->log_sql = log_sql;
  err = open_conn(db, errstr, errstr_size);
  if (err != WT_OK) {
    wt_db_destroy(db);
    return err;
  }
  *out = db;
  return WT_OK;
}

void wt_db_destroy(wt_db *db) {
  if (!db)
    return;
  PQfinish(db->conn);
  free(db->url);
  free(db);
}

wt_err wt_db_reconnect(wt_db *db, char *errstr, size_t errstr_size) {
  PQfinish(db->conn);
  db->conn = NULL;
  return open_conn(db, errstr, errstr_size);
}

PGTransactionStatusType wt_db_txn_status(const wt_db *db) {
  return db->conn ? PQtransactionStatus(db->conn) : PQTRANS_UNKNOWN;
}

PGconn *wt_db_conn(wt_db *db) {
  return db->conn;
}

void wt_db_get_counters(const wt_db *db, wt_db_counters *out) {
  *out = db->counters;
}

wt_err wt_db_conninfo_with_dbname(const char *url, const char *dbname,
                                  char *out, size_t out_size, char *errstr,
                                  size_t errstr_size) {
  char *err = NULL;
  PQconninfoOption *opts = PQconninfoParse(url, &err);
  size_t len = 0;
  if (!opts) {
    wt_errf(errstr, errstr_size, "bad database URL: %s", err ? err : "?");
    PQfreemem(err);
    return WT_ERR_INVALID;
  }
  for (PQconninfoOption *o = opts; o->keyword; o++) {
    const char *v = strcmp(o->keyword, "dbname") == 0 ? dbname : o->val;
    if (!v)
      continue;
    len += (size_t)snprintf(out + len, len < out_size ? out_size - len : 0,
                            "%s='", o->keyword);
    for (const char *c = v; *c && len + 3 < out_size; c++) {
      if (*c == '\'' || *c == '\\')
        out[len++] = '\\';
      out[len++] = *c;
    }
    len +=
        (size_t)snprintf(out + len, len < out_size ? out_size - len : 0, "' ");
  }
  PQconninfoFree(opts);
  if (len >= out_size) {
    wt_errf(errstr, errstr_size, "database URL longer than %zu bytes",
            out_size);
    return WT_ERR_NOMEM;
  }
  return WT_OK;
}

void wt_db_stmts_clear(wt_db_stmt *stmts, size_t n) {
  for (size_t i = 0; i < n; i++) {
    PQclear(stmts[i].result);
    stmts[i].result = NULL;
  }
}

/* --- the instrumented run ---------------------------------------------- */

/* 1: prepared already, 0: must be prepared now (and may be), -1: run it
 * unnamed (the per-connection table is full), -2: the name is prepared
 * for other SQL (check_stmts refuses the run, WT_ERR_INVALID). */
static int prepared_state(const wt_db *db, const wt_db_stmt *st) {
  for (size_t i = 0; i < db->nprepared; i++)
    if (strcmp(db->prep[i].name, st->name) == 0)
      return db->prep[i].sql == st->sql || strcmp(db->prep[i].sql, st->sql) == 0
                 ? 1
                 : -2;
  return db->nprepared < WT_DB_MAX_PREPARED ? 0 : -1;
}

static uint64_t result_rows(PGresult *res) {
  switch (PQresultStatus(res)) {
  case PGRES_TUPLES_OK: return (uint64_t)PQntuples(res);
  case PGRES_COMMAND_OK: {
    const char *t = PQcmdTuples(res);
    return *t ? strtoull(t, NULL, 10) : 0;
  }
  default: return 0;
  }
}

static bool result_ok(const PGresult *res) {
  ExecStatusType s = PQresultStatus(res);
  return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

/* Flushes the output buffer, reading input meanwhile. */
static int flush_all(PGconn *conn) {
  for (;;) {
    int r = PQflush(conn);
    struct pollfd pfd;
    if (r <= 0)
      return r;
    pfd.fd = PQsocket(conn);
    pfd.events = POLLIN | POLLOUT;
    pfd.revents = 0;
    if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
      return -1;
    if ((pfd.revents & POLLIN) && !PQconsumeInput(conn))
      return -1;
  }
}

/* Reads one statement's result: the last non-NULL PGresult before the
 * NULL that ends it. */
static PGresult *read_result(PGconn *conn) {
  PGresult *last = NULL, *r;
  while ((r = PQgetResult(conn)) != NULL) {
    PQclear(last);
    last = r;
  }
  return last;
}

uint64_t wt_db_step_us(uint64_t at_us, uint64_t prev_at_us) {
  return at_us > prev_at_us ? at_us - prev_at_us : 0;
}

/* us: since the pipeline was sent (logged); step_us: the statement's own
 * share of it (counted, wt_db_step_us). */
static void record(wt_db *db, const wt_db_stmt *st, uint64_t rows, uint64_t us,
                   uint64_t step_us, bool failed) {
  stat_entry *e;
  pthread_mutex_lock(&stats_lock);
  e = stat_find(db->component, st->name, true);
  if (e) {
    e->stat.calls++;
    e->stat.rows += rows;
    e->stat.errors += failed;
    e->stat.micros += step_us;
  }
  pthread_mutex_unlock(&stats_lock);
  db->counters.statements++;
  db->counters.rows += rows;
  db->counters.errors += failed;
  if (db->log_sql)
    WT_INFO("sql name=%s rows=%llu us=%llu%s", st->name,
            (unsigned long long)rows, (unsigned long long)us,
            failed ? " failed=1" : "");
}

static void record_round_trip(wt_db *db, uint64_t us) {
  comp_entry *c;
  pthread_mutex_lock(&stats_lock);
  c = comp_find(db->component, true);
  if (c)
    c->round_trips++;
  pthread_mutex_unlock(&stats_lock);
  db->counters.round_trips++;
  db->counters.micros += us;
}

static void drop_conn(wt_db *db) {
  PQfinish(db->conn);
  db->conn = NULL;
  db->nprepared = 0;
  db->in_flight = false;
}

static wt_err run_script(wt_db *db, wt_db_stmt *st, char *errstr,
                         size_t errstr_size) {
  uint64_t t0 = now_us(), us;
  bool ok;
  /* The simple query protocol, for trusted files only: no parameters. */
  if (!PQsendQuery(db->conn, st->sql) || flush_all(db->conn) != 0) {
    copy_error(db->conn, NULL, errstr, errstr_size);
    return PQstatus(db->conn) == CONNECTION_OK ? WT_ERR_DB : WT_ERR_DB_CONN;
  }
  st->result = read_result(db->conn);
  us = now_us() - t0;
  ok = st->result && result_ok(st->result);
  record_round_trip(db, us);
  record(db, st, st->result ? result_rows(st->result) : 0, us, us, !ok);
  if (!ok) {
    copy_error(db->conn, st->result, errstr, errstr_size);
    return PQstatus(db->conn) == CONNECTION_OK ? WT_ERR_DB : WT_ERR_DB_CONN;
  }
  return WT_OK;
}

/* Does an earlier statement of the run use st's name for other SQL? */
static bool name_clash(const wt_db_stmt *stmts, size_t i) {
  for (size_t j = 0; j < i; j++)
    if (stmts[j].name && strcmp(stmts[j].name, stmts[i].name) == 0 &&
        stmts[j].sql != stmts[i].sql && strcmp(stmts[j].sql, stmts[i].sql) != 0)
      return true;
  return false;
}

static wt_err check_stmts(const wt_db *db, const wt_db_stmt *stmts, size_t n,
                          char *errstr, size_t errstr_size) {
  if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
    wt_errf(errstr, errstr_size, "not connected");
    return WT_ERR_DB_CONN;
  }
  if (n == 0 || n > WT_DB_MAX_PIPELINE) {
    wt_errf(errstr, errstr_size, "%zu statements (1..%d allowed)", n,
            WT_DB_MAX_PIPELINE);
    return WT_ERR_INVALID;
  }
  for (size_t i = 0; i < n; i++) {
    const wt_db_stmt *st = &stmts[i];
    if (!st->name || !*st->name || strlen(st->name) >= WT_DB_NAME_MAX ||
        !st->sql || st->nparams < 0 || st->nparams > 65535 ||
        (st->nparams > 0 && !st->params) || (!st->lengths != !st->formats) ||
        (st->script && (st->nparams != 0 || n != 1)) ||
        (!st->script && prepared_state(db, st) == -2) || name_clash(stmts, i)) {
      wt_errf(errstr, errstr_size,
              "statement %zu (%s) is malformed or reuses a name", i,
              st->name ? st->name : "?");
      return WT_ERR_INVALID;
    }
  }
  return WT_OK;
}

/* Queues one statement into the pipeline, preceded by its PREPARE on first
 * use on this connection (unless an earlier statement of this run prepares
 * the same name). *prepare_queued tells whether a PREPARE result comes
 * first. */
static int queue_stmt(wt_db *db, const wt_db_stmt *stmts, size_t i,
                      const bool *prep_queued, size_t nqueued_prepares,
                      bool *prepare_queued) {
  const wt_db_stmt *st = &stmts[i];
  int state = prepared_state(db, st);
  *prepare_queued = false;
  for (size_t j = 0; j < i && state == 0; j++)
    if (prep_queued[j] && strcmp(stmts[j].name, st->name) == 0)
      state = 1;
  if (state == 0 && db->nprepared + nqueued_prepares >= WT_DB_MAX_PREPARED)
    state = -1;
  if (state == 0) {
    if (!PQsendPrepare(db->conn, st->name, st->sql, st->nparams, NULL))
      return -1;
    *prepare_queued = true;
    state = 1;
  }
  if (state == 1)
    return PQsendQueryPrepared(db->conn, st->name, st->nparams, st->params,
                               st->lengths, st->formats, 0)
               ? 0
               : -1;
  return PQsendQueryParams(db->conn, st->sql, st->nparams, NULL, st->params,
                           st->lengths, st->formats, 0)
             ? 0
             : -1;
}

wt_err wt_db_send(wt_db *db, wt_db_stmt *stmts, size_t n, char *errstr,
                  size_t errstr_size) {
  wt_err err;
  size_t queued = 0, nprep = 0;

  for (size_t i = 0; i < n && i < WT_DB_MAX_PIPELINE; i++)
    stmts[i].result = NULL;
  if (db->in_flight) {
    wt_errf(errstr, errstr_size, "a pipeline is in flight: wt_db_wait first");
    return WT_ERR_INVALID;
  }
  err = check_stmts(db, stmts, n, errstr, errstr_size);
  if (err != WT_OK)
    return err;
  if (stmts[0].script) {
    wt_errf(errstr, errstr_size, "a script runs with wt_db_run");
    return WT_ERR_INVALID;
  }
  memset(db->flight_prep, 0, sizeof(db->flight_prep));
  db->flight_t0 = now_us();
  if (!PQenterPipelineMode(db->conn))
    goto conn_error;
  for (; queued < n; queued++) {
    if (queue_stmt(db, stmts, queued, db->flight_prep, nprep,
                   &db->flight_prep[queued]) != 0)
      goto conn_error;
    nprep += db->flight_prep[queued];
  }
  if (!PQpipelineSync(db->conn) || flush_all(db->conn) != 0)
    goto conn_error;
  db->in_flight = true;
  db->flight_n = n;
  return WT_OK;

conn_error:
  /* Nothing or part of it reached the server: count what was queued. */
  for (size_t i = 0; i < queued; i++)
    record(db, &stmts[i], 0, now_us() - db->flight_t0, 0, true);
  record_round_trip(db, now_us() - db->flight_t0);
  copy_error(db->conn, NULL, errstr, errstr_size);
  /* The pipeline is in an unknown state: drop the connection so that the
   * caller reconnects (and a half-sent transaction is rolled back). */
  drop_conn(db);
  return WT_ERR_DB_CONN;
}

wt_err wt_db_wait(wt_db *db, wt_db_stmt *stmts, size_t n, char *errstr,
                  size_t errstr_size) {
  wt_err first = WT_OK;
  uint64_t t0 = db->flight_t0, prev_at = 0;
  const bool *prep_queued = db->flight_prep;
  PGresult *sync;

  if (!db->in_flight || db->flight_n != n) {
    wt_errf(errstr, errstr_size, "no pipeline of %zu statements in flight", n);
    return WT_ERR_INVALID;
  }
  db->in_flight = false;
  for (size_t i = 0; i < n; i++) {
    wt_db_stmt *st = &stmts[i];
    uint64_t rows = 0;
    bool ok;
    if (prep_queued[i]) {
      PGresult *pr = read_result(db->conn);
      if (pr && PQresultStatus(pr) == PGRES_COMMAND_OK &&
          db->nprepared < WT_DB_MAX_PREPARED) {
        prepared *p = &db->prep[db->nprepared++];
        snprintf(p->name, sizeof(p->name), "%s", st->name);
        p->sql = st->sql;
        db->counters.prepares++;
      } else if (pr && first == WT_OK &&
                 PQresultStatus(pr) != PGRES_PIPELINE_ABORTED) {
        copy_error(db->conn, pr, errstr, errstr_size);
        first = WT_ERR_DB;
      }
      PQclear(pr);
    }
    st->result = read_result(db->conn);
    ok = st->result && result_ok(st->result);
    if (ok)
      rows = result_rows(st->result);
    {
      uint64_t at = now_us() - t0;
      record(db, st, rows, at, wt_db_step_us(at, prev_at), !ok);
      prev_at = at;
    }
    if (!ok && first == WT_OK) {
      copy_error(db->conn, st->result, errstr, errstr_size);
      first = PQstatus(db->conn) == CONNECTION_OK ? WT_ERR_DB : WT_ERR_DB_CONN;
    }
  }
  sync = PQgetResult(db->conn);
  if (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
    PQclear(sync);
    goto conn_error;
  }
  PQclear(sync);
  record_round_trip(db, now_us() - t0);
  if (!PQexitPipelineMode(db->conn))
    goto conn_error_counted;
  return first;

conn_error:
  record_round_trip(db, now_us() - t0);
conn_error_counted:
  copy_error(db->conn, NULL, errstr, errstr_size);
  drop_conn(db);
  return WT_ERR_DB_CONN;
}

wt_err wt_db_run(wt_db *db, wt_db_stmt *stmts, size_t n, char *errstr,
                 size_t errstr_size) {
  wt_err err;
  if (n >= 1 && n <= WT_DB_MAX_PIPELINE && stmts[0].script) {
    for (size_t i = 0; i < n; i++)
      stmts[i].result = NULL;
    err = check_stmts(db, stmts, n, errstr, errstr_size);
    return err != WT_OK ? err : run_script(db, &stmts[0], errstr, errstr_size);
  }
  err = wt_db_send(db, stmts, n, errstr, errstr_size);
  return err != WT_OK ? err : wt_db_wait(db, stmts, n, errstr, errstr_size);
}

wt_err wt_db_exec(wt_db *db, const char *name, const char *sql, int nparams,
                  const char *const *params, PGresult **res, char *errstr,
                  size_t errstr_size) {
  wt_db_stmt st = {
      .name = name, .sql = sql, .nparams = nparams, .params = params};
  wt_err err = wt_db_run(db, &st, 1, errstr, errstr_size);
  if (res && err == WT_OK) {
    *res = st.result;
    return err;
  }
  if (res)
    *res = NULL; /* the error is in errstr: nothing for a retry to leak */
  PQclear(st.result);
  return err;
}
