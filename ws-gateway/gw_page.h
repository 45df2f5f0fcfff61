/* gw_page: log rows as JSON, and the page of them that `list` answers and
 * `subscribe`'s snapshot carries, with its opaque keyset cursor. Pure: it
 * reads a PGresult and writes a wt_buf, on whichever thread holds them
 * (the pool's). */
#ifndef GW_PAGE_H
#define GW_PAGE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wt_jw.h"
#include "wt_uuid.h"

#define GW_CURSOR_MAX 128

/* A log object from the GW_LOG_COLS columns of row, starting at col: a
 * value of w. */
void gw_log_json(wt_jw *w, const PGresult *res, int row, int col,
                 const char *project_id);
/* The opaque keyset cursor: base64 of "<started_at us>:<id>". */
void gw_cursor_encode(char *out, size_t size, int64_t started_us,
                      const char *id);
bool gw_cursor_decode(const char *cursor, int64_t *started_us,
                      char id[WT_UUID_STR]);
/* Writes the logs of rows first..first+limit) as the items of the array
 * open on w (wt_jw_karr(w, "items") first, its end after); a row beyond limit
 * means there is more, and cursor gets the next page's cursor ("" when there is
 * none). Rows whose log columns are NULL (the snapshot's row of a project
 * without logs) are skipped. */
void gw_logs_page(wt_jw *w, const PGresult *res, int first, int col,
                  const char *project_id, int limit,
                  char cursor[GW_CURSOR_MAX]);

#endif
