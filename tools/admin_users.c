/* wt-admin user add|deactivate|revoke-tokens|list. */
#include "admin_bus.h"
#include "wt_password.h"

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

#include "ing_producer.h"
#include "wt_command.h"
#include "wt_config.h"
#include "wt_db.h"
#include "wt_jw.h"
#include "wt_log.h"

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
          "--timeout-ms (default %d). They are signed with "
          "WT_PRODUCER_KEY_FILE\n"
          "(as WT_PRODUCER_ID): the worker accepts system commands only "
          "signed.\n"
          "Exit status: 0 applied, 1 rejected (code and message on stderr), "
          "not\n"
          "decided in time or failed, 2 bad usage or no producer key.\n",
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
  admin_msg msg = {0};
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
      if (admin_parse_timeout(optarg, &timeout_ms) != 0)
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
  if (admin_need_producer_key(cfg) != 0)
    return 2;
  if (from_stdin && admin_read_password_line(password, sizeof(password)) != 0) {
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
  admin_command_init(&cmd, WT_CMD_USER_CREATE, NULL);
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
  if (wt_password_hash(password, cmd.password_hash,
                       sizeof(cmd.password_hash)) != 0) {
    fprintf(stderr, "wt-admin: cannot hash the password (libcrypt)\n");
    goto out;
  }
  explicit_bzero(password, sizeof(password));
  if (admin_msg_encode(&cmd, &msg) != 0 ||
      admin_bus_open(cfg, timeout_ms, &bus) != 0)
    goto out;
  rc = admin_bus_submit(&bus, &msg);
  if (rc == 0)
    printf("%s\n", cmd.user_id);
out:
  explicit_bzero(password, sizeof(password));
  admin_msg_free(&msg);
  admin_bus_close(&bus);
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
  admin_msg msg = {0};
  wt_command cmd;
  int c, rc = 1;

  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 't') {
      if (admin_parse_timeout(optarg, &timeout_ms) != 0)
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
  if (admin_need_producer_key(cfg) != 0)
    return 2;
  admin_command_init(&cmd, type, NULL);
  if (resolve_user(cfg, argv[optind], cmd.user_id) != 0)
    return 1;
  memcpy(cmd.target_user_id, cmd.user_id, WT_UUID_STR);
  if (admin_msg_encode(&cmd, &msg) == 0 &&
      admin_bus_open(cfg, timeout_ms, &bus) == 0)
    rc = admin_bus_submit(&bus, &msg);
  if (rc == 0)
    printf("%s\n", cmd.user_id);
  admin_msg_free(&msg);
  admin_bus_close(&bus);
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
  wt_buf line; /* one user as JSON */
  int c, rows, rc = 0;

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
  wt_buf_init(&line, (size_t)1 << 20);
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
      wt_jw w;
      wt_buf_reset(&line);
      wt_jw_init(&w, &line);
      wt_jw_obj(&w);
      wt_jw_kstr(&w, "id", PQgetvalue(res, r, 0));
      wt_jw_kstr(&w, "username", PQgetvalue(res, r, 1));
      wt_jw_kstr(&w, "display_name", PQgetvalue(res, r, 2));
      wt_jw_kbool(&w, "is_active", active);
      wt_jw_ki64(&w, "token_version", strtoll(PQgetvalue(res, r, 4), NULL, 10));
      wt_jw_kstr(&w, "created_at", PQgetvalue(res, r, 5));
      wt_jw_obj_end(&w);
      if (!wt_jw_finish(&w)) {
        fprintf(stderr, "wt-admin: out of memory\n");
        rc = 1;
        break;
      }
      puts(line.data);
    } else {
      for (int f = 0; f < 6; f++)
        print_cell(f == 3 ? (active ? "yes" : "no") : PQgetvalue(res, r, f),
                   f < 5 ? width[f] + 2 : 0);
      fputc('\n', stdout);
    }
  }
  wt_buf_free(&line);
  PQclear(res);
  wt_db_destroy(db);
  return rc;
}

int admin_cmd_user(const wt_config *cfg, int argc, char **argv) {
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
