/* Unit tests of the worker's pure half of a batch (wk_decide): parsing,
 * classifying against the stored positions, what is loaded, the decisions
 * and the statements of the transaction they yield. No PostgreSQL: the
 * state is loaded from plain structs (wk_state_load_*). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wk_decide.h"

#define PART 3
#define NOW 1795000000000000LL /* 2026-11-18T...Z, microseconds */

static const char *const ALICE = "00000000-0000-4000-8000-00000000a11c";
static const char *const BOB = "00000000-0000-4000-8000-000000000b0b";
static const char *const EVE = "00000000-0000-4000-8000-000000000e0e";
static const char *const PROJ = "10000000-0000-4000-8000-000000000001";
static const wt_signer TRUSTED = {WT_SIGN_OK, WT_SCOPE_SYSTEM | WT_SCOPE_USERS,
                                  "t-trusted"};

typedef struct fixture {
  wt_config cfg;
  wk_state *st;
  wk_decide d;
  wk_positions pos;
  char json[16][1024];
  wk_msg msgs[16];
  size_t n;
  int64_t offset;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  wk_state_caps caps = {
      .users = 100, .projects = 100, .logs = 100, .batch_max = 16};
  assert_non_null(f);
  f->cfg.batch_max = 16;
  f->cfg.max_log_seconds = 86400;
  f->st = wk_state_new(&caps);
  assert_non_null(f->st);
  assert_true(wk_decide_init(&f->d, f->st, &f->cfg, "wt-worker", "t.cmds"));
  for (int p = 0; p < WK_MAX_PARTITIONS; p++) {
    f->pos.next[p] = -1;
    f->pos.floor[p] = -1;
  }
  f->offset = 10;
  f->pos.next[PART] = 10;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  wk_decide_free(&f->d);
  wk_state_destroy(f->st);
  free(f);
  return 0;
}

/* Adds a message at the next offset with command id
 * "20000000-0000-4000-8000-0000000000<nn>" (nn: the message's index). */
static void add(fixture *f, const char *type, const char *actor,
                const char *payload) {
  char *j = f->json[f->n];
  bool user_cmd = strncmp(type, "user.", 5) == 0;
  snprintf(j, sizeof(f->json[0]),
           "{\"v\":1,\"command_id\":\"20000000-0000-4000-8000-0000000000%02zu"
           "\",\"type\":\"%s\",\"actor_id\":\"%s\",\"%s\":\"%s\","
           "\"issued_at\":\"2026-11-27T10:00:00Z\",\"payload\":%s}",
           f->n, type, actor, user_cmd ? "user_id" : "project_id", PROJ,
           payload);
  f->msgs[f->n] = (wk_msg){.partition = PART,
                           .offset = f->offset++,
                           .key = PROJ,
                           .key_len = strlen(PROJ),
                           .value = j,
                           .len = strlen(j),
                           .signer = TRUSTED};
  f->n++;
}

static void add_raw(fixture *f, const char *bytes) {
  snprintf(f->json[f->n], sizeof(f->json[0]), "%s", bytes);
  f->msgs[f->n] = (wk_msg){.partition = PART,
                           .offset = f->offset++,
                           .value = f->json[f->n],
                           .len = strlen(bytes),
                           .signer = TRUSTED};
  f->n++;
}

static wk_user_row user(const char *id, const char *name) {
  wk_user_row u = {.s = {.active = true, .created_at = NOW - 1000}};
  snprintf(u.s.id, sizeof(u.s.id), "%s", id);
  snprintf(u.s.username, sizeof(u.s.username), "%s", name);
  snprintf(u.s.display_name, sizeof(u.s.display_name), "%s", name);
  return u;
}

/* The users every test has, loaded as the I/O half would. */
static void load_users(fixture *f) {
  wk_user_row rows[3] = {user(ALICE, "alice"), user(BOB, "bob"),
                         user(EVE, "eve")};
  wk_state_load_users(f->st, rows, 3);
}

static void plan_names(const wt_db_stmt *s, size_t ns, char *out, size_t size) {
  size_t len = 0;
  out[0] = '\0';
  for (size_t i = 0; i < ns; i++)
    len += (size_t)snprintf(out + len, size - len, "%s%s", i ? " " : "",
                            s[i].name);
}

/* The decisions of a small batch, and the transaction it yields. */
static void test_small_batch(void **state) {
  fixture *f = *state;
  wt_db_stmt s[WK_WRITE_STMTS_MAX], load[WK_LOAD_LISTS + 2];
  int idx[WK_LOAD_LISTS + 2];
  char names[512], err[256];
  size_t ns;
  wk_batch_result res;

  add(f, "project.create", ALICE, "{\"name\":\"Apollo\"}");
  add(f, "member.add", ALICE,
      "{\"user_id\":\"00000000-0000-4000-8000-000000000b0b\","
      "\"role\":\"member\"}");
  add_raw(f, "not json");
  memcpy(f->json[3], f->json[0], sizeof(f->json[0])); /* a redelivered copy */
  f->msgs[3] = f->msgs[0];
  f->msgs[3].value = f->json[3];
  f->msgs[3].offset = f->offset++;
  f->n++;
  add(f, "log.create", EVE,
      "{\"log_id\":\"30000000-0000-4000-8000-000000000001\",\"started_at\":"
      "\"2026-11-18T09:00:00Z\",\"ended_at\":null,\"description\":\"x\"}");
  add(f, "log.create", BOB,
      "{\"log_id\":\"30000000-0000-4000-8000-000000000002\",\"started_at\":"
      "\"2026-11-18T09:00:00Z\",\"ended_at\":null,\"description\":\"y\"}");

  wk_decide_parse(&f->d, f->msgs, f->n);
  wk_decide_classify(&f->d, f->msgs, f->n, &f->pos);
  assert_int_equal(f->d.state[0], WK_MSG_FRESH);
  assert_int_equal(f->d.state[2], WK_MSG_DEAD);
  assert_int_equal(f->d.state[3], WK_MSG_INDUP);
  assert_int_equal(f->d.dup_of[3], 0);

  /* cold caches: the users are asked for; the project is created in the
   * batch, so nobody asks for it */
  ns = wk_decide_load_plan(&f->d, f->msgs, f->n, false, false, load, idx);
  assert_int_equal(ns, 1);
  assert_string_equal(load[0].name, "load_users");
  assert_int_equal(idx[WK_LOAD_USER_IDS], 0);
  assert_int_equal(idx[WK_LOAD_PROJECT_IDS], -1);
  assert_int_equal(idx[WK_LOAD_LISTS], -1);
  assert_non_null(strstr(load[0].params[0], ALICE));
  load_users(f); /* as the I/O half does with load_users' rows */

  assert_true(wk_decide_run(&f->d, f->msgs, f->n, NOW));
  assert_false(f->d.reload_created);
  assert_int_equal(f->d.decided.applied, 3);
  assert_int_equal(f->d.decided.rejected, 1);
  assert_false(f->d.rejected[0]);
  assert_false(f->d.rejected[1]);
  assert_true(f->d.rejected[4]); /* eve is no member: not found */
  assert_false(f->d.rejected[5]);
  assert_int_equal(f->d.events.n, 3);
  assert_non_null(strstr(f->d.rejections.data, "\"code\":\"not_found\""));

  assert_int_equal(wk_decide_offsets(&f->d, f->msgs, f->n, &f->pos), 1);
  assert_string_equal(f->d.parts.data, "{3}");
  assert_string_equal(f->d.expected.data, "{10}");
  assert_string_equal(f->d.starts.data, "{10}");
  assert_string_equal(f->d.nexts.data, "{16}");

  assert_int_equal(wk_decide_write_plan(&f->d, f->n, s, &ns, err, sizeof(err)),
                   WT_OK);
  plan_names(s, ns, names, sizeof(names));
  /* the new project goes in with its last seq: no projects_update */
  assert_string_equal(names, "begin begin_batch projects_insert "
                             "members_upsert logs_insert events_insert "
                             "rejections_insert commit");
  assert_int_equal(s[1].nparams, WK_GUARD_PARAMS);
  assert_string_equal(s[1].params[0], "wt-worker");
  assert_string_equal(s[1].params[1], "t.cmds");
  assert_int_equal(f->d.fresh_ids.n, 4);
  assert_int_equal(f->d.rejected_ids.n, 1);

  /* committed: the positions move, the outcomes come in message order */
  wk_state_commit(f->st);
  wk_state_settle(f->st);
  wk_batch_result_init(&res);
  wk_decide_outcomes(&f->d, f->msgs, f->n, &f->pos, &res);
  assert_int_equal(f->pos.next[PART], 16);
  assert_int_equal(res.commands, 6);
  assert_int_equal(res.nouts, 6);
  assert_int_equal(res.dead, 1);
  assert_int_equal(res.duplicates, 1);
  assert_int_equal(res.outs[2].topic, WK_OUT_DLQ);
  assert_non_null(strstr(res.outs[2].value, "\"kind\":\"dead_letter\""));
  assert_string_equal(res.outs[3].value, res.outs[0].value);
  assert_ptr_not_equal(res.outs[3].value, res.outs[0].value);
  assert_string_equal(res.outs[0].key, PROJ);
  assert_non_null(strstr(res.outs[0].value, "\"project.created\""));
  assert_non_null(strstr(res.outs[4].value, "\"not_found\""));
  assert_non_null(strstr(res.outs[5].value, "\"log.created\""));
  wk_batch_result_clear(&res);
}

/* Below the stored position: decided before, the first outcome looked up
 * in the load round trip; one not found is decided as new. */
static void test_redelivered(void **state) {
  fixture *f = *state;
  wt_db_stmt load[WK_LOAD_LISTS + 2];
  int idx[WK_LOAD_LISTS + 2];
  size_t ns;
  char *found = strdup("{\"kind\":\"rejected\"}");
  load_users(f);
  add(f, "project.create", ALICE, "{\"name\":\"A\"}");
  add(f, "project.rename", ALICE, "{\"name\":\"B\"}");
  add(f, "project.rename", ALICE, "{\"name\":\"C\"}");
  f->pos.next[PART] = 12;
  wk_decide_parse(&f->d, f->msgs, f->n);
  wk_decide_classify(&f->d, f->msgs, f->n, &f->pos);
  assert_int_equal(f->d.state[0], WK_MSG_REDELIVERED);
  assert_int_equal(f->d.state[1], WK_MSG_REDELIVERED);
  assert_int_equal(f->d.state[2], WK_MSG_FRESH);
  ns = wk_decide_load_plan(&f->d, f->msgs, f->n, false, false, load, idx);
  assert_int_equal(idx[WK_LOAD_LISTS] + 1, idx[WK_LOAD_LISTS + 1]);
  assert_string_equal(load[idx[WK_LOAD_LISTS]].name, "dup_events");
  assert_string_equal(load[ns - 1].name, "dup_rejections");
  assert_string_equal(f->d.lookup_ids.data,
                      "{20000000-0000-4000-8000-000000000000,"
                      "20000000-0000-4000-8000-000000000001}");
  /* the project is unsure (its create may have been decided): asked for */
  assert_true(idx[WK_LOAD_PROJECT_IDS] >= 0);
  wk_decide_set_found(&f->d, 0, found);
  wk_decide_lookup_done(&f->d, f->n);
  assert_int_equal(f->d.state[0], WK_MSG_DECIDED);
  assert_int_equal(f->d.state[1], WK_MSG_FRESH);
  /* only the fresh part of the batch moves the position */
  assert_int_equal(wk_decide_offsets(&f->d, f->msgs, f->n, &f->pos), 1);
  assert_string_equal(f->d.starts.data, "{10}");
  assert_string_equal(f->d.nexts.data, "{13}");
}

/* A project loaded from a plain struct: its members decide who may log. */
static void test_loaded_project(void **state) {
  fixture *f = *state;
  wt_db_stmt load[WK_LOAD_LISTS + 2];
  int idx[WK_LOAD_LISTS + 2];
  wt_member_state members[1] = {{.role = WT_ROLE_OWNER, .added_at = NOW}};
  wt_project_state proj = {.created_at = NOW, .seq = 7, .nmembers = 1};
  snprintf(members[0].user_id, sizeof(members[0].user_id), "%s", ALICE);
  snprintf(proj.id, sizeof(proj.id), "%s", PROJ);
  snprintf(proj.name, sizeof(proj.name), "Apollo");
  snprintf(proj.created_by, sizeof(proj.created_by), "%s", ALICE);
  proj.members = members;
  load_users(f);
  add(f, "log.create", ALICE,
      "{\"log_id\":\"30000000-0000-4000-8000-000000000003\",\"started_at\":"
      "\"2026-11-18T09:00:00Z\",\"ended_at\":null,\"description\":\"a\"}");
  add(f, "log.create", BOB,
      "{\"log_id\":\"30000000-0000-4000-8000-000000000004\",\"started_at\":"
      "\"2026-11-18T09:00:00Z\",\"ended_at\":null,\"description\":\"b\"}");
  wk_decide_parse(&f->d, f->msgs, f->n);
  wk_decide_classify(&f->d, f->msgs, f->n, &f->pos);
  (void)wk_decide_load_plan(&f->d, f->msgs, f->n, false, false, load, idx);
  assert_true(idx[WK_LOAD_PROJECT_IDS] >= 0);
  assert_string_equal(load[idx[WK_LOAD_PROJECT_IDS]].params[0],
                      "{10000000-0000-4000-8000-000000000001}");
  wk_state_load_projects(f->st, &proj, 1, &f->d.need);
  assert_true(wk_decide_run(&f->d, f->msgs, f->n, NOW));
  assert_false(f->d.rejected[0]);
  assert_true(f->d.rejected[1]);
  /* the project's next event: seq 8 */
  assert_non_null(strstr(f->d.out_json[0], "\"seq\":8"));
  wk_state_discard(f->st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_small_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_redelivered, setup, teardown),
      cmocka_unit_test_setup_teardown(test_loaded_project, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
