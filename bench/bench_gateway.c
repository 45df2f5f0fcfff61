/* bench/gateway: wt-gateway's fan-out to N WebSocket connections (default
 * 10,000) on one process, side by side with a baseline fan-out server on
 * the npm `ws` package (bench/ws-baseline/server.js), in one run.
 *
 *   bench_gateway [options]
 *
 *  1. setup (not timed): a fresh database and WT_TOPIC_PREFIX; wt-worker
 *     drains N user.create (system actor, any "$y$" hash: the bench issues
 *     its own tokens with wt_jwt and the gateway's WT_JWT_SECRET), then
 *     PROJECTS project.create and member.add, so that user u is a member of
 *     project u % PROJECTS. The worker is then stopped (it takes no part
 *     in the measured phases and would only share the two cores).
 *  2. wt-gateway starts (WT_MAX_CONNECTIONS=20000, WT_LOG_LEVEL=warn) once
 *     the setup is in PostgreSQL, so its caches load every user; the bench
 *     waits for /readyz, reads its VmRSS, opens N connections from one
 *     epoll loop (at most 256 handshakes in flight), each authenticating
 *     as its user with the first frame and subscribing to its project,
 *     waits 2 s and reads VmRSS again: kib_per_idle_connection =
 *     (after - before) / N.
 *  3. the load: applied log.created events are published straight to
 *     <prefix>.events (as wt-worker publishes them, by a producer
 *     configured as the worker's, seq following each project's), round
 *     robin over the projects, each event pushed by the gateway to the
 *     N / PROJECTS subscribers of its project. The event's description
 *     holds "bt:<monotonic µs>" taken just before the produce call, so
 *     latency = publish -> receipt by the client, per delivery.
 *     a) max: RATE events/s offered for DURATION s; deliveries_per_s =
 *        deliveries / (first publish -> last receipt).
 *     b) latency: deliveries_per_s / 2 offered for DURATION s: p50/p99.
 *     Publishing to the events topic, not commands to the worker, measures
 *     the gateway rather than the worker's batches (bench/worker does).
 *  4. the baseline: the gateway is stopped, `node server.js` started; the
 *     same client code opens N connections subscribing with
 *     {"type":"subscribe","project":P}; one more connection publishes
 *     {"type":"publish","project":P,"data":FRAME} where FRAME is the very
 *     text the gateway would push; the same two phases at the same rates.
 *
 * Figures go to stdout as key=value lines, progress to stderr; the logs of
 * the children go to /tmp/<prefix>-*.log, removed after a successful run.
 * Client and publisher share the process and CLOCK_MONOTONIC; they share
 * the machine with the server they measure, which is stated, not hidden. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "wt_command.h"
#include "wt_config.h"
#include "wt_db.h"
#include "wt_jwt.h"
#include "wt_kafka.h"
#include "wt_log.h"
#include "wt_migrate.h"

#ifndef WT_MIGRATIONS_DIR
#error "WT_MIGRATIONS_DIR must name the migrations folder"
#endif
#ifndef WT_WORKER_BIN
#error "WT_WORKER_BIN must name the wt-worker binary"
#endif
#ifndef WT_GATEWAY_BIN
#error "WT_GATEWAY_BIN must name the wt-gateway binary"
#endif
#ifndef WT_WS_BASELINE_DIR
#error "WT_WS_BASELINE_DIR must name bench/ws-baseline"
#endif

#define JWT_SECRET "bench-gateway-secret-0123456789-abcdef"
#define HANDSHAKES_IN_FLIGHT 256
#define CONNECT_TIMEOUT_S 120
#define DRAIN_QUIET_S 3 /* no delivery for this long after publishing: done */
#define RBUF_MIN 4096
#define LAT_CAP ((size_t)40 << 20) /* latency samples kept per phase */
#define NOFILE_WANT 65536

/* --- small things ------------------------------------------------------- */

static pid_t children[3]; /* worker, gateway, node: stopped by bail() */

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_us(int64_t us) {
  if (us > 0) {
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    nanosleep(&ts, NULL);
  }
}

static void bail(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
__attribute__((noreturn));
static void bail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "bench_gateway: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  for (int i = 0; i < 3; i++)
    if (children[i] > 0) {
      kill(children[i], SIGKILL);
      waitpid(children[i], NULL, 0);
    }
  exit(1);
}

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size);
  if (!p)
    bail("out of memory");
  return p;
}

static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return;
  rl.rlim_cur = rl.rlim_max < NOFILE_WANT ? rl.rlim_max : NOFILE_WANT;
  setrlimit(RLIMIT_NOFILE, &rl);
}

static long nofile_limit(void) {
  struct rlimit rl;
  return getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (long)rl.rlim_cur : -1;
}

typedef struct options {
  int n, projects, partitions;
  long rate;
  double duration;
  const char *worker_bin, *gateway_bin, *baseline_dir, *node;
  const char *database_url, *brokers;
  bool keep, skip_baseline;
  char *gateway_env[16]; /* --gateway-env NAME=VALUE, set last */
  int ngateway_env;
} options;

static options o;
static char prefix[64], dbname[64], url[2048];
static char worker_log[256], gateway_log[256], node_log[256];

/* --- PostgreSQL ----------------------------------------------------------- */

static PGconn *pg_connect(const char *conninfo) {
  PGconn *c = PQconnectdb(conninfo);
  if (PQstatus(c) != CONNECTION_OK)
    bail("PostgreSQL: %s", PQerrorMessage(c));
  return c;
}

static void admin_exec(const char *sql) {
  PGconn *c = pg_connect(o.database_url);
  PGresult *res = PQexec(c, sql);
  if (PQresultStatus(res) != PGRES_COMMAND_OK)
    bail("%s: %s", sql, PQerrorMessage(c));
  PQclear(res);
  PQfinish(c);
}

static long pg_count(PGconn *c, const char *sql) {
  PGresult *res = PQexec(c, sql);
  long n;
  if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
    bail("%s: %s", sql, PQerrorMessage(c));
  n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
  PQclear(res);
  return n;
}

/* Waits until the query counts `want` (the worker drains asynchronously). */
static void wait_count(PGconn *c, const char *sql, long want,
                       const char *what) {
  int64_t deadline = now_us() + 60 * 1000000LL;
  long n;
  while ((n = pg_count(c, sql)) < want) {
    if (now_us() > deadline)
      bail("setup: %s: %ld of %ld after 60 s (see %s)", what, n, want,
           worker_log);
    if (children[0] > 0 && waitpid(children[0], NULL, WNOHANG) == children[0])
      bail("setup: wt-worker exited (see %s)", worker_log);
    sleep_us(100000);
  }
}

/* --- children ------------------------------------------------------------- */

static int free_port(void) {
  int port = bench_free_port();
  if (port < 0)
    bail("no free port: %s", strerror(errno));
  return port;
}

enum { CHILD_WORKER, CHILD_GATEWAY, CHILD_NODE };

static pid_t spawn(int which, int port) {
  const char *log_path = which == CHILD_WORKER    ? worker_log
                         : which == CHILD_GATEWAY ? gateway_log
                                                  : node_log;
  char p[16], parts[16];
  pid_t pid;
  snprintf(p, sizeof(p), "%d", port);
  snprintf(parts, sizeof(parts), "%d", o.partitions);
  fflush(NULL);
  pid = fork();
  if (pid < 0)
    bail("fork: %s", strerror(errno));
  if (pid == 0) {
    FILE *log = fopen(log_path, "a");
    if (log) {
      dup2(fileno(log), 1);
      dup2(fileno(log), 2);
    }
    raise_nofile();
    if (which == CHILD_NODE) {
      char script[1024];
      snprintf(script, sizeof(script), "%s/server.js", o.baseline_dir);
      execlp(o.node, "node", script, p, (char *)NULL);
      fprintf(stderr, "exec %s: %s\n", o.node, strerror(errno));
      _exit(127);
    }
    setenv("WT_DATABASE_URL", url, 1);
    setenv("WT_KAFKA_BROKERS", o.brokers, 1);
    setenv("WT_TOPIC_PREFIX", prefix, 1);
    setenv("WT_KAFKA_PARTITIONS", parts, 1);
    setenv("WT_LOG_LEVEL", "warn", 1);
    setenv("WT_LOG_SQL", "0", 1);
    setenv("WT_JWT_SECRET", JWT_SECRET, 1);
    setenv("WT_ENV_FILE", "/dev/null", 1); /* no stray .env */
    bench_signing_env(which == CHILD_WORKER ? "wt-worker" : "wt-gateway");
    bench_kafka_env(which == CHILD_WORKER ? "wt-worker" : "wt-gateway");
    if (which == CHILD_WORKER) {
      setenv("WT_METRICS_PORT", "0", 1);
      execl(o.worker_bin, "wt-worker", (char *)NULL);
    } else {
      setenv("WT_HTTP_PORT", p, 1);
      setenv("WT_MAX_CONNECTIONS", "20000", 1);
      setenv("WT_IDLE_TIMEOUT_S", "600", 1);
      for (int i = 0; i < o.ngateway_env; i++)
        putenv(o.gateway_env[i]);
      execl(o.gateway_bin, "wt-gateway", (char *)NULL);
    }
    fprintf(stderr, "exec: %s\n", strerror(errno));
    _exit(127);
  }
  children[which] = pid;
  return pid;
}

/* SIGTERM, then the exit status (128 + signal when it had to be killed). */
static int stop_child(int which) {
  int status = 0;
  int64_t deadline = now_us() + 20 * 1000000LL;
  pid_t pid = children[which];
  if (pid <= 0)
    return -1;
  kill(pid, SIGTERM);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (now_us() > deadline) {
      fprintf(stderr, "child %d did not stop 20 s after SIGTERM: killed\n",
              (int)pid);
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    sleep_us(10000);
  }
  children[which] = 0;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static long vm_rss_kib(pid_t pid) {
  char path[64], line[256];
  long kib = -1;
  FILE *f;
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  f = fopen(path, "r");
  if (!f)
    return -1;
  while (fgets(line, sizeof(line), f))
    if (strncmp(line, "VmRSS:", 6) == 0)
      kib = strtol(line + 6, NULL, 10);
  fclose(f);
  return kib;
}

/* user + system CPU seconds of a process (/proc/PID/stat utime, stime) */
static double cpu_s(pid_t pid) {
  char path[64], buf[1024];
  const char *p;
  unsigned long long ut = 0, st = 0;
  size_t k;
  FILE *f;
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  f = fopen(path, "r");
  if (!f)
    return -1;
  k = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[k] = '\0';
  p = strrchr(buf, ')');
  /* after ')': state is field 3; utime 14, stime 15 */
  if (!p ||
      sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
             &ut, &st) != 2)
    return -1;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int tcp_connect(int port) {
  struct sockaddr_in a = {.sin_family = AF_INET};
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)port);
  if (fd < 0)
    return -1;
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* GET path: the HTTP status, or -1. */
static int http_status(int port, const char *path) {
  char req[256], buf[64] = "";
  struct timeval tv = {2, 0};
  int fd = tcp_connect(port), status = -1;
  ssize_t got;
  if (fd < 0)
    return -1;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  snprintf(req, sizeof(req),
           "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
           path);
  if (send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req) &&
      (got = recv(fd, buf, sizeof(buf) - 1, 0)) > 12) {
    buf[got] = '\0';
    if (strncmp(buf, "HTTP/1.1 ", 9) == 0)
      status = atoi(buf + 9);
  }
  close(fd);
  return status;
}

static void wait_ready(int which, int port) {
  int64_t deadline = now_us() + 30 * 1000000LL;
  const char *log_path = which == CHILD_GATEWAY ? gateway_log : node_log;
  for (;;) {
    if (which == CHILD_GATEWAY ? http_status(port, "/readyz") == 200
                               : http_status(port, "/") > 0)
      return;
    if (waitpid(children[which], NULL, WNOHANG) == children[which]) {
      children[which] = 0;
      bail("%s exited at start (see %s)",
           which == CHILD_GATEWAY ? "wt-gateway" : "node", log_path);
    }
    if (now_us() > deadline)
      bail("%s not ready after 30 s (see %s)",
           which == CHILD_GATEWAY ? "wt-gateway" : "node", log_path);
    sleep_us(100000);
  }
}

/* --- the setup ------------------------------------------------------------ */

typedef struct world {
  char (*users)[WT_UUID_STR];
  char (*projects)[WT_UUID_STR];
  int64_t *seq; /* per project: the last applied seq */
  char **tokens;
  int members; /* per project */
} world;

static atomic_int failed_deliveries;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque) {
  (void)rk;
  (void)opaque;
  if (m->err) {
    atomic_fetch_add(&failed_deliveries, 1);
    WT_WARN("not delivered error=\"%s\"", rd_kafka_err2str(m->err));
  }
}

static rd_kafka_t *producer_new(bool bulk) {
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
  bench_kafka_conn(o.brokers, &conn);
  rk = wt_kafka_producer_new(&conn, bulk ? "bench-bulk" : "bench-events",
                             on_delivery, NULL, bulk ? bulk_extra : NULL, err,
                             sizeof(err));
  if (!rk)
    bail("producer: %s", err);
  return rk;
}

static void produce(rd_kafka_t *rk, const char *topic, const char *key,
                    const char *json, size_t len) {
  char err[512];
  if (bench_produce_command(rk, topic, key, json, len, 60000, err,
                            sizeof(err)) != WT_OK)
    bail("produce: %s", err);
  rd_kafka_poll(rk, 0);
}

static void produce_cmd(rd_kafka_t *rk, const char *topic, wt_command *c) {
  char *json;
  wt_uuid_generate(c->command_id);
  c->issued_at = wt_time_now_us();
  json = wt_command_to_json(c);
  if (!json)
    bail("cannot serialise a %s command", wt_cmd_type_name(c->type));
  produce(rk, topic, wt_command_key(c), json, strlen(json));
  free(json);
}

static void flush(rd_kafka_t *rk) {
  while (rd_kafka_flush(rk, 1000) == RD_KAFKA_RESP_ERR__TIMED_OUT)
    fprintf(stderr, "waiting for Kafka to take the messages\n");
  if (atomic_load(&failed_deliveries))
    bail("%d messages not delivered", atomic_load(&failed_deliveries));
}

static void setup(world *w, rd_kafka_t *rk, const wt_kafka_topics *t) {
  wt_command *c = xcalloc(1, sizeof(*c));
  PGconn *pg = pg_connect(url);
  PGresult *res;
  char sql[128];
  for (int u = 0; u < o.n; u++) {
    wt_command_init(c, WT_CMD_USER_CREATE, NULL);
    snprintf(c->user_id, sizeof(c->user_id), "%s", w->users[u]);
    snprintf(c->target_user_id, sizeof(c->target_user_id), "%s", w->users[u]);
    snprintf(c->username, sizeof(c->username), "gwbench_u%d", u);
    snprintf(c->display_name, sizeof(c->display_name), "Bench User %d", u);
    snprintf(c->password_hash, sizeof(c->password_hash), "$y$j9T$bench$hash");
    c->fields =
        WT_F_USER_ID | WT_F_USERNAME | WT_F_DISPLAY_NAME | WT_F_PASSWORD_HASH;
    produce_cmd(rk, t->commands, c);
  }
  flush(rk);
  wait_count(pg, "SELECT count(*) FROM users", o.n, "users");
  for (int p = 0; p < o.projects; p++) {
    wt_command_init(c, WT_CMD_PROJECT_CREATE, w->users[p]);
    snprintf(c->project_id, sizeof(c->project_id), "%s", w->projects[p]);
    snprintf(c->name, sizeof(c->name), "Gateway bench %d", p);
    c->fields = WT_F_NAME;
    produce_cmd(rk, t->commands, c);
  }
  /* same key (project_id), same partition: after their project.create */
  for (int u = o.projects; u < o.n; u++) {
    int p = u % o.projects;
    wt_command_init(c, WT_CMD_MEMBER_ADD, w->users[p]);
    snprintf(c->project_id, sizeof(c->project_id), "%s", w->projects[p]);
    snprintf(c->target_user_id, sizeof(c->target_user_id), "%s", w->users[u]);
    c->role = WT_ROLE_MEMBER;
    c->fields = WT_F_USER_ID | WT_F_ROLE;
    produce_cmd(rk, t->commands, c);
  }
  flush(rk);
  wait_count(pg, "SELECT count(*) FROM project_members", o.n, "memberships");
  /* the streams' seq, as the gateway will load them */
  for (int p = 0; p < o.projects; p++) {
    const char *params[1] = {w->projects[p]};
    res = PQexecParams(pg, "SELECT seq FROM projects WHERE id = $1", 1, NULL,
                       params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
      bail("projects.seq: %s", PQerrorMessage(pg));
    w->seq[p] = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
  }
  snprintf(sql, sizeof(sql), "SELECT count(*) FROM rejections");
  if (pg_count(pg, sql) != 0)
    bail("setup: some commands were rejected (see the rejections table)");
  PQfinish(pg);
  free(c);
}

static const char *no_env(void *ctx, const char *name) {
  (void)ctx;
  (void)name;
  return NULL; /* the defaults: issuer, audience, TTL as the gateway's */
}

static void issue_tokens(world *w) {
  wt_config cfg;
  wt_jwt *j = NULL;
  char err[512];
  int64_t now = wt_time_now_us() / 1000000;
  if (wt_config_load(&cfg, no_env, NULL, err, sizeof(err)) != WT_OK)
    bail("config: %s", err);
  snprintf(cfg.jwt_secret, sizeof(cfg.jwt_secret), "%s", JWT_SECRET);
  if (wt_jwt_new(&cfg, &j, err, sizeof(err)) != WT_OK)
    bail("jwt: %s", err);
  for (int u = 0; u < o.n; u++)
    if (wt_jwt_issue(j, w->users[u], 0, WT_JWT_ACCESS, now, &w->tokens[u], NULL,
                     err, sizeof(err)) != WT_OK)
      bail("jwt: %s", err);
  wt_jwt_destroy(j);
}

/* --- the client: N WebSocket connections on one epoll loop ---------------- */

enum {
  ST_FREE,
  ST_CONNECTING,
  ST_UPGRADE,
  ST_AUTH,
  ST_SUBSCRIBE,
  ST_READY,
  ST_DEAD
};

typedef struct conn {
  int fd, state, project, user;
  uint32_t rlen, rcap;
  unsigned char *rbuf;
} conn;

typedef struct client {
  bool gateway; /* else the ws baseline */
  int port, epfd, n;
  conn *c;
  const world *w;
  int opened, ready, dead, handshaking;
  /* the load: written by the loop's thread, read after it stops */
  atomic_bool stop;
  atomic_long deliveries;
  atomic_llong last_recv;
  float *lat_ms;
  size_t nlat, lat_cap;
  long others, close_codes[5]; /* 4008, 4001, 1009, 1000/1001, other */
} client;

static void send_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t k = send(fd, p, len, MSG_NOSIGNAL);
    if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
      sleep_us(100);
      continue;
    }
    if (k <= 0)
      bail("send: %s", strerror(errno));
    p += k;
    len -= (size_t)k;
  }
}

/* A masked client frame. */
static void send_frame(int fd, int opcode, const char *payload, size_t len) {
  unsigned char *f = xcalloc(len + 14, 1);
  static const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  size_t h = 2;
  f[0] = (unsigned char)(0x80 | opcode);
  if (len < 126) {
    f[1] = (unsigned char)(0x80 | len);
  } else if (len < 65536) {
    f[1] = 0x80 | 126;
    f[2] = (unsigned char)(len >> 8);
    f[3] = (unsigned char)len;
    h = 4;
  } else {
    f[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++)
      f[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    h = 10;
  }
  memcpy(f + h, mask, 4);
  for (size_t i = 0; i < len; i++)
    f[h + 4 + i] = (unsigned char)payload[i] ^ mask[i & 3];
  send_all(fd, f, h + 4 + len);
  free(f);
}

static void send_text(int fd, const char *text) {
  send_frame(fd, 0x1, text, strlen(text));
}

static void conn_close(client *cl, conn *c) {
  if (c->state >= ST_UPGRADE && c->state < ST_READY)
    cl->handshaking--;
  if (c->state == ST_CONNECTING)
    cl->handshaking--;
  if (c->state == ST_READY)
    cl->ready--;
  epoll_ctl(cl->epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->fd = -1;
  c->state = ST_DEAD;
  cl->dead++;
  free(c->rbuf);
  c->rbuf = NULL;
}

static void conn_fail(client *cl, conn *c, const char *why, const void *data,
                      size_t len) {
  if (cl->dead < 5)
    fprintf(stderr, "connection %d (state %d): %s%s%.*s\n", (int)(c - cl->c),
            c->state, why, len ? ": " : "", (int)(len > 300 ? 300 : len),
            (const char *)data);
  conn_close(cl, c);
}

static void send_subscribe(client *cl, conn *c) {
  char msg[160];
  if (cl->gateway)
    snprintf(msg, sizeof(msg),
             "{\"type\":\"subscribe\",\"id\":\"s\",\"project_id\":\"%s\"}",
             cl->w->projects[c->project]);
  else
    snprintf(msg, sizeof(msg), "{\"type\":\"subscribe\",\"project\":%d}",
             c->project);
  send_text(c->fd, msg);
  c->state = ST_SUBSCRIBE;
}

static void on_delivery_frame(client *cl, const char *p, size_t len) {
  const char *bt = memmem(p, len, "bt:", 3);
  int64_t now = now_us();
  if (!bt) {
    cl->others++;
    return;
  }
  atomic_fetch_add_explicit(&cl->deliveries, 1, memory_order_relaxed);
  atomic_store_explicit(&cl->last_recv, now, memory_order_relaxed);
  if (cl->nlat < cl->lat_cap)
    cl->lat_ms[cl->nlat++] =
        (float)((double)(now - strtoll(bt + 3, NULL, 10)) / 1e3);
}

static void on_text(client *cl, conn *c, const char *p, size_t len) {
  switch (c->state) {
  case ST_AUTH:
    if (!memmem(p, len, "\"auth_ok\"", 9)) {
      conn_fail(cl, c, "no auth_ok", p, len);
      return;
    }
    send_subscribe(cl, c);
    return;
  case ST_SUBSCRIBE:
    if (!memmem(p, len, "\"subscribed\"", 12)) {
      conn_fail(cl, c, "not subscribed", p, len);
      return;
    }
    c->state = ST_READY;
    cl->handshaking--;
    cl->ready++;
    return;
  case ST_READY: on_delivery_frame(cl, p, len); return;
  default: return;
  }
}

static void on_close_frame(client *cl, conn *c, const unsigned char *p,
                           size_t len) {
  int code = len >= 2 ? p[0] << 8 | p[1] : 0;
  int slot = code == 4008                   ? 0
             : code == 4001                 ? 1
             : code == 1009                 ? 2
             : code == 1000 || code == 1001 ? 3
                                            : 4;
  cl->close_codes[slot]++;
  if (cl->close_codes[slot] <= 3)
    fprintf(stderr, "connection %d closed by the server with %d\n",
            (int)(c - cl->c), code);
  conn_close(cl, c);
}

/* Complete frames in the buffer; false when the connection went away. */
static bool parse_frames(client *cl, conn *c) {
  uint32_t off = 0;
  while (c->rlen - off >= 2) {
    const unsigned char *f = c->rbuf + off;
    uint64_t len = f[1] & 0x7f;
    size_t h = 2;
    int opcode = f[0] & 0x0f;
    if (len == 126) {
      if (c->rlen - off < 4)
        break;
      len = (uint64_t)f[2] << 8 | f[3];
      h = 4;
    } else if (len == 127) {
      if (c->rlen - off < 10)
        break;
      len = 0;
      for (int i = 0; i < 8; i++)
        len = len << 8 | f[2 + i];
      h = 10;
    }
    if (f[1] & 0x80)
      h += 4; /* a server does not mask; tolerated, not unmasked */
    if (len > (64u << 20)) {
      conn_fail(cl, c, "frame too large", NULL, 0);
      return false;
    }
    if (c->rlen - off < h + len) {
      if (h + len > c->rcap) {
        unsigned char *nb = realloc(c->rbuf, h + len);
        if (!nb)
          bail("out of memory");
        c->rbuf = nb;
        c->rcap = (uint32_t)(h + len);
      }
      break;
    }
    if (opcode == 0x1 || opcode == 0x0) {
      on_text(cl, c, (const char *)f + h, (size_t)len);
      if (c->state == ST_DEAD)
        return false;
    } else if (opcode == 0x9) {
      send_frame(c->fd, 0xA, (const char *)f + h, (size_t)len);
    } else if (opcode == 0x8) {
      on_close_frame(cl, c, f + h, (size_t)len);
      return false;
    }
    off += (uint32_t)(h + len);
  }
  if (off > 0) {
    memmove(c->rbuf, c->rbuf + off, c->rlen - off);
    c->rlen -= off;
  }
  return true;
}

static void on_upgrade_reply(client *cl, conn *c) {
  char *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
  uint32_t hl;
  if (!end)
    return;
  if (c->rlen < 12 || memcmp(c->rbuf, "HTTP/1.1 101", 12) != 0) {
    conn_fail(cl, c, "upgrade refused", c->rbuf, c->rlen);
    return;
  }
  hl = (uint32_t)(end + 4 - (char *)c->rbuf);
  memmove(c->rbuf, c->rbuf + hl, c->rlen - hl);
  c->rlen -= hl;
  if (cl->gateway) {
    char *msg = xcalloc(strlen(cl->w->tokens[c->user]) + 64, 1);
    sprintf(msg, "{\"type\":\"auth\",\"token\":\"%s\"}",
            cl->w->tokens[c->user]);
    send_text(c->fd, msg);
    free(msg);
    c->state = ST_AUTH;
  } else {
    send_subscribe(cl, c);
  }
  parse_frames(cl, c);
}

static void on_readable(client *cl, conn *c) {
  ssize_t k;
  if (c->rcap - c->rlen < 1024) {
    uint32_t cap = c->rcap * 2;
    unsigned char *nb = realloc(c->rbuf, cap);
    if (!nb)
      bail("out of memory");
    c->rbuf = nb;
    c->rcap = cap;
  }
  k = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
  if (k < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (k <= 0) {
    conn_fail(cl, c,
              k == 0 ? "closed by the server without a close frame"
                     : strerror(errno),
              NULL, 0);
    return;
  }
  c->rlen += (uint32_t)k;
  if (c->state == ST_UPGRADE)
    on_upgrade_reply(cl, c);
  else
    parse_frames(cl, c);
}

static void on_writable(client *cl, conn *c) {
  char req[512];
  int err = 0;
  socklen_t len = sizeof(err);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    conn_fail(cl, c, "connect", strerror(err), strlen(strerror(err)));
    return;
  }
  snprintf(req, sizeof(req),
           "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="
           "\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
           cl->port,
           cl->gateway ? "Sec-WebSocket-Protocol: worktracker.v1\r\n" : "");
  send_all(c->fd, req, strlen(req));
  epoll_ctl(cl->epfd, EPOLL_CTL_MOD, c->fd, &ev);
  c->state = ST_UPGRADE;
}

static void open_conn(client *cl, int i) {
  conn *c = &cl->c[i];
  struct sockaddr_in a = {.sin_family = AF_INET};
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
  int one = 1;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)cl->port);
  c->user = i;
  c->project = i % o.projects;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0)
    bail("socket (connection %d, RLIMIT_NOFILE %ld): %s", i, nofile_limit(),
         strerror(errno));
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  c->rcap = RBUF_MIN;
  c->rbuf = xcalloc(c->rcap, 1);
  c->state = ST_CONNECTING;
  cl->handshaking++;
  cl->opened++;
  if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0 &&
      errno != EINPROGRESS)
    bail("connect: %s", strerror(errno));
  if (epoll_ctl(cl->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0)
    bail("epoll_ctl: %s", strerror(errno));
}

static void pump(client *cl, int timeout_ms) {
  struct epoll_event evs[512];
  int k = epoll_wait(cl->epfd, evs, 512, timeout_ms);
  for (int i = 0; i < k; i++) {
    conn *c = evs[i].data.ptr;
    if (c->state == ST_DEAD)
      continue;
    if (c->state == ST_CONNECTING && (evs[i].events & (EPOLLOUT | EPOLLERR)))
      on_writable(cl, c);
    else if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
      on_readable(cl, c);
  }
}

static void client_open(client *cl, bool gateway, int port, const world *w) {
  int64_t deadline = now_us() + CONNECT_TIMEOUT_S * 1000000LL, t0 = now_us();
  memset(cl, 0, sizeof(*cl));
  cl->gateway = gateway;
  cl->port = port;
  cl->w = w;
  cl->n = o.n;
  cl->c = xcalloc((size_t)o.n, sizeof(conn));
  cl->epfd = epoll_create1(0);
  cl->lat_cap = LAT_CAP;
  cl->lat_ms = xcalloc(cl->lat_cap, sizeof(float));
  while (cl->ready + cl->dead < o.n) {
    while (cl->opened < o.n && cl->handshaking < HANDSHAKES_IN_FLIGHT)
      open_conn(cl, cl->opened);
    pump(cl, 20);
    if (cl->dead > 0)
      bail("%d connections failed during the handshakes (%d ready)", cl->dead,
           cl->ready);
    if (now_us() > deadline)
      bail("%d of %d connections ready after %d s", cl->ready, o.n,
           CONNECT_TIMEOUT_S);
  }
  fprintf(stderr, "bench_gateway: %d connections ready in %.1f s\n", cl->ready,
          (double)(now_us() - t0) / 1e6);
}

static void client_close(client *cl) {
  for (int i = 0; i < cl->n; i++)
    if (cl->c[i].state != ST_DEAD && cl->c[i].state != ST_FREE) {
      close(cl->c[i].fd);
      free(cl->c[i].rbuf);
    }
  close(cl->epfd);
  free(cl->c);
  free(cl->lat_ms);
}

static void *loop_main(void *arg) {
  client *cl = arg;
  while (!atomic_load(&cl->stop))
    pump(cl, 10);
  return NULL;
}

/* --- the load ------------------------------------------------------------- */

typedef struct publisher {
  bool gateway;
  rd_kafka_t *rk;
  const char *topic;
  int ws_fd;    /* baseline: the publishing connection */
  pid_t server; /* wt-gateway or node: its CPU time is read per phase */
  world *w;
  uint64_t nevents;
  char log_tag[16];
} publisher;

/* Builds the applied event as wt-worker publishes it (gateway) or, for the
 * baseline, the frame the gateway would push, wrapped in a publish. */
static size_t build(publisher *pb, int p, char *out, size_t size) {
  char at[40], started[40], ended[40], cmd[WT_UUID_STR], log[WT_UUID_STR];
  char data[1200], frame[1800];
  const char *user = pb->w->users[p];
  int64_t t = wt_time_now_us(), seq = ++pb->w->seq[p];
  int64_t start = (t / 1000000 - 7200) * 1000000;
  uint64_t k = pb->nevents++;
  int n;
  wt_time_format(t, at, sizeof(at));
  wt_time_format(start, started, sizeof(started));
  wt_time_format(start + INT64_C(3600) * 1000000, ended, sizeof(ended));
  snprintf(cmd, sizeof(cmd), "%s-4000-8000-%012llx", pb->log_tag,
           (unsigned long long)k);
  snprintf(log, sizeof(log), "%s-4001-8000-%012llx", pb->log_tag,
           (unsigned long long)k);
  snprintf(data, sizeof(data),
           "{\"id\":\"%s\",\"project_id\":\"%s\",\"user_id\":\"%s\","
           "\"started_at\":\"%s\",\"ended_at\":\"%s\",\"duration_seconds\":"
           "3600,\"description\":\"bench bt:%lld\",\"version\":1,"
           "\"created_at\":\"%s\",\"updated_at\":\"%s\"}",
           log, pb->w->projects[p], user, started, ended, (long long)now_us(),
           at, at);
  if (pb->gateway) {
    n = snprintf(out, size,
                 "{\"v\":1,\"kind\":\"event\",\"type\":\"log.created\","
                 "\"project_id\":\"%s\",\"seq\":%lld,\"command_id\":\"%s\","
                 "\"actor_id\":\"%s\",\"at\":\"%s\",\"data\":%s}",
                 pb->w->projects[p], (long long)seq, cmd, user, at, data);
    return (size_t)n;
  }
  snprintf(frame, sizeof(frame),
           "{\"type\":\"event\",\"event_type\":\"log.created\","
           "\"project_id\":\"%s\",\"seq\":%lld,\"command_id\":\"%s\","
           "\"actor_id\":\"%s\",\"at\":\"%s\",\"data\":%s}",
           pb->w->projects[p], (long long)seq, cmd, user, at, data);
  n = snprintf(out, size, "{\"type\":\"publish\",\"project\":%d,\"data\":\"",
               p);
  for (const char *s = frame; *s && (size_t)n + 4 < size; s++) {
    if (*s == '"' || *s == '\\')
      out[n++] = '\\';
    out[n++] = *s;
  }
  out[n++] = '"';
  out[n++] = '}';
  out[n] = '\0';
  return (size_t)n;
}

typedef struct phase {
  long rate; /* events/s offered */
  uint64_t events, expected, delivered;
  double offered_s, span_s, deliveries_per_s;
  double p50, p99, max;
  double server_cpu_s, bench_cpu_s; /* CPU seconds spent during the phase */
} phase;

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

static double percentile(const float *sorted, size_t n, double p) {
  size_t rank = (size_t)ceil(p * (double)n);
  return n ? (double)sorted[rank ? rank - 1 : 0] : 0;
}

/* Publishes rate events/s for duration s round robin over the projects,
 * while a thread reads; then waits for the deliveries to stop coming. */
static phase run_phase(client *cl, publisher *pb, long rate,
                       const char *label) {
  phase ph = {.rate = rate};
  pthread_t th;
  char msg[4096];
  int64_t t0, t_end;
  long base = atomic_load(&cl->deliveries), last_seen;
  uint64_t total = (uint64_t)((double)rate * o.duration);
  int p = 0;
  fprintf(stderr, "bench_gateway: %s: %llu events at %ld/s\n", label,
          (unsigned long long)total, rate);
  cl->nlat = 0;
  atomic_store(&cl->stop, false);
  if (pthread_create(&th, NULL, loop_main, cl) != 0)
    bail("cannot start the client thread");
  ph.server_cpu_s = cpu_s(pb->server);
  ph.bench_cpu_s = self_cpu_s();
  t0 = now_us();
  for (uint64_t i = 0; i < total; i++) {
    size_t len;
    sleep_us(t0 + (int64_t)((double)i * 1e6 / (double)rate) - now_us());
    len = build(pb, p, msg, sizeof(msg));
    if (pb->gateway)
      produce(pb->rk, pb->topic, pb->w->projects[p], msg, len);
    else
      send_frame(pb->ws_fd, 0x1, msg, len);
    p = (p + 1) % o.projects;
  }
  if (pb->gateway)
    flush(pb->rk);
  t_end = now_us();
  ph.events = total;
  ph.expected = total * (uint64_t)(o.n / o.projects);
  ph.offered_s = (double)(t_end - t0) / 1e6;
  /* drain: until every delivery came or none for DRAIN_QUIET_S */
  last_seen = atomic_load(&cl->deliveries);
  for (int64_t quiet = now_us();;) {
    long d = atomic_load(&cl->deliveries);
    if ((uint64_t)(d - base) >= ph.expected)
      break;
    if (d != last_seen) {
      last_seen = d;
      quiet = now_us();
    } else if (now_us() - quiet > DRAIN_QUIET_S * 1000000LL) {
      break;
    }
    sleep_us(5000);
  }
  atomic_store(&cl->stop, true);
  pthread_join(th, NULL);
  ph.server_cpu_s = cpu_s(pb->server) - ph.server_cpu_s;
  ph.bench_cpu_s = self_cpu_s() - ph.bench_cpu_s;
  ph.delivered = (uint64_t)(atomic_load(&cl->deliveries) - base);
  ph.span_s = (double)(atomic_load(&cl->last_recv) - t0) / 1e6;
  ph.deliveries_per_s = ph.span_s > 0 ? (double)ph.delivered / ph.span_s : 0;
  qsort(cl->lat_ms, cl->nlat, sizeof(float), cmp_float);
  ph.p50 = percentile(cl->lat_ms, cl->nlat, 0.50);
  ph.p99 = percentile(cl->lat_ms, cl->nlat, 0.99);
  ph.max = cl->nlat ? (double)cl->lat_ms[cl->nlat - 1] : 0;
  if (ph.delivered != ph.expected)
    fprintf(stderr,
            "bench_gateway: %s: %llu of %llu deliveries (connections "
            "ready %d, closed %d)\n",
            label, (unsigned long long)ph.delivered,
            (unsigned long long)ph.expected, cl->ready, cl->dead);
  return ph;
}

/* The max phase, then the latency phase at half the measured rate. */
static void measure(client *cl, publisher *pb, phase *max, phase *half,
                    const char *who) {
  char label[64];
  long half_rate;
  snprintf(label, sizeof(label), "%s max", who);
  *max = run_phase(cl, pb, o.rate, label);
  half_rate =
      (long)(max->deliveries_per_s / 2 / ((double)o.n / (double)o.projects));
  if (half_rate < 1)
    half_rate = 1;
  snprintf(label, sizeof(label), "%s latency", who);
  *half = run_phase(cl, pb, half_rate, label);
}

/* The server's and the bench's CPU during the max phase: on a shared
 * machine, deliveries per server CPU second is the figure that does not
 * depend on who else had the cores. */
static void print_cpu(const char *pfx, const phase *ph) {
  printf("%smax_server_cpu_s=%.2f\n%smax_bench_cpu_s=%.2f\n", pfx,
         ph->server_cpu_s, pfx, ph->bench_cpu_s);
  printf("%sdeliveries_per_server_cpu_s=%.0f\n", pfx,
         ph->server_cpu_s > 0 ? (double)ph->delivered / ph->server_cpu_s : 0);
}

/* --- main ----------------------------------------------------------------- */

static void usage(FILE *out) {
  fprintf(
      out,
      "Usage: bench_gateway [options]\n"
      "Measures wt-gateway pushing applied events to N WebSocket connections\n"
      "subscribed across PROJECTS projects (N / PROJECTS subscribers each), "
      "and the\nsame load against a fan-out server on the npm ws package.\n\n"
      "  -n, --connections N   connections (10000)\n"
      "  -p, --projects P      projects (100); N must be a multiple\n"
      "  -r, --rate R          events/s offered in the max phase (3000)\n"
      "  -d, --duration S      seconds of each phase (4)\n"
      "  --gateway PATH        wt-gateway binary (%s)\n"
      "  --worker PATH         wt-worker binary (%s)\n"
      "  --baseline-dir DIR    bench/ws-baseline with node_modules (%s)\n"
      "  --node PATH           node (node)\n"
      "  --gateway-env N=V     an environment variable of wt-gateway "
      "(repeatable)\n"
      "  --no-baseline         skip the ws baseline\n"
      "  --keep                keep the database, topics and logs\n\n"
      "Environment: WT_DATABASE_URL (a role that may CREATE DATABASE), "
      "WT_KAFKA_BROKERS,\nWT_KAFKA_PARTITIONS (6).\n",
      WT_GATEWAY_BIN, WT_WORKER_BIN, WT_WS_BASELINE_DIR);
}

static long arg_long(const char *s, const char *what, long lo, long hi) {
  return bench_arg_long("bench_gateway", s, what, lo, hi);
}

static void parse_args(int argc, char **argv) {
  static const struct option longs[] = {
      {"help", no_argument, NULL, 'h'},
      {"connections", required_argument, NULL, 'n'},
      {"projects", required_argument, NULL, 'p'},
      {"rate", required_argument, NULL, 'r'},
      {"duration", required_argument, NULL, 'd'},
      {"gateway", required_argument, NULL, 'G'},
      {"worker", required_argument, NULL, 'W'},
      {"baseline-dir", required_argument, NULL, 'B'},
      {"node", required_argument, NULL, 'N'},
      {"gateway-env", required_argument, NULL, 'E'},
      {"no-baseline", no_argument, NULL, 'x'},
      {"keep", no_argument, NULL, 'k'},
      {NULL, 0, NULL, 0}};
  const char *parts;
  int ch;
  o = (options){.n = 10000,
                .projects = 100,
                .rate = 3000,
                .duration = 4,
                .worker_bin = WT_WORKER_BIN,
                .gateway_bin = WT_GATEWAY_BIN,
                .baseline_dir = WT_WS_BASELINE_DIR,
                .node = "node"};
  while ((ch = getopt_long(argc, argv, "hn:p:r:d:", longs, NULL)) != -1) {
    switch (ch) {
    case 'h': usage(stdout); exit(0);
    case 'n': o.n = (int)arg_long(optarg, "--connections", 1, 60000); break;
    case 'p': o.projects = (int)arg_long(optarg, "--projects", 1, 10000); break;
    case 'r': o.rate = arg_long(optarg, "--rate", 1, 1000000); break;
    case 'd':
      o.duration = (double)arg_long(optarg, "--duration", 1, 600);
      break;
    case 'G': o.gateway_bin = optarg; break;
    case 'W': o.worker_bin = optarg; break;
    case 'B': o.baseline_dir = optarg; break;
    case 'N': o.node = optarg; break;
    case 'E':
      if (!strchr(optarg, '=') || o.ngateway_env == 16) {
        fprintf(stderr, "bench_gateway: --gateway-env NAME=VALUE, at most "
                        "16\n");
        exit(2);
      }
      o.gateway_env[o.ngateway_env++] = optarg;
      break;
    case 'x': o.skip_baseline = true; break;
    case 'k': o.keep = true; break;
    default: usage(stderr); exit(2);
    }
  }
  if (optind != argc) {
    usage(stderr);
    exit(2);
  }
  if (o.n % o.projects != 0 || o.n < o.projects) {
    fprintf(stderr, "bench_gateway: N must be a multiple of PROJECTS\n");
    exit(2);
  }
  o.database_url = getenv("WT_DATABASE_URL");
  o.brokers = getenv("WT_KAFKA_BROKERS");
  if (!o.database_url || !*o.database_url || !o.brokers || !*o.brokers) {
    fprintf(stderr, "bench_gateway: set WT_DATABASE_URL and WT_KAFKA_BROKERS "
                    "(bench/run.sh does)\n");
    exit(2);
  }
  parts = getenv("WT_KAFKA_PARTITIONS");
  o.partitions = parts && *parts
                     ? (int)arg_long(parts, "WT_KAFKA_PARTITIONS", 1, 1024)
                     : 6;
  if (access(o.gateway_bin, X_OK) != 0 || access(o.worker_bin, X_OK) != 0) {
    fprintf(stderr, "bench_gateway: %s or %s: not executable\n", o.gateway_bin,
            o.worker_bin);
    exit(2);
  }
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

int main(int argc, char **argv) {
  world w = {0};
  wt_kafka_topics topics;
  rd_kafka_t *bulk, *events;
  client cl;
  publisher pb = {0};
  phase gmax, ghalf, bmax = {0}, bhalf = {0};
  long rss_before, rss_after, brss_before = 0, brss_after = 0;
  double t_start = (double)now_us() / 1e6;
  int gw_port, gw_exit, closes_gw;
  char err[512], sql[256], uuid[WT_UUID_STR];
  const char *names[3];

  parse_args(argc, argv);
  wt_log_init("bench", WT_LOG_WARN, stderr);
  signal(SIGPIPE, SIG_IGN);
  raise_nofile();
  if (nofile_limit() < o.n + 256)
    bail("RLIMIT_NOFILE is %ld, %d connections need more (ulimit -Hn)",
         nofile_limit(), o.n);
  w.members = o.n / o.projects;
  w.users = xcalloc((size_t)o.n, sizeof(*w.users));
  w.projects = xcalloc((size_t)o.projects, sizeof(*w.projects));
  w.seq = xcalloc((size_t)o.projects, sizeof(*w.seq));
  w.tokens = xcalloc((size_t)o.n, sizeof(*w.tokens));
  for (int u = 0; u < o.n; u++)
    wt_uuid_generate(w.users[u]);
  for (int p = 0; p < o.projects; p++)
    wt_uuid_generate(w.projects[p]);
  wt_uuid_generate(uuid);
  snprintf(pb.log_tag, sizeof(pb.log_tag), "%.13s", uuid);

  /* 1. setup */
  snprintf(prefix, sizeof(prefix), "wtbench-gw-%d", (int)getpid());
  snprintf(dbname, sizeof(dbname), "wt_bench_gw_%d", (int)getpid());
  snprintf(worker_log, sizeof(worker_log), "/tmp/%s-worker.log", prefix);
  snprintf(gateway_log, sizeof(gateway_log), "/tmp/%s-gateway.log", prefix);
  snprintf(node_log, sizeof(node_log), "/tmp/%s-node.log", prefix);
  snprintf(sql, sizeof(sql), "CREATE DATABASE %s", dbname);
  admin_exec(sql);
  if (wt_db_conninfo_with_dbname(o.database_url, dbname, url, sizeof(url), err,
                                 sizeof(err)) != WT_OK)
    bail("%s", err);
  {
    wt_db *db = NULL;
    const char *dir = getenv("WT_MIGRATIONS_DIR");
    if (wt_db_connect(url, "bench", false, &db, err, sizeof(err)) != WT_OK ||
        wt_migrate_run(db, dir ? dir : WT_MIGRATIONS_DIR, NULL, err,
                       sizeof(err)) != WT_OK)
      bail("database %s: %s", dbname, err);
    wt_db_destroy(db);
  }
  wt_kafka_topic_names(prefix, &topics);
  bulk = producer_new(true);
  names[0] = topics.commands;
  names[1] = topics.events;
  names[2] = topics.dlq;
  if (wt_kafka_ensure_topics(bulk, names, 3, o.partitions, 30000, err,
                             sizeof(err)) != WT_OK)
    bail("topics: %s", err);
  if (bench_kafka_acls(bulk, prefix, err, sizeof(err)) != WT_OK)
    bail("acls: %s", err);
  fprintf(stderr, "bench_gateway: setup: %d users, %d projects\n", o.n,
          o.projects);
  spawn(CHILD_WORKER, 0);
  setup(&w, bulk, &topics);
  stop_child(CHILD_WORKER);
  issue_tokens(&w);

  /* 2. the gateway and N idle connections */
  gw_port = free_port();
  spawn(CHILD_GATEWAY, gw_port);
  wait_ready(CHILD_GATEWAY, gw_port);
  events = producer_new(false);
  if (wt_kafka_partition_count(events, topics.events, 10000) <= 0)
    bail("no metadata for %s", topics.events);
  sleep_us(500000);
  rss_before = vm_rss_kib(children[CHILD_GATEWAY]);
  fprintf(stderr, "bench_gateway: opening %d connections to wt-gateway\n", o.n);
  client_open(&cl, true, gw_port, &w);
  sleep_us(2000000);
  pump(&cl, 0);
  rss_after = vm_rss_kib(children[CHILD_GATEWAY]);

  /* 3. the load */
  pb.gateway = true;
  pb.server = children[CHILD_GATEWAY];
  pb.rk = events;
  pb.topic = topics.events;
  pb.w = &w;
  measure(&cl, &pb, &gmax, &ghalf, "gateway");
  closes_gw = cl.dead;
  printf("# wt-gateway: %d connections, %d projects x %d subscribers; events "
         "published to %s.events, latency publish -> client receipt\n",
         o.n, o.projects, w.members, prefix);
  printf("connections=%d\n", cl.ready + cl.dead);
  printf("max_offered_events_per_s=%ld\nmax_deliveries=%llu\n"
         "max_expected_deliveries=%llu\n",
         gmax.rate, (unsigned long long)gmax.delivered,
         (unsigned long long)gmax.expected);
  printf("deliveries_per_s=%.0f\n", gmax.deliveries_per_s);
  printf("max_latency_p50_ms=%.2f\nmax_latency_p99_ms=%.2f\n", gmax.p50,
         gmax.p99);
  print_cpu("", &gmax);
  printf("half_offered_deliveries_per_s=%llu\nhalf_deliveries=%llu\n"
         "half_expected_deliveries=%llu\n",
         (unsigned long long)ghalf.rate * (unsigned long long)w.members,
         (unsigned long long)ghalf.delivered,
         (unsigned long long)ghalf.expected);
  printf("latency_p50_ms=%.2f\nlatency_p99_ms=%.2f\nlatency_max_ms=%.2f\n",
         ghalf.p50, ghalf.p99, ghalf.max);
  printf("gateway_rss_before_kib=%ld\ngateway_rss_after_kib=%ld\n", rss_before,
         rss_after);
  printf("kib_per_idle_connection=%.2f\n",
         (double)(rss_after - rss_before) / o.n);
  printf("closed_by_gateway=%d\nclosed_4008=%ld\n", closes_gw,
         cl.close_codes[0]);
  fflush(stdout);
  client_close(&cl);
  gw_exit = stop_child(CHILD_GATEWAY);
  rd_kafka_flush(events, 5000);
  rd_kafka_destroy(events);

  /* 4. the baseline */
  if (!o.skip_baseline) {
    char modules[1100];
    int port = free_port();
    snprintf(modules, sizeof(modules), "%s/node_modules/ws", o.baseline_dir);
    if (access(modules, R_OK) != 0)
      bail("%s missing: npm install --prefix %s", modules, o.baseline_dir);
    spawn(CHILD_NODE, port);
    wait_ready(CHILD_NODE, port);
    sleep_us(500000);
    brss_before = vm_rss_kib(children[CHILD_NODE]);
    fprintf(stderr, "bench_gateway: opening %d connections to ws\n", o.n);
    client_open(&cl, false, port, &w);
    sleep_us(2000000);
    pump(&cl, 0);
    brss_after = vm_rss_kib(children[CHILD_NODE]);
    {
      char req[512], buf[1024];
      size_t len = 0;
      int one = 1;
      pb.ws_fd = tcp_connect(port);
      if (pb.ws_fd < 0)
        bail("publisher: cannot connect to the baseline");
      setsockopt(pb.ws_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      snprintf(req, sizeof(req),
               "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket"
               "\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
               "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
               port);
      send_all(pb.ws_fd, req, strlen(req));
      while (!memmem(buf, len, "\r\n\r\n", 4) && len < sizeof(buf) - 1) {
        ssize_t k = recv(pb.ws_fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (k <= 0)
          bail("publisher: no upgrade reply");
        len += (size_t)k;
      }
      if (strncmp(buf, "HTTP/1.1 101", 12) != 0)
        bail("publisher: upgrade refused");
    }
    pb.gateway = false;
    pb.server = children[CHILD_NODE];
    measure(&cl, &pb, &bmax, &bhalf, "ws");
    printf("# baseline: node %s/server.js (npm ws), same clients, frames and "
           "rates; published over one WebSocket\n",
           o.baseline_dir);
    printf("ws_max_deliveries=%llu\nws_max_expected_deliveries=%llu\n",
           (unsigned long long)bmax.delivered,
           (unsigned long long)bmax.expected);
    printf("ws_deliveries_per_s=%.0f\n", bmax.deliveries_per_s);
    print_cpu("ws_", &bmax);
    printf("ws_half_offered_deliveries_per_s=%llu\n",
           (unsigned long long)bhalf.rate * (unsigned long long)w.members);
    printf("ws_latency_p50_ms=%.2f\nws_latency_p99_ms=%.2f\n", bhalf.p50,
           bhalf.p99);
    printf("ws_kib_per_idle_connection=%.2f\n",
           (double)(brss_after - brss_before) / o.n);
    printf("ratio_to_ws=%.3f\n",
           bmax.deliveries_per_s > 0
               ? gmax.deliveries_per_s / bmax.deliveries_per_s
               : 0);
    close(pb.ws_fd);
    client_close(&cl);
    stop_child(CHILD_NODE);
  }
  printf("gateway_exit=%d\n", gw_exit);
  printf("total_s=%.1f\n", (double)now_us() / 1e6 - t_start);

  /* cleanup */
  if (!o.keep) {
    delete_topics(bulk, &topics);
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
             dbname);
    admin_exec(sql);
    unlink(worker_log);
    unlink(gateway_log);
    unlink(node_log);
  } else {
    fprintf(stderr, "kept: database %s, topics %s.*, logs /tmp/%s-*.log\n",
            dbname, prefix, prefix);
  }
  rd_kafka_destroy(bulk);
  for (int u = 0; u < o.n; u++)
    free(w.tokens[u]);
  free(w.tokens);
  free(w.users);
  free(w.projects);
  free(w.seq);
  return gmax.delivered == gmax.expected && ghalf.delivered == ghalf.expected
             ? 0
             : 1;
}
