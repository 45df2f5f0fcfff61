#include "gw_page.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t us_at(const PGresult *res, int row, int col) {
  return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* key K: a time column, or null */
#define KTIME_OR_NULL(w, K, res, row, col)                                     \
  (PQgetisnull(res, row, col) ? wt_jw_knull(w, K)                              \
                              : wt_jw_ktime(w, K, us_at(res, row, col)))
/* key K: a text column */
#define KCOL(w, K, res, row, col)                                              \
  wt_jw_kstrn(w, K, PQgetvalue(res, row, col),                                 \
              (size_t)PQgetlength(res, row, col))

/* GW_LOG_COLS: id, user_id, started, ended, description, version, created,
 * updated */
void gw_log_json(wt_jw *w, const PGresult *res, int row, int col,
                 const char *project_id) {
  wt_jw_obj(w);
  KCOL(w, "id", res, row, col);
  wt_jw_kstr(w, "project_id", project_id);
  KCOL(w, "user_id", res, row, col + 1);
  KTIME_OR_NULL(w, "started_at", res, row, col + 2);
  KTIME_OR_NULL(w, "ended_at", res, row, col + 3);
  if (PQgetisnull(res, row, col + 3)) {
    wt_jw_knull(w, "duration_seconds");
  } else {
    int64_t d = us_at(res, row, col + 3) - us_at(res, row, col + 2);
    wt_jw_ki64(w, "duration_seconds", d > 0 ? d / 1000000 : 0);
  }
  KCOL(w, "description", res, row, col + 4);
  wt_jw_ki64(w, "version", us_at(res, row, col + 5));
  KTIME_OR_NULL(w, "created_at", res, row, col + 6);
  KTIME_OR_NULL(w, "updated_at", res, row, col + 7);
  wt_jw_obj_end(w);
}

void gw_cursor_encode(char *out, size_t size, int64_t started_us,
                      const char *id) {
  char raw[80];
  int n = snprintf(raw, sizeof(raw), "%lld:%s", (long long)started_us, id);
  if (lws_b64_encode_string(raw, n, out, (int)size) < 0)
    out[0] = '\0';
}

bool gw_cursor_decode(const char *cursor, int64_t *started_us,
                      char id[WT_UUID_STR]) {
  char raw[96];
  char *colon, *end;
  int n;
  if (strlen(cursor) >= GW_CURSOR_MAX)
    return false;
  n = lws_b64_decode_string(cursor, raw, (int)sizeof(raw) - 1);
  if (n <= 0)
    return false;
  raw[n] = '\0';
  colon = strchr(raw, ':');
  if (!colon || colon == raw)
    return false;
  *colon = '\0';
  *started_us = strtoll(raw, &end, 10);
  if (*end || !wt_uuid_valid(colon + 1))
    return false;
  memcpy(id, colon + 1, WT_UUID_STR);
  return true;
}

void gw_logs_page(wt_jw *w, const PGresult *res, int first, int col,
                  const char *project_id, int limit,
                  char cursor[GW_CURSOR_MAX]) {
  int rows = PQntuples(res), n = 0;
  bool more = false;
  cursor[0] = '\0';
  for (int r = first; r < rows; r++) {
    if (PQgetisnull(res, r, col))
      continue; /* the snapshot's row for a project without logs */
    if (n == limit) {
      more = true;
      break;
    }
    n++;
    gw_log_json(w, res, r, col, project_id);
  }
  if (more) {
    int last = first + n - 1;
    /* rows before `last` may be NULL rows only in the snapshot's no-log
     * case, which has no "more"; so last is the page's last log */
    gw_cursor_encode(cursor, GW_CURSOR_MAX, us_at(res, last, col + 2),
                     PQgetvalue(res, last, col));
  }
}
