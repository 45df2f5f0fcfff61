/* gw_subs: project streams and subscriptions.
 *
 * A stream per project knows the last seq delivered (its baseline is the
 * project's seq read at start) and delivers applied events strictly in seq
 * order: duplicates by (project_id, seq) are dropped, and an event whose
 * seq is not the next waits while the missing ones are read from the events
 * table through the pool (a gap fill). Delivering an event updates the
 * membership cache and pushes the event frame to every subscriber.
 *
 * A subscription first reads a snapshot (the first page of logs and the
 * project's seq, in one statement) or, with since, the events after since;
 * events the stream delivers meanwhile are held and released after the
 * `subscribed` reply, skipping what the snapshot already has. A since more
 * than GW_SINCE_MAX events behind, or whose events would fill more than
 * half the send queue at once, answers a snapshot with "reset":true. lws
 * thread only. */
#ifndef GW_SUBS_H
#define GW_SUBS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_conn.h"
#include "gw_events.h"
#include "wt_err.h"

struct gw;
typedef struct gw_subs gw_subs;

/* A connection's subscription to a project (gw_pss.subs). */
typedef struct gw_sub {
  char project_id[WT_UUID_STR];
  int64_t seq;  /* the last seq this subscriber has (snapshot or event) */
  bool loading; /* snapshot or replay being read: events are held */
  gw_msg *held, *held_tail;
  size_t held_bytes;
} gw_sub;

gw_subs *gw_subs_new(void);
void gw_subs_destroy(gw_subs *s);

/* Rows of GW_SQL_LOAD_PROJECTS: id, seq (the streams' baselines). */
wt_err gw_subs_load_projects(gw_subs *s, PGresult *res);

/* An applied project event from Kafka; takes ownership of e. */
void gw_subs_on_event(struct gw *g, gw_event *e);

void gw_subs_subscribe(struct gw *g, gw_pss *pss, const char *req_id,
                       const char *project_id, bool has_since, int64_t since);
void gw_subs_unsubscribe(struct gw *g, gw_pss *pss, const char *req_id,
                         const char *project_id);
/* Ends a user's subscription to a project it was removed from. */
void gw_subs_removed(struct gw *g, gw_pss *pss, const char *project_id);
/* A connection goes away: leaves its streams and frees its subscriptions
 * (what they hold and pss->subs). Before gw_conns_remove. */
void gw_subs_conn_closed(struct gw *g, gw_pss *pss);

size_t gw_subs_count(const gw_subs *s);

#endif
