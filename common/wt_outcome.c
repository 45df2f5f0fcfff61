/* wt_outcome: the outcome documents through wt_jw. They run once per
 * command on the worker's hot path (json-c trees cost several times more),
 * so the buffers are reserved up front and keys are literals. */
#include "wt_outcome.h"

#include <stdlib.h>
#include <string.h>

#include "wt_jw.h"
#include "wt_rules.h"

#define US_PER_S INT64_C(1000000)
#define JSON_CAP ((size_t)1 << 20) /* far above any state the rules allow */
#define JSON_TYPICAL 512 /* reserved up front: a log's data takes ~400 */

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* A string member; NULL is written as "" (the contract's strings are never
 * null here). */
#define KSTR(w, K, v) wt_jw_kstr(w, K, (v) ? (v) : "")

/* A builder that failed: frees its buffer, returns NULL. */
static char *fail(wt_buf *b) {
  wt_buf_free(b);
  return NULL;
}

static void log_json(wt_jw *w, const wt_log_state *l) {
  KSTR(w, "id", l->id);
  KSTR(w, "project_id", l->project_id);
  KSTR(w, "user_id", l->user_id);
  wt_jw_ktime(w, "started_at", l->started_at);
  if (l->ended_null) {
    wt_jw_knull(w, "ended_at");
    wt_jw_knull(w, "duration_seconds");
  } else {
    wt_jw_ktime(w, "ended_at", l->ended_at);
    wt_jw_ki64(w, "duration_seconds",
               floor_div(l->ended_at - l->started_at, US_PER_S));
  }
  KSTR(w, "description", l->description);
  wt_jw_ki64(w, "version", l->version);
  wt_jw_ktime(w, "created_at", l->created_at);
  wt_jw_ktime(w, "updated_at", l->updated_at);
}

bool wt_decision_data_json_to(wt_buf *b, const wt_decision *d) {
  wt_jw w;
  wt_buf_reset(b);
  if (!d || d->effect == WT_EFFECT_NONE)
    return false;
  wt_buf_reserve(b, JSON_TYPICAL);
  wt_jw_init(&w, b);
  wt_jw_obj(&w);
  switch (d->effect) {
  case WT_EFFECT_PROJECT_CREATE:
  case WT_EFFECT_PROJECT_RENAME:
    KSTR(&w, "id", d->project.id);
    KSTR(&w, "name", d->project.name);
    KSTR(&w, "created_by", d->project.created_by);
    wt_jw_ktime(&w, "created_at", d->project.created_at);
    break;
  case WT_EFFECT_MEMBER_SET:
  case WT_EFFECT_MEMBER_REMOVE:
    KSTR(&w, "project_id", d->stream_id);
    KSTR(&w, "user_id", d->member.user_id);
    KSTR(&w, "role", wt_role_name(d->member.role));
    wt_jw_ktime(&w, "added_at", d->member.added_at);
    break;
  case WT_EFFECT_LOG_CREATE:
  case WT_EFFECT_LOG_UPDATE:
  case WT_EFFECT_LOG_DELETE: log_json(&w, &d->log); break;
  case WT_EFFECT_USER_CREATE:
  case WT_EFFECT_USER_UPDATE:
    KSTR(&w, "id", d->user.id);
    KSTR(&w, "username", d->user.username);
    KSTR(&w, "display_name", d->user.display_name);
    wt_jw_kbool(&w, "is_active", d->user.active);
    wt_jw_ki64(&w, "token_version", d->user.token_version);
    wt_jw_ktime(&w, "created_at", d->user.created_at);
    break;
  case WT_EFFECT_NONE: break;
  }
  wt_jw_obj_end(&w);
  return wt_jw_finish(&w);
}

char *wt_decision_data_json(const wt_decision *d) {
  wt_buf b;
  wt_buf_init(&b, JSON_CAP);
  return wt_decision_data_json_to(&b, d) ? b.data : fail(&b);
}

static const char *actor_or_system(const char *actor_id) {
  return actor_id && actor_id[0] ? actor_id : "system";
}

/* data_json, already JSON, goes in as the last member. The stream's key
 * follows from the type alone, so that an outcome rebuilt from an events
 * row (whose project_id column holds a user.* event's user) comes out as
 * the first one did. */
bool wt_outcome_event_json_to(wt_buf *b, const char *type,
                              const char *stream_id, int64_t seq,
                              const char *command_id, const char *actor_id,
                              int64_t at, const char *data_json, size_t dlen) {
  wt_jw w;
  wt_buf_reset(b);
  if (!type || !command_id || !data_json)
    return false;
  if (dlen < 2 || data_json[0] != '{' || data_json[dlen - 1] != '}')
    return false; /* not a data object */
  wt_buf_reserve(b, JSON_TYPICAL + dlen);
  wt_jw_init(&w, b);
  wt_jw_obj(&w);
  wt_jw_ki64(&w, "v", 1);
  wt_jw_kstr(&w, "kind", "event");
  wt_jw_kstr(&w, "type", type);
  if (stream_id && stream_id[0]) {
    if (strncmp(type, "user.", 5) == 0)
      wt_jw_kstr(&w, "user_id", stream_id);
    else
      wt_jw_kstr(&w, "project_id", stream_id);
  }
  wt_jw_ki64(&w, "seq", seq);
  wt_jw_kstr(&w, "command_id", command_id);
  wt_jw_kstr(&w, "actor_id", actor_or_system(actor_id));
  wt_jw_ktime(&w, "at", at);
  wt_jw_kraw(&w, "data", data_json, dlen);
  wt_jw_obj_end(&w);
  return wt_jw_finish(&w);
}

char *wt_outcome_event_json(const char *type, const char *stream_id,
                            int64_t seq, const char *command_id,
                            const char *actor_id, int64_t at,
                            const char *data_json) {
  wt_buf b;
  size_t dlen = data_json ? strlen(data_json) : 0;
  wt_buf_init(&b, JSON_CAP + dlen);
  return wt_outcome_event_json_to(&b, type, stream_id, seq, command_id,
                                  actor_id, at, data_json, dlen)
             ? b.data
             : fail(&b);
}

bool wt_outcome_rejected_json_to(wt_buf *b, const char *command_id,
                                 const char *project_id, const char *actor_id,
                                 wt_reject code, const char *message) {
  wt_jw w;
  wt_buf_reset(b);
  if (!command_id || code == WT_REJECT_NONE)
    return false;
  wt_buf_reserve(b, JSON_TYPICAL);
  wt_jw_init(&w, b);
  wt_jw_obj(&w);
  wt_jw_ki64(&w, "v", 1);
  wt_jw_kstr(&w, "kind", "rejected");
  wt_jw_kstr(&w, "command_id", command_id);
  if (project_id && project_id[0])
    wt_jw_kstr(&w, "project_id", project_id);
  wt_jw_kstr(&w, "actor_id", actor_or_system(actor_id));
  wt_jw_kstr(&w, "code", wt_reject_name(code));
  KSTR(&w, "message", message);
  wt_jw_obj_end(&w);
  return wt_jw_finish(&w);
}

char *wt_outcome_rejected_json(const char *command_id, const char *project_id,
                               const char *actor_id, wt_reject code,
                               const char *message) {
  wt_buf b;
  wt_buf_init(&b, JSON_CAP);
  return wt_outcome_rejected_json_to(&b, command_id, project_id, actor_id, code,
                                     message)
             ? b.data
             : fail(&b);
}
