/* wt_json: a strict JSON (RFC 8259) scanner for messages that are read
 * member by member (the commands). It checks a whole text in one pass and
 * builds nothing: each member of the root object reaches a callback as
 * spans of the input, and a string is decoded only when asked for.
 *
 * What it takes: one value with JSON whitespace around it; strings of valid
 * UTF-8 without raw control characters, with the RFC's escapes; numbers of
 * the RFC's grammar (no NaN, Infinity, "1.", "01", "+1"); true, false and
 * null; at most max_depth nested arrays and objects, the root counted.
 * A \u0000 escape and a \u escape of a lone surrogate are JSON, but not
 * text (contract v1.1: such a string is rejected, never stored altered):
 * wt_json_string_flaw finds them in a string, wt_json_check in a whole
 * text. Pure: no I/O. */
#ifndef WT_JSON_H
#define WT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wt_err.h"

typedef enum wt_json_type {
  WT_JSON_NULL = 0,
  WT_JSON_BOOL,
  WT_JSON_INT,  /* a number without fraction or exponent */
  WT_JSON_REAL, /* any other number */
  WT_JSON_STRING,
  WT_JSON_ARRAY,
  WT_JSON_OBJECT
} wt_json_type;

/* A value in the scanned text. A string's span is its content between the
 * quotes, escapes still in it; any other value's is its whole text. */
typedef struct wt_json_span {
  wt_json_type type;
  const char *p;
  size_t len;
  bool escaped; /* a string with a backslash in it */
} wt_json_span;

/* One member of the root object, in the order of the text (a repeated key
 * comes once per occurrence). */
typedef void (*wt_json_member_fn)(void *ctx, const wt_json_span *key,
                                  const wt_json_span *value);

/* Scans s[0..len). WT_OK: the text is one valid value, its type in
 * *type, and when it is an object fn (may be NULL) was called for each
 * member. WT_ERR_INVALID: errstr says what and at which byte. */
wt_err wt_json_scan(const char *s, size_t len, int max_depth,
                    wt_json_type *type, wt_json_member_fn fn, void *ctx,
                    char *errstr, size_t errstr_size);

/* The members of one member's object too, in the same pass: for every
 * root member whose key (decoded, compared byte for byte) is key, start(ctx)
 * is called before its value is scanned, and when that value is an object
 * fn(ctx, ...) for each of its members. A repeated key starts again, so
 * what fn saw last belongs to the last occurrence. (The worker reads a
 * command's envelope and its payload this way: one scan, not two.) */
typedef struct wt_json_nested {
  const char *key;
  size_t key_len; /* at most 63 */
  void (*start)(void *ctx);
  wt_json_member_fn fn;
  void *ctx;
} wt_json_nested;

wt_err wt_json_scan_nested(const char *s, size_t len, int max_depth,
                           wt_json_type *type, wt_json_member_fn fn, void *ctx,
                           const wt_json_nested *nested, char *errstr,
                           size_t errstr_size);

/* Decodes a string span into out (size bytes). Returns the decoded length
 * in bytes; when it is >= size, out holds as much as fits. out is always
 * NUL-terminated (size > 0); a \u0000 decodes as a NUL byte, so callers
 * compare strlen(out) with the length. *chars (may be NULL) gets the
 * length in code points. */
size_t wt_json_string(const wt_json_span *v, char *out, size_t size,
                      long *chars);

/* An integer span as int64_t: 0, or -1 when out of range. */
int wt_json_int64(const wt_json_span *v, int64_t *out);

/* Whether a string span holds what JSON allows but text does not: a
 * \u0000 escape (a NUL) or a \u escape of a lone surrogate (a high one
 * not followed by a low one's escape, or a low one alone), which
 * wt_json_string would decode as a NUL byte or U+FFFD. why (may be NULL)
 * gets "NUL is not allowed" or "a lone surrogate escape (\ud83d) is not
 * text". Only an escaped string can hold either: the scan lets no raw
 * control character and no UTF-8 surrogate through. */
bool wt_json_string_flaw(const wt_json_span *v, char *why, size_t why_size);

/* What wt_json_check found, and where: path is the value's place from the
 * root, keys joined by '.' and array items as "[i]" ("log.description",
 * "items[2].id"; "" for the root or a syntax error), each key cut at 40
 * bytes; why says what ("a lone surrogate escape (\ud83d) is not text"). */
typedef struct wt_json_flaw {
  char path[160];
  char why[128];
} wt_json_flaw;

/* wt_json_scan without callbacks that also refuses what a reader would
 * keep altered: every string, keys included, must pass
 * wt_json_string_flaw, and every integer must fit int64_t (a reader such as
 * json-c would clamp it). WT_OK, or WT_ERR_INVALID with flaw (may be NULL)
 * filled; a syntax error's why ends "at byte N". For texts read by another
 * parser (the gateway's client frames, which json-c reads). */
wt_err wt_json_check(const char *s, size_t len, int max_depth,
                     wt_json_flaw *flaw);

/* --- text --------------------------------------------------------------- */

/* UTF-8 validity and length in code points; -1 when invalid UTF-8 (an
 * overlong form, a surrogate, over U+10FFFF, a cut sequence). */
long wt_utf8_chars(const char *s, size_t len);
/* The length of the run of plain string content at the start of s[0..n):
 * bytes that need no look (not '"', '\\', a control character or a byte
 * >= 0x80). Word at a time with the SWAR "has zero byte" tests, whose
 * lowest flagged byte is always a true match: strings take most of a
 * command's bytes, in the scanner and in the JSON writers. */
static inline size_t wt_json_plain_run(const char *s, size_t n) {
  const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
  size_t i = 0;
  for (; n - i >= 8; i += 8) {
    uint64_t w, q, b, stop;
    memcpy(&w, s + i, sizeof(w));
    q = w ^ (ones * '"');  /* a zero byte where w has a quote */
    b = w ^ (ones * '\\'); /* and where it has a backslash */
    /* a byte < 0x20, a zero byte in q or b, a byte >= 0x80 */
    stop =
        (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b) | w) &
        highs;
    if (stop) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
      return i + (size_t)__builtin_ctzll(stop) / 8;
#else
      break;
#endif
    }
  }
  for (; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
      break;
  }
  return i;
}

/* wt_hex_digit's table: by byte value, the digit's value + 1, else 0. */
extern const int8_t wt_hex_plus1[256];
/* The value of a hexadecimal digit (either case), -1 for anything else.
 * Inline: UUIDs go through it 32 digits at a time on the worker's hot path. */
static inline int wt_hex_digit(char c) {
  return wt_hex_plus1[(unsigned char)c] - 1;
}

#endif
