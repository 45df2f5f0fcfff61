#include "wt_lru.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Layout. Entries live in nodes, allocated in fixed-size chunks (never
 * moved, so growth copies nothing) and named by a 32-bit index. Nodes 0 and
 * 1 are the sentinels of two circular doubly-linked lists: the unpinned
 * entries and the pinned ones, most recent first. Eviction takes the tail of
 * the unpinned list, so pins cost nothing at eviction time. The hash table
 * is an array of (hash, node index) pairs, linear probing, load <= 3/4,
 * deletion by backward shift (no tombstones): a lookup reads one 8-byte
 * slot per probe and touches a node only when the 32-bit hashes match. */

enum { LRU_LIST = 0, PIN_LIST = 1, FIRST_NODE = 2 };
enum { NODE_FREE = 0, NODE_LIVE, NODE_PINNED };

#define CHUNK_SHIFT_MIN 2
#define CHUNK_SHIFT_MAX 12 /* 4096 nodes, ~400 KiB */
#define TABLE_MIN 16

typedef struct node {
  uint32_t prev, next; /* list links; the free list uses next */
  uint32_t hash;
  int tag;
  void *value;
  uint8_t klen;
  uint8_t state; /* NODE_FREE, NODE_LIVE, NODE_PINNED */
  char key[WT_LRU_KEY_MAX];
} node;

typedef struct slot {
  uint32_t hash;
  uint32_t idx; /* 0: empty (node 0 is a sentinel, never an entry) */
} slot;

struct wt_lru {
  slot *table;
  size_t table_size; /* a power of two */
  node **chunks;
  size_t nchunks, chunks_cap;
  unsigned chunk_shift;
  uint32_t chunk_mask;
  uint32_t nnodes;    /* nodes handed out so far, sentinels included */
  uint32_t free_head; /* 0: none */
  size_t count;
  size_t capacity;
  wt_lru_free_fn *free_fn;
  uint64_t seed[2];
  wt_lru_stats stats;
};

static inline node *node_at(const wt_lru *lru, uint32_t idx) {
  return &lru->chunks[idx >> lru->chunk_shift][idx & lru->chunk_mask];
}

/* --- hashing ----------------------------------------------------------- */

/* wyhash-style rounds with a per-cache random seed: fast on 8-byte words,
 * and colliding keys cannot be precomputed without the seed. */
static inline uint64_t mum(uint64_t a, uint64_t b) {
  unsigned __int128 r = (unsigned __int128)a * b;
  return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static uint32_t key_hash(const wt_lru *lru, const char *key, size_t len) {
  uint64_t h = lru->seed[0] ^ len;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    memcpy(&w, key + i, sizeof(w));
    h = mum(w ^ lru->seed[1], h ^ 0xe7037ed1a0b428dbull);
  }
  if (i < len) {
    /* the tail: the key's last 8 bytes when it has 8 (overlapping the
     * last word; a fixed-size load, not a call), else byte by byte */
    uint64_t w = 0;
    if (len >= 8)
      memcpy(&w, key + len - 8, sizeof(w));
    else
      for (size_t j = 0; j < len; j++)
        w |= (uint64_t)(unsigned char)key[j] << (8 * j);
    h = mum(w ^ lru->seed[1], h ^ 0x8ebc6af09c88c6e3ull);
  }
  h = mum(h ^ 0x589965cc75374cc3ull, lru->seed[0] ^ 0xa0761d6478bd642full);
  return (uint32_t)(h ^ (h >> 32));
}

static void seed_init(wt_lru *lru) {
  if (getentropy(lru->seed, sizeof(lru->seed)) != 0) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lru->seed[0] =
        (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)lru;
    lru->seed[1] = mum(lru->seed[0], 0xd6e8feb86659fd93ull);
  }
}

/* --- table --------------------------------------------------------------- */

/* The node index of key (0 when absent) and its slot, or the empty slot
 * where it would go. */
static uint32_t table_find(const wt_lru *lru, const char *key, size_t len,
                           uint32_t h, size_t *pos) {
  size_t mask = lru->table_size - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const slot *s = &lru->table[i];
    if (s->idx == 0) {
      *pos = i;
      return 0;
    }
    if (s->hash == h) {
      const node *n = node_at(lru, s->idx);
      if (n->klen == len && memcmp(n->key, key, len) == 0) {
        *pos = i;
        return s->idx;
      }
    }
  }
}

/* Puts a key known to be absent into its first empty slot. */
static void table_insert(wt_lru *lru, uint32_t h, uint32_t idx) {
  size_t mask = lru->table_size - 1;
  size_t i = h & mask;
  while (lru->table[i].idx != 0)
    i = (i + 1) & mask;
  lru->table[i].hash = h;
  lru->table[i].idx = idx;
}

static size_t table_slot_of(const wt_lru *lru, uint32_t idx) {
  size_t mask = lru->table_size - 1;
  size_t i = node_at(lru, idx)->hash & mask;
  while (lru->table[i].idx != idx) {
    assert(lru->table[i].idx != 0);
    i = (i + 1) & mask;
  }
  return i;
}

/* Backward-shift deletion (Knuth's algorithm R): later entries of the probe
 * run move up so that lookups never stop early at the hole. */
static void table_delete(wt_lru *lru, size_t i) {
  size_t mask = lru->table_size - 1;
  size_t j = i;
  for (;;) {
    size_t home;
    j = (j + 1) & mask;
    if (lru->table[j].idx == 0)
      break;
    home = lru->table[j].hash & mask;
    /* the entry at j may fill i unless its home lies cyclically in (i, j] */
    if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
      lru->table[i] = lru->table[j];
      i = j;
    }
  }
  lru->table[i].idx = 0;
  lru->table[i].hash = 0;
}

static wt_err table_grow(wt_lru *lru) {
  size_t size = lru->table_size * 2;
  size_t mask = size - 1;
  slot *t = calloc(size, sizeof(*t));
  if (!t)
    return WT_ERR_NOMEM;
  for (size_t k = 0; k < lru->table_size; k++) {
    size_t i;
    if (lru->table[k].idx == 0)
      continue;
    for (i = lru->table[k].hash & mask; t[i].idx != 0; i = (i + 1) & mask)
      ;
    t[i] = lru->table[k];
  }
  free(lru->table);
  lru->table = t;
  lru->table_size = size;
  return WT_OK;
}

/* --- lists and nodes ----------------------------------------------------- */

static void list_unlink(wt_lru *lru, uint32_t idx) {
  node *n = node_at(lru, idx);
  node_at(lru, n->prev)->next = n->next;
  node_at(lru, n->next)->prev = n->prev;
}

static void list_push_front(wt_lru *lru, uint32_t head, uint32_t idx) {
  node *h = node_at(lru, head);
  node *n = node_at(lru, idx);
  n->prev = head;
  n->next = h->next;
  node_at(lru, h->next)->prev = idx;
  h->next = idx;
}

static void touch(wt_lru *lru, uint32_t idx) {
  uint32_t head = node_at(lru, idx)->state == NODE_PINNED ? PIN_LIST : LRU_LIST;
  if (node_at(lru, head)->next == idx)
    return;
  list_unlink(lru, idx);
  list_push_front(lru, head, idx);
}

/* A fresh node index, or 0 when memory is short. */
static uint32_t node_alloc(wt_lru *lru) {
  uint32_t idx = lru->free_head;
  if (idx) {
    lru->free_head = node_at(lru, idx)->next;
    return idx;
  }
  if ((lru->nnodes >> lru->chunk_shift) == lru->nchunks) {
    node *chunk;
    if (lru->nchunks == lru->chunks_cap) {
      size_t cap = lru->chunks_cap * 2;
      node **chunks = realloc(lru->chunks, cap * sizeof(node *));
      if (!chunks)
        return 0;
      lru->chunks = chunks;
      lru->chunks_cap = cap;
    }
    chunk = calloc((size_t)1 << lru->chunk_shift, sizeof(*chunk));
    if (!chunk)
      return 0;
    lru->chunks[lru->nchunks++] = chunk;
  }
  return lru->nnodes++;
}

/* Takes the entry out of the table and its list; returns its value. */
static void *entry_detach(wt_lru *lru, uint32_t idx, size_t pos) {
  node *n = node_at(lru, idx);
  void *value = n->value;
  table_delete(lru, pos);
  list_unlink(lru, idx);
  n->state = NODE_FREE;
  n->value = NULL;
  n->next = lru->free_head;
  lru->free_head = idx;
  lru->count--;
  return value;
}

static void release(const wt_lru *lru, void *value) {
  if (lru->free_fn)
    lru->free_fn(value);
}

/* Evicts the least recent unpinned entry; false when there is none. */
static bool evict_one(wt_lru *lru) {
  uint32_t idx = node_at(lru, LRU_LIST)->prev;
  void *value;
  if (idx == LRU_LIST)
    return false;
  value = entry_detach(lru, idx, table_slot_of(lru, idx));
  lru->stats.evictions++;
  release(lru, value);
  return true;
}

/* --- API ----------------------------------------------------------------- */

wt_lru *wt_lru_new(size_t capacity, wt_lru_free_fn *free_fn) {
  wt_lru *lru;
  unsigned shift = CHUNK_SHIFT_MIN;
  if (capacity < 1 || capacity > WT_LRU_CAPACITY_MAX)
    return NULL;
  lru = calloc(1, sizeof(*lru));
  if (!lru)
    return NULL;
  while (shift < CHUNK_SHIFT_MAX &&
         ((size_t)1 << shift) < capacity + FIRST_NODE)
    shift++;
  lru->chunk_shift = shift;
  lru->chunk_mask = ((uint32_t)1 << shift) - 1;
  lru->capacity = capacity;
  lru->free_fn = free_fn;
  lru->table_size = TABLE_MIN;
  lru->chunks_cap = 4;
  lru->table = calloc(lru->table_size, sizeof(*lru->table));
  lru->chunks = calloc(lru->chunks_cap, sizeof(node *));
  if (!lru->table || !lru->chunks)
    goto fail;
  /* the first chunk holds the two sentinels, each an empty circular list */
  lru->chunks[0] = calloc((size_t)1 << shift, sizeof(node));
  if (!lru->chunks[0])
    goto fail;
  lru->nchunks = 1;
  lru->nnodes = FIRST_NODE;
  node_at(lru, LRU_LIST)->prev = node_at(lru, LRU_LIST)->next = LRU_LIST;
  node_at(lru, PIN_LIST)->prev = node_at(lru, PIN_LIST)->next = PIN_LIST;
  seed_init(lru);
  return lru;
fail:
  wt_lru_destroy(lru);
  return NULL;
}

void wt_lru_destroy(wt_lru *lru) {
  if (!lru)
    return;
  for (uint32_t i = FIRST_NODE; i < lru->nnodes; i++) {
    node *n = node_at(lru, i);
    if (n->state != NODE_FREE)
      release(lru, n->value);
  }
  for (size_t c = 0; c < lru->nchunks; c++)
    free(lru->chunks[c]);
  free(lru->chunks);
  free(lru->table);
  free(lru);
}

/* The node index of key, 0 when absent or too long. */
static uint32_t lookup(const wt_lru *lru, const char *key, size_t *pos) {
  size_t len = strnlen(key, WT_LRU_KEY_MAX + 1);
  if (len > WT_LRU_KEY_MAX)
    return 0;
  return table_find(lru, key, len, key_hash(lru, key, len), pos);
}

void *wt_lru_get(wt_lru *lru, const char *key) {
  size_t pos;
  uint32_t idx = lookup(lru, key, &pos);
  if (!idx) {
    lru->stats.misses++;
    return NULL;
  }
  lru->stats.hits++;
  touch(lru, idx);
  return node_at(lru, idx)->value;
}

void *wt_lru_get_pin(wt_lru *lru, const char *key) {
  size_t pos;
  uint32_t idx = lookup(lru, key, &pos);
  node *n;
  if (!idx) {
    lru->stats.misses++;
    return NULL;
  }
  lru->stats.hits++;
  n = node_at(lru, idx);
  if (n->state == NODE_PINNED) {
    touch(lru, idx);
  } else {
    list_unlink(lru, idx);
    n->state = NODE_PINNED;
    list_push_front(lru, PIN_LIST, idx);
  }
  return n->value;
}

void *wt_lru_peek(const wt_lru *lru, const char *key) {
  size_t pos;
  uint32_t idx = lookup(lru, key, &pos);
  return idx ? node_at(lru, idx)->value : NULL;
}

wt_err wt_lru_put(wt_lru *lru, const char *key, void *value, int tag) {
  size_t len = strnlen(key, WT_LRU_KEY_MAX + 1);
  uint32_t h, idx;
  size_t pos;
  node *n;
  if (len > WT_LRU_KEY_MAX || !value)
    return WT_ERR_INVALID;
  h = key_hash(lru, key, len);
  idx = table_find(lru, key, len, h, &pos);
  if (idx) {
    void *old;
    n = node_at(lru, idx);
    old = n->value;
    n->value = value;
    n->tag = tag;
    touch(lru, idx);
    if (old != value)
      release(lru, old);
    return WT_OK;
  }
  while (lru->count >= lru->capacity && evict_one(lru))
    ;
  if (lru->count >= lru->capacity + WT_LRU_OVERFLOW_MAX)
    return WT_ERR_NOMEM; /* everything pinned, and for too long */
  /* After an eviction the table has room and the free list a node, so
   * nothing below fails once something was evicted. */
  if ((lru->count + 1) * 4 > lru->table_size * 3 && table_grow(lru) != WT_OK)
    return WT_ERR_NOMEM;
  idx = node_alloc(lru);
  if (!idx)
    return WT_ERR_NOMEM;
  n = node_at(lru, idx);
  n->hash = h;
  n->tag = tag;
  n->value = value;
  n->klen = (uint8_t)len;
  n->state = NODE_LIVE;
  memcpy(n->key, key, len);
  table_insert(lru, h, idx); /* evictions and growth moved the slots */
  list_push_front(lru, LRU_LIST, idx);
  lru->count++;
  return WT_OK;
}

bool wt_lru_remove(wt_lru *lru, const char *key) {
  size_t pos;
  uint32_t idx = lookup(lru, key, &pos);
  if (!idx)
    return false;
  release(lru, entry_detach(lru, idx, pos));
  return true;
}

size_t wt_lru_remove_tag(wt_lru *lru, int tag) {
  size_t removed = 0;
  /* Node order, not list order: chunks are scanned sequentially, and a
   * detached node only goes to the free list, so the scan is unaffected. */
  for (uint32_t i = FIRST_NODE; i < lru->nnodes; i++) {
    node *n = node_at(lru, i);
    if (n->state == NODE_FREE || n->tag != tag)
      continue;
    release(lru, entry_detach(lru, i, table_slot_of(lru, i)));
    removed++;
  }
  return removed;
}

bool wt_lru_pin(wt_lru *lru, const char *key) {
  size_t pos;
  uint32_t idx = lookup(lru, key, &pos);
  node *n;
  if (!idx)
    return false;
  n = node_at(lru, idx);
  if (n->state == NODE_PINNED)
    return true;
  list_unlink(lru, idx);
  n->state = NODE_PINNED;
  list_push_front(lru, PIN_LIST, idx);
  return true;
}

void wt_lru_unpin_all(wt_lru *lru) {
  node *pins = node_at(lru, PIN_LIST);
  node *lru_head = node_at(lru, LRU_LIST);
  uint32_t first = pins->next, last = pins->prev;
  if (first == PIN_LIST)
    return;
  for (uint32_t i = first; i != PIN_LIST; i = node_at(lru, i)->next)
    node_at(lru, i)->state = NODE_LIVE;
  /* splice the pinned list, in order, in front of the unpinned one */
  node_at(lru, last)->next = lru_head->next;
  node_at(lru, lru_head->next)->prev = last;
  node_at(lru, first)->prev = LRU_LIST;
  lru_head->next = first;
  pins->next = pins->prev = PIN_LIST;
  while (lru->count > lru->capacity && evict_one(lru))
    ;
}

size_t wt_lru_size(const wt_lru *lru) {
  return lru->count;
}

size_t wt_lru_capacity(const wt_lru *lru) {
  return lru->capacity;
}

void wt_lru_get_stats(const wt_lru *lru, wt_lru_stats *out) {
  *out = lru->stats;
}
