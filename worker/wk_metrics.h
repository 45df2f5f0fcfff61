/* wk_metrics: the worker's counters and their Prometheus text. Updated by
 * the worker thread after each batch, read by the metrics server thread:
 * every access holds the lock. */
#ifndef WK_METRICS_H
#define WK_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "wk_batch.h"

typedef struct wk_metrics wk_metrics;

wk_metrics *wk_metrics_new(void);
void wk_metrics_destroy(wk_metrics *m);

/* The milliseconds a batch counts in wt_worker_batch_seconds_total: from
 * when the runner began working on it (started_ms) to when its outcomes
 * were handed to Kafka (done_ms), less the part before prev_done_ms (the
 * batch before was still being published: batch k+1 is written while k is
 * published), so that the batches add up to the runner's busy time. The
 * wait for messages and for the next job is never counted. Pure. */
double wk_batch_busy_ms(double started_ms, double prev_done_ms, double done_ms);

/* After a committed batch: counts by type and outcome, sizes, round trips
 * and statements of the batch, its milliseconds (wk_batch_busy_ms). */
void wk_metrics_batch(wk_metrics *m, const wk_batch_result *r,
                      uint64_t statements, double ms);
void wk_metrics_set_lag(wk_metrics *m, int64_t lag);
void wk_metrics_set_cache(wk_metrics *m, int which, uint64_t hits,
                          uint64_t misses, uint64_t evictions, size_t size);
void wk_metrics_db_error(wk_metrics *m);

/* Prometheus text (wk_metrics_*, the wt_db_* statement stats,
 * wt_build_info and the process_* metrics);
 * returns the length needed, as snprintf. Thread-safe. */
size_t wk_metrics_render(void *m, char *buf, size_t size);

#endif
