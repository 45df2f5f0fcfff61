/* wt-gateway: HTTP + WebSocket on WT_HTTP_PORT. Verifies JWTs, answers
 * reads from PostgreSQL through a small pool, publishes commands to
 * <prefix>.commands and pushes their outcomes from <prefix>.events.
 *
 * Threads: the libwebsockets service thread (all connections, caches and
 * streams), GW_POOL_THREADS pool threads (DB reads, password hashes), the
 * events consumer, and librdkafka's own. */
#include <ev.h>
#include <openssl/ssl.h> /* SSL_OP_* for lws's TLS options */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gw.h"
#include "gw_events.h"
#include "gw_http.h"
#include "gw_members.h"
#include "gw_pool.h"
#include "gw_rxguard.h"
#include "gw_sql.h"
#include "gw_subs.h"
#include "gw_throttle.h"
#include "gw_users.h"
#include "gw_ws.h"
#include "wt_db.h"
#include "wt_log.h"

#define TICK_US 100000 /* command timeouts, producer upkeep */
#define RETRY_MS 1000
#define THROTTLE_KEYS 100000
#define HTTP_SLOTS 4096 /* HTTP requests waiting for a job, beyond WS */

static volatile sig_atomic_t stop_requested;

/* Only the flag: the signal interrupts the lws thread's poll (every other
 * thread blocks signals) and the 100 ms tick bounds the wait anyway. */
static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static long mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* When setup began waiting for PostgreSQL and Kafka: a service still
 * coming up is expected at start (INFO), one that stays away is not. */
static long setup_start_ms;
#define STARTUP_LEVEL() wt_log_startup_level(mono_ms() - setup_start_ms)

/* --- the lws thread ------------------------------------------------------- */

/* Outcomes taken per turn of the loop: a backlog is delivered in slices,
 * with every connection's I/O served in between. */
#define EVENTS_PER_TURN 256

static void take_events(gw *g) {
  bool more;
  gw_event *list = gw_events_take(g->events, EVENTS_PER_TURN, &more);
  if (more)
    lws_cancel_service(g->ctx); /* another turn for the rest */
  while (list) {
    gw_event *e = list;
    list = e->next;
    e->next = NULL;
    g->metrics.events_in++;
    gw_ws_on_outcome(g, e);
    if (e->applied && strncmp(e->type, "user.", 5) == 0) {
      gw_ws_on_user_event(g, e);
    } else if (e->applied && e->project_id[0]) {
      gw_subs_on_event(g, e); /* takes e */
      continue;
    }
    gw_event_free(e);
  }
}

static void on_tick(lws_sorted_usec_list_t *sul) {
  gw *g = lws_container_of(sul, gw, tick);
  static int n;
  if (*g->stop) {
    ev_break(g->loop, EVBREAK_ALL); /* main() takes it from there */
    return;
  }
  gw_ws_tick(g);
  if (++n % 10 == 0) { /* serve the producer's delivery reports */
    char err[256];
    if (ing_producer_flush(g->producer, 0, err, sizeof(err)) == WT_ERR_KAFKA)
      WT_WARN("a command was not delivered error=\"%s\"", err);
  }
  lws_sul_schedule(g->ctx, 0, &g->tick, on_tick, TICK_US);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason,
                    void *user, void *in, size_t len) {
  gw *g;
  switch (reason) {
  case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
    g = gw_from_wsi(wsi);
    if (g && g->pool)
      gw_pool_drain(g->pool, g);
    if (g && g->events)
      take_events(g);
    return 0;
  case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
    gw_rxguard_accept((int)(intptr_t)in);
    return 0;
  case LWS_CALLBACK_HTTP:
    gw_rxguard_forget(lws_get_socket_fd(wsi)); /* plain HTTP, no frames */
    return gw_http_callback(wsi, reason, user, in, len);
  case LWS_CALLBACK_HTTP_BODY:
  case LWS_CALLBACK_HTTP_BODY_COMPLETION:
  case LWS_CALLBACK_HTTP_WRITEABLE:
  case LWS_CALLBACK_CLOSED_HTTP:
  case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    return gw_http_callback(wsi, reason, user, in, len);
  case LWS_CALLBACK_ESTABLISHED:
    if (gw_ws_callback(wsi, reason, user, in, len) != 0)
      return -1;
    gw_rxguard_established(lws_get_socket_fd(wsi), user);
    return 0;
  case LWS_CALLBACK_CLOSED:
    gw_rxguard_forget(lws_get_socket_fd(wsi));
    return gw_ws_callback(wsi, reason, user, in, len);
  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
  case LWS_CALLBACK_RECEIVE:
  case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
  case LWS_CALLBACK_SERVER_WRITEABLE:
  case LWS_CALLBACK_TIMER: return gw_ws_callback(wsi, reason, user, in, len);
  default: return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
}

/* The WebSocket protocol is the default one too: an upgrade without
 * Sec-WebSocket-Protocol lands on it. */
static const struct lws_protocol_vhost_options pvo_default = {NULL, NULL,
                                                              "default", "1"};
static const struct lws_protocol_vhost_options pvo = {NULL, &pvo_default,
                                                      "worktracker.v1", ""};

static const struct lws_protocols protocols[] = {
    {"http", callback, sizeof(gw_pss), 0, 0, NULL, 0},
    {"worktracker.v1", callback, sizeof(gw_pss), 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

/* --- start ---------------------------------------------------------------- */

/* Users, memberships and the projects' seqs: one consistent snapshot in one
 * round trip. */
static int load_caches(gw *g, char *err, size_t errsize) {
  char users_cap[16], projects_cap[16];
  const char *up[1] = {users_cap}, *pp[1] = {projects_cap};
  wt_db_stmt st[5] = {
      {.name = "gw_begin_snapshot", .sql = GW_SQL_BEGIN_SNAPSHOT},
      {.name = "gw_load_users",
       .sql = GW_SQL_LOAD_USERS,
       .params = up,
       .nparams = 1},
      {.name = "gw_load_members", .sql = GW_SQL_LOAD_MEMBERS},
      {.name = "gw_load_projects",
       .sql = GW_SQL_LOAD_PROJECTS,
       .params = pp,
       .nparams = 1},
      {.name = "gw_commit", .sql = GW_SQL_COMMIT}};
  wt_db *db = NULL;
  int rc = -1;
  snprintf(users_cap, sizeof(users_cap), "%d", g->cfg.cache_users);
  snprintf(projects_cap, sizeof(projects_cap), "%d", g->cfg.cache_projects);
  while (!stop_requested) {
    if (wt_db_connect(g->cfg.database_url, "gateway", g->cfg.log_sql, &db, err,
                      errsize) == WT_OK &&
        wt_db_run(db, st, 5, err, errsize) == WT_OK)
      break;
    WT_LOG(STARTUP_LEVEL(), "PostgreSQL not ready, retrying error=\"%s\"", err);
    wt_db_stmts_clear(st, 5);
    wt_db_destroy(db);
    db = NULL;
    sleep_ms(RETRY_MS);
  }
  if (stop_requested)
    goto out;
  if (gw_users_load(g->users, st[1].result) != WT_OK ||
      gw_members_load(g->members, st[2].result) != WT_OK ||
      gw_subs_load_projects(g->subs, st[3].result) != WT_OK) {
    wt_errf(err, errsize, "out of memory loading the caches");
    goto out;
  }
  WT_INFO("caches loaded users=%d memberships=%d projects=%d",
          PQntuples(st[1].result), PQntuples(st[2].result),
          PQntuples(st[3].result));
  rc = 0;
out:
  wt_db_stmts_clear(st, 5);
  wt_db_destroy(db);
  return rc;
}

static int setup(gw *g, char *err, size_t errsize) {
  size_t member_cap =
      (size_t)g->cfg.cache_users + (size_t)g->cfg.cache_projects;
  setup_start_ms = mono_ms();
  wt_kafka_topic_names(g->cfg.topic_prefix, &g->topics);
  if (wt_jwt_new(&g->cfg, &g->jwt, err, errsize) != WT_OK)
    return 2;
  if (!wt_jwt_can_issue(g->jwt))
    WT_WARN("no private key: /api/login cannot issue tokens");
  g->users = gw_users_new((size_t)g->cfg.cache_users);
  g->members = gw_members_new(
      member_cap > WT_LRU_CAPACITY_MAX ? WT_LRU_CAPACITY_MAX : member_cap);
  g->subs = gw_subs_new();
  g->throttle = gw_throttle_new(THROTTLE_KEYS);
  g->inflight = wt_lru_new(WT_LRU_CAPACITY_MAX, NULL);
  g->tok = json_tokener_new_ex(GW_JSON_DEPTH);
  if (!g->users || !g->members || !g->subs || !g->throttle || !g->inflight ||
      !g->tok ||
      gw_conns_init(&g->conns, (uint32_t)g->cfg.max_connections + HTTP_SLOTS) !=
          0 ||
      gw_http_dummy_hash(g->dummy_hash, sizeof(g->dummy_hash)) != 0) {
    wt_errf(err, errsize, "out of memory");
    return 1;
  }
  json_tokener_set_flags(g->tok,
                         JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
  while (!stop_requested && !(g->producer = ing_producer_new(
                                  &g->cfg, "wt-gateway", err, errsize))) {
    if (wt_kafka_login_refused(err, errsize) != WT_OK)
      return 1; /* a refused login stays refused: fail the start */
    WT_LOG(STARTUP_LEVEL(), "Kafka not ready, retrying error=\"%s\"", err);
    sleep_ms(RETRY_MS);
  }
  /* the events' start positions first, then the snapshot: nothing falls
   * between the two */
  while (!stop_requested &&
         !(g->events = gw_events_new(&g->cfg, &g->kafka_ok, err, errsize))) {
    WT_LOG(STARTUP_LEVEL(), "events topic not ready, retrying error=\"%s\"",
           err);
    sleep_ms(RETRY_MS);
  }
  if (stop_requested || load_caches(g, err, errsize) != 0)
    return 1;
  g->pool = gw_pool_new(&g->cfg, GW_POOL_THREADS, NULL);
  if (!g->pool) {
    wt_errf(err, errsize, "cannot start the pool");
    return 1;
  }
  return 0;
}

static void usage(FILE *out) {
  fprintf(out,
          "Usage: wt-gateway\n"
          "HTTP + WebSocket server on WT_HTTP_PORT (default 8080):\n"
          "  ws://HOST:PORT/ws (subprotocol worktracker.v1), POST /api/login,\n"
          "  POST /api/token/refresh, GET /healthz, /readyz, /metrics, / (the "
          "dashboard).\n"
          "Needs WT_JWT_SECRET (HS256, >= 32 bytes) or WT_JWT_PUBLIC_KEY_FILE "
          "(+ WT_JWT_PRIVATE_KEY_FILE to issue tokens).\n"
          "WT_TLS_CERT_FILE + WT_TLS_KEY_FILE: wss:// and https:// instead.\n"
          "SIGTERM/SIGINT: close and exit 0.\n\n");
  wt_config_describe(out);
}

int main(int argc, char **argv) {
  static gw g;
  struct lws_context_creation_info info;
  lws_retry_bo_t retry = {0};
  struct ev_loop *loop = NULL;
  void *foreign_loops[1];
  char err[1024] = "";
  int rc = 1;

  if (argc > 1) {
    bool help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
    usage(help ? stdout : stderr);
    return help ? 0 : 2;
  }
  if (!wt_config_start("wt-gateway", "gateway", &g.cfg))
    return 2;
  lws_set_log_level(LLL_ERR, NULL);
  g.stop = &stop_requested;
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGPIPE, SIG_IGN);
  rc = setup(&g, err, sizeof(err));
  if (rc != 0) {
    if (stop_requested) {
      rc = 0;
    } else {
      WT_ERROR("cannot start error=\"%s\"", err);
      if (rc == 2)
        fprintf(stderr, "wt-gateway: configuration error: %s\n", err);
    }
    goto out;
  }

  /* lws on a libev loop of ours: epoll wakes for the sockets that are
   * ready; lws's default poll() walks all of them on every wake-up */
  loop = ev_loop_new(EVFLAG_AUTO);
  if (!loop) {
    WT_ERROR("cannot create the event loop");
    goto out;
  }
  g.loop = loop;
  foreign_loops[0] = loop;
  memset(&info, 0, sizeof(info));
  retry.secs_since_valid_ping = (uint16_t)g.cfg.idle_timeout_s;
  retry.secs_since_valid_hangup = (uint16_t)(g.cfg.idle_timeout_s + 10);
  info.port = g.cfg.http_port;
  info.protocols = protocols;
  info.pvo = &pvo;
  info.user = &g;
  info.retry_and_idle_policy = &retry;
  /* no HEADERS_SECURITY_BEST_PRACTICES: its CSP forbids the dashboard's
   * inline script; no VALIDATE_UTF8: lws would close with 1007, while the
   * contract answers a bad frame with an error and keeps the connection
   * (the JSON tokener validates UTF-8) */
  info.options = LWS_SERVER_OPTION_LIBEV;
  if (g.cfg.tls_cert_file[0]) {
    /* lws's own TLS (OpenSSL): wss:// and https:// only, a plaintext
     * client fails its handshake; wt_config checked both files at start.
     * gw_rxguard sees the frames in SSL_read. */
    info.ssl_cert_filepath = g.cfg.tls_cert_file;
    info.ssl_private_key_filepath = g.cfg.tls_key_file;
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    /* TLS 1.2 and 1.3 only, whatever the system's OpenSSL settings */
    info.ssl_options_set = SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
  }
  info.foreign_loops = foreign_loops;
  info.max_http_header_data = 8192 + 512; /* a Bearer token fits */
  info.timeout_secs = 10;
  gw_rxguard_init_thread(); /* lws reads on this thread */
  g.ctx = lws_create_context(&info);
  if (!g.ctx) {
    WT_ERROR("cannot listen port=%d%s", g.cfg.http_port,
             g.cfg.tls_cert_file[0] ? " or set up TLS" : "");
    goto out;
  }
  gw_pool_set_context(g.pool, g.ctx);
  if (gw_events_start(g.events, g.ctx) != 0) {
    WT_ERROR("cannot start the events thread");
    goto out;
  }
  lws_sul_schedule(g.ctx, 0, &g.tick, on_tick, TICK_US);
  WT_INFO("gateway listening port=%d tls=%s topic_prefix=%s "
          "max_connections=%d",
          g.cfg.http_port, g.cfg.tls_cert_file[0] ? "on" : "off",
          g.cfg.topic_prefix, g.cfg.max_connections);
  ev_run(loop, 0); /* until on_tick sees a stop requested */
  WT_INFO("stopping");
  rc = 0;
out:
  gw_events_destroy(g.events); /* no more wake-ups from it */
  g.events = NULL;
  if (g.pool) {
    gw_pool_destroy(g.pool, &g); /* done() finds no connections */
    g.pool = NULL;
  }
  if (g.ctx) {
    lws_sul_cancel(&g.tick);
    lws_context_destroy(g.ctx); /* CLOSED callbacks run here */
  }
  if (loop) {
    ev_run(loop, EVRUN_NOWAIT); /* what lws left to finish */
    ev_loop_destroy(loop);
  }
  gw_ws_inflight_clear(&g);
  ing_producer_destroy(g.producer);
  gw_subs_destroy(g.subs);
  gw_members_destroy(g.members);
  gw_users_destroy(g.users);
  gw_throttle_destroy(g.throttle);
  wt_lru_destroy(g.inflight);
  if (g.tok)
    json_tokener_free(g.tok);
  gw_conns_free(&g.conns);
  gw_rxguard_free();
  wt_jwt_destroy(g.jwt);
  return rc;
}
