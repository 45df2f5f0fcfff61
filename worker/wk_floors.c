#include "wk_floors.h"

#include <string.h>

static void clear(int64_t *a) {
  for (int p = 0; p < WK_MAX_PARTITIONS; p++)
    a[p] = -1;
}

void wk_floors_init(wk_floors *f) {
  clear(f->pending);
  clear(f->unpublished);
  memset(f->stale, 0, sizeof(f->stale));
}

void wk_floors_finished(wk_floors *f, const wk_msg *msgs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int p = msgs[i].partition;
    if (p < 0 || p >= WK_MAX_PARTITIONS)
      continue;
    if (f->unpublished[p] < 0 || msgs[i].offset < f->unpublished[p])
      f->unpublished[p] = msgs[i].offset;
    f->stale[p] = true;
  }
}

void wk_floors_confirmed(wk_floors *f) {
  clear(f->pending);
}

void wk_floors_published(wk_floors *f) {
  memcpy(f->pending, f->unpublished, sizeof(f->pending));
  clear(f->unpublished);
}

size_t wk_floors_settled(const wk_floors *f, const wk_msg *skip, size_t nskip,
                         int *parts, size_t max) {
  bool in_skip[WK_MAX_PARTITIONS] = {false};
  size_t n = 0;
  for (size_t i = 0; i < nskip; i++)
    if (skip[i].partition >= 0 && skip[i].partition < WK_MAX_PARTITIONS)
      in_skip[skip[i].partition] = true;
  for (int p = 0; p < WK_MAX_PARTITIONS && n < max; p++)
    if (f->stale[p] && !in_skip[p] && f->pending[p] < 0 &&
        f->unpublished[p] < 0)
      parts[n++] = p;
  return n;
}

void wk_floors_rows_settled(wk_floors *f, const int *parts, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (parts[i] >= 0 && parts[i] < WK_MAX_PARTITIONS)
      f->stale[parts[i]] = false;
}

void wk_floors_forget(wk_floors *f, int partition) {
  if (partition >= 0 && partition < WK_MAX_PARTITIONS) {
    f->pending[partition] = f->unpublished[partition] = -1;
    f->stale[partition] = false;
  }
}

void wk_floors_apply(const wk_floors *f, int64_t *out) {
  for (int p = 0; p < WK_MAX_PARTITIONS; p++) {
    int64_t a = f->pending[p], b = f->unpublished[p];
    out[p] = a < 0 ? b : b < 0 ? a : a < b ? a : b;
  }
}
