/* Unit tests of wt_json: what the scanner takes and refuses, the members it
 * reports, string decoding and integers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "wt_json.h"

#define DEPTH 15

typedef struct scan_case {
  const char *text;
  size_t len; /* 0: strlen(text) */
  bool ok;
  wt_json_type type;  /* when ok */
  const char *reason; /* when not: a fragment of the error */
} scan_case;

#define GOOD(t, ty)                                                            \
  { t, 0, true, ty, NULL }
#define BAD(t, why)                                                            \
  { t, 0, false, WT_JSON_NULL, why }

static const scan_case scan_cases[] = {
    GOOD("{}", WT_JSON_OBJECT),
    GOOD(" \t\r\n{ } \n", WT_JSON_OBJECT),
    GOOD("[]", WT_JSON_ARRAY),
    GOOD("[1, [2, {\"a\": [true, false, null]}]]", WT_JSON_ARRAY),
    GOOD("0", WT_JSON_INT),
    GOOD("-0", WT_JSON_INT),
    GOOD("123456789", WT_JSON_INT),
    GOOD("1.5", WT_JSON_REAL),
    GOOD("-0.25e+3", WT_JSON_REAL),
    GOOD("1E-2", WT_JSON_REAL),
    GOOD("1e10", WT_JSON_REAL),
    GOOD("\"\"", WT_JSON_STRING),
    GOOD("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00\"",
         WT_JSON_STRING),
    GOOD("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", WT_JSON_STRING),
    /* JSON, but no text: wt_json_string_flaw and wt_json_check refuse it */
    GOOD("\"\\ud800 lone\"", WT_JSON_STRING),
    GOOD("true", WT_JSON_BOOL),
    GOOD("null", WT_JSON_NULL),
    BAD("", "unexpected end of data at byte 0"),
    BAD("   ", "unexpected end of data"),
    BAD("{", "unexpected end of data"),
    BAD("{\"a\"}", "expected ':'"),
    BAD("{\"a\":}", "unexpected character"),
    BAD("{\"a\":1,}", "expected a key"),
    BAD("{a:1}", "expected a key"),
    BAD("{'a':1}", "expected a key"),
    BAD("{\"a\":1 \"b\":2}", "expected ',' or '}'"),
    BAD("[1,]", "unexpected character"),
    BAD("[1 2]", "expected ',' or ']'"),
    BAD("01", "trailing bytes at byte 1"),
    BAD("-01", "trailing bytes"),
    BAD("+1", "unexpected character"),
    BAD("1.", "bad number"),
    BAD(".5", "unexpected character"),
    BAD("1e", "bad number"),
    BAD("1e+", "bad number"),
    BAD("-", "bad number"),
    BAD("NaN", "unexpected character"),
    BAD("[-Infinity]", "bad number"),
    BAD("tru", "unexpected character"),
    BAD("nul", "unexpected character"),
    BAD("truex", "trailing bytes"),
    BAD("\"abc", "unterminated string"),
    BAD("\"abc\\", "unterminated string"),
    BAD("\"\\x\"", "bad escape"),
    BAD("\"\\u12\"", "bad \\u escape"),
    BAD("\"\\u12g4\"", "bad \\u escape"),
    BAD("\"a\tb\"", "control character in a string at byte 2"),
    BAD("\"a\nb\"", "control character"),
    BAD("\"\xff\"", "invalid UTF-8 at byte 1"),
    BAD("\"\xc0\xaf\"", "invalid UTF-8"),         /* overlong '/' */
    BAD("\"\xe0\x80\xaf\"", "invalid UTF-8"),     /* overlong, 3 bytes */
    BAD("\"\xed\xa0\x80\"", "invalid UTF-8"),     /* a surrogate */
    BAD("\"\xf4\x90\x80\x80\"", "invalid UTF-8"), /* over U+10FFFF */
    BAD("\"\xe2\x82\"", "invalid UTF-8"),         /* cut short */
    BAD("\"\xc3(\"", "invalid UTF-8"),            /* bad continuation */
    BAD("\xc3\xa9", "unexpected character"),      /* outside a string */
    BAD("{} x", "trailing bytes at byte 3"),
    BAD("{}{}", "trailing bytes"),
    {"{}\0", 3, false, WT_JSON_NULL, "trailing bytes"},
    {"\"a\0b\"", 5, false, WT_JSON_NULL, "control character"},
};

static void test_scan_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(scan_cases) / sizeof(*scan_cases); i++) {
    const scan_case *c = &scan_cases[i];
    size_t len = c->len ? c->len : strlen(c->text);
    wt_json_type type = (wt_json_type)-1;
    char err[128] = "";
    wt_err rc =
        wt_json_scan(c->text, len, DEPTH, &type, NULL, NULL, err, sizeof(err));
    if (c->ok && (rc != WT_OK || type != c->type))
      fail_msg("case %zu \"%s\": rc=%d type=%d err=%s", i, c->text, rc, type,
               err);
    if (!c->ok && (rc != WT_ERR_INVALID || !strstr(err, c->reason)))
      fail_msg("case %zu \"%s\": rc=%d err=\"%s\", wanted \"%s\"", i, c->text,
               rc, err, c->reason);
  }
}

/* max_depth counts the root: exactly max_depth nested containers pass. */
static void test_depth(void **state) {
  char text[64];
  char err[128];
  (void)state;
  for (size_t n = 1; n <= 20; n++) {
    for (size_t i = 0; i < n; i++) {
      text[i] = '[';
      text[2 * n - 1 - i] = ']';
    }
    text[2 * n] = '\0';
    assert_int_equal(
        wt_json_scan(text, strlen(text), DEPTH, NULL, NULL, NULL, err, 128),
        n <= DEPTH ? WT_OK : WT_ERR_INVALID);
    if (n > DEPTH)
      assert_non_null(strstr(err, "nesting too deep"));
  }
}

/* --- members ------------------------------------------------------------- */

typedef struct seen {
  int n;
  char keys[8][32];
  wt_json_span vals[8];
  bool key_escaped[8];
} seen;

static void record(void *ctx, const wt_json_span *key,
                   const wt_json_span *value) {
  seen *s = ctx;
  assert_true(s->n < 8);
  assert_int_equal(key->type, WT_JSON_STRING);
  snprintf(s->keys[s->n], sizeof(s->keys[0]), "%.*s", (int)key->len, key->p);
  s->key_escaped[s->n] = key->escaped;
  s->vals[s->n++] = *value;
}

static bool span_is(const wt_json_span *v, const char *text) {
  return v->len == strlen(text) && memcmp(v->p, text, v->len) == 0;
}

static void test_members(void **state) {
  static const char text[] =
      "{\"a\":1, \"b\" : \"x\\ny\", \"c\":{\"d\":[1,{\"e\":2}]},"
      "\"a\":null, \"k\\u0065y\":-2.5e1, \"t\":true, \"l\":[ ]}";
  seen s = {0};
  wt_json_type type;
  (void)state;
  assert_int_equal(
      wt_json_scan(text, strlen(text), DEPTH, &type, record, &s, NULL, 0),
      WT_OK);
  assert_int_equal(type, WT_JSON_OBJECT);
  /* the root's members only, in order, a repeated key each time */
  assert_int_equal(s.n, 7);
  assert_string_equal(s.keys[0], "a");
  assert_int_equal(s.vals[0].type, WT_JSON_INT);
  assert_true(span_is(&s.vals[0], "1"));
  assert_string_equal(s.keys[1], "b");
  assert_int_equal(s.vals[1].type, WT_JSON_STRING);
  assert_true(s.vals[1].escaped);
  assert_true(span_is(&s.vals[1], "x\\ny")); /* between the quotes */
  assert_string_equal(s.keys[2], "c");
  assert_int_equal(s.vals[2].type, WT_JSON_OBJECT);
  assert_true(span_is(&s.vals[2], "{\"d\":[1,{\"e\":2}]}"));
  assert_string_equal(s.keys[3], "a");
  assert_int_equal(s.vals[3].type, WT_JSON_NULL);
  assert_string_equal(s.keys[4], "k\\u0065y"); /* raw: escapes kept */
  assert_true(s.key_escaped[4]);
  assert_int_equal(s.vals[4].type, WT_JSON_REAL);
  assert_true(span_is(&s.vals[4], "-2.5e1"));
  assert_int_equal(s.vals[5].type, WT_JSON_BOOL);
  assert_true(span_is(&s.vals[5], "true"));
  assert_int_equal(s.vals[6].type, WT_JSON_ARRAY);
  assert_true(span_is(&s.vals[6], "[ ]"));
}

/* A root that is not an object reports no member. */
static void test_members_of_array(void **state) {
  static const char text[] = "[{\"a\":1}]";
  seen s = {0};
  (void)state;
  assert_int_equal(
      wt_json_scan(text, strlen(text), DEPTH, NULL, record, &s, NULL, 0),
      WT_OK);
  assert_int_equal(s.n, 0);
}

/* --- strings ------------------------------------------------------------- */

/* The one member of {"s":<json>}, in a buffer the next call reuses. */
static wt_json_span string_span(const char *json) {
  static char text[256];
  seen s = {0};
  snprintf(text, sizeof(text), "{\"s\":%s}", json);
  assert_int_equal(
      wt_json_scan(text, strlen(text), DEPTH, NULL, record, &s, NULL, 0),
      WT_OK);
  assert_int_equal(s.n, 1);
  return s.vals[0];
}

typedef struct decode_case {
  const char *json;
  const char *bytes; /* decoded */
  size_t len;
  long chars;
} decode_case;

static const decode_case decode_cases[] = {
    {"\"plain\"", "plain", 5, 5},
    {"\"\"", "", 0, 0},
    {"\"caf\xc3\xa9\"", "caf\xc3\xa9", 5, 4},
    {"\"a\\\"b\\\\c\\/d\"", "a\"b\\c/d", 7, 7},
    {"\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t", 5, 5},
    {"\"\\u0041\\u00e9\\u20AC\"", "A\xc3\xa9\xe2\x82\xac", 6, 3},
    {"\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4, 1}, /* a pair */
    {"\"\\ud83dx\"", "\xef\xbf\xbdx", 4, 2},          /* lone high */
    {"\"\\ude00\"", "\xef\xbf\xbd", 3, 1},            /* lone low */
    {"\"\\ud83d\\u0041\"",
     "\xef\xbf\xbd"
     "A",
     4, 2}, /* high, no low */
    {"\"\\ud83d\\ud83d\\ude00\"", "\xef\xbf\xbd\xf0\x9f\x98\x80", 7, 2},
    {"\"a\\u0000b\"", "a\0b", 3, 3},
};

static void test_string_decode(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(decode_cases) / sizeof(*decode_cases); i++) {
    const decode_case *c = &decode_cases[i];
    wt_json_span v = string_span(c->json);
    char out[64];
    long chars = -1;
    size_t n = wt_json_string(&v, out, sizeof(out), &chars);
    if (n != c->len || memcmp(out, c->bytes, n) != 0 || out[n] != '\0' ||
        chars != c->chars)
      fail_msg("case %zu %s: len %zu chars %ld", i, c->json, n, chars);
  }
}

/* A string longer than out: the full length comes back, a prefix fits. */
static void test_string_truncated(void **state) {
  wt_json_span v = string_span("\"abcdefgh\"");
  char out[4];
  long chars = 0;
  (void)state;
  assert_int_equal(wt_json_string(&v, out, sizeof(out), &chars), 8);
  assert_string_equal(out, "abc");
  assert_int_equal(chars, 8);
  assert_int_equal(wt_json_string(&v, out, 0, NULL), 8);
  v = string_span("\"ab\\u00e9defgh\""); /* the same buffer */
  assert_int_equal(wt_json_string(&v, out, sizeof(out), &chars), 9);
  assert_int_equal(chars, 8);
  assert_int_equal(out[3], '\0');
}

/* --- what is JSON but not text (contract v1.1) ---------------------------- */

typedef struct flaw_case {
  const char *json;
  const char *why; /* NULL: no flaw */
} flaw_case;

#define LONE(u) "a lone surrogate escape (\\u" u ") is not text"

static const flaw_case flaw_cases[] = {
    {"\"plain\"", NULL},
    {"\"\\u00e9\\n\\u20AC\"", NULL},
    {"\"\\ud83d\\ude00\"", NULL},
    {"\"\\uDBFF\\uDFFF and \\ud800\\udc00\"", NULL},
    {"\"\\\\ud83d\"", NULL}, /* an escaped backslash, then text */
    {"\"\\ud83d\"", LONE("d83d")},
    {"\"x\\uD83Dx\"", LONE("d83d")},
    {"\"\\ude00\"", LONE("de00")},
    {"\"\\ud83d\\u0041\"", LONE("d83d")},
    {"\"\\ud83d\\ud83d\\ude00\"", LONE("d83d")},
    {"\"\\ude00\\ud83d\"", LONE("de00")},
    {"\"\\ud83d\\ude00\\udfff\"", LONE("dfff")},
    {"\"\\u0000\"", "NUL is not allowed"},
    {"\"a\\u0000b\"", "NUL is not allowed"},
};

static void test_string_flaw(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(flaw_cases) / sizeof(*flaw_cases); i++) {
    const flaw_case *c = &flaw_cases[i];
    wt_json_span v = string_span(c->json);
    char why[128] = "";
    bool flawed = wt_json_string_flaw(&v, why, sizeof(why));
    if (flawed != (c->why != NULL) || (c->why && strcmp(why, c->why) != 0))
      fail_msg("case %zu %s: %s \"%s\"", i, c->json, flawed ? "flawed" : "fine",
               why);
  }
}

typedef struct check_case {
  const char *json;
  const char *path; /* NULL: the text passes */
  const char *why;  /* a fragment */
} check_case;

#define KEY39 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define RANGE "is out of range (-9223372036854775808..9223372036854775807)"

static const check_case check_cases[] = {
    {"{\"id\":\"1\",\"log\":{\"description\":\"\\ud83d\\ude00\"}}", NULL, NULL},
    {"{\"a\":9223372036854775807,\"b\":-9223372036854775808,\"c\":1e400}", NULL,
     NULL},
    {"{\"id\":\"1\",\"log\":{\"description\":\"\\ud83d\"}}", "log.description",
     LONE("d83d")},
    {"{\"id\":\"\\u0000\"}", "id", "NUL is not allowed"},
    {"{\"a\":[1,{\"b\":\"\\udc00\"}]}", "a[1].b", LONE("dc00")},
    {"[[0,\"\\u0000\"]]", "[0][1]", "NUL is not allowed"},
    {"\"\\ud800\"", "", LONE("d800")},
    {"{\"\\ud800\":1}", "", "a key: " LONE("d800")},
    {"{\"x\":{\"\\u0000\":1}}", "x", "a key: NUL is not allowed"},
    {"{\"d\\u00e9j\\u00e0\":\"\\u0000\"}", "d\xc3\xa9j\xc3\xa0", "NUL"},
    {"{\"since\":9223372036854775808}", "since", "9223372036854775808 " RANGE},
    {"{\"changes\":{},\"expected_version\":-9223372036854775809}",
     "expected_version", "-9223372036854775809 " RANGE},
    {"[12345678901234567890123456789]", "[0]", "123456789012345678901234... "},
    /* a long key is cut at 40 bytes, never inside a character */
    {"{\"" KEY39 "\xc3\xa9xyz\":\"\\u0000\"}", "", NULL},
    {"{'a':1}", "", "expected a key at byte 1"},
    {"{\"a\":1} x", "", "trailing bytes at byte 8"},
    /* the first failure counts: a flaw before trailing bytes */
    {"{\"a\":\"\\ud83d\"} x", "a", LONE("d83d")},
};

static void test_check(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(check_cases) / sizeof(*check_cases); i++) {
    const check_case *c = &check_cases[i];
    wt_json_flaw f;
    wt_err rc = wt_json_check(c->json, strlen(c->json), DEPTH, &f);
    bool long_key = strstr(c->json, KEY39) != NULL;
    if (!c->path && !long_key) {
      if (rc != WT_OK)
        fail_msg("case %zu %s: refused: %s: %s", i, c->json, f.path, f.why);
      continue;
    }
    if (rc != WT_ERR_INVALID)
      fail_msg("case %zu %s: taken", i, c->json);
    if (long_key) {
      if (strcmp(f.path, KEY39) != 0 ||
          strcmp(f.why, "NUL is not allowed") != 0)
        fail_msg("case %zu: path \"%s\" why \"%s\"", i, f.path, f.why);
    } else if (strcmp(f.path, c->path) != 0 || !strstr(f.why, c->why)) {
      fail_msg("case %zu %s: path \"%s\" why \"%s\", wanted \"%s\" \"%s\"", i,
               c->json, f.path, f.why, c->path, c->why);
    }
  }
  /* no flaw struct: the verdict alone */
  assert_int_equal(wt_json_check("[\"\\u0000\"]", 10, DEPTH, NULL),
                   WT_ERR_INVALID);
  assert_int_equal(wt_json_check("[\"\\u0001\"]", 10, DEPTH, NULL), WT_OK);
}

/* Deeper than a path names: the levels past 16 are "...". */
static void test_check_deep_path(void **state) {
  char text[128];
  size_t n = 0;
  wt_json_flaw f;
  (void)state;
  for (int i = 0; i < 20; i++)
    text[n++] = '[';
  n += (size_t)snprintf(text + n, sizeof(text) - n, "\"\\u0000\"");
  for (int i = 0; i < 20; i++)
    text[n++] = ']';
  assert_int_equal(wt_json_check(text, n, 32, &f), WT_ERR_INVALID);
  assert_string_equal(f.path, "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
                              "[0]...");
  assert_string_equal(f.why, "NUL is not allowed");
  /* and the depth cap holds as in wt_json_scan */
  assert_int_equal(wt_json_check(text, n, 15, &f), WT_ERR_INVALID);
  assert_non_null(strstr(f.why, "nesting too deep"));
}

/* A path longer than its buffer is cut at a character's edge, never inside
 * one (found by tests/fuzz/fuzz_json: the cut fell in an "\xc3\xa9"). */
static void test_check_long_path_cut(void **state) {
  char text[512], want[512];
  const char *e20 = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
  wt_json_flaw f;
  size_t n;
  (void)state;
  /* 39 + 1 + 40 + 1 + 40 + 1 bytes before the last key: 37 of its 40
   * bytes fit the 159 a path holds, which would end inside a character */
  n = (size_t)snprintf(text, sizeof(text),
                       "{\"%s\":{\"%s\":{\"%s\":{\"%s\":\"\\u0000\"}}}}", KEY39,
                       e20, e20, e20);
  assert_true(n < sizeof(text));
  assert_int_equal(wt_json_check(text, n, DEPTH, &f), WT_ERR_INVALID);
  assert_string_equal(f.why, "NUL is not allowed");
  assert_true(wt_utf8_chars(f.path, strlen(f.path)) >= 0);
  snprintf(want, sizeof(want), "%s.%s.%s.%s", KEY39, e20, e20, e20);
  assert_int_equal(strlen(f.path), 158); /* 159 less the cut half */
  assert_memory_equal(f.path, want, strlen(f.path));
}

/* --- the word-at-a-time run ------------------------------------------- */

static bool needs_look(unsigned char c) {
  return c == '"' || c == '\\' || c < 0x20 || c >= 0x80;
}

/* Every byte value at every offset of every length up to 24, with a
 * second special byte (or none) at every later offset: the run ends
 * exactly at the first byte that needs a look, whatever follows it. */
static void test_plain_run(void **state) {
  static const int second[] = {-1, '"', '\\', 0x01, 0x1f, 0x80, 0xff};
  (void)state;
  for (size_t len = 0; len <= 24; len++) {
    for (size_t at = 0; at <= len; at++) {
      for (size_t k = 0; k < sizeof(second) / sizeof(*second); k++) {
        for (size_t at2 = at + 1; at2 <= len + 1; at2++) {
          for (int c = 0; c < 256; c++) {
            char s[32];
            size_t first, got;
            memset(s, 'a', sizeof(s)); /* bytes past len must not count */
            s[len] = '"';
            if (at < len)
              s[at] = (char)c;
            if (second[k] >= 0 && at2 < len)
              s[at2] = (char)second[k];
            first = len;
            for (size_t i = 0; i < len; i++)
              if (needs_look((unsigned char)s[i])) {
                first = i;
                break;
              }
            got = wt_json_plain_run(s, len);
            if (got != first)
              fail_msg("len %zu byte 0x%02x at %zu: %zu, want %zu", len, c, at,
                       got, first);
          }
        }
      }
    }
  }
}

/* The scanner with the skip: a string whose special byte sits at each
 * offset around the words is taken or refused as byte by byte. */
static void test_scan_string_offsets(void **state) {
  (void)state;
  for (size_t at = 0; at < 20; at++) {
    for (int c = 1; c < 128; c++) {
      char text[40];
      char err[128];
      wt_json_type type;
      wt_err rc;
      /* a quote ends the string early (what follows is not JSON), a
       * backslash escapes an 'a' */
      bool ok = c >= 0x20 && c != '"' && c != '\\';
      memset(text, 'a', sizeof(text));
      text[0] = '"';
      text[1 + at] = (char)c;
      text[21] = '"';
      rc = wt_json_scan(text, 22, DEPTH, &type, NULL, NULL, err, sizeof(err));
      if ((rc == WT_OK) != ok)
        fail_msg("byte 0x%02x at %zu: %s", c, at, rc == WT_OK ? "taken" : err);
    }
  }
}

/* --- integers ------------------------------------------------------------ */

static void test_int64(void **state) {
  static const struct {
    const char *json;
    int rc;
    int64_t v;
  } cases[] = {
      {"0", 0, 0},
      {"-0", 0, 0},
      {"42", 0, 42},
      {"-42", 0, -42},
      {"9223372036854775807", 0, INT64_MAX},
      {"-9223372036854775808", 0, INT64_MIN},
      {"9223372036854775808", -1, 0},
      {"-9223372036854775809", -1, 0},
      {"99999999999999999999", -1, 0},
      {"1.0", -1, 0},
      {"1e2", -1, 0},
      {"\"1\"", -1, 0},
      {"true", -1, 0},
      {"null", -1, 0},
  };
  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    wt_json_span v = string_span(cases[i].json);
    int64_t out = 7;
    int rc = wt_json_int64(&v, &out);
    if (rc != cases[i].rc || (rc == 0 && out != cases[i].v))
      fail_msg("case %s: rc=%d out=%lld", cases[i].json, rc, (long long)out);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scan_table),
      cmocka_unit_test(test_depth),
      cmocka_unit_test(test_members),
      cmocka_unit_test(test_members_of_array),
      cmocka_unit_test(test_string_decode),
      cmocka_unit_test(test_string_truncated),
      cmocka_unit_test(test_string_flaw),
      cmocka_unit_test(test_check),
      cmocka_unit_test(test_check_deep_path),
      cmocka_unit_test(test_check_long_path_cut),
      cmocka_unit_test(test_int64),
      cmocka_unit_test(test_plain_run),
      cmocka_unit_test(test_scan_string_offsets),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
