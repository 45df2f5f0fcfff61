/* Integration tests of the instrumented DB layer on a real PostgreSQL:
 * exact statement, round-trip, prepare and row counts, pipelined and not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wt_db.h"
#include "wt_log.h"
#include "wt_pgarr.h"
#include "wt_test.h"

static char dbname[128];
static const char *url;

static int setup(void **state) {
  (void)state;
  url = wt_test_create_database("db", dbname, sizeof(dbname));
  return 0;
}

static int teardown(void **state) {
  (void)state;
  wt_test_drop_database(dbname);
  return 0;
}

static wt_db *connect_as(const char *component, bool log_sql) {
  wt_db *db = NULL;
  char err[512] = "";
  if (wt_db_connect(url, component, log_sql, &db, err, sizeof(err)) != WT_OK)
    fail_msg("connect: %s", err);
  return db;
}

static void exec_ok(wt_db *db, const char *name, const char *sql) {
  char err[512] = "";
  if (wt_db_exec(db, name, sql, 0, NULL, NULL, err, sizeof(err)) != WT_OK)
    fail_msg("%s: %s", name, err);
}

static void test_single_statement_counts(void **state) {
  wt_db *db = connect_as("t_single", false);
  wt_db_counters c;
  wt_db_stat st;
  PGresult *r = NULL;
  char err[256];
  (void)state;
  assert_int_equal(
      wt_db_exec(db, "one", "SELECT 1", 0, NULL, &r, err, sizeof(err)), WT_OK);
  assert_string_equal(PQgetvalue(r, 0, 0), "1");
  PQclear(r);
  wt_db_get_counters(db, &c);
  assert_int_equal(c.round_trips, 1);
  assert_int_equal(c.statements, 1);
  assert_int_equal(c.prepares, 1);
  assert_int_equal(c.rows, 1);
  exec_ok(db, "one", "SELECT 1");
  wt_db_get_counters(db, &c);
  assert_int_equal(c.round_trips, 2);
  assert_int_equal(c.statements, 2);
  assert_int_equal(c.prepares, 1); /* prepared once per connection */
  assert_int_equal(wt_db_stats_get("t_single", "one", &st), 0);
  assert_int_equal(st.calls, 2);
  assert_int_equal(st.rows, 2);
  assert_int_equal(st.errors, 0);
  assert_int_equal(wt_db_stats_round_trips("t_single"), 2);
  assert_int_equal(wt_db_stats_get("t_single", "never", &st), -1);
  wt_db_destroy(db);
}

static void test_pipeline_is_one_round_trip(void **state) {
  wt_db *db = connect_as("t_pipe", false);
  const char *ids = "{1,2,3}", *vals = "{a,b,c}", *one = "1";
  const char *ins_params[2] = {ids, vals};
  wt_db_stmt s[5] = {
      {.name = "begin", .sql = "BEGIN"},
      {.name = "insert_many",
       .sql = "INSERT INTO t (id, v) SELECT * FROM unnest($1::int[], "
              "$2::text[])",
       .nparams = 2,
       .params = ins_params},
      {.name = "update_one",
       .sql = "UPDATE t SET v = v || '!' WHERE id = $1::int",
       .nparams = 1,
       .params = &one},
      {.name = "count", .sql = "SELECT count(*) FROM t"},
      {.name = "commit", .sql = "COMMIT"},
  };
  wt_db_counters c;
  char err[512] = "";
  (void)state;
  exec_ok(db, "create_t", "CREATE TABLE t (id int PRIMARY KEY, v text)");
  assert_int_equal(wt_db_run(db, s, 5, err, sizeof(err)), WT_OK);
  assert_string_equal(PQgetvalue(s[3].result, 0, 0), "3");
  wt_db_stmts_clear(s, 5);
  wt_db_get_counters(db, &c);
  assert_int_equal(c.round_trips, 2); /* create + the pipeline */
  assert_int_equal(c.statements, 6);
  assert_int_equal(c.rows, 3 + 1 + 1);
  assert_int_equal(c.prepares, 6);
  assert_int_equal(wt_db_txn_status(db), PQTRANS_IDLE);
  /* the same pipeline again: no more prepares, one more round trip */
  exec_ok(db, "truncate_t", "TRUNCATE t");
  assert_int_equal(wt_db_run(db, s, 5, err, sizeof(err)), WT_OK);
  wt_db_stmts_clear(s, 5);
  wt_db_get_counters(db, &c);
  assert_int_equal(c.round_trips, 4);
  assert_int_equal(c.statements, 12);
  assert_int_equal(c.prepares, 7);
  wt_db_destroy(db);
}

static void test_pipeline_error_aborts_rest(void **state) {
  wt_db *db = connect_as("t_err", false);
  const char *id = "7";
  wt_db_stmt s[3] = {
      {.name = "ins",
       .sql = "INSERT INTO e (id) VALUES ($1::int)",
       .nparams = 1,
       .params = &id},
      {.name = "ins",
       .sql = "INSERT INTO e (id) VALUES ($1::int)",
       .nparams = 1,
       .params = &id},
      {.name = "sel", .sql = "SELECT 1"},
  };
  wt_db_counters c;
  wt_db_stat st;
  char err[512] = "";
  (void)state;
  exec_ok(db, "create_e", "CREATE TABLE e (id int PRIMARY KEY)");
  assert_int_equal(wt_db_run(db, s, 3, err, sizeof(err)), WT_ERR_DB);
  assert_non_null(strstr(err, "duplicate key"));
  assert_int_equal(PQresultStatus(s[0].result), PGRES_COMMAND_OK);
  assert_int_equal(PQresultStatus(s[1].result), PGRES_FATAL_ERROR);
  assert_int_equal(PQresultStatus(s[2].result), PGRES_PIPELINE_ABORTED);
  wt_db_stmts_clear(s, 3);
  wt_db_get_counters(db, &c);
  assert_int_equal(c.round_trips, 2);
  assert_int_equal(c.statements, 4);
  assert_int_equal(c.errors, 2);
  assert_int_equal(wt_db_stats_get("t_err", "ins", &st), 0);
  assert_int_equal(st.calls, 2);
  assert_int_equal(st.errors, 1);
  /* the implicit transaction of the pipeline rolled back the first insert */
  {
    PGresult *r = NULL;
    assert_int_equal(wt_db_exec(db, "count_e", "SELECT count(*) FROM e", 0,
                                NULL, &r, err, sizeof(err)),
                     WT_OK);
    assert_string_equal(PQgetvalue(r, 0, 0), "0");
    PQclear(r);
  }
  /* a failed wt_db_exec hands back no result (a caller that retries must
   * not leak one; the worker's load_positions did) */
  {
    PGresult *r = (PGresult *)&r; /* not NULL: it must be set */
    assert_int_equal(wt_db_exec(db, "bad_e", "SELECT nope FROM e", 0, NULL, &r,
                                err, sizeof(err)),
                     WT_ERR_DB);
    assert_null(r);
  }
  wt_db_destroy(db);
}

static void test_failed_transaction_needs_rollback(void **state) {
  wt_db *db = connect_as("t_txn", false);
  wt_db_stmt s[3] = {
      {.name = "begin", .sql = "BEGIN"},
      {.name = "bad", .sql = "SELECT 1/0"},
      {.name = "commit", .sql = "COMMIT"},
  };
  char err[512] = "";
  (void)state;
  assert_int_equal(wt_db_run(db, s, 3, err, sizeof(err)), WT_ERR_DB);
  assert_non_null(strstr(err, "division by zero"));
  wt_db_stmts_clear(s, 3);
  assert_int_equal(wt_db_txn_status(db), PQTRANS_INERROR);
  exec_ok(db, "rollback", "ROLLBACK");
  assert_int_equal(wt_db_txn_status(db), PQTRANS_IDLE);
  wt_db_destroy(db);
}

static void test_log_sql_lines(void **state) {
  FILE *f = tmpfile();
  char buf[8192];
  const char *secret = "secret-param-value";
  wt_db_stmt s[2] = {
      {.name = "echo",
       .sql = "SELECT $1::text",
       .nparams = 1,
       .params = &secret},
      {.name = "gen", .sql = "SELECT generate_series(1, 4)"},
  };
  wt_db *db;
  size_t n, lines = 0;
  char err[256];
  (void)state;
  wt_log_init("test", WT_LOG_INFO, f);
  db = connect_as("t_log", true);
  assert_int_equal(wt_db_run(db, s, 2, err, sizeof(err)), WT_OK);
  wt_db_stmts_clear(s, 2);
  fflush(f);
  rewind(f);
  n = fread(buf, 1, sizeof(buf) - 1, f);
  buf[n] = '\0';
  for (char *p = buf; *p; p++)
    lines += *p == '\n';
  assert_int_equal(lines, 2);
  assert_non_null(strstr(buf, "sql name=echo rows=1 us="));
  assert_non_null(strstr(buf, "sql name=gen rows=4 us="));
  assert_null(strstr(buf, secret));
  wt_db_destroy(db);
  wt_log_init("test", WT_LOG_INFO, NULL);
  fclose(f);
}

static void test_prometheus_text(void **state) {
  char buf[65536];
  size_t n;
  wt_db *db = connect_as("t_prom", false);
  (void)state;
  exec_ok(db, "p1", "SELECT 1");
  exec_ok(db, "p1", "SELECT 1");
  n = wt_db_stats_prometheus(buf, sizeof(buf));
  assert_true(n < sizeof(buf));
  assert_non_null(
      strstr(buf, "wt_db_round_trips_total{component=\"t_prom\"} 2\n"));
  assert_non_null(strstr(
      buf,
      "wt_db_statements_total{component=\"t_prom\",statement=\"p1\"} 2\n"));
  assert_non_null(strstr(
      buf, "wt_db_rows_total{component=\"t_prom\",statement=\"p1\"} 2\n"));
  assert_non_null(strstr(buf, "# TYPE wt_db_statement_seconds_total counter"));
  /* a short buffer reports the length needed */
  assert_int_equal(wt_db_stats_prometheus(buf, 10), n);
  wt_db_destroy(db);
}

static void test_reconnect_after_kill(void **state) {
  wt_db *db = connect_as("t_kill", false);
  wt_db *killer = connect_as("t_killer", false);
  char pid[32], err[512] = "";
  const char *params[1] = {pid};
  wt_db_counters c;
  (void)state;
  exec_ok(db, "ping", "SELECT 1");
  snprintf(pid, sizeof(pid), "%d", PQbackendPID(wt_db_conn(db)));
  assert_int_equal(wt_db_exec(killer, "kill",
                              "SELECT pg_terminate_backend($1::int)", 1, params,
                              NULL, err, sizeof(err)),
                   WT_OK);
  assert_int_equal(
      wt_db_exec(db, "ping", "SELECT 1", 0, NULL, NULL, err, sizeof(err)),
      WT_ERR_DB_CONN);
  assert_int_equal(wt_db_reconnect(db, err, sizeof(err)), WT_OK);
  exec_ok(db, "ping", "SELECT 1");
  wt_db_get_counters(db, &c);
  assert_int_equal(c.prepares, 2); /* prepared again on the new session */
  assert_int_equal(c.round_trips, 3);
  wt_db_destroy(killer);
  wt_db_destroy(db);
}

static void test_malformed_calls_send_nothing(void **state) {
  wt_db *db = connect_as("t_bad", false);
  const char *p = "x";
  wt_db_stmt many[WT_DB_MAX_PIPELINE + 1];
  wt_db_stmt script = {.name = "s",
                       .sql = "SELECT 1",
                       .script = true,
                       .nparams = 1,
                       .params = &p};
  wt_db_stmt noname = {.name = "", .sql = "SELECT 1"};
  wt_db_stmt clash[2] = {{.name = "same", .sql = "SELECT 1"},
                         {.name = "same", .sql = "SELECT 2"}};
  wt_db_counters c;
  char err[256];
  (void)state;
  for (size_t i = 0; i < WT_DB_MAX_PIPELINE + 1; i++)
    many[i] = (wt_db_stmt){.name = "m", .sql = "SELECT 1"};
  assert_int_equal(wt_db_run(db, many, 0, err, sizeof(err)), WT_ERR_INVALID);
  assert_int_equal(
      wt_db_run(db, many, WT_DB_MAX_PIPELINE + 1, err, sizeof(err)),
      WT_ERR_INVALID);
  assert_int_equal(wt_db_run(db, &script, 1, err, sizeof(err)), WT_ERR_INVALID);
  assert_int_equal(wt_db_run(db, &noname, 1, err, sizeof(err)), WT_ERR_INVALID);
  exec_ok(db, "same", "SELECT 1");
  assert_int_equal(wt_db_run(db, &clash[1], 1, err, sizeof(err)),
                   WT_ERR_INVALID);
  assert_non_null(strstr(err, "reuses a name"));
  wt_db_get_counters(db, &c);
  assert_int_equal(c.round_trips, 1);
  assert_int_equal(c.statements, 1);
  wt_db_destroy(db);
}

/* A pipeline far larger than the socket buffers, in both directions:
 * sending must not wait on a server that is waiting for us to read. */
static void test_large_pipeline_flushes(void **state) {
  enum { N = WT_DB_MAX_PIPELINE, SZ = 256 * 1024 };
  wt_db *db = connect_as("t_large", false);
  char *big = malloc(SZ + 1);
  const char *params[1] = {big};
  wt_db_stmt s[N];
  wt_db_counters c;
  char err[256];
  (void)state;
  memset(big, 'q', SZ);
  big[SZ] = '\0';
  for (size_t i = 0; i < N; i++)
    s[i] = (wt_db_stmt){.name = "echo_big",
                        .sql = "SELECT $1::text",
                        .nparams = 1,
                        .params = params};
  assert_int_equal(wt_db_run(db, s, N, err, sizeof(err)), WT_OK);
  for (size_t i = 0; i < N; i++)
    assert_int_equal(PQgetlength(s[i].result, 0, 0), SZ);
  wt_db_stmts_clear(s, N);
  wt_db_get_counters(db, &c);
  assert_int_equal(c.round_trips, 1);
  assert_int_equal(c.statements, N);
  free(big);
  wt_db_destroy(db);
}

static void test_script_statement(void **state) {
  wt_db *db = connect_as("t_script", false);
  wt_db_stmt s = {.name = "script",
                  .sql = "CREATE TABLE s1 (a int); CREATE TABLE s2 (b int);",
                  .script = true};
  wt_db_counters c;
  char err[256];
  (void)state;
  assert_int_equal(wt_db_run(db, &s, 1, err, sizeof(err)), WT_OK);
  wt_db_stmts_clear(&s, 1);
  exec_ok(db, "sel", "SELECT count(*) FROM s1, s2");
  wt_db_get_counters(db, &c);
  assert_int_equal(c.round_trips, 2);
  assert_int_equal(c.statements, 2);
  wt_db_destroy(db);
}

/* Binary arrays (wt_pgarr) as PostgreSQL reads them: every element type
 * the worker sends, NULLs, the empty array, and a malformed uuid refused
 * before anything is sent. */
static void test_binary_arrays(void **state) {
  static const uint32_t oids[7] = {
      WT_OID_UUID,        WT_OID_INT8,  WT_OID_INT4, WT_OID_TEXT,
      WT_OID_TIMESTAMPTZ, WT_OID_JSONB, WT_OID_BOOL};
  wt_db *db = connect_as("t_bin", false);
  wt_pgrows r;
  wt_pgarr empty, bad;
  PGresult *res = NULL;
  const char *eparam;
  int elen, eformat = 1;
  char err[256];
  (void)state;
  wt_pgrows_init(&r, oids, 7, 1 << 20);
  assert_true(wt_pgarr_uuid(&r.col[0], "0a1b2c3d-4e5f-4789-8abc-def012345678"));
  wt_pgarr_int8(&r.col[1], -9007199254740993LL);
  wt_pgarr_int4(&r.col[2], 2147483647);
  wt_pgarr_text(&r.col[3], "é \"q\" {a,b}", strlen("é \"q\" {a,b}"));
  /* 2026-11-27T20:39:19.123456Z */
  wt_pgarr_timestamptz(&r.col[4], 1795811959123456LL);
  wt_pgarr_jsonb(&r.col[5], "{\"b\": [1, 2], \"a\": null}", 24);
  wt_pgarr_bool(&r.col[6], true);
  r.n++;
  assert_true(wt_pgarr_uuid(&r.col[0], NULL));
  wt_pgarr_int8(&r.col[1], 0);
  wt_pgarr_null(&r.col[2]);
  wt_pgarr_text(&r.col[3], NULL, 0);
  wt_pgarr_timestamptz(&r.col[4], 0);
  wt_pgarr_jsonb(&r.col[5], NULL, 0);
  wt_pgarr_bool(&r.col[6], false);
  r.n++;
  assert_true(wt_pgrows_finish(&r));
  {
    wt_db_stmt s = {.name = "bin",
                    .sql = "SELECT $1::uuid[]::text, $2::bigint[]::text, "
                           "$3::integer[]::text, $4::text[]::text, "
                           "($5::timestamptz[])[1] AT TIME ZONE 'UTC', "
                           "($5::timestamptz[])[2] AT TIME ZONE 'UTC', "
                           "$6::jsonb[]::text, $7::boolean[]::text",
                    .nparams = 7,
                    .params = r.params,
                    .lengths = r.lengths,
                    .formats = r.formats};
    assert_int_equal(wt_db_run(db, &s, 1, err, sizeof(err)), WT_OK);
    res = s.result;
  }
  assert_string_equal(PQgetvalue(res, 0, 0),
                      "{0a1b2c3d-4e5f-4789-8abc-def012345678,NULL}");
  assert_string_equal(PQgetvalue(res, 0, 1), "{-9007199254740993,0}");
  assert_string_equal(PQgetvalue(res, 0, 2), "{2147483647,NULL}");
  assert_string_equal(PQgetvalue(res, 0, 3), "{\"é \\\"q\\\" {a,b}\",NULL}");
  assert_string_equal(PQgetvalue(res, 0, 4), "2026-11-27 20:39:19.123456");
  assert_string_equal(PQgetvalue(res, 0, 5), "1970-01-01 00:00:00");
  assert_string_equal(PQgetvalue(res, 0, 6),
                      "{\"{\\\"a\\\": null, \\\"b\\\": [1, 2]}\",NULL}");
  assert_string_equal(PQgetvalue(res, 0, 7), "{t,f}");
  PQclear(res);

  wt_pgarr_init(&empty, WT_OID_UUID, 64);
  eparam = wt_pgarr_finish(&empty, &elen);
  assert_non_null(eparam);
  assert_int_equal(elen, 12);
  {
    wt_db_stmt s = {.name = "bin_empty",
                    .sql = "SELECT cardinality($1::uuid[])",
                    .nparams = 1,
                    .params = &eparam,
                    .lengths = &elen,
                    .formats = &eformat};
    assert_int_equal(wt_db_run(db, &s, 1, err, sizeof(err)), WT_OK);
    assert_string_equal(PQgetvalue(s.result, 0, 0), "0");
    wt_db_stmts_clear(&s, 1);
  }
  wt_pgarr_free(&empty);

  wt_pgarr_init(&bad, WT_OID_UUID, 64);
  assert_false(wt_pgarr_uuid(&bad, "0a1b2c3d-4e5f-4789-8abc-def01234567"));
  assert_false(wt_pgarr_uuid(&bad, "0a1b2c3d-4e5f-4789-8abc-def0123456789"));
  assert_false(wt_pgarr_uuid(&bad, "0a1b2c3dx4e5f-4789-8abc-def012345678"));
  assert_null(wt_pgarr_finish(&bad, &elen));
  wt_pgarr_free(&bad);
  /* a cap passed fails the array too */
  wt_pgarr_init(&bad, WT_OID_TEXT, 40); /* header 20 + 14 per value */
  wt_pgarr_text(&bad, "0123456789", 10);
  assert_non_null(wt_pgarr_finish(&bad, &elen));
  wt_pgarr_text(&bad, "0123456789", 10);
  assert_null(wt_pgarr_finish(&bad, &elen));
  wt_pgarr_free(&bad);
  wt_pgrows_free(&r);
  wt_db_destroy(db);
}

/* wt_db_run in halves: one pipeline in flight, counted once, the
 * connection refused to anything else meanwhile. */
static void test_send_then_wait(void **state) {
  wt_db *db = connect_as("t_halves", false);
  const char *v = "41";
  wt_db_stmt s[2] = {
      {.name = "h1", .sql = "SELECT $1::int + 1", .nparams = 1, .params = &v},
      {.name = "h2", .sql = "SELECT pg_sleep(0.05)"}};
  wt_db_stmt other = {.name = "h3", .sql = "SELECT 3"};
  wt_db_counters c;
  char err[256];
  (void)state;
  assert_int_equal(wt_db_send(db, s, 2, err, sizeof(err)), WT_OK);
  assert_int_equal(wt_db_send(db, &other, 1, err, sizeof(err)), WT_ERR_INVALID);
  assert_int_equal(wt_db_run(db, &other, 1, err, sizeof(err)), WT_ERR_INVALID);
  assert_int_equal(wt_db_wait(db, s, 2, err, sizeof(err)), WT_OK);
  assert_string_equal(PQgetvalue(s[0].result, 0, 0), "42");
  wt_db_stmts_clear(s, 2);
  assert_int_equal(wt_db_wait(db, s, 2, err, sizeof(err)), WT_ERR_INVALID);
  wt_db_get_counters(db, &c);
  assert_int_equal(c.round_trips, 1);
  assert_int_equal(c.statements, 2);
  exec_ok(db, "h3", "SELECT 3");
  wt_db_destroy(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_single_statement_counts),
      cmocka_unit_test(test_pipeline_is_one_round_trip),
      cmocka_unit_test(test_pipeline_error_aborts_rest),
      cmocka_unit_test(test_failed_transaction_needs_rollback),
      cmocka_unit_test(test_log_sql_lines),
      cmocka_unit_test(test_prometheus_text),
      cmocka_unit_test(test_reconnect_after_kill),
      cmocka_unit_test(test_malformed_calls_send_nothing),
      cmocka_unit_test(test_large_pipeline_flushes),
      cmocka_unit_test(test_script_statement),
      cmocka_unit_test(test_binary_arrays),
      cmocka_unit_test(test_send_then_wait),
  };
  return cmocka_run_group_tests_name("db", tests, setup, teardown);
}
