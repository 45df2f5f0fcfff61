#include "wk_decide.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wk_oom.h"
#include "wk_sql.h"

/* wt_begin_batch's parameters, in order (wk_sql.h) */
enum {
  GUARD_GROUP,
  GUARD_TOPIC,
  GUARD_PARTS,
  GUARD_EXPECTED,
  GUARD_STARTS,
  GUARD_NEXTS,
  GUARD_FRESH_IDS,
  GUARD_REJECTED_IDS,
  GUARD_PARAMS
};
_Static_assert(GUARD_PARAMS == WK_GUARD_PARAMS, "wk_decide.h's count");

/* the buffers a client's commands can grow: each has this hard cap */
#define BUF_CAP ((size_t)256 * 1024 * 1024)
/* the guard's small literals: one number per partition */
#define OFFSETS_CAP ((size_t)1 << 20)
/* the outcomes array's first size */
#define OUTS_FIRST_CAP 256
/* a dead letter's key, as the DLQ gets it */
#define DLQ_KEY_MAX 256
/* why a message does not parse */
#define PARSE_ERR_MAX 256

/* events_insert's columns (wk_sql.h) */
enum {
  EV_STREAM_ID,
  EV_SEQ,
  EV_COMMAND_ID,
  EV_TYPE,
  EV_ACTOR_ID,
  EV_AT,
  EV_DATA,
  EVENT_COLS
};
static const uint32_t event_cols[EVENT_COLS] = {
    WT_OID_UUID, WT_OID_INT8,        WT_OID_UUID, WT_OID_TEXT,
    WT_OID_UUID, WT_OID_TIMESTAMPTZ, WT_OID_JSON};

static void clear_outs(wk_decide *d) {
  for (size_t i = 0; i < d->cap; i++) {
    free(d->out_json[i]);
    d->out_json[i] = NULL;
  }
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
    size_t cap = r->outs_cap ? r->outs_cap * 2 : OUTS_FIRST_CAP;
    wk_out *o = realloc(r->outs, cap * sizeof(*o));
    if (!o)
      wk_oom(__func__);
    r->outs = o;
    r->outs_cap = cap;
  }
  r->outs[r->nouts].topic = topic;
  r->outs[r->nouts].key = strdup(key ? key : "");
  r->outs[r->nouts].value = value;
  r->outs[r->nouts].len = strlen(value);
  if (!r->outs[r->nouts].key)
    wk_oom(__func__);
  r->nouts++;
}

/* --- dead letters ------------------------------------------------------ */

static char *dead_letter_json(const wk_decide *d, const wk_msg *m,
                              const char *reason) {
  wt_buf j;
  char *key = NULL, *payload = NULL;
  wt_buf_init(&j, (size_t)4 * WT_COMMAND_MAX_BYTES + 4096);
  /* bytes as they came, made safe for a JSON string: invalid UTF-8 and
   * NUL bytes would not survive, so such payloads travel as base64 */
  if (m->key && !(key = strndup(m->key, m->key_len)))
    wk_oom(__func__);
  wt_buf_printf(&j, "{\"v\":1,\"kind\":\"dead_letter\",\"reason\":");
  wt_buf_put_json_str(&j, reason);
  wt_buf_puts(&j, ",\"topic\":");
  wt_buf_put_json_str(&j, d->topic);
  wt_buf_printf(&j, ",\"partition\":%d,\"offset\":%lld", m->partition,
                (long long)m->offset);
  if (key && wt_utf8_chars(key, strlen(key)) >= 0 &&
      strlen(key) == m->key_len) {
    wt_buf_puts(&j, ",\"key\":");
    wt_buf_put_json_str(&j, key);
  }
  if (m->len <= (size_t)2 * WT_COMMAND_MAX_BYTES &&
      !(payload = strndup(m->value ? m->value : "", m->len)))
    wk_oom(__func__);
  if (payload && strlen(payload) == m->len &&
      wt_utf8_chars(payload, m->len) >= 0) {
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
    wt_buf_put_json_str(&j, d->topic);
    wt_buf_putc(&j, '}');
  }
  return j.data; /* ownership to the caller */
}

/* --- collecting -------------------------------------------------------- */

/* What the commands to decide need that the caches lack, into d->need
 * (and what they use pinned). lookup_fresh: the fresh commands' first
 * outcomes are looked up in the same round trip, so each may turn out
 * decided before: what they create must not hide the real state from the
 * commands after them. A redelivered command is unsure the same way. */
void wk_decide_collect(wk_decide *d, const wk_msg *msgs, size_t n, bool verify,
                       bool lookup_fresh) {
  wk_need_reset(&d->need);
  for (size_t i = 0; i < n; i++) {
    d->parts_of[i] = msgs[i].partition;
    if (d->state[i] == WK_MSG_REDELIVERED ||
        (d->state[i] == WK_MSG_FRESH && lookup_fresh))
      d->collect[i] = WK_COLLECT_UNSURE;
    else
      d->collect[i] =
          d->state[i] == WK_MSG_FRESH ? WK_COLLECT_FRESH : WK_COLLECT_SKIP;
  }
  wk_state_collect(d->st, d->cmds, n, d->parts_of, d->collect, verify,
                   &d->need);
}

/* --- deciding ---------------------------------------------------------- */

static void add_event_row(wk_decide *dc, const wt_command *c,
                          const wt_decision *d, int64_t seq, int64_t at,
                          const wt_buf *data) {
  wt_pgrows *e = &dc->events;
  wt_pgarr_uuid(&e->col[EV_STREAM_ID], d->stream_id);
  wt_pgarr_int8(&e->col[EV_SEQ], seq);
  wt_pgarr_uuid(&e->col[EV_COMMAND_ID], c->command_id);
  wt_pgarr_text(&e->col[EV_TYPE], d->event_type, strlen(d->event_type));
  wt_pgarr_uuid(&e->col[EV_ACTOR_ID], c->actor_system ? NULL : c->actor_id);
  wt_pgarr_timestamptz(&e->col[EV_AT], at);
  wt_pgarr_text(&e->col[EV_DATA], data->data, data->len);
  e->n++;
}

static void add_rejection_row(wk_decide *dc, const wt_command *c,
                              const wt_decision *d, int64_t at) {
  wt_buf *r = &dc->rejections;
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
static bool rejected_create_hides(wk_decide *d, size_t i, size_t n) {
  const wt_command *c = &d->cmds[i];
  const char *id = c->type == WT_CMD_PROJECT_CREATE ? c->project_id
                   : c->type == WT_CMD_LOG_CREATE   ? c->log_id
                   : c->type == WT_CMD_USER_CREATE  ? c->target_user_id
                                                    : NULL;
  /* a payload error was collected as nothing: it hid nothing */
  if (!id || !*id || c->payload_error != WT_REJECT_NONE ||
      wk_state_knows_created(d->st, c))
    return false;
  for (size_t j = i + 1; j < n; j++)
    if (d->state[j] == WK_MSG_FRESH && names_id(&d->cmds[j], id))
      return true;
  return false;
}

/* Decides every fresh command into the overlay and the outcome rows. A
 * command its producer may not issue (wk_msg.signer) is rejected forbidden
 * before the rules run: what it names is never looked at. */
static void decide(wk_decide *d, const wk_msg *msgs, size_t n, int64_t now,
                   wk_batch_result *res) {
  wt_rules_view view;
  wk_state_view(d->st, &view, now, d->max_log_seconds);
  wt_pgrows_reset(&d->events);
  wt_buf_reset(&d->rejections);
  d->reload_created = false;
  memset(res->by_type, 0, sizeof(res->by_type));
  memset(res->unverified, 0, sizeof(res->unverified));
  res->applied = res->rejected = 0;
  for (size_t i = 0; i < n; i++) {
    const wt_command *c = &d->cmds[i];
    wt_decision dec;
    wt_sign_refusal refusal;
    if (d->state[i] != WK_MSG_FRESH)
      continue;
    free(d->out_json[i]);
    d->out_json[i] = NULL;
    refusal = wt_sign_permits(&msgs[i].signer, c->actor_system, dec.message,
                              sizeof(dec.message));
    if (refusal != WT_SIGN_ALLOWED) {
      dec.reject = WT_REJECT_FORBIDDEN;
      dec.effect = WT_EFFECT_NONE;
      res->unverified[refusal]++;
      d->rejected[i] = true;
    } else {
      d->rejected[i] = wt_rules_decide(c, &view, &dec) != WT_REJECT_NONE;
    }
    if (!d->rejected[i]) {
      /* the data first: applying frees what d's strings point into */
      int64_t seq;
      if (!wt_decision_data_json_to(&d->data_json, &dec))
        wk_oom(__func__);
      seq = wk_state_apply(d->st, c, &dec, msgs[i].partition);
      add_event_row(d, c, &dec, seq, now, &d->data_json);
      if (!wt_outcome_event_json_to(&d->outcome, dec.event_type, dec.stream_id,
                                    seq, c->command_id,
                                    c->actor_system ? NULL : c->actor_id, now,
                                    d->data_json.data, d->data_json.len))
        wk_oom(__func__);
      res->applied++;
      res->by_type[c->type][0]++;
    } else {
      if (!d->reload_created && rejected_create_hides(d, i, n))
        d->reload_created = true;
      add_rejection_row(d, c, &dec, now);
      if (!wt_outcome_rejected_json_to(&d->outcome, c->command_id,
                                       c->project_id[0] ? c->project_id : NULL,
                                       c->actor_system ? NULL : c->actor_id,
                                       dec.reject, dec.message))
        wk_oom(__func__);
      res->rejected++;
      res->by_type[c->type][1]++;
    }
    /* the outcome outlives the batch (published, kept until delivered):
     * a copy of exactly its size */
    d->out_json[i] = wt_buf_dup(&d->outcome);
    if (!d->out_json[i])
      wk_oom(__func__);
  }
  if (d->rejections.len)
    wt_buf_putc(&d->rejections, ']');
}

/* The partitions of the batch with their expected, start and next
 * offsets, as array literals; returns how many. */
size_t wk_decide_offsets(wk_decide *d, const wk_msg *msgs, size_t n,
                         const wk_positions *pos) {
  int64_t *next_out = d->next;
  size_t np = 0;
  wt_buf_reset(&d->parts);
  wt_buf_reset(&d->expected);
  wt_buf_reset(&d->starts);
  wt_buf_reset(&d->nexts);
  wt_buf_putc(&d->parts, '{');
  wt_buf_putc(&d->expected, '{');
  wt_buf_putc(&d->starts, '{');
  wt_buf_putc(&d->nexts, '{');
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
      wt_buf_putc(&d->parts, ',');
      wt_buf_putc(&d->expected, ',');
      wt_buf_putc(&d->starts, ',');
      wt_buf_putc(&d->nexts, ',');
    }
    wt_buf_printf(&d->parts, "%d", p);
    wt_buf_printf(&d->expected, "%lld", (long long)pos->next[p]);
    wt_buf_printf(&d->starts, "%lld", (long long)start);
    wt_buf_printf(&d->nexts, "%lld", (long long)next_out[p]);
  }
  wt_buf_putc(&d->parts, '}');
  wt_buf_putc(&d->expected, '}');
  wt_buf_putc(&d->starts, '}');
  wt_buf_putc(&d->nexts, '}');
  d->nparts = np;
  return np;
}

/* Sends the batch's transaction in one pipeline (d->ws); on WT_OK the
 * write hook's "before" ran and write_wait must follow. */

void wk_decide_parse(wk_decide *d, const wk_msg *msgs, size_t n) {
  wt_lru_remove_tag(d->ids, 0);
  for (size_t i = 0; i < n && i < d->cap; i++) {
    char err[PARSE_ERR_MAX] = "";
    const wt_command *first;
    free(d->out_json[i]);
    d->out_json[i] = NULL;
    if (wt_command_parse(msgs[i].value, msgs[i].len, &d->cmds[i], err,
                         sizeof(err)) != WT_OK) {
      d->state[i] = WK_MSG_DEAD;
      d->cmds[i].type = WT_CMD_NONE;
      d->out_json[i] = dead_letter_json(d, &msgs[i], err);
      continue;
    }
    first = wt_lru_peek(d->ids, d->cmds[i].command_id);
    if (first) {
      d->state[i] = WK_MSG_INDUP;
      d->dup_of[i] = (size_t)(first - d->cmds);
      continue;
    }
    wt_lru_put(d->ids, d->cmds[i].command_id, &d->cmds[i], 0);
    d->state[i] = WK_MSG_FRESH;
  }
  d->parsed = n;
}

void wk_decide_set_dead(wk_decide *d, const wk_msg *msgs, size_t n, size_t i,
                        const char *reason) {
  if (n > d->cap || i >= n)
    return;
  if (d->parsed != n)
    wk_decide_parse(d, msgs, n);
  d->state[i] = WK_MSG_DEAD;
  d->cmds[i].type = WT_CMD_NONE;
  free(d->out_json[i]);
  d->out_json[i] = dead_letter_json(d, &msgs[i], reason);
}

void wk_decide_classify(wk_decide *d, const wk_msg *msgs, size_t n,
                        const wk_positions *pos) {
  for (size_t i = 0; i < n; i++)
    if (d->state[i] == WK_MSG_FRESH && pos->next[msgs[i].partition] >= 0 &&
        msgs[i].offset < pos->next[msgs[i].partition])
      d->state[i] = WK_MSG_REDELIVERED;
}

/* --- lifecycle ---------------------------------------------------------- */

bool wk_decide_init(wk_decide *d, wk_state *st, const wt_config *cfg,
                    const char *group, const char *topic) {
  memset(d, 0, sizeof(*d));
  d->st = st;
  d->max_log_seconds = cfg->max_log_seconds;
  d->cap = (size_t)cfg->batch_max;
  snprintf(d->group, sizeof(d->group), "%s", group);
  snprintf(d->topic, sizeof(d->topic), "%s", topic);
  wk_need_init(&d->need);
  wk_plan_init(&d->plan);
  wt_pgrows_init(&d->events, event_cols, EVENT_COLS, BUF_CAP);
  wt_buf_init(&d->rejections, BUF_CAP);
  wt_buf_init(&d->lookup_ids, BUF_CAP);
  wt_pgarr_init(&d->fresh_ids, WT_OID_UUID, BUF_CAP);
  wt_pgarr_init(&d->rejected_ids, WT_OID_UUID, BUF_CAP);
  wt_buf_init(&d->parts, OFFSETS_CAP);
  wt_buf_init(&d->expected, OFFSETS_CAP);
  wt_buf_init(&d->starts, OFFSETS_CAP);
  wt_buf_init(&d->nexts, OFFSETS_CAP);
  for (int i = 0; i < WK_LOAD_LISTS; i++)
    wt_buf_init(&d->lit[i], BUF_CAP);
  wt_buf_init(&d->data_json, BUF_CAP);
  wt_buf_init(&d->outcome, BUF_CAP);
  d->cmds = calloc(d->cap, sizeof(*d->cmds));
  d->state = calloc(d->cap, sizeof(*d->state));
  d->dup_of = calloc(d->cap, sizeof(*d->dup_of));
  d->parts_of = calloc(d->cap, sizeof(*d->parts_of));
  d->collect = calloc(d->cap, sizeof(*d->collect));
  d->rejected = calloc(d->cap, sizeof(*d->rejected));
  d->out_json = calloc(d->cap, sizeof(*d->out_json));
  d->ids = wt_lru_new(d->cap * 2 + 16, NULL);
  return d->cmds && d->state && d->dup_of && d->out_json && d->ids &&
         d->parts_of && d->collect && d->rejected;
}

void wk_decide_free(wk_decide *d) {
  if (d->out_json)
    clear_outs(d);
  free(d->cmds);
  free(d->state);
  free(d->dup_of);
  free(d->parts_of);
  free(d->collect);
  free(d->rejected);
  free(d->out_json);
  wt_lru_destroy(d->ids);
  wk_need_free(&d->need);
  wk_plan_free(&d->plan);
  wt_pgrows_free(&d->events);
  wt_buf_free(&d->rejections);
  wt_buf_free(&d->lookup_ids);
  wt_pgarr_free(&d->fresh_ids);
  wt_pgarr_free(&d->rejected_ids);
  wt_buf_free(&d->parts);
  wt_buf_free(&d->expected);
  wt_buf_free(&d->starts);
  wt_buf_free(&d->nexts);
  for (int i = 0; i < WK_LOAD_LISTS; i++)
    wt_buf_free(&d->lit[i]);
  wt_buf_free(&d->data_json);
  wt_buf_free(&d->outcome);
  memset(d, 0, sizeof(*d));
}

/* --- loading ------------------------------------------------------------ */

size_t wk_decide_load_plan(wk_decide *d, const wk_msg *msgs, size_t n,
                           bool verify, bool lookup_fresh, wt_db_stmt *s,
                           int idx[WK_LOAD_LISTS + 2]) {
  size_t ns = 0, nlookup = 0;
  for (int k = 0; k < WK_LOAD_LISTS + 2; k++)
    idx[k] = -1;
  wk_decide_collect(d, msgs, n, verify, lookup_fresh);
  wt_buf_reset(&d->lookup_ids);
  wt_buf_putc(&d->lookup_ids, '{');
  for (size_t i = 0; i < n; i++) {
    if (d->state[i] == WK_MSG_REDELIVERED ||
        (lookup_fresh && d->state[i] == WK_MSG_FRESH)) {
      if (nlookup++)
        wt_buf_putc(&d->lookup_ids, ',');
      wt_buf_puts(&d->lookup_ids, d->cmds[i].command_id);
    }
  }
  wt_buf_putc(&d->lookup_ids, '}');
  if (wk_need_empty(&d->need) && nlookup == 0)
    return 0;

  for (int i = 0; i < WK_LOAD_LISTS; i++)
    wt_buf_reset(&d->lit[i]);
  if (d->need.user_ids.n || d->need.usernames.n) {
    wk_idlist_literal(&d->need.user_ids, &d->lit[WK_LOAD_USER_IDS]);
    wk_idlist_literal(&d->need.usernames, &d->lit[WK_LOAD_USERNAMES]);
    d->load_params[WK_LOAD_USER_IDS] = d->lit[WK_LOAD_USER_IDS].data;
    d->load_params[WK_LOAD_USERNAMES] = d->lit[WK_LOAD_USERNAMES].data;
    idx[WK_LOAD_USER_IDS] = (int)ns;
    s[ns++] = (wt_db_stmt){.name = "load_users",
                           .sql = WK_SQL_LOAD_USERS,
                           .nparams = 2,
                           .params = &d->load_params[WK_LOAD_USER_IDS]};
  }
  if (d->need.project_ids.n) {
    wk_idlist_literal(&d->need.project_ids, &d->lit[WK_LOAD_PROJECT_IDS]);
    d->load_params[WK_LOAD_PROJECT_IDS] = d->lit[WK_LOAD_PROJECT_IDS].data;
    idx[WK_LOAD_PROJECT_IDS] = (int)ns;
    s[ns++] = (wt_db_stmt){.name = "load_projects",
                           .sql = WK_SQL_LOAD_PROJECTS,
                           .nparams = 1,
                           .params = &d->load_params[WK_LOAD_PROJECT_IDS]};
  }
  if (d->need.log_ids.n) {
    wk_idlist_literal(&d->need.log_ids, &d->lit[WK_LOAD_LOG_IDS]);
    d->load_params[WK_LOAD_LOG_IDS] = d->lit[WK_LOAD_LOG_IDS].data;
    idx[WK_LOAD_LOG_IDS] = (int)ns;
    s[ns++] = (wt_db_stmt){.name = "load_logs",
                           .sql = WK_SQL_LOAD_LOGS,
                           .nparams = 1,
                           .params = &d->load_params[WK_LOAD_LOG_IDS]};
  }
  if (nlookup) {
    d->load_params[WK_LOAD_LISTS] = d->lookup_ids.data;
    idx[WK_LOAD_LISTS] = (int)ns;
    s[ns++] = (wt_db_stmt){.name = "dup_events",
                           .sql = WK_SQL_DUP_EVENTS,
                           .nparams = 1,
                           .params = &d->load_params[WK_LOAD_LISTS]};
    idx[WK_LOAD_LISTS + 1] = (int)ns;
    s[ns++] = (wt_db_stmt){.name = "dup_rejections",
                           .sql = WK_SQL_DUP_REJECTIONS,
                           .nparams = 1,
                           .params = &d->load_params[WK_LOAD_LISTS]};
  }
  return ns;
}

void wk_decide_set_found(wk_decide *d, size_t i, char *json) {
  if (!json)
    wk_oom(__func__);
  free(d->out_json[i]);
  d->out_json[i] = json;
  d->state[i] = WK_MSG_DECIDED;
}

void wk_decide_lookup_done(wk_decide *d, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (d->state[i] == WK_MSG_REDELIVERED)
      d->state[i] = WK_MSG_FRESH;
}

/* --- deciding and planning --------------------------------------------- */

bool wk_decide_run(wk_decide *d, const wk_msg *msgs, size_t n, int64_t now) {
  decide(d, msgs, n, now, &d->decided);
  if (!wk_state_plan(d->st, &d->plan) || !wt_pgrows_finish(&d->events) ||
      !wt_buf_ok(&d->rejections)) {
    wk_state_discard(d->st);
    return false;
  }
  return true;
}

wt_err wk_decide_write_plan(wk_decide *d, size_t n, wt_db_stmt *s, size_t *ns,
                            char *errstr, size_t errstr_size) {
  static const struct {
    const char *name, *sql;
  } json_writes[WK_PLAN_JSON_KINDS] = {
      [WK_PLAN_USERS_INSERT] = {"users_insert", WK_SQL_USERS_INSERT},
      [WK_PLAN_USERS_UPDATE] = {"users_update", WK_SQL_USERS_UPDATE},
      [WK_PLAN_PROJECTS_INSERT] = {"projects_insert", WK_SQL_PROJECTS_INSERT},
      [WK_PLAN_MEMBERS_DELETE] = {"members_delete", WK_SQL_MEMBERS_DELETE},
      [WK_PLAN_MEMBERS_UPSERT] = {"members_upsert", WK_SQL_MEMBERS_UPSERT},
  };
  /* the ids travel binary (wt_pgarr), the rest as text */
  static const int guard_fmt[WK_GUARD_PARAMS] = {
      [GUARD_FRESH_IDS] = 1, [GUARD_REJECTED_IDS] = 1};
  /* inserts before deletes: a log created and deleted within the batch is
   * both, so that its primary key is checked */
  const struct {
    const char *name, *sql;
    wt_pgrows *rows;
  } col_writes[WK_COL_WRITES] = {
      [WK_COLS_PROJECTS_UPDATE] = {"projects_update", WK_SQL_PROJECTS_UPDATE,
                                   &d->plan.projects_update},
      [WK_COLS_LOGS_INSERT] = {"logs_insert", WK_SQL_LOGS_INSERT,
                               &d->plan.logs_insert},
      [WK_COLS_LOGS_UPDATE] = {"logs_update", WK_SQL_LOGS_UPDATE,
                               &d->plan.logs_update},
      [WK_COLS_LOGS_REPLACE] = {"logs_replace", WK_SQL_LOGS_REPLACE,
                                &d->plan.logs_replace},
      [WK_COLS_LOGS_DELETE] = {"logs_delete", WK_SQL_LOGS_DELETE,
                               &d->plan.logs_delete},
      [WK_COLS_EVENTS_INSERT] = {"events_insert", WK_SQL_EVENTS_INSERT,
                                 &d->events},
  };
  const size_t rej =
      (size_t)2 * WK_PLAN_JSON_KINDS; /* wparams: the rejections */

  *ns = 0;
  wt_pgarr_reset(&d->fresh_ids);
  wt_pgarr_reset(&d->rejected_ids);
  for (size_t i = 0; i < n; i++)
    if (d->state[i] == WK_MSG_FRESH) {
      (void)wt_pgarr_uuid(&d->fresh_ids, d->cmds[i].command_id);
      if (d->rejected[i])
        (void)wt_pgarr_uuid(&d->rejected_ids, d->cmds[i].command_id);
    }
  memset(d->guard_len, 0, sizeof(d->guard_len));
  d->guard[GUARD_GROUP] = d->group;
  d->guard[GUARD_TOPIC] = d->topic;
  d->guard[GUARD_PARTS] = d->parts.data;
  d->guard[GUARD_EXPECTED] = d->expected.data;
  d->guard[GUARD_STARTS] = d->starts.data;
  d->guard[GUARD_NEXTS] = d->nexts.data;
  /* parsed command ids: canonical, so neither array fails */
  d->guard[GUARD_FRESH_IDS] =
      wt_pgarr_finish(&d->fresh_ids, &d->guard_len[GUARD_FRESH_IDS]);
  d->guard[GUARD_REJECTED_IDS] =
      wt_pgarr_finish(&d->rejected_ids, &d->guard_len[GUARD_REJECTED_IDS]);
  if (!d->guard[GUARD_FRESH_IDS] || !d->guard[GUARD_REJECTED_IDS]) {
    wt_errf(errstr, errstr_size, "batch guard over its cap");
    return WT_ERR_NOMEM;
  }

  s[(*ns)++] = (wt_db_stmt){.name = "begin", .sql = "BEGIN"};
  if (d->nparts || d->fresh_ids.n)
    s[(*ns)++] = (wt_db_stmt){.name = "begin_batch",
                              .sql = WK_SQL_BEGIN_BATCH,
                              .nparams = WK_GUARD_PARAMS,
                              .params = d->guard,
                              .lengths = d->guard_len,
                              .formats = guard_fmt};
  /* users and projects first (logs and members name them), then logs */
  for (int i = 0; i < WK_PLAN_JSON_KINDS; i++) {
    if (!d->plan.n[i])
      continue;
    d->wparams[(size_t)2 * i] = d->plan.json[i].data;
    d->wparams[(size_t)2 * i + 1] = d->plan.ids[i].data;
    /* inserts take the rows; updates and deletes also their keys */
    s[(*ns)++] = (wt_db_stmt){.name = json_writes[i].name,
                              .sql = json_writes[i].sql,
                              .nparams = d->plan.nids[i] ? 2 : 1,
                              .params = &d->wparams[(size_t)2 * i]};
  }
  for (int i = 0; i < WK_COL_WRITES; i++) {
    wt_pgrows *r = col_writes[i].rows;
    if (!r->n)
      continue;
    s[(*ns)++] = (wt_db_stmt){.name = col_writes[i].name,
                              .sql = col_writes[i].sql,
                              .nparams = r->ncols,
                              .params = r->params,
                              .lengths = r->lengths,
                              .formats = r->formats};
  }
  if (d->rejections.len) {
    d->wparams[rej] = d->rejections.data;
    s[(*ns)++] = (wt_db_stmt){.name = "rejections_insert",
                              .sql = WK_SQL_REJECTIONS_INSERT,
                              .nparams = 1,
                              .params = &d->wparams[rej]};
  }
  s[(*ns)++] = (wt_db_stmt){.name = "commit", .sql = "COMMIT"};
  return WT_OK;
}

/* --- the outcomes -------------------------------------------------------- */

void wk_decide_outcomes(wk_decide *d, const wk_msg *msgs, size_t n,
                        wk_positions *pos, wk_batch_result *res) {
  bool shared = false;
  for (int p = 0; p < WK_MAX_PARTITIONS; p++)
    if (d->next[p] >= 0)
      pos->next[p] = d->next[p];
  res->commands = n;
  res->duplicates = res->dead = 0;
  /* the outcomes move to res, copied only when a duplicate later in the
   * batch shares one */
  for (size_t i = 0; i < n && !shared; i++)
    shared = d->state[i] == WK_MSG_INDUP;
  for (size_t i = 0; i < n; i++) {
    const char *json = d->state[i] == WK_MSG_INDUP ? d->out_json[d->dup_of[i]]
                                                   : d->out_json[i];
    if (d->state[i] == WK_MSG_DEAD) {
      char key[DLQ_KEY_MAX];
      snprintf(key, sizeof(key), "%.*s", (int)msgs[i].key_len,
               msgs[i].key ? (const char *)msgs[i].key : "");
      add_out(res, WK_OUT_DLQ, key, d->out_json[i]);
      d->out_json[i] = NULL;
      res->dead++;
      continue;
    }
    if (d->state[i] == WK_MSG_DECIDED || d->state[i] == WK_MSG_INDUP)
      res->duplicates++;
    if (!json)
      continue;
    if (!shared && json == d->out_json[i]) {
      add_out(res, WK_OUT_EVENTS, wt_command_key(&d->cmds[i]), d->out_json[i]);
      d->out_json[i] = NULL;
    } else {
      char *copy = strdup(json);
      if (!copy)
        wk_oom(__func__);
      add_out(res, WK_OUT_EVENTS, wt_command_key(&d->cmds[i]), copy);
    }
  }
}
