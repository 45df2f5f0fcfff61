/* Unit tests of wt_procmetrics: /proc texts parsed as proc(5) has them,
 * and the rendered text of this very process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "wt_procmetrics.h"

static void test_parse_stat(void **state) {
  /* a command name with spaces and parentheses: the fields count after
   * the last ')' */
  static const char text[] =
      "4242 (wt-w (x) y) S 1 4242 4242 0 -1 4194560 1200 0 3 0 "
      "250 130 0 0 20 0 7 0 123456 987654321 2048 18446744073709551615 "
      "1 1 0 0 0 0 0 4096 17575 0 0 0 17 1 0 0 0 0 0\n";
  wt_proc_stat st;
  (void)state;
  assert_int_equal(wt_proc_parse_stat(text, 100, 4096, &st), 0);
  assert_float_equal(st.cpu_seconds, 3.8, 1e-9);       /* (250 + 130) / 100 */
  assert_float_equal(st.start_seconds, 1234.56, 1e-9); /* 123456 / 100 */
  assert_int_equal(st.virtual_bytes, 987654321ULL);
  assert_int_equal(st.resident_bytes, 2048ULL * 4096);
}

static void test_parse_stat_malformed(void **state) {
  wt_proc_stat st;
  (void)state;
  assert_int_equal(wt_proc_parse_stat("", 100, 4096, &st), -1);
  assert_int_equal(wt_proc_parse_stat("1 (x) S 1 2 3", 100, 4096, &st), -1);
  assert_int_equal(wt_proc_parse_stat("no parenthesis", 100, 4096, &st), -1);
  assert_int_equal(wt_proc_parse_stat("1 (x) S 1 2 3 4 5 6 7 8 9 10 11 x 13 "
                                      "14 15 16 17 18 19 20 21 22",
                                      100, 4096, &st),
                   -1);
  assert_int_equal(wt_proc_parse_stat(NULL, 100, 4096, &st), -1);
}

static void test_parse_limits_and_btime(void **state) {
  static const char limits[] =
      "Limit                     Soft Limit           Hard Limit           "
      "Units     \n"
      "Max cpu time              unlimited            unlimited            "
      "seconds   \n"
      "Max open files            1024                 524288               "
      "files     \n"
      "Max locked memory         8388608              8388608              "
      "bytes     \n";
  static const char proc_stat[] = "cpu  1 2 3 4\nintr 5 6\nctxt 77\n"
                                  "btime 1764800000\nprocesses 12\n";
  (void)state;
  assert_int_equal(wt_proc_parse_max_fds(limits), 1024);
  assert_int_equal(
      wt_proc_parse_max_fds("Max open files            unlimited    x\n"), -1);
  assert_int_equal(wt_proc_parse_max_fds("nothing here\n"), -1);
  assert_int_equal(wt_proc_parse_btime(proc_stat), 1764800000);
  assert_int_equal(wt_proc_parse_btime("cpu 1\nxbtime 5\n"), -1);
  assert_int_equal(wt_proc_parse_btime(""), -1);
}

static void test_render_this_process(void **state) {
  static const char *const names[] = {"\nprocess_cpu_seconds_total ",
                                      "\nprocess_resident_memory_bytes ",
                                      "\nprocess_virtual_memory_bytes ",
                                      "\nprocess_open_fds ",
                                      "\nprocess_max_fds ",
                                      "\nprocess_start_time_seconds ",
                                      "\nwt_build_info{version=\""};
  char buf[4096];
  size_t need;
  (void)state;
  need = wt_procmetrics_prometheus(NULL, 0);
  assert_true(need > 0);
  assert_true(wt_procmetrics_prometheus(buf, sizeof(buf)) < sizeof(buf));
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (!strstr(buf, names[i]))
      fail_msg("no %s in:\n%s", names[i] + 1, buf);
  assert_non_null(strstr(buf, wt_build_commit()));
  assert_string_not_equal(wt_build_version(), "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_stat),
      cmocka_unit_test(test_parse_stat_malformed),
      cmocka_unit_test(test_parse_limits_and_btime),
      cmocka_unit_test(test_render_this_process),
  };
  return cmocka_run_group_tests_name("procmetrics", tests, NULL, NULL);
}
