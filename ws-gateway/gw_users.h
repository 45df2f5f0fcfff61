/* gw_users: the user cache: id -> active, token_version, username,
 * display_name. Loaded from PostgreSQL once at start (at most
 * WT_CACHE_USERS users) and kept current by user.* events; a WebSocket auth
 * or a token refresh never asks the database. lws thread only. */
#ifndef GW_USERS_H
#define GW_USERS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wt_command.h"
#include "wt_err.h"

typedef struct gw_user {
  char id[WT_UUID_STR];
  char username[WT_USERNAME_MAX + 1];
  char display_name[WT_NAME_MAX_CHARS * 4 + 1];
  bool active;
  int64_t token_version;
  int64_t seq; /* the user stream's seq this state is from */
} gw_user;

typedef struct gw_users gw_users;

gw_users *gw_users_new(size_t cap);
void gw_users_destroy(gw_users *u);

/* Rows of GW_SQL_LOAD_USERS: id, username, display_name, is_active,
 * token_version, seq. */
wt_err gw_users_load(gw_users *u, PGresult *res);

/* Borrowed until the next change of the cache. NULL when unknown. */
const gw_user *gw_users_get(gw_users *u, const char *id);
const gw_user *gw_users_by_name(gw_users *u, const char *username);

/* Applies a user's new state from a user.* event of that seq (older or
 * equal seqs are ignored). Returns true when tokens issued before no longer
 * hold: the user was deactivated or its token_version changed. */
bool gw_users_apply(gw_users *u, const gw_user *state);

size_t gw_users_count(const gw_users *u);

#endif
