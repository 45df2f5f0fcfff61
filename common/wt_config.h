/* wt_config: every WT_* setting of the contract, read once at start.
 *
 * Sources, first match wins: the process environment, then a .env file
 * (KEY=VALUE lines). A bad value is an error naming the variable and what
 * it accepts; programs print it and exit with status 2.
 *
 * The parsing and validation is pure: wt_config_load() takes a lookup
 * function, so tests feed it tables instead of the environment. */
#ifndef WT_CONFIG_H
#define WT_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "wt_err.h"
#include "wt_log.h"

#define WT_CONFIG_URL_MAX 1024
#define WT_CONFIG_NAME_MAX 256
#define WT_CONFIG_SECRET_MAX 512
#define WT_CONFIG_WORKER_ID_MAX 65 /* 64 characters and the NUL */
#define WT_CONFIG_PRODUCER_ID_MAX 65
#define WT_DOTENV_MAX_ENTRIES 256
#define WT_DOTENV_MAX_BYTES ((size_t)64 * 1024)

typedef struct wt_config {
  /* services */
  char database_url[WT_CONFIG_URL_MAX];
  char kafka_brokers[WT_CONFIG_URL_MAX];
  char topic_prefix[64];
  int kafka_partitions;
  /* Kafka security (docs/security.md): the login of every Kafka client */
  char kafka_security_protocol[16]; /* plaintext, sasl_plaintext, ... */
  char kafka_sasl_mechanism[16];    /* SCRAM-SHA-512, SCRAM-SHA-256, PLAIN */
  char kafka_user[WT_CONFIG_NAME_MAX];
  /* the SASL password itself: WT_KAFKA_PASSWORD, or the contents of
   * WT_KAFKA_PASSWORD_FILE read at load (trailing newline cut); "" when
   * the protocol is not sasl_*. Never printed. */
  char kafka_password[WT_CONFIG_SECRET_MAX];
  char kafka_password_file[WT_CONFIG_URL_MAX];
  char kafka_ca_file[WT_CONFIG_URL_MAX]; /* "": the system's CAs */
  /* command signatures (read by wt_sign: this module only checks that the
   * files are readable) */
  char producer_id[WT_CONFIG_PRODUCER_ID_MAX]; /* default: the program */
  char producer_key_file[WT_CONFIG_URL_MAX];   /* "": commands unsigned */
  char producer_keys_file[WT_CONFIG_URL_MAX];  /* worker: trusted producers */
  /* ports */
  int http_port;
  int metrics_port; /* 0: no metrics listener */
  /* logging */
  wt_log_level log_level;
  bool log_sql;
  /* JWT */
  char jwt_alg[8]; /* HS256, RS256 or ES256 */
  char jwt_secret[WT_CONFIG_SECRET_MAX];
  char jwt_public_key_file[WT_CONFIG_URL_MAX];
  char jwt_private_key_file[WT_CONFIG_URL_MAX];
  char jwt_issuer[WT_CONFIG_NAME_MAX];
  char jwt_audience[WT_CONFIG_NAME_MAX];
  int jwt_ttl_s;
  int jwt_refresh_ttl_s;
  /* worker */
  int batch_max;
  int batch_wait_ms;
  int max_log_seconds;
  int cache_projects;
  int cache_logs;
  int cache_users;
  /* "": dynamic group membership; else the worker's group.instance.id
   * (static membership: a restart with the same id resumes its
   * partitions without a rebalance) */
  char worker_id[WT_CONFIG_WORKER_ID_MAX];
  int worker_session_timeout_ms; /* the consumer's session.timeout.ms */
  /* gateway */
  int command_timeout_ms;
  int max_connections;
  int max_frame_bytes;
  int max_subscriptions;
  int max_inflight;
  int send_queue_bytes;
  int auth_timeout_ms;
  int idle_timeout_s;
  /* TLS on WT_HTTP_PORT: both set (wss://, https://) or neither (plain) */
  char tls_cert_file[WT_CONFIG_URL_MAX];
  char tls_key_file[WT_CONFIG_URL_MAX];
} wt_config;

/* The programs, each of which reads and checks only the variables it uses. */
#define WT_PROGRAM_ADMIN 0x1u
#define WT_PROGRAM_WORKER 0x2u
#define WT_PROGRAM_GATEWAY 0x4u
#define WT_PROGRAM_DEVBROKER 0x8u
#define WT_PROGRAM_ALL 0xfu

/* WT_PROGRAM_* of "wt-admin", "wt-worker", "wt-gateway", "wt-devbroker";
 * 0 for any other name. */
unsigned wt_config_program(const char *name);
/* The name of the lowest program bit of programs ("wt-admin" ...), NULL for
 * none. */
const char *wt_config_program_name(unsigned programs);

/* Returns the value of a variable, or NULL when it is not set. */
typedef const char *(*wt_config_lookup_fn)(void *ctx, const char *name);

/* Fills cfg from lookup; on error returns WT_ERR_CONFIG with a message
 * such as "WT_BATCH_MAX: expected an integer in 1..100000, got \"x\"".
 * Errors never hold a secret: a bad WT_JWT_SECRET is told by its length, a
 * bad WT_DATABASE_URL with its password masked, WT_KAFKA_PASSWORD never.
 * The checks that read files: for the gateway, WT_TLS_CERT_FILE and
 * WT_TLS_KEY_FILE (both or neither) must be a PEM certificate and the
 * unencrypted PEM private key that matches it; for a sasl_* protocol,
 * WT_KAFKA_USER and exactly one of WT_KAFKA_PASSWORD and
 * WT_KAFKA_PASSWORD_FILE (read into kafka_password); WT_KAFKA_CA_FILE (ssl,
 * sasl_ssl) and the WT_PRODUCER_KEY(S)_FILE must be readable. Errors name
 * the file, never what is in it. producer_id defaults to the name of the
 * program (wt_config_program_name(programs)). wt_config_load
 * checks every variable; _for only those the programs (WT_PROGRAM_* bits) use,
 * the others keep their defaults unread. */
wt_err wt_config_load(wt_config *cfg, wt_config_lookup_fn lookup, void *ctx,
                      char *errstr, size_t errstr_size);
wt_err wt_config_load_for(wt_config *cfg, unsigned programs,
                          wt_config_lookup_fn lookup, void *ctx, char *errstr,
                          size_t errstr_size);

/* true for a variable whose value is never printed (WT_JWT_SECRET,
 * WT_KAFKA_PASSWORD) or printed masked (WT_DATABASE_URL). */
bool wt_config_is_secret(const char *name);

/* Copies a libpq URI or conninfo string with its password replaced by
 * "***" (user:***@host, password=***): what logs and errors may print. */
void wt_config_mask_url(const char *url, char *out, size_t out_size);

/* Parsed .env contents: names and values are owned by the struct. */
typedef struct wt_dotenv {
  size_t count;
  char *names[WT_DOTENV_MAX_ENTRIES];
  char *values[WT_DOTENV_MAX_ENTRIES];
} wt_dotenv;

/* Parses KEY=VALUE lines: '#' comments, blank lines, an optional `export `,
 * values in '' (literal) or "" (with \n \" \\ escapes). */
wt_err wt_dotenv_parse(const char *text, wt_dotenv *out, char *errstr,
                       size_t errstr_size);
/* The same for stack.env, which deploy/local/stack.sh writes with bash's
 * printf %q: an unquoted value may hold backslash escapes ("a\ b"). */
wt_err wt_stackenv_parse(const char *text, wt_dotenv *out, char *errstr,
                         size_t errstr_size);
const char *wt_dotenv_get(const wt_dotenv *env, const char *name);
void wt_dotenv_free(wt_dotenv *env);

/* The process' config: environment, then the .env file at $WT_ENV_FILE or
 * ./.env when present; then, for WT_DATABASE_URL and WT_KAFKA_BROKERS only,
 * make run's stack.env: the file $WT_STACK_ENV names (it must exist; empty:
 * none), else $WT_VAR_DIR/stack.env or ./var/stack.env when it exists.
 * When stack.env gives WT_KAFKA_BROKERS it also gives the Kafka login that
 * goes with it, unless the environment or .env set it: the stack's
 * WT_KAFKA_SECURITY_PROTOCOL and WT_KAFKA_SASL_MECHANISM, and the program's
 * own identity from $WT_STACK_SECRETS_DIR: WT_KAFKA_USER=<program>,
 * WT_KAFKA_PASSWORD_FILE=kafka-<program>.password (sasl_* only),
 * WT_PRODUCER_KEY_FILE=producer-<program>.key (when it exists), and for the
 * worker WT_PRODUCER_KEYS_FILE=producer-keys. <program> is the lowest
 * WT_PROGRAM_ADMIN/WORKER/GATEWAY bit of programs ("wt-admin", ...).
 * _for checks only the variables of programs; stack_used (may be NULL)
 * gets "WT_DATABASE_URL WT_KAFKA_BROKERS from PATH" for what stack.env gave,
 * "" when nothing. */
wt_err wt_config_from_process(wt_config *cfg, char *errstr, size_t errstr_size);
wt_err wt_config_from_process_for(wt_config *cfg, unsigned programs,
                                  char *stack_used, size_t stack_used_size,
                                  char *errstr, size_t errstr_size);

/* For a program's main: wt_config_from_process_for the program's own
 * variables (wt_config_program(program); all for another name), then the
 * logger for component at the configured level, which logs at INFO what
 * came from stack.env. false after printing "PROGRAM: configuration error:
 * ..." to stderr: exit with status 2. */
bool wt_config_start(const char *program, const char *component,
                     wt_config *cfg);

/* Writes the table of variables, defaults and what they accept, ranges
 * included (--help). */
void wt_config_describe(FILE *out);

#endif
