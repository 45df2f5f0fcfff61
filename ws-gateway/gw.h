/* gw: the gateway's shared state, one instance per process.
 *
 * Threads: the libwebsockets service thread owns everything in here except
 * what is marked otherwise: the caches, the connections, the streams, the
 * metrics and the in-flight commands are touched only by it. Pool threads
 * (gw_pool) and the events consumer (gw_events) hand their results over
 * through their own locked queues and lws_cancel_service(); the lws thread
 * drains them on LWS_CALLBACK_EVENT_WAIT_CANCELLED. */
#ifndef GW_H
#define GW_H

#include <json-c/json.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "gw_conn.h"
#include "gw_metrics.h"
#include "ing_producer.h"
#include "wt_config.h"
#include "wt_jwt.h"
#include "wt_kafka.h"
#include "wt_lru.h"

#define GW_REPLY_MAX ((size_t)32 << 20) /* one reply frame, at most */
#define GW_JSON_DEPTH 16                /* nesting of a client frame */
#define GW_HTTP_BODY_MAX 8192           /* POST bodies */
#define GW_POOL_THREADS 4
#define GW_PAGE_DEFAULT 100 /* list / snapshot page */
#define GW_PAGE_MAX 500
#define GW_SINCE_MAX 1000 /* events replayed on subscribe with since */

typedef struct gw_pool gw_pool;
typedef struct gw_events gw_events;
typedef struct gw_users gw_users;
typedef struct gw_members gw_members;
typedef struct gw_subs gw_subs;
typedef struct gw_throttle gw_throttle;
typedef struct gw_inflight gw_inflight;

typedef struct gw {
  wt_config cfg;
  wt_kafka_topics topics;
  struct lws_context *ctx;
  wt_jwt *jwt;
  ing_producer *producer;
  gw_pool *pool;
  gw_events *events;
  gw_users *users;
  gw_members *members;
  gw_subs *subs;
  gw_throttle *throttle;
  gw_conns conns;
  gw_metrics metrics;
  json_tokener *tok;                          /* client frames */
  wt_lru *inflight;                           /* command_id -> gw_inflight */
  gw_inflight *inflight_head, *inflight_tail; /* in deadline order */
  lws_sorted_usec_list_t tick;
  void *loop;           /* the libev loop lws runs on (struct ev_loop *) */
  char dummy_hash[128]; /* spends a login's time on unknown users */
  atomic_bool kafka_ok; /* set by the events thread's metadata check */
  volatile sig_atomic_t *stop;
} gw;

/* The gw of a wsi's context (info.user). */
gw *gw_from_wsi(struct lws *wsi);

#endif
