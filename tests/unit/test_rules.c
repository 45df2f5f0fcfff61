/* Unit tests of wt_rules: every command type against every kind of actor
 * (owner, member, author, non-author, non-member, removed member, system),
 * over a small in-memory world, plus the JSON of the outcomes.
 *
 * The world:
 *   users    alice, bob, carol, dave, frank, grace (active), erin (inactive)
 *   P1       alice owner (the only one), bob member; dave was removed
 *   P2       carol owner, grace owner, bob member
 *   logs     L_ALICE (P1, alice, closed, v3), L_BOB (P1, bob, running),
 *            L_DAVE (P1, dave), L_CAROL (P2, carol), L_BOB2 (P2, bob) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "wt_rules.h"

#define CID "c0000000-0000-4000-8000-000000000001"
#define ALICE "a1000000-0000-4000-8000-000000000001"
#define BOB "a2000000-0000-4000-8000-000000000002"
#define CAROL "a3000000-0000-4000-8000-000000000003"
#define DAVE "a4000000-0000-4000-8000-000000000004"
#define ERIN "a5000000-0000-4000-8000-000000000005"
#define FRANK "a6000000-0000-4000-8000-000000000006"
#define GRACE "a7000000-0000-4000-8000-000000000007"
#define GHOST "a9000000-0000-4000-8000-000000000009"
#define NEWUSER "a8000000-0000-4000-8000-000000000008"
#define P1 "b1000000-0000-4000-8000-000000000001"
#define P2 "b2000000-0000-4000-8000-000000000002"
#define PNEW "b3000000-0000-4000-8000-000000000003"
#define PMISSING "b9000000-0000-4000-8000-000000000009"
#define L_ALICE "d1000000-0000-4000-8000-000000000001"
#define L_BOB "d2000000-0000-4000-8000-000000000002"
#define L_DAVE "d3000000-0000-4000-8000-000000000003"
#define L_CAROL "d4000000-0000-4000-8000-000000000004"
#define L_BOB2 "d5000000-0000-4000-8000-000000000005"
#define L_NEW "d6000000-0000-4000-8000-000000000006"
#define L_MISSING "d9000000-0000-4000-8000-000000000009"

#define T0 "2026-11-27T08:00:00Z"
#define T1 "2026-11-27T09:30:00Z"
#define NOW "2026-11-27T12:00:00Z"

static int64_t us(const char *text) {
  int64_t v = 0;
  if (wt_time_parse(text, &v) != 0)
    fail_msg("bad time in the test: %s", text);
  return v;
}

/* --- the world ------------------------------------------------------------ */

static wt_user_state users[] = {
    {ALICE, "alice", "Alice", true, 0, 0},
    {BOB, "bob", "Bob", true, 2, 0},
    {CAROL, "carol", "Carol", true, 0, 0},
    {DAVE, "dave", "Dave", true, 0, 0},
    {ERIN, "erin", "Erin", false, 1, 0},
    {FRANK, "frank", "Frank", true, 0, 0},
    {GRACE, "grace", "Grace", true, 0, 0},
};

static wt_member_state p1_members[] = {
    {ALICE, WT_ROLE_OWNER, 1000},
    {BOB, WT_ROLE_MEMBER, 2000},
};
static wt_member_state p2_members[] = {
    {BOB, WT_ROLE_MEMBER, 3000},
    {CAROL, WT_ROLE_OWNER, 4000},
    {GRACE, WT_ROLE_OWNER, 5000},
};

static wt_project_state projects[] = {
    {P1, "Apollo", ALICE, 100, 41, 2, p1_members},
    {P2, "Gemini", CAROL, 200, 7, 3, p2_members},
};

static wt_log_state logs[5];

static void world_init(void) {
  static const struct {
    const char *id, *project, *user, *started, *ended, *description;
    int64_t version;
  } l[] = {
      {L_ALICE, P1, ALICE, T0, T1, "design review", 3},
      {L_BOB, P1, BOB, "2026-11-27T07:00:00Z", NULL, "on call", 1},
      {L_DAVE, P1, DAVE, T0, T1, "", 1},
      {L_CAROL, P2, CAROL, T0, T1, "x", 2},
      {L_BOB2, P2, BOB, T0, T1, "y", 1},
  };
  for (size_t i = 0; i < sizeof(l) / sizeof(l[0]); i++) {
    wt_log_state *s = &logs[i];
    memset(s, 0, sizeof(*s));
    snprintf(s->id, sizeof(s->id), "%s", l[i].id);
    snprintf(s->project_id, sizeof(s->project_id), "%s", l[i].project);
    snprintf(s->user_id, sizeof(s->user_id), "%s", l[i].user);
    s->started_at = us(l[i].started);
    s->ended_null = l[i].ended == NULL;
    s->ended_at = l[i].ended ? us(l[i].ended) : 0;
    s->description = l[i].description;
    s->version = l[i].version;
    s->created_at = us("2026-11-27T10:00:00Z");
    s->updated_at = us("2026-11-27T11:00:00Z");
  }
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const wt_user_state *view_user(void *ctx, const char *id) {
  (void)ctx;
  for (size_t i = 0; i < COUNT(users); i++)
    if (strcmp(users[i].id, id) == 0)
      return &users[i];
  return NULL;
}

static const wt_user_state *view_user_by_name(void *ctx, const char *name) {
  (void)ctx;
  for (size_t i = 0; i < COUNT(users); i++)
    if (strcmp(users[i].username, name) == 0)
      return &users[i];
  return NULL;
}

static const wt_project_state *view_project(void *ctx, const char *id) {
  (void)ctx;
  for (size_t i = 0; i < COUNT(projects); i++)
    if (strcmp(projects[i].id, id) == 0)
      return &projects[i];
  return NULL;
}

static const wt_log_state *view_log(void *ctx, const char *id) {
  (void)ctx;
  for (size_t i = 0; i < COUNT(logs); i++)
    if (strcmp(logs[i].id, id) == 0)
      return &logs[i];
  return NULL;
}

static wt_rules_view make_view(void) {
  wt_rules_view v = {NULL,         view_user, view_user_by_name,
                     view_project, view_log,  86400,
                     us(NOW)};
  return v;
}

/* --- checks of applied decisions ------------------------------------------ */

static void chk_project_created(const wt_decision *d) {
  assert_string_equal(d->project.id, PNEW);
  assert_string_equal(d->project.name, "Voyager");
  assert_string_equal(d->project.created_by, ALICE);
  assert_int_equal(d->project.created_at, us(NOW));
  assert_int_equal(d->project.seq, 0);
  assert_string_equal(d->member.user_id, ALICE);
  assert_int_equal(d->member.role, WT_ROLE_OWNER);
  assert_int_equal(d->member.added_at, us(NOW));
  assert_string_equal(d->stream_id, PNEW);
}

static void chk_project_renamed(const wt_decision *d) {
  assert_string_equal(d->project.id, P1);
  assert_string_equal(d->project.name, "Apollo 2");
  assert_string_equal(d->project.created_by, ALICE);
  assert_int_equal(d->project.created_at, 100);
  assert_int_equal(d->project.seq, 41);
  assert_int_equal(d->project.nmembers, 0);
  assert_null(d->project.members);
}

static void chk_member_new(const wt_decision *d) {
  assert_string_equal(d->stream_id, P1);
  assert_string_equal(d->member.user_id, FRANK);
  assert_int_equal(d->member.role, WT_ROLE_MEMBER);
  assert_int_equal(d->member.added_at, us(NOW));
}

static void chk_member_new_owner(const wt_decision *d) {
  assert_string_equal(d->member.user_id, FRANK);
  assert_int_equal(d->member.role, WT_ROLE_OWNER);
}

static void chk_bob_promoted(const wt_decision *d) {
  assert_string_equal(d->member.user_id, BOB);
  assert_int_equal(d->member.role, WT_ROLE_OWNER);
  assert_int_equal(d->member.added_at, 2000); /* kept on a role change */
}

static void chk_grace_demoted(const wt_decision *d) {
  assert_string_equal(d->stream_id, P2);
  assert_string_equal(d->member.user_id, GRACE);
  assert_int_equal(d->member.role, WT_ROLE_MEMBER);
  assert_int_equal(d->member.added_at, 5000);
}

static void chk_dave_back(const wt_decision *d) {
  assert_string_equal(d->member.user_id, DAVE);
  assert_int_equal(d->member.added_at, us(NOW));
}

static void chk_bob_removed(const wt_decision *d) {
  assert_string_equal(d->stream_id, P1);
  assert_string_equal(d->member.user_id, BOB);
  assert_int_equal(d->member.role, WT_ROLE_MEMBER);
  assert_int_equal(d->member.added_at, 2000);
}

static void chk_carol_removed(const wt_decision *d) {
  assert_string_equal(d->member.user_id, CAROL);
  assert_int_equal(d->member.role, WT_ROLE_OWNER);
}

static void chk_log_created(const wt_decision *d) {
  assert_string_equal(d->stream_id, P1);
  assert_string_equal(d->log.id, L_NEW);
  assert_string_equal(d->log.project_id, P1);
  assert_string_equal(d->log.user_id, ALICE);
  assert_int_equal(d->log.started_at, us(T0));
  assert_false(d->log.ended_null);
  assert_int_equal(d->log.ended_at, us(T1));
  assert_string_equal(d->log.description, "notes");
  assert_int_equal(d->log.version, 1);
  assert_int_equal(d->log.created_at, us(NOW));
  assert_int_equal(d->log.updated_at, us(NOW));
}

static void chk_log_running(const wt_decision *d) {
  assert_string_equal(d->log.user_id, BOB);
  assert_true(d->log.ended_null);
  assert_string_equal(d->log.description, "");
  assert_int_equal(d->log.version, 1);
}

static void chk_log_alice_author(const wt_decision *d) {
  assert_string_equal(d->log.user_id, ALICE);
}

static void chk_log_description(const wt_decision *d) {
  assert_string_equal(d->log.id, L_ALICE);
  assert_string_equal(d->log.description, "retro");
  assert_int_equal(d->log.started_at, us(T0));
  assert_int_equal(d->log.ended_at, us(T1));
  assert_int_equal(d->log.version, 4);
  assert_int_equal(d->log.created_at, us("2026-11-27T10:00:00Z"));
  assert_int_equal(d->log.updated_at, us(NOW));
}

static void chk_log_stopped(const wt_decision *d) {
  assert_string_equal(d->log.id, L_BOB);
  assert_false(d->log.ended_null);
  assert_int_equal(d->log.ended_at, us("2026-11-27T11:00:00Z"));
  assert_string_equal(d->log.description, "on call");
  assert_int_equal(d->log.version, 2);
}

static void chk_log_restarted(const wt_decision *d) {
  assert_true(d->log.ended_null);
  assert_string_equal(d->log.description, "design review");
  assert_int_equal(d->log.version, 4);
}

static void chk_log_version4(const wt_decision *d) {
  assert_int_equal(d->log.version, 4);
}

static void chk_log_moved_back(const wt_decision *d) {
  assert_true(d->log.ended_null);
  assert_int_equal(d->log.started_at, us("2026-11-20T07:00:00Z"));
}

static void chk_log_deleted(const wt_decision *d) {
  assert_string_equal(d->log.id, L_ALICE);
  assert_string_equal(d->log.description, "design review");
  assert_int_equal(d->log.version, 3);
  assert_int_equal(d->log.updated_at, us("2026-11-27T11:00:00Z"));
}

static void chk_log_deleted_running(const wt_decision *d) {
  assert_string_equal(d->log.id, L_BOB);
  assert_true(d->log.ended_null);
}

static void chk_user_created(const wt_decision *d) {
  assert_string_equal(d->stream_id, NEWUSER);
  assert_string_equal(d->user.id, NEWUSER);
  assert_string_equal(d->user.username, "newbie");
  assert_string_equal(d->user.display_name, "New Bie");
  assert_true(d->user.active);
  assert_int_equal(d->user.token_version, 0);
  assert_int_equal(d->user.created_at, us(NOW));
}

static void chk_bob_deactivated(const wt_decision *d) {
  assert_string_equal(d->stream_id, BOB);
  assert_false(d->user.active);
  assert_int_equal(d->user.token_version, 2);
  assert_string_equal(d->user.username, "bob");
}

static void chk_bob_revoked(const wt_decision *d) {
  assert_string_equal(d->stream_id, BOB);
  assert_true(d->user.active);
  assert_int_equal(d->user.token_version, 3);
}

static void chk_erin_revoked(const wt_decision *d) {
  assert_false(d->user.active);
  assert_int_equal(d->user.token_version, 2);
}

/* --- the cases ------------------------------------------------------------ */

typedef void (*check_fn)(const wt_decision *d);

typedef struct rule_case {
  const char *name;
  const char *type;
  const char *actor;   /* a user id or "system" */
  const char *project; /* envelope project_id, NULL: absent */
  const char *user;    /* envelope user_id, NULL: absent */
  const char *payload;
  wt_reject expect;
  wt_effect effect;
  const char *event;
  check_fn check;
} rule_case;

#define APPLIED(effect, event, check) WT_REJECT_NONE, effect, event, check
#define REJECTED(code) code, WT_EFFECT_NONE, NULL, NULL
#define INVALID REJECTED(WT_REJECT_INVALID)
#define NOT_FOUND REJECTED(WT_REJECT_NOT_FOUND)
#define FORBIDDEN REJECTED(WT_REJECT_FORBIDDEN)
#define CONFLICT REJECTED(WT_REJECT_CONFLICT)

#define NAME(n) "{\"name\":\"" n "\"}"
#define MEMBER(u, r) "{\"user_id\":\"" u "\",\"role\":\"" r "\"}"
#define TARGET(u) "{\"user_id\":\"" u "\"}"
#define NEWLOG(rest)                                                           \
  "{\"log_id\":\"" L_NEW "\",\"started_at\":\"" T0 "\"" rest "}"
#define CLOSED ",\"ended_at\":\"" T1 "\",\"description\":\"notes\""
#define LOG(id, rest) "{\"log_id\":\"" id "\"" rest "}"
#define NEWUSER_PAYLOAD(u, name)                                               \
  "{\"user_id\":\"" u "\",\"username\":\"" name                                \
  "\",\"display_name\":\"New Bie\",\"password_hash\":\"$2b$12$abc\"}"

#define PC "project.create"
#define PR "project.rename"
#define MA "member.add"
#define MR "member.remove"
#define LC "log.create"
#define LU "log.update"
#define LD "log.delete"
#define UC "user.create"
#define UD "user.deactivate"
#define UR "user.revoke_tokens"
#define SYS "system"

static rule_case cases[] = {
    /* project.create */
    {"project.create: active user", PC, ALICE, PNEW, NULL, NAME("Voyager"),
     APPLIED(WT_EFFECT_PROJECT_CREATE, "project.created", chk_project_created)},
    {"project.create: a member elsewhere", PC, BOB, PNEW, NULL, NAME("B"),
     APPLIED(WT_EFFECT_PROJECT_CREATE, "project.created", NULL)},
    {"project.create: removed member", PC, DAVE, PNEW, NULL, NAME("D"),
     APPLIED(WT_EFFECT_PROJECT_CREATE, "project.created", NULL)},
    {"project.create: system", PC, SYS, PNEW, NULL, NAME("S"), FORBIDDEN},
    {"project.create: inactive user", PC, ERIN, PNEW, NULL, NAME("E"),
     FORBIDDEN},
    {"project.create: unknown user", PC, GHOST, PNEW, NULL, NAME("G"),
     FORBIDDEN},
    {"project.create: id of an own project", PC, ALICE, P1, NULL, NAME("A"),
     CONFLICT},
    {"project.create: id of someone else's project", PC, ALICE, P2, NULL,
     NAME("A"), CONFLICT},
    {"project.create: name missing", PC, ALICE, PNEW, NULL, "{}", INVALID},
    {"project.create: name blank", PC, ALICE, PNEW, NULL, NAME("  "), INVALID},
    {"project.create: name wrong type", PC, ALICE, PNEW, NULL,
     "{\"name\":[\"x\"]}", INVALID},

    /* project.rename */
    {"project.rename: owner", PR, ALICE, P1, NULL, NAME("Apollo 2"),
     APPLIED(WT_EFFECT_PROJECT_RENAME, "project.renamed", chk_project_renamed)},
    {"project.rename: co-owner", PR, GRACE, P2, NULL, NAME("G2"),
     APPLIED(WT_EFFECT_PROJECT_RENAME, "project.renamed", NULL)},
    {"project.rename: member", PR, BOB, P1, NULL, NAME("X"), FORBIDDEN},
    {"project.rename: non-member", PR, CAROL, P1, NULL, NAME("X"), NOT_FOUND},
    {"project.rename: removed member", PR, DAVE, P1, NULL, NAME("X"),
     NOT_FOUND},
    {"project.rename: inactive non-member", PR, ERIN, P1, NULL, NAME("X"),
     NOT_FOUND},
    {"project.rename: system", PR, SYS, P1, NULL, NAME("X"), FORBIDDEN},
    {"project.rename: missing project", PR, ALICE, PMISSING, NULL, NAME("X"),
     NOT_FOUND},
    {"project.rename: name too long", PR, ALICE, P1, NULL,
     NAME("0123456789012345678901234567890123456789012345678901234567890123"
          "4567890123456789012345678901234567890123456789012345678901234567"
          "8901234567890123456789012345678901234567890123456789012345678901"
          "234567890"),
     INVALID},
    {"project.rename: unknown field", PR, ALICE, P1, NULL,
     "{\"name\":\"x\",\"seq\":1}", INVALID},

    /* member.add */
    {"member.add: owner adds a member", MA, ALICE, P1, NULL,
     MEMBER(FRANK, "member"),
     APPLIED(WT_EFFECT_MEMBER_SET, "member.added", chk_member_new)},
    {"member.add: owner adds an owner", MA, ALICE, P1, NULL,
     MEMBER(FRANK, "owner"),
     APPLIED(WT_EFFECT_MEMBER_SET, "member.added", chk_member_new_owner)},
    {"member.add: owner promotes a member", MA, ALICE, P1, NULL,
     MEMBER(BOB, "owner"),
     APPLIED(WT_EFFECT_MEMBER_SET, "member.added", chk_bob_promoted)},
    {"member.add: owner demotes a co-owner", MA, CAROL, P2, NULL,
     MEMBER(GRACE, "member"),
     APPLIED(WT_EFFECT_MEMBER_SET, "member.added", chk_grace_demoted)},
    {"member.add: owner demotes itself, another owner stays", MA, GRACE, P2,
     NULL, MEMBER(GRACE, "member"),
     APPLIED(WT_EFFECT_MEMBER_SET, "member.added", NULL)},
    {"member.add: owner re-adds a removed member", MA, ALICE, P1, NULL,
     MEMBER(DAVE, "member"),
     APPLIED(WT_EFFECT_MEMBER_SET, "member.added", chk_dave_back)},
    {"member.add: same role again", MA, ALICE, P1, NULL, MEMBER(BOB, "member"),
     CONFLICT},
    {"member.add: owner already owner", MA, ALICE, P1, NULL,
     MEMBER(ALICE, "owner"), CONFLICT},
    {"member.add: last owner demotes itself", MA, ALICE, P1, NULL,
     MEMBER(ALICE, "member"), CONFLICT},
    {"member.add: member", MA, BOB, P1, NULL, MEMBER(FRANK, "member"),
     FORBIDDEN},
    {"member.add: member promotes itself", MA, BOB, P2, NULL,
     MEMBER(BOB, "owner"), FORBIDDEN},
    {"member.add: non-member", MA, CAROL, P1, NULL, MEMBER(FRANK, "member"),
     NOT_FOUND},
    {"member.add: removed member", MA, DAVE, P1, NULL, MEMBER(DAVE, "member"),
     NOT_FOUND},
    {"member.add: system", MA, SYS, P1, NULL, MEMBER(FRANK, "member"),
     FORBIDDEN},
    {"member.add: missing project", MA, ALICE, PMISSING, NULL,
     MEMBER(FRANK, "member"), NOT_FOUND},
    {"member.add: inactive target", MA, ALICE, P1, NULL, MEMBER(ERIN, "member"),
     NOT_FOUND},
    {"member.add: unknown target", MA, ALICE, P1, NULL, MEMBER(GHOST, "member"),
     NOT_FOUND},
    {"member.add: bad role", MA, ALICE, P1, NULL, MEMBER(FRANK, "boss"),
     INVALID},
    {"member.add: bad user_id", MA, ALICE, P1, NULL, MEMBER("frank", "member"),
     INVALID},

    /* member.remove */
    {"member.remove: owner removes a member", MR, ALICE, P1, NULL, TARGET(BOB),
     APPLIED(WT_EFFECT_MEMBER_REMOVE, "member.removed", chk_bob_removed)},
    {"member.remove: member removes itself", MR, BOB, P1, NULL, TARGET(BOB),
     APPLIED(WT_EFFECT_MEMBER_REMOVE, "member.removed", chk_bob_removed)},
    {"member.remove: co-owner removes itself", MR, CAROL, P2, NULL,
     TARGET(CAROL),
     APPLIED(WT_EFFECT_MEMBER_REMOVE, "member.removed", chk_carol_removed)},
    {"member.remove: owner removes a co-owner", MR, GRACE, P2, NULL,
     TARGET(CAROL),
     APPLIED(WT_EFFECT_MEMBER_REMOVE, "member.removed", chk_carol_removed)},
    {"member.remove: last owner removes itself", MR, ALICE, P1, NULL,
     TARGET(ALICE), CONFLICT},
    {"member.remove: member removes the owner", MR, BOB, P1, NULL,
     TARGET(ALICE), FORBIDDEN},
    {"member.remove: member removes an owner", MR, BOB, P2, NULL, TARGET(CAROL),
     FORBIDDEN},
    {"member.remove: target not a member", MR, ALICE, P1, NULL, TARGET(FRANK),
     NOT_FOUND},
    {"member.remove: target already removed", MR, ALICE, P1, NULL, TARGET(DAVE),
     NOT_FOUND},
    {"member.remove: non-member", MR, CAROL, P1, NULL, TARGET(BOB), NOT_FOUND},
    {"member.remove: removed member removes itself", MR, DAVE, P1, NULL,
     TARGET(DAVE), NOT_FOUND},
    {"member.remove: system", MR, SYS, P1, NULL, TARGET(BOB), FORBIDDEN},
    {"member.remove: missing project", MR, ALICE, PMISSING, NULL, TARGET(BOB),
     NOT_FOUND},
    {"member.remove: user_id missing", MR, ALICE, P1, NULL, "{}", INVALID},

    /* log.create */
    {"log.create: owner", LC, ALICE, P1, NULL, NEWLOG(CLOSED),
     APPLIED(WT_EFFECT_LOG_CREATE, "log.created", chk_log_created)},
    {"log.create: member, running timer", LC, BOB, P1, NULL,
     NEWLOG(",\"ended_at\":null"),
     APPLIED(WT_EFFECT_LOG_CREATE, "log.created", chk_log_running)},
    {"log.create: member, no ended_at", LC, BOB, P1, NULL, NEWLOG(""),
     APPLIED(WT_EFFECT_LOG_CREATE, "log.created", chk_log_running)},
    {"log.create: names itself as author", LC, ALICE, P1, NULL,
     NEWLOG(",\"user_id\":\"" ALICE "\""),
     APPLIED(WT_EFFECT_LOG_CREATE, "log.created", chk_log_alice_author)},
    {"log.create: exactly the longest log", LC, ALICE, P1, NULL,
     NEWLOG(",\"ended_at\":\"2026-11-28T08:00:00Z\""),
     APPLIED(WT_EFFECT_LOG_CREATE, "log.created", NULL)},
    {"log.create: member names another author", LC, BOB, P1, NULL,
     NEWLOG(",\"user_id\":\"" ALICE "\""), FORBIDDEN},
    {"log.create: owner names another author", LC, ALICE, P1, NULL,
     NEWLOG(",\"user_id\":\"" BOB "\""), FORBIDDEN},
    {"log.create: non-member", LC, CAROL, P1, NULL, NEWLOG(CLOSED), NOT_FOUND},
    {"log.create: non-member names another author", LC, CAROL, P1, NULL,
     NEWLOG(",\"user_id\":\"" ALICE "\""), NOT_FOUND},
    {"log.create: removed member", LC, DAVE, P1, NULL, NEWLOG(CLOSED),
     NOT_FOUND},
    {"log.create: system", LC, SYS, P1, NULL, NEWLOG(CLOSED), FORBIDDEN},
    {"log.create: missing project", LC, ALICE, PMISSING, NULL, NEWLOG(CLOSED),
     NOT_FOUND},
    {"log.create: log id exists", LC, ALICE, P1, NULL,
     LOG(L_ALICE, ",\"started_at\":\"" T0 "\""), CONFLICT},
    {"log.create: log id exists in another project", LC, ALICE, P1, NULL,
     LOG(L_CAROL, ",\"started_at\":\"" T0 "\""), CONFLICT},
    {"log.create: a microsecond too long", LC, ALICE, P1, NULL,
     NEWLOG(",\"ended_at\":\"2026-11-28T08:00:00.000001Z\""), INVALID},
    {"log.create: ended equals started", LC, ALICE, P1, NULL,
     NEWLOG(",\"ended_at\":\"" T0 "\""), INVALID},
    {"log.create: ended before started", LC, ALICE, P1, NULL,
     NEWLOG(",\"ended_at\":\"2026-11-27T07:00:00Z\""), INVALID},
    {"log.create: bad started_at", LC, ALICE, P1, NULL,
     LOG(L_NEW, ",\"started_at\":\"2026-11-27 08:00\""), INVALID},
    {"log.create: started_at missing", LC, ALICE, P1, NULL, LOG(L_NEW, ""),
     INVALID},
    {"log.create: bad log_id", LC, ALICE, P1, NULL,
     "{\"log_id\":\"D6000000-0000-4000-8000-000000000006\",\"started_at\":"
     "\"" T0 "\"}",
     INVALID},
    {"log.create: description wrong type", LC, ALICE, P1, NULL,
     NEWLOG(",\"description\":true"), INVALID},

    /* log.update */
    {"log.update: author changes the description", LU, ALICE, P1, NULL,
     LOG(L_ALICE, ",\"description\":\"retro\""),
     APPLIED(WT_EFFECT_LOG_UPDATE, "log.updated", chk_log_description)},
    {"log.update: author stops the timer", LU, BOB, P1, NULL,
     LOG(L_BOB, ",\"ended_at\":\"2026-11-27T11:00:00Z\""),
     APPLIED(WT_EFFECT_LOG_UPDATE, "log.updated", chk_log_stopped)},
    {"log.update: author restarts the timer", LU, ALICE, P1, NULL,
     LOG(L_ALICE, ",\"ended_at\":null"),
     APPLIED(WT_EFFECT_LOG_UPDATE, "log.updated", chk_log_restarted)},
    {"log.update: expected version matches", LU, ALICE, P1, NULL,
     LOG(L_ALICE, ",\"description\":\"z\",\"expected_version\":3"),
     APPLIED(WT_EFFECT_LOG_UPDATE, "log.updated", chk_log_version4)},
    {"log.update: names itself as author", LU, ALICE, P1, NULL,
     LOG(L_ALICE, ",\"description\":\"z\",\"user_id\":\"" ALICE "\""),
     APPLIED(WT_EFFECT_LOG_UPDATE, "log.updated", NULL)},
    {"log.update: running timer moved back a week", LU, BOB, P1, NULL,
     LOG(L_BOB, ",\"started_at\":\"2026-11-20T07:00:00Z\""),
     APPLIED(WT_EFFECT_LOG_UPDATE, "log.updated", chk_log_moved_back)},
    {"log.update: author in the other project", LU, BOB, P2, NULL,
     LOG(L_BOB2, ",\"description\":\"q\""),
     APPLIED(WT_EFFECT_LOG_UPDATE, "log.updated", NULL)},
    {"log.update: expected version stale", LU, ALICE, P1, NULL,
     LOG(L_ALICE, ",\"description\":\"z\",\"expected_version\":2"), CONFLICT},
    {"log.update: owner edits a member's log", LU, ALICE, P1, NULL,
     LOG(L_BOB, ",\"description\":\"z\""), FORBIDDEN},
    {"log.update: member edits the owner's log", LU, BOB, P1, NULL,
     LOG(L_ALICE, ",\"description\":\"z\""), FORBIDDEN},
    {"log.update: owner edits a removed member's log", LU, ALICE, P1, NULL,
     LOG(L_DAVE, ",\"description\":\"z\""), FORBIDDEN},
    {"log.update: author names another author", LU, ALICE, P1, NULL,
     LOG(L_ALICE, ",\"description\":\"z\",\"user_id\":\"" BOB "\""), FORBIDDEN},
    {"log.update: non-member", LU, CAROL, P1, NULL,
     LOG(L_ALICE, ",\"description\":\"z\""), NOT_FOUND},
    {"log.update: removed member edits its own log", LU, DAVE, P1, NULL,
     LOG(L_DAVE, ",\"description\":\"z\""), NOT_FOUND},
    {"log.update: system", LU, SYS, P1, NULL,
     LOG(L_ALICE, ",\"description\":\"z\""), FORBIDDEN},
    {"log.update: missing log", LU, ALICE, P1, NULL,
     LOG(L_MISSING, ",\"description\":\"z\""), NOT_FOUND},
    {"log.update: log of another project", LU, BOB, P1, NULL,
     LOG(L_BOB2, ",\"description\":\"z\""), NOT_FOUND},
    {"log.update: missing project", LU, ALICE, PMISSING, NULL,
     LOG(L_ALICE, ",\"description\":\"z\""), NOT_FOUND},
    {"log.update: started after the stored end", LU, ALICE, P1, NULL,
     LOG(L_ALICE, ",\"started_at\":\"2026-11-27T10:00:00Z\""), INVALID},
    {"log.update: started equal to the stored end", LU, ALICE, P1, NULL,
     LOG(L_ALICE, ",\"started_at\":\"" T1 "\""), INVALID},
    {"log.update: end makes it too long", LU, ALICE, P1, NULL,
     LOG(L_ALICE, ",\"ended_at\":\"2026-11-28T08:00:01Z\""), INVALID},
    {"log.update: stop before the start", LU, BOB, P1, NULL,
     LOG(L_BOB, ",\"ended_at\":\"2026-11-27T06:00:00Z\""), INVALID},
    {"log.update: nothing to change", LU, ALICE, P1, NULL, LOG(L_ALICE, ""),
     INVALID},
    {"log.update: started_at null", LU, ALICE, P1, NULL,
     LOG(L_ALICE, ",\"started_at\":null"), INVALID},
    {"log.update: expected_version zero", LU, ALICE, P1, NULL,
     LOG(L_ALICE, ",\"description\":\"z\",\"expected_version\":0"), INVALID},

    /* log.delete */
    {"log.delete: author", LD, ALICE, P1, NULL, LOG(L_ALICE, ""),
     APPLIED(WT_EFFECT_LOG_DELETE, "log.deleted", chk_log_deleted)},
    {"log.delete: author of a running timer", LD, BOB, P1, NULL, LOG(L_BOB, ""),
     APPLIED(WT_EFFECT_LOG_DELETE, "log.deleted", chk_log_deleted_running)},
    {"log.delete: expected version matches", LD, ALICE, P1, NULL,
     LOG(L_ALICE, ",\"expected_version\":3"),
     APPLIED(WT_EFFECT_LOG_DELETE, "log.deleted", chk_log_deleted)},
    {"log.delete: expected version stale", LD, ALICE, P1, NULL,
     LOG(L_ALICE, ",\"expected_version\":4"), CONFLICT},
    {"log.delete: owner deletes a member's log", LD, ALICE, P1, NULL,
     LOG(L_BOB, ""), FORBIDDEN},
    {"log.delete: member deletes the owner's log", LD, BOB, P1, NULL,
     LOG(L_ALICE, ""), FORBIDDEN},
    {"log.delete: author names another author", LD, ALICE, P1, NULL,
     LOG(L_ALICE, ",\"user_id\":\"" BOB "\""), FORBIDDEN},
    {"log.delete: non-member", LD, CAROL, P1, NULL, LOG(L_ALICE, ""),
     NOT_FOUND},
    {"log.delete: non-member deletes a log it cannot see", LD, CAROL, P1, NULL,
     LOG(L_MISSING, ""), NOT_FOUND},
    {"log.delete: removed member deletes its own log", LD, DAVE, P1, NULL,
     LOG(L_DAVE, ""), NOT_FOUND},
    {"log.delete: system", LD, SYS, P1, NULL, LOG(L_ALICE, ""), FORBIDDEN},
    {"log.delete: missing log", LD, ALICE, P1, NULL, LOG(L_MISSING, ""),
     NOT_FOUND},
    {"log.delete: log of another project", LD, CAROL, P2, NULL,
     LOG(L_ALICE, ""), NOT_FOUND},
    {"log.delete: missing project", LD, ALICE, PMISSING, NULL, LOG(L_ALICE, ""),
     NOT_FOUND},
    {"log.delete: unknown field", LD, ALICE, P1, NULL,
     LOG(L_ALICE, ",\"started_at\":\"" T0 "\""), INVALID},

    /* user.create */
    {"user.create: system", UC, SYS, NULL, NEWUSER,
     NEWUSER_PAYLOAD(NEWUSER, "newbie"),
     APPLIED(WT_EFFECT_USER_CREATE, "user.created", chk_user_created)},
    {"user.create: a user", UC, ALICE, NULL, NEWUSER,
     NEWUSER_PAYLOAD(NEWUSER, "newbie"), FORBIDDEN},
    {"user.create: id exists", UC, SYS, NULL, BOB,
     NEWUSER_PAYLOAD(BOB, "newbie"), CONFLICT},
    {"user.create: username taken", UC, SYS, NULL, NEWUSER,
     NEWUSER_PAYLOAD(NEWUSER, "alice"), CONFLICT},
    {"user.create: username of an inactive user", UC, SYS, NULL, NEWUSER,
     NEWUSER_PAYLOAD(NEWUSER, "erin"), CONFLICT},
    {"user.create: bad username", UC, SYS, NULL, NEWUSER,
     NEWUSER_PAYLOAD(NEWUSER, "New Bie"), INVALID},
    {"user.create: payload names another user", UC, SYS, NULL, NEWUSER,
     NEWUSER_PAYLOAD(FRANK, "newbie"), INVALID},

    /* user.deactivate */
    {"user.deactivate: system", UD, SYS, NULL, BOB, TARGET(BOB),
     APPLIED(WT_EFFECT_USER_UPDATE, "user.deactivated", chk_bob_deactivated)},
    {"user.deactivate: a user deactivates itself", UD, BOB, NULL, BOB,
     TARGET(BOB), FORBIDDEN},
    {"user.deactivate: an owner", UD, ALICE, NULL, BOB, TARGET(BOB), FORBIDDEN},
    {"user.deactivate: missing user", UD, SYS, NULL, GHOST, TARGET(GHOST),
     NOT_FOUND},
    {"user.deactivate: already inactive", UD, SYS, NULL, ERIN, TARGET(ERIN),
     CONFLICT},
    {"user.deactivate: payload names another user", UD, SYS, NULL, BOB,
     TARGET(ALICE), INVALID},

    /* user.revoke_tokens */
    {"user.revoke_tokens: system", UR, SYS, NULL, BOB, TARGET(BOB),
     APPLIED(WT_EFFECT_USER_UPDATE, "user.tokens_revoked", chk_bob_revoked)},
    {"user.revoke_tokens: inactive user", UR, SYS, NULL, ERIN, TARGET(ERIN),
     APPLIED(WT_EFFECT_USER_UPDATE, "user.tokens_revoked", chk_erin_revoked)},
    {"user.revoke_tokens: a user", UR, ALICE, NULL, ALICE, TARGET(ALICE),
     FORBIDDEN},
    {"user.revoke_tokens: missing user", UR, SYS, NULL, GHOST, TARGET(GHOST),
     NOT_FOUND},
    {"user.revoke_tokens: bad payload user_id", UR, SYS, NULL, BOB,
     TARGET("BOB"), INVALID},
};

/* With WT_SCHEMA_DUMP=FILE, every document built is appended to FILE as
 * "<schema> <json>" lines, for checking against schemas/ (see its README). */
static void schema_dump(const char *schema, const char *json) {
  const char *path = getenv("WT_SCHEMA_DUMP");
  FILE *f = path ? fopen(path, "a") : NULL;
  if (!f)
    return;
  fprintf(f, "%s ", schema);
  for (const char *c = json; *c; c++) /* JSON whitespace: one line each */
    fputc(*c == '\n' || *c == '\r' ? ' ' : *c, f);
  fputc('\n', f);
  fclose(f);
}

/* --- JSON helpers ----------------------------------------------------------
 */

static json_object *parse_json(const char *text) {
  json_tokener *tok = json_tokener_new();
  json_object *o = NULL;
  assert_non_null(tok);
  assert_non_null(text);
  json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
  o = json_tokener_parse_ex(tok, text, (int)strlen(text));
  if (!o || json_tokener_get_parse_end(tok) != strlen(text))
    fail_msg("not valid JSON: %s", text);
  json_tokener_free(tok);
  return o;
}

static const char *get_str(json_object *o, const char *key) {
  json_object *v = NULL;
  if (!json_object_object_get_ex(o, key, &v) ||
      !json_object_is_type(v, json_type_string))
    fail_msg("%s: missing or not a string", key);
  return json_object_get_string(v);
}

static int64_t get_int(json_object *o, const char *key) {
  json_object *v = NULL;
  if (!json_object_object_get_ex(o, key, &v) ||
      !json_object_is_type(v, json_type_int))
    fail_msg("%s: missing or not an integer", key);
  return json_object_get_int64(v);
}

static bool is_null(json_object *o, const char *key) {
  json_object *v = NULL;
  return json_object_object_get_ex(o, key, &v) && v == NULL;
}

static size_t nkeys(json_object *o) {
  return (size_t)json_object_object_length(o);
}

/* --- the outcomes' bytes ----------------------------------------------------
 * Every document a test builds is compared, byte for byte, with its line in
 * tests/unit/rules_outcomes.golden ("<test>\t#<n>\t<json>": the n-th
 * document of that test): the bytes the outcome writers produced before
 * they moved onto wt_jw (issue 13), recorded from that code. Each builder
 * is called through both of its forms (malloc'd and _to a reused buffer),
 * which must agree. WT_RULES_GOLDEN_WRITE=FILE appends the lines to FILE
 * instead of comparing (to record a deliberate change of the format). */

static const char *golden_test; /* the running test's name */
static int golden_n;

static void golden_begin(const char *test) {
  golden_test = test;
  golden_n = 0;
}

static char *golden_load(void) {
  static char *text;
  FILE *f;
  long size;
  if (text)
    return text;
  f = fopen(WT_RULES_GOLDEN, "rb");
  if (!f)
    fail_msg("cannot open %s", WT_RULES_GOLDEN);
  fseek(f, 0, SEEK_END);
  size = ftell(f);
  fseek(f, 0, SEEK_SET);
  text = calloc(1, (size_t)size + 2);
  assert_non_null(text);
  text[0] = '\n'; /* every line starts after a newline */
  assert_int_equal(fread(text + 1, 1, (size_t)size, f), (size_t)size);
  fclose(f);
  return text;
}

static void golden(const char *json) {
  const char *path = getenv("WT_RULES_GOLDEN_WRITE");
  char key[300];
  const char *at, *end;
  assert_non_null(golden_test);
  assert_non_null(json);
  snprintf(key, sizeof(key), "\n%s\t#%d\t", golden_test, golden_n++);
  if (path && path[0]) {
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fprintf(f, "%s%s\n", key + 1, json);
    fclose(f);
    return;
  }
  at = strstr(golden_load(), key);
  if (!at) {
    fail_msg("no recorded document %s", key + 1);
    return; /* fail_msg does not return; the analyzer does not know it */
  }
  at += strlen(key);
  end = strchr(at, '\n');
  assert_non_null(end);
  if ((size_t)(end - at) != strlen(json) ||
      memcmp(at, json, (size_t)(end - at)) != 0)
    fail_msg("document %s changed:\n  was %.*s\n  now %s", key + 1,
             (int)(end - at), at, json);
}

static wt_buf reused; /* the _to forms' buffer, reused as the worker does */

static char *data_json(const wt_decision *d) {
  char *text = wt_decision_data_json(d);
  if (reused.cap == 0)
    wt_buf_init(&reused, 1 << 20);
  assert_int_equal(wt_decision_data_json_to(&reused, d), text != NULL);
  if (text) {
    assert_string_equal(reused.data, text);
    golden(text);
  }
  return text;
}

static char *event_json(const char *type, const char *stream_id, int64_t seq,
                        const char *command_id, const char *actor_id,
                        int64_t at, const char *data) {
  char *text = wt_outcome_event_json(type, stream_id, seq, command_id, actor_id,
                                     at, data);
  if (reused.cap == 0)
    wt_buf_init(&reused, 1 << 20);
  assert_int_equal(wt_outcome_event_json_to(&reused, type, stream_id, seq,
                                            command_id, actor_id, at, data,
                                            data ? strlen(data) : 0),
                   text != NULL);
  if (text) {
    assert_string_equal(reused.data, text);
    golden(text);
  }
  return text;
}

static char *rejected_json(const char *command_id, const char *project_id,
                           const char *actor_id, wt_reject code,
                           const char *message) {
  char *text =
      wt_outcome_rejected_json(command_id, project_id, actor_id, code, message);
  if (reused.cap == 0)
    wt_buf_init(&reused, 1 << 20);
  assert_int_equal(wt_outcome_rejected_json_to(&reused, command_id, project_id,
                                               actor_id, code, message),
                   text != NULL);
  if (text) {
    assert_string_equal(reused.data, text);
    golden(text);
  }
  return text;
}

/* --- the table-driven test -------------------------------------------------
 */

static void build_json(const rule_case *rc, char *buf, size_t size) {
  char project[64] = "", user[64] = "";
  if (rc->project)
    snprintf(project, sizeof(project), ",\"project_id\":\"%s\"", rc->project);
  if (rc->user)
    snprintf(user, sizeof(user), ",\"user_id\":\"%s\"", rc->user);
  snprintf(buf, size,
           "{\"v\":1,\"command_id\":\"" CID "\",\"type\":\"%s\",\"actor_id\":"
           "\"%s\"%s%s,\"issued_at\":\"" NOW "\",\"payload\":%s}",
           rc->type, rc->actor, project, user, rc->payload);
}

/* The outcome JSON of every decision parses and says what was decided. */
static void check_outcome_json(const wt_command *cmd, const wt_decision *d) {
  const char *actor = cmd->actor_system ? NULL : cmd->actor_id;
  if (d->reject != WT_REJECT_NONE) {
    char *text = rejected_json(cmd->command_id, cmd->project_id, actor,
                               d->reject, d->message);
    json_object *o = parse_json(text);
    schema_dump("rejected", text);
    assert_string_equal(get_str(o, "kind"), "rejected");
    assert_string_equal(get_str(o, "code"), wt_reject_name(d->reject));
    assert_string_equal(get_str(o, "message"), d->message);
    assert_string_equal(get_str(o, "actor_id"), actor ? actor : "system");
    json_object_put(o);
    free(text);
  } else {
    char *data = data_json(d);
    json_object *dobj = parse_json(data);
    char *text = event_json(d->event_type, d->stream_id, 17, cmd->command_id,
                            actor, us(NOW), data);
    json_object *o = parse_json(text), *embedded = NULL;
    schema_dump("event", text);
    assert_string_equal(get_str(o, "kind"), "event");
    assert_string_equal(get_str(o, "type"), d->event_type);
    assert_int_equal(get_int(o, "seq"), 17);
    assert_string_equal(get_str(o, "at"), NOW);
    assert_true(json_object_object_get_ex(o, "data", &embedded));
    assert_true(json_object_equal(embedded, dobj));
    assert_null(strstr(data, "password"));
    /* the stream's key: user_id for a user's events, else project_id */
    if (cmd->type == WT_CMD_USER_CREATE ||
        cmd->type == WT_CMD_USER_DEACTIVATE ||
        cmd->type == WT_CMD_USER_REVOKE_TOKENS) {
      assert_string_equal(get_str(o, "user_id"), d->stream_id);
      assert_false(json_object_object_get_ex(o, "project_id", NULL));
    } else {
      assert_string_equal(get_str(o, "project_id"), d->stream_id);
      assert_false(json_object_object_get_ex(o, "user_id", NULL));
    }
    json_object_put(o);
    json_object_put(dobj);
    free(text);
    free(data);
  }
}

static void test_rule_case(void **state) {
  const rule_case *rc = *state;
  char json[4096], err[256] = "";
  wt_command *cmd = calloc(1, sizeof(*cmd));
  wt_decision d;
  wt_rules_view view = make_view();
  wt_reject got;
  golden_begin(rc->name);
  assert_non_null(cmd);
  build_json(rc, json, sizeof(json));
  if (wt_command_parse(json, strlen(json), cmd, err, sizeof(err)) != WT_OK)
    fail_msg("envelope refused: %s (%s)", err, json);
  schema_dump(cmd->payload_error ? "command-invalid" : "command", json);
  got = wt_rules_decide(cmd, &view, &d);
  assert_int_equal(got, d.reject);
  if (got != rc->expect)
    fail_msg("decided %s (\"%s\"), expected %s", wt_reject_name(got), d.message,
             wt_reject_name(rc->expect));
  if (got != WT_REJECT_NONE) {
    assert_int_equal(d.effect, WT_EFFECT_NONE);
    assert_null(d.event_type);
    assert_true(strlen(d.message) > 0);
    if (got == WT_REJECT_INVALID && cmd->payload_error)
      assert_string_equal(d.message, cmd->payload_message);
  } else {
    assert_int_equal(d.effect, rc->effect);
    assert_non_null(d.event_type);
    assert_string_equal(d.event_type, rc->event);
    assert_string_equal(d.stream_id, wt_command_key(cmd));
    if (rc->check)
      rc->check(&d);
  }
  check_outcome_json(cmd, &d);
  free(cmd);
}

/* --- the JSON builders -----------------------------------------------------
 */

static void test_data_log_closed(void **state) {
  wt_decision d;
  char *text;
  json_object *o;
  (void)state;
  golden_begin(__func__);
  memset(&d, 0, sizeof(d));
  d.effect = WT_EFFECT_LOG_UPDATE;
  d.log = logs[0];
  d.log.ended_at += 999999; /* 90 min + 0.999999 s: whole seconds, floored */
  text = data_json(&d);
  o = parse_json(text);
  assert_int_equal(nkeys(o), 10);
  assert_string_equal(get_str(o, "id"), L_ALICE);
  assert_string_equal(get_str(o, "project_id"), P1);
  assert_string_equal(get_str(o, "user_id"), ALICE);
  assert_string_equal(get_str(o, "started_at"), T0);
  assert_string_equal(get_str(o, "ended_at"), "2026-11-27T09:30:00.999999Z");
  assert_int_equal(get_int(o, "duration_seconds"), 5400);
  assert_string_equal(get_str(o, "description"), "design review");
  assert_int_equal(get_int(o, "version"), 3);
  assert_string_equal(get_str(o, "created_at"), "2026-11-27T10:00:00Z");
  assert_string_equal(get_str(o, "updated_at"), "2026-11-27T11:00:00Z");
  json_object_put(o);
  free(text);
}

static void test_data_log_running(void **state) {
  wt_decision d;
  char *text;
  json_object *o;
  (void)state;
  golden_begin(__func__);
  memset(&d, 0, sizeof(d));
  d.effect = WT_EFFECT_LOG_CREATE;
  d.log = logs[1];
  text = data_json(&d);
  o = parse_json(text);
  assert_int_equal(nkeys(o), 10);
  assert_true(is_null(o, "ended_at"));
  assert_true(is_null(o, "duration_seconds"));
  json_object_put(o);
  free(text);
}

static void test_data_member_project_user(void **state) {
  wt_decision d;
  char *text;
  json_object *o;
  (void)state;
  golden_begin(__func__);
  memset(&d, 0, sizeof(d));
  d.effect = WT_EFFECT_MEMBER_SET;
  snprintf(d.stream_id, sizeof(d.stream_id), "%s", P2);
  d.member = p2_members[0];
  d.member.added_at = us(T0);
  text = data_json(&d);
  o = parse_json(text);
  assert_int_equal(nkeys(o), 4);
  assert_string_equal(get_str(o, "project_id"), P2);
  assert_string_equal(get_str(o, "user_id"), BOB);
  assert_string_equal(get_str(o, "role"), "member");
  assert_string_equal(get_str(o, "added_at"), T0);
  json_object_put(o);
  free(text);

  d.effect = WT_EFFECT_PROJECT_RENAME;
  d.project = projects[0];
  snprintf(d.project.name, sizeof(d.project.name), "%s",
           "quote \" slash / back \\ tab \t \xc3\xa9 \xf0\x9f\x98\x80");
  d.project.created_at = us(T1);
  text = data_json(&d);
  assert_null(strstr(text, "\\/")); /* no slash escaping */
  o = parse_json(text);
  assert_int_equal(nkeys(o), 4);
  assert_string_equal(get_str(o, "id"), P1);
  assert_string_equal(get_str(o, "name"), d.project.name);
  assert_string_equal(get_str(o, "created_by"), ALICE);
  assert_string_equal(get_str(o, "created_at"), T1);
  json_object_put(o);
  free(text);

  d.effect = WT_EFFECT_USER_CREATE;
  d.user = users[4];
  d.user.created_at = us(T0);
  text = data_json(&d);
  o = parse_json(text);
  assert_int_equal(nkeys(o), 6);
  assert_string_equal(get_str(o, "id"), ERIN);
  assert_string_equal(get_str(o, "username"), "erin");
  assert_string_equal(get_str(o, "display_name"), "Erin");
  assert_false(json_object_get_boolean(json_object_object_get(o, "is_active")));
  assert_int_equal(get_int(o, "token_version"), 1);
  assert_string_equal(get_str(o, "created_at"), T0);
  json_object_put(o);
  free(text);

  d.effect = WT_EFFECT_NONE;
  assert_null(data_json(&d));
}

static void test_event_json(void **state) {
  const char *data = "{\"id\":\"x\",\"nested\":{\"a\":[1,2]}}";
  char *text;
  json_object *o, *dobj = NULL;
  (void)state;
  golden_begin(__func__);
  text = event_json("log.created", P1, 9, CID, ALICE,
                    us("2026-11-27T12:00:00.250Z"), data);
  o = parse_json(text);
  assert_int_equal(nkeys(o), 9);
  assert_int_equal(get_int(o, "v"), 1);
  assert_string_equal(get_str(o, "kind"), "event");
  assert_string_equal(get_str(o, "type"), "log.created");
  assert_string_equal(get_str(o, "project_id"), P1);
  assert_int_equal(get_int(o, "seq"), 9);
  assert_string_equal(get_str(o, "command_id"), CID);
  assert_string_equal(get_str(o, "actor_id"), ALICE);
  assert_string_equal(get_str(o, "at"), "2026-11-27T12:00:00.250Z");
  assert_true(json_object_object_get_ex(o, "data", &dobj));
  assert_string_equal(get_str(dobj, "id"), "x");
  json_object_put(o);
  free(text);

  /* the system, and a user stream without an id */
  text = event_json("user.created", NULL, 1, CID, NULL, 0, "{}");
  o = parse_json(text);
  assert_string_equal(get_str(o, "actor_id"), "system");
  assert_false(json_object_object_get_ex(o, "project_id", NULL));
  assert_false(json_object_object_get_ex(o, "user_id", NULL));
  json_object_put(o);
  free(text);
  /* a user's stream is its user_id, never a project_id (from a decision,
   * and from an events row, whose project_id column holds the user) */
  {
    static const char *const types[] = {"user.created", "user.deactivated",
                                        "user.tokens_revoked"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
      text = event_json(types[i], BOB, 3, CID, NULL, 0, "{}");
      o = parse_json(text);
      assert_int_equal(nkeys(o), 9);
      assert_string_equal(get_str(o, "user_id"), BOB);
      assert_false(json_object_object_get_ex(o, "project_id", NULL));
      json_object_put(o);
      free(text);
    }
  }

  /* PostgreSQL's jsonb text has spaces: spliced as is, still JSON */
  text = event_json("x", P1, 1, CID, "", 0, "{\"a\": 1, \"b\": []}");
  o = parse_json(text);
  assert_string_equal(get_str(o, "actor_id"), "system");
  json_object_put(o);
  free(text);

  assert_null(event_json("x", P1, 1, CID, NULL, 0, NULL));
  assert_null(event_json("x", P1, 1, CID, NULL, 0, "[1]"));
  assert_null(event_json("x", P1, 1, CID, NULL, 0, ""));
}

static void test_rejected_json(void **state) {
  char *text;
  json_object *o;
  (void)state;
  golden_begin(__func__);
  text = rejected_json(CID, P1, BOB, WT_REJECT_FORBIDDEN,
                       "log \"x\" belongs to\nanother member");
  o = parse_json(text);
  assert_int_equal(nkeys(o), 7);
  assert_int_equal(get_int(o, "v"), 1);
  assert_string_equal(get_str(o, "kind"), "rejected");
  assert_string_equal(get_str(o, "command_id"), CID);
  assert_string_equal(get_str(o, "project_id"), P1);
  assert_string_equal(get_str(o, "actor_id"), BOB);
  assert_string_equal(get_str(o, "code"), "forbidden");
  assert_string_equal(get_str(o, "message"),
                      "log \"x\" belongs to\nanother member");
  json_object_put(o);
  free(text);

  text = rejected_json(CID, "", NULL, WT_REJECT_CONFLICT, NULL);
  o = parse_json(text);
  assert_int_equal(nkeys(o), 6);
  assert_false(json_object_object_get_ex(o, "project_id", NULL));
  assert_string_equal(get_str(o, "actor_id"), "system");
  assert_string_equal(get_str(o, "message"), "");
  json_object_put(o);
  free(text);

  assert_null(rejected_json(CID, P1, BOB, WT_REJECT_NONE, "x"));
  assert_int_equal(wt_reject_parse("not_found"), WT_REJECT_NOT_FOUND);
  assert_int_equal(wt_reject_parse("conflict"), WT_REJECT_CONFLICT);
  assert_int_equal(wt_reject_parse("none"), WT_REJECT_NONE);
  assert_int_equal(wt_reject_parse(NULL), WT_REJECT_NONE);
}

/* Bytes at the edges: every ASCII byte in a text (control characters,
 * quotes, backslash, DEL), UTF-8, times with fractions and before 1970,
 * integers at their limits, a negative duration: recorded documents. */
static void test_outcome_edge_bytes(void **state) {
  char all[200], *text;
  size_t n = 0;
  wt_decision d;
  (void)state;
  golden_begin(__func__);
  for (int c = 1; c < 0x80; c++)
    all[n++] = (char)c;
  memcpy(all + n, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
  all[n + 9] = '\0';
  memset(&d, 0, sizeof(d));
  d.effect = WT_EFFECT_LOG_UPDATE;
  d.log = logs[0];
  d.log.description = all;
  d.log.started_at = INT64_C(1796495400000001);
  d.log.ended_at = INT64_C(1796495399999999); /* before: floored, negative */
  d.log.version = INT64_MAX;
  d.log.created_at = -1;
  d.log.updated_at = INT64_C(1796495400123000);
  free(data_json(&d));
  d.effect = WT_EFFECT_PROJECT_CREATE;
  d.project = projects[0];
  snprintf(d.project.name, sizeof(d.project.name), "%s", all);
  d.project.created_at = INT64_C(-86400000001);
  free(data_json(&d));
  d.effect = WT_EFFECT_USER_UPDATE;
  d.user = users[0];
  snprintf(d.user.display_name, sizeof(d.user.display_name), "%s", all);
  snprintf(d.user.username, sizeof(d.user.username), "%s", "a\"b\\c");
  d.user.token_version = INT64_MIN;
  d.user.active = true;
  free(data_json(&d));
  d.effect = WT_EFFECT_MEMBER_REMOVE;
  d.member = p2_members[0];
  d.member.role = WT_ROLE_OWNER;
  d.member.added_at = INT64_C(253402300799999999); /* 9999-12-31 */
  free(data_json(&d));
  text = data_json(&d);
  free(event_json("member.removed", P2, INT64_MAX, CID, all, INT64_C(1), text));
  free(event_json("user.deactivated", "x\"y", INT64_MIN, all, NULL, 0, text));
  free(text);
  free(rejected_json(CID, P1, all, WT_REJECT_INVALID, all));
  free(rejected_json(all, all, "", WT_REJECT_NOT_FOUND, ""));
}

/* A configured maximum is honoured; the decision never reads the command
 * after it returns except through log.description. */
static void test_max_log_seconds_configured(void **state) {
  static const char json[] =
      "{\"v\":1,\"command_id\":\"" CID "\",\"type\":\"log.create\","
      "\"actor_id\":\"" ALICE "\",\"project_id\":\"" P1
      "\",\"issued_at\":\"" NOW "\",\"payload\":{\"log_id\":\"" L_NEW
      "\",\"started_at\":\"" T0 "\",\"ended_at\":\"2026-11-27T09:00:01Z\"}}";
  wt_command *cmd = calloc(1, sizeof(*cmd));
  wt_decision d;
  wt_rules_view view = make_view();
  char err[256];
  (void)state;
  assert_non_null(cmd);
  assert_int_equal(wt_command_parse(json, strlen(json), cmd, err, sizeof(err)),
                   WT_OK);
  view.max_log_seconds = 3600;
  assert_int_equal(wt_rules_decide(cmd, &view, &d), WT_REJECT_INVALID);
  assert_non_null(strstr(d.message, "3600"));
  view.max_log_seconds = 3601;
  assert_int_equal(wt_rules_decide(cmd, &view, &d), WT_REJECT_NONE);
  assert_ptr_equal(d.log.description, cmd->description);
  free(cmd);
}

int main(void) {
  enum { NCASES = COUNT(cases), NSINGLE = 7 };
  static struct CMUnitTest tests[NCASES + NSINGLE];
  size_t n = 0;
  int rc;
  world_init();
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_data_log_closed);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_data_log_running);
  tests[n++] =
      (struct CMUnitTest)cmocka_unit_test(test_data_member_project_user);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_event_json);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_rejected_json);
  tests[n++] =
      (struct CMUnitTest)cmocka_unit_test(test_max_log_seconds_configured);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_outcome_edge_bytes);
  for (size_t i = 0; i < NCASES; i++)
    tests[n++] = (struct CMUnitTest){.name = cases[i].name,
                                     .test_func = test_rule_case,
                                     .initial_state = &cases[i]};
  rc = _cmocka_run_group_tests("rules", tests, n, NULL, NULL);
  wt_buf_free(&reused);
  return rc;
}
