/* Unit tests of ing_outcome_parse (ingest/ing_producer.c), which reads the
 * outcome messages wt-admin waits for with wt_json's scanner: the documents
 * wt_outcome writes (event, user stream, rejection), read back field by
 * field; what is not an outcome; strings cut to their fields' sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ing_producer.h"
#include "wt_outcome.h"

#define CID "c0000000-0000-4000-8000-000000000001"
#define ALICE "a1000000-0000-4000-8000-000000000001"
#define P1 "b1000000-0000-4000-8000-000000000001"

static void parse_ok(const char *json, ing_outcome *out) {
  char err[256] = "";
  if (ing_outcome_parse(json, out, err, sizeof(err)) != WT_OK)
    fail_msg("refused: %s (%s)", err, json);
}

static void parse_bad(const char *json, const char *why) {
  ing_outcome out;
  char err[256] = "";
  assert_int_equal(ing_outcome_parse(json, &out, err, sizeof(err)),
                   WT_ERR_INVALID);
  assert_non_null(strstr(err, why));
}

static void test_event(void **state) {
  ing_outcome out;
  char *text;
  (void)state;
  text = wt_outcome_event_json("log.created", P1, INT64_C(9007199254740993),
                               CID, ALICE, 0, "{\"id\":\"x\",\"seq\":1}");
  assert_non_null(text);
  parse_ok(text, &out);
  assert_true(out.applied);
  assert_string_equal(out.command_id, CID);
  assert_string_equal(out.type, "log.created");
  assert_string_equal(out.project_id, P1);
  assert_int_equal(out.seq, INT64_C(9007199254740993));
  assert_int_equal(out.code, WT_REJECT_NONE);
  free(text);

  /* a user's event: its stream is user_id */
  text = wt_outcome_event_json("user.created", ALICE, 1, CID, NULL, 0, "{}");
  parse_ok(text, &out);
  assert_string_equal(out.project_id, ALICE);
  assert_string_equal(out.type, "user.created");
  free(text);
}

static void test_rejected(void **state) {
  ing_outcome out;
  char *text, long_msg[600];
  (void)state;
  text = wt_outcome_rejected_json(CID, P1, ALICE, WT_REJECT_FORBIDDEN,
                                  "log \"x\" belongs to\nanother \\ member");
  parse_ok(text, &out);
  assert_false(out.applied);
  assert_int_equal(out.code, WT_REJECT_FORBIDDEN);
  assert_string_equal(out.message, "log \"x\" belongs to\nanother \\ member");
  assert_string_equal(out.project_id, P1);
  assert_string_equal(out.type, "");
  assert_int_equal(out.seq, 0);
  free(text);

  /* a message longer than the field: cut */
  memset(long_msg, 'm', sizeof(long_msg) - 1);
  long_msg[sizeof(long_msg) - 1] = '\0';
  text =
      wt_outcome_rejected_json(CID, NULL, NULL, WT_REJECT_CONFLICT, long_msg);
  parse_ok(text, &out);
  assert_int_equal(strlen(out.message), sizeof(out.message) - 1);
  assert_string_equal(out.project_id, "");
  free(text);
}

static void test_not_outcomes(void **state) {
  ing_outcome out;
  (void)state;
  parse_bad("", "not a JSON object");
  parse_bad("[1]", "not a JSON object");
  parse_bad("{\"kind\":\"event\"", "not a JSON object");
  parse_bad("{\"kind\":\"other\",\"command_id\":\"" CID "\"}", "kind");
  parse_bad("{\"kind\":1,\"command_id\":\"" CID "\"}", "kind");
  parse_bad("{\"kind\":\"event\",\"command_id\":\"x\"}", "command_id");
  parse_bad("{\"kind\":\"event\"}", "command_id");
  parse_bad("{\"kind\":\"rejected\",\"command_id\":\"" CID
            "\",\"code\":\"nope\"}",
            "code");
  /* the last of a repeated key counts; an escaped key is not ours */
  parse_ok("{\"kind\":\"rejected\",\"kind\":\"event\",\"command_id\":\"" CID
           "\",\"seq\":3,\"type\":\"x\"}",
           &out);
  assert_true(out.applied);
  assert_int_equal(out.seq, 3);
  parse_ok("{\"kind\":\"event\",\"command_id\":\"" CID
           "\",\"s\\u0065q\":3,\"seq\":\"4\"}",
           &out);
  assert_int_equal(out.seq, 0);
  /* a NUL in a string is no text */
  parse_bad("{\"kind\":\"event\",\"command_id\":\"" CID "\\u0000\"}",
            "command_id");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_event),
      cmocka_unit_test(test_rejected),
      cmocka_unit_test(test_not_outcomes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
