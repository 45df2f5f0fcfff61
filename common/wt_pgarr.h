/* wt_pgarr: a PostgreSQL array in the binary wire format, built element by
 * element, to send as one binary parameter ($1::uuid[] and the like).
 *
 * The worker's hot writes pass their rows as one array per column and
 * unnest() them: in binary form PostgreSQL copies the values instead of
 * parsing text (uuid, timestamptz, array and JSON syntax), which was most
 * of the server's time per batch (see bench/worker).
 *
 * Format (PostgreSQL's array_recv): int32 ndim, int32 has-nulls flag,
 * uint32 element type OID, per dimension int32 size and int32 lower bound,
 * then per element int32 length (-1: NULL) and the element's binary form.
 * Integers are big-endian. An empty array has ndim 0 and no dimension. */
#ifndef WT_PGARR_H
#define WT_PGARR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wt_buf.h"
/* transitional (wt_uuid_to_bytes lived here), removed when
 * tests/unit/test_pgarr.c, its only caller outside common/, includes
 * wt_uuid.h directly: */
#include "wt_uuid.h"

/* element type OIDs (pg_type.h; fixed since PostgreSQL 8.x/9.4) */
#define WT_OID_BOOL 16
#define WT_OID_INT8 20
#define WT_OID_INT4 23
#define WT_OID_TEXT 25
#define WT_OID_TIMESTAMPTZ 1184
#define WT_OID_UUID 2950
#define WT_OID_JSON 114 /* its binary form is the text */
#define WT_OID_JSONB 3802

typedef struct wt_pgarr {
  wt_buf buf;
  uint32_t oid;
  size_t n;
  bool has_null;
} wt_pgarr;

/* cap: the most bytes the array may take (wt_buf's cap). */
void wt_pgarr_init(wt_pgarr *a, uint32_t elem_oid, size_t cap);
void wt_pgarr_free(wt_pgarr *a);
void wt_pgarr_reset(wt_pgarr *a); /* empty again, keeps the memory */

void wt_pgarr_null(wt_pgarr *a);
void wt_pgarr_bool(wt_pgarr *a, bool v);
void wt_pgarr_int4(wt_pgarr *a, int32_t v);
void wt_pgarr_int8(wt_pgarr *a, int64_t v);
/* text (and jsonb, which adds its version byte) of len bytes; s NULL: NULL */
void wt_pgarr_text(wt_pgarr *a, const char *s, size_t len);
void wt_pgarr_jsonb(wt_pgarr *a, const char *json, size_t len);
/* microseconds since the Unix epoch (the project's times) */
void wt_pgarr_timestamptz(wt_pgarr *a, int64_t unix_us);
/* a uuid in its 36-character text form; returns false (and adds nothing,
 * marking the array failed) when it is not one. NULL: SQL NULL. */
bool wt_pgarr_uuid(wt_pgarr *a, const char *uuid);

/* The finished array: its bytes and length, for wt_db_stmt's params and
 * lengths (format 1). NULL when the array passed its cap or a value was
 * malformed. Valid until the next change to a. */
const char *wt_pgarr_finish(wt_pgarr *a, int *len);

/* The rows of one statement as one binary array per column: the caller
 * appends one value to every column per row and counts the row in n;
 * finish fills params, lengths and formats for wt_db_stmt. */
#define WT_PGROWS_MAX_COLS 12

typedef struct wt_pgrows {
  wt_pgarr col[WT_PGROWS_MAX_COLS];
  int ncols;
  size_t n; /* rows */
  const char *params[WT_PGROWS_MAX_COLS];
  int lengths[WT_PGROWS_MAX_COLS];
  int formats[WT_PGROWS_MAX_COLS];
} wt_pgrows;

/* oids[0..ncols): the columns' element types; cap per column. */
void wt_pgrows_init(wt_pgrows *r, const uint32_t *oids, int ncols, size_t cap);
void wt_pgrows_free(wt_pgrows *r);
void wt_pgrows_reset(wt_pgrows *r);
/* false when a column passed its cap or had a malformed value */
bool wt_pgrows_finish(wt_pgrows *r);

#endif
