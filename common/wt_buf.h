/* wt_buf: a growable byte buffer with a hard cap, for building SQL
 * parameters and messages on the hot path (JSON goes through wt_jw).
 * Once an append would pass the cap (or allocation fails) the buffer is
 * marked failed and later appends do nothing: check wt_buf_ok() once at
 * the end (curl's dynbuf does the same with its "toobig"). */
#ifndef WT_BUF_H
#define WT_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct wt_buf {
  char *data; /* NUL-terminated while ok */
  size_t len;
  size_t alloc;
  size_t cap; /* the most bytes it may hold */
  bool failed;
} wt_buf;

void wt_buf_init(wt_buf *b, size_t cap);
void wt_buf_free(wt_buf *b);
void wt_buf_reset(wt_buf *b); /* len = 0, keeps the memory, clears failed */
bool wt_buf_ok(const wt_buf *b);

bool wt_buf_reserve_slow(wt_buf *b, size_t more);
/* Room for more bytes now, so that appends up to that size do not
 * reallocate; false (and failed) past the cap or out of memory. Inline
 * when the memory is there: the JSON and array writers append a few bytes
 * at a time, millions of times a second. */
static inline bool wt_buf_reserve(wt_buf *b, size_t more) {
  if (!b->failed && more < b->alloc - b->len && more <= b->cap - b->len)
    return true;
  return wt_buf_reserve_slow(b, more);
}
/* A malloc'd copy of the contents, exactly len + 1 bytes (NUL included);
 * NULL when the buffer failed or memory is short. */
char *wt_buf_dup(const wt_buf *b);

static inline void wt_buf_append(wt_buf *b, const void *data, size_t len) {
  if (!wt_buf_reserve(b, len))
    return;
  if (len)
    memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
}

static inline void wt_buf_putc(wt_buf *b, char c) {
  wt_buf_append(b, &c, 1);
}

void wt_buf_puts(wt_buf *b, const char *s);
void wt_buf_printf(wt_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void wt_buf_put_i64(wt_buf *b, int64_t v);
/* Transitional, defined in wt_jw.c: removed when worker/ and ws-gateway/
 * write their JSON through wt_jw (wt_jw_str, wt_jw_time). s as a JSON
 * string literal, quotes included ("null" for NULL); a time (µs) as one. */
void wt_buf_put_json_str(wt_buf *b, const char *s);
void wt_buf_put_json_time(wt_buf *b, int64_t us);

/* Copies src into dst[size] like snprintf(dst, size, "%s", src): cut to
 * size - 1 bytes, always NUL-terminated (size > 0); returns the bytes
 * copied. Without printf's parsing: the worker copies ids this way several
 * times per command. */
size_t wt_copy_str(char *dst, size_t size, const char *src);

/* snprintf at buf + *len that adds the length it needed to *len even when
 * it did not fit: render into a fixed buffer, learn the size needed. */
void wt_snappendf(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
