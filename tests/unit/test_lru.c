/* Unit tests of wt_lru, including a long random run against a reference
 * model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wt_lru.h"

/* --- values: heap ints, freed through a logging free_fn ------------------ */

#define FREED_MAX 4096

static int freed[FREED_MAX];
static size_t nfreed;

static void free_logged(void *value) {
  assert_true(nfreed < FREED_MAX);
  freed[nfreed++] = *(int *)value;
  free(value);
}

static void *val(int id) {
  int *v = malloc(sizeof(*v));
  assert_non_null(v);
  *v = id;
  return v;
}

static int id_of(const void *value) {
  return value ? *(const int *)value : -1;
}

/* Distinct pointers for caches without free_fn. */
static char tokens[300000];

static void *token(size_t i) {
  assert_true(i < sizeof(tokens));
  return &tokens[i];
}

static int setup(void **state) {
  (void)state;
  nfreed = 0;
  return 0;
}

/* The value ids freed since the last call, in order, as "1,2,3". */
static const char *take_freed(void) {
  static char buf[256];
  size_t len = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < nfreed && len < sizeof(buf) - 16; i++)
    len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%d", i ? "," : "",
                            freed[i]);
  nfreed = 0;
  return buf;
}

/* --- behaviour ----------------------------------------------------------- */

static void test_put_get_replace(void **state) {
  wt_lru *lru = wt_lru_new(4, free_logged);
  void *v2;
  (void)state;
  assert_non_null(lru);
  assert_null(wt_lru_get(lru, "a"));
  assert_int_equal(wt_lru_put(lru, "a", val(1), 0), WT_OK);
  assert_int_equal(wt_lru_put(lru, "b", val(2), 0), WT_OK);
  assert_int_equal(id_of(wt_lru_get(lru, "a")), 1);
  assert_int_equal(id_of(wt_lru_get(lru, "b")), 2);
  assert_int_equal(wt_lru_size(lru), 2);
  assert_int_equal(wt_lru_capacity(lru), 4);

  /* replacing frees the old value, not the new one */
  v2 = val(3);
  assert_int_equal(wt_lru_put(lru, "a", v2, 0), WT_OK);
  assert_string_equal(take_freed(), "1");
  assert_int_equal(id_of(wt_lru_get(lru, "a")), 3);
  assert_int_equal(wt_lru_size(lru), 2);
  /* the same pointer again is not freed */
  assert_int_equal(wt_lru_put(lru, "a", v2, 0), WT_OK);
  assert_string_equal(take_freed(), "");

  /* the empty string is a key like any other */
  assert_int_equal(wt_lru_put(lru, "", val(4), 0), WT_OK);
  assert_int_equal(id_of(wt_lru_get(lru, "")), 4);
  wt_lru_destroy(lru);
  assert_int_equal(nfreed, 3);
  nfreed = 0;
}

static void test_eviction_order(void **state) {
  wt_lru *lru = wt_lru_new(3, free_logged);
  wt_lru_stats st;
  (void)state;
  wt_lru_put(lru, "a", val(1), 0);
  wt_lru_put(lru, "b", val(2), 0);
  wt_lru_put(lru, "c", val(3), 0);
  assert_string_equal(take_freed(), "");
  wt_lru_put(lru, "d", val(4), 0); /* a is the least recent */
  assert_string_equal(take_freed(), "1");
  assert_null(wt_lru_peek(lru, "a"));
  wt_lru_put(lru, "e", val(5), 0);
  assert_string_equal(take_freed(), "2");
  wt_lru_put(lru, "f", val(6), 0);
  assert_string_equal(take_freed(), "3");
  assert_int_equal(wt_lru_size(lru), 3);
  wt_lru_get_stats(lru, &st);
  assert_int_equal(st.evictions, 3);
  wt_lru_destroy(lru);
  assert_string_equal(take_freed(), "4,5,6");
}

static void test_get_refreshes(void **state) {
  wt_lru *lru = wt_lru_new(3, free_logged);
  (void)state;
  wt_lru_put(lru, "a", val(1), 0);
  wt_lru_put(lru, "b", val(2), 0);
  wt_lru_put(lru, "c", val(3), 0);
  assert_non_null(wt_lru_get(lru, "a")); /* order now b, c, a */
  wt_lru_put(lru, "d", val(4), 0);
  assert_string_equal(take_freed(), "2");
  /* a replace refreshes too: c, a, d -> a, d, c */
  wt_lru_put(lru, "c", val(5), 0);
  assert_string_equal(take_freed(), "3");
  wt_lru_put(lru, "e", val(6), 0);
  assert_string_equal(take_freed(), "1");
  wt_lru_destroy(lru);
  nfreed = 0;
}

static void test_peek_does_not_refresh(void **state) {
  wt_lru *lru = wt_lru_new(2, free_logged);
  wt_lru_stats st;
  (void)state;
  wt_lru_put(lru, "a", val(1), 0);
  wt_lru_put(lru, "b", val(2), 0);
  assert_int_equal(id_of(wt_lru_peek(lru, "a")), 1);
  assert_null(wt_lru_peek(lru, "zz"));
  wt_lru_put(lru, "c", val(3), 0);
  assert_string_equal(take_freed(), "1");
  wt_lru_get_stats(lru, &st);
  assert_int_equal(st.hits, 0);
  assert_int_equal(st.misses, 0);
  wt_lru_destroy(lru);
  nfreed = 0;
}

static void test_remove(void **state) {
  wt_lru *lru = wt_lru_new(8, free_logged);
  (void)state;
  wt_lru_put(lru, "a", val(1), 0);
  wt_lru_put(lru, "b", val(2), 0);
  wt_lru_put(lru, "c", val(3), 0);
  assert_true(wt_lru_remove(lru, "b"));
  assert_string_equal(take_freed(), "2");
  assert_false(wt_lru_remove(lru, "b"));
  assert_false(wt_lru_remove(lru, "nope"));
  assert_null(wt_lru_get(lru, "b"));
  assert_int_equal(id_of(wt_lru_get(lru, "a")), 1);
  assert_int_equal(id_of(wt_lru_get(lru, "c")), 3);
  assert_int_equal(wt_lru_size(lru), 2);
  /* the freed node is reused */
  wt_lru_put(lru, "b", val(4), 0);
  assert_int_equal(id_of(wt_lru_get(lru, "b")), 4);
  assert_int_equal(wt_lru_size(lru), 3);
  wt_lru_destroy(lru);
  nfreed = 0;
}

static void test_remove_tag(void **state) {
  wt_lru *lru = wt_lru_new(16, free_logged);
  char key[16];
  (void)state;
  for (int i = 0; i < 12; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    wt_lru_put(lru, key, val(i), i % 3);
  }
  wt_lru_pin(lru, "k4"); /* tag 1, pinned: removed all the same */
  assert_int_equal(wt_lru_remove_tag(lru, 1), 4);
  assert_int_equal(nfreed, 4);
  nfreed = 0;
  assert_int_equal(wt_lru_remove_tag(lru, 1), 0);
  assert_int_equal(wt_lru_remove_tag(lru, 7), 0);
  assert_int_equal(wt_lru_size(lru), 8);
  for (int i = 0; i < 12; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    if (i % 3 == 1)
      assert_null(wt_lru_peek(lru, key));
    else
      assert_int_equal(id_of(wt_lru_peek(lru, key)), i);
  }
  /* a replace moves the entry to the new tag */
  wt_lru_put(lru, "k0", val(100), 2);
  assert_string_equal(take_freed(), "0");
  assert_int_equal(wt_lru_remove_tag(lru, 0), 3);
  assert_int_equal(id_of(wt_lru_peek(lru, "k0")), 100);
  wt_lru_unpin_all(lru);
  assert_int_equal(wt_lru_size(lru), 5);
  wt_lru_destroy(lru);
  nfreed = 0;
}

static void test_pins(void **state) {
  wt_lru *lru = wt_lru_new(3, free_logged);
  (void)state;
  wt_lru_put(lru, "a", val(1), 0);
  wt_lru_put(lru, "b", val(2), 0);
  wt_lru_put(lru, "c", val(3), 0);
  assert_true(wt_lru_pin(lru, "a")); /* the least recent */
  assert_true(wt_lru_pin(lru, "a"));
  assert_false(wt_lru_pin(lru, "zz"));
  assert_null(wt_lru_get_pin(lru, "zz"));
  wt_lru_put(lru, "d", val(4), 0);
  assert_string_equal(take_freed(), "2"); /* b, not the pinned a */
  /* a get of a pinned entry works and keeps the pin */
  assert_int_equal(id_of(wt_lru_get(lru, "a")), 1);
  wt_lru_put(lru, "e", val(5), 0);
  assert_string_equal(take_freed(), "3");
  assert_non_null(wt_lru_peek(lru, "a"));

  /* everything pinned: put goes over capacity, nothing is evicted */
  assert_true(wt_lru_pin(lru, "d"));
  assert_true(wt_lru_pin(lru, "e"));
  assert_int_equal(wt_lru_put(lru, "f", val(6), 0), WT_OK);
  assert_true(wt_lru_pin(lru, "f"));
  assert_int_equal(wt_lru_put(lru, "g", val(7), 0), WT_OK);
  assert_true(wt_lru_pin(lru, "g"));
  assert_string_equal(take_freed(), "");
  assert_int_equal(wt_lru_size(lru), 5);
  /* replacing a pinned value keeps it pinned */
  assert_int_equal(wt_lru_put(lru, "a", val(8), 0), WT_OK);
  assert_string_equal(take_freed(), "1");
  assert_int_equal(wt_lru_put(lru, "h", val(9), 0), WT_OK);
  assert_int_equal(wt_lru_size(lru), 6);

  /* unpin: pinned entries become the most recent, most recently pinned or
   * used first: a, g, f, e, d, then h (unpinned); h, d and e go */
  wt_lru_unpin_all(lru);
  assert_int_equal(wt_lru_size(lru), 3);
  assert_string_equal(take_freed(), "9,4,5");
  assert_non_null(wt_lru_peek(lru, "a"));
  assert_non_null(wt_lru_peek(lru, "g"));
  assert_non_null(wt_lru_peek(lru, "f"));
  wt_lru_unpin_all(lru); /* nothing pinned: no-op */
  assert_int_equal(wt_lru_size(lru), 3);
  wt_lru_put(lru, "i", val(10), 0);
  assert_string_equal(take_freed(), "6"); /* f is the least recent */
  wt_lru_destroy(lru);
  nfreed = 0;
}

/* get_pin is a get (a hit or a miss counted) and a pin in one look-up. */
static void test_get_pin(void **state) {
  wt_lru *lru = wt_lru_new(2, free_logged);
  wt_lru_stats st;
  (void)state;
  wt_lru_put(lru, "a", val(1), 0);
  wt_lru_put(lru, "b", val(2), 0);
  assert_int_equal(id_of(wt_lru_get_pin(lru, "a")), 1);
  assert_null(wt_lru_get_pin(lru, "zz"));
  wt_lru_put(lru, "c", val(3), 0); /* evicts b, not the pinned a */
  assert_string_equal(take_freed(), "2");
  wt_lru_put(lru, "d", val(4), 0); /* c, a still pinned */
  assert_string_equal(take_freed(), "3");
  assert_int_equal(id_of(wt_lru_get_pin(lru, "a")), 1); /* pinned: stays */
  wt_lru_get_stats(lru, &st);
  assert_int_equal(st.hits, 2);
  assert_int_equal(st.misses, 1);
  wt_lru_unpin_all(lru);
  wt_lru_put(lru, "e", val(5), 0); /* d is now the least recent */
  assert_string_equal(take_freed(), "4");
  wt_lru_destroy(lru);
  nfreed = 0;
}

static void test_pin_overflow_cap(void **state) {
  wt_lru *lru = wt_lru_new(1, NULL);
  char key[16];
  (void)state;
  for (size_t i = 0; i <= WT_LRU_OVERFLOW_MAX; i++) {
    snprintf(key, sizeof(key), "k%zu", i);
    assert_int_equal(wt_lru_put(lru, key, token(i), 0), WT_OK);
    assert_true(wt_lru_pin(lru, key));
  }
  assert_int_equal(wt_lru_size(lru), 1 + WT_LRU_OVERFLOW_MAX);
  assert_int_equal(wt_lru_put(lru, "over", token(1), 0), WT_ERR_NOMEM);
  assert_null(wt_lru_peek(lru, "over"));
  /* a replace still works */
  assert_int_equal(wt_lru_put(lru, "k0", token(7), 0), WT_OK);
  wt_lru_unpin_all(lru);
  assert_int_equal(wt_lru_size(lru), 1);
  assert_ptr_equal(wt_lru_peek(lru, "k0"), token(7)); /* last used */
  wt_lru_destroy(lru);
}

static void test_stats(void **state) {
  wt_lru *lru = wt_lru_new(2, free_logged);
  wt_lru_stats st;
  (void)state;
  wt_lru_put(lru, "a", val(1), 0);
  wt_lru_get(lru, "a");
  wt_lru_get(lru, "a");
  wt_lru_get(lru, "b");
  wt_lru_pin(lru, "a");
  wt_lru_peek(lru, "a");
  wt_lru_put(lru, "b", val(2), 0);
  wt_lru_put(lru, "c", val(3), 0); /* evicts b: a is pinned */
  wt_lru_remove(lru, "c");         /* a removal, not an eviction */
  wt_lru_get_stats(lru, &st);
  assert_int_equal(st.hits, 2);
  assert_int_equal(st.misses, 1);
  assert_int_equal(st.evictions, 1);
  wt_lru_destroy(lru);
  nfreed = 0;
}

static void test_capacity_one(void **state) {
  wt_lru *lru = wt_lru_new(1, free_logged);
  (void)state;
  wt_lru_put(lru, "a", val(1), 0);
  wt_lru_put(lru, "b", val(2), 0);
  assert_string_equal(take_freed(), "1");
  assert_null(wt_lru_get(lru, "a"));
  assert_int_equal(id_of(wt_lru_get(lru, "b")), 2);
  wt_lru_put(lru, "b", val(3), 0);
  assert_string_equal(take_freed(), "2");
  assert_int_equal(wt_lru_size(lru), 1);
  assert_true(wt_lru_remove(lru, "b"));
  assert_int_equal(wt_lru_size(lru), 0);
  wt_lru_put(lru, "c", val(4), 0);
  assert_int_equal(wt_lru_size(lru), 1);
  wt_lru_destroy(lru);
  assert_string_equal(take_freed(), "3,4");
}

static void test_bad_input(void **state) {
  char key[WT_LRU_KEY_MAX + 2];
  wt_lru *lru;
  void *v;
  (void)state;
  assert_null(wt_lru_new(0, NULL));
  assert_null(wt_lru_new((size_t)WT_LRU_CAPACITY_MAX + 1, NULL));
  lru = wt_lru_new(4, free_logged);
  memset(key, 'k', sizeof(key) - 1);
  key[sizeof(key) - 1] = '\0'; /* 65 bytes */
  v = val(1);
  assert_int_equal(wt_lru_put(lru, key, v, 0), WT_ERR_INVALID);
  assert_int_equal(nfreed, 0); /* still the caller's */
  assert_null(wt_lru_get(lru, key));
  assert_false(wt_lru_remove(lru, key));
  assert_false(wt_lru_pin(lru, key));
  key[WT_LRU_KEY_MAX] = '\0'; /* 64 bytes: fine */
  assert_int_equal(wt_lru_put(lru, key, v, 0), WT_OK);
  assert_ptr_equal(wt_lru_get(lru, key), v);
  /* keys differing only in the last byte of a full-length key */
  key[WT_LRU_KEY_MAX - 1] = 'x';
  assert_null(wt_lru_peek(lru, key));
  assert_int_equal(wt_lru_put(lru, "a", NULL, 0), WT_ERR_INVALID);
  assert_int_equal(wt_lru_size(lru), 1);
  wt_lru_destroy(lru);
  assert_string_equal(take_freed(), "1");
}

/* Many entries: table growth, chunked nodes, deletion in long probe runs. */
static void test_many_entries(void **state) {
  enum { CAP = 100000, N = 250000 };
  wt_lru *lru = wt_lru_new(CAP, NULL);
  char key[32];
  (void)state;
  for (size_t i = 0; i < N; i++) {
    snprintf(key, sizeof(key), "user-%zu", i);
    assert_int_equal(wt_lru_put(lru, key, token(i), (int)(i % 4)), WT_OK);
  }
  assert_int_equal(wt_lru_size(lru), CAP);
  for (size_t i = 0; i < N; i++) {
    snprintf(key, sizeof(key), "user-%zu", i);
    if (i < N - CAP)
      assert_null(wt_lru_peek(lru, key));
    else
      assert_ptr_equal(wt_lru_peek(lru, key), token(i));
  }
  for (size_t i = N - CAP; i < N; i += 3) {
    snprintf(key, sizeof(key), "user-%zu", i);
    assert_true(wt_lru_remove(lru, key));
  }
  for (size_t i = N - CAP; i < N; i++) {
    snprintf(key, sizeof(key), "user-%zu", i);
    if ((i - (N - CAP)) % 3 == 0)
      assert_null(wt_lru_peek(lru, key));
    else
      assert_ptr_equal(wt_lru_peek(lru, key), token(i));
  }
  assert_int_equal(wt_lru_remove_tag(lru, 2) + wt_lru_remove_tag(lru, 0) +
                       wt_lru_remove_tag(lru, 1) + wt_lru_remove_tag(lru, 3),
                   CAP - (CAP + 2) / 3);
  assert_int_equal(wt_lru_size(lru), 0);
  wt_lru_destroy(lru);
}

/* --- random operations against a reference model ------------------------- */

#define MODEL_KEYS 512
#define MODEL_CAP 64
#define MODEL_TAGS 8
#define MODEL_OPS 1000000

typedef struct model {
  bool present[MODEL_KEYS];
  bool pinned[MODEL_KEYS];
  int value[MODEL_KEYS];
  int tag[MODEL_KEYS];
  uint64_t stamp[MODEL_KEYS]; /* larger: more recent */
  size_t count, npinned;
  uint64_t clock;
  wt_lru_stats stats;
  int expect_freed[MODEL_KEYS + 1];
  size_t nexpect;
} model;

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Short keys and UUID-length ones, to cover both hash paths. */
static void model_key(unsigned k, char *buf, size_t size) {
  if (k % 2)
    snprintf(buf, size, "k%u", k);
  else
    snprintf(buf, size, "3f2504e0-4f89-11d3-9a0c-0305e82c%04u", k);
}

static void model_drop(model *m, unsigned k) {
  m->expect_freed[m->nexpect++] = m->value[k];
  if (m->pinned[k])
    m->npinned--;
  m->present[k] = m->pinned[k] = false;
  m->count--;
}

static bool model_evict(model *m) {
  unsigned victim = MODEL_KEYS;
  for (unsigned k = 0; k < MODEL_KEYS; k++)
    if (m->present[k] && !m->pinned[k] &&
        (victim == MODEL_KEYS || m->stamp[k] < m->stamp[victim]))
      victim = k;
  if (victim == MODEL_KEYS)
    return false;
  model_drop(m, victim);
  m->stats.evictions++;
  return true;
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* The values the cache freed must be those the model dropped. */
static void check_freed(model *m) {
  assert_int_equal(nfreed, m->nexpect);
  qsort(freed, nfreed, sizeof(freed[0]), cmp_int);
  qsort(m->expect_freed, m->nexpect, sizeof(m->expect_freed[0]), cmp_int);
  for (size_t i = 0; i < nfreed; i++)
    assert_int_equal(freed[i], m->expect_freed[i]);
  nfreed = m->nexpect = 0;
}

static void model_unpin_all(model *m) {
  /* the pinned entries become the most recent, in their recency order */
  while (m->npinned) {
    unsigned first = MODEL_KEYS;
    for (unsigned k = 0; k < MODEL_KEYS; k++)
      if (m->pinned[k] &&
          (first == MODEL_KEYS || m->stamp[k] < m->stamp[first]))
        first = k;
    m->pinned[first] = false;
    m->npinned--;
    m->stamp[first] = ++m->clock;
  }
  while (m->count > MODEL_CAP && model_evict(m))
    ;
}

static void test_random_vs_model(void **state) {
  static model m;
  wt_lru *lru = wt_lru_new(MODEL_CAP, free_logged);
  wt_lru_stats st;
  char key[WT_LRU_KEY_MAX + 1];
  int next_id = 0;
  (void)state;
  memset(&m, 0, sizeof(m));
  for (long op = 0; op < MODEL_OPS; op++) {
    uint64_t r = rng();
    unsigned k = (unsigned)(r >> 32) % MODEL_KEYS;
    unsigned what = (unsigned)(r & 0xffff) % 1000;
    model_key(k, key, sizeof(key));
    if (what < 350) { /* get */
      void *v = wt_lru_get(lru, key);
      if (m.present[k]) {
        assert_int_equal(id_of(v), m.value[k]);
        m.stamp[k] = ++m.clock;
        m.stats.hits++;
      } else {
        assert_null(v);
        m.stats.misses++;
      }
    } else if (what < 450) { /* peek */
      void *v = wt_lru_peek(lru, key);
      assert_int_equal(id_of(v), m.present[k] ? m.value[k] : -1);
    } else if (what < 800) { /* put */
      int id = next_id++;
      int tag = (int)((r >> 16) % MODEL_TAGS);
      assert_int_equal(wt_lru_put(lru, key, val(id), tag), WT_OK);
      if (m.present[k]) {
        m.expect_freed[m.nexpect++] = m.value[k];
      } else {
        while (m.count >= MODEL_CAP && model_evict(&m))
          ;
        m.present[k] = true;
        m.count++;
      }
      m.value[k] = id;
      m.tag[k] = tag;
      m.stamp[k] = ++m.clock;
    } else if (what < 870) { /* remove */
      assert_int_equal(wt_lru_remove(lru, key), m.present[k]);
      if (m.present[k])
        model_drop(&m, k);
    } else if (what < 950) { /* get and pin in one */
      void *v = wt_lru_get_pin(lru, key);
      if (m.present[k]) {
        assert_int_equal(id_of(v), m.value[k]);
        m.stamp[k] = ++m.clock;
        m.stats.hits++;
        if (!m.pinned[k]) {
          m.pinned[k] = true;
          m.npinned++;
        }
      } else {
        assert_null(v);
        m.stats.misses++;
      }
    } else if (what < 970) { /* pin */
      assert_int_equal(wt_lru_pin(lru, key), m.present[k]);
      if (m.present[k] && !m.pinned[k]) {
        m.pinned[k] = true;
        m.npinned++;
        m.stamp[k] = ++m.clock;
      }
    } else if (what < 995) { /* a batch ends */
      wt_lru_unpin_all(lru);
      model_unpin_all(&m);
    } else if (what < 998) { /* a partition is revoked */
      int tag = (int)((r >> 16) % MODEL_TAGS);
      size_t n = 0;
      for (unsigned j = 0; j < MODEL_KEYS; j++)
        if (m.present[j] && m.tag[j] == tag) {
          model_drop(&m, j);
          n++;
        }
      assert_int_equal(wt_lru_remove_tag(lru, tag), n);
    } else { /* a key that is too long */
      char longkey[WT_LRU_KEY_MAX + 8];
      void *v = val(-2);
      memset(longkey, 'x', sizeof(longkey) - 1);
      longkey[sizeof(longkey) - 1] = '\0';
      assert_int_equal(wt_lru_put(lru, longkey, v, 0), WT_ERR_INVALID);
      free(v);
    }
    check_freed(&m);
    assert_int_equal(wt_lru_size(lru), m.count);
    assert_true(wt_lru_size(lru) <= MODEL_CAP + m.npinned);
    if (m.npinned == 0)
      assert_true(wt_lru_size(lru) <= MODEL_CAP);
  }
  wt_lru_get_stats(lru, &st);
  assert_int_equal(st.hits, m.stats.hits);
  assert_int_equal(st.misses, m.stats.misses);
  assert_int_equal(st.evictions, m.stats.evictions);
  assert_true(st.evictions > 100000); /* the run did exercise eviction */
  wt_lru_destroy(lru);
  assert_int_equal(nfreed, m.count);
  nfreed = 0;
}

/* Destroy hands every value to free_fn; ASan reports any leak. */
static void test_destroy_frees_all(void **state) {
  wt_lru *lru = wt_lru_new(1000, free_logged);
  char key[16];
  (void)state;
  for (int i = 0; i < 1500; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    wt_lru_put(lru, key, val(i), i % 5);
    if (i % 7 == 0)
      wt_lru_pin(lru, key);
  }
  nfreed = 0;
  wt_lru_destroy(lru);
  assert_int_equal(nfreed, 1000);
  nfreed = 0;
  wt_lru_destroy(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_put_get_replace, setup),
      cmocka_unit_test_setup(test_eviction_order, setup),
      cmocka_unit_test_setup(test_get_refreshes, setup),
      cmocka_unit_test_setup(test_peek_does_not_refresh, setup),
      cmocka_unit_test_setup(test_remove, setup),
      cmocka_unit_test_setup(test_remove_tag, setup),
      cmocka_unit_test_setup(test_pins, setup),
      cmocka_unit_test_setup(test_get_pin, setup),
      cmocka_unit_test_setup(test_pin_overflow_cap, setup),
      cmocka_unit_test_setup(test_stats, setup),
      cmocka_unit_test_setup(test_capacity_one, setup),
      cmocka_unit_test_setup(test_bad_input, setup),
      cmocka_unit_test_setup(test_many_entries, setup),
      cmocka_unit_test_setup(test_random_vs_model, setup),
      cmocka_unit_test_setup(test_destroy_frees_all, setup),
  };
  return cmocka_run_group_tests_name("lru", tests, NULL, NULL);
}
