/* fuzz_json: wt_json (common/wt_json.c), the strict scanner every command
 * (wt_command_parse) and every client frame (the gateway's wt_json_check)
 * goes through. Any bytes. Besides no crash, no read past the input and no
 * undefined behaviour, it checks what the header promises:
 *   - wt_json_scan, wt_json_scan_nested and wt_json_check agree on what is
 *     JSON (check refuses only more), and a larger depth refuses nothing
 *     a smaller one took;
 *   - every span a callback gets lies in the input; a string decodes to
 *     valid UTF-8 no longer than its span, of the length wt_json_string
 *     returns however small the buffer; only an escaped string has a flaw;
 *   - wt_json_int64 agrees with strtoll;
 *   - a text the scanner takes is valid UTF-8 (wt_utf8_chars), json-c
 *     reads it too when it is an object or an array (the gateway parses
 *     frames with json-c first), and
 *     wt_json_plain_run stops where a byte loop does. */
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wt_json.h"

#define DEPTH 16 /* the gateway's GW_JSON_DEPTH */
#define SMALL_DEPTH 3

typedef struct seen {
  const char *base;
  size_t size;
  size_t members;
} seen;

static void check_int(const wt_json_span *v) {
  char buf[64];
  int64_t x = 0;
  long long ref;
  char *end = NULL;
  int rc = wt_json_int64(v, &x);
  if (v->len >= sizeof(buf)) { /* over 63 digits: never an int64 */
    FUZZ_CHECK(rc == -1);
    return;
  }
  memcpy(buf, v->p, v->len);
  buf[v->len] = '\0';
  errno = 0;
  ref = strtoll(buf, &end, 10);
  FUZZ_CHECK(end && *end == '\0');
  if (errno == ERANGE) {
    FUZZ_CHECK(rc == -1);
  } else {
    FUZZ_CHECK(rc == 0 && x == ref);
  }
}

static void check_string(const wt_json_span *v) {
  char small[8], why[128];
  char *out = malloc(v->len + 1);
  long chars = -1, small_chars = -1;
  size_t n, m;
  bool flaw;
  FUZZ_CHECK(out != NULL);
  n = wt_json_string(v, out, v->len + 1, &chars);
  FUZZ_CHECK(n <= v->len); /* an escape never decodes longer */
  FUZZ_CHECK(out[n] == '\0');
  FUZZ_CHECK(wt_utf8_chars(out, n) == chars);
  if (!v->escaped)
    FUZZ_CHECK(n == v->len && memcmp(out, v->p, n) == 0);
  m = wt_json_string(v, small, sizeof(small), &small_chars);
  FUZZ_CHECK(m == n && small_chars == chars);
  FUZZ_CHECK(strlen(small) < sizeof(small));
  FUZZ_CHECK(memcmp(small, out, n < sizeof(small) ? n : sizeof(small) - 1) ==
             0);
  FUZZ_CHECK(wt_json_string(v, NULL, 0, NULL) == n);
  flaw = wt_json_string_flaw(v, why, sizeof(why));
  FUZZ_CHECK(!flaw || v->escaped);
  FUZZ_CHECK(!flaw || why[0] != '\0');
  /* what a flaw is about: a NUL, or the U+FFFD a lone surrogate became */
  if (flaw && strncmp(why, "NUL", 3) == 0)
    FUZZ_CHECK(strlen(out) < n);
  if (flaw && strncmp(why, "NUL", 3) != 0)
    FUZZ_CHECK(memmem(out, n, "\xef\xbf\xbd", 3) != NULL);
  free(out);
}

static void check_span(const seen *s, const wt_json_span *v) {
  FUZZ_CHECK(v->p >= s->base && v->len <= s->size &&
             (size_t)(v->p - s->base) <= s->size - v->len);
  switch (v->type) {
  case WT_JSON_STRING: check_string(v); break;
  case WT_JSON_INT: check_int(v); break;
  case WT_JSON_REAL:
    FUZZ_CHECK(v->len > 0 && wt_json_int64(v, &(int64_t){0}) == -1);
    break;
  case WT_JSON_OBJECT:
    FUZZ_CHECK(v->p[0] == '{' && v->p[v->len - 1] == '}');
    break;
  case WT_JSON_ARRAY:
    FUZZ_CHECK(v->p[0] == '[' && v->p[v->len - 1] == ']');
    break;
  case WT_JSON_BOOL:
    FUZZ_CHECK((v->len == 4 && memcmp(v->p, "true", 4) == 0) ||
               (v->len == 5 && memcmp(v->p, "false", 5) == 0));
    break;
  case WT_JSON_NULL:
    FUZZ_CHECK(v->len == 4 && memcmp(v->p, "null", 4) == 0);
    break;
  }
}

static void on_member(void *ctx, const wt_json_span *key,
                      const wt_json_span *value) {
  seen *s = ctx;
  FUZZ_CHECK(key->type == WT_JSON_STRING);
  check_span(s, key);
  check_span(s, value);
  s->members++;
}

static void on_nested_start(void *ctx) {
  (void)ctx;
}

/* json-c as the gateway sets it up (gw_main.c): strict, UTF-8 checked;
 * but one level deeper, as json-c counts a scalar as a level of its own
 * (a frame of 16 nested arrays around a 0 is too deep for a tokener of
 * depth 16, which the gateway's GW_JSON_DEPTH still is: found here). */
static bool json_c_reads(const char *text, size_t len) {
  json_tokener *tok = json_tokener_new_ex(DEPTH + 1);
  json_object *o;
  bool ok;
  FUZZ_CHECK(tok != NULL);
  json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
  o = json_tokener_parse_ex(tok, text, (int)len);
  ok = json_tokener_get_error(tok) == json_tokener_success &&
       json_tokener_get_parse_end(tok) == len;
  json_object_put(o);
  json_tokener_free(tok);
  return ok;
}

static void check_plain_run(const char *text, size_t len) {
  for (size_t at = 0; at < len && at < 16; at++) {
    size_t want = at, got = wt_json_plain_run(text + at, len - at);
    while (want < len) {
      unsigned char c = (unsigned char)text[want];
      if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
        break;
      want++;
    }
    FUZZ_CHECK(got == want - at);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  seen root = {text, size, 0}, nested = {text, size, 0};
  const wt_json_nested nest = {.key = "payload",
                               .key_len = 7,
                               .start = on_nested_start,
                               .fn = on_member,
                               .ctx = &nested};
  wt_json_type type = WT_JSON_NULL, type2 = WT_JSON_NULL;
  wt_json_flaw flaw;
  char err[160];
  wt_err scan, scan_nested, scan_small, check;

  if (size > INT32_MAX)
    return 0;
  check_plain_run(text, size);
  scan = wt_json_scan(text, size, DEPTH, &type, on_member, &root, err,
                      sizeof(err));
  FUZZ_CHECK(scan == WT_OK || scan == WT_ERR_INVALID);
  if (scan != WT_OK)
    FUZZ_CHECK(err[0] != '\0');
  if (type != WT_JSON_OBJECT)
    FUZZ_CHECK(root.members == 0 || scan != WT_OK);

  scan_nested = wt_json_scan_nested(text, size, DEPTH, &type2, NULL, NULL,
                                    &nest, err, sizeof(err));
  FUZZ_CHECK(scan_nested == scan);
  if (scan == WT_OK)
    FUZZ_CHECK(type2 == type);

  scan_small = wt_json_scan(text, size, SMALL_DEPTH, NULL, NULL, NULL, NULL, 0);
  if (scan_small == WT_OK)
    FUZZ_CHECK(scan == WT_OK);

  check = wt_json_check(text, size, DEPTH, &flaw);
  FUZZ_CHECK(strlen(flaw.path) < sizeof(flaw.path) &&
             strlen(flaw.why) < sizeof(flaw.why));
  if (check == WT_OK)
    FUZZ_CHECK(scan == WT_OK);
  else
    FUZZ_CHECK(flaw.why[0] != '\0');
  /* JSON the scanner takes fails the check only for what it is about:
   * a NUL, a lone surrogate escape, an integer past int64 */
  if (scan == WT_OK && check != WT_OK)
    FUZZ_CHECK(strstr(flaw.why, "NUL is not allowed") ||
               strstr(flaw.why, "lone surrogate") ||
               strstr(flaw.why, "is out of range"));
  /* a syntax error (a flaw before it comes first) is the scanner's */
  if (scan != WT_OK && strstr(flaw.why, " at byte ")) {
    wt_json_scan(text, size, DEPTH, NULL, NULL, NULL, err, sizeof(err));
    FUZZ_CHECK(flaw.path[0] == '\0' && strcmp(flaw.why, err) == 0);
  }
  FUZZ_CHECK(wt_utf8_chars(flaw.path, strlen(flaw.path)) >= 0);

  if (scan == WT_OK) {
    FUZZ_CHECK(wt_utf8_chars(text, size) >= 0);
    /* (json-c waits for more after a scalar at the root: containers only,
     * which is what the gateway takes) */
    if (type == WT_JSON_OBJECT || type == WT_JSON_ARRAY)
      FUZZ_CHECK(json_c_reads(text, size));
  }
  return 0;
}
