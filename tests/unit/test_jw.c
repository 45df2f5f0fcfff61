/* Unit tests of wt_jw, the JSON writer: string escaping against a byte by
 * byte reference (every control character, quotes, backslash, every byte
 * value at every offset around the 8-byte words the escaper skips; UTF-8
 * passed through), integers at their limits, times, UUIDs, raw values,
 * nesting and commas, the wt_buf cap and the depth cap making wt_jw_finish
 * false, and, in debug builds, that misuse asserts.
 *
 * wt_jw.c is compiled into this test with WT_JW_ASSERT on cmocka's
 * mock_assert, so that expect_assert_failure catches the debug checks (the
 * library's copy asserts with assert()). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define WT_JW_ASSERT(e) mock_assert((int)(e), #e, __FILE__, __LINE__)
#include "wt_jw.c" /* NOLINT(bugprone-suspicious-include) */

#include "wt_json.h"

/* The escaping the writer must produce, one byte at a time. */
static size_t reference_json_str(char *out, size_t size, const char *s,
                                 size_t len) {
  size_t n = 0;
  n += (size_t)snprintf(out + n, size - n, "\"");
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"')
      n += (size_t)snprintf(out + n, size - n, "\\\"");
    else if (c == '\\')
      n += (size_t)snprintf(out + n, size - n, "\\\\");
    else if (c == '\n')
      n += (size_t)snprintf(out + n, size - n, "\\n");
    else if (c == '\r')
      n += (size_t)snprintf(out + n, size - n, "\\r");
    else if (c == '\t')
      n += (size_t)snprintf(out + n, size - n, "\\t");
    else if (c < 0x20)
      n += (size_t)snprintf(out + n, size - n, "\\u%04x", c);
    else
      n += (size_t)snprintf(out + n, size - n, "%c", c);
  }
  n += (size_t)snprintf(out + n, size - n, "\"");
  return n;
}

/* One string value written with wt_jw_strn after some bytes already in
 * the buffer, compared with the reference. */
static void check_strn(const char *s, size_t len) {
  char want[1024];
  size_t want_len;
  wt_buf b;
  wt_jw w;
  wt_buf_init(&b, 1 << 20);
  wt_buf_puts(&b, "x"); /* appends after what is there */
  wt_jw_init(&w, &b);
  wt_jw_strn(&w, s, len);
  assert_true(wt_jw_finish(&w));
  want_len = reference_json_str(want, sizeof(want), s, len);
  assert_int_equal(b.len, 1 + want_len);
  assert_memory_equal(b.data + 1, want, want_len);
  wt_buf_free(&b);
}

static void check_str(const char *s) {
  check_strn(s, strlen(s));
}

/* The text a small writer program produced. */
#define EXPECT_JSON(b, want)                                                   \
  do {                                                                         \
    assert_true(wt_buf_ok(&(b)));                                              \
    assert_string_equal((b).data, want);                                       \
  } while (0)

static void test_escape_control_chars(void **state) {
  (void)state;
  static const char *const want[32] = {
      "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005",
      "\\u0006", "\\u0007", "\\u0008", "\\t",     "\\n",     "\\u000b",
      "\\u000c", "\\r",     "\\u000e", "\\u000f", "\\u0010", "\\u0011",
      "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
      "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d",
      "\\u001e", "\\u001f"};
  for (int c = 0; c < 32; c++) {
    char s[3] = {'a', (char)c, 'b'}, expect[16];
    wt_buf b;
    wt_jw w;
    wt_buf_init(&b, 64);
    wt_jw_init(&w, &b);
    wt_jw_strn(&w, s, 3);
    assert_true(wt_jw_finish(&w));
    snprintf(expect, sizeof(expect), "\"a%sb\"", want[c]);
    assert_string_equal(b.data, expect);
    wt_buf_free(&b);
  }
}

static void test_escape_quotes_backslash_utf8(void **state) {
  wt_buf b;
  wt_jw w;
  (void)state;
  wt_buf_init(&b, 1024);
  wt_jw_init(&w, &b);
  wt_jw_arr(&w);
  wt_jw_str(&w, "\"quoted\" and \\back\\slashed\\");
  wt_jw_str(&w, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  wt_jw_str(&w, "/ and \x7f stay"); /* JSON needs neither escaped */
  wt_jw_str(&w, "");
  wt_jw_str(&w, NULL);
  wt_jw_arr_end(&w);
  assert_true(wt_jw_finish(&w));
  EXPECT_JSON(b, "[\"\\\"quoted\\\" and \\\\back\\\\slashed\\\\\","
                 "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\","
                 "\"/ and \x7f stay\",\"\",null]");
  wt_buf_free(&b);
}

/* One special byte (every value 0..255) at every offset of strings of
 * every length up to 24: before, inside and after whole words. */
static void test_escape_every_byte_everywhere(void **state) {
  (void)state;
  for (size_t len = 1; len <= 24; len++) {
    for (size_t at = 0; at < len; at++) {
      for (int c = 0; c < 256; c++) {
        char s[32];
        memset(s, 'a', len);
        s[at] = (char)c;
        check_strn(s, len);
      }
    }
  }
  check_str("plain text longer than one word of eight bytes");
  check_str("tabs\tand\nnew\r\nlines\x01\x1f end");
}

static void test_escape_random(void **state) {
  static const char pool[] = "ab\"\\\n\r\t\x01\x1f\x7f\xc3\xa9 ";
  (void)state;
  srand(13);
  for (int n = 0; n < 2000; n++) {
    char s[200];
    size_t len = (size_t)rand() % sizeof(s);
    for (size_t i = 0; i < len; i++)
      s[i] = pool[(size_t)rand() % (sizeof(pool) - 1)];
    check_strn(s, len);
  }
}

static void test_keys_escaped(void **state) {
  wt_buf b;
  wt_jw w;
  (void)state;
  wt_buf_init(&b, 1024);
  wt_jw_init(&w, &b);
  wt_jw_obj(&w);
  wt_jw_key(&w, "a\"b\\c\n");
  wt_jw_i64(&w, 1);
  wt_jw_keyn(&w, "k\0z", 3);
  wt_jw_null(&w);
  wt_jw_kstr(&w, "plain_key", "v");
  wt_jw_obj_end(&w);
  assert_true(wt_jw_finish(&w));
  EXPECT_JSON(b, "{\"a\\\"b\\\\c\\n\":1,\"k\\u0000z\":null,\"plain_key\":"
                 "\"v\"}");
  wt_buf_free(&b);
}

static void test_numbers(void **state) {
  wt_buf b;
  wt_jw w;
  (void)state;
  wt_buf_init(&b, 1024);
  wt_jw_init(&w, &b);
  wt_jw_arr(&w);
  wt_jw_i64(&w, 0);
  wt_jw_i64(&w, 7);
  wt_jw_i64(&w, -1);
  wt_jw_i64(&w, 1234567890123);
  wt_jw_i64(&w, INT64_MAX);
  wt_jw_i64(&w, INT64_MIN);
  wt_jw_i64(&w, INT64_MIN + 1);
  wt_jw_u64(&w, 0);
  wt_jw_u64(&w, UINT64_MAX);
  wt_jw_bool(&w, true);
  wt_jw_bool(&w, false);
  wt_jw_null(&w);
  wt_jw_arr_end(&w);
  assert_true(wt_jw_finish(&w));
  EXPECT_JSON(b, "[0,7,-1,1234567890123,9223372036854775807,"
                 "-9223372036854775808,-9223372036854775807,0,"
                 "18446744073709551615,true,false,null]");
  wt_buf_free(&b);
}

static void test_times(void **state) {
  wt_buf b;
  wt_jw w;
  (void)state;
  wt_buf_init(&b, 1024);
  wt_jw_init(&w, &b);
  wt_jw_arr(&w);
  wt_jw_time(&w, 0);
  wt_jw_time(&w, 0); /* the same again: the cached text */
  wt_jw_time(&w, INT64_C(1796495400000000));
  wt_jw_time(&w, INT64_C(1796495400123000));
  wt_jw_time(&w, INT64_C(1796495400123456));
  wt_jw_time(&w, INT64_C(1796495400000001));
  wt_jw_time(&w, INT64_C(951782400000000)); /* 2000-02-29 */
  wt_jw_time(&w, 0);
  wt_jw_arr_end(&w);
  assert_true(wt_jw_finish(&w));
  EXPECT_JSON(b, "[\"1970-01-01T00:00:00Z\",\"1970-01-01T00:00:00Z\","
                 "\"2026-12-05T18:30:00Z\",\"2026-12-05T18:30:00.123Z\","
                 "\"2026-12-05T18:30:00.123456Z\","
                 "\"2026-12-05T18:30:00.000001Z\",\"2000-02-29T00:00:00Z\","
                 "\"1970-01-01T00:00:00Z\"]");
  /* what wt_time_format writes, quoted */
  for (int64_t us = -INT64_C(86400000000); us < INT64_C(4102444800000000);
       us += INT64_C(86399999999) * 37) {
    char t[40], q[48];
    wt_buf_reset(&b);
    wt_jw_init(&w, &b);
    wt_jw_time(&w, us);
    assert_true(wt_jw_finish(&w));
    wt_time_format(us, t, sizeof(t));
    snprintf(q, sizeof(q), "\"%s\"", t);
    assert_string_equal(b.data, q);
  }
  wt_buf_free(&b);
}

static void test_uuid_and_raw(void **state) {
  wt_buf b;
  wt_jw w;
  (void)state;
  wt_buf_init(&b, 1024);
  wt_jw_init(&w, &b);
  wt_jw_obj(&w);
  wt_jw_kuuid(&w, "id", "0b6f7c3e-1a2b-4c3d-8e9f-a0b1c2d3e4f5");
  wt_jw_kraw(&w, "payload", "{\"a\":[1,2]}", 11);
  wt_jw_karr(&w, "ids");
  wt_jw_uuid(&w, "00000000-0000-0000-0000-000000000000");
  wt_jw_raw(&w, "null", 4);
  wt_jw_raw(&w, " 12 ", 4);
  wt_jw_arr_end(&w);
  wt_jw_obj_end(&w);
  assert_true(wt_jw_finish(&w));
  EXPECT_JSON(b, "{\"id\":\"0b6f7c3e-1a2b-4c3d-8e9f-a0b1c2d3e4f5\","
                 "\"payload\":{\"a\":[1,2]},\"ids\":[\"00000000-0000-0000-"
                 "0000-000000000000\",null, 12 ]}");
  wt_buf_free(&b);
}

/* Every kind of value at every place: objects and arrays nested, empty
 * ones, the key macros; the output is valid JSON by wt_json_scan. */
static void test_nesting(void **state) {
  wt_buf b;
  wt_jw w;
  wt_json_type type;
  char err[128];
  (void)state;
  wt_buf_init(&b, 4096);
  wt_jw_init(&w, &b);
  wt_jw_obj(&w);
  wt_jw_kstr(&w, "s", "v");
  wt_jw_kstrn(&w, "sn", "abcdef", 3);
  wt_jw_ki64(&w, "i", -5);
  wt_jw_ku64(&w, "u", 5);
  wt_jw_kbool(&w, "b", true);
  wt_jw_knull(&w, "n");
  wt_jw_ktime(&w, "t", 0);
  wt_jw_kobj(&w, "empty_obj");
  wt_jw_obj_end(&w);
  wt_jw_karr(&w, "empty_arr");
  wt_jw_arr_end(&w);
  wt_jw_karr(&w, "a");
  wt_jw_obj(&w);
  wt_jw_karr(&w, "x");
  wt_jw_arr(&w);
  wt_jw_arr_end(&w);
  wt_jw_arr(&w);
  wt_jw_i64(&w, 1);
  wt_jw_i64(&w, 2);
  wt_jw_arr_end(&w);
  wt_jw_arr_end(&w);
  wt_jw_obj_end(&w);
  wt_jw_obj(&w);
  wt_jw_obj_end(&w);
  wt_jw_str(&w, "last");
  wt_jw_arr_end(&w);
  wt_jw_obj_end(&w);
  assert_true(wt_jw_finish(&w));
  EXPECT_JSON(b, "{\"s\":\"v\",\"sn\":\"abc\",\"i\":-5,\"u\":5,\"b\":true,"
                 "\"n\":null,\"t\":\"1970-01-01T00:00:00Z\",\"empty_obj\":{},"
                 "\"empty_arr\":[],\"a\":[{\"x\":[[],[1,2]]},{},\"last\"]}");
  assert_int_equal(
      wt_json_scan(b.data, b.len, 64, &type, NULL, NULL, err, sizeof(err)),
      WT_OK);
  wt_buf_free(&b);
}

/* WT_JW_DEPTH_MAX containers nest; one more fails the output (no assert:
 * a cap, like the buffer's), and the ends after it still balance. */
static void test_depth_cap(void **state) {
  wt_buf b;
  wt_jw w;
  (void)state;
  for (int extra = 0; extra <= 3; extra++) {
    int n = WT_JW_DEPTH_MAX + extra;
    wt_buf_init(&b, 4096);
    wt_jw_init(&w, &b);
    for (int i = 0; i < n; i++) {
      wt_jw_arr(&w);
      wt_jw_i64(&w, i);
    }
    for (int i = 0; i < n; i++)
      wt_jw_arr_end(&w);
    assert_int_equal(wt_jw_finish(&w), extra == 0);
    assert_int_equal(w.depth, 0);
    wt_buf_free(&b);
  }
}

/* The buffer's cap: an output that does not fit makes finish false, at
 * every length below the one it needs. */
static void test_buf_cap(void **state) {
  const char *want = "{\"k\":\"a\\\"b\",\"n\":[1,-2],\"t\":"
                     "\"1970-01-01T00:00:00Z\"}";
  (void)state;
  for (size_t cap = 0; cap <= strlen(want) + 1; cap++) {
    wt_buf b;
    wt_jw w;
    wt_buf_init(&b, cap);
    wt_jw_init(&w, &b);
    wt_jw_obj(&w);
    wt_jw_kstr(&w, "k", "a\"b");
    wt_jw_karr(&w, "n");
    wt_jw_i64(&w, 1);
    wt_jw_i64(&w, -2);
    wt_jw_arr_end(&w);
    wt_jw_ktime(&w, "t", 0);
    wt_jw_obj_end(&w);
    if (cap < strlen(want)) {
      assert_false(wt_jw_finish(&w));
    } else {
      assert_true(wt_jw_finish(&w));
      assert_string_equal(b.data, want);
    }
    wt_buf_free(&b);
  }
}

/* A root alone is a document; a second one after init again. */
static void test_finish_needs_root(void **state) {
  wt_buf b;
  wt_jw w;
  (void)state;
  wt_buf_init(&b, 64);
  wt_jw_init(&w, &b);
  wt_jw_i64(&w, 3);
  assert_true(wt_jw_finish(&w));
  assert_string_equal(b.data, "3");
  wt_jw_init(&w, &b); /* a second document after the first */
  wt_jw_str(&w, "x");
  assert_true(wt_jw_finish(&w));
  assert_string_equal(b.data, "3\"x\"");
  wt_buf_free(&b);
}

/* The writer keeps the last time its thread wrote: repeated and
 * alternating times must each come out as their own. */
static void test_time_cache(void **state) {
  static const struct {
    int64_t us;
    const char *text;
  } cases[] = {
      {0, "\"1970-01-01T00:00:00Z\""},
      {1700000000123456, "\"2023-11-14T22:13:20.123456Z\""},
      {1700000000123456, "\"2023-11-14T22:13:20.123456Z\""},
      {1700000000123000, "\"2023-11-14T22:13:20.123Z\""},
      {0, "\"1970-01-01T00:00:00Z\""},
      {-1, "\"1969-12-31T23:59:59.999999Z\""},
      {INT64_MIN, NULL}, /* the cache's initial key: still formatted */
  };
  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    wt_buf b;
    wt_jw w;
    char t[40], q[48];
    wt_buf_init(&b, 64);
    wt_jw_init(&w, &b);
    wt_jw_time(&w, cases[i].us);
    assert_true(wt_jw_finish(&w));
    if (!cases[i].text) {
      wt_time_format(cases[i].us, t, sizeof(t));
      snprintf(q, sizeof(q), "\"%s\"", t);
    }
    assert_string_equal(b.data, cases[i].text ? cases[i].text : q);
    wt_buf_free(&b);
  }
}

/* wt_buf's former helpers write what wt_jw writes. */
static void test_buf_wrappers(void **state) {
  wt_buf b;
  (void)state;
  wt_buf_init(&b, 256);
  wt_buf_put_json_str(&b, "a\"\n\x01");
  wt_buf_putc(&b, ',');
  wt_buf_put_json_str(&b, NULL);
  wt_buf_putc(&b, ',');
  wt_buf_put_json_time(&b, INT64_C(1796495400123000));
  EXPECT_JSON(b, "\"a\\\"\\n\\u0001\",null,\"2026-12-05T18:30:00.123Z\"");
  /* the cap fails the buffer */
  wt_buf_free(&b);
  wt_buf_init(&b, 4);
  wt_buf_put_json_str(&b, "abcd");
  assert_false(wt_buf_ok(&b));
  wt_buf_free(&b);
}

#ifndef NDEBUG
/* Misuse: each is a failed assertion in debug builds. */
static void test_assert_value_without_key(void **state) {
  wt_buf b;
  wt_jw w;
  (void)state;
  wt_buf_init(&b, 256);
  wt_jw_init(&w, &b);
  wt_jw_obj(&w);
  expect_assert_failure(wt_jw_i64(&w, 1));
  wt_buf_free(&b);
}

static void test_assert_key_in_array(void **state) {
  wt_buf b;
  wt_jw w;
  (void)state;
  wt_buf_init(&b, 256);
  wt_jw_init(&w, &b);
  wt_jw_arr(&w);
  expect_assert_failure(wt_jw_key(&w, "k"));
  expect_assert_failure(wt_jw_kstr(&w, "k", "v"));
  wt_buf_free(&b);
}

static void test_assert_key_at_root(void **state) {
  wt_buf b;
  wt_jw w;
  (void)state;
  wt_buf_init(&b, 256);
  wt_jw_init(&w, &b);
  expect_assert_failure(wt_jw_key(&w, "k"));
  wt_buf_free(&b);
}

static void test_assert_two_keys(void **state) {
  wt_buf b;
  wt_jw w;
  (void)state;
  wt_buf_init(&b, 256);
  wt_jw_init(&w, &b);
  wt_jw_obj(&w);
  wt_jw_key(&w, "a");
  expect_assert_failure(wt_jw_key(&w, "b"));
  wt_buf_free(&b);
}

static void test_assert_end_after_key(void **state) {
  wt_buf b;
  wt_jw w;
  (void)state;
  wt_buf_init(&b, 256);
  wt_jw_init(&w, &b);
  wt_jw_obj(&w);
  wt_jw_key(&w, "a");
  expect_assert_failure(wt_jw_obj_end(&w));
  wt_buf_free(&b);
}

static void test_assert_wrong_end(void **state) {
  wt_buf b;
  wt_jw w;
  (void)state;
  wt_buf_init(&b, 256);
  wt_jw_init(&w, &b);
  wt_jw_obj(&w);
  expect_assert_failure(wt_jw_arr_end(&w));
  wt_jw_init(&w, &b);
  wt_jw_arr(&w);
  expect_assert_failure(wt_jw_obj_end(&w));
  wt_jw_init(&w, &b);
  expect_assert_failure(wt_jw_obj_end(&w)); /* nothing open */
  wt_buf_free(&b);
}

static void test_assert_two_roots(void **state) {
  wt_buf b;
  wt_jw w;
  (void)state;
  wt_buf_init(&b, 256);
  wt_jw_init(&w, &b);
  wt_jw_i64(&w, 1);
  expect_assert_failure(wt_jw_i64(&w, 2));
  wt_buf_free(&b);
}

static void test_assert_finish_open(void **state) {
  wt_buf b;
  wt_jw w;
  (void)state;
  wt_buf_init(&b, 256);
  wt_jw_init(&w, &b);
  wt_jw_obj(&w);
  expect_assert_failure(wt_jw_finish(&w));
  wt_jw_init(&w, &b);
  expect_assert_failure(wt_jw_finish(&w)); /* no root at all */
  wt_buf_free(&b);
}

static void test_assert_literal_key_needs_escaping(void **state) {
  wt_buf b;
  wt_jw w;
  (void)state;
  wt_buf_init(&b, 256);
  wt_jw_init(&w, &b);
  wt_jw_obj(&w);
  expect_assert_failure(wt_jw_kstr(&w, "a\"b", "v"));
  wt_buf_free(&b);
}

static void test_assert_bad_uuid_and_raw(void **state) {
  wt_buf b;
  wt_jw w;
  (void)state;
  wt_buf_init(&b, 256);
  wt_jw_init(&w, &b);
  wt_jw_arr(&w);
  expect_assert_failure(wt_jw_uuid(&w, "0B6F7C3E-1A2B-4C3D-8E9F-A0B1C2D3E4F5"));
  expect_assert_failure(wt_jw_uuid(&w, "not-a-uuid\""));
  expect_assert_failure(wt_jw_raw(&w, "{\"a\":}", 6));
  expect_assert_failure(wt_jw_raw(&w, "1 2", 3));
  wt_buf_free(&b);
}
#endif

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_escape_control_chars),
      cmocka_unit_test(test_escape_quotes_backslash_utf8),
      cmocka_unit_test(test_escape_every_byte_everywhere),
      cmocka_unit_test(test_escape_random),
      cmocka_unit_test(test_keys_escaped),
      cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_times),
      cmocka_unit_test(test_uuid_and_raw),
      cmocka_unit_test(test_nesting),
      cmocka_unit_test(test_depth_cap),
      cmocka_unit_test(test_buf_cap),
      cmocka_unit_test(test_finish_needs_root),
      cmocka_unit_test(test_time_cache),
      cmocka_unit_test(test_buf_wrappers),
#ifndef NDEBUG
      cmocka_unit_test(test_assert_value_without_key),
      cmocka_unit_test(test_assert_key_in_array),
      cmocka_unit_test(test_assert_key_at_root),
      cmocka_unit_test(test_assert_two_keys),
      cmocka_unit_test(test_assert_end_after_key),
      cmocka_unit_test(test_assert_wrong_end),
      cmocka_unit_test(test_assert_two_roots),
      cmocka_unit_test(test_assert_finish_open),
      cmocka_unit_test(test_assert_literal_key_needs_escaping),
      cmocka_unit_test(test_assert_bad_uuid_and_raw),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
