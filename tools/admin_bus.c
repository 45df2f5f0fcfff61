/* admin_bus: see admin_bus.h. */
#include "admin_bus.h"

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

/* --- commands through Kafka ------------------------------------------------
 * user.* and the demo go the way every command goes: ing_producer into
 * <prefix>.commands, then the worker's outcome read back from
 * <prefix>.events. Reads (names to ids, the list, what the demo already
 * made) come from PostgreSQL through wt_db. */

int admin_bus_open(const wt_config *cfg, int timeout_ms, admin_bus *b) {
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

void admin_bus_close(admin_bus *b) {
  ing_producer_destroy(b->producer);
  ing_outcomes_destroy(b->outcomes);
  b->producer = NULL;
  b->outcomes = NULL;
}

/* A command of wt-admin: a fresh id, now, origin "wt-admin". actor_id NULL:
 * the system. */
void admin_command_init(wt_command *cmd, wt_cmd_type type,
                        const char *actor_id) {
  wt_command_init(cmd, type, actor_id);
  wt_uuid_generate(cmd->command_id);
  cmd->issued_at = wt_time_now_us();
  snprintf(cmd->origin, sizeof(cmd->origin), "wt-admin");
}

int admin_msg_encode(const wt_command *cmd, admin_msg *m) {
  char err[256];
  memset(m, 0, sizeof(*m));
  wt_buf_init(&m->json, WT_COMMAND_MAX_BYTES);
  m->checked = malloc(sizeof(*m->checked)); /* ~11 KiB: not on the stack */
  if (!m->checked) {
    WT_ERROR("out of memory");
    return -1;
  }
  /* The worker's check, done here once: a typo is answered at once instead
   * of after a round trip (or a timeout without a worker). */
  if (wt_command_encode(cmd, &m->json, m->checked, err, sizeof(err)) != WT_OK) {
    fprintf(stderr, "wt-admin: %s not sent: %s\n", wt_cmd_type_name(cmd->type),
            err);
    return -1;
  }
  if (m->checked->payload_error) {
    fprintf(stderr, "wt-admin: %s rejected: invalid: %s\n",
            wt_cmd_type_name(cmd->type), m->checked->payload_message);
    return -1;
  }
  return 0;
}

void admin_msg_free(admin_msg *m) {
  /* user.create carries a password hash */
  if (m->json.data)
    explicit_bzero(m->json.data, m->json.alloc);
  wt_buf_free(&m->json);
  free(m->checked);
  m->checked = NULL;
}

/* Sends m and waits for its outcome. 0: applied; 1: rejected, or not
 * decided in time, or not sent (said on stderr). */
int admin_bus_submit(admin_bus *b, const admin_msg *m) {
  const wt_command *cmd = m->checked;
  const char *type = wt_cmd_type_name(cmd->type);
  ing_outcome out;
  char err[512];
  char *json = NULL;
  wt_err e;

  if (ing_producer_send_parsed(b->producer, cmd, m->json.data, m->json.len, err,
                               sizeof(err)) != WT_OK ||
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

int admin_need_producer_key(const wt_config *cfg) {
  if (cfg->producer_key_file[0])
    return 0;
  fprintf(stderr, "wt-admin: system commands need WT_PRODUCER_KEY_FILE: the "
                  "worker rejects unsigned ones (docs/security.md)\n");
  return -1;
}

/* --timeout-ms: 0 on success, -1 (said on stderr) */
int admin_parse_timeout(const char *s, int *out) {
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

/* One line of stdin, without its line end; echo off on a terminal. */
int admin_read_password_line(char *buf, size_t size) {
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
