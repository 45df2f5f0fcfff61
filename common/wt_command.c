/* wt_command: the command envelope, parsed with wt_json and checked field by
 * field; values (UUIDs, RFC 3339 times, UTF-8) and the name tables.
 *
 * Parsing:
 *   - a message over WT_COMMAND_MAX_BYTES is refused before it is read;
 *   - wt_json checks the whole text (strict RFC 8259, valid UTF-8, at most
 *     15 nested containers with the root object, nothing after the value
 *     but JSON whitespace) without building a tree: the worker parses
 *     every command, and json-c's tree was a quarter of its CPU;
 *   - duplicate keys: the last value counts (as json-c kept it), at the
 *     place of the first (for "unknown field" messages);
 *   - types are checked exactly: "1" is not 1 and 1.0 is not an integer;
 *   - unknown envelope keys are ignored (producers may add metadata);
 *     unknown payload keys are a payload error (a typo must not be dropped);
 *   - optional envelope fields (project_id, user_id, origin) may be null,
 *     which reads as absent.
 *
 * wt_command_write (wt_jw) writes required payload fields always and
 * optional ones when their WT_F_* bit is set (target_user_id of log.* when
 * non-empty); on log.create ended_at is always written, null when
 * ended_at_null. */
#include "wt_command.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wt_json.h"
#include "wt_jw.h"

#define PARSE_DEPTH 15 /* nested containers, the root object included */

/* --- name tables -------------------------------------------------------- */

static const char *const type_names[WT_CMD__COUNT] = {
    [WT_CMD_NONE] = "none",
    [WT_CMD_PROJECT_CREATE] = "project.create",
    [WT_CMD_PROJECT_RENAME] = "project.rename",
    [WT_CMD_MEMBER_ADD] = "member.add",
    [WT_CMD_MEMBER_REMOVE] = "member.remove",
    [WT_CMD_LOG_CREATE] = "log.create",
    [WT_CMD_LOG_UPDATE] = "log.update",
    [WT_CMD_LOG_DELETE] = "log.delete",
    [WT_CMD_USER_CREATE] = "user.create",
    [WT_CMD_USER_DEACTIVATE] = "user.deactivate",
    [WT_CMD_USER_REVOKE_TOKENS] = "user.revoke_tokens",
};

const char *wt_cmd_type_name(wt_cmd_type t) {
  if ((int)t < 0 || t >= WT_CMD__COUNT)
    return "unknown";
  return type_names[t];
}

wt_cmd_type wt_cmd_type_parse(const char *name) {
  if (!name)
    return WT_CMD_NONE;
  for (int t = WT_CMD_NONE + 1; t < WT_CMD__COUNT; t++)
    if (strcmp(type_names[t], name) == 0)
      return (wt_cmd_type)t;
  return WT_CMD_NONE;
}

const char *wt_role_name(wt_role r) {
  switch (r) {
  case WT_ROLE_NONE: return "none";
  case WT_ROLE_MEMBER: return "member";
  case WT_ROLE_OWNER: return "owner";
  }
  return "unknown";
}

const char *wt_reject_name(wt_reject r) {
  switch (r) {
  case WT_REJECT_NONE: return "none";
  case WT_REJECT_INVALID: return "invalid";
  case WT_REJECT_NOT_FOUND: return "not_found";
  case WT_REJECT_FORBIDDEN: return "forbidden";
  case WT_REJECT_CONFLICT: return "conflict";
  }
  return "unknown";
}

wt_reject wt_reject_parse(const char *name) {
  if (!name)
    return WT_REJECT_NONE;
  for (int r = WT_REJECT_INVALID; r <= WT_REJECT_CONFLICT; r++)
    if (strcmp(wt_reject_name((wt_reject)r), name) == 0)
      return (wt_reject)r;
  return WT_REJECT_NONE;
}

static bool type_is_user(wt_cmd_type t) {
  return t == WT_CMD_USER_CREATE || t == WT_CMD_USER_DEACTIVATE ||
         t == WT_CMD_USER_REVOKE_TOKENS;
}

const char *wt_command_key(const wt_command *cmd) {
  return type_is_user(cmd->type) ? cmd->user_id : cmd->project_id;
}

/* --- members ------------------------------------------------------------ */

/* The keys the envelope reads, and those any payload may carry ("user_id"
 * on log.* names the author). */
#define ENV_KEYS(X)                                                            \
  X(EK_V, "v")                                                                 \
  X(EK_COMMAND_ID, "command_id")                                               \
  X(EK_TYPE, "type")                                                           \
  X(EK_ACTOR_ID, "actor_id")                                                   \
  X(EK_ISSUED_AT, "issued_at")                                                 \
  X(EK_PROJECT_ID, "project_id")                                               \
  X(EK_USER_ID, "user_id")                                                     \
  X(EK_ORIGIN, "origin")                                                       \
  X(EK_PAYLOAD, "payload")
#define PAYLOAD_KEYS(X)                                                        \
  X(PK_NAME, "name")                                                           \
  X(PK_USER_ID, "user_id")                                                     \
  X(PK_ROLE, "role")                                                           \
  X(PK_LOG_ID, "log_id")                                                       \
  X(PK_STARTED_AT, "started_at")                                               \
  X(PK_ENDED_AT, "ended_at")                                                   \
  X(PK_DESCRIPTION, "description")                                             \
  X(PK_EXPECTED_VERSION, "expected_version")                                   \
  X(PK_USERNAME, "username")                                                   \
  X(PK_DISPLAY_NAME, "display_name")                                           \
  X(PK_PASSWORD_HASH, "password_hash")
#define AS_ENUM(e, s) e,
#define AS_NAME(e, s) s,
#define AS_LEN(e, s) sizeof(s) - 1,

enum env_key { ENV_KEYS(AS_ENUM) EK__COUNT };
enum pl_key { PAYLOAD_KEYS(AS_ENUM) PK__COUNT };
static const char *const env_keys[] = {ENV_KEYS(AS_NAME)};
static const char *const pl_keys[] = {PAYLOAD_KEYS(AS_NAME)};
static const size_t env_key_lens[] = {ENV_KEYS(AS_LEN)};
static const size_t pl_key_lens[] = {PAYLOAD_KEYS(AS_LEN)};

#define MEMBERS_MAX PK__COUNT /* the longer of the two key lists */
#define KEY_BUF 48            /* an escaped key, decoded; longer: unknown */

/* One object's members by key. A repeated key keeps its last value at its
 * first position, as json-c's objects did. */
typedef struct members {
  const char *const *keys;
  const size_t *key_lens;
  int nkeys;
  wt_json_span val[MEMBERS_MAX];
  int pos[MEMBERS_MAX]; /* -1: absent */
  int count;            /* members seen */
  int unknown_pos;      /* the first member with another key, -1: none */
  char unknown[KEY_BUF];
} members;

static void members_init(members *m, const char *const *keys,
                         const size_t *key_lens, int nkeys) {
  m->keys = keys;
  m->key_lens = key_lens;
  m->nkeys = nkeys;
  m->count = 0;
  m->unknown_pos = -1;
  m->unknown[0] = '\0';
  for (int i = 0; i < nkeys; i++)
    m->pos[i] = -1;
}

static void on_member(void *ctx, const wt_json_span *key,
                      const wt_json_span *val) {
  members *m = ctx;
  char buf[KEY_BUF];
  const char *k = key->p;
  size_t klen = key->len;
  int idx = -1, pos = m->count++;
  if (key->escaped) {
    klen = wt_json_string(key, buf, sizeof(buf), NULL);
    /* too long or with a NUL: no key of ours */
    k = klen < sizeof(buf) && strlen(buf) == klen ? buf : NULL;
  }
  for (int i = 0; k && i < m->nkeys && idx < 0; i++)
    if (m->key_lens[i] == klen && memcmp(m->keys[i], k, klen) == 0)
      idx = i;
  if (idx < 0) {
    if (m->unknown_pos < 0) {
      m->unknown_pos = pos;
      if (key->escaped)
        memcpy(m->unknown, buf, sizeof(buf)); /* terminated by the decode */
      else
        snprintf(m->unknown, sizeof(m->unknown), "%.*s",
                 (int)(klen < KEY_BUF ? klen : KEY_BUF - 1), key->p);
    }
    return;
  }
  m->val[idx] = *val;
  if (m->pos[idx] < 0)
    m->pos[idx] = pos;
}

/* --- envelope ----------------------------------------------------------- */

/* A field's state after a look-up. */
typedef enum field_state {
  FIELD_BAD = -1,
  FIELD_ABSENT = 0,
  FIELD_OK = 1
} field_state;

/* Every envelope string the parser keeps fits (origin is the longest);
 * a longer one fails its own check. */
#define ENV_STR_MAX 80

/* An optional envelope string decoded into out (ENV_STR_MAX bytes), its
 * decoded length in *len: absent or null -> FIELD_ABSENT. A \u0000 or a
 * lone surrogate escape is refused (contract v1.1), not decoded into a NUL
 * that C-string checks would stop at or a U+FFFD that alters the text. */
static field_state env_string(const members *m, int k, char *out, size_t *len,
                              char *errstr, size_t errstr_size) {
  const wt_json_span *v = &m->val[k];
  char why[96];
  if (m->pos[k] < 0 || v->type == WT_JSON_NULL)
    return FIELD_ABSENT;
  if (v->type != WT_JSON_STRING) {
    wt_errf(errstr, errstr_size, "%s: must be a string", env_keys[k]);
    return FIELD_BAD;
  }
  if (v->escaped && wt_json_string_flaw(v, why, sizeof(why))) {
    wt_errf(errstr, errstr_size, "%s: %s", env_keys[k], why);
    return FIELD_BAD;
  }
  *len = wt_json_string(v, out, ENV_STR_MAX, NULL);
  return FIELD_OK;
}

static field_state env_uuid(const members *m, int k, char out[WT_UUID_STR],
                            char *errstr, size_t errstr_size) {
  char s[ENV_STR_MAX];
  size_t len = 0;
  field_state st = env_string(m, k, s, &len, errstr, errstr_size);
  if (st != FIELD_OK)
    return st;
  if (!wt_uuid_valid(s)) {
    wt_errf(errstr, errstr_size, "%s: not a canonical lowercase UUID",
            env_keys[k]);
    return FIELD_BAD;
  }
  memcpy(out, s, WT_UUID_STR);
  return FIELD_OK;
}

static bool type_needs_project(wt_cmd_type t) {
  return !type_is_user(t);
}

static wt_err parse_envelope(const members *m, wt_command *cmd, char *errstr,
                             size_t errstr_size) {
  char s[ENV_STR_MAX];
  size_t len = 0;
  int64_t v = 0;
  field_state st;

  if (m->pos[EK_V] < 0 || wt_json_int64(&m->val[EK_V], &v) != 0 || v != 1) {
    wt_errf(errstr, errstr_size, "v: must be the integer 1");
    return WT_ERR_INVALID;
  }
  st = env_uuid(m, EK_COMMAND_ID, cmd->command_id, errstr, errstr_size);
  if (st == FIELD_ABSENT)
    wt_errf(errstr, errstr_size, "command_id: required");
  if (st != FIELD_OK)
    return WT_ERR_INVALID;

  st = env_string(m, EK_TYPE, s, &len, errstr, errstr_size);
  if (st == FIELD_ABSENT)
    wt_errf(errstr, errstr_size, "type: required");
  if (st != FIELD_OK)
    return WT_ERR_INVALID;
  cmd->type = wt_cmd_type_parse(s);
  if (cmd->type == WT_CMD_NONE) {
    wt_errf(errstr, errstr_size, "type: unknown command type \"%.40s\"", s);
    return WT_ERR_INVALID;
  }

  st = env_string(m, EK_ACTOR_ID, s, &len, errstr, errstr_size);
  if (st == FIELD_ABSENT)
    wt_errf(errstr, errstr_size, "actor_id: required");
  if (st != FIELD_OK)
    return WT_ERR_INVALID;
  if (strcmp(s, "system") == 0) {
    cmd->actor_system = true;
  } else if (wt_uuid_valid(s)) {
    memcpy(cmd->actor_id, s, WT_UUID_STR);
  } else {
    wt_errf(errstr, errstr_size,
            "actor_id: neither a canonical lowercase UUID nor \"system\"");
    return WT_ERR_INVALID;
  }

  st = env_string(m, EK_ISSUED_AT, s, &len, errstr, errstr_size);
  if (st == FIELD_ABSENT)
    wt_errf(errstr, errstr_size, "issued_at: required");
  if (st != FIELD_OK)
    return WT_ERR_INVALID;
  if (wt_time_parse(s, &cmd->issued_at) != 0) {
    wt_errf(errstr, errstr_size,
            "issued_at: not an RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SS[.f]Z)");
    return WT_ERR_INVALID;
  }

  st = env_uuid(m, EK_PROJECT_ID, cmd->project_id, errstr, errstr_size);
  if (st == FIELD_BAD)
    return WT_ERR_INVALID;
  if (st == FIELD_ABSENT && type_needs_project(cmd->type)) {
    wt_errf(errstr, errstr_size, "project_id: required for %s",
            wt_cmd_type_name(cmd->type));
    return WT_ERR_INVALID;
  }
  st = env_uuid(m, EK_USER_ID, cmd->user_id, errstr, errstr_size);
  if (st == FIELD_BAD)
    return WT_ERR_INVALID;
  if (st == FIELD_ABSENT && type_is_user(cmd->type)) {
    wt_errf(errstr, errstr_size, "user_id: required for %s",
            wt_cmd_type_name(cmd->type));
    return WT_ERR_INVALID;
  }

  st = env_string(m, EK_ORIGIN, s, &len, errstr, errstr_size);
  if (st == FIELD_BAD)
    return WT_ERR_INVALID;
  if (st == FIELD_OK) {
    if (len > WT_ORIGIN_MAX) {
      wt_errf(errstr, errstr_size, "origin: longer than %d bytes",
              WT_ORIGIN_MAX);
      return WT_ERR_INVALID;
    }
    memcpy(cmd->origin, s, len + 1);
  }

  if (m->pos[EK_PAYLOAD] < 0 || m->val[EK_PAYLOAD].type != WT_JSON_OBJECT) {
    wt_errf(errstr, errstr_size, "payload: must be a JSON object");
    return WT_ERR_INVALID;
  }
  return WT_OK;
}

/* --- payload ------------------------------------------------------------ */

static void payload_fail(wt_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void payload_fail(wt_command *cmd, const char *fmt, ...) {
  va_list ap;
  cmd->payload_error = WT_REJECT_INVALID;
  va_start(ap, fmt);
  vsnprintf(cmd->payload_message, sizeof(cmd->payload_message), fmt, ap);
  va_end(ap);
}

/* A payload field: absent -> FIELD_ABSENT (and a failure when required). A
 * present null is FIELD_ABSENT only when null_ok, with *is_null set. */
static field_state pl_get(wt_command *cmd, const members *m, int k,
                          bool required, bool null_ok, const wt_json_span **out,
                          bool *is_null) {
  if (is_null)
    *is_null = false;
  if (m->pos[k] < 0) {
    if (required) {
      payload_fail(cmd, "payload.%s: required", pl_keys[k]);
      return FIELD_BAD;
    }
    return FIELD_ABSENT;
  }
  if (m->val[k].type == WT_JSON_NULL) {
    if (null_ok && is_null) {
      *is_null = true;
      return FIELD_ABSENT;
    }
    payload_fail(cmd, "payload.%s: must not be null", pl_keys[k]);
    return FIELD_BAD;
  }
  *out = &m->val[k];
  return FIELD_OK;
}

/* A string decoded into out (size bytes), its length in *len and code
 * points in *chars; one too long for out is left to the caller's check of
 * *len. A \u0000 or a lone surrogate escape is refused (contract v1.1:
 * never stored altered). */
static field_state pl_string(wt_command *cmd, const members *m, int k,
                             bool required, char *out, size_t size, size_t *len,
                             long *chars) {
  const wt_json_span *v = NULL;
  char why[96];
  field_state st = pl_get(cmd, m, k, required, false, &v, NULL);
  if (st != FIELD_OK)
    return st;
  if (v->type != WT_JSON_STRING) {
    payload_fail(cmd, "payload.%s: must be a string", pl_keys[k]);
    return FIELD_BAD;
  }
  if (v->escaped && wt_json_string_flaw(v, why, sizeof(why))) {
    payload_fail(cmd, "payload.%s: %s", pl_keys[k], why);
    return FIELD_BAD;
  }
  *len = wt_json_string(v, out, size, chars);
  return FIELD_OK;
}

static field_state pl_uuid(wt_command *cmd, const members *m, int k,
                           bool required, char out[WT_UUID_STR]) {
  char s[WT_UUID_STR + 1];
  size_t len = 0;
  field_state st = pl_string(cmd, m, k, required, s, sizeof(s), &len, NULL);
  if (st != FIELD_OK)
    return st;
  if (len >= sizeof(s) || !wt_uuid_valid(s)) {
    payload_fail(cmd, "payload.%s: must be a canonical lowercase UUID",
                 pl_keys[k]);
    return FIELD_BAD;
  }
  memcpy(out, s, WT_UUID_STR);
  return FIELD_OK;
}

/* A time; with null_ok a null reads FIELD_ABSENT with *is_null. */
static field_state pl_time(wt_command *cmd, const members *m, int k,
                           bool required, bool null_ok, int64_t *out,
                           bool *is_null) {
  const wt_json_span *v = NULL;
  char s[40];
  size_t len = 0;
  char why[96];
  field_state st = pl_get(cmd, m, k, required, null_ok, &v, is_null);
  if (st != FIELD_OK)
    return st;
  if (v->type == WT_JSON_STRING && v->escaped &&
      wt_json_string_flaw(v, why, sizeof(why))) {
    payload_fail(cmd, "payload.%s: %s", pl_keys[k], why);
    return FIELD_BAD;
  }
  if (v->type == WT_JSON_STRING)
    len = wt_json_string(v, s, sizeof(s), NULL);
  if (v->type != WT_JSON_STRING || len >= sizeof(s) || strlen(s) != len ||
      wt_time_parse(s, out) != 0) {
    payload_fail(cmd,
                 "payload.%s: must be an RFC 3339 UTC time "
                 "(YYYY-MM-DDTHH:MM:SS[.ffffff]Z)%s",
                 pl_keys[k], null_ok ? " or null" : "");
    return FIELD_BAD;
  }
  return FIELD_OK;
}

static bool all_blank(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (!strchr(" \t\n\r\v\f", s[i]))
      return false;
  return true;
}

/* Text of min..max code points decoded into out (size >= 4 * max + 1).
 * The scan let only valid UTF-8 through and pl_string no NUL and no lone
 * surrogate escape: the text is valid UTF-8, as it was sent. */
static field_state pl_text(wt_command *cmd, const members *m, int k,
                           bool required, long min, long max, bool no_blank,
                           char *out, size_t size) {
  size_t len = 0;
  long chars = 0;
  field_state st = pl_string(cmd, m, k, required, out, size, &len, &chars);
  if (st != FIELD_OK) {
    out[0] = '\0';
    return st;
  }
  if (chars < min || chars > max || len >= size) {
    payload_fail(cmd, "payload.%s: must be %ld..%ld characters, got %ld",
                 pl_keys[k], min, max, chars);
    out[0] = '\0';
    return FIELD_BAD;
  }
  if (no_blank && all_blank(out, len)) {
    payload_fail(cmd, "payload.%s: must not be blank", pl_keys[k]);
    out[0] = '\0';
    return FIELD_BAD;
  }
  return FIELD_OK;
}

static field_state pl_positive(wt_command *cmd, const members *m, int k,
                               int64_t *out) {
  const wt_json_span *v = NULL;
  field_state st = pl_get(cmd, m, k, false, false, &v, NULL);
  if (st != FIELD_OK)
    return st;
  if (v->type == WT_JSON_INT && wt_json_int64(v, out) != 0) {
    *out = 0; /* never clamped */
    payload_fail(cmd,
                 "payload.%s: %.*s%s is out of range (1..9223372036854775807)",
                 pl_keys[k], (int)(v->len > 24 ? 24 : v->len), v->p,
                 v->len > 24 ? "..." : "");
    return FIELD_BAD;
  }
  if (v->type != WT_JSON_INT || *out < 1) {
    *out = 0;
    payload_fail(cmd, "payload.%s: must be a positive integer", pl_keys[k]);
    return FIELD_BAD;
  }
  return FIELD_OK;
}

static bool username_valid(const char *s, size_t len) {
  if (len < 3 || len > WT_USERNAME_MAX)
    return false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '-'))
      return false;
  }
  return true;
}

/* crypt(3) / PHC strings: "$id$...", printable ASCII without spaces. */
static bool password_hash_valid(const char *s, size_t len) {
  if (len < 1 || len > WT_PASSWORD_HASH_MAX || s[0] != '$')
    return false;
  for (size_t i = 0; i < len; i++)
    if (s[i] < 0x21 || s[i] > 0x7e)
      return false;
  return true;
}

#define PK(k) (1u << (k))

/* The keys each payload may carry. */
static unsigned payload_keys(wt_cmd_type t) {
  switch (t) {
  case WT_CMD_PROJECT_CREATE:
  case WT_CMD_PROJECT_RENAME: return PK(PK_NAME);
  case WT_CMD_MEMBER_ADD: return PK(PK_USER_ID) | PK(PK_ROLE);
  case WT_CMD_MEMBER_REMOVE:
  case WT_CMD_USER_DEACTIVATE:
  case WT_CMD_USER_REVOKE_TOKENS: return PK(PK_USER_ID);
  case WT_CMD_LOG_CREATE:
    return PK(PK_LOG_ID) | PK(PK_STARTED_AT) | PK(PK_ENDED_AT) |
           PK(PK_DESCRIPTION) | PK(PK_USER_ID);
  case WT_CMD_LOG_UPDATE:
    return PK(PK_LOG_ID) | PK(PK_STARTED_AT) | PK(PK_ENDED_AT) |
           PK(PK_DESCRIPTION) | PK(PK_EXPECTED_VERSION) | PK(PK_USER_ID);
  case WT_CMD_LOG_DELETE:
    return PK(PK_LOG_ID) | PK(PK_EXPECTED_VERSION) | PK(PK_USER_ID);
  case WT_CMD_USER_CREATE:
    return PK(PK_USER_ID) | PK(PK_USERNAME) | PK(PK_DISPLAY_NAME) |
           PK(PK_PASSWORD_HASH);
  case WT_CMD_NONE:
  case WT_CMD__COUNT: break;
  }
  return 0;
}

/* The first member (in the text's order) this type does not take. */
static bool check_unknown_keys(wt_command *cmd, const members *m) {
  unsigned allowed = payload_keys(cmd->type);
  int first = m->unknown_pos;
  const char *name = m->unknown;
  for (int k = 0; k < PK__COUNT; k++)
    if (m->pos[k] >= 0 && !(allowed & PK(k)) &&
        (first < 0 || m->pos[k] < first)) {
      first = m->pos[k];
      name = pl_keys[k];
    }
  if (first < 0)
    return true;
  payload_fail(cmd, "payload.%.40s: unknown field for %s", name,
               wt_cmd_type_name(cmd->type));
  return false;
}

/* The payload's user_id on user.* must be the envelope's routing key. */
static void parse_user_target(wt_command *cmd, const members *m) {
  if (pl_uuid(cmd, m, PK_USER_ID, true, cmd->target_user_id) != FIELD_OK)
    return;
  cmd->fields |= WT_F_USER_ID;
  if (strcmp(cmd->target_user_id, cmd->user_id) != 0)
    payload_fail(cmd, "payload.user_id: must equal the envelope's user_id");
}

static void parse_log_times(wt_command *cmd, const members *m, bool create) {
  field_state st;
  st = pl_time(cmd, m, PK_STARTED_AT, create, false, &cmd->started_at, NULL);
  if (st == FIELD_BAD)
    return;
  if (st == FIELD_OK)
    cmd->fields |= WT_F_STARTED_AT;
  st = pl_time(cmd, m, PK_ENDED_AT, false, true, &cmd->ended_at,
               &cmd->ended_at_null);
  if (st == FIELD_BAD)
    return;
  if (st == FIELD_OK || cmd->ended_at_null)
    cmd->fields |= WT_F_ENDED_AT;
  if (create && st == FIELD_ABSENT)
    cmd->ended_at_null = true; /* no ended_at: a running timer */
  if ((cmd->fields & WT_F_STARTED_AT) && (cmd->fields & WT_F_ENDED_AT) &&
      !cmd->ended_at_null && cmd->ended_at <= cmd->started_at)
    payload_fail(cmd, "payload.ended_at: must be after started_at");
}

static void parse_log(wt_command *cmd, const members *m) {
  bool create = cmd->type == WT_CMD_LOG_CREATE;
  field_state st;
  if (pl_uuid(cmd, m, PK_LOG_ID, true, cmd->log_id) != FIELD_OK)
    return;
  cmd->fields |= WT_F_LOG_ID;
  st = pl_uuid(cmd, m, PK_USER_ID, false, cmd->target_user_id);
  if (st == FIELD_BAD)
    return;
  if (st == FIELD_OK)
    cmd->fields |= WT_F_USER_ID;
  if (cmd->type != WT_CMD_LOG_CREATE) {
    st = pl_positive(cmd, m, PK_EXPECTED_VERSION, &cmd->expected_version);
    if (st == FIELD_BAD)
      return;
    if (st == FIELD_OK)
      cmd->fields |= WT_F_EXPECTED_VERSION;
  }
  if (cmd->type == WT_CMD_LOG_DELETE)
    return;
  parse_log_times(cmd, m, create);
  if (cmd->payload_error)
    return;
  st = pl_text(cmd, m, PK_DESCRIPTION, false, 0, WT_DESCRIPTION_MAX_CHARS,
               false, cmd->description, sizeof(cmd->description));
  if (st == FIELD_BAD)
    return;
  if (st == FIELD_OK)
    cmd->fields |= WT_F_DESCRIPTION;
  if (!create &&
      !(cmd->fields & (WT_F_STARTED_AT | WT_F_ENDED_AT | WT_F_DESCRIPTION)))
    payload_fail(cmd, "payload: log.update needs at least one of started_at, "
                      "ended_at, description");
}

static void parse_member(wt_command *cmd, const members *m) {
  char s[16];
  size_t len = 0;
  if (pl_uuid(cmd, m, PK_USER_ID, true, cmd->target_user_id) != FIELD_OK)
    return;
  cmd->fields |= WT_F_USER_ID;
  if (cmd->type == WT_CMD_MEMBER_REMOVE ||
      pl_string(cmd, m, PK_ROLE, true, s, sizeof(s), &len, NULL) != FIELD_OK)
    return;
  if (len < sizeof(s) && strcmp(s, "member") == 0)
    cmd->role = WT_ROLE_MEMBER;
  else if (len < sizeof(s) && strcmp(s, "owner") == 0)
    cmd->role = WT_ROLE_OWNER;
  else
    payload_fail(cmd, "payload.role: must be \"member\" or \"owner\"");
  if (cmd->role != WT_ROLE_NONE)
    cmd->fields |= WT_F_ROLE;
}

static void parse_user_create(wt_command *cmd, const members *m) {
  size_t len = 0;
  parse_user_target(cmd, m);
  if (cmd->payload_error ||
      pl_string(cmd, m, PK_USERNAME, true, cmd->username, sizeof(cmd->username),
                &len, NULL) != FIELD_OK)
    goto bad_username;
  if (len >= sizeof(cmd->username) || !username_valid(cmd->username, len)) {
    payload_fail(cmd, "payload.username: must be 3..64 of [a-z0-9_.-]");
    goto bad_username;
  }
  cmd->fields |= WT_F_USERNAME;
  if (pl_text(cmd, m, PK_DISPLAY_NAME, true, 1, WT_NAME_MAX_CHARS, true,
              cmd->display_name, sizeof(cmd->display_name)) != FIELD_OK)
    return;
  cmd->fields |= WT_F_DISPLAY_NAME;
  if (pl_string(cmd, m, PK_PASSWORD_HASH, true, cmd->password_hash,
                sizeof(cmd->password_hash), &len, NULL) != FIELD_OK)
    goto bad_hash;
  if (len >= sizeof(cmd->password_hash) ||
      !password_hash_valid(cmd->password_hash, len)) {
    payload_fail(cmd, "payload.password_hash: must be a crypt-style hash "
                      "(\"$...\", 1..512 printable ASCII characters)");
    goto bad_hash;
  }
  cmd->fields |= WT_F_PASSWORD_HASH;
  return;
bad_username: /* what was decoded is not kept */
  cmd->username[0] = '\0';
  return;
bad_hash:
  cmd->password_hash[0] = '\0';
}

static void parse_payload(wt_command *cmd, const members *m) {
  if (!check_unknown_keys(cmd, m))
    return;
  switch (cmd->type) {
  case WT_CMD_PROJECT_CREATE:
  case WT_CMD_PROJECT_RENAME:
    if (pl_text(cmd, m, PK_NAME, true, 1, WT_NAME_MAX_CHARS, true, cmd->name,
                sizeof(cmd->name)) == FIELD_OK)
      cmd->fields |= WT_F_NAME;
    break;
  case WT_CMD_MEMBER_ADD:
  case WT_CMD_MEMBER_REMOVE: parse_member(cmd, m); break;
  case WT_CMD_LOG_CREATE:
  case WT_CMD_LOG_UPDATE:
  case WT_CMD_LOG_DELETE: parse_log(cmd, m); break;
  case WT_CMD_USER_CREATE: parse_user_create(cmd, m); break;
  case WT_CMD_USER_DEACTIVATE:
  case WT_CMD_USER_REVOKE_TOKENS: parse_user_target(cmd, m); break;
  case WT_CMD_NONE:
  case WT_CMD__COUNT: break;
  }
}

/* Empties cmd without writing all of its long texts: the worker parses a
 * thousand commands per batch, and zeroing ~11 KiB each was 5 % of its CPU. */
static void command_clear(wt_command *cmd) {
  memset(cmd, 0, offsetof(wt_command, payload_message));
  cmd->payload_message[0] = '\0';
  cmd->name[0] = '\0';
  cmd->description[0] = '\0';
  cmd->display_name[0] = '\0';
  cmd->password_hash[0] = '\0';
}

/* A "payload" key (again): its members start over. */
static void payload_start(void *ctx) {
  members_init(ctx, pl_keys, pl_key_lens, PK__COUNT);
}

wt_err wt_command_parse(const char *json, size_t len, wt_command *cmd,
                        char *errstr, size_t errstr_size) {
  members env, payload;
  const wt_json_nested nested = {.key = "payload",
                                 .key_len = 7,
                                 .start = payload_start,
                                 .fn = on_member,
                                 .ctx = &payload};
  wt_json_type root = WT_JSON_NULL;
  char why[160];
  wt_err err;

  command_clear(cmd);
  if (!json) {
    wt_errf(errstr, errstr_size, "no message");
    return WT_ERR_INVALID;
  }
  if (len > WT_COMMAND_MAX_BYTES) {
    wt_errf(errstr, errstr_size, "message of %zu bytes is over the %d cap", len,
            WT_COMMAND_MAX_BYTES);
    return WT_ERR_INVALID;
  }
  members_init(&env, env_keys, env_key_lens, EK__COUNT);
  members_init(&payload, pl_keys, pl_key_lens, PK__COUNT);
  if (wt_json_scan_nested(json, len, PARSE_DEPTH, &root, on_member, &env,
                          &nested, why, sizeof(why)) != WT_OK) {
    wt_errf(errstr, errstr_size, "not JSON: %s", why);
    return WT_ERR_INVALID;
  }
  if (root != WT_JSON_OBJECT) {
    wt_errf(errstr, errstr_size, "not a JSON object");
    return WT_ERR_INVALID;
  }
  err = parse_envelope(&env, cmd, errstr, errstr_size);
  if (err != WT_OK)
    return err;
  /* the payload's members came with the envelope's, from its last
   * occurrence (parse_envelope checked that it is an object) */
  parse_payload(cmd, &payload);
  return WT_OK;
}

/* --- writing ------------------------------------------------------------- */

static void write_payload(const wt_command *c, wt_jw *w) {
  unsigned f = c->fields;
  switch (c->type) {
  case WT_CMD_PROJECT_CREATE:
  case WT_CMD_PROJECT_RENAME: wt_jw_kstr(w, "name", c->name); break;
  case WT_CMD_MEMBER_ADD:
    wt_jw_kstr(w, "user_id", c->target_user_id);
    wt_jw_kstr(w, "role", wt_role_name(c->role));
    break;
  case WT_CMD_MEMBER_REMOVE:
  case WT_CMD_USER_DEACTIVATE:
  case WT_CMD_USER_REVOKE_TOKENS:
    wt_jw_kstr(w, "user_id", c->target_user_id);
    break;
  case WT_CMD_LOG_CREATE:
  case WT_CMD_LOG_UPDATE:
  case WT_CMD_LOG_DELETE:
    wt_jw_kstr(w, "log_id", c->log_id);
    if (c->target_user_id[0])
      wt_jw_kstr(w, "user_id", c->target_user_id);
    if (c->type == WT_CMD_LOG_CREATE || (f & WT_F_STARTED_AT))
      wt_jw_ktime(w, "started_at", c->started_at);
    if (c->type == WT_CMD_LOG_CREATE || (f & WT_F_ENDED_AT)) {
      if (c->ended_at_null)
        wt_jw_knull(w, "ended_at");
      else
        wt_jw_ktime(w, "ended_at", c->ended_at);
    }
    if (c->type == WT_CMD_LOG_CREATE || (f & WT_F_DESCRIPTION))
      wt_jw_kstr(w, "description", c->description);
    if (c->type != WT_CMD_LOG_CREATE && (f & WT_F_EXPECTED_VERSION))
      wt_jw_ki64(w, "expected_version", c->expected_version);
    break;
  case WT_CMD_USER_CREATE:
    wt_jw_kstr(w, "user_id", c->target_user_id);
    wt_jw_kstr(w, "username", c->username);
    wt_jw_kstr(w, "display_name", c->display_name);
    wt_jw_kstr(w, "password_hash", c->password_hash);
    break;
  case WT_CMD_NONE:
  case WT_CMD__COUNT: break;
  }
}

bool wt_command_write(const wt_command *cmd, wt_buf *b) {
  wt_jw w;
  if (!cmd || cmd->type <= WT_CMD_NONE || cmd->type >= WT_CMD__COUNT)
    return false;
  wt_jw_init(&w, b);
  wt_jw_obj(&w);
  wt_jw_ki64(&w, "v", 1);
  /* strings, not wt_jw_uuid: a command built by hand may hold anything,
   * and it is wt_command_parse that says what is wrong with it */
  wt_jw_kstr(&w, "command_id", cmd->command_id);
  wt_jw_kstr(&w, "type", wt_cmd_type_name(cmd->type));
  wt_jw_kstr(&w, "actor_id", cmd->actor_system ? "system" : cmd->actor_id);
  if (cmd->project_id[0])
    wt_jw_kstr(&w, "project_id", cmd->project_id);
  if (cmd->user_id[0])
    wt_jw_kstr(&w, "user_id", cmd->user_id);
  wt_jw_ktime(&w, "issued_at", cmd->issued_at);
  if (cmd->origin[0])
    wt_jw_kstr(&w, "origin", cmd->origin);
  wt_jw_kobj(&w, "payload");
  write_payload(cmd, &w);
  wt_jw_obj_end(&w);
  wt_jw_obj_end(&w);
  return wt_jw_finish(&w);
}

wt_err wt_command_encode(const wt_command *cmd, wt_buf *b, wt_command *checked,
                         char *errstr, size_t errstr_size) {
  size_t start = b->len;
  if (!wt_command_write(cmd, b)) {
    wt_errf(errstr, errstr_size, "%s",
            wt_buf_ok(b) ? "unknown command type" : "command too large");
    return WT_ERR_INVALID;
  }
  return wt_command_parse(b->data + start, b->len - start, checked, errstr,
                          errstr_size);
}

/* Transitional: for the callers of wt_command_to_json outside common/,
 * ingest/ and tools/ (tests/integration, tests/fuzz, bench). */
char *wt_command_to_json(const wt_command *cmd) {
  wt_buf b;
  wt_buf_init(&b, WT_COMMAND_MAX_BYTES);
  if (!wt_command_write(cmd, &b)) {
    wt_buf_free(&b);
    return NULL;
  }
  return b.data;
}

void wt_command_init(wt_command *cmd, wt_cmd_type type, const char *actor_id) {
  memset(cmd, 0, sizeof(*cmd));
  cmd->type = type;
  cmd->actor_system = actor_id == NULL;
  if (actor_id)
    snprintf(cmd->actor_id, sizeof(cmd->actor_id), "%s", actor_id);
}
