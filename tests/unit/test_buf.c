/* Unit tests of wt_buf: integers at their limits, the cap, reserve, dup
 * and wt_copy_str. (The JSON writing that lived here is wt_jw's, tested in
 * test_jw.c.) */
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
      cmocka_unit_test(test_i64),
      cmocka_unit_test(test_cap_reserve_dup),
      cmocka_unit_test(test_copy_str),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
