/* gw_reads: the read requests (projects, members, list), each one
 * statement through the pool, and the JSON of log rows shared with
 * subscribe's snapshot. The membership check comes first, from the cache:
 * non-members get not_found before any query. */
#ifndef GW_READS_H
#define GW_READS_H

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "gw_conn.h"
#include "wt_buf.h"

struct gw;

#define GW_CURSOR_MAX 128

/* A log object from the GW_LOG_COLS columns of row, starting at col. */
void gw_log_json(wt_buf *b, const PGresult *res, int row, int col,
                 const char *project_id);
/* The opaque keyset cursor: base64 of "<started_at us>:<id>". */
void gw_cursor_encode(char *out, size_t size, int64_t started_us,
                      const char *id);
bool gw_cursor_decode(const char *cursor, int64_t *started_us,
                      char id[WT_UUID_STR]);
/* Appends "<key>":[logs of rows first..first+limit),"next_cursor":... where
 * a row beyond limit means there is more. */
void gw_logs_page(wt_buf *b, const PGresult *res, int first, int col,
                  const char *project_id, int limit, const char *key);

void gw_reads_projects(struct gw *g, gw_pss *pss, const char *req_id);
void gw_reads_members(struct gw *g, gw_pss *pss, const char *req_id,
                      json_object *req);
void gw_reads_list(struct gw *g, gw_pss *pss, const char *req_id,
                   json_object *req);

#endif
