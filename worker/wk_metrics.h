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

/* After a committed batch: counts by type and outcome, sizes, round trips
 * and statements of the batch, its milliseconds. */
void wk_metrics_batch(wk_metrics *m, const wk_batch_result *r,
                      uint64_t statements, double ms);
void wk_metrics_set_lag(wk_metrics *m, int64_t lag);
void wk_metrics_set_cache(wk_metrics *m, int which, uint64_t hits,
                          uint64_t misses, uint64_t evictions, size_t size);
void wk_metrics_db_error(wk_metrics *m);

/* Prometheus text (wk_metrics_* and the wt_db_* statement stats);
 * returns the length needed, as snprintf. Thread-safe. */
size_t wk_metrics_render(void *m, char *buf, size_t size);

#endif
