/* wt_jwt: issuing and verifying tokens on top of libjwt 1.10.2.
 *
 * What libjwt is trusted with: base64url and JSON decoding, the signature
 * arithmetic. What it is not: choosing the algorithm, the key, or anything
 * about claims. wt_jwt_verify runs in this order:
 *   1. size cap, then three canonical base64url segments (by hand);
 *   2. an unverified jwt_decode (no key: libjwt parses and skips the
 *      signature) to read the header's alg, which must be the configured
 *      one, exactly;
 *   3. jwt_decode with the configured, non-empty key; jwt_get_alg() must
 *      again be the configured alg (jwt_decode returns 0 with alg none and
 *      no claims when it cannot copy the key);
 *   4. every claim, by hand.
 *
 * libjwt parses JSON with jansson: this file must never include json-c
 * (both export json_object_get). Claims whose JSON we need ourselves (an
 * aud array, the type of a number) are read from jwt_get_grants_json()'s
 * compact dump. */
#include "wt_jwt.h"

#include <errno.h>
#include <jwt.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "wt_command.h" /* wt_uuid_valid, wt_uuid_generate, wt_hex_digit */

_Static_assert(sizeof(long) >= sizeof(int64_t),
               "libjwt's integer grants are longs");

struct wt_jwt {
  jwt_alg_t alg;
  const char *alg_name;      /* "HS256", "RS256" or "ES256" */
  unsigned char *verify_key; /* HS: the secret; RS/ES: public key PEM */
  size_t verify_key_len;
  unsigned char *sign_key; /* HS: == verify_key; RS/ES: private key PEM or
                              NULL (cannot issue) */
  size_t sign_key_len;
  char issuer[WT_CONFIG_NAME_MAX];
  char audience[WT_CONFIG_NAME_MAX];
  int64_t ttl_s;
  int64_t refresh_ttl_s;
};

/* --- names ---------------------------------------------------------------- */

static const char *const reason_names[WT_JWT__COUNT] = {
    [WT_JWT_OK] = "ok",
    [WT_JWT_MALFORMED] = "malformed",
    [WT_JWT_TOO_LARGE] = "too_large",
    [WT_JWT_BAD_ALG] = "bad_alg",
    [WT_JWT_BAD_SIGNATURE] = "bad_signature",
    [WT_JWT_EXPIRED] = "expired",
    [WT_JWT_NOT_YET_VALID] = "not_yet_valid",
    [WT_JWT_BAD_ISSUER] = "bad_issuer",
    [WT_JWT_BAD_AUDIENCE] = "bad_audience",
    [WT_JWT_BAD_TYPE] = "bad_type",
    [WT_JWT_BAD_CLAIM] = "bad_claim",
    [WT_JWT_INTERNAL] = "internal",
};

const char *wt_jwt_reason_name(wt_jwt_reason r) {
  if ((unsigned)r >= WT_JWT__COUNT || !reason_names[r])
    return "unknown";
  return reason_names[r];
}

const char *wt_jwt_refusal(wt_jwt_reason r) {
  if (r == WT_JWT_OK)
    return NULL;
  return r == WT_JWT_EXPIRED ? "token expired" : "invalid token";
}

const char *wt_jwt_typ_name(wt_jwt_typ typ) {
  return typ == WT_JWT_REFRESH ? "refresh" : "access";
}

/* --- keys ----------------------------------------------------------------- */

/* Never prompt on a terminal for a passphrase: encrypted keys fail. */
static int no_passphrase(char *buf, int size, int rwflag, void *u) {
  (void)buf, (void)size, (void)rwflag, (void)u;
  return -1;
}

static void wipe_free(unsigned char *p, size_t len) {
  if (!p)
    return;
  OPENSSL_cleanse(p, len);
  free(p);
}

/* Reads a whole file (at most WT_JWT_MAX_KEY_FILE bytes) into a malloc'd,
 * NUL-terminated buffer. */
static wt_err read_key_file(const char *var, const char *path,
                            unsigned char **out, size_t *len_out, char *errstr,
                            size_t errstr_size) {
  FILE *f = fopen(path, "rb");
  unsigned char *buf = NULL;
  size_t len = 0;
  struct stat st;
  wt_err err = WT_ERR_IO;

  *out = NULL;
  *len_out = 0;
  if (!f) {
    wt_errf(errstr, errstr_size, "%s: cannot open %s: %s", var, path,
            strerror(errno));
    return WT_ERR_IO;
  }
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    wt_errf(errstr, errstr_size, "%s: %s is not a regular file", var, path);
    goto out;
  }
  buf = malloc(WT_JWT_MAX_KEY_FILE + 1);
  if (!buf) {
    err = WT_ERR_NOMEM;
    wt_errf(errstr, errstr_size, "%s: out of memory", var);
    goto out;
  }
  len = fread(buf, 1, WT_JWT_MAX_KEY_FILE + 1, f);
  if (ferror(f)) {
    wt_errf(errstr, errstr_size, "%s: cannot read %s", var, path);
    goto out;
  }
  if (len > WT_JWT_MAX_KEY_FILE) {
    err = WT_ERR_CONFIG;
    wt_errf(errstr, errstr_size, "%s: %s is larger than %d bytes", var, path,
            WT_JWT_MAX_KEY_FILE);
    goto out;
  }
  if (len == 0) {
    err = WT_ERR_CONFIG;
    wt_errf(errstr, errstr_size, "%s: %s is empty", var, path);
    goto out;
  }
  buf[len] = '\0';
  *out = buf;
  *len_out = len;
  buf = NULL;
  err = WT_OK;
out:
  wipe_free(buf, WT_JWT_MAX_KEY_FILE + 1);
  fclose(f);
  return err;
}

/* The key type libjwt's own check (EVP_PKEY_id) expects, and its size. */
static wt_err check_key_kind(const char *var, jwt_alg_t alg, EVP_PKEY *pkey,
                             char *errstr, size_t errstr_size) {
  if (alg == JWT_ALG_RS256) {
    if (EVP_PKEY_id(pkey) != EVP_PKEY_RSA) {
      wt_errf(errstr, errstr_size, "%s: RS256 needs an RSA key", var);
      return WT_ERR_CONFIG;
    }
    if (EVP_PKEY_get_bits(pkey) < 2048) {
      wt_errf(errstr, errstr_size,
              "%s: RSA key of %d bits, at least 2048 needed", var,
              EVP_PKEY_get_bits(pkey));
      return WT_ERR_CONFIG;
    }
    return WT_OK;
  }
  {
    char group[64] = "";
    size_t glen = 0;
    if (EVP_PKEY_id(pkey) != EVP_PKEY_EC ||
        EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1 ||
        strcmp(group, "prime256v1") != 0) {
      wt_errf(errstr, errstr_size, "%s: ES256 needs an EC P-256 key", var);
      return WT_ERR_CONFIG;
    }
  }
  return WT_OK;
}

static wt_err load_public_key(const char *path, jwt_alg_t alg,
                              unsigned char **pem, size_t *pem_len,
                              EVP_PKEY **pkey_out, char *errstr,
                              size_t errstr_size) {
  static const char var[] = "WT_JWT_PUBLIC_KEY_FILE";
  BIO *bio = NULL;
  wt_err err;

  *pkey_out = NULL;
  if (!path[0]) {
    wt_errf(errstr, errstr_size, "%s: required for %s", var, jwt_alg_str(alg));
    return WT_ERR_CONFIG;
  }
  err = read_key_file(var, path, pem, pem_len, errstr, errstr_size);
  if (err != WT_OK)
    return err;
  /* PKCS#1 "BEGIN RSA PUBLIC KEY" is not what libjwt reads. */
  if (!strstr((const char *)*pem, "-----BEGIN PUBLIC KEY-----")) {
    wt_errf(errstr, errstr_size,
            "%s: %s is not an SPKI PEM (no \"BEGIN PUBLIC KEY\")", var, path);
    err = WT_ERR_CONFIG;
    goto out;
  }
  bio = BIO_new_mem_buf(*pem, (int)*pem_len);
  if (!bio) {
    err = WT_ERR_NOMEM;
    goto out;
  }
  *pkey_out = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
  if (!*pkey_out) {
    wt_errf(errstr, errstr_size, "%s: %s holds no readable public key", var,
            path);
    err = WT_ERR_CONFIG;
    goto out;
  }
  err = check_key_kind(var, alg, *pkey_out, errstr, errstr_size);
out:
  BIO_free(bio);
  if (err != WT_OK) {
    EVP_PKEY_free(*pkey_out);
    *pkey_out = NULL;
    wipe_free(*pem, *pem_len);
    *pem = NULL;
    *pem_len = 0;
  }
  return err;
}

static wt_err load_private_key(const char *path, jwt_alg_t alg,
                               const EVP_PKEY *pub, unsigned char **pem,
                               size_t *pem_len, char *errstr,
                               size_t errstr_size) {
  static const char var[] = "WT_JWT_PRIVATE_KEY_FILE";
  EVP_PKEY *pkey = NULL;
  BIO *bio = NULL;
  wt_err err = read_key_file(var, path, pem, pem_len, errstr, errstr_size);

  if (err != WT_OK)
    return err;
  bio = BIO_new_mem_buf(*pem, (int)*pem_len);
  if (!bio) {
    err = WT_ERR_NOMEM;
    goto out;
  }
  /* libjwt reads the key the same way (first private key in the file). */
  pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
  if (!pkey) {
    wt_errf(errstr, errstr_size,
            "%s: %s holds no readable, unencrypted private key", var, path);
    err = WT_ERR_CONFIG;
    goto out;
  }
  err = check_key_kind(var, alg, pkey, errstr, errstr_size);
  if (err == WT_OK && EVP_PKEY_eq(pub, pkey) != 1) {
    wt_errf(errstr, errstr_size, "%s: %s does not match WT_JWT_PUBLIC_KEY_FILE",
            var, path);
    err = WT_ERR_CONFIG;
  }
out:
  EVP_PKEY_free(pkey);
  BIO_free(bio);
  if (err != WT_OK) {
    wipe_free(*pem, *pem_len);
    *pem = NULL;
    *pem_len = 0;
  }
  return err;
}

void wt_jwt_destroy(wt_jwt *j) {
  if (!j)
    return;
  if (j->sign_key != j->verify_key)
    wipe_free(j->sign_key, j->sign_key_len);
  wipe_free(j->verify_key, j->verify_key_len);
  free(j);
}

wt_err wt_jwt_new(const wt_config *cfg, wt_jwt **out, char *errstr,
                  size_t errstr_size) {
  wt_jwt *j;
  EVP_PKEY *pub = NULL;
  wt_err err = WT_OK;

  *out = NULL;
  if (cfg->jwt_ttl_s <= 0 || cfg->jwt_refresh_ttl_s <= 0) {
    wt_errf(errstr, errstr_size, "WT_JWT_TTL/WT_JWT_REFRESH_TTL: must be > 0");
    return WT_ERR_CONFIG;
  }
  if (!cfg->jwt_issuer[0] || !cfg->jwt_audience[0]) {
    wt_errf(errstr, errstr_size,
            "WT_JWT_ISSUER/WT_JWT_AUDIENCE: must not be empty");
    return WT_ERR_CONFIG;
  }
  j = calloc(1, sizeof(*j));
  if (!j) {
    wt_errf(errstr, errstr_size, "out of memory");
    return WT_ERR_NOMEM;
  }
  snprintf(j->issuer, sizeof(j->issuer), "%s", cfg->jwt_issuer);
  snprintf(j->audience, sizeof(j->audience), "%s", cfg->jwt_audience);
  j->ttl_s = cfg->jwt_ttl_s;
  j->refresh_ttl_s = cfg->jwt_refresh_ttl_s;

  if (strcmp(cfg->jwt_alg, "HS256") == 0) {
    size_t len = strnlen(cfg->jwt_secret, sizeof(cfg->jwt_secret));
    j->alg = JWT_ALG_HS256;
    /* Empty would switch libjwt's verification off; short is guessable. */
    if (len < WT_JWT_MIN_SECRET) {
      wt_errf(errstr, errstr_size,
              "WT_JWT_SECRET: HS256 needs a secret of at least %d bytes, got "
              "%zu",
              WT_JWT_MIN_SECRET, len);
      err = WT_ERR_CONFIG;
      goto out;
    }
    j->verify_key = malloc(len);
    if (!j->verify_key) {
      err = WT_ERR_NOMEM;
      goto out;
    }
    memcpy(j->verify_key, cfg->jwt_secret, len);
    j->verify_key_len = len;
    j->sign_key = j->verify_key;
    j->sign_key_len = len;
  } else if (strcmp(cfg->jwt_alg, "RS256") == 0 ||
             strcmp(cfg->jwt_alg, "ES256") == 0) {
    j->alg = cfg->jwt_alg[0] == 'R' ? JWT_ALG_RS256 : JWT_ALG_ES256;
    err = load_public_key(cfg->jwt_public_key_file, j->alg, &j->verify_key,
                          &j->verify_key_len, &pub, errstr, errstr_size);
    if (err != WT_OK)
      goto out;
    if (cfg->jwt_private_key_file[0]) {
      err =
          load_private_key(cfg->jwt_private_key_file, j->alg, pub, &j->sign_key,
                           &j->sign_key_len, errstr, errstr_size);
      if (err != WT_OK)
        goto out;
    }
  } else {
    wt_errf(errstr, errstr_size,
            "WT_JWT_ALG: expected HS256, RS256 or ES256, got \"%.16s\"",
            cfg->jwt_alg);
    err = WT_ERR_CONFIG;
    goto out;
  }
  j->alg_name = jwt_alg_str(j->alg);
  /* Never hand libjwt an empty key: a zero length turns verification off. */
  if (!j->verify_key || j->verify_key_len == 0 || j->verify_key_len > INT_MAX) {
    wt_errf(errstr, errstr_size, "WT_JWT_*: no usable key");
    err = WT_ERR_CONFIG;
    goto out;
  }
out:
  EVP_PKEY_free(pub);
  if (err == WT_ERR_NOMEM)
    wt_errf(errstr, errstr_size, "out of memory");
  if (err != WT_OK) {
    wt_jwt_destroy(j);
    return err;
  }
  *out = j;
  return WT_OK;
}

bool wt_jwt_can_issue(const wt_jwt *j) {
  return j && j->sign_key && j->sign_key_len > 0;
}

/* --- issue ---------------------------------------------------------------- */

wt_err wt_jwt_issue(const wt_jwt *j, const char *user_id, int64_t token_version,
                    wt_jwt_typ typ, int64_t now, char **token_out,
                    int64_t *expires_at_out, char *errstr, size_t errstr_size) {
  char jti[WT_UUID_STR];
  jwt_t *t = NULL;
  int64_t ttl, exp;
  char *token;
  int rc;

  if (token_out)
    *token_out = NULL;
  if (!j || !token_out) {
    wt_errf(errstr, errstr_size, "jwt: no handle or output");
    return WT_ERR_INVALID;
  }
  if (!wt_jwt_can_issue(j)) {
    wt_errf(errstr, errstr_size,
            "jwt: %s without WT_JWT_PRIVATE_KEY_FILE can only verify",
            j->alg_name);
    return WT_ERR_INVALID;
  }
  if (!wt_uuid_valid(user_id)) {
    wt_errf(errstr, errstr_size, "jwt: user id is not a canonical UUID");
    return WT_ERR_INVALID;
  }
  if (token_version < 0 || token_version > LONG_MAX) {
    wt_errf(errstr, errstr_size, "jwt: token_version out of range");
    return WT_ERR_INVALID;
  }
  if (typ != WT_JWT_ACCESS && typ != WT_JWT_REFRESH) {
    wt_errf(errstr, errstr_size, "jwt: unknown token type %d", (int)typ);
    return WT_ERR_INVALID;
  }
  ttl = typ == WT_JWT_ACCESS ? j->ttl_s : j->refresh_ttl_s;
  if (now < 0 || now > LONG_MAX - ttl) {
    wt_errf(errstr, errstr_size, "jwt: time out of range");
    return WT_ERR_INVALID;
  }
  exp = now + ttl;
  wt_uuid_generate(jti);

  rc = jwt_new(&t);
  if (rc != 0) {
    wt_errf(errstr, errstr_size, "jwt: out of memory");
    return WT_ERR_NOMEM;
  }
  rc = jwt_set_alg(t, j->alg, j->sign_key, (int)j->sign_key_len);
  if (rc == 0)
    rc = jwt_add_grant(t, "sub", user_id);
  if (rc == 0)
    rc = jwt_add_grant(t, "iss", j->issuer);
  if (rc == 0)
    rc = jwt_add_grant(t, "aud", j->audience);
  if (rc == 0)
    rc = jwt_add_grant(t, "typ", wt_jwt_typ_name(typ));
  if (rc == 0)
    rc = jwt_add_grant(t, "jti", jti);
  if (rc == 0)
    rc = jwt_add_grant_int(t, "iat", (long)now);
  if (rc == 0)
    rc = jwt_add_grant_int(t, "nbf", (long)now);
  if (rc == 0)
    rc = jwt_add_grant_int(t, "exp", (long)exp);
  if (rc == 0)
    rc = jwt_add_grant_int(t, "ver", (long)token_version);
  if (rc != 0) {
    jwt_free(t);
    wt_errf(errstr, errstr_size, "jwt: building the token: %s", strerror(rc));
    return rc == ENOMEM ? WT_ERR_NOMEM : WT_ERR_INVALID;
  }
  errno = 0;
  token = jwt_encode_str(t);
  rc = errno;
  jwt_free(t);
  if (!token) {
    wt_errf(errstr, errstr_size, "jwt: signing failed: %s",
            strerror(rc ? rc : EINVAL));
    return rc == ENOMEM ? WT_ERR_NOMEM : WT_ERR_INVALID;
  }
  *token_out = token;
  if (expires_at_out)
    *expires_at_out = exp;
  return WT_OK;
}

/* --- verify: shape -------------------------------------------------------- */

static int b64url_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

/* Unpadded base64url with zero trailing bits: one encoding per value, so
 * a token cannot be varied without breaking it. */
static bool b64url_canonical(const char *s, size_t n) {
  int last = 0;
  if (n % 4 == 1)
    return false;
  for (size_t i = 0; i < n; i++) {
    last = b64url_value((unsigned char)s[i]);
    if (last < 0)
      return false;
  }
  if (n % 4 == 2)
    return (last & 0x0f) == 0;
  if (n % 4 == 3)
    return (last & 0x03) == 0;
  return true;
}

/* Exactly header.payload.signature; the signature may be empty here (the
 * header's alg is judged first). */
static wt_jwt_reason check_shape(const char *token, size_t len,
                                 size_t *sig_len) {
  const char *dot1 = memchr(token, '.', len);
  const char *dot2, *sig;
  if (!dot1)
    return WT_JWT_MALFORMED;
  dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
  if (!dot2)
    return WT_JWT_MALFORMED;
  sig = dot2 + 1;
  *sig_len = len - (size_t)(sig - token);
  if (memchr(sig, '.', *sig_len))
    return WT_JWT_MALFORMED;
  if (dot1 == token || dot2 == dot1 + 1)
    return WT_JWT_MALFORMED;
  if (!b64url_canonical(token, (size_t)(dot1 - token)) ||
      !b64url_canonical(dot1 + 1, (size_t)(dot2 - dot1 - 1)) ||
      !b64url_canonical(sig, *sig_len))
    return WT_JWT_MALFORMED;
  return WT_JWT_OK;
}

/* --- verify: claims ------------------------------------------------------- */

/* 1: an integer claim (in *v); 0: absent; -1: any other JSON type, or out
 * of range. libjwt's jwt_get_grant_int reads a string or a real as 0, so
 * the type is judged from the claim's JSON. */
static int claim_int(jwt_t *t, const char *name, int64_t *v) {
  char *js = jwt_get_grants_json(t, name);
  const char *p;
  char *end = NULL;
  long long val;
  int ret = -1;

  if (!js)
    return 0;
  p = js[0] == '-' ? js + 1 : js;
  if (*p >= '0' && *p <= '9' && strspn(p, "0123456789") == strlen(p)) {
    errno = 0;
    val = strtoll(js, &end, 10);
    if (errno == 0 && end && *end == '\0') {
      *v = val;
      ret = 1;
    }
  }
  free(js);
  return ret;
}

/* The claim if it is a JSON string, else NULL (absent or another type).
 * Borrowed from t. */
static const char *claim_str(jwt_t *t, const char *name) {
  return jwt_get_grant(t, name);
}

static bool claim_present(jwt_t *t, const char *name) {
  char *js = jwt_get_grants_json(t, name);
  bool present = js != NULL;
  free(js);
  return present;
}

/* Reads one JSON string at *pp (after its opening quote) from jansson's
 * compact dump, compares it with want, and leaves *pp after the closing
 * quote. -1 when malformed. jansson escapes only '"', '\\' and control
 * characters (as \b \f \n \r \t or \u00XX); other \u escapes are read only
 * below U+0080 and otherwise make the element unequal. */
static int json_string_equals(const char **pp, const char *want) {
  const char *p = *pp;
  size_t wi = 0, wlen = strlen(want);
  bool equal = true;

  for (;;) {
    unsigned char c = (unsigned char)*p++;
    int ch;
    if (c == '\0')
      return -1;
    if (c == '"')
      break;
    if (c != '\\') {
      ch = c;
    } else {
      c = (unsigned char)*p++;
      switch (c) {
      case '"': ch = '"'; break;
      case '\\': ch = '\\'; break;
      case '/': ch = '/'; break;
      case 'b': ch = '\b'; break;
      case 'f': ch = '\f'; break;
      case 'n': ch = '\n'; break;
      case 'r': ch = '\r'; break;
      case 't': ch = '\t'; break;
      case 'u': {
        int cp = 0;
        for (int k = 0; k < 4; k++) {
          int h = wt_hex_digit(*p++);
          if (h < 0)
            return -1;
          cp = cp * 16 + h;
        }
        ch = cp < 0x80 ? cp : -1;
        break;
      }
      default: return -1;
      }
    }
    if (ch < 0 || wi >= wlen || (unsigned char)want[wi] != ch)
      equal = false;
    else
      wi++;
  }
  *pp = p;
  return equal && wi == wlen ? 1 : 0;
}

/* aud is ours when it is our string, or an array of strings holding it. */
static bool audience_ok(jwt_t *t, const char *want) {
  const char *s = claim_str(t, "aud");
  char *js;
  const char *p;
  bool found = false;

  if (s)
    return strcmp(s, want) == 0;
  js = jwt_get_grants_json(t, "aud");
  if (!js)
    return false;
  p = js;
  if (*p++ != '[')
    goto out;
  if (*p == ']') /* an empty array holds nothing of ours */
    goto out;
  for (;;) {
    int eq;
    if (*p++ != '"') {
      found = false; /* not an array of strings */
      goto out;
    }
    eq = json_string_equals(&p, want);
    if (eq < 0) {
      found = false;
      goto out;
    }
    found = found || eq == 1;
    if (*p == ',') {
      p++;
      continue;
    }
    if (*p == ']' && p[1] == '\0')
      break;
    found = false;
    goto out;
  }
out:
  free(js);
  return found;
}

/* a - b, saturated to the int64_t range. */
static int64_t sat_sub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r))
    return b > 0 ? INT64_MIN : INT64_MAX;
  return r;
}

static int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r))
    return b > 0 ? INT64_MAX : INT64_MIN;
  return r;
}

static wt_jwt_reason check_claims(const wt_jwt *j, jwt_t *t, wt_jwt_typ expect,
                                  int64_t now, wt_jwt_claims *c) {
  const char *sub = claim_str(t, "sub");
  const char *typ = claim_str(t, "typ");
  const char *iss, *jti;
  int has_nbf;

  /* Presence and types first. */
  if (!wt_uuid_valid(sub))
    return WT_JWT_BAD_CLAIM;
  memcpy(c->sub, sub, sizeof(c->sub));
  if (claim_int(t, "iat", &c->iat) != 1 || claim_int(t, "exp", &c->exp) != 1)
    return WT_JWT_BAD_CLAIM;
  has_nbf = claim_int(t, "nbf", &c->nbf);
  if (has_nbf < 0)
    return WT_JWT_BAD_CLAIM;
  if (claim_int(t, "ver", &c->ver) != 1 || c->ver < 0)
    return WT_JWT_BAD_CLAIM;
  if (!typ)
    return WT_JWT_BAD_CLAIM;
  jti = claim_str(t, "jti");
  if (jti) {
    size_t n = strlen(jti);
    if (n == 0 || n >= sizeof(c->jti))
      return WT_JWT_BAD_CLAIM;
    memcpy(c->jti, jti, n + 1);
  } else if (claim_present(t, "jti")) {
    return WT_JWT_BAD_CLAIM; /* present but not a string */
  }

  /* Who it is for. */
  iss = claim_str(t, "iss");
  if (!iss || strcmp(iss, j->issuer) != 0)
    return WT_JWT_BAD_ISSUER;
  if (!audience_ok(t, j->audience))
    return WT_JWT_BAD_AUDIENCE;
  if (strcmp(typ, "access") == 0)
    c->typ = WT_JWT_ACCESS;
  else if (strcmp(typ, "refresh") == 0)
    c->typ = WT_JWT_REFRESH;
  else
    return WT_JWT_BAD_TYPE;
  if (c->typ != expect)
    return WT_JWT_BAD_TYPE;

  /* When. */
  if (sat_sub(now, WT_JWT_LEEWAY_S) >= c->exp)
    return WT_JWT_EXPIRED;
  if (has_nbf == 1 && c->nbf > sat_add(now, WT_JWT_LEEWAY_S))
    return WT_JWT_NOT_YET_VALID;
  if (c->iat > sat_add(now, WT_JWT_LEEWAY_S))
    return WT_JWT_NOT_YET_VALID;
  if (has_nbf != 1)
    c->nbf = 0;
  return WT_JWT_OK;
}

/* --- verify --------------------------------------------------------------- */

static wt_jwt_reason decode_error(int rc, wt_jwt_reason otherwise) {
  return rc == ENOMEM ? WT_JWT_INTERNAL : otherwise;
}

wt_jwt_reason wt_jwt_verify(const wt_jwt *j, const char *token,
                            wt_jwt_typ expect, int64_t now,
                            wt_jwt_claims *out) {
  jwt_t *t = NULL;
  const char *alg;
  size_t len, sig_len = 0;
  wt_jwt_reason r;
  int rc;

  memset(out, 0, sizeof(*out));
  if (!j || !token)
    return WT_JWT_MALFORMED;
  len = strnlen(token, WT_JWT_MAX_TOKEN + 1);
  if (len > WT_JWT_MAX_TOKEN)
    return WT_JWT_TOO_LARGE;
  r = check_shape(token, len, &sig_len);
  if (r != WT_JWT_OK)
    return r;

  /* The header's alg, before libjwt ever runs a verification: without a
   * key jwt_decode parses only (it then reports alg none, so read the
   * header itself). */
  rc = jwt_decode(&t, token, NULL, 0);
  if (rc != 0 || !t)
    return decode_error(rc, WT_JWT_MALFORMED);
  alg = jwt_get_header(t, "alg");
  r = alg && strcmp(alg, j->alg_name) == 0 ? WT_JWT_OK : WT_JWT_BAD_ALG;
  jwt_free(t);
  t = NULL;
  if (r != WT_JWT_OK)
    return r;
  if (sig_len == 0)
    return WT_JWT_BAD_SIGNATURE;

  /* Now with our key; libjwt picks the alg from the token again, which the
   * check above and the one below pin to ours. */
  rc = jwt_decode(&t, token, j->verify_key, (int)j->verify_key_len);
  if (rc != 0 || !t)
    return decode_error(rc, WT_JWT_BAD_SIGNATURE);
  if (jwt_get_alg(t) != j->alg) {
    r = WT_JWT_BAD_ALG;
    goto out;
  }
  r = check_claims(j, t, expect, now, out);
out:
  jwt_free(t);
  if (r != WT_JWT_OK)
    memset(out, 0, sizeof(*out));
  return r;
}
