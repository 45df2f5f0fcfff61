/* wt-admin demo: idempotent demo data for `make run`. */
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
#include "wt_log.h"

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
          wt_password_matches(users[u].password, PQgetvalue(s[0].result, r, 2));
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
  admin_msg msg;
  int rc = 1;
  if (admin_msg_encode(cmd, &msg) == 0 &&
      (bus->producer || admin_bus_open(cfg, timeout_ms, bus) == 0))
    rc = admin_bus_submit(bus, &msg);
  admin_msg_free(&msg);
  if (rc != 0)
    return 1;
  (*created)++;
  return 0;
}

int admin_cmd_demo(const wt_config *cfg, int argc, char **argv) {
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
      if (admin_parse_timeout(optarg, &timeout_ms) != 0)
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
  if ((!users[0].exists || !users[1].exists) &&
      admin_need_producer_key(cfg) != 0)
    return 2; /* user.create is a system command */

  for (int u = 0; u < 2; u++) {
    if (users[u].exists)
      continue;
    admin_command_init(&cmd, WT_CMD_USER_CREATE, NULL);
    memcpy(cmd.user_id, users[u].id, WT_UUID_STR);
    memcpy(cmd.target_user_id, users[u].id, WT_UUID_STR);
    snprintf(cmd.username, sizeof(cmd.username), "%s", users[u].username);
    snprintf(cmd.display_name, sizeof(cmd.display_name), "%s",
             users[u].display_name);
    if (wt_password_hash(users[u].password, cmd.password_hash,
                         sizeof(cmd.password_hash)) != 0) {
      fprintf(stderr, "wt-admin: cannot hash the password (libcrypt)\n");
      goto out;
    }
    if (demo_submit(cfg, &bus, timeout_ms, &cmd, &created) != 0)
      goto out;
    users[u].password_known = true;
  }
  if (!project) {
    admin_command_init(&cmd, WT_CMD_PROJECT_CREATE, users[0].id);
    snprintf(cmd.project_id, sizeof(cmd.project_id), "%s", DEMO_PROJECT_ID);
    snprintf(cmd.name, sizeof(cmd.name), "%s", DEMO_PROJECT_NAME);
    cmd.fields = WT_F_NAME;
    if (demo_submit(cfg, &bus, timeout_ms, &cmd, &created) != 0)
      goto out;
  }
  if (!member) {
    admin_command_init(&cmd, WT_CMD_MEMBER_ADD, users[0].id);
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
    admin_command_init(&cmd, WT_CMD_LOG_CREATE, users[logs[l].author].id);
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
  admin_bus_close(&bus);
  return rc;
}
