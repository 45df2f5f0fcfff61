#include "wt_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wt_command.h"

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

static bool reserve(wt_buf *b, size_t more) {
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

void wt_buf_append(wt_buf *b, const void *data, size_t len) {
  if (!reserve(b, len))
    return;
  memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
}

void wt_buf_puts(wt_buf *b, const char *s) {
  wt_buf_append(b, s, strlen(s));
}

void wt_buf_putc(wt_buf *b, char c) {
  wt_buf_append(b, &c, 1);
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
  if (!reserve(b, (size_t)n))
    return;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void wt_buf_put_i64(wt_buf *b, int64_t v) {
  char tmp[24];
  int n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
  wt_buf_append(b, tmp, (size_t)n);
}

void wt_buf_put_json_str(wt_buf *b, const char *s) {
  static const char hex[] = "0123456789abcdef";
  const char *run;
  if (!s) {
    wt_buf_puts(b, "null");
    return;
  }
  wt_buf_putc(b, '"');
  run = s;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    wt_buf_append(b, run, (size_t)(s - run));
    switch (c) {
    case '"': wt_buf_puts(b, "\\\""); break;
    case '\\': wt_buf_puts(b, "\\\\"); break;
    case '\n': wt_buf_puts(b, "\\n"); break;
    case '\r': wt_buf_puts(b, "\\r"); break;
    case '\t': wt_buf_puts(b, "\\t"); break;
    default: {
      char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      wt_buf_append(b, u, sizeof(u));
    }
    }
    run = s + 1;
  }
  wt_buf_append(b, run, (size_t)(s - run));
  wt_buf_putc(b, '"');
}

void wt_buf_put_json_time(wt_buf *b, int64_t us) {
  char t[40];
  wt_time_format(us, t, sizeof(t));
  wt_buf_putc(b, '"');
  wt_buf_puts(b, t);
  wt_buf_putc(b, '"');
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
