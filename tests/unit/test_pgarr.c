/* Unit tests of wt_pgarr: uuid parsing (every position of a wrong byte,
 * short strings read no further than their NUL), hex digits, and the
 * binary array layout PostgreSQL's array_recv expects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wt_json.h"
#include "wt_pgarr.h"

static const char good[] = "0123abcd-4567-89ef-ABCD-ef0123456789";
static const uint8_t good_bytes[16] = {0x01, 0x23, 0xab, 0xcd, 0x45, 0x67,
                                       0x89, 0xef, 0xab, 0xcd, 0xef, 0x01,
                                       0x23, 0x45, 0x67, 0x89};

static void test_hex_digit_every_byte(void **state) {
  (void)state;
  for (int c = 0; c < 256; c++) {
    int want = -1;
    if (c >= '0' && c <= '9')
      want = c - '0';
    else if (c >= 'a' && c <= 'f')
      want = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      want = c - 'A' + 10;
    assert_int_equal(wt_hex_digit((char)c), want);
  }
}

static void test_uuid_good(void **state) {
  uint8_t out[16];
  (void)state;
  assert_true(wt_uuid_to_bytes(good, out));
  assert_memory_equal(out, good_bytes, 16);
  assert_true(wt_uuid_to_bytes("00000000-0000-0000-0000-000000000000", out));
  for (int i = 0; i < 16; i++)
    assert_int_equal(out[i], 0);
  assert_true(wt_uuid_to_bytes("ffffffff-ffff-ffff-ffff-ffffffffffff", out));
  for (int i = 0; i < 16; i++)
    assert_int_equal(out[i], 0xff);
}

/* Every position, every kind of wrong byte: a dash where a digit goes, a
 * digit where a dash goes, a non-hex letter, a NUL, a byte >= 0x80. */
static void test_uuid_wrong_byte_anywhere(void **state) {
  static const char wrong[] = {'-', '0', 'g', 'G', ' ', '\0', (char)0xc3};
  uint8_t out[16];
  (void)state;
  for (int i = 0; i < 36; i++) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    for (size_t k = 0; k < sizeof(wrong); k++) {
      char s[37];
      memcpy(s, good, sizeof(s));
      if (dash ? wrong[k] == '-' : wrong[k] == '0')
        continue; /* that one is right there */
      s[i] = wrong[k];
      assert_false(wt_uuid_to_bytes(s, out));
    }
  }
}

/* Too long, and every shorter length in an allocation of exactly that
 * size: under ASan a read past the NUL fails the test. */
static void test_uuid_length(void **state) {
  char longer[40];
  uint8_t out[16];
  (void)state;
  snprintf(longer, sizeof(longer), "%s0", good);
  assert_false(wt_uuid_to_bytes(longer, out));
  for (size_t len = 0; len < 36; len++) {
    char *s = malloc(len + 1);
    assert_non_null(s);
    memcpy(s, good, len);
    s[len] = '\0';
    assert_false(wt_uuid_to_bytes(s, out));
    free(s);
  }
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

static void test_uuid_array_layout(void **state) {
  wt_pgarr a;
  const uint8_t *p;
  int len;
  (void)state;
  wt_pgarr_init(&a, WT_OID_UUID, 1 << 16);
  assert_true(wt_pgarr_uuid(&a, good));
  assert_true(wt_pgarr_uuid(&a, NULL));
  p = (const uint8_t *)wt_pgarr_finish(&a, &len);
  assert_non_null(p);
  /* ndim, has-nulls, oid, size, lower bound, then (len, bytes) per element */
  assert_int_equal(len, 20 + 4 + 16 + 4);
  assert_int_equal(be32(p), 1);
  assert_int_equal(be32(p + 4), 1);
  assert_int_equal(be32(p + 8), WT_OID_UUID);
  assert_int_equal(be32(p + 12), 2);
  assert_int_equal(be32(p + 16), 1);
  assert_int_equal(be32(p + 20), 16);
  assert_memory_equal(p + 24, good_bytes, 16);
  assert_int_equal(be32(p + 40), 0xffffffffu); /* -1: NULL */
  /* a malformed uuid fails the whole array */
  assert_false(wt_pgarr_uuid(&a, "not-a-uuid"));
  assert_null(wt_pgarr_finish(&a, &len));
  wt_pgarr_reset(&a);
  p = (const uint8_t *)wt_pgarr_finish(&a, &len);
  assert_non_null(p);
  assert_int_equal(len, 12); /* the empty array: no dimension */
  assert_int_equal(be32(p), 0);
  wt_pgarr_free(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hex_digit_every_byte),
      cmocka_unit_test(test_uuid_good),
      cmocka_unit_test(test_uuid_wrong_byte_anywhere),
      cmocka_unit_test(test_uuid_length),
      cmocka_unit_test(test_uuid_array_layout),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
