/* bench_util: what both benchmarks (bench_worker, bench_gateway) need alike;
 * the tests' support library (tests/support/wt_test.c) takes its free port
 * from here too. Not product code. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stddef.h>

#include "wt_kafka.h"

/* A TCP port on 127.0.0.1 free right now; -1 when none could be had. */
int bench_free_port(void);

/* s as a long in lo..hi, or "PROG: WHAT: expected LO..HI" and exit 2. */
long bench_arg_long(const char *prog, const char *s, const char *what, long lo,
                    long hi);

/* Produces a command (json of len bytes, keyed key) to topic as a signing
 * producer would (wt_sign.h): as WT_PRODUCER_ID (default wt-admin, which
 * may issue every command) with the key of WT_PRODUCER_KEY_FILE, else of
 * $WT_STACK_SECRETS_DIR/producer-wt-admin.key when it exists; unsigned
 * without either (a worker without WT_PRODUCER_KEYS_FILE). A bad key file
 * ends the process. wt_kafka_produce_headers' result. */
wt_err bench_produce_command(rd_kafka_t *rk, const char *topic, const char *key,
                             const char *json, size_t len, int timeout_ms,
                             char *errstr, size_t errstr_size);

/* In a child about to exec program ("wt-worker", "wt-gateway"): its
 * signature settings from $WT_STACK_SECRETS_DIR, as `stack.sh env --for`
 * gives them: the worker's WT_PRODUCER_KEYS_FILE (producer-keys), another
 * program's WT_PRODUCER_ID and WT_PRODUCER_KEY_FILE (producer-<program>.key)
 * when the file exists. */
void bench_signing_env(const char *program);

/* The benchmark's own Kafka login on brokers, from the environment
 * (`stack.sh env --export`): WT_KAFKA_SECURITY_PROTOCOL and
 * WT_KAFKA_SASL_MECHANISM; as WT_KAFKA_USER with WT_KAFKA_PASSWORD or
 * WT_KAFKA_PASSWORD_FILE when set, else as wt-admin with the stack's
 * $WT_STACK_SECRETS_DIR/kafka-wt-admin.password. out borrows static
 * storage. A password file that cannot be read ends the process. */
void bench_kafka_conn(const char *brokers, wt_kafka_conn *out);

/* In a child about to exec program: its own Kafka login on the stack's
 * SASL broker (WT_KAFKA_USER=program, WT_KAFKA_PASSWORD_FILE=
 * $WT_STACK_SECRETS_DIR/kafka-<program>.password), as `stack.sh env --for`
 * gives it; nothing without SASL or the stack's secrets. */
void bench_kafka_env(const char *program);

/* On a SASL broker: the ACLs of prefix (wt_kafka_acls_create, as `wt-admin
 * acls`) with rk, a super user's client (bench_kafka_conn's wt-admin), so
 * that the programs the benchmark starts may use its topics. WT_OK at once
 * without SASL. */
wt_err bench_kafka_acls(rd_kafka_t *rk, const char *prefix, char *errstr,
                        size_t errstr_size);

#endif
