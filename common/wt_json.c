/* wt_json: a strict JSON scanner without a tree (see wt_json.h). */
#include "wt_json.h"

#include <stdio.h>
#include <string.h>

#define PATH_LEVELS 16 /* containers a flaw's path names; deeper: "..." */
#define PATH_KEY_MAX 40

typedef struct scanner {
  const unsigned char *s;
  size_t len, pos;
  int depth, max_depth;
  const char *why;              /* the first failure */
  const wt_json_nested *nested; /* may be NULL */
  /* wt_json_check only: where the scan is (per container level from the
   * root: the key of the member being scanned, or the item's index) and
   * what it found */
  wt_json_flaw *flaw;
  wt_json_span level_key[PATH_LEVELS]; /* the member's key, when is_key */
  bool level_is_key[PATH_LEVELS];
  size_t level_index[PATH_LEVELS];
} scanner;

static bool fail(scanner *sc, const char *why) {
  if (!sc->why)
    sc->why = why;
  return false;
}

static void skip_ws(scanner *sc) {
  while (sc->pos < sc->len) {
    unsigned char c = sc->s[sc->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
      break;
    sc->pos++;
  }
}

/* a digit's value + 1: the zero of every byte not named means "not a
 * digit" */
const int8_t wt_hex_plus1[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
    ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
    ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12,
    ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

/* Four hex digits at p (bounds checked by the caller), or -1. */
static long hex4(const unsigned char *p) {
  long v = 0;
  for (int i = 0; i < 4; i++) {
    int d = wt_hex_digit((char)p[i]);
    if (d < 0)
      return -1;
    v = v << 4 | d;
  }
  return v;
}

/* The length of the valid UTF-8 sequence at p (lead byte >= 0x80) within
 * avail bytes, or 0: no overlong forms, no surrogates, nothing over
 * U+10FFFF. */
static size_t utf8_seq(const unsigned char *p, size_t avail) {
  unsigned c = p[0];
  size_t more;
  unsigned long cp;
  if (c >= 0xc2 && c <= 0xdf) {
    more = 1;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    more = 2;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    more = 3;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (avail - 1 < more)
    return 0;
  for (size_t k = 1; k <= more; k++) {
    if ((p[k] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (p[k] & 0x3f);
  }
  if (more == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
    return 0;
  if (more == 3 && (cp < 0x10000 || cp > 0x10ffff))
    return 0;
  return more + 1;
}

/* At the opening quote. */
static bool scan_string(scanner *sc, wt_json_span *v) {
  size_t start = ++sc->pos;
  v->escaped = false;
  for (;;) {
    unsigned char c;
    sc->pos +=
        wt_json_plain_run((const char *)sc->s + sc->pos, sc->len - sc->pos);
    if (sc->pos >= sc->len)
      return fail(sc, "unterminated string");
    c = sc->s[sc->pos];
    if (c == '"')
      break;
    if (c == '\\') {
      unsigned char e;
      v->escaped = true;
      if (++sc->pos >= sc->len)
        return fail(sc, "unterminated string");
      e = sc->s[sc->pos];
      if (e == 'u') {
        if (sc->len - sc->pos < 5 || hex4(sc->s + sc->pos + 1) < 0)
          return fail(sc, "bad \\u escape");
        sc->pos += 5;
      } else if (e && strchr("\"\\/bfnrt", e)) {
        sc->pos++;
      } else {
        return fail(sc, "bad escape");
      }
    } else if (c < 0x20) {
      return fail(sc, "control character in a string");
    } else if (c < 0x80) {
      sc->pos++;
    } else {
      size_t n = utf8_seq(sc->s + sc->pos, sc->len - sc->pos);
      if (!n)
        return fail(sc, "invalid UTF-8");
      sc->pos += n;
    }
  }
  v->type = WT_JSON_STRING;
  v->p = (const char *)sc->s + start;
  v->len = sc->pos - start;
  sc->pos++; /* the closing quote */
  return true;
}

static bool digits(scanner *sc) {
  size_t start = sc->pos;
  while (sc->pos < sc->len && sc->s[sc->pos] >= '0' && sc->s[sc->pos] <= '9')
    sc->pos++;
  return sc->pos > start || fail(sc, "bad number");
}

static bool scan_number(scanner *sc, wt_json_span *v) {
  size_t start = sc->pos;
  v->type = WT_JSON_INT;
  if (sc->s[sc->pos] == '-')
    sc->pos++;
  if (sc->pos < sc->len && sc->s[sc->pos] == '0')
    sc->pos++; /* no leading zeros: a digit after it ends the value */
  else if (!digits(sc))
    return false;
  if (sc->pos < sc->len && sc->s[sc->pos] == '.') {
    v->type = WT_JSON_REAL;
    sc->pos++;
    if (!digits(sc))
      return false;
  }
  if (sc->pos < sc->len && (sc->s[sc->pos] == 'e' || sc->s[sc->pos] == 'E')) {
    v->type = WT_JSON_REAL;
    sc->pos++;
    if (sc->pos < sc->len && (sc->s[sc->pos] == '+' || sc->s[sc->pos] == '-'))
      sc->pos++;
    if (!digits(sc))
      return false;
  }
  v->p = (const char *)sc->s + start;
  v->len = sc->pos - start;
  return true;
}

static bool scan_literal(scanner *sc, wt_json_span *v, const char *word,
                         wt_json_type type) {
  size_t n = strlen(word);
  if (sc->len - sc->pos < n || memcmp(sc->s + sc->pos, word, n) != 0)
    return fail(sc, "unexpected character");
  v->type = type;
  v->p = (const char *)sc->s + sc->pos;
  v->len = n;
  sc->pos += n;
  return true;
}

static bool scan_value(scanner *sc, wt_json_span *v, wt_json_member_fn fn,
                       void *ctx);

/* wt_json_check's failure: the path of the levels up to `levels` (the
 * containers the value is in) into sc->flaw, why already there. */
static bool check_fail(scanner *sc, int levels) {
  wt_json_flaw *f = sc->flaw;
  size_t n = 0;
  f->path[0] = '\0';
  for (int l = 0; l < levels; l++) {
    char key[PATH_KEY_MAX + 1];
    int w;
    if (l >= PATH_LEVELS) {
      w = snprintf(f->path + n, sizeof(f->path) - n, "...");
    } else if (sc->level_is_key[l]) {
      size_t k = wt_json_string(&sc->level_key[l], key, sizeof(key), NULL);
      if (k >= sizeof(key)) { /* cut: not inside a UTF-8 sequence */
        k = sizeof(key) - 1;
        while (k > 0 && wt_utf8_chars(key, k) < 0)
          key[--k] = '\0';
      }
      w = snprintf(f->path + n, sizeof(f->path) - n, "%s%s", n ? "." : "", key);
    } else {
      w = snprintf(f->path + n, sizeof(f->path) - n, "[%zu]",
                   sc->level_index[l]);
    }
    if (w >= 0 && (size_t)w >= sizeof(f->path) - n) {
      /* cut by the buffer: not inside a UTF-8 sequence either (the path
       * goes back to the client in a text frame) */
      size_t k = strlen(f->path);
      while (k > 0 && wt_utf8_chars(f->path, k) < 0)
        f->path[--k] = '\0';
    }
    if (w < 0 || (size_t)w >= sizeof(f->path) - n || l >= PATH_LEVELS)
      break;
    n += (size_t)w;
  }
  return fail(sc, f->why);
}

/* wt_json_check's look at a scanned string (levels: the containers it is
 * in; what: "a key: " for a key). */
static bool check_string(scanner *sc, const wt_json_span *v, int levels,
                         const char *what) {
  char why[sizeof(sc->flaw->why) - 8];
  if (!sc->flaw || !v->escaped || !wt_json_string_flaw(v, why, sizeof(why)))
    return true;
  snprintf(sc->flaw->why, sizeof(sc->flaw->why), "%s%s", what, why);
  return check_fail(sc, levels);
}

/* wt_json_check's look at a scanned number. */
static bool check_number(scanner *sc, const wt_json_span *v, int levels) {
  int64_t x;
  if (!sc->flaw)
    return true;
  if (v->type == WT_JSON_INT && wt_json_int64(v, &x) != 0) {
    snprintf(sc->flaw->why, sizeof(sc->flaw->why),
             "%.*s%s is out of range "
             "(-9223372036854775808..9223372036854775807)",
             (int)(v->len > 24 ? 24 : v->len), v->p, v->len > 24 ? "..." : "");
    return check_fail(sc, levels);
  }
  return true;
}

/* Whether a root member's key is the nested one, escapes decoded (a key
 * with a NUL is no key of anyone's). */
static bool is_nested_key(const scanner *sc, const wt_json_span *key) {
  char buf[64];
  size_t n;
  if (!key->escaped)
    return key->len == sc->nested->key_len &&
           memcmp(key->p, sc->nested->key, key->len) == 0;
  n = wt_json_string(key, buf, sizeof(buf), NULL);
  return n < sizeof(buf) && n == sc->nested->key_len && strlen(buf) == n &&
         memcmp(buf, sc->nested->key, n) == 0;
}

/* At '{' or '['; fn gets the members of this object (the root's only, and
 * the nested member's). */
static bool scan_container(scanner *sc, wt_json_span *v, wt_json_member_fn fn,
                           void *ctx) {
  bool object = sc->s[sc->pos] == '{';
  unsigned char close = object ? '}' : ']';
  size_t start = sc->pos;
  if (++sc->depth > sc->max_depth)
    return fail(sc, "nesting too deep");
  sc->pos++;
  skip_ws(sc);
  if (sc->pos < sc->len && sc->s[sc->pos] == close) {
    sc->pos++;
  } else {
    for (size_t index = 0;; index++) {
      wt_json_span key, val;
      skip_ws(sc);
      if (object) {
        if (sc->pos >= sc->len || sc->s[sc->pos] != '"')
          return fail(sc, sc->pos >= sc->len ? "unexpected end of data"
                                             : "expected a key");
        if (!scan_string(sc, &key) ||
            !check_string(sc, &key, sc->depth - 1, "a key: "))
          return false;
        skip_ws(sc);
        if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
          return fail(sc, "expected ':'");
        sc->pos++;
      }
      if (sc->flaw && sc->depth <= PATH_LEVELS) {
        sc->level_is_key[sc->depth - 1] = object;
        if (object)
          sc->level_key[sc->depth - 1] = key;
        sc->level_index[sc->depth - 1] = index;
      }
      if (object && sc->depth == 1 && sc->nested && is_nested_key(sc, &key)) {
        sc->nested->start(sc->nested->ctx);
        if (!scan_value(sc, &val, sc->nested->fn, sc->nested->ctx))
          return false;
      } else if (!scan_value(sc, &val, NULL, NULL)) {
        return false;
      }
      if (object && fn)
        fn(ctx, &key, &val);
      skip_ws(sc);
      if (sc->pos >= sc->len)
        return fail(sc, "unexpected end of data");
      if (sc->s[sc->pos] == close) {
        sc->pos++;
        break;
      }
      if (sc->s[sc->pos] != ',')
        return fail(sc, object ? "expected ',' or '}'" : "expected ',' or ']'");
      sc->pos++;
    }
  }
  sc->depth--;
  v->type = object ? WT_JSON_OBJECT : WT_JSON_ARRAY;
  v->p = (const char *)sc->s + start;
  v->len = sc->pos - start;
  v->escaped = false;
  return true;
}

static bool scan_value(scanner *sc, wt_json_span *v, wt_json_member_fn fn,
                       void *ctx) {
  unsigned char c;
  skip_ws(sc);
  if (sc->pos >= sc->len)
    return fail(sc, "unexpected end of data");
  v->escaped = false;
  c = sc->s[sc->pos];
  switch (c) {
  case '{':
  case '[': return scan_container(sc, v, fn, ctx);
  case '"': return scan_string(sc, v) && check_string(sc, v, sc->depth, "");
  case 't': return scan_literal(sc, v, "true", WT_JSON_BOOL);
  case 'f': return scan_literal(sc, v, "false", WT_JSON_BOOL);
  case 'n': return scan_literal(sc, v, "null", WT_JSON_NULL);
  default:
    if (c == '-' || (c >= '0' && c <= '9'))
      return scan_number(sc, v) && check_number(sc, v, sc->depth);
    return fail(sc, "unexpected character");
  }
}

wt_err wt_json_scan(const char *s, size_t len, int max_depth,
                    wt_json_type *type, wt_json_member_fn fn, void *ctx,
                    char *errstr, size_t errstr_size) {
  return wt_json_scan_nested(s, len, max_depth, type, fn, ctx, NULL, errstr,
                             errstr_size);
}

wt_err wt_json_scan_nested(const char *s, size_t len, int max_depth,
                           wt_json_type *type, wt_json_member_fn fn, void *ctx,
                           const wt_json_nested *nested, char *errstr,
                           size_t errstr_size) {
  scanner sc = {.s = (const unsigned char *)s,
                .len = s ? len : 0,
                .max_depth = max_depth,
                .nested = nested};
  wt_json_span root;
  if (scan_value(&sc, &root, fn, ctx)) {
    skip_ws(&sc);
    if (sc.pos == sc.len) {
      if (type)
        *type = root.type;
      return WT_OK;
    }
    fail(&sc, "trailing bytes");
  }
  wt_errf(errstr, errstr_size, "%s at byte %zu", sc.why, sc.pos);
  return WT_ERR_INVALID;
}

wt_err wt_json_check(const char *s, size_t len, int max_depth,
                     wt_json_flaw *flaw) {
  wt_json_flaw own;
  scanner sc = {.s = (const unsigned char *)s,
                .len = s ? len : 0,
                .max_depth = max_depth,
                .flaw = flaw ? flaw : &own};
  wt_json_span root;
  sc.flaw->path[0] = sc.flaw->why[0] = '\0';
  if (scan_value(&sc, &root, NULL, NULL)) {
    skip_ws(&sc);
    if (sc.pos == sc.len)
      return WT_OK;
    fail(&sc, "trailing bytes");
  }
  if (sc.why != sc.flaw->why) { /* a syntax error: where, not what */
    sc.flaw->path[0] = '\0';
    wt_errf(sc.flaw->why, sizeof(sc.flaw->why), "%s at byte %zu", sc.why,
            sc.pos);
  }
  return WT_ERR_INVALID;
}

/* --- values ------------------------------------------------------------- */

typedef struct sink {
  char *out;
  size_t size, n;
} sink;

static void put(sink *k, unsigned char c) {
  if (k->n + 1 < k->size)
    k->out[k->n] = (char)c;
  k->n++;
}

static void put_code_point(sink *k, unsigned long cp) {
  if (cp < 0x80) {
    put(k, (unsigned char)cp);
  } else if (cp < 0x800) {
    put(k, (unsigned char)(0xc0 | cp >> 6));
    put(k, (unsigned char)(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    put(k, (unsigned char)(0xe0 | cp >> 12));
    put(k, (unsigned char)(0x80 | (cp >> 6 & 0x3f)));
    put(k, (unsigned char)(0x80 | (cp & 0x3f)));
  } else {
    put(k, (unsigned char)(0xf0 | cp >> 18));
    put(k, (unsigned char)(0x80 | (cp >> 12 & 0x3f)));
    put(k, (unsigned char)(0x80 | (cp >> 6 & 0x3f)));
    put(k, (unsigned char)(0x80 | (cp & 0x3f)));
  }
}

/* The escape at p[i] (a backslash; the scan checked it): its code point,
 * i moved past it. A surrogate pair is one code point, a lone surrogate
 * U+FFFD. */
static unsigned long unescape(const unsigned char *p, size_t len, size_t *i) {
  unsigned char e = p[*i + 1];
  long hi, lo;
  *i += 2;
  switch (e) {
  case 'b': return '\b';
  case 'f': return '\f';
  case 'n': return '\n';
  case 'r': return '\r';
  case 't': return '\t';
  case 'u': break;
  default: return e; /* " \ / */
  }
  hi = hex4(p + *i);
  *i += 4;
  if (hi < 0xd800 || hi > 0xdfff)
    return (unsigned long)hi;
  if (hi <= 0xdbff && len - *i >= 6 && p[*i] == '\\' && p[*i + 1] == 'u') {
    lo = hex4(p + *i + 2);
    if (lo >= 0xdc00 && lo <= 0xdfff) {
      *i += 6;
      return 0x10000 + ((unsigned long)(hi - 0xd800) << 10) +
             (unsigned long)(lo - 0xdc00);
    }
  }
  return 0xfffd;
}

size_t wt_json_string(const wt_json_span *v, char *out, size_t size,
                      long *chars) {
  const unsigned char *p = (const unsigned char *)v->p;
  sink k = {out, size, 0};
  long n = 0;
  size_t i = 0;
  if (!v->escaped) {
    size_t copy = size ? (v->len < size ? v->len : size - 1) : 0;
    if (copy)
      memcpy(out, p, copy);
    k.n = v->len;
    if (chars)
      for (size_t j = 0; j < v->len; j++)
        n += (p[j] & 0xc0) != 0x80;
  } else {
    while (i < v->len) {
      if (p[i] == '\\') {
        put_code_point(&k, unescape(p, v->len, &i));
        n++;
      } else {
        n += (p[i] & 0xc0) != 0x80;
        put(&k, p[i++]);
      }
    }
  }
  if (size)
    out[k.n < size ? k.n : size - 1] = '\0';
  if (chars)
    *chars = n;
  return k.n;
}

bool wt_json_string_flaw(const wt_json_span *v, char *why, size_t why_size) {
  const unsigned char *p = (const unsigned char *)v->p;
  if (v->type != WT_JSON_STRING || !v->escaped)
    return false;
  /* the scan checked every escape: a backslash has its letter, a 'u' its
   * four hex digits */
  for (size_t i = 0; i + 1 < v->len; i++) {
    long u, lo;
    if (p[i] != '\\')
      continue;
    if (p[i + 1] != 'u') {
      i++;
      continue;
    }
    u = hex4(p + i + 2);
    if (u == 0) {
      wt_errf(why, why_size, "NUL is not allowed");
      return true;
    }
    if (u >= 0xd800 && u <= 0xdbff && v->len - i >= 12 && p[i + 6] == '\\' &&
        p[i + 7] == 'u') {
      lo = hex4(p + i + 8);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        i += 11; /* the pair */
        continue;
      }
    }
    if (u >= 0xd800 && u <= 0xdfff) {
      wt_errf(why, why_size, "a lone surrogate escape (\\u%04lx) is not text",
              u);
      return true;
    }
    i += 5;
  }
  return false;
}

int wt_json_int64(const wt_json_span *v, int64_t *out) {
  const char *p = v->p, *end = v->p + v->len;
  bool neg = false;
  uint64_t acc = 0, limit;
  if (v->type != WT_JSON_INT || v->len == 0)
    return -1;
  if (*p == '-') {
    neg = true;
    p++;
  }
  limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (; p < end; p++) {
    unsigned d = (unsigned)(*p - '0');
    if (acc > (limit - d) / 10)
      return -1;
    acc = acc * 10 + d;
  }
  if (neg)
    *out = acc == limit ? INT64_MIN : -(int64_t)acc;
  else
    *out = (int64_t)acc;
  return 0;
}

long wt_utf8_chars(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  long n = 0;
  while (i < len) {
    size_t step = p[i] < 0x80 ? 1 : utf8_seq(p + i, len - i);
    if (!step)
      return -1;
    i += step;
    n++;
  }
  return n;
}
