#include "wt_test.h"

#include "bench_util.h"
#include "wt_config.h"
#include "wt_db.h"

#include <libpq-fe.h>
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
