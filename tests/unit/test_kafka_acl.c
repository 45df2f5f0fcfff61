/* Unit tests of wt_kafka_acl: the table of who may do what on Kafka
 * (docs/security.md) and the kafka-acls.sh lines that create it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wt_kafka_acl.h"

static wt_kafka_acl acls[WT_KAFKA_ACLS_MAX];
static size_t nacls;

static int has(const char *principal, wt_kafka_acl_resource r, const char *name,
               wt_kafka_acl_op op) {
  for (size_t i = 0; i < nacls; i++)
    if (strcmp(acls[i].principal, principal) == 0 && acls[i].resource == r &&
        strcmp(acls[i].name, name) == 0 && acls[i].operation == op)
      return 1;
  return 0;
}

static void test_the_plans_table(void **state) {
  static const struct {
    const char *principal;
    const char *name;
    wt_kafka_acl_resource r;
    wt_kafka_acl_op op;
  } want[] = {
      {"User:wt-gateway", "p1.commands", WT_KAFKA_ACL_TOPIC,
       WT_KAFKA_ACL_WRITE},
      {"User:wt-gateway", "p1.commands", WT_KAFKA_ACL_TOPIC,
       WT_KAFKA_ACL_DESCRIBE},
      {"User:wt-gateway", "p1.events", WT_KAFKA_ACL_TOPIC, WT_KAFKA_ACL_READ},
      {"User:wt-gateway", "p1.events", WT_KAFKA_ACL_TOPIC,
       WT_KAFKA_ACL_DESCRIBE},
      {"User:wt-worker", "p1.commands", WT_KAFKA_ACL_TOPIC, WT_KAFKA_ACL_READ},
      {"User:wt-worker", "p1.commands", WT_KAFKA_ACL_TOPIC,
       WT_KAFKA_ACL_DESCRIBE},
      {"User:wt-worker", "p1-worker", WT_KAFKA_ACL_GROUP, WT_KAFKA_ACL_READ},
      {"User:wt-worker", "p1-worker", WT_KAFKA_ACL_GROUP,
       WT_KAFKA_ACL_DESCRIBE},
      {"User:wt-worker", "p1.events", WT_KAFKA_ACL_TOPIC, WT_KAFKA_ACL_WRITE},
      {"User:wt-worker", "p1.events", WT_KAFKA_ACL_TOPIC,
       WT_KAFKA_ACL_DESCRIBE},
      {"User:wt-worker", "p1.dlq", WT_KAFKA_ACL_TOPIC, WT_KAFKA_ACL_WRITE},
      {"User:wt-worker", "p1.dlq", WT_KAFKA_ACL_TOPIC, WT_KAFKA_ACL_DESCRIBE},
      {"User:wt-ingest", "p1.commands", WT_KAFKA_ACL_TOPIC, WT_KAFKA_ACL_WRITE},
      {"User:wt-ingest", "p1.commands", WT_KAFKA_ACL_TOPIC,
       WT_KAFKA_ACL_DESCRIBE},
      {"User:wt-ingest", "p1.events", WT_KAFKA_ACL_TOPIC, WT_KAFKA_ACL_READ},
      {"User:wt-ingest", "p1.events", WT_KAFKA_ACL_TOPIC,
       WT_KAFKA_ACL_DESCRIBE},
      {"User:wt-replay", "p1.events", WT_KAFKA_ACL_TOPIC, WT_KAFKA_ACL_READ},
      {"User:wt-replay", "p1.events", WT_KAFKA_ACL_TOPIC,
       WT_KAFKA_ACL_DESCRIBE},
  };
  (void)state;
  nacls = wt_kafka_acls("p1", acls, WT_KAFKA_ACLS_MAX);
  /* exactly these: nothing else is allowed */
  assert_int_equal(nacls, sizeof(want) / sizeof(want[0]));
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
    if (!has(want[i].principal, want[i].r, want[i].name, want[i].op))
      fail_msg("missing %s %s %s %s", want[i].principal,
               wt_kafka_acl_resource_name(want[i].r), want[i].name,
               wt_kafka_acl_op_name(want[i].op));
}

/* What nobody but the super users may do. */
static void test_least_privilege(void **state) {
  (void)state;
  nacls = wt_kafka_acls("wt", acls, WT_KAFKA_ACLS_MAX);
  assert_false(has("User:wt-gateway", WT_KAFKA_ACL_TOPIC, "wt.events",
                   WT_KAFKA_ACL_WRITE)); /* no fake outcomes */
  assert_false(has("User:wt-gateway", WT_KAFKA_ACL_TOPIC, "wt.commands",
                   WT_KAFKA_ACL_READ));
  assert_false(has("User:wt-replay", WT_KAFKA_ACL_TOPIC, "wt.commands",
                   WT_KAFKA_ACL_WRITE));
  for (size_t i = 0; i < nacls; i++) {
    assert_string_not_equal(acls[i].principal, "User:wt-admin");
    assert_string_not_equal(acls[i].principal, "User:wt-broker");
    /* the DLQ is written by the worker only, read by no one */
    if (strcmp(acls[i].name, "wt.dlq") == 0) {
      assert_string_equal(acls[i].principal, "User:wt-worker");
      assert_int_not_equal(acls[i].operation, WT_KAFKA_ACL_READ);
    }
  }
  /* a short array is never overrun */
  assert_int_equal(wt_kafka_acls("wt", acls, 3), 2);
}

static void test_print_kafka_acls_lines(void **state) {
  char *text = NULL;
  size_t len = 0, lines = 0;
  FILE *f = open_memstream(&text, &len);
  (void)state;
  assert_non_null(f);
  wt_kafka_acls_print(f, "p2", "k1:9092", "admin.properties");
  fclose(f);
  assert_non_null(strstr(
      text, "kafka-acls.sh --bootstrap-server k1:9092 --command-config "
            "admin.properties --add --allow-principal User:wt-worker "
            "--operation Read --operation Describe --group p2-worker\n"));
  assert_non_null(strstr(text, "--allow-principal User:wt-gateway --operation "
                               "Write --operation Describe --topic "
                               "p2.commands\n"));
  for (const char *p = text; (p = strstr(p, "kafka-acls.sh ")); p++)
    lines++;
  assert_int_equal(lines, 9); /* one per principal and resource */
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_the_plans_table),
      cmocka_unit_test(test_least_privilege),
      cmocka_unit_test(test_print_kafka_acls_lines),
  };
  return cmocka_run_group_tests_name("kafka_acl", tests, NULL, NULL);
}
