/* fuzz_ws_frame: the gateway's look at the WebSocket frames a client sends
 * (ws-gateway/gw_rxguard.c: the request head, then every frame header, and
 * the close of a connection whose client sends an unmasked frame, RFC 6455
 * section 5.1), on the bytes of one connection as lws would read them.
 *
 * gw_rxguard.c has no exported pure entry point: its frame walker is static
 * and the file defines recv and SSL_read for wt-gateway. This harness
 * includes it (its recv and SSL_read are then this program's, which calls
 * neither) and drives its static guard() the way its recv does, through
 * the real gw_rxguard_accept / _established / _free, with gw_conn_close and
 * gw_from_wsi stood in for. (A split with the walker in a module of its own
 * would let it link the gateway's library instead: see docs/testing.md.)
 *
 * Input: byte 0, bit 0: the head "GET ...\r\n\r\n" is taken as read before
 * the rest (else the rest starts in the head); byte 1: before which read
 * ESTABLISHED comes (255: never); byte 2: how the rest is cut into reads
 * (0: one read). The rest: the bytes from the client.
 *
 * Against a plain reference walk of the whole stream: the reads are cut
 * anywhere without changing the verdict; nothing before the first unmasked
 * frame is held back; from ESTABLISHED on the connection is closed with
 * 1002 exactly once, and nothing after the frame reaches lws; before it,
 * all passes and the close comes at ESTABLISHED; a connection whose head
 * never ended is let go at ESTABLISHED. */
/* its static walker and state, until it has a module of its own */
#include "../../ws-gateway/gw_rxguard.c" // NOLINT(bugprone-suspicious-include)

#include "fuzz.h"

#define FD 7

static int closes;     /* gw_conn_close calls in this run */
static int close_code; /* the last one's code */

/* Stand-ins for what gw_rxguard.c calls of the gateway. */
gw *gw_from_wsi(struct lws *wsi) {
  (void)wsi;
  return NULL;
}

void gw_conn_close(gw_pss *pss, int code, const char *reason) {
  (void)pss, (void)reason;
  closes++;
  close_code = code;
}

/* Where the first unmasked frame starts in the whole stream, or SIZE_MAX;
 * *frames_at: where the frames start (after the head's CRLF CRLF), SIZE_MAX
 * when the head never ends. */
static size_t reference(const uint8_t *p, size_t n, bool in_head,
                        size_t *frames_at) {
  size_t i = 0;
  *frames_at = 0;
  if (in_head) {
    const uint8_t *end = memmem(p, n, "\r\n\r\n", 4);
    if (!end) {
      *frames_at = SIZE_MAX;
      return SIZE_MAX;
    }
    i = *frames_at = (size_t)(end - p) + 4;
  }
  while (i + 1 < n) {
    uint8_t len7 = p[i + 1] & 0x7f;
    size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    uint64_t len = len7;
    if (!(p[i + 1] & 0x80))
      return i;
    if (ext) {
      if (n - i < 2 + ext)
        return SIZE_MAX;
      len = 0;
      for (size_t k = 0; k < ext; k++)
        len = len << 8 | p[i + 2 + k];
    }
    if (n - i < 2 + ext + 4)
      return SIZE_MAX;
    i += 2 + ext + 4;
    if (len >= n - i)
      return SIZE_MAX;
    i += (size_t)len;
  }
  return SIZE_MAX;
}

/* The close's INFO line, once per unmasked frame: warnings only. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  wt_log_init("fuzz", WT_LOG_WARN, stderr);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char head[] = "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n";
  gw_pss pss;
  bool in_head, established = false, let_go = false;
  unsigned est_at, cut;
  size_t unmasked, frames_at, at = 0, kept_total = 0;
  uint32_t rng;
  unsigned reads = 0;

  if (size < 3)
    return 0;
  in_head = !(data[0] & 1);
  est_at = data[1];
  cut = data[2];
  data += 3, size -= 3;
  unmasked = reference(data, size, in_head, &frames_at);
  closes = 0;
  close_code = 0;
  memset(&pss, 0, sizeof(pss));
  pss.id = 1;

  gw_rxguard_init_thread();
  gw_rxguard_accept(FD);
  if (!in_head) {
    rx_state *s = followed(FD);
    FUZZ_CHECK(s != NULL);
    FUZZ_CHECK(guard(s, (const uint8_t *)head, strlen(head)) == strlen(head));
    FUZZ_CHECK(s->phase == RX_FRAMES);
  }
  rng = cut * 2654435761u + 1;
  for (;;) {
    size_t n = size - at, keep;
    uint8_t *buf;
    rx_state *s;
    if (!established && reads == est_at) {
      gw_rxguard_established(FD, &pss);
      established = true;
      /* a head that has not ended: plain HTTP as lws saw it, let go */
      let_go = in_head && (frames_at == SIZE_MAX || at < frames_at);
      if (let_go)
        FUZZ_CHECK(followed(FD) == NULL);
      /* an unmasked frame seen before: closed now */
      FUZZ_CHECK(closes ==
                 (!let_go && unmasked != SIZE_MAX && unmasked + 1 < at));
    }
    if (at >= size)
      break;
    if (cut) {
      rng = rng * 1103515245u + 12345u;
      n = 1 + (rng >> 16) % (cut < 128 ? cut : 4096);
      if (n > size - at)
        n = size - at;
    }
    /* each read in a buffer of its own size: ASan sees a read past it */
    buf = malloc(n);
    FUZZ_CHECK(buf != NULL);
    memcpy(buf, data + at, n);
    s = followed(FD);
    keep = s ? guard(s, buf, n) : n;
    free(buf);
    if (let_go || unmasked == SIZE_MAX || at + n <= unmasked + 1) {
      /* nothing to hold back (the verdict falls on a frame's second byte) */
      FUZZ_CHECK(keep == n && closes == 0);
    } else if (!established) {
      /* not yet ESTABLISHED: maybe plain HTTP, decided then */
      FUZZ_CHECK(keep == n && closes == 0);
    } else if (at <= unmasked + 1) {
      /* the read that shows it: up to the frame's first byte */
      FUZZ_CHECK(keep == (unmasked > at ? unmasked - at : 0));
      FUZZ_CHECK(closes == 1 && close_code == 1002);
    } else {
      FUZZ_CHECK(keep == 0 && closes == 1);
    }
    kept_total += keep;
    at += n;
    reads++;
  }
  if (let_go || unmasked == SIZE_MAX || !established)
    FUZZ_CHECK(closes == 0);
  else
    FUZZ_CHECK(closes == 1 && close_code == 1002);
  if (unmasked == SIZE_MAX || let_go)
    FUZZ_CHECK(kept_total == size);
  gw_rxguard_free();
  return 0;
}
