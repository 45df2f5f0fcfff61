#include "gw_http.h"

#include "wt_password.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw.h"
#include "gw_dashboard.h"
#include "gw_pool.h"
#include "gw_sql.h"
#include "gw_throttle.h"
#include "gw_users.h"
#include "wt_db.h"
#include "wt_json.h"
#include "wt_jw.h"
#include "wt_log.h"

#define PASSWORD_MAX 1024
#define USER_FREE_FAILURES 5
#define ADDR_FREE_FAILURES 20

enum route {
  R_NONE = 0,
  R_HEALTHZ,
  R_READYZ,
  R_METRICS,
  R_DASHBOARD,
  R_FAVICON,
  R_LOGIN,
  R_REFRESH,
  R_NOT_FOUND,
  R_BAD_METHOD
};

static const char JSON_TYPE[] = "application/json";

/* The icon browsers ask for at /favicon.ico: a clock on a blue tile, as
 * SVG (every browser that shows a tab icon takes SVG for it, whatever the
 * name). Static, so it may be cached for a day; every other response is
 * no-store. */
static const char FAVICON_TYPE[] = "image/svg+xml";
static const char FAVICON_CACHE[] = "public, max-age=86400";
static const char favicon_svg[] =
    "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\">"
    "<rect width=\"16\" height=\"16\" rx=\"3\" fill=\"#2563eb\"/>"
    "<circle cx=\"8\" cy=\"8\" r=\"5\" fill=\"none\" stroke=\"#fff\" "
    "stroke-width=\"1.5\"/>"
    "<path d=\"M8 5v3.2l2.2 1.4\" fill=\"none\" stroke=\"#fff\" "
    "stroke-width=\"1.5\" stroke-linecap=\"round\"/></svg>\n";

/* --- responses ------------------------------------------------------------ */

static void respond(gw_pss *pss, int status, const char *type, const char *body,
                    size_t len) {
  free(pss->resp);
  pss->resp = malloc(LWS_PRE + len + 1);
  pss->resp_len = pss->resp ? len : 0;
  if (pss->resp && len)
    memcpy(pss->resp + LWS_PRE, body, len);
  pss->status = pss->resp ? status : 500;
  pss->content_type = type;
  pss->responded = true;
  pss->waiting = false;
  lws_callback_on_writable(pss->wsi);
}

static void respond_str(gw_pss *pss, int status, const char *type,
                        const char *body) {
  respond(pss, status, type, body, strlen(body));
}

/* {"error":error} */
static void json_error(gw_pss *pss, int status, const char *error) {
  wt_buf b;
  wt_jw w;
  wt_buf_init(&b, 256);
  wt_jw_init(&w, &b);
  wt_jw_obj(&w);
  wt_jw_kstr(&w, "error", error);
  wt_jw_obj_end(&w);
  if (wt_buf_ok(&b))
    respond(pss, status, JSON_TYPE, b.data, b.len);
  else
    respond(pss, 500, JSON_TYPE, "", 0);
  wt_buf_free(&b);
}

static void respond_buf(gw_pss *pss, int status, const char *type,
                        const wt_buf *b) {
  if (!wt_buf_ok(b))
    json_error(pss, 500, "internal");
  else
    respond(pss, status, type, b->data, b->len);
}

static void reset_request(gw_pss *pss) {
  free(pss->resp);
  pss->resp = NULL;
  pss->resp_len = 0;
  wt_buf_free(&pss->body);
  pss->route = R_NONE;
  pss->is_post = pss->too_big = pss->responded = pss->headers_sent = false;
  pss->close_after = pss->waiting = false;
  pss->status = 0;
  pss->retry_after = 0;
}

static int write_response(struct lws *wsi, gw_pss *pss) {
  if (!pss->responded)
    return 0; /* a job is still working on it */
  if (!pss->headers_sent) {
    unsigned char buf[LWS_PRE + 1024];
    unsigned char *start = buf + LWS_PRE, *p = start,
                  *end = buf + sizeof(buf) - 1;
    const char *cache = pss->route == R_FAVICON && pss->status == 200
                            ? FAVICON_CACHE
                            : "no-store";
    if (lws_add_http_common_headers(wsi, (unsigned)pss->status,
                                    pss->content_type, pss->resp_len, &p,
                                    end) ||
        lws_add_http_header_by_name(
            wsi, (const unsigned char *)"cache-control:",
            (const unsigned char *)cache, (int)strlen(cache), &p, end) ||
        lws_add_http_header_by_name(
            wsi, (const unsigned char *)"x-content-type-options:",
            (const unsigned char *)"nosniff", 7, &p, end))
      return 1;
    if (pss->retry_after > 0) {
      char v[16];
      int n = snprintf(v, sizeof(v), "%d", pss->retry_after);
      if (lws_add_http_header_by_name(wsi,
                                      (const unsigned char *)"retry-after:",
                                      (const unsigned char *)v, n, &p, end))
        return 1;
    }
    if (lws_finalize_write_http_header(wsi, start, &p, end))
      return 1;
    pss->headers_sent = true;
    if (pss->resp_len) {
      lws_callback_on_writable(wsi);
      return 0;
    }
  } else if (lws_write(wsi, (unsigned char *)pss->resp + LWS_PRE, pss->resp_len,
                       LWS_WRITE_HTTP_FINAL) < (int)pss->resp_len) {
    return 1;
  }
  {
    bool close_after = pss->close_after;
    reset_request(pss);
    if (close_after || lws_http_transaction_completed(wsi))
      return -1;
  }
  return 0;
}

/* --- login ---------------------------------------------------------------- */

/* {"access_token","refresh_token"? (when refresh is set),"token_type",
 * "expires_in"} */
static void token_body(wt_buf *b, const char *access, const char *refresh,
                       int ttl_s) {
  wt_jw w;
  wt_jw_init(&w, b);
  wt_jw_obj(&w);
  wt_jw_kstr(&w, "access_token", access);
  if (refresh)
    wt_jw_kstr(&w, "refresh_token", refresh);
  wt_jw_kstr(&w, "token_type", "Bearer");
  wt_jw_ki64(&w, "expires_in", ttl_s);
  wt_jw_obj_end(&w);
}

int gw_http_dummy_hash(char *out, size_t size) {
  return wt_password_hash("not a password anyone has", out, size);
}

typedef struct login_job {
  gw_job base;
  const gw *g; /* jwt (thread-safe) and the dummy hash, read only */
  char username[WT_USERNAME_MAX + 1];
  char password[PASSWORD_MAX + 1];
  char peer[GW_PEER_MAX];
  wt_err err;
  bool ok;
  char user_id[WT_UUID_STR];
  char *access, *refresh;
} login_job;

static void login_run(gw_job *job, wt_db *db) {
  login_job *j = (login_job *)job;
  const char *params[1] = {j->username};
  wt_db_stmt st = {.name = "gw_login_user",
                   .sql = GW_SQL_LOGIN_USER,
                   .params = params,
                   .nparams = 1};
  char err[512];
  bool found, active = false, match;
  int64_t ver = 0, now = (int64_t)time(NULL);
  const char *hash = j->g->dummy_hash;
  j->err = gw_db_run(db, &st, 1, err, sizeof(err));
  if (j->err != WT_OK) {
    WT_WARN("login: user not read error=\"%s\"", err);
    goto out;
  }
  found = PQntuples(st.result) == 1;
  if (found) {
    snprintf(j->user_id, sizeof(j->user_id), "%s", PQgetvalue(st.result, 0, 0));
    hash = PQgetvalue(st.result, 0, 1);
    active = PQgetvalue(st.result, 0, 2)[0] == 't';
    ver = strtoll(PQgetvalue(st.result, 0, 3), NULL, 10);
  }
  /* the hash is computed for unknown users too: same time either way */
  match = wt_password_matches(j->password, hash);
  j->ok = found && active && match;
  if (j->ok && (wt_jwt_issue(j->g->jwt, j->user_id, ver, WT_JWT_ACCESS, now,
                             &j->access, NULL, err, sizeof(err)) != WT_OK ||
                wt_jwt_issue(j->g->jwt, j->user_id, ver, WT_JWT_REFRESH, now,
                             &j->refresh, NULL, err, sizeof(err)) != WT_OK)) {
    WT_ERROR("login: cannot issue tokens error=\"%s\"", err);
    j->err = WT_ERR_INVALID;
  }
out:
  explicit_bzero(j->password, sizeof(j->password));
  wt_db_stmts_clear(&st, 1);
}

static void throttle_keys(const char *username, const char *peer, char ukey[80],
                          char akey[80]) {
  snprintf(ukey, 80, "u%s", username);
  snprintf(akey, 80, "a%s", peer);
}

static void login_done(gw *g, gw_job *job) {
  login_job *j = (login_job *)job;
  gw_pss *pss =
      j->base.cancelled ? NULL : gw_conns_get(&g->conns, j->base.conn_id);
  char ukey[80], akey[80];
  int64_t now = (int64_t)time(NULL);
  throttle_keys(j->username, j->peer, ukey, akey);
  if (!j->base.cancelled && j->err == WT_OK) {
    if (j->ok) {
      gw_throttle_reset(g->throttle, ukey);
      g->metrics.logins_ok++;
      WT_INFO("login user=%s peer=%s", j->user_id, j->peer);
    } else {
      gw_throttle_fail(g->throttle, ukey, USER_FREE_FAILURES, now);
      gw_throttle_fail(g->throttle, akey, ADDR_FREE_FAILURES, now);
      g->metrics.auth_fail[GW_AUTH_FAIL_PASSWORD]++;
      WT_INFO("login refused peer=%s", j->peer);
    }
  }
  if (pss && pss->waiting) {
    if (j->err != WT_OK) {
      json_error(pss, 503, "unavailable");
    } else if (!j->ok) {
      json_error(pss, 401, "invalid_credentials");
    } else {
      wt_buf b;
      wt_buf_init(&b, 65536);
      token_body(&b, j->access, j->refresh, g->cfg.jwt_ttl_s);
      respond_buf(pss, 200, JSON_TYPE, &b);
      explicit_bzero(b.data, b.alloc);
      wt_buf_free(&b);
    }
  }
  free(j->access);
  free(j->refresh);
  explicit_bzero(j, sizeof(*j));
  free(j);
}

/* The JSON object of a request body, or NULL. */
static json_object *body_json(gw_pss *pss) {
  json_tokener *tok;
  json_object *o;
  wt_json_flaw flaw;
  /* json-c reads a lone surrogate escape as U+FFFD: such a text is refused
   * first (two passwords must never read as one) */
  if (wt_json_check(pss->body.data ? pss->body.data : "", pss->body.len,
                    GW_JSON_DEPTH, &flaw) != WT_OK)
    return NULL;
  tok = json_tokener_new_ex(GW_JSON_DEPTH);
  if (!tok)
    return NULL;
  json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
  o = json_tokener_parse_ex(tok, pss->body.data ? pss->body.data : "",
                            (int)pss->body.len);
  if (o && (json_tokener_get_error(tok) != json_tokener_success ||
            json_tokener_get_parse_end(tok) != pss->body.len ||
            !json_object_is_type(o, json_type_object))) {
    json_object_put(o);
    o = NULL;
  }
  json_tokener_free(tok);
  return o;
}

static const char *obj_str(json_object *o, const char *key, size_t max) {
  json_object *v;
  if (!json_object_object_get_ex(o, key, &v) ||
      !json_object_is_type(v, json_type_string) ||
      (size_t)json_object_get_string_len(v) > max ||
      strlen(json_object_get_string(v)) !=
          (size_t)json_object_get_string_len(v))
    return NULL;
  return json_object_get_string(v);
}

static void login(gw *g, gw_pss *pss) {
  json_object *o = body_json(pss);
  const char *user = o ? obj_str(o, "username", WT_USERNAME_MAX) : NULL;
  const char *pass = o ? obj_str(o, "password", PASSWORD_MAX) : NULL;
  char ukey[80], akey[80];
  int64_t now = (int64_t)time(NULL), wait;
  login_job *j;
  if (!user || !pass || !user[0]) {
    json_object_put(o);
    json_error(pss, 400, "invalid_request");
    return;
  }
  throttle_keys(user, pss->peer, ukey, akey);
  wait = gw_throttle_wait(g->throttle, ukey, now);
  if (gw_throttle_wait(g->throttle, akey, now) > wait)
    wait = gw_throttle_wait(g->throttle, akey, now);
  if (wait > 0) {
    json_object_put(o);
    g->metrics.auth_fail[GW_AUTH_FAIL_THROTTLED]++;
    pss->retry_after = (int)wait;
    json_error(pss, 429, "too_many_attempts");
    return;
  }
  j = calloc(1, sizeof(*j));
  if (!j || (!pss->id && !gw_conns_add(&g->conns, pss))) {
    free(j);
    json_object_put(o);
    json_error(pss, 503, "unavailable");
    return;
  }
  j->base.run = login_run;
  j->base.done = login_done;
  j->base.conn_id = pss->id;
  j->g = g;
  snprintf(j->username, sizeof(j->username), "%s", user);
  snprintf(j->password, sizeof(j->password), "%s", pass);
  snprintf(j->peer, sizeof(j->peer), "%s", pss->peer);
  json_object_put(o); /* json-c frees the password's copy; not logged */
  pss->waiting = true;
  if (!gw_pool_submit(g->pool, &j->base)) {
    explicit_bzero(j, sizeof(*j));
    free(j);
    json_error(pss, 503, "unavailable");
  }
}

static void refresh(gw *g, gw_pss *pss) {
  json_object *o = body_json(pss);
  const char *token = o ? obj_str(o, "refresh_token", WT_JWT_MAX_TOKEN) : NULL;
  wt_jwt_claims cl;
  const gw_user *u;
  int64_t now = (int64_t)time(NULL);
  char *access = NULL, err[256];
  wt_buf b;
  if (!token) {
    json_object_put(o);
    json_error(pss, 400, "invalid_request");
    return;
  }
  if (wt_jwt_verify(g->jwt, token, WT_JWT_REFRESH, now, &cl) != WT_JWT_OK ||
      !(u = gw_users_get(g->users, cl.sub)) || !u->active ||
      u->token_version != cl.ver) {
    json_object_put(o);
    json_error(pss, 401, "invalid_token");
    return;
  }
  json_object_put(o);
  if (wt_jwt_issue(g->jwt, cl.sub, cl.ver, WT_JWT_ACCESS, now, &access, NULL,
                   err, sizeof(err)) != WT_OK) {
    WT_ERROR("refresh: cannot issue error=\"%s\"", err);
    json_error(pss, 500, "internal");
    return;
  }
  wt_buf_init(&b, 65536);
  token_body(&b, access, NULL, g->cfg.jwt_ttl_s);
  respond_buf(pss, 200, JSON_TYPE, &b);
  explicit_bzero(b.data, b.alloc);
  wt_buf_free(&b);
  explicit_bzero(access, strlen(access));
  free(access);
}

/* --- readiness ------------------------------------------------------------ */

typedef struct ping_job {
  gw_job base;
  bool ok;
} ping_job;

static void ping_run(gw_job *job, wt_db *db) {
  ping_job *j = (ping_job *)job;
  wt_db_stmt st = {.name = "gw_ping", .sql = GW_SQL_PING};
  char err[256];
  j->ok = gw_db_run(db, &st, 1, err, sizeof(err)) == WT_OK;
  wt_db_stmts_clear(&st, 1);
}

static void ping_done(gw *g, gw_job *job) {
  ping_job *j = (ping_job *)job;
  gw_pss *pss =
      j->base.cancelled ? NULL : gw_conns_get(&g->conns, j->base.conn_id);
  if (pss && pss->waiting) {
    bool kafka = atomic_load(&g->kafka_ok);
    wt_buf b;
    wt_jw w;
    wt_buf_init(&b, 256);
    wt_jw_init(&w, &b);
    wt_jw_obj(&w);
    wt_jw_kbool(&w, "postgres", j->ok);
    wt_jw_kbool(&w, "kafka", kafka);
    wt_jw_obj_end(&w);
    respond_buf(pss, j->ok && kafka ? 200 : 503, JSON_TYPE, &b);
    wt_buf_free(&b);
  }
  free(j);
}

static void readyz(gw *g, gw_pss *pss) {
  ping_job *j = calloc(1, sizeof(*j));
  if (!j || (!pss->id && !gw_conns_add(&g->conns, pss))) {
    free(j);
    json_error(pss, 503, "unavailable");
    return;
  }
  j->base.run = ping_run;
  j->base.done = ping_done;
  j->base.conn_id = pss->id;
  pss->waiting = true;
  if (!gw_pool_submit(g->pool, &j->base)) {
    free(j);
    json_error(pss, 503, "unavailable");
  }
}

/* --- routing -------------------------------------------------------------- */

static int route_of(const char *path, bool post) {
  static const struct {
    const char *path;
    int route;
    bool post;
  } routes[] = {
      {"/healthz", R_HEALTHZ, false},         {"/readyz", R_READYZ, false},
      {"/metrics", R_METRICS, false},         {"/", R_DASHBOARD, false},
      {"/favicon.ico", R_FAVICON, false},     {"/api/login", R_LOGIN, true},
      {"/api/token/refresh", R_REFRESH, true}};
  for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
    if (strcmp(path, routes[i].path) == 0)
      return routes[i].post == post ? routes[i].route : R_BAD_METHOD;
  return R_NOT_FOUND;
}

static void dispatch(gw *g, gw_pss *pss) {
  switch (pss->route) {
  case R_HEALTHZ: respond_str(pss, 200, "text/plain", "ok\n"); break;
  case R_READYZ: readyz(g, pss); break;
  case R_METRICS: {
    wt_buf b;
    wt_buf_init(&b, (size_t)16 << 20);
    gw_metrics_render(g, &b);
    respond_buf(pss, 200, "text/plain; version=0.0.4", &b);
    wt_buf_free(&b);
    break;
  }
  case R_DASHBOARD:
    respond(pss, 200, "text/html; charset=utf-8", gw_dashboard_html,
            sizeof(gw_dashboard_html) - 1);
    break;
  case R_FAVICON:
    respond(pss, 200, FAVICON_TYPE, favicon_svg, sizeof(favicon_svg) - 1);
    break;
  case R_LOGIN: login(g, pss); break;
  case R_REFRESH: refresh(g, pss); break;
  case R_BAD_METHOD: json_error(pss, 405, "method_not_allowed"); break;
  default: json_error(pss, 404, "not_found"); break;
  }
}

static void on_request(gw *g, struct lws *wsi, gw_pss *pss, const char *uri) {
  char path[256];
  bool post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
  char *q;
  reset_request(pss);
  pss->kind = GW_PSS_HTTP;
  pss->wsi = wsi;
  g->metrics.http_requests++;
  if (!pss->peer[0])
    lws_get_peer_simple(wsi, pss->peer, sizeof(pss->peer));
  snprintf(path, sizeof(path), "%s", uri ? uri : "/");
  q = strchr(path, '?');
  if (q)
    *q = '\0';
  pss->is_post = post;
  pss->route = route_of(path, post);
  wt_buf_init(&pss->body, GW_HTTP_BODY_MAX);
  if (post) {
    char cl[32];
    if (lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
        strtoll(cl, NULL, 10) > (long long)GW_HTTP_BODY_MAX) {
      pss->close_after = true; /* the body is not read */
      json_error(pss, 413, "body_too_large");
    }
    return; /* the body follows */
  }
  dispatch(g, pss);
}

int gw_http_callback(struct lws *wsi, enum lws_callback_reasons reason,
                     gw_pss *pss, void *in, size_t len) {
  gw *g = gw_from_wsi(wsi);
  switch (reason) {
  case LWS_CALLBACK_HTTP: on_request(g, wsi, pss, in); return 0;
  case LWS_CALLBACK_HTTP_BODY:
    if (pss->responded || pss->too_big)
      return 0;
    if (pss->body.len + len > GW_HTTP_BODY_MAX) {
      pss->too_big = true;
      return 0;
    }
    wt_buf_append(&pss->body, in, len);
    return 0;
  case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    if (pss->responded)
      return 0;
    if (pss->too_big) {
      pss->close_after = true;
      json_error(pss, 413, "body_too_large");
    } else {
      dispatch(g, pss);
    }
    return 0;
  case LWS_CALLBACK_HTTP_WRITEABLE: return write_response(wsi, pss);
  case LWS_CALLBACK_CLOSED_HTTP:
  case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    if (pss && pss->kind == GW_PSS_HTTP) {
      gw_conns_remove(&g->conns, pss);
      reset_request(pss);
      pss->kind = GW_PSS_NONE;
    }
    return 0;
  default: return 0;
  }
}
