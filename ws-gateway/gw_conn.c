#include "gw_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "wt_log.h"

#define SLOT_NONE UINT32_MAX
#define CLOSE_GRACE_S 3 /* a closing peer that does not read is cut then */

int gw_conns_init(gw_conns *c, uint32_t cap) {
  memset(c, 0, sizeof(*c));
  c->slots = calloc(cap, sizeof(*c->slots));
  if (!c->slots)
    return -1;
  c->cap = cap;
  for (uint32_t i = 0; i < cap; i++) {
    c->slots[i].gen = 1;
    c->slots[i].next_free = i + 1 < cap ? i + 1 : SLOT_NONE;
  }
  c->free_head = 0;
  return 0;
}

void gw_conns_free(gw_conns *c) {
  free(c->slots);
  memset(c, 0, sizeof(*c));
}

bool gw_conns_add(gw_conns *c, gw_pss *pss) {
  uint32_t i = c->free_head;
  if (i == SLOT_NONE)
    return false;
  c->free_head = c->slots[i].next_free;
  c->slots[i].pss = pss;
  c->slots[i].next_free = SLOT_NONE;
  pss->id = ((uint64_t)c->slots[i].gen << 32) | i;
  return true;
}

void gw_conns_remove(gw_conns *c, gw_pss *pss) {
  uint32_t i = (uint32_t)(pss->id & 0xffffffffu);
  if (!pss->id || i >= c->cap || c->slots[i].pss != pss)
    return;
  c->slots[i].pss = NULL;
  c->slots[i].gen++;
  if (!c->slots[i].gen)
    c->slots[i].gen = 1;
  c->slots[i].next_free = c->free_head;
  c->free_head = i;
  pss->id = 0;
}

gw_pss *gw_conns_get(const gw_conns *c, uint64_t id) {
  uint32_t i = (uint32_t)(id & 0xffffffffu);
  if (!id || i >= c->cap || c->slots[i].gen != (uint32_t)(id >> 32))
    return NULL;
  return c->slots[i].pss;
}

void gw_conns_each(const gw_conns *c, void (*fn)(gw_pss *pss, void *arg),
                   void *arg) {
  for (uint32_t i = 0; i < c->cap; i++)
    if (c->slots[i].pss)
      fn(c->slots[i].pss, arg);
}

/* Here rather than in gw_main.c, so the gw library links on its own. */
gw *gw_from_wsi(struct lws *wsi) {
  return lws_context_user(lws_get_context(wsi));
}

gw_msg *gw_msg_new(const void *data, size_t len, int64_t seq) {
  gw_msg *m = malloc(sizeof(*m) + LWS_PRE + len);
  if (!m)
    return NULL;
  m->next = NULL;
  m->seq = seq;
  m->len = len;
  memcpy(m->buf + LWS_PRE, data, len);
  return m;
}

static void queue_drop(gw_pss *pss) {
  while (pss->q_head) {
    gw_msg *m = pss->q_head;
    pss->q_head = m->next;
    free(m);
  }
  pss->q_tail = NULL;
  pss->q_bytes = 0;
}

void gw_conn_close(gw_pss *pss, int code, const char *reason) {
  if (pss->close_code)
    return;
  queue_drop(pss); /* closing means now: what was queued is dropped */
  pss->close_code = code;
  snprintf(pss->close_reason, sizeof(pss->close_reason), "%s", reason);
  lws_callback_on_writable(pss->wsi);
  lws_set_timeout(pss->wsi, PENDING_TIMEOUT_CLOSE_SEND, CLOSE_GRACE_S);
}

/* Writes payload (with LWS_PRE writable bytes before it) at once when
 * nothing waits before it: lws hands it to the kernel and keeps what the
 * kernel did not take, asking for a writable callback itself. Saves the
 * copy into the queue and a round of writable callbacks (epoll changes)
 * per message. true: written (or the connection is being closed). */
static bool write_now(gw *g, gw_pss *pss, unsigned char *payload, size_t len) {
  if (pss->q_head || lws_partial_buffered(pss->wsi))
    return false;
  if (lws_write(pss->wsi, payload, len, LWS_WRITE_TEXT) < (int)len) {
    gw_conn_close(pss, 1011, "write failed");
    return true;
  }
  g->metrics.frames_out++;
  return true;
}

bool gw_conn_send_frame(gw *g, gw_pss *pss, unsigned char *payload,
                        size_t len) {
  if (pss->close_code || pss->kind != GW_PSS_WS)
    return true; /* nothing more goes out */
  return write_now(g, pss, payload, len);
}

void gw_conn_send_msg(gw *g, gw_pss *pss, gw_msg *m) {
  if (!m || pss->close_code || pss->kind != GW_PSS_WS) {
    free(m);
    return;
  }
  if (write_now(g, pss, m->buf + LWS_PRE, m->len)) {
    free(m);
    return;
  }
  /* one message larger than the bound still goes out alone */
  if (pss->q_bytes && pss->q_bytes + m->len > (size_t)g->cfg.send_queue_bytes) {
    free(m);
    queue_drop(pss);
    g->metrics.slow_closes++;
    WT_INFO("slow reader closed conn=%llu user=%s", (unsigned long long)pss->id,
            pss->user_id);
    gw_conn_close(pss, 4008, "send queue full");
    return;
  }
  m->next = NULL;
  if (pss->q_tail)
    pss->q_tail->next = m;
  else
    pss->q_head = m;
  pss->q_tail = m;
  pss->q_bytes += m->len;
  lws_callback_on_writable(pss->wsi);
}

void gw_conn_send(gw *g, gw_pss *pss, const char *data, size_t len) {
  gw_conn_send_msg(g, pss, gw_msg_new(data, len, 0));
}

void gw_conn_send_buf(gw *g, gw_pss *pss, const wt_buf *b) {
  if (!wt_buf_ok(b)) {
    WT_ERROR("reply too large or out of memory conn=%llu",
             (unsigned long long)pss->id);
    gw_conn_close(pss, 1011, "internal error");
    return;
  }
  gw_conn_send(g, pss, b->data, b->len);
}

int gw_conn_writeable(gw *g, gw_pss *pss) {
  gw_msg *m = pss->q_head;
  if (pss->close_code && !m) {
    lws_close_reason(pss->wsi, (enum lws_close_status)pss->close_code,
                     (unsigned char *)pss->close_reason,
                     strlen(pss->close_reason));
    return -1;
  }
  if (!m)
    return 0;
  if (lws_write(pss->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT) <
      (int)m->len)
    return -1;
  g->metrics.frames_out++;
  pss->q_head = m->next;
  if (!pss->q_head)
    pss->q_tail = NULL;
  pss->q_bytes -= m->len;
  free(m);
  if (pss->q_head || pss->close_code)
    lws_callback_on_writable(pss->wsi);
  return 0;
}

void gw_conn_release(gw_pss *pss) {
  queue_drop(pss);
  free(pss->rx);
  pss->rx = NULL;
  pss->rx_len = pss->rx_cap = 0;
  free(pss->header_token);
  pss->header_token = NULL;
}
