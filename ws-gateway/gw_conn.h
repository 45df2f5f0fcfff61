/* gw_conn: per-connection state (the lws per-session data), the table that
 * maps a connection id to its wsi, and the bounded send queue.
 *
 * Work that leaves the lws thread (a pool job, a command in flight) carries
 * the connection's id, never its wsi: when the result comes back the id is
 * looked up here and a connection that closed meanwhile is simply not
 * found. Ids are slot index + generation, so a reused slot never matches
 * an old id. Everything here runs on the lws thread. */
#ifndef GW_CONN_H
#define GW_CONN_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wt_buf.h"
#include "wt_uuid.h"

#define GW_REQ_ID_MAX 64
#define GW_PEER_MAX 64

/* One queued frame: LWS_PRE bytes of headroom, then len bytes. */
typedef struct gw_msg {
  struct gw_msg *next;
  int64_t seq; /* an event's seq (held frames), else 0 */
  size_t len;
  unsigned char buf[];
} gw_msg;

typedef enum gw_pss_kind {
  GW_PSS_NONE = 0,
  GW_PSS_HTTP,
  GW_PSS_WS
} gw_pss_kind;

typedef struct gw_pss {
  gw_pss_kind kind;
  uint64_t id; /* 0: not registered */
  struct lws *wsi;
  char peer[GW_PEER_MAX];

  /* WebSocket */
  bool authed;
  char user_id[WT_UUID_STR];
  int64_t token_exp;  /* seconds */
  char *header_token; /* Authorization: Bearer, read at the upgrade */
  unsigned char *rx;
  size_t rx_len, rx_cap;
  gw_msg *q_head, *q_tail;
  size_t q_bytes;
  int close_code; /* set: close at the next WRITEABLE */
  char close_reason[64];
  int inflight;        /* commands and reads */
  struct gw_sub *subs; /* gw_subs's: grown as needed, up to
                        * WT_MAX_SUBSCRIPTIONS, freed by gw_subs_conn_closed */
  int nsubs;
  int subs_cap;

  /* HTTP */
  int route;
  bool is_post, too_big, responded, headers_sent, close_after, waiting;
  wt_buf body;
  int status;
  const char *content_type;
  int retry_after; /* > 0: Retry-After header */
  char *resp;
  size_t resp_len;
} gw_pss;

typedef struct gw_slot {
  gw_pss *pss;
  uint32_t gen;
  uint32_t next_free; /* UINT32_MAX: none */
} gw_slot;

typedef struct gw_conns {
  gw_slot *slots;
  uint32_t cap;
  uint32_t free_head;
  size_t ws_count;
} gw_conns;

int gw_conns_init(gw_conns *c, uint32_t cap);
void gw_conns_free(gw_conns *c);
/* Registers pss (sets pss->id). false when the table is full. */
bool gw_conns_add(gw_conns *c, gw_pss *pss);
void gw_conns_remove(gw_conns *c, gw_pss *pss);
/* The live connection with that id, or NULL. */
gw_pss *gw_conns_get(const gw_conns *c, uint64_t id);
/* Iteration: calls fn for every registered connection. */
void gw_conns_each(const gw_conns *c, void (*fn)(gw_pss *pss, void *arg),
                   void *arg);

struct gw;

/* A frame with LWS_PRE headroom, filled from data. NULL when out of memory. */
gw_msg *gw_msg_new(const void *data, size_t len, int64_t seq);

/* Queues a text frame for a WebSocket connection and asks for WRITEABLE.
 * Over WT_SEND_QUEUE_BYTES the queue is dropped and the connection closes
 * with 4008. Ignored on a closing connection. */
void gw_conn_send(struct gw *g, gw_pss *pss, const char *data, size_t len);
void gw_conn_send_msg(struct gw *g, gw_pss *pss, gw_msg *m);
/* Writes payload[0..len), which has LWS_PRE writable bytes before it (lws
 * puts the frame header there), without copying it when nothing is queued
 * before it. false: not written, queue a copy (gw_conn_send). */
bool gw_conn_send_frame(struct gw *g, gw_pss *pss, unsigned char *payload,
                        size_t len);
void gw_conn_send_buf(struct gw *g, gw_pss *pss, const wt_buf *b);

/* Closes a WebSocket connection from anywhere on the lws thread: the close
 * frame goes out at its next WRITEABLE; a peer that never reads is cut after
 * a few seconds. */
void gw_conn_close(gw_pss *pss, int code, const char *reason);

/* LWS_CALLBACK_SERVER_WRITEABLE: one lws_write, or the close. Returns the
 * callback's return value. */
int gw_conn_writeable(struct gw *g, gw_pss *pss);

/* Frees the queues and buffers of a WebSocket connection (its
 * subscriptions are gw_subs's: gw_subs_conn_closed first). */
void gw_conn_release(gw_pss *pss);

#endif
