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

#define DEFAULT_TIMEOUT_MS 15000 /* wait for a command's outcome */
#define FLUSH_TIMEOUT_MS 10000   /* wait for Kafka to take a command */
#define PASSWORD_MAX 1024

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

/* --- commands through Kafka ------------------------------------------------
 * user.* and the demo go the way every command goes: ing_producer into
 * <prefix>.commands, then the worker's outcome read back from
 * <prefix>.events. Reads (names to ids, the list, what the demo already
 * made) come from PostgreSQL through wt_db. */

typedef struct admin_bus {
  ing_outcomes *outcomes;
  ing_producer *producer;
  int timeout_ms; /* wait for each outcome */
} admin_bus;

static int bus_open(const wt_config *cfg, int timeout_ms, admin_bus *b) {
  char err[512];
  b->timeout_ms = timeout_ms;
  /* the reader first: it starts at the end of the events topic */
  b->outcomes = ing_outcomes_new(cfg, "wt-admin", err, sizeof(err));
  if (!b->outcomes) {
    WT_ERROR("cannot read outcomes error=\"%s\"", err);
    return -1;
  }
  b->producer = ing_producer_new(cfg, "wt-admin", err, sizeof(err));
  if (!b->producer) {
    WT_ERROR("cannot produce commands error=\"%s\"", err);
    ing_outcomes_destroy(b->outcomes);
    b->outcomes = NULL;
    return -1;
  }
  return 0;
}

static void bus_close(admin_bus *b) {
  ing_producer_destroy(b->producer);
  ing_outcomes_destroy(b->outcomes);
  b->producer = NULL;
  b->outcomes = NULL;
}

/* A command of wt-admin: a fresh id, now, origin "wt-admin". actor_id NULL:
 * the system. */
static void command_init(wt_command *cmd, wt_cmd_type type,
                         const char *actor_id) {
  memset(cmd, 0, sizeof(*cmd));
  cmd->type = type;
  wt_uuid_generate(cmd->command_id);
  cmd->actor_system = actor_id == NULL;
  if (actor_id)
    snprintf(cmd->actor_id, sizeof(cmd->actor_id), "%s", actor_id);
  cmd->issued_at = wt_time_now_us();
  snprintf(cmd->origin, sizeof(cmd->origin), "wt-admin");
}

/* The payload check the worker makes, done here first: a typo is answered
 * at once instead of after a round trip (or a timeout without a worker). */
static int check_payload(const wt_command *cmd) {
  wt_command *parsed = malloc(sizeof(*parsed));
  char *json = wt_command_to_json(cmd);
  char err[256];
  int rc = -1;
  if (!parsed || !json) {
    WT_ERROR("out of memory");
  } else if (wt_command_parse(json, strlen(json), parsed, err, sizeof(err)) !=
             WT_OK) {
    fprintf(stderr, "wt-admin: %s not sent: %s\n", wt_cmd_type_name(cmd->type),
            err);
  } else if (parsed->payload_error) {
    fprintf(stderr, "wt-admin: %s rejected: invalid: %s\n",
            wt_cmd_type_name(cmd->type), parsed->payload_message);
  } else {
    rc = 0;
  }
  free(json);
  free(parsed);
  return rc;
}

/* Sends cmd and waits for its outcome. 0: applied; 1: rejected, or not
 * decided in time, or not sent (said on stderr). */
static int bus_submit(admin_bus *b, const wt_command *cmd) {
  const char *type = wt_cmd_type_name(cmd->type);
  ing_outcome out;
  char err[512];
  char *json = NULL;
  wt_err e;

  if (ing_producer_send(b->producer, cmd, err, sizeof(err)) != WT_OK ||
      ing_producer_flush(b->producer, FLUSH_TIMEOUT_MS, err, sizeof(err)) !=
          WT_OK) {
    fprintf(stderr, "wt-admin: %s not sent: %s\n", type, err);
    return 1;
  }
  e = ing_outcomes_wait(b->outcomes, cmd->command_id, b->timeout_ms, &json);
  if (e == WT_ERR_TIMEOUT) {
    fprintf(stderr,
            "wt-admin: no outcome for %s (command %s) within %d ms: is "
            "wt-worker running? The command is queued and may still be "
            "applied.\n",
            type, cmd->command_id, b->timeout_ms);
    return 1;
  }
  if (e != WT_OK || ing_outcome_parse(json, &out, err, sizeof(err)) != WT_OK) {
    fprintf(stderr, "wt-admin: %s: cannot read its outcome: %s\n", type,
            e != WT_OK ? wt_strerror(e) : err);
    free(json);
    return 1;
  }
  free(json);
  if (!out.applied) {
    fprintf(stderr, "wt-admin: %s rejected: %s: %s\n", type,
            wt_reject_name(out.code), out.message);
    return 1;
  }
  WT_INFO("command applied type=%s event=%s command_id=%s stream=%s seq=%lld",
          type, out.type, cmd->command_id, out.project_id, out.seq);
  return 0;
}

/* --timeout-ms: 0 on success, -1 (said on stderr) */
static int parse_timeout(const char *s, int *out) {
  char *end = NULL;
  long v;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < 1 || v > 3600000) {
    fprintf(stderr, "wt-admin: --timeout-ms: expected 1..3600000, got \"%s\"\n",
            s);
    return -1;
  }
  *out = (int)v;
  return 0;
}

/* --- passwords ----------------------------------------------------------- */

/* yescrypt ("$y$") with a fresh salt at libcrypt's default cost. */
static int hash_password(const char *password, char *out, size_t out_size) {
  struct crypt_data *data = calloc(1, sizeof(*data)); /* ~32 KiB */
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  const char *h;
  int rc = -1;
  if (!data)
    return -1;
  if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt))) {
    h = crypt_rn(password, salt, data, sizeof(*data));
    if (h && h[0] == '$' && strlen(h) < out_size) {
      memcpy(out, h, strlen(h) + 1);
      rc = 0;
    }
  }
  explicit_bzero(data, sizeof(*data));
  free(data);
  return rc;
}

/* Does password match a stored crypt(3) hash? */
static bool password_matches(const char *password, const char *hash) {
  struct crypt_data *data = calloc(1, sizeof(*data));
  const char *h;
  bool ok = false;
  if (!data)
    return false;
  h = crypt_rn(password, hash, data, sizeof(*data));
  ok = h && h[0] == '$' && strcmp(h, hash) == 0;
  explicit_bzero(data, sizeof(*data));
  free(data);
  return ok;
}

/* One line of stdin, without its line end; echo off on a terminal. */
static int read_password_line(char *buf, size_t size) {
  struct termios old, quiet;
  bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
  char *got;
  size_t len;
  if (tty) {
    fprintf(stderr, "Password: ");
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  got = fgets(buf, (int)size, stdin);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fputc('\n', stderr);
  }
  if (!got)
    return -1;
  len = strcspn(buf, "\r\n");
  if (!buf[len] && len + 1 == size)
    return -1; /* longer than the buffer */
  buf[len] = '\0';
  return 0;
}

/* --- user ---------------------------------------------------------------- */

static void usage_user(FILE *out) {
  fprintf(out,
          "Usage: wt-admin user add USERNAME [--display-name NAME]\n"
          "                         [--password-stdin | --password PASS]\n"
          "                         [--timeout-ms MS]\n"
          "       wt-admin user deactivate USER_ID|USERNAME [--timeout-ms MS]\n"
          "       wt-admin user revoke-tokens USER_ID|USERNAME "
          "[--timeout-ms MS]\n"
          "       wt-admin user list [--json]\n"
          "\n"
          "  add            create a user: the password is hashed here "
          "(yescrypt) and\n"
          "                 only the hash is sent. Prefer --password-stdin "
          "(one line;\n"
          "                 on a terminal it is read without echo): "
          "--password shows\n"
          "                 in the process list. The display name defaults "
          "to USERNAME.\n"
          "                 Prints the new user's id.\n"
          "  deactivate     the user can no longer log in; open sessions "
          "close\n"
          "  revoke-tokens  every token issued so far stops working "
          "(token_version + 1)\n"
          "  list           id, username, display name, active, "
          "token_version, created\n"
          "                 at, by username; --json: one JSON object a line\n"
          "\n"
          "A USERNAME is looked up in PostgreSQL; an argument shaped like a "
          "UUID is an id.\n"
          "Commands go through Kafka to wt-worker; each waits for its "
          "outcome for\n"
          "--timeout-ms (default %d). Exit status: 0 applied, 1 rejected "
          "(code and\n"
          "message on stderr), not decided in time or failed, 2 bad usage.\n",
          DEFAULT_TIMEOUT_MS);
}

static int cmd_user_add(const wt_config *cfg, int argc, char **argv) {
  static const struct option opts[] = {
      {"display-name", required_argument, NULL, 'n'},
      {"password", required_argument, NULL, 'p'},
      {"password-stdin", no_argument, NULL, 's'},
      {"timeout-ms", required_argument, NULL, 't'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *display_name = NULL;
  char password[PASSWORD_MAX + 2] = "";
  bool have_password = false, from_stdin = false;
  int timeout_ms = DEFAULT_TIMEOUT_MS;
  admin_bus bus = {0};
  wt_command cmd;
  int c, rc = 1;

  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'n': display_name = optarg; break;
    case 'p':
      if (strlen(optarg) > PASSWORD_MAX) {
        fprintf(stderr, "wt-admin: password longer than %d bytes\n",
                PASSWORD_MAX);
        return 2;
      }
      snprintf(password, sizeof(password), "%s", optarg);
      explicit_bzero(optarg, strlen(optarg)); /* out of /proc/PID/cmdline */
      have_password = true;
      break;
    case 's': from_stdin = true; break;
    case 't':
      if (parse_timeout(optarg, &timeout_ms) != 0)
        return 2;
      break;
    case 'h': usage_user(stdout); return 0;
    default: usage_user(stderr); return 2;
    }
  }
  if (optind + 1 != argc || have_password == from_stdin) {
    fprintf(stderr, "wt-admin: user add needs USERNAME and one of "
                    "--password-stdin or --password\n\n");
    usage_user(stderr);
    return 2;
  }
  if (from_stdin && read_password_line(password, sizeof(password)) != 0) {
    fprintf(stderr,
            "wt-admin: no password line on stdin (or longer than %d "
            "bytes)\n",
            PASSWORD_MAX);
    goto out;
  }
  if (!password[0] || strlen(password) > PASSWORD_MAX) {
    fprintf(stderr, "wt-admin: the password must be 1..%d bytes\n",
            PASSWORD_MAX);
    goto out;
  }
  command_init(&cmd, WT_CMD_USER_CREATE, NULL);
  wt_uuid_generate(cmd.user_id);
  memcpy(cmd.target_user_id, cmd.user_id, WT_UUID_STR);
  snprintf(cmd.username, sizeof(cmd.username), "%s", argv[optind]);
  snprintf(cmd.display_name, sizeof(cmd.display_name), "%s",
           display_name ? display_name : argv[optind]);
  if (strlen(argv[optind]) >= sizeof(cmd.username) ||
      (display_name && strlen(display_name) >= sizeof(cmd.display_name))) {
    fprintf(stderr, "wt-admin: user.create rejected: invalid: username or "
                    "display name too long\n");
    goto out;
  }
  if (hash_password(password, cmd.password_hash, sizeof(cmd.password_hash)) !=
      0) {
    fprintf(stderr, "wt-admin: cannot hash the password (libcrypt)\n");
    goto out;
  }
  explicit_bzero(password, sizeof(password));
  if (check_payload(&cmd) != 0 || bus_open(cfg, timeout_ms, &bus) != 0)
    goto out;
  rc = bus_submit(&bus, &cmd);
  if (rc == 0)
    printf("%s\n", cmd.user_id);
out:
  explicit_bzero(password, sizeof(password));
  bus_close(&bus);
  return rc;
}

/* USER_ID|USERNAME -> id: 0, or -1 (said on stderr). */
static int resolve_user(const wt_config *cfg, const char *arg,
                        char id[WT_UUID_STR]) {
  const char *params[1] = {arg};
  PGresult *res = NULL;
  wt_db *db = NULL;
  char err[512];
  int rc = -1;

  if (wt_uuid_valid(arg)) {
    memcpy(id, arg, WT_UUID_STR);
    return 0;
  }
  if (wt_db_connect(cfg->database_url, "admin", cfg->log_sql, &db, err,
                    sizeof(err)) != WT_OK) {
    WT_ERROR("cannot connect to PostgreSQL error=\"%s\"", err);
    return -1;
  }
  if (wt_db_exec(db, "admin_user_by_name",
                 "SELECT id::text FROM users WHERE username = $1", 1, params,
                 &res, err, sizeof(err)) != WT_OK) {
    WT_ERROR("cannot read users error=\"%s\"", err);
  } else if (PQntuples(res) != 1) {
    fprintf(stderr, "wt-admin: no user named \"%s\"\n", arg);
  } else {
    snprintf(id, WT_UUID_STR, "%s", PQgetvalue(res, 0, 0));
    rc = 0;
  }
  PQclear(res);
  wt_db_destroy(db);
  return rc;
}

/* user deactivate / user revoke-tokens */
static int cmd_user_change(const wt_config *cfg, wt_cmd_type type, int argc,
                           char **argv) {
  static const struct option opts[] = {
      {"timeout-ms", required_argument, NULL, 't'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  int timeout_ms = DEFAULT_TIMEOUT_MS;
  admin_bus bus = {0};
  wt_command cmd;
  int c, rc;

  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 't') {
      if (parse_timeout(optarg, &timeout_ms) != 0)
        return 2;
    } else if (c == 'h') {
      usage_user(stdout);
      return 0;
    } else {
      usage_user(stderr);
      return 2;
    }
  }
  if (optind + 1 != argc) {
    fprintf(stderr, "wt-admin: user %s needs one USER_ID or USERNAME\n\n",
            argv[0]);
    usage_user(stderr);
    return 2;
  }
  command_init(&cmd, type, NULL);
  if (resolve_user(cfg, argv[optind], cmd.user_id) != 0)
    return 1;
  memcpy(cmd.target_user_id, cmd.user_id, WT_UUID_STR);
  if (bus_open(cfg, timeout_ms, &bus) != 0)
    return 1;
  rc = bus_submit(&bus, &cmd);
  if (rc == 0)
    printf("%s\n", cmd.user_id);
  bus_close(&bus);
  return rc;
}

/* Writes s and pads it to width columns (UTF-8 aware). */
static void print_cell(const char *s, long width) {
  long chars = wt_utf8_chars(s, strlen(s));
  fputs(s, stdout);
  for (long i = chars < 0 ? (long)strlen(s) : chars; i < width; i++)
    fputc(' ', stdout);
}

static int cmd_user_list(const wt_config *cfg, int argc, char **argv) {
  static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  static const char *const heads[6] = {
      "ID",     "USERNAME",      "DISPLAY NAME",
      "ACTIVE", "TOKEN_VERSION", "CREATED_AT"};
  long width[6];
  bool json = false;
  PGresult *res = NULL;
  wt_db *db = NULL;
  char err[512];
  int c, rows;

  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 'j') {
      json = true;
    } else if (c == 'h') {
      usage_user(stdout);
      return 0;
    } else {
      usage_user(stderr);
      return 2;
    }
  }
  if (optind != argc) {
    usage_user(stderr);
    return 2;
  }
  if (wt_db_connect(cfg->database_url, "admin", cfg->log_sql, &db, err,
                    sizeof(err)) != WT_OK) {
    WT_ERROR("cannot connect to PostgreSQL error=\"%s\"", err);
    return 1;
  }
  if (wt_db_exec(db, "admin_user_list",
                 "SELECT id::text, username, display_name, is_active, "
                 "token_version, to_char(created_at AT TIME ZONE 'UTC', "
                 "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                 "FROM users ORDER BY username",
                 0, NULL, &res, err, sizeof(err)) != WT_OK) {
    WT_ERROR("cannot read users error=\"%s\"", err);
    PQclear(res);
    wt_db_destroy(db);
    return 1;
  }
  rows = PQntuples(res);
  for (int f = 0; f < 6; f++) {
    width[f] = (long)strlen(heads[f]);
    for (int r = 0; r < rows; r++) {
      long n =
          wt_utf8_chars(PQgetvalue(res, r, f), (size_t)PQgetlength(res, r, f));
      if (n > width[f])
        width[f] = n;
    }
  }
  if (!json) {
    for (int f = 0; f < 6; f++)
      print_cell(heads[f], f < 5 ? width[f] + 2 : 0);
    fputc('\n', stdout);
  }
  for (int r = 0; r < rows; r++) {
    bool active = strcmp(PQgetvalue(res, r, 3), "t") == 0;
    if (json) {
      json_object *o = json_object_new_object();
      json_object_object_add(o, "id",
                             json_object_new_string(PQgetvalue(res, r, 0)));
      json_object_object_add(o, "username",
                             json_object_new_string(PQgetvalue(res, r, 1)));
      json_object_object_add(o, "display_name",
                             json_object_new_string(PQgetvalue(res, r, 2)));
      json_object_object_add(o, "is_active", json_object_new_boolean(active));
      json_object_object_add(
          o, "token_version",
          json_object_new_int64(strtoll(PQgetvalue(res, r, 4), NULL, 10)));
      json_object_object_add(o, "created_at",
                             json_object_new_string(PQgetvalue(res, r, 5)));
      puts(json_object_to_json_string_ext(
          o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
      json_object_put(o);
    } else {
      for (int f = 0; f < 6; f++)
        print_cell(f == 3 ? (active ? "yes" : "no") : PQgetvalue(res, r, f),
                   f < 5 ? width[f] + 2 : 0);
      fputc('\n', stdout);
    }
  }
  PQclear(res);
  wt_db_destroy(db);
  return 0;
}

static int cmd_user(const wt_config *cfg, int argc, char **argv) {
  const char *sub = argc > 1 ? argv[1] : NULL;
  if (!sub) {
    usage_user(stderr);
    return 2;
  }
  if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 ||
      strcmp(sub, "help") == 0) {
    usage_user(stdout);
    return 0;
  }
  if (strcmp(sub, "add") == 0)
    return cmd_user_add(cfg, argc - 1, argv + 1);
  if (strcmp(sub, "deactivate") == 0)
    return cmd_user_change(cfg, WT_CMD_USER_DEACTIVATE, argc - 1, argv + 1);
  if (strcmp(sub, "revoke-tokens") == 0)
    return cmd_user_change(cfg, WT_CMD_USER_REVOKE_TOKENS, argc - 1, argv + 1);
  if (strcmp(sub, "list") == 0)
    return cmd_user_list(cfg, argc - 1, argv + 1);
  fprintf(stderr, "wt-admin: unknown user command \"%s\"\n\n", sub);
  usage_user(stderr);
  return 2;
}

/* --- demo ---------------------------------------------------------------- */

/* Fixed ids: a re-run finds what an earlier run made (documented in
 * `wt-admin demo --help`). */
#define DEMO_ALICE_ID "00000000-0000-4000-8000-0000000a11ce"
#define DEMO_BOB_ID "00000000-0000-4000-8000-000000000b0b"
#define DEMO_PROJECT_ID "00000000-0000-4000-8000-00000000de70"
#define DEMO_LOG1_ID "00000000-0000-4000-8000-000000000001"
#define DEMO_LOG2_ID "00000000-0000-4000-8000-000000000002"
#define DEMO_PROJECT_NAME "Demo project"

typedef struct demo_user {
  const char *username, *display_name, *fixed_id, *password_env;
  const char *password;
  char id[WT_UUID_STR];
  bool exists;
  bool password_known; /* the printed password logs in */
} demo_user;

typedef struct demo_log {
  const char *id;
  int author;             /* index into the users */
  int start_min, end_min; /* minutes before now */
  const char *description;
} demo_log;

static void usage_demo(FILE *out) {
  fprintf(out,
          "Usage: wt-admin demo [--timeout-ms MS]\n"
          "\n"
          "Demo data for `make run`, made through Kafka and wt-worker like "
          "any command:\n"
          "  users    alice (Alice Example) and bob (Bob Example), passwords\n"
          "           alice-demo-password / bob-demo-password, or "
          "$WT_DEMO_PASSWORD_ALICE\n"
          "           and $WT_DEMO_PASSWORD_BOB\n"
          "  project  \"%s\", owned by alice, bob a member,\n"
          "           id %s\n"
          "  logs     one by alice, one by bob, ids\n"
          "           %s and\n"
          "           %s\n"
          "Users are found by username, the rest by these fixed ids: a re-run "
          "skips what\n"
          "exists and creates what is missing. Prints the credentials at the "
          "end.\n"
          "Each command waits for its outcome for --timeout-ms (default %d).\n",
          DEMO_PROJECT_NAME, DEMO_PROJECT_ID, DEMO_LOG1_ID, DEMO_LOG2_ID,
          DEFAULT_TIMEOUT_MS);
}

/* What exists already, in one round trip. 0 or -1 (logged). */
static int demo_read_state(const wt_config *cfg, demo_user *users,
                           bool *project, bool *member, bool logs[2]) {
  const char *p_users[1] = {"{alice,bob}"};
  const char *p_project[1] = {DEMO_PROJECT_ID};
  const char *p_member[2] = {DEMO_PROJECT_ID, "bob"};
  const char *p_logs[1] = {"{" DEMO_LOG1_ID "," DEMO_LOG2_ID "}"};
  wt_db_stmt s[4] = {
      {.name = "demo_users",
       .sql = "SELECT username, id::text, password_hash FROM users "
              "WHERE username = ANY ($1::text[])",
       .params = p_users,
       .nparams = 1},
      {.name = "demo_project",
       .sql = "SELECT 1 FROM projects WHERE id = $1::uuid",
       .params = p_project,
       .nparams = 1},
      {.name = "demo_member",
       .sql = "SELECT 1 FROM project_members m JOIN users u ON u.id = "
              "m.user_id WHERE m.project_id = $1::uuid AND u.username = $2",
       .params = p_member,
       .nparams = 2},
      {.name = "demo_logs",
       .sql = "SELECT id::text FROM work_logs WHERE id = ANY ($1::uuid[])",
       .params = p_logs,
       .nparams = 1},
  };
  wt_db *db = NULL;
  char err[512];
  int rc = -1;

  if (wt_db_connect(cfg->database_url, "admin", cfg->log_sql, &db, err,
                    sizeof(err)) != WT_OK) {
    WT_ERROR("cannot connect to PostgreSQL error=\"%s\"", err);
    return -1;
  }
  if (wt_db_run(db, s, 4, err, sizeof(err)) != WT_OK) {
    WT_ERROR("cannot read the demo data error=\"%s\"", err);
    goto out;
  }
  for (int r = 0; r < PQntuples(s[0].result); r++) {
    for (int u = 0; u < 2; u++) {
      if (strcmp(PQgetvalue(s[0].result, r, 0), users[u].username) != 0)
        continue;
      users[u].exists = true;
      snprintf(users[u].id, sizeof(users[u].id), "%s",
               PQgetvalue(s[0].result, r, 1));
      users[u].password_known =
          password_matches(users[u].password, PQgetvalue(s[0].result, r, 2));
    }
  }
  *project = PQntuples(s[1].result) > 0;
  *member = PQntuples(s[2].result) > 0;
  for (int r = 0; r < PQntuples(s[3].result); r++) {
    const char *id = PQgetvalue(s[3].result, r, 0);
    if (strcmp(id, DEMO_LOG1_ID) == 0)
      logs[0] = true;
    if (strcmp(id, DEMO_LOG2_ID) == 0)
      logs[1] = true;
  }
  rc = 0;
out:
  wt_db_stmts_clear(s, 4);
  wt_db_destroy(db);
  return rc;
}

/* Opens the bus on first use: a re-run with nothing to do needs no Kafka. */
static int demo_submit(const wt_config *cfg, admin_bus *bus, int timeout_ms,
                       const wt_command *cmd, int *created) {
  if (!bus->producer && bus_open(cfg, timeout_ms, bus) != 0)
    return 1;
  if (bus_submit(bus, cmd) != 0)
    return 1;
  (*created)++;
  return 0;
}

static int cmd_demo(const wt_config *cfg, int argc, char **argv) {
  static const struct option opts[] = {
      {"timeout-ms", required_argument, NULL, 't'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  demo_user users[2] = {
      {.username = "alice",
       .display_name = "Alice Example",
       .fixed_id = DEMO_ALICE_ID,
       .password_env = "WT_DEMO_PASSWORD_ALICE",
       .password = "alice-demo-password"},
      {.username = "bob",
       .display_name = "Bob Example",
       .fixed_id = DEMO_BOB_ID,
       .password_env = "WT_DEMO_PASSWORD_BOB",
       .password = "bob-demo-password"},
  };
  static const demo_log logs[2] = {
      {DEMO_LOG1_ID, 0, 180, 90, "Planned the demo project"},
      {DEMO_LOG2_ID, 1, 120, 60, "Reviewed the plan with alice"},
  };
  int timeout_ms = DEFAULT_TIMEOUT_MS, created = 0, rc = 1, c;
  bool project = false, member = false, have_log[2] = {false, false};
  int64_t minute = 60 * INT64_C(1000000);
  int64_t now = wt_time_now_us() / minute * minute;
  admin_bus bus = {0};
  wt_command cmd;

  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 't') {
      if (parse_timeout(optarg, &timeout_ms) != 0)
        return 2;
    } else if (c == 'h') {
      usage_demo(stdout);
      return 0;
    } else {
      usage_demo(stderr);
      return 2;
    }
  }
  if (optind != argc) {
    usage_demo(stderr);
    return 2;
  }
  for (int u = 0; u < 2; u++) {
    const char *env = getenv(users[u].password_env);
    if (env && env[0])
      users[u].password = env;
    snprintf(users[u].id, sizeof(users[u].id), "%s", users[u].fixed_id);
  }
  if (demo_read_state(cfg, users, &project, &member, have_log) != 0)
    return 1;

  for (int u = 0; u < 2; u++) {
    if (users[u].exists)
      continue;
    command_init(&cmd, WT_CMD_USER_CREATE, NULL);
    memcpy(cmd.user_id, users[u].id, WT_UUID_STR);
    memcpy(cmd.target_user_id, users[u].id, WT_UUID_STR);
    snprintf(cmd.username, sizeof(cmd.username), "%s", users[u].username);
    snprintf(cmd.display_name, sizeof(cmd.display_name), "%s",
             users[u].display_name);
    if (hash_password(users[u].password, cmd.password_hash,
                      sizeof(cmd.password_hash)) != 0) {
      fprintf(stderr, "wt-admin: cannot hash the password (libcrypt)\n");
      goto out;
    }
    if (demo_submit(cfg, &bus, timeout_ms, &cmd, &created) != 0)
      goto out;
    users[u].password_known = true;
  }
  if (!project) {
    command_init(&cmd, WT_CMD_PROJECT_CREATE, users[0].id);
    snprintf(cmd.project_id, sizeof(cmd.project_id), "%s", DEMO_PROJECT_ID);
    snprintf(cmd.name, sizeof(cmd.name), "%s", DEMO_PROJECT_NAME);
    cmd.fields = WT_F_NAME;
    if (demo_submit(cfg, &bus, timeout_ms, &cmd, &created) != 0)
      goto out;
  }
  if (!member) {
    command_init(&cmd, WT_CMD_MEMBER_ADD, users[0].id);
    snprintf(cmd.project_id, sizeof(cmd.project_id), "%s", DEMO_PROJECT_ID);
    memcpy(cmd.target_user_id, users[1].id, WT_UUID_STR);
    cmd.role = WT_ROLE_MEMBER;
    cmd.fields = WT_F_USER_ID | WT_F_ROLE;
    if (demo_submit(cfg, &bus, timeout_ms, &cmd, &created) != 0)
      goto out;
  }
  for (int l = 0; l < 2; l++) {
    if (have_log[l])
      continue;
    command_init(&cmd, WT_CMD_LOG_CREATE, users[logs[l].author].id);
    snprintf(cmd.project_id, sizeof(cmd.project_id), "%s", DEMO_PROJECT_ID);
    snprintf(cmd.log_id, sizeof(cmd.log_id), "%s", logs[l].id);
    cmd.started_at = now - logs[l].start_min * minute;
    cmd.ended_at = now - logs[l].end_min * minute;
    snprintf(cmd.description, sizeof(cmd.description), "%s",
             logs[l].description);
    cmd.fields =
        WT_F_LOG_ID | WT_F_STARTED_AT | WT_F_ENDED_AT | WT_F_DESCRIPTION;
    if (demo_submit(cfg, &bus, timeout_ms, &cmd, &created) != 0)
      goto out;
  }
  rc = 0;
  printf("Demo data ready: %d created, %d already there.\n", created,
         6 - created);
  printf("  project  \"%s\"  %s  (owner alice, member bob)\n",
         DEMO_PROJECT_NAME, DEMO_PROJECT_ID);
  for (int u = 0; u < 2; u++) {
    if (users[u].password_known)
      printf("  login    %-6s password %s\n", users[u].username,
             users[u].password);
    else
      printf("  login    %-6s (existed before with another password)\n",
             users[u].username);
  }
out:
  bus_close(&bus);
  return rc;
}

int main(int argc, char **argv) {
  wt_config cfg;
  char err[512];
  const char *cmd = argc > 1 ? argv[1] : NULL;

  if (!cmd || strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
      strcmp(cmd, "-h") == 0) {
    usage(cmd ? stdout : stderr);
    return cmd ? 0 : 2;
  }
  if (wt_config_from_process(&cfg, err, sizeof(err)) != WT_OK) {
    fprintf(stderr, "wt-admin: configuration error: %s\n", err);
    return 2;
  }
  wt_log_init("admin", cfg.log_level, stderr);
  if (strcmp(cmd, "migrate") == 0)
    return cmd_migrate(&cfg, argc - 1, argv + 1);
  if (strcmp(cmd, "topics") == 0)
    return cmd_topics(&cfg);
  if (strcmp(cmd, "user") == 0)
    return cmd_user(&cfg, argc - 1, argv + 1);
  if (strcmp(cmd, "demo") == 0)
    return cmd_demo(&cfg, argc - 1, argv + 1);
  fprintf(stderr, "wt-admin: unknown command \"%s\"\n\n", cmd);
  usage(stderr);
  return 2;
}
