/* wt_command: the command envelope, parsed with json-c and checked field by
 * field; values (UUIDs, RFC 3339 times, UTF-8) and the name tables.
 *
 * Parsing:
 *   - a message over WT_COMMAND_MAX_BYTES is refused before json-c sees it;
 *   - json-c runs strict (no trailing commas, no comments), validates UTF-8,
 *     caps nesting (depth 16 in json-c's count, which includes its own base
 *     level: 15 nested containers, the root object included) and must
 *     consume every byte but trailing JSON whitespace (so a NUL or junk
 *     after the object is an error);
 *   - duplicate keys: json-c keeps the last one, so does the envelope;
 *   - types are checked before any json_object_get_*: json-c would turn
 *     "1" into 1 and 1.5 into 1 silently;
 *   - unknown envelope keys are ignored (producers may add metadata);
 *     unknown payload keys are a payload error (a typo must not be dropped);
 *   - optional envelope fields (project_id, user_id, origin) may be null,
 *     which reads as absent.
 *
 * wt_command_to_json writes required payload fields always and optional ones
 * when their WT_F_* bit is set (target_user_id of log.* when non-empty); on
 * log.create ended_at is always written, null when ended_at_null. */
#include "wt_command.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define PARSE_DEPTH 16
#define US_PER_S INT64_C(1000000)

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

/* --- UUIDs -------------------------------------------------------------- */

static bool is_lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int wt_hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

bool wt_uuid_valid(const char *s) {
  if (!s)
    return false;
  for (int i = 0; i < 36; i++) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !is_lower_hex(s[i]))
      return false; /* also stops at a short string's NUL */
  }
  return s[36] == '\0';
}

static int read_urandom(unsigned char *buf, size_t len) {
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  size_t got = 0;
  if (fd < 0)
    return -1;
  while (got < len) {
    ssize_t n = read(fd, buf + got, len - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  return got == len ? 0 : -1;
}

void wt_uuid_generate(char out[WT_UUID_STR]) {
  static const char hex[] = "0123456789abcdef";
  unsigned char b[16];
  size_t got = 0;
  char *p = out;
  while (got < sizeof(b)) {
    ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  /* An id that is not random would collide: no randomness, no id. */
  if (got < sizeof(b) && read_urandom(b, sizeof(b)) != 0)
    abort();
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      *p++ = '-';
    *p++ = hex[b[i] >> 4];
    *p++ = hex[b[i] & 0x0f];
  }
  *p = '\0';
}

/* --- times -------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  int64_t era, yoe, doy, doe;
  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  int64_t era, doe, yoe, doy, mp;
  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m) {
  static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[m - 1];
}

/* n decimal digits at s, or -1 */
static int read_digits(const char *s, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

int wt_time_parse(const char *s, int64_t *us) {
  int year, mon, day, hour, min, sec;
  int64_t frac = 0;
  size_t p = 19;
  if (!s || strnlen(s, 20) < 20)
    return -1;
  if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':')
    return -1;
  year = read_digits(s, 4);
  mon = read_digits(s + 5, 2);
  day = read_digits(s + 8, 2);
  hour = read_digits(s + 11, 2);
  min = read_digits(s + 14, 2);
  sec = read_digits(s + 17, 2);
  if (year < 1970 || mon < 1 || mon > 12 || day < 1 ||
      day > days_in_month(year, mon) || hour < 0 || hour > 23 || min < 0 ||
      min > 59 || sec < 0 || sec > 59)
    return -1; /* also: a non-digit (-1), 24:00, leap seconds */
  if (s[p] == '.') {
    int ndigits = 0;
    p++;
    while (s[p] >= '0' && s[p] <= '9') {
      if (++ndigits > 6)
        return -1;
      frac = frac * 10 + (s[p] - '0');
      p++;
    }
    if (ndigits == 0)
      return -1;
    for (; ndigits < 6; ndigits++)
      frac *= 10;
  }
  if (s[p] != 'Z' || s[p + 1] != '\0')
    return -1; /* offsets, lowercase 'z', trailing bytes */
  *us = (days_from_civil(year, mon, day) * 86400 + (int64_t)hour * 3600 +
         (int64_t)min * 60 + sec) *
            US_PER_S +
        frac;
  return 0;
}

/* Writes n decimal digits of v (0 <= v < 10^n) at p. */
static char *put_digits(char *p, int64_t v, int n) {
  for (int i = n - 1; i >= 0; i--) {
    p[i] = (char)('0' + v % 10);
    v /= 10;
  }
  return p + n;
}

/* Digits by hand, not snprintf: the worker formats several times per
 * command (events, outcomes), and vfprintf was ~5 % of its CPU. */
void wt_time_format(int64_t us, char *out, size_t size) {
  int64_t secs = us / US_PER_S, frac = us % US_PER_S, days, rem, year;
  int mon, day;
  char buf[40], *p = buf;
  if (frac < 0) {
    frac += US_PER_S;
    secs--;
  }
  days = secs / 86400;
  rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days--;
  }
  civil_from_days(days, &year, &mon, &day);
  if (year < 0 || year > 9999) { /* never from wt_time_parse: kept general */
    int n = snprintf(buf, sizeof(buf), "%04lld", (long long)year);
    p = buf + (n > 0 && (size_t)n < sizeof(buf) ? n : 0);
  } else {
    p = put_digits(p, year, 4);
  }
  *p++ = '-';
  p = put_digits(p, mon, 2);
  *p++ = '-';
  p = put_digits(p, day, 2);
  *p++ = 'T';
  p = put_digits(p, rem / 3600, 2);
  *p++ = ':';
  p = put_digits(p, rem / 60 % 60, 2);
  *p++ = ':';
  p = put_digits(p, rem % 60, 2);
  if (frac != 0) {
    *p++ = '.';
    p = frac % 1000 == 0 ? put_digits(p, frac / 1000, 3)
                         : put_digits(p, frac, 6);
  }
  *p++ = 'Z';
  if (size > 0) {
    size_t len = (size_t)(p - buf) < size ? (size_t)(p - buf) : size - 1;
    memcpy(out, buf, len);
    out[len] = '\0';
  }
}

int64_t wt_time_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * US_PER_S + ts.tv_nsec / 1000;
}

/* --- UTF-8 -------------------------------------------------------------- */

long wt_utf8_chars(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  long n = 0;
  while (i < len) {
    unsigned c = p[i];
    size_t more;
    unsigned long cp;
    if (c < 0x80) {
      i++;
      n++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      more = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      more = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      more = 3;
      cp = c & 0x07;
    } else {
      return -1; /* continuation byte, overlong lead, or > U+10FFFF */
    }
    if (len - i - 1 < more)
      return -1;
    for (size_t k = 1; k <= more; k++) {
      if ((p[i + k] & 0xc0) != 0x80)
        return -1;
      cp = cp << 6 | (p[i + k] & 0x3f);
    }
    if (more == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
      return -1;
    if (more == 3 && (cp < 0x10000 || cp > 0x10ffff))
      return -1;
    i += more + 1;
    n++;
  }
  return n;
}

/* --- envelope ----------------------------------------------------------- */

/* A field's state after a look-up. */
typedef enum field_state {
  FIELD_BAD = -1,
  FIELD_ABSENT = 0,
  FIELD_OK = 1
} field_state;

/* An optional envelope string: absent or null -> FIELD_ABSENT. */
static field_state env_string(json_object *root, const char *key,
                              const char **out, size_t *len, char *errstr,
                              size_t errstr_size) {
  json_object *v = NULL;
  if (!json_object_object_get_ex(root, key, &v) || !v)
    return FIELD_ABSENT;
  if (!json_object_is_type(v, json_type_string)) {
    wt_errf(errstr, errstr_size, "%s: must be a string", key);
    return FIELD_BAD;
  }
  *out = json_object_get_string(v);
  *len = (size_t)json_object_get_string_len(v);
  if (strlen(*out) != *len) {
    wt_errf(errstr, errstr_size, "%s: must not contain NUL", key);
    return FIELD_BAD;
  }
  return FIELD_OK;
}

static field_state env_uuid(json_object *root, const char *key,
                            char out[WT_UUID_STR], char *errstr,
                            size_t errstr_size) {
  const char *s = NULL;
  size_t len = 0;
  field_state st = env_string(root, key, &s, &len, errstr, errstr_size);
  if (st != FIELD_OK)
    return st;
  if (!wt_uuid_valid(s)) {
    wt_errf(errstr, errstr_size, "%s: not a canonical lowercase UUID", key);
    return FIELD_BAD;
  }
  memcpy(out, s, WT_UUID_STR);
  return FIELD_OK;
}

static bool type_needs_project(wt_cmd_type t) {
  return !type_is_user(t);
}

static wt_err parse_envelope(json_object *root, wt_command *cmd,
                             json_object **payload, char *errstr,
                             size_t errstr_size) {
  json_object *v = NULL;
  const char *s = NULL;
  size_t len = 0;
  field_state st;

  if (!json_object_object_get_ex(root, "v", &v) ||
      !json_object_is_type(v, json_type_int) || json_object_get_int64(v) != 1) {
    wt_errf(errstr, errstr_size, "v: must be the integer 1");
    return WT_ERR_INVALID;
  }
  st = env_uuid(root, "command_id", cmd->command_id, errstr, errstr_size);
  if (st == FIELD_ABSENT)
    wt_errf(errstr, errstr_size, "command_id: required");
  if (st != FIELD_OK)
    return WT_ERR_INVALID;

  st = env_string(root, "type", &s, &len, errstr, errstr_size);
  if (st == FIELD_ABSENT)
    wt_errf(errstr, errstr_size, "type: required");
  if (st != FIELD_OK)
    return WT_ERR_INVALID;
  cmd->type = wt_cmd_type_parse(s);
  if (cmd->type == WT_CMD_NONE) {
    wt_errf(errstr, errstr_size, "type: unknown command type \"%.40s\"", s);
    return WT_ERR_INVALID;
  }

  st = env_string(root, "actor_id", &s, &len, errstr, errstr_size);
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

  st = env_string(root, "issued_at", &s, &len, errstr, errstr_size);
  if (st == FIELD_ABSENT)
    wt_errf(errstr, errstr_size, "issued_at: required");
  if (st != FIELD_OK)
    return WT_ERR_INVALID;
  if (wt_time_parse(s, &cmd->issued_at) != 0) {
    wt_errf(errstr, errstr_size,
            "issued_at: not an RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SS[.f]Z)");
    return WT_ERR_INVALID;
  }

  st = env_uuid(root, "project_id", cmd->project_id, errstr, errstr_size);
  if (st == FIELD_BAD)
    return WT_ERR_INVALID;
  if (st == FIELD_ABSENT && type_needs_project(cmd->type)) {
    wt_errf(errstr, errstr_size, "project_id: required for %s",
            wt_cmd_type_name(cmd->type));
    return WT_ERR_INVALID;
  }
  st = env_uuid(root, "user_id", cmd->user_id, errstr, errstr_size);
  if (st == FIELD_BAD)
    return WT_ERR_INVALID;
  if (st == FIELD_ABSENT && type_is_user(cmd->type)) {
    wt_errf(errstr, errstr_size, "user_id: required for %s",
            wt_cmd_type_name(cmd->type));
    return WT_ERR_INVALID;
  }

  st = env_string(root, "origin", &s, &len, errstr, errstr_size);
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

  if (!json_object_object_get_ex(root, "payload", payload) ||
      !json_object_is_type(*payload, json_type_object)) {
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
static field_state pl_get(wt_command *cmd, json_object *payload,
                          const char *key, bool required, bool null_ok,
                          json_object **out, bool *is_null) {
  json_object *v = NULL;
  if (is_null)
    *is_null = false;
  if (!json_object_object_get_ex(payload, key, &v)) {
    if (required) {
      payload_fail(cmd, "payload.%s: required", key);
      return FIELD_BAD;
    }
    return FIELD_ABSENT;
  }
  if (!v) {
    if (null_ok && is_null) {
      *is_null = true;
      return FIELD_ABSENT;
    }
    payload_fail(cmd, "payload.%s: must not be null", key);
    return FIELD_BAD;
  }
  *out = v;
  return FIELD_OK;
}

static field_state pl_string(wt_command *cmd, json_object *payload,
                             const char *key, bool required, const char **s,
                             size_t *len) {
  json_object *v = NULL;
  field_state st = pl_get(cmd, payload, key, required, false, &v, NULL);
  if (st != FIELD_OK)
    return st;
  if (!json_object_is_type(v, json_type_string)) {
    payload_fail(cmd, "payload.%s: must be a string", key);
    return FIELD_BAD;
  }
  *s = json_object_get_string(v);
  *len = (size_t)json_object_get_string_len(v);
  if (strlen(*s) != *len) {
    payload_fail(cmd, "payload.%s: must not contain NUL", key);
    return FIELD_BAD;
  }
  return FIELD_OK;
}

static field_state pl_uuid(wt_command *cmd, json_object *payload,
                           const char *key, bool required,
                           char out[WT_UUID_STR]) {
  const char *s = NULL;
  size_t len = 0;
  field_state st = pl_string(cmd, payload, key, required, &s, &len);
  if (st != FIELD_OK)
    return st;
  if (!wt_uuid_valid(s)) {
    payload_fail(cmd, "payload.%s: must be a canonical lowercase UUID", key);
    return FIELD_BAD;
  }
  memcpy(out, s, WT_UUID_STR);
  return FIELD_OK;
}

/* A time; with null_ok a null reads FIELD_ABSENT with *is_null. */
static field_state pl_time(wt_command *cmd, json_object *payload,
                           const char *key, bool required, bool null_ok,
                           int64_t *out, bool *is_null) {
  json_object *v = NULL;
  field_state st = pl_get(cmd, payload, key, required, null_ok, &v, is_null);
  if (st != FIELD_OK)
    return st;
  if (!json_object_is_type(v, json_type_string) ||
      wt_time_parse(json_object_get_string(v), out) != 0) {
    payload_fail(cmd,
                 "payload.%s: must be an RFC 3339 UTC time "
                 "(YYYY-MM-DDTHH:MM:SS[.ffffff]Z)%s",
                 key, null_ok ? " or null" : "");
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

/* Text of min..max code points copied into out (size >= 4 * max + 1). */
static field_state pl_text(wt_command *cmd, json_object *payload,
                           const char *key, bool required, long min, long max,
                           bool no_blank, char *out, size_t size) {
  const char *s = NULL;
  size_t len = 0;
  long chars;
  field_state st = pl_string(cmd, payload, key, required, &s, &len);
  if (st != FIELD_OK)
    return st;
  chars = wt_utf8_chars(s, len);
  if (chars < 0) {
    payload_fail(cmd, "payload.%s: not valid UTF-8", key);
    return FIELD_BAD;
  }
  if (chars < min || chars > max || len >= size) {
    payload_fail(cmd, "payload.%s: must be %ld..%ld characters, got %ld", key,
                 min, max, chars);
    return FIELD_BAD;
  }
  if (no_blank && all_blank(s, len)) {
    payload_fail(cmd, "payload.%s: must not be blank", key);
    return FIELD_BAD;
  }
  memcpy(out, s, len + 1);
  return FIELD_OK;
}

static field_state pl_positive(wt_command *cmd, json_object *payload,
                               const char *key, int64_t *out) {
  json_object *v = NULL;
  field_state st = pl_get(cmd, payload, key, false, false, &v, NULL);
  if (st != FIELD_OK)
    return st;
  if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 1 ||
      json_object_get_uint64(v) > (uint64_t)INT64_MAX) {
    payload_fail(cmd, "payload.%s: must be a positive integer", key);
    return FIELD_BAD;
  }
  *out = json_object_get_int64(v);
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

/* Keys each payload may carry; "user_id" on log.* names the author. */
static const char *const keys_name[] = {"name", NULL};
static const char *const keys_member_add[] = {"user_id", "role", NULL};
static const char *const keys_user_id[] = {"user_id", NULL};
static const char *const keys_log_create[] = {
    "log_id", "started_at", "ended_at", "description", "user_id", NULL};
static const char *const keys_log_update[] = {
    "log_id",           "started_at", "ended_at", "description",
    "expected_version", "user_id",    NULL};
static const char *const keys_log_delete[] = {"log_id", "expected_version",
                                              "user_id", NULL};
static const char *const keys_user_create[] = {
    "user_id", "username", "display_name", "password_hash", NULL};

static const char *const *payload_keys(wt_cmd_type t) {
  switch (t) {
  case WT_CMD_PROJECT_CREATE:
  case WT_CMD_PROJECT_RENAME: return keys_name;
  case WT_CMD_MEMBER_ADD: return keys_member_add;
  case WT_CMD_MEMBER_REMOVE: return keys_user_id;
  case WT_CMD_LOG_CREATE: return keys_log_create;
  case WT_CMD_LOG_UPDATE: return keys_log_update;
  case WT_CMD_LOG_DELETE: return keys_log_delete;
  case WT_CMD_USER_CREATE: return keys_user_create;
  case WT_CMD_USER_DEACTIVATE:
  case WT_CMD_USER_REVOKE_TOKENS: return keys_user_id;
  case WT_CMD_NONE:
  case WT_CMD__COUNT: break;
  }
  return NULL;
}

static bool check_unknown_keys(wt_command *cmd, json_object *payload) {
  const char *const *allowed = payload_keys(cmd->type);
  struct json_object_iterator it = json_object_iter_begin(payload);
  struct json_object_iterator end = json_object_iter_end(payload);
  for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
    const char *key = json_object_iter_peek_name(&it);
    bool known = false;
    for (const char *const *k = allowed; k && *k && !known; k++)
      known = strcmp(*k, key) == 0;
    if (!known) {
      payload_fail(cmd, "payload.%.40s: unknown field for %s", key,
                   wt_cmd_type_name(cmd->type));
      return false;
    }
  }
  return true;
}

/* The payload's user_id on user.* must be the envelope's routing key. */
static void parse_user_target(wt_command *cmd, json_object *payload) {
  if (pl_uuid(cmd, payload, "user_id", true, cmd->target_user_id) != FIELD_OK)
    return;
  cmd->fields |= WT_F_USER_ID;
  if (strcmp(cmd->target_user_id, cmd->user_id) != 0)
    payload_fail(cmd, "payload.user_id: must equal the envelope's user_id");
}

static void parse_log_times(wt_command *cmd, json_object *payload,
                            bool create) {
  field_state st;
  st = pl_time(cmd, payload, "started_at", create, false, &cmd->started_at,
               NULL);
  if (st == FIELD_BAD)
    return;
  if (st == FIELD_OK)
    cmd->fields |= WT_F_STARTED_AT;
  st = pl_time(cmd, payload, "ended_at", false, true, &cmd->ended_at,
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

static void parse_log(wt_command *cmd, json_object *payload) {
  bool create = cmd->type == WT_CMD_LOG_CREATE;
  field_state st;
  if (pl_uuid(cmd, payload, "log_id", true, cmd->log_id) != FIELD_OK)
    return;
  cmd->fields |= WT_F_LOG_ID;
  st = pl_uuid(cmd, payload, "user_id", false, cmd->target_user_id);
  if (st == FIELD_BAD)
    return;
  if (st == FIELD_OK)
    cmd->fields |= WT_F_USER_ID;
  if (cmd->type != WT_CMD_LOG_CREATE) {
    st = pl_positive(cmd, payload, "expected_version", &cmd->expected_version);
    if (st == FIELD_BAD)
      return;
    if (st == FIELD_OK)
      cmd->fields |= WT_F_EXPECTED_VERSION;
  }
  if (cmd->type == WT_CMD_LOG_DELETE)
    return;
  parse_log_times(cmd, payload, create);
  if (cmd->payload_error)
    return;
  st = pl_text(cmd, payload, "description", false, 0, WT_DESCRIPTION_MAX_CHARS,
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

static void parse_payload(wt_command *cmd, json_object *payload) {
  const char *s = NULL;
  size_t len = 0;
  if (!check_unknown_keys(cmd, payload))
    return;
  switch (cmd->type) {
  case WT_CMD_PROJECT_CREATE:
  case WT_CMD_PROJECT_RENAME:
    if (pl_text(cmd, payload, "name", true, 1, WT_NAME_MAX_CHARS, true,
                cmd->name, sizeof(cmd->name)) == FIELD_OK)
      cmd->fields |= WT_F_NAME;
    break;
  case WT_CMD_MEMBER_ADD:
  case WT_CMD_MEMBER_REMOVE:
    if (pl_uuid(cmd, payload, "user_id", true, cmd->target_user_id) != FIELD_OK)
      break;
    cmd->fields |= WT_F_USER_ID;
    if (cmd->type == WT_CMD_MEMBER_REMOVE ||
        pl_string(cmd, payload, "role", true, &s, &len) != FIELD_OK)
      break;
    if (strcmp(s, "member") == 0)
      cmd->role = WT_ROLE_MEMBER;
    else if (strcmp(s, "owner") == 0)
      cmd->role = WT_ROLE_OWNER;
    else
      payload_fail(cmd, "payload.role: must be \"member\" or \"owner\"");
    if (cmd->role != WT_ROLE_NONE)
      cmd->fields |= WT_F_ROLE;
    break;
  case WT_CMD_LOG_CREATE:
  case WT_CMD_LOG_UPDATE:
  case WT_CMD_LOG_DELETE: parse_log(cmd, payload); break;
  case WT_CMD_USER_CREATE:
    parse_user_target(cmd, payload);
    if (cmd->payload_error ||
        pl_string(cmd, payload, "username", true, &s, &len) != FIELD_OK)
      break;
    if (!username_valid(s, len)) {
      payload_fail(cmd, "payload.username: must be 3..64 of [a-z0-9_.-]");
      break;
    }
    memcpy(cmd->username, s, len + 1);
    cmd->fields |= WT_F_USERNAME;
    if (pl_text(cmd, payload, "display_name", true, 1, WT_NAME_MAX_CHARS, true,
                cmd->display_name, sizeof(cmd->display_name)) != FIELD_OK)
      break;
    cmd->fields |= WT_F_DISPLAY_NAME;
    if (pl_string(cmd, payload, "password_hash", true, &s, &len) != FIELD_OK)
      break;
    if (!password_hash_valid(s, len)) {
      payload_fail(cmd, "payload.password_hash: must be a crypt-style hash "
                        "(\"$...\", 1..512 printable ASCII characters)");
      break;
    }
    memcpy(cmd->password_hash, s, len + 1);
    cmd->fields |= WT_F_PASSWORD_HASH;
    break;
  case WT_CMD_USER_DEACTIVATE:
  case WT_CMD_USER_REVOKE_TOKENS: parse_user_target(cmd, payload); break;
  case WT_CMD_NONE:
  case WT_CMD__COUNT: break;
  }
}

/* What json-c's strict mode still lets through: NaN, Infinity, "1.".
 * Outside strings only structure, numbers and true/false/null remain. */
static bool strict_json(const char *s, size_t len) {
  bool in_string = false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    /* a '.' must lead a fraction's digits */
    bool bad_dot =
        c == '.' && (i + 1 == len || s[i + 1] < '0' || s[i + 1] > '9');
    if (bad_dot || !c || !strchr("{}[]:,-+.0123456789eE \t\n\rtruefalsn", c))
      return false;
  }
  return true;
}

/* Trailing JSON whitespace is fine; anything else after the value is not. */
static bool only_whitespace(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
      return false;
  return true;
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

wt_err wt_command_parse(const char *json, size_t len, wt_command *cmd,
                        char *errstr, size_t errstr_size) {
  json_tokener *tok = NULL;
  json_object *root = NULL, *payload = NULL;
  wt_err err = WT_ERR_INVALID;
  size_t end;

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
  tok = json_tokener_new_ex(PARSE_DEPTH);
  if (!tok) {
    wt_errf(errstr, errstr_size, "out of memory");
    return WT_ERR_NOMEM;
  }
  json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
  root = json_tokener_parse_ex(tok, json, (int)len);
  end = json_tokener_get_parse_end(tok);
  if (!root && json_tokener_get_error(tok) == json_tokener_success) {
    wt_errf(errstr, errstr_size, "not a JSON object"); /* "null" */
    goto out;
  }
  if (!root) {
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    wt_errf(errstr, errstr_size, "not JSON: %s at byte %zu",
            jerr == json_tokener_continue ? "unexpected end of data"
                                          : json_tokener_error_desc(jerr),
            end);
    goto out;
  }
  if (end < len && !only_whitespace(json + end, len - end)) {
    wt_errf(errstr, errstr_size, "not JSON: trailing bytes at byte %zu", end);
    goto out;
  }
  if (!json_object_is_type(root, json_type_object)) {
    wt_errf(errstr, errstr_size, "not a JSON object");
    goto out;
  }
  if (!strict_json(json, end)) {
    wt_errf(errstr, errstr_size, "not JSON: NaN, Infinity or \"1.\"");
    goto out;
  }
  err = parse_envelope(root, cmd, &payload, errstr, errstr_size);
  if (err != WT_OK)
    goto out;
  parse_payload(cmd, payload);
out:
  json_object_put(root);
  json_tokener_free(tok);
  return err;
}

/* --- serialising -------------------------------------------------------- */

static int add(json_object *o, const char *key, json_object *v) {
  if (!v)
    return -1;
  if (json_object_object_add_ex(o, key, v,
                                JSON_C_OBJECT_ADD_KEY_IS_NEW |
                                    JSON_C_OBJECT_ADD_CONSTANT_KEY) != 0) {
    json_object_put(v);
    return -1;
  }
  return 0;
}

static int add_str(json_object *o, const char *key, const char *s) {
  return add(o, key, json_object_new_string(s));
}

static int add_time(json_object *o, const char *key, int64_t us) {
  char buf[40];
  wt_time_format(us, buf, sizeof(buf));
  return add_str(o, key, buf);
}

static int add_null(json_object *o, const char *key) {
  return json_object_object_add_ex(o, key, NULL,
                                   JSON_C_OBJECT_ADD_KEY_IS_NEW |
                                       JSON_C_OBJECT_ADD_CONSTANT_KEY);
}

static int payload_to_json(const wt_command *c, json_object *p) {
  int rc = 0;
  unsigned f = c->fields;
  switch (c->type) {
  case WT_CMD_PROJECT_CREATE:
  case WT_CMD_PROJECT_RENAME: return add_str(p, "name", c->name);
  case WT_CMD_MEMBER_ADD:
    rc |= add_str(p, "user_id", c->target_user_id);
    return rc | add_str(p, "role", wt_role_name(c->role));
  case WT_CMD_MEMBER_REMOVE:
  case WT_CMD_USER_DEACTIVATE:
  case WT_CMD_USER_REVOKE_TOKENS:
    return add_str(p, "user_id", c->target_user_id);
  case WT_CMD_LOG_CREATE:
  case WT_CMD_LOG_UPDATE:
  case WT_CMD_LOG_DELETE:
    rc |= add_str(p, "log_id", c->log_id);
    if (c->target_user_id[0])
      rc |= add_str(p, "user_id", c->target_user_id);
    if (c->type == WT_CMD_LOG_CREATE || (f & WT_F_STARTED_AT))
      rc |= add_time(p, "started_at", c->started_at);
    if (c->type == WT_CMD_LOG_CREATE || (f & WT_F_ENDED_AT))
      rc |= c->ended_at_null ? add_null(p, "ended_at")
                             : add_time(p, "ended_at", c->ended_at);
    if (c->type == WT_CMD_LOG_CREATE || (f & WT_F_DESCRIPTION))
      rc |= add_str(p, "description", c->description);
    if (c->type != WT_CMD_LOG_CREATE && (f & WT_F_EXPECTED_VERSION))
      rc |= add(p, "expected_version",
                json_object_new_int64(c->expected_version));
    return rc;
  case WT_CMD_USER_CREATE:
    rc |= add_str(p, "user_id", c->target_user_id);
    rc |= add_str(p, "username", c->username);
    rc |= add_str(p, "display_name", c->display_name);
    return rc | add_str(p, "password_hash", c->password_hash);
  case WT_CMD_NONE:
  case WT_CMD__COUNT: break;
  }
  return -1;
}

char *wt_command_to_json(const wt_command *cmd) {
  json_object *o = NULL, *p = NULL;
  char *out = NULL;
  int rc = 0;
  if (!cmd || cmd->type <= WT_CMD_NONE || cmd->type >= WT_CMD__COUNT)
    return NULL;
  o = json_object_new_object();
  p = json_object_new_object();
  if (!o || !p)
    goto out;
  rc |= add(o, "v", json_object_new_int(1));
  rc |= add_str(o, "command_id", cmd->command_id);
  rc |= add_str(o, "type", wt_cmd_type_name(cmd->type));
  rc |= add_str(o, "actor_id", cmd->actor_system ? "system" : cmd->actor_id);
  if (cmd->project_id[0])
    rc |= add_str(o, "project_id", cmd->project_id);
  if (cmd->user_id[0])
    rc |= add_str(o, "user_id", cmd->user_id);
  rc |= add_time(o, "issued_at", cmd->issued_at);
  if (cmd->origin[0])
    rc |= add_str(o, "origin", cmd->origin);
  rc |= payload_to_json(cmd, p);
  rc |= add(o, "payload", p);
  p = NULL; /* owned by o, or freed by add() */
  if (rc == 0) {
    const char *text = json_object_to_json_string_ext(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    out = text ? strdup(text) : NULL;
  }
out:
  json_object_put(p);
  json_object_put(o);
  return out;
}

void wt_command_init(wt_command *cmd, wt_cmd_type type, const char *actor_id) {
  memset(cmd, 0, sizeof(*cmd));
  cmd->type = type;
  cmd->actor_system = actor_id == NULL;
  if (actor_id)
    snprintf(cmd->actor_id, sizeof(cmd->actor_id), "%s", actor_id);
}
