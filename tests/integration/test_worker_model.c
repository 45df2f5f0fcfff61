/* A property test of the worker's batch against a model, on a real
 * PostgreSQL (issue 11): a random stream of valid and invalid commands over
 * a few users and projects, with redelivery of earlier messages anywhere (a
 * producer's copy at a new offset, or Kafka reading a batch again from its
 * old offsets after a crash), random batch boundaries, caches dropped at
 * random (a restarted worker) and batches decided ahead at random. Every
 * command must get the model's outcome the first time, every copy the first
 * outcome byte for byte, and the tables must equal the model's state.
 *
 * The model is the contract's rules written plainly over arrays, in the
 * order the worker checks them (common/wt_rules.c), deciding each command
 * when it is first seen: it shares no code with the worker.
 *
 *   WT_MODEL_SEED      first seed (default 20261204)
 *   WT_MODEL_COMMANDS  commands per run (default 3000)
 *   WT_MODEL_RUNS      runs, each with the next seed (default 5)
 *   WT_MODEL_SECONDS   > 0: keep running new seeds until this many seconds
 *                      have passed (make soak) */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "wk_batch.h"
#include "wt_log.h"
#include "wt_migrate.h"
#include "wt_test.h"

#ifndef WT_MIGRATIONS_DIR
#error "WT_MIGRATIONS_DIR must point at migrations/"
#endif

#define NUSERS 6
#define NPROJECTS 4
#define NPARTS 2
#define MAX_LOGS 4096
#define BATCH_MAX 64
#define JSON_MAX 8192

/* --- the model --------------------------------------------------------- */

typedef struct m_user {
  char id[WT_UUID_STR], name[16];
  bool exists, active;
} m_user;

typedef struct m_project {
  char id[WT_UUID_STR], name[32];
  bool exists;
  int role[NUSERS]; /* 0 none, 1 member, 2 owner */
  int64_t seq;
} m_project;

typedef struct m_log {
  char id[WT_UUID_STR];
  int project, author;
  bool exists;
  int64_t version;
  char description[48];
  bool running;
} m_log;

typedef struct model {
  m_user users[NUSERS];
  m_project projects[NPROJECTS];
  m_log logs[MAX_LOGS];
  int nlogs;
} model;

/* One command of the stream: its bytes and what the model says of it. */
typedef struct entry {
  char *json;
  char key[WT_UUID_STR];
  int partition;
  char expect[16]; /* "event", a rejection code, or "dlq" */
  int64_t seq;     /* a project event's seq, else 0 */
  char *first;     /* the outcome first published */
} entry;

typedef struct sent {
  int entry;
  int partition;
  int64_t offset;
} sent;

typedef struct sim {
  uint64_t rng;
  model m;
  entry *e;
  int ne, cap;
  /* the worker */
  char dbname[128];
  wt_db *db;
  wt_config cfg;
  wk_state *st;
  wk_batch *batch;
  wk_positions pos;
  int64_t offset[NPARTS];
  sent last[BATCH_MAX]; /* the batch before, to read again */
  int nlast;
  /* what happened */
  long batches, copies, rewinds, colds, prepared, applied, rejected, dead;
} sim;

static uint64_t rnd(sim *s) {
  uint64_t x = s->rng; /* xorshift64* */
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  s->rng = x;
  return x * 0x2545F4914F6CDD1DULL;
}

static int pick(sim *s, int n) {
  return (int)(rnd(s) % (uint64_t)n);
}

static bool chance(sim *s, int percent) {
  return pick(s, 100) < percent;
}

/* a v4 uuid from the seed's stream: a run is repeatable */
static void gen_uuid(sim *s, char out[WT_UUID_STR]) {
  uint64_t a = rnd(s), b = rnd(s);
  snprintf(out, WT_UUID_STR, "%08x-%04x-4%03x-%04x-%012llx",
           (unsigned)(a >> 32), (unsigned)(a >> 16 & 0xffff),
           (unsigned)(a & 0xfff), (unsigned)(0x8000 | (b >> 48 & 0x3fff)),
           (unsigned long long)(b & 0xffffffffffffULL));
}

static int partition_of(const char *key) {
  uint32_t h = 2166136261u;
  for (const char *p = key; *p; p++)
    h = (h ^ (unsigned char)*p) * 16777619u;
  return (int)(h % NPARTS);
}

static int owners(const m_project *p) {
  int n = 0;
  for (int u = 0; u < NUSERS; u++)
    n += p->role[u] == 2;
  return n;
}

/* --- the stream -------------------------------------------------------- */

static entry *new_entry(sim *s, const char *key) {
  entry *e;
  if (s->ne == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 1024;
    s->e = realloc(s->e, (size_t)s->cap * sizeof(*s->e));
    assert_non_null(s->e);
  }
  e = &s->e[s->ne++];
  memset(e, 0, sizeof(*e));
  e->json = malloc(JSON_MAX);
  assert_non_null(e->json);
  snprintf(e->key, sizeof(e->key), "%s", key);
  e->partition = partition_of(key);
  return e;
}

static void envelope(sim *s, entry *e, const char *type, const char *actor,
                     const char *payload) {
  char cid[WT_UUID_STR];
  bool user_cmd = strncmp(type, "user.", 5) == 0;
  gen_uuid(s, cid);
  snprintf(e->json, JSON_MAX,
           "{\"v\":1,\"command_id\":\"%s\",\"type\":\"%s\",\"actor_id\":\"%s\","
           "\"%s\":\"%s\",\"issued_at\":\"2026-12-04T10:00:00Z\","
           "\"payload\":%s}",
           cid, type, actor, user_cmd ? "user_id" : "project_id", e->key,
           payload);
}

static void outcome(entry *e, const char *code, int64_t seq) {
  snprintf(e->expect, sizeof(e->expect), "%s", code);
  e->seq = seq;
}

static const char *actor_id(const sim *s, int u) {
  return s->m.users[u].id;
}

static void gen_user(sim *s, bool deactivate, int u) {
  m_user *mu = &s->m.users[u];
  entry *e = new_entry(s, mu->id);
  char payload[256];
  if (!deactivate) {
    snprintf(payload, sizeof(payload),
             "{\"user_id\":\"%s\",\"username\":\"%s\",\"display_name\":"
             "\"User %d\",\"password_hash\":\"$y$j9T$x$y\"}",
             mu->id, mu->name, u);
    envelope(s, e, "user.create", "system", payload);
    if (mu->exists)
      outcome(e, "conflict", 0);
    else {
      mu->exists = mu->active = true;
      outcome(e, "event", 0);
    }
    return;
  }
  snprintf(payload, sizeof(payload), "{\"user_id\":\"%s\"}", mu->id);
  if (chance(s, 50)) {
    envelope(s, e, "user.deactivate", "system", payload);
    if (!mu->exists)
      outcome(e, "not_found", 0);
    else if (!mu->active)
      outcome(e, "conflict", 0);
    else {
      mu->active = false;
      outcome(e, "event", 0);
    }
  } else {
    envelope(s, e, "user.revoke_tokens", "system", payload);
    outcome(e, mu->exists ? "event" : "not_found", 0);
  }
}

/* actor_project's two outcomes: false and e rejected not_found, or true */
static bool member_or_not_found(m_project *p, int actor, entry *e) {
  if (!p->exists || !p->role[actor]) {
    outcome(e, "not_found", 0);
    return false;
  }
  return true;
}

static void gen_project(sim *s, int kind, int pi, int actor) {
  m_project *p = &s->m.projects[pi];
  entry *e = new_entry(s, p->id);
  char payload[256];
  int target = pick(s, NUSERS);
  m_user *t = &s->m.users[target];
  switch (kind) {
  case 0: /* project.create */
    envelope(s, e, "project.create", actor_id(s, actor),
             "{\"name\":\"Project\"}");
    if (!s->m.users[actor].exists || !s->m.users[actor].active)
      outcome(e, "forbidden", 0);
    else if (p->exists)
      outcome(e, "conflict", 0);
    else {
      p->exists = true;
      snprintf(p->name, sizeof(p->name), "Project");
      memset(p->role, 0, sizeof(p->role));
      p->role[actor] = 2;
      outcome(e, "event", ++p->seq);
    }
    return;
  case 1: /* project.rename */
    snprintf(payload, sizeof(payload), "{\"name\":\"Name %d\"}", pick(s, 100));
    envelope(s, e, "project.rename", actor_id(s, actor), payload);
    if (!member_or_not_found(p, actor, e))
      return;
    if (p->role[actor] != 2)
      return outcome(e, "forbidden", 0);
    snprintf(p->name, sizeof(p->name), "%.*s", 20, strstr(payload, "Name"));
    *strchr(p->name, '"') = '\0';
    return outcome(e, "event", ++p->seq);
  case 2: { /* member.add */
    int role = chance(s, 30) ? 2 : 1;
    snprintf(payload, sizeof(payload), "{\"user_id\":\"%s\",\"role\":\"%s\"}",
             t->id, role == 2 ? "owner" : "member");
    envelope(s, e, "member.add", actor_id(s, actor), payload);
    if (!member_or_not_found(p, actor, e))
      return;
    if (p->role[actor] != 2)
      return outcome(e, "forbidden", 0);
    if (!t->exists || !t->active)
      return outcome(e, "not_found", 0);
    if (p->role[target] == role)
      return outcome(e, "conflict", 0);
    if (p->role[target] == 2 && owners(p) <= 1)
      return outcome(e, "conflict", 0);
    p->role[target] = role;
    return outcome(e, "event", ++p->seq);
  }
  default: /* member.remove */
    if (chance(s, 30))
      target = actor; /* leaving */
    snprintf(payload, sizeof(payload), "{\"user_id\":\"%s\"}",
             s->m.users[target].id);
    envelope(s, e, "member.remove", actor_id(s, actor), payload);
    if (!member_or_not_found(p, actor, e))
      return;
    if (!p->role[target])
      return outcome(e, "not_found", 0);
    if (p->role[actor] != 2 && target != actor)
      return outcome(e, "forbidden", 0);
    if (p->role[target] == 2 && owners(p) <= 1)
      return outcome(e, "conflict", 0);
    p->role[target] = 0;
    return outcome(e, "event", ++p->seq);
  }
}

/* a user of project pi most of the time, anyone sometimes */
static int pick_actor(sim *s, int pi) {
  const m_project *p = &s->m.projects[pi];
  int members[NUSERS], n = 0;
  for (int u = 0; u < NUSERS; u++)
    if (p->role[u])
      members[n++] = u;
  if (n && chance(s, 85))
    return members[pick(s, n)];
  return pick(s, NUSERS);
}

static void gen_log_create(sim *s, int pi, int actor) {
  m_project *p = &s->m.projects[pi];
  entry *e = new_entry(s, p->id);
  char payload[4096], id[WT_UUID_STR], ended[32] = "null";
  int h = pick(s, 20), span = 60 + pick(s, 3500);
  bool bad_span = chance(s, 3), running = !bad_span && chance(s, 20);
  bool too_long = chance(s, 2); /* payload errors: invalid before all else */
  m_log *old = NULL;
  char desc[2100];
  if (s->m.nlogs && chance(s, 4)) {
    old = &s->m.logs[pick(s, s->m.nlogs)]; /* an id used before */
    snprintf(id, sizeof(id), "%s", old->id);
  } else {
    gen_uuid(s, id);
  }
  if (bad_span) /* ended_at not after started_at */
    snprintf(ended, sizeof(ended), "\"2026-12-01T%02d:00:00Z\"", h);
  else if (!running)
    snprintf(ended, sizeof(ended), "\"2026-12-01T%02d:%02d:%02dZ\"", h,
             span / 60, span % 60);
  if (too_long) {
    memset(desc, 'x', 2001);
    desc[2001] = '\0';
  } else {
    snprintf(desc, sizeof(desc), "work %d", pick(s, 1000));
  }
  snprintf(payload, sizeof(payload),
           "{\"log_id\":\"%s\",\"started_at\":\"2026-12-01T%02d:00:00Z\","
           "\"ended_at\":%s,\"description\":\"%s\"}",
           id, h, ended, desc);
  envelope(s, e, "log.create", actor_id(s, actor), payload);
  if (too_long || bad_span)
    return outcome(e, "invalid", 0);
  if (!member_or_not_found(p, actor, e))
    return;
  if (old && old->exists)
    return outcome(e, "conflict", 0);
  if (!old) {
    assert_true(s->m.nlogs < MAX_LOGS);
    old = &s->m.logs[s->m.nlogs++];
    snprintf(old->id, sizeof(old->id), "%s", id);
  }
  old->project = pi;
  old->author = actor;
  old->exists = true;
  old->version = 1;
  old->running = running;
  snprintf(old->description, sizeof(old->description), "%s", desc);
  outcome(e, "event", ++p->seq);
}

static void gen_log_change(sim *s, int pi, bool del) {
  m_project *p = &s->m.projects[pi];
  entry *e = new_entry(s, p->id);
  char payload[512], extra[64] = "", id[WT_UUID_STR];
  m_log *l = NULL;
  int actor, candidates[MAX_LOGS], n = 0;
  for (int i = 0; i < s->m.nlogs; i++)
    if (s->m.logs[i].project == pi && s->m.logs[i].exists)
      candidates[n++] = i;
  if (n && chance(s, 85))
    l = &s->m.logs[candidates[pick(s, n)]];
  else if (s->m.nlogs && chance(s, 70))
    l = &s->m.logs[pick(s, s->m.nlogs)]; /* deleted, or elsewhere */
  if (l)
    snprintf(id, sizeof(id), "%s", l->id);
  else
    gen_uuid(s, id);
  actor = l && chance(s, 80) ? l->author : pick_actor(s, pi);
  if (l && chance(s, 30))
    snprintf(extra, sizeof(extra), ",\"expected_version\":%lld",
             (long long)(l->version - (chance(s, 25) ? 1 : 0)));
  if (del) {
    snprintf(payload, sizeof(payload), "{\"log_id\":\"%s\"%s}", id, extra);
    envelope(s, e, "log.delete", actor_id(s, actor), payload);
  } else {
    snprintf(payload, sizeof(payload),
             "{\"log_id\":\"%s\",\"description\":\"edit %d\"%s}", id,
             pick(s, 1000), extra);
    envelope(s, e, "log.update", actor_id(s, actor), payload);
  }
  if (extra[0] && strtoll(strchr(extra, ':') + 1, NULL, 10) < 1)
    return outcome(e, "invalid", 0); /* a payload error */
  if (!member_or_not_found(p, actor, e))
    return;
  if (!l || !l->exists || l->project != pi)
    return outcome(e, "not_found", 0);
  if (l->author != actor)
    return outcome(e, "forbidden", 0);
  if (extra[0] && strtoll(strchr(extra, ':') + 1, NULL, 10) != l->version)
    return outcome(e, "conflict", 0);
  if (del) {
    l->exists = false;
  } else {
    l->version++;
    snprintf(l->description, sizeof(l->description), "%s",
             strstr(payload, "edit "));
    *strchr(l->description, '"') = '\0';
  }
  outcome(e, "event", ++p->seq);
}

static void gen_garbage(sim *s) {
  entry *e = new_entry(s, s->m.projects[0].id);
  snprintf(e->json, JSON_MAX, "{\"v\":1,\"type\":\"log.create\",\"n\":%d",
           pick(s, 1000));
  outcome(e, "dlq", 0);
}

/* The next command of the stream, decided by the model. */
static void gen_command(sim *s) {
  int r = pick(s, 100), pi = pick(s, NPROJECTS), actor = pick_actor(s, pi);
  if (r < 30 || r >= 97)
    gen_log_create(s, pi, actor);
  else if (r < 52)
    gen_log_change(s, pi, false);
  else if (r < 60)
    gen_log_change(s, pi, true);
  else if (r < 70)
    gen_project(s, 2, pi, actor); /* member.add */
  else if (r < 76)
    gen_project(s, 3, pi, actor); /* member.remove */
  else if (r < 81)
    gen_project(s, 1, pi, actor); /* rename */
  else if (r < 86)
    gen_project(s, 0, pi, pick(s, NUSERS)); /* create */
  else if (r < 91)
    gen_user(s, false, pick(s, NUSERS));
  else if (r < 96)
    gen_user(s, true, pick(s, NUSERS));
  else
    gen_garbage(s);
}

/* --- the worker -------------------------------------------------------- */

static void new_worker(sim *s) {
  wk_state_caps caps = {
      .users = 1000, .projects = 1000, .logs = 100000, .batch_max = BATCH_MAX};
  wk_batch_destroy(s->batch);
  wk_state_destroy(s->st);
  s->st = wk_state_new(&caps);
  s->batch = wk_batch_new(s->db, s->st, &s->cfg, "wt-worker", "t.commands");
  assert_non_null(s->st);
  assert_non_null(s->batch);
}

static void sim_init(sim *s, uint64_t seed) {
  char err[512] = "";
  const char *url;
  memset(s, 0, sizeof(*s));
  s->rng = seed * 2654435761u + 1;
  url = wt_test_create_database("model", s->dbname, sizeof(s->dbname));
  if (wt_db_connect(url, "t_model", false, &s->db, err, sizeof(err)) != WT_OK ||
      wt_migrate_run(s->db, WT_MIGRATIONS_DIR, NULL, err, sizeof(err)) != WT_OK)
    fail_msg("setup: %s", err);
  assert_int_equal(wt_config_load(&s->cfg, NULL, NULL, err, sizeof(err)),
                   WT_OK);
  s->cfg.batch_max = BATCH_MAX;
  {
    /* WT_LOG_LEVEL=warn quiets the retries' INFO lines (make soak) */
    wt_log_level level = WT_LOG_INFO;
    const char *v = getenv("WT_LOG_LEVEL");
    if (v && wt_log_level_parse(v, &level) != 0)
      level = WT_LOG_INFO;
    wt_log_init("model", level, stderr);
  }
  for (int p = 0; p < WK_MAX_PARTITIONS; p++)
    s->pos.next[p] = s->pos.floor[p] = -1;
  for (int u = 0; u < NUSERS; u++) {
    gen_uuid(s, s->m.users[u].id);
    snprintf(s->m.users[u].name, sizeof(s->m.users[u].name), "user%d", u);
  }
  for (int p = 0; p < NPROJECTS; p++)
    gen_uuid(s, s->m.projects[p].id);
  new_worker(s);
}

static void sim_free(sim *s) {
  for (int i = 0; i < s->ne; i++) {
    free(s->e[i].json);
    free(s->e[i].first);
  }
  free(s->e);
  wk_batch_destroy(s->batch);
  wk_state_destroy(s->st);
  wt_db_destroy(s->db);
  wt_test_drop_database(s->dbname);
}

/* Checks message i's outcome (out) against the model or its first one. */
static void check_outcome(sim *s, entry *e, const wk_out *out) {
  char want[48];
  if (strcmp(e->expect, "dlq") == 0) {
    if (out->topic != WK_OUT_DLQ)
      fail_msg("%s: want a dead letter, got %s", e->json, out->value);
    s->dead++;
    return;
  }
  if (out->topic != WK_OUT_EVENTS)
    fail_msg("%s: went to the DLQ: %s", e->json, out->value);
  if (e->first) {
    if (strcmp(e->first, out->value) != 0)
      fail_msg("a copy of %s\n got %s\n first %s", e->json, out->value,
               e->first);
    return;
  }
  if (strcmp(e->expect, "event") == 0)
    snprintf(want, sizeof(want), "\"kind\":\"event\"");
  else
    snprintf(want, sizeof(want), "\"code\":\"%s\"", e->expect);
  if (!strstr(out->value, want))
    fail_msg("%s\n want %s, got %s", e->json, want, out->value);
  if (e->seq) {
    const char *p = strstr(out->value, "\"seq\":");
    if (!p || strtoll(p + 6, NULL, 10) != e->seq)
      fail_msg("%s\n want seq %lld, got %s", e->json, (long long)e->seq,
               out->value);
  }
  if (strcmp(e->expect, "event") == 0)
    s->applied++;
  else
    s->rejected++;
  e->first = strdup(out->value);
  assert_non_null(e->first);
}

/* Runs one batch of the entries in idx[0..n) at the offsets given
 * (offset < 0: the partition's next). */
static void run_batch(sim *s, const sent *in, int n) {
  wk_msg msgs[BATCH_MAX];
  sent batch[BATCH_MAX];
  wk_batch_result r;
  char err[1024] = "";
  wt_err rc;
  for (int i = 0; i < n; i++) {
    entry *e = &s->e[in[i].entry];
    batch[i] = in[i];
    if (batch[i].offset < 0) {
      batch[i].partition = e->partition;
      batch[i].offset = s->offset[e->partition]++;
    }
    /* signed by a producer that may issue all of them (the signatures
     * themselves: test_worker_batch, test_sign) */
    msgs[i] = (wk_msg){
        .partition = batch[i].partition,
        .offset = batch[i].offset,
        .key = e->key,
        .key_len = strlen(e->key),
        .value = e->json,
        .len = strlen(e->json),
        .signer = {WT_SIGN_OK, WT_SCOPE_SYSTEM | WT_SCOPE_USERS, "t-model"}};
  }
  bool cold = chance(s, 5), prepared = false;
  if (cold) {
    new_worker(s); /* a restart: nothing cached */
    s->colds++;
  }
  if (chance(s, 50) && wk_batch_prepare(s->batch, msgs, (size_t)n, &s->pos)) {
    s->prepared++;
    prepared = true;
  }
  if (getenv("WT_MODEL_TRACE"))
    printf("batch=%ld n=%d cold=%d prepared=%d\n", s->batches, n, cold,
           prepared);
  wk_batch_result_init(&r);
  rc = wk_batch_run(s->batch, msgs, (size_t)n, &s->pos, &r, err, sizeof(err));
  if (rc != WT_OK)
    fail_msg("batch %ld: %s (%s)", s->batches, wt_strerror(rc), err);
  assert_int_equal(r.nouts, n);
  for (int i = 0; i < n; i++) {
    if (getenv("WT_MODEL_TRACE"))
      printf("batch=%ld part=%d off=%lld entry=%d expect=%s %s\n  -> %.200s\n",
             s->batches, batch[i].partition, (long long)batch[i].offset,
             batch[i].entry, s->e[batch[i].entry].expect,
             s->e[batch[i].entry].json + 60, r.outs[i].value);
    check_outcome(s, &s->e[batch[i].entry], &r.outs[i]);
  }
  wk_batch_result_clear(&r);
  memcpy(s->last, batch, (size_t)n * sizeof(*batch));
  s->nlast = n;
  s->batches++;
}

static long sql_long(sim *s, const char *name, const char *sql) {
  PGresult *r = NULL;
  char err[512];
  long v;
  if (wt_db_exec(s->db, name, sql, 0, NULL, &r, err, sizeof(err)) != WT_OK)
    fail_msg("%s: %s", sql, err);
  v = atol(PQgetvalue(r, 0, 0));
  PQclear(r);
  return v;
}

/* The tables against the model, row by row. */
static void check_tables(sim *s) {
  PGresult *r = NULL;
  char err[512];
  long logs = 0, members = 0, users = 0;
  const char *q_logs = "SELECT id, project_id, user_id, description, version, "
                       "ended_at IS NULL FROM work_logs";
  if (wt_db_exec(s->db, "m_logs", q_logs, 0, NULL, &r, err, sizeof(err)) !=
      WT_OK)
    fail_msg("%s", err);
  for (int i = 0; i < s->m.nlogs; i++) {
    const m_log *l = &s->m.logs[i];
    bool found = false;
    logs += l->exists;
    for (int row = 0; row < PQntuples(r) && !found; row++) {
      char version[24];
      if (strcmp(PQgetvalue(r, row, 0), l->id) != 0)
        continue;
      found = true;
      snprintf(version, sizeof(version), "%lld", (long long)l->version);
      if (!l->exists ||
          strcmp(PQgetvalue(r, row, 1), s->m.projects[l->project].id) != 0 ||
          strcmp(PQgetvalue(r, row, 2), s->m.users[l->author].id) != 0 ||
          strcmp(PQgetvalue(r, row, 3), l->description) != 0 ||
          strcmp(PQgetvalue(r, row, 4), version) != 0 ||
          (PQgetvalue(r, row, 5)[0] == 't') != l->running)
        fail_msg("log %s: row (%s, %s, %s, v%s) against the model's (exists "
                 "%d, %s, v%s)",
                 l->id, PQgetvalue(r, row, 1), PQgetvalue(r, row, 2),
                 PQgetvalue(r, row, 3), PQgetvalue(r, row, 4), l->exists,
                 l->description, version);
    }
    if (l->exists && !found)
      fail_msg("log %s is missing", l->id);
  }
  if (PQntuples(r) != logs)
    fail_msg("%d work_logs rows, the model has %ld", PQntuples(r), logs);
  PQclear(r);
  if (wt_db_exec(s->db, "m_members",
                 "SELECT project_id, user_id, role FROM project_members", 0,
                 NULL, &r, err, sizeof(err)) != WT_OK)
    fail_msg("%s", err);
  for (int p = 0; p < NPROJECTS; p++)
    for (int u = 0; u < NUSERS; u++) {
      const char *want = s->m.projects[p].role[u] == 2   ? "owner"
                         : s->m.projects[p].role[u] == 1 ? "member"
                                                         : NULL;
      const char *got = NULL;
      for (int row = 0; row < PQntuples(r); row++)
        if (strcmp(PQgetvalue(r, row, 0), s->m.projects[p].id) == 0 &&
            strcmp(PQgetvalue(r, row, 1), s->m.users[u].id) == 0)
          got = PQgetvalue(r, row, 2);
      if (!s->m.projects[p].exists)
        want = NULL;
      members += want != NULL;
      if ((want == NULL) != (got == NULL) || (want && strcmp(want, got) != 0))
        fail_msg("project %d user %d: role %s, the model's %s", p, u,
                 got ? got : "none", want ? want : "none");
    }
  if (PQntuples(r) != members)
    fail_msg("%d member rows, the model has %ld", PQntuples(r), members);
  PQclear(r);
  if (wt_db_exec(s->db, "m_projects", "SELECT id, name, seq FROM projects", 0,
                 NULL, &r, err, sizeof(err)) != WT_OK)
    fail_msg("%s", err);
  for (int row = 0; row < PQntuples(r); row++) {
    int p = 0;
    while (p < NPROJECTS &&
           strcmp(s->m.projects[p].id, PQgetvalue(r, row, 0)) != 0)
      p++;
    if (p == NPROJECTS || !s->m.projects[p].exists ||
        strcmp(PQgetvalue(r, row, 1), s->m.projects[p].name) != 0 ||
        atoll(PQgetvalue(r, row, 2)) != s->m.projects[p].seq)
      fail_msg("project row %s (%s, seq %s) against the model",
               PQgetvalue(r, row, 0), PQgetvalue(r, row, 1),
               PQgetvalue(r, row, 2));
  }
  PQclear(r);
  if (wt_db_exec(s->db, "m_users", "SELECT id, is_active FROM users", 0, NULL,
                 &r, err, sizeof(err)) != WT_OK)
    fail_msg("%s", err);
  for (int u = 0; u < NUSERS; u++) {
    bool found = false;
    users += s->m.users[u].exists;
    for (int row = 0; row < PQntuples(r); row++)
      if (strcmp(PQgetvalue(r, row, 0), s->m.users[u].id) == 0) {
        found = true;
        if ((PQgetvalue(r, row, 1)[0] == 't') != s->m.users[u].active)
          fail_msg("user %d: is_active %s", u, PQgetvalue(r, row, 1));
      }
    if (found != s->m.users[u].exists)
      fail_msg("user %d: in the table %d, in the model %d", u, found,
               s->m.users[u].exists);
  }
  if (PQntuples(r) != users)
    fail_msg("%d users, the model has %ld", PQntuples(r), users);
  PQclear(r);
  /* every project's events run 1..seq; each command decided once */
  assert_int_equal(
      sql_long(s, "m_gaps",
               "SELECT count(*) FROM (SELECT e.project_id FROM "
               "events e JOIN projects p ON p.id = e.project_id "
               "GROUP BY e.project_id HAVING count(*) <> max(e.seq) "
               "OR max(e.seq) <> max(p.seq)) g"),
      0);
  assert_int_equal(sql_long(s, "m_decided",
                            "SELECT (SELECT count(*) FROM events) + "
                            "(SELECT count(*) FROM rejections)"),
                   s->applied + s->rejected);
}

/* One run: n commands from seed; returns the number of messages sent. */
static long run_model(uint64_t seed, int ncommands) {
  sim *s = calloc(1, sizeof(*s));
  int next = 0;
  long messages = 0;
  assert_non_null(s);
  sim_init(s, seed);
  /* the users, each project with an owner and two members */
  for (int u = 0; u < NUSERS; u++)
    gen_user(s, false, u);
  for (int p = 0; p < NPROJECTS; p++) {
    gen_project(s, 0, p, p % NUSERS);
    for (int k = 1; k <= 2; k++) {
      m_project *mp = &s->m.projects[p];
      entry *e = new_entry(s, mp->id);
      int u = (p + k) % NUSERS;
      char payload[128];
      snprintf(payload, sizeof(payload),
               "{\"user_id\":\"%s\",\"role\":\"member\"}", s->m.users[u].id);
      envelope(s, e, "member.add", actor_id(s, p % NUSERS), payload);
      mp->role[u] = 1;
      outcome(e, "event", ++mp->seq);
    }
  }
  while (s->ne < ncommands)
    gen_command(s);
  while (next < s->ne) {
    sent b[BATCH_MAX];
    int n = 0, size = 1 + pick(s, chance(s, 20) ? BATCH_MAX : 24);
    if (s->nlast && chance(s, 4)) {
      /* Kafka reads the batch before again from its offsets */
      memcpy(b, s->last, (size_t)s->nlast * sizeof(*b));
      n = s->nlast;
      s->rewinds++;
    }
    while (n < size && n < BATCH_MAX) {
      if (next && chance(s, 2)) {
        /* a producer's copy of any message sent so far */
        int back = chance(s, 50) ? pick(s, next < 8 ? next : 8) : pick(s, next);
        b[n++] = (sent){.entry = next - 1 - back, .offset = -1};
        s->copies++;
      } else if (next < s->ne) {
        b[n++] = (sent){.entry = next++, .offset = -1};
      } else {
        break;
      }
    }
    messages += n;
    run_batch(s, b, n);
  }
  check_tables(s);
  printf("model seed=%llu commands=%d messages=%ld batches=%ld copies=%ld "
         "rewinds=%ld cold=%ld prepared=%ld applied=%ld rejected=%ld "
         "dead=%ld\n",
         (unsigned long long)seed, s->ne, messages, s->batches, s->copies,
         s->rewinds, s->colds, s->prepared, s->applied, s->rejected, s->dead);
  fflush(stdout);
  sim_free(s);
  free(s);
  return messages;
}

static long env_long(const char *name, long def) {
  const char *v = getenv(name);
  return v && *v ? strtol(v, NULL, 10) : def;
}

static void test_worker_against_model(void **state) {
  uint64_t seed = (uint64_t)env_long("WT_MODEL_SEED", 20261204);
  int ncommands = (int)env_long("WT_MODEL_COMMANDS", 3000);
  long seconds = env_long("WT_MODEL_SECONDS", 0), runs = 0;
  long min_runs = env_long("WT_MODEL_RUNS", 5);
  time_t until = time(NULL) + seconds;
  (void)state;
  do {
    run_model(seed + (uint64_t)runs, ncommands);
    runs++;
  } while (runs < min_runs || (seconds > 0 && time(NULL) < until));
  printf("model runs=%ld seeds=%llu..%llu\n", runs, (unsigned long long)seed,
         (unsigned long long)(seed + (uint64_t)runs - 1));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_worker_against_model),
  };
  return cmocka_run_group_tests_name("worker_model", tests, NULL, NULL);
}
