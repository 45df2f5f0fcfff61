/* A fortified recv (bits/socket2.h) could not be defined here. */
#undef _FORTIFY_SOURCE
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* RTLD_NEXT */
#endif
#include "gw_rxguard.h"

#include <dlfcn.h>
#include <errno.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "gw.h"
#include "wt_log.h"

typedef enum rx_phase {
  RX_OFF = 0, /* not followed */
  RX_HEAD,    /* in the first request head */
  RX_FRAMES,  /* walking frames */
  RX_SEEN,    /* an unmasked frame before ESTABLISHED: waiting for it */
  RX_DROP     /* closing with 1002: what arrives is dropped */
} rx_phase;

typedef struct rx_state {
  uint8_t phase;
  uint8_t crlf;     /* bytes of CRLF CRLF matched (RX_HEAD) */
  uint8_t hdr_pos;  /* bytes of the current frame header seen, 0: none */
  uint8_t hdr_size; /* its size, known from its second byte */
  uint64_t len;     /* its payload length; after the header, what is left */
  gw_pss *pss;      /* from ESTABLISHED on */
} rx_state;

typedef ssize_t (*recv_fn)(int fd, void *buf, size_t len, int flags);

/* A sanitizer's interceptor when there is one: clang links its runtime into
 * the executable, where this recv replaces the interceptor's. */
extern ssize_t __interceptor_recv(int fd, void *buf, size_t len, int flags)
    __attribute__((weak));

typedef int (*ssl_read_fn)(SSL *ssl, void *buf, int num);

static recv_fn next_recv;
static ssl_read_fn next_ssl_read;
static _Thread_local bool on_lws_thread;
static rx_state *states; /* by fd, lws thread only */
static size_t states_cap;

/* Before main: librdkafka's threads call recv as soon as they start. */
__attribute__((constructor)) static void rxguard_resolve(void) {
  next_recv = __interceptor_recv ? __interceptor_recv
                                 : (recv_fn)dlsym(RTLD_NEXT, "recv");
  next_ssl_read = (ssl_read_fn)dlsym(RTLD_NEXT, "SSL_read");
}

void gw_rxguard_init_thread(void) {
  on_lws_thread = true;
}

static rx_state *state_of(int fd) {
  if (fd < 0 || (size_t)fd >= states_cap)
    return NULL;
  return &states[fd];
}

void gw_rxguard_accept(int fd) {
  rx_state *s;
  if (fd < 0)
    return;
  if ((size_t)fd >= states_cap) {
    size_t cap = states_cap ? states_cap : 1024;
    rx_state *n;
    while (cap <= (size_t)fd)
      cap *= 2;
    n = realloc(states, cap * sizeof(*n));
    if (!n) {
      WT_WARN("rxguard: out of memory, fd=%d not checked", fd);
      return;
    }
    memset(n + states_cap, 0, (cap - states_cap) * sizeof(*n));
    states = n;
    states_cap = cap;
  }
  s = &states[fd];
  memset(s, 0, sizeof(*s));
  s->phase = RX_HEAD;
}

void gw_rxguard_forget(int fd) {
  rx_state *s = state_of(fd);
  if (s)
    memset(s, 0, sizeof(*s));
}

static void close_unmasked(gw_pss *pss) {
  gw *g = gw_from_wsi(pss->wsi);
  if (g)
    g->metrics.bad_frames++;
  WT_INFO("unmasked frame, closing conn=%llu", (unsigned long long)pss->id);
  gw_conn_close(pss, 1002, "unmasked frame");
}

void gw_rxguard_established(int fd, gw_pss *pss) {
  rx_state *s = state_of(fd);
  if (!s || s->phase == RX_OFF)
    return;
  if (s->phase == RX_HEAD) { /* a head lws took without CRLF CRLF */
    memset(s, 0, sizeof(*s));
    return;
  }
  s->pss = pss;
  if (s->phase == RX_SEEN) {
    s->phase = RX_DROP;
    close_unmasked(pss);
  }
}

void gw_rxguard_free(void) {
  free(states);
  states = NULL;
  states_cap = 0;
}

/* Walks p[0..n) on from where s stands. Returns n, or the offset where an
 * unmasked frame starts (0 when it started in an earlier read). */
static size_t walk(rx_state *s, const uint8_t *p, size_t n) {
  size_t i = 0, frame_at = 0;
  while (i < n) {
    uint8_t c;
    if (s->phase == RX_HEAD) {
      c = p[i++];
      if (c == (uint8_t) "\r\n\r\n"[s->crlf])
        s->crlf++;
      else
        s->crlf = c == '\r';
      if (s->crlf == 4)
        s->phase = RX_FRAMES;
      continue;
    }
    if (s->hdr_pos == 0 && s->len > 0) { /* payload */
      size_t take = n - i < s->len ? n - i : (size_t)s->len;
      i += take;
      s->len -= take;
      continue;
    }
    if (s->hdr_pos == 0)
      frame_at = i;
    c = p[i++];
    if (s->hdr_pos == 1) {
      uint8_t len7 = c & 0x7f;
      if (!(c & 0x80))
        return frame_at;
      s->hdr_size = (uint8_t)(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4);
      s->len = len7 < 126 ? len7 : 0;
    } else if (s->hdr_pos >= 2 && s->hdr_pos < s->hdr_size - 4) {
      s->len = s->len << 8 | c; /* the extended length, big-endian */
    }
    if (++s->hdr_pos == s->hdr_size)
      s->hdr_pos = 0; /* then its payload */
  }
  return n;
}

/* The state of fd when this read is to be checked, else NULL. */
static rx_state *followed(int fd) {
  rx_state *s;
  if (!on_lws_thread || !(s = state_of(fd)) || s->phase == RX_OFF ||
      s->phase == RX_SEEN)
    return NULL;
  return s;
}

/* How many of the n bytes just read for s reach lws: n, fewer (an
 * unmasked frame starts there), or 0. */
static size_t guard(rx_state *s, const uint8_t *buf, size_t n) {
  size_t keep = s->phase == RX_DROP ? 0 : walk(s, buf, n);
  if (keep < n && s->phase != RX_DROP) {
    if (!s->pss) { /* maybe plain HTTP: decided at ESTABLISHED */
      s->phase = RX_SEEN;
      return n;
    }
    s->phase = RX_DROP;
    close_unmasked(s->pss);
  }
  return keep;
}

ssize_t recv(int fd, void *buf, size_t len, int flags) {
  ssize_t n = next_recv(fd, buf, len, flags);
  rx_state *s;
  size_t keep;
  if (n <= 0 || flags != 0 || !(s = followed(fd)))
    return n;
  keep = guard(s, buf, (size_t)n);
  if (keep == 0) { /* nothing for lws: as if nothing had arrived */
    errno = EAGAIN;
    return -1;
  }
  return (ssize_t)keep;
}

/* wss://: OpenSSL reads the socket with read(2), lws gets the frames from
 * SSL_read, which wt-gateway defines for the same reason as recv. Nothing
 * for lws: the rest of what is there is read and dropped, so that lws sees
 * the last SSL_read's own answer (-1 with SSL_ERROR_WANT_READ once it is
 * all read). */
int SSL_read(SSL *ssl, void *buf, int num) {
  int n = next_ssl_read(ssl, buf, num);
  rx_state *s;
  size_t keep;
  if (n <= 0 || !(s = followed(SSL_get_fd(ssl))))
    return n;
  keep = guard(s, buf, (size_t)n);
  while (keep == 0 && n > 0)
    n = next_ssl_read(ssl, buf, num);
  return keep == 0 ? n : (int)keep;
}
