/* wt_sign: HMAC-SHA256 signatures of command messages (see wt_sign.h).
 *
 * OpenSSL 3's EVP_MAC API (HMAC_CTX is deprecated there). Each producer's
 * HMAC context is made and keyed once (producer_key_ready; the raw key is
 * wiped then); every signature works on a copy of it (EVP_MAC_CTX_dup only
 * reads the original), so one handle serves several threads and a
 * signature costs no key set-up. */
#include "wt_sign.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAC_CONTEXT "wt-command-v1" /* sizeof includes its NUL */
#define SIG_PREFIX "v1="
#define SIG_PREFIX_LEN 3
#define KEY_HEX 64 /* 2 * WT_SIGN_KEY_BYTES */
#define KEY_FILE_MAX 4096
_Static_assert(KEY_HEX == 2 * WT_SIGN_KEY_BYTES,
               "a key is two hex digits a byte");

typedef struct producer {
  char id[WT_SIGN_ID_MAX + 1];
  unsigned scopes;
  unsigned char key[WT_SIGN_KEY_BYTES]; /* wiped once ctx holds it */
  EVP_MAC_CTX *ctx;                     /* HMAC-SHA256 keyed with key */
  size_t line;                          /* of the keys file */
} producer;

struct wt_sign_key {
  producer p;
};

struct wt_sign_keys {
  size_t n;
  producer p[WT_SIGN_KEYS_MAX];
};

bool wt_sign_id_valid(const char *id, size_t len) {
  if (!id || len == 0 || len > WT_SIGN_ID_MAX)
    return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)id[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return false;
  }
  return true;
}

static int hex_value(unsigned char c, bool lower_only) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (!lower_only && c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Exactly 2 * WT_SIGN_KEY_BYTES hex digits into out. */
static bool hex_decode(const char *hex, size_t len, bool lower_only,
                       unsigned char out[WT_SIGN_KEY_BYTES]) {
  if (len != KEY_HEX)
    return false;
  for (size_t i = 0; i < WT_SIGN_KEY_BYTES; i++) {
    int hi = hex_value((unsigned char)hex[2 * i], lower_only);
    int lo = hex_value((unsigned char)hex[2 * i + 1], lower_only);
    if (hi < 0 || lo < 0)
      return false;
    out[i] = (unsigned char)(hi << 4 | lo);
  }
  return true;
}

/* Makes p's keyed HMAC-SHA256 context and wipes the raw key. */
static bool producer_key_ready(producer *p) {
  static char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  bool ok;
  p->ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
  EVP_MAC_free(mac); /* the context keeps its own reference */
  ok = p->ctx && EVP_MAC_init(p->ctx, p->key, sizeof(p->key), params) == 1;
  OPENSSL_cleanse(p->key, sizeof(p->key));
  return ok;
}

static void producer_clear(producer *p) {
  EVP_MAC_CTX_free(p->ctx); /* wipes the key schedule */
  OPENSSL_cleanse(p, sizeof(*p));
}

/* HMAC-SHA256(key, "wt-command-v1\0" id "\0" msgkey "\0" value). */
static bool mac_compute(const producer *p, const void *msgkey, size_t keylen,
                        const void *value, size_t len,
                        unsigned char out[WT_SIGN_KEY_BYTES]) {
  static const unsigned char nul = 0;
  EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(p->ctx);
  size_t outl = 0;
  bool ok;
  if (!ctx)
    return false;
  ok = EVP_MAC_update(ctx, (const unsigned char *)MAC_CONTEXT,
                      sizeof(MAC_CONTEXT)) == 1 &&
       EVP_MAC_update(ctx, (const unsigned char *)p->id, strlen(p->id) + 1) ==
           1 &&
       (keylen == 0 || EVP_MAC_update(ctx, msgkey, keylen) == 1) &&
       EVP_MAC_update(ctx, &nul, 1) == 1 &&
       (len == 0 || EVP_MAC_update(ctx, value, len) == 1) &&
       EVP_MAC_final(ctx, out, &outl, WT_SIGN_KEY_BYTES) == 1 &&
       outl == WT_SIGN_KEY_BYTES;
  EVP_MAC_CTX_free(ctx); /* wipes the key schedule */
  return ok;
}

/* --- files ---------------------------------------------------------------- */

/* The one reader of files: the whole of path, at most cap bytes, into a
 * malloc'd, NUL-terminated buffer (the caller wipes and frees it). */
static wt_err file_read(const char *path, size_t cap, char **out,
                        size_t *out_len, char *errstr, size_t errstr_size) {
  FILE *f = fopen(path, "rb");
  char *buf;
  size_t n;
  *out = NULL;
  *out_len = 0;
  if (!f) {
    wt_errf(errstr, errstr_size, "%s: cannot read: %s", path, strerror(errno));
    return WT_ERR_IO;
  }
  buf = malloc(cap + 2);
  if (!buf) {
    fclose(f);
    wt_errf(errstr, errstr_size, "%s: out of memory", path);
    return WT_ERR_NOMEM;
  }
  n = fread(buf, 1, cap + 1, f);
  if (ferror(f)) {
    fclose(f);
    OPENSSL_cleanse(buf, cap + 2);
    free(buf);
    wt_errf(errstr, errstr_size, "%s: cannot read: %s", path, strerror(errno));
    return WT_ERR_IO;
  }
  fclose(f);
  if (n > cap) {
    OPENSSL_cleanse(buf, cap + 2);
    free(buf);
    wt_errf(errstr, errstr_size, "%s: larger than %zu bytes", path, cap);
    return WT_ERR_INVALID;
  }
  buf[n] = '\0';
  *out = buf;
  *out_len = n;
  return WT_OK;
}

static void buf_wipe_free(char *buf, size_t len) {
  if (!buf)
    return;
  OPENSSL_cleanse(buf, len);
  free(buf);
}

/* --- a producer's key ----------------------------------------------------- */

wt_err wt_sign_key_parse(const char *id, const char *text, size_t len,
                         wt_sign_key **out, char *errstr, size_t errstr_size) {
  wt_sign_key *k;
  *out = NULL;
  if (!wt_sign_id_valid(id, id ? strlen(id) : 0)) {
    wt_errf(errstr, errstr_size,
            "producer id must be 1 to %d of A-Z a-z 0-9 . _ -", WT_SIGN_ID_MAX);
    return WT_ERR_INVALID;
  }
  if (len > 0 && text[len - 1] == '\n')
    len--;
  if (len > 0 && text[len - 1] == '\r')
    len--;
  k = calloc(1, sizeof(*k));
  if (!k) {
    wt_errf(errstr, errstr_size, "out of memory");
    return WT_ERR_NOMEM;
  }
  if (!hex_decode(text, len, false, k->p.key)) {
    wt_sign_key_free(k);
    wt_errf(errstr, errstr_size,
            "expected %d hex digits (a %d-byte key), one line", KEY_HEX,
            WT_SIGN_KEY_BYTES);
    return WT_ERR_INVALID;
  }
  snprintf(k->p.id, sizeof(k->p.id), "%s", id);
  if (!producer_key_ready(&k->p)) {
    wt_sign_key_free(k);
    wt_errf(errstr, errstr_size, "OpenSSL has no HMAC-SHA256");
    return WT_ERR_NOMEM;
  }
  *out = k;
  return WT_OK;
}

wt_err wt_sign_key_load(const char *id, const char *path, wt_sign_key **out,
                        char *errstr, size_t errstr_size) {
  char *text = NULL, why[256] = "";
  size_t len = 0;
  wt_err err = file_read(path, KEY_FILE_MAX, &text, &len, errstr, errstr_size);
  *out = NULL;
  if (err == WT_ERR_INVALID) /* too large */
    wt_errf(errstr, errstr_size, "%s: expected %d hex digits (a %d-byte key)",
            path, KEY_HEX, WT_SIGN_KEY_BYTES);
  if (err != WT_OK)
    return err;
  err = wt_sign_key_parse(id, text, len, out, why, sizeof(why));
  buf_wipe_free(text, len);
  if (err != WT_OK)
    wt_errf(errstr, errstr_size, "%s: %s", path, why);
  return err;
}

void wt_sign_key_free(wt_sign_key *k) {
  if (!k)
    return;
  producer_clear(&k->p);
  free(k);
}

const char *wt_sign_key_id(const wt_sign_key *k) {
  return k->p.id;
}

wt_err wt_sign_message(const wt_sign_key *k, const void *msgkey, size_t keylen,
                       const void *value, size_t len,
                       char sig[WT_SIGN_SIGNATURE_STR]) {
  static const char digits[] = "0123456789abcdef";
  unsigned char mac[WT_SIGN_KEY_BYTES];
  sig[0] = '\0';
  if (!mac_compute(&k->p, msgkey, keylen, value, len, mac))
    return WT_ERR_NOMEM;
  memcpy(sig, SIG_PREFIX, SIG_PREFIX_LEN);
  for (size_t i = 0; i < sizeof(mac); i++) {
    sig[SIG_PREFIX_LEN + 2 * i] = digits[mac[i] >> 4];
    sig[SIG_PREFIX_LEN + 2 * i + 1] = digits[mac[i] & 15];
  }
  sig[SIG_PREFIX_LEN + KEY_HEX] = '\0';
  return WT_OK;
}

/* --- the keys file -------------------------------------------------------- */

static bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

/* The next blank-separated field of line[*pos..len): its start and length
 * (0 at the end). */
static size_t next_field(const char *line, size_t len, size_t *pos,
                         const char **field) {
  size_t start;
  while (*pos < len && is_blank(line[*pos]))
    (*pos)++;
  start = *pos;
  while (*pos < len && !is_blank(line[*pos]))
    (*pos)++;
  *field = line + start;
  return *pos - start;
}

/* "system,users" -> WT_SCOPE_* bits; 0 when a scope is unknown or empty. */
static unsigned parse_scopes(const char *s, size_t len) {
  unsigned scopes = 0;
  size_t i = 0;
  while (i <= len) {
    size_t j = i;
    while (j < len && s[j] != ',')
      j++;
    if (j - i == 6 && memcmp(s + i, "system", 6) == 0)
      scopes |= WT_SCOPE_SYSTEM;
    else if (j - i == 5 && memcmp(s + i, "users", 5) == 0)
      scopes |= WT_SCOPE_USERS;
    else
      return 0;
    i = j + 1;
  }
  return scopes;
}

/* One line (without its newline) into keys; false with errstr set. */
static bool parse_line(wt_sign_keys *keys, const char *line, size_t len,
                       size_t lineno, char *errstr, size_t errstr_size) {
  const char *f[4];
  size_t flen[4], pos = 0;
  producer *p;
  for (int i = 0; i < 4; i++)
    flen[i] = next_field(line, len, &pos, &f[i]);
  if (flen[0] == 0 || f[0][0] == '#')
    return true; /* blank or a comment */
  if (flen[2] == 0) {
    wt_errf(errstr, errstr_size,
            "line %zu: expected \"<id> <scopes> <hexkey>\"", lineno);
    return false;
  }
  if (flen[3] != 0) {
    wt_errf(errstr, errstr_size,
            "line %zu: more than \"<id> <scopes> <hexkey>\"", lineno);
    return false;
  }
  if (!wt_sign_id_valid(f[0], flen[0])) {
    wt_errf(errstr, errstr_size,
            "line %zu: producer id must be 1 to %d of A-Z a-z 0-9 . _ -",
            lineno, WT_SIGN_ID_MAX);
    return false;
  }
  for (size_t i = 0; i < keys->n; i++)
    if (strlen(keys->p[i].id) == flen[0] &&
        memcmp(keys->p[i].id, f[0], flen[0]) == 0) {
      wt_errf(errstr, errstr_size,
              "line %zu: producer %s listed twice (first on line %zu)", lineno,
              keys->p[i].id, keys->p[i].line);
      return false;
    }
  if (keys->n == WT_SIGN_KEYS_MAX) {
    wt_errf(errstr, errstr_size, "line %zu: more than %d producers", lineno,
            WT_SIGN_KEYS_MAX);
    return false;
  }
  p = &keys->p[keys->n];
  p->scopes = parse_scopes(f[1], flen[1]);
  if (!p->scopes) {
    wt_errf(errstr, errstr_size,
            "line %zu: scopes must be a comma list of system and users",
            lineno);
    return false;
  }
  if (!hex_decode(f[2], flen[2], false, p->key)) {
    OPENSSL_cleanse(p->key, sizeof(p->key));
    wt_errf(errstr, errstr_size,
            "line %zu: key must be %d hex digits (a %d-byte key)", lineno,
            KEY_HEX, WT_SIGN_KEY_BYTES);
    return false;
  }
  memcpy(p->id, f[0], flen[0]);
  p->id[flen[0]] = '\0';
  p->line = lineno;
  keys->n++;
  return true;
}

wt_err wt_sign_keys_parse(const char *text, size_t len, wt_sign_keys **out,
                          char *errstr, size_t errstr_size) {
  wt_sign_keys *keys;
  const char *nul;
  size_t pos = 0, lineno = 0;
  *out = NULL;
  if (len > WT_SIGN_KEYS_FILE_MAX) {
    wt_errf(errstr, errstr_size, "larger than %zu bytes",
            WT_SIGN_KEYS_FILE_MAX);
    return WT_ERR_INVALID;
  }
  nul = memchr(text, '\0', len);
  if (nul) {
    for (const char *c = text; c < nul; c++)
      lineno += *c == '\n';
    wt_errf(errstr, errstr_size, "line %zu: a NUL byte", lineno + 1);
    return WT_ERR_INVALID;
  }
  keys = calloc(1, sizeof(*keys));
  if (!keys) {
    wt_errf(errstr, errstr_size, "out of memory");
    return WT_ERR_NOMEM;
  }
  while (pos < len) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - text) : len, llen = end - pos;
    lineno++;
    if (llen > WT_SIGN_LINE_MAX) {
      wt_errf(errstr, errstr_size, "line %zu: longer than %d bytes", lineno,
              WT_SIGN_LINE_MAX);
      goto err;
    }
    if (llen > 0 && text[end - 1] == '\r')
      llen--;
    if (!parse_line(keys, text + pos, llen, lineno, errstr, errstr_size))
      goto err;
    pos = end + 1;
  }
  if (keys->n == 0) {
    wt_errf(errstr, errstr_size, "no producer listed");
    goto err;
  }
  for (size_t i = 0; i < keys->n; i++)
    if (!producer_key_ready(&keys->p[i])) {
      wt_errf(errstr, errstr_size, "OpenSSL has no HMAC-SHA256");
      wt_sign_keys_free(keys);
      return WT_ERR_NOMEM;
    }
  *out = keys;
  return WT_OK;
err:
  wt_sign_keys_free(keys);
  return WT_ERR_INVALID;
}

wt_err wt_sign_keys_load(const char *path, wt_sign_keys **out, char *errstr,
                         size_t errstr_size) {
  char *text = NULL, why[256] = "";
  size_t len = 0;
  wt_err err =
      file_read(path, WT_SIGN_KEYS_FILE_MAX, &text, &len, errstr, errstr_size);
  *out = NULL;
  if (err != WT_OK)
    return err;
  err = wt_sign_keys_parse(text, len, out, why, sizeof(why));
  buf_wipe_free(text, len);
  if (err != WT_OK)
    wt_errf(errstr, errstr_size, "%s: %s", path, why);
  return err;
}

void wt_sign_keys_free(wt_sign_keys *keys) {
  if (!keys)
    return;
  for (size_t i = 0; i < keys->n; i++)
    producer_clear(&keys->p[i]);
  OPENSSL_cleanse(keys, sizeof(*keys));
  free(keys);
}

size_t wt_sign_keys_count(const wt_sign_keys *keys) {
  return keys ? keys->n : 0;
}

/* --- checking ------------------------------------------------------------- */

static const producer *find_producer(const wt_sign_keys *keys, const char *id,
                                     size_t len) {
  for (size_t i = 0; i < keys->n; i++)
    if (strlen(keys->p[i].id) == len && memcmp(keys->p[i].id, id, len) == 0)
      return &keys->p[i];
  return NULL;
}

void wt_sign_verify(const wt_sign_keys *keys, const wt_sign_headers *h,
                    const void *msgkey, size_t keylen, const void *value,
                    size_t len, wt_signer *out) {
  unsigned char want[WT_SIGN_KEY_BYTES], got[WT_SIGN_KEY_BYTES];
  const char *sig = h->signature;
  const producer *p;
  memset(out, 0, sizeof(*out));
  if (!keys)
    return; /* WT_SIGN_UNCHECKED */
  if (h->producer_count == 0 && h->signature_count == 0) {
    out->status = WT_SIGN_UNSIGNED;
    return;
  }
  out->status = WT_SIGN_MALFORMED;
  if (h->producer_count != 1 || h->signature_count != 1 || !h->producer ||
      !sig || !wt_sign_id_valid(h->producer, h->producer_len) ||
      h->signature_len != SIG_PREFIX_LEN + KEY_HEX ||
      memcmp(sig, SIG_PREFIX, SIG_PREFIX_LEN) != 0 ||
      !hex_decode(sig + SIG_PREFIX_LEN, KEY_HEX, true, got))
    return;
  p = find_producer(keys, h->producer, h->producer_len);
  if (!p) {
    out->status = WT_SIGN_UNKNOWN_PRODUCER;
    return;
  }
  out->id = p->id;
  out->status = WT_SIGN_BAD_SIGNATURE;
  if (!mac_compute(p, msgkey, keylen, value, len, want) ||
      CRYPTO_memcmp(want, got, sizeof(want)) != 0)
    return;
  out->status = WT_SIGN_OK;
  out->scopes = p->scopes;
}

wt_sign_refusal wt_sign_permits(const wt_signer *s, bool system_actor,
                                char *message, size_t message_size) {
  unsigned need = system_actor ? WT_SCOPE_SYSTEM : WT_SCOPE_USERS;
  switch (s->status) {
  case WT_SIGN_UNCHECKED:
    if (!system_actor)
      return WT_SIGN_ALLOWED; /* the broker's ACLs are the trust */
    wt_errf(message, message_size,
            "system commands need a signed producer: set "
            "WT_PRODUCER_KEYS_FILE");
    return WT_SIGN_REFUSED_NO_KEYS;
  case WT_SIGN_OK:
    if (s->scopes & need)
      return WT_SIGN_ALLOWED;
    wt_errf(message, message_size, "producer %s may not issue %s commands",
            s->id ? s->id : "?", system_actor ? "system" : "user");
    return WT_SIGN_REFUSED_SCOPE;
  case WT_SIGN_UNSIGNED:
    wt_errf(message, message_size,
            "unsigned command: only commands signed by a trusted producer "
            "are accepted");
    return WT_SIGN_REFUSED_UNSIGNED;
  case WT_SIGN_UNKNOWN_PRODUCER:
    wt_errf(message, message_size, "command signed by an unknown producer");
    return WT_SIGN_REFUSED_UNKNOWN_PRODUCER;
  case WT_SIGN_BAD_SIGNATURE:
    wt_errf(message, message_size, "bad signature for producer %s",
            s->id ? s->id : "?");
    return WT_SIGN_REFUSED_BAD_SIGNATURE;
  case WT_SIGN_MALFORMED: break;
  }
  wt_errf(message, message_size,
          "malformed signature headers (" WT_SIGN_HEADER_PRODUCER
          ", " WT_SIGN_HEADER_SIGNATURE ")");
  return WT_SIGN_REFUSED_MALFORMED;
}

const char *wt_sign_refusal_name(wt_sign_refusal r) {
  switch (r) {
  case WT_SIGN_ALLOWED: return "allowed";
  case WT_SIGN_REFUSED_NO_KEYS: return "no_keys";
  case WT_SIGN_REFUSED_UNSIGNED: return "unsigned";
  case WT_SIGN_REFUSED_UNKNOWN_PRODUCER: return "unknown_producer";
  case WT_SIGN_REFUSED_BAD_SIGNATURE: return "bad_signature";
  case WT_SIGN_REFUSED_MALFORMED: return "malformed";
  case WT_SIGN_REFUSED_SCOPE: return "scope";
  case WT_SIGN_REFUSAL__COUNT: break;
  }
  return "unknown";
}
