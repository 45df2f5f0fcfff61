#include "wt_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wt_buf_init(wt_buf *b, size_t cap) {
  memset(b, 0, sizeof(*b));
  b->cap = cap;
}

void wt_buf_free(wt_buf *b) {
  free(b->data);
  memset(b, 0, sizeof(*b));
}

void wt_buf_reset(wt_buf *b) {
  b->len = 0;
  b->failed = false;
  if (b->data)
    b->data[0] = '\0';
}

bool wt_buf_ok(const wt_buf *b) {
  return !b->failed;
}

bool wt_buf_reserve_slow(wt_buf *b, size_t more) {
  size_t need, n;
  char *p;
  if (b->failed)
    return false;
  if (more > b->cap || b->len > b->cap - more) {
    b->failed = true;
    return false;
  }
  need = b->len + more + 1;
  if (need <= b->alloc)
    return true;
  n = b->alloc ? b->alloc : 256;
  while (n < need)
    n *= 2;
  p = realloc(b->data, n);
  if (!p) {
    b->failed = true;
    return false;
  }
  b->data = p;
  b->alloc = n;
  return true;
}

void wt_buf_puts(wt_buf *b, const char *s) {
  wt_buf_append(b, s, strlen(s));
}

char *wt_buf_dup(const wt_buf *b) {
  char *p;
  if (b->failed)
    return NULL;
  p = malloc(b->len + 1);
  if (!p)
    return NULL;
  if (b->len)
    memcpy(p, b->data, b->len);
  p[b->len] = '\0';
  return p;
}

void wt_buf_printf(wt_buf *b, const char *fmt, ...) {
  va_list ap;
  int n;
  char small[256];
  va_start(ap, fmt);
  n = vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->failed = true;
    return;
  }
  if ((size_t)n < sizeof(small)) {
    wt_buf_append(b, small, (size_t)n);
    return;
  }
  if (!wt_buf_reserve(b, (size_t)n))
    return;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void wt_buf_put_i64(wt_buf *b, int64_t v) {
  char tmp[24], *p = tmp + sizeof(tmp);
  /* digits from the right, in unsigned arithmetic: INT64_MIN too */
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0)
    *--p = '-';
  wt_buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

size_t wt_copy_str(char *dst, size_t size, const char *src) {
  size_t n;
  if (size == 0)
    return 0;
  n = strnlen(src, size - 1);
  memcpy(dst, src, n);
  dst[n] = '\0';
  return n;
}

void wt_snappendf(char *buf, size_t size, size_t *len, const char *fmt, ...) {
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(buf && *len < size ? buf + *len : NULL,
                buf && *len < size ? size - *len : 0, fmt, ap);
  va_end(ap);
  if (n > 0)
    *len += (size_t)n;
}
