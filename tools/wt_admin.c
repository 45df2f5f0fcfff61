/* wt-admin: operator commands: `migrate`, `topics`, `acls`, `user` (add,
 * deactivate, revoke-tokens, list), `demo` and `config check`. */
#include <crypt.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "admin_bus.h"
#include "ing_producer.h"
#include "wt_command.h"
#include "wt_config.h"
#include "wt_db.h"
#include "wt_jwt.h"
#include "wt_kafka.h"
#include "wt_kafka_acl.h"
#include "wt_log.h"
#include "wt_migrate.h"

#ifndef WT_MIGRATIONS_DIR
#define WT_MIGRATIONS_DIR "migrations"
#endif

static void usage(FILE *out) {
  fprintf(
      out,
      "Usage: wt-admin COMMAND [OPTIONS]\n"
      "\n"
      "Commands:\n"
      "  migrate [--dir DIR]  apply pending migrations (default DIR: %s)\n"
      "  topics               create the Kafka topics that are missing\n"
      "  acls [--print]       create the Kafka ACLs of WT_TOPIC_PREFIX\n"
      "                       (docs/security.md; idempotent; needs a super\n"
      "                       user); --print: the kafka-acls.sh commands\n"
      "                       that do it, connecting nowhere\n"
      "  user add USERNAME [--display-name NAME] [--password-stdin]\n"
      "                       create a user; prints its id\n"
      "  user deactivate USER_ID|USERNAME\n"
      "  user revoke-tokens USER_ID|USERNAME\n"
      "  user list [--json]   the users, by username\n"
      "  demo                 demo users, project and logs (idempotent)\n"
      "  config check [PROGRAM...]\n"
      "                       check the configuration of each PROGRAM\n"
      "                       (wt-admin, wt-worker, wt-gateway, wt-devbroker;\n"
      "                       default: the first three), each against the\n"
      "                       variables it uses, keys read; connects nowhere\n"
      "  help                 this text\n"
      "\n"
      "`wt-admin user --help` and `wt-admin demo --help` tell more.\n"
      "Exit status: 0 done, 1 failed, 2 bad usage or configuration.\n"
      "\n",
      WT_MIGRATIONS_DIR);
  wt_config_describe(out);
}

static int cmd_migrate(const wt_config *cfg, int argc, char **argv) {
  static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *dir = getenv("WT_MIGRATIONS_DIR");
  char err[1024];
  wt_db *db = NULL;
  size_t applied = 0;
  int c;

  if (!dir)
    dir = WT_MIGRATIONS_DIR;
  while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
    if (c == 'd') {
      dir = optarg;
    } else if (c == 'h') {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (wt_db_connect(cfg->database_url, "admin", cfg->log_sql, &db, err,
                    sizeof(err)) != WT_OK) {
    WT_ERROR("cannot connect to PostgreSQL error=\"%s\"", err);
    return 1;
  }
  if (wt_migrate_run(db, dir, &applied, err, sizeof(err)) != WT_OK) {
    WT_ERROR("migrate failed error=\"%s\"", err);
    wt_db_destroy(db);
    return 1;
  }
  WT_INFO("migrate done applied=%zu dir=%s", applied, dir);
  wt_db_destroy(db);
  return 0;
}

/* wt-admin's Kafka client for topics and ACLs, logged in as cfg says;
 * NULL after logging why. */
static rd_kafka_t *admin_client(const wt_config *cfg) {
  wt_kafka_conn conn;
  char err[512];
  rd_kafka_t *rk;
  wt_kafka_conn_from_config(cfg, &conn);
  rk = wt_kafka_producer_new(&conn, "wt-admin", NULL, NULL, NULL, err,
                             sizeof(err));
  if (!rk)
    WT_ERROR("kafka error=\"%s\"", err);
  return rk;
}

static int cmd_topics(const wt_config *cfg) {
  wt_kafka_topics t;
  const char *names[3];
  char err[512];
  rd_kafka_t *rk;
  int rc = 0;

  wt_kafka_topic_names(cfg->topic_prefix, &t);
  names[0] = t.commands;
  names[1] = t.events;
  names[2] = t.dlq;
  if (!(rk = admin_client(cfg)))
    return 1;
  if (wt_kafka_ensure_topics(rk, names, 3, cfg->kafka_partitions, 30000, err,
                             sizeof(err)) != WT_OK) {
    WT_ERROR("topics failed error=\"%s\"", err);
    rc = 1;
  } else {
    WT_INFO("topics ready commands=%s events=%s dlq=%s", t.commands, t.events,
            t.dlq);
  }
  rd_kafka_destroy(rk);
  return rc;
}

/* `acls`: who may do what on the topics of WT_TOPIC_PREFIX. */
static int cmd_acls(const wt_config *cfg, int argc, char **argv) {
  char err[512];
  rd_kafka_t *rk;
  size_t created = 0;
  wt_err e;
  int rc = 0;

  if (argc > 2 || (argc == 2 && strcmp(argv[1], "--print") != 0)) {
    fprintf(stderr, "usage: wt-admin acls [--print]\n");
    return 2;
  }
  if (argc == 2) {
    wt_kafka_acls_print(stdout, cfg->topic_prefix, cfg->kafka_brokers,
                        "admin.properties");
    return 0;
  }
  if (!(rk = admin_client(cfg)))
    return 1;
  e = wt_kafka_wait_connected(rk, 15000, err, sizeof(err));
  if (e == WT_OK)
    e = wt_kafka_acls_create(rk, cfg->topic_prefix, 15000, &created, err,
                             sizeof(err));
  if (e == WT_ERR_NOT_FOUND) {
    /* a plaintext development broker (make run without SASL) */
    WT_WARN("acls none created prefix=%s reason=\"%s\"", cfg->topic_prefix,
            err);
  } else if (e != WT_OK) {
    WT_ERROR("acls failed error=\"%s\"", err);
    rc = 1;
  } else {
    WT_INFO("acls ready prefix=%s bindings=%zu", cfg->topic_prefix, created);
  }
  rd_kafka_destroy(rk);
  return rc;
}

/* `config check`: what each program would say at start, before anything
 * starts (deploy/local/run.sh runs it first). */
static int cmd_config(int argc, char **argv) {
  static const char *const dflt[] = {"wt-admin", "wt-worker", "wt-gateway"};
  const char *const *names = dflt;
  size_t n = sizeof(dflt) / sizeof(dflt[0]);
  unsigned all = 0;
  wt_config cfg;
  char err[1024];
  int rc = 0;

  if (argc < 2 || strcmp(argv[1], "check") != 0) {
    fprintf(stderr, "usage: wt-admin config check [PROGRAM...]\n");
    return 2;
  }
  if (argc > 2) {
    names = (const char *const *)(argv + 2);
    n = (size_t)argc - 2;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned bit = wt_config_program(names[i]);
    if (!bit) {
      fprintf(stderr,
              "wt-admin config check: unknown program \"%s\" (wt-admin, "
              "wt-worker, wt-gateway or wt-devbroker)\n",
              names[i]);
      return 2;
    }
    all |= bit;
    if (wt_config_from_process_for(&cfg, bit, NULL, 0, err, sizeof(err)) !=
        WT_OK) {
      fprintf(stderr, "wt-admin config check: %s: %s\n", names[i], err);
      rc = 2;
      continue;
    }
    if (bit == WT_PROGRAM_GATEWAY) {
      wt_jwt *jwt = NULL;
      if (wt_jwt_new(&cfg, &jwt, err, sizeof(err)) != WT_OK) {
        fprintf(stderr, "wt-admin config check: %s: %s\n", names[i], err);
        rc = 2;
        continue;
      }
      wt_jwt_destroy(jwt);
    }
  }
  /* what the programs share on one host (ports) */
  if (rc == 0 && wt_config_from_process_for(&cfg, all, NULL, 0, err,
                                            sizeof(err)) != WT_OK) {
    fprintf(stderr, "wt-admin config check: %s\n", err);
    rc = 2;
  }
  if (rc == 0) {
    printf("config ok:");
    for (size_t i = 0; i < n; i++)
      printf(" %s", names[i]);
    printf("\n");
  }
  return rc;
}

int main(int argc, char **argv) {
  wt_config cfg;
  const char *cmd = argc > 1 ? argv[1] : NULL;

  if (!cmd || strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
      strcmp(cmd, "-h") == 0) {
    usage(cmd ? stdout : stderr);
    return cmd ? 0 : 2;
  }
  if (strcmp(cmd, "config") == 0)
    return cmd_config(argc - 1, argv + 1);
  if (!wt_config_start("wt-admin", "admin", &cfg))
    return 2;
  if (strcmp(cmd, "migrate") == 0)
    return cmd_migrate(&cfg, argc - 1, argv + 1);
  if (strcmp(cmd, "topics") == 0)
    return cmd_topics(&cfg);
  if (strcmp(cmd, "acls") == 0)
    return cmd_acls(&cfg, argc - 1, argv + 1);
  if (strcmp(cmd, "user") == 0)
    return admin_cmd_user(&cfg, argc - 1, argv + 1);
  if (strcmp(cmd, "demo") == 0)
    return admin_cmd_demo(&cfg, argc - 1, argv + 1);
  fprintf(stderr, "wt-admin: unknown command \"%s\"\n\n", cmd);
  usage(stderr);
  return 2;
}
