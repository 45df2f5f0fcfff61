/* wt_rules: who may do what, as the contract's table says (the JSON of the
 * outcomes is wt_outcome's).
 *
 * Order of the checks, the same for every project command, so that nothing
 * about a project leaks to someone outside it:
 *   1. the payload (invalid);
 *   2. the actor: the system is refused before any look-up (forbidden);
 *      project.create also refuses an unknown or deactivated user;
 *   3. the project and the actor's membership (not_found, whichever is
 *      missing: a removed member is simply not in the members);
 *   4. the actor's role or authorship, another author named (forbidden);
 *   5. the state (conflict: exists, stale expected_version, last owner);
 *   6. rules on the merged state (invalid: ended_at > started_at, the
 *      longest log).
 * A view with max_log_seconds <= 0 gets the contract's default, 86400. */
#include "wt_rules.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define US_PER_S INT64_C(1000000)
#define DEFAULT_MAX_LOG_SECONDS 86400

static wt_reject reject(wt_decision *out, wt_reject code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static wt_reject reject(wt_decision *out, wt_reject code, const char *fmt,
                        ...) {
  va_list ap;
  out->reject = code;
  out->effect = WT_EFFECT_NONE;
  out->event_type = NULL;
  va_start(ap, fmt);
  vsnprintf(out->message, sizeof(out->message), fmt, ap);
  va_end(ap);
  return code;
}

static wt_reject apply(wt_decision *out, wt_effect effect,
                       const char *event_type, const char *stream_id) {
  out->reject = WT_REJECT_NONE;
  out->effect = effect;
  out->event_type = event_type;
  wt_copy_str(out->stream_id, sizeof(out->stream_id), stream_id);
  return WT_REJECT_NONE;
}

static const wt_member_state *find_member(const wt_project_state *p,
                                          const char *user_id) {
  for (size_t i = 0; i < p->nmembers; i++)
    if (strcmp(p->members[i].user_id, user_id) == 0)
      return &p->members[i];
  return NULL;
}

static size_t count_owners(const wt_project_state *p) {
  size_t n = 0;
  for (size_t i = 0; i < p->nmembers; i++)
    n += p->members[i].role == WT_ROLE_OWNER;
  return n;
}

/* Step 2 of project.create: an active user, never the system. */
static bool actor_is_active_user(const wt_command *cmd,
                                 const wt_rules_view *view, wt_decision *out) {
  const wt_user_state *u = NULL;
  if (cmd->actor_system) {
    reject(out, WT_REJECT_FORBIDDEN, "the system actor cannot create projects");
    return false;
  }
  u = view->user(view->ctx, cmd->actor_id);
  if (!u || !u->active) {
    reject(out, WT_REJECT_FORBIDDEN, "the actor is not an active user");
    return false;
  }
  return true;
}

/* Steps 2 and 3 of the other project commands: the system is refused, then
 * the project, if the actor is a member of it. Membership is what the
 * contract asks; a deactivated user's sessions end at the gateway. */
static const wt_project_state *actor_project(const wt_command *cmd,
                                             const wt_rules_view *view,
                                             wt_decision *out,
                                             const wt_member_state **me) {
  const wt_project_state *p = NULL;
  if (cmd->actor_system) {
    reject(out, WT_REJECT_FORBIDDEN,
           "the system actor cannot act on %s commands",
           wt_cmd_type_name(cmd->type));
    return NULL;
  }
  p = view->project(view->ctx, cmd->project_id);
  *me = p ? find_member(p, cmd->actor_id) : NULL;
  if (!*me) {
    reject(out, WT_REJECT_NOT_FOUND, "project %s not found", cmd->project_id);
    return NULL;
  }
  return p;
}

static wt_reject check_span(const wt_rules_view *view, wt_decision *out,
                            int64_t started, int64_t ended, bool ended_null) {
  int64_t max = view->max_log_seconds > 0 ? view->max_log_seconds
                                          : DEFAULT_MAX_LOG_SECONDS;
  if (ended_null)
    return WT_REJECT_NONE;
  if (ended <= started)
    return reject(out, WT_REJECT_INVALID, "ended_at must be after started_at");
  if (ended - started > max * US_PER_S)
    return reject(out, WT_REJECT_INVALID, "a log lasts at most %lld seconds",
                  (long long)max);
  return WT_REJECT_NONE;
}

/* --- project.* ---------------------------------------------------------- */

static wt_reject decide_project_create(const wt_command *cmd,
                                       const wt_rules_view *view,
                                       wt_decision *out) {
  if (!actor_is_active_user(cmd, view, out))
    return out->reject;
  if (view->project(view->ctx, cmd->project_id))
    return reject(out, WT_REJECT_CONFLICT, "project %s already exists",
                  cmd->project_id);
  wt_copy_str(out->project.id, sizeof(out->project.id), cmd->project_id);
  wt_copy_str(out->project.name, sizeof(out->project.name), cmd->name);
  wt_copy_str(out->project.created_by, sizeof(out->project.created_by),
              cmd->actor_id);
  out->project.created_at = view->now;
  wt_copy_str(out->member.user_id, sizeof(out->member.user_id), cmd->actor_id);
  out->member.role = WT_ROLE_OWNER;
  out->member.added_at = view->now;
  return apply(out, WT_EFFECT_PROJECT_CREATE, "project.created",
               cmd->project_id);
}

static wt_reject decide_project_rename(const wt_command *cmd,
                                       const wt_rules_view *view,
                                       wt_decision *out) {
  const wt_member_state *me = NULL;
  const wt_project_state *p = actor_project(cmd, view, out, &me);
  if (!p)
    return out->reject;
  if (me->role != WT_ROLE_OWNER)
    return reject(out, WT_REJECT_FORBIDDEN,
                  "only an owner may rename the project");
  out->project = *p;
  out->project.members = NULL;
  out->project.nmembers = 0;
  wt_copy_str(out->project.name, sizeof(out->project.name), cmd->name);
  return apply(out, WT_EFFECT_PROJECT_RENAME, "project.renamed",
               cmd->project_id);
}

/* --- member.* ----------------------------------------------------------- */

static wt_reject decide_member_add(const wt_command *cmd,
                                   const wt_rules_view *view,
                                   wt_decision *out) {
  const wt_member_state *me = NULL, *old = NULL;
  const wt_user_state *target = NULL;
  const wt_project_state *p = actor_project(cmd, view, out, &me);
  if (!p)
    return out->reject;
  if (me->role != WT_ROLE_OWNER)
    return reject(out, WT_REJECT_FORBIDDEN, "only an owner may add members");
  target = view->user(view->ctx, cmd->target_user_id);
  if (!target || !target->active)
    return reject(out, WT_REJECT_NOT_FOUND, "user %s not found",
                  cmd->target_user_id);
  old = find_member(p, cmd->target_user_id);
  if (old && old->role == cmd->role)
    return reject(out, WT_REJECT_CONFLICT, "user %s is already %s %s",
                  cmd->target_user_id, cmd->role == WT_ROLE_OWNER ? "an" : "a",
                  wt_role_name(cmd->role));
  if (old && old->role == WT_ROLE_OWNER && count_owners(p) <= 1)
    return reject(out, WT_REJECT_CONFLICT,
                  "a project keeps at least one owner");
  wt_copy_str(out->member.user_id, sizeof(out->member.user_id),
              cmd->target_user_id);
  out->member.role = cmd->role;
  out->member.added_at = old ? old->added_at : view->now;
  return apply(out, WT_EFFECT_MEMBER_SET, "member.added", cmd->project_id);
}

static wt_reject decide_member_remove(const wt_command *cmd,
                                      const wt_rules_view *view,
                                      wt_decision *out) {
  const wt_member_state *me = NULL, *old = NULL;
  const wt_project_state *p = actor_project(cmd, view, out, &me);
  if (!p)
    return out->reject;
  old = find_member(p, cmd->target_user_id);
  if (!old)
    return reject(out, WT_REJECT_NOT_FOUND, "user %s is not a member",
                  cmd->target_user_id);
  if (me->role != WT_ROLE_OWNER &&
      strcmp(cmd->target_user_id, cmd->actor_id) != 0)
    return reject(out, WT_REJECT_FORBIDDEN,
                  "only an owner may remove another member");
  if (old->role == WT_ROLE_OWNER && count_owners(p) <= 1)
    return reject(out, WT_REJECT_CONFLICT,
                  "a project keeps at least one owner");
  out->member = *old;
  return apply(out, WT_EFFECT_MEMBER_REMOVE, "member.removed", cmd->project_id);
}

/* --- log.* -------------------------------------------------------------- */

static bool names_another_author(const wt_command *cmd, wt_decision *out) {
  if (!(cmd->fields & WT_F_USER_ID) ||
      strcmp(cmd->target_user_id, cmd->actor_id) == 0)
    return false;
  reject(out, WT_REJECT_FORBIDDEN,
         "payload.user_id names another author: a log's author is always "
         "the actor");
  return true;
}

static wt_reject decide_log_create(const wt_command *cmd,
                                   const wt_rules_view *view,
                                   wt_decision *out) {
  const wt_member_state *me = NULL;
  if (!actor_project(cmd, view, out, &me))
    return out->reject;
  if (names_another_author(cmd, out))
    return out->reject;
  if (view->log(view->ctx, cmd->log_id))
    return reject(out, WT_REJECT_CONFLICT, "log %s already exists",
                  cmd->log_id);
  if (check_span(view, out, cmd->started_at, cmd->ended_at, cmd->ended_at_null))
    return out->reject;
  wt_copy_str(out->log.id, sizeof(out->log.id), cmd->log_id);
  wt_copy_str(out->log.project_id, sizeof(out->log.project_id),
              cmd->project_id);
  wt_copy_str(out->log.user_id, sizeof(out->log.user_id), cmd->actor_id);
  out->log.started_at = cmd->started_at;
  out->log.ended_null = cmd->ended_at_null;
  out->log.ended_at = cmd->ended_at_null ? 0 : cmd->ended_at;
  out->log.description = cmd->description;
  out->log.version = 1;
  out->log.created_at = view->now;
  out->log.updated_at = view->now;
  return apply(out, WT_EFFECT_LOG_CREATE, "log.created", cmd->project_id);
}

/* The checks log.update and log.delete share: the actor's own log, in this
 * project, at the expected version. */
static const wt_log_state *
own_log(const wt_command *cmd, const wt_rules_view *view, wt_decision *out) {
  const wt_member_state *me = NULL;
  const wt_log_state *log = NULL;
  if (!actor_project(cmd, view, out, &me))
    return NULL;
  log = view->log(view->ctx, cmd->log_id);
  if (!log || strcmp(log->project_id, cmd->project_id) != 0) {
    reject(out, WT_REJECT_NOT_FOUND, "log %s not found", cmd->log_id);
    return NULL;
  }
  if (strcmp(log->user_id, cmd->actor_id) != 0) {
    reject(out, WT_REJECT_FORBIDDEN, "log %s belongs to another member",
           cmd->log_id);
    return NULL;
  }
  if (names_another_author(cmd, out))
    return NULL;
  if ((cmd->fields & WT_F_EXPECTED_VERSION) &&
      cmd->expected_version != log->version) {
    reject(out, WT_REJECT_CONFLICT, "log %s is at version %lld, not %lld",
           cmd->log_id, (long long)log->version,
           (long long)cmd->expected_version);
    return NULL;
  }
  return log;
}

static wt_reject decide_log_update(const wt_command *cmd,
                                   const wt_rules_view *view,
                                   wt_decision *out) {
  const wt_log_state *old = own_log(cmd, view, out);
  if (!old)
    return out->reject;
  out->log = *old;
  if (!out->log.description)
    out->log.description = "";
  if (cmd->fields & WT_F_STARTED_AT)
    out->log.started_at = cmd->started_at;
  if (cmd->fields & WT_F_ENDED_AT) {
    out->log.ended_null = cmd->ended_at_null;
    out->log.ended_at = cmd->ended_at_null ? 0 : cmd->ended_at;
  }
  if (cmd->fields & WT_F_DESCRIPTION)
    out->log.description = cmd->description;
  if (check_span(view, out, out->log.started_at, out->log.ended_at,
                 out->log.ended_null))
    return out->reject;
  out->log.version = old->version + 1;
  out->log.updated_at = view->now;
  return apply(out, WT_EFFECT_LOG_UPDATE, "log.updated", cmd->project_id);
}

static wt_reject decide_log_delete(const wt_command *cmd,
                                   const wt_rules_view *view,
                                   wt_decision *out) {
  const wt_log_state *old = own_log(cmd, view, out);
  if (!old)
    return out->reject;
  out->log = *old;
  if (!out->log.description)
    out->log.description = "";
  return apply(out, WT_EFFECT_LOG_DELETE, "log.deleted", cmd->project_id);
}

/* --- user.* ------------------------------------------------------------- */

static wt_reject decide_user(const wt_command *cmd, const wt_rules_view *view,
                             wt_decision *out) {
  const wt_user_state *u = NULL;
  if (!cmd->actor_system)
    return reject(out, WT_REJECT_FORBIDDEN, "only the system may %s users",
                  cmd->type == WT_CMD_USER_CREATE ? "create" : "change");
  u = view->user(view->ctx, cmd->user_id);
  if (cmd->type == WT_CMD_USER_CREATE) {
    if (u)
      return reject(out, WT_REJECT_CONFLICT, "user %s already exists",
                    cmd->user_id);
    if (view->user_by_name(view->ctx, cmd->username))
      return reject(out, WT_REJECT_CONFLICT, "username %s is taken",
                    cmd->username);
    wt_copy_str(out->user.id, sizeof(out->user.id), cmd->user_id);
    wt_copy_str(out->user.username, sizeof(out->user.username), cmd->username);
    wt_copy_str(out->user.display_name, sizeof(out->user.display_name),
                cmd->display_name);
    out->user.active = true;
    out->user.token_version = 0;
    out->user.created_at = view->now;
    return apply(out, WT_EFFECT_USER_CREATE, "user.created", cmd->user_id);
  }
  if (!u)
    return reject(out, WT_REJECT_NOT_FOUND, "user %s not found", cmd->user_id);
  out->user = *u;
  if (cmd->type == WT_CMD_USER_DEACTIVATE) {
    if (!u->active)
      return reject(out, WT_REJECT_CONFLICT, "user %s is already deactivated",
                    cmd->user_id);
    out->user.active = false;
    return apply(out, WT_EFFECT_USER_UPDATE, "user.deactivated", cmd->user_id);
  }
  out->user.token_version = u->token_version + 1;
  return apply(out, WT_EFFECT_USER_UPDATE, "user.tokens_revoked", cmd->user_id);
}

wt_reject wt_rules_decide(const wt_command *cmd, const wt_rules_view *view,
                          wt_decision *out) {
  memset(out, 0, sizeof(*out));
  out->log.description = "";
  if (cmd->payload_error)
    return reject(out, WT_REJECT_INVALID, "%s",
                  cmd->payload_message[0] ? cmd->payload_message
                                          : "invalid payload");
  switch (cmd->type) {
  case WT_CMD_PROJECT_CREATE: return decide_project_create(cmd, view, out);
  case WT_CMD_PROJECT_RENAME: return decide_project_rename(cmd, view, out);
  case WT_CMD_MEMBER_ADD: return decide_member_add(cmd, view, out);
  case WT_CMD_MEMBER_REMOVE: return decide_member_remove(cmd, view, out);
  case WT_CMD_LOG_CREATE: return decide_log_create(cmd, view, out);
  case WT_CMD_LOG_UPDATE: return decide_log_update(cmd, view, out);
  case WT_CMD_LOG_DELETE: return decide_log_delete(cmd, view, out);
  case WT_CMD_USER_CREATE:
  case WT_CMD_USER_DEACTIVATE:
  case WT_CMD_USER_REVOKE_TOKENS: return decide_user(cmd, view, out);
  case WT_CMD_NONE:
  case WT_CMD__COUNT: break;
  }
  return reject(out, WT_REJECT_INVALID, "unknown command type");
}
