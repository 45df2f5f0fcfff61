/* Helpers of the integration tests: where the real services are, and a
 * fresh database or topic prefix per test so tests can run in parallel.
 *
 * The services come from WT_TEST_DATABASE_URL / WT_TEST_KAFKA_BROKERS when
 * set, else from the stack.env file the ctest fixture wrote
 * ($WT_TEST_STACK_ENV). */
#ifndef WT_TEST_H
#define WT_TEST_H

#include <stddef.h>

#include "wt_kafka.h"

/* The server's admin URL (the fixture's own database). Aborts if unknown. */
const char *wt_test_database_url(void);
const char *wt_test_kafka_brokers(void);
/* A value of the stack.env file, or NULL. */
const char *wt_test_stack_value(const char *name);

/* The Kafka login of principal ("wt-admin", "wt-worker", "wt-gateway",
 * "wt-ingest", "wt-replay") on the fixture's broker: stack.env's
 * WT_KAFKA_SECURITY_PROTOCOL and mechanism, the password from
 * $WT_STACK_SECRETS_DIR/kafka-<principal>.password; plaintext when
 * stack.env has no SASL or WT_TEST_KAFKA_BROKERS names the broker. Static
 * storage, valid for the whole test. Aborts when a password is missing. */
const wt_kafka_conn *wt_test_kafka_conn(const char *principal);

/* setenv()s program's own identity before it is exec'd, as `deploy/local/
 * stack.sh env --for PROGRAM` prints it (and tests/cli/lib.sh's cli_as):
 * WT_KAFKA_BROKERS, WT_KAFKA_SECURITY_PROTOCOL, with SASL
 * WT_KAFKA_SASL_MECHANISM, WT_KAFKA_USER and WT_KAFKA_PASSWORD_FILE; the
 * producer id and key file when the secrets hold producer-<program>.key;
 * for wt-worker WT_PRODUCER_KEYS_FILE. What does not apply is unset. */
void wt_test_program_env(const char *program);

/* Creates the topics of prefix with `partitions` partitions and, on a SASL
 * broker, their ACLs (wt_kafka_acls_create, as `wt-admin acls`), as
 * wt-admin. Aborts on failure. */
void wt_test_kafka_setup(const char *prefix, int partitions);

/* Creates database wt_test_<tag>_<pid>_<n> and returns a conninfo string for
 * it (static storage, valid until the next call); the name goes to
 * name_out. */
const char *wt_test_create_database(const char *tag, char *name_out,
                                    size_t name_size);
void wt_test_drop_database(const char *name);

/* A unique name such as "<tag>-<pid>-<n>" (topic prefixes, groups). */
void wt_test_unique(const char *tag, char *out, size_t size);

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int wt_test_free_port(void);

/* Produces a command (json, len bytes, keyed key) to topic as producer
 * (one of the stack's signing producers: "wt-admin" for system commands,
 * "wt-ingest" or "wt-gateway" for user ones) would: signed with
 * $WT_STACK_SECRETS_DIR/producer-<producer>.key (wt_sign.h) when the stack
 * has it, else unsigned (and then the worker has no keys either: see
 * wt_test_program_env). Waits up to 30 s on a full queue. */
wt_err wt_test_produce_command(rd_kafka_t *rk, const char *topic,
                               const char *key, const char *json, size_t len,
                               const char *producer, char *errstr,
                               size_t errstr_size);

#endif
