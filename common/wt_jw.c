#include "wt_jw.h"

#include <string.h>

#include "wt_json.h"
#include "wt_time.h"
#include "wt_uuid.h"

void wt_jw_init(wt_jw *w, wt_buf *b) {
  memset(w, 0, sizeof(*w));
  w->b = b;
}

bool wt_jw_finish(const wt_jw *w) {
#ifndef NDEBUG
  if (wt_buf_ok(w->b)) {
    WT_JW_ASSERT(w->depth == 0 && w->excess == 0);
    WT_JW_ASSERT(w->root_done && !w->key_pending);
  }
#endif
  return w->depth == 0 && w->excess == 0 && w->comma[0] && wt_buf_ok(w->b);
}

void wt_jw__too_deep(wt_jw *w) {
  w->b->failed = true;
  if (w->excess < UINT8_MAX)
    w->excess++;
}

#ifndef NDEBUG
void wt_jw__check_value(wt_jw *w) {
  if (w->excess)
    return; /* past the depth cap: the output is failed anyway */
  if (w->depth == 0) {
    WT_JW_ASSERT(!w->root_done); /* one root value per wt_jw_init */
    w->root_done = true;
  } else if (w->is_obj[w->depth]) {
    WT_JW_ASSERT(w->key_pending); /* a value in an object needs its key */
    w->key_pending = false;
  }
}

static void check_key(wt_jw *w) {
  if (w->excess)
    return;
  WT_JW_ASSERT(w->depth > 0 && w->is_obj[w->depth]); /* keys: in objects */
  WT_JW_ASSERT(!w->key_pending); /* the last key has no value yet */
}

void wt_jw__check_lit_key(wt_jw *w, const char *lit, size_t lit_len) {
  check_key(w);
  /* `"name":`: the name must need no escaping */
  WT_JW_ASSERT(lit_len >= 3 &&
               wt_json_plain_run(lit + 1, lit_len - 3) == lit_len - 3);
}

void wt_jw__check_close(wt_jw *w, bool obj) {
  if (w->excess)
    return;
  WT_JW_ASSERT(w->depth > 0);               /* something is open */
  WT_JW_ASSERT(w->is_obj[w->depth] == obj); /* and it is this kind */
  WT_JW_ASSERT(!w->key_pending);            /* no key without its value */
}
#endif

void wt_jw_escape(wt_buf *b, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  size_t i, run = 0;
  if (!wt_buf_reserve(b, len))
    return;
  for (;;) {
    unsigned char c;
    /* plain runs end at bytes >= 0x80 too, which go out as they are */
    i = run + wt_json_plain_run(s + run, len - run);
    while (i < len && (unsigned char)s[i] >= 0x80)
      i += 1 + wt_json_plain_run(s + i + 1, len - i - 1);
    wt_buf_append(b, s + run, i - run);
    if (i == len)
      break;
    c = (unsigned char)s[i];
    switch (c) {
    case '"': wt_buf_append(b, "\\\"", 2); break;
    case '\\': wt_buf_append(b, "\\\\", 2); break;
    case '\n': wt_buf_append(b, "\\n", 2); break;
    case '\r': wt_buf_append(b, "\\r", 2); break;
    case '\t': wt_buf_append(b, "\\t", 2); break;
    default: {
      char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      wt_buf_append(b, u, sizeof(u));
    }
    }
    run = i + 1;
  }
}

static void put_quoted(wt_buf *b, const char *s, size_t n) {
  if (!wt_buf_reserve(b, n + 2))
    return;
  wt_buf_putc(b, '"');
  wt_jw_escape(b, s, n);
  wt_buf_putc(b, '"');
}

void wt_jw_keyn(wt_jw *w, const char *key, size_t n) {
#ifndef NDEBUG
  check_key(w);
#endif
  if (w->comma[w->depth])
    wt_buf_putc(w->b, ',');
  w->comma[w->depth] = false;
#ifndef NDEBUG
  w->key_pending = true;
#endif
  put_quoted(w->b, key, n);
  wt_buf_putc(w->b, ':');
}

void wt_jw_key(wt_jw *w, const char *key) {
  wt_jw_keyn(w, key, strlen(key));
}

void wt_jw_strn(wt_jw *w, const char *s, size_t n) {
  wt_jw__sep(w);
  put_quoted(w->b, s, n);
}

void wt_jw_str(wt_jw *w, const char *s) {
  if (!s) {
    wt_jw_null(w);
    return;
  }
  wt_jw_strn(w, s, strlen(s));
}

void wt_jw_null(wt_jw *w) {
  wt_jw__sep(w);
  wt_buf_append(w->b, "null", 4);
}

void wt_jw_bool(wt_jw *w, bool v) {
  wt_jw__sep(w);
  if (v)
    wt_buf_append(w->b, "true", 4);
  else
    wt_buf_append(w->b, "false", 5);
}

static void put_u64(wt_buf *b, uint64_t u, bool minus) {
  char tmp[24], *p = tmp + sizeof(tmp);
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (minus)
    *--p = '-';
  wt_buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

void wt_jw_i64(wt_jw *w, int64_t v) {
  wt_jw__sep(w);
  /* in unsigned arithmetic: INT64_MIN too */
  put_u64(w->b, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0);
}

void wt_jw_u64(wt_jw *w, uint64_t v) {
  wt_jw__sep(w);
  put_u64(w->b, v, false);
}

void wt_jw_time(wt_jw *w, int64_t us) {
  /* the last time this thread wrote: a batch's events share their "at",
   * and a log's created_at and updated_at are often that same instant */
  static _Thread_local int64_t last_us = INT64_MIN;
  static _Thread_local char last[40];
  static _Thread_local size_t last_len;
  wt_jw__sep(w);
  if (us != last_us || last_len == 0) {
    last[0] = '"';
    wt_time_format(us, last + 1, sizeof(last) - 2);
    last_len = strlen(last);
    last[last_len++] = '"';
    last_us = us;
  }
  wt_buf_append(w->b, last, last_len);
}

void wt_jw_uuid(wt_jw *w, const char *uuid) {
  size_t n = strnlen(uuid, WT_UUID_STR);
  WT_JW_ASSERT(wt_uuid_valid(uuid));
  wt_jw__sep(w);
  if (n == WT_UUID_STR - 1 && wt_json_plain_run(uuid, n) == n) {
    char q[WT_UUID_STR + 1];
    q[0] = '"';
    memcpy(q + 1, uuid, n);
    q[n + 1] = '"';
    wt_buf_append(w->b, q, n + 2);
  } else { /* not a UUID (release builds): still valid JSON */
    put_quoted(w->b, uuid, strlen(uuid));
  }
}

void wt_jw_raw(wt_jw *w, const char *json, size_t n) {
#ifndef NDEBUG
  {
    wt_json_type type;
    char err[128];
    WT_JW_ASSERT(wt_json_scan(json, n, 64, &type, NULL, NULL, err,
                              sizeof(err)) == WT_OK);
  }
#endif
  wt_jw__sep(w);
  wt_buf_append(w->b, json, n);
}

/* --- wt_buf's former JSON helpers (transitional, see wt_buf.h) ---------- */

void wt_buf_put_json_str(wt_buf *b, const char *s) {
  if (!s) {
    wt_buf_append(b, "null", 4);
    return;
  }
  put_quoted(b, s, strlen(s));
}

void wt_buf_put_json_time(wt_buf *b, int64_t us) {
  wt_jw w;
  wt_jw_init(&w, b);
  wt_jw_time(&w, us);
}
