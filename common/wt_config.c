#include "wt_config.h"

#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef enum var_kind {
  VAR_STRING,
  VAR_INT,
  VAR_BOOL,
  VAR_LOG_LEVEL,
} var_kind;

typedef int (*check_fn)(const char *value);

/* How much of a bad value an error may echo. */
typedef enum var_echo {
  ECHO_VALUE,  /* the value itself (cut at 80 bytes) */
  ECHO_URL,    /* a connection URL with its password masked */
  ECHO_LENGTH, /* a secret: only its length */
} var_echo;

typedef struct var_desc {
  const char *name;
  var_kind kind;
  size_t offset;
  size_t size; /* VAR_STRING: buffer size */
  const char *dflt;
  long min, max; /* VAR_INT */
  check_fn check;
  const char *accepts; /* what the variable accepts, for messages and help */
  unsigned programs;   /* WT_PROGRAM_* bits: who uses (and checks) it */
  var_echo echo;
} var_desc;

static int check_database_url(const char *v) {
  char *err = NULL;
  PQconninfoOption *opts = PQconninfoParse(v, &err);
  if (!opts) {
    PQfreemem(err);
    return -1;
  }
  PQconninfoFree(opts);
  return 0;
}

/* host:port[,host:port...] */
static int check_brokers(const char *v) {
  const char *p = v;
  if (!*p)
    return -1;
  while (*p) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    const char *colon = memrchr(p, ':', len);
    long port = 0;
    if (!colon || colon == p || (size_t)(colon - p) + 1 >= len)
      return -1;
    for (const char *c = colon + 1; c < p + len; c++) {
      if (!isdigit((unsigned char)*c))
        return -1;
      port = port * 10 + (*c - '0');
      if (port > 65535)
        return -1;
    }
    if (port < 1)
      return -1;
    for (const char *c = p; c < colon; c++)
      if (isspace((unsigned char)*c))
        return -1;
    if (!end)
      break;
    p = end + 1;
  }
  return 0;
}

static int check_topic_prefix(const char *v) {
  size_t n = strlen(v);
  if (n < 1 || n > 40)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)v[i]) && !strchr("._-", v[i]))
      return -1;
  return 0;
}

/* Kafka's own rule for group.instance.id is [A-Za-z0-9._-], 1..249; 64 is
 * ours (a host or pod name fits). Empty: not set. */
static int check_worker_id(const char *v) {
  size_t n = strlen(v);
  if (n > WT_CONFIG_WORKER_ID_MAX - 1)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)v[i]) && !strchr("._-", v[i]))
      return -1;
  return 0;
}

static int check_jwt_alg(const char *v) {
  return strcmp(v, "HS256") == 0 || strcmp(v, "RS256") == 0 ||
                 strcmp(v, "ES256") == 0
             ? 0
             : -1;
}

static int check_jwt_secret(const char *v) {
  return *v == '\0' || strlen(v) >= 32 ? 0 : -1;
}

static int check_nonempty(const char *v) {
  return *v ? 0 : -1;
}

static int check_kafka_protocol(const char *v) {
  return strcmp(v, "plaintext") == 0 || strcmp(v, "sasl_plaintext") == 0 ||
                 strcmp(v, "sasl_ssl") == 0 || strcmp(v, "ssl") == 0
             ? 0
             : -1;
}

static int check_sasl_mechanism(const char *v) {
  return strcmp(v, "SCRAM-SHA-512") == 0 || strcmp(v, "SCRAM-SHA-256") == 0 ||
                 strcmp(v, "PLAIN") == 0
             ? 0
             : -1;
}

/* no control characters, no spaces (a SASL user name, a file name) */
static int check_printable(const char *v) {
  for (const char *c = v; *c; c++)
    if (iscntrl((unsigned char)*c) || *c == ' ')
      return -1;
  return 0;
}

/* empty: the program's name */
static int check_producer_id(const char *v) {
  return check_worker_id(v);
}

#define STRX(field, name, dflt, check, accepts, programs, echo)                \
  {                                                                            \
    name, VAR_STRING, offsetof(wt_config, field),                              \
        sizeof(((wt_config *)0)->field), dflt, 0, 0, check, accepts, programs, \
        echo                                                                   \
  }
#define STR(field, name, dflt, check, accepts, programs)                       \
  STRX(field, name, dflt, check, accepts, programs, ECHO_VALUE)
#define INT(field, name, dflt, min, max, accepts, programs)                    \
  {                                                                            \
    name, VAR_INT, offsetof(wt_config, field), 0, dflt, min, max, NULL,        \
        accepts, programs, ECHO_VALUE                                          \
  }

/* Who uses what (grep cfg-> in worker/, ws-gateway/, tools/, ingest/). */
#define P_ADMIN WT_PROGRAM_ADMIN
#define P_WORKER WT_PROGRAM_WORKER
#define P_GATEWAY WT_PROGRAM_GATEWAY
#define P_DEVBROKER WT_PROGRAM_DEVBROKER
#define P_SERVICES (P_ADMIN | P_WORKER | P_GATEWAY)

static const var_desc vars[] = {
    STRX(database_url, "WT_DATABASE_URL",
         "postgresql://worktracker@127.0.0.1:5432/worktracker",
         check_database_url, "a libpq connection URI or conninfo string",
         P_SERVICES, ECHO_URL),
    STR(kafka_brokers, "WT_KAFKA_BROKERS", "127.0.0.1:9092", check_brokers,
        "a comma-separated list of host:port", P_SERVICES),
    STR(topic_prefix, "WT_TOPIC_PREFIX", "wt", check_topic_prefix,
        "1..40 of [A-Za-z0-9._-]", P_SERVICES | P_DEVBROKER),
    INT(kafka_partitions, "WT_KAFKA_PARTITIONS", "6", 1, 1024,
        "partitions of each topic created at start", P_SERVICES | P_DEVBROKER),
    STR(kafka_security_protocol, "WT_KAFKA_SECURITY_PROTOCOL", "plaintext",
        check_kafka_protocol, "plaintext, sasl_plaintext, sasl_ssl or ssl",
        P_SERVICES),
    STR(kafka_sasl_mechanism, "WT_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512",
        check_sasl_mechanism, "SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN",
        P_SERVICES),
    STR(kafka_user, "WT_KAFKA_USER", "", check_printable,
        "the SASL user (required with sasl_*)", P_SERVICES),
    STRX(kafka_password, "WT_KAFKA_PASSWORD", "", NULL,
         "the SASL password (or WT_KAFKA_PASSWORD_FILE; never printed)",
         P_SERVICES, ECHO_LENGTH),
    STR(kafka_password_file, "WT_KAFKA_PASSWORD_FILE", "", NULL,
        "file holding the SASL password (one line)", P_SERVICES),
    STR(kafka_ca_file, "WT_KAFKA_CA_FILE", "", NULL,
        "PEM CA file verifying the brokers with ssl/sasl_ssl (unset: the "
        "system's CAs)",
        P_SERVICES),
    STR(producer_id, "WT_PRODUCER_ID", "", check_producer_id,
        "1..64 of [A-Za-z0-9._-]: the id commands are signed as (unset: the "
        "program's name)",
        P_ADMIN | P_GATEWAY),
    STR(producer_key_file, "WT_PRODUCER_KEY_FILE", "", NULL,
        "file with this producer's 64-hex-digit key (unset: commands go "
        "unsigned)",
        P_ADMIN | P_GATEWAY),
    STR(producer_keys_file, "WT_PRODUCER_KEYS_FILE", "", NULL,
        "file of the producers the worker trusts, lines \"ID SCOPES HEXKEY\" "
        "(unset: user commands only)",
        P_WORKER),
    INT(http_port, "WT_HTTP_PORT", "8080", 1, 65535,
        "the gateway's HTTP and WebSocket port", P_GATEWAY),
    INT(metrics_port, "WT_METRICS_PORT", "9101", 0, 65535,
        "the worker's /metrics port (0: off)", P_WORKER),
    {"WT_LOG_LEVEL", VAR_LOG_LEVEL, offsetof(wt_config, log_level), 0, "info",
     0, 0, NULL, "debug, info, warn or error", P_SERVICES | P_DEVBROKER,
     ECHO_VALUE},
    {"WT_LOG_SQL", VAR_BOOL, offsetof(wt_config, log_sql), 0, "0", 0, 0, NULL,
     "1 to log every SQL statement (0/1, true/false, yes/no, on/off)",
     P_SERVICES, ECHO_VALUE},
    STR(jwt_alg, "WT_JWT_ALG", "HS256", check_jwt_alg, "HS256, RS256 or ES256",
        P_GATEWAY),
    STRX(jwt_secret, "WT_JWT_SECRET", "", check_jwt_secret,
         "the HS256 key, at least 32 bytes", P_GATEWAY, ECHO_LENGTH),
    STR(jwt_public_key_file, "WT_JWT_PUBLIC_KEY_FILE", "", NULL,
        "SPKI PEM file verifying RS256/ES256 tokens", P_GATEWAY),
    STR(jwt_private_key_file, "WT_JWT_PRIVATE_KEY_FILE", "", NULL,
        "PEM file signing RS256/ES256 tokens at login (optional)", P_GATEWAY),
    STR(jwt_issuer, "WT_JWT_ISSUER", "worktracker", check_nonempty,
        "the iss claim issued and required", P_GATEWAY),
    STR(jwt_audience, "WT_JWT_AUDIENCE", "worktracker", check_nonempty,
        "the aud claim issued and required", P_GATEWAY),
    INT(jwt_ttl_s, "WT_JWT_TTL", "900", 30, 86400,
        "access token lifetime in seconds", P_GATEWAY),
    INT(jwt_refresh_ttl_s, "WT_JWT_REFRESH_TTL", "604800", 60, 7776000,
        "refresh token lifetime in seconds", P_GATEWAY),
    INT(batch_max, "WT_BATCH_MAX", "1000", 1, 100000,
        "commands per worker batch at most", P_WORKER),
    INT(batch_wait_ms, "WT_BATCH_WAIT_MS", "5", 0, 10000,
        "milliseconds a worker waits to fill a batch", P_WORKER),
    INT(max_log_seconds, "WT_MAX_LOG_SECONDS", "86400", 60, 31622400,
        "the longest work log in seconds", P_WORKER),
    INT(cache_projects, "WT_CACHE_PROJECTS", "100000", 16, 100000000,
        "projects kept in the worker's membership cache", P_WORKER | P_GATEWAY),
    INT(cache_logs, "WT_CACHE_LOGS", "1000000", 16, 100000000,
        "work logs kept in the worker's log cache", P_WORKER),
    INT(cache_users, "WT_CACHE_USERS", "1000000", 16, 100000000,
        "users kept in the user caches", P_WORKER | P_GATEWAY),
    STR(worker_id, "WT_WORKER_ID", "", check_worker_id,
        "1..64 of [A-Za-z0-9._-], stable and unique per worker: static "
        "group membership (unset: dynamic)",
        P_WORKER),
    /* Kafka brokers accept group.min.session.timeout.ms (6000) ..
     * group.max.session.timeout.ms (1800000) by default */
    INT(worker_session_timeout_ms, "WT_WORKER_SESSION_TIMEOUT_MS", "6000", 6000,
        1800000,
        "milliseconds before a silent worker's partitions move to others",
        P_WORKER),
    INT(command_timeout_ms, "WT_COMMAND_TIMEOUT_MS", "5000", 100, 600000,
        "milliseconds the gateway waits for a command's outcome", P_GATEWAY),
    INT(max_connections, "WT_MAX_CONNECTIONS", "20000", 1, 1000000,
        "WebSocket connections at most; more get 503", P_GATEWAY),
    INT(max_frame_bytes, "WT_MAX_FRAME_BYTES", "65536", 1024, 16777216,
        "the largest WebSocket message in bytes", P_GATEWAY),
    INT(max_subscriptions, "WT_MAX_SUBSCRIPTIONS", "100", 1, 100000,
        "subscriptions per connection at most", P_GATEWAY),
    INT(max_inflight, "WT_MAX_INFLIGHT", "64", 1, 100000,
        "requests in flight per connection at most", P_GATEWAY),
    INT(send_queue_bytes, "WT_SEND_QUEUE_BYTES", "1048576", 4096, 1073741824,
        "bytes queued to a slow client before it is closed with 4008",
        P_GATEWAY),
    INT(auth_timeout_ms, "WT_AUTH_TIMEOUT_MS", "10000", 100, 600000,
        "milliseconds a connection has to authenticate", P_GATEWAY),
    INT(idle_timeout_s, "WT_IDLE_TIMEOUT_S", "60", 5, 86400,
        "seconds without a pong before a connection is closed", P_GATEWAY),
    STR(tls_cert_file, "WT_TLS_CERT_FILE", "", NULL,
        "PEM certificate (chain) file: wss:// and https:// on WT_HTTP_PORT, "
        "with WT_TLS_KEY_FILE (unset: plain ws:// and http://)",
        P_GATEWAY),
    STR(tls_key_file, "WT_TLS_KEY_FILE", "", NULL,
        "unencrypted PEM private key file of WT_TLS_CERT_FILE", P_GATEWAY),
};

#define NVARS (sizeof(vars) / sizeof(vars[0]))

static int parse_bool(const char *v, bool *out) {
  static const char *const yes[] = {"1", "true", "yes", "on"};
  static const char *const no[] = {"0", "false", "no", "off"};
  for (size_t i = 0; i < 4; i++) {
    if (strcasecmp(v, yes[i]) == 0) {
      *out = true;
      return 0;
    }
    if (strcasecmp(v, no[i]) == 0) {
      *out = false;
      return 0;
    }
  }
  return -1;
}

static int parse_int(const char *v, long min, long max, int *out) {
  char *end = NULL;
  long n;
  if (!*v || isspace((unsigned char)*v))
    return -1;
  errno = 0;
  n = strtol(v, &end, 10);
  if (errno || *end || n < min || n > max)
    return -1;
  *out = (int)n;
  return 0;
}

/* What an error may say of a bad value: never a secret or a password. */
static void echo_value(const var_desc *d, const char *value, char *out,
                       size_t out_size) {
  switch (d->echo) {
  case ECHO_LENGTH:
    snprintf(out, out_size, "a value of %zu bytes", strlen(value));
    return;
  case ECHO_URL: {
    char masked[WT_CONFIG_URL_MAX + 16];
    wt_config_mask_url(value, masked, sizeof(masked));
    snprintf(out, out_size, "\"%.80s\"", masked);
    return;
  }
  case ECHO_VALUE: break;
  }
  snprintf(out, out_size, "\"%.80s\"", value);
}

static wt_err set_var(wt_config *cfg, const var_desc *d, const char *value,
                      char *errstr, size_t errstr_size) {
  char *field = (char *)cfg + d->offset;
  char got[128];
  switch (d->kind) {
  case VAR_STRING:
    if (strlen(value) >= d->size) {
      wt_errf(errstr, errstr_size, "%s: longer than %zu bytes (%s)", d->name,
              d->size - 1, d->accepts);
      return WT_ERR_CONFIG;
    }
    if (d->check && d->check(value) != 0) {
      echo_value(d, value, got, sizeof(got));
      wt_errf(errstr, errstr_size, "%s: expected %s, got %s", d->name,
              d->accepts, got);
      return WT_ERR_CONFIG;
    }
    memcpy(field, value, strlen(value) + 1);
    return WT_OK;
  case VAR_INT:
    if (parse_int(value, d->min, d->max, (int *)(void *)field) != 0) {
      wt_errf(errstr, errstr_size,
              "%s: expected an integer in %ld..%ld (%s), got \"%.80s\"",
              d->name, d->min, d->max, d->accepts, value);
      return WT_ERR_CONFIG;
    }
    return WT_OK;
  case VAR_BOOL:
    if (parse_bool(value, (bool *)(void *)field) != 0) {
      wt_errf(errstr, errstr_size,
              "%s: expected 0/1, true/false, yes/no or on/off, got \"%.80s\"",
              d->name, value);
      return WT_ERR_CONFIG;
    }
    return WT_OK;
  case VAR_LOG_LEVEL:
    if (wt_log_level_parse(value, (wt_log_level *)(void *)field) != 0) {
      wt_errf(errstr, errstr_size, "%s: expected %s, got \"%.80s\"", d->name,
              d->accepts, value);
      return WT_ERR_CONFIG;
    }
    return WT_OK;
  }
  return WT_ERR_INVALID;
}

/* An encrypted key is refused, never prompted for on a terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u) {
  (void)buf;
  (void)size;
  (void)rwflag;
  (void)u;
  return -1;
}

static FILE *open_readable(const char *var, const char *path, char *errstr,
                           size_t errstr_size) {
  FILE *f = fopen(path, "r");
  if (!f)
    wt_errf(errstr, errstr_size, "%s: cannot read %s: %s", var, path,
            strerror(errno));
  return f;
}

/* WT_TLS_CERT_FILE and WT_TLS_KEY_FILE: both or neither; readable now, a
 * PEM certificate and the unencrypted PEM key that matches it, so that a
 * bad file stops `wt-admin config check` rather than the gateway's listen.
 * Errors name the files, never what is in them. */
static wt_err check_tls_files(const wt_config *cfg, char *errstr,
                              size_t errstr_size) {
  FILE *f = NULL;
  X509 *cert = NULL;
  EVP_PKEY *key = NULL;
  wt_err err = WT_ERR_CONFIG;
  if (!cfg->tls_cert_file[0] && !cfg->tls_key_file[0])
    return WT_OK;
  if (!cfg->tls_cert_file[0] || !cfg->tls_key_file[0]) {
    wt_errf(errstr, errstr_size,
            "%s: required with %s (TLS takes both files or neither)",
            cfg->tls_cert_file[0] ? "WT_TLS_KEY_FILE" : "WT_TLS_CERT_FILE",
            cfg->tls_cert_file[0] ? "WT_TLS_CERT_FILE" : "WT_TLS_KEY_FILE");
    return WT_ERR_CONFIG;
  }
  f = open_readable("WT_TLS_CERT_FILE", cfg->tls_cert_file, errstr,
                    errstr_size);
  if (!f)
    goto out;
  cert = PEM_read_X509(f, NULL, no_passphrase, NULL);
  fclose(f);
  if (!cert) {
    wt_errf(errstr, errstr_size,
            "WT_TLS_CERT_FILE: %s holds no PEM certificate",
            cfg->tls_cert_file);
    goto out;
  }
  f = open_readable("WT_TLS_KEY_FILE", cfg->tls_key_file, errstr, errstr_size);
  if (!f)
    goto out;
  key = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
  fclose(f);
  if (!key) {
    wt_errf(errstr, errstr_size,
            "WT_TLS_KEY_FILE: %s holds no unencrypted PEM private key",
            cfg->tls_key_file);
    goto out;
  }
  if (X509_check_private_key(cert, key) != 1) {
    wt_errf(errstr, errstr_size,
            "WT_TLS_KEY_FILE: %s is not the key of the certificate in %s",
            cfg->tls_key_file, cfg->tls_cert_file);
    goto out;
  }
  err = WT_OK;
out:
  ERR_clear_error(); /* nothing of OpenSSL's queue for a later caller */
  X509_free(cert);
  EVP_PKEY_free(key);
  return err;
}

#define PASSWORD_FILE_MAX (WT_CONFIG_SECRET_MAX - 1)

/* WT_KAFKA_PASSWORD_FILE into cfg->kafka_password: one line of at most
 * PASSWORD_FILE_MAX bytes, its newline cut. Errors name the file, never
 * what is in it. */
static wt_err read_password_file(wt_config *cfg, char *errstr,
                                 size_t errstr_size) {
  static const char var[] = "WT_KAFKA_PASSWORD_FILE";
  char buf[PASSWORD_FILE_MAX + 2];
  FILE *f = open_readable(var, cfg->kafka_password_file, errstr, errstr_size);
  size_t n;
  wt_err err = WT_ERR_CONFIG;
  if (!f)
    return WT_ERR_CONFIG;
  n = fread(buf, 1, sizeof(buf), f);
  if (ferror(f)) {
    wt_errf(errstr, errstr_size, "%s: cannot read %s", var,
            cfg->kafka_password_file);
    goto out;
  }
  if (n > 0 && buf[n - 1] == '\n')
    n--;
  if (n > 0 && buf[n - 1] == '\r')
    n--;
  if (n > PASSWORD_FILE_MAX) {
    wt_errf(errstr, errstr_size, "%s: %s is larger than %d bytes", var,
            cfg->kafka_password_file, PASSWORD_FILE_MAX);
    goto out;
  }
  if (n == 0) {
    wt_errf(errstr, errstr_size, "%s: %s is empty", var,
            cfg->kafka_password_file);
    goto out;
  }
  if (memchr(buf, '\n', n) || memchr(buf, '\0', n)) {
    wt_errf(errstr, errstr_size,
            "%s: %s must hold the password on one line (no NUL)", var,
            cfg->kafka_password_file);
    goto out;
  }
  memcpy(cfg->kafka_password, buf, n);
  cfg->kafka_password[n] = '\0';
  err = WT_OK;
out:
  explicit_bzero(buf, sizeof(buf));
  fclose(f);
  return err;
}

static wt_err check_readable(const char *var, const char *path, char *errstr,
                             size_t errstr_size) {
  FILE *f;
  if (!path[0])
    return WT_OK;
  f = open_readable(var, path, errstr, errstr_size);
  if (!f)
    return WT_ERR_CONFIG;
  fclose(f);
  return WT_OK;
}

/* The Kafka login (docs/security.md): a sasl_* protocol needs a user and
 * exactly one of the password and its file; ssl a readable CA file when one
 * is named. Fills kafka_password from the file. */
static wt_err check_kafka_login(wt_config *cfg, char *errstr,
                                size_t errstr_size) {
  const char *proto = cfg->kafka_security_protocol;
  bool sasl = strncmp(proto, "sasl_", 5) == 0;
  bool tls = strcmp(proto, "ssl") == 0 || strcmp(proto, "sasl_ssl") == 0;
  if (!sasl) {
    /* nothing to log in with: never keep a password around */
    explicit_bzero(cfg->kafka_password, sizeof(cfg->kafka_password));
  } else if (!cfg->kafka_user[0]) {
    wt_errf(errstr, errstr_size,
            "WT_KAFKA_USER: required when WT_KAFKA_SECURITY_PROTOCOL is %s",
            proto);
    return WT_ERR_CONFIG;
  } else if (cfg->kafka_password[0] && cfg->kafka_password_file[0]) {
    wt_errf(errstr, errstr_size,
            "WT_KAFKA_PASSWORD_FILE: set either WT_KAFKA_PASSWORD or "
            "WT_KAFKA_PASSWORD_FILE, not both");
    return WT_ERR_CONFIG;
  } else if (!cfg->kafka_password[0] && !cfg->kafka_password_file[0]) {
    wt_errf(errstr, errstr_size,
            "WT_KAFKA_PASSWORD: required (or WT_KAFKA_PASSWORD_FILE) when "
            "WT_KAFKA_SECURITY_PROTOCOL is %s",
            proto);
    return WT_ERR_CONFIG;
  } else if (cfg->kafka_password_file[0] &&
             read_password_file(cfg, errstr, errstr_size) != WT_OK) {
    return WT_ERR_CONFIG;
  }
  if (tls && check_readable("WT_KAFKA_CA_FILE", cfg->kafka_ca_file, errstr,
                            errstr_size) != WT_OK)
    return WT_ERR_CONFIG;
  return WT_OK;
}

/* Rules that span variables. */
static wt_err check_cross(const wt_config *cfg, unsigned programs, char *errstr,
                          size_t errstr_size) {
  if ((programs & P_GATEWAY) && strcmp(cfg->jwt_alg, "HS256") != 0 &&
      !cfg->jwt_public_key_file[0]) {
    wt_errf(errstr, errstr_size,
            "WT_JWT_PUBLIC_KEY_FILE: required when WT_JWT_ALG is %s (an SPKI "
            "PEM file)",
            cfg->jwt_alg);
    return WT_ERR_CONFIG;
  }
  if ((programs & P_GATEWAY) &&
      check_tls_files(cfg, errstr, errstr_size) != WT_OK)
    return WT_ERR_CONFIG;
  /* both listen on one host when both run (make run) */
  if ((programs & P_WORKER) && (programs & P_GATEWAY) &&
      cfg->metrics_port != 0 && cfg->metrics_port == cfg->http_port) {
    wt_errf(errstr, errstr_size,
            "WT_METRICS_PORT: must differ from WT_HTTP_PORT (%d)",
            cfg->http_port);
    return WT_ERR_CONFIG;
  }
  return WT_OK;
}

wt_err wt_config_load_for(wt_config *cfg, unsigned programs,
                          wt_config_lookup_fn lookup, void *ctx, char *errstr,
                          size_t errstr_size) {
  memset(cfg, 0, sizeof(*cfg));
  for (size_t i = 0; i < NVARS; i++) {
    /* a variable no selected program uses keeps its default, unread */
    const char *value = lookup && (vars[i].programs & programs)
                            ? lookup(ctx, vars[i].name)
                            : NULL;
    wt_err err;
    /* Defaults are checked like user values: a bad default is a bug. */
    err = set_var(cfg, &vars[i], vars[i].dflt, errstr, errstr_size);
    if (err != WT_OK)
      return err;
    if (value) {
      err = set_var(cfg, &vars[i], value, errstr, errstr_size);
      if (err != WT_OK)
        return err;
    }
  }
  if ((programs & P_SERVICES) &&
      check_kafka_login(cfg, errstr, errstr_size) != WT_OK)
    return WT_ERR_CONFIG;
  if ((programs & (P_ADMIN | P_GATEWAY)) &&
      check_readable("WT_PRODUCER_KEY_FILE", cfg->producer_key_file, errstr,
                     errstr_size) != WT_OK)
    return WT_ERR_CONFIG;
  if ((programs & P_WORKER) &&
      check_readable("WT_PRODUCER_KEYS_FILE", cfg->producer_keys_file, errstr,
                     errstr_size) != WT_OK)
    return WT_ERR_CONFIG;
  if (!cfg->producer_id[0] && wt_config_program_name(programs))
    snprintf(cfg->producer_id, sizeof(cfg->producer_id), "%s",
             wt_config_program_name(programs));
  return check_cross(cfg, programs, errstr, errstr_size);
}

wt_err wt_config_load(wt_config *cfg, wt_config_lookup_fn lookup, void *ctx,
                      char *errstr, size_t errstr_size) {
  return wt_config_load_for(cfg, WT_PROGRAM_ALL, lookup, ctx, errstr,
                            errstr_size);
}

unsigned wt_config_program(const char *name) {
  static const struct {
    const char *name;
    unsigned bit;
  } progs[] = {{"wt-admin", WT_PROGRAM_ADMIN},
               {"wt-worker", WT_PROGRAM_WORKER},
               {"wt-gateway", WT_PROGRAM_GATEWAY},
               {"wt-devbroker", WT_PROGRAM_DEVBROKER}};
  for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
    if (strcmp(name, progs[i].name) == 0)
      return progs[i].bit;
  return 0;
}

const char *wt_config_program_name(unsigned programs) {
  if (programs & WT_PROGRAM_ADMIN)
    return "wt-admin";
  if (programs & WT_PROGRAM_WORKER)
    return "wt-worker";
  if (programs & WT_PROGRAM_GATEWAY)
    return "wt-gateway";
  if (programs & WT_PROGRAM_DEVBROKER)
    return "wt-devbroker";
  return NULL;
}

bool wt_config_is_secret(const char *name) {
  for (size_t i = 0; i < NVARS; i++)
    if (strcmp(vars[i].name, name) == 0)
      return vars[i].echo != ECHO_VALUE;
  return false;
}

/* postgresql://user:PASSWORD@host/db, ...?password=PASSWORD&..., and the
 * conninfo form password=PASSWORD or password='PASS WORD'. */
void wt_config_mask_url(const char *url, char *out, size_t out_size) {
  static const char mask[] = "***";
  size_t n = 0;
  const char *p = url;
  const char *scheme = strstr(url, "://");
  if (out_size == 0)
    return;
#define PUT(c)                                                                 \
  do {                                                                         \
    if (n + 1 < out_size)                                                      \
      out[n++] = (c);                                                          \
  } while (0)
  if (scheme) {
    /* the authority ends at the first '/', '?' or '#'; its last '@' ends
     * the user info, whose first ':' starts the password */
    const char *auth = scheme + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *at = memrchr(auth, '@', alen);
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (colon) {
      while (p <= colon)
        PUT(*p++);
      for (const char *m = mask; *m; m++)
        PUT(*m);
      p = at;
    }
  }
  while (*p) {
    /* password= at the start of a conninfo keyword or a URI parameter */
    if (strncasecmp(p, "password", 8) == 0 &&
        (p == url || strchr(" \t?&", p[-1]))) {
      const char *q = p + 8;
      while (*q == ' ' || *q == '\t')
        q++;
      if (*q == '=') {
        q++;
        while (*q == ' ' || *q == '\t')
          q++;
        while (p < q)
          PUT(*p++);
        for (const char *m = mask; *m; m++)
          PUT(*m);
        if (*q == '\'') { /* conninfo quoting, with \' and \\ escapes */
          q++;
          while (*q && *q != '\'') {
            if (*q == '\\' && q[1])
              q++;
            q++;
          }
          if (*q)
            q++;
        } else {
          q += strcspn(q, " \t&#");
        }
        p = q;
        continue;
      }
    }
    PUT(*p++);
  }
#undef PUT
  out[n] = '\0';
}

/* --- .env files ------------------------------------------------------- */

static int valid_name(const char *s, size_t n) {
  if (n == 0 || n > 128 || isdigit((unsigned char)s[0]))
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '_')
      return 0;
  return 1;
}

/* Parses the value at p (up to the end of the line) into a new string.
 * shell: an unquoted value is one shell word, backslash escapes included,
 * as bash's printf %q writes it (stack.env). */
static char *parse_value(const char *p, const char *eol, int lineno, bool shell,
                         char *errstr, size_t errstr_size) {
  char *out = malloc((size_t)(eol - p) + 1);
  size_t n = 0;
  if (!out)
    return NULL;
  while (p < eol && (*p == ' ' || *p == '\t'))
    p++;
  if (p < eol && (*p == '\'' || *p == '"')) {
    char q = *p++;
    while (p < eol && *p != q) {
      if (q == '"' && *p == '\\' && p + 1 < eol) {
        p++;
        out[n++] = *p == 'n' ? '\n' : *p;
      } else {
        out[n++] = *p;
      }
      p++;
    }
    if (p >= eol) {
      wt_errf(errstr, errstr_size, ".env line %d: unterminated quote", lineno);
      free(out);
      return NULL;
    }
    p++;
    while (p < eol && (*p == ' ' || *p == '\t'))
      p++;
    if (p < eol && *p != '#') {
      wt_errf(errstr, errstr_size, ".env line %d: text after closing quote",
              lineno);
      free(out);
      return NULL;
    }
  } else if (shell) {
    while (p < eol && !strchr(" \t\r", *p)) {
      if (*p == '\\' && p + 1 < eol)
        p++;
      out[n++] = *p++;
    }
    while (p < eol && (*p == ' ' || *p == '\t' || *p == '\r'))
      p++;
    if (p < eol && *p != '#') {
      wt_errf(errstr, errstr_size, ".env line %d: text after the value",
              lineno);
      free(out);
      return NULL;
    }
  } else {
    const char *end = eol;
    const char *hash = memchr(p, '#', (size_t)(eol - p));
    /* " #" starts a comment in an unquoted value */
    if (hash && hash > p && (hash[-1] == ' ' || hash[-1] == '\t'))
      end = hash;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
      end--;
    memcpy(out, p, (size_t)(end - p));
    n = (size_t)(end - p);
  }
  out[n] = '\0';
  return out;
}

static wt_err dotenv_parse(const char *text, bool shell, wt_dotenv *out,
                           char *errstr, size_t errstr_size) {
  const char *p = text;
  int lineno = 0;
  memset(out, 0, sizeof(*out));
  if (strlen(text) > WT_DOTENV_MAX_BYTES) {
    wt_errf(errstr, errstr_size, ".env: larger than %zu bytes",
            WT_DOTENV_MAX_BYTES);
    return WT_ERR_INVALID;
  }
  while (*p) {
    const char *eol = strchr(p, '\n');
    const char *next;
    const char *eq, *name_end;
    char *value;
    if (!eol)
      eol = p + strlen(p);
    next = *eol ? eol + 1 : eol;
    lineno++;
    while (p < eol && (*p == ' ' || *p == '\t'))
      p++;
    if (p == eol || *p == '#' || (*p == '\r' && p + 1 == eol)) {
      p = next;
      continue;
    }
    if ((size_t)(eol - p) > 7 && strncmp(p, "export ", 7) == 0)
      p += 7;
    eq = memchr(p, '=', (size_t)(eol - p));
    name_end = eq;
    while (name_end && name_end > p &&
           (name_end[-1] == ' ' || name_end[-1] == '\t'))
      name_end--;
    if (!eq || !valid_name(p, (size_t)(name_end - p))) {
      wt_errf(errstr, errstr_size, ".env line %d: expected NAME=value", lineno);
      goto fail;
    }
    if (out->count == WT_DOTENV_MAX_ENTRIES) {
      wt_errf(errstr, errstr_size, ".env: more than %d entries",
              WT_DOTENV_MAX_ENTRIES);
      goto fail;
    }
    value = parse_value(eq + 1, eol, lineno, shell, errstr, errstr_size);
    if (!value)
      goto fail;
    out->names[out->count] = strndup(p, (size_t)(name_end - p));
    out->values[out->count] = value;
    if (!out->names[out->count]) {
      free(value);
      goto fail;
    }
    out->count++;
    p = next;
  }
  return WT_OK;
fail:
  wt_dotenv_free(out);
  return WT_ERR_INVALID;
}

wt_err wt_dotenv_parse(const char *text, wt_dotenv *out, char *errstr,
                       size_t errstr_size) {
  return dotenv_parse(text, false, out, errstr, errstr_size);
}

wt_err wt_stackenv_parse(const char *text, wt_dotenv *out, char *errstr,
                         size_t errstr_size) {
  return dotenv_parse(text, true, out, errstr, errstr_size);
}

const char *wt_dotenv_get(const wt_dotenv *env, const char *name) {
  /* the last definition wins, as in a shell */
  for (size_t i = env->count; i > 0; i--)
    if (strcmp(env->names[i - 1], name) == 0)
      return env->values[i - 1];
  return NULL;
}

void wt_dotenv_free(wt_dotenv *env) {
  for (size_t i = 0; i < env->count; i++) {
    free(env->names[i]);
    free(env->values[i]);
  }
  memset(env, 0, sizeof(*env));
}

/* The environment, then .env, then (the services only) stack.env. */
typedef struct process_sources {
  wt_dotenv dotenv;
  wt_dotenv stack;
  const char *stack_path; /* NULL: no stack.env */
  char *used_from_stack;  /* names taken from stack.env, for the log */
  size_t used_size;
  /* the program whose identity stack.env's secrets give ("wt-admin"...) */
  const char *program;
  char identity[WT_CONFIG_URL_MAX]; /* the value last made up of them */
} process_sources;

static const char *env_or_dotenv(const process_sources *src, const char *name) {
  const char *v = getenv(name);
  return v ? v : wt_dotenv_get(&src->dotenv, name);
}

/* What stack.env gives besides the service addresses: with its brokers,
 * their login (the stack's protocol and mechanism, the program's user,
 * password file and producer keys from $WT_STACK_SECRETS_DIR). NULL: not
 * given. */
static const char *stack_kafka_value(process_sources *src, const char *name) {
  const char *proto = wt_dotenv_get(&src->stack, "WT_KAFKA_SECURITY_PROTOCOL");
  const char *secrets = wt_dotenv_get(&src->stack, "WT_STACK_SECRETS_DIR");
  bool sasl = proto && strncmp(proto, "sasl_", 5) == 0;
  char *out = src->identity;
  size_t size = sizeof(src->identity);
  if (env_or_dotenv(src, "WT_KAFKA_BROKERS") ||
      !wt_dotenv_get(&src->stack, "WT_KAFKA_BROKERS"))
    return NULL; /* brokers of the user's own: so is their login */
  if (strcmp(name, "WT_KAFKA_SECURITY_PROTOCOL") == 0 ||
      strcmp(name, "WT_KAFKA_SASL_MECHANISM") == 0)
    return wt_dotenv_get(&src->stack, name);
  if (!secrets || !secrets[0] || !src->program)
    return NULL;
  if (strcmp(name, "WT_KAFKA_USER") == 0)
    return sasl ? src->program : NULL;
  if (strcmp(name, "WT_KAFKA_PASSWORD_FILE") == 0) {
    if (!sasl || env_or_dotenv(src, "WT_KAFKA_PASSWORD"))
      return NULL;
    snprintf(out, size, "%s/kafka-%s.password", secrets, src->program);
    return out;
  }
  if (strcmp(name, "WT_PRODUCER_KEY_FILE") == 0)
    snprintf(out, size, "%s/producer-%s.key", secrets, src->program);
  else if (strcmp(name, "WT_PRODUCER_KEYS_FILE") == 0)
    snprintf(out, size, "%s/producer-keys", secrets);
  else
    return NULL;
  return access(out, F_OK) == 0 ? out : NULL;
}

static const char *process_lookup(void *ctx, const char *name) {
  process_sources *src = ctx;
  const char *v = env_or_dotenv(src, name);
  if (v || !src->stack_path)
    return v;
  if (strcmp(name, "WT_DATABASE_URL") == 0 ||
      strcmp(name, "WT_KAFKA_BROKERS") == 0)
    v = wt_dotenv_get(&src->stack, name);
  else
    v = stack_kafka_value(src, name);
  if (v && src->used_from_stack) {
    size_t len = strlen(src->used_from_stack);
    snprintf(src->used_from_stack + len, src->used_size - len, "%s%s",
             len ? " " : "", name);
  }
  return v;
}

static char *read_small_file(const char *path, char *errstr,
                             size_t errstr_size) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t n;
  if (!f) {
    wt_errf(errstr, errstr_size, "%s: %s", path, strerror(errno));
    return NULL;
  }
  buf = malloc(WT_DOTENV_MAX_BYTES + 2);
  if (!buf)
    goto out;
  n = fread(buf, 1, WT_DOTENV_MAX_BYTES + 1, f);
  if (n > WT_DOTENV_MAX_BYTES) {
    wt_errf(errstr, errstr_size, "%s: larger than %zu bytes", path,
            WT_DOTENV_MAX_BYTES);
    free(buf);
    buf = NULL;
    goto out;
  }
  buf[n] = '\0';
out:
  fclose(f);
  return buf;
}

/* Reads and parses path into env; errors name what (the variable). */
static wt_err read_env_file(const char *what, const char *path, bool shell,
                            wt_dotenv *env, char *errstr, size_t errstr_size) {
  char sub[256] = "";
  char *text = read_small_file(path, sub, sizeof(sub));
  wt_err err;
  if (!text) {
    wt_errf(errstr, errstr_size, "%s: %s", what, sub);
    return WT_ERR_CONFIG;
  }
  err = dotenv_parse(text, shell, env, sub, sizeof(sub));
  free(text);
  if (err != WT_OK) {
    wt_errf(errstr, errstr_size, "%s %s: %s", what, path, sub);
    return WT_ERR_CONFIG;
  }
  return WT_OK;
}

wt_err wt_config_from_process_for(wt_config *cfg, unsigned programs,
                                  char *stack_used, size_t stack_used_size,
                                  char *errstr, size_t errstr_size) {
  process_sources src = {.used_from_stack = stack_used,
                         .used_size = stack_used_size,
                         .program = wt_config_program_name(
                             programs & (P_ADMIN | P_WORKER | P_GATEWAY))};
  const char *path = getenv("WT_ENV_FILE");
  char stack_path[WT_CONFIG_URL_MAX] = "";
  const char *v;
  wt_err err;

  if (stack_used && stack_used_size)
    stack_used[0] = '\0';
  if (!path && access(".env", R_OK) == 0)
    path = ".env";
  if (path) {
    err = read_env_file("WT_ENV_FILE", path, false, &src.dotenv, errstr,
                        errstr_size);
    if (err != WT_OK)
      return err;
  }
  /* make run's stack.env: named by WT_STACK_ENV (empty: none), else
   * $WT_VAR_DIR/stack.env, else var/stack.env; only a named one must
   * exist. Needed only when a service address is not set. */
  if ((programs & P_SERVICES) && (!env_or_dotenv(&src, "WT_DATABASE_URL") ||
                                  !env_or_dotenv(&src, "WT_KAFKA_BROKERS"))) {
    bool named = false;
    if ((v = env_or_dotenv(&src, "WT_STACK_ENV"))) {
      snprintf(stack_path, sizeof(stack_path), "%s", v);
      named = true;
    } else if ((v = env_or_dotenv(&src, "WT_VAR_DIR")) && *v) {
      snprintf(stack_path, sizeof(stack_path), "%s/stack.env", v);
    } else {
      snprintf(stack_path, sizeof(stack_path), "var/stack.env");
    }
    if (stack_path[0] && (named || access(stack_path, F_OK) == 0)) {
      err = read_env_file("WT_STACK_ENV", stack_path, true, &src.stack, errstr,
                          errstr_size);
      if (err != WT_OK)
        goto out;
      src.stack_path = stack_path;
    }
  }
  err = wt_config_load_for(cfg, programs, process_lookup, &src, errstr,
                           errstr_size);
  if (err == WT_OK && stack_used && stack_used[0]) {
    size_t len = strlen(stack_used);
    snprintf(stack_used + len, stack_used_size - len, " from %s", stack_path);
  }
out:
  wt_dotenv_free(&src.dotenv);
  wt_dotenv_free(&src.stack);
  return err;
}

wt_err wt_config_from_process(wt_config *cfg, char *errstr,
                              size_t errstr_size) {
  return wt_config_from_process_for(cfg, WT_PROGRAM_ALL, NULL, 0, errstr,
                                    errstr_size);
}

static void describe_accepts(const var_desc *d, char *out, size_t size) {
  if (d->kind == VAR_INT)
    snprintf(out, size, "%ld..%ld: %s", d->min, d->max, d->accepts);
  else
    snprintf(out, size, "%s", d->accepts);
}

void wt_config_describe(FILE *out) {
  fprintf(out, "Environment (also read from .env or $WT_ENV_FILE; "
               "WT_DATABASE_URL and WT_KAFKA_BROKERS\n"
               "(with its login) also from make run's var/stack.env, see "
               "docs/configuration.md):\n");
  for (size_t i = 0; i < NVARS; i++) {
    char accepts[256];
    describe_accepts(&vars[i], accepts, sizeof(accepts));
    fprintf(out, "  %-24s %s (default: %s)\n", vars[i].name, accepts,
            *vars[i].dflt ? vars[i].dflt : "none");
  }
}

bool wt_config_start(const char *program, const char *component,
                     wt_config *cfg) {
  char err[1024] = "";
  char from_stack[WT_CONFIG_URL_MAX + 64] = "";
  unsigned programs = wt_config_program(program);
  if (wt_config_from_process_for(cfg, programs ? programs : WT_PROGRAM_ALL,
                                 from_stack, sizeof(from_stack), err,
                                 sizeof(err)) != WT_OK) {
    fprintf(stderr, "%s: configuration error: %s\n", program, err);
    return false;
  }
  wt_log_init(component, cfg->log_level, stderr);
  if (from_stack[0])
    WT_INFO("config %s (make run's stack)", from_stack);
  return true;
}
