/* wt_command: the command envelope of the contract, parsed and checked.
 *
 *   {"v":1,"command_id":UUID,"type":T,"actor_id":UUID|"system",
 *    "project_id":UUID?,"user_id":UUID?,"issued_at":TIME,"origin":STRING?,
 *    "payload":{...}}
 *
 * Two levels of failure:
 *   - the envelope is unusable (not JSON, not an object, no/bad command_id,
 *     unknown type, v != 1, bad actor_id, missing routing id...): the
 *     message goes to the DLQ; wt_command_parse returns WT_ERR_INVALID.
 *   - the envelope is fine but the payload is not (missing or mistyped
 *     fields, bad UUIDs or times, too long, ended <= started...): parse
 *     returns WT_OK with cmd->payload_error set; the rules turn it into a
 *     rejection with code "invalid" addressed to the sender.
 * Writing is wt_command_write (wt_jw); wt_command_parse is the one place
 * that decides what a valid command is: every producer (the gateway,
 * wt-admin, wt-ingest) and the worker go through it. Pure: no I/O. */
#ifndef WT_COMMAND_H
#define WT_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wt_buf.h"
#include "wt_err.h"
#include "wt_json.h" /* wt_utf8_chars, wt_hex_digit */
/* transitional, removed when worker/ and ws-gateway/ include wt_time.h/
 * wt_uuid.h directly: */
#include "wt_time.h"
#include "wt_uuid.h"

#define WT_COMMAND_MAX_BYTES 65536 /* a larger message is refused unread */
#define WT_NAME_MAX_CHARS 200      /* project name, display name */
#define WT_DESCRIPTION_MAX_CHARS 2000
#define WT_USERNAME_MAX 64
#define WT_PASSWORD_HASH_MAX 512
#define WT_ORIGIN_MAX 64
#define WT_MESSAGE_MAX 256 /* rejection / error messages */

typedef enum wt_cmd_type {
  WT_CMD_NONE = 0,
  WT_CMD_PROJECT_CREATE,
  WT_CMD_PROJECT_RENAME,
  WT_CMD_MEMBER_ADD,
  WT_CMD_MEMBER_REMOVE,
  WT_CMD_LOG_CREATE,
  WT_CMD_LOG_UPDATE,
  WT_CMD_LOG_DELETE,
  WT_CMD_USER_CREATE,
  WT_CMD_USER_DEACTIVATE,
  WT_CMD_USER_REVOKE_TOKENS,
  WT_CMD__COUNT
} wt_cmd_type;

typedef enum wt_role {
  WT_ROLE_NONE = 0,
  WT_ROLE_MEMBER,
  WT_ROLE_OWNER
} wt_role;

/* Rejection codes of the contract. */
typedef enum wt_reject {
  WT_REJECT_NONE = 0,
  WT_REJECT_INVALID,
  WT_REJECT_NOT_FOUND,
  WT_REJECT_FORBIDDEN,
  WT_REJECT_CONFLICT,
} wt_reject;

/* Which payload fields were present (log.update needs to know). */
#define WT_F_NAME (1u << 0)
#define WT_F_USER_ID (1u << 1)
#define WT_F_ROLE (1u << 2)
#define WT_F_LOG_ID (1u << 3)
#define WT_F_STARTED_AT (1u << 4)
#define WT_F_ENDED_AT (1u << 5) /* present, possibly null */
#define WT_F_DESCRIPTION (1u << 6)
#define WT_F_EXPECTED_VERSION (1u << 7)
#define WT_F_USERNAME (1u << 8)
#define WT_F_DISPLAY_NAME (1u << 9)
#define WT_F_PASSWORD_HASH (1u << 10)

/* Times are microseconds since the Unix epoch (UTC). */
typedef struct wt_command {
  wt_cmd_type type;
  char command_id[WT_UUID_STR];
  bool actor_system;            /* actor_id was "system" */
  char actor_id[WT_UUID_STR];   /* "" when actor_system */
  char project_id[WT_UUID_STR]; /* "" when absent */
  char user_id[WT_UUID_STR];    /* envelope user_id, "" when absent */
  int64_t issued_at;
  char origin[WT_ORIGIN_MAX + 1]; /* "" when absent */

  /* payload */
  unsigned fields;                  /* WT_F_* */
  wt_reject payload_error;          /* WT_REJECT_INVALID or NONE */
  char target_user_id[WT_UUID_STR]; /* payload user_id */
  wt_role role;
  char log_id[WT_UUID_STR];
  int64_t started_at;
  int64_t ended_at; /* valid when !ended_at_null */
  bool ended_at_null;
  int64_t expected_version;
  char username[WT_USERNAME_MAX + 1];

  /* The long texts come last: parsing zeroes everything before
   * payload_message and only the first byte of each of these (~10 KiB). */
  char payload_message[WT_MESSAGE_MAX];
  char name[WT_NAME_MAX_CHARS * 4 + 1];
  char description[WT_DESCRIPTION_MAX_CHARS * 4 + 1];
  char display_name[WT_NAME_MAX_CHARS * 4 + 1];
  char password_hash[WT_PASSWORD_HASH_MAX + 1];
} wt_command;

/* Parses one message. WT_ERR_INVALID (reason in errstr) when the envelope
 * is unusable; WT_OK otherwise, with cmd->payload_error telling whether
 * the payload is valid. Messages over WT_COMMAND_MAX_BYTES are refused. */
wt_err wt_command_parse(const char *json, size_t len, wt_command *cmd,
                        char *errstr, size_t errstr_size);

/* Zeroes cmd and sets its type and actor (NULL: the system). */
void wt_command_init(wt_command *cmd, wt_cmd_type type, const char *actor_id);

/* Appends cmd to b as the contract's envelope (for producers: the gateway,
 * wt-admin, wt-ingest, tests). False when cmd has no known type (nothing
 * written) or b failed (its cap; a command the worker takes is at most
 * WT_COMMAND_MAX_BYTES). It checks nothing else: what it writes is exactly
 * what the struct holds, and wt_command_parse judges it. */
bool wt_command_write(const wt_command *cmd, wt_buf *b);

/* One conversion and one check, for a command built in code: writes cmd
 * to b (appended), then parses that text into *checked as the worker will.
 * WT_OK: b holds the text and checked its reading (checked->payload_error
 * may be set); WT_ERR_INVALID with the reason in errstr otherwise (as
 * wt_command_parse, or "command too large", "unknown command type"). */
wt_err wt_command_encode(const wt_command *cmd, wt_buf *b, wt_command *checked,
                         char *errstr, size_t errstr_size);

/* Transitional (callers in tests/integration, tests/fuzz, bench): the text
 * of wt_command_write, malloc'd (the caller frees); NULL as it fails. */
char *wt_command_to_json(const wt_command *cmd);

const char *wt_cmd_type_name(wt_cmd_type t);     /* "log.create", ... */
wt_cmd_type wt_cmd_type_parse(const char *name); /* WT_CMD_NONE if unknown */
const char *wt_role_name(wt_role r);             /* "member", "owner" */
const char *wt_reject_name(wt_reject r);         /* "invalid", ... */
wt_reject wt_reject_parse(const char *name);     /* WT_REJECT_NONE if unknown */

/* Routing key of a command: project_id, or user_id for user.* */
const char *wt_command_key(const wt_command *cmd);

#endif
