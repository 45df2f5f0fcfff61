/* gw_throttle: login throttling with growing delays, per key (a username,
 * a client address). A key may fail `free_failures` times within
 * GW_THROTTLE_WINDOW_S; each failure after that blocks it for
 * GW_THROTTLE_BASE_S, doubling per further failure, capped at
 * GW_THROTTLE_MAX_S. The table is bounded (least recently used keys are
 * forgotten first). Pure and single-threaded: the lws thread owns it. */
#ifndef GW_THROTTLE_H
#define GW_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#define GW_THROTTLE_WINDOW_S 900
#define GW_THROTTLE_BASE_S 30
#define GW_THROTTLE_MAX_S 900

typedef struct gw_throttle gw_throttle;

gw_throttle *gw_throttle_new(size_t cap);
void gw_throttle_destroy(gw_throttle *t);

/* Seconds until key may try again; 0: now. */
int64_t gw_throttle_wait(gw_throttle *t, const char *key, int64_t now);
/* A failed attempt of key at now. */
void gw_throttle_fail(gw_throttle *t, const char *key, int free_failures,
                      int64_t now);
/* A successful attempt: key starts over. */
void gw_throttle_reset(gw_throttle *t, const char *key);

#endif
