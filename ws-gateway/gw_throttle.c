#include "gw_throttle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wt_lru.h"

typedef struct entry {
  int64_t window_start;
  int64_t blocked_until;
  int failures;
} entry;

struct gw_throttle {
  wt_lru *map;
};

gw_throttle *gw_throttle_new(size_t cap) {
  gw_throttle *t = calloc(1, sizeof(*t));
  if (!t)
    return NULL;
  t->map = wt_lru_new(cap ? cap : 1, free);
  if (!t->map) {
    free(t);
    return NULL;
  }
  return t;
}

void gw_throttle_destroy(gw_throttle *t) {
  if (!t)
    return;
  wt_lru_destroy(t->map);
  free(t);
}

/* Keys are capped at wt_lru's 64 bytes. */
static void clip(char out[WT_LRU_KEY_MAX + 1], const char *key) {
  snprintf(out, WT_LRU_KEY_MAX + 1, "%s", key);
}

int64_t gw_throttle_wait(gw_throttle *t, const char *key, int64_t now) {
  char k[WT_LRU_KEY_MAX + 1];
  const entry *e;
  clip(k, key);
  e = wt_lru_peek(t->map, k);
  return e && e->blocked_until > now ? e->blocked_until - now : 0;
}

void gw_throttle_fail(gw_throttle *t, const char *key, int free_failures,
                      int64_t now) {
  char k[WT_LRU_KEY_MAX + 1];
  entry *e;
  clip(k, key);
  e = wt_lru_get(t->map, k);
  if (!e) {
    e = calloc(1, sizeof(*e));
    if (!e)
      return;
    if (wt_lru_put(t->map, k, e, 0) != WT_OK) {
      free(e);
      return;
    }
  }
  if (now - e->window_start > GW_THROTTLE_WINDOW_S && now >= e->blocked_until) {
    e->window_start = now;
    e->failures = 0;
  }
  e->failures++;
  if (e->failures >= free_failures) {
    int over = e->failures - free_failures;
    int64_t delay = GW_THROTTLE_BASE_S;
    while (over-- > 0 && delay < GW_THROTTLE_MAX_S)
      delay *= 2;
    if (delay > GW_THROTTLE_MAX_S)
      delay = GW_THROTTLE_MAX_S;
    e->blocked_until = now + delay;
  }
}

void gw_throttle_reset(gw_throttle *t, const char *key) {
  char k[WT_LRU_KEY_MAX + 1];
  clip(k, key);
  wt_lru_remove(t->map, k);
}
