/* wk_runner: wt-worker's runner thread. It takes the batches the main
 * thread queued (decided ahead when they could be), sends batch k+1 as
 * soon as batch k's transaction answered, and publishes k's outcomes while
 * k+1 is written; a batch's outcomes are confirmed delivered as soon as
 * their delivery reports are in, looked at before the next batch is sent
 * (wk_positions.floor keeps them replayable until then). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wk_sql.h"
#include "wk_worker.h"
#include "wt_log.h"

/* refusals of a whole batch (not a lost connection, not a moved position)
 * before its commands are written one by one */
#define REFUSALS_BEFORE_ISOLATING 3

/* Served by rd_kafka_poll/flush, which only the runner thread calls on the
 * producer (and main after the runner has quit). */
void wk_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  wk_worker *w = opaque;
  (void)rk;
  if (w->undelivered > 0)
    w->undelivered--;
  if (m->err) {
    w->failed_deliveries++;
    WT_WARN("outcome not delivered error=\"%s\"", rd_kafka_err2str(m->err));
  }
}

/* Hands the outcomes to the producer; waits only when its queue is full. */
static void produce_outs(wk_worker *w, const wk_batch_result *r) {
  char err[256];
  for (size_t i = 0; i < r->nouts; i++) {
    const wk_out *o = &r->outs[i];
    const char *topic =
        o->topic == WK_OUT_DLQ ? w->topics.dlq : w->topics.events;
    while (wt_kafka_produce(w->producer, topic, o->key, strlen(o->key),
                            o->value, o->len, NULL, 1000, err,
                            sizeof(err)) != WT_OK) {
      WT_WARN("cannot produce outcome error=\"%s\"", err);
      rd_kafka_poll(w->producer, 100);
    }
    w->undelivered++;
  }
}

/* The pending batch's outcomes are all in: nothing of it needs replaying,
 * its floors go. */
static void pending_confirmed(wk_worker *w) {
  wk_batch_result_clear(&w->pending);
  w->has_pending = false;
  wk_floors_confirmed(&w->floors);
  wk_floors_apply(&w->floors, w->pos.floor);
  w->settle_due = true;
}

/* Serves the delivery reports that came in, without waiting: when the
 * pending batch's are all there and none failed, it is confirmed now, not
 * when the next batch is published, so that the batch sent next stores a
 * floor one batch higher. Runner thread, holding state_lock. */
static void take_deliveries(wk_worker *w) {
  if (!w->has_pending)
    return;
  rd_kafka_poll(w->producer, 0);
  if (w->undelivered == 0 && w->failed_deliveries == 0)
    pending_confirmed(w);
}

/* Moves the stored batch_start of the stale partitions whose outcomes are
 * all confirmed (wk_floors_settled) up to their next_offset, in one
 * statement, leaving out the partitions of next[0..n) (their own write
 * does it). So a crash re-reads about the last batch, not the last runs of
 * every partition. Runner thread, holding state_lock, the connection
 * idle. A failure only costs re-reading after a crash: not retried. */
static void settle_rows(wk_worker *w, const wk_msg *next, size_t n) {
  int parts[64];
  size_t np, lp = 0, ln = 0;
  char plist[64 * 12], nlist[64 * 24], err[512];
  const char *params[4];
  PGresult *res = NULL;
  w->settle_due = false;
  np = wk_floors_settled(&w->floors, next, n, parts, 64);
  if (!np)
    return;
  lp += (size_t)snprintf(plist, sizeof(plist), "{");
  ln += (size_t)snprintf(nlist, sizeof(nlist), "{");
  for (size_t i = 0; i < np; i++) {
    int64_t next_offset = w->pos.next[parts[i]];
    if (next_offset < 0)
      continue; /* no row yet */
    lp += (size_t)snprintf(plist + lp, sizeof(plist) - lp, "%s%d",
                           lp > 1 ? "," : "", parts[i]);
    ln += (size_t)snprintf(nlist + ln, sizeof(nlist) - ln, "%s%lld",
                           ln > 1 ? "," : "", (long long)next_offset);
  }
  snprintf(plist + lp, sizeof(plist) - lp, "}");
  snprintf(nlist + ln, sizeof(nlist) - ln, "}");
  if (lp > 1) {
    params[0] = w->group;
    params[1] = w->topics.commands;
    params[2] = plist;
    params[3] = nlist;
    if (wt_db_exec(w->db, "settle_offsets", WK_SQL_SETTLE_OFFSETS, 4, params,
                   &res, err, sizeof(err)) != WT_OK)
      WT_WARN("cannot move stored batch starts up (a crash would re-read "
              "more) error=\"%s\"",
              err);
    PQclear(res);
  }
  wk_floors_rows_settled(&w->floors, parts, np);
  if (np == 64)
    w->settle_due = true; /* more of them */
}

/* Waits until the broker has every outcome of the pending batch; what
 * failed is sent again (readers drop duplicates by project and seq). Then
 * nothing needs replaying: the floors go. On the runner thread, or on the
 * main thread while the runner is idle. */
static void confirm_pending(wk_worker *w) {
  long backoff = 100;
  if (!w->has_pending)
    return;
  for (;;) {
    rd_kafka_resp_err_t fe;
    while ((fe = rd_kafka_flush(w->producer, 1000)) ==
               RD_KAFKA_RESP_ERR__TIMED_OUT &&
           !wk_stop_requested)
      WT_WARN("waiting for Kafka to take the outcomes");
    if (fe == RD_KAFKA_RESP_ERR_NO_ERROR && w->failed_deliveries == 0)
      break;
    if (wk_stop_requested) {
      /* the stored batch_start covers them: the restart publishes them */
      WT_WARN("stopping with outcomes not confirmed by Kafka: they are "
              "published again after the restart");
      wk_batch_result_clear(&w->pending);
      w->has_pending = false;
      return;
    }
    WT_WARN("re-publishing a batch's outcomes failed=%d", w->failed_deliveries);
    wk_sleep_ms(backoff);
    backoff = backoff * 2 > WK_BACKOFF_MAX_MS ? WK_BACKOFF_MAX_MS : backoff * 2;
    w->failed_deliveries = 0;
    produce_outs(w, &w->pending);
  }
  pending_confirmed(w);
}

/* Publishes a committed batch's outcomes without waiting for the broker:
 * the previous batch's are confirmed first; this batch's floors (taken
 * when it finished, wk_floors_finished) stay until its own are. */
static void publish(wk_worker *w, wk_batch_result *r) {
  confirm_pending(w);
  wk_floors_published(&w->floors);
  wk_floors_apply(&w->floors, w->pos.floor);
  w->failed_deliveries = 0;
  produce_outs(w, r);
  /* the outs move to pending; r keeps its counts */
  w->pending.outs = r->outs;
  w->pending.nouts = r->nouts;
  w->pending.outs_cap = r->outs_cap;
  r->outs = NULL;
  r->nouts = r->outs_cap = 0;
  w->has_pending = true;
}

static void update_gauges(wk_worker *w) {
  int64_t lag = 0;
  for (int p = 0; p < WK_MAX_PARTITIONS; p++) {
    int64_t lo = 0, hi = 0;
    if (!w->assigned[p] || w->pos.next[p] < 0)
      continue;
    if (rd_kafka_get_watermark_offsets(w->consumer, w->topics.commands, p, &lo,
                                       &hi) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        hi > w->pos.next[p])
      lag += hi - w->pos.next[p];
  }
  wk_metrics_set_lag(w->metrics, lag);
  for (int c = 0; c < 3; c++) {
    wk_cache_stats s;
    wk_state_cache_stats(w->st, c, &s);
    wk_metrics_set_cache(w->metrics, c, s.hits, s.misses, s.evictions, s.size);
  }
}

/* Around a batch's transaction: its decisions are in the caches, and the
 * state is free for the main thread until the answer is in. */
void wk_on_write(void *ctx, bool before) {
  wk_worker *w = ctx;
  if (before) {
    pthread_mutex_lock(&w->lock);
    w->committed = w->active;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_mutex_unlock(&w->state_lock);
  } else {
    pthread_mutex_lock(&w->state_lock);
  }
}

static void set_active(wk_worker *w, const wk_slot *b) {
  pthread_mutex_lock(&w->lock);
  w->active = b->seq;
  pthread_mutex_unlock(&w->lock);
}

/* A batch PostgreSQL keeps refusing (neither a lost connection nor a
 * moved position): its commands one by one, and one still refused goes to
 * the DLQ with PostgreSQL's message, so that one command the rules let
 * through but the database does not cannot stall its partitions. Holding
 * state_lock; publishes as it goes; b's own result stays empty. */
static wt_err isolate(wk_worker *w, wk_slot *b) {
  WT_WARN("batch refused again and again: writing its %zu commands one by one",
          b->n);
  for (size_t i = 0; i < b->n && !wk_stop_requested; i++) {
    const wk_msg *m = &b->view[i];
    wk_batch_result r;
    char err[1024] = "";
    wt_err e = WT_ERR_DB;
    for (int attempt = 0; attempt < 3; attempt++) {
      wk_batch_result_init(&r);
      e = wk_batch_run(b->batch, m, 1, &w->pos, &r, err, sizeof(err));
      if (e == WT_OK)
        break;
      wk_batch_result_clear(&r);
      if (e == WT_ERR_CONFLICT || e == WT_ERR_DB_CONN)
        return e; /* the caller's paths for those */
      wk_sleep_ms(100);
    }
    if (e != WT_OK) {
      char reason[1100];
      WT_ERROR("command refused by PostgreSQL, to the DLQ partition=%d "
               "offset=%lld error=\"%s\"",
               m->partition, (long long)m->offset, err);
      snprintf(reason, sizeof(reason), "refused by PostgreSQL: %s", err);
      wk_batch_set_dead(b->batch, m, 1, 0, reason);
      wk_batch_result_init(&r);
      e = wk_batch_run(b->batch, m, 1, &w->pos, &r, err, sizeof(err));
      if (e != WT_OK) {
        wk_batch_result_clear(&r);
        return e;
      }
    }
    wk_floors_finished(&w->floors, m, 1);
    wk_floors_apply(&w->floors, w->pos.floor);
    publish(w, &r);
    wk_metrics_batch(w->metrics, &r, 0, 0);
    wk_batch_result_clear(&r);
  }
  return wk_stop_requested ? WT_ERR_DB : WT_OK;
}

/* On the runner thread, after wk_batch_send, holding state_lock unless the
 * batch was sent (then the write hook takes it back): finishes one batch,
 * retrying what can be retried. Returns holding state_lock. */
static wt_err finish_batch(wk_worker *w, wk_slot *b) {
  char err[1024];
  wt_err e = WT_OK;
  int refused = 0;
  bool first = true;
  for (;;) {
    if (refused >= REFUSALS_BEFORE_ISOLATING) {
      refused = 0;
      wk_batch_result_clear(&b->res);
      e = isolate(w, b);
    } else if (first) { /* wk_batch_send ran: sent or not, finish it */
      e = wk_batch_finish(b->batch, b->view, b->n, &w->pos, &b->res, err,
                          sizeof(err));
    } else {
      e = wk_batch_run(b->batch, b->view, b->n, &w->pos, &b->res, err,
                       sizeof(err));
    }
    first = false;
    if (e == WT_OK || wk_stop_requested)
      break;
    if (e != WT_ERR_CONFLICT && e != WT_ERR_DB_CONN)
      refused++;
    wk_metrics_db_error(w->metrics);
    if (e == WT_ERR_CONFLICT) {
      WT_WARN("batch dropped: another worker moved a partition's position "
              "error=\"%s\"",
              err);
      pthread_mutex_lock(&w->lock);
      w->resync_needed = true; /* what is queued or collected is stale too */
      pthread_cond_broadcast(&w->cond);
      pthread_mutex_unlock(&w->lock);
      break;
    }
    WT_WARN("batch not written, retrying error=\"%s\"", err);
    if (e == WT_ERR_DB_CONN) {
      if (!wk_db_ready(w))
        break;
    } else {
      wk_sleep_ms(500);
    }
  }
  return e;
}

/* After a batch's outcomes are handed to Kafka (done_ms): ms= is the
 * batch's own span, from when the runner began on it (b->started_ms) to
 * done_ms; the metric counts it less what overlapped the batch before
 * (prev_done_ms), wk_batch_busy_ms. Neither counts the wait for messages
 * or for the next job. */
static void log_batch(wk_worker *w, wk_slot *b, double prev_done_ms,
                      double done_ms, double publish_ms) {
  const wk_batch_result *r = &b->res;
  wk_metrics_batch(w->metrics, r, b->statements,
                   wk_batch_busy_ms(b->started_ms, prev_done_ms, done_ms));
  WT_INFO("batch size=%zu applied=%zu rejected=%zu duplicates=%zu dead=%zu "
          "round_trips=%llu ms=%.1f parse_ms=%.1f load_ms=%.1f "
          "decide_ms=%.1f%s write_ms=%.1f publish_ms=%.1f",
          r->commands, r->applied, r->rejected, r->duplicates, r->dead,
          (unsigned long long)r->round_trips, done_ms - b->started_ms,
          r->ms_parse, r->ms_load, r->ms_decide, r->prepared ? " (ahead)" : "",
          r->ms_write, publish_ms);
}

/* Takes the oldest job off the queue (done or dropped). */
static void pop_job(wk_worker *w) {
  pthread_mutex_lock(&w->lock);
  w->queue[0] = w->queue[1];
  w->queue[1] = NULL;
  w->nqueued--;
  /* idle now, but still confirming: runner_wait_idle must not slip in
   * between (it would touch the floors the confirmation clears) */
  if (!w->nqueued && w->has_pending)
    w->confirming = true;
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->lock);
}

/* Waits for a job, confirming the last outcomes while there is none.
 * NULL: quit. */
static wk_slot *next_job(wk_worker *w) {
  wk_slot *b = NULL;
  pthread_mutex_lock(&w->lock);
  for (;;) {
    if (w->nqueued && (wk_stop_requested || w->resync_needed)) {
      /* handed over but not started: read again after a restart, or
       * from the stored positions */
      pthread_mutex_unlock(&w->lock);
      wk_drop_speculation(w);
      pop_job(w);
      pthread_mutex_lock(&w->lock);
      continue;
    }
    if (w->nqueued) {
      b = w->queue[0];
      if (w->confirming) { /* set by pop_job: the confirmation can wait */
        w->confirming = false;
        pthread_cond_broadcast(&w->cond);
      }
      break;
    }
    if (w->has_pending || w->settle_due) {
      /* nothing to write next: confirm the outcomes now and settle the
       * rows (has_pending and settle_due are the runner's own: only this
       * thread changes them) */
      w->confirming = true;
      pthread_mutex_unlock(&w->lock);
      confirm_pending(w);
      if (w->settle_due) {
        pthread_mutex_lock(&w->state_lock);
        settle_rows(w, NULL, 0);
        pthread_mutex_unlock(&w->state_lock);
      }
      pthread_mutex_lock(&w->lock);
      w->confirming = false;
      pthread_cond_broadcast(&w->cond);
      continue;
    }
    if (w->quit)
      break;
    pthread_cond_wait(&w->cond, &w->lock);
  }
  pthread_mutex_unlock(&w->lock);
  return b;
}

void *wk_runner_main(void *arg) {
  wk_worker *w = arg;
  wk_slot *cur = NULL;
  double last_done = 0; /* when the batch before was published */
  for (;;) {
    wk_slot *next = NULL;
    bool next_sent = false;
    wt_db_counters c0, c1;
    double tp;
    wt_err e;
    if (!cur) {
      cur = next_job(w); /* waits while there is nothing to do */
      if (!cur)
        break;
      cur->started_ms = wk_now_ms();
      set_active(w, cur);
      pthread_mutex_lock(&w->state_lock);
      (void)wk_batch_send(cur->batch, cur->view, cur->n, &w->pos, &cur->res);
    }
    wt_db_get_counters(w->db, &c0);
    e = finish_batch(w, cur); /* holding state_lock from here */
    wt_db_get_counters(w->db, &c1);
    cur->statements = c1.statements - c0.statements;
    update_gauges(w);
    if (e == WT_OK) { /* before the next one is sent */
      wk_floors_finished(&w->floors, cur->view, cur->n);
      wk_floors_apply(&w->floors, w->pos.floor);
    }
    if (e == WT_ERR_CONFLICT) {
      /* the one queued next is stale too: it goes unwritten */
      pthread_mutex_lock(&w->lock);
      while (w->nqueued > 1) {
        w->queue[--w->nqueued] = NULL;
        pthread_cond_broadcast(&w->cond);
      }
      pthread_mutex_unlock(&w->lock);
      wk_state_discard(w->st);
    } else if (e == WT_OK && !wk_stop_requested) {
      /* the next batch goes out before this one is published */
      pthread_mutex_lock(&w->lock);
      next = w->nqueued > 1 ? w->queue[1] : NULL;
      if (next)
        w->active = next->seq;
      pthread_mutex_unlock(&w->lock);
      if (next) {
        /* the floors it stores as low as they need to be */
        take_deliveries(w);
        if (w->settle_due)
          settle_rows(w, next->view, next->n);
        next->started_ms = wk_now_ms();
        next_sent = wk_batch_send(next->batch, next->view, next->n, &w->pos,
                                  &next->res);
      }
    }
    if (!next_sent)
      pthread_mutex_unlock(&w->state_lock);
    tp = wk_now_ms();
    if (e == WT_OK) {
      double done;
      publish(w, &cur->res);
      done = wk_now_ms();
      log_batch(w, cur, last_done, done, done - tp);
      last_done = done;
    }
    wk_batch_result_clear(&cur->res);
    pop_job(w);
    cur = next;
    if (cur && !next_sent) /* finish_batch wants it held */
      pthread_mutex_lock(&w->state_lock);
  }
  return NULL;
}
