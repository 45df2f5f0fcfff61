/* Unit tests of wt_jwt: a table of forged and broken tokens, each refused
 * for its own reason; tokens just inside the limits, accepted; issue ->
 * verify round trips for HS256, RS256 and ES256 (keys made at test time with
 * the openssl CLI); the policies wt_jwt_new refuses; what libjwt 1.10.2
 * itself does (so an upgrade that changes it shows up here); and one handle
 * shared by four threads. */
#include <errno.h>
#include <pthread.h>
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
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "wt_command.h"
#include "wt_jwt.h"

#define NOW INT64_C(1700000000)
#define SECRET "0123456789abcdef0123456789abcdef-test"
#define OTHER_SECRET "another-secret-another-secret-another!"
#define ISS "wt-test"
#define AUD "wt-clients"
#define SUB "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
#define JTI "0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3"
#define PAD_TO_CAP ((size_t)-1)

/* --- fixtures: keys on disk, one handle per policy ------------------------ */

enum policy { POL_HS, POL_RS, POL_ES, POL_RS_VERIFY_ONLY, POL__COUNT };

static char keydir[64];
static wt_jwt *handles[POL__COUNT];

static const char *key_path(const char *name) {
  static char buf[4][256];
  static int next;
  char *p = buf[next++ % 4];
  if (!name || !name[0])
    return "";
  if (name[0] == '/')
    return name;
  snprintf(p, 256, "%s/%s", keydir, name);
  return p;
}

/* The bytes of a file in keydir, NUL-terminated; *len without the NUL. */
static char *slurp(const char *name, size_t *len) {
  FILE *f = fopen(key_path(name), "rb");
  char *buf = calloc(1, 65536);
  size_t n;
  assert_non_null(f);
  assert_non_null(buf);
  n = fread(buf, 1, 65535, f);
  fclose(f);
  if (len)
    *len = n;
  return buf;
}

static void run_openssl(const char *args) {
  char cmd[1024];
  snprintf(cmd, sizeof(cmd), "cd %s && openssl %s 2>/dev/null", keydir, args);
  assert_int_equal(system(cmd), 0);
}

static void base_config(wt_config *c, const char *alg) {
  memset(c, 0, sizeof(*c));
  snprintf(c->jwt_alg, sizeof(c->jwt_alg), "%s", alg);
  snprintf(c->jwt_issuer, sizeof(c->jwt_issuer), ISS);
  snprintf(c->jwt_audience, sizeof(c->jwt_audience), AUD);
  c->jwt_ttl_s = 900;
  c->jwt_refresh_ttl_s = 7 * 86400;
}

static wt_jwt *make_handle(const char *alg, const char *secret, const char *pub,
                           const char *priv) {
  wt_config c;
  wt_jwt *j = NULL;
  char err[256] = "";
  base_config(&c, alg);
  snprintf(c.jwt_secret, sizeof(c.jwt_secret), "%s", secret);
  snprintf(c.jwt_public_key_file, sizeof(c.jwt_public_key_file), "%s",
           key_path(pub));
  snprintf(c.jwt_private_key_file, sizeof(c.jwt_private_key_file), "%s",
           key_path(priv));
  if (wt_jwt_new(&c, &j, err, sizeof(err)) != WT_OK)
    fail_msg("wt_jwt_new(%s): %s", alg, err);
  return j;
}

static int group_setup(void **state) {
  (void)state;
  snprintf(keydir, sizeof(keydir), "/tmp/wt_test_jwt.XXXXXX");
  if (!mkdtemp(keydir))
    return -1;
  run_openssl("genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
              "-out rsa.pem");
  run_openssl("pkey -in rsa.pem -pubout -out rsa_pub.pem");
  run_openssl("genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
              "-out rsa2.pem");
  run_openssl("pkey -in rsa2.pem -pubout -out rsa2_pub.pem");
  run_openssl("genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 "
              "-out rsa1024.pem");
  run_openssl("pkey -in rsa1024.pem -pubout -out rsa1024_pub.pem");
  run_openssl("rsa -in rsa.pem -RSAPublicKey_out -out rsa_pkcs1_pub.pem");
  run_openssl("pkey -in rsa.pem -aes256 -passout pass:hunter2 "
              "-out rsa_enc.pem");
  run_openssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
              "-out ec.pem");
  run_openssl("pkey -in ec.pem -pubout -out ec_pub.pem");
  run_openssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 "
              "-out ec384.pem");
  run_openssl("pkey -in ec384.pem -pubout -out ec384_pub.pem");
  {
    FILE *f = fopen(key_path("empty.pem"), "w");
    assert_non_null(f);
    fclose(f);
    f = fopen(key_path("garbage_pub.pem"), "w");
    assert_non_null(f);
    fputs("-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n"
          "-----END PUBLIC KEY-----\n",
          f);
    fclose(f);
  }
  handles[POL_HS] = make_handle("HS256", SECRET, "", "");
  handles[POL_RS] = make_handle("RS256", "", "rsa_pub.pem", "rsa.pem");
  handles[POL_ES] = make_handle("ES256", "", "ec_pub.pem", "ec.pem");
  handles[POL_RS_VERIFY_ONLY] = make_handle("RS256", "", "rsa_pub.pem", "");
  return 0;
}

static int group_teardown(void **state) {
  char cmd[128];
  (void)state;
  for (int i = 0; i < POL__COUNT; i++)
    wt_jwt_destroy(handles[i]);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", keydir);
  return system(cmd) == 0 ? 0 : -1;
}

/* --- forging -------------------------------------------------------------- */

static char *b64url(const void *data, size_t len) {
  char *out = malloc(4 * (len / 3 + 1) + 1);
  size_t n = 0;
  assert_non_null(out);
  EVP_EncodeBlock((unsigned char *)out, data, (int)len);
  for (char *p = out; *p; p++) {
    if (*p == '=')
      break;
    out[n++] = *p == '+' ? '-' : *p == '/' ? '_' : *p;
  }
  out[n] = '\0';
  return out;
}

static char *b64url_str(const char *s) {
  return b64url(s, strlen(s));
}

static char *join3(const char *a, const char *b, const char *c) {
  size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
  char *out = malloc(n);
  assert_non_null(out);
  snprintf(out, n, "%s.%s.%s", a, b, c);
  return out;
}

/* b64(header).b64(payload).b64url(HMAC-SHA256(key, first two)). */
static char *forge_hs(const char *header, const char *payload, const void *key,
                      size_t key_len) {
  char *h = b64url_str(header), *p = b64url_str(payload);
  char *input = join3(h, p, "");
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  char *sig, *out;
  input[strlen(input) - 1] = '\0'; /* drop the trailing '.' */
  assert_non_null(HMAC(EVP_sha256(), key, (int)key_len,
                       (const unsigned char *)input, strlen(input), mac,
                       &mac_len));
  sig = b64url(mac, mac_len);
  out = join3(h, p, sig);
  free(h), free(p), free(input), free(sig);
  return out;
}

/* libjwt signs: its own header {"alg":..,"typ":"JWT"}, our claims. */
static char *forge_libjwt(jwt_alg_t alg, const void *key, size_t key_len,
                          const char *payload) {
  jwt_t *t = NULL;
  char *out;
  assert_int_equal(jwt_new(&t), 0);
  assert_int_equal(jwt_add_grants_json(t, payload), 0);
  assert_int_equal(jwt_set_alg(t, alg, key, (int)key_len), 0);
  out = jwt_encode_str(t);
  assert_non_null(out);
  jwt_free(t);
  return out;
}

static char *forge_libjwt_pem(jwt_alg_t alg, const char *keyfile,
                              const char *payload) {
  size_t len;
  char *pem = slurp(keyfile, &len);
  char *out = forge_libjwt(alg, pem, len, payload);
  free(pem);
  return out;
}

/* --- the case table ---------------------------------------------------------
 *
 * Claims are raw JSON values; NULL takes the default (a valid access token
 * for POL_*'s issuer and audience at NOW), "-" leaves the claim out, and
 * "@+N" / "@-N" is the integer NOW + N. */
typedef struct claims_spec {
  const char *sub, *iat, *nbf, *exp, *iss, *aud, *typ, *ver, *jti;
  const char *extra; /* raw members appended, e.g. "\"x\":1" */
  size_t pad;        /* a "pad" string claim of this many bytes */
} claims_spec;

enum signer {
  SIGN_HS,              /* hand-made HMAC with SECRET */
  SIGN_HS_OTHER,        /* hand-made HMAC with OTHER_SECRET */
  SIGN_HS_RSA_PEM,      /* HMAC keyed with rsa_pub.pem's bytes */
  SIGN_HS_EC_PEM,       /* HMAC keyed with ec_pub.pem's bytes */
  SIGN_EMPTY,           /* no signature at all: "h.p." */
  SIGN_LIBJWT_NONE,     /* libjwt alg none */
  SIGN_LIBJWT_HS384,    /* libjwt HS384 with SECRET */
  SIGN_LIBJWT_RS,       /* libjwt RS256, rsa.pem */
  SIGN_LIBJWT_RS_OTHER, /* libjwt RS256, rsa2.pem */
  SIGN_LIBJWT_ES,       /* libjwt ES256, ec.pem */
  SIGN_LITERAL          /* the case's token, as is */
};

enum mutation {
  MUT_NONE,
  MUT_SWAP_PAYLOAD,   /* another payload (ver 4), the old signature */
  MUT_FLIP_SIG,       /* first signature character changed */
  MUT_TRUNC_SIG,      /* signature cut to 40 characters */
  MUT_TRUNC_HALF,     /* the token cut in half (inside the payload) */
  MUT_DROP_SIG,       /* "h.p": two segments */
  MUT_EXTRA_SEGMENT,  /* "h.p.s.s" */
  MUT_SIG_TRAIL_BITS, /* last signature character with stray low bits */
  MUT_SIG_PADDED      /* standard base64 padding appended: "s=" */
};

typedef struct jwt_case {
  const char *name;
  enum policy policy;
  enum signer signer;
  const char *header;  /* NULL: {"alg":"HS256","typ":"JWT"} (hand signers) */
  const char *payload; /* raw payload instead of claims */
  claims_spec claims;
  enum mutation mutation;
  const char *literal; /* SIGN_LITERAL */
  wt_jwt_typ expect;
  wt_jwt_reason want;
} jwt_case;

#define HS_HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

static jwt_case cases[] = {
    /* --- accepted: the baseline and the edges of the limits
       ------------------- */
    {"ok_hs256_baseline", .want = WT_JWT_OK},
    {"ok_exp_within_leeway", .claims = {.exp = "@-29"}, .want = WT_JWT_OK},
    {"ok_nbf_within_leeway", .claims = {.nbf = "@+30"}, .want = WT_JWT_OK},
    {"ok_iat_within_leeway", .claims = {.iat = "@+30"}, .want = WT_JWT_OK},
    {"ok_without_nbf_and_jti", .claims = {.nbf = "-", .jti = "-"},
     .want = WT_JWT_OK},
    {"ok_refresh_as_refresh", .claims = {.typ = "\"refresh\""},
     .expect = WT_JWT_REFRESH, .want = WT_JWT_OK},
    {"ok_aud_array_with_ours", .claims = {.aud = "[\"other\",\"" AUD "\"]"},
     .want = WT_JWT_OK},
    {"ok_aud_array_with_escapes",
     .claims = {.aud = "[\"a\\\"b\\\\c\\u0001\",\"" AUD "\"]"},
     .want = WT_JWT_OK},
    {"ok_unknown_claims_and_headers",
     .header = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}",
     .claims = {.extra = "\"scope\":[\"a\"],\"n\":{\"x\":1}"},
     .want = WT_JWT_OK},
    {"ok_header_typ_lowercase_jwt",
     .header = "{\"alg\":\"HS256\",\"typ\":\"jwt\"}", .want = WT_JWT_OK},
    {"ok_header_without_typ", .header = "{\"alg\":\"HS256\"}",
     .want = WT_JWT_OK},
    {"ok_token_at_8KiB_cap", .claims = {.pad = PAD_TO_CAP}, .want = WT_JWT_OK},
    {"ok_rs256_external_idp_aud_array", .policy = POL_RS_VERIFY_ONLY,
     .signer = SIGN_LIBJWT_RS,
     .claims = {.aud = "[\"" AUD "\",\"https://idp.example\"]",
                .nbf = "-",
                .jti = "-"},
     .want = WT_JWT_OK},
    {"ok_es256_libjwt_signed", .policy = POL_ES, .signer = SIGN_LIBJWT_ES,
     .want = WT_JWT_OK},

    /* --- the algorithm is ours, not the token's
       ------------------------------- */
    {"alg_none_without_signature", .signer = SIGN_EMPTY,
     .header = "{\"alg\":\"none\"}", .want = WT_JWT_BAD_ALG},
    {"alg_none_with_signature", .header = "{\"alg\":\"none\",\"typ\":\"JWT\"}",
     .want = WT_JWT_BAD_ALG},
    {"alg_none_libjwt_on_rs256", .policy = POL_RS, .signer = SIGN_LIBJWT_NONE,
     .want = WT_JWT_BAD_ALG},
    {"alg_None_mixed_case", .signer = SIGN_EMPTY,
     .header = "{\"alg\":\"None\"}", .want = WT_JWT_BAD_ALG},
    {"hs256_on_rs256_policy", .policy = POL_RS, .signer = SIGN_HS,
     .want = WT_JWT_BAD_ALG},
    {"hs256_keyed_with_rsa_public_pem", .policy = POL_RS,
     .signer = SIGN_HS_RSA_PEM, .want = WT_JWT_BAD_ALG},
    {"hs256_keyed_with_ec_public_pem", .policy = POL_ES,
     .signer = SIGN_HS_EC_PEM, .want = WT_JWT_BAD_ALG},
    {"rs256_on_es256_policy", .policy = POL_ES, .signer = SIGN_LIBJWT_RS,
     .want = WT_JWT_BAD_ALG},
    {"es256_on_rs256_policy", .policy = POL_RS, .signer = SIGN_LIBJWT_ES,
     .want = WT_JWT_BAD_ALG},
    {"rs256_on_hs256_policy", .signer = SIGN_LIBJWT_RS, .want = WT_JWT_BAD_ALG},
    {"hs384_on_hs256_policy", .signer = SIGN_LIBJWT_HS384,
     .want = WT_JWT_BAD_ALG},
    {"alg_lowercase_hs256", .header = "{\"alg\":\"hs256\",\"typ\":\"JWT\"}",
     .want = WT_JWT_BAD_ALG},
    {"alg_missing", .header = "{\"typ\":\"JWT\"}", .want = WT_JWT_MALFORMED},
    {"alg_unknown", .header = "{\"alg\":\"HS999\",\"typ\":\"JWT\"}",
     .want = WT_JWT_MALFORMED},
    {"alg_not_a_string", .header = "{\"alg\":256,\"typ\":\"JWT\"}",
     .want = WT_JWT_MALFORMED},

    /* --- signatures
       ----------------------------------------------------------- */
    {"wrong_secret", .signer = SIGN_HS_OTHER, .want = WT_JWT_BAD_SIGNATURE},
    {"rs256_other_key", .policy = POL_RS, .signer = SIGN_LIBJWT_RS_OTHER,
     .want = WT_JWT_BAD_SIGNATURE},
    {"tampered_payload_hs256", .mutation = MUT_SWAP_PAYLOAD,
     .want = WT_JWT_BAD_SIGNATURE},
    {"tampered_payload_rs256", .policy = POL_RS, .signer = SIGN_LIBJWT_RS,
     .mutation = MUT_SWAP_PAYLOAD, .want = WT_JWT_BAD_SIGNATURE},
    {"tampered_payload_es256", .policy = POL_ES, .signer = SIGN_LIBJWT_ES,
     .mutation = MUT_SWAP_PAYLOAD, .want = WT_JWT_BAD_SIGNATURE},
    {"tampered_signature_hs256", .mutation = MUT_FLIP_SIG,
     .want = WT_JWT_BAD_SIGNATURE},
    {"tampered_signature_rs256", .policy = POL_RS, .signer = SIGN_LIBJWT_RS,
     .mutation = MUT_FLIP_SIG, .want = WT_JWT_BAD_SIGNATURE},
    {"tampered_signature_es256", .policy = POL_ES, .signer = SIGN_LIBJWT_ES,
     .mutation = MUT_FLIP_SIG, .want = WT_JWT_BAD_SIGNATURE},
    {"truncated_signature", .mutation = MUT_TRUNC_SIG,
     .want = WT_JWT_BAD_SIGNATURE},
    {"signature_missing_hs256", .signer = SIGN_EMPTY,
     .want = WT_JWT_BAD_SIGNATURE},

    /* --- shape
       ---------------------------------------------------------------- */
    {"truncated_token", .mutation = MUT_TRUNC_HALF, .want = WT_JWT_MALFORMED},
    {"two_segments", .mutation = MUT_DROP_SIG, .want = WT_JWT_MALFORMED},
    {"four_segments", .mutation = MUT_EXTRA_SEGMENT, .want = WT_JWT_MALFORMED},
    {"signature_noncanonical_base64", .mutation = MUT_SIG_TRAIL_BITS,
     .want = WT_JWT_MALFORMED},
    {"signature_with_padding", .mutation = MUT_SIG_PADDED,
     .want = WT_JWT_MALFORMED},
    {"signature_standard_alphabet", .signer = SIGN_LITERAL,
     .literal = "eyJhbGciOiJIUzI1NiJ9.e30.ab+/", .want = WT_JWT_MALFORMED},
    {"non_base64_header", .signer = SIGN_LITERAL,
     .literal = "eyJhbGciOi!IUzI1NiJ9.e30.abcd", .want = WT_JWT_MALFORMED},
    {"empty_token", .signer = SIGN_LITERAL, .literal = "",
     .want = WT_JWT_MALFORMED},
    {"dots_only", .signer = SIGN_LITERAL, .literal = "..",
     .want = WT_JWT_MALFORMED},
    {"non_json_header", .header = "not json at all", .want = WT_JWT_MALFORMED},
    {"header_is_an_array", .header = "[\"alg\",\"HS256\"]",
     .want = WT_JWT_MALFORMED},
    {"non_json_payload", .payload = "{\"sub\":", .want = WT_JWT_MALFORMED},
    {"payload_is_an_array", .payload = "[1,2,3]", .want = WT_JWT_BAD_CLAIM},
    {"header_typ_xyz", .header = "{\"alg\":\"HS256\",\"typ\":\"xyz\"}",
     .want = WT_JWT_MALFORMED},
    {"oversized_token", .claims = {.pad = 7000}, .want = WT_JWT_TOO_LARGE},
    {"int_beyond_int64", .claims = {.exp = "99999999999999999999999"},
     .want = WT_JWT_MALFORMED},

    /* --- time
       ----------------------------------------------------------------- */
    {"expired_beyond_leeway", .claims = {.exp = "@-31"},
     .want = WT_JWT_EXPIRED},
    {"expired_at_leeway_edge", .claims = {.exp = "@-30"},
     .want = WT_JWT_EXPIRED},
    /* expired and forged: the signature counts first, so "invalid token"
     * and not "token expired" is what a forger hears */
    {"expired_with_wrong_secret", .signer = SIGN_HS_OTHER,
     .claims = {.exp = "@-31"}, .want = WT_JWT_BAD_SIGNATURE},
    {"expired_wrong_issuer", .claims = {.exp = "@-31", .iss = "\"evil\""},
     .want = WT_JWT_BAD_ISSUER},
    {"not_yet_valid_nbf", .claims = {.nbf = "@+31"},
     .want = WT_JWT_NOT_YET_VALID},
    {"iat_in_the_future", .claims = {.iat = "@+31", .nbf = "-"},
     .want = WT_JWT_NOT_YET_VALID},

    /* --- who it is for
       -------------------------------------------------------- */
    {"wrong_issuer", .claims = {.iss = "\"evil\""}, .want = WT_JWT_BAD_ISSUER},
    {"missing_issuer", .claims = {.iss = "-"}, .want = WT_JWT_BAD_ISSUER},
    {"issuer_not_a_string", .claims = {.iss = "[\"" ISS "\"]"},
     .want = WT_JWT_BAD_ISSUER},
    {"wrong_audience", .claims = {.aud = "\"someone-else\""},
     .want = WT_JWT_BAD_AUDIENCE},
    {"audience_prefix_of_ours", .claims = {.aud = "\"" AUD "x\""},
     .want = WT_JWT_BAD_AUDIENCE},
    {"missing_audience", .claims = {.aud = "-"}, .want = WT_JWT_BAD_AUDIENCE},
    {"audience_array_without_ours", .claims = {.aud = "[\"a\",\"b\"]"},
     .want = WT_JWT_BAD_AUDIENCE},
    {"audience_empty_array", .claims = {.aud = "[]"},
     .want = WT_JWT_BAD_AUDIENCE},
    {"audience_array_not_all_strings", .claims = {.aud = "[\"" AUD "\",1]"},
     .want = WT_JWT_BAD_AUDIENCE},
    /* jansson (no JSON_ALLOW_NUL) refuses \u0000 anywhere */
    {"escaped_nul_in_audience", .claims = {.aud = "[\"" AUD "\\u0000\"]"},
     .want = WT_JWT_MALFORMED},
    {"escaped_nul_in_sub", .claims = {.sub = "\"" SUB "\\u0000x\""},
     .want = WT_JWT_MALFORMED},
    {"audience_number", .claims = {.aud = "42"}, .want = WT_JWT_BAD_AUDIENCE},
    {"refresh_used_as_access", .claims = {.typ = "\"refresh\""},
     .want = WT_JWT_BAD_TYPE},
    {"access_used_as_refresh", .expect = WT_JWT_REFRESH,
     .want = WT_JWT_BAD_TYPE},
    {"typ_claim_unknown", .claims = {.typ = "\"id\""}, .want = WT_JWT_BAD_TYPE},

    /* --- claims missing or mistyped
       ------------------------------------------- */
    {"missing_exp", .claims = {.exp = "-"}, .want = WT_JWT_BAD_CLAIM},
    {"exp_as_string", .claims = {.exp = "\"1700000900\""},
     .want = WT_JWT_BAD_CLAIM},
    {"exp_as_real", .claims = {.exp = "1700000900.5"},
     .want = WT_JWT_BAD_CLAIM},
    {"exp_null", .claims = {.exp = "null"}, .want = WT_JWT_BAD_CLAIM},
    {"missing_iat", .claims = {.iat = "-"}, .want = WT_JWT_BAD_CLAIM},
    {"nbf_as_string", .claims = {.nbf = "\"1700000000\""},
     .want = WT_JWT_BAD_CLAIM},
    {"missing_sub", .claims = {.sub = "-"}, .want = WT_JWT_BAD_CLAIM},
    {"sub_not_a_uuid", .claims = {.sub = "\"alice\""},
     .want = WT_JWT_BAD_CLAIM},
    {"sub_uppercase_uuid",
     .claims = {.sub = "\"6F1C2A3B-4D5E-4F60-8A7B-9C0D1E2F3A4B\""},
     .want = WT_JWT_BAD_CLAIM},
    {"sub_uuid_with_suffix", .claims = {.sub = "\"" SUB "0\""},
     .want = WT_JWT_BAD_CLAIM},
    {"sub_as_number", .claims = {.sub = "12345"}, .want = WT_JWT_BAD_CLAIM},
    {"missing_ver", .claims = {.ver = "-"}, .want = WT_JWT_BAD_CLAIM},
    {"ver_as_string", .claims = {.ver = "\"3\""}, .want = WT_JWT_BAD_CLAIM},
    {"ver_negative", .claims = {.ver = "-1"}, .want = WT_JWT_BAD_CLAIM},
    {"missing_typ", .claims = {.typ = "-"}, .want = WT_JWT_BAD_CLAIM},
    {"typ_as_number", .claims = {.typ = "1"}, .want = WT_JWT_BAD_CLAIM},
    {"jti_as_number", .claims = {.jti = "7"}, .want = WT_JWT_BAD_CLAIM},
};

enum { NCASES = sizeof(cases) / sizeof(cases[0]) };

static void append(char *buf, size_t size, size_t *len, const char *name,
                   const char *value, const char *dflt) {
  char num[32];
  const char *v = value ? value : dflt;
  if (strcmp(v, "-") == 0)
    return;
  if (v[0] == '@') {
    snprintf(num, sizeof(num), "%lld", (long long)(NOW + atoll(v + 1)));
    v = num;
  }
  *len += (size_t)snprintf(buf + *len, size - *len, "%s\"%s\":%s",
                           *len > 1 ? "," : "", name, v);
  assert_true(*len < size);
}

/* The payload JSON of a spec; malloc'd. */
static char *claims_json(const claims_spec *s, size_t pad) {
  size_t size = 1024 + pad, len = 1;
  char *buf = malloc(size);
  assert_non_null(buf);
  buf[0] = '{';
  buf[1] = '\0';
  append(buf, size, &len, "sub", s->sub, "\"" SUB "\"");
  append(buf, size, &len, "iat", s->iat, "@+0");
  append(buf, size, &len, "nbf", s->nbf, "@+0");
  append(buf, size, &len, "exp", s->exp, "@+900");
  append(buf, size, &len, "iss", s->iss, "\"" ISS "\"");
  append(buf, size, &len, "aud", s->aud, "\"" AUD "\"");
  append(buf, size, &len, "typ", s->typ, "\"access\"");
  append(buf, size, &len, "ver", s->ver, "3");
  append(buf, size, &len, "jti", s->jti, "\"" JTI "\"");
  if (s->extra)
    len += (size_t)snprintf(buf + len, size - len, ",%s", s->extra);
  if (pad) {
    len += (size_t)snprintf(buf + len, size - len, ",\"pad\":\"");
    memset(buf + len, 'p', pad);
    len += pad;
    buf[len++] = '"';
  }
  buf[len++] = '}';
  buf[len] = '\0';
  assert_true(len < size);
  return buf;
}

static char *sign_payload(const jwt_case *c, const char *payload) {
  const char *header = c->header ? c->header : HS_HEADER;
  size_t len;
  char *pem, *out, *h, *p;
  switch (c->signer) {
  case SIGN_HS: return forge_hs(header, payload, SECRET, strlen(SECRET));
  case SIGN_HS_OTHER:
    return forge_hs(header, payload, OTHER_SECRET, strlen(OTHER_SECRET));
  case SIGN_HS_RSA_PEM:
  case SIGN_HS_EC_PEM:
    pem = slurp(c->signer == SIGN_HS_RSA_PEM ? "rsa_pub.pem" : "ec_pub.pem",
                &len);
    out = forge_hs(header, payload, pem, len);
    free(pem);
    return out;
  case SIGN_EMPTY:
    h = b64url_str(header);
    p = b64url_str(payload);
    out = join3(h, p, "");
    free(h), free(p);
    return out;
  case SIGN_LIBJWT_NONE: return forge_libjwt(JWT_ALG_NONE, NULL, 0, payload);
  case SIGN_LIBJWT_HS384:
    return forge_libjwt(JWT_ALG_HS384, SECRET, strlen(SECRET), payload);
  case SIGN_LIBJWT_RS:
    return forge_libjwt_pem(JWT_ALG_RS256, "rsa.pem", payload);
  case SIGN_LIBJWT_RS_OTHER:
    return forge_libjwt_pem(JWT_ALG_RS256, "rsa2.pem", payload);
  case SIGN_LIBJWT_ES:
    return forge_libjwt_pem(JWT_ALG_ES256, "ec.pem", payload);
  case SIGN_LITERAL: break;
  }
  out = strdup(c->literal ? c->literal : "");
  assert_non_null(out);
  return out;
}

static char *build_unmutated(const jwt_case *c) {
  char *payload, *token;
  size_t pad = c->claims.pad;
  if (pad == PAD_TO_CAP) {
    /* The longest pad that keeps the token within the cap. */
    char *best = NULL;
    for (pad = 5400; pad < 6400; pad++) {
      payload = claims_json(&c->claims, pad);
      token = sign_payload(c, payload);
      free(payload);
      if (strlen(token) > WT_JWT_MAX_TOKEN) {
        free(token);
        break;
      }
      free(best);
      best = token;
    }
    if (!best || strlen(best) < WT_JWT_MAX_TOKEN - 2)
      fail_msg("%s: no pad reaches the cap", c->name);
    return best;
  }
  payload = c->payload ? strdup(c->payload) : claims_json(&c->claims, pad);
  assert_non_null(payload);
  token = sign_payload(c, payload);
  free(payload);
  return token;
}

static char *build_token(const jwt_case *c) {
  char *token = build_unmutated(c);
  char *dot1 = strchr(token, '.');
  char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
  char *sig = dot2 ? dot2 + 1 : NULL;
  size_t n = strlen(token);
  char *out;

  if (c->mutation == MUT_NONE)
    return token;
  if (!dot1 || !dot2 || !sig) { /* every mutation needs three segments */
    free(token);
    fail_msg("%s: no token to mutate", c->name);
    abort(); /* not reached */
  }
  switch (c->mutation) {
  case MUT_NONE: return token;
  case MUT_SWAP_PAYLOAD: {
    claims_spec other = c->claims;
    char *json, *p;
    other.ver = "4";
    json = claims_json(&other, 0);
    p = b64url_str(json);
    *dot1 = '\0';
    out = join3(token, p, sig);
    free(json), free(p), free(token);
    return out;
  }
  case MUT_FLIP_SIG: sig[0] = sig[0] == 'A' ? 'B' : 'A'; return token;
  case MUT_TRUNC_SIG:
    assert_true(strlen(sig) > 40);
    sig[40] = '\0';
    return token;
  case MUT_TRUNC_HALF:
    token[n / 2] = '\0';
    assert_null(strchr(dot1 + 1, '.')); /* the cut is inside the payload */
    return token;
  case MUT_DROP_SIG: *dot2 = '\0'; return token;
  case MUT_EXTRA_SEGMENT:
    out = join3(token, sig, "");
    out[strlen(out) - 1] = '\0';
    free(token);
    return out;
  case MUT_SIG_TRAIL_BITS:
    /* HS256: 32 bytes = 43 characters, the last carrying 2 unused bits. */
    assert_int_equal(strlen(sig) % 4, 3);
    {
      static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                                  "qrstuvwxyz0123456789-_";
      size_t v = (size_t)(strchr(alpha, sig[strlen(sig) - 1]) - alpha);
      sig[strlen(sig) - 1] = alpha[v | 1];
    }
    return token;
  case MUT_SIG_PADDED:
    out = malloc(n + 2);
    assert_non_null(out);
    snprintf(out, n + 2, "%s=", token);
    free(token);
    return out;
  }
  return token;
}

static void test_case(void **state) {
  const jwt_case *c = *state;
  wt_jwt_claims claims;
  char *token = build_token(c);
  char shown[128];
  wt_jwt_reason got;

  memset(&claims, 0x5a, sizeof(claims));
  got = wt_jwt_verify(handles[c->policy], token, c->expect, NOW, &claims);
  snprintf(shown, sizeof(shown), "%s", token);
  free(token);
  if (got != c->want)
    fail_msg("%s: got %s, want %s; token %s...", c->name,
             wt_jwt_reason_name(got), wt_jwt_reason_name(c->want), shown);
  if (got == WT_JWT_OK) {
    assert_string_equal(claims.sub, SUB);
    assert_int_equal(claims.ver, 3);
    assert_int_equal(claims.typ, c->expect);
  } else {
    /* refused: nothing of the token leaks out */
    static const wt_jwt_claims zero;
    assert_memory_equal(&claims, &zero, sizeof(zero));
  }
}

/* --- issue -> verify ------------------------------------------------------ */

static void roundtrip(enum policy pol) {
  wt_jwt *j = handles[pol];
  char *access = NULL, *refresh = NULL, *again = NULL;
  char err[256] = "";
  int64_t exp = 0;
  wt_jwt_claims c;

  assert_true(wt_jwt_can_issue(j));
  assert_int_equal(wt_jwt_issue(j, SUB, 7, WT_JWT_ACCESS, NOW, &access, &exp,
                                err, sizeof(err)),
                   WT_OK);
  assert_int_equal(exp, NOW + 900);
  assert_true(strlen(access) < WT_JWT_MAX_TOKEN);
  assert_int_equal(wt_jwt_verify(j, access, WT_JWT_ACCESS, NOW, &c), WT_JWT_OK);
  assert_string_equal(c.sub, SUB);
  assert_int_equal(c.iat, NOW);
  assert_int_equal(c.nbf, NOW);
  assert_int_equal(c.exp, NOW + 900);
  assert_int_equal(c.ver, 7);
  assert_int_equal(c.typ, WT_JWT_ACCESS);
  assert_true(wt_uuid_valid(c.jti));
  /* still good just before exp + leeway, refused at it */
  assert_int_equal(wt_jwt_verify(j, access, WT_JWT_ACCESS,
                                 NOW + 900 + WT_JWT_LEEWAY_S - 1, &c),
                   WT_JWT_OK);
  assert_int_equal(
      wt_jwt_verify(j, access, WT_JWT_ACCESS, NOW + 900 + WT_JWT_LEEWAY_S, &c),
      WT_JWT_EXPIRED);
  /* what the client is told (the gateway's close reason) */
  assert_string_equal(
      wt_jwt_refusal(wt_jwt_verify(j, access, WT_JWT_ACCESS,
                                   NOW + 900 + WT_JWT_LEEWAY_S, &c)),
      "token expired");
  assert_string_equal(wt_jwt_refusal(wt_jwt_verify(j, access, WT_JWT_REFRESH,
                                                   NOW + 900 + 3600, &c)),
                      "invalid token"); /* expired, but no refresh token */
  assert_int_equal(wt_jwt_verify(j, access, WT_JWT_REFRESH, NOW, &c),
                   WT_JWT_BAD_TYPE);

  assert_int_equal(wt_jwt_issue(j, SUB, 0, WT_JWT_REFRESH, NOW, &refresh, &exp,
                                err, sizeof(err)),
                   WT_OK);
  assert_int_equal(exp, NOW + INT64_C(7) * 86400);
  assert_int_equal(wt_jwt_verify(j, refresh, WT_JWT_REFRESH, NOW + 86400, &c),
                   WT_JWT_OK);
  assert_int_equal(c.typ, WT_JWT_REFRESH);
  assert_int_equal(c.ver, 0);
  assert_int_equal(wt_jwt_verify(j, refresh, WT_JWT_ACCESS, NOW, &c),
                   WT_JWT_BAD_TYPE);

  /* a fresh jti each time */
  assert_int_equal(wt_jwt_issue(j, SUB, 7, WT_JWT_ACCESS, NOW, &again, NULL,
                                err, sizeof(err)),
                   WT_OK);
  assert_string_not_equal(again, access);
  free(access), free(refresh), free(again);
}

static void test_roundtrip_hs256(void **state) {
  (void)state;
  roundtrip(POL_HS);
}

static void test_roundtrip_rs256(void **state) {
  char *token = NULL;
  wt_jwt_claims c;
  (void)state;
  roundtrip(POL_RS);
  /* what the issuing gateway signs, a verify-only one accepts */
  assert_int_equal(wt_jwt_issue(handles[POL_RS], SUB, 1, WT_JWT_ACCESS, NOW,
                                &token, NULL, NULL, 0),
                   WT_OK);
  assert_int_equal(
      wt_jwt_verify(handles[POL_RS_VERIFY_ONLY], token, WT_JWT_ACCESS, NOW, &c),
      WT_JWT_OK);
  /* and an HS256 gateway refuses it */
  assert_int_equal(
      wt_jwt_verify(handles[POL_HS], token, WT_JWT_ACCESS, NOW, &c),
      WT_JWT_BAD_ALG);
  free(token);
}

static void test_roundtrip_es256(void **state) {
  (void)state;
  roundtrip(POL_ES);
}

static void test_issue_refused(void **state) {
  static char untouched[] = "untouched";
  char *token = untouched;
  char err[256] = "";
  (void)state;
  assert_false(wt_jwt_can_issue(handles[POL_RS_VERIFY_ONLY]));
  assert_int_equal(wt_jwt_issue(handles[POL_RS_VERIFY_ONLY], SUB, 1,
                                WT_JWT_ACCESS, NOW, &token, NULL, err,
                                sizeof(err)),
                   WT_ERR_INVALID);
  assert_null(token);
  assert_non_null(strstr(err, "WT_JWT_PRIVATE_KEY_FILE"));
  assert_int_equal(wt_jwt_issue(handles[POL_HS], "alice", 1, WT_JWT_ACCESS, NOW,
                                &token, NULL, err, sizeof(err)),
                   WT_ERR_INVALID);
  assert_int_equal(wt_jwt_issue(handles[POL_HS], SUB, -1, WT_JWT_ACCESS, NOW,
                                &token, NULL, err, sizeof(err)),
                   WT_ERR_INVALID);
  assert_int_equal(wt_jwt_issue(handles[POL_HS], SUB, 1, (wt_jwt_typ)9, NOW,
                                &token, NULL, err, sizeof(err)),
                   WT_ERR_INVALID);
  assert_int_equal(wt_jwt_issue(handles[POL_HS], SUB, 1, WT_JWT_ACCESS,
                                INT64_MAX, &token, NULL, err, sizeof(err)),
                   WT_ERR_INVALID);
  assert_null(token);
}

static void test_reason_names(void **state) {
  (void)state;
  /* only a genuine token past its time is "expired" to the client; every
   * other refusal reads the same */
  assert_null(wt_jwt_refusal(WT_JWT_OK));
  assert_string_equal(wt_jwt_refusal(WT_JWT_EXPIRED), "token expired");
  for (int r = WT_JWT_OK + 1; r < WT_JWT__COUNT; r++)
    if (r != WT_JWT_EXPIRED)
      assert_string_equal(wt_jwt_refusal((wt_jwt_reason)r), "invalid token");
  assert_string_equal(wt_jwt_reason_name(WT_JWT_OK), "ok");
  assert_string_equal(wt_jwt_reason_name(WT_JWT_EXPIRED), "expired");
  assert_string_equal(wt_jwt_reason_name(WT_JWT_NOT_YET_VALID),
                      "not_yet_valid");
  assert_string_equal(wt_jwt_reason_name(WT_JWT_BAD_SIGNATURE),
                      "bad_signature");
  for (int r = 0; r < WT_JWT__COUNT; r++) {
    const char *n = wt_jwt_reason_name((wt_jwt_reason)r);
    assert_string_not_equal(n, "unknown");
    for (const char *p = n; *p; p++)
      assert_true((*p >= 'a' && *p <= 'z') || *p == '_');
  }
  assert_string_equal(wt_jwt_reason_name(WT_JWT__COUNT), "unknown");
  assert_string_equal(wt_jwt_typ_name(WT_JWT_ACCESS), "access");
  assert_string_equal(wt_jwt_typ_name(WT_JWT_REFRESH), "refresh");
}

/* --- policies wt_jwt_new refuses ------------------------------------------ */

typedef struct new_case {
  const char *name;
  const char *alg, *secret, *pub, *priv;
  wt_err want;
  const char *errsub; /* in errstr */
} new_case;

static new_case new_cases[] = {
    {"hs256_empty_secret", "HS256", "", "", "", WT_ERR_CONFIG, "WT_JWT_SECRET"},
    {"hs256_secret_31_bytes", "HS256", "0123456789abcdef0123456789abcde", "",
     "", WT_ERR_CONFIG, "at least 32"},
    {"hs256_empty_secret_with_key_files", "HS256", "", "rsa_pub.pem", "rsa.pem",
     WT_ERR_CONFIG, "WT_JWT_SECRET"},
    {"rs256_no_public_key", "RS256", SECRET, "", "", WT_ERR_CONFIG,
     "WT_JWT_PUBLIC_KEY_FILE"},
    {"rs256_empty_public_key_file", "RS256", "", "empty.pem", "", WT_ERR_CONFIG,
     "empty"},
    {"rs256_missing_public_key_file", "RS256", "", "/nonexistent/k.pem", "",
     WT_ERR_IO, "cannot open"},
    {"rs256_public_key_is_a_directory", "RS256", "", "/tmp", "", WT_ERR_IO,
     "regular file"},
    {"rs256_pkcs1_public_key", "RS256", "", "rsa_pkcs1_pub.pem", "",
     WT_ERR_CONFIG, "BEGIN PUBLIC KEY"},
    {"rs256_private_key_as_public", "RS256", "", "rsa.pem", "", WT_ERR_CONFIG,
     "BEGIN PUBLIC KEY"},
    {"rs256_garbage_public_key", "RS256", "", "garbage_pub.pem", "",
     WT_ERR_CONFIG, "no readable public key"},
    {"rs256_with_ec_key", "RS256", "", "ec_pub.pem", "", WT_ERR_CONFIG,
     "RSA key"},
    {"rs256_1024_bit_key", "RS256", "", "rsa1024_pub.pem", "", WT_ERR_CONFIG,
     "2048"},
    {"es256_with_rsa_key", "ES256", "", "rsa_pub.pem", "", WT_ERR_CONFIG,
     "P-256"},
    {"es256_with_p384_key", "ES256", "", "ec384_pub.pem", "", WT_ERR_CONFIG,
     "P-256"},
    {"rs256_private_key_of_another_pair", "RS256", "", "rsa_pub.pem",
     "rsa2.pem", WT_ERR_CONFIG, "does not match"},
    {"rs256_encrypted_private_key", "RS256", "", "rsa_pub.pem", "rsa_enc.pem",
     WT_ERR_CONFIG, "unencrypted"},
    {"rs256_private_key_of_other_type", "RS256", "", "rsa_pub.pem", "ec.pem",
     WT_ERR_CONFIG, "RSA key"},
    {"rs256_empty_private_key_file", "RS256", "", "rsa_pub.pem", "empty.pem",
     WT_ERR_CONFIG, "empty"},
    {"alg_none", "none", SECRET, "", "", WT_ERR_CONFIG, "WT_JWT_ALG"},
    {"alg_hs512", "HS512", SECRET, "", "", WT_ERR_CONFIG, "WT_JWT_ALG"},
};

enum { NNEW = sizeof(new_cases) / sizeof(new_cases[0]) };

static void test_new_refused(void **state) {
  const new_case *nc = *state;
  wt_config c;
  wt_jwt *j = handles[POL_HS]; /* must be reset to NULL */
  char err[512] = "";
  base_config(&c, nc->alg);
  snprintf(c.jwt_secret, sizeof(c.jwt_secret), "%s", nc->secret);
  snprintf(c.jwt_public_key_file, sizeof(c.jwt_public_key_file), "%s",
           key_path(nc->pub));
  snprintf(c.jwt_private_key_file, sizeof(c.jwt_private_key_file), "%s",
           key_path(nc->priv));
  assert_int_equal(wt_jwt_new(&c, &j, err, sizeof(err)), nc->want);
  assert_null(j);
  if (!strstr(err, nc->errsub))
    fail_msg("%s: errstr \"%s\" lacks \"%s\"", nc->name, err, nc->errsub);
}

/* --- libjwt 1.10.2 as it is: the reasons for wt_jwt's checks -------------- */

static void test_libjwt_behaviour(void **state) {
  static const char payload[] = "{\"sub\":\"x\",\"n\":\"12\"}";
  jwt_t *t = NULL;
  char *none = forge_libjwt(JWT_ALG_NONE, NULL, 0, payload);
  char *hs = forge_hs(HS_HEADER, payload, SECRET, strlen(SECRET));
  char *bad = forge_hs(HS_HEADER, payload, OTHER_SECRET, strlen(OTHER_SECRET));
  size_t pem_len;
  char *pem = slurp("rsa_pub.pem", &pem_len);
  char *confused = forge_hs(HS_HEADER, payload, pem, pem_len);
  (void)state;

  /* "none" decodes when no key is given ... */
  assert_int_equal(jwt_decode(&t, none, NULL, 0), 0);
  assert_int_equal(jwt_get_alg(t), JWT_ALG_NONE);
  jwt_free(t);
  /* ... and is refused when one is */
  assert_int_equal(
      jwt_decode(&t, none, (const unsigned char *)SECRET, (int)strlen(SECRET)),
      EINVAL);
  assert_null(t);

  /* no key, or a key of length 0: a bad signature is not even looked at,
   * and the alg then reads as none */
  assert_int_equal(jwt_decode(&t, bad, NULL, 0), 0);
  assert_int_equal(jwt_get_alg(t), JWT_ALG_NONE);
  assert_string_equal(jwt_get_header(t, "alg"), "HS256");
  jwt_free(t);
  assert_int_equal(jwt_decode(&t, bad, (const unsigned char *)SECRET, 0), 0);
  jwt_free(t);
  assert_int_equal(
      jwt_decode(&t, bad, (const unsigned char *)SECRET, (int)strlen(SECRET)),
      EINVAL);

  /* the algorithm comes from the token: HMAC keyed with the RSA public
   * key's PEM verifies */
  assert_int_equal(
      jwt_decode(&t, confused, (const unsigned char *)pem, (int)pem_len), 0);
  assert_int_equal(jwt_get_alg(t), JWT_ALG_HS256);
  jwt_free(t);

  /* missing integer claims read as -1 with ENOENT; a string one as 0 with
   * errno 0; string getters return NULL for other types */
  assert_int_equal(
      jwt_decode(&t, hs, (const unsigned char *)SECRET, (int)strlen(SECRET)),
      0);
  assert_int_equal(jwt_get_grant_int(t, "exp"), -1);
  assert_int_equal(errno, ENOENT);
  assert_int_equal(jwt_get_grant_int(t, "n"), 0);
  assert_int_equal(errno, 0);
  assert_null(jwt_get_grant(t, "nope"));
  assert_int_equal(errno, ENOENT);
  jwt_free(t);

  /* the header's alg is read case-insensitively, typ must be JWT */
  {
    char *lower =
        forge_hs("{\"alg\":\"hs256\"}", payload, SECRET, strlen(SECRET));
    char *xyz = forge_hs("{\"alg\":\"HS256\",\"typ\":\"xyz\"}", payload, SECRET,
                         strlen(SECRET));
    assert_int_equal(jwt_decode(&t, lower, (const unsigned char *)SECRET,
                                (int)strlen(SECRET)),
                     0);
    assert_int_equal(jwt_get_alg(t), JWT_ALG_HS256);
    jwt_free(t);
    assert_int_equal(jwt_decode(&t, xyz, NULL, 0), EINVAL);
    free(lower), free(xyz);
  }

  /* jwt_set_alg refuses an empty key for a signing alg */
  assert_int_equal(jwt_new(&t), 0);
  assert_int_equal(
      jwt_set_alg(t, JWT_ALG_HS256, (const unsigned char *)SECRET, 0), EINVAL);
  jwt_free(t);

  free(none), free(hs), free(bad), free(pem), free(confused);
}

/* --- one handle, four threads --------------------------------------------- */

#define THREADS 4
#define ROUNDS 150

typedef struct thread_arg {
  const char *hs_ok, *rs_ok, *es_ok, *hs_bad, *confused;
  int mismatches;
} thread_arg;

static void *verify_loop(void *p) {
  thread_arg *a = p;
  wt_jwt_claims c;
  for (int i = 0; i < ROUNDS; i++) {
    char *mine = NULL;
    a->mismatches += wt_jwt_verify(handles[POL_HS], a->hs_ok, WT_JWT_ACCESS,
                                   NOW, &c) != WT_JWT_OK;
    a->mismatches += strcmp(c.sub, SUB) != 0;
    a->mismatches += wt_jwt_verify(handles[POL_RS], a->rs_ok, WT_JWT_ACCESS,
                                   NOW, &c) != WT_JWT_OK;
    a->mismatches += wt_jwt_verify(handles[POL_ES], a->es_ok, WT_JWT_ACCESS,
                                   NOW, &c) != WT_JWT_OK;
    a->mismatches += wt_jwt_verify(handles[POL_HS], a->hs_bad, WT_JWT_ACCESS,
                                   NOW, &c) != WT_JWT_BAD_SIGNATURE;
    a->mismatches += wt_jwt_verify(handles[POL_RS], a->confused, WT_JWT_ACCESS,
                                   NOW, &c) != WT_JWT_BAD_ALG;
    a->mismatches += wt_jwt_verify(handles[POL_ES], a->hs_ok, WT_JWT_ACCESS,
                                   NOW, &c) != WT_JWT_BAD_ALG;
    if (wt_jwt_issue(handles[POL_HS], SUB, i, WT_JWT_REFRESH, NOW, &mine, NULL,
                     NULL, 0) != WT_OK) {
      a->mismatches++;
      continue;
    }
    a->mismatches += wt_jwt_verify(handles[POL_HS], mine, WT_JWT_REFRESH, NOW,
                                   &c) != WT_JWT_OK ||
                     c.ver != i;
    free(mine);
  }
  return NULL;
}

static void test_concurrent_verify(void **state) {
  static const jwt_case confused_case = {"confused", .policy = POL_RS,
                                         .signer = SIGN_HS_RSA_PEM};
  static const jwt_case bad_case = {"bad", .signer = SIGN_HS_OTHER};
  static const jwt_case es_case = {"es", .signer = SIGN_LIBJWT_ES};
  pthread_t th[THREADS];
  thread_arg args[THREADS];
  char *hs_ok = NULL, *rs_ok = NULL;
  char *es_ok = build_token(&es_case);
  char *hs_bad = build_token(&bad_case);
  char *confused = build_token(&confused_case);
  int started = 0, joined = 0, mismatches = 0;
  (void)state;
  assert_int_equal(wt_jwt_issue(handles[POL_HS], SUB, 3, WT_JWT_ACCESS, NOW,
                                &hs_ok, NULL, NULL, 0),
                   WT_OK);
  assert_int_equal(wt_jwt_issue(handles[POL_RS], SUB, 3, WT_JWT_ACCESS, NOW,
                                &rs_ok, NULL, NULL, 0),
                   WT_OK);
  for (int i = 0; i < THREADS; i++) {
    args[i] = (thread_arg){hs_ok, rs_ok, es_ok, hs_bad, confused, 0};
    if (pthread_create(&th[i], NULL, verify_loop, &args[i]) != 0)
      break;
    started++;
  }
  /* join every thread before any assert can jump out */
  for (int i = 0; i < started; i++) {
    joined += pthread_join(th[i], NULL) == 0;
    mismatches += args[i].mismatches;
  }
  free(hs_ok), free(rs_ok), free(es_ok), free(hs_bad), free(confused);
  assert_int_equal(started, THREADS);
  assert_int_equal(joined, THREADS);
  assert_int_equal(mismatches, 0);
}

int main(void) {
  static char names[NCASES + NNEW][96];
  static struct CMUnitTest tests[NCASES + NNEW + 16];
  size_t n = 0;
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_reason_names);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_libjwt_behaviour);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_roundtrip_hs256);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_roundtrip_rs256);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_roundtrip_es256);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_issue_refused);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_concurrent_verify);
  for (size_t i = 0; i < NCASES; i++) {
    snprintf(names[i], sizeof(names[i]), "verify %s -> %s", cases[i].name,
             wt_jwt_reason_name(cases[i].want));
    tests[n++] = (struct CMUnitTest){
        .name = names[i], .test_func = test_case, .initial_state = &cases[i]};
  }
  for (size_t i = 0; i < NNEW; i++) {
    snprintf(names[NCASES + i], sizeof(names[0]), "new refuses %s",
             new_cases[i].name);
    tests[n++] = (struct CMUnitTest){.name = names[NCASES + i],
                                     .test_func = test_new_refused,
                                     .initial_state = &new_cases[i]};
  }
  return _cmocka_run_group_tests("jwt", tests, n, group_setup, group_teardown);
}
