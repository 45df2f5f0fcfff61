/* Unit tests of wt_config: defaults, every kind of bad value, .env files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "wt_config.h"

typedef struct kv {
  const char *name;
  const char *value;
} kv;

/* lookup over a NULL-terminated table */
static const char *table_lookup(void *ctx, const char *name) {
  for (const kv *p = ctx; p->name; p++)
    if (strcmp(p->name, name) == 0)
      return p->value;
  return NULL;
}

static void test_defaults(void **state) {
  wt_config c;
  kv none[] = {{NULL, NULL}};
  char err[256] = "";
  (void)state;
  assert_int_equal(wt_config_load(&c, table_lookup, none, err, sizeof(err)),
                   WT_OK);
  assert_string_equal(c.topic_prefix, "wt");
  assert_string_equal(c.kafka_brokers, "127.0.0.1:9092");
  assert_int_equal(c.http_port, 8080);
  assert_int_equal(c.metrics_port, 9101);
  assert_int_equal(c.kafka_partitions, 6);
  assert_int_equal(c.batch_max, 1000);
  assert_int_equal(c.batch_wait_ms, 5);
  assert_int_equal(c.log_level, WT_LOG_INFO);
  assert_false(c.log_sql);
  assert_string_equal(c.jwt_alg, "HS256");
  assert_int_equal(c.jwt_ttl_s, 900);
  assert_int_equal(c.jwt_refresh_ttl_s, 7 * 24 * 3600);
  assert_int_equal(c.max_log_seconds, 86400);
  assert_int_equal(c.command_timeout_ms, 5000);
  assert_int_equal(c.max_frame_bytes, 65536);
  assert_int_equal(c.max_subscriptions, 100);
  assert_int_equal(c.max_inflight, 64);
  assert_int_equal(c.send_queue_bytes, 1048576);
  assert_int_equal(c.auth_timeout_ms, 10000);
  assert_string_equal(c.worker_id, ""); /* dynamic group membership */
  assert_int_equal(c.worker_session_timeout_ms, 6000);
}

static void test_overrides(void **state) {
  wt_config c;
  kv vals[] = {{"WT_DATABASE_URL", "postgresql://u@db:5433/x"},
               {"WT_KAFKA_BROKERS", "k1:9092,k2:19092"},
               {"WT_TOPIC_PREFIX", "prod.wt"},
               {"WT_HTTP_PORT", "9000"},
               {"WT_BATCH_MAX", "250"},
               {"WT_BATCH_WAIT_MS", "0"},
               {"WT_LOG_LEVEL", "DEBUG"},
               {"WT_LOG_SQL", "yes"},
               {"WT_JWT_SECRET", "0123456789abcdef0123456789abcdef"},
               {"WT_KAFKA_PARTITIONS", "12"},
               {"WT_WORKER_ID", "worker-2.eu_west.1"},
               {"WT_WORKER_SESSION_TIMEOUT_MS", "45000"},
               {NULL, NULL}};
  char err[256] = "";
  (void)state;
  assert_int_equal(wt_config_load(&c, table_lookup, vals, err, sizeof(err)),
                   WT_OK);
  assert_string_equal(c.database_url, "postgresql://u@db:5433/x");
  assert_string_equal(c.kafka_brokers, "k1:9092,k2:19092");
  assert_string_equal(c.topic_prefix, "prod.wt");
  assert_int_equal(c.http_port, 9000);
  assert_int_equal(c.batch_max, 250);
  assert_int_equal(c.batch_wait_ms, 0);
  assert_int_equal(c.log_level, WT_LOG_DEBUG);
  assert_true(c.log_sql);
  assert_int_equal(c.kafka_partitions, 12);
  assert_string_equal(c.worker_id, "worker-2.eu_west.1");
  assert_int_equal(c.worker_session_timeout_ms, 45000);
}

/* One bad value each: the error must name the variable. */
typedef struct bad_case {
  const char *name;
  const char *value;
  const char *expect; /* a fragment of the message */
} bad_case;

static bad_case bad_cases[] = {
    {"WT_BATCH_MAX", "abc", "integer"},
    {"WT_BATCH_MAX", "0", "1..100000"},
    {"WT_BATCH_MAX", "100001", "1..100000"},
    {"WT_BATCH_MAX", "12x", "integer"},
    {"WT_BATCH_MAX", "", "integer"},
    {"WT_BATCH_MAX", " 5", "integer"},
    {"WT_BATCH_MAX", "99999999999999999999", "integer"},
    {"WT_BATCH_WAIT_MS", "-1", "0..10000"},
    {"WT_HTTP_PORT", "65536", "1..65535"},
    {"WT_HTTP_PORT", "0", "1..65535"},
    {"WT_METRICS_PORT", "8080", "differ from WT_HTTP_PORT"},
    {"WT_KAFKA_PARTITIONS", "0", "1..1024"},
    {"WT_LOG_LEVEL", "verbose", "debug, info, warn or error"},
    {"WT_LOG_SQL", "maybe", "0/1"},
    {"WT_KAFKA_BROKERS", "", "host:port"},
    {"WT_KAFKA_BROKERS", "localhost", "host:port"},
    {"WT_KAFKA_BROKERS", "localhost:", "host:port"},
    {"WT_KAFKA_BROKERS", ":9092", "host:port"},
    {"WT_KAFKA_BROKERS", "a:9092,,b:9092", "host:port"},
    {"WT_KAFKA_BROKERS", "a:99999", "host:port"},
    {"WT_KAFKA_BROKERS", "a b:9092", "host:port"},
    {"WT_DATABASE_URL", "postgresql://[::1", "connection URI"},
    {"WT_DATABASE_URL", "host=x port", "connection URI"},
    {"WT_TOPIC_PREFIX", "", "1..40"},
    {"WT_TOPIC_PREFIX", "a/b", "1..40"},
    {"WT_TOPIC_PREFIX", "0123456789012345678901234567890123456789x", "1..40"},
    {"WT_JWT_SECRET", "short", "at least 32 bytes"},
    {"WT_JWT_SECRET", "a-31-byte-secret-never-printed", "at least 32 bytes"},
    {"WT_JWT_ALG", "none", "HS256, RS256 or ES256"},
    {"WT_JWT_ALG", "RS256", "WT_JWT_PUBLIC_KEY_FILE"},
    {"WT_JWT_ISSUER", "", "iss"},
    {"WT_JWT_TTL", "10", "30..86400"},
    {"WT_MAX_FRAME_BYTES", "100", "1024.."},
    {"WT_SEND_QUEUE_BYTES", "1", "4096.."},
    {"WT_WORKER_ID", "worker 1", "[A-Za-z0-9._-]"},
    {"WT_WORKER_ID", "w/1", "[A-Za-z0-9._-]"},
    {"WT_WORKER_ID", "w\xc3\xa9", "[A-Za-z0-9._-]"},
    {"WT_WORKER_ID",
     "0123456789012345678901234567890123456789012345678901234567890123x",
     "longer than 64 bytes"},
    {"WT_WORKER_SESSION_TIMEOUT_MS", "5999", "6000..1800000"},
    {"WT_WORKER_SESSION_TIMEOUT_MS", "1800001", "6000..1800000"},
    {"WT_WORKER_SESSION_TIMEOUT_MS", "10s", "integer"},
    {"WT_KAFKA_SECURITY_PROTOCOL", "tls",
     "plaintext, sasl_plaintext, sasl_ssl or ssl"},
    {"WT_KAFKA_SECURITY_PROTOCOL", "SASL_SSL", "plaintext, sasl_plaintext"},
    {"WT_KAFKA_SASL_MECHANISM", "GSSAPI",
     "SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN"},
    {"WT_KAFKA_USER", "wt gateway", "the SASL user"},
    {"WT_PRODUCER_ID", "wt/admin", "[A-Za-z0-9._-]"},
    {"WT_PRODUCER_KEY_FILE", "/nonexistent/producer.key", "cannot read"},
    {"WT_PRODUCER_KEYS_FILE", "/nonexistent/producer-keys", "cannot read"},
};

static void test_bad_value(void **state) {
  const bad_case *bc = *state;
  kv vals[] = {{bc->name, bc->value}, {NULL, NULL}};
  wt_config c;
  char err[512] = "";
  assert_int_equal(wt_config_load(&c, table_lookup, vals, err, sizeof(err)),
                   WT_ERR_CONFIG);
  /* the variable that is at fault is named first... */
  if (strstr(bc->expect, "WT_JWT_PUBLIC_KEY_FILE") ||
      strstr(bc->expect, "differ"))
    assert_non_null(strstr(err, bc->expect));
  else
    assert_int_equal(strncmp(err, bc->name, strlen(bc->name)), 0);
  /* ...with what it accepts */
  if (!strstr(err, bc->expect))
    fail_msg("message \"%s\" lacks \"%s\"", err, bc->expect);
  /* ...and never the value of a secret */
  if (strcmp(bc->name, "WT_JWT_SECRET") == 0 && strlen(bc->value) >= 4 &&
      strstr(err, bc->value))
    fail_msg("message \"%s\" shows the secret", err);
}

/* Issue 12, item 3: errors never print a secret or a password. */
static void test_secrets_never_printed(void **state) {
  static const struct {
    const char *name, *value, *secret;
  } cases[] = {
      {"WT_JWT_SECRET", "short-jwt-secret", "short-jwt-secret"},
      {"WT_DATABASE_URL", "postgresql://u:pw-s3cret@h:5432/db?bogus=1",
       "pw-s3cret"},
      {"WT_DATABASE_URL", "postgresql://u:pw-s3cret%zz@h/db", "pw-s3cret"},
      {"WT_DATABASE_URL", "host=h password=pw-s3cret bogus=1", "pw-s3cret"},
      {"WT_DATABASE_URL", "host=h password='pw s3cret' bogus=1", "s3cret"},
      {"WT_DATABASE_URL", "postgresql://h/db?password=pw-s3cret&bogus=1",
       "pw-s3cret"},
  };
  (void)state;
  assert_true(wt_config_is_secret("WT_JWT_SECRET"));
  assert_true(wt_config_is_secret("WT_DATABASE_URL"));
  assert_false(wt_config_is_secret("WT_BATCH_MAX"));
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    kv vals[] = {{cases[i].name, cases[i].value}, {NULL, NULL}};
    wt_config c;
    char err[512] = "";
    assert_int_equal(wt_config_load(&c, table_lookup, vals, err, sizeof(err)),
                     WT_ERR_CONFIG);
    assert_int_equal(strncmp(err, cases[i].name, strlen(cases[i].name)), 0);
    if (strstr(err, cases[i].secret))
      fail_msg("case %zu: \"%s\" shows the secret", i, err);
  }
}

static void test_mask_url(void **state) {
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"postgresql://worktracker@127.0.0.1:5432/worktracker",
       "postgresql://worktracker@127.0.0.1:5432/worktracker"},
      {"postgresql://u:pw@h/db", "postgresql://u:***@h/db"},
      {"postgres://u:p%40w:x@h:1/db?sslmode=require",
       "postgres://u:***@h:1/db?sslmode=require"},
      {"postgresql://u:p@w@h/db", "postgresql://u:***@h/db"},
      {"postgresql://h/db?user=u&password=pw&sslmode=require",
       "postgresql://h/db?user=u&password=***&sslmode=require"},
      {"host=h user=u password=pw dbname=d",
       "host=h user=u password=*** dbname=d"},
      {"password = 'p w\\'x' host=h", "password = *** host=h"},
      {"host=h passwordx=1", "host=h passwordx=1"},
      {"postgresql://h:5432/db@x", "postgresql://h:5432/db@x"},
  };
  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char out[256];
    wt_config_mask_url(cases[i].in, out, sizeof(out));
    assert_string_equal(out, cases[i].out);
  }
}

/* Issue 12, item 9: each program checks only what it uses. */
static void test_load_for_program(void **state) {
  kv vals[] = {{"WT_BATCH_MAX", "abc"}, {"WT_HTTP_PORT", "9101"}, {NULL, NULL}};
  wt_config c;
  char err[512] = "";
  (void)state;
  assert_int_equal(wt_config_program("wt-worker"), WT_PROGRAM_WORKER);
  assert_int_equal(wt_config_program("wt-nothing"), 0);
  assert_int_equal(wt_config_load_for(&c, WT_PROGRAM_ADMIN, table_lookup, vals,
                                      err, sizeof(err)),
                   WT_OK);
  assert_int_equal(c.batch_max, 1000); /* unread: the default */
  assert_int_equal(wt_config_load_for(&c, WT_PROGRAM_GATEWAY, table_lookup,
                                      vals, err, sizeof(err)),
                   WT_OK);
  assert_int_equal(c.http_port, 9101);
  assert_int_equal(wt_config_load_for(&c, WT_PROGRAM_WORKER, table_lookup, vals,
                                      err, sizeof(err)),
                   WT_ERR_CONFIG);
  assert_non_null(strstr(err, "WT_BATCH_MAX"));
  /* worker and gateway together: the ports must differ */
  vals[0].value = "10";
  assert_int_equal(wt_config_load_for(&c,
                                      WT_PROGRAM_WORKER | WT_PROGRAM_GATEWAY,
                                      table_lookup, vals, err, sizeof(err)),
                   WT_ERR_CONFIG);
  assert_non_null(strstr(err, "WT_METRICS_PORT"));
}

static void test_stackenv_parse(void **state) {
  wt_dotenv env;
  char err[256] = "";
  (void)state;
  /* what bash's printf '%s=%q\n' writes */
  assert_int_equal(
      wt_stackenv_parse("WT_DATABASE_URL=postgresql://u@h:1/d\\?a=b\\&c=d\n"
                        "WT_STACK_POSTGRES=PostgreSQL\\ 15.4\n"
                        "WT_Q='x y'\n",
                        &env, err, sizeof(err)),
      WT_OK);
  assert_string_equal(wt_dotenv_get(&env, "WT_DATABASE_URL"),
                      "postgresql://u@h:1/d?a=b&c=d");
  assert_string_equal(wt_dotenv_get(&env, "WT_STACK_POSTGRES"),
                      "PostgreSQL 15.4");
  assert_string_equal(wt_dotenv_get(&env, "WT_Q"), "x y");
  wt_dotenv_free(&env);
  assert_int_equal(wt_stackenv_parse("WT_STACK_POSTGRES=PostgreSQL 15.4\n",
                                     &env, err, sizeof(err)),
                   WT_ERR_INVALID);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fputs(text, f) >= 0, 1);
  fclose(f);
}

/* Loads vals for programs; on an error, checks that err starts with the
 * variable want_var, holds want, and never secret. */
static void expect_login_error(unsigned programs, kv *vals,
                               const char *want_var, const char *want,
                               const char *secret) {
  wt_config c;
  char err[512] = "";
  assert_int_equal(
      wt_config_load_for(&c, programs, table_lookup, vals, err, sizeof(err)),
      WT_ERR_CONFIG);
  if (strncmp(err, want_var, strlen(want_var)) != 0 || !strstr(err, want))
    fail_msg("\"%s\": expected %s ... %s", err, want_var, want);
  if (secret && strstr(err, secret))
    fail_msg("\"%s\" shows the password", err);
}

/* Issue 12, item 1: the Kafka login. sasl_* needs a user and exactly one
 * of the password and its file; the file is read at load (newline cut,
 * size capped); the password is in no error. */
static void test_kafka_login(void **state) {
  char dir[] = "/tmp/wt-test-kafka-login-XXXXXX";
  char pw[128], empty[128], big[128], lines[128], missing[128];
  char long_pw[600];
  wt_config c;
  char err[512] = "";
  (void)state;
  assert_non_null(mkdtemp(dir));
  snprintf(pw, sizeof(pw), "%s/pw", dir);
  snprintf(empty, sizeof(empty), "%s/empty", dir);
  snprintf(big, sizeof(big), "%s/big", dir);
  snprintf(lines, sizeof(lines), "%s/lines", dir);
  snprintf(missing, sizeof(missing), "%s/missing", dir);
  memset(long_pw, 'k', sizeof(long_pw) - 1);
  long_pw[sizeof(long_pw) - 1] = '\0';
  write_file(pw, "s3cret-kafka-pw\n");
  write_file(empty, "\n");
  write_file(big, long_pw);
  write_file(lines, "s3cret-line-one\ns3cret-line-two\n");
  assert_true(wt_config_is_secret("WT_KAFKA_PASSWORD"));
  assert_false(wt_config_is_secret("WT_KAFKA_PASSWORD_FILE"));
  {
    kv v[] = {{"WT_KAFKA_SECURITY_PROTOCOL", "sasl_plaintext"}, {NULL, NULL}};
    expect_login_error(WT_PROGRAM_WORKER, v, "WT_KAFKA_USER",
                       "required when WT_KAFKA_SECURITY_PROTOCOL is "
                       "sasl_plaintext",
                       NULL);
  }
  {
    kv v[] = {{"WT_KAFKA_SECURITY_PROTOCOL", "sasl_ssl"},
              {"WT_KAFKA_USER", "wt-gateway"},
              {NULL, NULL}};
    expect_login_error(WT_PROGRAM_GATEWAY, v, "WT_KAFKA_PASSWORD",
                       "WT_KAFKA_PASSWORD_FILE", NULL);
  }
  {
    kv v[] = {{"WT_KAFKA_SECURITY_PROTOCOL", "sasl_plaintext"},
              {"WT_KAFKA_USER", "wt-admin"},
              {"WT_KAFKA_PASSWORD", "s3cret-kafka-pw"},
              {"WT_KAFKA_PASSWORD_FILE", pw},
              {NULL, NULL}};
    expect_login_error(WT_PROGRAM_ADMIN, v, "WT_KAFKA_PASSWORD_FILE",
                       "not both", "s3cret");
  }
  {
    const char *files[][2] = {{missing, "cannot read"},
                              {empty, "is empty"},
                              {big, "larger than 511 bytes"},
                              {lines, "one line"}};
    for (size_t i = 0; i < 4; i++) {
      kv v[] = {{"WT_KAFKA_SECURITY_PROTOCOL", "sasl_plaintext"},
                {"WT_KAFKA_USER", "wt-admin"},
                {"WT_KAFKA_PASSWORD_FILE", files[i][0]},
                {NULL, NULL}};
      expect_login_error(WT_PROGRAM_ADMIN, v, "WT_KAFKA_PASSWORD_FILE",
                         files[i][1], "s3cret");
      expect_login_error(WT_PROGRAM_ADMIN, v, "WT_KAFKA_PASSWORD_FILE",
                         files[i][0], "kkkkkkkk");
    }
  }
  {
    kv v[] = {{"WT_KAFKA_SECURITY_PROTOCOL", "sasl_plaintext"},
              {"WT_KAFKA_USER", "wt-admin"},
              {"WT_KAFKA_PASSWORD", long_pw},
              {NULL, NULL}};
    expect_login_error(WT_PROGRAM_ADMIN, v, "WT_KAFKA_PASSWORD",
                       "longer than 511 bytes", "kkkkkkkk");
  }
  {
    kv v[] = {{"WT_KAFKA_SECURITY_PROTOCOL", "sasl_ssl"},
              {"WT_KAFKA_USER", "wt-admin"},
              {"WT_KAFKA_PASSWORD", "s3cret-kafka-pw"},
              {"WT_KAFKA_CA_FILE", missing},
              {NULL, NULL}};
    expect_login_error(WT_PROGRAM_ADMIN, v, "WT_KAFKA_CA_FILE", missing,
                       "s3cret");
  }
  { /* the file's password, its newline cut; the default mechanism */
    kv v[] = {{"WT_KAFKA_SECURITY_PROTOCOL", "sasl_ssl"},
              {"WT_KAFKA_USER", "wt-worker"},
              {"WT_KAFKA_PASSWORD_FILE", pw},
              {"WT_KAFKA_CA_FILE", pw}, /* readable is all that is checked */
              {NULL, NULL}};
    assert_int_equal(wt_config_load_for(&c, WT_PROGRAM_WORKER, table_lookup, v,
                                        err, sizeof(err)),
                     WT_OK);
    assert_string_equal(c.kafka_password, "s3cret-kafka-pw");
    assert_string_equal(c.kafka_user, "wt-worker");
    assert_string_equal(c.kafka_sasl_mechanism, "SCRAM-SHA-512");
    assert_string_equal(c.kafka_ca_file, pw);
  }
  { /* plaintext: no login, no password kept; the devbroker reads none */
    kv v[] = {{"WT_KAFKA_PASSWORD", "s3cret-kafka-pw"}, {NULL, NULL}};
    kv d[] = {{"WT_KAFKA_SECURITY_PROTOCOL", "sasl_plaintext"}, {NULL, NULL}};
    assert_int_equal(wt_config_load(&c, table_lookup, v, err, sizeof(err)),
                     WT_OK);
    assert_string_equal(c.kafka_security_protocol, "plaintext");
    assert_string_equal(c.kafka_password, "");
    assert_int_equal(wt_config_load_for(&c, WT_PROGRAM_DEVBROKER, table_lookup,
                                        d, err, sizeof(err)),
                     WT_OK);
  }
  { /* the producer id: the program's name unless set */
    kv none[] = {{NULL, NULL}};
    kv v[] = {{"WT_PRODUCER_ID", "ingest-7"}, {NULL, NULL}};
    assert_int_equal(wt_config_load_for(&c, WT_PROGRAM_ADMIN, table_lookup,
                                        none, err, sizeof(err)),
                     WT_OK);
    assert_string_equal(c.producer_id, "wt-admin");
    assert_int_equal(wt_config_load_for(&c, WT_PROGRAM_GATEWAY, table_lookup,
                                        none, err, sizeof(err)),
                     WT_OK);
    assert_string_equal(c.producer_id, "wt-gateway");
    assert_int_equal(wt_config_load_for(&c, WT_PROGRAM_GATEWAY, table_lookup, v,
                                        err, sizeof(err)),
                     WT_OK);
    assert_string_equal(c.producer_id, "ingest-7");
  }
  unlink(pw);
  unlink(empty);
  unlink(big);
  unlink(lines);
  rmdir(dir);
}

/* With its brokers, make run's stack.env gives each program its own login
 * from $WT_STACK_SECRETS_DIR; what the environment sets wins. */
static void test_process_stack_login(void **state) {
  char dir[] = "/tmp/wt-test-stacklogin-XXXXXX";
  char stack[128], path[192];
  wt_config c;
  char err[512] = "";
  (void)state;
  assert_non_null(mkdtemp(dir));
  snprintf(stack, sizeof(stack), "%s/stack.env", dir);
  {
    char text[512];
    snprintf(text, sizeof(text),
             "WT_DATABASE_URL=postgresql://worktracker@127.0.0.1:41234/wt\n"
             "WT_KAFKA_BROKERS=127.0.0.1:41235\n"
             "WT_KAFKA_SECURITY_PROTOCOL=sasl_plaintext\n"
             "WT_KAFKA_SASL_MECHANISM=SCRAM-SHA-256\n"
             "WT_STACK_SECRETS_DIR=%s\n",
             dir);
    write_file(stack, text);
  }
  snprintf(path, sizeof(path), "%s/kafka-wt-worker.password", dir);
  write_file(path, "worker-pw");
  snprintf(path, sizeof(path), "%s/kafka-wt-admin.password", dir);
  write_file(path, "admin-pw\n");
  snprintf(path, sizeof(path), "%s/producer-wt-admin.key", dir);
  write_file(path, "00\n");
  snprintf(path, sizeof(path), "%s/producer-keys", dir);
  write_file(path, "wt-admin system,users 00\n");
  unsetenv("WT_DATABASE_URL");
  unsetenv("WT_KAFKA_BROKERS");
  unsetenv("WT_VAR_DIR");
  setenv("WT_ENV_FILE", "/dev/null", 1);
  setenv("WT_STACK_ENV", stack, 1);

  assert_int_equal(wt_config_from_process_for(&c, WT_PROGRAM_WORKER, NULL, 0,
                                              err, sizeof(err)),
                   WT_OK);
  assert_string_equal(c.kafka_security_protocol, "sasl_plaintext");
  assert_string_equal(c.kafka_sasl_mechanism, "SCRAM-SHA-256");
  assert_string_equal(c.kafka_user, "wt-worker");
  assert_string_equal(c.kafka_password, "worker-pw");
  snprintf(path, sizeof(path), "%s/producer-keys", dir);
  assert_string_equal(c.producer_keys_file, path);

  assert_int_equal(wt_config_from_process_for(&c, WT_PROGRAM_ADMIN, NULL, 0,
                                              err, sizeof(err)),
                   WT_OK);
  assert_string_equal(c.kafka_user, "wt-admin");
  assert_string_equal(c.kafka_password, "admin-pw");
  snprintf(path, sizeof(path), "%s/producer-wt-admin.key", dir);
  assert_string_equal(c.producer_key_file, path);

  /* the gateway has no password file here: its start says which */
  assert_int_equal(wt_config_from_process_for(&c, WT_PROGRAM_GATEWAY, NULL, 0,
                                              err, sizeof(err)),
                   WT_ERR_CONFIG);
  assert_non_null(strstr(err, "kafka-wt-gateway.password"));
  /* ...unless the environment gives its login */
  setenv("WT_KAFKA_USER", "gw-own", 1);
  setenv("WT_KAFKA_PASSWORD", "gw-own-pw", 1);
  assert_int_equal(wt_config_from_process_for(&c, WT_PROGRAM_GATEWAY, NULL, 0,
                                              err, sizeof(err)),
                   WT_OK);
  assert_string_equal(c.kafka_user, "gw-own");
  assert_string_equal(c.kafka_password, "gw-own-pw");
  assert_string_equal(c.producer_key_file, "");
  unsetenv("WT_KAFKA_USER");
  unsetenv("WT_KAFKA_PASSWORD");

  /* brokers of one's own: no login from the stack */
  setenv("WT_KAFKA_BROKERS", "k:9092", 1);
  assert_int_equal(wt_config_from_process_for(&c, WT_PROGRAM_WORKER, NULL, 0,
                                              err, sizeof(err)),
                   WT_OK);
  assert_string_equal(c.kafka_security_protocol, "plaintext");
  assert_string_equal(c.kafka_user, "");
  unsetenv("WT_KAFKA_BROKERS");
  unsetenv("WT_STACK_ENV");
  unsetenv("WT_ENV_FILE");
  snprintf(path, sizeof(path), "rm -rf '%s'", dir);
  assert_int_equal(system(path), 0);
}

/* Issue 12, item 2: WT_TLS_CERT_FILE and WT_TLS_KEY_FILE, both or neither,
 * readable at start, a certificate and the unencrypted key that matches
 * it; errors name the variable and the file, never what is in it. Only the
 * gateway reads them. The files come from the openssl command. */
static void test_tls_files(void **state) {
  char dir[] = "/tmp/wt-test-tls-XXXXXX";
  char cert[128], key[128], other[128], enc[128], junk[128], missing[128];
  char cmd[2048];
  static const char junk_text[] = "not a key: SECRET-MATERIAL-0123\n";
  static const struct {
    int cert, key; /* 0 unset, 1 cert, 2 key, 3 other key, 4 encrypted key,
                      5 junk, 6 missing */
    const char *want;
  } cases[] = {
      {1, 0, "WT_TLS_KEY_FILE: required with WT_TLS_CERT_FILE"},
      {0, 2, "WT_TLS_CERT_FILE: required with WT_TLS_KEY_FILE"},
      {1, 6, "WT_TLS_KEY_FILE: cannot read"},
      {6, 2, "WT_TLS_CERT_FILE: cannot read"},
      {5, 2, "WT_TLS_CERT_FILE: "},
      {1, 5, "holds no unencrypted PEM private key"},
      {1, 4, "holds no unencrypted PEM private key"},
      {1, 3, "is not the key of the certificate"},
  };
  const char *paths[7];
  wt_config c;
  char err[1024] = "";
  (void)state;
  assert_non_null(mkdtemp(dir));
  snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
  snprintf(key, sizeof(key), "%s/key.pem", dir);
  snprintf(other, sizeof(other), "%s/other.pem", dir);
  snprintf(enc, sizeof(enc), "%s/enc.pem", dir);
  snprintf(junk, sizeof(junk), "%s/junk.pem", dir);
  snprintf(missing, sizeof(missing), "%s/missing.pem", dir);
  snprintf(cmd, sizeof(cmd),
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
           "-nodes -keyout %s -out %s -days 1 -subj /CN=localhost && "
           "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
           "-out %s && "
           "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
           "-aes-128-cbc -pass pass:pw-s3cret -out %s",
           key, cert, other, enc);
  if (system(cmd) != 0)
    fail_msg("openssl could not make the test's certificate and keys");
  write_file(junk, junk_text);
  paths[0] = NULL;
  paths[1] = cert;
  paths[2] = key;
  paths[3] = other;
  paths[4] = enc;
  paths[5] = junk;
  paths[6] = missing;
  {
    kv vals[] = {
        {"WT_TLS_CERT_FILE", cert}, {"WT_TLS_KEY_FILE", key}, {NULL, NULL}};
    assert_int_equal(wt_config_load(&c, table_lookup, vals, err, sizeof(err)),
                     WT_OK);
    assert_string_equal(c.tls_cert_file, cert);
    assert_string_equal(c.tls_key_file, key);
  }
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    kv vals[3] = {{NULL, NULL}, {NULL, NULL}, {NULL, NULL}};
    size_t n = 0;
    if (cases[i].cert)
      vals[n++] = (kv){"WT_TLS_CERT_FILE", paths[cases[i].cert]};
    if (cases[i].key)
      vals[n++] = (kv){"WT_TLS_KEY_FILE", paths[cases[i].key]};
    err[0] = '\0';
    assert_int_equal(wt_config_load_for(&c, WT_PROGRAM_GATEWAY, table_lookup,
                                        vals, err, sizeof(err)),
                     WT_ERR_CONFIG);
    if (!strstr(err, cases[i].want))
      fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want);
    if (strstr(err, "SECRET-MATERIAL") || strstr(err, "BEGIN") ||
        strstr(err, "pw-s3cret"))
      fail_msg("case %zu: \"%s\" shows what is in a file", i, err);
    /* the worker and wt-admin do not read them */
    assert_int_equal(wt_config_load_for(&c,
                                        WT_PROGRAM_WORKER | WT_PROGRAM_ADMIN,
                                        table_lookup, vals, err, sizeof(err)),
                     WT_OK);
  }
  for (size_t i = 1; i < 6; i++)
    unlink(paths[i]);
  rmdir(dir);
}

/* Issue 12, item 8: make run's stack.env supplies the service addresses
 * that neither the environment nor .env sets. */
static void test_process_stack_env(void **state) {
  char dir[] = "/tmp/wt-test-stackenv-XXXXXX";
  char stack[128], dotenv[128], used[256];
  wt_config c;
  char err[512] = "";
  (void)state;
  assert_non_null(mkdtemp(dir));
  snprintf(stack, sizeof(stack), "%s/stack.env", dir);
  snprintf(dotenv, sizeof(dotenv), "%s/.env", dir);
  write_file(stack, "WT_DATABASE_URL=postgresql://worktracker@127.0.0.1:"
                    "41234/worktracker\n"
                    "WT_KAFKA_BROKERS=127.0.0.1:41235\n"
                    "WT_STACK_POSTGRES=PostgreSQL\\ 15.4\n"
                    "WT_STACK_KAFKA=apache-kafka\\ 3.9.1\n");
  write_file(dotenv, "WT_KAFKA_BROKERS=dotenv:9092\n");
  unsetenv("WT_DATABASE_URL");
  unsetenv("WT_KAFKA_BROKERS");
  unsetenv("WT_STACK_ENV");
  setenv("WT_ENV_FILE", "/dev/null", 1);

  /* found through WT_VAR_DIR */
  setenv("WT_VAR_DIR", dir, 1);
  assert_int_equal(wt_config_from_process_for(&c, WT_PROGRAM_ADMIN, used,
                                              sizeof(used), err, sizeof(err)),
                   WT_OK);
  assert_string_equal(c.database_url,
                      "postgresql://worktracker@127.0.0.1:41234/worktracker");
  assert_string_equal(c.kafka_brokers, "127.0.0.1:41235");
  assert_non_null(strstr(used, "WT_DATABASE_URL WT_KAFKA_BROKERS from "));
  assert_non_null(strstr(used, stack));

  /* the environment and .env win, each variable on its own */
  setenv("WT_DATABASE_URL", "postgresql://env@h/db", 1);
  setenv("WT_ENV_FILE", dotenv, 1);
  assert_int_equal(wt_config_from_process_for(&c, WT_PROGRAM_ADMIN, used,
                                              sizeof(used), err, sizeof(err)),
                   WT_OK);
  assert_string_equal(c.database_url, "postgresql://env@h/db");
  assert_string_equal(c.kafka_brokers, "dotenv:9092");
  assert_string_equal(used, "");
  unsetenv("WT_DATABASE_URL");
  setenv("WT_ENV_FILE", "/dev/null", 1);

  /* named by WT_STACK_ENV: it must exist; empty: none */
  unsetenv("WT_VAR_DIR");
  setenv("WT_STACK_ENV", stack, 1);
  assert_int_equal(wt_config_from_process_for(&c, WT_PROGRAM_WORKER, NULL, 0,
                                              err, sizeof(err)),
                   WT_OK);
  assert_string_equal(c.kafka_brokers, "127.0.0.1:41235");
  setenv("WT_STACK_ENV", "", 1);
  assert_int_equal(wt_config_from_process_for(&c, WT_PROGRAM_WORKER, NULL, 0,
                                              err, sizeof(err)),
                   WT_OK);
  assert_string_equal(c.kafka_brokers, "127.0.0.1:9092");
  unlink(stack);
  setenv("WT_STACK_ENV", stack, 1);
  assert_int_equal(wt_config_from_process_for(&c, WT_PROGRAM_WORKER, NULL, 0,
                                              err, sizeof(err)),
                   WT_ERR_CONFIG);
  assert_non_null(strstr(err, "WT_STACK_ENV"));
  /* WT_VAR_DIR's, absent: the defaults, no error */
  unsetenv("WT_STACK_ENV");
  setenv("WT_VAR_DIR", dir, 1);
  assert_int_equal(wt_config_from_process_for(&c, WT_PROGRAM_WORKER, NULL, 0,
                                              err, sizeof(err)),
                   WT_OK);
  assert_string_equal(c.kafka_brokers, "127.0.0.1:9092");
  unsetenv("WT_VAR_DIR");
  unsetenv("WT_ENV_FILE");
  unlink(dotenv);
  rmdir(dir);
}

static void test_string_too_long(void **state) {
  char big[2048];
  kv vals[] = {{"WT_DATABASE_URL", big}, {NULL, NULL}};
  wt_config c;
  char err[512] = "";
  (void)state;
  memset(big, 'a', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  assert_int_equal(wt_config_load(&c, table_lookup, vals, err, sizeof(err)),
                   WT_ERR_CONFIG);
  assert_non_null(strstr(err, "WT_DATABASE_URL: longer than"));
}

static void test_dotenv_parse(void **state) {
  wt_dotenv env;
  char err[256] = "";
  const char *text = "# comment\n"
                     "\n"
                     "WT_BATCH_MAX=50\n"
                     "export WT_LOG_LEVEL=warn\n"
                     "  WT_TOPIC_PREFIX = 'lit # not a comment'\n"
                     "WT_JWT_ISSUER=\"a \\\"b\\\" c\"\n"
                     "WT_JWT_AUDIENCE=x # a comment\r\n"
                     "WT_BATCH_MAX=60\n";
  (void)state;
  assert_int_equal(wt_dotenv_parse(text, &env, err, sizeof(err)), WT_OK);
  assert_string_equal(wt_dotenv_get(&env, "WT_BATCH_MAX"), "60");
  assert_string_equal(wt_dotenv_get(&env, "WT_LOG_LEVEL"), "warn");
  assert_string_equal(wt_dotenv_get(&env, "WT_TOPIC_PREFIX"),
                      "lit # not a comment");
  assert_string_equal(wt_dotenv_get(&env, "WT_JWT_ISSUER"), "a \"b\" c");
  assert_string_equal(wt_dotenv_get(&env, "WT_JWT_AUDIENCE"), "x");
  wt_dotenv_free(&env);
}

static void test_dotenv_errors(void **state) {
  static const char *const bad[] = {"NOEQUALS\n", "1BAD=x\n", "A='open\n",
                                    "B=\"x\" tail\n", "=value\n"};
  wt_dotenv env;
  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char err[256] = "";
    assert_int_equal(wt_dotenv_parse(bad[i], &env, err, sizeof(err)),
                     WT_ERR_INVALID);
    assert_non_null(strstr(err, "line 1"));
  }
}

static void test_dotenv_quoted_values(void **state) {
  wt_dotenv env;
  char err[256] = "";
  (void)state;
  assert_int_equal(
      wt_dotenv_parse("A='x y'\nB=\"l1\\nl2\"\nC=\n", &env, err, sizeof(err)),
      WT_OK);
  assert_string_equal(wt_dotenv_get(&env, "A"), "x y");
  assert_string_equal(wt_dotenv_get(&env, "B"), "l1\nl2");
  assert_string_equal(wt_dotenv_get(&env, "C"), "");
  wt_dotenv_free(&env);
}

/* The environment wins over .env; a bad .env value is named. */
static void test_process_env_over_dotenv(void **state) {
  char path[] = "/tmp/wt-test-env-XXXXXX";
  int fd = mkstemp(path);
  const char text[] = "WT_BATCH_MAX=77\nWT_HTTP_PORT=9999\n";
  wt_config c;
  char err[256] = "";
  (void)state;
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, sizeof(text) - 1),
                   (ssize_t)sizeof(text) - 1);
  close(fd);
  setenv("WT_ENV_FILE", path, 1);
  setenv("WT_HTTP_PORT", "8181", 1);
  assert_int_equal(wt_config_from_process(&c, err, sizeof(err)), WT_OK);
  assert_int_equal(c.batch_max, 77);
  assert_int_equal(c.http_port, 8181);
  setenv("WT_BATCH_MAX", "nope", 1);
  assert_int_equal(wt_config_from_process(&c, err, sizeof(err)), WT_ERR_CONFIG);
  assert_non_null(strstr(err, "WT_BATCH_MAX"));
  unsetenv("WT_BATCH_MAX");
  unsetenv("WT_HTTP_PORT");
  unlink(path);
  assert_int_equal(wt_config_from_process(&c, err, sizeof(err)), WT_ERR_CONFIG);
  assert_non_null(strstr(err, path));
  unsetenv("WT_ENV_FILE");
}

int main(void) {
  enum { NBAD = sizeof(bad_cases) / sizeof(bad_cases[0]) };
  static char names[NBAD][96];
  struct CMUnitTest tests[NBAD + 15];
  size_t n = 0;
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_defaults);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_overrides);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_string_too_long);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_dotenv_parse);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_dotenv_errors);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_dotenv_quoted_values);
  tests[n++] =
      (struct CMUnitTest)cmocka_unit_test(test_process_env_over_dotenv);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_secrets_never_printed);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_mask_url);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_load_for_program);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_stackenv_parse);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_process_stack_env);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_tls_files);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_kafka_login);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_process_stack_login);
  for (size_t i = 0; i < NBAD; i++) {
    snprintf(names[i], sizeof(names[i]), "bad_value %s=\"%.20s\"",
             bad_cases[i].name, bad_cases[i].value);
    tests[n++] = (struct CMUnitTest){.name = names[i],
                                     .test_func = test_bad_value,
                                     .initial_state = &bad_cases[i]};
  }
  return _cmocka_run_group_tests("config", tests, n, NULL, NULL);
}
