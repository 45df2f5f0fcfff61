/* gw_events' pure parts: parsing outcomes (applied events of each kind,
 * rejections, what is refused), events rebuilt from table rows, the push
 * frame; and gw_page's log page and keyset cursor. */
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <libpq-fe.h>
#include <libwebsockets.h>

#include "gw_events.h"
#include "gw_page.h"
#include "wt_buf.h"
#include "wt_jw.h"

#define PID "6f1c2f3e-1b2a-4c3d-8e9f-0a1b2c3d4e5f"
#define CID "0d9c8b7a-6f5e-4d3c-9b2a-1f0e9d8c7b6a"
#define UID "11111111-2222-4333-8444-555555555555"
#define LOG_DATA                                                               \
  "{\"id\":\"22222222-3333-4444-8555-666666666666\",\"project_id\":\"" PID     \
  "\",\"user_id\":\"" UID "\",\"description\":\"d\\u00e9sign \\\"q\\\"\","     \
  "\"version\":1}"
#define APPLIED                                                                \
  "{\"v\":1,\"kind\":\"event\",\"type\":\"log.created\",\"project_id\":\"" PID \
  "\",\"seq\":7,\"command_id\":\"" CID "\",\"actor_id\":\"" UID "\","          \
  "\"at\":\"2026-11-27T08:00:00.000000Z\",\"data\":" LOG_DATA "}"

static gw_event *parse_ok(const char *json) {
  char err[128] = "";
  gw_event *e = gw_event_parse(json, strlen(json), err, sizeof(err));
  if (!e)
    fail_msg("refused (%s): %s", err, json);
  return e;
}

static void parse_bad(const char *json) {
  char err[128] = "";
  gw_event *e = gw_event_parse(json, strlen(json), err, sizeof(err));
  if (e) {
    gw_event_free(e);
    fail_msg("accepted: %s", json);
  }
  assert_true(err[0] != '\0'); /* a reason is given */
}

static const char *jstr(json_object *o, const char *key) {
  json_object *v;
  return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v)
                                               : NULL;
}

static void test_parse_applied(void **state) {
  gw_event *e = parse_ok(APPLIED);
  json_object *d;
  (void)state;
  assert_true(e->applied);
  assert_string_equal(e->type, "log.created");
  assert_string_equal(e->project_id, PID);
  assert_string_equal(e->command_id, CID);
  assert_string_equal(e->actor_id, UID);
  assert_string_equal(e->at, "2026-11-27T08:00:00.000000Z");
  assert_int_equal(e->seq, 7);
  assert_string_equal(e->raw, APPLIED); /* as published, byte for byte */
  d = json_tokener_parse(e->data);
  assert_non_null(d);
  assert_string_equal(jstr(d, "description"), "d\xc3\xa9sign \"q\"");
  assert_string_equal(jstr(d, "project_id"), PID); /* no "\/" escapes */
  assert_null(strstr(e->data, "\\/"));
  json_object_put(d);
  assert_null(e->next);
  gw_event_free(e);
  gw_event_free(NULL);
  gw_event_free_list(NULL);
}

static void test_parse_member_and_user(void **state) {
  gw_event *e;
  (void)state;
  e = parse_ok("{\"kind\":\"event\",\"type\":\"member.added\",\"project_id\":"
               "\"" PID "\",\"seq\":2,\"command_id\":\"" CID "\","
               "\"actor_id\":\"" UID "\",\"data\":{\"user_id\":\"" UID "\","
               "\"role\":\"owner\"}}");
  assert_string_equal(e->user_id, UID);
  assert_int_equal(e->role, WT_ROLE_OWNER);
  gw_event_free(e);
  e = parse_ok("{\"kind\":\"event\",\"type\":\"member.removed\",\"project_id\":"
               "\"" PID "\",\"seq\":3,\"command_id\":\"" CID "\","
               "\"data\":{\"user_id\":\"" UID "\",\"role\":\"member\"}}");
  assert_int_equal(e->role, WT_ROLE_MEMBER);
  assert_string_equal(e->actor_id, ""); /* absent: left empty */
  gw_event_free(e);
  e = parse_ok("{\"kind\":\"event\",\"type\":\"user.tokens_revoked\","
               "\"user_id\":\"" UID "\",\"seq\":4,\"command_id\":\"" CID
               "\",\"actor_id\":\"system\",\"data\":{\"id\":\"" UID "\","
               "\"username\":\"bob\",\"display_name\":\"Bob B\","
               "\"is_active\":true,\"token_version\":3}}");
  assert_string_equal(e->user_id, UID);
  assert_string_equal(e->username, "bob");
  assert_string_equal(e->display_name, "Bob B");
  assert_true(e->is_active);
  assert_int_equal(e->token_version, 3);
  assert_string_equal(e->actor_id, "system");
  assert_string_equal(e->project_id, ""); /* a user's stream: no project */
  gw_event_free(e);
  /* the stream's user_id serves when data has no id */
  e = parse_ok("{\"kind\":\"event\",\"type\":\"user.deactivated\","
               "\"user_id\":\"" UID "\",\"seq\":5,\"command_id\":\"" CID
               "\",\"data\":{\"username\":\"bob\",\"is_active\":false}}");
  assert_string_equal(e->user_id, UID);
  assert_false(e->is_active);
  gw_event_free(e);
  e = parse_ok("{\"kind\":\"event\",\"type\":\"project.created\","
               "\"project_id\":\"" PID "\",\"seq\":1,\"command_id\":\"" CID
               "\",\"data\":{\"id\":\"" PID "\",\"created_by\":\"" UID "\"}}");
  assert_string_equal(e->created_by, UID);
  gw_event_free(e);
}

static void test_parse_rejected(void **state) {
  gw_event *e =
      parse_ok("{\"v\":1,\"kind\":\"rejected\",\"command_id\":\"" CID "\","
               "\"project_id\":\"" PID "\",\"actor_id\":\"" UID "\","
               "\"code\":\"forbidden\",\"message\":\"not your log\"}");
  (void)state;
  assert_false(e->applied);
  assert_string_equal(e->code, "forbidden");
  assert_string_equal(e->message, "not your log");
  assert_string_equal(e->project_id, PID);
  assert_null(e->data);
  assert_null(e->raw);
  gw_event_free(e);
  /* project_id is optional on a rejection */
  e = parse_ok("{\"kind\":\"rejected\",\"command_id\":\"" CID "\","
               "\"code\":\"invalid\",\"message\":\"m\"}");
  assert_string_equal(e->project_id, "");
  gw_event_free(e);
}

static void test_parse_refused(void **state) {
  (void)state;
  parse_bad("");
  parse_bad("not json");
  parse_bad("[1,2]");
  parse_bad("\"event\"");
  parse_bad("{\"command_id\":\"" CID "\"}");              /* no kind */
  parse_bad("{\"kind\":\"event\"}");                      /* no command_id */
  parse_bad("{\"kind\":\"other\",\"command_id\":\"x\"}"); /* unknown kind */
  parse_bad("{\"kind\":7,\"command_id\":\"x\"}");
  /* an event without type, seq or data object, or with seq < 1 */
  parse_bad("{\"kind\":\"event\",\"command_id\":\"x\",\"seq\":1,"
            "\"data\":{}}");
  parse_bad("{\"kind\":\"event\",\"command_id\":\"x\",\"type\":\"log.created\","
            "\"data\":{}}");
  parse_bad("{\"kind\":\"event\",\"command_id\":\"x\",\"type\":\"log.created\","
            "\"seq\":0,\"data\":{}}");
  parse_bad("{\"kind\":\"event\",\"command_id\":\"x\",\"type\":\"log.created\","
            "\"seq\":\"5\",\"data\":{}}");
  parse_bad("{\"kind\":\"event\",\"command_id\":\"x\",\"type\":\"log.created\","
            "\"seq\":5,\"data\":[]}");
  parse_bad("{\"kind\":\"event\",\"command_id\":\"x\",\"type\":\"log.created\","
            "\"seq\":5}");
  /* a command_id longer than a UUID */
  parse_bad("{\"kind\":\"rejected\",\"command_id\":\"" CID "0\"}");
  /* trailing bytes after the object: raw would not be JSON */
  parse_bad(APPLIED " junk");
  parse_bad(APPLIED "{}");
  /* cut short */
  {
    char cut[sizeof(APPLIED)];
    memcpy(cut, APPLIED, sizeof(APPLIED));
    cut[sizeof(APPLIED) - 3] = '\0';
    parse_bad(cut);
  }
}

static void test_frame(void **state) {
  gw_event *e = parse_ok(APPLIED);
  json_object *o, *d;
  wt_buf b;
  (void)state;
  wt_buf_init(&b, 1 << 20);
  gw_event_frame(&b, e);
  assert_true(wt_buf_ok(&b));
  wt_buf_putc(&b, '\0');
  o = json_tokener_parse(b.data);
  assert_non_null(o);
  assert_string_equal(jstr(o, "type"), "event");
  assert_string_equal(jstr(o, "event_type"), "log.created");
  assert_string_equal(jstr(o, "project_id"), PID);
  assert_string_equal(jstr(o, "command_id"), CID);
  assert_string_equal(jstr(o, "actor_id"), UID);
  assert_string_equal(jstr(o, "at"), "2026-11-27T08:00:00.000000Z");
  assert_int_equal(json_object_get_int64(json_object_object_get(o, "seq")), 7);
  assert_true(json_object_object_get_ex(o, "data", &d));
  assert_string_equal(jstr(d, "description"), "d\xc3\xa9sign \"q\"");
  json_object_put(o);
  wt_buf_free(&b);
  gw_event_free(e);
}

static void test_from_row(void **state) {
  gw_event *e, *p;
  json_object *o;
  wt_buf b;
  (void)state;
  /* 2026-11-27T08:00:00Z */
  e = gw_event_from_row(PID, 12, "log.updated", CID, UID,
                        INT64_C(1795766400000000), LOG_DATA);
  assert_non_null(e);
  assert_true(e->applied);
  assert_int_equal(e->seq, 12);
  assert_string_equal(e->type, "log.updated");
  assert_string_equal(e->at, "2026-11-27T08:00:00Z");
  /* raw is an outcome as the worker publishes it: it parses back */
  p = parse_ok(e->raw);
  assert_string_equal(p->type, "log.updated");
  assert_string_equal(p->project_id, PID);
  assert_string_equal(p->command_id, CID);
  assert_string_equal(p->actor_id, UID);
  assert_string_equal(p->at, e->at);
  assert_int_equal(p->seq, 12);
  assert_string_equal(p->data, e->data);
  gw_event_free(p);
  /* and its frame is the same as a parsed one's */
  wt_buf_init(&b, 1 << 20);
  gw_event_frame(&b, e);
  wt_buf_putc(&b, '\0');
  o = json_tokener_parse(b.data);
  assert_non_null(o);
  assert_string_equal(jstr(o, "event_type"), "log.updated");
  json_object_put(o);
  wt_buf_free(&b);
  gw_event_free(e);
  /* no actor: "system"; user.* data fills the user fields */
  e = gw_event_from_row(UID, 1, "user.created", CID, NULL, 0,
                        "{\"id\":\"" UID "\",\"username\":\"erin\","
                        "\"is_active\":true,\"token_version\":0}");
  assert_non_null(e);
  assert_string_equal(e->actor_id, "system");
  assert_string_equal(e->username, "erin");
  assert_true(e->is_active);
  /* raw as the worker publishes it: the user's stream as user_id */
  assert_non_null(strstr(e->raw, "\"user_id\":\"" UID "\""));
  assert_null(strstr(e->raw, "project_id"));
  assert_string_equal(e->project_id, "");
  gw_event_free(e);
  e = gw_event_from_row(UID, 1, "user.created", CID, "", 0, "{}");
  assert_non_null(e);
  assert_string_equal(e->actor_id, "system");
  assert_string_equal(e->user_id, UID); /* the stream, when data has no id */
  gw_event_free(e);
  /* data that is no JSON object */
  assert_null(gw_event_from_row(PID, 1, "log.created", CID, UID, 0, "nope"));
  assert_null(gw_event_from_row(PID, 1, "log.created", CID, UID, 0, "[1]"));
}

static void test_cursor_roundtrip(void **state) {
  static const int64_t times[] = {0,
                                  1,
                                  INT64_C(1795766400000000),
                                  -1,
                                  INT64_C(-62135596800000000),
                                  INT64_MAX,
                                  INT64_MIN};
  char cur[GW_CURSOR_MAX], id[WT_UUID_STR];
  int64_t us;
  (void)state;
  for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
    gw_cursor_encode(cur, sizeof(cur), times[i], UID);
    assert_true(cur[0] != '\0');
    assert_true(strlen(cur) < GW_CURSOR_MAX);
    us = 42;
    memset(id, 0, sizeof(id));
    assert_true(gw_cursor_decode(cur, &us, id));
    assert_true(us == times[i]);
    assert_string_equal(id, UID);
  }
  /* opaque: no raw time or id in it */
  gw_cursor_encode(cur, sizeof(cur), 5, UID);
  assert_null(strstr(cur, UID));
  /* too small an output: empty, not a cut cursor */
  gw_cursor_encode(cur, 10, 5, UID);
  assert_string_equal(cur, "");
}

static void test_cursor_refused(void **state) {
  char cur[GW_CURSOR_MAX], id[WT_UUID_STR], b64[GW_CURSOR_MAX * 2];
  char longer[300];
  int64_t us;
  static const char *const bad_raw[] = {
      ":" UID,                                    /* no time */
      "123",                                      /* no colon */
      "123:",                                     /* no id */
      "12x:" UID,                                 /* not a number */
      "123:not-a-uuid",                           /* not a uuid */
      "123:" UID "0",                             /* longer than one */
      "123:6F1C2F3E-1B2A-4C3D-8E9F-0A1B2C3D4E5F", /* not canonical */
  };
  (void)state;
  for (size_t i = 0; i < sizeof(bad_raw) / sizeof(bad_raw[0]); i++) {
    int n = lws_b64_encode_string(bad_raw[i], (int)strlen(bad_raw[i]), b64,
                                  (int)sizeof(b64));
    assert_true(n > 0);
    if (gw_cursor_decode(b64, &us, id))
      fail_msg("accepted a cursor of \"%s\"", bad_raw[i]);
  }
  assert_false(gw_cursor_decode("", &us, id));
  assert_false(gw_cursor_decode("!!!!", &us, id));
  /* over GW_CURSOR_MAX: refused unread */
  gw_cursor_encode(cur, sizeof(cur), 5, UID);
  memset(longer, 'A', sizeof(longer) - 1);
  longer[sizeof(longer) - 1] = '\0';
  memcpy(longer, cur, strlen(cur));
  assert_false(gw_cursor_decode(longer, &us, id));
}

static void assert_bytes(const wt_buf *b, const char *want) {
  assert_true(wt_buf_ok(b));
  if (b->len != strlen(want) || memcmp(b->data, want, b->len) != 0)
    fail_msg("got  %.*s\nwant %s", (int)b->len, b->data, want);
}

/* A result as the pool hands it over: GW_LOG_COLS from column col on. */
static PGresult *log_rows(int col, int nrows, const char *const rows[][8]) {
  PGresAttDesc att[9];
  PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
  static char names[][16] = {"seq",         "id",  "user_id", "start",  "end",
                             "description", "ver", "created", "updated"};
  char v[256];
  assert_non_null(res);
  memset(att, 0, sizeof(att));
  for (int c = 0; c < col + 8; c++) {
    att[c].name = names[c + (col ? 0 : 1)];
    att[c].format = 0;
    att[c].typid = 25;
    att[c].typlen = -1;
    att[c].atttypmod = -1;
  }
  assert_true(PQsetResultAttrs(res, col + 8, att));
  for (int r = 0; r < nrows; r++) {
    if (col) {
      snprintf(v, sizeof(v), "42");
      assert_true(PQsetvalue(res, r, 0, v, 2));
    }
    for (int c = 0; c < 8; c++) {
      snprintf(v, sizeof(v), "%s", rows[r][c] ? rows[r][c] : "");
      assert_true(PQsetvalue(res, r, col + c, rows[r][c] ? v : NULL,
                             rows[r][c] ? (int)strlen(v) : -1));
    }
  }
  return res;
}

/* A page as the replies carry it, "<key>":[...],"next_cursor":..., without
 * the braces of the reply around it. */
static void page(wt_buf *out, const PGresult *res, int first, int col,
                 int limit, const char *key) {
  char cursor[GW_CURSOR_MAX];
  wt_buf b;
  wt_jw w;
  wt_buf_init(&b, 1 << 20);
  wt_jw_init(&w, &b);
  wt_jw_obj(&w);
  wt_jw_key(&w, key);
  wt_jw_arr(&w);
  gw_logs_page(&w, res, first, col, PID, limit, cursor);
  wt_jw_arr_end(&w);
  wt_jw_kstr(&w, "next_cursor", cursor[0] ? cursor : NULL);
  wt_jw_obj_end(&w);
  assert_true(wt_jw_finish(&w));
  wt_buf_append(out, b.data + 1, b.len - 2);
  wt_buf_free(&b);
}

#define LID1 "22222222-3333-4444-8555-666666666661"
#define LID2 "22222222-3333-4444-8555-666666666662"

/* The page's bytes, recorded from the writer before it moved onto wt_jw
 * (issue 13): key order and escaping as clients have them. */
static void test_logs_page_bytes(void **state) {
  static const char *const rows[][8] = {
      {LID1, UID, "1795766400000000", "1795770000500000", "a \"q\" \xc3\xa9\n",
       "3", "1795766400000000", "1795766401000000"},
      {LID2, UID, "1795766300000000", NULL, "", "1", "1795766300000000",
       "1795766300000000"},
      {LID2, UID, "1795766200000000", NULL, "x", "1", "1795766200000000",
       "1795766200000000"},
  };
  static const char *const none[][8] = {
      {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL}};
  PGresult *res = log_rows(0, 3, rows);
  char cur[GW_CURSOR_MAX];
  wt_buf b;
  (void)state;
  wt_buf_init(&b, 1 << 20);
  page(&b, res, 0, 0, 2, "items");
  gw_cursor_encode(cur, sizeof(cur), INT64_C(1795766300000000), LID2);
  {
    char want[2048];
    snprintf(want, sizeof(want),
             "\"items\":[{\"id\":\"" LID1 "\",\"project_id\":\"" PID
             "\",\"user_id\":\"" UID
             "\",\"started_at\":\"2026-11-27T08:00:00Z\",\"ended_at\":"
             "\"2026-11-27T09:00:00.500Z\",\"duration_seconds\":3600,"
             "\"description\":\"a \\\"q\\\" \xc3\xa9\\n\",\"version\":3,"
             "\"created_at\":\"2026-11-27T08:00:00Z\",\"updated_at\":"
             "\"2026-11-27T08:00:01Z\"},{\"id\":\"" LID2
             "\",\"project_id\":\"" PID "\",\"user_id\":\"" UID
             "\",\"started_at\":\"2026-11-27T07:58:20Z\",\"ended_at\":null,"
             "\"duration_seconds\":null,\"description\":\"\",\"version\":1,"
             "\"created_at\":\"2026-11-27T07:58:20Z\",\"updated_at\":"
             "\"2026-11-27T07:58:20Z\"}],\"next_cursor\":\"%s\"",
             cur);
    assert_bytes(&b, want);
  }
  /* the rest: no cursor */
  wt_buf_reset(&b);
  page(&b, res, 2, 0, 2, "items");
  assert_bytes(&b,
               "\"items\":[{\"id\":\"" LID2 "\",\"project_id\":\"" PID
               "\",\"user_id\":\"" UID
               "\",\"started_at\":\"2026-11-27T07:56:40Z\",\"ended_at\":null,"
               "\"duration_seconds\":null,\"description\":\"x\",\"version\":1,"
               "\"created_at\":\"2026-11-27T07:56:40Z\",\"updated_at\":"
               "\"2026-11-27T07:56:40Z\"}],\"next_cursor\":null");
  PQclear(res);
  /* the snapshot's row of a project without logs */
  res = log_rows(1, 1, none);
  wt_buf_reset(&b);
  page(&b, res, 0, 1, 100, "logs");
  assert_bytes(&b, "\"logs\":[],\"next_cursor\":null");
  PQclear(res);
  wt_buf_free(&b);
}

/* The push frame and a rebuilt outcome, byte for byte (recorded before the
 * writers moved onto wt_jw, issue 13). */
static void test_frame_bytes(void **state) {
  gw_event *e = parse_ok(APPLIED);
  wt_buf b;
  (void)state;
  wt_buf_init(&b, 1 << 20);
  gw_event_frame(&b, e);
  assert_bytes(&b,
               "{\"type\":\"event\",\"event_type\":\"log.created\","
               "\"project_id\":\"" PID "\",\"seq\":7,\"command_id\":\"" CID
               "\",\"actor_id\":\"" UID
               "\",\"at\":\"2026-11-27T08:00:00.000000Z\",\"data\":{\"id\":"
               "\"22222222-3333-4444-8555-666666666666\",\"project_id\":\"" PID
               "\",\"user_id\":\"" UID "\",\"description\":\"d\xc3\xa9sign "
               "\\\"q\\\"\",\"version\":1}}");
  gw_event_free(e);
  e = gw_event_from_row(PID, 12, "log.updated", CID, UID,
                        INT64_C(1795766400000000), "{\"a\" : [1, \"\\/\"]}");
  assert_non_null(e);
  wt_buf_reset(&b);
  wt_buf_puts(&b, e->raw);
  assert_bytes(
      &b, "{\"v\":1,\"kind\":\"event\",\"type\":\"log.updated\","
          "\"project_id\":\"" PID "\",\"seq\":12,\"command_id\":\"" CID
          "\",\"actor_id\":\"" UID
          "\",\"at\":\"2026-11-27T08:00:00Z\",\"data\":{\"a\":[1,\"/\"]}}");
  wt_buf_reset(&b);
  gw_event_frame(&b, e);
  assert_bytes(
      &b, "{\"type\":\"event\",\"event_type\":\"log.updated\","
          "\"project_id\":\"" PID "\",\"seq\":12,\"command_id\":\"" CID
          "\",\"actor_id\":\"" UID
          "\",\"at\":\"2026-11-27T08:00:00Z\",\"data\":{\"a\":[1,\"/\"]}}");
  gw_event_free(e);
  e = gw_event_from_row(UID, 3, "user.created", CID, NULL, 0, "{}");
  assert_non_null(e);
  wt_buf_reset(&b);
  wt_buf_puts(&b, e->raw);
  assert_bytes(&b, "{\"v\":1,\"kind\":\"event\",\"type\":\"user.created\","
                   "\"user_id\":\"" UID "\",\"seq\":3,\"command_id\":\"" CID
                   "\",\"actor_id\":\"system\",\"at\":\"1970-01-01T00:00:00Z\","
                   "\"data\":{}}");
  wt_buf_free(&b);
  gw_event_free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_applied),
      cmocka_unit_test(test_parse_member_and_user),
      cmocka_unit_test(test_parse_rejected),
      cmocka_unit_test(test_parse_refused),
      cmocka_unit_test(test_frame),
      cmocka_unit_test(test_from_row),
      cmocka_unit_test(test_cursor_roundtrip),
      cmocka_unit_test(test_cursor_refused),
      cmocka_unit_test(test_logs_page_bytes),
      cmocka_unit_test(test_frame_bytes),
  };
  return cmocka_run_group_tests_name("gw_events", tests, NULL, NULL);
}
