/* End-to-end tests of wt-gateway as a process, with wt-worker, on the real
 * Apache Kafka and PostgreSQL: login and its throttle, token refresh, auth
 * by frame and by header, the reads, commands applied and pushed live to
 * another member, not_found for non-members, forbidden for another's log,
 * a removed member's subscription, a deactivated user's connection, resume
 * with since, the frame cap (1009), bad frames, a slow reader (4008) and
 * the auth deadline (4001); a since too old or never reached (reset),
 * revoked tokens, a
 * session's expiry and its extension, binary and invalid UTF-8 frames
 * (never echoed); RFC 6455's refusals: unmasked client frames and bad close
 * frames (1002), with a bystander connection that keeps working;
 * project.rename, log.update with expected_version, list with every filter
 * and log.delete.
 * A second gateway with small limits and no worker behind its topics
 * checks the connection cap (503), the in-flight cap (rate_limited), the
 * command timeout (unavailable) and the subscription cap. A third one
 * serves TLS only (WT_TLS_CERT_FILE, WT_TLS_KEY_FILE) with a self-signed
 * certificate made at run time: https:// and wss:// work, plaintext fails.
 *
 * Any test runs alone, and in any order. Each one first asks for what it
 * needs: need_gateway() or need_gateway2(), then a project or a user of its
 * own (project_new, user_new). What is expensive is shared, started by the
 * first test that asks for it and kept for the file: a fresh database, a
 * unique topic prefix, wt-worker, the users alice, bob, carol and erin
 * (whom no test changes: they only log in), the main gateway (started
 * again if a test stopped it) and the second one. What a test changes is
 * its own: a project's logs, members and name, a user's throttle, tokens
 * or state. test_tls starts and stops the TLS gateway itself.
 *
 * WT_TEST_FILTER=PATTERN runs only the tests whose names match it (cmocka's
 * test filter: * and ? as in a shell), e.g. WT_TEST_FILTER=test_tls; with
 * the stack fixture up (ctest -R stack.start), run the binary with the
 * environment that WT_TEST_ENV in tests/CMakeLists.txt gives it:
 *
 *   WT_TEST_STACK_ENV=build/test-stack/stack.env WT_TEST_FILTER=test_tls \
 *     build/tests/test_gateway_e2e
 *
 * With WT_SCHEMA_DUMP=FILE the traffic is recorded for
 * tests/schemas-check.sh (see wt_wsclient.h); what is sent invalid on
 * purpose is marked with wt_ws_dump_invalid / wt_http_dump_invalid. */
#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "wt_command.h"
#include "wt_db.h"
#include "wt_jwt.h"
#include "wt_kafka.h"
#include "wt_migrate.h"
#include "wt_password.h"
#include "wt_test.h"
#include "wt_wsclient.h"

#ifndef WT_WORKER_BIN
#error "WT_WORKER_BIN must name the wt-worker binary"
#endif
#ifndef WT_GATEWAY_BIN
#error "WT_GATEWAY_BIN must name the wt-gateway binary"
#endif

#define HOST "127.0.0.1"
/* Every wait is a deadline polled, sized for a loaded 2-core machine. */
#define T_MS 30000   /* a reply that needs Kafka and the worker */
#define T_READ 20000 /* a reply of the gateway alone, or of PostgreSQL */
/* A program's start until /readyz answers 200, and its stop. wt-gateway
 * looks at SIGTERM only between its start's steps and in its loop: its
 * worst case is a step under way (ing_producer_new waits up to 15 s for the
 * topics, gw_events_new 5 s for the partitions and 5 s for each one's
 * offsets), then the producer's flush (ing_producer_destroy, up to 10 s)
 * and librdkafka's destroys: about 40 s on a slow Kafka. */
#define T_PROC_S 60
#define POLL_US (20 * 1000)
#define SEND_QUEUE "262144"
#define JWT_SECRET "test-secret-test-secret-test-secret-0123"

typedef struct user {
  const char *name, *password;
  char id[WT_UUID_STR];
} user;

/* What the tests share; see need_stack(), need_gateway(), need_gateway2(). */
typedef struct env {
  /* need_stack() */
  bool stack_up, stack_failed;
  char prefix[64];
  char dbname[128];
  char url[2048];
  char worker_log[256], gateway_log[256];
  wt_kafka_topics topics;
  rd_kafka_t *producer;
  pid_t worker;
  user alice, bob, carol, erin; /* they only log in: no test changes them */
  /* need_gateway(): the main gateway */
  bool gateway_failed;
  pid_t gateway;
  int port;
  /* need_gateway2(): small limits, its own topics, no worker */
  bool projects2_made, gateway2_failed;
  char prefix2[64];
  char gateway2_log[256];
  pid_t gateway2;
  int port2;
  char projects2[3][WT_UUID_STR]; /* alice's, for the subscription cap */
  /* test_tls's gateway: the main topics, its certificate in tls_dir */
  char tls_dir[64];
  char gateway_tls_log[256];
  pid_t gateway_tls;
  int port_tls;
} env;

static env E = {
    .alice = {"alice", "alice-password-1", ""},
    .bob = {"bob", "bob-password-12", ""},
    .carol = {"carol", "carol-password-1", ""},
    .erin = {"erin", "erin-password-12", ""},
};
static int next_id;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void dump_logs(void) {
  char cmd[1200];
  snprintf(cmd, sizeof(cmd), "tail -n 30 %s %s %s %s >&2", E.worker_log,
           E.gateway_log, E.gateway2_log, E.gateway_tls_log);
  if (system(cmd) != 0)
    fprintf(stderr, "(no logs)\n");
}

/* extra: NULL-terminated name, value pairs set after the defaults. */
static pid_t spawn_ex(const char *bin, const char *log_path, bool gateway,
                      const char *prefix, int http_port,
                      const char *const *extra) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    FILE *log = fopen(log_path, "a");
    char port[16];
    if (log) {
      dup2(fileno(log), 1);
      dup2(fileno(log), 2);
    }
    setenv("WT_DATABASE_URL", E.url, 1);
    wt_test_program_env(gateway ? "wt-gateway" : "wt-worker");
    setenv("WT_TOPIC_PREFIX", prefix, 1);
    setenv("WT_KAFKA_PARTITIONS", "3", 1);
    setenv("WT_METRICS_PORT", "0", 1);
    setenv("WT_BATCH_WAIT_MS", "2", 1);
    snprintf(port, sizeof(port), "%d", http_port);
    setenv("WT_HTTP_PORT", port, 1);
    setenv("WT_JWT_SECRET", JWT_SECRET, 1);
    setenv("WT_AUTH_TIMEOUT_MS", "1500", 1);
    setenv("WT_SEND_QUEUE_BYTES", SEND_QUEUE, 1);
    setenv("WT_COMMAND_TIMEOUT_MS", "20000", 1);
    for (; extra && extra[0]; extra += 2)
      setenv(extra[0], extra[1], 1);
    unsetenv("WT_ENV_FILE");
    execl(bin, gateway ? "wt-gateway" : "wt-worker", (char *)NULL);
    _exit(127);
  }
  return pid;
}

/* Signals the program and waits up to T_PROC_S for its exit; then kills it.
 * Its exit status, 128 + the signal that ended it, or -1 (killed, or not
 * ours). */
static int stop(pid_t *pid, int sig) {
  double t0 = now_s();
  int status = 0;
  if (*pid <= 0)
    return -1;
  kill(*pid, sig);
  for (;;) {
    pid_t r = waitpid(*pid, &status, WNOHANG);
    if (r == *pid)
      break;
    if (r < 0 && errno != EINTR) {
      *pid = 0;
      return -1;
    }
    if (now_s() - t0 > T_PROC_S) {
      fprintf(stderr, "pid %d still running %d s after signal %d: killed\n",
              (int)*pid, T_PROC_S, sig);
      kill(*pid, SIGKILL);
      waitpid(*pid, &status, 0);
      *pid = 0;
      return -1;
    }
    usleep(POLL_US);
  }
  fprintf(stderr, "pid %d exited %.2f s after signal %d\n", (int)*pid,
          now_s() - t0, sig);
  *pid = 0;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Whether the file holds needle. */
static bool log_has(const char *path, const char *needle) {
  FILE *f = fopen(path, "r");
  char line[4096];
  bool found = false;
  while (f && !found && fgets(line, sizeof(line), f))
    found = strstr(line, needle) != NULL;
  if (f)
    fclose(f);
  return found;
}

/* Whether something accepts connections on the port (without the noise a
 * refused wt_http_request prints). */
static bool port_listening(int port) {
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port)};
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool ok;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
  if (fd >= 0)
    close(fd);
  return ok;
}

/* Whether /readyz answers 200: over https:// with ca_file (trusted), else
 * over http://. */
static bool ready(int port, const char *ca_file) {
  int st = 0;
  int rc = ca_file ? wt_https_request(HOST, port, ca_file, "GET", "/readyz",
                                      NULL, NULL, 2000, &st, NULL, NULL)
                   : wt_http_request(HOST, port, "GET", "/readyz", NULL, NULL,
                                     2000, &st, NULL, NULL);
  return rc == 0 && st == 200;
}

/* Starts a gateway and waits up to T_PROC_S for its /readyz (over TLS with
 * ca_file, see ready()). The port
 * comes from wt_test_free_port, which only saw it free: a connection's
 * local port can take it before the gateway listens (it connects to Kafka
 * and PostgreSQL first), and the gateway then exits "cannot listen"; it
 * is started again on another port. 0, or -1 with the logs shown. */
static int gateway_start(pid_t *pid, int *port, const char *log_path,
                         const char *prefix, const char *const *extra,
                         const char *ca_file) {
  for (int attempt = 0; attempt < 5; attempt++) {
    double deadline = now_s() + T_PROC_S;
    char refused[64];
    *port = wt_test_free_port();
    *pid = spawn_ex(WT_GATEWAY_BIN, log_path, true, prefix, *port, extra);
    for (;;) {
      int status = 0;
      if (port_listening(*port) && ready(*port, ca_file))
        return 0;
      if (waitpid(*pid, &status, WNOHANG) == *pid) {
        *pid = 0;
        fprintf(stderr, "wt-gateway exited (status %d) before it was ready\n",
                WIFEXITED(status) ? WEXITSTATUS(status)
                                  : 128 + WTERMSIG(status));
        break;
      }
      if (now_s() > deadline) {
        fprintf(stderr, "wt-gateway not ready within %d s\n", T_PROC_S);
        dump_logs();
        return -1;
      }
      usleep(50 * 1000);
    }
    snprintf(refused, sizeof(refused), "cannot listen port=%d", *port);
    if (!log_has(log_path, refused)) {
      dump_logs();
      return -1;
    }
    fprintf(stderr, "port %d was taken meanwhile: another one\n", *port);
  }
  dump_logs();
  return -1;
}

static void produce_cmd(wt_command *c) {
  char err[256], *json;
  wt_uuid_generate(c->command_id);
  c->issued_at = wt_time_now_us();
  json = wt_command_to_json(c);
  assert_non_null(json);
  /* signed as the producer that may issue it (docs/security.md) */
  if (wt_test_produce_command(E.producer, E.topics.commands, wt_command_key(c),
                              json, strlen(json),
                              c->actor_system ? "wt-admin" : "wt-ingest", err,
                              sizeof(err)) != WT_OK)
    fail_msg("produce: %s", err);
  free(json);
  rd_kafka_flush(E.producer, 30000);
}

static long query_long(const char *sql) {
  wt_db *db = NULL;
  PGresult *res = NULL;
  char err[512];
  long v;
  if (wt_db_connect(E.url, "t_gw", false, &db, err, sizeof(err)) != WT_OK ||
      wt_db_exec(db, "t_query", sql, 0, NULL, &res, err, sizeof(err)) != WT_OK)
    fail_msg("query: %s", err);
  v = atol(PQgetvalue(res, 0, 0));
  PQclear(res);
  wt_db_destroy(db);
  return v;
}

static void wait_sql(const char *sql, long want) {
  double deadline = now_s() + T_PROC_S;
  while (query_long(sql) != want) {
    if (now_s() > deadline) {
      dump_logs();
      fail_msg("timed out waiting for %s = %ld", sql, want);
    }
    usleep(50 * 1000);
  }
}

/* Produces u's user.create (u->id is made here); user_wait() waits for it. */
static void user_create(user *u) {
  wt_command c;
  memset(&c, 0, sizeof(c));
  c.type = WT_CMD_USER_CREATE;
  c.actor_system = true;
  wt_uuid_generate(c.user_id);
  memcpy(c.target_user_id, c.user_id, WT_UUID_STR);
  memcpy(u->id, c.user_id, WT_UUID_STR);
  snprintf(c.username, sizeof(c.username), "%s", u->name);
  snprintf(c.display_name, sizeof(c.display_name), "User %s", u->name);
  assert_int_equal(
      wt_password_hash(u->password, c.password_hash, sizeof(c.password_hash)),
      0);
  c.fields =
      WT_F_USER_ID | WT_F_USERNAME | WT_F_DISPLAY_NAME | WT_F_PASSWORD_HASH;
  produce_cmd(&c);
}

/* Waits until the worker has stored u: from then on it can log in. */
static void user_wait(const user *u) {
  char sql[128];
  snprintf(sql, sizeof(sql), "SELECT count(*) FROM users WHERE id = '%s'",
           u->id);
  wait_sql(sql, 1);
}

static void system_user_cmd(wt_cmd_type type, const user *u) {
  wt_command c;
  memset(&c, 0, sizeof(c));
  c.type = type;
  c.actor_system = true;
  memcpy(c.user_id, u->id, WT_UUID_STR);
  memcpy(c.target_user_id, u->id, WT_UUID_STR);
  c.fields = WT_F_USER_ID;
  produce_cmd(&c);
}

/* --- HTTP and WebSocket helpers ------------------------------------------- */

static int http(const char *method, const char *path, const char *body,
                char **body_out, char **headers_out) {
  int status = 0;
  if (wt_http_request(HOST, E.port, method, path,
                      body ? "application/json" : NULL, body, T_READ, &status,
                      headers_out, body_out) != 0)
    return -1;
  return status;
}

static json_object *parse(const char *s) {
  json_object *o = json_tokener_parse(s);
  if (!o)
    fail_msg("not JSON: %s", s);
  return o;
}

static const char *jstr(json_object *o, const char *key) {
  json_object *v;
  if (!json_object_object_get_ex(o, key, &v))
    return NULL;
  return json_object_get_string(v);
}

static long long jint(json_object *o, const char *key) {
  json_object *v;
  if (!json_object_object_get_ex(o, key, &v))
    return -1;
  return json_object_get_int64(v);
}

/* Logs in; returns the malloc'd token of `kind` ("access_token" or
 * "refresh_token"). */
static char *login(const user *u, const char *kind) {
  char body[256], *out = NULL, *tok;
  json_object *o;
  int st;
  snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}",
           u->name, u->password);
  st = http("POST", "/api/login", body, &out, NULL);
  if (st != 200)
    fail_msg("login %s: %d %s", u->name, st, out ? out : "");
  o = parse(out);
  tok = strdup(jstr(o, kind));
  json_object_put(o);
  free(out);
  return tok;
}

static wt_ws *ws_connect_at(int port, const char *headers) {
  char err[256];
  int status = 0;
  wt_ws *ws = wt_ws_connect(HOST, port, "/ws", "worktracker.v1", headers,
                            T_READ, &status, err, sizeof(err));
  if (!ws)
    fail_msg("connect: %s (status %d)", err, status);
  return ws;
}

static wt_ws *ws_connect(const char *headers) {
  return ws_connect_at(E.port, headers);
}

static void sendf(wt_ws *ws, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sendf(wt_ws *ws, const char *fmt, ...) {
  char buf[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  assert_int_equal(wt_ws_send_text(ws, buf, strlen(buf)), 0);
}

/* The next message of that type, parsed. */
static json_object *expect(wt_ws *ws, const char *type, int timeout_ms) {
  char *json = NULL;
  json_object *o;
  if (wt_ws_recv_json_type(ws, type, timeout_ms, &json) != 0) {
    dump_logs();
    fail_msg("no \"%s\" message (close code %d, %s)", type,
             wt_ws_close_code(ws), wt_ws_error(ws));
  }
  o = parse(json);
  free(json);
  return o;
}

/* Waits for the close and returns its code. */
static int expect_close(wt_ws *ws, int timeout_ms) {
  double deadline = now_s() + timeout_ms / 1000.0;
  while (now_s() < deadline) {
    wt_ws_msg m;
    int r = wt_ws_recv(ws, 200, &m);
    if (r == WT_WS_CLOSE) {
      int code = m.close_code;
      wt_ws_msg_free(&m);
      return code;
    }
    if (r == WT_WS_ERROR) {
      fprintf(stderr, "no close frame: %s\n", wt_ws_error(ws));
      return wt_ws_close_code(ws);
    }
    if (r != WT_WS_TIMEOUT)
      wt_ws_msg_free(&m);
  }
  return 0;
}

static wt_ws *ws_auth_at(int port, const user *u) {
  char *tok = login(u, "access_token");
  wt_ws *ws = ws_connect_at(port, NULL);
  json_object *o;
  sendf(ws, "{\"type\":\"auth\",\"token\":\"%s\"}", tok);
  free(tok);
  o = expect(ws, "auth_ok", T_READ);
  assert_string_equal(jstr(o, "user_id"), u->id);
  json_object_put(o);
  return ws;
}

static wt_ws *ws_auth(const user *u) {
  return ws_auth_at(E.port, u);
}

/* Sends a request with a fresh id; returns the id (static ring). */
static const char *request(wt_ws *ws, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *request(wt_ws *ws, const char *fmt, ...) {
  static char ids[16][16];
  char *id = ids[next_id % 16], body[8192], msg[8400];
  va_list ap;
  snprintf(id, 16, "r%d", ++next_id);
  va_start(ap, fmt);
  vsnprintf(body, sizeof(body), fmt, ap);
  va_end(ap);
  snprintf(msg, sizeof(msg), "{\"id\":\"%s\",%s}", id, body);
  assert_int_equal(wt_ws_send_text(ws, msg, strlen(msg)), 0);
  return id;
}

/* The reply to request id: the first message with that id. */
static json_object *reply(wt_ws *ws, const char *id, int timeout_ms) {
  double deadline = now_s() + timeout_ms / 1000.0;
  while (now_s() < deadline) {
    wt_ws_msg m;
    int r = wt_ws_recv(ws, 200, &m);
    if (r == WT_WS_TEXT) {
      json_object *o = parse(m.data);
      const char *rid = jstr(o, "id");
      wt_ws_msg_free(&m);
      if (rid && strcmp(rid, id) == 0)
        return o;
      json_object_put(o);
    } else if (r == WT_WS_CLOSE || r == WT_WS_ERROR) {
      wt_ws_msg_free(&m);
      break;
    }
  }
  dump_logs();
  fail_msg("no reply to %s (close %d)", id, wt_ws_close_code(ws));
  return NULL;
}

static const char *plain(json_object *o) {
  return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
}

static void expect_reply_type(json_object *o, const char *type) {
  if (strcmp(jstr(o, "type"), type) != 0)
    fail_msg("expected %s, got %s", type, json_object_to_json_string(o));
}

/* --- what the tests need ---------------------------------------------------
 * Each need_*() is idempotent: the first test that calls it starts what it
 * names, later calls return at once. A start that failed fails every test
 * that needs it at once (its cause is shown with the first), rather than
 * waiting T_PROC_S again for each. */

/* The database (migrated), the topics and their ACLs, a producer of
 * commands, wt-worker and the shared users. */
static void need_stack(void) {
  static user *const shared[] = {&E.alice, &E.bob, &E.carol, &E.erin};
  char err[512] = "";
  wt_db *db = NULL;
  if (E.stack_up)
    return;
  if (E.stack_failed)
    fail_msg("the services did not start (see the first test that failed)");
  E.stack_failed = true; /* until it is up */
  wt_test_unique("gw", E.prefix, sizeof(E.prefix));
  wt_kafka_topic_names(E.prefix, &E.topics);
  snprintf(E.url, sizeof(E.url), "%s",
           wt_test_create_database("gw", E.dbname, sizeof(E.dbname)));
  if (wt_db_connect(E.url, "t_gw", false, &db, err, sizeof(err)) != WT_OK ||
      wt_migrate_run(db, WT_MIGRATIONS_DIR, NULL, err, sizeof(err)) != WT_OK) {
    wt_db_destroy(db);
    fail_msg("database: %s", err);
  }
  wt_db_destroy(db);
  wt_test_kafka_setup(E.prefix, 3); /* topics and ACLs */
  /* commands as a trusted producer of them would send them */
  E.producer = wt_kafka_producer_new(wt_test_kafka_conn("wt-ingest"), "t-gw",
                                     NULL, NULL, NULL, err, sizeof(err));
  if (!E.producer)
    fail_msg("producer: %s", err);
  snprintf(E.worker_log, sizeof(E.worker_log), "/tmp/%s-worker.log", E.prefix);
  snprintf(E.gateway_log, sizeof(E.gateway_log), "/tmp/%s-gateway.log",
           E.prefix);
  /* the worker does not listen on its WT_HTTP_PORT */
  E.worker = spawn_ex(WT_WORKER_BIN, E.worker_log, false, E.prefix,
                      wt_test_free_port(), NULL);
  for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++)
    user_create(shared[i]);
  for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++)
    user_wait(shared[i]);
  E.stack_failed = false;
  E.stack_up = true;
}

/* need_stack(), and the main gateway on its topics (again if a test stopped
 * it: test_sigterm). */
static void need_gateway(void) {
  need_stack();
  if (E.gateway > 0)
    return;
  if (E.gateway_failed)
    fail_msg("the gateway did not start (see the first test that failed)");
  if (gateway_start(&E.gateway, &E.port, E.gateway_log, E.prefix, NULL, NULL) !=
      0) {
    E.gateway_failed = true;
    fail_msg("the gateway is not ready");
  }
}

/* A user of the calling test's own (one it changes: its throttle, tokens or
 * state), stored by the worker. u->id is made here. */
static void user_new(user *u) {
  need_stack();
  user_create(u);
  user_wait(u);
}

/* A project of alice's, the calling test's own, named name; each user of
 * members (NULL-terminated, may be NULL) added as a member. Its id into id;
 * its seq is then 1 + the number of members. */
static void project_new(const char *name, const user *const *members,
                        char id[WT_UUID_STR]) {
  wt_ws *a;
  json_object *o, *ev;
  need_gateway();
  a = ws_auth(&E.alice);
  o = reply(a, request(a, "\"type\":\"project.create\",\"name\":\"%s\"", name),
            T_MS);
  expect_reply_type(o, "applied");
  assert_true(json_object_object_get_ex(o, "event", &ev));
  snprintf(id, WT_UUID_STR, "%s", jstr(ev, "project_id"));
  json_object_put(o);
  for (; members && *members; members++) {
    o = reply(a,
              request(a,
                      "\"type\":\"member.add\",\"project_id\":\"%s\","
                      "\"user_id\":\"%s\",\"role\":\"member\"",
                      id, (*members)->id),
              T_MS);
    expect_reply_type(o, "applied");
    json_object_put(o);
  }
  wt_ws_close(a);
}

/* A log of alice's (a is her connection) in project, 2026-11-27 08:00 to
 * 09:30; its id into id when id is not NULL. */
static void log_new(wt_ws *a, const char *project, char id[WT_UUID_STR]) {
  json_object *o, *ev;
  o = reply(a,
            request(a,
                    "\"type\":\"log.create\",\"project_id\":\"%s\",\"log\":{"
                    "\"started_at\":\"2026-11-27T08:00:00Z\",\"ended_at\":"
                    "\"2026-11-27T09:30:00Z\",\"description\":\"design\"}",
                    project),
            T_MS);
  expect_reply_type(o, "applied");
  assert_true(json_object_object_get_ex(o, "event", &ev));
  if (id)
    snprintf(id, WT_UUID_STR, "%s",
             jstr(json_object_object_get(ev, "data"), "id"));
  json_object_put(o);
}

/* A metric of the gateway on port without labels, -1 when missing. */
static long metric_at(int port, const char *name) {
  char *metrics = NULL, *p, line[128];
  int status = 0;
  long v = -1;
  snprintf(line, sizeof(line), "\n%s ", name);
  if (wt_http_request(HOST, port, "GET", "/metrics", NULL, NULL, T_READ,
                      &status, NULL, &metrics) == 0 &&
      status == 200 && metrics && (p = strstr(metrics, line)) != NULL)
    v = atol(p + strlen(line));
  free(metrics);
  return v;
}

/* A metric of the main gateway without labels, -1 when missing. */
static long metric(const char *name) {
  return metric_at(E.port, name);
}

/* need_gateway(), and the second gateway: 2 connections, 2 subscriptions
 * and 2 requests in flight per connection, commands answered unavailable
 * after 1 s; its own topics, which no worker reads, so no command gets an
 * outcome. alice gets three projects first (the gateway loads its
 * membership cache at start, and never sees a later one). Returns with no
 * WebSocket connection open on it: the one a test closed before may still
 * count until the gateway has seen its close, and the caps count it. */
static void need_gateway2(void) {
  static const char *const extra[] = {"WT_MAX_CONNECTIONS",
                                      "2",
                                      "WT_MAX_SUBSCRIPTIONS",
                                      "2",
                                      "WT_MAX_INFLIGHT",
                                      "2",
                                      "WT_COMMAND_TIMEOUT_MS",
                                      "1000",
                                      NULL};
  need_gateway();
  if (!E.projects2_made) {
    for (int i = 0; i < 3; i++) {
      char name[32];
      snprintf(name, sizeof(name), "limits %d", i);
      project_new(name, NULL, E.projects2[i]);
    }
    snprintf(E.prefix2, sizeof(E.prefix2), "%s-b", E.prefix);
    wt_test_kafka_setup(E.prefix2, 1);
    snprintf(E.gateway2_log, sizeof(E.gateway2_log), "/tmp/%s-gateway2.log",
             E.prefix);
    E.projects2_made = true;
  }
  if (E.gateway2 <= 0) {
    if (E.gateway2_failed)
      fail_msg("the second gateway did not start (see the first test that "
               "failed)");
    if (gateway_start(&E.gateway2, &E.port2, E.gateway2_log, E.prefix2, extra,
                      NULL) != 0) {
      E.gateway2_failed = true;
      fail_msg("the second gateway is not ready");
    }
  }
  for (double deadline = now_s() + T_PROC_S;
       metric_at(E.port2, "wt_gateway_connections") != 0;) {
    if (now_s() > deadline)
      fail_msg("the second gateway still has connections open");
    usleep(POLL_US);
  }
}

static int group_teardown(void **state) {
  int rc;
  (void)state;
  if (E.gateway > 0 && (rc = stop(&E.gateway, SIGTERM)) != 0)
    fprintf(stderr, "wt-gateway did not exit 0 on SIGTERM: %d\n", rc);
  if (E.gateway2 > 0 && (rc = stop(&E.gateway2, SIGTERM)) != 0)
    fprintf(stderr, "the second wt-gateway did not exit 0 on SIGTERM: %d\n",
            rc);
  if (E.gateway_tls > 0 && (rc = stop(&E.gateway_tls, SIGTERM)) != 0)
    fprintf(stderr, "the TLS wt-gateway did not exit 0 on SIGTERM: %d\n", rc);
  if (E.worker > 0)
    stop(&E.worker, SIGTERM);
  if (E.producer)
    rd_kafka_destroy(E.producer);
  if (E.dbname[0])
    wt_test_drop_database(E.dbname);
  if (E.tls_dir[0]) {
    char path[128];
    snprintf(path, sizeof(path), "%s/cert.pem", E.tls_dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/key.pem", E.tls_dir);
    unlink(path);
    rmdir(E.tls_dir);
  }
  if (!getenv("WT_TEST_KEEP_LOGS")) {
    if (E.worker_log[0])
      unlink(E.worker_log);
    if (E.gateway_log[0])
      unlink(E.gateway_log);
    if (E.gateway2_log[0])
      unlink(E.gateway2_log);
    if (E.gateway_tls_log[0])
      unlink(E.gateway_tls_log);
  }
  return 0;
}

/* --- tests -----------------------------------------------------------------
 */

static void test_http(void **state) {
  user dave = {"dave", "dave-password-12", ""}; /* throttled here */
  char *body = NULL, *headers = NULL, retry[16];
  char login_body[256];
  (void)state;
  need_gateway();
  user_new(&dave);
  assert_int_equal(http("GET", "/healthz", NULL, NULL, NULL), 200);
  assert_int_equal(http("GET", "/readyz", NULL, NULL, NULL), 200);
  assert_int_equal(http("GET", "/", NULL, &body, NULL), 200);
  assert_non_null(strstr(body, "WebSocket"));
  free(body);
  assert_int_equal(http("GET", "/nope", NULL, NULL, NULL), 404);
  /* the tab icon: an SVG, cached for a day (every other answer: no-store) */
  {
    char v[64];
    assert_int_equal(http("GET", "/favicon.ico", NULL, &body, &headers), 200);
    assert_non_null(strstr(body, "<svg"));
    assert_true(wt_http_header(headers, "Content-Type", v, sizeof(v)));
    assert_string_equal(v, "image/svg+xml");
    assert_true(wt_http_header(headers, "Cache-Control", v, sizeof(v)));
    assert_string_equal(v, "public, max-age=86400");
    assert_true(
        wt_http_header(headers, "X-Content-Type-Options", v, sizeof(v)));
    assert_string_equal(v, "nosniff");
    free(body);
    free(headers);
    assert_int_equal(http("GET", "/healthz", NULL, NULL, &headers), 200);
    assert_true(wt_http_header(headers, "Cache-Control", v, sizeof(v)));
    assert_string_equal(v, "no-store");
    free(headers);
    headers = NULL;
  }
  /* wrong password, unknown user: the same 401 */
  assert_int_equal(http("POST", "/api/login",
                        "{\"username\":\"alice\",\"password\":\"nope\"}", &body,
                        NULL),
                   401);
  assert_string_equal(body, "{\"error\":\"invalid_credentials\"}");
  free(body);
  assert_int_equal(http("POST", "/api/login",
                        "{\"username\":\"nobody\",\"password\":\"nope\"}", NULL,
                        NULL),
                   401);
  /* JSON that is not text (a lone surrogate escape, which json-c would read
   * as U+FFFD, so that two passwords would be one): a bad request */
  wt_http_dump_invalid();
  assert_int_equal(http("POST", "/api/login",
                        "{\"username\":\"alice\",\"password\":\"x\\ud83d\"}",
                        NULL, NULL),
                   400);
  /* a body over 8 KiB */
  {
    char *big = malloc(10000);
    memset(big, 'x', 9999);
    big[9999] = '\0';
    wt_http_dump_invalid();
    assert_int_equal(http("POST", "/api/login", big, NULL, NULL), 413);
    free(big);
  }
  /* throttled: dave fails 5 times, the 6th try (even a right one) is 429 */
  for (int i = 0; i < 5; i++)
    assert_int_equal(http("POST", "/api/login",
                          "{\"username\":\"dave\",\"password\":\"bad\"}", NULL,
                          NULL),
                     401);
  snprintf(login_body, sizeof(login_body),
           "{\"username\":\"dave\",\"password\":\"%s\"}", dave.password);
  assert_int_equal(http("POST", "/api/login", login_body, NULL, &headers), 429);
  assert_true(wt_http_header(headers, "Retry-After", retry, sizeof(retry)));
  assert_true(atoi(retry) > 0);
  free(headers);
  /* refresh: a refresh token gives an access token; an access token not */
  {
    char *rt = login(&E.alice, "refresh_token");
    char *at = login(&E.alice, "access_token");
    char req[9000];
    json_object *o;
    snprintf(req, sizeof(req), "{\"refresh_token\":\"%s\"}", rt);
    assert_int_equal(http("POST", "/api/token/refresh", req, &body, NULL), 200);
    o = parse(body);
    assert_non_null(jstr(o, "access_token"));
    assert_string_equal(jstr(o, "token_type"), "Bearer");
    json_object_put(o);
    free(body);
    snprintf(req, sizeof(req), "{\"refresh_token\":\"%s\"}", at);
    assert_int_equal(http("POST", "/api/token/refresh", req, NULL, NULL), 401);
    free(rt);
    free(at);
  }
  assert_int_equal(http("GET", "/metrics", NULL, &body, NULL), 200);
  assert_non_null(strstr(body, "wt_gateway_connections "));
  assert_non_null(strstr(body, "wt_gateway_auth_failures_total{reason="));
  assert_non_null(
      strstr(body, "wt_db_round_trips_total{component=\"gateway\"}"));
  assert_null(strstr(body, E.alice.password));
  free(body);
}

static void test_auth(void **state) {
  char *tok, *rt;
  char hdr[9000];
  wt_ws *ws;
  json_object *o;
  (void)state;
  need_gateway();
  tok = login(&E.alice, "access_token");
  rt = login(&E.alice, "refresh_token");
  /* by header: auth_ok arrives unasked */
  snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", tok);
  ws = ws_connect(hdr);
  o = expect(ws, "auth_ok", T_READ);
  assert_string_equal(jstr(o, "user_id"), E.alice.id);
  assert_non_null(jstr(o, "expires_at"));
  json_object_put(o);
  wt_ws_close(ws);
  /* a bad token */
  ws = ws_connect(NULL);
  sendf(ws, "{\"type\":\"auth\",\"token\":\"%s\"}", "e30.e30.e30");
  assert_int_equal(expect_close(ws, T_READ), 4001);
  wt_ws_close(ws);
  /* a refresh token is no access token */
  ws = ws_connect(NULL);
  sendf(ws, "{\"type\":\"auth\",\"token\":\"%s\"}", rt);
  assert_int_equal(expect_close(ws, T_READ), 4001);
  wt_ws_close(ws);
  /* no auth in time */
  ws = ws_connect(NULL);
  assert_int_equal(expect_close(ws, T_READ), 4001);
  wt_ws_close(ws);
  free(tok);
  free(rt);
}

static void test_bad_frames(void **state) {
  wt_ws *ws;
  json_object *o;
  const char *id;
  char *big;
  (void)state;
  need_gateway();
  ws = ws_auth(&E.carol);
  wt_ws_dump_invalid(ws);
  sendf(ws, "this is not json");
  o = expect(ws, "error", T_READ);
  assert_string_equal(jstr(o, "code"), "invalid");
  json_object_put(o);
  wt_ws_dump_invalid(ws);
  sendf(ws, "{\"id\":\"x1\",\"type\":\"no.such.thing\"}");
  o = expect(ws, "error", T_READ);
  assert_string_equal(jstr(o, "id"), "x1");
  json_object_put(o);
  wt_ws_dump_invalid(ws);
  sendf(ws, "{\"type\":\"projects\"}"); /* no id */
  o = expect(ws, "error", T_READ);
  json_object_put(o);
  /* the connection stays */
  id = request(ws, "\"type\":\"projects\"");
  o = reply(ws, id, T_READ);
  expect_reply_type(o, "result");
  json_object_put(o);
  /* a message over 64 KiB, in two fragments: 1009 */
  big = malloc(40000);
  memset(big, ' ', 40000);
  wt_ws_dump_invalid(ws);
  assert_int_equal(wt_ws_send_frame(ws, WT_WS_TEXT, false, big, 40000), 0);
  assert_int_equal(wt_ws_send_frame(ws, WT_WS_CONTINUATION, true, big, 40000),
                   0);
  free(big);
  assert_int_equal(expect_close(ws, T_READ), 1009);
  wt_ws_close(ws);
}

static void test_commands_and_push(void **state) {
  wt_ws *a, *b, *c;
  char project[WT_UUID_STR], alice_log[WT_UUID_STR];
  json_object *o, *ev, *data;
  const char *id;
  (void)state;
  need_gateway();
  a = ws_auth(&E.alice);
  id = request(a, "\"type\":\"project.create\",\"name\":\"Gateway test\"");
  o = reply(a, id, T_MS);
  expect_reply_type(o, "applied");
  assert_true(json_object_object_get_ex(o, "event", &ev));
  snprintf(project, sizeof(project), "%s", jstr(ev, "project_id"));
  json_object_put(o);
  id = request(a,
               "\"type\":\"member.add\",\"project_id\":\"%s\",\"username\":"
               "\"bob\",\"role\":\"member\"",
               project);
  o = reply(a, id, T_MS);
  expect_reply_type(o, "applied");
  json_object_put(o);
  id = request(a,
               "\"type\":\"member.add\",\"project_id\":\"%s\",\"user_id\":"
               "\"%s\",\"role\":\"member\"",
               project, E.erin.id);
  o = reply(a, id, T_MS);
  expect_reply_type(o, "applied");
  json_object_put(o);

  /* bob subscribes, alice logs, bob sees it live */
  b = ws_auth(&E.bob);
  id = request(b, "\"type\":\"subscribe\",\"project_id\":\"%s\"", project);
  o = reply(b, id, T_MS);
  expect_reply_type(o, "subscribed");
  assert_int_equal(jint(o, "seq"), 3);
  json_object_put(o);
  id = request(a,
               "\"type\":\"log.create\",\"project_id\":\"%s\",\"log\":{"
               "\"started_at\":\"2026-11-27T08:00:00Z\",\"ended_at\":"
               "\"2026-11-27T09:30:00Z\",\"description\":\"design\"}",
               project);
  o = reply(a, id, T_MS);
  expect_reply_type(o, "applied");
  json_object_put(o);
  o = expect(b, "event", T_MS);
  assert_string_equal(jstr(o, "event_type"), "log.created");
  assert_int_equal(jint(o, "seq"), 4);
  assert_true(json_object_object_get_ex(o, "data", &data));
  assert_string_equal(jstr(data, "user_id"), E.alice.id);
  assert_int_equal(jint(data, "duration_seconds"), 5400);
  snprintf(alice_log, sizeof(alice_log), "%s", jstr(data, "id"));
  json_object_put(o);

  /* reads */
  id = request(b, "\"type\":\"projects\"");
  o = reply(b, id, T_READ);
  assert_non_null(strstr(plain(o), project));
  assert_non_null(strstr(plain(o), "\"role\":\"member\""));
  json_object_put(o);
  id = request(b, "\"type\":\"members\",\"project_id\":\"%s\"", project);
  o = reply(b, id, T_READ);
  expect_reply_type(o, "result");
  assert_int_equal(json_object_array_length(json_object_object_get(o, "items")),
                   3);
  json_object_put(o);
  id = request(b, "\"type\":\"list\",\"project_id\":\"%s\",\"limit\":10",
               project);
  o = reply(b, id, T_READ);
  expect_reply_type(o, "result");
  assert_int_equal(json_object_array_length(json_object_object_get(o, "items")),
                   1);
  assert_null(jstr(o, "next_cursor"));
  json_object_put(o);

  /* bob may not change alice's log: forbidden, from the worker */
  id = request(b,
               "\"type\":\"log.update\",\"project_id\":\"%s\",\"log_id\":"
               "\"%s\",\"changes\":{\"description\":\"mine now\"}",
               project, alice_log);
  o = reply(b, id, T_MS);
  expect_reply_type(o, "rejected");
  assert_string_equal(jstr(o, "code"), "forbidden");
  json_object_put(o);

  /* carol is no member: not_found for everything about the project */
  c = ws_auth(&E.carol);
  id = request(c, "\"type\":\"list\",\"project_id\":\"%s\"", project);
  o = reply(c, id, T_READ);
  expect_reply_type(o, "error");
  assert_string_equal(jstr(o, "code"), "not_found");
  json_object_put(o);
  id = request(c, "\"type\":\"subscribe\",\"project_id\":\"%s\"", project);
  o = reply(c, id, T_READ);
  assert_string_equal(jstr(o, "code"), "not_found");
  json_object_put(o);
  id = request(c,
               "\"type\":\"log.create\",\"project_id\":\"%s\",\"log\":{"
               "\"started_at\":\"2026-11-27T08:00:00Z\",\"description\":\"x\"}",
               project);
  o = reply(c, id, T_READ);
  assert_string_equal(jstr(o, "code"), "not_found");
  json_object_put(o);
  wt_ws_close(c);
  wt_ws_close(b);
  wt_ws_close(a);
}

static void test_list_pages(void **state) {
  wt_ws *a;
  char project[WT_UUID_STR];
  char *ids[5];
  json_object *o;
  char cursor[256];
  int total = 0;
  (void)state;
  project_new("pages", NULL, project);
  a = ws_auth(&E.alice);
  log_new(a, project, NULL);
  for (int i = 0; i < 5; i++)
    ids[i] = strdup(
        request(a,
                "\"type\":\"log.create\",\"project_id\":\"%s\",\"log\":{"
                "\"started_at\":\"2026-11-2%dT08:00:00Z\",\"ended_at\":null,"
                "\"description\":\"page %d\"}",
                project, i, i));
  for (int i = 0; i < 5; i++) {
    o = reply(a, ids[i], T_MS);
    expect_reply_type(o, "applied");
    json_object_put(o);
    free(ids[i]);
  }
  cursor[0] = '\0';
  for (int page = 0; page < 10; page++) {
    const char *id, *next;
    json_object *items;
    if (cursor[0])
      id = request(a,
                   "\"type\":\"list\",\"project_id\":\"%s\",\"limit\":2,"
                   "\"cursor\":\"%s\"",
                   project, cursor);
    else
      id = request(a, "\"type\":\"list\",\"project_id\":\"%s\",\"limit\":2",
                   project);
    o = reply(a, id, T_READ);
    expect_reply_type(o, "result");
    items = json_object_object_get(o, "items");
    total += (int)json_object_array_length(items);
    next = jstr(o, "next_cursor");
    if (!next) {
      json_object_put(o);
      break;
    }
    snprintf(cursor, sizeof(cursor), "%s", next);
    json_object_put(o);
  }
  assert_int_equal(total, 6); /* 5 + the one made first */
  wt_ws_close(a);
}

static void test_resume_since(void **state) {
  static const user *const members[] = {&E.bob, NULL};
  wt_ws *a, *b;
  char project[WT_UUID_STR], sql[128];
  json_object *o;
  const char *id;
  long long since;
  (void)state;
  project_new("resume", members, project);
  a = ws_auth(&E.alice);
  b = ws_auth(&E.bob);
  log_new(a, project, NULL);
  log_new(a, project, NULL);
  /* where bob is: two events before the project's seq now (bob was away
   * for the two logs) */
  snprintf(sql, sizeof(sql), "SELECT seq FROM projects WHERE id = '%s'",
           project);
  since = query_long(sql) - 2;
  for (int i = 0; i < 2; i++) {
    id = request(a,
                 "\"type\":\"log.create\",\"project_id\":\"%s\",\"log\":{"
                 "\"started_at\":\"2026-11-26T0%d:00:00Z\",\"description\":"
                 "\"while bob was away\"}",
                 project, i + 1);
    o = reply(a, id, T_MS);
    expect_reply_type(o, "applied");
    json_object_put(o);
  }
  id = request(b, "\"type\":\"subscribe\",\"project_id\":\"%s\",\"since\":%lld",
               project, since);
  for (long long want = since + 1; want <= since + 4; want++) {
    o = expect(b, "event", T_READ);
    assert_int_equal(jint(o, "seq"), want);
    json_object_put(o);
  }
  o = reply(b, id, T_READ);
  expect_reply_type(o, "subscribed");
  assert_int_equal(jint(o, "seq"), since + 4);
  json_object_put(o);
  wt_ws_close(b);
  wt_ws_close(a);
}

static void test_member_removed(void **state) {
  static const user *const members[] = {&E.erin, NULL};
  wt_ws *a, *e;
  char project[WT_UUID_STR];
  json_object *o;
  const char *id;
  (void)state;
  project_new("removal", members, project);
  a = ws_auth(&E.alice);
  e = ws_auth(&E.erin);
  id = request(e, "\"type\":\"subscribe\",\"project_id\":\"%s\"", project);
  o = reply(e, id, T_MS);
  expect_reply_type(o, "subscribed");
  json_object_put(o);
  id = request(a,
               "\"type\":\"member.remove\",\"project_id\":\"%s\",\"user_id\":"
               "\"%s\"",
               project, E.erin.id);
  o = reply(a, id, T_MS);
  expect_reply_type(o, "applied");
  json_object_put(o);
  o = expect(e, "unsubscribed", T_MS);
  assert_string_equal(jstr(o, "reason"), "removed");
  assert_string_equal(jstr(o, "project_id"), project);
  json_object_put(o);
  id = request(e, "\"type\":\"members\",\"project_id\":\"%s\"", project);
  o = reply(e, id, T_READ);
  assert_string_equal(jstr(o, "code"), "not_found");
  json_object_put(o);
  wt_ws_close(e);
  wt_ws_close(a);
}

/* The gateway's count of connections it closed with 4008. */
static long slow_closes(void) {
  return metric("wt_gateway_slow_closes_total");
}

static void test_slow_reader(void **state) {
  static const user *const members[] = {&E.bob, NULL};
  wt_ws *a, *b;
  char project[WT_UUID_STR];
  char desc[2001];
  char *ids[40];
  int rcv = 4096, code;
  long slow_before;
  json_object *o;
  (void)state;
  project_new("slow reader", members, project);
  a = ws_auth(&E.alice);
  b = ws_auth(&E.bob);
  memset(desc, 'd', 2000);
  desc[2000] = '\0';
  for (int round = 0; round < 5; round++) {
    for (int i = 0; i < 40; i++)
      ids[i] = strdup(request(
          a,
          "\"type\":\"log.create\",\"project_id\":\"%s\",\"log\":{"
          "\"started_at\":\"2026-10-%02dT%02d:00:00Z\",\"description\":\"%s\"}",
          project, round + 1, i % 24, desc));
    for (int i = 0; i < 40; i++) {
      o = reply(a, ids[i], T_MS);
      json_object_put(o);
      free(ids[i]);
    }
  }
  slow_before = slow_closes();
  /* bob asks for ~470 KB pages and does not read them */
  setsockopt(wt_ws_fd(b), SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
  for (int i = 0; i < 60; i++)
    if (request(b, "\"type\":\"list\",\"project_id\":\"%s\",\"limit\":200",
                project) == NULL)
      break;
  /* the server decides while bob reads nothing: wait for its counter to
   * move (reading bob's socket now would drain the queue we want full) */
  {
    double deadline = now_s() + 90;
    while (slow_closes() <= slow_before && now_s() < deadline)
      usleep(50 * 1000);
    if (slow_closes() <= slow_before)
      fail_msg("slow reader: not closed within 90 s");
  }
  /* what the kernel still holds drains through a 4 KiB window at the pace
   * of delayed ACKs, which can outlast the wait: open the window again */
  rcv = 4 << 20;
  setsockopt(wt_ws_fd(b), SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
  code = expect_close(b, 20000);
  fprintf(stderr, "slow reader closed with %d\n", code);
  if (code != 4008 && code != 1006)
    fail_msg("slow reader: close %d", code);
  wt_ws_close(b);
  wt_ws_close(a);
}

/* --- the main gateway: replay limit, revocation, expiry, frames ---------- */

/* A log.update of alice's log log_id in project, produced without waiting. */
static void produce_update(const char *project, const char *log_id, int i) {
  wt_command *c = calloc(1, sizeof(*c));
  char err[256], *json;
  assert_non_null(c);
  c->type = WT_CMD_LOG_UPDATE;
  memcpy(c->actor_id, E.alice.id, WT_UUID_STR);
  memcpy(c->project_id, project, WT_UUID_STR);
  memcpy(c->log_id, log_id, WT_UUID_STR);
  snprintf(c->description, sizeof(c->description), "update %d", i);
  c->fields = WT_F_LOG_ID | WT_F_DESCRIPTION;
  wt_uuid_generate(c->command_id);
  c->issued_at = wt_time_now_us();
  json = wt_command_to_json(c);
  assert_non_null(json);
  if (wt_test_produce_command(E.producer, E.topics.commands, project, json,
                              strlen(json), "wt-ingest", err,
                              sizeof(err)) != WT_OK)
    fail_msg("produce: %s", err);
  free(json);
  free(c);
}

/* subscribe to project with since: the reply is a snapshot with reset at
 * seq; the caller owns it. */
static json_object *subscribe_reset(wt_ws *a, const char *project, long since,
                                    long seq) {
  const char *id =
      request(a, "\"type\":\"subscribe\",\"project_id\":\"%s\",\"since\":%ld",
              project, since);
  json_object *o = reply(a, id, T_MS);
  expect_reply_type(o, "subscribed");
  assert_true(json_object_get_boolean(json_object_object_get(o, "reset")));
  assert_int_equal(jint(o, "seq"), seq);
  return o;
}

static void test_since_too_old_resets(void **state) {
  wt_ws *a;
  char project[WT_UUID_STR], log_id[WT_UUID_STR], sql[256];
  json_object *o, *logs;
  const char *id;
  long start, events = 0, events_in;
  (void)state;
  project_new("since too old", NULL, project);
  a = ws_auth(&E.alice);
  log_new(a, project, log_id);
  events_in = metric("wt_gateway_events_total");
  snprintf(sql, sizeof(sql), "SELECT seq FROM projects WHERE id = '%s'",
           project);
  start = query_long(sql);
  for (int i = 0; i < 1001; i++)
    produce_update(project, log_id, i);
  rd_kafka_flush(E.producer, 30000);
  wait_sql(sql, start + 1001);
  /* and the gateway has them all: a subscription loading meanwhile would
   * hold the burst, and more than its send queue closes it with 4008 */
  for (double deadline = now_s() + T_PROC_S;
       metric("wt_gateway_events_total") < events_in + 1001;) {
    if (now_s() > deadline)
      fail_msg("the gateway did not read the 1001 outcomes");
    usleep(50 * 1000);
  }
  /* 1001 events behind: a snapshot with reset, no events replayed */
  o = subscribe_reset(a, project, start, start + 1001);
  assert_true(json_object_object_get_ex(o, "logs", &logs));
  assert_true(json_object_array_length(logs) > 0);
  assert_true(json_object_object_get_ex(o, "next_cursor", NULL));
  json_object_put(o);
  assert_int_equal(wt_ws_backlog_count(a), 0);
  /* 1000 behind: not too old, but more than half the send queue (256 KiB
   * here) would take at once: a reset too */
  o = subscribe_reset(a, project, start + 1, start + 1001);
  json_object_put(o);
  assert_int_equal(wt_ws_backlog_count(a), 0);
  /* 100 behind: the events in order, then subscribed without a snapshot */
  id = request(a, "\"type\":\"subscribe\",\"project_id\":\"%s\",\"since\":%ld",
               project, start + 901);
  for (;;) {
    wt_ws_msg m;
    int r = wt_ws_recv(a, T_MS, &m);
    if (r != WT_WS_TEXT)
      fail_msg("replay: %d after %ld events", r, events);
    o = parse(m.data);
    wt_ws_msg_free(&m);
    if (strcmp(jstr(o, "type"), "event") == 0) {
      assert_int_equal(jint(o, "seq"), start + 902 + events);
      events++;
      json_object_put(o);
      continue;
    }
    assert_string_equal(jstr(o, "id"), id);
    expect_reply_type(o, "subscribed");
    assert_false(json_object_object_get_ex(o, "reset", NULL));
    assert_false(json_object_object_get_ex(o, "logs", NULL));
    assert_int_equal(jint(o, "seq"), start + 1001);
    json_object_put(o);
    break;
  }
  assert_int_equal(events, 100);
  /* a since the project never reached: a snapshot says where it is, and
   * the next event arrives (nothing up to that since is taken as seen) */
  o = subscribe_reset(a, project, start + 5000, start + 1001);
  json_object_put(o);
  produce_update(project, log_id, 1001);
  rd_kafka_flush(E.producer, 30000);
  o = expect(a, "event", T_READ);
  assert_int_equal(jint(o, "seq"), start + 1002);
  json_object_put(o);
  wt_ws_close(a);
}

static void test_revoked_tokens(void **state) {
  user frank = {"frank", "frank-password-1", ""}; /* revoked here */
  char *tok, hdr[9000];
  wt_ws *b1, *b2, *b3;
  json_object *o;
  (void)state;
  need_gateway();
  user_new(&frank);
  tok = login(&frank, "access_token");
  b1 = ws_connect(NULL);
  sendf(b1, "{\"type\":\"auth\",\"token\":\"%s\"}", tok);
  json_object_put(expect(b1, "auth_ok", T_READ));
  snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", tok);
  b2 = ws_connect(hdr);
  json_object_put(expect(b2, "auth_ok", T_READ));
  system_user_cmd(WT_CMD_USER_REVOKE_TOKENS, &frank);
  /* every connection of frank's closes */
  assert_int_equal(expect_close(b1, T_MS), 4001);
  assert_int_equal(expect_close(b2, T_MS), 4001);
  wt_ws_close(b1);
  wt_ws_close(b2);
  /* the old token no longer authenticates, by frame or by header */
  b3 = ws_connect(NULL);
  sendf(b3, "{\"type\":\"auth\",\"token\":\"%s\"}", tok);
  assert_int_equal(expect_close(b3, T_READ), 4001);
  wt_ws_close(b3);
  b3 = ws_connect(hdr);
  assert_int_equal(expect_close(b3, T_READ), 4001);
  wt_ws_close(b3);
  free(tok);
  /* a new login does */
  b3 = ws_auth(&frank);
  o = reply(b3, request(b3, "\"type\":\"projects\""), T_READ);
  expect_reply_type(o, "result");
  json_object_put(o);
  wt_ws_close(b3);
}

static const char *secret_lookup(void *ctx, const char *name) {
  (void)ctx;
  return strcmp(name, "WT_JWT_SECRET") == 0 ? JWT_SECRET : NULL;
}

/* An access token of u (token_version 0) whose exp is exp. */
static char *token_expiring(const user *u, int64_t exp) {
  wt_config *cfg = calloc(1, sizeof(*cfg));
  wt_jwt *j = NULL;
  char err[256] = "", *tok = NULL;
  int64_t got = 0;
  assert_non_null(cfg);
  if (wt_config_load(cfg, secret_lookup, NULL, err, sizeof(err)) != WT_OK ||
      wt_jwt_new(cfg, &j, err, sizeof(err)) != WT_OK ||
      wt_jwt_issue(j, u->id, 0, WT_JWT_ACCESS, exp - cfg->jwt_ttl_s, &tok, &got,
                   err, sizeof(err)) != WT_OK)
    fail_msg("token: %s", err);
  assert_int_equal(got, exp);
  wt_jwt_destroy(j);
  free(cfg);
  return tok;
}

static void test_session_expiry(void **state) {
  wt_ws *ws;
  json_object *o;
  char *tok, *fresh;
  double t0, waited;
  int64_t now;
  (void)state;
  need_gateway(); /* alice's tokens are never revoked: token_version 0 */
  now = (int64_t)time(NULL);
  /* expired 25 s ago: still inside the 30 s leeway, so accepted, and the
   * session ends when the leeway does, in at most 5 s */
  tok = token_expiring(&E.alice, now - 25);
  ws = ws_connect(NULL);
  sendf(ws, "{\"type\":\"auth\",\"token\":\"%s\"}", tok);
  json_object_put(expect(ws, "auth_ok", T_READ));
  t0 = now_s();
  assert_int_equal(expect_close(ws, T_READ), 4001);
  waited = now_s() - t0;
  fprintf(stderr, "session closed %.2f s after auth_ok\n", waited);
  assert_true(waited > 0.5); /* at its end (in at most 5 s), not at once */
  wt_ws_close(ws);
  free(tok);

  /* the same, extended by a fresh token before its end */
  now = (int64_t)time(NULL);
  tok = token_expiring(&E.alice, now - 25);
  fresh = login(&E.alice, "access_token");
  ws = ws_connect(NULL);
  sendf(ws, "{\"type\":\"auth\",\"token\":\"%s\"}", tok);
  json_object_put(expect(ws, "auth_ok", T_READ));
  sendf(ws, "{\"type\":\"auth\",\"id\":\"again\",\"token\":\"%s\"}", fresh);
  o = expect(ws, "auth_ok", T_READ);
  assert_string_equal(jstr(o, "id"), "again");
  assert_string_equal(jstr(o, "user_id"), E.alice.id);
  json_object_put(o);
  while ((int64_t)time(NULL) < now + 7) /* past the first token's end */
    usleep(100 * 1000);
  o = reply(ws, request(ws, "\"type\":\"projects\""), T_READ);
  expect_reply_type(o, "result");
  json_object_put(o);
  assert_int_equal(wt_ws_close_code(ws), 0);
  wt_ws_close(ws);
  free(tok);
  free(fresh);
}

static void test_binary_and_bad_utf8(void **state) {
  wt_ws *ws;
  static const char bad_utf8[] =
      "{\"id\":\"u1\",\"type\":\"projects\",\"x\":\"\xff\xfe\"}";
  static const char bin[] = "{\"id\":\"b1\",\"type\":\"projects\"}";
  json_object *o;
  (void)state;
  need_gateway();
  ws = ws_auth(&E.carol);
  wt_ws_dump_invalid(ws);
  assert_int_equal(wt_ws_send_frame(ws, WT_WS_BINARY, true, bin, strlen(bin)),
                   0);
  o = expect(ws, "error", T_READ);
  assert_string_equal(jstr(o, "code"), "invalid");
  json_object_put(o);
  wt_ws_dump_invalid(ws);
  assert_int_equal(wt_ws_send_text(ws, bad_utf8, strlen(bad_utf8)), 0);
  o = expect(ws, "error", T_READ);
  assert_string_equal(jstr(o, "code"), "invalid");
  json_object_put(o);
  /* invalid UTF-8 split across two fragments */
  wt_ws_dump_invalid(ws);
  assert_int_equal(wt_ws_send_frame(ws, WT_WS_TEXT, false, "{\"id\":\"\xe2", 8),
                   0);
  assert_int_equal(
      wt_ws_send_frame(ws, WT_WS_CONTINUATION, true, "(\",\"type\":\"x\"}", 14),
      0);
  o = expect(ws, "error", T_READ);
  assert_string_equal(jstr(o, "code"), "invalid");
  json_object_put(o);
  /* the connection stays */
  o = reply(ws, request(ws, "\"type\":\"projects\""), T_READ);
  expect_reply_type(o, "result");
  json_object_put(o);
  assert_int_equal(wt_ws_close_code(ws), 0);
  wt_ws_close(ws);
}

/* --- RFC 6455: what a server must refuse --------------------------------- */

/* wt_ws fails a connection whose server sends a text message or a close
 * reason that is not UTF-8, or a close code not allowed on the wire: every
 * exchange below checks that too. A bystander connection must keep working
 * through all of it. */
static void bystander_works(wt_ws *by) {
  json_object *o = reply(by, request(by, "\"type\":\"projects\""), T_READ);
  expect_reply_type(o, "result");
  json_object_put(o);
  assert_int_equal(wt_ws_close_code(by), 0);
}

/* Reads until the close and returns its code, its reason into reason
 * (may be NULL); no message may come first (nothing of the offending frame
 * is answered). */
static int expect_only_close(wt_ws *ws, char *reason, size_t reason_size) {
  double deadline = now_s() + T_READ / 1000.0;
  while (now_s() < deadline) {
    wt_ws_msg m;
    int r = wt_ws_recv(ws, 200, &m), code = m.close_code;
    if (r == WT_WS_TEXT || r == WT_WS_BINARY)
      fail_msg("a message before the close: %s", m.data);
    if (r == WT_WS_CLOSE && reason)
      snprintf(reason, reason_size, "%s", m.data);
    wt_ws_msg_free(&m);
    if (r == WT_WS_CLOSE)
      return code;
    if (r == WT_WS_ERROR) {
      fprintf(stderr, "no close frame: %s\n", wt_ws_error(ws));
      return wt_ws_close_code(ws);
    }
  }
  return 0;
}

/* Text that json-c 0.16's UTF-8 check lets through (it looks at lead and
 * continuation bits only) but RFC 3629 does not: its id came back in the
 * reply, and the gateway sent invalid UTF-8 itself. Now: an error
 * "invalid" with nothing of the frame, and the connection stays (as for
 * any bad frame, CONTRACT.md). */
static void test_invalid_utf8_not_echoed(void **state) {
  static const char *const ids[] = {
      "\xed\xa0\x80",     /* a surrogate, U+D800 */
      "\xc0\xaf",         /* an overlong '/' */
      "\xe0\x80\xaf",     /* an overlong '/' in three bytes */
      "\xf4\x90\x80\x80", /* U+110000, over the last code point */
      "ok\xf0\x9f\x98",   /* a cut sequence (ends at the quote) */
  };
  wt_ws *ws, *by;
  (void)state;
  need_gateway();
  ws = ws_auth(&E.alice);
  by = ws_auth(&E.bob);
  for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
    char msg[128];
    json_object *o;
    snprintf(msg, sizeof(msg), "{\"id\":\"%s\",\"type\":\"projects\"}", ids[i]);
    wt_ws_dump_invalid(ws);
    assert_int_equal(wt_ws_send_text(ws, msg, strlen(msg)), 0);
    o = expect(ws, "error", T_READ);
    assert_string_equal(jstr(o, "code"), "invalid");
    assert_null(jstr(o, "id"));
    json_object_put(o);
  }
  /* the same split across fragments, the sequence cut between them */
  wt_ws_dump_invalid(ws);
  assert_int_equal(wt_ws_send_frame(ws, WT_WS_TEXT, false, "{\"id\":\"\xed", 8),
                   0);
  assert_int_equal(wt_ws_send_frame(ws, WT_WS_CONTINUATION, true,
                                    "\xa0\x80\",\"type\":\"projects\"}", 22),
                   0);
  {
    json_object *o = expect(ws, "error", T_READ);
    assert_string_equal(jstr(o, "code"), "invalid");
    assert_null(jstr(o, "id"));
    json_object_put(o);
  }
  bystander_works(ws); /* the connection stays */
  bystander_works(by);
  wt_ws_close(ws);
  wt_ws_close(by);
}

/* RFC 6455 section 5.1: a server closes the connection on an unmasked
 * client frame (libwebsockets 4.1.6 took them; ws-gateway/gw_rxguard.h). */
static void test_unmasked_frames_closed(void **state) {
  static const char req[] = "{\"id\":\"m1\",\"type\":\"projects\"}";
  wt_ws *by, *ws;
  char reason[128];
  (void)state;
  need_gateway();
  by = ws_auth(&E.bob);
  for (int i = 0; i < 5; i++) {
    int rc = -1;
    ws = ws_auth(&E.alice);
    switch (i) {
    case 0: /* a request */
      rc = wt_ws_send_frame_unmasked(ws, WT_WS_TEXT, true, req, strlen(req));
      break;
    case 1: /* a ping, which lws would answer itself */
      rc = wt_ws_send_frame_unmasked(ws, WT_WS_PING, true, "p", 1);
      break;
    case 2: /* a close 1000 */
      rc = wt_ws_send_frame_unmasked(ws, WT_WS_CLOSE, true, "\x03\xe8", 2);
      break;
    case 3: /* the second fragment of a masked first one */
      rc = wt_ws_send_frame(ws, WT_WS_TEXT, false, req, 10) ||
           wt_ws_send_frame_unmasked(ws, WT_WS_CONTINUATION, true, req + 10,
                                     strlen(req) - 10);
      break;
    case 4: /* after a good request was answered, with a 16-bit length */
    {
      char big[300];
      json_object *o = reply(ws, request(ws, "\"type\":\"projects\""), T_READ);
      expect_reply_type(o, "result");
      json_object_put(o);
      snprintf(big, sizeof(big),
               "{\"id\":\"m2\",\"type\":\"projects\",\"x\":\"%0250d\"}", 0);
      rc = wt_ws_send_frame_unmasked(ws, WT_WS_TEXT, true, big, strlen(big));
      break;
    }
    default: break;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(expect_only_close(ws, reason, sizeof(reason)), 1002);
    assert_string_equal(reason, "unmasked frame");
    wt_ws_close(ws);
    bystander_works(by);
  }
  /* sent with the upgrade request, before the 101: the header's "\r\n\r\n"
   * ends the head, then an unmasked text frame whose 2-byte payload is the
   * "\r\n" wt_ws_connect puts after the headers */
  ws = ws_connect("X-Early: 1\r\n\r\n\x81\x02");
  assert_int_equal(expect_only_close(ws, reason, sizeof(reason)), 1002);
  assert_string_equal(reason, "unmasked frame");
  wt_ws_close(ws);
  bystander_works(by);
  wt_ws_close(by);
}

/* RFC 6455 sections 5.5.1 and 7.4: a close code not allowed on the wire, a
 * 1-byte close payload or a reason that is not UTF-8 is answered with 1002
 * and nothing of it (libwebsockets echoed 5000, 1015, the byte and the
 * reason); a good close is echoed. */
static void test_bad_close_frames(void **state) {
  static const struct {
    const char *payload;
    size_t len;
    int want;
  } cases[] = {
      {"\x13\x88", 2, 1002},             /* 5000 */
      {"\xff\xff", 2, 1002},             /* 65535 */
      {"\x03\xe7", 2, 1002},             /* 999 */
      {"\x03\xec", 2, 1002},             /* 1004, reserved */
      {"\x03\xed", 2, 1002},             /* 1005, never on the wire */
      {"\x03\xee", 2, 1002},             /* 1006, never on the wire */
      {"\x03\xf7", 2, 1002},             /* 1015, never on the wire */
      {"\x03\xf8", 2, 1002},             /* 1016, unassigned */
      {"\x0b\xb7", 2, 1002},             /* 2999, unassigned */
      {"\x03\xe8\xff\xfe", 4, 1002},     /* 1000, reason not UTF-8 */
      {"\x03\xe8\xed\xa0\x80", 5, 1002}, /* 1000, a surrogate */
      {"\x03\xe8ok\xc0\xaf", 6, 1002},   /* 1000, an overlong form */
      {"\x03", 1, 1002},                 /* a 1-byte payload */
      {"\x03\xe7hello", 7, 1002},        /* 999, a reason */
      {"\x03\xfchello", 7, 1002},        /* 1020, a reason */
      {"\x03\xe8"
       "bye \xc3\xa9",
       8, 1000},             /* good, echoed */
      {"\x03\xe9", 2, 1001}, /* good, echoed */
  };
  wt_ws *by;
  (void)state;
  need_gateway();
  by = ws_auth(&E.bob);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    wt_ws *ws = ws_auth(&E.alice);
    char reason[128] = "", sent[128] = "";
    int code;
    assert_int_equal(
        wt_ws_send_frame(ws, WT_WS_CLOSE, true, cases[i].payload, cases[i].len),
        0);
    code = expect_only_close(ws, reason, sizeof(reason));
    if (code != cases[i].want)
      fail_msg("case %zu: close %d, not %d", i, code, cases[i].want);
    if (cases[i].len > 2)
      snprintf(sent, sizeof(sent), "%.*s", (int)cases[i].len - 2,
               cases[i].payload + 2);
    /* a good close is echoed; of a bad one, nothing comes back */
    if (code == 1002 ? sent[0] && strstr(reason, sent)
                     : strcmp(reason, sent) != 0)
      fail_msg("case %zu: reason \"%s\" for \"%s\"", i, reason, sent);
    wt_ws_close(ws);
  }
  bystander_works(by);
  wt_ws_close(by);
}

/* --- the second gateway: limits ------------------------------------------ */

static void test_connection_cap(void **state) {
  wt_ws *w[2], *third = NULL;
  char err[256];
  int status = 0;
  (void)state;
  need_gateway2();
  w[0] = ws_auth_at(E.port2, &E.alice);
  w[1] = ws_auth_at(E.port2, &E.bob);
  third = wt_ws_connect(HOST, E.port2, "/ws", "worktracker.v1", NULL, T_READ,
                        &status, err, sizeof(err));
  assert_null(third);
  assert_int_equal(status, 503);
  /* plain HTTP is no WebSocket connection: still served */
  assert_int_equal(wt_http_request(HOST, E.port2, "GET", "/healthz", NULL, NULL,
                                   T_READ, &status, NULL, NULL),
                   0);
  assert_int_equal(status, 200);
  /* one leaves: a place is free again (once the gateway saw the close) */
  wt_ws_close(w[1]);
  for (double deadline = now_s() + T_PROC_S; !third && now_s() < deadline;) {
    third = wt_ws_connect(HOST, E.port2, "/ws", "worktracker.v1", NULL, T_READ,
                          &status, err, sizeof(err));
    if (!third) {
      assert_int_equal(status, 503);
      usleep(POLL_US);
    }
  }
  assert_non_null(third);
  wt_ws_close(third);
  wt_ws_close(w[0]);
}

static void test_inflight_cap_and_timeout(void **state) {
  wt_ws *a;
  char ids[3][16];
  json_object *o;
  double t0;
  (void)state;
  need_gateway2();
  a = ws_auth_at(E.port2, &E.alice);
  t0 = now_s();
  for (int i = 0; i < 3; i++)
    snprintf(
        ids[i], sizeof(ids[i]), "%s",
        request(a, "\"type\":\"project.create\",\"name\":\"never %d\"", i));
  /* the third is over WT_MAX_INFLIGHT = 2 */
  o = reply(a, ids[2], T_READ);
  expect_reply_type(o, "error");
  assert_string_equal(jstr(o, "code"), "rate_limited");
  json_object_put(o);
  /* the two get no outcome: unavailable after WT_COMMAND_TIMEOUT_MS */
  for (int i = 0; i < 2; i++) {
    o = reply(a, ids[i], T_READ);
    expect_reply_type(o, "error");
    assert_string_equal(jstr(o, "code"), "unavailable");
    json_object_put(o);
  }
  assert_true(now_s() - t0 >= 0.9);
  /* nothing in flight any more: requests are taken again */
  o = reply(a, request(a, "\"type\":\"projects\""), T_READ);
  expect_reply_type(o, "result");
  json_object_put(o);
  wt_ws_close(a);
}

static void test_subscription_cap(void **state) {
  wt_ws *a;
  json_object *o;
  const char *p0, *p1, *p2;
  (void)state;
  need_gateway2();
  p0 = E.projects2[0];
  p1 = E.projects2[1];
  p2 = E.projects2[2];
  a = ws_auth_at(E.port2, &E.alice);
#define SUB(p)                                                                 \
  reply(a, request(a, "\"type\":\"subscribe\",\"project_id\":\"%s\"", (p)),    \
        T_MS)
  o = SUB(p0);
  expect_reply_type(o, "subscribed");
  json_object_put(o);
  o = SUB(p1);
  expect_reply_type(o, "subscribed");
  json_object_put(o);
  /* a third is over WT_MAX_SUBSCRIPTIONS = 2 */
  o = SUB(p2);
  expect_reply_type(o, "error");
  assert_string_equal(jstr(o, "code"), "rate_limited");
  json_object_put(o);
  /* subscribing again to one it has is no new subscription */
  o = SUB(p0);
  expect_reply_type(o, "subscribed");
  json_object_put(o);
  /* an unsubscribe frees a place */
  o = reply(a, request(a, "\"type\":\"unsubscribe\",\"project_id\":\"%s\"", p1),
            T_READ);
  expect_reply_type(o, "unsubscribed");
  json_object_put(o);
  o = SUB(p2);
  expect_reply_type(o, "subscribed");
  assert_string_equal(jstr(o, "project_id"), p2);
  json_object_put(o);
#undef SUB
  wt_ws_close(a);
}

static void test_deactivated_user_disconnected(void **state) {
  user gina = {"gina", "gina-password-12", ""}; /* deactivated here */
  wt_ws *c;
  (void)state;
  need_gateway();
  user_new(&gina);
  c = ws_auth(&gina);
  system_user_cmd(WT_CMD_USER_DEACTIVATE, &gina);
  assert_int_equal(expect_close(c, T_MS), 4001);
  wt_ws_close(c);
  /* and cannot log in again */
  {
    char body[256];
    snprintf(body, sizeof(body), "{\"username\":\"gina\",\"password\":\"%s\"}",
             gina.password);
    assert_int_equal(http("POST", "/api/login", body, NULL, NULL), 401);
  }
}

/* What the other tests do not send: project.rename, a log with its own id
 * and a fraction of a second, log.update with expected_version, list with
 * every filter, log.delete. */
static void test_rename_update_delete(void **state) {
  wt_ws *a;
  char project[WT_UUID_STR], log_id[WT_UUID_STR];
  json_object *o, *ev, *items;
  (void)state;
  project_new("Gateway test", NULL, project);
  a = ws_auth(&E.alice);
  o = reply(a,
            request(a,
                    "\"type\":\"project.rename\",\"project_id\":\"%s\","
                    "\"name\":\"Gateway test, renamed\"",
                    project),
            T_MS);
  expect_reply_type(o, "applied");
  assert_true(json_object_object_get_ex(o, "event", &ev));
  assert_string_equal(jstr(ev, "type"), "project.renamed");
  json_object_put(o);
  wt_uuid_generate(log_id);
  o = reply(a,
            request(a,
                    "\"type\":\"log.create\",\"project_id\":\"%s\",\"log\":{"
                    "\"id\":\"%s\",\"user_id\":\"%s\",\"started_at\":"
                    "\"2026-11-25T10:00:00.5Z\",\"description\":\"short\"}",
                    project, log_id, E.alice.id),
            T_MS);
  expect_reply_type(o, "applied");
  json_object_put(o);
  o = reply(
      a,
      request(a,
              "\"type\":\"log.update\",\"project_id\":\"%s\",\"log_id\":"
              "\"%s\",\"changes\":{\"ended_at\":\"2026-11-25T10:30:00Z\"},"
              "\"expected_version\":1",
              project, log_id),
      T_MS);
  expect_reply_type(o, "applied");
  assert_true(json_object_object_get_ex(o, "event", &ev));
  assert_int_equal(jint(json_object_object_get(ev, "data"), "version"), 2);
  json_object_put(o);
  o = reply(a,
            request(a,
                    "\"type\":\"list\",\"project_id\":\"%s\",\"user_id\":"
                    "\"%s\",\"from\":\"2026-11-25T00:00:00Z\",\"to\":"
                    "\"2026-11-26T00:00:00Z\",\"cursor\":null,\"limit\":5",
                    project, E.alice.id),
            T_READ);
  expect_reply_type(o, "result");
  items = json_object_object_get(o, "items");
  assert_int_equal(json_object_array_length(items), 1);
  assert_string_equal(jstr(json_object_array_get_idx(items, 0), "id"), log_id);
  assert_int_equal(
      jint(json_object_array_get_idx(items, 0), "duration_seconds"), 1799);
  json_object_put(o);
  /* a delete conditional on a version the log has left: conflict */
  o = reply(a,
            request(a,
                    "\"type\":\"log.delete\",\"project_id\":\"%s\",\"log_id\":"
                    "\"%s\",\"expected_version\":1",
                    project, log_id),
            T_MS);
  expect_reply_type(o, "rejected");
  assert_string_equal(jstr(o, "code"), "conflict");
  json_object_put(o);
  o = reply(a,
            request(a,
                    "\"type\":\"log.delete\",\"project_id\":\"%s\",\"log_id\":"
                    "\"%s\",\"expected_version\":2",
                    project, log_id),
            T_MS);
  expect_reply_type(o, "applied");
  assert_true(json_object_object_get_ex(o, "event", &ev));
  assert_string_equal(jstr(ev, "type"), "log.deleted");
  json_object_put(o);
  wt_ws_close(a);
}

/* Contract v1.1: a string holding a lone surrogate escape or a NUL is
 * refused "invalid", never stored altered (json-c decodes a lone surrogate
 * as U+FFFD, which was stored), and an integer past int64 is refused, not
 * clamped (json-c's get_int64 clamps). Every string of a frame counts, the
 * id too (then not echoed). */
static void test_not_text_refused(void **state) {
  static const struct {
    const char *type, *rest; /* rest: the members after project_id */
    const char *message;
  } cases[] = {
      {"log.create",
       "\"log\":{\"started_at\":"
       "\"2026-11-25T10:00:00Z\",\"description\":\"\\ud83d\"}",
       "log.description: a lone surrogate escape (\\ud83d) is not text"},
      {"log.create",
       "\"log\":{\"started_at\":"
       "\"2026-11-25T10:00:00Z\",\"description\":\"a\\ude00b\"}",
       "log.description: a lone surrogate escape (\\ude00) is not text"},
      {"log.create",
       "\"log\":{\"started_at\":"
       "\"2026-11-25T10:00:00Z\",\"description\":\"\\ud83d\\u0041\"}",
       "log.description: a lone surrogate escape (\\ud83d) is not text"},
      {"log.create",
       "\"log\":{\"started_at\":"
       "\"2026-11-25T10:00:00Z\",\"description\":\"a\\u0000b\"}",
       "log.description: NUL is not allowed"},
      {"log.update",
       "\"log_id\":"
       "\"00000000-0000-4000-8000-000000000000\",\"changes\":{"
       "\"description\":\"\\udbff\"}",
       "changes.description: a lone surrogate escape (\\udbff) is not text"},
      {"project.rename",
       "\"name\":"
       "\"x\\ud800\"",
       "name: a lone surrogate escape (\\ud800) is not text"},
      {"log.delete",
       "\"log_id\":"
       "\"00000000-0000-4000-8000-000000000000\",\"expected_version\":"
       "9223372036854775808",
       "expected_version: 9223372036854775808 is out of range"},
      {"log.delete",
       "\"log_id\":"
       "\"00000000-0000-4000-8000-000000000000\",\"expected_version\":0",
       "expected_version: expected an integer >= 1"},
      {"subscribe",
       "\"since\":"
       "18446744073709551615",
       "since: 18446744073709551615 is out of range"},
      {"subscribe", "\"since\":-1", "since: expected a seq >= 0"},
  };
  wt_ws *a;
  char project[WT_UUID_STR];
  json_object *o, *ev;
  (void)state;
  project_new("not text", NULL, project);
  a = ws_auth(&E.alice);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char body[1024];
    const char *id;
    snprintf(body, sizeof(body), "\"type\":\"%s\",\"project_id\":\"%s\",%s",
             cases[i].type, project, cases[i].rest);
    wt_ws_dump_invalid(a);
    id = request(a, "%s", body);
    o = reply(a, id, T_READ);
    expect_reply_type(o, "error");
    assert_string_equal(jstr(o, "code"), "invalid");
    if (!strstr(jstr(o, "message"), cases[i].message))
      fail_msg("case %zu: \"%s\", wanted \"%s\"", i, jstr(o, "message"),
               cases[i].message);
    json_object_put(o);
  }
  /* the id itself: refused, and not echoed */
  wt_ws_dump_invalid(a);
  sendf(a, "{\"id\":\"r\\ud83d\",\"type\":\"projects\"}");
  o = expect(a, "error", T_READ);
  assert_string_equal(jstr(o, "code"), "invalid");
  assert_null(jstr(o, "id"));
  assert_string_equal(jstr(o, "message"),
                      "id: a lone surrogate escape (\\ud83d) is not text");
  json_object_put(o);
  /* a pair is one character: applied, stored as sent */
  o = reply(a,
            request(a,
                    "\"type\":\"log.create\",\"project_id\":\"%s\",\"log\":{"
                    "\"started_at\":\"2026-11-24T10:00:00Z\",\"ended_at\":"
                    "\"2026-11-24T10:01:00Z\",\"description\":"
                    "\"\\ud83d\\ude00 ok\"}",
                    project),
            T_MS);
  expect_reply_type(o, "applied");
  assert_true(json_object_object_get_ex(o, "event", &ev));
  assert_string_equal(jstr(json_object_object_get(ev, "data"), "description"),
                      "\xf0\x9f\x98\x80 ok");
  json_object_put(o);
  assert_int_equal(
      query_long("SELECT count(*) FROM work_logs WHERE strpos(description, "
                 "chr(65533)) > 0"),
      0);
  assert_int_equal(wt_ws_close_code(a), 0); /* the connection stays */
  wt_ws_close(a);
}

/* A token that verifies but is past exp + leeway closes with "token
 * expired"; any other bad token with "invalid token" (4001 both). */
static void test_token_close_reasons(void **state) {
  char reason[128] = "";
  char *tok;
  char hdr[9000];
  wt_ws *ws;
  (void)state;
  need_gateway();
  tok = token_expiring(&E.alice, (int64_t)time(NULL) - 120);
  ws = ws_connect(NULL);
  sendf(ws, "{\"type\":\"auth\",\"token\":\"%s\"}", tok);
  assert_int_equal(expect_only_close(ws, reason, sizeof(reason)), 4001);
  assert_string_equal(reason, "token expired");
  wt_ws_close(ws);
  /* the same on the upgrade's Authorization header */
  snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", tok);
  ws = ws_connect(hdr);
  assert_int_equal(expect_only_close(ws, reason, sizeof(reason)), 4001);
  assert_string_equal(reason, "token expired");
  wt_ws_close(ws);
  free(tok);
  ws = ws_connect(NULL);
  sendf(ws, "{\"type\":\"auth\",\"token\":\"%s\"}", "e30.e30.e30");
  assert_int_equal(expect_only_close(ws, reason, sizeof(reason)), 4001);
  assert_string_equal(reason, "invalid token");
  wt_ws_close(ws);
}

/* Issue 12, item 2: wss:// and https:// with libwebsockets' own TLS. A
 * self-signed certificate for 127.0.0.1, made here with the openssl
 * command; a gateway on the main topics with WT_TLS_CERT_FILE and
 * WT_TLS_KEY_FILE (readiness is polled over https://). The test client
 * trusts only that certificate and checks that it names 127.0.0.1. */
static void test_tls(void **state) {
  static const char req[] = "{\"id\":\"u1\",\"type\":\"projects\"}";
  char cert[128], key[128], cmd[1024], err[256], body[256], reason[128];
  char project[WT_UUID_STR];
  char *out = NULL, *headers = NULL, *tok;
  const char *extra[] = {"WT_TLS_CERT_FILE", cert, "WT_TLS_KEY_FILE", key,
                         NULL};
  int status = 0;
  wt_ws *ws;
  json_object *o, *items;
  (void)state;
  /* the main gateway, and a project of alice's for her read over wss:// */
  project_new("tls", NULL, project);
  snprintf(E.tls_dir, sizeof(E.tls_dir), "/tmp/wt-test-gwtls-XXXXXX");
  assert_non_null(mkdtemp(E.tls_dir));
  snprintf(cert, sizeof(cert), "%s/cert.pem", E.tls_dir);
  snprintf(key, sizeof(key), "%s/key.pem", E.tls_dir);
  snprintf(cmd, sizeof(cmd),
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
           "-nodes -keyout %s -out %s -days 2 -subj /CN=localhost "
           "-addext subjectAltName=IP:127.0.0.1,DNS:localhost 2>&1",
           key, cert);
  if (system(cmd) != 0)
    fail_msg("openssl could not make the certificate");
  snprintf(E.gateway_tls_log, sizeof(E.gateway_tls_log),
           "/tmp/%s-gateway-tls.log", E.prefix);
  if (gateway_start(&E.gateway_tls, &E.port_tls, E.gateway_tls_log, E.prefix,
                    extra, cert) != 0)
    fail_msg("the TLS gateway is not ready");
  assert_true(log_has(E.gateway_tls_log, "tls=on"));

  /* https:// */
  assert_int_equal(wt_https_request(HOST, E.port_tls, cert, "GET", "/healthz",
                                    NULL, NULL, T_READ, &status, &headers,
                                    &out),
                   0);
  assert_int_equal(status, 200);
  free(headers);
  free(out);
  out = NULL;
  snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}",
           E.alice.name, E.alice.password);
  assert_int_equal(wt_https_request(HOST, E.port_tls, cert, "POST",
                                    "/api/login", "application/json", body,
                                    T_READ, &status, NULL, &out),
                   0);
  if (status != 200)
    fail_msg("login over https: %d %s", status, out ? out : "");
  o = parse(out);
  free(out);
  tok = strdup(jstr(o, "access_token"));
  json_object_put(o);

  /* wss://: authenticates, and a read is answered */
  ws = wt_wss_connect(HOST, E.port_tls, cert, "/ws", "worktracker.v1", NULL,
                      T_READ, &status, err, sizeof(err));
  if (!ws)
    fail_msg("wss connect: %s (status %d)", err, status);
  sendf(ws, "{\"type\":\"auth\",\"token\":\"%s\"}", tok);
  free(tok);
  o = expect(ws, "auth_ok", T_READ);
  assert_string_equal(jstr(o, "user_id"), E.alice.id);
  json_object_put(o);
  o = reply(ws, request(ws, "\"type\":\"projects\""), T_READ);
  expect_reply_type(o, "result");
  assert_true(json_object_object_get_ex(o, "items", &items));
  assert_true(json_object_array_length(items) >= 1);
  json_object_put(o);
  /* RFC 6455 section 5.1 inside TLS too (gw_rxguard's SSL_read): an
   * unmasked frame closes with 1002 */
  assert_int_equal(
      wt_ws_send_frame_unmasked(ws, WT_WS_TEXT, true, req, strlen(req)), 0);
  assert_int_equal(expect_only_close(ws, reason, sizeof(reason)), 1002);
  assert_string_equal(reason, "unmasked frame");
  wt_ws_close(ws);

  /* TLS 1.2 and 1.3 only: openssl s_client, willing to speak TLS 1.1 (its
   * security level 0), is refused it */
  snprintf(cmd, sizeof(cmd),
           "openssl s_client -connect %s:%d -CAfile %s -verify_return_error "
           "%s </dev/null >/dev/null 2>&1",
           HOST, E.port_tls, cert, "-tls1_2");
  assert_int_equal(system(cmd), 0);
  snprintf(cmd, sizeof(cmd),
           "openssl s_client -connect %s:%d -CAfile %s -verify_return_error "
           "%s </dev/null >/dev/null 2>&1",
           HOST, E.port_tls, cert, "-tls1_1 -cipher DEFAULT@SECLEVEL=0");
  assert_int_not_equal(system(cmd), 0);

  /* plaintext on the TLS port: no HTTP answer, no upgrade */
  out = NULL;
  status = 0;
  assert_int_not_equal(wt_http_request(HOST, E.port_tls, "GET", "/healthz",
                                       NULL, NULL, T_READ, &status, NULL, &out),
                       0);
  assert_int_equal(status, 0);
  free(out);
  ws = wt_ws_connect(HOST, E.port_tls, "/ws", "worktracker.v1", NULL, T_READ,
                     &status, err, sizeof(err));
  assert_null(ws);
  assert_int_equal(status, 0);
  /* and the plain gateway speaks no TLS */
  assert_int_not_equal(wt_https_request(HOST, E.port, cert, "GET", "/healthz",
                                        NULL, NULL, T_READ, &status, NULL,
                                        NULL),
                       0);
  assert_int_equal(stop(&E.gateway_tls, SIGTERM), 0);
}

/* Both gateways exit 0 on SIGTERM, within T_PROC_S (stop() says how long
 * they took); after test_inflight_cap_and_timeout, the second one has had
 * commands time out in flight. A test that needs them later starts them
 * again. */
static void test_sigterm(void **state) {
  (void)state;
  need_gateway2(); /* and the main one */
  assert_int_equal(stop(&E.gateway, SIGTERM), 0);
  assert_int_equal(stop(&E.gateway2, SIGTERM), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_http),
      cmocka_unit_test(test_auth),
      cmocka_unit_test(test_bad_frames),
      cmocka_unit_test(test_commands_and_push),
      cmocka_unit_test(test_list_pages),
      cmocka_unit_test(test_resume_since),
      cmocka_unit_test(test_member_removed),
      cmocka_unit_test(test_slow_reader),
      cmocka_unit_test(test_since_too_old_resets),
      cmocka_unit_test(test_revoked_tokens),
      cmocka_unit_test(test_session_expiry),
      cmocka_unit_test(test_binary_and_bad_utf8),
      cmocka_unit_test(test_invalid_utf8_not_echoed),
      cmocka_unit_test(test_unmasked_frames_closed),
      cmocka_unit_test(test_bad_close_frames),
      cmocka_unit_test(test_connection_cap),
      cmocka_unit_test(test_inflight_cap_and_timeout),
      cmocka_unit_test(test_subscription_cap),
      cmocka_unit_test(test_deactivated_user_disconnected),
      cmocka_unit_test(test_rename_update_delete),
      cmocka_unit_test(test_not_text_refused),
      cmocka_unit_test(test_token_close_reasons),
      cmocka_unit_test(test_tls),
      cmocka_unit_test(test_sigterm),
  };
  const char *filter = getenv("WT_TEST_FILTER");
  signal(SIGPIPE, SIG_IGN);
  if (filter && filter[0]) {
    /* a filter that matches nothing is a mistake, not a pass */
    size_t n = 0;
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
      n += fnmatch(filter, tests[i].name, 0) == 0;
    if (n == 0) {
      fprintf(stderr, "WT_TEST_FILTER=%s names no test\n", filter);
      return 1;
    }
    cmocka_set_test_filter(filter);
  }
  return cmocka_run_group_tests_name("gateway_e2e", tests, NULL,
                                     group_teardown);
}
