/* wt-worker: consumes wt.commands in the consumer group wt-worker, decides
 * each batch with the permission rules, writes PostgreSQL exactly once per
 * command (one transaction, one pipeline) and publishes the outcomes on
 * wt.events and what it cannot parse on wt.dlq. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wk_sql.h"
#include "wk_worker.h"
#include "wt_buf.h"
#include "wt_config.h"
#include "wt_http_metrics.h"
#include "wt_kafka.h"
#include "wt_log.h"

atomic_int wk_stop_requested;

static void on_signal(int sig) {
  (void)sig;
  wk_stop_requested = 1;
}

void wk_sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

double wk_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Connects or reconnects to PostgreSQL, retrying with capped backoff until
 * it answers or a stop is requested. */
bool wk_db_ready(wk_worker *w) {
  long backoff = 100;
  char err[512];
  while (!wk_stop_requested) {
    wt_err e = w->db ? wt_db_reconnect(w->db, err, sizeof(err))
                     : wt_db_connect(w->cfg.database_url, "worker",
                                     w->cfg.log_sql, &w->db, err, sizeof(err));
    if (e == WT_OK)
      return true;
    /* at start, a PostgreSQL still coming up is expected (INFO) */
    WT_LOG(w->running ? WT_LOG_WARN
                      : wt_log_startup_level((long)(wk_now_ms() - w->start_ms)),
           "PostgreSQL unreachable, retrying in %ld ms error=\"%s\"", backoff,
           err);
    wk_sleep_ms(backoff);
    backoff = backoff * 2 > WK_BACKOFF_MAX_MS ? WK_BACKOFF_MAX_MS : backoff * 2;
  }
  return false;
}

/* --- partitions -------------------------------------------------------- */

/* Reads the stored positions of parts and sets where to start: the start
 * of the last committed batch, so that its outcomes are published again
 * (a crash may have come before they were). */
static bool load_positions(wk_worker *w,
                           rd_kafka_topic_partition_list_t *parts) {
  char list[8192];
  size_t len = 0;
  const char *params[3];
  PGresult *res = NULL;
  char err[512];

  len += (size_t)snprintf(list, sizeof(list), "{");
  for (int i = 0; i < parts->cnt && len < sizeof(list) - 16; i++)
    len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%d",
                            i ? "," : "", parts->elems[i].partition);
  snprintf(list + len, sizeof(list) - len, "}");
  params[0] = w->group;
  params[1] = w->topics.commands;
  params[2] = list;
  for (;;) {
    wt_err e = wt_db_exec(w->db, "load_offsets", WK_SQL_LOAD_OFFSETS, 3, params,
                          &res, err, sizeof(err));
    if (e == WT_OK)
      break;
    WT_WARN("cannot read stored offsets error=\"%s\"", err);
    if (e == WT_ERR_DB_CONN ? !wk_db_ready(w) : wk_stop_requested)
      return false; /* stopping */
    if (e != WT_ERR_DB_CONN)
      wk_sleep_ms(500);
  }
  for (int i = 0; i < parts->cnt; i++) {
    rd_kafka_topic_partition_t *tp = &parts->elems[i];
    int p = tp->partition;
    if (p < 0 || p >= WK_MAX_PARTITIONS)
      continue;
    w->pos.next[p] = -1;
    tp->offset = RD_KAFKA_OFFSET_BEGINNING; /* never processed: all of it */
    for (int r = 0; r < PQntuples(res); r++) {
      if (atoi(PQgetvalue(res, r, 0)) != p)
        continue;
      tp->offset = strtoll(PQgetvalue(res, r, 1), NULL, 10);
      w->pos.next[p] = strtoll(PQgetvalue(res, r, 2), NULL, 10);
    }
    w->assigned[p] = true;
    WT_INFO("partition assigned partition=%d start=%lld stored_next=%lld", p,
            (long long)tp->offset, (long long)w->pos.next[p]);
  }
  PQclear(res);
  return true;
}

/* After the offset guard refused a batch (another worker moved a
 * partition, or our own commit whose answer was lost): on the main thread,
 * with the runner idle and nothing polled since it asked. Forgets what is
 * cached of the assigned partitions and of users (someone else may have
 * changed them), reads the stored positions and goes back to them, so
 * that nothing after them is skipped and the outcomes from batch_start
 * are published again. false: not done (retried by the caller). */
static bool resync(wk_worker *w) {
  rd_kafka_topic_partition_list_t *parts = NULL;
  rd_kafka_error_t *error;
  bool ok = false;
  if (rd_kafka_assignment(w->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return false;
  pthread_mutex_lock(&w->state_lock);
  for (int i = 0; i < parts->cnt; i++)
    if (parts->elems[i].partition >= 0 &&
        parts->elems[i].partition < WK_MAX_PARTITIONS)
      (void)wk_state_forget_partition(w->st, parts->elems[i].partition);
  wk_state_forget_users(w->st);
  if (parts->cnt == 0 || load_positions(w, parts)) {
    ok = true;
    if (parts->cnt > 0) {
      error = rd_kafka_seek_partitions(w->consumer, parts, 5000);
      if (error) {
        WT_WARN("seek to the stored positions failed error=\"%s\"",
                rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        ok = false;
      }
    }
  }
  pthread_mutex_unlock(&w->state_lock);
  rd_kafka_topic_partition_list_destroy(parts);
  return ok;
}

/* Destroys the slot's messages of one partition (-1: all of them). */
void wk_drop_messages(wk_slot *b, int partition) {
  size_t k = 0;
  for (size_t i = 0; i < b->n; i++) {
    if (partition < 0 || b->msgs[i]->partition == partition)
      rd_kafka_message_destroy(b->msgs[i]);
    else
      b->msgs[k++] = b->msgs[i];
  }
  b->n = k;
}

/* Waits until the runner has finished its batch (written and published)
 * and is not confirming deliveries. */
static void runner_wait_idle(wk_worker *w) {
  pthread_mutex_lock(&w->lock);
  while (w->nqueued || w->confirming)
    pthread_cond_wait(&w->cond, &w->lock);
  pthread_mutex_unlock(&w->lock);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
  wk_worker *w = opaque;
  bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  /* the batch in flight is finished first: it holds the connection and
   * moves the positions */
  runner_wait_idle(w);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    bool loaded;
    atomic_store(&w->joined, true); /* a member now, even with no partition */
    pthread_mutex_lock(&w->state_lock);
    loaded = load_positions(w, parts);
    pthread_mutex_unlock(&w->state_lock);
    if (!loaded)
      return; /* stopping */
    if (coop)
      rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
    else
      rd_kafka_assign(rk, parts);
    return;
  }
  /* revoked: abandon the collected messages of those partitions, forget
   * their projects and every user (another worker may change them now) */
  pthread_mutex_lock(&w->state_lock);
  wk_state_forget_users(w->st);
  for (int i = 0; i < parts->cnt; i++) {
    int p = parts->elems[i].partition;
    if (p < 0 || p >= WK_MAX_PARTITIONS)
      continue;
    wk_drop_messages(&w->slots[w->collecting], p);
    w->assigned[p] = false;
    w->pos.next[p] = -1;
    wk_floors_forget(&w->floors, p);
    w->pos.floor[p] = -1;
    WT_INFO("partition revoked partition=%d cache_dropped=%zu", p,
            wk_state_forget_partition(w->st, p));
  }
  pthread_mutex_unlock(&w->state_lock);
  if (coop)
    rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
  else
    rd_kafka_assign(rk, NULL);
}

/* --- the loop ---------------------------------------------------------- */

static bool resync_needed(wk_worker *w) {
  bool v;
  pthread_mutex_lock(&w->lock);
  v = w->resync_needed;
  pthread_mutex_unlock(&w->lock);
  return v;
}

static bool runner_busy(wk_worker *w) {
  bool busy;
  pthread_mutex_lock(&w->lock);
  busy = w->nqueued > 0;
  pthread_mutex_unlock(&w->lock);
  return busy;
}

/* Collects up to WT_BATCH_MAX messages: after the first one, for
 * WT_BATCH_WAIT_MS, and on for as long as the runner is still busy with
 * the previous batch (under load, batches grow instead of queueing). */
static void collect(wk_worker *w, wk_slot *b) {
  double first = 0;
  while (!wk_stop_requested && b->n < (size_t)w->cfg.batch_max) {
    int wait = 100;
    rd_kafka_message_t *m;
    if (b->n) {
      double left = first + w->cfg.batch_wait_ms - wk_now_ms();
      if (left <= 0 && !runner_busy(w))
        break;
      if (resync_needed(w))
        break; /* dropped anyway */
      wait = left > 0 ? (int)left + 1 : 1;
    }
    m = rd_kafka_consumer_poll(w->consumer, wait);
    if (!m)
      continue;
    if (m->err) {
      if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
        /* e.g. FENCED_INSTANCE_ID: another worker runs with our
         * WT_WORKER_ID; this consumer is dead, so the process stops */
        char reason[512];
        rd_kafka_fatal_error(w->consumer, reason, sizeof(reason));
        WT_ERROR("consumer failed for good, stopping error=\"%s\"%s", reason,
                 w->cfg.worker_id[0] ? " (is WT_WORKER_ID unique?)" : "");
        w->fatal = true;
        atomic_store(&w->joined, false);
        wk_stop_requested = 1;
      } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        WT_WARN("consumer error=\"%s\"", rd_kafka_message_errstr(m));
      }
      rd_kafka_message_destroy(m);
      continue;
    }
    if (!b->n)
      first = wk_now_ms();
    b->msgs[b->n++] = m;
  }
}

/* On the main thread: decides the collected batch against the caches as
 * the newest batch handed to the runner leaves them (once that one's
 * decisions are in), when it can be decided from the caches alone. */
static void speculate(wk_worker *w, wk_slot *b) {
  bool go;
  pthread_mutex_lock(&w->lock);
  while (w->nqueued && w->committed < w->queue[w->nqueued - 1]->seq &&
         !wk_stop_requested && !w->resync_needed)
    pthread_cond_wait(&w->cond, &w->lock);
  go = !wk_stop_requested && !w->resync_needed;
  pthread_mutex_unlock(&w->lock);
  if (!go)
    return; /* the batch will not run */
  pthread_mutex_lock(&w->state_lock);
  (void)wk_batch_prepare(b->batch, b->view, b->n, &w->pos);
  pthread_mutex_unlock(&w->state_lock);
}

/* Forgets what was decided ahead for a batch that will not run. */
void wk_drop_speculation(wk_worker *w) {
  pthread_mutex_lock(&w->state_lock);
  wk_state_discard(w->st);
  pthread_mutex_unlock(&w->state_lock);
}

/* A slot the runner does not hold; its messages (of a finished or dropped
 * batch) go. */
static wk_slot *free_slot(wk_worker *w) {
  int pick = -1;
  pthread_mutex_lock(&w->lock);
  for (int i = 0; i < WK_SLOTS && pick < 0; i++) {
    bool held = false;
    for (size_t q = 0; q < w->nqueued; q++)
      held = held || w->queue[q] == &w->slots[i];
    if (!held)
      pick = i;
  }
  w->collecting = pick;
  pthread_mutex_unlock(&w->lock);
  wk_drop_messages(&w->slots[pick], -1);
  return &w->slots[pick];
}

/* The runner met a moved position: what is collected may be stale, so it
 * goes; once the runner is idle (it drops what is queued), back to the
 * stored positions before anything more is polled. */
static void do_resync(wk_worker *w, wk_slot *b) {
  wk_drop_speculation(w);
  wk_drop_messages(b, -1);
  runner_wait_idle(w);
  while (!resync(w) && !wk_stop_requested)
    wk_sleep_ms(500);
  pthread_mutex_lock(&w->lock);
  w->resync_needed = false;
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->lock);
}

/* The main loop: collect, parse and decide ahead one batch while the
 * runner works on the ones before, then hand it over. */
static void consume(wk_worker *w) {
  while (!wk_stop_requested) {
    wk_slot *b = free_slot(w);
    bool drop;
    if (resync_needed(w)) {
      do_resync(w, b);
      continue;
    }
    collect(w, b);
    if (!b->n)
      continue;
    for (size_t i = 0; i < b->n; i++) {
      rd_kafka_message_t *m = b->msgs[i];
      rd_kafka_headers_t *hdrs = NULL;
      b->view[i] = (wk_msg){.partition = m->partition,
                            .offset = m->offset,
                            .key = m->key,
                            .key_len = m->key_len,
                            .value = m->payload,
                            .len = m->len};
      if (w->keys && rd_kafka_message_headers(m, &hdrs) != 0)
        hdrs = NULL; /* none */
      wk_msg_check_signer(&b->view[i], w->keys, hdrs);
    }
    wk_batch_parse(b->batch, b->view, b->n);
    speculate(w, b);
    /* the check and the hand-over under one lock: a resync asked for in
     * between would otherwise let a stale batch through */
    pthread_mutex_lock(&w->lock);
    while (w->nqueued == 2 && !w->resync_needed && !wk_stop_requested)
      pthread_cond_wait(&w->cond, &w->lock);
    drop = w->resync_needed || wk_stop_requested;
    if (!drop) {
      b->seq = ++w->submitted;
      wk_batch_result_init(&b->res);
      w->queue[w->nqueued++] = b;
      pthread_cond_broadcast(&w->cond);
    }
    pthread_mutex_unlock(&w->lock);
    if (drop) {
      /* resync: read again from the stored positions (at the top);
       * stopping: not started, read again after a restart */
      wk_drop_speculation(w);
      wk_drop_messages(b, -1);
    }
  }
  runner_wait_idle(w);
}

static int setup(wk_worker *w, char *err, size_t errsize) {
  const char *names[3];
  wt_kafka_conn conn;
  char session[16], heartbeat[16], max_poll[16];
  /* Static membership (WT_WORKER_ID set): a worker that restarts within
   * the session time-out gets its partitions back at once, without a
   * rebalance; one that stays away loses them after the time-out (it sends
   * no LeaveGroup when it stops). The heartbeat: a third of it, Kafka's
   * advice. librdkafka wants max.poll.interval.ms >= the time-out. */
  /* clang-format off */
  const char *consumer_extra[9] = {
      "session.timeout.ms",    session,
      "heartbeat.interval.ms", heartbeat,
      "max.poll.interval.ms",  max_poll,
      NULL};
  /* clang-format on */
  rd_kafka_topic_partition_list_t *sub;
  wk_state_caps caps = {.users = (size_t)w->cfg.cache_users,
                        .projects = (size_t)w->cfg.cache_projects,
                        .logs = (size_t)w->cfg.cache_logs,
                        .batch_max = (size_t)w->cfg.batch_max};

  snprintf(session, sizeof(session), "%d", w->cfg.worker_session_timeout_ms);
  snprintf(heartbeat, sizeof(heartbeat), "%d",
           w->cfg.worker_session_timeout_ms / 3);
  snprintf(max_poll, sizeof(max_poll), "%d",
           w->cfg.worker_session_timeout_ms > 300000
               ? w->cfg.worker_session_timeout_ms
               : 300000);
  if (w->cfg.worker_id[0]) {
    consumer_extra[6] = "group.instance.id";
    consumer_extra[7] = w->cfg.worker_id;
  }
  w->start_ms = wk_now_ms();
  wt_kafka_topic_names(w->cfg.topic_prefix, &w->topics);
  snprintf(w->group, sizeof(w->group), "%s-worker", w->cfg.topic_prefix);
  for (int p = 0; p < WK_MAX_PARTITIONS; p++)
    w->pos.next[p] = w->pos.floor[p] = -1;
  wk_floors_init(&w->floors);
  if (!wk_db_ready(w))
    return -1;
  w->st = wk_state_new(&caps);
  w->metrics = wk_metrics_new();
  if (!w->st || !w->metrics) {
    wt_errf(err, errsize, "out of memory");
    return -1;
  }
  for (int i = 0; i < WK_SLOTS; i++) {
    wk_slot *b = &w->slots[i];
    b->msgs = calloc((size_t)w->cfg.batch_max, sizeof(rd_kafka_message_t *));
    b->view = calloc((size_t)w->cfg.batch_max, sizeof(*b->view));
    b->batch =
        wk_batch_new(w->db, w->st, &w->cfg, w->group, w->topics.commands);
    if (b->batch)
      wk_batch_set_write_hook(b->batch, wk_on_write, w);
    if (!b->msgs || !b->view || !b->batch) {
      wt_errf(err, errsize, "out of memory");
      return -1;
    }
  }
  wt_kafka_conn_from_config(&w->cfg, &conn);
  w->producer = wt_kafka_producer_new(&conn, "wt-worker", wk_on_delivery, w,
                                      NULL, err, errsize);
  if (!w->producer)
    return -1;
  names[0] = w->topics.commands;
  names[1] = w->topics.events;
  names[2] = w->topics.dlq;
  while (wt_kafka_ensure_topics(w->producer, names, 3, w->cfg.kafka_partitions,
                                10000, err, errsize) != WT_OK) {
    /* a refused login stays refused: fail the start, do not wait */
    if (wk_stop_requested ||
        wt_kafka_login_error(w->producer, err, errsize) != WT_OK)
      return -1;
    WT_LOG(wt_log_startup_level((long)(wk_now_ms() - w->start_ms)),
           "Kafka not ready, retrying error=\"%s\"", err);
    wk_sleep_ms(1000);
  }
  w->consumer =
      wt_kafka_consumer_new(&conn, w->group, "wt-worker", consumer_extra,
                            on_rebalance, w, err, errsize);
  if (!w->consumer)
    return -1;
  sub = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(sub, w->topics.commands,
                                    RD_KAFKA_PARTITION_UA);
  if (rd_kafka_subscribe(w->consumer, sub)) {
    rd_kafka_topic_partition_list_destroy(sub);
    wt_errf(err, errsize, "cannot subscribe to %s", w->topics.commands);
    return -1;
  }
  rd_kafka_topic_partition_list_destroy(sub);
  return 0;
}

/* Ready: PostgreSQL answers (a connection attempt of its own: the
 * worker's connection belongs to its threads), the consumer has joined
 * its group and is still a member, and the broker answers. On the metrics
 * server's thread; each check waits 2 s at most. */
static bool worker_ready(wk_worker *w) {
  const char *const keys[] = {"dbname", "connect_timeout", NULL};
  const char *const values[] = {w->cfg.database_url, "2", NULL};
  const rd_kafka_metadata_t *md = NULL;
  char *member;
  bool member_ok;
  if (!atomic_load(&w->joined) || PQpingParams(keys, values, 1) != PQPING_OK)
    return false;
  member = rd_kafka_memberid(w->consumer);
  member_ok = member && *member;
  rd_kafka_mem_free(w->consumer, member);
  if (!member_ok || rd_kafka_metadata(w->consumer, 0, NULL, &md, 2000) !=
                        RD_KAFKA_RESP_ERR_NO_ERROR)
    return false;
  rd_kafka_metadata_destroy(md);
  return true;
}

/* GET /readyz (wt_http_metrics' ready callback). */
static bool ready_probe(void *ctx) {
  return worker_ready(ctx);
}

/* /metrics: the worker's metrics, the process's, and wt_worker_ready. */
static size_t render_metrics(void *ctx, char *buf, size_t size) {
  wk_worker *w = ctx;
  size_t len = wk_metrics_render(w->metrics, buf, size);
  wt_snappendf(buf, size, &len,
               "# HELP wt_worker_ready 1 when PostgreSQL answers and the "
               "worker is a member of its consumer group with the broker "
               "answering\n# TYPE wt_worker_ready gauge\nwt_worker_ready %d\n",
               worker_ready(w) ? 1 : 0);
  return len;
}

static void usage(FILE *out) {
  fprintf(out,
          "Usage: wt-worker\n"
          "Consumes %s-prefixed commands in the consumer group PREFIX-worker "
          "(wt-worker),\ndecides them,\nwrites PostgreSQL in batches exactly "
          "once and "
          "publishes the outcomes.\nSIGTERM/SIGINT: finish the batch, exit "
          "0. Metrics: http://HOST:WT_METRICS_PORT/metrics\n\n",
          "WT_TOPIC_PREFIX");
  wt_config_describe(out);
}

int main(int argc, char **argv) {
  static wk_worker w;
  wt_http_metrics *http = NULL;
  char err[1024] = "";
  int rc = 1;

  if (argc > 1) {
    bool help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
    usage(help ? stdout : stderr);
    return help ? 0 : 2;
  }
  if (!wt_config_start("wt-worker", "worker", &w.cfg))
    return 2;
  if (w.cfg.producer_keys_file[0] &&
      wt_sign_keys_load(w.cfg.producer_keys_file, &w.keys, err, sizeof(err)) !=
          WT_OK) {
    fprintf(stderr,
            "wt-worker: configuration error: WT_PRODUCER_KEYS_FILE: %s\n", err);
    return 2;
  }
  if (w.keys)
    WT_INFO("command signatures checked producers=%zu",
            wt_sign_keys_count(w.keys));
  else
    WT_WARN("no WT_PRODUCER_KEYS_FILE: command signatures are not checked "
            "and system commands (user.*) are rejected");
  wk_batch_result_init(&w.pending);
  pthread_mutex_init(&w.lock, NULL);
  pthread_mutex_init(&w.state_lock, NULL);
  pthread_cond_init(&w.cond, NULL);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGPIPE, SIG_IGN);
  if (setup(&w, err, sizeof(err)) != 0) {
    if (!wk_stop_requested)
      WT_ERROR("cannot start error=\"%s\"", err);
    rc = wk_stop_requested ? 0 : 1;
    goto out;
  }
  if (w.cfg.metrics_port &&
      wt_http_metrics_start_ready("0.0.0.0", w.cfg.metrics_port, render_metrics,
                                  ready_probe, &w, &http, err,
                                  sizeof(err)) != WT_OK) {
    WT_ERROR("metrics listener error=\"%s\"", err);
    goto out;
  }
  WT_INFO("worker started group=%s instance=%s session_timeout_ms=%d "
          "topic=%s batch_max=%d batch_wait_ms=%d metrics_port=%d",
          w.group, w.cfg.worker_id[0] ? w.cfg.worker_id : "(dynamic)",
          w.cfg.worker_session_timeout_ms, w.topics.commands, w.cfg.batch_max,
          w.cfg.batch_wait_ms, w.cfg.metrics_port);
  w.running = true; /* before the runner, which reads it */
  if (pthread_create(&w.runner, NULL, wk_runner_main, &w) != 0) {
    WT_ERROR("cannot start the batch thread");
    goto out;
  }
  w.runner_started = true;
  consume(&w);
  WT_INFO("stopping");
  rc = w.fatal ? 1 : 0;
out:
  if (w.runner_started) {
    runner_wait_idle(&w);
    pthread_mutex_lock(&w.lock);
    w.quit = true;
    pthread_cond_broadcast(&w.cond);
    pthread_mutex_unlock(&w.lock);
    pthread_join(w.runner, NULL);
  }
  for (int i = 0; i < WK_SLOTS; i++)
    wk_drop_messages(&w.slots[i], -1);
  wk_batch_result_clear(&w.pending);
  wt_http_metrics_stop(http); /* its readiness check uses the consumer */
  http = NULL;
  if (w.consumer) {
    rd_kafka_consumer_close(w.consumer);
    rd_kafka_destroy(w.consumer);
  }
  if (w.producer) {
    rd_kafka_flush(w.producer, 10000);
    rd_kafka_destroy(w.producer);
  }
  for (int i = 0; i < WK_SLOTS; i++) {
    wk_batch_destroy(w.slots[i].batch);
    free(w.slots[i].msgs);
    free(w.slots[i].view);
  }
  wk_state_destroy(w.st);
  wk_metrics_destroy(w.metrics);
  wt_sign_keys_free(w.keys);
  wt_db_destroy(w.db);
  pthread_mutex_destroy(&w.lock);
  pthread_mutex_destroy(&w.state_lock);
  pthread_cond_destroy(&w.cond);
  return rc;
}
