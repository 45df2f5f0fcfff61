#include "wk_metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wt_buf.h"
#include "wt_db.h"
#include "wt_procmetrics.h"

/* batch size histogram buckets */
static const size_t size_buckets[] = {1, 10, 100, 500, 1000, 5000, 10000};
#define NBUCKETS (sizeof(size_buckets) / sizeof(size_buckets[0]))

struct wk_metrics {
  pthread_mutex_t lock;
  uint64_t by_type[WT_CMD__COUNT][2];
  uint64_t unverified[WT_SIGN_REFUSAL__COUNT];
  uint64_t duplicates, dead, batches, commands, db_errors;
  uint64_t size_bucket[NBUCKETS + 1];
  uint64_t round_trips, statements;
  uint64_t last_round_trips, last_statements, last_size;
  double seconds;
  int64_t lag;
  uint64_t cache[3][3];
  size_t cache_size[3];
};

wk_metrics *wk_metrics_new(void) {
  wk_metrics *m = calloc(1, sizeof(*m));
  if (m)
    pthread_mutex_init(&m->lock, NULL);
  return m;
}

void wk_metrics_destroy(wk_metrics *m) {
  if (!m)
    return;
  pthread_mutex_destroy(&m->lock);
  free(m);
}

double wk_batch_busy_ms(double started_ms, double prev_done_ms,
                        double done_ms) {
  double from = started_ms > prev_done_ms ? started_ms : prev_done_ms;
  return done_ms > from ? done_ms - from : 0.0;
}

void wk_metrics_batch(wk_metrics *m, const wk_batch_result *r,
                      uint64_t statements, double ms) {
  size_t b = 0;
  pthread_mutex_lock(&m->lock);
  for (int t = 0; t < WT_CMD__COUNT; t++) {
    m->by_type[t][0] += r->by_type[t][0];
    m->by_type[t][1] += r->by_type[t][1];
  }
  for (int u = 0; u < WT_SIGN_REFUSAL__COUNT; u++)
    m->unverified[u] += r->unverified[u];
  m->duplicates += r->duplicates;
  m->dead += r->dead;
  m->batches++;
  m->commands += r->commands;
  while (b < NBUCKETS && r->commands > size_buckets[b])
    b++;
  m->size_bucket[b]++;
  m->round_trips += r->round_trips;
  m->statements += statements;
  m->last_round_trips = r->round_trips;
  m->last_statements = statements;
  m->last_size = r->commands;
  m->seconds += ms / 1000.0;
  pthread_mutex_unlock(&m->lock);
}

void wk_metrics_set_lag(wk_metrics *m, int64_t lag) {
  pthread_mutex_lock(&m->lock);
  m->lag = lag;
  pthread_mutex_unlock(&m->lock);
}

void wk_metrics_set_cache(wk_metrics *m, int which, uint64_t hits,
                          uint64_t misses, uint64_t evictions, size_t size) {
  pthread_mutex_lock(&m->lock);
  m->cache[which][0] = hits;
  m->cache[which][1] = misses;
  m->cache[which][2] = evictions;
  m->cache_size[which] = size;
  pthread_mutex_unlock(&m->lock);
}

void wk_metrics_db_error(wk_metrics *m) {
  pthread_mutex_lock(&m->lock);
  m->db_errors++;
  pthread_mutex_unlock(&m->lock);
}

size_t wk_metrics_render(void *ctx, char *buf, size_t size) {
  static const char *const caches[3] = {"users", "projects", "logs"};
  wk_metrics *m = ctx;
  size_t len = 0, cum = 0;
  pthread_mutex_lock(&m->lock);
  wt_snappendf(buf, size, &len,
               "# HELP wt_worker_commands_total Commands decided, by type and "
               "outcome\n# TYPE wt_worker_commands_total counter\n");
  for (int t = 1; t < WT_CMD__COUNT; t++)
    for (int o = 0; o < 2; o++)
      wt_snappendf(
          buf, size, &len,
          "wt_worker_commands_total{type=\"%s\",outcome=\"%s\"} %llu\n",
          wt_cmd_type_name((wt_cmd_type)t), o ? "rejected" : "applied",
          (unsigned long long)m->by_type[t][o]);
  wt_snappendf(buf, size, &len,
               "# HELP wt_worker_unverified_commands_total Commands rejected "
               "forbidden because their producer's signature does not cover "
               "them (docs/security.md), by reason\n"
               "# TYPE wt_worker_unverified_commands_total counter\n");
  for (int u = 1; u < WT_SIGN_REFUSAL__COUNT; u++)
    wt_snappendf(buf, size, &len,
                 "wt_worker_unverified_commands_total{reason=\"%s\"} %llu\n",
                 wt_sign_refusal_name((wt_sign_refusal)u),
                 (unsigned long long)m->unverified[u]);
  wt_snappendf(buf, size, &len,
               "# TYPE wt_worker_duplicates_total counter\n"
               "wt_worker_duplicates_total %llu\n"
               "# TYPE wt_worker_dead_letters_total counter\n"
               "wt_worker_dead_letters_total %llu\n"
               "# TYPE wt_worker_db_errors_total counter\n"
               "wt_worker_db_errors_total %llu\n"
               "# HELP wt_worker_batch_size Commands per batch\n"
               "# TYPE wt_worker_batch_size histogram\n",
               (unsigned long long)m->duplicates, (unsigned long long)m->dead,
               (unsigned long long)m->db_errors);
  for (size_t b = 0; b < NBUCKETS; b++) {
    cum += m->size_bucket[b];
    wt_snappendf(buf, size, &len,
                 "wt_worker_batch_size_bucket{le=\"%zu\"} %zu\n",
                 size_buckets[b], cum);
  }
  wt_snappendf(
      buf, size, &len,
      "wt_worker_batch_size_bucket{le=\"+Inf\"} %llu\n"
      "wt_worker_batch_size_sum %llu\nwt_worker_batch_size_count %llu\n"
      "# HELP wt_worker_batch_round_trips_total DB round trips of "
      "batches\n# TYPE wt_worker_batch_round_trips_total counter\n"
      "wt_worker_batch_round_trips_total %llu\n"
      "# TYPE wt_worker_batch_statements_total counter\n"
      "wt_worker_batch_statements_total %llu\n"
      "# HELP wt_worker_last_batch_round_trips Round trips of the last "
      "batch\n# TYPE wt_worker_last_batch_round_trips gauge\n"
      "wt_worker_last_batch_round_trips %llu\n"
      "# TYPE wt_worker_last_batch_statements gauge\n"
      "wt_worker_last_batch_statements %llu\n"
      "# HELP wt_worker_batch_seconds_total Time the runner spent on "
      "batches, from taking or sending each to its outcomes published; "
      "overlaps and idle time not counted\n"
      "# TYPE wt_worker_batch_seconds_total counter\n"
      "wt_worker_batch_seconds_total %.6f\n"
      "# HELP wt_worker_consumer_lag Messages behind the partitions' "
      "ends\n# TYPE wt_worker_consumer_lag gauge\n"
      "wt_worker_consumer_lag %lld\n",
      (unsigned long long)m->batches, (unsigned long long)m->commands,
      (unsigned long long)m->batches, (unsigned long long)m->round_trips,
      (unsigned long long)m->statements,
      (unsigned long long)m->last_round_trips,
      (unsigned long long)m->last_statements, m->seconds, (long long)m->lag);
  wt_snappendf(buf, size, &len,
               "# TYPE wt_worker_cache_hits_total counter\n"
               "# TYPE wt_worker_cache_misses_total counter\n"
               "# TYPE wt_worker_cache_evictions_total counter\n"
               "# TYPE wt_worker_cache_entries gauge\n");
  for (int c = 0; c < 3; c++)
    wt_snappendf(buf, size, &len,
                 "wt_worker_cache_hits_total{cache=\"%s\"} %llu\n"
                 "wt_worker_cache_misses_total{cache=\"%s\"} %llu\n"
                 "wt_worker_cache_evictions_total{cache=\"%s\"} %llu\n"
                 "wt_worker_cache_entries{cache=\"%s\"} %zu\n",
                 caches[c], (unsigned long long)m->cache[c][0], caches[c],
                 (unsigned long long)m->cache[c][1], caches[c],
                 (unsigned long long)m->cache[c][2], caches[c],
                 m->cache_size[c]);
  pthread_mutex_unlock(&m->lock);
  len += wt_db_stats_prometheus(len < size ? buf + len : NULL,
                                len < size ? size - len : 0);
  len += wt_procmetrics_prometheus(len < size ? buf + len : NULL,
                                   len < size ? size - len : 0);
  return len;
}
