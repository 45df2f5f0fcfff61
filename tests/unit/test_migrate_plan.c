/* Unit tests of the migration planner: names, order, refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "wt_migrate.h"

static wt_migration mig(int v, const char *name, const char *sum) {
  wt_migration m;
  memset(&m, 0, sizeof(m));
  m.version = v;
  snprintf(m.name, sizeof(m.name), "%s", name);
  snprintf(m.checksum, sizeof(m.checksum), "%s", sum);
  return m;
}

static void test_parse_name(void **state) {
  int v = 0;
  (void)state;
  assert_int_equal(wt_migrate_parse_name("0001_init.sql", &v), 0);
  assert_int_equal(v, 1);
  assert_int_equal(wt_migrate_parse_name("0042_add_x_2.sql", &v), 0);
  assert_int_equal(v, 42);
  assert_int_equal(wt_migrate_parse_name("1_init.sql", &v), -1);
  assert_int_equal(wt_migrate_parse_name("0001-init.sql", &v), -1);
  assert_int_equal(wt_migrate_parse_name("0001_Init.sql", &v), -1);
  assert_int_equal(wt_migrate_parse_name("0001_init.SQL", &v), -1);
  assert_int_equal(wt_migrate_parse_name("0000_zero.sql", &v), -1);
  assert_int_equal(wt_migrate_parse_name("0001_.sql", &v), -1);
  assert_int_equal(wt_migrate_parse_name("abcd_init.sql", &v), -1);
}

static void test_plan_orders_pending(void **state) {
  wt_migration files[3] = {mig(3, "0003_c.sql", "c"), mig(1, "0001_a.sql", "a"),
                           mig(2, "0002_b.sql", "b")};
  wt_migration applied[1] = {mig(1, "0001_a.sql", "a")};
  size_t pending[3], n = 99;
  char err[256] = "";
  (void)state;
  assert_int_equal(
      wt_migrate_plan(files, 3, applied, 1, pending, &n, err, sizeof(err)),
      WT_OK);
  assert_int_equal(n, 2);
  assert_int_equal(files[pending[0]].version, 2);
  assert_int_equal(files[pending[1]].version, 3);
}

static void test_plan_nothing_pending(void **state) {
  wt_migration files[2] = {mig(1, "0001_a.sql", "a"),
                           mig(2, "0002_b.sql", "b")};
  wt_migration applied[2] = {mig(1, "0001_a.sql", "a"),
                             mig(2, "0002_b.sql", "b")};
  size_t pending[2], n = 99;
  (void)state;
  assert_int_equal(wt_migrate_plan(files, 2, applied, 2, pending, &n, NULL, 0),
                   WT_OK);
  assert_int_equal(n, 0);
}

static void test_plan_refuses_changed_file(void **state) {
  wt_migration files[1] = {mig(1, "0001_a.sql", "new")};
  wt_migration applied[1] = {mig(1, "0001_a.sql", "old")};
  size_t pending[1], n;
  char err[512] = "";
  (void)state;
  assert_int_equal(
      wt_migrate_plan(files, 1, applied, 1, pending, &n, err, sizeof(err)),
      WT_ERR_CONFLICT);
  assert_non_null(strstr(err, "0001_a.sql changed after it was applied"));
}

static void test_plan_refuses_renamed_file(void **state) {
  wt_migration files[1] = {mig(1, "0001_b.sql", "same")};
  wt_migration applied[1] = {mig(1, "0001_a.sql", "same")};
  size_t pending[1], n;
  char err[512] = "";
  (void)state;
  assert_int_equal(
      wt_migrate_plan(files, 1, applied, 1, pending, &n, err, sizeof(err)),
      WT_ERR_CONFLICT);
}

static void test_plan_refuses_missing_file(void **state) {
  wt_migration files[1] = {mig(2, "0002_b.sql", "b")};
  wt_migration applied[1] = {mig(1, "0001_a.sql", "a")};
  size_t pending[1], n;
  char err[512] = "";
  (void)state;
  assert_int_equal(
      wt_migrate_plan(files, 1, applied, 1, pending, &n, err, sizeof(err)),
      WT_ERR_CONFLICT);
  assert_non_null(strstr(err, "has no file"));
}

static void test_plan_refuses_duplicate_version(void **state) {
  wt_migration files[2] = {mig(1, "0001_a.sql", "a"),
                           mig(1, "0001_b.sql", "b")};
  size_t pending[2], n;
  char err[512] = "";
  (void)state;
  assert_int_equal(
      wt_migrate_plan(files, 2, NULL, 0, pending, &n, err, sizeof(err)),
      WT_ERR_INVALID);
  assert_non_null(strstr(err, "share version 0001"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_name),
      cmocka_unit_test(test_plan_orders_pending),
      cmocka_unit_test(test_plan_nothing_pending),
      cmocka_unit_test(test_plan_refuses_changed_file),
      cmocka_unit_test(test_plan_refuses_renamed_file),
      cmocka_unit_test(test_plan_refuses_missing_file),
      cmocka_unit_test(test_plan_refuses_duplicate_version),
  };
  return cmocka_run_group_tests_name("migrate_plan", tests, NULL, NULL);
}
