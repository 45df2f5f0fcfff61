/* Unit tests of how the worker and the DB layer count time (issue 12):
 * a batch counts from when the runner began on it, never the wait for
 * messages, and batch k+1 (written while k is published) not twice; the
 * statements of one pipeline count their own share of the round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wk_metrics.h"
#include "wt_db.h"

static void test_batch_idle_not_counted(void **state) {
  (void)state;
  /* idle for 41 s, then a batch taken at 41000 and published at 41003:
   * 3 ms, not 41003 (the batch before was published at 0) */
  assert_float_equal(wk_batch_busy_ms(41000.0, 0.0, 41003.0), 3.0, 1e-9);
  /* the very first batch: nothing before it */
  assert_float_equal(wk_batch_busy_ms(10.0, 0.0, 12.5), 2.5, 1e-9);
}

static void test_batch_overlap_counted_once(void **state) {
  double total = 0, prev_done = 0;
  /* three batches back to back: k+1 is sent while k is published
   * (started before the one before was done) */
  static const double started[] = {100.0, 108.0, 117.0};
  static const double done[] = {110.0, 120.0, 125.0};
  (void)state;
  for (size_t i = 0; i < 3; i++) {
    total += wk_batch_busy_ms(started[i], prev_done, done[i]);
    prev_done = done[i];
  }
  /* the runner was busy from 100 to 125 */
  assert_float_equal(total, 25.0, 1e-9);
  /* never negative, whatever the clocks say */
  assert_float_equal(wk_batch_busy_ms(5.0, 9.0, 8.0), 0.0, 1e-9);
}

static void test_pipeline_steps_add_up(void **state) {
  /* us= of a pipeline's results as WT_LOG_SQL logs them (cumulative from
   * the send): BEGIN, begin_batch, apply_logs, insert_events, COMMIT */
  static const uint64_t at[] = {180, 420, 9870, 14020, 14510};
  uint64_t prev = 0, sum = 0;
  (void)state;
  for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
    uint64_t step = wt_db_step_us(at[i], prev);
    sum += step;
    prev = at[i];
  }
  /* the statements add up to the round trip, not to 39000 us */
  assert_int_equal(sum, 14510);
  assert_int_equal(wt_db_step_us(420, 180), 240);
  assert_int_equal(wt_db_step_us(180, 0), 180);
  assert_int_equal(wt_db_step_us(100, 200), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_batch_idle_not_counted),
      cmocka_unit_test(test_batch_overlap_counted_once),
      cmocka_unit_test(test_pipeline_steps_add_up),
  };
  return cmocka_run_group_tests_name("timing", tests, NULL, NULL);
}
