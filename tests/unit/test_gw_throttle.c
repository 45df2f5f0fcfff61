/* gw_throttle: free failures, the first block, blocks that double per
 * further failure up to the cap, expiry of a block and of the window,
 * reset, independent and clipped keys, and the bounded table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gw_throttle.h"

#define T0 ((int64_t)1800000000) /* a realistic "now", far from 0 */

static void fail_n(gw_throttle *t, const char *key, int n, int free_failures,
                   int64_t now) {
  for (int i = 0; i < n; i++)
    gw_throttle_fail(t, key, free_failures, now);
}

static void test_free_failures_then_block(void **state) {
  gw_throttle *t = gw_throttle_new(16);
  (void)state;
  assert_non_null(t);
  assert_int_equal(gw_throttle_wait(t, "dave", T0), 0); /* unknown key */
  fail_n(t, "dave", 4, 5, T0);
  assert_int_equal(gw_throttle_wait(t, "dave", T0), 0);
  gw_throttle_fail(t, "dave", 5, T0); /* the 5th failure blocks */
  assert_int_equal(gw_throttle_wait(t, "dave", T0), GW_THROTTLE_BASE_S);
  assert_int_equal(gw_throttle_wait(t, "dave", T0 + 10),
                   GW_THROTTLE_BASE_S - 10);
  assert_int_equal(gw_throttle_wait(t, "dave", T0 + GW_THROTTLE_BASE_S - 1), 1);
  /* the block expires */
  assert_int_equal(gw_throttle_wait(t, "dave", T0 + GW_THROTTLE_BASE_S), 0);
  gw_throttle_destroy(t);
}

static void test_blocks_grow_to_the_cap(void **state) {
  gw_throttle *t = gw_throttle_new(16);
  int64_t now = T0, want = GW_THROTTLE_BASE_S;
  (void)state;
  fail_n(t, "k", 3, 3, now);
  assert_int_equal(gw_throttle_wait(t, "k", now), GW_THROTTLE_BASE_S);
  /* each further failure within the window doubles the block */
  for (int i = 0; i < 8; i++) {
    now += 1;
    want = want * 2 > GW_THROTTLE_MAX_S ? GW_THROTTLE_MAX_S : want * 2;
    gw_throttle_fail(t, "k", 3, now);
    assert_int_equal(gw_throttle_wait(t, "k", now), want);
  }
  assert_int_equal(want, GW_THROTTLE_MAX_S);
  /* and stays at the cap */
  gw_throttle_fail(t, "k", 3, now);
  assert_int_equal(gw_throttle_wait(t, "k", now), GW_THROTTLE_MAX_S);
  assert_int_equal(gw_throttle_wait(t, "k", now + GW_THROTTLE_MAX_S), 0);
  gw_throttle_destroy(t);
}

static void test_block_after_waiting_one_out(void **state) {
  gw_throttle *t = gw_throttle_new(16);
  int64_t now = T0;
  (void)state;
  fail_n(t, "k", 5, 5, now);
  now += GW_THROTTLE_BASE_S; /* waited it out, still in the window */
  assert_int_equal(gw_throttle_wait(t, "k", now), 0);
  gw_throttle_fail(t, "k", 5, now); /* the next failure: twice as long */
  assert_int_equal(gw_throttle_wait(t, "k", now), 2 * GW_THROTTLE_BASE_S);
  gw_throttle_destroy(t);
}

static void test_window_expires(void **state) {
  gw_throttle *t = gw_throttle_new(16);
  (void)state;
  fail_n(t, "k", 4, 5, T0);
  /* past the window the count starts over: 4 more are free again */
  fail_n(t, "k", 4, 5, T0 + GW_THROTTLE_WINDOW_S + 1);
  assert_int_equal(gw_throttle_wait(t, "k", T0 + GW_THROTTLE_WINDOW_S + 1), 0);
  /* within the window they add up */
  fail_n(t, "j", 4, 5, T0);
  gw_throttle_fail(t, "j", 5, T0 + GW_THROTTLE_WINDOW_S);
  assert_int_equal(gw_throttle_wait(t, "j", T0 + GW_THROTTLE_WINDOW_S),
                   GW_THROTTLE_BASE_S);
  gw_throttle_destroy(t);
}

static void test_reset_and_independent_keys(void **state) {
  gw_throttle *t = gw_throttle_new(16);
  char long_a[100], long_b[100];
  (void)state;
  fail_n(t, "alice", 2, 2, T0);
  assert_int_equal(gw_throttle_wait(t, "alice", T0), GW_THROTTLE_BASE_S);
  assert_int_equal(gw_throttle_wait(t, "bob", T0), 0);
  gw_throttle_reset(t, "alice");
  assert_int_equal(gw_throttle_wait(t, "alice", T0), 0);
  /* after a reset the free failures are free again */
  gw_throttle_fail(t, "alice", 2, T0);
  assert_int_equal(gw_throttle_wait(t, "alice", T0), 0);
  gw_throttle_reset(t, "nobody"); /* unknown: a no-op */
  /* keys are clipped to 64 bytes: a common 64-byte prefix is one key */
  memset(long_a, 'x', sizeof(long_a));
  long_a[99] = '\0';
  memcpy(long_b, long_a, sizeof(long_b));
  long_b[80] = 'y';
  fail_n(t, long_a, 2, 2, T0);
  assert_int_equal(gw_throttle_wait(t, long_b, T0), GW_THROTTLE_BASE_S);
  gw_throttle_destroy(t);
}

static void test_bounded_table(void **state) {
  gw_throttle *t = gw_throttle_new(2);
  (void)state;
  fail_n(t, "a", 1, 1, T0);
  assert_int_equal(gw_throttle_wait(t, "a", T0), GW_THROTTLE_BASE_S);
  fail_n(t, "b", 1, 1, T0);
  fail_n(t, "c", 1, 1, T0); /* the least recently used, a, is forgotten */
  assert_int_equal(gw_throttle_wait(t, "a", T0), 0);
  assert_int_equal(gw_throttle_wait(t, "b", T0), GW_THROTTLE_BASE_S);
  assert_int_equal(gw_throttle_wait(t, "c", T0), GW_THROTTLE_BASE_S);
  gw_throttle_destroy(t);
  gw_throttle_destroy(NULL);
  /* cap 0 still makes a usable table */
  t = gw_throttle_new(0);
  assert_non_null(t);
  fail_n(t, "a", 1, 1, T0);
  assert_int_equal(gw_throttle_wait(t, "a", T0), GW_THROTTLE_BASE_S);
  gw_throttle_destroy(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_free_failures_then_block),
      cmocka_unit_test(test_blocks_grow_to_the_cap),
      cmocka_unit_test(test_block_after_waiting_one_out),
      cmocka_unit_test(test_window_expires),
      cmocka_unit_test(test_reset_and_independent_keys),
      cmocka_unit_test(test_bounded_table),
  };
  return cmocka_run_group_tests_name("gw_throttle", tests, NULL, NULL);
}
