#include "wt_pgarr.h"

#include <limits.h>
#include <string.h>

#include "wt_uuid.h"

#define HEADER_LEN 20 /* ndim, flags, oid, size, lower bound */
/* 2000-01-01T00:00:00Z, PostgreSQL's epoch, in Unix microseconds */
#define PG_EPOCH_UNIX_US INT64_C(946684800000000)

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v) {
  put_be32(p, (uint32_t)(v >> 32));
  put_be32(p + 4, (uint32_t)v);
}

void wt_pgarr_init(wt_pgarr *a, uint32_t elem_oid, size_t cap) {
  memset(a, 0, sizeof(*a));
  wt_buf_init(&a->buf, cap);
  a->oid = elem_oid;
  wt_pgarr_reset(a);
}

void wt_pgarr_free(wt_pgarr *a) {
  wt_buf_free(&a->buf);
}

void wt_pgarr_reset(wt_pgarr *a) {
  uint8_t h[HEADER_LEN] = {0};
  wt_buf_reset(&a->buf);
  a->n = 0;
  a->has_null = false;
  wt_buf_append(&a->buf, h, sizeof(h)); /* filled in by finish */
}

/* One element: its length, then len bytes of head and tail. */
static void put_elem(wt_pgarr *a, const void *head, size_t head_len,
                     const void *tail, size_t tail_len) {
  uint8_t l[4];
  if (head_len + tail_len > INT32_MAX || a->n >= INT32_MAX) {
    a->buf.failed = true;
    return;
  }
  put_be32(l, (uint32_t)(head_len + tail_len));
  wt_buf_append(&a->buf, l, 4);
  if (head_len)
    wt_buf_append(&a->buf, head, head_len);
  if (tail_len)
    wt_buf_append(&a->buf, tail, tail_len);
  a->n++;
}

void wt_pgarr_null(wt_pgarr *a) {
  uint8_t l[4];
  put_be32(l, UINT32_MAX); /* -1 */
  wt_buf_append(&a->buf, l, 4);
  a->has_null = true;
  a->n++;
}

void wt_pgarr_bool(wt_pgarr *a, bool v) {
  uint8_t b = v ? 1 : 0;
  put_elem(a, &b, 1, NULL, 0);
}

void wt_pgarr_int4(wt_pgarr *a, int32_t v) {
  uint8_t b[4];
  put_be32(b, (uint32_t)v);
  put_elem(a, b, 4, NULL, 0);
}

void wt_pgarr_int8(wt_pgarr *a, int64_t v) {
  uint8_t b[8];
  put_be64(b, (uint64_t)v);
  put_elem(a, b, 8, NULL, 0);
}

void wt_pgarr_text(wt_pgarr *a, const char *s, size_t len) {
  if (!s) {
    wt_pgarr_null(a);
    return;
  }
  put_elem(a, s, len, NULL, 0);
}

void wt_pgarr_jsonb(wt_pgarr *a, const char *json, size_t len) {
  static const uint8_t version = 1;
  if (!json) {
    wt_pgarr_null(a);
    return;
  }
  put_elem(a, &version, 1, json, len);
}

void wt_pgarr_timestamptz(wt_pgarr *a, int64_t unix_us) {
  uint8_t b[8];
  put_be64(b, (uint64_t)(unix_us - PG_EPOCH_UNIX_US));
  put_elem(a, b, 8, NULL, 0);
}

bool wt_pgarr_uuid(wt_pgarr *a, const char *uuid) {
  uint8_t b[16];
  if (!uuid) {
    wt_pgarr_null(a);
    return true;
  }
  if (!wt_uuid_to_bytes(uuid, b)) {
    a->buf.failed = true;
    return false;
  }
  put_elem(a, b, 16, NULL, 0);
  return true;
}

const char *wt_pgarr_finish(wt_pgarr *a, int *len) {
  uint8_t *h;
  if (!wt_buf_ok(&a->buf) || a->buf.len > INT_MAX)
    return NULL;
  h = (uint8_t *)a->buf.data;
  put_be32(h, a->n ? 1 : 0);
  put_be32(h + 4, a->has_null ? 1 : 0);
  put_be32(h + 8, a->oid);
  if (!a->n) {
    *len = 12; /* no dimension: the empty array */
    return a->buf.data;
  }
  put_be32(h + 12, (uint32_t)a->n);
  put_be32(h + 16, 1);
  *len = (int)a->buf.len;
  return a->buf.data;
}

void wt_pgrows_init(wt_pgrows *r, const uint32_t *oids, int ncols, size_t cap) {
  memset(r, 0, sizeof(*r));
  if (ncols > WT_PGROWS_MAX_COLS)
    ncols = WT_PGROWS_MAX_COLS; /* callers pass constants below the cap */
  r->ncols = ncols;
  for (int i = 0; i < ncols; i++) {
    wt_pgarr_init(&r->col[i], oids[i], cap);
    r->formats[i] = 1;
  }
}

void wt_pgrows_free(wt_pgrows *r) {
  for (int i = 0; i < r->ncols; i++)
    wt_pgarr_free(&r->col[i]);
}

void wt_pgrows_reset(wt_pgrows *r) {
  for (int i = 0; i < r->ncols; i++)
    wt_pgarr_reset(&r->col[i]);
  r->n = 0;
}

bool wt_pgrows_finish(wt_pgrows *r) {
  for (int i = 0; i < r->ncols; i++) {
    r->params[i] = wt_pgarr_finish(&r->col[i], &r->lengths[i]);
    if (!r->params[i] || r->col[i].n != r->n)
      return false;
  }
  return true;
}
