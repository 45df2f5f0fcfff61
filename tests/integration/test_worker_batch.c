/* Integration tests of the worker's batch on a real PostgreSQL (no Kafka:
 * messages are handed in as consumed): exact round trips per batch, cold
 * and warm; exactly-once under redelivery and duplicates; gap-free seq;
 * the optimistic-create retry; the offset guard against a second worker;
 * who may issue what, by the commands' signatures (wt_sign). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wk_batch.h"
#include "wt_migrate.h"
#include "wt_sign.h"
#include "wt_test.h"

#ifndef WT_MIGRATIONS_DIR
#error "WT_MIGRATIONS_DIR must point at migrations/"
#endif

#define PART 0

typedef struct fixture {
  char dbname[128];
  const char *url;
  wt_db *db;
  wt_config cfg;
  wk_state *st;
  wk_batch *batch;
  wk_positions pos;
  int64_t offset;
  /* messages of the batch being built */
  char *json[64];
  wk_msg msgs[64];
  size_t n;
} fixture;

static const char *const ALICE = "00000000-0000-4000-8000-00000000a11c";
static const char *const BOB = "00000000-0000-4000-8000-000000000b0b";
static const char *const EVE = "00000000-0000-4000-8000-000000000e0e";
static const char *const PROJ = "10000000-0000-4000-8000-000000000001";

/* The signer of the tests' messages unless a test says otherwise: a
 * producer that may issue every command (as wt-admin with the scopes
 * system,users). */
static const wt_signer TRUSTED = {WT_SIGN_OK, WT_SCOPE_SYSTEM | WT_SCOPE_USERS,
                                  "t-trusted"};

static void new_worker(fixture *f) {
  wk_state_caps caps = {
      .users = 1000, .projects = 1000, .logs = 1000, .batch_max = 64};
  wk_batch_destroy(f->batch);
  wk_state_destroy(f->st);
  f->st = wk_state_new(&caps);
  f->batch = wk_batch_new(f->db, f->st, &f->cfg, "wt-worker", "t.commands");
  assert_non_null(f->st);
  assert_non_null(f->batch);
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  char err[512] = "";
  f->url = wt_test_create_database("wk", f->dbname, sizeof(f->dbname));
  if (wt_db_connect(f->url, "t_worker", false, &f->db, err, sizeof(err)) !=
          WT_OK ||
      wt_migrate_run(f->db, WT_MIGRATIONS_DIR, NULL, err, sizeof(err)) != WT_OK)
    fail_msg("setup: %s", err);
  assert_int_equal(wt_config_load(&f->cfg, NULL, NULL, err, sizeof(err)),
                   WT_OK);
  f->cfg.batch_max = 64;
  for (int p = 0; p < WK_MAX_PARTITIONS; p++) {
    f->pos.next[p] = -1;
    f->pos.floor[p] = -1;
  }
  new_worker(f);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  for (size_t i = 0; i < f->n; i++)
    free(f->json[i]);
  wk_batch_destroy(f->batch);
  wk_state_destroy(f->st);
  wt_db_destroy(f->db);
  wt_test_drop_database(f->dbname);
  free(f);
  return 0;
}

static void reset_msgs(fixture *f) {
  for (size_t i = 0; i < f->n; i++)
    free(f->json[i]);
  f->n = 0;
}

/* Adds a message at the next offset; returns its command id (static
 * ring of buffers). */
static const char *add_cmd(fixture *f, const char *type, const char *actor,
                           const char *routing, const char *payload_fmt, ...)
    __attribute__((format(printf, 5, 6)));
static const char *add_cmd(fixture *f, const char *type, const char *actor,
                           const char *routing, const char *payload_fmt, ...) {
  static char ids[64][WT_UUID_STR];
  static int next_id;
  char payload[2048], *json = malloc(4096);
  const char *id = ids[next_id++ % 64];
  bool user_cmd = strncmp(type, "user.", 5) == 0;
  va_list ap;
  wt_uuid_generate(ids[(next_id - 1) % 64]);
  va_start(ap, payload_fmt);
  vsnprintf(payload, sizeof(payload), payload_fmt, ap);
  va_end(ap);
  snprintf(json, 4096,
           "{\"v\":1,\"command_id\":\"%s\",\"type\":\"%s\",\"actor_id\":"
           "\"%s\",\"%s\":\"%s\",\"issued_at\":\"2026-11-27T10:00:00Z\","
           "\"payload\":%s}",
           id, type, actor, user_cmd ? "user_id" : "project_id", routing,
           payload);
  f->json[f->n] = json;
  f->msgs[f->n] = (wk_msg){.partition = PART,
                           .offset = f->offset++,
                           .key = routing,
                           .key_len = strlen(routing),
                           .value = json,
                           .len = strlen(json),
                           .signer = TRUSTED};
  f->n++;
  return id;
}

/* Re-adds message i of the last batch at the next offset (a producer's
 * duplicate). */
static void add_copy(fixture *f, const char *json, const char *key) {
  char *copy = strdup(json);
  f->json[f->n] = copy;
  f->msgs[f->n] = (wk_msg){.partition = PART,
                           .offset = f->offset++,
                           .key = key,
                           .key_len = strlen(key),
                           .value = copy,
                           .len = strlen(copy),
                           .signer = TRUSTED};
  f->n++;
}

/* Adds a log.create of a running timer (no ended_at) started at
 * started (RFC 3339) by actor in PROJ; returns its command id. */
static const char *add_timer(fixture *f, const char *actor, const char *log_id,
                             const char *started, const char *description) {
  return add_cmd(f, "log.create", actor, PROJ,
                 "{\"log_id\":\"%s\",\"started_at\":\"%s\",\"ended_at\":null,"
                 "\"description\":\"%s\"}",
                 log_id, started, description);
}

static wk_batch_result run(fixture *f, wt_err expect) {
  wk_batch_result r;
  char err[1024] = "";
  wt_err e;
  wk_batch_result_init(&r);
  e = wk_batch_run(f->batch, f->msgs, f->n, &f->pos, &r, err, sizeof(err));
  if (e != expect)
    fail_msg("batch: %s (%s)", wt_strerror(e), err);
  return r;
}

/* A statement's name: the hash of its text (prepared once each). */
static void stmt_name(const char *sql, char *out, size_t size) {
  unsigned h = 5381;
  for (const char *p = sql; *p; p++)
    h = h * 33 + (unsigned char)*p;
  snprintf(out, size, "q_%08x", h);
}

static long count(fixture *f, const char *sql) {
  PGresult *r = NULL;
  char err[512], name[32];
  long n;
  stmt_name(sql, name, sizeof(name));
  if (wt_db_exec(f->db, name, sql, 0, NULL, &r, err, sizeof(err)) != WT_OK)
    fail_msg("%s: %s", sql, err);
  n = atol(PQgetvalue(r, 0, 0));
  PQclear(r);
  return n;
}

static bool out_has(const wk_batch_result *r, const char *needle) {
  for (size_t i = 0; i < r->nouts; i++)
    if (strstr(r->outs[i].value, needle))
      return true;
  return false;
}

static void seed_users(fixture *f) {
  static const char *const users[3][2] = {
      {"00000000-0000-4000-8000-00000000a11c", "alice"},
      {"00000000-0000-4000-8000-000000000b0b", "bob"},
      {"00000000-0000-4000-8000-000000000e0e", "eve"}};
  wk_batch_result r;
  reset_msgs(f);
  for (int i = 0; i < 3; i++)
    add_cmd(f, "user.create", "system", users[i][0],
            "{\"user_id\":\"%s\",\"username\":\"%s\",\"display_name\":"
            "\"%s\",\"password_hash\":\"$y$j9T$x$y\"}",
            users[i][0], users[i][1], users[i][1]);
  r = run(f, WT_OK);
  assert_int_equal(r.applied, 3);
  wk_batch_result_clear(&r);
}

/* The project with alice as owner and bob as member. */
static void seed_project(fixture *f) {
  wk_batch_result r;
  reset_msgs(f);
  add_cmd(f, "project.create", ALICE, PROJ, "{\"name\":\"Apollo\"}");
  add_cmd(f, "member.add", ALICE, PROJ,
          "{\"user_id\":\"%s\",\"role\":\"member\"}", BOB);
  r = run(f, WT_OK);
  assert_int_equal(r.applied, 2);
  assert_int_equal(r.rejected, 0);
  wk_batch_result_clear(&r);
}

static void test_cold_then_warm_round_trips(void **state) {
  fixture *f = *state;
  wk_batch_result r;
  char log_id[WT_UUID_STR];
  seed_users(f);
  seed_project(f);
  /* a fresh worker: caches empty. One round trip loads, one writes. */
  new_worker(f);
  reset_msgs(f);
  for (int i = 0; i < 20; i++) {
    wt_uuid_generate(log_id);
    add_cmd(f, "log.create", i % 2 ? ALICE : BOB, PROJ,
            "{\"log_id\":\"%s\",\"started_at\":\"2026-11-27T0%d:00:00Z\","
            "\"ended_at\":\"2026-11-27T0%d:30:00Z\",\"description\":\"w%d\"}",
            log_id, i % 9, i % 9, i);
  }
  r = run(f, WT_OK);
  assert_int_equal(r.applied, 20);
  assert_int_equal(r.round_trips, 2);
  wk_batch_result_clear(&r);
  /* warm: creates, a rename and a member change read nothing first */
  reset_msgs(f);
  for (int i = 0; i < 30; i++) {
    wt_uuid_generate(log_id);
    add_timer(f, BOB, log_id, "2026-11-28T01:00:00Z", "timer");
  }
  add_cmd(f, "project.rename", ALICE, PROJ, "{\"name\":\"Apollo 2\"}");
  /* a log created earlier in the same batch is not looked up either */
  add_cmd(f, "log.update", BOB, PROJ,
          "{\"log_id\":\"%s\",\"description\":\"stopped\","
          "\"ended_at\":\"2026-11-28T02:00:00Z\"}",
          log_id);
  r = run(f, WT_OK);
  assert_int_equal(r.applied, 32);
  assert_int_equal(r.round_trips, 1);
  wk_batch_result_clear(&r);
  assert_int_equal(count(f, "SELECT count(*) FROM work_logs"), 50);
  /* seq runs 1..n without gaps, and projects.seq is the last */
  assert_int_equal(count(f, "SELECT max(seq) - count(*) FROM events WHERE "
                            "project_id = '10000000-0000-4000-8000-"
                            "000000000001'"),
                   0);
  assert_int_equal(count(f, "SELECT seq FROM projects"), 2 + 50 + 1 + 1);
}

static void test_rules_both_outcomes_in_db(void **state) {
  fixture *f = *state;
  wk_batch_result r;
  char log_id[WT_UUID_STR];
  const char *c_ok, *c_forbidden, *c_notfound, *c_invalid, *c_upd;
  seed_users(f);
  seed_project(f);
  wt_uuid_generate(log_id);
  reset_msgs(f);
  c_ok = add_cmd(f, "log.create", BOB, PROJ,
                 "{\"log_id\":\"%s\",\"started_at\":\"2026-11-27T08:00:00Z\","
                 "\"ended_at\":\"2026-11-27T09:00:00Z\",\"description\":\"x\"}",
                 log_id);
  /* alice may not change bob's log */
  c_forbidden =
      add_cmd(f, "log.update", ALICE, PROJ,
              "{\"log_id\":\"%s\",\"description\":\"hijack\"}", log_id);
  /* eve is not a member: the project does not exist for her */
  c_notfound =
      add_cmd(f, "log.delete", EVE, PROJ, "{\"log_id\":\"%s\"}", log_id);
  c_invalid = add_cmd(
      f, "log.update", BOB, PROJ,
      "{\"log_id\":\"%s\",\"ended_at\":\"2026-11-27T07:00:00Z\"}", log_id);
  c_upd = add_cmd(f, "log.update", BOB, PROJ,
                  "{\"log_id\":\"%s\",\"description\":\"fixed\","
                  "\"expected_version\":1}",
                  log_id);
  r = run(f, WT_OK);
  assert_int_equal(r.applied, 2);
  assert_int_equal(r.rejected, 3);
  assert_int_equal(r.nouts, 5);
  assert_true(strstr(r.outs[0].value, c_ok) &&
              strstr(r.outs[0].value, "\"log.created\""));
  assert_true(strstr(r.outs[1].value, c_forbidden) &&
              strstr(r.outs[1].value, "\"forbidden\""));
  assert_true(strstr(r.outs[2].value, c_notfound) &&
              strstr(r.outs[2].value, "\"not_found\""));
  assert_true(strstr(r.outs[3].value, c_invalid) &&
              strstr(r.outs[3].value, "\"invalid\""));
  assert_true(strstr(r.outs[4].value, c_upd) &&
              strstr(r.outs[4].value, "\"version\":2"));
  assert_string_equal(r.outs[0].key, PROJ);
  wk_batch_result_clear(&r);
  assert_int_equal(count(f, "SELECT count(*) FROM rejections"), 3);
  assert_int_equal(
      count(f, "SELECT count(*) FROM work_logs WHERE description = 'fixed' "
               "AND version = 2"),
      1);
  /* bob leaves; his next log is refused, alice stays the owner */
  reset_msgs(f);
  add_cmd(f, "member.remove", BOB, PROJ, "{\"user_id\":\"%s\"}", BOB);
  wt_uuid_generate(log_id);
  add_timer(f, BOB, log_id, "2026-11-27T08:00:00Z", "");
  add_cmd(f, "member.remove", ALICE, PROJ, "{\"user_id\":\"%s\"}", ALICE);
  r = run(f, WT_OK);
  assert_int_equal(r.applied, 1);
  assert_int_equal(r.rejected, 2);
  assert_true(out_has(&r, "\"not_found\""));
  assert_true(out_has(&r, "\"conflict\""));
  wk_batch_result_clear(&r);
  assert_int_equal(count(f, "SELECT count(*) FROM project_members"), 1);
}

static void test_redelivery_and_duplicates_apply_once(void **state) {
  fixture *f = *state;
  wk_batch_result r;
  char log_id[WT_UUID_STR];
  const char *cid;
  wk_positions before;
  seed_users(f);
  seed_project(f);
  wt_uuid_generate(log_id);
  reset_msgs(f);
  cid = add_timer(f, BOB, log_id, "2026-11-27T08:00:00Z", "once");
  /* the same command twice in one batch */
  add_copy(f, f->json[0], PROJ);
  before = f->pos;
  r = run(f, WT_OK);
  assert_int_equal(r.applied, 1);
  assert_int_equal(r.duplicates, 1);
  assert_int_equal(r.nouts, 2);
  assert_string_equal(r.outs[0].value, r.outs[1].value);
  /* a crash before the outcomes went out: the batch is read again from
   * its start; nothing is written, the outcomes are the same, byte for
   * byte (events.data keeps the worker's text: json, not jsonb) */
  {
    char *first = strdup(f->json[0]);
    char *outcome = strdup(r.outs[0].value);
    wk_batch_result again;
    wk_batch_result_clear(&r);
    f->pos = before;
    f->pos.next[PART] = f->msgs[f->n - 1].offset + 1;
    f->offset = f->msgs[0].offset;
    reset_msgs(f);
    add_copy(f, first, PROJ);
    add_copy(f, first, PROJ);
    free(first);
    again = run(f, WT_OK);
    assert_int_equal(again.applied, 0);
    assert_int_equal(again.duplicates, 2);
    assert_true(out_has(&again, cid));
    assert_true(out_has(&again, "\"seq\":3"));
    assert_int_equal(again.nouts, 2);
    assert_string_equal(again.outs[0].value, outcome);
    assert_string_equal(again.outs[1].value, outcome);
    free(outcome);
    wk_batch_result_clear(&again);
  }
  /* a producer's duplicate much later, at a new offset */
  {
    char json[4096];
    snprintf(json, sizeof(json), "%s", f->json[0]);
    reset_msgs(f);
    add_copy(f, json, PROJ);
    r = run(f, WT_OK);
    assert_int_equal(r.applied, 0);
    assert_int_equal(r.duplicates, 1);
    assert_true(out_has(&r, "\"seq\":3"));
    wk_batch_result_clear(&r);
  }
  /* a duplicate that would be applied again (a rename) is caught by the
   * unique key on events.command_id and answered with its first outcome */
  {
    char json[4096];
    const char *rid;
    reset_msgs(f);
    rid = add_cmd(f, "project.rename", ALICE, PROJ, "{\"name\":\"Once\"}");
    r = run(f, WT_OK);
    assert_int_equal(r.applied, 1);
    wk_batch_result_clear(&r);
    snprintf(json, sizeof(json), "%s", f->json[0]);
    reset_msgs(f);
    add_copy(f, json, PROJ);
    r = run(f, WT_OK);
    assert_int_equal(r.applied, 0);
    assert_int_equal(r.duplicates, 1);
    assert_true(out_has(&r, rid));
    assert_true(out_has(&r, "\"seq\":4"));
    wk_batch_result_clear(&r);
  }
  assert_int_equal(count(f, "SELECT count(*) FROM work_logs"), 1);
  assert_int_equal(count(f, "SELECT count(*) FROM events WHERE project_id = "
                            "'10000000-0000-4000-8000-000000000001'"),
                   4);
}

static void test_existing_id_is_a_conflict_not_an_error(void **state) {
  fixture *f = *state;
  wk_batch_result r;
  char log_id[WT_UUID_STR];
  seed_users(f);
  seed_project(f);
  wt_uuid_generate(log_id);
  reset_msgs(f);
  add_timer(f, BOB, log_id, "2026-11-27T08:00:00Z", "a");
  r = run(f, WT_OK);
  wk_batch_result_clear(&r);
  /* a new worker does not know the log: it assumes the id new, the
   * primary key says otherwise, the batch is decided again */
  new_worker(f);
  reset_msgs(f);
  add_timer(f, ALICE, log_id, "2026-11-27T08:00:00Z", "b");
  r = run(f, WT_OK);
  assert_int_equal(r.applied, 0);
  assert_int_equal(r.rejected, 1);
  assert_true(out_has(&r, "\"conflict\""));
  wk_batch_result_clear(&r);
  assert_int_equal(count(f, "SELECT count(*) FROM work_logs"), 1);
}

static void test_offset_guard_stops_a_second_worker(void **state) {
  fixture *f = *state;
  wk_batch_result r;
  wk_positions stale;
  seed_users(f);
  stale = f->pos;
  seed_project(f);
  /* a worker that still believes the older position */
  new_worker(f);
  f->pos = stale;
  reset_msgs(f);
  f->offset = stale.next[PART];
  add_cmd(f, "project.create", ALICE, "20000000-0000-4000-8000-000000000002",
          "{\"name\":\"Zombie\"}");
  r = run(f, WT_ERR_CONFLICT);
  wk_batch_result_clear(&r);
  assert_int_equal(count(f, "SELECT count(*) FROM projects"), 1);
}

static void test_garbage_goes_to_the_dlq(void **state) {
  fixture *f = *state;
  wk_batch_result r;
  seed_users(f);
  reset_msgs(f);
  add_copy(f, "not json at all", "k");
  add_copy(f, "{\"v\":1,\"type\":\"log.create\"}", "k");
  add_cmd(f, "project.create", ALICE, PROJ, "{\"name\":\"ok\"}");
  r = run(f, WT_OK);
  assert_int_equal(r.dead, 2);
  assert_int_equal(r.applied, 1);
  assert_int_equal(r.outs[0].topic, WK_OUT_DLQ);
  assert_non_null(strstr(r.outs[0].value, "\"kind\":\"dead_letter\""));
  assert_non_null(strstr(r.outs[0].value, "not json at all"));
  assert_int_equal(r.outs[2].topic, WK_OUT_EVENTS);
  wk_batch_result_clear(&r);
}

/* Every rule of the contract, both outcomes, decided by the worker and
 * written to PostgreSQL: one batch, in order, against a seeded world
 * (alice owns PROJ, bob is a member, eve is not). */
static void test_every_rule_both_outcomes(void **state) {
  static const char *const CAROL = "00000000-0000-4000-8000-0000000ca201";
  static const char *const P2 = "30000000-0000-4000-8000-000000000003";
  static const char *const LOG = "40000000-0000-4000-8000-000000000004";
  static const char *const LOG2 = "40000000-0000-4000-8000-000000000005";
  fixture *f = *state;
  wk_batch_result r;
  struct {
    const char *expect; /* "event" or a rejection code */
  } want[32];
  size_t n = 0;
#define CASE(expect_, ...)                                                     \
  do {                                                                         \
    add_cmd(f, __VA_ARGS__);                                                   \
    want[n++].expect = (expect_);                                              \
  } while (0)
  seed_users(f);
  seed_project(f);
  reset_msgs(f);
  /* project.create: an active user may; the system may not */
  CASE("event", "project.create", EVE, P2, "{\"name\":\"Eve's\"}");
  CASE("forbidden", "project.create", "system",
       "30000000-0000-4000-8000-000000000009", "{\"name\":\"sys\"}");
  CASE("conflict", "project.create", BOB, P2, "{\"name\":\"again\"}");
  /* project.rename: owners only; members forbidden, others not_found */
  CASE("event", "project.rename", ALICE, PROJ, "{\"name\":\"Renamed\"}");
  CASE("forbidden", "project.rename", BOB, PROJ, "{\"name\":\"Mine\"}");
  CASE("not_found", "project.rename", EVE, PROJ, "{\"name\":\"Mine\"}");
  /* member.add: an owner adds an existing active user */
  CASE("forbidden", "member.add", BOB, PROJ,
       "{\"user_id\":\"%s\",\"role\":\"member\"}", EVE);
  CASE("not_found", "member.add", ALICE, PROJ,
       "{\"user_id\":\"%s\",\"role\":\"member\"}", CAROL);
  CASE("invalid", "member.add", ALICE, PROJ,
       "{\"user_id\":\"%s\",\"role\":\"boss\"}", EVE);
  CASE("event", "member.add", ALICE, PROJ,
       "{\"user_id\":\"%s\",\"role\":\"member\"}", EVE);
  /* member.remove: owner, or oneself; never the last owner */
  CASE("forbidden", "member.remove", BOB, PROJ, "{\"user_id\":\"%s\"}", EVE);
  CASE("event", "member.remove", EVE, PROJ, "{\"user_id\":\"%s\"}", EVE);
  CASE("conflict", "member.remove", ALICE, PROJ, "{\"user_id\":\"%s\"}", ALICE);
  /* log.create: members, for themselves only */
  CASE("event", "log.create", BOB, PROJ,
       "{\"log_id\":\"%s\",\"started_at\":\"2026-11-27T08:00:00Z\","
       "\"ended_at\":\"2026-11-27T09:00:00Z\",\"description\":\"b\"}",
       LOG);
  CASE("forbidden", "log.create", ALICE, PROJ,
       "{\"log_id\":\"%s\",\"user_id\":\"%s\",\"started_at\":"
       "\"2026-11-27T08:00:00Z\",\"ended_at\":null}",
       LOG2, BOB);
  CASE("not_found", "log.create", EVE, PROJ,
       "{\"log_id\":\"%s\",\"started_at\":\"2026-11-27T08:00:00Z\","
       "\"ended_at\":null}",
       LOG2);
  CASE("invalid", "log.create", ALICE, PROJ,
       "{\"log_id\":\"%s\",\"started_at\":\"2026-11-27T08:00:00Z\","
       "\"ended_at\":\"2026-11-29T08:00:00Z\"}",
       LOG2);
  CASE("conflict", "log.create", ALICE, PROJ,
       "{\"log_id\":\"%s\",\"started_at\":\"2026-11-27T08:00:00Z\","
       "\"ended_at\":null}",
       LOG);
  /* log.update / log.delete: the author only */
  CASE("forbidden", "log.update", ALICE, PROJ,
       "{\"log_id\":\"%s\",\"description\":\"x\"}", LOG);
  CASE("conflict", "log.update", BOB, PROJ,
       "{\"log_id\":\"%s\",\"description\":\"x\",\"expected_version\":7}", LOG);
  CASE("event", "log.update", BOB, PROJ,
       "{\"log_id\":\"%s\",\"description\":\"x\",\"expected_version\":1}", LOG);
  CASE("forbidden", "log.delete", ALICE, PROJ, "{\"log_id\":\"%s\"}", LOG);
  CASE("not_found", "log.delete", BOB, PROJ, "{\"log_id\":\"%s\"}", LOG2);
  CASE("event", "log.delete", BOB, PROJ, "{\"log_id\":\"%s\"}", LOG);
  /* user.*: the system only */
  CASE("forbidden", "user.create", ALICE, CAROL,
       "{\"user_id\":\"%s\",\"username\":\"carol\",\"display_name\":"
       "\"C\",\"password_hash\":\"$y$x\"}",
       CAROL);
  CASE("event", "user.create", "system", CAROL,
       "{\"user_id\":\"%s\",\"username\":\"carol\",\"display_name\":"
       "\"C\",\"password_hash\":\"$y$x\"}",
       CAROL);
  CASE("conflict", "user.create", "system", LOG2,
       "{\"user_id\":\"%s\",\"username\":\"carol\",\"display_name\":"
       "\"C\",\"password_hash\":\"$y$x\"}",
       LOG2);
  CASE("event", "user.revoke_tokens", "system", CAROL, "{\"user_id\":\"%s\"}",
       CAROL);
  CASE("forbidden", "user.deactivate", BOB, CAROL, "{\"user_id\":\"%s\"}",
       CAROL);
  CASE("event", "user.deactivate", "system", CAROL, "{\"user_id\":\"%s\"}",
       CAROL);
  CASE("not_found", "user.deactivate", "system", LOG2, "{\"user_id\":\"%s\"}",
       LOG2);
#undef CASE
  r = run(f, WT_OK);
  assert_int_equal(r.nouts, n);
  for (size_t i = 0; i < n; i++) {
    char code[64];
    if (strcmp(want[i].expect, "event") == 0)
      snprintf(code, sizeof(code), "\"kind\":\"event\"");
    else
      snprintf(code, sizeof(code), "\"code\":\"%s\"", want[i].expect);
    if (!strstr(r.outs[i].value, code))
      fail_msg("case %zu (%s): want %s, got %s", i, f->json[i], code,
               r.outs[i].value);
  }
  wk_batch_result_clear(&r);
  /* what the database holds afterwards */
  assert_int_equal(count(f, "SELECT count(*) FROM projects"), 2);
  assert_int_equal(count(f, "SELECT count(*) FROM work_logs"), 0);
  assert_int_equal(
      count(f, "SELECT count(*) FROM users WHERE username = 'carol' AND NOT "
               "is_active AND token_version = 1"),
      1);
  assert_int_equal(count(f, "SELECT count(*) FROM project_members WHERE "
                            "project_id = '10000000-0000-4000-8000-"
                            "000000000001'"),
                   2);
  assert_int_equal(count(f, "SELECT count(*) FROM rejections"),
                   (long)(n - 10)); /* 10 applied */
}

/* --- deciding the next batch while one is written ---------------------- */

typedef struct ahead {
  fixture *f;
  wk_batch *next; /* decided from inside the first write of f->batch */
  size_t from, n; /* its messages in f->msgs */
  int calls;
  bool prepared;
} ahead;

static void prepare_during_write(void *ctx, bool before) {
  ahead *a = ctx;
  if (before && a->calls++ == 0)
    a->prepared =
        wk_batch_prepare(a->next, &a->f->msgs[a->from], a->n, &a->f->pos);
}

static wk_batch_result run_slice(fixture *f, wk_batch *b, size_t from,
                                 size_t n) {
  wk_batch_result r;
  char err[1024] = "";
  wk_batch_result_init(&r);
  if (wk_batch_run(b, &f->msgs[from], n, &f->pos, &r, err, sizeof(err)) !=
      WT_OK)
    fail_msg("batch: %s", err);
  return r;
}

/* The batch decided ahead is written as decided: one round trip. */
static void test_decided_ahead_while_writing(void **state) {
  fixture *f = *state;
  wk_batch_result r;
  char y[WT_UUID_STR];
  ahead a = {.f = f, .from = 1, .n = 2};
  seed_users(f);
  seed_project(f);
  a.next = wk_batch_new(f->db, f->st, &f->cfg, "wt-worker", "t.commands");
  assert_non_null(a.next);
  wk_batch_set_write_hook(f->batch, prepare_during_write, &a);
  wt_uuid_generate(y);
  reset_msgs(f);
  add_timer(f, ALICE, y, "2026-11-27T08:00:00Z", "a");
  /* the next batch updates the log the first one creates */
  add_cmd(f, "log.update", ALICE, PROJ,
          "{\"log_id\":\"%s\",\"description\":\"b\"}", y);
  add_cmd(f, "log.update", BOB, PROJ,
          "{\"log_id\":\"%s\",\"description\":\"not his\"}", y);
  r = run_slice(f, f->batch, 0, 1);
  assert_int_equal(r.applied, 1);
  wk_batch_result_clear(&r);
  assert_true(a.prepared);
  r = run_slice(f, a.next, 1, 2);
  assert_true(r.prepared);
  assert_int_equal(r.applied, 1);
  assert_int_equal(r.rejected, 1);
  assert_int_equal(r.round_trips, 1);
  assert_true(out_has(&r, "\"forbidden\""));
  wk_batch_result_clear(&r);
  assert_int_equal(
      count(f, "SELECT count(*) FROM work_logs WHERE description = 'b' AND "
               "version = 2"),
      1);
  assert_int_equal(count(f, "SELECT max(seq) - count(*) FROM events WHERE "
                            "project_id = '10000000-0000-4000-8000-"
                            "000000000001'"),
                   0);
  wk_batch_destroy(a.next);
}

/* The first write fails (an id it took as new exists): what was decided
 * ahead rested on it and is decided again, from PostgreSQL's rows. */
static void test_decided_ahead_is_void_when_the_write_fails(void **state) {
  fixture *f = *state;
  wk_batch_result r;
  char x[WT_UUID_STR], w[WT_UUID_STR];
  ahead a = {.f = f, .from = 1, .n = 1};
  seed_users(f);
  seed_project(f);
  wt_uuid_generate(x);
  wt_uuid_generate(w);
  reset_msgs(f);
  add_timer(f, BOB, x, "2026-11-27T08:00:00Z", "bob's");
  r = run(f, WT_OK);
  wk_batch_result_clear(&r);
  /* a new worker knows the project, not bob's log */
  new_worker(f);
  reset_msgs(f);
  add_timer(f, ALICE, w, "2026-11-27T08:00:00Z", "warm");
  r = run(f, WT_OK);
  wk_batch_result_clear(&r);
  a.next = wk_batch_new(f->db, f->st, &f->cfg, "wt-worker", "t.commands");
  assert_non_null(a.next);
  wk_batch_set_write_hook(f->batch, prepare_during_write, &a);
  reset_msgs(f);
  /* alice "creates" bob's log id: taken as new, refused by the key */
  add_timer(f, ALICE, x, "2026-11-27T09:00:00Z", "alice's");
  /* decided ahead, alice would own it; in truth it is bob's */
  add_cmd(f, "log.update", ALICE, PROJ,
          "{\"log_id\":\"%s\",\"description\":\"taken over\"}", x);
  r = run_slice(f, f->batch, 0, 1);
  assert_int_equal(r.rejected, 1);
  assert_true(out_has(&r, "\"conflict\""));
  wk_batch_result_clear(&r);
  assert_true(a.prepared);
  r = run_slice(f, a.next, 1, 1);
  assert_false(r.prepared);
  assert_int_equal(r.applied, 0);
  assert_int_equal(r.rejected, 1);
  assert_true(out_has(&r, "\"forbidden\""));
  wk_batch_result_clear(&r);
  assert_int_equal(count(f, "SELECT count(*) FROM work_logs WHERE "
                            "description = 'bob''s' AND version = 1"),
                   1);
  assert_int_equal(count(f, "SELECT max(seq) - count(*) FROM events WHERE "
                            "project_id = '10000000-0000-4000-8000-"
                            "000000000001'"),
                   0);
  wk_batch_destroy(a.next);
}

/* Another writer moved the project on (a worker that held the partition
 * before): the cached seq is taken (events_pkey); what the failed write put
 * into the caches is invalidated, so the retry reads the project again and
 * goes on with the next seq. */
static void test_stale_project_seq_reloads(void **state) {
  fixture *f = *state;
  wk_batch_result r;
  char err[512], sql[512];
  seed_users(f);
  seed_project(f);
  snprintf(sql, sizeof(sql),
           "INSERT INTO events (project_id, seq, command_id, type, actor_id, "
           "at, data) VALUES ('%s', 3, gen_random_uuid(), 'project.renamed', "
           "'%s', now(), '{}'); UPDATE projects SET seq = 3 WHERE id = '%s'",
           PROJ, ALICE, PROJ);
  {
    wt_db_stmt st = {.name = "other_writer", .sql = sql, .script = true};
    if (wt_db_run(f->db, &st, 1, err, sizeof(err)) != WT_OK)
      fail_msg("%s", err);
    wt_db_stmts_clear(&st, 1);
  }
  reset_msgs(f);
  add_cmd(f, "project.rename", ALICE, PROJ, "{\"name\":\"Apollo 5\"}");
  r = run(f, WT_OK);
  assert_int_equal(r.applied, 1);
  assert_true(out_has(&r, "\"seq\":4"));
  wk_batch_result_clear(&r);
  assert_int_equal(count(f, "SELECT seq FROM projects"), 4);
}

/* A batch stores the lower of its own first offset and the floor (the
 * first offset of an earlier batch whose outcomes were not yet confirmed
 * delivered) as batch_start: where a restart reads again from. */
static void test_floor_keeps_unconfirmed_batch_replayable(void **state) {
  fixture *f = *state;
  wk_batch_result r;
  int64_t first_a;
  seed_users(f);
  reset_msgs(f);
  first_a = f->offset;
  add_cmd(f, "project.create", ALICE, PROJ, "{\"name\":\"Apollo\"}");
  r = run(f, WT_OK);
  wk_batch_result_clear(&r);
  assert_int_equal(count(f, "SELECT batch_start FROM consumer_offsets"),
                   first_a);
  /* A's outcomes not confirmed: B stores A's start */
  f->pos.floor[PART] = first_a;
  reset_msgs(f);
  add_cmd(f, "project.rename", ALICE, PROJ, "{\"name\":\"Apollo 2\"}");
  add_cmd(f, "project.rename", ALICE, PROJ, "{\"name\":\"Apollo 3\"}");
  r = run(f, WT_OK);
  wk_batch_result_clear(&r);
  assert_int_equal(count(f, "SELECT batch_start FROM consumer_offsets"),
                   first_a);
  assert_int_equal(count(f, "SELECT next_offset FROM consumer_offsets"),
                   f->offset);
  /* a restart: read again from batch_start, B's messages redelivered
   * with a new one; the batch re-publishes B's outcomes, so its stored
   * start is B's first message, not the first new one */
  {
    int64_t first_b = first_a + 1, next_before = f->offset;
    char *b1 = strdup(f->json[0]), *b2 = strdup(f->json[1]);
    f->pos.floor[PART] = -1;
    f->offset = first_b;
    reset_msgs(f);
    add_copy(f, b1, PROJ);
    add_copy(f, b2, PROJ);
    free(b1);
    free(b2);
    assert_int_equal(f->offset, next_before);
    add_cmd(f, "project.rename", ALICE, PROJ, "{\"name\":\"Apollo 3b\"}");
    r = run(f, WT_OK);
    assert_int_equal(r.duplicates, 2);
    assert_int_equal(r.applied, 1);
    wk_batch_result_clear(&r);
    assert_int_equal(count(f, "SELECT batch_start FROM consumer_offsets"),
                     first_b);
  }
  /* confirmed: C stores its own start */
  f->pos.floor[PART] = -1;
  reset_msgs(f);
  add_cmd(f, "project.rename", ALICE, PROJ, "{\"name\":\"Apollo 4\"}");
  r = run(f, WT_OK);
  wk_batch_result_clear(&r);
  assert_int_equal(count(f, "SELECT batch_start FROM consumer_offsets"),
                   f->offset - 1);
}

/* --- a redelivered command, then the commands that depend on it ---------
 *
 * The table of issue 11: a command X applied in an earlier batch is
 * delivered again (same bytes, a new offset: a producer's retry), and the
 * commands that depend on X's effect come in the same batch as the copy,
 * or in the next one, with the worker's caches warm or cold (a restarted
 * worker). The copy must change nothing and be answered with X's first
 * outcome, byte for byte; the dependents must be decided against the state
 * X left, and the rows must show it. */

typedef enum dup_kind {
  DUP_PROJECT_CREATE,
  DUP_PROJECT_RENAME,
  DUP_MEMBER_ADD,
  DUP_MEMBER_REMOVE,
  DUP_LOG_CREATE,
  DUP_LOG_UPDATE,
  DUP_LOG_DELETE,
  DUP_USER_CREATE,
  DUP_USER_DEACTIVATE,
} dup_kind;

typedef enum dep_kind {
  DEP_NONE,
  DEP_PROJECT_CREATE_BY_U, /* project Q by user U */
  DEP_PROJECT_RENAME,
  DEP_MEMBER_ADD_BOB,
  DEP_MEMBER_ADD_U,
  DEP_MEMBER_ADD_U_OWNER,
  DEP_MEMBER_REMOVE_U,
  DEP_LOG_CREATE_BY_ALICE, /* log L2 */
  DEP_LOG_CREATE_BY_BOB,   /* log L2 */
  DEP_LOG_CREATE_BY_U,     /* log L2 */
  DEP_LOG_UPDATE,          /* L by bob: "changed" */
  DEP_LOG_UPDATE_AT_V2,    /* the same, expected_version 2 */
  DEP_LOG_UPDATE_BY_ALICE, /* L, not hers */
  DEP_LOG_DELETE,          /* L by bob */
  DEP_USER_DEACTIVATE_U,
} dep_kind;

typedef struct dup_case {
  const char *name;
  dup_kind dup;
  dep_kind deps[2];
  const char *expect[2]; /* "event" or the rejection's code */
  /* one value that shows the dependents' effect; {P} {Q} {L} {L2} {U}
   * stand for the case's ids */
  const char *check, *want;
} dup_case;

#define LOGS_IN_P "SELECT count(*) FROM work_logs WHERE project_id = '{P}'"
#define MEMBERS_OF_P                                                           \
  "SELECT count(*) FROM project_members WHERE project_id = '{P}'"
#define LOG_L                                                                  \
  "SELECT coalesce(max(description || ':' || version), 'gone') "               \
  "FROM work_logs WHERE id = '{L}'"

static const dup_case dup_cases[] = {
    {"project.create+log.create",
     DUP_PROJECT_CREATE,
     {DEP_LOG_CREATE_BY_ALICE},
     {"event"},
     LOGS_IN_P,
     "1"},
    {"project.create+project.rename",
     DUP_PROJECT_CREATE,
     {DEP_PROJECT_RENAME},
     {"event"},
     "SELECT name FROM projects WHERE id = '{P}'",
     "Dependent"},
    {"project.create+member.add",
     DUP_PROJECT_CREATE,
     {DEP_MEMBER_ADD_BOB},
     {"event"},
     MEMBERS_OF_P,
     "2"},
    {"project.rename+project.rename",
     DUP_PROJECT_RENAME,
     {DEP_PROJECT_RENAME},
     {"event"},
     "SELECT name FROM projects WHERE id = '{P}'",
     "Dependent"},
    {"project.rename+log.create",
     DUP_PROJECT_RENAME,
     {DEP_LOG_CREATE_BY_BOB},
     {"event"},
     LOGS_IN_P,
     "1"},
    {"member.add+log.create",
     DUP_MEMBER_ADD,
     {DEP_LOG_CREATE_BY_U},
     {"event"},
     "SELECT count(*) FROM work_logs WHERE user_id = '{U}'",
     "1"},
    {"member.add+member.remove",
     DUP_MEMBER_ADD,
     {DEP_MEMBER_REMOVE_U},
     {"event"},
     MEMBERS_OF_P,
     "2"},
    {"member.add+member.add_owner",
     DUP_MEMBER_ADD,
     {DEP_MEMBER_ADD_U_OWNER},
     {"event"},
     "SELECT role FROM project_members WHERE project_id = '{P}' AND "
     "user_id = '{U}'",
     "owner"},
    {"member.remove+log.create",
     DUP_MEMBER_REMOVE,
     {DEP_LOG_CREATE_BY_U},
     {"not_found"},
     "SELECT count(*) FROM work_logs WHERE user_id = '{U}'",
     "0"},
    {"member.remove+member.add",
     DUP_MEMBER_REMOVE,
     {DEP_MEMBER_ADD_U},
     {"event"},
     MEMBERS_OF_P,
     "3"},
    {"log.create+log.update",
     DUP_LOG_CREATE,
     {DEP_LOG_UPDATE},
     {"event"},
     LOG_L,
     "changed:2"},
    {"log.create+log.delete",
     DUP_LOG_CREATE,
     {DEP_LOG_DELETE},
     {"event"},
     LOG_L,
     "gone"},
    {"log.create+log.update_not_hers",
     DUP_LOG_CREATE,
     {DEP_LOG_UPDATE_BY_ALICE},
     {"forbidden"},
     LOG_L,
     "original:1"},
    {"log.create+log.update+log.delete",
     DUP_LOG_CREATE,
     {DEP_LOG_UPDATE, DEP_LOG_DELETE},
     {"event", "event"},
     LOG_L,
     "gone"},
    {"log.update+log.update_at_v2",
     DUP_LOG_UPDATE,
     {DEP_LOG_UPDATE_AT_V2},
     {"event"},
     LOG_L,
     "changed:3"},
    {"log.update+log.delete",
     DUP_LOG_UPDATE,
     {DEP_LOG_DELETE},
     {"event"},
     LOG_L,
     "gone"},
    {"log.delete+log.update",
     DUP_LOG_DELETE,
     {DEP_LOG_UPDATE},
     {"not_found"},
     LOG_L,
     "gone"},
    {"log.delete+log.delete",
     DUP_LOG_DELETE,
     {DEP_LOG_DELETE},
     {"not_found"},
     LOG_L,
     "gone"},
    {"user.create+project.create",
     DUP_USER_CREATE,
     {DEP_PROJECT_CREATE_BY_U},
     {"event"},
     "SELECT count(*) FROM projects WHERE created_by = '{U}'",
     "1"},
    {"user.create+member.add",
     DUP_USER_CREATE,
     {DEP_MEMBER_ADD_U},
     {"event"},
     MEMBERS_OF_P,
     "3"},
    {"user.create+user.deactivate",
     DUP_USER_CREATE,
     {DEP_USER_DEACTIVATE_U},
     {"event"},
     "SELECT is_active::text FROM users WHERE id = '{U}'",
     "false"},
    {"user.deactivate+member.add",
     DUP_USER_DEACTIVATE,
     {DEP_MEMBER_ADD_U},
     {"not_found"},
     MEMBERS_OF_P,
     "2"},
    {"user.deactivate+project.create",
     DUP_USER_DEACTIVATE,
     {DEP_PROJECT_CREATE_BY_U},
     {"forbidden"},
     "SELECT count(*) FROM projects WHERE created_by = '{U}'",
     "0"},
};

enum { DUP_SAME_BATCH = 1, DUP_COLD = 2 }; /* a run's variant bits */

typedef struct dup_run {
  const dup_case *c;
  int variant;
  char name[96];
} dup_run;

typedef struct dup_ids {
  char p[WT_UUID_STR], q[WT_UUID_STR], l[WT_UUID_STR], l2[WT_UUID_STR],
      u[WT_UUID_STR], uname[16];
} dup_ids;

static fixture *dup_fixture; /* one database for the whole table */

static void add_user_create(fixture *f, const dup_ids *id) {
  add_cmd(f, "user.create", "system", id->u,
          "{\"user_id\":\"%s\",\"username\":\"%s\",\"display_name\":\"U\","
          "\"password_hash\":\"$y$j9T$x$y\"}",
          id->u, id->uname);
}

static void add_log_create(fixture *f, const char *project, const char *actor,
                           const char *log_id) {
  add_cmd(f, "log.create", actor, project,
          "{\"log_id\":\"%s\",\"started_at\":\"2026-11-27T08:00:00Z\","
          "\"ended_at\":\"2026-11-27T09:00:00Z\",\"description\":"
          "\"original\"}",
          log_id);
}

/* What the duplicate's original needs before it (a batch of its own). */
static void add_prelude(fixture *f, dup_kind k, const dup_ids *id) {
  if (k != DUP_PROJECT_CREATE) {
    add_cmd(f, "project.create", ALICE, id->p, "{\"name\":\"Base\"}");
    add_cmd(f, "member.add", ALICE, id->p,
            "{\"user_id\":\"%s\",\"role\":\"member\"}", BOB);
  }
  if (k == DUP_MEMBER_ADD || k == DUP_MEMBER_REMOVE || k == DUP_USER_DEACTIVATE)
    add_user_create(f, id);
  if (k == DUP_MEMBER_REMOVE)
    add_cmd(f, "member.add", ALICE, id->p,
            "{\"user_id\":\"%s\",\"role\":\"member\"}", id->u);
  if (k == DUP_LOG_UPDATE || k == DUP_LOG_DELETE)
    add_log_create(f, id->p, BOB, id->l);
}

/* The command that will be delivered twice; returns its routing key. */
static const char *add_original(fixture *f, dup_kind k, const dup_ids *id) {
  switch (k) {
  case DUP_PROJECT_CREATE:
    add_cmd(f, "project.create", ALICE, id->p, "{\"name\":\"Base\"}");
    return id->p;
  case DUP_PROJECT_RENAME:
    add_cmd(f, "project.rename", ALICE, id->p, "{\"name\":\"Renamed\"}");
    return id->p;
  case DUP_MEMBER_ADD:
    add_cmd(f, "member.add", ALICE, id->p,
            "{\"user_id\":\"%s\",\"role\":\"member\"}", id->u);
    return id->p;
  case DUP_MEMBER_REMOVE:
    add_cmd(f, "member.remove", ALICE, id->p, "{\"user_id\":\"%s\"}", id->u);
    return id->p;
  case DUP_LOG_CREATE: add_log_create(f, id->p, BOB, id->l); return id->p;
  case DUP_LOG_UPDATE:
    add_cmd(f, "log.update", BOB, id->p,
            "{\"log_id\":\"%s\",\"description\":\"updated\"}", id->l);
    return id->p;
  case DUP_LOG_DELETE:
    add_cmd(f, "log.delete", BOB, id->p, "{\"log_id\":\"%s\"}", id->l);
    return id->p;
  case DUP_USER_CREATE: add_user_create(f, id); return id->u;
  case DUP_USER_DEACTIVATE:
    add_cmd(f, "user.deactivate", "system", id->u, "{\"user_id\":\"%s\"}",
            id->u);
    return id->u;
  }
  return id->p;
}

/* Adds dependent k; returns its command id. */
static const char *add_dependent(fixture *f, dep_kind k, const dup_ids *id) {
  switch (k) {
  case DEP_NONE: break;
  case DEP_PROJECT_CREATE_BY_U:
    return add_cmd(f, "project.create", id->u, id->q, "{\"name\":\"Q\"}");
  case DEP_PROJECT_RENAME:
    return add_cmd(f, "project.rename", ALICE, id->p,
                   "{\"name\":\"Dependent\"}");
  case DEP_MEMBER_ADD_BOB:
    return add_cmd(f, "member.add", ALICE, id->p,
                   "{\"user_id\":\"%s\",\"role\":\"member\"}", BOB);
  case DEP_MEMBER_ADD_U:
    return add_cmd(f, "member.add", ALICE, id->p,
                   "{\"user_id\":\"%s\",\"role\":\"member\"}", id->u);
  case DEP_MEMBER_ADD_U_OWNER:
    return add_cmd(f, "member.add", ALICE, id->p,
                   "{\"user_id\":\"%s\",\"role\":\"owner\"}", id->u);
  case DEP_MEMBER_REMOVE_U:
    return add_cmd(f, "member.remove", ALICE, id->p, "{\"user_id\":\"%s\"}",
                   id->u);
  case DEP_LOG_CREATE_BY_ALICE:
  case DEP_LOG_CREATE_BY_BOB:
  case DEP_LOG_CREATE_BY_U: {
    const char *actor = k == DEP_LOG_CREATE_BY_ALICE ? ALICE
                        : k == DEP_LOG_CREATE_BY_BOB ? BOB
                                                     : id->u;
    return add_cmd(f, "log.create", actor, id->p,
                   "{\"log_id\":\"%s\",\"started_at\":\"2026-11-27T10:00:00Z\","
                   "\"ended_at\":null,\"description\":\"dependent\"}",
                   id->l2);
  }
  case DEP_LOG_UPDATE:
    return add_cmd(f, "log.update", BOB, id->p,
                   "{\"log_id\":\"%s\",\"description\":\"changed\"}", id->l);
  case DEP_LOG_UPDATE_AT_V2:
    return add_cmd(f, "log.update", BOB, id->p,
                   "{\"log_id\":\"%s\",\"description\":\"changed\","
                   "\"expected_version\":2}",
                   id->l);
  case DEP_LOG_UPDATE_BY_ALICE:
    return add_cmd(f, "log.update", ALICE, id->p,
                   "{\"log_id\":\"%s\",\"description\":\"hers now\"}", id->l);
  case DEP_LOG_DELETE:
    return add_cmd(f, "log.delete", BOB, id->p, "{\"log_id\":\"%s\"}", id->l);
  case DEP_USER_DEACTIVATE_U:
    return add_cmd(f, "user.deactivate", "system", id->u,
                   "{\"user_id\":\"%s\"}", id->u);
  }
  return NULL;
}

/* sql with the case's ids in place of {P} {Q} {L} {L2} {U} */
static void dup_sql(const char *sql, const dup_ids *id, char *out,
                    size_t size) {
  static const struct {
    const char *tok;
    size_t off;
  } subst[] = {{"{P}", offsetof(dup_ids, p)},
               {"{Q}", offsetof(dup_ids, q)},
               {"{L}", offsetof(dup_ids, l)},
               {"{L2}", offsetof(dup_ids, l2)},
               {"{U}", offsetof(dup_ids, u)}};
  size_t n = 0;
  while (*sql && n + 1 < size) {
    bool done = false;
    for (size_t i = 0; i < sizeof(subst) / sizeof(subst[0]) && !done; i++) {
      size_t len = strlen(subst[i].tok);
      if (strncmp(sql, subst[i].tok, len) == 0) {
        n += (size_t)snprintf(out + n, size - n, "%s",
                              (const char *)id + subst[i].off);
        sql += len;
        done = true;
      }
    }
    if (!done)
      out[n++] = *sql++;
  }
  out[n < size ? n : size - 1] = '\0';
}

static void text_of(fixture *f, const char *sql, char *out, size_t size) {
  PGresult *r = NULL;
  char err[512];
  char name[32];
  stmt_name(sql, name, sizeof(name));
  if (wt_db_exec(f->db, name, sql, 0, NULL, &r, err, sizeof(err)) != WT_OK)
    fail_msg("%s: %s", sql, err);
  snprintf(out, size, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "(none)");
  PQclear(r);
}

static const char *outcome_of(const wk_batch_result *r, const char *cid) {
  for (size_t i = 0; i < r->nouts; i++)
    if (strstr(r->outs[i].value, cid))
      return r->outs[i].value;
  return NULL;
}

static void expect_outcome(const dup_run *run_, const wk_batch_result *r,
                           const char *cid, const char *expect) {
  const char *out = outcome_of(r, cid);
  char want[64];
  if (strcmp(expect, "event") == 0)
    snprintf(want, sizeof(want), "\"kind\":\"event\"");
  else
    snprintf(want, sizeof(want), "\"code\":\"%s\"", expect);
  if (!out || !strstr(out, want))
    fail_msg("%s: dependent %s: want %s, got %s", run_->name, cid, want,
             out ? out : "no outcome");
}

static void test_duplicate_then_dependents(void **state) {
  const dup_run *dr = *state;
  const dup_case *c = dr->c;
  fixture *f = dup_fixture;
  wk_batch_result r;
  dup_ids id;
  char *orig_json, *orig_outcome, sql[1024], got[256], cid[WT_UUID_STR];
  char dep_ids[2][WT_UUID_STR] = {"", ""};
  const char *key;

  wt_uuid_generate(id.p);
  wt_uuid_generate(id.q);
  wt_uuid_generate(id.l);
  wt_uuid_generate(id.l2);
  wt_uuid_generate(id.u);
  snprintf(id.uname, sizeof(id.uname), "u%.8s", id.u);
  new_worker(f); /* nothing cached from the case before */
  reset_msgs(f);
  add_prelude(f, c->dup, &id);
  if (f->n) {
    r = run(f, WT_OK);
    if (r.rejected)
      fail_msg("%s: prelude rejected: %s", dr->name, r.outs[0].value);
    wk_batch_result_clear(&r);
  }
  /* the original, applied once */
  reset_msgs(f);
  key = add_original(f, c->dup, &id);
  snprintf(cid, sizeof(cid), "%.36s", strstr(f->json[0], "command_id") + 13);
  r = run(f, WT_OK);
  assert_int_equal(r.applied, 1);
  orig_json = strdup(f->json[0]);
  orig_outcome = strdup(r.outs[0].value);
  wk_batch_result_clear(&r);
  if (dr->variant & DUP_COLD)
    new_worker(f);
  /* the copy, and the dependents with it or after it */
  reset_msgs(f);
  add_copy(f, orig_json, key);
  if (!(dr->variant & DUP_SAME_BATCH)) {
    r = run(f, WT_OK);
    assert_int_equal(r.duplicates, 1);
    assert_int_equal(r.applied + r.rejected, 0);
    assert_string_equal(r.outs[0].value, orig_outcome);
    wk_batch_result_clear(&r);
    reset_msgs(f);
  }
  for (int i = 0; i < 2 && c->deps[i] != DEP_NONE; i++)
    snprintf(dep_ids[i], sizeof(dep_ids[i]), "%s",
             add_dependent(f, c->deps[i], &id));
  r = run(f, WT_OK);
  if (dr->variant & DUP_SAME_BATCH) {
    assert_int_equal(r.duplicates, 1);
    assert_string_equal(outcome_of(&r, cid), orig_outcome);
  } else {
    assert_int_equal(r.duplicates, 0);
  }
  for (int i = 0; i < 2 && dep_ids[i][0]; i++)
    expect_outcome(dr, &r, dep_ids[i], c->expect[i]);
  wk_batch_result_clear(&r);

  /* the rows: the dependents' effect, the original once, seq gap-free */
  dup_sql(c->check, &id, sql, sizeof(sql));
  text_of(f, sql, got, sizeof(got));
  if (strcmp(got, c->want) != 0)
    fail_msg("%s: %s gave %s, want %s", dr->name, sql, got, c->want);
  snprintf(sql, sizeof(sql),
           "SELECT (SELECT count(*) FROM events WHERE command_id = '%s') + "
           "(SELECT count(*) FROM rejections WHERE command_id = '%s')",
           cid, cid);
  assert_int_equal(count(f, sql), 1);
  snprintf(sql, sizeof(sql),
           "SELECT count(*) - coalesce(max(seq), 0) FROM events WHERE "
           "project_id = '%s'",
           id.p);
  assert_int_equal(count(f, sql), 0);
  free(orig_json);
  free(orig_outcome);
}

/* Users, the project, and a log of bob's (id into log_id), applied. */
static void seed_with_bobs_log(fixture *f, char log_id[WT_UUID_STR]) {
  wk_batch_result r;
  seed_users(f);
  seed_project(f);
  wt_uuid_generate(log_id);
  reset_msgs(f);
  add_timer(f, BOB, log_id, "2026-11-27T08:00:00Z", "bob's");
  r = run(f, WT_OK);
  wk_batch_result_clear(&r);
}

/* A create rejected for a reason of its own (its actor may not) of an id
 * that collecting took as new without asking: the commands after it that
 * name the id must still see the real state (found by the model test). */
static void test_rejected_create_hides_nothing(void **state) {
  fixture *f = *state;
  wk_batch_result r;
  char log_id[WT_UUID_STR];
  const char *ghost = "00000000-0000-4000-8000-00000000dead";
  const char *rename_id, *update_id, *deactivate_id;
  seed_with_bobs_log(f, log_id);
  new_worker(f); /* cold: nothing known, creates assumed new */
  reset_msgs(f);
  add_cmd(f, "project.create", ghost, PROJ, "{\"name\":\"Mine\"}");
  rename_id = add_cmd(f, "project.rename", ALICE, PROJ, "{\"name\":\"Still\"}");
  add_timer(f, EVE, log_id, "2026-11-27T09:00:00Z", "not a member");
  update_id =
      add_cmd(f, "log.update", BOB, PROJ,
              "{\"log_id\":\"%s\",\"description\":\"still bob's\"}", log_id);
  add_cmd(f, "user.create", ALICE, EVE,
          "{\"user_id\":\"%s\",\"username\":\"eve2\",\"display_name\":"
          "\"E\",\"password_hash\":\"$y$j9T$x$y\"}",
          EVE);
  deactivate_id =
      add_cmd(f, "user.deactivate", "system", EVE, "{\"user_id\":\"%s\"}", EVE);
  r = run(f, WT_OK);
  assert_int_equal(r.rejected, 3);
  assert_int_equal(r.applied, 3);
  assert_true(strstr(outcome_of(&r, rename_id), "\"kind\":\"event\""));
  assert_true(strstr(outcome_of(&r, update_id), "\"kind\":\"event\""));
  assert_true(strstr(outcome_of(&r, deactivate_id), "\"kind\":\"event\""));
  wk_batch_result_clear(&r);
  assert_int_equal(count(f, "SELECT count(*) FROM projects WHERE name = "
                            "'Still'"),
                   1);
  assert_int_equal(count(f, "SELECT count(*) FROM work_logs WHERE "
                            "description = 'still bob''s'"),
                   1);
  assert_int_equal(count(f, "SELECT count(*) FROM users WHERE NOT is_active"),
                   1);
}

/* --- signatures ------------------------------------------------------------
 */

#define KEY_ADMIN                                                              \
  "1111111111111111111111111111111111111111111111111111111111111111"
#define KEY_GW                                                                 \
  "2222222222222222222222222222222222222222222222222222222222222222"

/* The worker's keys file of these tests (WT_PRODUCER_KEYS_FILE). */
static const char SIGN_KEYS[] = "t-admin system,users " KEY_ADMIN "\n"
                                "t-gateway users " KEY_GW "\n";

/* What the worker's consume does with message i's headers: signed as
 * producer with hexkey over msgkey (NULL: the message's own key) when
 * producer is set, else no headers; checked against keys (NULL: the worker
 * has no keys file). */
static void check_signed(fixture *f, size_t i, const wt_sign_keys *keys,
                         const char *producer, const char *hexkey,
                         const char *msgkey) {
  wk_msg *m = &f->msgs[i];
  rd_kafka_headers_t *h = NULL;
  if (producer) {
    wt_sign_key *k = NULL;
    char sig[WT_SIGN_SIGNATURE_STR], err[256];
    if (wt_sign_key_parse(producer, hexkey, strlen(hexkey), &k, err,
                          sizeof(err)) != WT_OK)
      fail_msg("key: %s", err);
    assert_int_equal(wt_sign_message(k, msgkey ? msgkey : m->key,
                                     msgkey ? strlen(msgkey) : m->key_len,
                                     m->value, m->len, sig),
                     WT_OK);
    wt_sign_key_free(k);
    h = rd_kafka_headers_new(2);
    rd_kafka_header_add(h, WT_SIGN_HEADER_PRODUCER, -1, producer, -1);
    rd_kafka_header_add(h, WT_SIGN_HEADER_SIGNATURE, -1, sig, -1);
  }
  wk_msg_check_signer(m, keys, h);
  if (h)
    rd_kafka_headers_destroy(h);
}

/* Issue 12, item 1: a command is decided only when its signer covers its
 * actor ("system": the scope system; a user: users); without a keys file
 * user commands pass as before and system commands never. Each refusal is
 * a `forbidden` rejection saying why, recorded and published like any, and
 * a redelivery answers with the same outcome, applying nothing. */
static void test_signatures_decide_who_may_issue(void **state) {
  /* signed as producer with hexkey (NULL: unsigned), over another message
   * key when other_stream; the worker with SIGN_KEYS when keys, else with
   * no keys file; message: the rejection's (NULL: applied) */
  static const struct {
    const char *name, *producer, *hexkey, *message;
    wt_sign_refusal reason;
    bool system; /* a user.create by "system", else a log.create by bob */
    bool keys, other_stream;
  } rows[] = {
      {"system, no keys file", "t-admin", KEY_ADMIN,
       "system commands need a signed producer: set WT_PRODUCER_KEYS_FILE",
       WT_SIGN_REFUSED_NO_KEYS, true, false, false},
      {"system, unsigned", NULL, NULL, "unsigned command",
       WT_SIGN_REFUSED_UNSIGNED, true, true, false},
      {"system, by a users-only producer", "t-gateway", KEY_GW,
       "producer t-gateway may not issue system commands",
       WT_SIGN_REFUSED_SCOPE, true, true, false},
      {"system, by a system producer", "t-admin", KEY_ADMIN, NULL,
       WT_SIGN_ALLOWED, true, true, false},
      {"system, by an unknown producer", "mallory", KEY_ADMIN,
       "command signed by an unknown producer",
       WT_SIGN_REFUSED_UNKNOWN_PRODUCER, true, true, false},
      {"system, the admin's name with another key", "t-admin", KEY_GW,
       "bad signature for producer t-admin", WT_SIGN_REFUSED_BAD_SIGNATURE,
       true, true, false},
      {"user, no keys file, unsigned", NULL, NULL, NULL, WT_SIGN_ALLOWED, false,
       false, false},
      {"user, unsigned", NULL, NULL, "unsigned command",
       WT_SIGN_REFUSED_UNSIGNED, false, true, false},
      {"user, bad signature", "t-gateway", KEY_ADMIN,
       "bad signature for producer t-gateway", WT_SIGN_REFUSED_BAD_SIGNATURE,
       false, true, false},
      {"user, signed for another stream", "t-gateway", KEY_GW,
       "bad signature for producer t-gateway", WT_SIGN_REFUSED_BAD_SIGNATURE,
       false, true, true},
      {"user, by a users producer", "t-gateway", KEY_GW, NULL, WT_SIGN_ALLOWED,
       false, true, false},
  };
  enum { NROWS = sizeof(rows) / sizeof(rows[0]) };
  fixture *f = *state;
  wt_sign_keys *keys = NULL;
  char err[256], *first[NROWS], cids[NROWS][WT_UUID_STR];
  char ids[NROWS][WT_UUID_STR];
  size_t forbidden = 0, applied_system = 0, applied_user = 0;
  size_t unverified[WT_SIGN_REFUSAL__COUNT] = {0};
  wk_positions before;
  wk_batch_result r;

  assert_int_equal(
      wt_sign_keys_parse(SIGN_KEYS, strlen(SIGN_KEYS), &keys, err, sizeof(err)),
      WT_OK);
  seed_users(f);
  seed_project(f);
  reset_msgs(f);
  for (size_t i = 0; i < NROWS; i++) {
    const char *cid;
    wt_uuid_generate(ids[i]);
    if (rows[i].system)
      cid = add_cmd(f, "user.create", "system", ids[i],
                    "{\"user_id\":\"%s\",\"username\":\"signed%zu\","
                    "\"display_name\":\"S\",\"password_hash\":\"$y$j9T$x$y\"}",
                    ids[i], i);
    else
      cid = add_timer(f, BOB, ids[i], "2026-11-27T08:00:00Z", "signed");
    memcpy(cids[i], cid, WT_UUID_STR);
    check_signed(f, i, rows[i].keys ? keys : NULL, rows[i].producer,
                 rows[i].hexkey, rows[i].other_stream ? ALICE : NULL);
    if (rows[i].message) {
      forbidden++;
      unverified[rows[i].reason]++;
    } else if (rows[i].system) {
      applied_system++;
    } else {
      applied_user++;
    }
  }
  before = f->pos;
  r = run(f, WT_OK);
  for (size_t i = 0; i < NROWS; i++) {
    const char *out = outcome_of(&r, cids[i]);
    if (!out)
      fail_msg("%s: no outcome", rows[i].name);
    if (rows[i].message ? !strstr(out, "\"code\":\"forbidden\"") ||
                              !strstr(out, rows[i].message)
                        : !strstr(out, "\"kind\":\"event\""))
      fail_msg("%s: %s", rows[i].name, out);
    first[i] = strdup(out);
  }
  assert_int_equal(r.rejected, forbidden);
  assert_int_equal(r.applied, applied_system + applied_user);
  for (int u = 0; u < WT_SIGN_REFUSAL__COUNT; u++)
    if (r.unverified[u] != unverified[u])
      fail_msg("unverified %s: %zu, want %zu",
               wt_sign_refusal_name((wt_sign_refusal)u), r.unverified[u],
               unverified[u]);
  wk_batch_result_clear(&r);
  assert_int_equal(count(f, "SELECT count(*) FROM users"), 3 + applied_system);
  assert_int_equal(count(f, "SELECT count(*) FROM work_logs"), applied_user);
  assert_int_equal(count(f, "SELECT count(*) FROM rejections WHERE code = "
                            "'forbidden'"),
                   forbidden);

  /* read again after a crash, headers and all: the same outcomes, byte for
   * byte, nothing applied or recorded twice */
  f->pos = before;
  f->pos.next[PART] = f->msgs[f->n - 1].offset + 1; /* as stored */
  r = run(f, WT_OK);
  assert_int_equal(r.applied, 0);
  assert_int_equal(r.rejected, 0);
  assert_int_equal(r.duplicates, NROWS);
  for (size_t i = 0; i < NROWS; i++)
    if (strcmp(outcome_of(&r, cids[i]), first[i]) != 0)
      fail_msg("%s redelivered: %s", rows[i].name, outcome_of(&r, cids[i]));
  wk_batch_result_clear(&r);
  assert_int_equal(count(f, "SELECT count(*) FROM users"), 3 + applied_system);
  assert_int_equal(count(f, "SELECT count(*) FROM work_logs"), applied_user);
  assert_int_equal(count(f, "SELECT count(*) FROM rejections"), forbidden);

  /* the forbidden system command once more at a new offset, now signed by
   * the system producer: a command is decided once, its first outcome
   * stands */
  {
    char json[4096];
    snprintf(json, sizeof(json), "%s", f->json[1]);
    reset_msgs(f);
    add_copy(f, json, ids[1]);
    check_signed(f, 0, keys, "t-admin", KEY_ADMIN, NULL);
    r = run(f, WT_OK);
    assert_int_equal(r.applied, 0);
    assert_int_equal(r.duplicates, 1);
    assert_string_equal(r.outs[0].value, first[1]);
    wk_batch_result_clear(&r);
  }
  assert_int_equal(count(f, "SELECT count(*) FROM users"), 3 + applied_system);
  for (size_t i = 0; i < NROWS; i++)
    free(first[i]);
  wt_sign_keys_free(keys);
}

/* A forged user.create hides nothing: a signed command after it in the
 * same batch that names its id finds no such user. */
static void test_forbidden_create_hides_nothing(void **state) {
  fixture *f = *state;
  const char *ghost = "00000000-0000-4000-8000-00000000dead";
  const char *deactivate_id;
  wk_batch_result r;
  seed_users(f);
  new_worker(f); /* cold: the create's id is assumed new */
  reset_msgs(f);
  add_cmd(f, "user.create", "system", ghost,
          "{\"user_id\":\"%s\",\"username\":\"mallory\",\"display_name\":"
          "\"M\",\"password_hash\":\"$y$j9T$x$y\"}",
          ghost);
  f->msgs[0].signer = (wt_signer){WT_SIGN_UNSIGNED, 0, NULL};
  deactivate_id = add_cmd(f, "user.deactivate", "system", ghost,
                          "{\"user_id\":\"%s\"}", ghost);
  r = run(f, WT_OK);
  assert_int_equal(r.rejected, 2);
  assert_int_equal(r.unverified[WT_SIGN_REFUSED_UNSIGNED], 1);
  assert_non_null(strstr(outcome_of(&r, deactivate_id), "\"not_found\""));
  wk_batch_result_clear(&r);
  assert_int_equal(count(f, "SELECT count(*) FROM users WHERE username = "
                            "'mallory'"),
                   0);
}

/* A log deleted and created again with the same id in one batch, by
 * another author: the row is the new log, not the old one updated (its
 * author and created_at went unwritten before; found by the model test). */
static void test_log_deleted_and_created_again_in_one_batch(void **state) {
  fixture *f = *state;
  wk_batch_result r;
  char log_id[WT_UUID_STR], sql[256];
  seed_with_bobs_log(f, log_id);
  reset_msgs(f);
  add_cmd(f, "log.delete", BOB, PROJ, "{\"log_id\":\"%s\"}", log_id);
  add_timer(f, ALICE, log_id, "2026-11-27T10:00:00Z", "alice's");
  r = run(f, WT_OK);
  assert_int_equal(r.applied, 2);
  wk_batch_result_clear(&r);
  snprintf(sql, sizeof(sql),
           "SELECT count(*) FROM work_logs WHERE id = '%s' AND user_id = '%s' "
           "AND version = 1 AND description = 'alice''s'",
           log_id, ALICE);
  assert_int_equal(count(f, sql), 1);
}

/* A log.create of an existing id that the caches do not know, then a delete
 * of it, in one batch: nothing is written for a log created and deleted
 * within a batch, so no key would catch the create's assumption (found by
 * the model test). The create is a conflict; the delete removes the log. */
static void test_create_then_delete_of_an_unknown_existing_log(void **state) {
  fixture *f = *state;
  wk_batch_result r;
  char log_id[WT_UUID_STR], sql[256];
  const char *create_id;
  seed_with_bobs_log(f, log_id);
  new_worker(f);
  reset_msgs(f);
  create_id = add_timer(f, BOB, log_id, "2026-11-27T09:00:00Z", "again");
  add_cmd(f, "log.delete", BOB, PROJ, "{\"log_id\":\"%s\"}", log_id);
  r = run(f, WT_OK);
  assert_int_equal(r.applied, 1);
  assert_true(strstr(outcome_of(&r, create_id), "\"code\":\"conflict\""));
  wk_batch_result_clear(&r);
  snprintf(sql, sizeof(sql), "SELECT count(*) FROM work_logs WHERE id = '%s'",
           log_id);
  assert_int_equal(count(f, sql), 0);
}

static int dup_group_setup(void **state) {
  (void)state;
  if (setup((void **)&dup_fixture) != 0)
    return -1;
  seed_users(dup_fixture);
  return 0;
}

static int dup_group_teardown(void **state) {
  (void)state;
  return teardown((void **)&dup_fixture);
}

static int run_dup_table(void) {
  enum { NCASES = sizeof(dup_cases) / sizeof(dup_cases[0]) };
  static dup_run runs[NCASES * 4];
  static struct CMUnitTest tests[NCASES * 4];
  static const char *const variant_names[4] = {
      "next_batch/warm", "same_batch/warm", "next_batch/cold",
      "same_batch/cold"};
  size_t n = 0;
  for (size_t i = 0; i < NCASES; i++)
    for (int v = 0; v < 4; v++, n++) {
      runs[n].c = &dup_cases[i];
      runs[n].variant = v;
      snprintf(runs[n].name, sizeof(runs[n].name), "dup %s %s",
               dup_cases[i].name, variant_names[v]);
      tests[n] =
          (struct CMUnitTest){.name = runs[n].name,
                              .test_func = test_duplicate_then_dependents,
                              .initial_state = &runs[n]};
    }
  return _cmocka_run_group_tests("worker_batch_duplicates", tests, n,
                                 dup_group_setup, dup_group_teardown);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(
          test_floor_keeps_unconfirmed_batch_replayable, setup, teardown),
      cmocka_unit_test_setup_teardown(test_decided_ahead_while_writing, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_stale_project_seq_reloads, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_decided_ahead_is_void_when_the_write_fails, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cold_then_warm_round_trips, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_rules_both_outcomes_in_db, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_redelivery_and_duplicates_apply_once,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_existing_id_is_a_conflict_not_an_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_offset_guard_stops_a_second_worker,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_garbage_goes_to_the_dlq, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_every_rule_both_outcomes, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_rejected_create_hides_nothing, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_signatures_decide_who_may_issue,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_forbidden_create_hides_nothing,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_log_deleted_and_created_again_in_one_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_create_then_delete_of_an_unknown_existing_log, setup, teardown),
  };
  int failed = cmocka_run_group_tests_name("worker_batch", tests, NULL, NULL);
  return failed + run_dup_table();
}
