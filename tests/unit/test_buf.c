/* Unit tests of wt_buf: JSON string escaping against a byte-by-byte
 * reference (every byte value, at every offset around the 8-byte words the
 * writer skips), integers at their limits, the cap, reserve, dup and
 * wt_copy_str. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wt_buf.h"

/* The escaping the writer must produce, one byte at a time. */
static void reference_json_str(char *out, size_t size, const char *s) {
  size_t n = 0;
  n += (size_t)snprintf(out + n, size - n, "\"");
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
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
  snprintf(out + n, size - n, "\"");
}

static void check_json_str(const char *s) {
  char want[1024];
  wt_buf b;
  wt_buf_init(&b, 1 << 20);
  wt_buf_puts(&b, "x"); /* appends after what is there */
  wt_buf_put_json_str(&b, s);
  assert_true(wt_buf_ok(&b));
  reference_json_str(want, sizeof(want), s);
  assert_int_equal(b.len, 1 + strlen(want));
  assert_string_equal(b.data + 1, want);
  wt_buf_free(&b);
}

/* One special byte (every value 1..255) at every offset of strings of
 * every length up to 24: before, inside and after whole words. */
static void test_json_str_every_byte_everywhere(void **state) {
  (void)state;
  for (size_t len = 1; len <= 24; len++) {
    for (size_t at = 0; at < len; at++) {
      for (int c = 1; c < 256; c++) {
        char s[32];
        memset(s, 'a', len);
        s[len] = '\0';
        s[at] = (char)c;
        check_json_str(s);
      }
    }
  }
}

static void test_json_str_mixed(void **state) {
  (void)state;
  check_json_str("");
  check_json_str("plain text longer than one word of eight bytes");
  check_json_str("\"quoted\" and \\back\\slashed\\");
  check_json_str("tabs\tand\nnew\r\nlines\x01\x1f end");
  check_json_str(
      "caf\xc3\xa9 \xe2\x82\xac 12345678 \xf0\x9f\x98\x80 more text");
  /* random strings of special and plain bytes */
  srand(7);
  for (int k = 0; k < 20000; k++) {
    static const char pick[] = "ab\"\\\n\t\x01\x7f\xc3\xa9 zz";
    char s[64];
    size_t len = (size_t)(rand() % 63);
    for (size_t i = 0; i < len; i++)
      s[i] = pick[rand() % (int)(sizeof(pick) - 1)];
    s[len] = '\0';
    check_json_str(s);
  }
}

static void test_json_str_null(void **state) {
  wt_buf b;
  (void)state;
  wt_buf_init(&b, 64);
  wt_buf_put_json_str(&b, NULL);
  assert_string_equal(b.data, "null");
  wt_buf_free(&b);
}

static void test_i64(void **state) {
  static const struct {
    int64_t v;
    const char *text;
  } cases[] = {
      {0, "0"},
      {7, "7"},
      {-1, "-1"},
      {10, "10"},
      {-10, "-10"},
      {1234567890123, "1234567890123"},
      {INT64_MAX, "9223372036854775807"},
      {INT64_MIN, "-9223372036854775808"},
  };
  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    wt_buf b;
    wt_buf_init(&b, 64);
    wt_buf_putc(&b, '[');
    wt_buf_put_i64(&b, cases[i].v);
    wt_buf_putc(&b, ']');
    assert_true(wt_buf_ok(&b));
    assert_int_equal(b.len, strlen(cases[i].text) + 2);
    assert_memory_equal(b.data + 1, cases[i].text, strlen(cases[i].text));
    assert_int_equal(b.data[b.len], '\0');
    wt_buf_free(&b);
  }
}

/* The writer keeps the last time it wrote: repeated and alternating
 * times must each come out as their own. */
static void test_json_time(void **state) {
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
  };
  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    wt_buf b;
    wt_buf_init(&b, 64);
    wt_buf_put_json_time(&b, cases[i].us);
    assert_true(wt_buf_ok(&b));
    assert_string_equal(b.data, cases[i].text);
    wt_buf_free(&b);
  }
}

static void test_cap_reserve_dup(void **state) {
  wt_buf b;
  char *copy;
  (void)state;
  wt_buf_init(&b, 8);
  assert_true(wt_buf_reserve(&b, 8));
  wt_buf_puts(&b, "abcdefgh");
  assert_true(wt_buf_ok(&b));
  copy = wt_buf_dup(&b);
  assert_non_null(copy);
  assert_string_equal(copy, "abcdefgh");
  free(copy);
  wt_buf_putc(&b, 'i'); /* past the cap */
  assert_false(wt_buf_ok(&b));
  assert_null(wt_buf_dup(&b));
  wt_buf_reset(&b);
  assert_true(wt_buf_ok(&b));
  assert_false(wt_buf_reserve(&b, 9));
  assert_false(wt_buf_ok(&b));
  wt_buf_free(&b);
  /* the escaping of a string that would pass the cap fails the buffer */
  wt_buf_init(&b, 4);
  wt_buf_put_json_str(&b, "abcd");
  assert_false(wt_buf_ok(&b));
  wt_buf_free(&b);
}

static void test_copy_str(void **state) {
  char d[5];
  (void)state;
  assert_int_equal(wt_copy_str(d, sizeof(d), "abc"), 3);
  assert_string_equal(d, "abc");
  assert_int_equal(wt_copy_str(d, sizeof(d), "abcd"), 4);
  assert_string_equal(d, "abcd");
  assert_int_equal(wt_copy_str(d, sizeof(d), "abcdefgh"), 4); /* cut */
  assert_string_equal(d, "abcd");
  assert_int_equal(wt_copy_str(d, sizeof(d), ""), 0);
  assert_string_equal(d, "");
  assert_int_equal(wt_copy_str(d, 0, "abc"), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_json_str_every_byte_everywhere),
      cmocka_unit_test(test_json_str_mixed),
      cmocka_unit_test(test_json_str_null),
      cmocka_unit_test(test_i64),
      cmocka_unit_test(test_json_time),
      cmocka_unit_test(test_cap_reserve_dup),
      cmocka_unit_test(test_copy_str),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
