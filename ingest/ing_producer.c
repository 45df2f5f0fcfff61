/* ing_producer: validated commands into <prefix>.commands, and their
 * outcomes out of <prefix>.events (see ing_producer.h).
 *
 * Why the simple (legacy) consumer for outcomes: a reader of outcomes has
 * no business in a group (it commits nothing, and every reader must see
 * every outcome), and rd_kafka_consume_start_queue() takes an explicit
 * start offset per partition without any group.id or coordinator (unlike
 * rd_kafka_assign in librdkafka 2.0.2). An explicit offset is what "start
 * at the end we saw" needs: RD_KAFKA_OFFSET_END would be resolved later,
 * when the fetcher starts, and could skip what was produced in between. */
#include "ing_producer.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wt_json.h"
#include "wt_kafka.h"
#include "wt_log.h"
#include "wt_sign.h"

#define TOPICS_TIMEOUT_MS 15000
#define METADATA_TIMEOUT_MS 10000
#define PRODUCE_QUEUE_WAIT_MS 5000
#define DESTROY_FLUSH_MS 10000
#define OUTCOME_JSON_DEPTH 32

static const char *client_name(const char *client_id) {
  return client_id && client_id[0] ? client_id : "worktracker";
}

/* The topics a producer of commands uses, created when missing with
 * WT_KAFKA_PARTITIONS partitions (the worker and `wt-admin topics` create
 * all three). Not the DLQ: under the ACLs of docs/security.md the
 * gateway's and wt-ingest's principals may not even see it. */
static wt_err ensure_topics(rd_kafka_t *rk, const wt_config *cfg,
                            const wt_kafka_topics *t, char *errstr,
                            size_t errstr_size) {
  const char *names[2] = {t->commands, t->events};
  return wt_kafka_ensure_topics(rk, names, 2, cfg->kafka_partitions,
                                TOPICS_TIMEOUT_MS, errstr, errstr_size);
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- producing ----------------------------------------------------------- */

struct ing_producer {
  rd_kafka_t *rk;
  wt_kafka_topics topics;
  int failed; /* delivery failures since the last flush */
  char first_failure[256];
  wt_sign_key *sign_key; /* NULL: commands go unsigned */
};

/* Runs in the thread that polls or flushes: the caller's. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg,
                        void *opaque) {
  ing_producer *p = opaque;
  (void)rk;
  if (!msg->err)
    return;
  if (p->failed++ == 0)
    snprintf(p->first_failure, sizeof(p->first_failure),
             "delivery to %s failed: %s", rd_kafka_topic_name(msg->rkt),
             rd_kafka_err2str(msg->err));
  WT_WARN("command not delivered topic=%s error=\"%s\"",
          rd_kafka_topic_name(msg->rkt), rd_kafka_err2str(msg->err));
}

/* The key every command is signed with (docs/security.md): -1 with the
 * reason in errstr (the file's name, never its contents). */
static int load_sign_key(ing_producer *p, const wt_config *cfg, char *errstr,
                         size_t errstr_size) {
  char why[512];
  if (wt_sign_key_load(cfg->producer_id, cfg->producer_key_file, &p->sign_key,
                       why, sizeof(why)) == WT_OK)
    return 0;
  wt_errf(errstr, errstr_size,
          "command signing key (WT_PRODUCER_ID=%s, WT_PRODUCER_KEY_FILE): %s",
          cfg->producer_id, why);
  return -1;
}

ing_producer *ing_producer_new(const wt_config *cfg, const char *client_id,
                               char *errstr, size_t errstr_size) {
  ing_producer *p = calloc(1, sizeof(*p));
  wt_kafka_conn conn;
  if (!p) {
    wt_errf(errstr, errstr_size, "out of memory");
    return NULL;
  }
  wt_kafka_topic_names(cfg->topic_prefix, &p->topics);
  if (cfg->producer_key_file[0] && load_sign_key(p, cfg, errstr, errstr_size))
    goto err;
  wt_kafka_conn_from_config(cfg, &conn);
  p->rk = wt_kafka_producer_new(&conn, client_name(client_id), on_delivery, p,
                                NULL, errstr, errstr_size);
  if (!p->rk)
    goto err;
  if (ensure_topics(p->rk, cfg, &p->topics, errstr, errstr_size) != WT_OK)
    goto err;
  return p;
err:
  if (p->rk)
    rd_kafka_destroy(p->rk);
  wt_sign_key_free(p->sign_key);
  free(p);
  return NULL;
}

/* Produces one command, with the signature headers when this producer
 * has a key (wt_sign.h: over the message key and the bytes as given). */
static wt_err produce_signed(ing_producer *p, const char *key, const char *json,
                             size_t len, char *errstr, size_t errstr_size) {
  char sig[WT_SIGN_SIGNATURE_STR];
  const char *headers[5] = {WT_SIGN_HEADER_PRODUCER, NULL,
                            WT_SIGN_HEADER_SIGNATURE, sig, NULL};
  if (!p->sign_key)
    return wt_kafka_produce(p->rk, p->topics.commands, key, strlen(key), json,
                            len, NULL, PRODUCE_QUEUE_WAIT_MS, errstr,
                            errstr_size);
  if (wt_sign_message(p->sign_key, key, strlen(key), json, len, sig) != WT_OK) {
    wt_errf(errstr, errstr_size, "cannot sign the command (OpenSSL)");
    return WT_ERR_NOMEM;
  }
  headers[1] = wt_sign_key_id(p->sign_key);
  return wt_kafka_produce_headers(p->rk, p->topics.commands, key, strlen(key),
                                  json, len, headers, NULL,
                                  PRODUCE_QUEUE_WAIT_MS, errstr, errstr_size);
}

wt_err ing_producer_send_parsed(ing_producer *p, const wt_command *cmd,
                                const char *json, size_t len, char *errstr,
                                size_t errstr_size) {
  const char *key = wt_command_key(cmd);
  wt_err err;
  assert(key[0]); /* the parser requires the routing id */
  err = produce_signed(p, key, json, len, errstr, errstr_size);
  if (err == WT_OK)
    WT_DEBUG("command queued type=%s command_id=%s key=%s",
             wt_cmd_type_name(cmd->type), cmd->command_id, key);
  rd_kafka_poll(p->rk, 0); /* serve delivery reports */
  return err;
}

wt_err ing_producer_send_json(ing_producer *p, const char *json, size_t len,
                              char *errstr, size_t errstr_size) {
  wt_command *cmd = malloc(sizeof(*cmd)); /* ~11 KiB: not on the stack */
  wt_err err;
  if (!cmd) {
    wt_errf(errstr, errstr_size, "out of memory");
    return WT_ERR_NOMEM;
  }
  /* What the worker would dead-letter never leaves: same parser. */
  err = wt_command_parse(json, len, cmd, errstr, errstr_size);
  if (err == WT_OK)
    err = ing_producer_send_parsed(p, cmd, json, len, errstr, errstr_size);
  else
    err = WT_ERR_INVALID;
  free(cmd);
  return err;
}

wt_err ing_producer_send(ing_producer *p, const wt_command *cmd, char *errstr,
                         size_t errstr_size) {
  wt_command *checked = malloc(sizeof(*checked));
  wt_buf b;
  wt_err err;
  if (!checked) {
    wt_errf(errstr, errstr_size, "out of memory");
    return WT_ERR_NOMEM;
  }
  wt_buf_init(&b, WT_COMMAND_MAX_BYTES);
  /* written once, checked once (the worker's parser), produced as written */
  err = wt_command_encode(cmd, &b, checked, errstr, errstr_size);
  if (err == WT_OK)
    err = ing_producer_send_parsed(p, checked, b.data, b.len, errstr,
                                   errstr_size);
  wt_buf_free(&b);
  free(checked);
  return err;
}

wt_err ing_producer_flush(ing_producer *p, int timeout_ms, char *errstr,
                          size_t errstr_size) {
  rd_kafka_resp_err_t ferr = rd_kafka_flush(p->rk, timeout_ms);
  if (p->failed) {
    wt_errf(errstr, errstr_size, "%s (%d message%s)", p->first_failure,
            p->failed, p->failed == 1 ? "" : "s");
    p->failed = 0;
    return WT_ERR_KAFKA;
  }
  if (ferr == RD_KAFKA_RESP_ERR__TIMED_OUT) {
    wt_errf(errstr, errstr_size,
            "%d message(s) not delivered after %d ms (is Kafka reachable?)",
            rd_kafka_outq_len(p->rk), timeout_ms);
    return WT_ERR_TIMEOUT;
  }
  return WT_OK;
}

void ing_producer_destroy(ing_producer *p) {
  if (!p)
    return;
  rd_kafka_flush(p->rk, DESTROY_FLUSH_MS);
  if (rd_kafka_outq_len(p->rk) > 0)
    WT_WARN("producer closed with messages in flight count=%d",
            rd_kafka_outq_len(p->rk));
  rd_kafka_destroy(p->rk);
  wt_sign_key_free(p->sign_key);
  free(p);
}

/* --- outcomes ------------------------------------------------------------ */

typedef struct kept_outcome {
  char command_id[WT_UUID_STR];
  char *json; /* NULL: free slot */
} kept_outcome;

struct ing_outcomes {
  rd_kafka_t *rk;
  rd_kafka_topic_t *rkt;
  rd_kafka_queue_t *q;
  int nstarted; /* partitions 0..nstarted-1 are being consumed */
  kept_outcome kept[ING_OUTCOMES_KEEP];
  size_t kept_next; /* ring: the slot to (over)write next */
};

static void outcomes_free(ing_outcomes *o) {
  for (int part = 0; part < o->nstarted; part++)
    rd_kafka_consume_stop(o->rkt, part);
  if (o->q)
    rd_kafka_queue_destroy(o->q);
  if (o->rkt)
    rd_kafka_topic_destroy(o->rkt);
  if (o->rk)
    rd_kafka_destroy(o->rk);
  for (size_t i = 0; i < ING_OUTCOMES_KEEP; i++)
    free(o->kept[i].json);
  free(o);
}

/* The high watermark of one partition. Retried until the deadline while the
 * broker is not ready to answer: a topic just created has leaders in the
 * metadata before they serve ListOffsets ("Not leader for partition"). */
static wt_err query_end(rd_kafka_t *rk, const char *topic, int part,
                        long long deadline, int64_t *high, char *errstr,
                        size_t errstr_size) {
  for (;;) {
    int64_t low = 0;
    long long left = deadline - now_ms();
    rd_kafka_resp_err_t kerr = rd_kafka_query_watermark_offsets(
        rk, topic, part, &low, high, left > 1000 ? (int)left : 1000);
    if (!kerr)
      return WT_OK;
    if ((kerr != RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION &&
         kerr != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE &&
         kerr != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART &&
         kerr != RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION &&
         kerr != RD_KAFKA_RESP_ERR__TRANSPORT) ||
        now_ms() >= deadline) {
      wt_errf(errstr, errstr_size, "end of %s [%d]: %s", topic, part,
              rd_kafka_err2str(kerr));
      return kerr == RD_KAFKA_RESP_ERR__TIMED_OUT ? WT_ERR_TIMEOUT
                                                  : WT_ERR_KAFKA;
    }
    {
      struct timespec ts = {0, 100 * 1000000L};
      nanosleep(&ts, NULL);
    }
  }
}

ing_outcomes *ing_outcomes_new(const wt_config *cfg, const char *client_id,
                               char *errstr, size_t errstr_size) {
  ing_outcomes *o = calloc(1, sizeof(*o));
  wt_kafka_conn conn;
  wt_kafka_topics t;
  long long deadline;
  int nparts;
  if (!o) {
    wt_errf(errstr, errstr_size, "out of memory");
    return NULL;
  }
  wt_kafka_topic_names(cfg->topic_prefix, &t);
  wt_kafka_conn_from_config(cfg, &conn);
  o->rk = wt_kafka_consumer_new(&conn, NULL, client_name(client_id), NULL, NULL,
                                NULL, errstr, errstr_size);
  if (!o->rk)
    goto err;
  if (ensure_topics(o->rk, cfg, &t, errstr, errstr_size) != WT_OK)
    goto err;
  deadline = now_ms() + METADATA_TIMEOUT_MS;
  nparts = wt_kafka_partition_count(o->rk, t.events, METADATA_TIMEOUT_MS);
  if (nparts <= 0) {
    wt_errf(errstr, errstr_size, "no partitions of %s in the metadata",
            t.events);
    goto err;
  }
  o->rkt = rd_kafka_topic_new(o->rk, t.events, NULL);
  o->q = rd_kafka_queue_new(o->rk);
  if (!o->rkt || !o->q) {
    wt_errf(errstr, errstr_size, "%s: %s", t.events,
            rd_kafka_err2str(rd_kafka_last_error()));
    goto err;
  }
  for (int part = 0; part < nparts; part++) {
    int64_t high = 0;
    if (query_end(o->rk, t.events, part, deadline, &high, errstr,
                  errstr_size) != WT_OK)
      goto err;
    if (rd_kafka_consume_start_queue(o->rkt, part, high, o->q) == -1) {
      wt_errf(errstr, errstr_size, "read %s [%d]: %s", t.events, part,
              rd_kafka_err2str(rd_kafka_last_error()));
      goto err;
    }
    o->nstarted = part + 1;
  }
  WT_DEBUG("outcomes reader started topic=%s partitions=%d", t.events, nparts);
  return o;
err:
  outcomes_free(o);
  return NULL;
}

void ing_outcomes_destroy(ing_outcomes *o) {
  if (o)
    outcomes_free(o);
}

/* The members of an outcome message that are read, as spans of its text
 * (p NULL: absent; a repeated key: the last one, as json-c kept it). The
 * outcome is read with wt_json's scanner: a flat object of scalars needs
 * no tree. */
typedef struct outcome_members {
  wt_json_span kind, command_id, project_id, user_id, type, seq, code, message;
} outcome_members;

static void on_outcome_member(void *ctx, const wt_json_span *key,
                              const wt_json_span *value) {
#define OUTCOME_KEY(k)                                                         \
  { #k, sizeof(#k) - 1, offsetof(outcome_members, k) }
  static const struct {
    const char *name;
    size_t len, off;
  } keys[] = {OUTCOME_KEY(kind),       OUTCOME_KEY(command_id),
              OUTCOME_KEY(project_id), OUTCOME_KEY(user_id),
              OUTCOME_KEY(type),       OUTCOME_KEY(seq),
              OUTCOME_KEY(code),       OUTCOME_KEY(message)};
#undef OUTCOME_KEY
  if (key->escaped)
    return; /* none of these keys needs an escape */
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
    if (key->len == keys[i].len && memcmp(key->p, keys[i].name, key->len) == 0)
      memcpy((char *)ctx + keys[i].off, value, sizeof(*value));
}

/* Scans len bytes: 0 and m filled when they are one JSON object, else -1. */
static int outcome_scan(const char *text, size_t len, outcome_members *m) {
  wt_json_type type = WT_JSON_NULL;
  char err[128];
  memset(m, 0, sizeof(*m));
  if (wt_json_scan(text, len, OUTCOME_JSON_DEPTH, &type, on_outcome_member, m,
                   err, sizeof(err)) != WT_OK ||
      type != WT_JSON_OBJECT)
    return -1;
  return 0;
}

/* A string member decoded into out[size]: true when it is there, a string
 * without a NUL, and fits (or cut_ok: cut to fit). out is "" otherwise. */
static bool member_str(const wt_json_span *v, char *out, size_t size,
                       bool cut_ok) {
  size_t n;
  out[0] = '\0';
  if (!v->p || v->type != WT_JSON_STRING)
    return false;
  n = wt_json_string(v, out, size, NULL);
  if ((n >= size && !cut_ok) || strlen(out) != (n < size ? n : size - 1)) {
    out[0] = '\0'; /* too long, or a \u0000 in it */
    return false;
  }
  return true;
}

/* A UUID member: true when it is there and one. */
static bool member_uuid(const wt_json_span *v, char out[WT_UUID_STR]) {
  if (member_str(v, out, WT_UUID_STR, false) && wt_uuid_valid(out))
    return true;
  out[0] = '\0';
  return false;
}

/* kind: "event" (1), "rejected" (0), else -1 */
static int outcome_kind(const outcome_members *m) {
  char kind[16];
  if (!member_str(&m->kind, kind, sizeof(kind), false))
    return -1;
  return strcmp(kind, "event") == 0      ? 1
         : strcmp(kind, "rejected") == 0 ? 0
                                         : -1;
}

/* The command id of an outcome message ("event" or "rejected"): 0, or -1
 * when the message is not an outcome. */
static int outcome_command_id(const char *text, size_t len,
                              char id[WT_UUID_STR]) {
  outcome_members m;
  if (outcome_scan(text, len, &m) != 0 || outcome_kind(&m) < 0 ||
      !member_uuid(&m.command_id, id))
    return -1;
  return 0;
}

static void keep_outcome(ing_outcomes *o, const char *id, char *json) {
  kept_outcome *slot = &o->kept[o->kept_next];
  free(slot->json); /* the oldest goes */
  memcpy(slot->command_id, id, WT_UUID_STR);
  slot->json = json;
  o->kept_next = (o->kept_next + 1) % ING_OUTCOMES_KEEP;
}

static char *take_kept(ing_outcomes *o, const char *command_id) {
  for (size_t i = 0; i < ING_OUTCOMES_KEEP; i++) {
    kept_outcome *k = &o->kept[i];
    if (k->json && strcmp(k->command_id, command_id) == 0) {
      char *json = k->json;
      k->json = NULL;
      return json;
    }
  }
  return NULL;
}

wt_err ing_outcomes_wait(ing_outcomes *o, const char *command_id,
                         int timeout_ms, char **json_out) {
  long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
  *json_out = take_kept(o, command_id);
  if (*json_out)
    return WT_OK;
  for (;;) {
    long long left = deadline - now_ms();
    rd_kafka_message_t *msg =
        rd_kafka_consume_queue(o->q, left > 0 ? (int)left : 0);
    char id[WT_UUID_STR];
    char *text;
    if (!msg) {
      if (left <= 0)
        return WT_ERR_TIMEOUT;
      continue;
    }
    if (msg->err) {
      if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        WT_WARN("outcomes read error partition=%d error=\"%s\"",
                (int)msg->partition, rd_kafka_message_errstr(msg));
      rd_kafka_message_destroy(msg);
      continue;
    }
    if (msg->len > ING_OUTCOME_MAX_BYTES) {
      WT_WARN("outcome skipped: too large partition=%d offset=%lld bytes=%zu",
              (int)msg->partition, (long long)msg->offset, msg->len);
      rd_kafka_message_destroy(msg);
      continue;
    }
    text = malloc(msg->len + 1);
    if (!text) {
      rd_kafka_message_destroy(msg);
      return WT_ERR_NOMEM;
    }
    if (msg->len)
      memcpy(text, msg->payload, msg->len);
    text[msg->len] = '\0';
    rd_kafka_message_destroy(msg);
    if (outcome_command_id(text, strlen(text), id) != 0) {
      free(text); /* not an outcome: nothing waits for it */
      continue;
    }
    if (strcmp(id, command_id) == 0) {
      *json_out = text;
      return WT_OK;
    }
    keep_outcome(o, id, text);
  }
}

wt_err ing_outcome_parse(const char *json, ing_outcome *out, char *errstr,
                         size_t errstr_size) {
  outcome_members m;
  char code[32];
  int kind;
  int64_t seq = 0;

  memset(out, 0, sizeof(*out));
  if (outcome_scan(json, strlen(json), &m) != 0) {
    wt_errf(errstr, errstr_size, "outcome: not a JSON object");
    return WT_ERR_INVALID;
  }
  kind = outcome_kind(&m);
  if (kind < 0) {
    wt_errf(errstr, errstr_size, "outcome: kind is not event or rejected");
    return WT_ERR_INVALID;
  }
  if (!member_uuid(&m.command_id, out->command_id)) {
    wt_errf(errstr, errstr_size, "outcome: no command_id");
    return WT_ERR_INVALID;
  }
  if (!member_uuid(&m.project_id, out->project_id))
    member_uuid(&m.user_id, out->project_id); /* a user.* event's stream */
  out->applied = kind == 1;
  if (out->applied) {
    member_str(&m.type, out->type, sizeof(out->type), true);
    if (m.seq.p && m.seq.type == WT_JSON_INT &&
        wt_json_int64(&m.seq, &seq) == 0)
      out->seq = (long long)seq;
  } else {
    member_str(&m.code, code, sizeof(code), false);
    out->code = wt_reject_parse(code);
    if (out->code == WT_REJECT_NONE) {
      wt_errf(errstr, errstr_size, "outcome: rejection without a known code");
      return WT_ERR_INVALID;
    }
    member_str(&m.message, out->message, sizeof(out->message), true);
  }
  return WT_OK;
}
