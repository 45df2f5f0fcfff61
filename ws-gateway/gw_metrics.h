/* gw_metrics: the gateway's counters and their Prometheus text. Touched
 * and rendered on the lws thread only (GET /metrics is served there), so
 * plain integers suffice; the DB stats come from wt_db's locked registry. */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "wt_buf.h"

typedef enum gw_outcome {
  GW_OUT_APPLIED = 0,
  GW_OUT_REJECTED,
  GW_OUT_TIMEOUT,
  GW_OUT_REFUSED, /* not produced: invalid, not_found, rate_limited, Kafka */
  GW_OUT__COUNT
} gw_outcome;

typedef enum gw_auth_fail {
  GW_AUTH_FAIL_TOKEN = 0, /* see jwt[] for the reason */
  GW_AUTH_FAIL_UNKNOWN_USER,
  GW_AUTH_FAIL_INACTIVE,
  GW_AUTH_FAIL_REVOKED,
  GW_AUTH_FAIL_TIMEOUT,
  GW_AUTH_FAIL_EXPIRED_SESSION,
  GW_AUTH_FAIL_PASSWORD,
  GW_AUTH_FAIL_THROTTLED,
  GW_AUTH_FAIL__COUNT
} gw_auth_fail;

#define GW_JWT_REASONS 16

typedef struct gw_metrics {
  uint64_t ws_connections_total;
  uint64_t ws_refused_total; /* over WT_MAX_CONNECTIONS */
  uint64_t frames_in, frames_out;
  uint64_t bad_frames;
  uint64_t oversized_closes, slow_closes;
  uint64_t deliveries; /* event frames queued to subscribers */
  uint64_t events_in, duplicates, gap_fills;
  uint64_t commands[GW_OUT__COUNT];
  uint64_t reads;
  uint64_t auth_ok;
  uint64_t auth_fail[GW_AUTH_FAIL__COUNT];
  uint64_t auth_fail_jwt[GW_JWT_REASONS];
  uint64_t logins_ok;
  uint64_t http_requests;
} gw_metrics;

struct gw;

/* Appends the Prometheus text of the gateway's counters and gauges, the
 * wt_db statement stats, wt_build_info and the process_* metrics to out. */
void gw_metrics_render(const struct gw *g, wt_buf *out);

#endif
