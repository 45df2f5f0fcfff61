#include "gw_events.h"

#include <json-c/json.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wt_jw.h"
#include "wt_kafka.h"
#include "wt_log.h"
#include "wt_time.h"

#define MAX_PARTITIONS 1024
#define METADATA_EVERY_MS 2000

struct gw_events {
  rd_kafka_t *rk;
  char topic[WT_TOPIC_MAX];
  pthread_t thread;
  bool started;
  atomic_bool stopping;
  atomic_bool *kafka_ok;
  struct lws_context *ctx;
  pthread_mutex_t lock;
  pthread_cond_t room; /* signalled when the loop took events */
  gw_event *head, *tail;
  size_t queued;
};

void gw_event_free(gw_event *e) {
  if (!e)
    return;
  free(e->data);
  free(e->raw);
  free(e);
}

void gw_event_free_list(gw_event *e) {
  while (e) {
    gw_event *n = e->next;
    gw_event_free(e);
    e = n;
  }
}

static bool get_str(json_object *o, const char *key, char *out, size_t size) {
  json_object *v;
  const char *s;
  if (!json_object_object_get_ex(o, key, &v) ||
      !json_object_is_type(v, json_type_string))
    return false;
  s = json_object_get_string(v);
  if (strlen(s) >= size)
    return false;
  memcpy(out, s, strlen(s) + 1);
  return true;
}

static bool get_i64(json_object *o, const char *key, int64_t *out) {
  json_object *v;
  if (!json_object_object_get_ex(o, key, &v) ||
      !json_object_is_type(v, json_type_int))
    return false;
  *out = json_object_get_int64(v);
  return true;
}

static void read_data(gw_event *e, json_object *data) {
  char role[16] = "";
  json_object *v;
  if (strncmp(e->type, "member.", 7) == 0) {
    get_str(data, "user_id", e->user_id, sizeof(e->user_id));
    if (get_str(data, "role", role, sizeof(role)))
      e->role = strcmp(role, "owner") == 0 ? WT_ROLE_OWNER : WT_ROLE_MEMBER;
  } else if (strncmp(e->type, "user.", 5) == 0) {
    get_str(data, "id", e->user_id, sizeof(e->user_id));
    get_str(data, "username", e->username, sizeof(e->username));
    get_str(data, "display_name", e->display_name, sizeof(e->display_name));
    get_i64(data, "token_version", &e->token_version);
    if (json_object_object_get_ex(data, "is_active", &v) &&
        json_object_is_type(v, json_type_boolean))
      e->is_active = json_object_get_boolean(v);
  } else if (strcmp(e->type, "project.created") == 0) {
    get_str(data, "created_by", e->created_by, sizeof(e->created_by));
  }
}

gw_event *gw_event_parse(const char *json, size_t len, char *errstr,
                         size_t errstr_size) {
  json_tokener *tok = json_tokener_new_ex(32);
  json_object *o = NULL, *data;
  gw_event *e = calloc(1, sizeof(*e));
  char kind[16] = "";
  if (!tok || !e)
    goto fail;
  o = json_tokener_parse_ex(tok, json, (int)len);
  /* trailing bytes too: raw goes out as it came */
  if (!o || json_tokener_get_error(tok) != json_tokener_success ||
      json_tokener_get_parse_end(tok) != len ||
      !json_object_is_type(o, json_type_object)) {
    wt_errf(errstr, errstr_size, "not a JSON object");
    goto fail;
  }
  if (!get_str(o, "kind", kind, sizeof(kind)) ||
      !get_str(o, "command_id", e->command_id, sizeof(e->command_id))) {
    wt_errf(errstr, errstr_size, "no kind or command_id");
    goto fail;
  }
  get_str(o, "project_id", e->project_id, sizeof(e->project_id));
  get_str(o, "actor_id", e->actor_id, sizeof(e->actor_id));
  if (strcmp(kind, "event") == 0) {
    e->applied = true;
    if (!get_str(o, "type", e->type, sizeof(e->type)) ||
        !get_i64(o, "seq", &e->seq) || e->seq < 1 ||
        !json_object_object_get_ex(o, "data", &data) ||
        !json_object_is_type(data, json_type_object)) {
      wt_errf(errstr, errstr_size, "event without type, seq or data");
      goto fail;
    }
    get_str(o, "at", e->at, sizeof(e->at));
    read_data(e, data);
    /* a user's events name their stream user_id (and never project_id) */
    if (strncmp(e->type, "user.", 5) == 0 && !e->user_id[0])
      get_str(o, "user_id", e->user_id, sizeof(e->user_id));
    e->data = strdup(json_object_to_json_string_ext(
        data, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    e->raw = strndup(json, len);
    if (!e->data || !e->raw)
      goto fail;
  } else if (strcmp(kind, "rejected") == 0) {
    get_str(o, "code", e->code, sizeof(e->code));
    get_str(o, "message", e->message, sizeof(e->message));
  } else {
    wt_errf(errstr, errstr_size, "unknown kind");
    goto fail;
  }
  json_object_put(o);
  json_tokener_free(tok);
  return e;
fail:
  json_object_put(o);
  if (tok)
    json_tokener_free(tok);
  gw_event_free(e);
  return NULL;
}

gw_event *gw_event_from_row(const char *project_id, int64_t seq,
                            const char *type, const char *command_id,
                            const char *actor_id, int64_t at_us,
                            const char *data) {
  json_tokener *tok = json_tokener_new_ex(32);
  json_object *d = NULL;
  gw_event *e = calloc(1, sizeof(*e));
  bool user;
  wt_buf raw;
  wt_jw w;
  wt_buf_init(&raw, GW_EVENT_MAX_BYTES);
  if (!tok || !e)
    goto fail;
  d = json_tokener_parse_ex(tok, data, (int)strlen(data));
  if (!d || !json_object_is_type(d, json_type_object))
    goto fail;
  e->applied = true;
  e->seq = seq;
  user = strncmp(type, "user.", 5) == 0;
  if (!user) /* a user's stream is its user_id: the row's project_id column */
    snprintf(e->project_id, sizeof(e->project_id), "%s", project_id);
  snprintf(e->type, sizeof(e->type), "%s", type);
  snprintf(e->command_id, sizeof(e->command_id), "%s", command_id);
  snprintf(e->actor_id, sizeof(e->actor_id), "%s",
           actor_id && actor_id[0] ? actor_id : "system");
  wt_time_format(at_us, e->at, sizeof(e->at));
  read_data(e, d);
  if (user && !e->user_id[0])
    snprintf(e->user_id, sizeof(e->user_id), "%s", project_id);
  e->data = strdup(json_object_to_json_string_ext(
      d, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
  wt_jw_init(&w, &raw);
  wt_jw_obj(&w);
  wt_jw_ki64(&w, "v", 1);
  wt_jw_kstr(&w, "kind", "event");
  wt_jw_kstr(&w, "type", e->type);
  if (user)
    wt_jw_kstr(&w, "user_id", project_id);
  else
    wt_jw_kstr(&w, "project_id", project_id);
  wt_jw_ki64(&w, "seq", seq);
  wt_jw_kstr(&w, "command_id", e->command_id);
  wt_jw_kstr(&w, "actor_id", e->actor_id);
  wt_jw_kstr(&w, "at", e->at);
  if (e->data)
    wt_jw_kraw(&w, "data", e->data, strlen(e->data));
  wt_jw_obj_end(&w);
  if (!e->data || !wt_buf_ok(&raw))
    goto fail;
  e->raw = raw.data;
  json_object_put(d);
  json_tokener_free(tok);
  return e;
fail:
  wt_buf_free(&raw);
  json_object_put(d);
  if (tok)
    json_tokener_free(tok);
  gw_event_free(e);
  return NULL;
}

void gw_event_frame(wt_buf *b, const gw_event *e) {
  wt_jw w;
  wt_jw_init(&w, b);
  wt_jw_obj(&w);
  wt_jw_kstr(&w, "type", "event");
  wt_jw_kstr(&w, "event_type", e->type);
  wt_jw_kstr(&w, "project_id", e->project_id);
  wt_jw_ki64(&w, "seq", e->seq);
  wt_jw_kstr(&w, "command_id", e->command_id);
  wt_jw_kstr(&w, "actor_id", e->actor_id);
  wt_jw_kstr(&w, "at", e->at);
  if (e->data)
    wt_jw_kraw(&w, "data", e->data, strlen(e->data));
  else
    wt_jw_knull(&w, "data");
  wt_jw_obj_end(&w);
}

/* --- the consumer ----------------------------------------------------- */

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

gw_events *gw_events_new(const wt_config *cfg, atomic_bool *kafka_ok,
                         char *errstr, size_t errstr_size) {
  const char *const extra[] = {"fetch.wait.max.ms", "10", NULL};
  gw_events *ev = calloc(1, sizeof(*ev));
  wt_kafka_conn conn;
  wt_kafka_topics topics;
  rd_kafka_topic_partition_list_t *parts = NULL;
  int n;
  if (!ev) {
    wt_errf(errstr, errstr_size, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&ev->lock, NULL);
  pthread_cond_init(&ev->room, NULL);
  ev->kafka_ok = kafka_ok;
  wt_kafka_topic_names(cfg->topic_prefix, &topics);
  snprintf(ev->topic, sizeof(ev->topic), "%s", topics.events);
  wt_kafka_conn_from_config(cfg, &conn);
  ev->rk = wt_kafka_consumer_new(&conn, NULL, "wt-gateway", extra, NULL, NULL,
                                 errstr, errstr_size);
  if (!ev->rk)
    goto err;
  /* a refused login fails the start at once, not 5 s later as "no
   * partitions" */
  if (wt_kafka_wait_connected(ev->rk, 5000, errstr, errstr_size) != WT_OK)
    goto err;
  n = wt_kafka_partition_count(ev->rk, ev->topic, 5000);
  if (n <= 0 || n > MAX_PARTITIONS) {
    wt_errf(errstr, errstr_size, "topic %s has no partitions (yet)", ev->topic);
    goto err;
  }
  parts = rd_kafka_topic_partition_list_new(n);
  for (int p = 0; p < n; p++) {
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(ev->rk, ev->topic, p, &lo, &hi, 5000);
    if (e) {
      wt_errf(errstr, errstr_size, "watermarks of %s/%d: %s", ev->topic, p,
              rd_kafka_err2str(e));
      goto err;
    }
    rd_kafka_topic_partition_list_add(parts, ev->topic, p)->offset = hi;
  }
  if (rd_kafka_assign(ev->rk, parts)) {
    wt_errf(errstr, errstr_size, "cannot assign %s", ev->topic);
    goto err;
  }
  rd_kafka_topic_partition_list_destroy(parts);
  atomic_store(ev->kafka_ok, true);
  WT_INFO("events consumer assigned topic=%s partitions=%d", ev->topic, n);
  return ev;
err:
  if (parts)
    rd_kafka_topic_partition_list_destroy(parts);
  if (ev->rk)
    rd_kafka_destroy(ev->rk);
  pthread_mutex_destroy(&ev->lock);
  pthread_cond_destroy(&ev->room);
  free(ev);
  return NULL;
}

static void check_metadata(gw_events *ev) {
  const rd_kafka_metadata_t *md = NULL;
  bool ok = rd_kafka_metadata(ev->rk, 0, NULL, &md, 1000) ==
            RD_KAFKA_RESP_ERR_NO_ERROR;
  if (md)
    rd_kafka_metadata_destroy(md);
  if (ok != atomic_load(ev->kafka_ok))
    WT_INFO("Kafka %s", ok ? "answers again" : "does not answer");
  atomic_store(ev->kafka_ok, ok);
}

static void *thread_main(void *arg) {
  gw_events *ev = arg;
  int64_t next_check = 0;
  char err[256];
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  while (!atomic_load(&ev->stopping)) {
    gw_event *first = NULL, *last = NULL;
    int got = 0, n = 0;
    rd_kafka_message_t *m;
    if (mono_ms() >= next_check) {
      check_metadata(ev);
      next_check = mono_ms() + METADATA_EVERY_MS;
    }
    /* backpressure: while the loop is GW_EVENTS_QUEUE_MAX behind, the
     * outcomes wait in Kafka, not in memory */
    pthread_mutex_lock(&ev->lock);
    while (ev->queued >= GW_EVENTS_QUEUE_MAX && !atomic_load(&ev->stopping)) {
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_nsec += 100 * 1000000L;
      if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&ev->room, &ev->lock, &until);
    }
    pthread_mutex_unlock(&ev->lock);
    /* a batch: what is there now, up to 256 outcomes */
    for (m = rd_kafka_consumer_poll(ev->rk, 100); m;
         m = got < 256 ? rd_kafka_consumer_poll(ev->rk, 0) : NULL) {
      got++;
      if (m->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED) {
        /* expected under the ACLs of docs/security.md: librdkafka looks up
         * the coordinator of the placeholder group.id that assign() needs
         * (wt_kafka_consumer_new), which this consumer never joins and the
         * gateway's principal may not describe */
        WT_DEBUG("events consumer error=\"%s\"", rd_kafka_message_errstr(m));
      } else if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
          WT_WARN("events consumer error=\"%s\"", rd_kafka_message_errstr(m));
      } else if (m->len > GW_EVENT_MAX_BYTES) {
        WT_WARN("outcome too large, skipped bytes=%zu", m->len);
      } else {
        gw_event *e = gw_event_parse(m->payload, m->len, err, sizeof(err));
        if (!e) {
          WT_WARN("not an outcome, skipped error=\"%s\"", err);
        } else {
          if (last)
            last->next = e;
          else
            first = e;
          last = e;
          n++;
        }
      }
      rd_kafka_message_destroy(m);
    }
    if (!first)
      continue;
    pthread_mutex_lock(&ev->lock);
    if (ev->tail)
      ev->tail->next = first;
    else
      ev->head = first;
    ev->tail = last;
    ev->queued += (size_t)n;
    pthread_mutex_unlock(&ev->lock);
    lws_cancel_service(ev->ctx);
  }
  return NULL;
}

int gw_events_start(gw_events *ev, struct lws_context *ctx) {
  ev->ctx = ctx;
  if (pthread_create(&ev->thread, NULL, thread_main, ev) != 0)
    return -1;
  ev->started = true;
  return 0;
}

gw_event *gw_events_take(gw_events *ev, size_t max, bool *more) {
  gw_event *list, *last;
  size_t n = 1;
  pthread_mutex_lock(&ev->lock);
  list = last = ev->head;
  if (!list) {
    *more = false;
    pthread_mutex_unlock(&ev->lock);
    return NULL;
  }
  while (last->next && n < max) {
    last = last->next;
    n++;
  }
  ev->head = last->next;
  if (!ev->head)
    ev->tail = NULL;
  last->next = NULL;
  ev->queued -= n;
  *more = ev->head != NULL;
  pthread_cond_signal(&ev->room);
  pthread_mutex_unlock(&ev->lock);
  return list;
}

void gw_events_destroy(gw_events *ev) {
  if (!ev)
    return;
  atomic_store(&ev->stopping, true);
  if (ev->started)
    pthread_join(ev->thread, NULL);
  rd_kafka_consumer_close(ev->rk);
  rd_kafka_destroy(ev->rk);
  gw_event_free_list(ev->head); /* the thread is gone */
  ev->head = ev->tail = NULL;
  pthread_mutex_destroy(&ev->lock);
  pthread_cond_destroy(&ev->room);
  free(ev);
}
