/* Unit tests of wt_log and wt_err. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "wt_err.h"
#include "wt_kafka.h"
#include "wt_log.h"

/* Logs through a temporary file and returns what was written. */
static size_t capture(FILE *f, char *buf, size_t size) {
  size_t n;
  fflush(f);
  rewind(f);
  n = fread(buf, 1, size - 1, f);
  buf[n] = '\0';
  return n;
}

static void test_line_format(void **state) {
  FILE *f = tmpfile();
  char buf[8192];
  int y, mo, d, h, mi, s, ms;
  char level[16], comp[32];
  (void)state;
  wt_log_init("worker", WT_LOG_INFO, f);
  WT_INFO("batch applied size=%d ms=%d", 10, 3);
  capture(f, buf, sizeof(buf));
  assert_int_equal(sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ %15s %31s", &y,
                          &mo, &d, &h, &mi, &s, &ms, level, comp),
                   9);
  assert_string_equal(level, "INFO");
  assert_string_equal(comp, "worker");
  assert_non_null(strstr(buf, " batch applied size=10 ms=3\n"));
  assert_int_equal(strchr(buf, '\n'), buf + strlen(buf) - 1);
  fclose(f);
  wt_log_init("wt", WT_LOG_INFO, NULL);
}

static void test_level_gate(void **state) {
  FILE *f = tmpfile();
  char buf[8192];
  (void)state;
  wt_log_init("gw", WT_LOG_WARN, f);
  WT_DEBUG("hidden-debug");
  WT_INFO("hidden-info");
  WT_WARN("shown-warn");
  WT_ERROR("shown-error");
  capture(f, buf, sizeof(buf));
  assert_null(strstr(buf, "hidden"));
  assert_non_null(strstr(buf, "WARN gw shown-warn"));
  assert_non_null(strstr(buf, "ERROR gw shown-error"));
  fclose(f);
  wt_log_init("wt", WT_LOG_INFO, NULL);
}

static void test_one_line_per_event(void **state) {
  FILE *f = tmpfile();
  char buf[8192];
  size_t lines = 0;
  (void)state;
  wt_log_init("t", WT_LOG_DEBUG, f);
  WT_INFO("multi\nline\r\nmessage value=%s", "a\nb");
  capture(f, buf, sizeof(buf));
  for (char *p = buf; *p; p++)
    lines += *p == '\n';
  assert_int_equal(lines, 1);
  assert_non_null(strstr(buf, "multi line  message value=a b"));
  fclose(f);
  wt_log_init("wt", WT_LOG_INFO, NULL);
}

static void test_truncated_line(void **state) {
  FILE *f = tmpfile();
  static char big[3 * WT_LOG_LINE_MAX], buf[3 * WT_LOG_LINE_MAX];
  size_t n;
  (void)state;
  memset(big, 'x', sizeof(big) - 1);
  wt_log_init("t", WT_LOG_DEBUG, f);
  WT_INFO("%s", big);
  n = capture(f, buf, sizeof(buf));
  assert_true(n < WT_LOG_LINE_MAX);
  assert_int_equal(buf[n - 1], '\n');
  fclose(f);
  wt_log_init("wt", WT_LOG_INFO, NULL);
}

static void test_level_names(void **state) {
  wt_log_level l;
  (void)state;
  assert_int_equal(wt_log_level_parse("warn", &l), 0);
  assert_int_equal(l, WT_LOG_WARN);
  assert_int_equal(wt_log_level_parse("ERROR", &l), 0);
  assert_int_equal(l, WT_LOG_ERROR);
  assert_int_equal(wt_log_level_parse("trace", &l), -1);
  assert_string_equal(wt_log_level_name(WT_LOG_DEBUG), "debug");
}

/* "Not ready yet" at start: INFO while a service may still be coming up,
 * WARN once it lasts. */
static void test_startup_level(void **state) {
  (void)state;
  assert_int_equal(wt_log_startup_level(0), WT_LOG_INFO);
  assert_int_equal(wt_log_startup_level(WT_LOG_STARTUP_GRACE_MS - 1),
                   WT_LOG_INFO);
  assert_int_equal(wt_log_startup_level(WT_LOG_STARTUP_GRACE_MS), WT_LOG_WARN);
  assert_int_equal(wt_log_startup_level(10L * WT_LOG_STARTUP_GRACE_MS),
                   WT_LOG_WARN);
}

/* librdkafka's lines: syslog levels mapped, and the fresh broker's
 * "coordinator load in progress" for the idempotence PID (what every clean
 * start of the local stack logged as a WARN) is INFO until it lasts. */
static void test_kafka_log_level(void **state) {
  static const char getpid_msg[] =
      "[thrd:main]: Failed to acquire idempotence PID from broker "
      "127.0.0.1:32251/1: Broker: Coordinator load in progress: retrying";
  (void)state;
  assert_int_equal(wt_kafka_log_level(3, "FAIL", "x", 0), WT_LOG_ERROR);
  assert_int_equal(wt_kafka_log_level(4, "FAIL", "x", 0), WT_LOG_WARN);
  assert_int_equal(wt_kafka_log_level(5, "CONF", "x", 0), WT_LOG_INFO);
  assert_int_equal(wt_kafka_log_level(6, "CONF", "x", 0), WT_LOG_INFO);
  assert_int_equal(wt_kafka_log_level(7, "BROKER", "x", 0), WT_LOG_DEBUG);
  assert_int_equal(wt_kafka_log_level(4, "GETPID", getpid_msg, 0), WT_LOG_INFO);
  assert_int_equal(wt_kafka_log_level(4, "GETPID", getpid_msg,
                                      WT_KAFKA_STARTUP_GRACE_MS - 1),
                   WT_LOG_INFO);
  assert_int_equal(
      wt_kafka_log_level(4, "GETPID", getpid_msg, WT_KAFKA_STARTUP_GRACE_MS),
      WT_LOG_WARN);
  /* not retried, or another facility: as librdkafka says */
  assert_int_equal(wt_kafka_log_level(4, "GETPID", "fatal idempotence", 0),
                   WT_LOG_WARN);
  assert_int_equal(wt_kafka_log_level(4, "REQTMOUT", "retrying", 0),
                   WT_LOG_WARN);
  assert_int_equal(wt_kafka_log_level(3, "GETPID", getpid_msg, 0),
                   WT_LOG_ERROR);
}

static void test_strerror_distinct(void **state) {
  (void)state;
  for (int i = 0; i < WT_ERR__COUNT; i++) {
    assert_non_null(wt_strerror((wt_err)i));
    assert_string_not_equal(wt_strerror((wt_err)i), "unknown error");
    for (int j = 0; j < i; j++)
      assert_string_not_equal(wt_strerror((wt_err)i), wt_strerror((wt_err)j));
  }
  assert_string_equal(wt_strerror(WT_ERR__COUNT), "unknown error");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_line_format),
      cmocka_unit_test(test_level_gate),
      cmocka_unit_test(test_one_line_per_event),
      cmocka_unit_test(test_truncated_line),
      cmocka_unit_test(test_level_names),
      cmocka_unit_test(test_startup_level),
      cmocka_unit_test(test_kafka_log_level),
      cmocka_unit_test(test_strerror_distinct),
  };
  return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
