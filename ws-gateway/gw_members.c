#include "gw_members.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wt_log.h"
#include "wt_lru.h"

typedef struct member {
  wt_role role;
  int64_t seq;
} member;

struct gw_members {
  wt_lru *map; /* 32 hex of the project + 32 hex of the user -> member */
};

/* Two UUIDs without their dashes: 64 bytes, wt_lru's key limit. */
static void make_key(char key[65], const char *project_id,
                     const char *user_id) {
  size_t k = 0;
  for (const char *s = project_id; *s && k < 32; s++)
    if (*s != '-')
      key[k++] = *s;
  for (const char *s = user_id; *s && k < 64; s++)
    if (*s != '-')
      key[k++] = *s;
  key[k] = '\0';
}

gw_members *gw_members_new(size_t cap) {
  gw_members *m = calloc(1, sizeof(*m));
  if (!m)
    return NULL;
  m->map = wt_lru_new(cap ? cap : 1, free);
  if (!m->map) {
    free(m);
    return NULL;
  }
  return m;
}

void gw_members_destroy(gw_members *m) {
  if (!m)
    return;
  wt_lru_destroy(m->map);
  free(m);
}

static wt_role parse_role(const char *s) {
  if (strcmp(s, "owner") == 0)
    return WT_ROLE_OWNER;
  if (strcmp(s, "member") == 0)
    return WT_ROLE_MEMBER;
  return WT_ROLE_NONE;
}

static void set(gw_members *m, const char *key, wt_role role, int64_t seq) {
  member *x = malloc(sizeof(*x));
  if (!x ||
      (x->role = role, x->seq = seq, wt_lru_put(m->map, key, x, 0) != WT_OK)) {
    free(x);
    WT_ERROR("membership cache: out of memory");
  }
}

wt_err gw_members_load(gw_members *m, PGresult *res) {
  char key[65];
  for (int r = 0; r < PQntuples(res); r++) {
    make_key(key, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
    set(m, key, parse_role(PQgetvalue(res, r, 2)),
        strtoll(PQgetvalue(res, r, 3), NULL, 10));
  }
  return WT_OK;
}

wt_role gw_members_role(gw_members *m, const char *project_id,
                        const char *user_id) {
  char key[65];
  const member *x;
  make_key(key, project_id, user_id);
  x = wt_lru_get(m->map, key);
  return x ? x->role : WT_ROLE_NONE;
}

void gw_members_apply(gw_members *m, const char *project_id,
                      const char *user_id, wt_role role, int64_t seq) {
  char key[65];
  const member *x;
  make_key(key, project_id, user_id);
  x = wt_lru_peek(m->map, key);
  if (x && x->seq >= seq)
    return;
  set(m, key, role, seq);
}

size_t gw_members_count(const gw_members *m) {
  return wt_lru_size(m->map);
}
