/* admin_bus: how wt-admin sends a command like any producer (ing_producer
 * into <prefix>.commands) and waits for the worker's outcome on
 * <prefix>.events; and the password helpers of `user` and `demo`. */
#ifndef ADMIN_BUS_H
#define ADMIN_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ing_producer.h"
#include "wt_buf.h"
#include "wt_command.h"
#include "wt_config.h"

#define DEFAULT_TIMEOUT_MS 15000 /* wait for a command's outcome */
#define FLUSH_TIMEOUT_MS 10000   /* wait for Kafka to take a command */
#define PASSWORD_MAX 1024

typedef struct admin_bus {
  ing_outcomes *outcomes;
  ing_producer *producer;
  int timeout_ms; /* wait for each outcome */
} admin_bus;

/* 0 or -1 (logged); close what open opened. */
int admin_bus_open(const wt_config *cfg, int timeout_ms, admin_bus *b);
void admin_bus_close(admin_bus *b);
void admin_command_init(wt_command *cmd, wt_cmd_type type,
                        const char *routing_id);

/* A command of wt-admin written and checked once (wt_command_encode): the
 * text that is sent and the worker's reading of it. */
typedef struct admin_msg {
  wt_buf json;
  wt_command *checked; /* malloc'd */
} admin_msg;

/* Writes and checks cmd: 0 when the worker would take it, else -1 (said on
 * stderr: "not sent" for an unusable envelope, "rejected: invalid" for a
 * payload error). admin_msg_free in either case. */
int admin_msg_encode(const wt_command *cmd, admin_msg *m);
void admin_msg_free(admin_msg *m);
/* Sends m (encoded) and waits for its outcome: 0 applied, 1 rejected or no
 * outcome (said on stderr). */
int admin_bus_submit(admin_bus *b, const admin_msg *m);
/* user.* commands have the actor "system": the worker accepts them only
 * signed by a producer with the scope system (docs/security.md), so
 * without a key they would only come back forbidden. 0 when
 * WT_PRODUCER_KEY_FILE is set, else -1 (said on stderr: exit 2). */
int admin_need_producer_key(const wt_config *cfg);
/* --timeout-ms: 0 on success, -1 (said on stderr) */
int admin_parse_timeout(const char *s, int *out);

/* one line from stdin, without echo on a terminal; 0 or -1 */
int admin_read_password_line(char *buf, size_t size);

/* the `user` and `demo` commands: exit statuses */
int admin_cmd_user(const wt_config *cfg, int argc, char **argv);
int admin_cmd_demo(const wt_config *cfg, int argc, char **argv);

#endif
