/* wk_state: what the worker knows of users, projects (with members) and
 * work logs, and the overlay of changes the current batch makes.
 *
 * Caches are bounded LRU maps (WT_CACHE_*). The worker is the only writer
 * of these tables and a project's commands arrive in order on one
 * partition, so a cached project or log is never stale; entries are tagged
 * with their partition and dropped when it is revoked.
 *
 * A batch decides its commands against the overlay (its own changes) over
 * the caches. Nothing reaches the caches until the batch's transaction
 * committed (wk_state_commit); a failed batch is discarded.
 *
 * Creates are optimistic: a log, project or user id that is not cached is
 * taken as new without asking PostgreSQL; the unique keys verify it at
 * write time, and on a violation the batch loads those ids
 * (wk_state_need_verify) and is decided again. */
#ifndef WK_STATE_H
#define WK_STATE_H

#include "wt_buf.h"
#include "wt_pgarr.h"
#include "wt_rules.h"

typedef struct wk_state wk_state;

typedef struct wk_state_caps {
  size_t users, projects, logs; /* cache entries */
  size_t batch_max;             /* commands per batch */
} wk_state_caps;

wk_state *wk_state_new(const wk_state_caps *caps);
void wk_state_destroy(wk_state *st);

/* The rules' view over overlay + caches; now and max_log_seconds set. */
void wk_state_view(wk_state *st, wt_rules_view *view, int64_t now,
                   int64_t max_log_seconds);

/* --- loading misses ---------------------------------------------------- */

/* Ids to load before deciding, each with the partition that needs it. */
typedef struct wk_idlist {
  char (*ids)[WT_USERNAME_MAX + 1]; /* uuids or usernames */
  int *tags;
  size_t n, cap;
  struct wt_lru *seen; /* the same ids as a set */
} wk_idlist;

typedef struct wk_need {
  wk_idlist user_ids, usernames, project_ids, log_ids;
} wk_need;

void wk_need_init(wk_need *n);
void wk_need_free(wk_need *n);
void wk_need_reset(wk_need *n);
bool wk_need_empty(const wk_need *n);
/* "{a,b,c}": the list as a PostgreSQL array literal (values are uuids or
 * usernames, which need no quoting). */
void wk_idlist_literal(const wk_idlist *l, wt_buf *out);

/* How wk_state_collect treats a command of the batch. */
typedef enum wk_collect_mode {
  /* to be decided: an id it creates is taken as created for the commands
   * after it, which then do not ask PostgreSQL for it */
  WK_COLLECT_FRESH,
  /* needs nothing: decided before, dead, or a copy of an earlier one */
  WK_COLLECT_SKIP,
  /* may have been decided before (its first outcome is being looked up in
   * the same round trip): what it needs is loaded, and so is what it
   * creates, which counts as created for nobody. Whether it turns out
   * decided before (then it contributes nothing) or not (then it is
   * decided like any other), the commands after it see the real state. */
  WK_COLLECT_UNSURE,
} wk_collect_mode;

/* Adds what cmds need that the caches lack, and pins what they use so
 * that loading cannot evict it. mode[i]: see wk_collect_mode (NULL: all
 * fresh). verify: also the ids that fresh creates would otherwise assume
 * new. An id that an earlier fresh command of the batch creates is not
 * asked for. Commands with payload errors need nothing. */
void wk_state_collect(wk_state *st, const wt_command *cmds, size_t n,
                      const int *partitions, const wk_collect_mode *mode,
                      bool verify, wk_need *need);

/* Whether the view knows the state of the id that create (a
 * project.create, log.create or user.create) names: an overlay entry, or a
 * cache entry present or absent. False for an id that collecting took as
 * new without asking PostgreSQL; if such a create is rejected, the commands
 * after it that name the id were collected as if it had been created. */
bool wk_state_knows_created(wk_state *st, const wt_command *create);

/* Stores what the load queries found (wk_sql.h; wk_batch.c converts
 * their rows); projects and logs asked for (need) but not among rows are
 * cached as absent. The rows are copied: they stay the caller's. */
typedef struct wk_user_row {
  wt_user_state s;
  int64_t seq; /* the user's event stream */
} wk_user_row;
void wk_state_load_users(wk_state *st, const wk_user_row *rows, size_t n);
/* rows: one per project found, its members at s.members */
void wk_state_load_projects(wk_state *st, const wt_project_state *rows,
                            size_t n, const wk_need *need);
/* rows: one per log found; description is copied */
void wk_state_load_logs(wk_state *st, const wt_log_state *rows, size_t n,
                        const wk_need *need);

/* --- the batch --------------------------------------------------------- */

/* Applies an accepted decision to the overlay; returns the event's seq. */
int64_t wk_state_apply(wk_state *st, const wt_command *cmd,
                       const wt_decision *d, int partition);

/* The write statements' parameters. The rare kinds (users, new
 * projects, members) travel as JSON arrays for json_to_recordset; the
 * kinds of nearly every batch (project seq, logs) as binary column arrays
 * for unnest (wt_pgarr), which PostgreSQL takes without parsing text. */
enum {
  WK_PLAN_USERS_INSERT,
  WK_PLAN_USERS_UPDATE,
  WK_PLAN_PROJECTS_INSERT,
  WK_PLAN_MEMBERS_DELETE,
  WK_PLAN_MEMBERS_UPSERT,
  WK_PLAN_JSON_KINDS
};

typedef struct wk_plan {
  wt_buf json[WK_PLAN_JSON_KINDS]; /* "[{...},...]"; n[i] == 0: none */
  size_t n[WK_PLAN_JSON_KINDS];
  /* for updates and deletes: the keys as an array literal ("{a,b}"), so
   * that PostgreSQL finds the rows by index whatever its statistics say */
  wt_buf ids[WK_PLAN_JSON_KINDS];
  size_t nids[WK_PLAN_JSON_KINDS];
  /* columns as in wk_sql.h's statement of the same name; .n == 0: none */
  wt_pgrows projects_update; /* id, name, seq */
  wt_pgrows logs_insert;     /* id, project_id, user_id, started_at,
                                ended_at, description, version,
                                created_at, updated_at */
  wt_pgrows logs_update;     /* id, started_at, ended_at, description,
                                version, updated_at */
  wt_pgrows logs_delete;     /* id */
  wt_pgrows logs_replace;    /* as logs_insert */
} wk_plan;

void wk_plan_init(wk_plan *p);
void wk_plan_free(wk_plan *p);
/* Fills p from the overlay. Returns false if a buffer hit its cap or an
 * id was malformed. */
bool wk_state_plan(wk_state *st, wk_plan *p);

/* overlay -> caches. A batch commits as soon as its transaction is sent,
 * before its answer (so that the next batch can be decided while it is
 * written); the keys stay "uncertain" until wk_state_settle (the
 * transaction committed) or wk_state_invalidate (it did not: they leave
 * the caches, to be loaded again from PostgreSQL, which has the truth). */
void wk_state_commit(wk_state *st);
void wk_state_settle(wk_state *st);
void wk_state_invalidate(wk_state *st);
void wk_state_discard(wk_state *st); /* drop the overlay */
/* Changes whenever decisions made against the state may no longer hold
 * (an overlay discarded, keys invalidated). */
uint64_t wk_state_epoch(const wk_state *st);

/* Drops every cached user (another worker may change them now: a
 * partition moved, or a position moved under us). */
void wk_state_forget_users(wk_state *st);

/* Drops the cached projects and logs of a revoked partition. */
size_t wk_state_forget_partition(wk_state *st, int partition);

typedef struct wk_cache_stats {
  uint64_t hits, misses, evictions;
  size_t size;
} wk_cache_stats;
/* which: 0 users, 1 projects, 2 logs */
void wk_state_cache_stats(const wk_state *st, int which, wk_cache_stats *out);

#endif
