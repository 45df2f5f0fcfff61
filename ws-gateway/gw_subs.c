#include "gw_subs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "gw_members.h"
#include "gw_page.h"
#include "gw_pool.h"
#include "gw_reply.h"
#include "gw_sql.h"
#include "wt_jw.h"
#include "wt_log.h"
#include "wt_lru.h"

#define SNAPSHOT_PAGE GW_PAGE_DEFAULT
#define FILL_MAX 1000

typedef struct stream {
  char project_id[WT_UUID_STR];
  int64_t last_seq; /* -1: unknown until the first event */
  bool filling;
  gw_event *pending; /* sorted by seq, no duplicates */
  uint64_t *conns;   /* subscribed connection ids */
  size_t nconns, cap;
} stream;

struct gw_subs {
  wt_lru *streams; /* project_id -> stream, never evicted */
  size_t nsubs;
};

static void stream_free(void *v) {
  stream *st = v;
  gw_event_free_list(st->pending);
  free(st->conns);
  free(st);
}

gw_subs *gw_subs_new(void) {
  gw_subs *s = calloc(1, sizeof(*s));
  if (!s)
    return NULL;
  s->streams = wt_lru_new(WT_LRU_CAPACITY_MAX, stream_free);
  if (!s->streams) {
    free(s);
    return NULL;
  }
  return s;
}

void gw_subs_destroy(gw_subs *s) {
  if (!s)
    return;
  wt_lru_destroy(s->streams);
  free(s);
}

size_t gw_subs_count(const gw_subs *s) {
  return s->nsubs;
}

static stream *stream_get(gw_subs *s, const char *project_id, bool create) {
  stream *st = wt_lru_peek(s->streams, project_id);
  if (st || !create)
    return st;
  st = calloc(1, sizeof(*st));
  if (!st)
    return NULL;
  snprintf(st->project_id, sizeof(st->project_id), "%s", project_id);
  st->last_seq = -1;
  if (wt_lru_put(s->streams, project_id, st, 0) != WT_OK) {
    free(st);
    return NULL;
  }
  return st;
}

wt_err gw_subs_load_projects(gw_subs *s, PGresult *res) {
  for (int r = 0; r < PQntuples(res); r++) {
    stream *st = stream_get(s, PQgetvalue(res, r, 0), true);
    if (!st)
      return WT_ERR_NOMEM;
    st->last_seq = strtoll(PQgetvalue(res, r, 1), NULL, 10);
  }
  return WT_OK;
}

static void sub_clear(gw_sub *sub) {
  while (sub->held) {
    gw_msg *m = sub->held;
    sub->held = m->next;
    free(m);
  }
  sub->held_tail = NULL;
  sub->held_bytes = 0;
}

static gw_sub *find_sub(gw_pss *pss, const char *project_id) {
  for (int i = 0; i < pss->nsubs; i++)
    if (strcmp(pss->subs[i].project_id, project_id) == 0)
      return &pss->subs[i];
  return NULL;
}

static void stream_leave(gw_subs *s, const char *project_id, uint64_t id) {
  stream *st = stream_get(s, project_id, false);
  if (!st)
    return;
  for (size_t i = 0; i < st->nconns; i++)
    if (st->conns[i] == id) {
      st->conns[i] = st->conns[--st->nconns];
      return;
    }
}

static void drop_sub(gw *g, gw_pss *pss, gw_sub *sub) {
  stream_leave(g->subs, sub->project_id, pss->id);
  sub_clear(sub);
  *sub = pss->subs[--pss->nsubs];
  g->subs->nsubs--;
}

/* --- delivery ------------------------------------------------------------ */

/* A frame for one subscriber: sent, or held while its snapshot loads. */
static void to_subscriber(gw *g, gw_pss *pss, gw_sub *sub, const wt_buf *frame,
                          int64_t seq) {
  /* the frame starts after LWS_PRE bytes of headroom */
  char *payload = frame->data + LWS_PRE;
  size_t len = frame->len - LWS_PRE;
  if (sub->loading) {
    gw_msg *m;
    if (sub->held_bytes + len > (size_t)g->cfg.send_queue_bytes) {
      gw_conn_close(pss, 4008, "send queue full");
      return;
    }
    m = gw_msg_new(payload, len, seq);
    if (!m)
      return;
    if (sub->held_tail)
      sub->held_tail->next = m;
    else
      sub->held = m;
    sub->held_tail = m;
    sub->held_bytes += len;
    return;
  }
  if (seq <= sub->seq)
    return; /* the snapshot has it */
  if (seq != sub->seq + 1)
    WT_WARN("subscriber skips seqs project=%s from=%lld to=%lld",
            sub->project_id, (long long)sub->seq, (long long)seq);
  sub->seq = seq;
  g->metrics.deliveries++;
  if (!gw_conn_send_frame(g, pss, (unsigned char *)payload, len))
    gw_conn_send(g, pss, payload, len);
}

static void end_removed(gw *g, stream *st, const char *user_id) {
  for (size_t i = 0; i < st->nconns;) {
    gw_pss *pss = gw_conns_get(&g->conns, st->conns[i]);
    size_t before = st->nconns;
    if (pss && strcmp(pss->user_id, user_id) == 0)
      gw_subs_removed(g, pss, st->project_id);
    if (st->nconns == before)
      i++;
  }
}

static void deliver(gw *g, stream *st, gw_event *e) {
  wt_buf frame;
  st->last_seq = e->seq;
  if (strcmp(e->type, "member.added") == 0 && e->user_id[0])
    gw_members_apply(g->members, e->project_id, e->user_id, e->role, e->seq);
  else if (strcmp(e->type, "member.removed") == 0 && e->user_id[0])
    gw_members_apply(g->members, e->project_id, e->user_id, WT_ROLE_NONE,
                     e->seq);
  else if (strcmp(e->type, "project.created") == 0 && e->created_by[0])
    gw_members_apply(g->members, e->project_id, e->created_by, WT_ROLE_OWNER,
                     e->seq);
  /* the frame once for every subscriber, with lws's headroom in front */
  wt_buf_init(&frame, GW_REPLY_MAX + LWS_PRE);
  wt_buf_append(&frame, (const char[LWS_PRE]){0}, LWS_PRE);
  gw_event_frame(&frame, e);
  if (wt_buf_ok(&frame))
    for (size_t i = 0; i < st->nconns; i++) {
      gw_pss *pss = gw_conns_get(&g->conns, st->conns[i]);
      gw_sub *sub = pss ? find_sub(pss, st->project_id) : NULL;
      if (sub)
        to_subscriber(g, pss, sub, &frame, e->seq);
    }
  wt_buf_free(&frame);
  if (strcmp(e->type, "member.removed") == 0 && e->user_id[0] &&
      gw_members_role(g->members, e->project_id, e->user_id) == WT_ROLE_NONE)
    end_removed(g, st, e->user_id);
  gw_event_free(e);
}

/* Inserts e in seq order; false (e freed) when that seq is there already. */
static bool pending_insert(stream *st, gw_event *e) {
  gw_event **pp = &st->pending;
  while (*pp && (*pp)->seq < e->seq)
    pp = &(*pp)->next;
  if (*pp && (*pp)->seq == e->seq) {
    gw_event_free(e);
    return false;
  }
  e->next = *pp;
  *pp = e;
  return true;
}

typedef struct fill_job {
  gw_job base;
  char project_id[WT_UUID_STR];
  int64_t after, before;
  wt_err err;
  gw_event *events;
} fill_job;

static void fill_run(gw_job *job, wt_db *db) {
  fill_job *j = (fill_job *)job;
  char after[24], before[24], limit[16], err[512];
  const char *params[4] = {j->project_id, after, before, limit};
  wt_db_stmt st = {.name = "gw_events_after",
                   .sql = GW_SQL_EVENTS_AFTER,
                   .params = params,
                   .nparams = 4};
  gw_event *last = NULL;
  snprintf(after, sizeof(after), "%lld", (long long)j->after);
  snprintf(before, sizeof(before), "%lld", (long long)j->before);
  snprintf(limit, sizeof(limit), "%d", FILL_MAX);
  j->err = gw_db_run(db, &st, 1, err, sizeof(err));
  if (j->err != WT_OK) {
    WT_WARN("gap fill failed project=%s error=\"%s\"", j->project_id, err);
    wt_db_stmts_clear(&st, 1);
    return;
  }
  for (int r = 0; r < PQntuples(st.result); r++) {
    gw_event *e = gw_event_from_row(
        j->project_id, strtoll(PQgetvalue(st.result, r, 0), NULL, 10),
        PQgetvalue(st.result, r, 1), PQgetvalue(st.result, r, 2),
        PQgetvalue(st.result, r, 3),
        strtoll(PQgetvalue(st.result, r, 4), NULL, 10),
        PQgetvalue(st.result, r, 5));
    if (!e)
      continue;
    if (last)
      last->next = e;
    else
      j->events = e;
    last = e;
  }
  wt_db_stmts_clear(&st, 1);
}

static void flush_stream(gw *g, stream *st);

static void fill_done(gw *g, gw_job *job) {
  fill_job *j = (fill_job *)job;
  stream *st =
      j->base.cancelled ? NULL : stream_get(g->subs, j->project_id, false);
  bool progress = false;
  if (!st) {
    gw_event_free_list(j->events);
    free(j);
    return;
  }
  st->filling = false;
  while (j->events) {
    gw_event *e = j->events;
    j->events = e->next;
    e->next = NULL;
    if (e->seq > st->last_seq && pending_insert(st, e))
      progress = true;
    else if (e->seq <= st->last_seq)
      gw_event_free(e);
  }
  if (!progress && st->pending && st->pending->seq > st->last_seq + 1) {
    /* the table does not have them (or cannot be read): go on without */
    WT_WARN("gap not filled, skipped project=%s from=%lld to=%lld",
            st->project_id, (long long)st->last_seq,
            (long long)st->pending->seq);
    st->last_seq = st->pending->seq - 1;
  }
  free(j);
  flush_stream(g, st);
}

static void flush_stream(gw *g, stream *st) {
  while (st->pending && st->pending->seq == st->last_seq + 1) {
    gw_event *e = st->pending;
    st->pending = e->next;
    e->next = NULL;
    deliver(g, st, e);
  }
  if (st->pending && !st->filling) {
    fill_job *j = calloc(1, sizeof(*j));
    if (!j)
      return;
    j->base.run = fill_run;
    j->base.done = fill_done;
    snprintf(j->project_id, sizeof(j->project_id), "%s", st->project_id);
    j->after = st->last_seq;
    j->before = st->pending->seq;
    st->filling = true;
    g->metrics.gap_fills++;
    WT_INFO("gap fill project=%s after=%lld before=%lld", st->project_id,
            (long long)j->after, (long long)j->before);
    if (!gw_pool_submit(g->pool, &j->base)) {
      st->filling = false;
      free(j);
    }
  }
}

void gw_subs_on_event(gw *g, gw_event *e) {
  stream *st = stream_get(g->subs, e->project_id, true);
  if (!st) {
    gw_event_free(e);
    return;
  }
  if (st->last_seq >= 0 && e->seq <= st->last_seq) {
    g->metrics.duplicates++;
    gw_event_free(e);
    return;
  }
  /* membership changes count at once (the reply to the command may have
   * gone out already); the per-entry seq keeps a later replay harmless */
  if (strcmp(e->type, "member.added") == 0 && e->user_id[0])
    gw_members_apply(g->members, e->project_id, e->user_id, e->role, e->seq);
  else if (strcmp(e->type, "project.created") == 0 && e->created_by[0])
    gw_members_apply(g->members, e->project_id, e->created_by, WT_ROLE_OWNER,
                     e->seq);
  if (st->last_seq < 0)
    st->last_seq = e->seq - 1; /* first sight of the project */
  if (!pending_insert(st, e)) {
    g->metrics.duplicates++;
    return;
  }
  flush_stream(g, st);
}

/* --- subscribe ----------------------------------------------------------- */

typedef struct snap_job {
  gw_job base;
  char req_id[GW_REQ_ID_MAX + 1];
  char project_id[WT_UUID_STR];
  bool has_since, reset, found;
  int64_t since, seq;
  size_t replay_max; /* bytes of event frames a replay may queue */
  wt_err err;
  gw_event *events;           /* replay */
  wt_buf logs;                /* snapshot: the items of "logs" */
  char cursor[GW_CURSOR_MAX]; /* snapshot: its next_cursor, or "" */
} snap_job;

static wt_err read_snapshot(snap_job *j, wt_db *db) {
  char limit[16], err[512];
  const char *params[2] = {j->project_id, limit};
  wt_db_stmt st = {.name = "gw_snapshot",
                   .sql = GW_SQL_SNAPSHOT,
                   .params = params,
                   .nparams = 2};
  wt_err e;
  snprintf(limit, sizeof(limit), "%d", SNAPSHOT_PAGE + 1);
  e = gw_db_run(db, &st, 1, err, sizeof(err));
  if (e != WT_OK) {
    WT_WARN("snapshot failed project=%s error=\"%s\"", j->project_id, err);
  } else if (PQntuples(st.result) > 0) {
    j->found = true;
    j->seq = strtoll(PQgetvalue(st.result, 0, 0), NULL, 10);
    wt_jw w;
    /* a project without logs is one row of NULL log columns */
    wt_jw_init(&w, &j->logs);
    wt_jw_arr(&w);
    gw_logs_page(&w, st.result, 0, 1, j->project_id, SNAPSHOT_PAGE, j->cursor);
    wt_jw_arr_end(&w);
  }
  wt_db_stmts_clear(&st, 1);
  return e;
}

static void snap_run(gw_job *job, wt_db *db) {
  snap_job *j = (snap_job *)job;
  char after[24], before[24], limit[16], err[512];
  const char *params[4] = {j->project_id, after, before, limit};
  wt_db_stmt sts[2] = {{.name = "gw_events_after",
                        .sql = GW_SQL_EVENTS_AFTER,
                        .params = params,
                        .nparams = 4},
                       {.name = "gw_project_seq",
                        .sql = GW_SQL_PROJECT_SEQ,
                        .params = params,
                        .nparams = 1}};
  wt_db_stmt *st = &sts[0];
  gw_event *last = NULL;
  size_t bytes = 0;
  int64_t project_seq = -1;
  int rows;
  if (!j->has_since) {
    j->err = read_snapshot(j, db);
    return;
  }
  snprintf(after, sizeof(after), "%lld", (long long)j->since);
  snprintf(before, sizeof(before), "%lld", (long long)INT64_MAX);
  snprintf(limit, sizeof(limit), "%d", GW_SINCE_MAX + 1);
  j->err = gw_db_run(db, sts, 2, err, sizeof(err));
  if (j->err != WT_OK) {
    WT_WARN("replay failed project=%s error=\"%s\"", j->project_id, err);
    wt_db_stmts_clear(sts, 2);
    return;
  }
  rows = PQntuples(st->result);
  if (PQntuples(sts[1].result) > 0)
    project_seq = strtoll(PQgetvalue(sts[1].result, 0, 0), NULL, 10);
  /* beyond the limit, or a since the project never reached (another
   * database, a client's mistake): a snapshot says where things are; live
   * events up to that since would be taken as seen */
  if (rows > GW_SINCE_MAX || j->since > project_seq) {
    wt_db_stmts_clear(sts, 2);
    j->reset = true;
    j->err = read_snapshot(j, db);
    return;
  }
  for (int r = 0; r < rows; r++) {
    /* more than the send queue takes at once: a snapshot instead, so a
     * client that reads is not closed as a slow one */
    bytes += (size_t)PQgetlength(st->result, r, 5) + 512;
    if (bytes > j->replay_max) {
      wt_db_stmts_clear(sts, 2);
      j->reset = true;
      j->err = read_snapshot(j, db);
      return;
    }
  }
  j->found = true;
  j->seq = j->since;
  for (int r = 0; r < rows; r++) {
    gw_event *e = gw_event_from_row(
        j->project_id, strtoll(PQgetvalue(st->result, r, 0), NULL, 10),
        PQgetvalue(st->result, r, 1), PQgetvalue(st->result, r, 2),
        PQgetvalue(st->result, r, 3),
        strtoll(PQgetvalue(st->result, r, 4), NULL, 10),
        PQgetvalue(st->result, r, 5));
    if (!e)
      continue;
    j->seq = e->seq;
    if (last)
      last->next = e;
    else
      j->events = e;
    last = e;
  }
  wt_db_stmts_clear(sts, 2);
}

static void snap_free(snap_job *j) {
  gw_event_free_list(j->events);
  wt_buf_free(&j->logs);
  free(j);
}

static void snap_done(gw *g, gw_job *job) {
  snap_job *j = (snap_job *)job;
  gw_pss *pss =
      j->base.cancelled ? NULL : gw_conns_get(&g->conns, j->base.conn_id);
  gw_sub *sub;
  wt_buf b;
  wt_jw w;
  if (!pss) {
    snap_free(j);
    return;
  }
  gw_request_done(pss);
  sub = find_sub(pss, j->project_id);
  if (!sub || !sub->loading) { /* unsubscribed meanwhile */
    snap_free(j);
    return;
  }
  if (j->err != WT_OK || !j->found) {
    drop_sub(g, pss, sub);
    gw_reply_error(
        g, pss, j->req_id, j->err != WT_OK ? "unavailable" : "not_found",
        j->err != WT_OK ? "the database did not answer" : "no such project");
    snap_free(j);
    return;
  }
  wt_buf_init(&b, GW_REPLY_MAX);
  for (gw_event *e = j->events; e; e = e->next) {
    wt_buf_reset(&b);
    gw_event_frame(&b, e);
    g->metrics.deliveries++;
    gw_conn_send_buf(g, pss, &b);
  }
  sub->seq = j->seq;
  wt_buf_reset(&b);
  wt_jw_init(&w, &b);
  gw_reply_open(&w, "subscribed", j->req_id);
  wt_jw_kstr(&w, "project_id", j->project_id);
  wt_jw_ki64(&w, "seq", j->seq);
  if (!j->has_since || j->reset) {
    if (!wt_buf_ok(&j->logs))
      b.failed = true; /* too large: gw_conn_send_buf says so */
    else
      wt_jw_kraw(&w, "logs", j->logs.data, j->logs.len);
    wt_jw_kstr(&w, "next_cursor", j->cursor[0] ? j->cursor : NULL);
  }
  if (j->reset)
    wt_jw_kbool(&w, "reset", true);
  wt_jw_obj_end(&w);
  gw_conn_send_buf(g, pss, &b);
  wt_buf_free(&b);
  /* what the stream delivered meanwhile, past the snapshot */
  sub->loading = false;
  while (sub->held) {
    gw_msg *m = sub->held;
    sub->held = m->next;
    if (m->seq > sub->seq) {
      sub->seq = m->seq;
      g->metrics.deliveries++;
      gw_conn_send_msg(g, pss, m);
    } else {
      free(m);
    }
  }
  sub->held_tail = NULL;
  sub->held_bytes = 0;
  snap_free(j);
}

static bool stream_reserve(stream *st) {
  uint64_t *n;
  if (st->nconns < st->cap)
    return true;
  n = realloc(st->conns, (st->cap * 2 + 4) * sizeof(*n));
  if (!n)
    return false;
  st->conns = n;
  st->cap = st->cap * 2 + 4;
  return true;
}

void gw_subs_subscribe(gw *g, gw_pss *pss, const char *req_id,
                       const char *project_id, bool has_since, int64_t since) {
  gw_sub *sub = find_sub(pss, project_id);
  stream *st;
  snap_job *j;
  if (gw_members_role(g->members, project_id, pss->user_id) == WT_ROLE_NONE) {
    gw_reply_error(g, pss, req_id, "not_found", "no such project");
    return;
  }
  if (sub)
    drop_sub(g, pss, sub); /* subscribing again starts over */
  if (pss->nsubs >= g->cfg.max_subscriptions) {
    gw_reply_error(g, pss, req_id, "rate_limited", "too many subscriptions");
    return;
  }
  st = stream_get(g->subs, project_id, true);
  j = calloc(1, sizeof(*j));
  if (!st || !j || !stream_reserve(st)) {
    free(j);
    gw_reply_error(g, pss, req_id, "unavailable", "out of memory");
    return;
  }
  if (pss->nsubs == pss->subs_cap) {
    /* grown one step at a time: most connections follow one or two
     * projects, and an idle connection's memory is what 10k of them cost */
    int cap = pss->subs_cap ? pss->subs_cap * 2 : 1;
    gw_sub *grown;
    if (cap > g->cfg.max_subscriptions)
      cap = g->cfg.max_subscriptions;
    grown = realloc(pss->subs, (size_t)cap * sizeof(gw_sub));
    if (!grown) {
      free(j);
      gw_reply_error(g, pss, req_id, "unavailable", "out of memory");
      return;
    }
    pss->subs = grown;
    pss->subs_cap = cap;
  }
  sub = &pss->subs[pss->nsubs++];
  memset(sub, 0, sizeof(*sub));
  snprintf(sub->project_id, sizeof(sub->project_id), "%s", project_id);
  sub->loading = true;
  st->conns[st->nconns++] = pss->id;
  g->subs->nsubs++;

  j->base.run = snap_run;
  j->base.done = snap_done;
  j->base.conn_id = pss->id;
  snprintf(j->req_id, sizeof(j->req_id), "%s", req_id);
  snprintf(j->project_id, sizeof(j->project_id), "%s", project_id);
  j->has_since = has_since;
  j->since = since;
  j->replay_max = (size_t)g->cfg.send_queue_bytes / 2;
  wt_buf_init(&j->logs, GW_REPLY_MAX);
  pss->inflight++;
  if (!gw_pool_submit(g->pool, &j->base)) {
    pss->inflight--;
    drop_sub(g, pss, find_sub(pss, project_id));
    snap_free(j);
    gw_reply_error(g, pss, req_id, "unavailable", "shutting down");
  }
}

void gw_subs_unsubscribe(gw *g, gw_pss *pss, const char *req_id,
                         const char *project_id) {
  gw_sub *sub = find_sub(pss, project_id);
  wt_buf b;
  wt_jw w;
  if (!sub) {
    gw_reply_error(g, pss, req_id, "not_found", "not subscribed");
    return;
  }
  drop_sub(g, pss, sub);
  wt_buf_init(&b, GW_REPLY_SMALL);
  wt_jw_init(&w, &b);
  gw_reply_open(&w, "unsubscribed", req_id);
  wt_jw_kstr(&w, "project_id", project_id);
  wt_jw_obj_end(&w);
  gw_conn_send_buf(g, pss, &b);
  wt_buf_free(&b);
}

void gw_subs_removed(gw *g, gw_pss *pss, const char *project_id) {
  gw_sub *sub = find_sub(pss, project_id);
  wt_buf b;
  wt_jw w;
  if (!sub)
    return;
  drop_sub(g, pss, sub);
  wt_buf_init(&b, GW_REPLY_SMALL);
  wt_jw_init(&w, &b);
  gw_reply_open(&w, "unsubscribed", NULL);
  wt_jw_kstr(&w, "project_id", project_id);
  wt_jw_kstr(&w, "reason", "removed");
  wt_jw_obj_end(&w);
  gw_conn_send_buf(g, pss, &b);
  wt_buf_free(&b);
}

void gw_subs_conn_closed(gw *g, gw_pss *pss) {
  while (pss->nsubs > 0)
    drop_sub(g, pss, &pss->subs[pss->nsubs - 1]);
  free(pss->subs);
  pss->subs = NULL;
  pss->subs_cap = 0;
}
