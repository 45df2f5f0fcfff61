/* wt_sign: signed commands, so that the worker knows which producer sent a
 * command and whether that producer may issue it (docs/security.md).
 *
 * A keyed producer (WT_PRODUCER_ID, WT_PRODUCER_KEY_FILE) adds two headers
 * to every command message:
 *   wt-producer:  <id>
 *   wt-signature: v1=<64 lowercase hex of HMAC-SHA256(key,
 *                 "wt-command-v1\0" id "\0" msgkey "\0" value)>
 * The worker holds every producer's key with its scopes
 * (WT_PRODUCER_KEYS_FILE: lines "<id> <scopes> <hexkey>") and checks both:
 * wt_sign_verify says who signed, wt_sign_permits whether that covers the
 * command's actor ("system" needs the scope system, a user the scope users).
 *
 * Pure, except wt_sign_key_load and wt_sign_keys_load, which read a file
 * (one reader, file_read in wt_sign.c). Keys are wiped (OPENSSL_cleanse) when
 * freed, and no error message ever holds one. Both handles are immutable
 * once made: share them between threads. */
#ifndef WT_SIGN_H
#define WT_SIGN_H

#include <stdbool.h>
#include <stddef.h>

#include "wt_err.h"

#define WT_SIGN_HEADER_PRODUCER "wt-producer"
#define WT_SIGN_HEADER_SIGNATURE "wt-signature"
#define WT_SIGN_ID_MAX 64        /* producer id: [A-Za-z0-9._-]{1,64} */
#define WT_SIGN_KEY_BYTES 32     /* a key: 64 hex characters in its file */
#define WT_SIGN_SIGNATURE_STR 68 /* "v1=" + 64 hex + NUL */
#define WT_SIGN_KEYS_MAX 256     /* producers in one keys file */
#define WT_SIGN_KEYS_FILE_MAX ((size_t)64 * 1024) /* bytes */
#define WT_SIGN_LINE_MAX 512 /* bytes of one keys file line */

/* Scopes: what a producer's commands may be. */
#define WT_SCOPE_SYSTEM 0x1u /* actor "system" (user.*: wt-admin) */
#define WT_SCOPE_USERS 0x2u  /* a user actor (the gateway, wt-ingest) */

typedef struct wt_sign_key wt_sign_key;   /* a producer's own id and key */
typedef struct wt_sign_keys wt_sign_keys; /* the producers a worker trusts */

/* true when id[0..len) is a producer id: 1 to WT_SIGN_ID_MAX characters of
 * A-Z a-z 0-9 . _ - */
bool wt_sign_id_valid(const char *id, size_t len);

/* --- producing ------------------------------------------------------------ */

/* A producer's key from the text of its key file: exactly 64 hex digits,
 * one trailing newline allowed. id must be wt_sign_id_valid. WT_OK and
 * *out (the caller's: wt_sign_key_free), or WT_ERR_INVALID with the reason
 * (never the text) in errstr, WT_ERR_NOMEM. */
wt_err wt_sign_key_parse(const char *id, const char *text, size_t len,
                         wt_sign_key **out, char *errstr, size_t errstr_size);
/* The same from the file at path (WT_PRODUCER_KEY_FILE); errors start
 * with the path. WT_ERR_IO: the file cannot be read. */
wt_err wt_sign_key_load(const char *id, const char *path, wt_sign_key **out,
                        char *errstr, size_t errstr_size);
/* Wipes the key and frees. NULL is fine. */
void wt_sign_key_free(wt_sign_key *k);
const char *wt_sign_key_id(const wt_sign_key *k);

/* The wt-signature value of a message (key msgkey of keylen bytes, value
 * of len bytes) signed with k, "v1=<64 hex>", into sig. WT_ERR_NOMEM when
 * OpenSSL fails (sig is then ""). */
wt_err wt_sign_message(const wt_sign_key *k, const void *msgkey, size_t keylen,
                       const void *value, size_t len,
                       char sig[WT_SIGN_SIGNATURE_STR]);

/* --- checking ------------------------------------------------------------- */

/* The trusted producers from the text of a keys file: lines
 * "<id> <scopes> <hexkey>" separated by blanks (spaces, tabs), scopes a
 * comma list of "system" and "users", the key 64 hex digits; '#' starts a
 * comment line; blank lines are skipped. At least one producer, at most
 * WT_SIGN_KEYS_MAX, each id once, WT_SIGN_LINE_MAX bytes a line,
 * WT_SIGN_KEYS_FILE_MAX in all. WT_ERR_INVALID: errstr says "line N: why"
 * (never a key). */
wt_err wt_sign_keys_parse(const char *text, size_t len, wt_sign_keys **out,
                          char *errstr, size_t errstr_size);
/* The same from the file at path (WT_PRODUCER_KEYS_FILE); errors start
 * with the path. WT_ERR_IO: the file cannot be read. */
wt_err wt_sign_keys_load(const char *path, wt_sign_keys **out, char *errstr,
                         size_t errstr_size);
void wt_sign_keys_free(wt_sign_keys *keys); /* wipes the keys; NULL is fine */
size_t wt_sign_keys_count(const wt_sign_keys *keys);

typedef enum wt_sign_status {
  WT_SIGN_UNCHECKED = 0, /* no keys to check against (keys NULL) */
  WT_SIGN_OK,            /* a valid signature of a listed producer */
  WT_SIGN_UNSIGNED,      /* neither header */
  WT_SIGN_UNKNOWN_PRODUCER,
  WT_SIGN_BAD_SIGNATURE, /* a listed producer, a signature that fails */
  WT_SIGN_MALFORMED,     /* one header without the other, one twice, or a
                            value not of the form above */
} wt_sign_status;

/* Who signed a message. A zeroed wt_signer is WT_SIGN_UNCHECKED. */
typedef struct wt_signer {
  wt_sign_status status;
  unsigned scopes; /* WT_SCOPE_* of the producer; 0 unless WT_SIGN_OK */
  /* the producer's id, borrowed from the keys (they outlive the messages
   * checked); NULL unless WT_SIGN_OK or WT_SIGN_BAD_SIGNATURE */
  const char *id;
} wt_signer;

/* A message's two headers as read: each value (NULL: absent) and how many
 * times the header occurs (more than once: malformed). */
typedef struct wt_sign_headers {
  const void *producer;
  size_t producer_len;
  unsigned producer_count;
  const void *signature;
  size_t signature_len;
  unsigned signature_count;
} wt_sign_headers;

/* Checks a message's signature against keys into out; keys NULL:
 * WT_SIGN_UNCHECKED. The signature is compared in constant time. */
void wt_sign_verify(const wt_sign_keys *keys, const wt_sign_headers *h,
                    const void *msgkey, size_t keylen, const void *value,
                    size_t len, wt_signer *out);

/* Why a command is not accepted from its signer (WT_SIGN_ALLOWED: it is). */
typedef enum wt_sign_refusal {
  WT_SIGN_ALLOWED = 0,
  WT_SIGN_REFUSED_NO_KEYS, /* a system command, the worker has no keys */
  WT_SIGN_REFUSED_UNSIGNED,
  WT_SIGN_REFUSED_UNKNOWN_PRODUCER,
  WT_SIGN_REFUSED_BAD_SIGNATURE,
  WT_SIGN_REFUSED_MALFORMED,
  WT_SIGN_REFUSED_SCOPE, /* signed, but the producer lacks the scope */
  WT_SIGN_REFUSAL__COUNT
} wt_sign_refusal;

/* Whether a command from signer s may be decided: system_actor is the
 * command's actor "system". Unchecked (no keys): user actors yes, system
 * no. Checked: a valid signature whose scopes cover the actor. Else the
 * refusal, with the rejection's message (no key, no header value but a
 * listed producer's id) in message. */
wt_sign_refusal wt_sign_permits(const wt_signer *s, bool system_actor,
                                char *message, size_t message_size);

/* The refusal as a metric label: "no_keys", "unsigned",
 * "unknown_producer", "bad_signature", "malformed", "scope"; "allowed". */
const char *wt_sign_refusal_name(wt_sign_refusal r);

#endif
