/* wt-admin: operator commands: `migrate`, `topics`, `user` (add, deactivate,
 * revoke-tokens, list) and `demo`. */
#include <crypt.h>
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
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
#include "wt_kafka.h"
#include "wt_log.h"
#include "wt_migrate.h"

#ifndef WT_MIGRATIONS_DIR
#define WT_MIGRATIONS_DIR "migrations"
#endif

static void usage(FILE *out) {
  fprintf(out,
          "Usage: wt-admin COMMAND [OPTIONS]\n"
          "\n"
          "Commands:\n"
          "  migrate [--dir DIR]  apply pending migrations (default DIR: %s)\n"
          "  topics               create the Kafka topics that are missing\n"
          "  user add USERNAME [--display-name NAME] [--password-stdin]\n"
          "                       create a user; prints its id\n"
          "  user deactivate USER_ID|USERNAME\n"
          "  user revoke-tokens USER_ID|USERNAME\n"
          "  user list [--json]   the users, by username\n"
          "  demo                 demo users, project and logs (idempotent)\n"
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
  rk = wt_kafka_producer_new(cfg->kafka_brokers, "wt-admin", NULL, NULL, NULL,
                             err, sizeof(err));
  if (!rk) {
    WT_ERROR("kafka error=\"%s\"", err);
    return 1;
  }
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

int main(int argc, char **argv) {
  wt_config cfg;
  const char *cmd = argc > 1 ? argv[1] : NULL;

  if (!cmd || strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
      strcmp(cmd, "-h") == 0) {
    usage(cmd ? stdout : stderr);
    return cmd ? 0 : 2;
  }
  if (!wt_config_start("wt-admin", "admin", &cfg))
    return 2;
  if (strcmp(cmd, "migrate") == 0)
    return cmd_migrate(&cfg, argc - 1, argv + 1);
  if (strcmp(cmd, "topics") == 0)
    return cmd_topics(&cfg);
  if (strcmp(cmd, "user") == 0)
    return admin_cmd_user(&cfg, argc - 1, argv + 1);
  if (strcmp(cmd, "demo") == 0)
    return admin_cmd_demo(&cfg, argc - 1, argv + 1);
  fprintf(stderr, "wt-admin: unknown command \"%s\"\n\n", cmd);
  usage(stderr);
  return 2;
}
