/* Unit tests of wt_sign: a signature against vectors computed outside the
 * product (Python's hmac and `openssl dgst -sha256 -mac HMAC`), each part
 * of the signed message tampered with, the verdicts of wt_sign_verify and
 * what wt_sign_permits makes of them, every keys-file error by line (never
 * with the key in it), and the two loaders on real files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "wt_sign.h"

#define KEY_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
#define KEY_C "0123456789ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef"
#define ALICE "00000000-0000-4000-8000-00000000a11c"
#define VALUE "{\"v\":1}"
/* HMAC-SHA256(KEY_A, "wt-command-v1\0wt-admin\0" ALICE "\0" VALUE), by
 *   printf 'wt-command-v1\0wt-admin\0<ALICE>\0{"v":1}' |
 *     openssl dgst -sha256 -mac HMAC -macopt hexkey:<KEY_A>
 * and Python's hmac.new(key, msg, hashlib.sha256) alike */
#define SIG_A                                                                  \
  "v1=9dd44a31e50f0a95e22f118cfaf9898b11bc1c17f4ed639c83ae3c318e95cc64"
/* HMAC-SHA256(KEY_B, "wt-command-v1\0p\0\0"): empty key and value */
#define SIG_B_EMPTY                                                            \
  "v1=2bdedc3ccfbb8e911c3ade3e10581ab5fb15de1a22561c6df813f1e8db7ac3c5"

static const char KEYS_FILE[] =
    "# the producers this worker trusts\n"
    "\n"
    "wt-admin system,users " KEY_A "\n"
    "  wt-gateway\tusers   " KEY_B "  \r\n"
    "wt-ingest users,"
    "users " KEY_C "\n"
    "sys-only system " KEY_B; /* no newline at the end */

static wt_sign_keys *keys_of(const char *text) {
  wt_sign_keys *k = NULL;
  char err[256] = "";
  if (wt_sign_keys_parse(text, strlen(text), &k, err, sizeof(err)) != WT_OK)
    fail_msg("keys: %s", err);
  return k;
}

static wt_sign_key *key_of(const char *id, const char *hex) {
  wt_sign_key *k = NULL;
  char err[256] = "";
  if (wt_sign_key_parse(id, hex, strlen(hex), &k, err, sizeof(err)) != WT_OK)
    fail_msg("key: %s", err);
  return k;
}

static wt_sign_headers headers(const char *producer, const char *signature) {
  wt_sign_headers h = {0};
  if (producer) {
    h.producer = producer;
    h.producer_len = strlen(producer);
    h.producer_count = 1;
  }
  if (signature) {
    h.signature = signature;
    h.signature_len = strlen(signature);
    h.signature_count = 1;
  }
  return h;
}

static wt_signer verify(const wt_sign_keys *keys, const char *producer,
                        const char *signature, const char *msgkey,
                        const char *value) {
  wt_sign_headers h = headers(producer, signature);
  wt_signer s;
  wt_sign_verify(keys, &h, msgkey, strlen(msgkey), value, strlen(value), &s);
  return s;
}

/* --- signing -------------------------------------------------------------- */

static void test_vectors(void **state) {
  char sig[WT_SIGN_SIGNATURE_STR];
  wt_sign_key *a = key_of("wt-admin", KEY_A "\n");
  wt_sign_key *b = key_of("p", KEY_B);
  (void)state;
  assert_string_equal(wt_sign_key_id(a), "wt-admin");
  assert_int_equal(
      wt_sign_message(a, ALICE, strlen(ALICE), VALUE, strlen(VALUE), sig),
      WT_OK);
  assert_string_equal(sig, SIG_A);
  assert_int_equal(wt_sign_message(b, NULL, 0, NULL, 0, sig), WT_OK);
  assert_string_equal(sig, SIG_B_EMPTY);
  wt_sign_key_free(a);
  wt_sign_key_free(b);
}

/* Uppercase hex in a key file is the same key. */
static void test_key_hex_case(void **state) {
  char lower[WT_SIGN_SIGNATURE_STR], upper[WT_SIGN_SIGNATURE_STR];
  wt_sign_key *a = key_of("x", KEY_C);
  wt_sign_key *b = key_of("x", "0123456789abcdef0123456789abcdef0123456789abcd"
                               "ef0123456789abcdef");
  (void)state;
  assert_int_equal(wt_sign_message(a, "k", 1, "v", 1, upper), WT_OK);
  assert_int_equal(wt_sign_message(b, "k", 1, "v", 1, lower), WT_OK);
  assert_string_equal(lower, upper);
  wt_sign_key_free(a);
  wt_sign_key_free(b);
}

static void test_key_parse_errors(void **state) {
  static const struct {
    const char *name, *id, *text;
  } rows[] = {
      {"empty", "p", ""},
      {"newline only", "p", "\n"},
      {"63 digits", "p",
       "000102030405060708090a0b0c0d0e0f101112131415161718"
       "191a1b1c1d1e1"},
      {"65 digits", "p", KEY_A "0"},
      {"not hex", "p",
       "g00102030405060708090a0b0c0d0e0f10111213141516171819"
       "1a1b1c1d1e1f"},
      {"two newlines", "p", KEY_A "\n\n"},
      {"leading blank", "p", " " KEY_A},
      {"bad id", "a b", KEY_A},
      {"empty id", "", KEY_A},
  };
  (void)state;
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    wt_sign_key *k = (wt_sign_key *)1;
    char err[256] = "";
    wt_err e = wt_sign_key_parse(rows[i].id, rows[i].text, strlen(rows[i].text),
                                 &k, err, sizeof(err));
    if (e != WT_ERR_INVALID || k != NULL)
      fail_msg("%s: accepted", rows[i].name);
    if (strstr(err, "0102030405"))
      fail_msg("%s: the key in the error: %s", rows[i].name, err);
  }
}

/* --- verifying ------------------------------------------------------------ */

static void test_verify_ok_and_scopes(void **state) {
  wt_sign_keys *keys = keys_of(KEYS_FILE);
  wt_sign_key *gw = key_of("wt-gateway", KEY_B);
  char sig[WT_SIGN_SIGNATURE_STR];
  wt_signer s;
  (void)state;
  assert_int_equal(wt_sign_keys_count(keys), 4);
  s = verify(keys, "wt-admin", SIG_A, ALICE, VALUE);
  assert_int_equal(s.status, WT_SIGN_OK);
  assert_int_equal(s.scopes, WT_SCOPE_SYSTEM | WT_SCOPE_USERS);
  assert_string_equal(s.id, "wt-admin");
  assert_int_equal(wt_sign_message(gw, "k", 1, "v", 1, sig), WT_OK);
  s = verify(keys, "wt-gateway", sig, "k", "v");
  assert_int_equal(s.status, WT_SIGN_OK);
  assert_int_equal(s.scopes, WT_SCOPE_USERS);
  /* the same key, signed as another listed producer: not that one's key
   * (sys-only shares KEY_B, so the id is part of what is signed) */
  s = verify(keys, "sys-only", sig, "k", "v");
  assert_int_equal(s.status, WT_SIGN_BAD_SIGNATURE);
  assert_string_equal(s.id, "sys-only");
  wt_sign_key_free(gw);
  wt_sign_keys_free(keys);
}

/* Each part of the signed message changed: the signature fails. */
static void test_verify_tampered(void **state) {
  wt_sign_keys *keys = keys_of(KEYS_FILE);
  wt_sign_keys *other = keys_of("wt-admin system,users " KEY_B "\n");
  (void)state;
  /* another producer id of the same key: wt-admin's signature as itself
   * is fine, under another key it is not */
  assert_int_equal(verify(other, "wt-admin", SIG_A, ALICE, VALUE).status,
                   WT_SIGN_BAD_SIGNATURE);
  /* the message key */
  assert_int_equal(verify(keys, "wt-admin", SIG_A,
                          "00000000-0000-4000-8000-00000000a11d", VALUE)
                       .status,
                   WT_SIGN_BAD_SIGNATURE);
  /* the value, one byte */
  assert_int_equal(verify(keys, "wt-admin", SIG_A, ALICE, "{\"v\":2}").status,
                   WT_SIGN_BAD_SIGNATURE);
  /* the boundary between key and value moved */
  assert_int_equal(verify(keys, "wt-admin", SIG_A,
                          "00000000-0000-4000-8000-00000000a11c{", "\"v\":1}")
                       .status,
                   WT_SIGN_BAD_SIGNATURE);
  /* the signature, last digit */
  assert_int_equal(verify(keys, "wt-admin",
                          "v1=9dd44a31e50f0a95e22f118cfaf9898b11bc1c17f4ed639c"
                          "83ae3c318e95cc65",
                          ALICE, VALUE)
                       .status,
                   WT_SIGN_BAD_SIGNATURE);
  /* another listed producer's name on it */
  assert_int_equal(verify(keys, "wt-gateway", SIG_A, ALICE, VALUE).status,
                   WT_SIGN_BAD_SIGNATURE);
  wt_sign_keys_free(other);
  wt_sign_keys_free(keys);
}

static void test_verify_verdicts(void **state) {
  static const struct {
    const char *name, *producer, *signature;
    wt_sign_status want;
  } rows[] = {
      {"unsigned", NULL, NULL, WT_SIGN_UNSIGNED},
      {"producer only", "wt-admin", NULL, WT_SIGN_MALFORMED},
      {"signature only", NULL, SIG_A, WT_SIGN_MALFORMED},
      {"unknown producer", "mallory", SIG_A, WT_SIGN_UNKNOWN_PRODUCER},
      {"bad producer id", "wt admin", SIG_A, WT_SIGN_MALFORMED},
      {"empty producer id", "", SIG_A, WT_SIGN_MALFORMED},
      {"v2", "wt-admin",
       "v2=9dd44a31e50f0a95e22f118cfaf9898b11bc1c17f4ed639c83ae3c318e95cc64",
       WT_SIGN_MALFORMED},
      {"uppercase hex", "wt-admin",
       "v1=9DD44A31E50F0A95E22F118CFAF9898B11BC1C17F4ED639C83AE3C318E95CC64",
       WT_SIGN_MALFORMED},
      {"short", "wt-admin",
       "v1=9dd44a31e50f0a95e22f118cfaf9898b11bc1c17f4ed639c83ae3c318e95cc6",
       WT_SIGN_MALFORMED},
      {"long", "wt-admin", SIG_A "0", WT_SIGN_MALFORMED},
      {"no prefix", "wt-admin",
       "9dd44a31e50f0a95e22f118cfaf9898b11bc1c17f4ed639c83ae3c318e95cc64",
       WT_SIGN_MALFORMED},
      {"ok", "wt-admin", SIG_A, WT_SIGN_OK},
  };
  wt_sign_keys *keys = keys_of(KEYS_FILE);
  (void)state;
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    wt_signer s =
        verify(keys, rows[i].producer, rows[i].signature, ALICE, VALUE);
    if (s.status != rows[i].want)
      fail_msg("%s: status %d, want %d", rows[i].name, (int)s.status,
               (int)rows[i].want);
    if (s.status != WT_SIGN_OK && s.scopes != 0)
      fail_msg("%s: scopes without a valid signature", rows[i].name);
  }
  /* no keys: nothing is checked, whatever the headers */
  assert_int_equal(verify(NULL, "wt-admin", SIG_A, ALICE, VALUE).status,
                   WT_SIGN_UNCHECKED);
  wt_sign_keys_free(keys);
}

/* A header that occurs twice is malformed, even when one copy is good. */
static void test_verify_repeated_header(void **state) {
  wt_sign_keys *keys = keys_of(KEYS_FILE);
  wt_sign_headers h = headers("wt-admin", SIG_A);
  wt_signer s;
  (void)state;
  h.producer_count = 2;
  wt_sign_verify(keys, &h, ALICE, strlen(ALICE), VALUE, strlen(VALUE), &s);
  assert_int_equal(s.status, WT_SIGN_MALFORMED);
  h.producer_count = 1;
  h.signature_count = 2;
  wt_sign_verify(keys, &h, ALICE, strlen(ALICE), VALUE, strlen(VALUE), &s);
  assert_int_equal(s.status, WT_SIGN_MALFORMED);
  wt_sign_keys_free(keys);
}

static void test_permits(void **state) {
  static const struct {
    const char *name;
    wt_signer s;
    bool system;
    wt_sign_refusal want;
    const char *message; /* a part of it; NULL: allowed */
  } rows[] = {
      {"no keys, user",
       {WT_SIGN_UNCHECKED, 0, NULL},
       false,
       WT_SIGN_ALLOWED,
       NULL},
      {"no keys, system",
       {WT_SIGN_UNCHECKED, 0, NULL},
       true,
       WT_SIGN_REFUSED_NO_KEYS,
       "system commands need a signed producer: set WT_PRODUCER_KEYS_FILE"},
      {"system producer, system",
       {WT_SIGN_OK, WT_SCOPE_SYSTEM, "wt-admin"},
       true,
       WT_SIGN_ALLOWED,
       NULL},
      {"users producer, system",
       {WT_SIGN_OK, WT_SCOPE_USERS, "wt-gateway"},
       true,
       WT_SIGN_REFUSED_SCOPE,
       "producer wt-gateway may not issue system commands"},
      {"system producer, user",
       {WT_SIGN_OK, WT_SCOPE_SYSTEM, "sys-only"},
       false,
       WT_SIGN_REFUSED_SCOPE,
       "producer sys-only may not issue user commands"},
      {"users producer, user",
       {WT_SIGN_OK, WT_SCOPE_USERS, "wt-gateway"},
       false,
       WT_SIGN_ALLOWED,
       NULL},
      {"unsigned, user",
       {WT_SIGN_UNSIGNED, 0, NULL},
       false,
       WT_SIGN_REFUSED_UNSIGNED,
       "unsigned command"},
      {"unknown, system",
       {WT_SIGN_UNKNOWN_PRODUCER, 0, NULL},
       true,
       WT_SIGN_REFUSED_UNKNOWN_PRODUCER,
       "unknown producer"},
      {"bad signature, user",
       {WT_SIGN_BAD_SIGNATURE, 0, "wt-gateway"},
       false,
       WT_SIGN_REFUSED_BAD_SIGNATURE,
       "bad signature for producer wt-gateway"},
      {"malformed, user",
       {WT_SIGN_MALFORMED, 0, NULL},
       false,
       WT_SIGN_REFUSED_MALFORMED,
       "malformed signature headers"},
  };
  (void)state;
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    char msg[256] = "";
    wt_sign_refusal r =
        wt_sign_permits(&rows[i].s, rows[i].system, msg, sizeof(msg));
    if (r != rows[i].want)
      fail_msg("%s: %s, want %s", rows[i].name, wt_sign_refusal_name(r),
               wt_sign_refusal_name(rows[i].want));
    if (rows[i].message && !strstr(msg, rows[i].message))
      fail_msg("%s: message \"%s\"", rows[i].name, msg);
  }
  assert_string_equal(wt_sign_refusal_name(WT_SIGN_REFUSED_SCOPE), "scope");
  assert_string_equal(wt_sign_refusal_name(WT_SIGN_REFUSED_UNKNOWN_PRODUCER),
                      "unknown_producer");
}

/* --- the keys file ---------------------------------------------------------
 */

static void test_keys_file_errors(void **state) {
  static const struct {
    const char *name, *text, *error;
  } rows[] = {
      {"empty", "", "no producer listed"},
      {"comments only", "# nothing\n\n   \n", "no producer listed"},
      {"missing key", "# c\nwt-admin system\n", "line 2: expected"},
      {"missing scopes", "wt-admin\n", "line 1: expected"},
      {"extra field", "wt-admin system " KEY_A " # comment\n",
       "line 1: more than"},
      {"bad id", "wt/admin system " KEY_A "\n", "line 1: producer id"},
      {"id too long",
       "a1234567890123456789012345678901234567890123456789012345678901234 "
       "system " KEY_A "\n",
       "line 1: producer id"},
      {"unknown scope", "wt-admin root " KEY_A "\n", "line 1: scopes"},
      {"empty scope", "wt-admin system,," KEY_A "\n", "line 1: expected"},
      {"trailing comma", "wt-admin system, " KEY_A "\n", "line 1: scopes"},
      {"short key", "\n\nwt-admin system " KEY_A "\nx users 0123\n",
       "line 4: key must be 64 hex digits"},
      {"long key", "x users " KEY_A "00\n", "line 1: key must be"},
      {"not hex", "x users " KEY_A "\ny users zz" KEY_A "\n",
       "line 2: key must be"},
      {"duplicate id", "a users " KEY_A "\nb users " KEY_B "\na system " KEY_C,
       "line 3: producer a listed twice (first on line 1)"},
      {"nul byte", "a users " KEY_A "\nb\0", "line 2: a NUL byte"},
  };
  (void)state;
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    wt_sign_keys *k = (wt_sign_keys *)1;
    char err[256] = "";
    /* the NUL row is one byte longer than strlen says */
    size_t len =
        strlen(rows[i].text) + (strcmp(rows[i].name, "nul byte") == 0 ? 2 : 0);
    wt_err e = wt_sign_keys_parse(rows[i].text, len, &k, err, sizeof(err));
    if (e != WT_ERR_INVALID || k != NULL)
      fail_msg("%s: accepted", rows[i].name);
    if (!strstr(err, rows[i].error))
      fail_msg("%s: error \"%s\", want \"%s\"", rows[i].name, err,
               rows[i].error);
    if (strstr(err, "0102030405") || strstr(err, "ffffffff") ||
        strstr(err, "0123456789"))
      fail_msg("%s: a key in the error: %s", rows[i].name, err);
  }
}

static void test_keys_file_caps(void **state) {
  size_t cap = WT_SIGN_KEYS_FILE_MAX + 1;
  char *text = malloc(cap + 1);
  char err[256] = "";
  wt_sign_keys *k = NULL;
  size_t len = 0;
  (void)state;
  assert_non_null(text);
  /* too many producers */
  for (int i = 0; i <= WT_SIGN_KEYS_MAX; i++)
    len += (size_t)snprintf(text + len, cap - len, "p%d users %s\n", i, KEY_A);
  assert_int_equal(wt_sign_keys_parse(text, len, &k, err, sizeof(err)),
                   WT_ERR_INVALID);
  assert_non_null(strstr(err, "line 257: more than 256 producers"));
  /* exactly the cap: fine */
  len = 0;
  for (int i = 0; i < WT_SIGN_KEYS_MAX; i++)
    len += (size_t)snprintf(text + len, cap - len, "p%d users %s\n", i, KEY_A);
  assert_int_equal(wt_sign_keys_parse(text, len, &k, err, sizeof(err)), WT_OK);
  assert_int_equal(wt_sign_keys_count(k), WT_SIGN_KEYS_MAX);
  wt_sign_keys_free(k);
  /* a long line */
  memset(text, ' ', WT_SIGN_LINE_MAX + 1);
  memcpy(text + WT_SIGN_LINE_MAX + 1, "\n", 2);
  assert_int_equal(wt_sign_keys_parse(text, strlen(text), &k, err, sizeof(err)),
                   WT_ERR_INVALID);
  assert_non_null(strstr(err, "line 1: longer than 512 bytes"));
  /* the file's size */
  memset(text, '#', cap);
  text[cap] = '\0';
  assert_int_equal(wt_sign_keys_parse(text, cap, &k, err, sizeof(err)),
                   WT_ERR_INVALID);
  assert_non_null(strstr(err, "larger than"));
  free(text);
}

/* --- the loaders -----------------------------------------------------------
 */

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
  assert_int_equal(fclose(f), 0);
}

static void test_loaders(void **state) {
  char dir[] = "/tmp/wt-sign-XXXXXX", path[128], err[512] = "";
  char sig[WT_SIGN_SIGNATURE_STR];
  wt_sign_key *k = NULL;
  wt_sign_keys *keys = NULL;
  (void)state;
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/producer-wt-admin.key", dir);
  write_file(path, KEY_A "\n");
  assert_int_equal(wt_sign_key_load("wt-admin", path, &k, err, sizeof(err)),
                   WT_OK);
  assert_int_equal(
      wt_sign_message(k, ALICE, strlen(ALICE), VALUE, strlen(VALUE), sig),
      WT_OK);
  assert_string_equal(sig, SIG_A);
  wt_sign_key_free(k);
  /* a bad key file: the path and why, not what is in it */
  write_file(path, KEY_A "junk\n");
  assert_int_equal(wt_sign_key_load("wt-admin", path, &k, err, sizeof(err)),
                   WT_ERR_INVALID);
  assert_null(k);
  assert_non_null(strstr(err, path));
  assert_non_null(strstr(err, "64 hex digits"));
  assert_null(strstr(err, "0102030405"));
  unlink(path);
  assert_int_equal(wt_sign_key_load("wt-admin", path, &k, err, sizeof(err)),
                   WT_ERR_IO);
  assert_non_null(strstr(err, "cannot read"));

  snprintf(path, sizeof(path), "%s/producer-keys", dir);
  write_file(path, KEYS_FILE);
  assert_int_equal(wt_sign_keys_load(path, &keys, err, sizeof(err)), WT_OK);
  assert_int_equal(wt_sign_keys_count(keys), 4);
  assert_int_equal(verify(keys, "wt-admin", SIG_A, ALICE, VALUE).status,
                   WT_SIGN_OK);
  wt_sign_keys_free(keys);
  write_file(path, "wt-admin system " KEY_A "\nwt-admin users " KEY_B "\n");
  assert_int_equal(wt_sign_keys_load(path, &keys, err, sizeof(err)),
                   WT_ERR_INVALID);
  assert_null(keys);
  assert_non_null(strstr(err, path));
  assert_non_null(strstr(err, "line 2: producer wt-admin listed twice"));
  unlink(path);
  assert_int_equal(wt_sign_keys_load(path, &keys, err, sizeof(err)), WT_ERR_IO);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors),
      cmocka_unit_test(test_key_hex_case),
      cmocka_unit_test(test_key_parse_errors),
      cmocka_unit_test(test_verify_ok_and_scopes),
      cmocka_unit_test(test_verify_tampered),
      cmocka_unit_test(test_verify_verdicts),
      cmocka_unit_test(test_verify_repeated_header),
      cmocka_unit_test(test_permits),
      cmocka_unit_test(test_keys_file_errors),
      cmocka_unit_test(test_keys_file_caps),
      cmocka_unit_test(test_loaders),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
