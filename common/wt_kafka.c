#include "wt_kafka.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "wt_log.h"

void wt_kafka_topic_names(const char *prefix, wt_kafka_topics *out) {
  snprintf(out->commands, sizeof(out->commands), "%s.commands", prefix);
  snprintf(out->events, sizeof(out->events), "%s.events", prefix);
  snprintf(out->dlq, sizeof(out->dlq), "%s.dlq", prefix);
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* A broker that has just started answers InitProducerId with "coordinator
 * load in progress" until its transaction coordinator is loaded, and
 * librdkafka retries: expected, not a problem, unless it lasts. */
static bool startup_transient(const char *fac, const char *msg) {
  return fac && msg && strcmp(fac, "GETPID") == 0 &&
         strstr(msg, "retrying") != NULL;
}

wt_log_level wt_kafka_log_level(int syslog_level, const char *fac,
                                const char *msg, long transient_ms) {
  /* syslog levels: 0..3 error, 4 warning, 5..6 info, 7 debug */
  wt_log_level l = syslog_level <= 3   ? WT_LOG_ERROR
                   : syslog_level == 4 ? WT_LOG_WARN
                   : syslog_level <= 6 ? WT_LOG_INFO
                                       : WT_LOG_DEBUG;
  if (l == WT_LOG_WARN && startup_transient(fac, msg) &&
      transient_ms < WT_KAFKA_STARTUP_GRACE_MS)
    l = WT_LOG_INFO;
  return l;
}

/* What the log lines told of each client (by name: unique in a process):
 * when it first met a start-up transient, and a refused login. Written
 * from librdkafka's threads, read by the client's user. */
#define CLIENT_SLOTS 32
static pthread_mutex_t clients_lock = PTHREAD_MUTEX_INITIALIZER;
static struct client_slot {
  char name[64];
  long transient_first_ms; /* 0: none met */
  char login_error[384];   /* "": the login was not refused */
} clients[CLIENT_SLOTS];
static size_t clients_next;
static char last_refusal[512]; /* wt_kafka_login_error's last error */

/* @locks clients_lock MUST be held. A new name replaces the oldest. */
static struct client_slot *client_slot(const char *name) {
  size_t i;
  for (i = 0; i < CLIENT_SLOTS; i++)
    if (strncmp(clients[i].name, name, sizeof(clients[i].name)) == 0)
      return &clients[i];
  i = clients_next++ % CLIENT_SLOTS;
  memset(&clients[i], 0, sizeof(clients[i]));
  snprintf(clients[i].name, sizeof(clients[i].name), "%s", name);
  return &clients[i];
}

static long transient_for(const char *name) {
  long now = now_ms(), since = 0;
  struct client_slot *c;
  pthread_mutex_lock(&clients_lock);
  c = client_slot(name);
  if (!c->transient_first_ms)
    c->transient_first_ms = now;
  since = now - c->transient_first_ms;
  pthread_mutex_unlock(&clients_lock);
  return since;
}

/* librdkafka 2.0.2 reports a refused login only as a broker failure
 * (rd_kafka_broker_fail: a "FAIL" log line from the broker thread, and an
 * __AUTHENTICATION error op that reaches error_cb only when the application
 * polls) and then reconnects forever: the log line is where it can be seen
 * without polling. */
static bool login_refused(const char *fac, const char *msg) {
  return fac && msg && strcmp(fac, "FAIL") == 0 &&
         (strstr(msg, "SASL authentication error") ||
          strstr(msg, "SSL handshake failed") ||
          strstr(msg, "certificate verify failed"));
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf) {
  long transient_ms =
      startup_transient(fac, buf) ? transient_for(rd_kafka_name(rk)) : 0;
  struct client_slot *c;
  if (login_refused(fac, buf)) {
    pthread_mutex_lock(&clients_lock);
    c = client_slot(rd_kafka_name(rk));
    if (!c->login_error[0])
      snprintf(c->login_error, sizeof(c->login_error), "%s", buf);
    pthread_mutex_unlock(&clients_lock);
  }
  WT_LOG(wt_kafka_log_level(level, fac, buf, transient_ms),
         "kafka client=%s fac=%s %s", rd_kafka_name(rk), fac, buf);
}

static void conf_value(rd_kafka_t *rk, const char *name, char *out,
                       size_t size) {
  size_t n = size;
  if (rd_kafka_conf_get(rd_kafka_conf(rk), name, out, &n) != RD_KAFKA_CONF_OK)
    snprintf(out, size, "?");
}

wt_err wt_kafka_login_error(rd_kafka_t *rk, char *errstr, size_t errstr_size) {
  char why[sizeof(clients[0].login_error)] = "";
  char user[WT_CONFIG_NAME_MAX], mech[32], proto[32];
  pthread_mutex_lock(&clients_lock);
  for (size_t i = 0; i < CLIENT_SLOTS; i++)
    if (strncmp(clients[i].name, rd_kafka_name(rk), sizeof(clients[i].name)) ==
        0)
      memcpy(why, clients[i].login_error, sizeof(why));
  pthread_mutex_unlock(&clients_lock);
  if (!why[0])
    return WT_OK;
  conf_value(rk, "security.protocol", proto, sizeof(proto));
  if (strstr(why, "SASL")) {
    /* librdkafka's text after its thread and broker prefixes */
    const char *reason = strstr(why, "SASL authentication error: ");
    conf_value(rk, "sasl.username", user, sizeof(user));
    conf_value(rk, "sasl.mechanisms", mech, sizeof(mech));
    wt_errf(errstr, errstr_size,
            "kafka: authentication failed for user %s (%s): %s", user, mech,
            reason ? reason + strlen("SASL authentication error: ") : why);
  } else {
    const char *reason = strstr(why, "SSL handshake failed: ");
    wt_errf(errstr, errstr_size,
            "kafka: TLS handshake failed (%s; is WT_KAFKA_CA_FILE the CA of "
            "the brokers?): %s",
            proto, reason ? reason + strlen("SSL handshake failed: ") : why);
  }
  pthread_mutex_lock(&clients_lock);
  snprintf(last_refusal, sizeof(last_refusal), "%s", errstr ? errstr : "");
  pthread_mutex_unlock(&clients_lock);
  return WT_ERR_CONFIG;
}

wt_err wt_kafka_login_refused(char *errstr, size_t errstr_size) {
  wt_err err = WT_OK;
  pthread_mutex_lock(&clients_lock);
  if (last_refusal[0]) {
    wt_errf(errstr, errstr_size, "%s", last_refusal);
    err = WT_ERR_CONFIG;
  }
  pthread_mutex_unlock(&clients_lock);
  return err;
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                    char *errstr, size_t errstr_size) {
  char err[256];
  if (rd_kafka_conf_set(conf, name, value, err, sizeof(err)) !=
      RD_KAFKA_CONF_OK) {
    /* a password or key is never printed, only that it was refused */
    bool secret = strstr(name, "password") || strstr(name, "secret") ||
                  strstr(name, ".key") || strstr(name, "token");
    wt_errf(errstr, errstr_size, "kafka config %s=%s: %s", name,
            secret ? "(not shown)" : value, err);
    return -1;
  }
  return 0;
}

void wt_kafka_conn_from_config(const wt_config *cfg, wt_kafka_conn *out) {
  out->brokers = cfg->kafka_brokers;
  out->security_protocol = cfg->kafka_security_protocol;
  out->sasl_mechanism = cfg->kafka_sasl_mechanism;
  out->user = cfg->kafka_user;
  out->password = cfg->kafka_password;
  out->ca_file = cfg->kafka_ca_file;
}

static bool given(const char *s) {
  return s && s[0];
}

/* security.protocol and what goes with it */
static int conf_login(rd_kafka_conf_t *conf, const wt_kafka_conn *conn,
                      char *errstr, size_t errstr_size) {
  const char *proto =
      given(conn->security_protocol) ? conn->security_protocol : "plaintext";
  bool sasl = strncmp(proto, "sasl_", 5) == 0;
  bool tls = strcmp(proto, "ssl") == 0 || strcmp(proto, "sasl_ssl") == 0;
  if (conf_set(conf, "security.protocol", proto, errstr, errstr_size))
    return -1;
  if (sasl &&
      (conf_set(conf, "sasl.mechanisms",
                given(conn->sasl_mechanism) ? conn->sasl_mechanism
                                            : "SCRAM-SHA-512",
                errstr, errstr_size) ||
       conf_set(conf, "sasl.username", conn->user ? conn->user : "", errstr,
                errstr_size) ||
       conf_set(conf, "sasl.password", conn->password ? conn->password : "",
                errstr, errstr_size)))
    return -1;
  if (tls && given(conn->ca_file) &&
      conf_set(conf, "ssl.ca.location", conn->ca_file, errstr, errstr_size))
    return -1;
  return 0;
}

static rd_kafka_conf_t *base_conf(const wt_kafka_conn *conn,
                                  const char *client_id,
                                  const char *const *fixed,
                                  const char *const *extra, char *errstr,
                                  size_t errstr_size) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  const char *const *lists[2] = {fixed, extra};
  if (conf_set(conf, "bootstrap.servers", conn->brokers, errstr, errstr_size) ||
      conf_set(conf, "client.id", client_id, errstr, errstr_size) ||
      conf_login(conf, conn, errstr, errstr_size))
    goto fail;
  for (size_t l = 0; l < 2; l++)
    for (const char *const *kv = lists[l]; kv && kv[0]; kv += 2)
      if (!kv[1] || conf_set(conf, kv[0], kv[1], errstr, errstr_size))
        goto fail;
  rd_kafka_conf_set_log_cb(conf, log_cb);
  return conf;
fail:
  rd_kafka_conf_destroy(conf);
  return NULL;
}

/* rd_kafka_new, destroying conf when it fails (on success rk owns it). */
static rd_kafka_t *client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf,
                              char *errstr, size_t errstr_size) {
  char err[512];
  rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    wt_errf(errstr, errstr_size, "kafka %s: %s",
            type == RD_KAFKA_PRODUCER ? "producer" : "consumer", err);
  }
  return rk;
}

rd_kafka_t *wt_kafka_producer_new(const wt_kafka_conn *conn,
                                  const char *client_id, wt_kafka_dr_cb *dr_cb,
                                  void *opaque, const char *const *extra,
                                  char *errstr, size_t errstr_size) {
  /* clang-format off */
  static const char *const fixed[] = {
      "enable.idempotence", "true", /* no duplicates, order kept on retry */
      "acks",               "all",
      "linger.ms",          "1",
      "message.timeout.ms", "30000",
      NULL};
  /* clang-format on */
  rd_kafka_conf_t *conf =
      base_conf(conn, client_id, fixed, extra, errstr, errstr_size);
  if (!conf)
    return NULL;
  if (dr_cb)
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
  rd_kafka_conf_set_opaque(conf, opaque);
  return client_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
}

rd_kafka_t *wt_kafka_consumer_new(const wt_kafka_conn *conn,
                                  const char *group_id, const char *client_id,
                                  const char *const *extra,
                                  wt_kafka_rebalance_cb *rebalance_cb,
                                  void *opaque, char *errstr,
                                  size_t errstr_size) {
  /* clang-format off */
  static const char *const fixed[] = {
      "enable.auto.commit",       "false", /* we commit after the work */
      "enable.auto.offset.store", "false",
      "auto.offset.reset",        "earliest",
      "fetch.wait.max.ms",        "10",    /* latency over fewer fetches */
      "enable.partition.eof",     "false",
      "isolation.level",          "read_committed",
      NULL};
  /* clang-format on */
  rd_kafka_conf_t *conf =
      base_conf(conn, client_id, fixed, extra, errstr, errstr_size);
  rd_kafka_t *rk;
  if (!conf)
    return NULL;
  /* librdkafka 2.0.2 refuses rd_kafka_assign() without a group.id
   * (__UNKNOWN_GROUP) even though assign never joins the group: a consumer
   * that assigns partitions itself gets a name it never joins or commits
   * under (auto commit is off). */
  if (conf_set(conf, "group.id", group_id ? group_id : "wt-assign-only", errstr,
               errstr_size)) {
    rd_kafka_conf_destroy(conf);
    return NULL;
  }
  if (rebalance_cb)
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
  rd_kafka_conf_set_opaque(conf, opaque);
  rk = client_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size);
  if (rk)
    rd_kafka_poll_set_consumer(rk);
  return rk;
}

/* 1: present with a leader for every partition, 0: absent, -1: not ready */
static int topic_state(const rd_kafka_metadata_t *md, const char *topic) {
  for (int i = 0; i < md->topic_cnt; i++) {
    const rd_kafka_metadata_topic_t *t = &md->topics[i];
    if (strcmp(t->topic, topic) != 0)
      continue;
    if (t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
      return 0;
    if (t->err || t->partition_cnt == 0)
      return -1;
    for (int p = 0; p < t->partition_cnt; p++)
      if (t->partitions[p].err || t->partitions[p].leader < 0)
        return -1;
    return 1;
  }
  return 0;
}

int wt_kafka_partition_count(rd_kafka_t *rk, const char *topic,
                             int timeout_ms) {
  const rd_kafka_metadata_t *md = NULL;
  int n = -1;
  if (rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms) !=
      RD_KAFKA_RESP_ERR_NO_ERROR)
    return -1;
  for (int i = 0; i < md->topic_cnt; i++)
    if (strcmp(md->topics[i].topic, topic) == 0 && !md->topics[i].err)
      n = md->topics[i].partition_cnt;
  rd_kafka_metadata_destroy(md);
  return n;
}

static wt_err create_topics(rd_kafka_t *rk, const char *const *names, size_t n,
                            int partitions, int timeout_ms, char *errstr,
                            size_t errstr_size) {
  rd_kafka_NewTopic_t *nt[16] = {0};
  rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
  rd_kafka_event_t *ev = NULL;
  wt_err err = WT_OK;
  char e[256];

  if (n > 16)
    n = 16;
  for (size_t i = 0; i < n; i++) {
    /* replication factor -1: the broker's default.replication.factor */
    nt[i] = rd_kafka_NewTopic_new(names[i], partitions, -1, e, sizeof(e));
    if (!nt[i]) {
      wt_errf(errstr, errstr_size, "topic %s: %s", names[i], e);
      err = WT_ERR_KAFKA;
      goto out;
    }
  }
  rd_kafka_CreateTopics(rk, nt, n, NULL, q);
  ev = rd_kafka_queue_poll(q, timeout_ms);
  if (!ev) {
    wt_errf(errstr, errstr_size, "CreateTopics: no answer in %d ms",
            timeout_ms);
    err = WT_ERR_TIMEOUT;
    goto out;
  }
  if (rd_kafka_event_error(ev)) {
    wt_errf(errstr, errstr_size, "CreateTopics: %s",
            rd_kafka_event_error_string(ev));
    err = WT_ERR_KAFKA;
    goto out;
  }
  {
    const rd_kafka_CreateTopics_result_t *res =
        rd_kafka_event_CreateTopics_result(ev);
    size_t cnt = 0;
    const rd_kafka_topic_result_t **tr =
        res ? rd_kafka_CreateTopics_result_topics(res, &cnt) : NULL;
    for (size_t i = 0; i < cnt; i++) {
      rd_kafka_resp_err_t te = rd_kafka_topic_result_error(tr[i]);
      if (te == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
          te == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED) {
        char user[WT_CONFIG_NAME_MAX];
        conf_value(rk, "sasl.username", user, sizeof(user));
        wt_errf(errstr, errstr_size,
                "topic %s is missing (or not visible to user %s), and user "
                "%s may not create it: run `wt-admin topics` (and `wt-admin "
                "acls`) first",
                rd_kafka_topic_result_name(tr[i]), user, user);
        err = WT_ERR_NOT_FOUND;
        goto out;
      }
      if (te && te != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        wt_errf(errstr, errstr_size, "create topic %s: %s",
                rd_kafka_topic_result_name(tr[i]),
                rd_kafka_topic_result_error_string(tr[i]));
        err = WT_ERR_KAFKA;
        goto out;
      }
      if (!te)
        WT_INFO("kafka topic created topic=%s partitions=%d",
                rd_kafka_topic_result_name(tr[i]), partitions);
    }
  }
out:
  if (ev)
    rd_kafka_event_destroy(ev);
  for (size_t i = 0; i < n; i++)
    if (nt[i])
      rd_kafka_NewTopic_destroy(nt[i]);
  rd_kafka_queue_destroy(q);
  return err;
}

wt_err wt_kafka_wait_connected(rd_kafka_t *rk, int timeout_ms, char *errstr,
                               size_t errstr_size) {
  long deadline = now_ms() + timeout_ms;
  rd_kafka_resp_err_t last = RD_KAFKA_RESP_ERR__TIMED_OUT;
  for (;;) {
    const rd_kafka_metadata_t *md = NULL;
    long left = deadline - now_ms();
    if (wt_kafka_login_error(rk, errstr, errstr_size) != WT_OK)
      return WT_ERR_CONFIG;
    if (left <= 0)
      break;
    /* short requests: a refused login is seen within a second */
    last = rd_kafka_metadata(rk, 0, NULL, &md, (int)(left > 500 ? 500 : left));
    if (last == RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_metadata_destroy(md);
      return WT_OK;
    }
  }
  wt_errf(errstr, errstr_size, "kafka: no broker answered in %d ms (%s)",
          timeout_ms, rd_kafka_err2str(last));
  return WT_ERR_TIMEOUT;
}

wt_err wt_kafka_ensure_topics(rd_kafka_t *rk, const char *const *topics,
                              size_t ntopics, int partitions, int timeout_ms,
                              char *errstr, size_t errstr_size) {
  long deadline = now_ms() + timeout_ms;
  bool created = false;
  rd_kafka_resp_err_t last = RD_KAFKA_RESP_ERR_NO_ERROR;

  if (ntopics > 16) {
    wt_errf(errstr, errstr_size, "at most 16 topics at once");
    return WT_ERR_INVALID;
  }
  for (;;) {
    const rd_kafka_metadata_t *md = NULL;
    const char *missing[16];
    size_t nmissing = 0, nready = 0;
    long left = deadline - now_ms();
    if (wt_kafka_login_error(rk, errstr, errstr_size) != WT_OK)
      return WT_ERR_CONFIG;
    if (left <= 0)
      break;
    /* short requests: a refused login is seen within a second */
    last =
        rd_kafka_metadata(rk, 1, NULL, &md, (int)(left > 1000 ? 1000 : left));
    if (last == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (size_t i = 0; i < ntopics; i++) {
        int st = topic_state(md, topics[i]);
        if (st == 1)
          nready++;
        else if (st == 0)
          missing[nmissing++] = topics[i];
      }
      rd_kafka_metadata_destroy(md);
      if (nready == ntopics)
        return WT_OK;
      if (nmissing && !created) {
        wt_err err = create_topics(rk, missing, nmissing, partitions,
                                   (int)(left > 1000 ? left : 1000), errstr,
                                   errstr_size);
        if (err != WT_OK)
          return err;
        created = true;
        continue;
      }
    }
    {
      struct timespec ts = {0, 100 * 1000000L};
      nanosleep(&ts, NULL);
    }
  }
  wt_errf(errstr, errstr_size, "topics not ready after %d ms (%s)", timeout_ms,
          last ? rd_kafka_err2str(last) : "no leader yet");
  return WT_ERR_TIMEOUT;
}

/* One attempt; hdrs (may be NULL) belongs to librdkafka when it succeeds,
 * to the caller when it fails. */
static rd_kafka_resp_err_t produce_once(rd_kafka_t *rk, const char *topic,
                                        void *key, size_t key_len, void *value,
                                        size_t value_len,
                                        rd_kafka_headers_t *hdrs,
                                        void *msg_opaque) {
  if (!hdrs)
    return rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                             RD_KAFKA_V_KEY(key, key_len),
                             RD_KAFKA_V_VALUE(value, value_len),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
  return rd_kafka_producev(
      rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
      RD_KAFKA_V_VALUE(value, value_len),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
      RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
}

wt_err wt_kafka_produce_headers(rd_kafka_t *rk, const char *topic,
                                const void *key, size_t key_len,
                                const void *value, size_t value_len,
                                const char *const *headers, void *msg_opaque,
                                int timeout_ms, char *errstr,
                                size_t errstr_size) {
  long deadline = now_ms() + timeout_ms;
  size_t nheaders = 0;
  /* librdkafka copies (F_COPY) but its API takes void *: drop the const
   * without casting through an integer */
  union {
    const void *c;
    void *m;
  } k = {.c = key}, v = {.c = value};
  while (headers && headers[2 * nheaders])
    nheaders++;
  for (;;) {
    rd_kafka_headers_t *hdrs = NULL;
    rd_kafka_resp_err_t err;
    if (nheaders) { /* a new list each attempt: a failed one stays ours */
      hdrs = rd_kafka_headers_new(nheaders);
      for (size_t i = 0; i < nheaders; i++)
        (void)rd_kafka_header_add(hdrs, headers[2 * i], -1, headers[2 * i + 1],
                                  -1);
    }
    err =
        produce_once(rk, topic, k.m, key_len, v.m, value_len, hdrs, msg_opaque);
    if (!err)
      return WT_OK;
    if (hdrs)
      rd_kafka_headers_destroy(hdrs);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || now_ms() >= deadline) {
      wt_errf(errstr, errstr_size, "produce to %s: %s", topic,
              rd_kafka_err2str(err));
      return err == RD_KAFKA_RESP_ERR__QUEUE_FULL ? WT_ERR_TIMEOUT
                                                  : WT_ERR_KAFKA;
    }
    rd_kafka_poll(rk, 10); /* serve delivery reports to make room */
  }
}

wt_err wt_kafka_produce(rd_kafka_t *rk, const char *topic, const void *key,
                        size_t key_len, const void *value, size_t value_len,
                        void *msg_opaque, int timeout_ms, char *errstr,
                        size_t errstr_size) {
  return wt_kafka_produce_headers(rk, topic, key, key_len, value, value_len,
                                  NULL, msg_opaque, timeout_ms, errstr,
                                  errstr_size);
}
