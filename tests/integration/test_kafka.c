/* Integration tests of wt_kafka on the real Apache Kafka broker: topics
 * with the configured partition count, produce -> consume with keys and
 * partitions, manual commits, the idempotent producer; on the fixture's
 * SASL broker also the login (a wrong password, SASL_SSL and its CA) and
 * topics under the ACLs of docs/security.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "wt_kafka.h"
#include "wt_test.h"

#define TIMEOUT_MS 30000

typedef struct delivery {
  int ok, failed;
} delivery;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque) {
  delivery *d = opaque;
  (void)rk;
  if (m->err)
    d->failed++;
  else
    d->ok++;
}

static rd_kafka_t *producer(delivery *d) {
  char err[512] = "";
  rd_kafka_t *rk =
      wt_kafka_producer_new(wt_test_kafka_conn("wt-admin"), "t-producer",
                            on_delivery, d, NULL, err, sizeof(err));
  if (!rk)
    fail_msg("producer: %s", err);
  return rk;
}

static void make_topic(rd_kafka_t *rk, const char *topic, int partitions) {
  const char *names[1] = {topic};
  char err[512] = "";
  if (wt_kafka_ensure_topics(rk, names, 1, partitions, TIMEOUT_MS, err,
                             sizeof(err)) != WT_OK)
    fail_msg("ensure %s: %s", topic, err);
}

/* Apache Kafka 3.9 is the broker the tests and `make run` use: librdkafka
 * 2.0.2 (Debian bookworm) was tested against 3.x, and 4.0.0 removed
 * protocol versions it relies on. The group join and commit tests below are
 * what breaks first on a broker it cannot talk to. */
static void test_broker_is_apache_kafka_3_9(void **state) {
  const char *which = wt_test_stack_value("WT_STACK_KAFKA");
  delivery d = {0};
  rd_kafka_t *rk;
  const rd_kafka_metadata_t *md = NULL;
  (void)state;
  if (getenv("WT_TEST_KAFKA_BROKERS"))
    which = "external";
  else {
    assert_non_null(which);
    if (strncmp(which, "apache-kafka 3.9", 16) != 0)
      fail_msg("the tests need Apache Kafka 3.9.x, the stack runs \"%s\"",
               which);
  }
  fprintf(stderr, "kafka broker: %s, librdkafka %s\n", which,
          rd_kafka_version_str());
  rk = producer(&d);
  assert_int_equal(rd_kafka_metadata(rk, 0, NULL, &md, TIMEOUT_MS),
                   RD_KAFKA_RESP_ERR_NO_ERROR);
  assert_true(md->broker_cnt >= 1);
  rd_kafka_metadata_destroy(md);
  rd_kafka_destroy(rk);
}

static void test_topics_created_with_partitions(void **state) {
  char prefix[64];
  wt_kafka_topics t;
  const char *names[3];
  delivery d = {0};
  rd_kafka_t *rk = producer(&d);
  char err[512] = "";
  (void)state;
  wt_test_unique("tp", prefix, sizeof(prefix));
  wt_kafka_topic_names(prefix, &t);
  names[0] = t.commands;
  names[1] = t.events;
  names[2] = t.dlq;
  assert_non_null(strstr(t.commands, ".commands"));
  assert_int_equal(wt_kafka_partition_count(rk, t.commands, 5000), -1);
  assert_int_equal(
      wt_kafka_ensure_topics(rk, names, 3, 4, TIMEOUT_MS, err, sizeof(err)),
      WT_OK);
  for (int i = 0; i < 3; i++)
    assert_int_equal(wt_kafka_partition_count(rk, names[i], 5000), 4);
  /* existing topics are left as they are */
  assert_int_equal(
      wt_kafka_ensure_topics(rk, names, 3, 8, TIMEOUT_MS, err, sizeof(err)),
      WT_OK);
  assert_int_equal(wt_kafka_partition_count(rk, t.events, 5000), 4);
  rd_kafka_destroy(rk);
}

static void test_producer_is_idempotent(void **state) {
  delivery d = {0};
  rd_kafka_t *rk = producer(&d);
  const rd_kafka_conf_t *conf = rd_kafka_conf(rk);
  char v[64];
  size_t n = sizeof(v);
  (void)state;
  assert_int_equal(rd_kafka_conf_get(conf, "enable.idempotence", v, &n),
                   RD_KAFKA_CONF_OK);
  assert_string_equal(v, "true");
  n = sizeof(v);
  assert_int_equal(rd_kafka_conf_get(conf, "acks", v, &n), RD_KAFKA_CONF_OK);
  assert_string_equal(v, "-1"); /* all */
  rd_kafka_destroy(rk);
}

#define NKEYS 10
#define PER_KEY 30

static rd_kafka_t *consumer(const char *group) {
  char err[512] = "";
  rd_kafka_t *rk =
      wt_kafka_consumer_new(wt_test_kafka_conn("wt-admin"), group, "t-consumer",
                            NULL, NULL, NULL, err, sizeof(err));
  if (!rk)
    fail_msg("consumer: %s", err);
  return rk;
}

static void subscribe(rd_kafka_t *rk, const char *topic) {
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, topic, RD_KAFKA_PARTITION_UA);
  assert_int_equal(rd_kafka_subscribe(rk, l), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(l);
}

static void produce_keyed(const char *topic, int from, int to) {
  delivery d = {0};
  rd_kafka_t *rk = producer(&d);
  char err[512] = "";
  for (int i = from; i < to; i++) {
    char key[16], value[32];
    snprintf(key, sizeof(key), "key-%d", i % NKEYS);
    snprintf(value, sizeof(value), "%d", i);
    assert_int_equal(wt_kafka_produce(rk, topic, key, strlen(key), value,
                                      strlen(value), NULL, 5000, err,
                                      sizeof(err)),
                     WT_OK);
  }
  assert_int_equal(rd_kafka_flush(rk, TIMEOUT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
  assert_int_equal(d.ok, to - from);
  assert_int_equal(d.failed, 0);
  rd_kafka_destroy(rk);
}

static void test_keys_keep_partition_and_order(void **state) {
  char topic[96], group[96];
  int partition_of[NKEYS], last_seen[NKEYS], got = 0;
  bool partitions_used[6] = {0};
  int nused = 0;
  delivery d = {0};
  rd_kafka_t *admin = producer(&d), *rk;
  time_t deadline = time(NULL) + 60;
  (void)state;
  wt_test_unique("keys", topic, sizeof(topic));
  wt_test_unique("g", group, sizeof(group));
  make_topic(admin, topic, 6);
  rd_kafka_destroy(admin);
  produce_keyed(topic, 0, NKEYS * PER_KEY);
  for (int k = 0; k < NKEYS; k++) {
    partition_of[k] = -1;
    last_seen[k] = -1;
  }
  rk = consumer(group);
  subscribe(rk, topic);
  while (got < NKEYS * PER_KEY && time(NULL) < deadline) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
    int k, v;
    if (!m)
      continue;
    if (m->err) {
      rd_kafka_message_destroy(m);
      continue;
    }
    assert_int_equal(sscanf((const char *)m->key, "key-%d", &k), 1);
    v = atoi((const char *)m->payload);
    assert_int_equal(v % NKEYS, k);
    if (partition_of[k] < 0)
      partition_of[k] = m->partition;
    assert_int_equal(partition_of[k],
                     m->partition); /* one key, one partition */
    assert_true(v > last_seen[k]);  /* in order */
    last_seen[k] = v;
    if (!partitions_used[m->partition]) {
      partitions_used[m->partition] = true;
      nused++;
    }
    got++;
    rd_kafka_message_destroy(m);
  }
  assert_int_equal(got, NKEYS * PER_KEY);
  assert_true(nused >= 2); /* keys spread over partitions */
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
}

/* Consumes up to max messages, storing and committing the offsets of the
 * first `commit` of them only. */
static int consume_and_commit(const char *group, const char *topic, int max,
                              int commit, int *values) {
  rd_kafka_t *rk = consumer(group);
  int got = 0;
  time_t deadline = time(NULL) + 60;
  subscribe(rk, topic);
  while (got < max && time(NULL) < deadline) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 300);
    if (!m)
      continue;
    if (!m->err) {
      values[got++] = atoi((const char *)m->payload);
      if (got <= commit)
        assert_int_equal(rd_kafka_offset_store(m->rkt, m->partition, m->offset),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    rd_kafka_message_destroy(m);
  }
  if (commit > 0)
    assert_int_equal(rd_kafka_commit(rk, NULL, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return got;
}

static void test_manual_commit_resumes_after_committed(void **state) {
  char topic[96], group[96];
  int first[100] = {0}, second[100] = {0};
  delivery d = {0};
  rd_kafka_t *admin = producer(&d);
  int got;
  (void)state;
  wt_test_unique("commit", topic, sizeof(topic));
  wt_test_unique("g", group, sizeof(group));
  make_topic(admin, topic, 1); /* one partition: one total order */
  rd_kafka_destroy(admin);
  produce_keyed(topic, 0, 20);
  got = consume_and_commit(group, topic, 20, 12, first);
  assert_int_equal(got, 20);
  for (int i = 0; i < 20; i++)
    assert_int_equal(first[i], i);
  /* nothing was auto-committed past what was stored: the group resumes at
   * the 13th message */
  got = consume_and_commit(group, topic, 8, 0, second);
  assert_int_equal(got, 8);
  for (int i = 0; i < 8; i++)
    assert_int_equal(second[i], 12 + i);
}

/* A refused setting is named, but a password's or key's value is never
 * printed (issue 12: no error may contain a secret). */
static void test_refused_secret_setting_not_printed(void **state) {
  const char *const extra[] = {"ssl.key.password.typo", "hunter2-secret", NULL};
  char err[512] = "";
  rd_kafka_t *rk;
  (void)state;
  rk = wt_kafka_consumer_new(&(wt_kafka_conn){.brokers = "127.0.0.1:1"}, "g",
                             "t", extra, NULL, NULL, err, sizeof(err));
  assert_null(rk);
  assert_non_null(strstr(err, "ssl.key.password.typo"));
  assert_null(strstr(err, "hunter2"));
}

static bool sasl_broker(void) {
  return strncmp(wt_test_kafka_conn("wt-admin")->security_protocol, "sasl_",
                 5) == 0;
}

static long mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Issue 12, item 1: a wrong password ends in a clear error within seconds,
 * not a wait for topics that never come; the password is not in it. */
static void test_wrong_password_fails_fast(void **state) {
  wt_kafka_conn conn;
  const char *names[1] = {"wt.commands"};
  char err[512] = "";
  rd_kafka_t *rk;
  long t0;
  (void)state;
  if (!sasl_broker())
    skip();
  conn = *wt_test_kafka_conn("wt-gateway");
  conn.password = "not-the-password-0123";
  rk = wt_kafka_producer_new(&conn, "t-wrong", NULL, NULL, NULL, err,
                             sizeof(err));
  assert_non_null(rk);
  t0 = mono_ms();
  assert_int_equal(
      wt_kafka_ensure_topics(rk, names, 1, 1, TIMEOUT_MS, err, sizeof(err)),
      WT_ERR_CONFIG);
  assert_true(mono_ms() - t0 < 10000);
  assert_non_null(strstr(err, "kafka: authentication failed for user "
                              "wt-gateway ("));
  assert_null(strstr(err, "not-the-password"));
  assert_int_equal(wt_kafka_wait_connected(rk, 5000, err, sizeof(err)),
                   WT_ERR_CONFIG);
  rd_kafka_destroy(rk);
}

/* Topics that exist are only described: a principal without Create (the
 * gateway's) starts on them; a missing one tells it to run wt-admin topics.
 * `wt-admin acls` can run again. */
static void test_existing_topics_need_no_create(void **state) {
  char prefix[64], missing[64];
  wt_kafka_topics t, m;
  const char *names[2];
  char err[512] = "";
  rd_kafka_t *rk;
  (void)state;
  if (!sasl_broker())
    skip();
  wt_test_unique("tacl", prefix, sizeof(prefix));
  wt_test_kafka_setup(prefix, 2);
  wt_test_kafka_setup(prefix, 2); /* again: no error */
  rk = wt_kafka_producer_new(wt_test_kafka_conn("wt-gateway"), "t-gw-acl", NULL,
                             NULL, NULL, err, sizeof(err));
  assert_non_null(rk);
  wt_kafka_topic_names(prefix, &t);
  names[0] = t.commands;
  names[1] = t.events;
  if (wt_kafka_ensure_topics(rk, names, 2, 2, TIMEOUT_MS, err, sizeof(err)) !=
      WT_OK)
    fail_msg("gateway on existing topics: %s", err);
  wt_test_unique("tmissing", missing, sizeof(missing));
  wt_kafka_topic_names(missing, &m);
  names[0] = m.commands;
  assert_int_equal(
      wt_kafka_ensure_topics(rk, names, 1, 2, TIMEOUT_MS, err, sizeof(err)),
      WT_ERR_NOT_FOUND);
  assert_non_null(strstr(err, "wt-admin topics"));
  assert_int_equal(wt_kafka_partition_count(rk, m.commands, 2000), -1);
  rd_kafka_destroy(rk);
}

/* Issue 12, item 2: SASL_SSL on the stack's TLS listener: with the stack's
 * CA the login works; without it (the system's CAs) the client fails fast
 * with a TLS error that names WT_KAFKA_CA_FILE. */
static void test_sasl_ssl_needs_the_ca(void **state) {
  const char *tls = wt_test_stack_value("WT_STACK_KAFKA_TLS_BROKERS");
  const char *ca = wt_test_stack_value("WT_STACK_KAFKA_CA_FILE");
  wt_kafka_conn conn;
  char err[512] = "";
  rd_kafka_t *rk;
  (void)state;
  if (!sasl_broker() || !tls || !*tls || !ca || !*ca)
    skip();
  conn = *wt_test_kafka_conn("wt-replay");
  conn.brokers = tls;
  conn.security_protocol = "sasl_ssl";
  conn.ca_file = ca;
  rk =
      wt_kafka_producer_new(&conn, "t-tls", NULL, NULL, NULL, err, sizeof(err));
  assert_non_null(rk);
  if (wt_kafka_wait_connected(rk, TIMEOUT_MS, err, sizeof(err)) != WT_OK)
    fail_msg("sasl_ssl with the CA: %s", err);
  rd_kafka_destroy(rk);
  conn.ca_file = NULL;
  rk = wt_kafka_producer_new(&conn, "t-tls-noca", NULL, NULL, NULL, err,
                             sizeof(err));
  assert_non_null(rk);
  assert_int_equal(wt_kafka_wait_connected(rk, TIMEOUT_MS, err, sizeof(err)),
                   WT_ERR_CONFIG);
  assert_non_null(strstr(err, "kafka: TLS handshake failed (sasl_ssl; is "
                              "WT_KAFKA_CA_FILE"));
  rd_kafka_destroy(rk);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_broker_is_apache_kafka_3_9),
      cmocka_unit_test(test_topics_created_with_partitions),
      cmocka_unit_test(test_producer_is_idempotent),
      cmocka_unit_test(test_keys_keep_partition_and_order),
      cmocka_unit_test(test_manual_commit_resumes_after_committed),
      cmocka_unit_test(test_refused_secret_setting_not_printed),
      cmocka_unit_test(test_wrong_password_fails_fast),
      cmocka_unit_test(test_existing_topics_need_no_create),
      cmocka_unit_test(test_sasl_ssl_needs_the_ca),
  };
  return cmocka_run_group_tests_name("kafka", tests, NULL, NULL);
}
