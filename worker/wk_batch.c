#include "wk_batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wk_oom.h"
#include "wt_log.h"

/* a batch is tried at most this often (load, decide, write each) */
#define MAX_ATTEMPTS 4
/* a SQLSTATE: 5 characters and the NUL, rounded up */
#define SQLSTATE_SIZE 8
/* wk_batch_send's error text: dropped, wk_batch_finish starts over */
#define SEND_ERR_MAX 256
/* the load statements: users, projects, logs, events, rejections */
#define LOAD_STMTS_MAX (WK_LOAD_LISTS + 2)

/* The I/O half of a batch: loads, the pipeline, retries. What it decides
 * and writes comes from wk_decide (the pure half). */
struct wk_batch {
  wt_db *db;
  wk_decide d;
  /* wk_batch_prepare's decisions, valid while the state's epoch holds */
  bool prepared;
  uint64_t prepared_epoch;
  size_t prepared_n;
  double prepared_ms;
  void (*write_hook)(void *ctx, bool before);
  void *write_hook_ctx;
  /* the run in progress (wk_batch_send .. wk_batch_finish) */
  wt_db_stmt ws[WK_WRITE_STMTS_MAX]; /* the transaction's statements */
  size_t nws;
  bool sent; /* its first attempt is out */
  wt_db_counters c0;
  double t_write;
  char sqlstate[SQLSTATE_SIZE]; /* of the last refused write */
  /* the loaded rows as wk_state_load_* takes them, reused */
  wk_user_row *users;
  wt_project_state *projects;
  wt_member_state *members;
  wt_log_state *logs;
  size_t users_cap, projects_cap, members_cap, logs_cap;
};

wk_batch *wk_batch_new(wt_db *db, wk_state *st, const wt_config *cfg,
                       const char *group, const char *topic) {
  wk_batch *b = calloc(1, sizeof(*b));
  if (!b)
    return NULL;
  b->db = db;
  if (!wk_decide_init(&b->d, st, cfg, group, topic)) {
    wk_batch_destroy(b);
    return NULL;
  }
  return b;
}

void wk_batch_destroy(wk_batch *b) {
  if (!b)
    return;
  wk_decide_free(&b->d);
  free(b->users);
  free(b->projects);
  free(b->members);
  free(b->logs);
  free(b);
}

/* --- one attempt ------------------------------------------------------- */

static const char *sqlstate_of(const wt_db_stmt *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i].result && PQresultStatus(s[i].result) == PGRES_FATAL_ERROR) {
      const char *code = PQresultErrorField(s[i].result, PG_DIAG_SQLSTATE);
      return code ? code : "";
    }
  return "";
}

/* Grows *arr (of *cap elements of size sz) to at least n elements. */
static void reserve(void **arr, size_t *cap, size_t n, size_t sz) {
  void *p;
  if (n <= *cap)
    return;
  p = realloc(*arr, n * sz);
  if (!p)
    wk_oom(__func__);
  *arr = p;
  *cap = n;
}

static int64_t col_i64(const PGresult *r, int row, int col) {
  return PQgetisnull(r, row, col) ? 0
                                  : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void copy_col(const PGresult *r, int row, int col, char *out,
                     size_t size) {
  wt_copy_str(out, size, PQgetvalue(r, row, col));
}

/* users: id, username, display_name, is_active, token_version, created_at,
 * seq */
static void load_users(wk_batch *b, const PGresult *res) {
  size_t n = (size_t)PQntuples(res);
  reserve((void **)&b->users, &b->users_cap, n, sizeof(*b->users));
  for (size_t i = 0; i < n; i++) {
    wk_user_row *u = &b->users[i];
    int r = (int)i;
    memset(u, 0, sizeof(*u));
    copy_col(res, r, 0, u->s.id, sizeof(u->s.id));
    copy_col(res, r, 1, u->s.username, sizeof(u->s.username));
    copy_col(res, r, 2, u->s.display_name, sizeof(u->s.display_name));
    u->s.active = PQgetvalue(res, r, 3)[0] == 't';
    u->s.token_version = col_i64(res, r, 4);
    u->s.created_at = col_i64(res, r, 5);
    u->seq = col_i64(res, r, 6);
  }
  wk_state_load_users(b->d.st, b->users, n);
}

/* projects: id, name, created_by, created_at, seq, member user_id, role,
 * added_at (one row per member; a project without members has NULLs):
 * one wt_project_state per project, its members side by side */
static void load_projects(wk_batch *b, const PGresult *res) {
  int nrows = PQntuples(res);
  size_t np = 0, nm = 0;
  reserve((void **)&b->projects, &b->projects_cap, (size_t)nrows,
          sizeof(*b->projects));
  reserve((void **)&b->members, &b->members_cap, (size_t)nrows,
          sizeof(*b->members));
  for (int i = 0; i < nrows; i++) {
    wt_project_state *p;
    bool seen = false;
    for (size_t k = 0; k < np && !seen; k++)
      seen = strcmp(b->projects[k].id, PQgetvalue(res, i, 0)) == 0;
    if (seen)
      continue;
    p = &b->projects[np++];
    memset(p, 0, sizeof(*p));
    copy_col(res, i, 0, p->id, sizeof(p->id));
    copy_col(res, i, 1, p->name, sizeof(p->name));
    copy_col(res, i, 2, p->created_by, sizeof(p->created_by));
    p->created_at = col_i64(res, i, 3);
    p->seq = col_i64(res, i, 4);
    p->members = &b->members[nm];
    for (int j = i; j < nrows; j++) {
      wt_member_state *m;
      if (PQgetisnull(res, j, 5) || strcmp(PQgetvalue(res, j, 0), p->id) != 0)
        continue;
      m = &b->members[nm++];
      copy_col(res, j, 5, m->user_id, sizeof(m->user_id));
      m->role = strcmp(PQgetvalue(res, j, 6), "owner") == 0 ? WT_ROLE_OWNER
                                                            : WT_ROLE_MEMBER;
      m->added_at = col_i64(res, j, 7);
      p->nmembers++;
    }
  }
  wk_state_load_projects(b->d.st, b->projects, np, &b->d.need);
}

/* logs: id, project_id, user_id, started_at, ended_at, description,
 * version, created_at, updated_at (descriptions point into res) */
static void load_logs(wk_batch *b, const PGresult *res) {
  size_t n = (size_t)PQntuples(res);
  reserve((void **)&b->logs, &b->logs_cap, n, sizeof(*b->logs));
  for (size_t i = 0; i < n; i++) {
    wt_log_state *l = &b->logs[i];
    int r = (int)i;
    memset(l, 0, sizeof(*l));
    copy_col(res, r, 0, l->id, sizeof(l->id));
    copy_col(res, r, 1, l->project_id, sizeof(l->project_id));
    copy_col(res, r, 2, l->user_id, sizeof(l->user_id));
    l->started_at = col_i64(res, r, 3);
    l->ended_null = PQgetisnull(res, r, 4);
    l->ended_at = col_i64(res, r, 4);
    l->description = PQgetvalue(res, r, 5);
    l->version = col_i64(res, r, 6);
    l->created_at = col_i64(res, r, 7);
    l->updated_at = col_i64(res, r, 8);
  }
  wk_state_load_logs(b->d.st, b->logs, n, &b->d.need);
}

/* The first outcomes of the commands that may have been decided before:
 * found ones become duplicates with their outcome re-published. */
static void load_outcomes(wk_batch *b, size_t n, const PGresult *ev,
                          const PGresult *rj) {
  wk_decide *d = &b->d;
  for (size_t i = 0; i < n; i++) {
    if (d->state[i] != WK_MSG_REDELIVERED && d->state[i] != WK_MSG_FRESH)
      continue;
    for (int r = 0; r < PQntuples(ev) && d->state[i] != WK_MSG_DECIDED; r++) {
      if (strcmp(PQgetvalue(ev, r, 0), d->cmds[i].command_id) != 0)
        continue;
      wk_decide_set_found(
          d, i,
          wt_outcome_event_json(
              PQgetvalue(ev, r, 3), PQgetvalue(ev, r, 1),
              strtoll(PQgetvalue(ev, r, 2), NULL, 10), PQgetvalue(ev, r, 0),
              PQgetisnull(ev, r, 4) ? NULL : PQgetvalue(ev, r, 4),
              strtoll(PQgetvalue(ev, r, 5), NULL, 10), PQgetvalue(ev, r, 6)));
    }
    for (int r = 0; r < PQntuples(rj) && d->state[i] != WK_MSG_DECIDED; r++) {
      if (strcmp(PQgetvalue(rj, r, 0), d->cmds[i].command_id) != 0)
        continue;
      wk_decide_set_found(
          d, i,
          wt_outcome_rejected_json(
              PQgetvalue(rj, r, 0),
              PQgetisnull(rj, r, 2) ? NULL : PQgetvalue(rj, r, 2),
              PQgetisnull(rj, r, 3) ? NULL : PQgetvalue(rj, r, 3),
              wt_reject_parse(PQgetvalue(rj, r, 4)), PQgetvalue(rj, r, 5)));
    }
  }
  wk_decide_lookup_done(d, n);
}

/* Loads what the fresh commands need and the outcomes of the commands
 * that were decided before; one round trip, none when nothing is missing. */
static wt_err load(wk_batch *b, const wk_msg *msgs, size_t n, bool verify,
                   bool lookup_fresh, char *errstr, size_t errstr_size) {
  wt_db_stmt s[LOAD_STMTS_MAX];
  int idx[LOAD_STMTS_MAX];
  size_t ns = wk_decide_load_plan(&b->d, msgs, n, verify, lookup_fresh, s, idx);
  wt_err err;
  if (ns == 0)
    return WT_OK;
  err = wt_db_run(b->db, s, ns, errstr, errstr_size);
  if (err != WT_OK)
    goto out;
  if (idx[WK_LOAD_USER_IDS] >= 0)
    load_users(b, s[idx[WK_LOAD_USER_IDS]].result);
  if (idx[WK_LOAD_PROJECT_IDS] >= 0)
    load_projects(b, s[idx[WK_LOAD_PROJECT_IDS]].result);
  if (idx[WK_LOAD_LOG_IDS] >= 0)
    load_logs(b, s[idx[WK_LOAD_LOG_IDS]].result);
  if (idx[WK_LOAD_LISTS] >= 0)
    load_outcomes(b, n, s[idx[WK_LOAD_LISTS]].result,
                  s[idx[WK_LOAD_LISTS + 1]].result);
out:
  wt_db_stmts_clear(s, ns);
  return err;
}

/* The header's value of name (the first; *count: how many there are). */
static void header_values(const rd_kafka_headers_t *hdrs, const char *name,
                          const void **value, size_t *len, unsigned *count) {
  const void *v;
  size_t sz;
  *count = 0;
  for (size_t idx = 0; rd_kafka_header_get(hdrs, idx, name, &v, &sz) ==
                       RD_KAFKA_RESP_ERR_NO_ERROR;
       idx++)
    if ((*count)++ == 0) {
      *value = v;
      *len = sz;
    }
}

void wk_msg_check_signer(wk_msg *m, const wt_sign_keys *keys,
                         const rd_kafka_headers_t *hdrs) {
  wt_sign_headers h = {0};
  if (keys && hdrs) {
    header_values(hdrs, WT_SIGN_HEADER_PRODUCER, &h.producer, &h.producer_len,
                  &h.producer_count);
    header_values(hdrs, WT_SIGN_HEADER_SIGNATURE, &h.signature,
                  &h.signature_len, &h.signature_count);
  }
  wt_sign_verify(keys, &h, m->key, m->key_len, m->value, m->len, &m->signer);
}

/* Sends the batch's transaction in one pipeline (b->ws); on WT_OK the
 * write hook's "before" ran and write_wait must follow. */
static wt_err write_send(wk_batch *b, size_t n, char *errstr,
                         size_t errstr_size) {
  wt_err err =
      wk_decide_write_plan(&b->d, n, b->ws, &b->nws, errstr, errstr_size);
  if (err != WT_OK)
    return err;
  err = wt_db_send(b->db, b->ws, b->nws, errstr, errstr_size);
  if (err != WT_OK)
    return err;
  /* into the caches once PostgreSQL has the transaction (not before: it
   * would wait meanwhile), and before the hook lets the next batch be
   * decided on them; undone if the transaction fails */
  wk_state_commit(b->d.st);
  if (b->write_hook)
    b->write_hook(b->write_hook_ctx, true);
  return WT_OK;
}

/* The answer to write_send; *sqlstate: the failing statement's code. */
static wt_err write_wait(wk_batch *b, const char **sqlstate, char *errstr,
                         size_t errstr_size) {
  wt_err err = wt_db_wait(b->db, b->ws, b->nws, errstr, errstr_size);
  if (b->write_hook)
    b->write_hook(b->write_hook_ctx, false);
  *sqlstate = "";
  if (err == WT_ERR_DB) {
    snprintf(b->sqlstate, sizeof(b->sqlstate), "%s",
             sqlstate_of(b->ws, b->nws));
    *sqlstate = b->sqlstate;
  }
  wt_db_stmts_clear(b->ws, b->nws);
  return err;
}

/* --- the batch --------------------------------------------------------- */

static double clock_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Parses the messages; touches nothing but b (so it may run on another
 * thread while a batch of another wk_batch is written). */
void wk_batch_parse(wk_batch *b, const wk_msg *msgs, size_t n) {
  wk_decide_parse(&b->d, msgs, n);
}

void wk_batch_set_dead(wk_batch *b, const wk_msg *msgs, size_t n, size_t i,
                       const char *reason) {
  wk_decide_set_dead(&b->d, msgs, n, i, reason);
}

static bool is_sqlstate(const char *code, const char *want) {
  return strcmp(code, want) == 0;
}

void wk_batch_set_write_hook(wk_batch *b, void (*fn)(void *ctx, bool before),
                             void *ctx) {
  b->write_hook = fn;
  b->write_hook_ctx = ctx;
}

bool wk_batch_prepare(wk_batch *b, const wk_msg *msgs, size_t n,
                      const wk_positions *pos) {
  double t = clock_ms();
  b->prepared = false;
  wk_decide *d = &b->d;
  if (n > d->cap || n == 0)
    return false;
  if (d->parsed != n)
    wk_decide_parse(d, msgs, n);
  wk_decide_classify(d, msgs, n, pos);
  for (size_t i = 0; i < n; i++)
    if (d->state[i] == WK_MSG_REDELIVERED)
      return false; /* its outcome is looked up: the runner's work */
  wk_decide_collect(d, msgs, n, false, false);
  if (!wk_need_empty(&d->need) ||
      !wk_decide_run(d, msgs, n, wt_time_now_us()) || d->reload_created) {
    wk_state_discard(d->st); /* nothing applied: this unpins */
    return false;
  }
  b->prepared = true;
  b->prepared_epoch = wk_state_epoch(d->st);
  b->prepared_n = n;
  b->prepared_ms = clock_ms() - t;
  return true;
}

static void copy_counts(wk_batch_result *res, const wk_batch_result *d) {
  res->applied = d->applied;
  res->rejected = d->rejected;
  memcpy(res->by_type, d->by_type, sizeof(res->by_type));
  memcpy(res->unverified, d->unverified, sizeof(res->unverified));
}

/* After a failed write: nothing of it may stay in the caches, and what
 * the other batch decided meanwhile rests on it. */
static void undo_write(wk_batch *b) {
  wk_state_discard(b->d.st);
  wk_state_invalidate(b->d.st);
  if (wt_db_txn_status(b->db) == PQTRANS_INERROR ||
      wt_db_txn_status(b->db) == PQTRANS_INTRANS)
    (void)wt_db_exec(b->db, "rollback", "ROLLBACK", 0, NULL, NULL, NULL, 0);
}

/* What a refused write means: WT_OK to try again (with *verify or
 * *lookup_fresh set), else the error to return. */
static wt_err after_refusal(wt_err err, const char *code, const char *errstr,
                            bool *verify, bool *lookup_fresh) {
  if (err != WT_ERR_DB)
    return err;
  if (is_sqlstate(code, "WT409"))
    return WT_ERR_CONFLICT;
  if (is_sqlstate(code, "WT208") ||
      (is_sqlstate(code, "23505") && strstr(errstr, "events_command_id_key"))) {
    WT_INFO("batch has commands decided before: re-publishing their "
            "outcomes");
    *lookup_fresh = true;
    return WT_OK;
  }
  if (is_sqlstate(code, "23505")) {
    WT_INFO("batch assumed an existing id new: loading and deciding again "
            "error=\"%s\"",
            errstr);
    *verify = true;
    return WT_OK;
  }
  WT_ERROR("batch refused by PostgreSQL sqlstate=%s error=\"%s\"", code,
           errstr);
  return err;
}

/* Attempts first..MAX_ATTEMPTS: load, decide, write, each one round trip
 * at most, waiting for each. */
static wt_err attempts(wk_batch *b, const wk_msg *msgs, size_t n, int first,
                       bool verify, bool lookup_fresh, wk_batch_result *res,
                       char *errstr, size_t errstr_size) {
  wt_err err = WT_ERR_DB;
  for (int attempt = first; attempt < MAX_ATTEMPTS; attempt++) {
    const char *code = "";
    double t = clock_ms(), t1;
    err = load(b, msgs, n, verify, lookup_fresh, errstr, errstr_size);
    t1 = clock_ms();
    res->ms_load += t1 - t;
    if (err != WT_OK)
      break;
    if (!wk_decide_run(&b->d, msgs, n, wt_time_now_us())) {
      wt_errf(errstr, errstr_size, "batch parameters over their cap");
      err = WT_ERR_NOMEM;
      break;
    }
    res->ms_decide += clock_ms() - t1;
    if (b->d.reload_created && !verify) {
      /* nothing written: decide again with the created ids loaded */
      WT_INFO("batch rejected a create of an id assumed new that a later "
              "command names: loading and deciding again");
      wk_state_discard(b->d.st);
      verify = true;
      err = WT_ERR_DB;
      continue;
    }
    t = clock_ms();
    err = write_send(b, n, errstr, errstr_size);
    if (err == WT_OK)
      err = write_wait(b, &code, errstr, errstr_size);
    res->ms_write += clock_ms() - t;
    if (err == WT_OK) {
      wk_state_settle(b->d.st);
      copy_counts(res, &b->d.decided);
      break;
    }
    undo_write(b);
    err = after_refusal(err, code, errstr, &verify, &lookup_fresh);
    if (err != WT_OK)
      break;
    err = WT_ERR_DB; /* tried again below, or out of attempts */
  }
  return err;
}

bool wk_batch_send(wk_batch *b, const wk_msg *msgs, size_t n,
                   const wk_positions *pos, wk_batch_result *res) {
  double t = clock_ms();
  char err[SEND_ERR_MAX];
  wk_decide *d = &b->d;
  bool use_prepared = b->prepared && b->prepared_n == n && n <= d->cap &&
                      b->prepared_epoch == wk_state_epoch(d->st);
  b->prepared = false;
  b->sent = false;
  if (!use_prepared)
    wk_state_discard(d->st); /* a stale speculation, if any */
  if (n > d->cap)
    return false;
  wt_db_get_counters(b->db, &b->c0);
  res->ms_parse = res->ms_load = res->ms_decide = res->ms_write = 0;
  res->prepared = use_prepared;
  if (d->parsed != n)
    wk_decide_parse(d, msgs, n);
  d->parsed = 0;
  if (!use_prepared)
    wk_decide_classify(d, msgs, n, pos);
  (void)wk_decide_offsets(d, msgs, n, pos);
  res->ms_parse += clock_ms() - t;
  if (!use_prepared)
    return false;                   /* wk_batch_finish decides and writes it */
  res->ms_decide += b->prepared_ms; /* spent ahead, on another thread */
  b->t_write = clock_ms();
  if (write_send(b, n, err, sizeof(err)) != WT_OK) {
    /* the connection is gone: finish starts over (and reports it) */
    undo_write(b);
    return false;
  }
  b->sent = true;
  return true;
}

wt_err wk_batch_finish(wk_batch *b, const wk_msg *msgs, size_t n,
                       wk_positions *pos, wk_batch_result *res, char *errstr,
                       size_t errstr_size) {
  bool verify = false, lookup_fresh = false;
  wt_db_counters c1;
  wt_err err;

  if (n > b->d.cap) {
    wt_errf(errstr, errstr_size, "batch of %zu over WT_BATCH_MAX", n);
    return WT_ERR_INVALID;
  }
  if (b->sent) {
    const char *code = "";
    b->sent = false;
    err = write_wait(b, &code, errstr, errstr_size);
    res->ms_write += clock_ms() - b->t_write;
    if (err == WT_OK) {
      wk_state_settle(b->d.st);
      copy_counts(res, &b->d.decided);
    } else {
      undo_write(b);
      err = after_refusal(err, code, errstr, &verify, &lookup_fresh);
      if (err == WT_OK)
        err = attempts(b, msgs, n, 1, verify, lookup_fresh, res, errstr,
                       errstr_size);
    }
  } else {
    err = attempts(b, msgs, n, 0, false, false, res, errstr, errstr_size);
  }
  wt_db_get_counters(b->db, &c1);
  res->round_trips = c1.round_trips - b->c0.round_trips;
  if (err != WT_OK)
    return err;

  /* positions advance; outcomes in message order */
  wk_decide_outcomes(&b->d, msgs, n, pos, res);
  return WT_OK;
}

wt_err wk_batch_run(wk_batch *b, const wk_msg *msgs, size_t n,
                    wk_positions *pos, wk_batch_result *res, char *errstr,
                    size_t errstr_size) {
  (void)wk_batch_send(b, msgs, n, pos, res);
  return wk_batch_finish(b, msgs, n, pos, res, errstr, errstr_size);
}
