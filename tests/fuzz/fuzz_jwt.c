/* fuzz_jwt: wt_jwt_verify (common/wt_jwt.c), which the gateway runs on
 * every token a client presents. The first input byte picks:
 *   bits 0-1  0: the rest is a token checked against a fixed HS256 secret;
 *             1: against a fixed RS256 public key; 2: a fixed ES256 one
 *             (tests/fuzz/keys/, their private keys thrown away after the
 *             seed tokens were signed); 3: the rest is a header JSON, a NUL
 *             and a claims JSON, which the harness encodes and signs with
 *             the HS256 secret, so that every claim check is reached;
 *   bit 2     the type expected: refresh (set) or access;
 *   bits 4-7  the time of the check, from a table around the seeds' times.
 * Properties: a refusal leaves *out zeroed; an accepted token names a
 * canonical UUID, the expected type, a version >= 0, and is not expired at
 * that time; a token over WT_JWT_MAX_TOKEN bytes is refused as too large;
 * in mode 3, iss and aud read again with wt_json from the claims given
 * agree with the verdict (audience_ok reads jansson's dump by hand). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fuzz.h"
#include "wt_command.h"
#include "wt_json.h"
#include "wt_jwt.h"

#define NOW INT64_C(1700000000) /* the seeds' iat */
#define SECRET "fuzz-secret-0123456789abcdef-0123456789"
#define ISS "wt-fuzz"
#define AUD "wt-clients"

/* Set up once, immutable after (a wt_jwt is). */
static wt_jwt *handles[3];
static bool verbose; /* FUZZ_VERBOSE set: each verdict on stderr */

static const int64_t times[16] = {
    NOW,
    NOW,
    NOW,
    NOW,
    NOW + 900,
    NOW + 929,
    NOW + 930,
    NOW - 31,
    NOW + 86400,
    0,
    -1,
    INT64_MIN,
    INT64_MAX,
    INT64_MIN + 1,
    INT64_MAX - 1,
    NOW + INT64_C(604830), /* a refresh token's exp + leeway */
};

static wt_jwt *make_handle(const char *alg, const char *pub) {
  wt_config c;
  wt_jwt *j = NULL;
  char err[256] = "";
  memset(&c, 0, sizeof(c));
  snprintf(c.jwt_alg, sizeof(c.jwt_alg), "%s", alg);
  snprintf(c.jwt_secret, sizeof(c.jwt_secret), "%s", SECRET);
  if (pub)
    snprintf(c.jwt_public_key_file, sizeof(c.jwt_public_key_file), "%s/%s",
             WT_FUZZ_KEYS_DIR, pub);
  snprintf(c.jwt_issuer, sizeof(c.jwt_issuer), ISS);
  snprintf(c.jwt_audience, sizeof(c.jwt_audience), AUD);
  c.jwt_ttl_s = 900;
  c.jwt_refresh_ttl_s = 7 * 86400;
  if (wt_jwt_new(&c, &j, err, sizeof(err)) != WT_OK) {
    fprintf(stderr, "fuzz_jwt: wt_jwt_new(%s): %s\n", alg, err);
    abort();
  }
  return j;
}

/* OpenSSL and libjwt set things up on their first use and keep them:
 * done here, so that libFuzzer's leak check does not see them as a run's. */
static void warm_up(void) {
  static const char *const tokens[3] = {
      /* {"alg":"HS256","typ":"JWT"}.{}.(a wrong signature) */
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.AAAA",
      "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.e30.AAAA",
      "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.e30.AAAA",
  };
  wt_jwt_claims out;
  char *token = NULL;
  for (int i = 0; i < 3; i++)
    (void)wt_jwt_verify(handles[i], tokens[i], WT_JWT_ACCESS, NOW, &out);
  if (wt_jwt_issue(handles[0], "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b", 0,
                   WT_JWT_ACCESS, NOW, &token, NULL, NULL, 0) == WT_OK)
    (void)wt_jwt_verify(handles[0], token, WT_JWT_ACCESS, NOW, &out);
  free(token);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  verbose = getenv("FUZZ_VERBOSE") != NULL;
  handles[0] = make_handle("HS256", NULL);
  handles[1] = make_handle("RS256", "rs256_pub.pem");
  handles[2] = make_handle("ES256", "es256_pub.pem");
  warm_up();
  return 0;
}

static char *b64url(const uint8_t *in, size_t n, char *out) {
  static const char abc[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t i = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    *out++ = abc[v >> 18];
    *out++ = abc[v >> 12 & 63];
    *out++ = abc[v >> 6 & 63];
    *out++ = abc[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)in[i] << 16;
    *out++ = abc[v >> 18];
    *out++ = abc[v >> 12 & 63];
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    *out++ = abc[v >> 18];
    *out++ = abc[v >> 12 & 63];
    *out++ = abc[v >> 6 & 63];
  }
  *out = '\0';
  return out;
}

/* header NUL claims -> header.claims.HS256-signature, malloc'd. */
static char *sign_hs256(const uint8_t *data, size_t size) {
  const uint8_t *nul = memchr(data, '\0', size);
  size_t hlen = nul ? (size_t)(nul - data) : size;
  size_t clen = nul ? size - hlen - 1 : 0;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  char *token = malloc((size + 32) / 3 * 4 + 64), *p;
  FUZZ_CHECK(token != NULL);
  p = b64url(data, hlen, token);
  *p++ = '.';
  p = b64url(nul ? nul + 1 : data + size, clen, p);
  FUZZ_CHECK(HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET),
                  (const unsigned char *)token, (size_t)(p - token), mac,
                  &mac_len) != NULL);
  *p++ = '.';
  b64url(mac, mac_len, p);
  return token;
}

/* --- mode 3: iss and aud read again, with wt_json ------------------------ */

/* The last iss and aud of a claims text (as jansson keeps them). */
typedef struct claims_seen {
  wt_json_span iss, aud;
  bool has_iss, has_aud;
} claims_seen;

static void on_claim(void *ctx, const wt_json_span *key,
                     const wt_json_span *value) {
  claims_seen *c = ctx;
  char k[8];
  size_t n = wt_json_string(key, k, sizeof(k), NULL);
  if (n == 3 && memcmp(k, "iss", 3) == 0) {
    c->iss = *value;
    c->has_iss = true;
  } else if (n == 3 && memcmp(k, "aud", 3) == 0) {
    c->aud = *value;
    c->has_aud = true;
  }
}

static bool string_is(const wt_json_span *v, const char *want) {
  char buf[64];
  size_t n;
  if (v->type != WT_JSON_STRING)
    return false;
  n = wt_json_string(v, buf, sizeof(buf), NULL);
  return n == strlen(want) && memcmp(buf, want, n) == 0;
}

/* An aud array (scanned already, so well-formed): true when it holds only
 * strings and one of them is AUD. */
static bool array_has_aud(const wt_json_span *v) {
  const char *p = v->p + 1, *end = v->p + v->len - 1; /* inside [ ] */
  bool found = false, any = false;
  for (;;) {
    wt_json_span item = {.type = WT_JSON_STRING};
    while (p < end && *p && strchr(" \t\r\n", *p))
      p++;
    if (p >= end)
      return any && found;
    if (*p != '"')
      return false; /* not a string */
    item.p = ++p;
    while (*p != '"') {
      if (*p == '\\') {
        item.escaped = true;
        p++;
      }
      p++;
    }
    item.len = (size_t)(p - item.p);
    p++;
    any = true;
    found = found || string_is(&item, AUD);
    while (p < end && *p && strchr(" \t\r\n", *p))
      p++;
    if (p < end && *p == ',')
      p++;
  }
}

/* What iss and aud say for a verdict reached with them checked: bad_issuer
 * exactly when iss is not ours, bad_audience exactly when iss is and aud
 * is not. Texts wt_json refuses (jansson takes some) are skipped. */
static void check_iss_aud(const uint8_t *data, size_t size, wt_jwt_reason r) {
  const uint8_t *nul = memchr(data, '\0', size);
  claims_seen c = {0};
  wt_json_type type = WT_JSON_NULL;
  bool iss_ok, aud_ok;
  if (!nul || (r != WT_JWT_OK && r != WT_JWT_BAD_ISSUER &&
               r != WT_JWT_BAD_AUDIENCE && r != WT_JWT_BAD_TYPE &&
               r != WT_JWT_EXPIRED && r != WT_JWT_NOT_YET_VALID))
    return;
  if (wt_json_scan((const char *)nul + 1, size - (size_t)(nul + 1 - data), 64,
                   &type, on_claim, &c, NULL, 0) != WT_OK ||
      type != WT_JSON_OBJECT)
    return;
  iss_ok = c.has_iss && string_is(&c.iss, ISS);
  aud_ok = c.has_aud && (c.aud.type == WT_JSON_ARRAY ? array_has_aud(&c.aud)
                                                     : string_is(&c.aud, AUD));
  if (r == WT_JWT_BAD_ISSUER)
    FUZZ_CHECK(!iss_ok);
  else if (r == WT_JWT_BAD_AUDIENCE)
    FUZZ_CHECK(iss_ok && !aud_ok);
  else
    FUZZ_CHECK(iss_ok && aud_ok);
}

/* Every byte, padding too: *out was filled with 0xa5 before the call. */
static bool all_zero(const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i])
      return false;
  return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  unsigned mode, sel;
  wt_jwt_typ expect;
  int64_t now;
  wt_jwt_claims out;
  wt_jwt_reason r;
  char *token;

  if (size < 1)
    return 0;
  sel = data[0];
  mode = sel & 3;
  expect = sel & 4 ? WT_JWT_REFRESH : WT_JWT_ACCESS;
  now = times[sel >> 4];
  data++, size--;
  if (mode == 3) {
    token = sign_hs256(data, size);
  } else {
    token = malloc(size + 1);
    FUZZ_CHECK(token != NULL);
    memcpy(token, data, size);
    token[size] = '\0';
  }
  memset(&out, 0xa5, sizeof(out));
  r = wt_jwt_verify(handles[mode == 3 ? 0 : mode], token, expect, now, &out);
  if (verbose)
    fprintf(stderr, "fuzz_jwt: mode %u %s now=%lld: %s\n", mode,
            wt_jwt_typ_name(expect), (long long)now, wt_jwt_reason_name(r));
  FUZZ_CHECK(r >= WT_JWT_OK && r < WT_JWT__COUNT);
  FUZZ_CHECK(strcmp(wt_jwt_reason_name(r), "unknown") != 0);
  if (strlen(token) > WT_JWT_MAX_TOKEN)
    FUZZ_CHECK(r == WT_JWT_TOO_LARGE);
  if (r != WT_JWT_OK) {
    FUZZ_CHECK(all_zero(&out, sizeof(out)));
    FUZZ_CHECK(wt_jwt_refusal(r) != NULL);
  } else {
    FUZZ_CHECK(wt_uuid_valid(out.sub));
    FUZZ_CHECK(out.typ == expect);
    FUZZ_CHECK(out.ver >= 0);
    FUZZ_CHECK(strnlen(out.jti, sizeof(out.jti)) < sizeof(out.jti));
    FUZZ_CHECK(now < WT_JWT_LEEWAY_S + INT64_MIN ||
               now - WT_JWT_LEEWAY_S < out.exp);
  }
  if (mode == 3)
    check_iss_aud(data, size, r);
  free(token);
  return 0;
}
