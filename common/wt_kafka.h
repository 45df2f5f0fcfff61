/* wt_kafka: librdkafka set up the way every Worktracker program needs it.
 *   login:    every client connects as a wt_kafka_conn says (brokers,
 *             security.protocol, SASL user and password, CA file); a
 *             refused login is an error of its own (wt_kafka_login_error)
 *             rather than an endless wait;
 *   producer: enable.idempotence=true, acks=all, delivery reports;
 *   consumer: manual offset commits (enable.auto.commit=false and
 *             enable.auto.offset.store=false), low fetch wait;
 *   topics:   the contract's topics, created at start when missing.
 * librdkafka's own log lines go through wt_log. The returned rd_kafka_t is
 * the caller's: rd_kafka_flush/consumer_close and rd_kafka_destroy it. */
#ifndef WT_KAFKA_H
#define WT_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "wt_config.h"
#include "wt_err.h"
#include "wt_log.h"

#define WT_TOPIC_MAX 128

/* Where and as whom a client connects. The strings are borrowed: they must
 * live until the client is made (librdkafka copies them). NULL or "" for
 * security_protocol means plaintext; sasl_mechanism, user and password are
 * used with sasl_plaintext and sasl_ssl, ca_file (NULL or "": the system's
 * CAs) with ssl and sasl_ssl. */
typedef struct wt_kafka_conn {
  const char *brokers;
  const char *security_protocol;
  const char *sasl_mechanism;
  const char *user;
  const char *password; /* never logged */
  const char *ca_file;
} wt_kafka_conn;

/* The connection of a program: out borrows cfg's strings. */
void wt_kafka_conn_from_config(const wt_config *cfg, wt_kafka_conn *out);

typedef struct wt_kafka_topics {
  char commands[WT_TOPIC_MAX]; /* <prefix>.commands */
  char events[WT_TOPIC_MAX];   /* <prefix>.events */
  char dlq[WT_TOPIC_MAX];      /* <prefix>.dlq */
} wt_kafka_topics;

void wt_kafka_topic_names(const char *prefix, wt_kafka_topics *out);

typedef void(wt_kafka_dr_cb)(rd_kafka_t *rk, const rd_kafka_message_t *msg,
                             void *opaque);

/* extra: NULL or a NULL-terminated list of name, value pairs applied last
 * (for tuning such as "linger.ms"). dr_cb may be NULL. */
rd_kafka_t *wt_kafka_producer_new(const wt_kafka_conn *conn,
                                  const char *client_id, wt_kafka_dr_cb *dr_cb,
                                  void *opaque, const char *const *extra,
                                  char *errstr, size_t errstr_size);

typedef void(wt_kafka_rebalance_cb)(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                    rd_kafka_topic_partition_list_t *parts,
                                    void *opaque);

/* group_id NULL: no consumer group: assign partitions yourself (the
 * handle gets the placeholder group.id "wt-assign-only", which
 * librdkafka 2.0.2 needs for rd_kafka_assign; it never joins it).
 * rebalance_cb may be NULL (librdkafka assigns by itself); opaque is
 * passed to it. */
rd_kafka_t *wt_kafka_consumer_new(const wt_kafka_conn *conn,
                                  const char *group_id, const char *client_id,
                                  const char *const *extra,
                                  wt_kafka_rebalance_cb *rebalance_cb,
                                  void *opaque, char *errstr,
                                  size_t errstr_size);

/* WT_ERR_CONFIG when a broker refused this client's login (SASL
 * authentication, TLS handshake): errstr gets "kafka: authentication failed
 * for user U (MECHANISM): <the broker's reason>" (no password). WT_OK
 * otherwise. Any thread. */
wt_err wt_kafka_login_error(rd_kafka_t *rk, char *errstr, size_t errstr_size);

/* The same for the process: WT_ERR_CONFIG with the last refusal that
 * wt_kafka_login_error (or a function using it: wt_kafka_ensure_topics,
 * wt_kafka_wait_connected) reported, even when that client is gone. For a
 * start-up loop that retries what makes and destroys clients: a refused
 * login stays refused, stop. */
wt_err wt_kafka_login_refused(char *errstr, size_t errstr_size);

/* Waits until a broker answers a metadata request: WT_OK; WT_ERR_CONFIG at
 * once when the login is refused (wt_kafka_login_error); WT_ERR_TIMEOUT
 * after timeout_ms, with librdkafka's last connection error. */
wt_err wt_kafka_wait_connected(rd_kafka_t *rk, int timeout_ms, char *errstr,
                               size_t errstr_size);

/* Creates the topics that do not exist yet with `partitions` partitions
 * and waits until every topic has a leader for each partition. An existing
 * topic is only described, never created (no Create permission needed).
 * WT_ERR_CONFIG: the login was refused (wt_kafka_login_error);
 * WT_ERR_NOT_FOUND: a topic is missing (or not visible to this principal)
 * and the principal may not create it: errstr says to run `wt-admin
 * topics`; WT_ERR_TIMEOUT: not ready in time. */
wt_err wt_kafka_ensure_topics(rd_kafka_t *rk, const char *const *topics,
                              size_t ntopics, int partitions, int timeout_ms,
                              char *errstr, size_t errstr_size);

/* Produces a copy of key and value; on a full queue serves delivery
 * reports and retries for up to timeout_ms. */
wt_err wt_kafka_produce(rd_kafka_t *rk, const char *topic, const void *key,
                        size_t key_len, const void *value, size_t value_len,
                        void *msg_opaque, int timeout_ms, char *errstr,
                        size_t errstr_size);
/* The same with headers: NULL or a NULL-terminated list of name, value
 * pairs of NUL-terminated strings (copied), such as the signature headers
 * of wt_sign.h. */
wt_err wt_kafka_produce_headers(rd_kafka_t *rk, const char *topic,
                                const void *key, size_t key_len,
                                const void *value, size_t value_len,
                                const char *const *headers, void *msg_opaque,
                                int timeout_ms, char *errstr,
                                size_t errstr_size);

/* librdkafka's log lines go through wt_log at this level: syslog levels
 * 0..3 ERROR, 4 WARN, 5..6 INFO, 7 DEBUG, except a start-up transient
 * (a freshly started broker's "coordinator load in progress" while the
 * producer acquires its idempotence PID, which librdkafka retries): INFO
 * until the client has met it for WT_KAFKA_STARTUP_GRACE_MS (transient_ms),
 * WARN after, as a lasting problem. Pure. */
#define WT_KAFKA_STARTUP_GRACE_MS 15000
wt_log_level wt_kafka_log_level(int syslog_level, const char *fac,
                                const char *msg, long transient_ms);

/* Partition count of a topic, or -1 when unknown. */
int wt_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms);

#endif
