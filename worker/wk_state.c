#include "wk_state.h"

#include <stdlib.h>
#include <string.h>

#include "wk_oom.h"
#include "wt_lru.h"

#define OV_TAG 0 /* every overlay entry: cleared in one remove_tag */

typedef struct user_entry {
  wt_user_state s;
  int64_t seq;         /* the user's event stream */
  bool existed;        /* overlay: in PostgreSQL before the batch */
  char *password_hash; /* overlay of a created user */
} user_entry;

typedef struct project_entry {
  wt_project_state s; /* s.members points at members */
  wt_member_state *members;
  size_t cap;
  bool exists; /* false: known absent */
  bool existed;
  /* overlay: whether the batch changed the members, and if so what they
   * were before (the batch's log commands leave them alone, and then
   * planning has nothing to compare) */
  bool members_changed;
  wt_member_state *base;
  size_t nbase;
} project_entry;

typedef struct log_entry {
  wt_log_state s; /* s.description points at desc */
  char *desc;
  bool exists;
  bool existed;
  /* overlay: deleted and created again in the batch (perhaps in another
   * project, by another author): every column of its row is rewritten */
  bool recreated;
  /* overlay: its id was taken as new without asking PostgreSQL */
  bool assumed_new;
} log_entry;

typedef enum kind { K_USER, K_PROJECT, K_LOG } kind;

typedef struct uncertain_key {
  kind k;
  char id[WT_UUID_STR];
  char username[WT_USERNAME_MAX + 1]; /* a created user's */
} uncertain_key;

typedef struct ov_item {
  kind k;
  void *e;
  int tag; /* cache tag at commit */
} ov_item;

struct wk_state {
  wt_lru *users, *user_names, *projects, *logs;
  wt_lru *created; /* ids an earlier command of the batch creates */
  wt_lru *ov_users, *ov_user_names, *ov_projects, *ov_logs;
  ov_item *ov;
  size_t nov, ov_cap;
  /* what the last commit put into the caches before its transaction's
   * outcome was known (wk_state_settle / wk_state_invalidate) */
  uncertain_key *unsure;
  size_t nunsure;
  uint64_t epoch;
};

/* --- entries ----------------------------------------------------------- */

static void user_free(void *p) {
  user_entry *u = p;
  if (!u)
    return;
  free(u->password_hash);
  free(u);
}

static void project_free(void *p) {
  project_entry *e = p;
  if (!e)
    return;
  free(e->members);
  free(e->base);
  free(e);
}

static void log_free(void *p) {
  log_entry *e = p;
  if (!e)
    return;
  free(e->desc);
  free(e);
}

static void kind_free(kind k, void *e) {
  if (k == K_USER)
    user_free(e);
  else if (k == K_PROJECT)
    project_free(e);
  else
    log_free(e);
}

static bool members_reserve(project_entry *e, size_t n) {
  wt_member_state *m;
  size_t cap = e->cap ? e->cap : 4;
  if (n <= e->cap)
    return true;
  while (cap < n)
    cap *= 2;
  m = realloc(e->members, cap * sizeof(*m));
  if (!m)
    return false;
  e->members = m;
  e->cap = cap;
  e->s.members = m;
  return true;
}

static void log_set_desc(log_entry *e, const char *desc) {
  char *d = strdup(desc ? desc : "");
  if (!d)
    wk_oom(__func__);
  free(e->desc);
  e->desc = d;
  e->s.description = d;
}

/* --- lifecycle --------------------------------------------------------- */

wk_state *wk_state_new(const wk_state_caps *caps) {
  wk_state *st = calloc(1, sizeof(*st));
  size_t ov = caps->batch_max * 2 + 16;
  if (!st)
    return NULL;
  st->users = wt_lru_new(caps->users, user_free);
  st->user_names = wt_lru_new(caps->users, free);
  st->projects = wt_lru_new(caps->projects, project_free);
  st->logs = wt_lru_new(caps->logs, log_free);
  /* overlay maps index entries owned by st->ov */
  st->ov_users = wt_lru_new(ov, NULL);
  st->ov_user_names = wt_lru_new(ov, NULL);
  st->ov_projects = wt_lru_new(ov, NULL);
  st->ov_logs = wt_lru_new(ov, NULL);
  st->created = wt_lru_new(ov, NULL);
  st->ov_cap = caps->batch_max * 4 + 16;
  st->ov = calloc(st->ov_cap, sizeof(*st->ov));
  st->unsure = calloc(st->ov_cap, sizeof(*st->unsure));
  if (!st->unsure || !st->users || !st->user_names || !st->projects ||
      !st->logs || !st->ov_users || !st->ov_user_names || !st->ov_projects ||
      !st->ov_logs || !st->ov) {
    wk_state_destroy(st);
    return NULL;
  }
  return st;
}

void wk_state_destroy(wk_state *st) {
  if (!st)
    return;
  wk_state_discard(st);
  wt_lru_destroy(st->users);
  wt_lru_destroy(st->user_names);
  wt_lru_destroy(st->projects);
  wt_lru_destroy(st->logs);
  wt_lru_destroy(st->ov_users);
  wt_lru_destroy(st->ov_user_names);
  wt_lru_destroy(st->ov_projects);
  wt_lru_destroy(st->ov_logs);
  wt_lru_destroy(st->created);
  free(st->ov);
  free(st->unsure);
  free(st);
}

/* --- the view ---------------------------------------------------------- */

static user_entry *find_user(wk_state *st, const char *id) {
  user_entry *u = wt_lru_peek(st->ov_users, id);
  return u ? u : wt_lru_get(st->users, id);
}

static project_entry *find_project(wk_state *st, const char *id) {
  project_entry *p = wt_lru_peek(st->ov_projects, id);
  return p ? p : wt_lru_get(st->projects, id);
}

static log_entry *find_log(wk_state *st, const char *id) {
  log_entry *l = wt_lru_peek(st->ov_logs, id);
  return l ? l : wt_lru_get(st->logs, id);
}

static const wt_user_state *view_user(void *ctx, const char *id) {
  user_entry *u = find_user(ctx, id);
  return u ? &u->s : NULL;
}

static const wt_user_state *view_user_by_name(void *ctx, const char *name) {
  wk_state *st = ctx;
  const char *id = wt_lru_peek(st->ov_user_names, name);
  if (!id)
    id = wt_lru_get(st->user_names, name);
  return id ? view_user(ctx, id) : NULL;
}

static const wt_project_state *view_project(void *ctx, const char *id) {
  project_entry *p = find_project(ctx, id);
  return p && p->exists ? &p->s : NULL;
}

static const wt_log_state *view_log(void *ctx, const char *id) {
  log_entry *l = find_log(ctx, id);
  return l && l->exists ? &l->s : NULL;
}

void wk_state_view(wk_state *st, wt_rules_view *view, int64_t now,
                   int64_t max_log_seconds) {
  view->ctx = st;
  view->user = view_user;
  view->user_by_name = view_user_by_name;
  view->project = view_project;
  view->log = view_log;
  view->now = now;
  view->max_log_seconds = max_log_seconds;
}

/* --- what to load ------------------------------------------------------ */

void wk_need_init(wk_need *n) {
  memset(n, 0, sizeof(*n));
}

static void idlist_free(wk_idlist *l) {
  free(l->ids);
  free(l->tags);
  wt_lru_destroy(l->seen);
  memset(l, 0, sizeof(*l));
}

void wk_need_free(wk_need *n) {
  idlist_free(&n->user_ids);
  idlist_free(&n->usernames);
  idlist_free(&n->project_ids);
  idlist_free(&n->log_ids);
}

static void idlist_reset(wk_idlist *l) {
  if (l->n)
    wt_lru_remove_tag(l->seen, 0);
  l->n = 0;
}

void wk_need_reset(wk_need *n) {
  idlist_reset(&n->user_ids);
  idlist_reset(&n->usernames);
  idlist_reset(&n->project_ids);
  idlist_reset(&n->log_ids);
}

bool wk_need_empty(const wk_need *n) {
  return !n->user_ids.n && !n->usernames.n && !n->project_ids.n &&
         !n->log_ids.n;
}

/* Adds id once: a batch asks for up to thousands of ids, so the list keeps
 * them as a set too (a wt_lru, as st->created does), not a scan per id. */
static void idlist_add(wk_idlist *l, const char *id, int tag) {
  size_t len = strnlen(id, sizeof(l->ids[0]) - 1); /* parse checked it */
  if (!l->seen && !(l->seen = wt_lru_new(WT_LRU_CAPACITY_MAX, NULL)))
    wk_oom(__func__);
  if (wt_lru_peek(l->seen, id))
    return;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    void *ids = realloc(l->ids, cap * sizeof(*l->ids));
    void *tags = ids ? realloc(l->tags, cap * sizeof(*l->tags)) : NULL;
    if (!ids || !tags)
      wk_oom(__func__);
    l->ids = ids;
    l->tags = tags;
    l->cap = cap;
  }
  memcpy(l->ids[l->n], id, len);
  l->ids[l->n][len] = '\0';
  l->tags[l->n++] = tag;
  (void)wt_lru_put(l->seen, id, l, 0); /* if not: a duplicate, harmless */
}

void wk_idlist_literal(const wk_idlist *l, wt_buf *out) {
  wt_buf_putc(out, '{');
  for (size_t i = 0; i < l->n; i++) {
    if (i)
      wt_buf_putc(out, ',');
    wt_buf_puts(out, l->ids[i]);
  }
  wt_buf_putc(out, '}');
}

/* fresh: read it from PostgreSQL even when cached. A user's own commands
 * (user.*) arrive in order on the user's partition, so for them the cache
 * is exact; but that partition may belong to another worker, so where a
 * project command depends on a user (an active creator, an active new
 * member), the user is read in the batch's load. */
static void need_user(wk_state *st, const char *id, int tag, bool fresh,
                      wk_need *need) {
  if (!*id || wt_lru_peek(st->ov_users, id))
    return;
  if (fresh || !wt_lru_get_pin(st->users, id))
    idlist_add(&need->user_ids, id, tag);
}

static void need_project(wk_state *st, const char *id, int tag, wk_need *need) {
  if (!*id || wt_lru_peek(st->ov_projects, id))
    return;
  if (!wt_lru_get_pin(st->projects, id))
    idlist_add(&need->project_ids, id, tag);
}

static void need_log(wk_state *st, const char *id, int tag, wk_need *need) {
  if (!*id || wt_lru_peek(st->ov_logs, id))
    return;
  if (!wt_lru_get_pin(st->logs, id))
    idlist_add(&need->log_ids, id, tag);
}

/* Remembers that cmd creates id, so that later commands of the batch do not
 * ask PostgreSQL for it. */
static void mark_created(wk_state *st, const char *id) {
  if (*id && !wt_lru_peek(st->created, id))
    (void)wt_lru_put(st->created, id, st, 0);
}

static bool created_earlier(const wk_state *st, const char *id) {
  return wt_lru_peek(st->created, id) != NULL;
}

void wk_state_collect(wk_state *st, const wt_command *cmds, size_t n,
                      const int *partitions, const wk_collect_mode *mode,
                      bool verify_all, wk_need *need) {
  wt_lru_remove_tag(st->created, 0);
  for (size_t i = 0; i < n; i++) {
    const wt_command *c = &cmds[i];
    int tag = partitions[i];
    wk_collect_mode m = mode ? mode[i] : WK_COLLECT_FRESH;
    /* an unsure create loads its id and marks nothing created */
    bool verify = verify_all || m == WK_COLLECT_UNSURE;
    bool creates = m == WK_COLLECT_FRESH;
    if (m == WK_COLLECT_SKIP || c->type == WT_CMD_NONE ||
        c->payload_error != WT_REJECT_NONE)
      continue;
    switch (c->type) {
    case WT_CMD_PROJECT_CREATE:
      if (!created_earlier(st, c->actor_id))
        need_user(st, c->actor_id, -1, true, need);
      if (verify && !created_earlier(st, c->project_id))
        need_project(st, c->project_id, tag, need);
      if (creates)
        mark_created(st, c->project_id);
      break;
    case WT_CMD_PROJECT_RENAME:
    case WT_CMD_MEMBER_REMOVE:
      if (!created_earlier(st, c->project_id))
        need_project(st, c->project_id, tag, need);
      break;
    case WT_CMD_MEMBER_ADD:
      if (!created_earlier(st, c->project_id))
        need_project(st, c->project_id, tag, need);
      if (!created_earlier(st, c->target_user_id))
        need_user(st, c->target_user_id, -1, true, need);
      break;
    case WT_CMD_LOG_CREATE:
      if (!created_earlier(st, c->project_id))
        need_project(st, c->project_id, tag, need);
      if (verify && !created_earlier(st, c->log_id))
        need_log(st, c->log_id, tag, need);
      if (creates)
        mark_created(st, c->log_id);
      break;
    case WT_CMD_LOG_UPDATE:
    case WT_CMD_LOG_DELETE:
      if (!created_earlier(st, c->project_id))
        need_project(st, c->project_id, tag, need);
      if (!created_earlier(st, c->log_id))
        need_log(st, c->log_id, tag, need);
      break;
    case WT_CMD_USER_CREATE:
      if (verify && !created_earlier(st, c->target_user_id)) {
        need_user(st, c->target_user_id, -1, false, need);
        if (!wt_lru_peek(st->ov_user_names, c->username) &&
            !wt_lru_get(st->user_names, c->username))
          idlist_add(&need->usernames, c->username, -1);
      }
      if (creates)
        mark_created(st, c->target_user_id);
      break;
    case WT_CMD_USER_DEACTIVATE:
    case WT_CMD_USER_REVOKE_TOKENS:
      if (!created_earlier(st, c->target_user_id))
        need_user(st, c->target_user_id, -1, false, need);
      break;
    default: break;
    }
  }
}

bool wk_state_knows_created(wk_state *st, const wt_command *create) {
  switch (create->type) {
  case WT_CMD_PROJECT_CREATE:
    return wt_lru_peek(st->ov_projects, create->project_id) ||
           wt_lru_peek(st->projects, create->project_id);
  case WT_CMD_LOG_CREATE:
    return wt_lru_peek(st->ov_logs, create->log_id) ||
           wt_lru_peek(st->logs, create->log_id);
  case WT_CMD_USER_CREATE:
    return wt_lru_peek(st->ov_users, create->target_user_id) ||
           wt_lru_peek(st->users, create->target_user_id);
  default: return true;
  }
}

/* --- loading ----------------------------------------------------------- */

void wk_state_load_users(wk_state *st, const wk_user_row *rows, size_t n) {
  for (size_t i = 0; i < n; i++) {
    user_entry *u = calloc(1, sizeof(*u));
    char *id;
    if (!u)
      wk_oom(__func__);
    u->s = rows[i].s;
    u->seq = rows[i].seq;
    if (!(id = strdup(u->s.id)))
      wk_oom(__func__);
    if (wt_lru_put(st->user_names, u->s.username, id, -1) != WT_OK)
      free(id);
    if (wt_lru_put(st->users, u->s.id, u, -1) != WT_OK)
      user_free(u);
    else
      wt_lru_pin(st->users, u->s.id);
  }
}

void wk_state_load_projects(wk_state *st, const wt_project_state *rows,
                            size_t n, const wk_need *need) {
  for (size_t k = 0; k < need->project_ids.n; k++) {
    const char *id = need->project_ids.ids[k];
    project_entry *e = calloc(1, sizeof(*e));
    if (!e)
      wk_oom(__func__);
    wt_copy_str(e->s.id, sizeof(e->s.id), id);
    for (size_t i = 0; i < n; i++) {
      if (strcmp(rows[i].id, id) != 0)
        continue;
      e->exists = true;
      e->s = rows[i];
      e->s.nmembers = 0;
      if (!members_reserve(e, rows[i].nmembers))
        wk_oom(__func__);
      if (rows[i].nmembers)
        memcpy(e->members, rows[i].members,
               rows[i].nmembers * sizeof(*e->members));
      e->s.nmembers = rows[i].nmembers;
      break;
    }
    e->s.members = e->members;
    if (wt_lru_put(st->projects, id, e, need->project_ids.tags[k]) != WT_OK)
      project_free(e);
    else
      wt_lru_pin(st->projects, id);
  }
}

void wk_state_load_logs(wk_state *st, const wt_log_state *rows, size_t n,
                        const wk_need *need) {
  for (size_t k = 0; k < need->log_ids.n; k++) {
    const char *id = need->log_ids.ids[k];
    log_entry *e = calloc(1, sizeof(*e));
    if (!e)
      wk_oom(__func__);
    wt_copy_str(e->s.id, sizeof(e->s.id), id);
    log_set_desc(e, "");
    for (size_t i = 0; i < n; i++) {
      if (strcmp(rows[i].id, id) != 0)
        continue;
      e->exists = true;
      e->s = rows[i];
      e->s.description = NULL;
      log_set_desc(e, rows[i].description);
      break;
    }
    if (wt_lru_put(st->logs, id, e, need->log_ids.tags[k]) != WT_OK)
      log_free(e);
    else
      wt_lru_pin(st->logs, id);
  }
}

/* --- the overlay ------------------------------------------------------- */

static void ov_track(wk_state *st, kind k, void *e, int tag) {
  if (st->nov == st->ov_cap)
    abort(); /* a broken invariant, not memory: a batch touches at most 4
              * entries per command and ov_cap is sized for it */
  st->ov[st->nov++] = (ov_item){k, e, tag};
}

static user_entry *ov_user(wk_state *st, const char *id) {
  user_entry *u = wt_lru_peek(st->ov_users, id), *base;
  if (u)
    return u;
  base = wt_lru_peek(st->users, id);
  u = calloc(1, sizeof(*u));
  if (!u)
    wk_oom(__func__);
  if (base) {
    *u = *base;
    u->password_hash = NULL;
    u->existed = true;
  }
  wt_copy_str(u->s.id, sizeof(u->s.id), id);
  if (wt_lru_put(st->ov_users, id, u, OV_TAG) != WT_OK)
    wk_oom(__func__);
  ov_track(st, K_USER, u, -1);
  return u;
}

static project_entry *ov_project(wk_state *st, const char *id, int tag) {
  project_entry *p = wt_lru_peek(st->ov_projects, id), *base;
  if (p)
    return p;
  base = wt_lru_peek(st->projects, id);
  p = calloc(1, sizeof(*p));
  if (!p)
    wk_oom(__func__);
  wt_copy_str(p->s.id, sizeof(p->s.id), id);
  if (base && base->exists) {
    p->s = base->s;
    p->exists = p->existed = true;
    p->s.nmembers = 0;
    if (!members_reserve(p, base->s.nmembers + 1))
      wk_oom(__func__);
    memcpy(p->members, base->members,
           base->s.nmembers * sizeof(*base->members));
    p->s.nmembers = base->s.nmembers;
  }
  p->s.members = p->members;
  if (wt_lru_put(st->ov_projects, id, p, OV_TAG) != WT_OK)
    wk_oom(__func__);
  ov_track(st, K_PROJECT, p, tag);
  return p;
}

static log_entry *ov_log(wk_state *st, const char *id, int tag) {
  log_entry *l = wt_lru_peek(st->ov_logs, id), *base;
  if (l)
    return l;
  base = wt_lru_peek(st->logs, id);
  l = calloc(1, sizeof(*l));
  if (!l)
    wk_oom(__func__);
  if (base && base->exists) {
    l->s = base->s;
    l->exists = l->existed = true;
    log_set_desc(l, base->desc);
  } else {
    wt_copy_str(l->s.id, sizeof(l->s.id), id);
    log_set_desc(l, "");
    l->assumed_new = !base; /* known absent when base says so */
  }
  if (wt_lru_put(st->ov_logs, id, l, OV_TAG) != WT_OK)
    wk_oom(__func__);
  ov_track(st, K_LOG, l, tag);
  return l;
}

/* Before the first change to p's members: remembers them as they were. */
static void members_touch(project_entry *p) {
  if (p->members_changed)
    return;
  p->members_changed = true;
  if (!p->existed || !p->s.nmembers)
    return;
  p->base = malloc(p->s.nmembers * sizeof(*p->base));
  if (!p->base)
    wk_oom(__func__);
  memcpy(p->base, p->members, p->s.nmembers * sizeof(*p->base));
  p->nbase = p->s.nmembers;
}

static wt_member_state *member_find(project_entry *p, const char *user_id) {
  for (size_t i = 0; i < p->s.nmembers; i++)
    if (strcmp(p->members[i].user_id, user_id) == 0)
      return &p->members[i];
  return NULL;
}

int64_t wk_state_apply(wk_state *st, const wt_command *cmd,
                       const wt_decision *d, int partition) {
  project_entry *p;
  user_entry *u;
  log_entry *l;
  wt_member_state *m;

  switch (d->effect) {
  case WT_EFFECT_PROJECT_CREATE:
    p = ov_project(st, d->project.id, partition);
    members_touch(p);
    p->s = d->project;
    p->s.seq = 0;
    p->exists = true;
    p->s.nmembers = 0;
    if (!members_reserve(p, 1))
      wk_oom(__func__);
    p->members[0] = (wt_member_state){.role = WT_ROLE_OWNER,
                                      .added_at = d->project.created_at};
    wt_copy_str(p->members[0].user_id, sizeof(p->members[0].user_id),
                d->project.created_by);
    p->s.nmembers = 1;
    p->s.members = p->members;
    return ++p->s.seq;
  case WT_EFFECT_PROJECT_RENAME:
    p = ov_project(st, d->project.id, partition);
    memcpy(p->s.name, d->project.name, sizeof(p->s.name));
    return ++p->s.seq;
  case WT_EFFECT_MEMBER_SET:
    p = ov_project(st, d->stream_id, partition);
    members_touch(p);
    m = member_find(p, d->member.user_id);
    if (!m) {
      if (!members_reserve(p, p->s.nmembers + 1))
        wk_oom(__func__);
      m = &p->members[p->s.nmembers++];
    }
    *m = d->member;
    return ++p->s.seq;
  case WT_EFFECT_MEMBER_REMOVE:
    p = ov_project(st, d->stream_id, partition);
    members_touch(p);
    m = member_find(p, d->member.user_id);
    if (m)
      *m = p->members[--p->s.nmembers];
    return ++p->s.seq;
  case WT_EFFECT_LOG_CREATE:
  case WT_EFFECT_LOG_UPDATE:
  case WT_EFFECT_LOG_DELETE: {
    char *desc = strdup(d->log.description ? d->log.description : "");
    if (!desc)
      wk_oom(__func__);
    l = ov_log(st, d->log.id, partition);
    l->s = d->log;
    free(l->desc);
    l->desc = desc;
    l->s.description = desc;
    l->exists = d->effect != WT_EFFECT_LOG_DELETE;
    if (d->effect == WT_EFFECT_LOG_CREATE && l->existed)
      l->recreated = true;
    p = ov_project(st, d->stream_id, partition);
    return ++p->s.seq;
  }
  case WT_EFFECT_USER_CREATE:
    u = ov_user(st, d->user.id);
    u->s = d->user;
    u->seq = 0;
    u->existed = false;
    free(u->password_hash);
    u->password_hash = strdup(cmd->password_hash);
    if (!u->password_hash ||
        wt_lru_put(st->ov_user_names, u->s.username, u->s.id, OV_TAG) != WT_OK)
      wk_oom(__func__);
    return ++u->seq;
  case WT_EFFECT_USER_UPDATE:
    u = ov_user(st, d->user.id);
    u->s = d->user;
    return ++u->seq;
  case WT_EFFECT_NONE: break;
  }
  return 0;
}

/* --- the plan ---------------------------------------------------------- */

#define PLAN_BUF_CAP ((size_t)256 * 1024 * 1024)

static const uint32_t projects_update_cols[] = {WT_OID_UUID, WT_OID_TEXT,
                                                WT_OID_INT8};
static const uint32_t logs_insert_cols[] = {
    WT_OID_UUID,        WT_OID_UUID,        WT_OID_UUID,
    WT_OID_TIMESTAMPTZ, WT_OID_TIMESTAMPTZ, WT_OID_TEXT,
    WT_OID_INT4,        WT_OID_TIMESTAMPTZ, WT_OID_TIMESTAMPTZ};
static const uint32_t logs_update_cols[] = {
    WT_OID_UUID, WT_OID_TIMESTAMPTZ, WT_OID_TIMESTAMPTZ,
    WT_OID_TEXT, WT_OID_INT4,        WT_OID_TIMESTAMPTZ};
static const uint32_t logs_delete_cols[] = {WT_OID_UUID};

#define NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))

void wk_plan_init(wk_plan *p) {
  memset(p, 0, sizeof(*p));
  for (int i = 0; i < WK_PLAN_JSON_KINDS; i++) {
    wt_buf_init(&p->json[i], PLAN_BUF_CAP);
    wt_buf_init(&p->ids[i], PLAN_BUF_CAP);
  }
  wt_pgrows_init(&p->projects_update, projects_update_cols,
                 NCOLS(projects_update_cols), PLAN_BUF_CAP);
  wt_pgrows_init(&p->logs_insert, logs_insert_cols, NCOLS(logs_insert_cols),
                 PLAN_BUF_CAP);
  wt_pgrows_init(&p->logs_update, logs_update_cols, NCOLS(logs_update_cols),
                 PLAN_BUF_CAP);
  wt_pgrows_init(&p->logs_delete, logs_delete_cols, NCOLS(logs_delete_cols),
                 PLAN_BUF_CAP);
  wt_pgrows_init(&p->logs_replace, logs_insert_cols, NCOLS(logs_insert_cols),
                 PLAN_BUF_CAP);
}

void wk_plan_free(wk_plan *p) {
  for (int i = 0; i < WK_PLAN_JSON_KINDS; i++) {
    wt_buf_free(&p->json[i]);
    wt_buf_free(&p->ids[i]);
  }
  wt_pgrows_free(&p->projects_update);
  wt_pgrows_free(&p->logs_insert);
  wt_pgrows_free(&p->logs_update);
  wt_pgrows_free(&p->logs_delete);
  wt_pgrows_free(&p->logs_replace);
}

/* Starts the next element of JSON array i ("[" or ","). */
static wt_buf *plan_next(wk_plan *p, int i) {
  wt_buf *b = &p->json[i];
  wt_buf_putc(b, p->n[i]++ ? ',' : '[');
  return b;
}

/* Adds a key to array i's id list (once per key). */
static void plan_id(wk_plan *p, int i, const char *id) {
  wt_buf *b = &p->ids[i];
  if (p->nids[i] && b->len >= 36 &&
      strcmp(b->data + b->len - strlen(id), id) == 0)
    return; /* the same key as the last one (members of one project) */
  wt_buf_putc(b, p->nids[i]++ ? ',' : '{');
  wt_buf_puts(b, id);
}

static void put_field(wt_buf *b, const char *name, const char *value,
                      bool first) {
  wt_buf_puts(b, first ? "{\"" : ",\"");
  wt_buf_puts(b, name);
  wt_buf_puts(b, "\":");
  wt_buf_put_json_str(b, value);
}

static void put_time(wt_buf *b, const char *name, int64_t us, bool null) {
  wt_buf_puts(b, ",\"");
  wt_buf_puts(b, name);
  wt_buf_puts(b, "\":");
  if (null)
    wt_buf_puts(b, "null");
  else
    wt_buf_put_json_time(b, us);
}

static void put_int(wt_buf *b, const char *name, int64_t v) {
  wt_buf_puts(b, ",\"");
  wt_buf_puts(b, name);
  wt_buf_puts(b, "\":");
  wt_buf_put_i64(b, v);
}

static void plan_user(wk_plan *p, const user_entry *u) {
  int k = u->existed ? WK_PLAN_USERS_UPDATE : WK_PLAN_USERS_INSERT;
  wt_buf *b = plan_next(p, k);
  if (u->existed)
    plan_id(p, k, u->s.id);
  put_field(b, "id", u->s.id, true);
  if (!u->existed) {
    put_field(b, "username", u->s.username, false);
    put_field(b, "display_name", u->s.display_name, false);
    put_field(b, "password_hash", u->password_hash, false);
    put_time(b, "created_at", u->s.created_at, false);
  }
  wt_buf_puts(b, u->s.active ? ",\"is_active\":true" : ",\"is_active\":false");
  put_int(b, "token_version", u->s.token_version);
  put_int(b, "seq", u->seq);
  wt_buf_putc(b, '}');
}

static const wt_member_state *base_member(const project_entry *e,
                                          const char *user_id) {
  for (size_t i = 0; i < e->nbase; i++)
    if (strcmp(e->base[i].user_id, user_id) == 0)
      return &e->base[i];
  return NULL;
}

static void put_text(wt_pgarr *a, const char *s) {
  wt_pgarr_text(a, s, strlen(s));
}

static void plan_project(wk_plan *p, project_entry *e) {
  wt_buf *b;
  if (e->existed) {
    wt_pgrows *r = &p->projects_update;
    wt_pgarr_uuid(&r->col[0], e->s.id);
    put_text(&r->col[1], e->s.name);
    wt_pgarr_int8(&r->col[2], e->s.seq);
    r->n++;
  } else {
    b = plan_next(p, WK_PLAN_PROJECTS_INSERT);
    put_field(b, "id", e->s.id, true);
    put_field(b, "name", e->s.name, false);
    put_field(b, "created_by", e->s.created_by, false);
    put_time(b, "created_at", e->s.created_at, false);
    put_int(b, "seq", e->s.seq);
    wt_buf_putc(b, '}');
  }
  if (!e->members_changed)
    return;
  /* members: removed ones, then added or changed ones */
  for (size_t i = 0; i < e->nbase; i++) {
    if (member_find(e, e->base[i].user_id))
      continue;
    b = plan_next(p, WK_PLAN_MEMBERS_DELETE);
    plan_id(p, WK_PLAN_MEMBERS_DELETE, e->s.id);
    put_field(b, "project_id", e->s.id, true);
    put_field(b, "user_id", e->base[i].user_id, false);
    wt_buf_putc(b, '}');
  }
  for (size_t i = 0; i < e->s.nmembers; i++) {
    const wt_member_state *m = &e->members[i];
    const wt_member_state *was = base_member(e, m->user_id);
    if (was && was->role == m->role)
      continue;
    b = plan_next(p, WK_PLAN_MEMBERS_UPSERT);
    put_field(b, "project_id", e->s.id, true);
    put_field(b, "user_id", m->user_id, false);
    put_field(b, "role", wt_role_name(m->role), false);
    put_time(b, "added_at", m->added_at, false);
    wt_buf_putc(b, '}');
  }
}

static void put_opt_time(wt_pgarr *a, int64_t us, bool null) {
  if (null)
    wt_pgarr_null(a);
  else
    wt_pgarr_timestamptz(a, us);
}

static void put_log_row(wt_pgrows *r, const log_entry *l) {
  wt_pgarr_uuid(&r->col[0], l->s.id);
  wt_pgarr_uuid(&r->col[1], l->s.project_id);
  wt_pgarr_uuid(&r->col[2], l->s.user_id);
  wt_pgarr_timestamptz(&r->col[3], l->s.started_at);
  put_opt_time(&r->col[4], l->s.ended_at, l->s.ended_null);
  put_text(&r->col[5], l->desc);
  wt_pgarr_int4(&r->col[6], (int32_t)l->s.version);
  wt_pgarr_timestamptz(&r->col[7], l->s.created_at);
  wt_pgarr_timestamptz(&r->col[8], l->s.updated_at);
  r->n++;
}

static void put_log_id(wt_pgrows *r, const log_entry *l) {
  wt_pgarr_uuid(&r->col[0], l->s.id);
  r->n++;
}

/* The statements run insert, update, replace, delete (wk_batch.c). */
static void plan_log(wk_plan *p, const log_entry *l) {
  wt_pgrows *r;
  if (!l->exists) {
    if (l->existed) {
      put_log_id(&p->logs_delete, l);
    } else if (l->assumed_new) {
      /* created and deleted within the batch with an id taken as new:
       * inserted and deleted again, so that the primary key still checks
       * the assumption (if the id existed, the batch is decided again) */
      put_log_row(&p->logs_insert, l);
      put_log_id(&p->logs_delete, l);
    }
    return;
  }
  if (!l->existed) {
    put_log_row(&p->logs_insert, l);
  } else if (l->recreated) {
    put_log_row(&p->logs_replace, l);
  } else {
    r = &p->logs_update;
    wt_pgarr_uuid(&r->col[0], l->s.id);
    wt_pgarr_timestamptz(&r->col[1], l->s.started_at);
    put_opt_time(&r->col[2], l->s.ended_at, l->s.ended_null);
    put_text(&r->col[3], l->desc);
    wt_pgarr_int4(&r->col[4], (int32_t)l->s.version);
    wt_pgarr_timestamptz(&r->col[5], l->s.updated_at);
    r->n++;
  }
}

bool wk_state_plan(wk_state *st, wk_plan *p) {
  bool ok = true;
  for (int i = 0; i < WK_PLAN_JSON_KINDS; i++) {
    wt_buf_reset(&p->json[i]);
    wt_buf_reset(&p->ids[i]);
    p->n[i] = p->nids[i] = 0;
  }
  wt_pgrows_reset(&p->projects_update);
  wt_pgrows_reset(&p->logs_insert);
  wt_pgrows_reset(&p->logs_update);
  wt_pgrows_reset(&p->logs_delete);
  wt_pgrows_reset(&p->logs_replace);
  for (size_t i = 0; i < st->nov; i++) {
    if (st->ov[i].k == K_USER)
      plan_user(p, st->ov[i].e);
    else if (st->ov[i].k == K_PROJECT && ((project_entry *)st->ov[i].e)->exists)
      plan_project(p, st->ov[i].e);
    else if (st->ov[i].k == K_LOG)
      plan_log(p, st->ov[i].e);
  }
  for (int i = 0; i < WK_PLAN_JSON_KINDS; i++) {
    wt_buf_puts(&p->json[i], p->n[i] ? "]" : "[]");
    wt_buf_puts(&p->ids[i], p->nids[i] ? "}" : "{}");
    ok = ok && wt_buf_ok(&p->json[i]) && wt_buf_ok(&p->ids[i]);
  }
  return ok && wt_pgrows_finish(&p->projects_update) &&
         wt_pgrows_finish(&p->logs_insert) &&
         wt_pgrows_finish(&p->logs_update) &&
         wt_pgrows_finish(&p->logs_delete) &&
         wt_pgrows_finish(&p->logs_replace);
}

/* --- commit / discard -------------------------------------------------- */

static void ov_clear(wk_state *st) {
  wt_lru_remove_tag(st->ov_users, OV_TAG);
  wt_lru_remove_tag(st->ov_user_names, OV_TAG);
  wt_lru_remove_tag(st->ov_projects, OV_TAG);
  wt_lru_remove_tag(st->ov_logs, OV_TAG);
  st->nov = 0;
  wt_lru_unpin_all(st->users);
  wt_lru_unpin_all(st->projects);
  wt_lru_unpin_all(st->logs);
}

void wk_state_commit(wk_state *st) {
  st->nunsure = 0;
  for (size_t i = 0; i < st->nov; i++) {
    ov_item *it = &st->ov[i];
    uncertain_key *uk = &st->unsure[st->nunsure++];
    wt_err err = WT_OK;
    uk->k = it->k;
    uk->username[0] = '\0';
    if (it->k == K_USER) {
      user_entry *u = it->e;
      char *id = strdup(u->s.id);
      if (!id)
        wk_oom(__func__);
      memcpy(uk->id, u->s.id, sizeof(uk->id));
      if (!u->existed)
        wt_copy_str(uk->username, sizeof(uk->username), u->s.username);
      free(u->password_hash); /* the cache never keeps hashes */
      u->password_hash = NULL;
      u->existed = false;
      if (wt_lru_put(st->user_names, u->s.username, id, -1) != WT_OK)
        free(id);
      err = wt_lru_put(st->users, u->s.id, u, -1);
    } else if (it->k == K_PROJECT) {
      project_entry *e = it->e;
      memcpy(uk->id, e->s.id, sizeof(uk->id));
      free(e->base);
      e->base = NULL;
      e->nbase = 0;
      e->members_changed = false;
      err = wt_lru_put(st->projects, e->s.id, e, it->tag);
    } else {
      log_entry *l = it->e;
      memcpy(uk->id, l->s.id, sizeof(uk->id));
      err = wt_lru_put(st->logs, l->s.id, l, it->tag);
    }
    if (err != WT_OK)
      kind_free(it->k, it->e);
    it->e = NULL;
  }
  ov_clear(st);
}

void wk_state_discard(wk_state *st) {
  if (st->nov)
    st->epoch++;
  for (size_t i = 0; i < st->nov; i++)
    kind_free(st->ov[i].k, st->ov[i].e);
  ov_clear(st);
}

void wk_state_settle(wk_state *st) {
  st->nunsure = 0;
}

void wk_state_invalidate(wk_state *st) {
  for (size_t i = 0; i < st->nunsure; i++) {
    const uncertain_key *uk = &st->unsure[i];
    if (uk->k == K_USER) {
      (void)wt_lru_remove(st->users, uk->id);
      if (uk->username[0])
        (void)wt_lru_remove(st->user_names, uk->username);
    } else if (uk->k == K_PROJECT) {
      (void)wt_lru_remove(st->projects, uk->id);
    } else {
      (void)wt_lru_remove(st->logs, uk->id);
    }
  }
  st->nunsure = 0;
  st->epoch++;
}

uint64_t wk_state_epoch(const wk_state *st) {
  return st->epoch;
}

void wk_state_forget_users(wk_state *st) {
  st->epoch++;
  (void)wt_lru_remove_tag(st->users, -1);
  (void)wt_lru_remove_tag(st->user_names, -1);
}

size_t wk_state_forget_partition(wk_state *st, int partition) {
  st->epoch++;
  return wt_lru_remove_tag(st->projects, partition) +
         wt_lru_remove_tag(st->logs, partition);
}

void wk_state_cache_stats(const wk_state *st, int which, wk_cache_stats *out) {
  const wt_lru *l = which == 0   ? st->users
                    : which == 1 ? st->projects
                                 : st->logs;
  wt_lru_stats s;
  wt_lru_get_stats(l, &s);
  out->hits = s.hits;
  out->misses = s.misses;
  out->evictions = s.evictions;
  out->size = wt_lru_size(l);
}
