/* bench/worker: how fast wt-worker drains commands on the real broker and
 * PostgreSQL, side by side with its limit (COPY) and its naive form
 * (WT_BATCH_MAX=1), in one run.
 *
 *   bench_worker [options] [N [NAIVE_N [PROJECTS [MEMBERS]]]]
 *
 * Every step gets a fresh database (CREATE DATABASE + wt_migrate_run) and
 * a fresh WT_TOPIC_PREFIX; wt-worker runs as a child process.
 *
 *  1. setup (not timed, drained by the worker): PROJECTS x MEMBERS
 *     user.create, then per project project.create by its first member and
 *     member.add of the others (members are distinct users).
 *  2. the drain: N commands, 70 % log.create, 20 % log.update (the author
 *     changes the description or ended_at of one of his live logs), 10 %
 *     log.delete (of a live log of his), of which ~2 % are meant to be
 *     rejected (a non-member's create: not_found; another member's update
 *     or delete: forbidden). A model of the logs keeps updates and deletes
 *     on logs whose create comes earlier in the same partition. All JSON is
 *     generated first. To time the worker rather than the producer, the
 *     worker is paused (SIGSTOP) while the N commands are produced and
 *     resumed (SIGCONT) after: commands_per_s = N / (resume -> last
 *     outcome). Pausing instead of restarting keeps its caches warm (the
 *     goals are stated for warm caches) and its group membership; the pause
 *     must stay under the consumer's session.timeout.ms (10 s), so the
 *     bench warns when producing took longer. Outcomes are read from
 *     <prefix>.events by a no-group consumer on every partition; command ids
 *     embed a sequence number, so matching is an array look-up.
 *     round_trips_per_batch is read from the worker's /metrics before and
 *     after: delta wt_worker_batch_round_trips_total / delta
 *     wt_worker_batch_size_count.
 *     worker_cpu_s: the CPU seconds of all of wt-worker's threads during the
 *     drain (/proc/PID/task/TID/schedstat), and per command: the worker's
 *     share of the two cores it competes for with PostgreSQL here.
 *  3. latency: with the worker warm and running, LAT commands of the same
 *     mix are produced at a steady RATE/s by a producer configured as the
 *     gateway's (linger.ms=1); latency = outcome received - produce call,
 *     p50/p99 in ms. (Latency during the drain would measure the backlog.)
 *  4. the COPY limit: the rows the drain left (work_logs, the log.* events
 *     with their data, the rejections, and projects.seq) are dumped from
 *     the worker's database and written into a fresh one holding the same
 *     setup rows with one COPY per table and one UPDATE, in one
 *     transaction: N / that time is the limit in commands/s.
 *     Beside the wall-clock figures: db_cpu_s, the CPU seconds PostgreSQL's
 *     backend spent for the worker during the drain, and copy_db_cpu_s, the
 *     COPY's backend for the limit (/proc/PID/schedstat; printed when
 *     PostgreSQL runs on this machine). Their ratio says how much more work
 *     the database does for the worker than for COPY, whatever the other
 *     processes on the machine take from the drain's wall clock.
 *     Steps 1, 2 and 4 run --rounds times (3), each round on a fresh
 *     database and prefix with the same commands, its COPY right after its
 *     drain; the figures printed are those of the round with the median
 *     ratio_to_copy_limit, and every round's commands_per_s, COPY and ratio
 *     are printed beside them (roundK_*). The machines are shared: single
 *     drains on the same code ranged 0.48-0.67 of the limit; the median of
 *     paired rounds moves less, and no round is hidden. Step 3 runs in the
 *     first round only, after its COPY.
 *  5. naive: a fresh database and prefix, the same setup (drained by a
 *     normal worker), then wt-worker with WT_BATCH_MAX=1: warmed up with one
 *     log.create per project (its caches are then as warm as the batched
 *     worker's), paused, fed NAIVE_N commands of the same mix, resumed and
 *     timed like step 2.
 *
 * Between phases the database gets VACUUM ANALYZE and CHECKPOINT (not
 * timed), so that a phase does not pay for the autovacuum and checkpoint
 * that the previous phase's writes set off: the figures then repeat.
 *
 * The figures go to stdout as key=value lines; progress to stderr. The
 * bulk producer is idempotent (wt_kafka_producer_new) with linger.ms=5,
 * batch.num.messages=10000, queue.buffering.max.messages=1000000. The
 * worker's own log goes to /tmp/<prefix>-worker.log, removed after a
 * successful run (kept with --keep, and named when the bench fails).
 *
 * The database is driven with raw libpq here, not wt_db: CREATE DATABASE
 * cannot run in wt_db's pipelines, and COPY (the baseline) is a protocol
 * mode of its own. This is a benchmark's baseline, not product code; the
 * migrations still go through wt_db (wt_migrate_run). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "wt_buf.h"
#include "wt_command.h"
#include "wt_db.h"
#include "wt_kafka.h"
#include "wt_log.h"
#include "wt_migrate.h"

#ifndef WT_MIGRATIONS_DIR
#error "WT_MIGRATIONS_DIR must name the migrations folder"
#endif
#ifndef WT_WORKER_BIN
#error "WT_WORKER_BIN must name the wt-worker binary"
#endif

#define REJECT_SHARE 0.02
#define STALL_S 60.0         /* no outcome for this long: the worker stalled */
#define PAUSE_WARN_S 8.0     /* the worker's session.timeout.ms is 10 s */
#define ROUNDS_MAX 9         /* --rounds */
#define SCRAPE_MAX (1 << 20) /* /metrics answer cap */
#define DUMP_CAP ((size_t)16 << 30)
#define ID_TAG_LEN 13 /* "xxxxxxxx-xxxx" */
#define KIND_COMMAND 0
#define KIND_LOG 1
#define KIND_REJECTED_LOG 2 /* log ids of creates meant to be rejected */

/* --- small things ------------------------------------------------------- */

static pid_t live_worker; /* the running child, stopped by bail() */
static char live_worker_log[256];

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void tail_worker_log(void) {
  char cmd[512];
  if (!live_worker_log[0])
    return;
  fprintf(stderr, "--- last lines of %s\n", live_worker_log);
  snprintf(cmd, sizeof(cmd), "tail -n 30 '%s' >&2", live_worker_log);
  if (system(cmd) != 0)
    fprintf(stderr, "(no worker log)\n");
}

static void bail(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
__attribute__((noreturn));
static void bail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "bench_worker: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  tail_worker_log();
  if (live_worker > 0) {
    kill(live_worker, SIGCONT);
    kill(live_worker, SIGTERM);
    waitpid(live_worker, NULL, 0);
  }
  exit(1);
}

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size);
  if (!p)
    bail("out of memory");
  return p;
}

/* xorshift64*: a reproducible mix, independent of the ids */
static uint64_t rng_next(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * UINT64_C(2685821657736338717);
}

static int rng_below(uint64_t *s, int n) {
  return (int)(rng_next(s) % (uint64_t)n);
}

static double rng_unit(uint64_t *s) {
  return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

/* A UUID whose last 12 hex digits count: tag (8-4 hex of a random uuid),
 * the kind in the third group, n in the last one. */
static void make_id(const char *tag, unsigned kind, uint64_t n,
                    char out[WT_UUID_STR]) {
  snprintf(out, WT_UUID_STR, "%.13s-4%03x-a000-%012llx", tag, kind & 0xfffu,
           (unsigned long long)(n & UINT64_C(0xffffffffffff)));
}

static void new_tag(char tag[ID_TAG_LEN + 1]) {
  char u[WT_UUID_STR];
  wt_uuid_generate(u);
  memcpy(tag, u, ID_TAG_LEN);
  tag[ID_TAG_LEN] = '\0';
}

/* --- the generator's model ---------------------------------------------- */

typedef struct blog {
  int32_t project, author; /* author: user index */
  int32_t pool_pos;        /* index in model.pool, -1 when deleted */
  int64_t started, ended;
} blog;

typedef struct model {
  int nprojects, nmembers;
  char (*users)[WT_UUID_STR]; /* user p * nmembers + k: member k of p */
  char (*projects)[WT_UUID_STR];
  char log_tag[ID_TAG_LEN + 1];
  blog *logs;
  size_t nlogs, logs_cap;
  int32_t *pool; /* live logs */
  size_t npool;
  size_t nrejected_logs;
  uint64_t rng;
  int64_t base_us;
} model;

static void model_init(model *m, int nprojects, int nmembers, uint64_t seed) {
  size_t nusers = (size_t)nprojects * (size_t)nmembers;
  memset(m, 0, sizeof(*m));
  m->nprojects = nprojects;
  m->nmembers = nmembers;
  m->users = xcalloc(nusers, sizeof(*m->users));
  m->projects = xcalloc((size_t)nprojects, sizeof(*m->projects));
  for (size_t u = 0; u < nusers; u++)
    wt_uuid_generate(m->users[u]);
  for (int p = 0; p < nprojects; p++)
    wt_uuid_generate(m->projects[p]);
  new_tag(m->log_tag);
  m->rng = seed | 1;
  /* whole seconds, 40 days back: logs lie in the past */
  m->base_us = (wt_time_now_us() / 1000000 - INT64_C(40) * 86400) * 1000000;
}

static void model_free(model *m) {
  free(m->users);
  free(m->projects);
  free(m->logs);
  free(m->pool);
  memset(m, 0, sizeof(*m));
}

static int user_of(const model *m, int project, int k) {
  return project * m->nmembers + k;
}

static size_t model_add_log(model *m, int project, int author) {
  blog *l;
  if (m->nlogs == m->logs_cap) {
    size_t cap = m->logs_cap ? m->logs_cap * 2 : 4096;
    blog *nl = realloc(m->logs, cap * sizeof(*nl));
    int32_t *np = realloc(m->pool, cap * sizeof(*np));
    if (!nl || !np)
      bail("out of memory");
    m->logs = nl;
    m->pool = np;
    m->logs_cap = cap;
  }
  l = &m->logs[m->nlogs];
  l->project = project;
  l->author = author;
  l->started = m->base_us + (int64_t)rng_below(&m->rng, 30 * 86400) * 1000000;
  l->ended =
      l->started + (int64_t)(300 + rng_below(&m->rng, 8 * 3600)) * 1000000;
  l->pool_pos = (int32_t)m->npool;
  m->pool[m->npool++] = (int32_t)m->nlogs;
  return m->nlogs++;
}

static void model_delete_log(model *m, size_t li) {
  int32_t pos = m->logs[li].pool_pos;
  int32_t last = m->pool[m->npool - 1];
  m->pool[pos] = last;
  m->logs[last].pool_pos = pos;
  m->npool--;
  m->logs[li].pool_pos = -1;
}

/* Another member of the author's project. */
static int other_member(model *m, const blog *l) {
  int k = l->author - l->project * m->nmembers;
  int other = (k + 1 + rng_below(&m->rng, m->nmembers - 1)) % m->nmembers;
  return user_of(m, l->project, other);
}

/* One log.* command of the mix into c. project >= 0 forces a valid
 * log.create in that project (warm-up). Returns true when the command is
 * meant to be rejected. */
static bool gen_log_command(model *m, wt_command *c, int project) {
  double u = rng_unit(&m->rng);
  bool reject = project < 0 && rng_unit(&m->rng) < REJECT_SHARE;
  wt_cmd_type type = u < 0.7   ? WT_CMD_LOG_CREATE
                     : u < 0.9 ? WT_CMD_LOG_UPDATE
                               : WT_CMD_LOG_DELETE;
  size_t li;
  blog *l;
  if (project >= 0 || m->npool == 0)
    type = WT_CMD_LOG_CREATE;
  if (type == WT_CMD_LOG_CREATE) {
    int p = project >= 0 ? project : rng_below(&m->rng, m->nprojects);
    int k = rng_below(&m->rng, m->nmembers);
    if (reject) {
      /* a member of the next project: not a member here, not_found */
      int actor = user_of(m, (p + 1) % m->nprojects, k);
      wt_command_init(c, type, m->users[actor]);
      snprintf(c->project_id, sizeof(c->project_id), "%s", m->projects[p]);
      make_id(m->log_tag, KIND_REJECTED_LOG, m->nrejected_logs++, c->log_id);
      c->started_at = m->base_us;
      c->ended_at = m->base_us + INT64_C(3600) * 1000000;
      snprintf(c->description, sizeof(c->description), "not mine");
    } else {
      li = model_add_log(m, p, user_of(m, p, k));
      l = &m->logs[li];
      wt_command_init(c, type, m->users[l->author]);
      snprintf(c->project_id, sizeof(c->project_id), "%s", m->projects[p]);
      make_id(m->log_tag, KIND_LOG, li, c->log_id);
      c->started_at = l->started;
      c->ended_at = l->ended;
      snprintf(c->description, sizeof(c->description), "bench work %zu", li);
    }
    c->fields =
        WT_F_LOG_ID | WT_F_STARTED_AT | WT_F_ENDED_AT | WT_F_DESCRIPTION;
    return reject;
  }
  li = (size_t)m->pool[rng_below(&m->rng, (int)m->npool)];
  l = &m->logs[li];
  wt_command_init(c, type, m->users[reject ? other_member(m, l) : l->author]);
  snprintf(c->project_id, sizeof(c->project_id), "%s", m->projects[l->project]);
  make_id(m->log_tag, KIND_LOG, li, c->log_id);
  c->fields = WT_F_LOG_ID;
  if (type == WT_CMD_LOG_DELETE) {
    if (!reject)
      model_delete_log(m, li);
    return reject;
  }
  if (rng_below(&m->rng, 2) == 0) {
    snprintf(c->description, sizeof(c->description), "edited %llu",
             (unsigned long long)rng_next(&m->rng) % 100000);
    c->fields |= WT_F_DESCRIPTION;
  } else {
    int64_t ended =
        l->started + (int64_t)(300 + rng_below(&m->rng, 8 * 3600)) * 1000000;
    if (!reject)
      l->ended = ended;
    c->ended_at = ended;
    c->fields |= WT_F_ENDED_AT;
  }
  return reject;
}

/* --- a run: one database, one topic prefix, one worker ------------------ */

typedef struct msg {
  char *json;
  size_t len;
  char key[WT_UUID_STR];
  size_t seq;
} msg;

typedef struct msglist {
  msg *v;
  size_t n, cap;
} msglist;

typedef struct run {
  const char *label;
  char prefix[64];
  char dbname[64];
  char url[2048];
  wt_kafka_topics topics;
  rd_kafka_t *producer; /* bulk: linger.ms=5 */
  rd_kafka_t *paced;    /* latency: as the gateway's (linger.ms=1) */
  rd_kafka_t *events;   /* no group, every partition from the start */
  pthread_t reader;
  bool reader_started;
  atomic_bool stop_reader;
  atomic_int failed_deliveries;
  char cmd_tag[ID_TAG_LEN + 1];
  /* per command, by the sequence in its id */
  size_t cap, nseq;
  size_t produced; /* commands [0, produced) are on the broker */
  int64_t *sent_us, *recv_us;
  uint8_t *expect_reject, *got; /* got: 0 none, 1 event, 2 rejected */
  atomic_size_t received, duplicates, foreign;
  pid_t worker;
  int metrics_port;
  char log_path[256];
  model m;
} run;

typedef struct options {
  long n, naive_n, latency_n, latency_rate;
  int projects, members, partitions, batch_max, batch_wait_ms, rounds;
  const char *worker_bin, *worker_log_level, *database_url, *brokers;
  bool keep;
} options;

static const options *opt;

/* Reads outcomes: "command_id":"<id>" is the first such key of both kinds
 * (a description cannot hold it unescaped), so no full JSON parse. */
static void on_outcome(run *r, const char *p, size_t len) {
  static const char key[] = "\"command_id\":\"";
  static const char rejected[] = "\"kind\":\"rejected\"";
  const char *id = memmem(p, len, key, sizeof(key) - 1);
  size_t seq;
  if (!id || (size_t)(p + len - id) < sizeof(key) - 1 + 36) {
    atomic_fetch_add(&r->foreign, 1);
    return;
  }
  id += sizeof(key) - 1;
  if (memcmp(id, r->cmd_tag, ID_TAG_LEN) != 0 ||
      memcmp(id + ID_TAG_LEN, "-4000-", 6) != 0) {
    atomic_fetch_add(&r->foreign, 1);
    return;
  }
  seq = (size_t)strtoull(id + 24, NULL, 16);
  if (seq >= r->cap) {
    atomic_fetch_add(&r->foreign, 1);
    return;
  }
  if (r->got[seq]) {
    atomic_fetch_add(&r->duplicates, 1);
    return;
  }
  r->recv_us[seq] = now_us();
  r->got[seq] =
      memmem(p, len > 64 ? 64 : len, rejected, sizeof(rejected) - 1) ? 2 : 1;
  atomic_fetch_add(&r->received, 1);
}

static void *reader_main(void *arg) {
  run *r = arg;
  while (!atomic_load(&r->stop_reader)) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(r->events, 100);
    if (!m)
      continue;
    if (!m->err && m->payload)
      on_outcome(r, m->payload, m->len);
    else if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
      WT_WARN("events consumer error=\"%s\"", rd_kafka_message_errstr(m));
    rd_kafka_message_destroy(m);
  }
  return NULL;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque) {
  run *r = opaque;
  (void)rk;
  if (m->err) {
    atomic_fetch_add(&r->failed_deliveries, 1);
    WT_WARN("command not delivered error=\"%s\"", rd_kafka_err2str(m->err));
  }
}

static rd_kafka_t *producer_new(run *r, bool bulk) {
  /* clang-format off */
  static const char *const bulk_extra[] = {
      "linger.ms",                    "5",
      "batch.num.messages",           "10000",
      "queue.buffering.max.messages", "1000000",
      NULL};
  /* clang-format on */
  char err[512];
  wt_kafka_conn conn;
  rd_kafka_t *rk;
  bench_kafka_conn(opt->brokers, &conn);
  rk = wt_kafka_producer_new(&conn, bulk ? "bench-bulk" : "bench-paced",
                             on_delivery, r, bulk ? bulk_extra : NULL, err,
                             sizeof(err));
  if (!rk)
    bail("producer: %s", err);
  return rk;
}

static PGconn *pg_connect(const char *conninfo) {
  PGconn *c = PQconnectdb(conninfo);
  if (PQstatus(c) != CONNECTION_OK)
    bail("PostgreSQL: %s", PQerrorMessage(c));
  return c;
}

static void pg_exec(PGconn *c, const char *sql) {
  PGresult *res = PQexec(c, sql);
  ExecStatusType st = PQresultStatus(res);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    bail("%s: %s", sql, PQerrorMessage(c));
  PQclear(res);
}

/* --- PostgreSQL's CPU -------------------------------------------------- */

#define BACKENDS_MAX 8

/* The pids of the database's client backends other than the asking one
 * (the worker's: one connection), or of the asking one (own = true), in
 * ascending order; how many, -1 when over BACKENDS_MAX. */
static int backend_pids(PGconn *c, bool own, int *pids) {
  PGresult *res = PQexec(
      c, own ? "SELECT pg_backend_pid()"
             : "SELECT pid FROM pg_stat_activity WHERE datname = "
               "current_database() AND backend_type = 'client backend' AND "
               "pid <> pg_backend_pid() ORDER BY pid");
  int n;
  if (PQresultStatus(res) != PGRES_TUPLES_OK)
    bail("backend pids: %s", PQerrorMessage(c));
  n = PQntuples(res) <= BACKENDS_MAX ? PQntuples(res) : -1;
  for (int i = 0; i < n; i++)
    pids[i] = atoi(PQgetvalue(res, i, 0));
  PQclear(res);
  return n;
}

/* Seconds on a CPU of one backend, from /proc/PID/schedstat; -1 when it
 * is not a local "postgres" process (PostgreSQL runs elsewhere). */
/* The first field of a schedstat file: seconds on a CPU; -1 unreadable. */
static double schedstat_s(const char *path) {
  unsigned long long ns = 0;
  FILE *f = fopen(path, "r");
  bool ok = f && fscanf(f, "%llu", &ns) == 1;
  if (f)
    fclose(f);
  return ok ? (double)ns / 1e9 : -1;
}

static double pid_cpu_s(int pid) {
  char path[64], comm[32] = "";
  bool ok;
  FILE *f;
  snprintf(path, sizeof(path), "/proc/%d/comm", pid);
  f = fopen(path, "r");
  ok = f && fgets(comm, sizeof(comm), f) && strncmp(comm, "postgres", 8) == 0;
  if (f)
    fclose(f);
  snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
  return ok ? schedstat_s(path) : -1;
}

/* The sum over those backends, -1 when one cannot be read. A figure of
 * the work the database did, beside the wall-clock ones that the other
 * processes on the machine move. */
static double pids_cpu_s(const int *pids, int n) {
  double s = n < 0 ? -1 : 0;
  for (int i = 0; i < n && s >= 0; i++) {
    double one = pid_cpu_s(pids[i]);
    s = one < 0 ? -1 : s + one;
  }
  return s;
}

/* Seconds on a CPU of every thread of a local process (the worker, our
 * child), from /proc/PID/task/TID/schedstat; -1 when unreadable. Threads
 * that end between two readings take their time with them: the worker's
 * live as long as it does. */
static double proc_cpu_s(pid_t pid) {
  char path[64];
  double s = 0;
  int read = 0;
  struct dirent *e;
  DIR *dir;
  snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
  dir = opendir(path);
  if (!dir)
    return -1;
  while ((e = readdir(dir)) != NULL) {
    char stat_path[300];
    double one;
    if (e->d_name[0] == '.')
      continue;
    snprintf(stat_path, sizeof(stat_path), "%s/%s/schedstat", path, e->d_name);
    one = schedstat_s(stat_path);
    if (one >= 0) {
      s += one;
      read++;
    }
  }
  closedir(dir);
  return read ? s : -1;
}

/* A fresh database, migrated. */
static void create_database(const char *name, char *url, size_t url_size) {
  PGconn *admin = pg_connect(opt->database_url);
  char sql[256], err[1024];
  wt_db *db = NULL;
  const char *dir = getenv("WT_MIGRATIONS_DIR");
  snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
  pg_exec(admin, sql);
  PQfinish(admin);
  if (wt_db_conninfo_with_dbname(opt->database_url, name, url, url_size, err,
                                 sizeof(err)) != WT_OK)
    bail("%s", err);
  if (wt_db_connect(url, "bench", false, &db, err, sizeof(err)) != WT_OK ||
      wt_migrate_run(db, dir ? dir : WT_MIGRATIONS_DIR, NULL, err,
                     sizeof(err)) != WT_OK)
    bail("database %s: %s", name, err);
  wt_db_destroy(db);
}

static void drop_database(const char *name) {
  PGconn *admin = pg_connect(opt->database_url);
  char sql[256];
  snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
  PQclear(PQexec(admin, sql));
  PQfinish(admin);
}

static void run_open(run *r, const char *label, size_t cap) {
  static int counter;
  const char *names[3];
  wt_kafka_conn conn;
  char err[512];
  rd_kafka_topic_partition_list_t *l;
  memset(r, 0, sizeof(*r));
  r->label = label;
  counter++;
  snprintf(r->prefix, sizeof(r->prefix), "wtbench-%d-%d-%s", (int)getpid(),
           counter, label);
  snprintf(r->dbname, sizeof(r->dbname), "wt_bench_%d_%d_%s", (int)getpid(),
           counter, label);
  snprintf(r->log_path, sizeof(r->log_path), "/tmp/%s-worker.log", r->prefix);
  wt_kafka_topic_names(r->prefix, &r->topics);
  new_tag(r->cmd_tag);
  r->cap = cap;
  r->sent_us = xcalloc(cap, sizeof(*r->sent_us));
  r->recv_us = xcalloc(cap, sizeof(*r->recv_us));
  r->expect_reject = xcalloc(cap, 1);
  r->got = xcalloc(cap, 1);
  create_database(r->dbname, r->url, sizeof(r->url));
  r->producer = producer_new(r, true);
  names[0] = r->topics.commands;
  names[1] = r->topics.events;
  names[2] = r->topics.dlq;
  if (wt_kafka_ensure_topics(r->producer, names, 3, opt->partitions, 30000, err,
                             sizeof(err)) != WT_OK)
    bail("topics: %s", err);
  if (bench_kafka_acls(r->producer, r->prefix, err, sizeof(err)) != WT_OK)
    bail("acls: %s", err);
  /* made now so that its producer id and the topic's metadata are there
   * before the latency phase: its first messages would wait for them */
  r->paced = producer_new(r, false);
  if (wt_kafka_partition_count(r->paced, r->topics.commands, 10000) <= 0)
    bail("no metadata for %s", r->topics.commands);
  bench_kafka_conn(opt->brokers, &conn);
  r->events = wt_kafka_consumer_new(&conn, NULL, "bench-events", NULL, NULL,
                                    NULL, err, sizeof(err));
  if (!r->events)
    bail("events consumer: %s", err);
  l = rd_kafka_topic_partition_list_new(opt->partitions);
  for (int p = 0; p < opt->partitions; p++)
    rd_kafka_topic_partition_list_add(l, r->topics.events, p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  if (rd_kafka_assign(r->events, l) != RD_KAFKA_RESP_ERR_NO_ERROR)
    bail("cannot assign %s", r->topics.events);
  rd_kafka_topic_partition_list_destroy(l);
  if (pthread_create(&r->reader, NULL, reader_main, r) != 0)
    bail("cannot start the events reader");
  r->reader_started = true;
}

static void delete_topics(rd_kafka_t *rk, const wt_kafka_topics *t) {
  const char *names[3] = {t->commands, t->events, t->dlq};
  rd_kafka_DeleteTopic_t *dt[3];
  rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
  rd_kafka_event_t *ev;
  for (int i = 0; i < 3; i++)
    dt[i] = rd_kafka_DeleteTopic_new(names[i]);
  rd_kafka_DeleteTopics(rk, dt, 3, NULL, q);
  ev = rd_kafka_queue_poll(q, 10000);
  if (ev)
    rd_kafka_event_destroy(ev);
  rd_kafka_DeleteTopic_destroy_array(dt, 3);
  rd_kafka_queue_destroy(q);
}

static void run_close(run *r) {
  if (r->reader_started) {
    atomic_store(&r->stop_reader, true);
    pthread_join(r->reader, NULL);
  }
  if (r->events) {
    rd_kafka_consumer_close(r->events);
    rd_kafka_destroy(r->events);
  }
  if (r->paced) {
    rd_kafka_flush(r->paced, 10000);
    rd_kafka_destroy(r->paced);
  }
  if (r->producer) {
    rd_kafka_flush(r->producer, 10000);
    if (!opt->keep)
      delete_topics(r->producer, &r->topics);
    rd_kafka_destroy(r->producer);
  }
  if (!opt->keep) {
    drop_database(r->dbname);
    unlink(r->log_path);
  } else {
    fprintf(stderr, "kept: database %s, topics %s.*, worker log %s\n",
            r->dbname, r->prefix, r->log_path);
  }
  free(r->sent_us);
  free(r->recv_us);
  free(r->expect_reject);
  free(r->got);
  model_free(&r->m);
}

/* --- commands ----------------------------------------------------------- */

static void list_add(run *r, msglist *l, wt_command *c, bool expect_reject) {
  msg *m;
  if (r->nseq >= r->cap)
    bail("more commands than planned (%zu)", r->cap);
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 1024;
    msg *v = realloc(l->v, cap * sizeof(*v));
    if (!v)
      bail("out of memory");
    l->v = v;
    l->cap = cap;
  }
  m = &l->v[l->n++];
  m->seq = r->nseq++;
  make_id(r->cmd_tag, KIND_COMMAND, m->seq, c->command_id);
  c->issued_at = wt_time_now_us();
  m->json = wt_command_to_json(c);
  if (!m->json)
    bail("cannot serialise a %s command", wt_cmd_type_name(c->type));
  m->len = strlen(m->json);
  snprintf(m->key, sizeof(m->key), "%s", wt_command_key(c));
  r->expect_reject[m->seq] = expect_reject;
}

static void list_free(msglist *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i].json);
  free(l->v);
  memset(l, 0, sizeof(*l));
}

static void gen_users(run *r, msglist *l, wt_command *c) {
  size_t nusers = (size_t)r->m.nprojects * (size_t)r->m.nmembers;
  for (size_t u = 0; u < nusers; u++) {
    wt_command_init(c, WT_CMD_USER_CREATE, NULL);
    snprintf(c->user_id, sizeof(c->user_id), "%s", r->m.users[u]);
    snprintf(c->target_user_id, sizeof(c->target_user_id), "%s", r->m.users[u]);
    snprintf(c->username, sizeof(c->username), "bench_u%zu", u);
    snprintf(c->display_name, sizeof(c->display_name), "Bench User %zu", u);
    snprintf(c->password_hash, sizeof(c->password_hash), "$y$j9T$bench$hash");
    c->fields =
        WT_F_USER_ID | WT_F_USERNAME | WT_F_DISPLAY_NAME | WT_F_PASSWORD_HASH;
    list_add(r, l, c, false);
  }
}

static void gen_projects(run *r, msglist *l, wt_command *c) {
  for (int p = 0; p < r->m.nprojects; p++) {
    wt_command_init(c, WT_CMD_PROJECT_CREATE, r->m.users[user_of(&r->m, p, 0)]);
    snprintf(c->project_id, sizeof(c->project_id), "%s", r->m.projects[p]);
    snprintf(c->name, sizeof(c->name), "Bench project %d", p);
    c->fields = WT_F_NAME;
    list_add(r, l, c, false);
    for (int k = 1; k < r->m.nmembers; k++) {
      wt_command_init(c, WT_CMD_MEMBER_ADD, r->m.users[user_of(&r->m, p, 0)]);
      snprintf(c->project_id, sizeof(c->project_id), "%s", r->m.projects[p]);
      snprintf(c->target_user_id, sizeof(c->target_user_id), "%s",
               r->m.users[user_of(&r->m, p, k)]);
      c->role = WT_ROLE_MEMBER;
      c->fields = WT_F_USER_ID | WT_F_ROLE;
      list_add(r, l, c, false);
    }
  }
}

static void gen_mix(run *r, msglist *l, wt_command *c, size_t n) {
  for (size_t i = 0; i < n; i++) {
    bool reject = gen_log_command(&r->m, c, -1);
    list_add(r, l, c, reject);
  }
}

static void gen_warmup(run *r, msglist *l, wt_command *c) {
  for (int p = 0; p < r->m.nprojects; p++) {
    (void)gen_log_command(&r->m, c, p);
    list_add(r, l, c, false);
  }
}

static void sleep_until_us(int64_t t) {
  int64_t left = t - now_us();
  if (left > 0) {
    struct timespec ts = {(time_t)(left / 1000000),
                          (long)(left % 1000000) * 1000};
    nanosleep(&ts, NULL);
  }
}

/* Produces the list (rate > 0: paced at rate/s) and waits until the broker
 * has it all. Returns seconds. */
static double produce(run *r, rd_kafka_t *rk, const msglist *l, long rate) {
  int64_t t0 = now_us();
  char err[512];
  for (size_t i = 0; i < l->n; i++) {
    const msg *m = &l->v[i];
    if (rate > 0)
      sleep_until_us(t0 + (int64_t)((double)i * 1e6 / (double)rate));
    r->sent_us[m->seq] = now_us();
    if (m->seq + 1 > r->produced)
      r->produced = m->seq + 1;
    if (bench_produce_command(rk, r->topics.commands, m->key, m->json, m->len,
                              60000, err, sizeof(err)) != WT_OK)
      bail("produce: %s", err);
    if ((i & 1023) == 0)
      rd_kafka_poll(rk, 0);
  }
  while (rd_kafka_flush(rk, 1000) == RD_KAFKA_RESP_ERR__TIMED_OUT)
    fprintf(stderr, "waiting for Kafka to take the commands\n");
  if (atomic_load(&r->failed_deliveries))
    bail("%d commands not delivered", atomic_load(&r->failed_deliveries));
  return (double)(now_us() - t0) / 1e6;
}

/* Waits until every command produced so far has its outcome (the reader
 * counts each command once); bails when none arrives for STALL_S or the
 * worker exits. */
static void wait_outcomes(run *r, const char *what) {
  size_t last = atomic_load(&r->received);
  int64_t progress = now_us();
  while (atomic_load(&r->received) < r->produced) {
    size_t now_have = atomic_load(&r->received);
    int status;
    if (now_have != last) {
      last = now_have;
      progress = now_us();
    }
    if (r->worker > 0 && waitpid(r->worker, &status, WNOHANG) == r->worker) {
      live_worker = 0;
      bail("%s: wt-worker exited (status %d) with %zu of %zu outcomes", what,
           status, now_have, r->produced);
    }
    if ((double)(now_us() - progress) / 1e6 > STALL_S)
      bail("%s: no outcome for %.0f s, %zu of %zu received", what, STALL_S,
           now_have, r->produced);
    {
      struct timespec ts = {0, 2000000};
      nanosleep(&ts, NULL);
    }
  }
}

/* Outcome counts of seqs [from, to): events and rejections, and how many
 * differ from what the generator meant. */
typedef struct tally {
  size_t applied, rejected, unexpected;
  int64_t last_recv;
} tally;

static tally count_outcomes(const run *r, size_t from, size_t to) {
  tally t = {0};
  for (size_t s = from; s < to; s++) {
    if (r->got[s] == 1)
      t.applied++;
    else if (r->got[s] == 2)
      t.rejected++;
    if ((r->got[s] == 2) != (r->expect_reject[s] != 0))
      t.unexpected++;
    if (r->recv_us[s] > t.last_recv)
      t.last_recv = r->recv_us[s];
  }
  return t;
}

/* --- the worker process ------------------------------------------------- */

static int free_port(void) {
  int port = bench_free_port();
  if (port < 0)
    bail("no free port: %s", strerror(errno));
  return port;
}

static void start_worker(run *r, int batch_max) {
  char port[16], batch[16], wait[16], parts[16];
  pid_t pid;
  r->metrics_port = free_port();
  snprintf(port, sizeof(port), "%d", r->metrics_port);
  snprintf(batch, sizeof(batch), "%d", batch_max);
  snprintf(wait, sizeof(wait), "%d", opt->batch_wait_ms);
  snprintf(parts, sizeof(parts), "%d", opt->partitions);
  fflush(NULL);
  pid = fork();
  if (pid < 0)
    bail("fork: %s", strerror(errno));
  if (pid == 0) {
    FILE *log = fopen(r->log_path, "a");
    if (log) {
      dup2(fileno(log), 1);
      dup2(fileno(log), 2);
    }
    setenv("WT_DATABASE_URL", r->url, 1);
    setenv("WT_KAFKA_BROKERS", opt->brokers, 1);
    setenv("WT_TOPIC_PREFIX", r->prefix, 1);
    setenv("WT_KAFKA_PARTITIONS", parts, 1);
    setenv("WT_METRICS_PORT", port, 1);
    setenv("WT_LOG_LEVEL", opt->worker_log_level, 1);
    setenv("WT_LOG_SQL", "0", 1);
    setenv("WT_BATCH_MAX", batch, 1);
    setenv("WT_BATCH_WAIT_MS", wait, 1);
    setenv("WT_ENV_FILE", "/dev/null", 1); /* no stray .env */
    bench_signing_env("wt-worker");
    bench_kafka_env("wt-worker");
    execl(opt->worker_bin, "wt-worker", (char *)NULL);
    fprintf(stderr, "exec %s: %s\n", opt->worker_bin, strerror(errno));
    _exit(127);
  }
  r->worker = pid;
  live_worker = pid;
  snprintf(live_worker_log, sizeof(live_worker_log), "%s", r->log_path);
}

/* SIGTERM, then the exit status (128 + signal when killed). */
static int stop_worker(run *r) {
  int status = 0;
  int64_t deadline = now_us() + 30 * 1000000LL;
  if (r->worker <= 0)
    return -1;
  kill(r->worker, SIGCONT);
  kill(r->worker, SIGTERM);
  while (waitpid(r->worker, &status, WNOHANG) == 0) {
    if (now_us() > deadline) {
      fprintf(stderr, "wt-worker did not stop in 30 s after SIGTERM: killed\n");
      kill(r->worker, SIGKILL);
      waitpid(r->worker, &status, 0);
      break;
    }
    {
      struct timespec ts = {0, 10000000};
      nanosleep(&ts, NULL);
    }
  }
  r->worker = 0;
  live_worker = 0;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* --- the worker's /metrics ----------------------------------------------- */

typedef struct scrape {
  double round_trips, batches, commands, db_errors;
} scrape;

static double metric(const char *text, const char *name) {
  size_t n = strlen(name);
  for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
    if (strncmp(p, name, n) == 0 && p[n] == ' ')
      return strtod(p + n + 1, NULL);
  return -1;
}

static bool scrape_metrics(int port, scrape *out) {
  static const char req[] =
      "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  struct sockaddr_in a = {.sin_family = AF_INET};
  struct timeval tv = {2, 0};
  char *buf = malloc(SCRAPE_MAX + 1);
  size_t len = 0;
  ssize_t got;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  bool ok = false;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)port);
  if (!buf || fd < 0)
    goto out;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
      send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1)
    goto out;
  while (len < SCRAPE_MAX &&
         (got = recv(fd, buf + len, SCRAPE_MAX - len, 0)) > 0)
    len += (size_t)got;
  buf[len] = '\0';
  out->round_trips = metric(buf, "wt_worker_batch_round_trips_total");
  out->batches = metric(buf, "wt_worker_batch_size_count");
  out->commands = metric(buf, "wt_worker_batch_size_sum");
  out->db_errors = metric(buf, "wt_worker_db_errors_total");
  ok = strncmp(buf, "HTTP/1.1 200", 12) == 0 && out->round_trips >= 0 &&
       out->batches >= 0 && out->commands >= 0;
out:
  if (fd >= 0)
    close(fd);
  free(buf);
  return ok;
}

/* The worker counts a batch after publishing it: wait for the count to
 * reach `commands` (the outcomes may arrive a moment before). */
static scrape scrape_after(const run *r, double commands) {
  scrape s = {0};
  int64_t deadline = now_us() + 5 * 1000000LL;
  while (!scrape_metrics(r->metrics_port, &s) || s.commands < commands) {
    if (now_us() > deadline)
      bail("wt-worker /metrics on port %d: no answer or short count "
           "(%.0f of %.0f commands)",
           r->metrics_port, s.commands, commands);
    {
      struct timespec ts = {0, 20000000};
      nanosleep(&ts, NULL);
    }
  }
  return s;
}

/* --- PostgreSQL: dumps and the COPY limit -------------------------------- */

static size_t copy_out(PGconn *c, const char *sql, wt_buf *out) {
  PGresult *res = PQexec(c, sql);
  char *row = NULL;
  int n;
  size_t rows = 0;
  if (PQresultStatus(res) != PGRES_COPY_OUT)
    bail("%s: %s", sql, PQerrorMessage(c));
  PQclear(res);
  wt_buf_init(out, DUMP_CAP);
  wt_buf_reset(out);
  while ((n = PQgetCopyData(c, &row, 0)) > 0) {
    wt_buf_append(out, row, (size_t)n);
    PQfreemem(row);
    rows++;
  }
  res = PQgetResult(c);
  if (n != -1 || PQresultStatus(res) != PGRES_COMMAND_OK || !wt_buf_ok(out))
    bail("%s: %s", sql, PQerrorMessage(c));
  PQclear(res);
  while ((res = PQgetResult(c)) != NULL)
    PQclear(res);
  return rows;
}

static void copy_in(PGconn *c, const char *sql, const wt_buf *in) {
  PGresult *res = PQexec(c, sql);
  size_t off = 0;
  if (PQresultStatus(res) != PGRES_COPY_IN)
    bail("%s: %s", sql, PQerrorMessage(c));
  PQclear(res);
  while (off < in->len) {
    size_t k = in->len - off > (1u << 20) ? (1u << 20) : in->len - off;
    if (PQputCopyData(c, in->data + off, (int)k) != 1)
      bail("%s: %s", sql, PQerrorMessage(c));
    off += k;
  }
  if (PQputCopyEnd(c, NULL) != 1)
    bail("%s: %s", sql, PQerrorMessage(c));
  res = PQgetResult(c);
  if (PQresultStatus(res) != PGRES_COMMAND_OK)
    bail("%s: %s", sql, PQerrorMessage(c));
  PQclear(res);
  while ((res = PQgetResult(c)) != NULL)
    PQclear(res);
}

#define COLS_USERS                                                             \
  "id, username, display_name, password_hash, is_active, token_version, "      \
  "created_at, seq"
#define COLS_PROJECTS "id, name, created_by, created_at, seq"
#define COLS_MEMBERS "project_id, user_id, role, added_at"
#define COLS_LOGS                                                              \
  "id, project_id, user_id, started_at, ended_at, description, version, "      \
  "created_at, updated_at"
#define COLS_EVENTS "project_id, seq, command_id, type, actor_id, at, data"
#define COLS_REJECTIONS                                                        \
  "command_id, stream_id, project_id, actor_id, code, message, at"

typedef struct dump {
  wt_buf users, projects, members, events; /* after the setup */
  wt_buf logs, log_events, rejections;     /* what the drain added */
  char *project_ids, *project_seqs;        /* array literals */
  size_t nlogs, nlog_events, nrejections;  /* rows of the drain */
  size_t rows;
} dump;

static void dump_setup(const run *r, dump *d) {
  PGconn *c = pg_connect(r->url);
  copy_out(c, "COPY (SELECT " COLS_USERS " FROM users) TO STDOUT", &d->users);
  copy_out(c, "COPY (SELECT " COLS_PROJECTS " FROM projects) TO STDOUT",
           &d->projects);
  copy_out(c, "COPY (SELECT " COLS_MEMBERS " FROM project_members) TO STDOUT",
           &d->members);
  copy_out(c, "COPY (SELECT " COLS_EVENTS " FROM events) TO STDOUT",
           &d->events);
  PQfinish(c);
}

static void dump_drain(const run *r, dump *d) {
  PGconn *c = pg_connect(r->url);
  PGresult *res;
  d->nlogs = copy_out(c, "COPY (SELECT " COLS_LOGS " FROM work_logs) TO STDOUT",
                      &d->logs);
  d->nlog_events = copy_out(c,
                            "COPY (SELECT " COLS_EVENTS " FROM events WHERE "
                            "type LIKE 'log.%') TO STDOUT",
                            &d->log_events);
  d->nrejections =
      copy_out(c, "COPY (SELECT " COLS_REJECTIONS " FROM rejections) TO STDOUT",
               &d->rejections);
  d->rows = d->nlogs + d->nlog_events + d->nrejections;
  res = PQexec(c, "SELECT array_agg(id ORDER BY id)::text, "
                  "array_agg(seq ORDER BY id)::text FROM projects");
  if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
    bail("projects: %s", PQerrorMessage(c));
  d->project_ids = strdup(PQgetvalue(res, 0, 0));
  d->project_seqs = strdup(PQgetvalue(res, 0, 1));
  if (!d->project_ids || !d->project_seqs)
    bail("out of memory");
  PQclear(res);
  PQfinish(c);
}

static void dump_free(dump *d) {
  wt_buf *bufs[] = {&d->users, &d->projects,   &d->members,   &d->events,
                    &d->logs,  &d->log_events, &d->rejections};
  for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
    wt_buf_free(bufs[i]);
  free(d->project_ids);
  free(d->project_seqs);
}

/* VACUUM ANALYZE and CHECKPOINT, not timed: the phase that follows then
 * does not share the machine with the autovacuum and checkpoint that the
 * previous phase's writes would set off. */
static void settle_db(const char *url) {
  PGconn *c = pg_connect(url);
  PGresult *res;
  pg_exec(c, "VACUUM ANALYZE");
  res = PQexec(c, "CHECKPOINT"); /* needs pg_checkpoint: skipped without */
  PQclear(res);
  PQfinish(c);
}

/* Writes the drain's rows into a fresh database with the same setup rows;
 * returns the seconds of the timed transaction. */
static double copy_limit(const dump *d, double *db_cpu_s) {
  char name[64], url[2048];
  PGconn *c;
  PGresult *res;
  const char *params[2] = {d->project_ids, d->project_seqs};
  int64_t t0;
  int pid = 0, npids;
  double s, cpu;
  static int copies; /* one database per round, kept apart with --keep */
  snprintf(name, sizeof(name), "wt_bench_%d_copy%d", (int)getpid(), ++copies);
  create_database(name, url, sizeof(url));
  c = pg_connect(url);
  /* the setup rows, not timed */
  copy_in(c, "COPY users (" COLS_USERS ") FROM STDIN", &d->users);
  copy_in(c, "COPY projects (" COLS_PROJECTS ") FROM STDIN", &d->projects);
  copy_in(c, "COPY project_members (" COLS_MEMBERS ") FROM STDIN", &d->members);
  copy_in(c, "COPY events (" COLS_EVENTS ") FROM STDIN", &d->events);
  settle_db(url);
  /* the limit: the same resulting rows, one COPY per table */
  npids = backend_pids(c, true, &pid);
  *db_cpu_s = pids_cpu_s(&pid, npids);
  t0 = now_us();
  pg_exec(c, "BEGIN");
  copy_in(c, "COPY work_logs (" COLS_LOGS ") FROM STDIN", &d->logs);
  copy_in(c, "COPY events (" COLS_EVENTS ") FROM STDIN", &d->log_events);
  copy_in(c, "COPY rejections (" COLS_REJECTIONS ") FROM STDIN",
          &d->rejections);
  res =
      PQexecParams(c,
                   "UPDATE projects p SET seq = x.seq FROM unnest($1::uuid[], "
                   "$2::bigint[]) AS x(id, seq) WHERE p.id = x.id",
                   2, NULL, params, NULL, NULL, 0);
  if (PQresultStatus(res) != PGRES_COMMAND_OK)
    bail("UPDATE projects: %s", PQerrorMessage(c));
  PQclear(res);
  pg_exec(c, "COMMIT");
  s = (double)(now_us() - t0) / 1e6;
  cpu = pids_cpu_s(&pid, npids);
  *db_cpu_s = *db_cpu_s < 0 || cpu < 0 ? -1 : cpu - *db_cpu_s;
  PQfinish(c);
  if (!opt->keep)
    drop_database(name);
  return s;
}

/* --- the steps ---------------------------------------------------------- */

static wt_command *cmd_buf(void) {
  static wt_command *c;
  if (!c)
    c = xcalloc(1, sizeof(*c));
  return c;
}

/* Users, then projects with their members, each drained before the next
 * (they travel on different partitions). Returns seconds. */
static double setup(run *r) {
  msglist users = {0}, projects = {0};
  int64_t t0 = now_us();
  gen_users(r, &users, cmd_buf());
  gen_projects(r, &projects, cmd_buf());
  produce(r, r->producer, &users, 0);
  wait_outcomes(r, "setup users");
  produce(r, r->producer, &projects, 0);
  wait_outcomes(r, "setup projects");
  {
    tally t = count_outcomes(r, 0, r->produced);
    if (t.unexpected)
      bail("setup: %zu of %zu commands rejected", t.unexpected, r->produced);
  }
  list_free(&users);
  list_free(&projects);
  return (double)(now_us() - t0) / 1e6;
}

typedef struct drain_result {
  size_t n, applied, rejected, unexpected;
  double produce_s, drain_s, commands_per_s, round_trips_per_batch;
  double batches, db_errors;
  double db_cpu_s;     /* the worker's backends, -1: not measurable here */
  double worker_cpu_s; /* wt-worker's threads, -1: not measurable */
} drain_result;

/* Pauses the worker, produces the list, resumes it and times it until the
 * last outcome. */
static drain_result drain(run *r, const msglist *l) {
  drain_result d = {.n = l->n};
  size_t from, to;
  scrape before, after;
  int64_t t_resume;
  tally t;
  PGconn *c;
  int pids[BACKENDS_MAX], pids_after[BACKENDS_MAX], npids;
  double cpu0, wcpu0;
  if (l->n == 0)
    bail("nothing to drain");
  from = l->v[0].seq;
  to = l->v[l->n - 1].seq + 1;
  before = scrape_after(r, 0);
  if (kill(r->worker, SIGSTOP) != 0)
    bail("SIGSTOP wt-worker: %s", strerror(errno));
  d.produce_s = produce(r, r->producer, l, 0);
  if (d.produce_s > PAUSE_WARN_S)
    fprintf(stderr,
            "warning: the worker was paused %.1f s, near its session timeout "
            "(10 s): a rebalance may have cooled its caches\n",
            d.produce_s);
  c = pg_connect(r->url);
  npids = backend_pids(c, false, pids);
  cpu0 = pids_cpu_s(pids, npids);
  wcpu0 = proc_cpu_s(r->worker);
  t_resume = now_us();
  kill(r->worker, SIGCONT);
  wait_outcomes(r, r->label);
  d.db_cpu_s = pids_cpu_s(pids, npids);
  d.worker_cpu_s = proc_cpu_s(r->worker);
  d.worker_cpu_s =
      wcpu0 < 0 || d.worker_cpu_s < 0 ? -1 : d.worker_cpu_s - wcpu0;
  /* the same backends throughout (no reconnect), else no figure */
  if (backend_pids(c, false, pids_after) != npids ||
      memcmp(pids, pids_after, sizeof(int) * (size_t)(npids > 0 ? npids : 0)) !=
          0)
    d.db_cpu_s = -1;
  d.db_cpu_s = cpu0 < 0 || d.db_cpu_s < 0 ? -1 : d.db_cpu_s - cpu0;
  PQfinish(c);
  t = count_outcomes(r, from, to);
  after = scrape_after(r, before.commands + (double)l->n);
  d.applied = t.applied;
  d.rejected = t.rejected;
  d.unexpected = t.unexpected;
  d.drain_s = (double)(t.last_recv - t_resume) / 1e6;
  d.commands_per_s = (double)l->n / d.drain_s;
  d.batches = after.batches - before.batches;
  d.db_errors = after.db_errors - before.db_errors;
  d.round_trips_per_batch =
      d.batches > 0 ? (after.round_trips - before.round_trips) / d.batches : 0;
  return d;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double percentile(const double *sorted, size_t n, double p) {
  size_t rank = (size_t)ceil(p * (double)n);
  return sorted[rank ? rank - 1 : 0];
}

typedef struct latency_result {
  double min, p50, p99, max, produce_s;
} latency_result;

static latency_result latency(run *r, const msglist *l) {
  latency_result res = {0};
  double *ms = xcalloc(l->n, sizeof(*ms));
  res.produce_s = produce(r, r->paced, l, opt->latency_rate);
  wait_outcomes(r, "latency");
  for (size_t i = 0; i < l->n; i++) {
    size_t s = l->v[i].seq;
    ms[i] = (double)(r->recv_us[s] - r->sent_us[s]) / 1e3;
  }
  qsort(ms, l->n, sizeof(*ms), cmp_double);
  res.p50 = percentile(ms, l->n, 0.50);
  res.p99 = percentile(ms, l->n, 0.99);
  res.min = ms[0];
  res.max = ms[l->n - 1];
  free(ms);
  return res;
}

static void print_drain(const char *prefix, const drain_result *d) {
  printf("%sproduce_s=%.2f\n", prefix, d->produce_s);
  printf("%sdrain_s=%.3f\n", prefix, d->drain_s);
  printf("%sapplied=%zu\n%srejected=%zu\n", prefix, d->applied, prefix,
         d->rejected);
  if (d->unexpected)
    printf("%sunexpected_outcomes=%zu\n", prefix, d->unexpected);
  printf("%sbatches=%.0f\n%smean_batch_size=%.1f\n", prefix, d->batches, prefix,
         d->batches > 0 ? (double)d->n / d->batches : 0);
  if (d->db_errors > 0)
    printf("%sdb_errors=%.0f\n", prefix, d->db_errors);
}

/* --- main --------------------------------------------------------------- */

static void usage(FILE *out) {
  fprintf(out,
          "Usage: bench_worker [options] [N [NAIVE_N [PROJECTS [MEMBERS]]]]\n"
          "Measures wt-worker draining N commands (default 200000: 70%% "
          "log.create,\n20%% log.update, 10%% log.delete, ~2%% rejected) over "
          "PROJECTS (1000) x MEMBERS (20)\non the real broker and PostgreSQL, "
          "against one COPY per table (the limit)\nand against WT_BATCH_MAX=1 "
          "on NAIVE_N (3000, 0: skip) commands.\n\n"
          "  --worker PATH          wt-worker binary (default %s)\n"
          "  --latency N            commands of the paced latency phase "
          "(5000, 0: skip)\n"
          "  --rate R               their rate per second (10000)\n"
          "  --worker-log-level L   WT_LOG_LEVEL of the worker (warn)\n"
          "  --rounds R             drains, each with its COPY limit, of "
          "which the median\n"
          "                         ratio is reported (3, at most 9)\n"
          "  --keep                 keep the databases and topics\n\n"
          "Environment: WT_DATABASE_URL (a role that may CREATE DATABASE), "
          "WT_KAFKA_BROKERS,\nWT_KAFKA_PARTITIONS (6), WT_BATCH_MAX (1000) and "
          "WT_BATCH_WAIT_MS (5) of the\nmeasured worker, WT_MIGRATIONS_DIR.\n",
          WT_WORKER_BIN);
}

static long arg_long(const char *s, const char *what, long lo, long hi) {
  return bench_arg_long("bench_worker", s, what, lo, hi);
}

static long env_long(const char *name, long dflt, long lo, long hi) {
  const char *v = getenv(name);
  return v && *v ? arg_long(v, name, lo, hi) : dflt;
}

static void parse_args(int argc, char **argv, options *o) {
  static const struct option longs[] = {
      {"help", no_argument, NULL, 'h'},
      {"worker", required_argument, NULL, 'w'},
      {"latency", required_argument, NULL, 'l'},
      {"rate", required_argument, NULL, 'r'},
      {"worker-log-level", required_argument, NULL, 'L'},
      {"keep", no_argument, NULL, 'k'},
      {"rounds", required_argument, NULL, 'R'},
      {NULL, 0, NULL, 0}};
  int ch, pos;
  *o = (options){.n = 200000,
                 .naive_n = 3000,
                 .latency_n = 5000,
                 .latency_rate = 10000,
                 .projects = 1000,
                 .members = 20,
                 .worker_bin = WT_WORKER_BIN,
                 .worker_log_level = "warn",
                 .rounds = 3};
  while ((ch = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
    switch (ch) {
    case 'h': usage(stdout); exit(0);
    case 'w': o->worker_bin = optarg; break;
    case 'l': o->latency_n = arg_long(optarg, "--latency", 0, 1000000); break;
    case 'r': o->latency_rate = arg_long(optarg, "--rate", 1, 1000000); break;
    case 'L': o->worker_log_level = optarg; break;
    case 'k': o->keep = true; break;
    case 'R':
      o->rounds = (int)arg_long(optarg, "--rounds", 1, ROUNDS_MAX);
      break;
    default: usage(stderr); exit(2);
    }
  }
  pos = argc - optind;
  if (pos > 4) {
    usage(stderr);
    exit(2);
  }
  if (pos > 0)
    o->n = arg_long(argv[optind], "N", 1, 10000000);
  if (pos > 1)
    o->naive_n = arg_long(argv[optind + 1], "NAIVE_N", 0, 1000000);
  if (pos > 2)
    o->projects = (int)arg_long(argv[optind + 2], "PROJECTS", 2, 100000);
  if (pos > 3)
    o->members = (int)arg_long(argv[optind + 3], "MEMBERS", 2, 1000);
  if ((long)o->projects * o->members > 4000000) {
    fprintf(stderr, "bench_worker: PROJECTS x MEMBERS: at most 4000000\n");
    exit(2);
  }
  o->database_url = getenv("WT_DATABASE_URL");
  o->brokers = getenv("WT_KAFKA_BROKERS");
  if (!o->database_url || !*o->database_url || !o->brokers || !*o->brokers) {
    fprintf(stderr, "bench_worker: set WT_DATABASE_URL and WT_KAFKA_BROKERS "
                    "(bench/run.sh does)\n");
    exit(2);
  }
  o->partitions = (int)env_long("WT_KAFKA_PARTITIONS", 6, 1, 1024);
  o->batch_max = (int)env_long("WT_BATCH_MAX", 1000, 1, 100000);
  o->batch_wait_ms = (int)env_long("WT_BATCH_WAIT_MS", 5, 0, 60000);
  if (access(o->worker_bin, X_OK) != 0) {
    fprintf(stderr, "bench_worker: %s: %s (build wt-worker or use --worker)\n",
            o->worker_bin, strerror(errno));
    exit(2);
  }
}

static size_t setup_size(const options *o) {
  return (size_t)o->projects * (size_t)o->members + (size_t)o->projects * 1 +
         (size_t)o->projects * (size_t)(o->members - 1);
}

/* One measured round: steps 1, 2 and 4 on a fresh database and prefix,
 * then step 3, the latency, when with_latency. */
typedef struct round_result {
  drain_result d;
  double setup_s, copy_s, copy_cpu_s;
  size_t live_logs, nlogs, nlog_events, nrejections, copy_rows;
  bool db_ok;
  int exit_code;
} round_result;

static double round_ratio(const round_result *rr) {
  return rr->d.commands_per_s / ((double)opt->n / rr->copy_s);
}

static round_result main_round(int k, bool with_latency, latency_result *lat) {
  round_result rr = {0};
  run r;
  msglist load = {0}, paced = {0};
  dump d = {0};

  fprintf(stderr, "bench_worker: round %d of %d: setup (%zu commands)\n", k + 1,
          opt->rounds, setup_size(opt));
  run_open(&r, "main",
           setup_size(opt) + (size_t)opt->n +
               (with_latency ? (size_t)opt->latency_n : 0));
  model_init(&r.m, opt->projects, opt->members, 42);
  start_worker(&r, opt->batch_max);
  rr.setup_s = setup(&r);
  dump_setup(&r, &d);
  settle_db(r.url);
  fprintf(stderr, "bench_worker: generating %ld commands\n", opt->n);
  gen_mix(&r, &load, cmd_buf(), (size_t)opt->n);
  rr.live_logs = r.m.npool; /* work_logs rows the drain must leave */
  if (with_latency)
    gen_mix(&r, &paced, cmd_buf(), (size_t)opt->latency_n);
  fprintf(stderr, "bench_worker: drain of %ld commands\n", opt->n);
  rr.d = drain(&r, &load);
  dump_drain(&r, &d);
  rr.nlogs = d.nlogs;
  rr.nlog_events = d.nlog_events;
  rr.nrejections = d.nrejections;
  rr.db_ok = d.nlogs == rr.live_logs && d.nlog_events == rr.d.applied &&
             d.nrejections == rr.d.rejected;
  /* 4: the COPY limit, right after this round's drain (the worker idle) */
  fprintf(stderr, "bench_worker: COPY limit (%zu rows)\n", d.rows);
  rr.copy_rows = d.rows;
  rr.copy_s = copy_limit(&d, &rr.copy_cpu_s);
  dump_free(&d);
  if (with_latency) {
    settle_db(r.url);
    fprintf(stderr, "bench_worker: latency, %ld commands at %ld/s\n",
            opt->latency_n, opt->latency_rate);
    *lat = latency(&r, &paced);
  }
  rr.exit_code = stop_worker(&r);
  list_free(&load);
  list_free(&paced);
  run_close(&r);
  return rr;
}

/* The round whose ratio to the limit is the median (the lower middle of
 * an even count). */
static const round_result *median_round(const round_result *rounds, int n) {
  int order[ROUNDS_MAX];
  for (int i = 0; i < n; i++)
    order[i] = i;
  for (int i = 1; i < n; i++) /* insertion sort by ratio */
    for (int j = i; j > 0 && round_ratio(&rounds[order[j]]) <
                                 round_ratio(&rounds[order[j - 1]]);
         j--) {
      int t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  return &rounds[order[(n - 1) / 2]];
}

int main(int argc, char **argv) {
  static options o;
  static round_result rounds[ROUNDS_MAX];
  const round_result *med;
  run r;
  drain_result main_d, naive_d = {0};
  latency_result lat = {0};
  double t_start = (double)now_us() / 1e6;
  int exit_main = 0, exit_naive = 0;
  size_t unexpected = 0; /* outcomes of any round not as meant */
  bool db_ok = true;

  parse_args(argc, argv, &o);
  opt = &o;
  wt_log_init("bench", WT_LOG_WARN, stderr);
  signal(SIGPIPE, SIG_IGN);

  /* 1-4, o.rounds times: the batched worker and its limit */
  for (int k = 0; k < o.rounds; k++) {
    rounds[k] = main_round(k, k == 0 && o.latency_n > 0, &lat);
    db_ok = db_ok && rounds[k].db_ok;
    exit_main |= rounds[k].exit_code;
    unexpected += rounds[k].d.unexpected;
  }
  med = median_round(rounds, o.rounds);
  main_d = med->d;

  /* 5: the naive worker */
  if (o.naive_n > 0) {
    msglist warm = {0}, naive = {0};
    fprintf(stderr, "bench_worker: naive (WT_BATCH_MAX=1), %ld commands\n",
            o.naive_n);
    run_open(&r, "naive",
             setup_size(&o) + (size_t)o.projects + (size_t)o.naive_n);
    model_init(&r.m, o.projects, o.members, 43);
    start_worker(&r, o.batch_max);
    setup(&r);
    exit_naive = stop_worker(&r);
    start_worker(&r, 1);
    gen_warmup(&r, &warm, cmd_buf());
    gen_mix(&r, &naive, cmd_buf(), (size_t)o.naive_n);
    produce(&r, r.producer, &warm, 0);
    wait_outcomes(&r, "naive warm-up");
    settle_db(r.url);
    naive_d = drain(&r, &naive);
    exit_naive |= stop_worker(&r);
    list_free(&warm);
    list_free(&naive);
    run_close(&r);
  }

  printf("commands=%ld\nprojects=%d\nmembers=%d\npartitions=%d\n"
         "batch_max=%d\nbatch_wait_ms=%d\n",
         o.n, o.projects, o.members, o.partitions, o.batch_max,
         o.batch_wait_ms);
  printf("setup_commands=%zu\nsetup_s=%.2f\n", setup_size(&o), med->setup_s);
  printf("# %d rounds, each a drain and its COPY limit right after it on "
         "fresh databases:\n# the figures below are the round with the "
         "median ratio_to_copy_limit\n",
         o.rounds);
  printf("rounds=%d\n", o.rounds);
  for (int k = 0; k < o.rounds; k++)
    printf("round%d_commands_per_s=%.0f\nround%d_copy_commands_per_s=%.0f\n"
           "round%d_ratio_to_copy_limit=%.3f\n",
           k + 1, rounds[k].d.commands_per_s, k + 1,
           (double)o.n / rounds[k].copy_s, k + 1, round_ratio(&rounds[k]));
  printf("median_round=%d\n", (int)(med - rounds) + 1);
  printf("# drain: the worker paused while the commands were produced, then "
         "timed from resume to the last outcome\n");
  print_drain("", &main_d);
  printf("commands_per_s=%.0f\n", main_d.commands_per_s);
  printf("round_trips_per_batch=%.3f\n", main_d.round_trips_per_batch);
  if (main_d.worker_cpu_s >= 0)
    printf("worker_cpu_s=%.3f\nworker_cpu_us_per_command=%.2f\n",
           main_d.worker_cpu_s, main_d.worker_cpu_s * 1e6 / (double)o.n);
  printf("db_check=%s\n", db_ok ? "ok" : "MISMATCH");
  for (int k = 0; k < o.rounds; k++)
    if (rounds[k].d.unexpected)
      printf("round%d_unexpected_outcomes=%zu\n", k + 1,
             rounds[k].d.unexpected);
  for (int k = 0; k < o.rounds; k++)
    if (!rounds[k].db_ok)
      printf("round%d_db_work_logs=%zu (model: %zu)\n"
             "round%d_db_log_events=%zu (applied: %zu)\n"
             "round%d_db_rejections=%zu (rejected: %zu)\n",
             k + 1, rounds[k].nlogs, rounds[k].live_logs, k + 1,
             rounds[k].nlog_events, rounds[k].d.applied, k + 1,
             rounds[k].nrejections, rounds[k].d.rejected);
  printf("# limit: the drain's resulting rows, one COPY per table + UPDATE "
         "projects.seq, one transaction\n");
  printf("copy_rows=%zu\ncopy_s=%.3f\ncopy_commands_per_s=%.0f\n",
         med->copy_rows, med->copy_s, (double)o.n / med->copy_s);
  printf("ratio_to_copy_limit=%.3f\n", round_ratio(med));
  if (main_d.db_cpu_s > 0 && med->copy_cpu_s > 0)
    printf("# PostgreSQL's own work: CPU seconds of the backends (the drain's: "
           "the worker's connection)\ndb_cpu_s=%.3f\ncopy_db_cpu_s=%.3f\n"
           "db_cpu_ratio_to_copy=%.3f\n",
           main_d.db_cpu_s, med->copy_cpu_s, main_d.db_cpu_s / med->copy_cpu_s);
  if (o.naive_n > 0) {
    printf("# naive: WT_BATCH_MAX=1, warm, timed like the drain\n");
    print_drain("naive_", &naive_d);
    printf("naive_commands=%ld\nnaive_commands_per_s=%.1f\n"
           "naive_round_trips_per_batch=%.3f\n",
           o.naive_n, naive_d.commands_per_s, naive_d.round_trips_per_batch);
    printf("ratio_to_naive=%.1f\n",
           main_d.commands_per_s / naive_d.commands_per_s);
  }
  if (o.latency_n > 0) {
    printf("# latency: produce call to outcome received, %ld commands paced "
           "at %ld/s, worker warm and idle before\n",
           o.latency_n, o.latency_rate);
    printf("latency_produce_s=%.2f\n", lat.produce_s);
    printf("latency_min_ms=%.2f\nlatency_p50_ms=%.2f\nlatency_p99_ms=%.2f\n"
           "latency_max_ms=%.2f\n",
           lat.min, lat.p50, lat.p99, lat.max);
  }
  printf("worker_exit=%d\n", exit_main | exit_naive);
  printf("total_s=%.1f\n", (double)now_us() / 1e6 - t_start);
  free(cmd_buf());
  if (!db_ok || unexpected || naive_d.unexpected || exit_main || exit_naive) {
    fprintf(stderr, "bench_worker: outcomes or exit statuses not as meant\n");
    return 1;
  }
  return 0;
}
