/* Unit tests of wk_floors against a model of the runner: batches are
 * committed, the next one sent with the floors of that moment, outcomes
 * published and confirmed one batch behind, at random. At every point a
 * crash could come, each partition's stored batch_start must reach back to
 * the first offset of every committed batch of that partition whose
 * outcomes are not confirmed, or those outcomes would never be sent. The
 * runner also confirms early (its delivery reports in before the next
 * send) and settles rows (batch_start up to next_offset) of partitions
 * the floors no longer hold: when it is idle, no row starts below its
 * next_offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wk_floors.h"

#define PARTS 6
#define BATCHES 400
#define MAX_MSGS 8

typedef struct batch {
  wk_msg msgs[MAX_MSGS];
  size_t n;
  int64_t first[PARTS]; /* -1: not in the batch */
  bool committed, confirmed;
} batch;

typedef struct model {
  batch b[BATCHES];
  int64_t next_offset[PARTS];
  int64_t stored_start[PARTS]; /* consumer_offsets.batch_start, -1: none */
  int64_t stored_next[PARTS];  /* consumer_offsets.next_offset, -1: none */
  wk_floors f;
  int64_t floor[WK_MAX_PARTITIONS];
} model;

static unsigned rnd(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return *s >> 8;
}

static void make_batch(model *m, batch *b, unsigned *seed) {
  memset(b, 0, sizeof(*b));
  for (int p = 0; p < PARTS; p++)
    b->first[p] = -1;
  b->n = 1 + rnd(seed) % MAX_MSGS;
  for (size_t i = 0; i < b->n; i++) {
    int p = (int)(rnd(seed) % PARTS);
    b->msgs[i] = (wk_msg){.partition = p, .offset = m->next_offset[p]++};
    if (b->first[p] < 0)
      b->first[p] = b->msgs[i].offset;
  }
}

/* What wk_batch stores for the batch: per partition it writes, the lower
 * of its first offset and the floor it was sent with. */
static void commit(model *m, batch *b, const int64_t *floor_at_send) {
  for (int p = 0; p < PARTS; p++) {
    int64_t s = b->first[p];
    if (s < 0)
      continue;
    if (floor_at_send[p] >= 0 && floor_at_send[p] < s)
      s = floor_at_send[p];
    m->stored_start[p] = s;
  }
  for (size_t i = 0; i < b->n; i++)
    if (m->stored_next[b->msgs[i].partition] <= b->msgs[i].offset)
      m->stored_next[b->msgs[i].partition] = b->msgs[i].offset + 1;
  b->committed = true;
}

/* wk_runner.c settle_rows: the settled partitions' rows start at their
 * next_offset (the UPDATE only moves a start up) */
static void settle(model *m, const batch *skip) {
  int parts[PARTS + 1];
  size_t n = wk_floors_settled(&m->f, skip ? skip->msgs : NULL,
                               skip ? skip->n : 0, parts, PARTS + 1);
  assert_true(n <= PARTS);
  for (size_t i = 0; i < n; i++) {
    int p = parts[i];
    assert_true(p >= 0 && p < PARTS);
    if (skip)
      assert_true(skip->first[p] < 0);
    if (m->stored_next[p] >= 0 && m->stored_start[p] < m->stored_next[p])
      m->stored_start[p] = m->stored_next[p];
  }
  wk_floors_rows_settled(&m->f, parts, n);
}

static void check_replayable(const model *m, int upto) {
  for (int j = 0; j <= upto; j++) {
    const batch *b = &m->b[j];
    if (!b->committed || b->confirmed)
      continue;
    for (int p = 0; p < PARTS; p++)
      if (b->first[p] >= 0 && m->stored_start[p] > b->first[p])
        fail_msg("batch %d: partition %d restarts at %lld, after its "
                 "unconfirmed outcomes from %lld",
                 j, p, (long long)m->stored_start[p], (long long)b->first[p]);
  }
}

/* The runner: batch k committed; the next one is sent at once (with the
 * floors then) when queued; k is published after the previous batch is
 * confirmed; when nothing is queued the runner confirms right away. */
static void run_model(unsigned seed) {
  model *m = calloc(1, sizeof(*m));
  int64_t send_floor[WK_MAX_PARTITIONS];
  int pending = -1; /* published, unconfirmed */
  bool next_sent = false;
  assert_non_null(m);
  for (int p = 0; p < PARTS; p++)
    m->stored_start[p] = m->stored_next[p] = -1;
  wk_floors_init(&m->f);
  wk_floors_apply(&m->f, m->floor);
  for (int k = 0; k < BATCHES; k++)
    make_batch(m, &m->b[k], &seed);
  memcpy(send_floor, m->floor, sizeof(send_floor));
  for (int k = 0; k < BATCHES; k++) {
    bool queued = k + 1 < BATCHES && rnd(&seed) % 4 != 0;
    if (!next_sent) /* sent now, with the floors of now */
      memcpy(send_floor, m->floor, sizeof(send_floor));
    commit(m, &m->b[k], send_floor);
    check_replayable(m, k);
    wk_floors_finished(&m->f, m->b[k].msgs, m->b[k].n);
    wk_floors_apply(&m->f, m->floor);
    next_sent = queued;
    if (queued) { /* k+1 goes out before k is published */
      if (pending >= 0 && rnd(&seed) % 2) { /* delivery reports in */
        m->b[pending].confirmed = true;
        pending = -1;
        wk_floors_confirmed(&m->f);
        wk_floors_apply(&m->f, m->floor);
      }
      settle(m, &m->b[k + 1]);
      check_replayable(m, k);
      memcpy(send_floor, m->floor, sizeof(send_floor));
    }
    /* publish k: the previous one confirmed first */
    if (pending >= 0) {
      m->b[pending].confirmed = true;
      wk_floors_confirmed(&m->f);
    }
    wk_floors_published(&m->f);
    wk_floors_apply(&m->f, m->floor);
    pending = k;
    check_replayable(m, k);
    if (!queued) { /* idle: confirmed at once */
      m->b[pending].confirmed = true;
      pending = -1;
      wk_floors_confirmed(&m->f);
      wk_floors_apply(&m->f, m->floor);
      settle(m, NULL);
      check_replayable(m, k);
      /* idle: nothing is read again after a crash now */
      for (int p = 0; p < PARTS; p++)
        assert_int_equal(m->stored_start[p], m->stored_next[p]);
    }
  }
  free(m);
}

static void test_model_many_seeds(void **state) {
  (void)state;
  for (unsigned seed = 1; seed <= 200; seed++)
    run_model(seed);
}

static void test_forget_and_apply(void **state) {
  wk_floors f;
  int64_t out[WK_MAX_PARTITIONS];
  wk_msg a[2] = {{.partition = 1, .offset = 10}, {.partition = 2, .offset = 7}};
  wk_msg b[2] = {{.partition = 1, .offset = 12}, {.partition = 3, .offset = 4}};
  (void)state;
  wk_floors_init(&f);
  wk_floors_apply(&f, out);
  assert_int_equal(out[1], -1);
  wk_floors_finished(&f, a, 2);
  wk_floors_published(&f); /* a pending */
  wk_floors_finished(&f, b, 2);
  wk_floors_apply(&f, out);
  assert_int_equal(out[1], 10); /* the lower of a and b */
  assert_int_equal(out[2], 7);
  assert_int_equal(out[3], 4);
  wk_floors_forget(&f, 2);
  wk_floors_apply(&f, out);
  assert_int_equal(out[2], -1);
  wk_floors_confirmed(&f); /* a confirmed: b's remain */
  wk_floors_apply(&f, out);
  assert_int_equal(out[1], 12);
  assert_int_equal(out[3], 4);
  wk_floors_published(&f);
  wk_floors_confirmed(&f);
  wk_floors_apply(&f, out);
  for (int p = 0; p < WK_MAX_PARTITIONS; p++)
    assert_int_equal(out[p], -1);
}

/* A partition is settled once nothing of it waits for confirmation, not
 * while it is in the batch about to be sent, and once only. */
static void test_settled(void **state) {
  wk_floors f;
  int parts[8];
  wk_msg a[2] = {{.partition = 1, .offset = 10}, {.partition = 2, .offset = 7}};
  wk_msg b[1] = {{.partition = 2, .offset = 8}};
  (void)state;
  wk_floors_init(&f);
  assert_int_equal(wk_floors_settled(&f, NULL, 0, parts, 8), 0);
  wk_floors_finished(&f, a, 2);
  assert_int_equal(wk_floors_settled(&f, NULL, 0, parts, 8), 0); /* floors */
  wk_floors_published(&f);
  assert_int_equal(wk_floors_settled(&f, NULL, 0, parts, 8), 0);
  wk_floors_confirmed(&f);
  assert_int_equal(wk_floors_settled(&f, b, 1, parts, 8), 1); /* 2 skipped */
  assert_int_equal(parts[0], 1);
  assert_int_equal(wk_floors_settled(&f, NULL, 0, parts, 1), 1); /* max */
  assert_int_equal(wk_floors_settled(&f, NULL, 0, parts, 8), 2);
  wk_floors_rows_settled(&f, parts, 1);
  assert_int_equal(wk_floors_settled(&f, NULL, 0, parts, 8), 1);
  assert_int_equal(parts[0], 2);
  wk_floors_forget(&f, 2);
  assert_int_equal(wk_floors_settled(&f, NULL, 0, parts, 8), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_model_many_seeds),
      cmocka_unit_test(test_forget_and_apply),
      cmocka_unit_test(test_settled),
  };
  return cmocka_run_group_tests_name("wk_floors", tests, NULL, NULL);
}
