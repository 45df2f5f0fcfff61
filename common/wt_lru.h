/* wt_lru: a bounded least-recently-used map from short string keys to
 * caller values, for the worker's caches (users, projects, logs; up to
 * millions of entries on the hot path).
 *
 * Ownership: keys are copied. A value is owned by the cache from a
 * successful wt_lru_put until the cache lets go of it, and then handed to
 * free_fn: when it is evicted, removed, replaced by another value, or at
 * wt_lru_destroy. wt_lru_get/wt_lru_peek lend the value: it stays valid only
 * until the next call that may evict or remove (put, remove, remove_tag,
 * unpin_all, destroy). When put fails, the caller still owns the value.
 *
 * Pins: the worker pins the entries one batch uses, so that loading the
 * batch's misses cannot evict an entry the same batch needs. Eviction skips
 * pinned entries; when every entry is pinned, put inserts beyond capacity
 * (by at most WT_LRU_OVERFLOW_MAX entries, then WT_ERR_NOMEM: that only
 * happens when wt_lru_unpin_all is forgotten). wt_lru_unpin_all evicts back
 * down to capacity.
 *
 * Cost: get, peek, put, remove and pin are O(1) (open addressing, linear
 * probing, no allocation per lookup; put allocates only while the cache
 * grows, in chunks). wt_lru_remove_tag is O(entries ever allocated), about
 * O(capacity): meant for a partition revocation, not the hot path.
 *
 * Not thread-safe: one owner thread. Even get writes (recency, stats), so
 * concurrent readers need a lock too. free_fn must not call back into the
 * cache. */
#ifndef WT_LRU_H
#define WT_LRU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wt_err.h"

#define WT_LRU_KEY_MAX 64              /* key bytes, without the NUL */
#define WT_LRU_CAPACITY_MAX (1u << 28) /* capacity cap of one cache */
#define WT_LRU_OVERFLOW_MAX (1u << 16) /* pinned entries beyond capacity */

typedef struct wt_lru wt_lru;

/* Receives a value the cache lets go of. */
typedef void(wt_lru_free_fn)(void *value);

/* capacity: max entries, 1..WT_LRU_CAPACITY_MAX. free_fn may be NULL (the
 * cache then never frees values). NULL when capacity is out of range or
 * memory is short. Memory grows with use, not with capacity. */
wt_lru *wt_lru_new(size_t capacity, wt_lru_free_fn *free_fn);
/* Hands every value to free_fn and frees the cache. NULL is a no-op. */
void wt_lru_destroy(wt_lru *lru);

/* The value, or NULL when absent (or the key is longer than
 * WT_LRU_KEY_MAX). A hit makes the entry the most recent; counts a hit or a
 * miss. */
void *wt_lru_get(wt_lru *lru, const char *key);
/* get and pin in one look-up: the value (a hit, and the entry pinned) or
 * NULL (a miss). The same as wt_lru_get followed by wt_lru_pin. */
void *wt_lru_get_pin(wt_lru *lru, const char *key);
/* Like get, without touching recency or stats. */
void *wt_lru_peek(const wt_lru *lru, const char *key);

/* Inserts, or replaces the value and tag of an existing key (which becomes
 * the most recent; the old value goes to free_fn unless it is the same
 * pointer). A new key evicts the least recent unpinned entry when the cache
 * is full. tag: an int the caller groups entries by (the worker's Kafka
 * partition), see wt_lru_remove_tag. value must not be NULL.
 * WT_OK; WT_ERR_INVALID for a key over WT_LRU_KEY_MAX bytes or a NULL value;
 * WT_ERR_NOMEM when memory is short or the pin overflow is exhausted. On
 * error nothing changed and the caller keeps the value. */
wt_err wt_lru_put(wt_lru *lru, const char *key, void *value, int tag);

/* Drops one entry (its value goes to free_fn). false when absent. */
bool wt_lru_remove(wt_lru *lru, const char *key);
/* Drops every entry with that tag, pinned or not; returns how many. O(n). */
size_t wt_lru_remove_tag(wt_lru *lru, int tag);

/* Protects an entry from eviction until wt_lru_unpin_all. Pinning does not
 * count as a get (no stats). false when the key is absent: pin after put
 * for a key the batch loads. */
bool wt_lru_pin(wt_lru *lru, const char *key);
/* Unpins every entry: they become the most recent entries, the last
 * pinned or used first. Then evicts least recent entries until
 * size <= capacity. */
void wt_lru_unpin_all(wt_lru *lru);

size_t wt_lru_size(const wt_lru *lru);
size_t wt_lru_capacity(const wt_lru *lru);

typedef struct wt_lru_stats {
  uint64_t hits;      /* wt_lru_get found the key */
  uint64_t misses;    /* wt_lru_get did not */
  uint64_t evictions; /* entries dropped to make room (not removals) */
} wt_lru_stats;
void wt_lru_get_stats(const wt_lru *lru, wt_lru_stats *out);

#endif
