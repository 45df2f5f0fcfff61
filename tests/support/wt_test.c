#include "wt_test.h"

#include "bench_util.h"
#include "wt_config.h"
#include "wt_db.h"
#include "wt_kafka.h"
#include "wt_kafka_acl.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char stack_names[32][64];
static char stack_values[32][1024];
static int stack_count = -1;

/* The fixture's stack.env, parsed as the programs parse it (values as
 * bash's printf %q writes them: "apache-kafka\\ 3.9.1"). */
static void load_stack_env(void) {
  const char *path = getenv("WT_TEST_STACK_ENV");
  char text[32 * 1200], err[256];
  size_t len;
  wt_dotenv env = {0};
  FILE *f;
  if (stack_count >= 0)
    return;
  stack_count = 0;
  if (!path || !(f = fopen(path, "r")))
    return;
  len = fread(text, 1, sizeof(text) - 1, f);
  fclose(f);
  text[len] = '\0';
  if (wt_stackenv_parse(text, &env, err, sizeof(err)) != WT_OK) {
    fprintf(stderr, "integration test: %s: %s\n", path, err);
    exit(1);
  }
  for (size_t i = 0; i < env.count && stack_count < 32; i++, stack_count++) {
    snprintf(stack_names[stack_count], sizeof(stack_names[0]), "%s",
             env.names[i]);
    snprintf(stack_values[stack_count], sizeof(stack_values[0]), "%s",
             env.values[i]);
  }
  wt_dotenv_free(&env);
}

const char *wt_test_stack_value(const char *name) {
  load_stack_env();
  for (int i = 0; i < stack_count; i++)
    if (strcmp(stack_names[i], name) == 0)
      return stack_values[i];
  return NULL;
}

static const char *need(const char *test_var, const char *stack_var) {
  const char *v = getenv(test_var);
  if (v && *v)
    return v;
  v = wt_test_stack_value(stack_var);
  if (v && *v)
    return v;
  fprintf(stderr,
          "integration test: neither %s nor %s in $WT_TEST_STACK_ENV (%s); "
          "run through ctest, whose fixture starts the stack\n",
          test_var, stack_var,
          getenv("WT_TEST_STACK_ENV") ? getenv("WT_TEST_STACK_ENV") : "unset");
  exit(1);
}

const char *wt_test_database_url(void) {
  return need("WT_TEST_DATABASE_URL", "WT_DATABASE_URL");
}

const char *wt_test_kafka_brokers(void) {
  return need("WT_TEST_KAFKA_BROKERS", "WT_KAFKA_BROKERS");
}

/* stack.env's protocol, "plaintext" when a broker of the tester's own is
 * named (as tests/cli/lib.sh does) */
static const char *kafka_protocol(void) {
  const char *v = getenv("WT_TEST_KAFKA_BROKERS");
  if (v && *v)
    return "plaintext";
  v = wt_test_stack_value("WT_KAFKA_SECURITY_PROTOCOL");
  return v && *v ? v : "plaintext";
}

static bool kafka_sasl(void) {
  return strncmp(kafka_protocol(), "sasl_", 5) == 0;
}

static const char *secrets_dir(void) {
  const char *v = wt_test_stack_value("WT_STACK_SECRETS_DIR");
  return v && *v ? v : NULL;
}

const wt_kafka_conn *wt_test_kafka_conn(const char *principal) {
  static struct {
    char user[64];
    char password[WT_CONFIG_SECRET_MAX];
    wt_kafka_conn conn;
  } logins[8];
  static int nlogins;
  char path[1200];
  size_t len;
  FILE *f;
  for (int i = 0; i < nlogins; i++)
    if (strcmp(logins[i].user, principal) == 0)
      return &logins[i].conn;
  if (nlogins == 8) {
    fprintf(stderr, "wt_test_kafka_conn: too many principals\n");
    exit(1);
  }
  snprintf(logins[nlogins].user, sizeof(logins[0].user), "%s", principal);
  logins[nlogins].conn = (wt_kafka_conn){
      .brokers = wt_test_kafka_brokers(),
      .security_protocol = kafka_protocol(),
      .sasl_mechanism = wt_test_stack_value("WT_KAFKA_SASL_MECHANISM"),
      .user = logins[nlogins].user,
      .password = logins[nlogins].password,
      .ca_file = wt_test_stack_value("WT_STACK_KAFKA_CA_FILE"),
  };
  if (kafka_sasl()) {
    snprintf(path, sizeof(path), "%s/kafka-%s.password",
             secrets_dir() ? secrets_dir() : ".", principal);
    f = fopen(path, "r");
    if (!f) {
      fprintf(stderr, "integration test: no password of %s (%s)\n", principal,
              path);
      exit(1);
    }
    len = fread(logins[nlogins].password, 1, sizeof(logins[0].password) - 1, f);
    fclose(f);
    while (len > 0 && (logins[nlogins].password[len - 1] == '\n' ||
                       logins[nlogins].password[len - 1] == '\r'))
      len--;
    logins[nlogins].password[len] = '\0';
  }
  return &logins[nlogins++].conn;
}

static void set_or_unset(const char *name, const char *value) {
  if (value)
    setenv(name, value, 1);
  else
    unsetenv(name);
}

void wt_test_program_env(const char *program) {
  char path[1200];
  const char *secrets = secrets_dir();
  bool sasl = kafka_sasl();
  setenv("WT_KAFKA_BROKERS", wt_test_kafka_brokers(), 1);
  setenv("WT_KAFKA_SECURITY_PROTOCOL", kafka_protocol(), 1);
  set_or_unset("WT_KAFKA_SASL_MECHANISM",
               sasl ? wt_test_stack_value("WT_KAFKA_SASL_MECHANISM") : NULL);
  set_or_unset("WT_KAFKA_USER", sasl ? program : NULL);
  unsetenv("WT_KAFKA_PASSWORD");
  snprintf(path, sizeof(path), "%s/kafka-%s.password", secrets ? secrets : "",
           program);
  set_or_unset("WT_KAFKA_PASSWORD_FILE", sasl ? path : NULL);
  snprintf(path, sizeof(path), "%s/producer-%s.key", secrets ? secrets : "",
           program);
  if (secrets && access(path, R_OK) == 0) {
    setenv("WT_PRODUCER_ID", program, 1);
    setenv("WT_PRODUCER_KEY_FILE", path, 1);
  } else {
    unsetenv("WT_PRODUCER_ID");
    unsetenv("WT_PRODUCER_KEY_FILE");
  }
  snprintf(path, sizeof(path), "%s/producer-keys", secrets ? secrets : "");
  set_or_unset("WT_PRODUCER_KEYS_FILE",
               secrets && strcmp(program, "wt-worker") == 0 &&
                       access(path, R_OK) == 0
                   ? path
                   : NULL);
}

void wt_test_kafka_setup(const char *prefix, int partitions) {
  wt_kafka_topics t;
  const char *names[3];
  char err[512];
  rd_kafka_t *rk =
      wt_kafka_producer_new(wt_test_kafka_conn("wt-admin"), "t-setup", NULL,
                            NULL, NULL, err, sizeof(err));
  if (!rk) {
    fprintf(stderr, "wt_test_kafka_setup: %s\n", err);
    exit(1);
  }
  wt_kafka_topic_names(prefix, &t);
  names[0] = t.commands;
  names[1] = t.events;
  names[2] = t.dlq;
  if (wt_kafka_ensure_topics(rk, names, 3, partitions, 30000, err,
                             sizeof(err)) != WT_OK ||
      (kafka_sasl() && wt_kafka_acls_create(rk, prefix, 15000, NULL, err,
                                            sizeof(err)) != WT_OK)) {
    fprintf(stderr, "wt_test_kafka_setup %s: %s\n", prefix, err);
    exit(1);
  }
  rd_kafka_destroy(rk);
}

void wt_test_unique(const char *tag, char *out, size_t size) {
  static int counter;
  snprintf(out, size, "%s-%ld-%d-%d", tag, (long)time(NULL) % 100000,
           (int)getpid(), ++counter);
}

static PGconn *admin_conn(void) {
  PGconn *c = PQconnectdb(wt_test_database_url());
  if (PQstatus(c) != CONNECTION_OK) {
    fprintf(stderr, "cannot connect to %s: %s", wt_test_database_url(),
            PQerrorMessage(c));
    exit(1);
  }
  return c;
}

const char *wt_test_create_database(const char *tag, char *name_out,
                                    size_t name_size) {
  static char conninfo[2048];
  static int counter;
  char sql[256], err[256];
  PGconn *c = admin_conn();
  PGresult *r;
  snprintf(name_out, name_size, "wt_test_%s_%d_%d", tag, (int)getpid(),
           ++counter);
  snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name_out);
  r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) {
    fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
    exit(1);
  }
  PQclear(r);
  PQfinish(c);
  if (wt_db_conninfo_with_dbname(wt_test_database_url(), name_out, conninfo,
                                 sizeof(conninfo), err, sizeof(err)) != WT_OK) {
    fprintf(stderr, "%s\n", err);
    exit(1);
  }
  return conninfo;
}

void wt_test_drop_database(const char *name) {
  char sql[256];
  PGconn *c = admin_conn();
  snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
  PQclear(PQexec(c, sql));
  PQfinish(c);
}

int wt_test_free_port(void) {
  int port = bench_free_port();
  if (port < 0) {
    fprintf(stderr, "no free port\n");
    exit(1);
  }
  return port;
}
