#include "gw_ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw.h"
#include "gw_members.h"
#include "gw_reads.h"
#include "gw_reply.h"
#include "gw_subs.h"
#include "gw_users.h"
#include "wt_jw.h"
#include "wt_log.h"
#include "wt_time.h"

#define BEARER "Bearer "

struct gw_inflight {
  gw_inflight *prev, *next; /* deadline order */
  char command_id[WT_UUID_STR];
  char req_id[GW_REQ_ID_MAX + 1];
  uint64_t conn_id;
  int64_t deadline_us;
  wt_cmd_type type;
};

static int64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* --- replies -------------------------------------------------------------- */

static void reply_invalid(gw *g, gw_pss *pss, const char *req_id,
                          const char *message) {
  g->metrics.bad_frames++;
  gw_reply_error(g, pss, req_id, "invalid", message);
}

/* --- auth ----------------------------------------------------------------- */

static void auth_fail(gw *g, gw_pss *pss, gw_auth_fail why, wt_jwt_reason jr,
                      const char *reason) {
  g->metrics.auth_fail[why]++;
  if (why == GW_AUTH_FAIL_TOKEN && (int)jr < GW_JWT_REASONS)
    g->metrics.auth_fail_jwt[jr]++;
  WT_INFO("auth refused conn=%llu reason=%s%s%s", (unsigned long long)pss->id,
          reason, why == GW_AUTH_FAIL_TOKEN ? " jwt=" : "",
          why == GW_AUTH_FAIL_TOKEN ? wt_jwt_reason_name(jr) : "");
  gw_conn_close(pss, 4001, reason);
}

static void arm_timer(gw *g, gw_pss *pss) {
  if (!pss->authed) {
    lws_set_timer_usecs(pss->wsi, (lws_usec_t)g->cfg.auth_timeout_ms * 1000);
  } else {
    /* the session lasts as long as its token would verify */
    int64_t left = pss->token_exp + WT_JWT_LEEWAY_S - (int64_t)time(NULL);
    lws_set_timer_usecs(pss->wsi,
                        (lws_usec_t)(left > 0 ? left : 0) * 1000000 + 1000);
  }
}

static void authenticate(gw *g, gw_pss *pss, const char *token,
                         const char *req_id) {
  wt_jwt_claims cl;
  const gw_user *u;
  wt_buf b;
  wt_jw w;
  wt_jwt_reason r =
      wt_jwt_verify(g->jwt, token, WT_JWT_ACCESS, (int64_t)time(NULL), &cl);
  if (r != WT_JWT_OK) {
    auth_fail(g, pss, GW_AUTH_FAIL_TOKEN, r, wt_jwt_refusal(r));
    return;
  }
  u = gw_users_get(g->users, cl.sub);
  if (!u) {
    auth_fail(g, pss, GW_AUTH_FAIL_UNKNOWN_USER, r, "unknown user");
    return;
  }
  if (!u->active) {
    auth_fail(g, pss, GW_AUTH_FAIL_INACTIVE, r, "user deactivated");
    return;
  }
  if (u->token_version != cl.ver) {
    auth_fail(g, pss, GW_AUTH_FAIL_REVOKED, r, "token revoked");
    return;
  }
  if (pss->authed && strcmp(pss->user_id, cl.sub) != 0) {
    auth_fail(g, pss, GW_AUTH_FAIL_TOKEN, WT_JWT_BAD_CLAIM,
              "a session keeps its user");
    return;
  }
  pss->authed = true;
  memcpy(pss->user_id, cl.sub, sizeof(pss->user_id));
  pss->token_exp = cl.exp;
  arm_timer(g, pss);
  g->metrics.auth_ok++;
  wt_buf_init(&b, GW_REPLY_SMALL);
  wt_jw_init(&w, &b);
  gw_reply_open(&w, "auth_ok", req_id);
  wt_jw_kstr(&w, "user_id", pss->user_id);
  wt_jw_ktime(&w, "expires_at", cl.exp * 1000000);
  wt_jw_obj_end(&w);
  gw_conn_send_buf(g, pss, &b);
  wt_buf_free(&b);
}

/* --- commands ------------------------------------------------------------- */

static void inflight_unlink(gw *g, gw_inflight *f) {
  if (f->prev)
    f->prev->next = f->next;
  else
    g->inflight_head = f->next;
  if (f->next)
    f->next->prev = f->prev;
  else
    g->inflight_tail = f->prev;
  wt_lru_remove(g->inflight, f->command_id);
}

void gw_ws_inflight_clear(gw *g) {
  gw_inflight *f = g->inflight_head;
  while (f) {
    gw_inflight *next = f->next;
    inflight_unlink(g, f);
    free(f);
    f = next;
  }
}

static bool copy_str(json_object *o, const char *key, char *out, size_t size,
                     bool required) {
  json_object *v;
  if (!json_object_object_get_ex(o, key, &v))
    return !required;
  if (!json_object_is_type(v, json_type_string) ||
      (size_t)json_object_get_string_len(v) >= size)
    return false;
  memcpy(out, json_object_get_string(v),
         (size_t)json_object_get_string_len(v) + 1);
  return strlen(out) == (size_t)json_object_get_string_len(v);
}

/* A time member: absent (ok, *present false), null (when nullable), or
 * RFC 3339. */
static bool get_time(json_object *o, const char *key, bool nullable,
                     bool *present, bool *is_null, int64_t *us) {
  json_object *v;
  *present = json_object_object_get_ex(o, key, &v);
  *is_null = false;
  if (!*present)
    return true;
  if (json_object_is_type(v, json_type_null)) {
    *is_null = true;
    return nullable;
  }
  return json_object_is_type(v, json_type_string) &&
         wt_time_parse(json_object_get_string(v), us) == 0;
}

/* Fills the payload of cmd from the request; NULL or the problem. */
static const char *build_log(gw *g, wt_command *c, json_object *req) {
  json_object *log, *changes, *v;
  bool present, is_null;
  (void)g;
  if (!gw_req_uuid(req, "project_id", c->project_id))
    return "project_id: expected a UUID";
  if (c->type == WT_CMD_LOG_CREATE) {
    if (!json_object_object_get_ex(req, "log", &log) ||
        !json_object_is_type(log, json_type_object))
      return "log: expected an object";
    if (json_object_object_get_ex(log, "id", &v)) {
      if (!gw_req_uuid(log, "id", c->log_id))
        return "log.id: expected a UUID";
    } else {
      wt_uuid_generate(c->log_id);
    }
    if (json_object_object_get_ex(log, "user_id", &v) &&
        !gw_req_uuid(log, "user_id", c->target_user_id))
      return "log.user_id: expected a UUID";
    if (!get_time(log, "started_at", false, &present, &is_null,
                  &c->started_at) ||
        !present)
      return "log.started_at: expected an RFC 3339 time";
    if (!get_time(log, "ended_at", true, &present, &is_null, &c->ended_at))
      return "log.ended_at: expected an RFC 3339 time or null";
    c->ended_at_null = !present || is_null;
    if (!copy_str(log, "description", c->description, sizeof(c->description),
                  false))
      return "log.description: expected a string";
    c->fields = WT_F_LOG_ID | WT_F_STARTED_AT | WT_F_ENDED_AT |
                WT_F_DESCRIPTION | (c->target_user_id[0] ? WT_F_USER_ID : 0u);
    return NULL;
  }
  if (!gw_req_uuid(req, "log_id", c->log_id))
    return "log_id: expected a UUID";
  c->fields = WT_F_LOG_ID;
  /* update and delete: only if the log is still at that version */
  if (json_object_object_get_ex(req, "expected_version", &v) &&
      !json_object_is_type(v, json_type_null)) {
    if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 1)
      return "expected_version: expected an integer >= 1";
    c->expected_version = json_object_get_int64(v);
    c->fields |= WT_F_EXPECTED_VERSION;
  }
  if (c->type == WT_CMD_LOG_DELETE)
    return NULL;
  if (!json_object_object_get_ex(req, "changes", &changes) ||
      !json_object_is_type(changes, json_type_object))
    return "changes: expected an object";
  json_object_object_foreach(changes, key, val) {
    (void)val;
    if (strcmp(key, "started_at") != 0 && strcmp(key, "ended_at") != 0 &&
        strcmp(key, "description") != 0)
      return "changes: only started_at, ended_at, description";
  }
  if (!get_time(changes, "started_at", false, &present, &is_null,
                &c->started_at))
    return "changes.started_at: expected an RFC 3339 time";
  if (present)
    c->fields |= WT_F_STARTED_AT;
  if (!get_time(changes, "ended_at", true, &present, &is_null, &c->ended_at))
    return "changes.ended_at: expected an RFC 3339 time or null";
  if (present) {
    c->fields |= WT_F_ENDED_AT;
    c->ended_at_null = is_null;
  }
  if (json_object_object_get_ex(changes, "description", &v)) {
    if (!copy_str(changes, "description", c->description,
                  sizeof(c->description), true))
      return "changes.description: expected a string";
    c->fields |= WT_F_DESCRIPTION;
  }
  return NULL;
}

static const char *build_project_member(gw *g, wt_command *c,
                                        json_object *req) {
  json_object *v;
  if (c->type == WT_CMD_PROJECT_CREATE) {
    wt_uuid_generate(c->project_id);
  } else if (!gw_req_uuid(req, "project_id", c->project_id)) {
    return "project_id: expected a UUID";
  }
  if (c->type == WT_CMD_PROJECT_CREATE || c->type == WT_CMD_PROJECT_RENAME) {
    if (!copy_str(req, "name", c->name, sizeof(c->name), true))
      return "name: expected a string of 1..200 characters";
    c->fields = WT_F_NAME;
    return NULL;
  }
  if (json_object_object_get_ex(req, "user_id", &v)) {
    if (!gw_req_uuid(req, "user_id", c->target_user_id))
      return "user_id: expected a UUID";
  } else if (c->type == WT_CMD_MEMBER_ADD &&
             json_object_object_get_ex(req, "username", &v)) {
    const char *name = gw_req_str(req, "username", WT_USERNAME_MAX);
    const gw_user *u = name ? gw_users_by_name(g->users, name) : NULL;
    if (!u)
      return "username: no such user";
    memcpy(c->target_user_id, u->id, sizeof(c->target_user_id));
  } else {
    return c->type == WT_CMD_MEMBER_ADD ? "user_id or username: required"
                                        : "user_id: required";
  }
  c->fields = WT_F_USER_ID;
  if (c->type == WT_CMD_MEMBER_ADD) {
    char role[16] = "member";
    if (!copy_str(req, "role", role, sizeof(role), false))
      return "role: member or owner";
    if (strcmp(role, "owner") == 0)
      c->role = WT_ROLE_OWNER;
    else if (strcmp(role, "member") == 0)
      c->role = WT_ROLE_MEMBER;
    else
      return "role: member or owner";
    c->fields |= WT_F_ROLE;
  }
  return NULL;
}

static void command(gw *g, gw_pss *pss, const char *req_id, wt_cmd_type type,
                    json_object *req) {
  wt_command *c = calloc(1, sizeof(*c)); /* ~11 KiB: not on the stack */
  gw_inflight *f = NULL;
  const char *problem;
  char err[512];
  wt_err e;
  if (!c) {
    gw_reply_error(g, pss, req_id, "unavailable", "out of memory");
    return;
  }
  c->type = type;
  problem = type == WT_CMD_LOG_CREATE || type == WT_CMD_LOG_UPDATE ||
                    type == WT_CMD_LOG_DELETE
                ? build_log(g, c, req)
                : build_project_member(g, c, req);
  if (problem) {
    g->metrics.commands[GW_OUT_REFUSED]++;
    reply_invalid(g, pss, req_id, problem);
    goto out;
  }
  if (type != WT_CMD_PROJECT_CREATE &&
      gw_members_role(g->members, c->project_id, pss->user_id) ==
          WT_ROLE_NONE) {
    g->metrics.commands[GW_OUT_REFUSED]++;
    gw_reply_error(g, pss, req_id, "not_found", "no such project");
    goto out;
  }
  /* the actor is who the token says, never what the client says */
  memcpy(c->actor_id, pss->user_id, sizeof(c->actor_id));
  wt_uuid_generate(c->command_id);
  c->issued_at = wt_time_now_us();
  snprintf(c->origin, sizeof(c->origin), "wt-gateway");
  f = calloc(1, sizeof(*f));
  if (!f) {
    gw_reply_error(g, pss, req_id, "unavailable", "out of memory");
    goto out;
  }
  memcpy(f->command_id, c->command_id, sizeof(f->command_id));
  snprintf(f->req_id, sizeof(f->req_id), "%s", req_id);
  f->conn_id = pss->id;
  f->type = type;
  f->deadline_us = mono_us() + (int64_t)g->cfg.command_timeout_ms * 1000;
  if (wt_lru_put(g->inflight, f->command_id, f, 0) != WT_OK) {
    free(f);
    gw_reply_error(g, pss, req_id, "unavailable", "out of memory");
    goto out;
  }
  e = ing_producer_send(g->producer, c, err, sizeof(err));
  if (e != WT_OK) {
    wt_lru_remove(g->inflight, f->command_id);
    free(f);
    g->metrics.commands[GW_OUT_REFUSED]++;
    if (e == WT_ERR_INVALID) {
      reply_invalid(g, pss, req_id, err);
    } else {
      WT_WARN("command not produced error=\"%s\"", err);
      gw_reply_error(g, pss, req_id, "unavailable", "Kafka did not take it");
    }
    goto out;
  }
  f->prev = g->inflight_tail;
  if (g->inflight_tail)
    g->inflight_tail->next = f;
  else
    g->inflight_head = f;
  g->inflight_tail = f;
  pss->inflight++;
  WT_DEBUG("command sent type=%s command_id=%s conn=%llu",
           wt_cmd_type_name(type), c->command_id, (unsigned long long)pss->id);
out:
  free(c);
}

void gw_ws_on_outcome(gw *g, const gw_event *e) {
  gw_inflight *f = wt_lru_peek(g->inflight, e->command_id);
  gw_pss *pss;
  wt_buf b;
  wt_jw w;
  if (!f)
    return;
  inflight_unlink(g, f);
  pss = gw_conns_get(&g->conns, f->conn_id);
  g->metrics.commands[e->applied ? GW_OUT_APPLIED : GW_OUT_REJECTED]++;
  if (pss) {
    gw_request_done(pss);
    wt_buf_init(&b, GW_REPLY_MAX);
    wt_jw_init(&w, &b);
    gw_reply_open(&w, e->applied ? "applied" : "rejected", f->req_id);
    wt_jw_kstr(&w, "command_id", e->command_id);
    if (e->applied) {
      wt_jw_kraw(&w, "event", e->raw, strlen(e->raw));
    } else {
      wt_jw_kstr(&w, "code", e->code);
      wt_jw_kstr(&w, "message", e->message);
    }
    wt_jw_obj_end(&w);
    gw_conn_send_buf(g, pss, &b);
    wt_buf_free(&b);
  }
  free(f);
}

void gw_ws_tick(gw *g) {
  int64_t now = mono_us();
  gw_inflight *f = g->inflight_head;
  while (f && f->deadline_us <= now) {
    gw_inflight *next = f->next;
    gw_pss *pss = gw_conns_get(&g->conns, f->conn_id);
    inflight_unlink(g, f);
    g->metrics.commands[GW_OUT_TIMEOUT]++;
    WT_WARN("command timed out command_id=%s", f->command_id);
    if (pss) {
      gw_request_done(pss);
      gw_reply_error(g, pss, f->req_id, "unavailable", "no outcome in time");
    }
    free(f);
    f = next;
  }
}

typedef struct revoke_arg {
  const char *user_id;
  int closed;
} revoke_arg;

static void close_user(gw_pss *pss, void *arg) {
  revoke_arg *a = arg;
  if (pss->kind == GW_PSS_WS && pss->authed &&
      strcmp(pss->user_id, a->user_id) == 0) {
    gw_conn_close(pss, 4001, "session revoked");
    a->closed++;
  }
}

void gw_ws_on_user_event(gw *g, const gw_event *e) {
  gw_user u;
  revoke_arg a = {0};
  memset(&u, 0, sizeof(u));
  snprintf(u.id, sizeof(u.id), "%s",
           e->user_id[0] ? e->user_id : e->project_id);
  if (!wt_uuid_valid(u.id) || !e->username[0])
    return;
  memcpy(u.username, e->username, sizeof(u.username));
  memcpy(u.display_name, e->display_name, sizeof(u.display_name));
  u.active = e->is_active;
  u.token_version = e->token_version;
  u.seq = e->seq;
  if (!gw_users_apply(g->users, &u))
    return;
  a.user_id = u.id;
  gw_conns_each(&g->conns, close_user, &a);
  WT_INFO("user's sessions closed user=%s event=%s connections=%d", u.id,
          e->type, a.closed);
}

/* --- messages ------------------------------------------------------------- */

static void handle_message(gw *g, gw_pss *pss, const char *data, size_t len) {
  json_object *req, *v;
  const char *type, *req_id = NULL;
  wt_json_flaw flaw;
  wt_cmd_type ct;
  g->metrics.frames_in++;
  json_tokener_reset(g->tok);
  req = json_tokener_parse_ex(g->tok, data, (int)len);
  if (!req || json_tokener_get_error(g->tok) != json_tokener_success ||
      json_tokener_get_parse_end(g->tok) != len) {
    json_object_put(req);
    reply_invalid(g, pss, NULL, "not a JSON text");
    return;
  }
  if (!json_object_is_type(req, json_type_object)) {
    reply_invalid(g, pss, NULL, "expected a JSON object");
    goto out;
  }
  if (wt_json_check(data, len, GW_JSON_DEPTH, &flaw) != WT_OK) {
    /* json-c decodes a lone surrogate escape as U+FFFD and clamps integers
     * past int64: what it would alter is refused (contract v1.1), the id
     * echoed unless it is what is wrong */
    char msg[sizeof(flaw.path) + sizeof(flaw.why) + 2];
    snprintf(msg, sizeof(msg), "%s%s%s", flaw.path, flaw.path[0] ? ": " : "",
             flaw.why);
    reply_invalid(g, pss,
                  strcmp(flaw.path, "id") == 0
                      ? NULL
                      : gw_req_str(req, "id", GW_REQ_ID_MAX),
                  msg);
    goto out;
  }
  if (json_object_object_get_ex(req, "id", &v)) {
    req_id = gw_req_str(req, "id", GW_REQ_ID_MAX);
    if (!req_id) {
      reply_invalid(g, pss, NULL, "id: expected a string of at most 64 bytes");
      goto out;
    }
  }
  type = gw_req_str(req, "type", 32);
  if (!type) {
    reply_invalid(g, pss, req_id, "type: expected a string");
    goto out;
  }
  if (strcmp(type, "auth") == 0) {
    const char *token = gw_req_str(req, "token", WT_JWT_MAX_TOKEN);
    if (!token)
      reply_invalid(g, pss, req_id, "token: expected a string");
    else
      authenticate(g, pss, token, req_id);
    goto out;
  }
  if (!pss->authed) {
    reply_invalid(g, pss, req_id, "authenticate first");
    goto out;
  }
  if (!req_id) {
    reply_invalid(g, pss, NULL, "id: required");
    goto out;
  }
  if (strcmp(type, "unsubscribe") == 0) {
    char pid[WT_UUID_STR];
    if (!gw_req_uuid(req, "project_id", pid))
      reply_invalid(g, pss, req_id, "project_id: expected a UUID");
    else
      gw_subs_unsubscribe(g, pss, req_id, pid);
    goto out;
  }
  if (pss->inflight >= g->cfg.max_inflight) {
    gw_reply_error(g, pss, req_id, "rate_limited",
                   "too many requests in flight");
    goto out;
  }
  if (strcmp(type, "projects") == 0) {
    gw_reads_projects(g, pss, req_id);
  } else if (strcmp(type, "members") == 0) {
    gw_reads_members(g, pss, req_id, req);
  } else if (strcmp(type, "list") == 0) {
    gw_reads_list(g, pss, req_id, req);
  } else if (strcmp(type, "subscribe") == 0) {
    char pid[WT_UUID_STR];
    int64_t since = 0;
    bool has_since = json_object_object_get_ex(req, "since", &v) &&
                     !json_object_is_type(v, json_type_null);
    if (!gw_req_uuid(req, "project_id", pid))
      reply_invalid(g, pss, req_id, "project_id: expected a UUID");
    else if (has_since && (!json_object_is_type(v, json_type_int) ||
                           (since = json_object_get_int64(v)) < 0))
      reply_invalid(g, pss, req_id, "since: expected a seq >= 0");
    else
      gw_subs_subscribe(g, pss, req_id, pid, has_since, since);
  } else if ((ct = wt_cmd_type_parse(type)) != WT_CMD_NONE &&
             ct != WT_CMD_USER_CREATE && ct != WT_CMD_USER_DEACTIVATE &&
             ct != WT_CMD_USER_REVOKE_TOKENS) {
    command(g, pss, req_id, ct, req);
  } else {
    reply_invalid(g, pss, req_id, "type: unknown");
  }
out:
  json_object_put(req);
}

/* --- the callback --------------------------------------------------------- */

static bool path_is_ws(struct lws *wsi) {
  char uri[64];
  int n = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
  return n > 0 && (strcmp(uri, "/ws") == 0 || strncmp(uri, "/ws?", 4) == 0);
}

static int filter(gw *g, struct lws *wsi, gw_pss *pss) {
  int n;
  if (!path_is_ws(wsi)) {
    lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
    return 1;
  }
  if (g->conns.ws_count >= (size_t)g->cfg.max_connections) {
    g->metrics.ws_refused_total++;
    lws_return_http_status(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, NULL);
    return 1;
  }
  n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
  if (n > 0 && n < WT_JWT_MAX_TOKEN + 16) {
    char *h = malloc((size_t)n + 1);
    if (h && lws_hdr_copy(wsi, h, n + 1, WSI_TOKEN_HTTP_AUTHORIZATION) > 0 &&
        strncasecmp(h, BEARER, strlen(BEARER)) == 0) {
      pss->header_token = strdup(h + strlen(BEARER));
    }
    free(h);
  }
  return 0;
}

static int receive(gw *g, struct lws *wsi, gw_pss *pss, const void *in,
                   size_t len) {
  size_t remaining = lws_remaining_packet_payload(wsi);
  size_t cap = (size_t)g->cfg.max_frame_bytes;
  if (pss->close_code)
    return 0; /* closing: ignore */
  /* the cap counts what is buffered, this chunk and the rest of its frame */
  if (pss->rx_len + len + remaining > cap) {
    unsigned char why[] = "message too large";
    g->metrics.oversized_closes++;
    lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, why,
                     sizeof(why) - 1);
    return -1;
  }
  if (pss->rx_len + len > pss->rx_cap) {
    size_t want = pss->rx_len + len + remaining;
    unsigned char *n = realloc(pss->rx, want + 1);
    if (!n)
      return -1;
    pss->rx = n;
    pss->rx_cap = want;
  }
  if (len)
    memcpy(pss->rx + pss->rx_len, in, len);
  pss->rx_len += len;
  if (!lws_is_final_fragment(wsi) || remaining)
    return 0;
  if (lws_frame_is_binary(wsi)) {
    g->metrics.frames_in++;
    reply_invalid(g, pss, NULL, "binary messages are not understood");
  } else if (wt_utf8_chars((const char *)pss->rx, pss->rx_len) < 0) {
    /* json-c's UTF-8 check lets overlong forms, surrogates and code points
     * over U+10FFFF through, which the reply's id would carry back: checked
     * strictly first, and nothing of such a message is echoed */
    g->metrics.frames_in++;
    reply_invalid(g, pss, NULL, "not valid UTF-8");
  } else {
    handle_message(g, pss, (const char *)pss->rx, pss->rx_len);
  }
  pss->rx_len = 0;
  if (pss->rx_cap > 16384) { /* give back what a large message took */
    free(pss->rx);
    pss->rx = NULL;
    pss->rx_cap = 0;
  }
  return 0;
}

/* Whether a close code may be sent on the wire (RFC 6455 section 7.4):
 * 1004-1006 and 1015 are reserved, the rest of 1000-2999 unassigned, 3000-4999
 * are for libraries and applications. */
static bool close_code_allowed(unsigned code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

/* LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: in/len is the client's close
 * payload. lws answers it with the same payload (a code it finds bad turned
 * into 1002 in place, but 5000 and up, 1015, a 1-byte payload and a reason
 * that is not UTF-8 sent back as they came). An empty one or a good one is
 * left to that echo; any other is answered with 1002 and nothing of it. */
static int peer_close(gw *g, struct lws *wsi, gw_pss *pss, const void *in,
                      size_t len) {
  const unsigned char *p = in;
  unsigned code = len >= 2 ? (unsigned)(p[0] << 8 | p[1]) : 0;
  const char *problem = NULL;
  if (len == 1)
    problem = "close payload of 1 byte";
  else if (len >= 2 && !close_code_allowed(code))
    problem = "close code not allowed";
  else if (len > 2 && wt_utf8_chars((const char *)p + 2, len - 2) < 0)
    problem = "close reason not UTF-8";
  else if ((code == 1002 && len > 2) || (pss && pss->close_code == 1002))
    /* lws wrote 1002 over a code it refuses (under 1000, 1004-1006,
     * 1012-2999), whose frame's reason is not echoed either; or the
     * connection is closing for an unmasked frame already */
    problem = "protocol error";
  if (!problem)
    return 0;
  g->metrics.bad_frames++;
  WT_INFO("bad close frame conn=%llu problem=\"%s\"",
          pss ? (unsigned long long)pss->id : 0ULL, problem);
  {
    unsigned char why[64]; /* lws takes it unsigned, and not const */
    snprintf((char *)why, sizeof(why), "%s", problem);
    lws_close_reason(wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR, why,
                     strlen((char *)why));
  }
  return -1;
}

int gw_ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                   gw_pss *pss, void *in, size_t len) {
  gw *g = gw_from_wsi(wsi);
  switch (reason) {
  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: return filter(g, wsi, pss);
  case LWS_CALLBACK_ESTABLISHED:
    pss->kind = GW_PSS_WS;
    pss->wsi = wsi;
    if (!gw_conns_add(&g->conns, pss))
      return -1;
    g->conns.ws_count++;
    g->metrics.ws_connections_total++;
    lws_get_peer_simple(wsi, pss->peer, sizeof(pss->peer));
    arm_timer(g, pss);
    if (pss->header_token) {
      authenticate(g, pss, pss->header_token, NULL);
      free(pss->header_token);
      pss->header_token = NULL;
    }
    return 0;
  case LWS_CALLBACK_RECEIVE: return receive(g, wsi, pss, in, len);
  case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    return peer_close(g, wsi, pss, in, len);
  case LWS_CALLBACK_SERVER_WRITEABLE: return gw_conn_writeable(g, pss);
  case LWS_CALLBACK_TIMER:
    if (pss->close_code)
      return 0;
    if (!pss->authed) {
      g->metrics.auth_fail[GW_AUTH_FAIL_TIMEOUT]++;
      gw_conn_close(pss, 4001, "authentication timeout");
    } else if ((int64_t)time(NULL) >= pss->token_exp + WT_JWT_LEEWAY_S) {
      g->metrics.auth_fail[GW_AUTH_FAIL_EXPIRED_SESSION]++;
      gw_conn_close(pss, 4001, "token expired");
    } else {
      arm_timer(g, pss);
    }
    return 0;
  case LWS_CALLBACK_CLOSED:
    if (pss->kind == GW_PSS_WS && pss->id) {
      gw_subs_conn_closed(g, pss);
      gw_conns_remove(&g->conns, pss);
      g->conns.ws_count--;
    }
    gw_conn_release(pss);
    return 0;
  default: return 0;
  }
}
