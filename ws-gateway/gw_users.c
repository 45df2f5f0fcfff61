#include "gw_users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wt_log.h"
#include "wt_lru.h"

struct gw_users {
  wt_lru *by_id;   /* id -> gw_user */
  wt_lru *by_name; /* username -> id (char[37]) */
};

gw_users *gw_users_new(size_t cap) {
  gw_users *u = calloc(1, sizeof(*u));
  if (!u)
    return NULL;
  if (cap < 1)
    cap = 1;
  u->by_id = wt_lru_new(cap, free);
  u->by_name = wt_lru_new(cap, free);
  if (!u->by_id || !u->by_name) {
    gw_users_destroy(u);
    return NULL;
  }
  return u;
}

void gw_users_destroy(gw_users *u) {
  if (!u)
    return;
  wt_lru_destroy(u->by_id);
  wt_lru_destroy(u->by_name);
  free(u);
}

static wt_err put(gw_users *u, const gw_user *src) {
  gw_user *nu = malloc(sizeof(*nu));
  char *id = strdup(src->id);
  const gw_user *old = wt_lru_peek(u->by_id, src->id);
  if (!nu || !id) {
    free(nu);
    free(id);
    return WT_ERR_NOMEM;
  }
  if (old && strcmp(old->username, src->username) != 0)
    wt_lru_remove(u->by_name, old->username);
  *nu = *src;
  if (wt_lru_put(u->by_id, nu->id, nu, 0) != WT_OK) {
    free(nu);
    free(id);
    return WT_ERR_NOMEM;
  }
  if (wt_lru_put(u->by_name, src->username, id, 0) != WT_OK)
    free(id);
  return WT_OK;
}

wt_err gw_users_load(gw_users *u, PGresult *res) {
  for (int r = 0; r < PQntuples(res); r++) {
    gw_user x;
    memset(&x, 0, sizeof(x));
    snprintf(x.id, sizeof(x.id), "%s", PQgetvalue(res, r, 0));
    snprintf(x.username, sizeof(x.username), "%s", PQgetvalue(res, r, 1));
    snprintf(x.display_name, sizeof(x.display_name), "%s",
             PQgetvalue(res, r, 2));
    x.active = PQgetvalue(res, r, 3)[0] == 't';
    x.token_version = strtoll(PQgetvalue(res, r, 4), NULL, 10);
    x.seq = strtoll(PQgetvalue(res, r, 5), NULL, 10);
    if (put(u, &x) != WT_OK)
      return WT_ERR_NOMEM;
  }
  return WT_OK;
}

const gw_user *gw_users_get(gw_users *u, const char *id) {
  return wt_lru_get(u->by_id, id);
}

const gw_user *gw_users_by_name(gw_users *u, const char *username) {
  const char *id = wt_lru_get(u->by_name, username);
  const gw_user *x = id ? wt_lru_get(u->by_id, id) : NULL;
  return x && strcmp(x->username, username) == 0 ? x : NULL;
}

bool gw_users_apply(gw_users *u, const gw_user *state) {
  const gw_user *old = wt_lru_peek(u->by_id, state->id);
  bool revoked;
  if (old && state->seq <= old->seq)
    return false; /* a duplicate or an older state */
  revoked =
      old && (!state->active || state->token_version != old->token_version);
  if (put(u, state) != WT_OK)
    WT_ERROR("user cache: out of memory user=%s", state->id);
  return revoked || !state->active;
}

size_t gw_users_count(const gw_users *u) {
  return wt_lru_size(u->by_id);
}
