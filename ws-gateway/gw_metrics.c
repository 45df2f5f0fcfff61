#include "gw_metrics.h"

#include <stdlib.h>

#include "gw.h"
#include "gw_subs.h"
#include "wt_db.h"
#include "wt_jwt.h"
#include "wt_procmetrics.h"

static const char *const outcome_names[GW_OUT__COUNT] = {"applied", "rejected",
                                                         "timeout", "refused"};
static const char *const fail_names[GW_AUTH_FAIL__COUNT] = {
    "token",   "unknown_user",    "inactive", "revoked",
    "timeout", "session_expired", "password", "throttled"};

static void counter(wt_buf *b, const char *name, const char *help, uint64_t v) {
  wt_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help,
                name, name, (unsigned long long)v);
}

static void gauge(wt_buf *b, const char *name, const char *help, uint64_t v) {
  wt_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name,
                name, (unsigned long long)v);
}

void gw_metrics_render(const gw *g, wt_buf *b) {
  const gw_metrics *m = &g->metrics;
  size_t need;
  char *db;

  gauge(b, "wt_gateway_connections", "open WebSocket connections",
        g->conns.ws_count);
  gauge(b, "wt_gateway_subscriptions", "active subscriptions",
        gw_subs_count(g->subs));
  counter(b, "wt_gateway_connections_total", "WebSocket connections accepted",
          m->ws_connections_total);
  counter(b, "wt_gateway_connections_refused_total",
          "upgrades refused over WT_MAX_CONNECTIONS", m->ws_refused_total);
  counter(b, "wt_gateway_frames_in_total", "WebSocket messages received",
          m->frames_in);
  counter(b, "wt_gateway_frames_out_total", "WebSocket messages sent",
          m->frames_out);
  counter(b, "wt_gateway_bad_frames_total", "messages answered invalid",
          m->bad_frames);
  counter(b, "wt_gateway_oversized_closes_total", "connections closed 1009",
          m->oversized_closes);
  counter(b, "wt_gateway_slow_closes_total", "connections closed 4008",
          m->slow_closes);
  counter(b, "wt_gateway_deliveries_total", "event frames pushed",
          m->deliveries);
  counter(b, "wt_gateway_events_total", "outcomes read from Kafka",
          m->events_in);
  counter(b, "wt_gateway_event_duplicates_total",
          "events dropped as duplicates by (project_id, seq)", m->duplicates);
  counter(b, "wt_gateway_gap_fills_total", "gaps filled from the events table",
          m->gap_fills);
  counter(b, "wt_gateway_reads_total", "reads answered", m->reads);
  counter(b, "wt_gateway_logins_total", "successful logins", m->logins_ok);
  counter(b, "wt_gateway_http_requests_total", "HTTP requests",
          m->http_requests);
  counter(b, "wt_gateway_auth_ok_total", "WebSocket authentications",
          m->auth_ok);
  wt_buf_puts(b, "# HELP wt_gateway_commands_total commands by outcome\n"
                 "# TYPE wt_gateway_commands_total counter\n");
  for (int i = 0; i < GW_OUT__COUNT; i++)
    wt_buf_printf(b, "wt_gateway_commands_total{outcome=\"%s\"} %llu\n",
                  outcome_names[i], (unsigned long long)m->commands[i]);
  wt_buf_puts(b, "# HELP wt_gateway_auth_failures_total failed authentications "
                 "by reason\n# TYPE wt_gateway_auth_failures_total counter\n");
  for (int i = 1; i < GW_AUTH_FAIL__COUNT; i++)
    wt_buf_printf(b, "wt_gateway_auth_failures_total{reason=\"%s\"} %llu\n",
                  fail_names[i], (unsigned long long)m->auth_fail[i]);
  for (int i = 1; i < WT_JWT__COUNT && i < GW_JWT_REASONS; i++)
    wt_buf_printf(b, "wt_gateway_auth_failures_total{reason=\"%s\"} %llu\n",
                  wt_jwt_reason_name((wt_jwt_reason)i),
                  (unsigned long long)m->auth_fail_jwt[i]);
  need = wt_db_stats_prometheus(NULL, 0);
  db = malloc(need + 1);
  if (db) {
    wt_db_stats_prometheus(db, need + 1);
    wt_buf_puts(b, db);
    free(db);
  }
  {
    char proc[4096]; /* about 1.2 KB of text */
    wt_procmetrics_prometheus(proc, sizeof(proc));
    wt_buf_puts(b, proc);
  }
}
