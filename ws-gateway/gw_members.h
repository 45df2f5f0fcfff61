/* gw_members: who is a member of which project, with which role: the
 * answer to "may this user see this project" for every request, without a
 * query. Loaded at start with every membership and kept current by
 * member.* and project.created events. Each (project, user) remembers the
 * project seq its state is from, so an older or duplicated event never
 * undoes a newer one; removals stay as tombstones. lws thread only. */
#ifndef GW_MEMBERS_H
#define GW_MEMBERS_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "wt_command.h"
#include "wt_err.h"

typedef struct gw_members gw_members;

gw_members *gw_members_new(size_t cap);
void gw_members_destroy(gw_members *m);

/* Rows of GW_SQL_LOAD_MEMBERS: project_id, user_id, role, project seq. */
wt_err gw_members_load(gw_members *m, PGresult *res);

/* WT_ROLE_NONE when not a member. */
wt_role gw_members_role(gw_members *m, const char *project_id,
                        const char *user_id);

/* Sets the role (WT_ROLE_NONE: removed) as of project seq `seq`; ignored
 * when the entry is from that seq or later. */
void gw_members_apply(gw_members *m, const char *project_id,
                      const char *user_id, wt_role role, int64_t seq);

size_t gw_members_count(const gw_members *m);

#endif
