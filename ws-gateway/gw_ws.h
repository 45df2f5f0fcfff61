/* gw_ws: the worktracker.v1 WebSocket protocol: the upgrade (connection
 * cap, Authorization header), message reassembly with the frame cap, JSON
 * requests, auth and its deadlines, and commands with their in-flight
 * tracking and timeouts. */
#ifndef GW_WS_H
#define GW_WS_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>

#include "gw_conn.h"
#include "gw_events.h"

struct gw;

/* The WebSocket reasons of the one lws callback. */
int gw_ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                   gw_pss *pss, void *in, size_t len);

/* An outcome from Kafka: answers the connection waiting for its command
 * (applied or rejected). Does not take e. */
void gw_ws_on_outcome(struct gw *g, const gw_event *e);

/* A user.* event: updates the cache; closes the user's connections with
 * 4001 when it was deactivated or its tokens revoked. Does not take e. */
void gw_ws_on_user_event(struct gw *g, const gw_event *e);

/* Every 100 ms: commands past WT_COMMAND_TIMEOUT_MS answer unavailable. */
void gw_ws_tick(struct gw *g);

/* Frees the in-flight table's entries. */
void gw_ws_inflight_clear(struct gw *g);

#endif
