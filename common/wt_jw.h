/* wt_jw: the one JSON writer. It appends to a wt_buf (whose cap bounds the
 * output): values, keys, objects and arrays, with the commas put in for
 * you, strings escaped, integers, times and UUIDs formatted.
 *
 *   wt_jw w;
 *   wt_jw_init(&w, &buf);
 *   wt_jw_obj(&w);
 *   wt_jw_kstr(&w, "type", "log.create");  (key: a string literal)
 *   wt_jw_karr(&w, "ids");
 *   wt_jw_uuid(&w, id);
 *   wt_jw_arr_end(&w);
 *   wt_jw_obj_end(&w);
 *   if (!wt_jw_finish(&w)) ... (too large for the cap, or out of memory)
 *
 * One root value per wt_jw_init. The nesting (objects and arrays balanced,
 * a value after each key, keys only in objects, one root) is checked with
 * assert() in debug builds and costs nothing in release builds, where
 * misuse gives wrong JSON but never writes out of bounds: nesting deeper
 * than WT_JW_DEPTH_MAX fails the buffer. Strings are escaped as RFC 8259
 * requires ('"', '\\' and the control characters; \n \r \t short), bytes
 * >= 0x80 go out as they are: the writer takes UTF-8 text and does not
 * check it (the boundaries did). Pure: no I/O. */
#ifndef WT_JW_H
#define WT_JW_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wt_buf.h"

/* What the debug checks call; a test may define it (before including this
 * header) to catch misuse without aborting. */
#ifndef WT_JW_ASSERT
#define WT_JW_ASSERT(e) assert(e)
#endif

#define WT_JW_DEPTH_MAX 16 /* objects and arrays open at once */

typedef struct wt_jw {
  wt_buf *b;
  uint8_t depth;  /* open containers; level 0 is the root */
  uint8_t excess; /* opened past WT_JW_DEPTH_MAX (the buffer failed) */
  /* comma[d]: level d has a value, so the next one needs a comma; a key
   * clears it again so that its value does not */
  bool comma[WT_JW_DEPTH_MAX + 1];
#ifndef NDEBUG
  bool is_obj[WT_JW_DEPTH_MAX + 1]; /* what each level is */
  bool key_pending;                 /* a key awaits its value */
  bool root_done;                   /* the one root value was written */
#endif
} wt_jw;

void wt_jw_init(wt_jw *w, wt_buf *b); /* appends to b */
/* Depth back to 0, the root written, and the buffer ok. */
bool wt_jw_finish(const wt_jw *w);

/* wt_jw_obj, wt_jw_obj_end, wt_jw_arr, wt_jw_arr_end: inline, below */

void wt_jw_key(wt_jw *w, const char *key); /* any key, escaped */
void wt_jw_keyn(wt_jw *w, const char *key, size_t n);
void wt_jw_str(wt_jw *w, const char *s); /* a value; NULL -> null */
void wt_jw_strn(wt_jw *w, const char *s, size_t n);
void wt_jw_i64(wt_jw *w, int64_t v);
void wt_jw_u64(wt_jw *w, uint64_t v);
void wt_jw_bool(wt_jw *w, bool v);
void wt_jw_null(wt_jw *w);
/* RFC 3339 UTC string, as wt_time_format */
void wt_jw_time(wt_jw *w, int64_t us);
/* canonical lowercase UUID string (checked in debug builds; anything else
 * is still written escaped in release builds) */
void wt_jw_uuid(wt_jw *w, const char *uuid);
/* an already valid JSON value, copied as it is (checked in debug builds) */
void wt_jw_raw(wt_jw *w, const char *json, size_t n);

/* --- the parts the inline helpers and the macros share ------------------- */

/* Debug checks before a value (a key awaited it, or an array item, or the
 * root); free in release builds. */
#ifndef NDEBUG
void wt_jw__check_value(wt_jw *w);
void wt_jw__check_lit_key(wt_jw *w, const char *lit, size_t lit_len);
void wt_jw__check_close(wt_jw *w, bool obj);
#else
/* release builds: nothing checked, every argument still "used" */
#define wt_jw__check_value(w) ((void)(w))
#define wt_jw__check_lit_key(w, lit, lit_len)                                  \
  ((void)(w), (void)(lit), (void)(lit_len))
#define wt_jw__check_close(w, obj) ((void)(w), (void)(obj))
#endif
/* Nesting past WT_JW_DEPTH_MAX: fails the buffer. */
void wt_jw__too_deep(wt_jw *w);

/* The separator before a value: a comma unless it is the first of its
 * level or follows a key. */
static inline void wt_jw__sep(wt_jw *w) {
  wt_jw__check_value(w);
  if (w->comma[w->depth])
    wt_buf_putc(w->b, ',');
  w->comma[w->depth] = true;
}

static inline void wt_jw__open(wt_jw *w, char c, bool obj) {
  wt_jw__sep(w);
  wt_buf_putc(w->b, c);
  if (w->depth == WT_JW_DEPTH_MAX || w->excess) {
    wt_jw__too_deep(w);
    return;
  }
  w->depth++;
  w->comma[w->depth] = false;
#ifndef NDEBUG
  w->is_obj[w->depth] = obj;
#else
  (void)obj;
#endif
}

static inline void wt_jw__close(wt_jw *w, char c, bool obj) {
  wt_jw__check_close(w, obj);
  if (w->excess) {
    w->excess--;
    return;
  }
  if (w->depth == 0) { /* more ends than opens: wrong JSON, say so */
    w->b->failed = true;
    return;
  }
  w->depth--;
  wt_buf_putc(w->b, c);
}

static inline void wt_jw_obj(wt_jw *w) {
  wt_jw__open(w, '{', true);
}
static inline void wt_jw_obj_end(wt_jw *w) {
  wt_jw__close(w, '}', true);
}
static inline void wt_jw_arr(wt_jw *w) {
  wt_jw__open(w, '[', false);
}
static inline void wt_jw_arr_end(wt_jw *w) {
  wt_jw__close(w, ']', false);
}

/* A key given with its quotes and colon, `"name":` (lit_len bytes): the
 * macros below build that text at compile time. */
static inline void wt_jw__lit_key(wt_jw *w, const char *lit, size_t lit_len) {
  wt_jw__check_lit_key(w, lit, lit_len);
  if (w->comma[w->depth])
    wt_buf_putc(w->b, ',');
  w->comma[w->depth] = false;
#ifndef NDEBUG
  w->key_pending = true;
#endif
  wt_buf_append(w->b, lit, lit_len);
}

/* key + value in one call; K must be a string literal (its quoted form and
 * length are made at compile time; debug builds check it needs no
 * escaping). */
#define WT_JW__LIT(K) ("\"" K "\":")
#define WT_JW__KEY(w, K) wt_jw__lit_key((w), WT_JW__LIT(K), sizeof(K) + 2)
#define wt_jw_kstr(w, K, v) (WT_JW__KEY(w, K), wt_jw_str((w), (v)))
#define wt_jw_kstrn(w, K, v, n) (WT_JW__KEY(w, K), wt_jw_strn((w), (v), (n)))
#define wt_jw_ki64(w, K, v) (WT_JW__KEY(w, K), wt_jw_i64((w), (v)))
#define wt_jw_ku64(w, K, v) (WT_JW__KEY(w, K), wt_jw_u64((w), (v)))
#define wt_jw_kbool(w, K, v) (WT_JW__KEY(w, K), wt_jw_bool((w), (v)))
#define wt_jw_knull(w, K) (WT_JW__KEY(w, K), wt_jw_null((w)))
#define wt_jw_ktime(w, K, us) (WT_JW__KEY(w, K), wt_jw_time((w), (us)))
#define wt_jw_kuuid(w, K, u) (WT_JW__KEY(w, K), wt_jw_uuid((w), (u)))
#define wt_jw_kraw(w, K, json, n)                                              \
  (WT_JW__KEY(w, K), wt_jw_raw((w), (json), (n)))
#define wt_jw_kobj(w, K) (WT_JW__KEY(w, K), wt_jw_obj((w)))
#define wt_jw_karr(w, K) (WT_JW__KEY(w, K), wt_jw_arr((w)))

/* s[0..n) escaped as the content of a JSON string, without the quotes:
 * for callers that build one string from parts. */
void wt_jw_escape(wt_buf *b, const char *s, size_t n);

#endif
