/* wt_jwt: the gateway's JSON Web Tokens, issued at login and checked on
 * every token a client presents.
 *
 * The algorithm is fixed by configuration (HS256, RS256 or ES256), never by
 * the token: libjwt 1.10.2 takes the algorithm from the token's header,
 * decodes "none" tokens when given no key, turns verification off for a
 * zero-length key and verifies an HS256 token whose secret is our RSA public
 * key's PEM bytes. It checks no claim at all. So wt_jwt_verify compares the
 * header's alg with the configured one before libjwt sees the key, always
 * passes the configured, non-empty key, and checks every claim itself.
 *
 * Claims we issue and require: sub (canonical lowercase UUID), iat, exp,
 * iss, aud, typ ("access"|"refresh"), ver (the user's token_version, an
 * integer >= 0); nbf and jti are issued too but optional on input (external
 * identity providers). Times are whole seconds (JSON integers; fractions
 * are refused). Leeway: WT_JWT_LEEWAY_S either way.
 *
 * A wt_jwt holds the keys and the policy and is immutable after
 * wt_jwt_new: share one handle between threads; every call keeps its state
 * on its own stack and heap. */
#ifndef WT_JWT_H
#define WT_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wt_config.h"
#include "wt_err.h"

#define WT_JWT_MAX_TOKEN 8192 /* longer tokens are refused unread */
#define WT_JWT_LEEWAY_S 30    /* clock skew allowed on exp, nbf, iat */
#define WT_JWT_MIN_SECRET 32  /* HS256 secret bytes */
#define WT_JWT_MAX_KEY_FILE 65536

typedef struct wt_jwt wt_jwt;

/* From cfg->jwt_*: HS256 with jwt_secret (at least WT_JWT_MIN_SECRET
 * bytes), or RS256/ES256 with jwt_public_key_file (an SPKI PEM, "BEGIN
 * PUBLIC KEY", RSA >= 2048 bits or EC P-256) and optionally
 * jwt_private_key_file (unencrypted PEM of the same key pair) to issue
 * tokens too. Key files are read once, here. For HS256 the key files are
 * ignored; for RS/ES the secret is. An empty or missing key is always an
 * error. WT_ERR_CONFIG (a bad setting or key, named in errstr), WT_ERR_IO
 * (a file cannot be read), WT_ERR_NOMEM. */
wt_err wt_jwt_new(const wt_config *cfg, wt_jwt **out, char *errstr,
                  size_t errstr_size);
/* Wipes the keys and frees. NULL is a no-op. */
void wt_jwt_destroy(wt_jwt *j);

typedef enum wt_jwt_typ { WT_JWT_ACCESS, WT_JWT_REFRESH } wt_jwt_typ;

/* "access" or "refresh". */
const char *wt_jwt_typ_name(wt_jwt_typ typ);

/* True when this handle can issue tokens (HS256, or a private key). */
bool wt_jwt_can_issue(const wt_jwt *j);

/* Issues a token for user_id (a canonical UUID): iat = nbf = now,
 * exp = now + ttl (jwt_ttl_s for access, jwt_refresh_ttl_s for refresh),
 * iss, aud (a string), typ, ver = token_version (>= 0) and a random jti.
 * *token_out is malloc'd, the caller frees it; *expires_at_out (may be
 * NULL) gets exp. WT_ERR_INVALID for a bad argument or a handle that cannot
 * issue (RS/ES without a private key); WT_ERR_NOMEM. */
wt_err wt_jwt_issue(const wt_jwt *j, const char *user_id, int64_t token_version,
                    wt_jwt_typ typ, int64_t now, char **token_out,
                    int64_t *expires_at_out, char *errstr, size_t errstr_size);

/* Why a token was refused; names for metrics labels. */
typedef enum wt_jwt_reason {
  WT_JWT_OK = 0,
  WT_JWT_MALFORMED,     /* not three canonical base64url segments of JSON
                           (a payload array passes here and fails as
                           BAD_CLAIM), or a header libjwt refuses (typ
                           other than "JWT", alg missing or unknown) */
  WT_JWT_TOO_LARGE,     /* over WT_JWT_MAX_TOKEN bytes */
  WT_JWT_BAD_ALG,       /* header alg is not the configured one (or none) */
  WT_JWT_BAD_SIGNATURE, /* signature missing or does not verify */
  WT_JWT_EXPIRED,       /* now >= exp + leeway */
  WT_JWT_NOT_YET_VALID, /* nbf or iat later than now + leeway */
  WT_JWT_BAD_ISSUER,    /* iss missing or not ours */
  WT_JWT_BAD_AUDIENCE,  /* aud missing, or neither ours nor a string array
                           holding ours */
  WT_JWT_BAD_TYPE,      /* typ is not the expected one */
  WT_JWT_BAD_CLAIM,     /* sub/iat/exp/nbf/ver/typ/jti missing (where
                           required) or mistyped, sub not a UUID, ver < 0,
                           jti empty or over 63 bytes */
  WT_JWT_INTERNAL,      /* out of memory */
  WT_JWT__COUNT
} wt_jwt_reason;

/* "ok", "malformed", "too_large", "bad_alg", "bad_signature", "expired",
 * "not_yet_valid", "bad_issuer", "bad_audience", "bad_type", "bad_claim",
 * "internal". Never NULL. */
const char *wt_jwt_reason_name(wt_jwt_reason r);

/* What the client is told of a refusal (the WebSocket close reason):
 * "token expired" for WT_JWT_EXPIRED, a token whose signature, issuer,
 * audience and type all checked out, so the client knows to log in or
 * refresh again; "invalid token" for every other refusal, which says
 * nothing of what was wrong with it. NULL for WT_JWT_OK. */
const char *wt_jwt_refusal(wt_jwt_reason r);

typedef struct wt_jwt_claims {
  char sub[37];
  int64_t exp, iat;
  int64_t nbf; /* 0 when the token has none */
  int64_t ver;
  wt_jwt_typ typ;
  char jti[64]; /* "" when the token has none */
} wt_jwt_claims;

/* Verifies token (a NUL-terminated string) with the configured key and
 * algorithm only, then its claims at time now, expecting typ `expect`.
 * *out is filled on WT_JWT_OK and zeroed otherwise. The caller still checks
 * ver against the user's token_version and that the user is active. */
wt_jwt_reason wt_jwt_verify(const wt_jwt *j, const char *token,
                            wt_jwt_typ expect, int64_t now, wt_jwt_claims *out);

#endif
