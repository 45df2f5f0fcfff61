/* wt_rules: the permission rules of the contract as a pure function.
 *
 *   (command, what is known of users, the project, its members and the
 *    log) -> applied change (the new state) or a rejection with its code.
 *
 * No I/O: the caller (the worker's batch) answers look-ups through a
 * wt_rules_view over its caches and the changes earlier commands of the
 * same batch made, and applies the decision's new state itself. */
#ifndef WT_RULES_H
#define WT_RULES_H

#include "wt_command.h"
/* transitional, removed when worker/ includes wt_outcome.h directly (the
 * outcome JSON builders were declared here): */
#include "wt_outcome.h"

typedef struct wt_user_state {
  char id[WT_UUID_STR];
  char username[WT_USERNAME_MAX + 1];
  char display_name[WT_NAME_MAX_CHARS * 4 + 1];
  bool active;
  int64_t token_version;
  int64_t created_at;
} wt_user_state;

typedef struct wt_member_state {
  char user_id[WT_UUID_STR];
  wt_role role;
  int64_t added_at;
} wt_member_state;

typedef struct wt_project_state {
  char id[WT_UUID_STR];
  char name[WT_NAME_MAX_CHARS * 4 + 1];
  char created_by[WT_UUID_STR];
  int64_t created_at;
  int64_t seq; /* the project's last event seq */
  size_t nmembers;
  const wt_member_state *members; /* nmembers entries, any order */
} wt_project_state;

typedef struct wt_log_state {
  char id[WT_UUID_STR];
  char project_id[WT_UUID_STR];
  char user_id[WT_UUID_STR];
  bool ended_null; /* a running timer (here: no padding) */
  int64_t started_at;
  int64_t ended_at;        /* valid when !ended_null */
  const char *description; /* never NULL; owned by whoever owns the state */
  int64_t version;
  int64_t created_at;
  int64_t updated_at;
} wt_log_state;

/* Look-ups return NULL when the thing does not exist. Pointers stay valid
 * until the caller applies a decision. */
typedef struct wt_rules_view {
  void *ctx;
  const wt_user_state *(*user)(void *ctx, const char *user_id);
  const wt_user_state *(*user_by_name)(void *ctx, const char *username);
  const wt_project_state *(*project)(void *ctx, const char *project_id);
  const wt_log_state *(*log)(void *ctx, const char *log_id);
  int64_t max_log_seconds; /* WT_MAX_LOG_SECONDS */
  int64_t now;             /* µs: created_at/updated_at/added_at of changes */
} wt_rules_view;

typedef enum wt_effect {
  WT_EFFECT_NONE = 0,       /* rejected */
  WT_EFFECT_PROJECT_CREATE, /* project (members: the creator as owner) */
  WT_EFFECT_PROJECT_RENAME, /* project */
  WT_EFFECT_MEMBER_SET,     /* member (added, or its role changed) */
  WT_EFFECT_MEMBER_REMOVE,  /* member (its last state) */
  WT_EFFECT_LOG_CREATE,     /* log */
  WT_EFFECT_LOG_UPDATE,     /* log (the full new state, version + 1) */
  WT_EFFECT_LOG_DELETE,     /* log (its last state) */
  WT_EFFECT_USER_CREATE,    /* user (+ password_hash from the command) */
  WT_EFFECT_USER_UPDATE,    /* user (active / token_version changed) */
} wt_effect;

typedef struct wt_decision {
  wt_reject reject; /* WT_REJECT_NONE: applied */
  char message[WT_MESSAGE_MAX];
  wt_effect effect;
  const char *event_type; /* "log.created", "member.added", ... */
  /* the stream the event belongs to: project_id, or user id for user.* */
  char stream_id[WT_UUID_STR];
  /* the new state, by effect (project.members is left empty) */
  wt_project_state project;
  wt_member_state member;
  wt_log_state log; /* description points into the command or old state */
  wt_user_state user;
} wt_decision;

/* Decides one command. Always fills out; returns out->reject. */
wt_reject wt_rules_decide(const wt_command *cmd, const wt_rules_view *view,
                          wt_decision *out);

#endif
