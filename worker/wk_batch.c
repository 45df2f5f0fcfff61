#include "wk_batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wk_sql.h"
#include "wt_log.h"
#include "wt_lru.h"
#include <time.h>

#define MAX_ATTEMPTS 4
#define BUF_CAP ((size_t)256 * 1024 * 1024)

typedef enum msg_state {
  M_FRESH,       /* to decide */
  M_DEAD,        /* unparseable: to the DLQ */
  M_REDELIVERED, /* offset below the stored position: decided before */
  M_DECIDED,     /* outcome known (decided before, or a duplicate) */
  M_INDUP,       /* same command_id as an earlier message of the batch */
} msg_state;

struct wk_batch {
  wt_db *db;
  wk_state *st;
  const wt_config *cfg;
  char group[128];
  char topic[128];
  size_t cap;
  wt_command *cmds;
  msg_state *state;
  size_t *dup_of;
  int *parts_of;            /* partition of each message */
  wk_collect_mode *collect; /* how each message's needs are collected */
  bool *rejected;  /* decided: rejected (the guard searches events for it) */
  char **out_json; /* per message: the outcome (or dead letter) */
  wt_lru *ids;     /* command_id -> its first command in cmds */
  wk_need need;
  wk_plan plan;
  int64_t next[WK_MAX_PARTITIONS]; /* positions after this batch */
  size_t parsed; /* messages wk_batch_parse did ahead of the run */
  /* wk_batch_prepare's decisions, valid while the state's epoch holds */
  bool prepared;
  uint64_t prepared_epoch;
  size_t prepared_n;
  double prepared_ms;
  wk_batch_result decided; /* the counts of the decisions */
  /* decide found a rejected create of an id assumed new that a later
   * command names: the batch must be decided again with that id loaded */
  bool reload_created;
  void (*write_hook)(void *ctx, bool before);
  void *write_hook_ctx;
  /* the run in progress (wk_batch_send .. wk_batch_finish) */
  wt_db_stmt ws[16]; /* the transaction's statements */
  size_t nws;
  bool sent; /* its first attempt is out */
  size_t nparts;
  wt_db_counters c0;
  double t_write;
  char sqlstate[8]; /* of the last refused write */
  wt_pgrows events; /* project_id, seq, command_id, type, actor_id, at,
                       data: wk_sql.h's events_insert */
  wt_buf rejections, lookup_ids, lit[4], parts, expected, starts, nexts;
  /* wt_begin_batch's guard: binary uuid[] (a thousand ids as text were
   * PostgreSQL's uuid and array parsing on every batch) */
  wt_pgarr fresh_ids, rejected_ids;
  /* decide's builders: a command's data and its outcome, reused */
  wt_buf data_json, outcome;
};

static const uint32_t event_cols[7] = {
    WT_OID_UUID, WT_OID_INT8,        WT_OID_UUID, WT_OID_TEXT,
    WT_OID_UUID, WT_OID_TIMESTAMPTZ, WT_OID_JSON};

wk_batch *wk_batch_new(wt_db *db, wk_state *st, const wt_config *cfg,
                       const char *group, const char *topic) {
  wk_batch *b = calloc(1, sizeof(*b));
  if (!b)
    return NULL;
  b->db = db;
  b->st = st;
  b->cfg = cfg;
  b->cap = (size_t)cfg->batch_max;
  snprintf(b->group, sizeof(b->group), "%s", group);
  snprintf(b->topic, sizeof(b->topic), "%s", topic);
  b->cmds = calloc(b->cap, sizeof(*b->cmds));
  b->state = calloc(b->cap, sizeof(*b->state));
  b->dup_of = calloc(b->cap, sizeof(*b->dup_of));
  b->parts_of = calloc(b->cap, sizeof(*b->parts_of));
  b->collect = calloc(b->cap, sizeof(*b->collect));
  b->rejected = calloc(b->cap, sizeof(*b->rejected));
  b->out_json = calloc(b->cap, sizeof(*b->out_json));
  b->ids = wt_lru_new(b->cap * 2 + 16, NULL);
  if (!b->cmds || !b->state || !b->dup_of || !b->out_json || !b->ids ||
      !b->parts_of || !b->collect || !b->rejected) {
    wk_batch_destroy(b);
    return NULL;
  }
  wk_need_init(&b->need);
  wk_plan_init(&b->plan);
  wt_pgrows_init(&b->events, event_cols, 7, BUF_CAP);
  wt_buf_init(&b->rejections, BUF_CAP);
  wt_buf_init(&b->lookup_ids, BUF_CAP);
  wt_pgarr_init(&b->fresh_ids, WT_OID_UUID, BUF_CAP);
  wt_pgarr_init(&b->rejected_ids, WT_OID_UUID, BUF_CAP);
  wt_buf_init(&b->parts, 1 << 20);
  wt_buf_init(&b->expected, 1 << 20);
  wt_buf_init(&b->starts, 1 << 20);
  wt_buf_init(&b->nexts, 1 << 20);
  for (int i = 0; i < 4; i++)
    wt_buf_init(&b->lit[i], BUF_CAP);
  wt_buf_init(&b->data_json, BUF_CAP);
  wt_buf_init(&b->outcome, BUF_CAP);
  return b;
}

static void clear_outs(wk_batch *b) {
  for (size_t i = 0; i < b->cap; i++) {
    free(b->out_json[i]);
    b->out_json[i] = NULL;
  }
}

void wk_batch_destroy(wk_batch *b) {
  if (!b)
    return;
  if (b->out_json)
    clear_outs(b);
  free(b->cmds);
  free(b->state);
  free(b->dup_of);
  free(b->parts_of);
  free(b->collect);
  free(b->rejected);
  free(b->out_json);
  wt_lru_destroy(b->ids);
  wk_need_free(&b->need);
  wk_plan_free(&b->plan);
  wt_pgrows_free(&b->events);
  wt_buf_free(&b->rejections);
  wt_buf_free(&b->lookup_ids);
  wt_pgarr_free(&b->fresh_ids);
  wt_pgarr_free(&b->rejected_ids);
  wt_buf_free(&b->parts);
  wt_buf_free(&b->expected);
  wt_buf_free(&b->starts);
  wt_buf_free(&b->nexts);
  for (int i = 0; i < 4; i++)
    wt_buf_free(&b->lit[i]);
  wt_buf_free(&b->data_json);
  wt_buf_free(&b->outcome);
  free(b);
}

void wk_batch_result_init(wk_batch_result *r) {
  memset(r, 0, sizeof(*r));
}

void wk_batch_result_clear(wk_batch_result *r) {
  for (size_t i = 0; i < r->nouts; i++) {
    free(r->outs[i].key);
    free(r->outs[i].value);
  }
  free(r->outs);
  memset(r, 0, sizeof(*r));
}

static void add_out(wk_batch_result *r, wk_out_topic topic, const char *key,
                    char *value) {
  if (r->nouts == r->outs_cap) {
    size_t cap = r->outs_cap ? r->outs_cap * 2 : 256;
    wk_out *o = realloc(r->outs, cap * sizeof(*o));
    if (!o)
      abort();
    r->outs = o;
    r->outs_cap = cap;
  }
  r->outs[r->nouts].topic = topic;
  r->outs[r->nouts].key = strdup(key ? key : "");
  r->outs[r->nouts].value = value;
  r->outs[r->nouts].len = strlen(value);
  if (!r->outs[r->nouts].key)
    abort();
  r->nouts++;
}

/* --- dead letters ------------------------------------------------------ */

static char *dead_letter_json(const wk_batch *b, const wk_msg *m,
                              const char *reason) {
  wt_buf j;
  char *key = NULL, *payload = NULL;
  wt_buf_init(&j, (size_t)4 * WT_COMMAND_MAX_BYTES + 4096);
  /* bytes as they came, made safe for a JSON string: invalid UTF-8 and
   * NUL bytes would not survive, so such payloads travel as base64 */
  key = m->key ? strndup(m->key, m->key_len) : NULL;
  wt_buf_printf(&j, "{\"v\":1,\"kind\":\"dead_letter\",\"reason\":");
  wt_buf_put_json_str(&j, reason);
  wt_buf_puts(&j, ",\"topic\":");
  wt_buf_put_json_str(&j, b->topic);
  wt_buf_printf(&j, ",\"partition\":%d,\"offset\":%lld", m->partition,
                (long long)m->offset);
  if (key && wt_utf8_chars(key, strlen(key)) >= 0 &&
      strlen(key) == m->key_len) {
    wt_buf_puts(&j, ",\"key\":");
    wt_buf_put_json_str(&j, key);
  }
  if (m->len <= (size_t)2 * WT_COMMAND_MAX_BYTES &&
      (payload = strndup(m->value ? m->value : "", m->len)) &&
      strlen(payload) == m->len && wt_utf8_chars(payload, m->len) >= 0) {
    wt_buf_puts(&j, ",\"payload\":");
    wt_buf_put_json_str(&j, payload);
  } else {
    static const char tbl[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = m->value;
    size_t n = m->len > (size_t)2 * WT_COMMAND_MAX_BYTES
                   ? (size_t)2 * WT_COMMAND_MAX_BYTES
                   : m->len;
    wt_buf_puts(&j, ",\"payload_base64\":\"");
    for (size_t i = 0; s && i < n; i += 3) {
      unsigned v = (unsigned)s[i] << 16 |
                   (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
                   (i + 2 < n ? s[i + 2] : 0);
      char q[4] = {tbl[v >> 18 & 63], tbl[v >> 12 & 63],
                   i + 1 < n ? tbl[v >> 6 & 63] : '=',
                   i + 2 < n ? tbl[v & 63] : '='};
      wt_buf_append(&j, q, 4);
    }
    wt_buf_putc(&j, '"');
    if (m->len > n)
      wt_buf_puts(&j, ",\"truncated\":true");
  }
  wt_buf_putc(&j, '}');
  free(key);
  free(payload);
  if (!wt_buf_ok(&j)) {
    wt_buf_free(&j);
    wt_buf_init(&j, 1024);
    wt_buf_printf(&j,
                  "{\"v\":1,\"kind\":\"dead_letter\",\"reason\":\"too "
                  "large to quote\",\"partition\":%d,\"offset\":%lld,"
                  "\"topic\":",
                  m->partition, (long long)m->offset);
    wt_buf_put_json_str(&j, b->topic);
    wt_buf_putc(&j, '}');
  }
  return j.data; /* ownership to the caller */
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

/* What the commands to decide need that the caches lack, into b->need
 * (and what they use pinned). lookup_fresh: the fresh commands' first
 * outcomes are looked up in the same round trip, so each may turn out
 * decided before: what they create must not hide the real state from the
 * commands after them. A redelivered command is unsure the same way. */
static void collect_needs(wk_batch *b, const wk_msg *msgs, size_t n,
                          bool verify, bool lookup_fresh) {
  wk_need_reset(&b->need);
  for (size_t i = 0; i < n; i++) {
    b->parts_of[i] = msgs[i].partition;
    if (b->state[i] == M_REDELIVERED ||
        (b->state[i] == M_FRESH && lookup_fresh))
      b->collect[i] = WK_COLLECT_UNSURE;
    else
      b->collect[i] =
          b->state[i] == M_FRESH ? WK_COLLECT_FRESH : WK_COLLECT_SKIP;
  }
  wk_state_collect(b->st, b->cmds, n, b->parts_of, b->collect, verify,
                   &b->need);
}

/* Loads what the fresh commands need and the outcomes of the commands
 * that were decided before; one round trip, none when nothing is missing. */
static wt_err load(wk_batch *b, const wk_msg *msgs, size_t n, bool verify,
                   bool lookup_fresh, char *errstr, size_t errstr_size) {
  const char *p_users[2], *p_projects[1], *p_logs[1], *p_ids[1];
  wt_db_stmt s[5];
  size_t ns = 0, nlookup = 0;
  int iu = -1, ip = -1, il = -1, ie = -1, ir = -1;
  wt_err err;

  collect_needs(b, msgs, n, verify, lookup_fresh);
  wt_buf_reset(&b->lookup_ids);
  wt_buf_putc(&b->lookup_ids, '{');
  for (size_t i = 0; i < n; i++) {
    if (b->state[i] == M_REDELIVERED ||
        (lookup_fresh && b->state[i] == M_FRESH)) {
      if (nlookup++)
        wt_buf_putc(&b->lookup_ids, ',');
      wt_buf_puts(&b->lookup_ids, b->cmds[i].command_id);
    }
  }
  wt_buf_putc(&b->lookup_ids, '}');
  if (wk_need_empty(&b->need) && nlookup == 0)
    return WT_OK;

  for (int i = 0; i < 4; i++)
    wt_buf_reset(&b->lit[i]);
  if (b->need.user_ids.n || b->need.usernames.n) {
    wk_idlist_literal(&b->need.user_ids, &b->lit[0]);
    wk_idlist_literal(&b->need.usernames, &b->lit[1]);
    p_users[0] = b->lit[0].data;
    p_users[1] = b->lit[1].data;
    iu = (int)ns;
    s[ns++] = (wt_db_stmt){.name = "load_users",
                           .sql = WK_SQL_LOAD_USERS,
                           .nparams = 2,
                           .params = p_users};
  }
  if (b->need.project_ids.n) {
    wk_idlist_literal(&b->need.project_ids, &b->lit[2]);
    p_projects[0] = b->lit[2].data;
    ip = (int)ns;
    s[ns++] = (wt_db_stmt){.name = "load_projects",
                           .sql = WK_SQL_LOAD_PROJECTS,
                           .nparams = 1,
                           .params = p_projects};
  }
  if (b->need.log_ids.n) {
    wk_idlist_literal(&b->need.log_ids, &b->lit[3]);
    p_logs[0] = b->lit[3].data;
    il = (int)ns;
    s[ns++] = (wt_db_stmt){.name = "load_logs",
                           .sql = WK_SQL_LOAD_LOGS,
                           .nparams = 1,
                           .params = p_logs};
  }
  if (nlookup) {
    p_ids[0] = b->lookup_ids.data;
    ie = (int)ns;
    s[ns++] = (wt_db_stmt){.name = "dup_events",
                           .sql = WK_SQL_DUP_EVENTS,
                           .nparams = 1,
                           .params = p_ids};
    ir = (int)ns;
    s[ns++] = (wt_db_stmt){.name = "dup_rejections",
                           .sql = WK_SQL_DUP_REJECTIONS,
                           .nparams = 1,
                           .params = p_ids};
  }
  err = wt_db_run(b->db, s, ns, errstr, errstr_size);
  if (err != WT_OK)
    goto out;
  if (iu >= 0)
    wk_state_load_users(b->st, s[iu].result);
  if (ip >= 0)
    wk_state_load_projects(b->st, s[ip].result, &b->need);
  if (il >= 0)
    wk_state_load_logs(b->st, s[il].result, &b->need);
  if (ie >= 0) {
    PGresult *ev = s[ie].result, *rj = s[ir].result;
    for (size_t i = 0; i < n; i++) {
      if (b->state[i] != M_REDELIVERED && b->state[i] != M_FRESH)
        continue;
      for (int r = 0; r < PQntuples(ev) && b->state[i] != M_DECIDED; r++) {
        if (strcmp(PQgetvalue(ev, r, 0), b->cmds[i].command_id) != 0)
          continue;
        free(b->out_json[i]);
        b->out_json[i] = wt_outcome_event_json(
            PQgetvalue(ev, r, 3), PQgetvalue(ev, r, 1),
            strtoll(PQgetvalue(ev, r, 2), NULL, 10), PQgetvalue(ev, r, 0),
            PQgetisnull(ev, r, 4) ? NULL : PQgetvalue(ev, r, 4),
            strtoll(PQgetvalue(ev, r, 5), NULL, 10), PQgetvalue(ev, r, 6));
        b->state[i] = M_DECIDED;
      }
      for (int r = 0; r < PQntuples(rj) && b->state[i] != M_DECIDED; r++) {
        if (strcmp(PQgetvalue(rj, r, 0), b->cmds[i].command_id) != 0)
          continue;
        free(b->out_json[i]);
        b->out_json[i] = wt_outcome_rejected_json(
            PQgetvalue(rj, r, 0),
            PQgetisnull(rj, r, 2) ? NULL : PQgetvalue(rj, r, 2),
            PQgetisnull(rj, r, 3) ? NULL : PQgetvalue(rj, r, 3),
            wt_reject_parse(PQgetvalue(rj, r, 4)), PQgetvalue(rj, r, 5));
        b->state[i] = M_DECIDED;
      }
      /* a redelivered command not found was never decided: decide it */
      if (b->state[i] == M_REDELIVERED)
        b->state[i] = M_FRESH;
    }
  }
out:
  wt_db_stmts_clear(s, ns);
  return err;
}

static void add_event_row(wk_batch *b, const wt_command *c,
                          const wt_decision *d, int64_t seq, int64_t at,
                          const wt_buf *data) {
  wt_pgrows *e = &b->events;
  wt_pgarr_uuid(&e->col[0], d->stream_id);
  wt_pgarr_int8(&e->col[1], seq);
  wt_pgarr_uuid(&e->col[2], c->command_id);
  wt_pgarr_text(&e->col[3], d->event_type, strlen(d->event_type));
  wt_pgarr_uuid(&e->col[4], c->actor_system ? NULL : c->actor_id);
  wt_pgarr_timestamptz(&e->col[5], at);
  wt_pgarr_text(&e->col[6], data->data, data->len);
  e->n++;
}

static void add_rejection_row(wk_batch *b, const wt_command *c,
                              const wt_decision *d, int64_t at) {
  wt_buf *r = &b->rejections;
  wt_buf_putc(r, r->len > 1 ? ',' : '[');
  wt_buf_puts(r, "{\"command_id\":");
  wt_buf_put_json_str(r, c->command_id);
  wt_buf_puts(r, ",\"stream_id\":");
  wt_buf_put_json_str(r, wt_command_key(c));
  wt_buf_puts(r, ",\"project_id\":");
  wt_buf_put_json_str(r, c->project_id[0] ? c->project_id : NULL);
  wt_buf_puts(r, ",\"actor_id\":");
  wt_buf_put_json_str(r, c->actor_system ? NULL : c->actor_id);
  wt_buf_puts(r, ",\"code\":");
  wt_buf_put_json_str(r, wt_reject_name(d->reject));
  wt_buf_puts(r, ",\"message\":");
  wt_buf_put_json_str(r, d->message);
  wt_buf_puts(r, ",\"at\":");
  wt_buf_put_json_time(r, at);
  wt_buf_putc(r, '}');
}

static bool names_id(const wt_command *c, const char *id) {
  return strcmp(c->project_id, id) == 0 || strcmp(c->log_id, id) == 0 ||
         strcmp(c->target_user_id, id) == 0 || strcmp(c->actor_id, id) == 0 ||
         strcmp(c->user_id, id) == 0;
}

/* Collecting took the id that create i names as created for the commands
 * after it, without asking PostgreSQL. If the create is rejected (its actor
 * may not, say), those commands were collected against a state that does
 * not hold: true when one of them names the id and it is still unknown. */
static bool rejected_create_hides(wk_batch *b, size_t i, size_t n) {
  const wt_command *c = &b->cmds[i];
  const char *id = c->type == WT_CMD_PROJECT_CREATE ? c->project_id
                   : c->type == WT_CMD_LOG_CREATE   ? c->log_id
                   : c->type == WT_CMD_USER_CREATE  ? c->target_user_id
                                                    : NULL;
  /* a payload error was collected as nothing: it hid nothing */
  if (!id || !*id || c->payload_error != WT_REJECT_NONE ||
      wk_state_knows_created(b->st, c))
    return false;
  for (size_t j = i + 1; j < n; j++)
    if (b->state[j] == M_FRESH && names_id(&b->cmds[j], id))
      return true;
  return false;
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

/* Decides every fresh command into the overlay and the outcome rows. A
 * command its producer may not issue (wk_msg.signer) is rejected forbidden
 * before the rules run: what it names is never looked at. */
static void decide(wk_batch *b, const wk_msg *msgs, size_t n, int64_t now,
                   wk_batch_result *res) {
  wt_rules_view view;
  wk_state_view(b->st, &view, now, b->cfg->max_log_seconds);
  wt_pgrows_reset(&b->events);
  wt_buf_reset(&b->rejections);
  b->reload_created = false;
  memset(res->by_type, 0, sizeof(res->by_type));
  memset(res->unverified, 0, sizeof(res->unverified));
  res->applied = res->rejected = 0;
  for (size_t i = 0; i < n; i++) {
    const wt_command *c = &b->cmds[i];
    wt_decision d;
    wt_sign_refusal refusal;
    if (b->state[i] != M_FRESH)
      continue;
    free(b->out_json[i]);
    b->out_json[i] = NULL;
    refusal = wt_sign_permits(&msgs[i].signer, c->actor_system, d.message,
                              sizeof(d.message));
    if (refusal != WT_SIGN_ALLOWED) {
      d.reject = WT_REJECT_FORBIDDEN;
      d.effect = WT_EFFECT_NONE;
      res->unverified[refusal]++;
      b->rejected[i] = true;
    } else {
      b->rejected[i] = wt_rules_decide(c, &view, &d) != WT_REJECT_NONE;
    }
    if (!b->rejected[i]) {
      /* the data first: applying frees what d's strings point into */
      int64_t seq;
      if (!wt_decision_data_json_to(&b->data_json, &d))
        abort();
      seq = wk_state_apply(b->st, c, &d, msgs[i].partition);
      add_event_row(b, c, &d, seq, now, &b->data_json);
      if (!wt_outcome_event_json_to(&b->outcome, d.event_type, d.stream_id, seq,
                                    c->command_id,
                                    c->actor_system ? NULL : c->actor_id, now,
                                    b->data_json.data, b->data_json.len))
        abort();
      res->applied++;
      res->by_type[c->type][0]++;
    } else {
      if (!b->reload_created && rejected_create_hides(b, i, n))
        b->reload_created = true;
      add_rejection_row(b, c, &d, now);
      if (!wt_outcome_rejected_json_to(&b->outcome, c->command_id,
                                       c->project_id[0] ? c->project_id : NULL,
                                       c->actor_system ? NULL : c->actor_id,
                                       d.reject, d.message))
        abort();
      res->rejected++;
      res->by_type[c->type][1]++;
    }
    /* the outcome outlives the batch (published, kept until delivered):
     * a copy of exactly its size */
    b->out_json[i] = wt_buf_dup(&b->outcome);
    if (!b->out_json[i])
      abort();
  }
  if (b->rejections.len)
    wt_buf_putc(&b->rejections, ']');
}

/* The partitions of the batch with their expected, start and next
 * offsets, as array literals; returns how many. */
static size_t offset_ranges(wk_batch *b, const wk_msg *msgs, size_t n,
                            const wk_positions *pos, int64_t *next_out) {
  size_t np = 0;
  wt_buf_reset(&b->parts);
  wt_buf_reset(&b->expected);
  wt_buf_reset(&b->starts);
  wt_buf_reset(&b->nexts);
  wt_buf_putc(&b->parts, '{');
  wt_buf_putc(&b->expected, '{');
  wt_buf_putc(&b->starts, '{');
  wt_buf_putc(&b->nexts, '{');
  for (int p = 0; p < WK_MAX_PARTITIONS; p++)
    next_out[p] = -2;
  for (size_t i = 0; i < n; i++) {
    int p = msgs[i].partition;
    if (pos->next[p] >= 0 && msgs[i].offset < pos->next[p])
      continue; /* redelivered: its position was stored already */
    if (next_out[p] < msgs[i].offset + 1)
      next_out[p] = msgs[i].offset + 1;
  }
  for (int p = 0; p < WK_MAX_PARTITIONS; p++) {
    int64_t start = -1;
    if (next_out[p] == -2)
      continue;
    /* the batch's first message, redelivered ones included: their
     * outcomes go out again with this batch's, so a crash before those
     * are confirmed must read them again too */
    for (size_t i = 0; i < n; i++)
      if (msgs[i].partition == p && (start < 0 || msgs[i].offset < start))
        start = msgs[i].offset;
    if (pos->floor[p] >= 0 && pos->floor[p] < start)
      start = pos->floor[p];
    if (np++) {
      wt_buf_putc(&b->parts, ',');
      wt_buf_putc(&b->expected, ',');
      wt_buf_putc(&b->starts, ',');
      wt_buf_putc(&b->nexts, ',');
    }
    wt_buf_printf(&b->parts, "%d", p);
    wt_buf_printf(&b->expected, "%lld", (long long)pos->next[p]);
    wt_buf_printf(&b->starts, "%lld", (long long)start);
    wt_buf_printf(&b->nexts, "%lld", (long long)next_out[p]);
  }
  wt_buf_putc(&b->parts, '}');
  wt_buf_putc(&b->expected, '}');
  wt_buf_putc(&b->starts, '}');
  wt_buf_putc(&b->nexts, '}');
  return np;
}

/* Sends the batch's transaction in one pipeline (b->ws); on WT_OK the
 * write hook's "before" ran and write_wait must follow. */
static wt_err write_send(wk_batch *b, size_t n, char *errstr,
                         size_t errstr_size) {
  static const struct {
    const char *name, *sql;
  } json_writes[WK_PLAN_JSON_KINDS] = {
      [WK_PLAN_USERS_INSERT] = {"users_insert", WK_SQL_USERS_INSERT},
      [WK_PLAN_USERS_UPDATE] = {"users_update", WK_SQL_USERS_UPDATE},
      [WK_PLAN_PROJECTS_INSERT] = {"projects_insert", WK_SQL_PROJECTS_INSERT},
      [WK_PLAN_MEMBERS_DELETE] = {"members_delete", WK_SQL_MEMBERS_DELETE},
      [WK_PLAN_MEMBERS_UPSERT] = {"members_upsert", WK_SQL_MEMBERS_UPSERT},
  };
  const struct {
    const char *name, *sql;
    wt_pgrows *rows;
  } col_writes[6] = {
      {"projects_update", WK_SQL_PROJECTS_UPDATE, &b->plan.projects_update},
      /* inserts before deletes: a log created and deleted within the batch
       * is both, so that its primary key is checked */
      {"logs_insert", WK_SQL_LOGS_INSERT, &b->plan.logs_insert},
      {"logs_update", WK_SQL_LOGS_UPDATE, &b->plan.logs_update},
      {"logs_replace", WK_SQL_LOGS_REPLACE, &b->plan.logs_replace},
      {"logs_delete", WK_SQL_LOGS_DELETE, &b->plan.logs_delete},
      {"events_insert", WK_SQL_EVENTS_INSERT, &b->events},
  };
  const char *guard[8];
  int guard_len[8] = {0};
  static const int guard_fmt[8] = {0, 0, 0, 0, 0, 0, 1, 1};
  const char *wparams[20];
  wt_db_stmt *s = b->ws;
  size_t ns = 0;
  wt_err err;

  wt_pgarr_reset(&b->fresh_ids);
  wt_pgarr_reset(&b->rejected_ids);
  for (size_t i = 0; i < n; i++)
    if (b->state[i] == M_FRESH) {
      (void)wt_pgarr_uuid(&b->fresh_ids, b->cmds[i].command_id);
      if (b->rejected[i])
        (void)wt_pgarr_uuid(&b->rejected_ids, b->cmds[i].command_id);
    }
  guard[0] = b->group;
  guard[1] = b->topic;
  guard[2] = b->parts.data;
  guard[3] = b->expected.data;
  guard[4] = b->starts.data;
  guard[5] = b->nexts.data;
  /* parsed command ids: canonical, so neither array fails */
  guard[6] = wt_pgarr_finish(&b->fresh_ids, &guard_len[6]);
  guard[7] = wt_pgarr_finish(&b->rejected_ids, &guard_len[7]);
  if (!guard[6] || !guard[7]) {
    wt_errf(errstr, errstr_size, "batch guard over its cap");
    return WT_ERR_NOMEM;
  }

  s[ns++] = (wt_db_stmt){.name = "begin", .sql = "BEGIN"};
  if (b->nparts || b->fresh_ids.n)
    s[ns++] = (wt_db_stmt){.name = "begin_batch",
                           .sql = WK_SQL_BEGIN_BATCH,
                           .nparams = 8,
                           .params = guard,
                           .lengths = guard_len,
                           .formats = guard_fmt};
  /* users and projects first (logs and members name them), then logs */
  for (int i = 0; i < WK_PLAN_JSON_KINDS; i++) {
    if (!b->plan.n[i])
      continue;
    wparams[(size_t)2 * i] = b->plan.json[i].data;
    wparams[(size_t)2 * i + 1] = b->plan.ids[i].data;
    /* inserts take the rows; updates and deletes also their keys */
    s[ns++] = (wt_db_stmt){.name = json_writes[i].name,
                           .sql = json_writes[i].sql,
                           .nparams = b->plan.nids[i] ? 2 : 1,
                           .params = &wparams[(size_t)2 * i]};
  }
  for (int i = 0; i < 6; i++) {
    wt_pgrows *r = col_writes[i].rows;
    if (!r->n)
      continue;
    s[ns++] = (wt_db_stmt){.name = col_writes[i].name,
                           .sql = col_writes[i].sql,
                           .nparams = r->ncols,
                           .params = r->params,
                           .lengths = r->lengths,
                           .formats = r->formats};
  }
  if (b->rejections.len) {
    wparams[19] = b->rejections.data;
    s[ns++] = (wt_db_stmt){.name = "rejections_insert",
                           .sql = WK_SQL_REJECTIONS_INSERT,
                           .nparams = 1,
                           .params = &wparams[19]};
  }
  s[ns++] = (wt_db_stmt){.name = "commit", .sql = "COMMIT"};
  b->nws = ns;
  err = wt_db_send(b->db, s, ns, errstr, errstr_size);
  if (err != WT_OK)
    return err;
  /* into the caches once PostgreSQL has the transaction (not before: it
   * would wait meanwhile), and before the hook lets the next batch be
   * decided on them; undone if the transaction fails */
  wk_state_commit(b->st);
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
  wt_lru_remove_tag(b->ids, 0);
  for (size_t i = 0; i < n && i < b->cap; i++) {
    char err[256] = "";
    const wt_command *first;
    free(b->out_json[i]);
    b->out_json[i] = NULL;
    if (wt_command_parse(msgs[i].value, msgs[i].len, &b->cmds[i], err,
                         sizeof(err)) != WT_OK) {
      b->state[i] = M_DEAD;
      b->cmds[i].type = WT_CMD_NONE;
      b->out_json[i] = dead_letter_json(b, &msgs[i], err);
      continue;
    }
    first = wt_lru_peek(b->ids, b->cmds[i].command_id);
    if (first) {
      b->state[i] = M_INDUP;
      b->dup_of[i] = (size_t)(first - b->cmds);
      continue;
    }
    wt_lru_put(b->ids, b->cmds[i].command_id, &b->cmds[i], 0);
    b->state[i] = M_FRESH;
  }
  b->parsed = n;
}

void wk_batch_set_dead(wk_batch *b, const wk_msg *msgs, size_t n, size_t i,
                       const char *reason) {
  if (n > b->cap || i >= n)
    return;
  if (b->parsed != n)
    wk_batch_parse(b, msgs, n);
  b->state[i] = M_DEAD;
  b->cmds[i].type = WT_CMD_NONE;
  free(b->out_json[i]);
  b->out_json[i] = dead_letter_json(b, &msgs[i], reason);
}

/* Messages below a partition's stored position were decided before. */
static void classify(wk_batch *b, const wk_msg *msgs, size_t n,
                     const wk_positions *pos) {
  for (size_t i = 0; i < n; i++)
    if (b->state[i] == M_FRESH && pos->next[msgs[i].partition] >= 0 &&
        msgs[i].offset < pos->next[msgs[i].partition])
      b->state[i] = M_REDELIVERED;
}

static bool is_sqlstate(const char *code, const char *want) {
  return strcmp(code, want) == 0;
}

void wk_batch_set_write_hook(wk_batch *b, void (*fn)(void *ctx, bool before),
                             void *ctx) {
  b->write_hook = fn;
  b->write_hook_ctx = ctx;
}

/* Decides and plans into the state's overlay; the caller made sure that
 * nothing is missing (or loaded it). */
static bool decide_and_plan(wk_batch *b, const wk_msg *msgs, size_t n) {
  decide(b, msgs, n, wt_time_now_us(), &b->decided);
  if (!wk_state_plan(b->st, &b->plan) || !wt_pgrows_finish(&b->events) ||
      !wt_buf_ok(&b->rejections)) {
    wk_state_discard(b->st);
    return false;
  }
  return true;
}

bool wk_batch_prepare(wk_batch *b, const wk_msg *msgs, size_t n,
                      const wk_positions *pos) {
  double t = clock_ms();
  b->prepared = false;
  if (n > b->cap || n == 0)
    return false;
  if (b->parsed != n)
    wk_batch_parse(b, msgs, n);
  classify(b, msgs, n, pos);
  for (size_t i = 0; i < n; i++)
    if (b->state[i] == M_REDELIVERED)
      return false; /* its outcome is looked up: the runner's work */
  collect_needs(b, msgs, n, false, false);
  if (!wk_need_empty(&b->need) || !decide_and_plan(b, msgs, n) ||
      b->reload_created) {
    wk_state_discard(b->st); /* nothing applied: this unpins */
    return false;
  }
  b->prepared = true;
  b->prepared_epoch = wk_state_epoch(b->st);
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
  wk_state_discard(b->st);
  wk_state_invalidate(b->st);
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
    if (!decide_and_plan(b, msgs, n)) {
      wt_errf(errstr, errstr_size, "batch parameters over their cap");
      err = WT_ERR_NOMEM;
      break;
    }
    res->ms_decide += clock_ms() - t1;
    if (b->reload_created && !verify) {
      /* nothing written: decide again with the created ids loaded */
      WT_INFO("batch rejected a create of an id assumed new that a later "
              "command names: loading and deciding again");
      wk_state_discard(b->st);
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
      wk_state_settle(b->st);
      copy_counts(res, &b->decided);
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
  char err[256];
  bool use_prepared = b->prepared && b->prepared_n == n && n <= b->cap &&
                      b->prepared_epoch == wk_state_epoch(b->st);
  b->prepared = false;
  b->sent = false;
  if (!use_prepared)
    wk_state_discard(b->st); /* a stale speculation, if any */
  if (n > b->cap)
    return false;
  wt_db_get_counters(b->db, &b->c0);
  res->ms_parse = res->ms_load = res->ms_decide = res->ms_write = 0;
  res->prepared = use_prepared;
  if (b->parsed != n)
    wk_batch_parse(b, msgs, n);
  b->parsed = 0;
  if (!use_prepared)
    classify(b, msgs, n, pos);
  b->nparts = offset_ranges(b, msgs, n, pos, b->next);
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
  int64_t *next = b->next;
  bool verify = false, lookup_fresh = false;
  wt_db_counters c1;
  wt_err err;

  if (n > b->cap) {
    wt_errf(errstr, errstr_size, "batch of %zu over WT_BATCH_MAX", n);
    return WT_ERR_INVALID;
  }
  if (b->sent) {
    const char *code = "";
    b->sent = false;
    err = write_wait(b, &code, errstr, errstr_size);
    res->ms_write += clock_ms() - b->t_write;
    if (err == WT_OK) {
      wk_state_settle(b->st);
      copy_counts(res, &b->decided);
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
  for (int p = 0; p < WK_MAX_PARTITIONS; p++)
    if (next[p] >= 0)
      pos->next[p] = next[p];
  res->commands = n;
  res->duplicates = res->dead = 0;
  /* the outcomes move to res, copied only when a duplicate later in the
   * batch shares one */
  bool shared = false;
  for (size_t i = 0; i < n && !shared; i++)
    shared = b->state[i] == M_INDUP;
  for (size_t i = 0; i < n; i++) {
    const char *json =
        b->state[i] == M_INDUP ? b->out_json[b->dup_of[i]] : b->out_json[i];
    if (b->state[i] == M_DEAD) {
      char key[256];
      snprintf(key, sizeof(key), "%.*s", (int)msgs[i].key_len,
               msgs[i].key ? (const char *)msgs[i].key : "");
      add_out(res, WK_OUT_DLQ, key, b->out_json[i]);
      b->out_json[i] = NULL;
      res->dead++;
      continue;
    }
    if (b->state[i] == M_DECIDED || b->state[i] == M_INDUP)
      res->duplicates++;
    if (!json)
      continue;
    if (!shared && json == b->out_json[i]) {
      add_out(res, WK_OUT_EVENTS, wt_command_key(&b->cmds[i]), b->out_json[i]);
      b->out_json[i] = NULL;
    } else {
      char *copy = strdup(json);
      if (!copy)
        abort();
      add_out(res, WK_OUT_EVENTS, wt_command_key(&b->cmds[i]), copy);
    }
  }
  return WT_OK;
}

wt_err wk_batch_run(wk_batch *b, const wk_msg *msgs, size_t n,
                    wk_positions *pos, wk_batch_result *res, char *errstr,
                    size_t errstr_size) {
  (void)wk_batch_send(b, msgs, n, pos, res);
  return wk_batch_finish(b, msgs, n, pos, res, errstr, errstr_size);
}
