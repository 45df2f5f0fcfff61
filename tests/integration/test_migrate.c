/* Integration tests of `wt_migrate_run` on a real PostgreSQL: apply,
 * re-apply (a no-op with exact statement counts), refusal of a changed
 * file, atomic failure, two migrators at once. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "wt_db.h"
#include "wt_migrate.h"
#include "wt_test.h"

#ifndef WT_MIGRATIONS_DIR
#error "WT_MIGRATIONS_DIR must point at migrations/"
#endif

static wt_db *connect_db(const char *url, const char *component) {
  wt_db *db = NULL;
  char err[512] = "";
  if (wt_db_connect(url, component, false, &db, err, sizeof(err)) != WT_OK)
    fail_msg("connect: %s", err);
  return db;
}

static long count(wt_db *db, const char *sql) {
  PGresult *r = NULL;
  char err[512] = "";
  char name[32];
  unsigned h = 5381;
  long n;
  /* one statement name per SQL text (a name never changes its SQL) */
  for (const char *p = sql; *p; p++)
    h = h * 33 + (unsigned char)*p;
  snprintf(name, sizeof(name), "count_%08x", h);
  if (wt_db_exec(db, name, sql, 0, NULL, &r, err, sizeof(err)) != WT_OK)
    fail_msg("%s: %s", sql, err);
  n = atol(PQgetvalue(r, 0, 0));
  PQclear(r);
  return n;
}

static void test_apply_then_noop(void **state) {
  char name[128], err[512] = "";
  const char *url = wt_test_create_database("mig", name, sizeof(name));
  wt_db *db = connect_db(url, "t_mig");
  wt_db_counters before, after;
  size_t applied = 99;
  (void)state;
  assert_int_equal(
      wt_migrate_run(db, WT_MIGRATIONS_DIR, &applied, err, sizeof(err)), WT_OK);
  assert_true(applied >= 1);
  assert_int_equal(count(db, "SELECT count(*) FROM schema_migrations"),
                   (long)applied);
  /* the contract's tables and the list index exist */
  assert_int_equal(count(db, "SELECT count(*) FROM pg_tables WHERE tablename IN"
                             " ('users','projects','project_members',"
                             "'work_logs','events')"),
                   5);
  assert_int_equal(count(db, "SELECT count(*) FROM pg_indexes WHERE indexname ="
                             " 'work_logs_project_started_idx'"),
                   1);
  /* a second run: one round trip to lock and read, one to unlock */
  wt_db_get_counters(db, &before);
  assert_int_equal(
      wt_migrate_run(db, WT_MIGRATIONS_DIR, &applied, err, sizeof(err)), WT_OK);
  wt_db_get_counters(db, &after);
  assert_int_equal(applied, 0);
  assert_int_equal(after.round_trips - before.round_trips, 2);
  assert_int_equal(after.statements - before.statements, 4);
  wt_db_destroy(db);
  wt_test_drop_database(name);
}

static void write_file(const char *dir, const char *name, const char *text) {
  char path[512];
  FILE *f;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void remove_dir(const char *dir) {
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

static void test_changed_file_refused(void **state) {
  char name[128], err[512] = "", dir[] = "/tmp/wt-mig-XXXXXX";
  const char *url = wt_test_create_database("mig", name, sizeof(name));
  wt_db *db = connect_db(url, "t_mig_changed");
  size_t applied = 0;
  (void)state;
  assert_non_null(mkdtemp(dir));
  write_file(dir, "0001_a.sql", "CREATE TABLE a (x int);");
  assert_int_equal(wt_migrate_run(db, dir, &applied, err, sizeof(err)), WT_OK);
  assert_int_equal(applied, 1);
  write_file(dir, "0001_a.sql", "CREATE TABLE a (x int, y int);");
  write_file(dir, "0002_b.sql", "CREATE TABLE b (x int);");
  assert_int_equal(wt_migrate_run(db, dir, &applied, err, sizeof(err)),
                   WT_ERR_CONFLICT);
  assert_non_null(strstr(err, "0001_a.sql changed after it was applied"));
  assert_int_equal(applied, 0);
  /* nothing ran: b was not created */
  assert_int_equal(
      count(db, "SELECT count(*) FROM pg_tables WHERE tablename = 'b'"), 0);
  wt_db_destroy(db);
  wt_test_drop_database(name);
  remove_dir(dir);
}

static void test_failed_migration_is_atomic(void **state) {
  char name[128], err[512] = "", dir[] = "/tmp/wt-mig-XXXXXX";
  const char *url = wt_test_create_database("mig", name, sizeof(name));
  wt_db *db = connect_db(url, "t_mig_atomic");
  size_t applied = 0;
  (void)state;
  assert_non_null(mkdtemp(dir));
  write_file(dir, "0001_a.sql", "CREATE TABLE a (x int);");
  write_file(dir, "0002_b.sql", "CREATE TABLE b (x int); SELECT 1/0;");
  assert_int_equal(wt_migrate_run(db, dir, &applied, err, sizeof(err)),
                   WT_ERR_DB);
  assert_non_null(strstr(err, "0002_b.sql"));
  assert_non_null(strstr(err, "division by zero"));
  assert_int_equal(applied, 1);
  assert_int_equal(
      count(db, "SELECT count(*) FROM pg_tables WHERE tablename = 'b'"), 0);
  assert_int_equal(count(db, "SELECT count(*) FROM schema_migrations"), 1);
  assert_int_equal(wt_db_txn_status(db), PQTRANS_IDLE);
  /* the advisory lock was released: another session can take it */
  {
    wt_db *other = connect_db(url, "t_mig_atomic2");
    assert_int_equal(
        count(other, "SELECT pg_try_advisory_lock(8675309000000001)::int"), 1);
    wt_db_destroy(other);
  }
  wt_db_destroy(db);
  wt_test_drop_database(name);
  remove_dir(dir);
}

typedef struct racer {
  const char *url;
  size_t applied;
  wt_err err;
  char msg[512];
} racer;

static void *race(void *arg) {
  racer *r = arg;
  wt_db *db = NULL;
  if (wt_db_connect(r->url, "t_mig_race", false, &db, r->msg, sizeof(r->msg)) !=
      WT_OK) {
    r->err = WT_ERR_DB_CONN;
    return NULL;
  }
  r->err = wt_migrate_run(db, WT_MIGRATIONS_DIR, &r->applied, r->msg,
                          sizeof(r->msg));
  wt_db_destroy(db);
  return NULL;
}

static void test_two_migrators_apply_once(void **state) {
  char name[128];
  const char *url = wt_test_create_database("mig", name, sizeof(name));
  racer a = {.url = url}, b = {.url = url};
  pthread_t ta, tb;
  wt_db *db;
  (void)state;
  pthread_create(&ta, NULL, race, &a);
  pthread_create(&tb, NULL, race, &b);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  if (a.err != WT_OK || b.err != WT_OK)
    fail_msg("a: %s / b: %s", a.msg, b.msg);
  db = connect_db(url, "t_mig_check");
  assert_int_equal(a.applied + b.applied,
                   (size_t)count(db, "SELECT count(*) FROM schema_migrations"));
  assert_true(a.applied == 0 || b.applied == 0);
  wt_db_destroy(db);
  wt_test_drop_database(name);
}

static void test_bad_folder(void **state) {
  char name[128], err[512] = "", dir[] = "/tmp/wt-mig-XXXXXX";
  const char *url = wt_test_create_database("mig", name, sizeof(name));
  wt_db *db = connect_db(url, "t_mig_bad");
  size_t applied;
  (void)state;
  assert_int_equal(
      wt_migrate_run(db, "/nonexistent/wt", &applied, err, sizeof(err)),
      WT_ERR_IO);
  assert_non_null(mkdtemp(dir));
  write_file(dir, "1_bad_name.sql", "SELECT 1;");
  assert_int_equal(wt_migrate_run(db, dir, &applied, err, sizeof(err)),
                   WT_ERR_INVALID);
  assert_non_null(strstr(err, "1_bad_name.sql"));
  wt_db_destroy(db);
  wt_test_drop_database(name);
  remove_dir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_apply_then_noop),
      cmocka_unit_test(test_changed_file_refused),
      cmocka_unit_test(test_failed_migration_is_atomic),
      cmocka_unit_test(test_two_migrators_apply_once),
      cmocka_unit_test(test_bad_folder),
  };
  return cmocka_run_group_tests_name("migrate", tests, NULL, NULL);
}
