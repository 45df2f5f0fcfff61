#include "gw_reads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "gw_members.h"
#include "gw_page.h"
#include "gw_pool.h"
#include "gw_reply.h"
#include "gw_sql.h"
#include "wt_jw.h"
#include "wt_log.h"
#include "wt_time.h"

static int64_t us_at(const PGresult *res, int row, int col) {
  return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* key K: a text column of the result */
#define KCOL(w, K, res, row, col)                                              \
  wt_jw_kstrn(w, K, PQgetvalue(res, row, col),                                 \
              (size_t)PQgetlength(res, row, col))

/* --- the read job --------------------------------------------------------- */

typedef enum read_kind { READ_PROJECTS, READ_MEMBERS, READ_LIST } read_kind;

typedef struct read_job {
  gw_job base;
  read_kind kind;
  char req_id[GW_REQ_ID_MAX + 1];
  char project_id[WT_UUID_STR];
  char user_id[WT_UUID_STR];
  char filter_user[WT_UUID_STR];
  char from[40], to[40], cur_at[40], cur_id[WT_UUID_STR];
  int limit;
  wt_err err;
  wt_buf out; /* the whole reply */
} read_job;

static void read_run(gw_job *job, wt_db *db) {
  read_job *j = (read_job *)job;
  const char *params[7] = {0};
  char limit[16], err[512];
  wt_db_stmt st = {.params = params};
  wt_jw w;
  int rows;
  switch (j->kind) {
  case READ_PROJECTS:
    st.name = "gw_projects";
    st.sql = GW_SQL_PROJECTS;
    params[0] = j->user_id;
    st.nparams = 1;
    break;
  case READ_MEMBERS:
    st.name = "gw_members";
    st.sql = GW_SQL_MEMBERS;
    params[0] = j->project_id;
    st.nparams = 1;
    break;
  case READ_LIST:
    st.name = "gw_list";
    st.sql = GW_SQL_LIST;
    snprintf(limit, sizeof(limit), "%d", j->limit + 1);
    params[0] = j->project_id;
    params[1] = j->filter_user[0] ? j->filter_user : NULL;
    params[2] = j->from[0] ? j->from : NULL;
    params[3] = j->to[0] ? j->to : NULL;
    params[4] = j->cur_at[0] ? j->cur_at : NULL;
    params[5] = j->cur_at[0] ? j->cur_id : NULL;
    params[6] = limit;
    st.nparams = 7;
    break;
  }
  j->err = gw_db_run(db, &st, 1, err, sizeof(err));
  if (j->err != WT_OK) {
    WT_WARN("read failed statement=%s error=\"%s\"", st.name, err);
    wt_db_stmts_clear(&st, 1);
    return;
  }
  rows = PQntuples(st.result);
  wt_jw_init(&w, &j->out);
  gw_reply_open(&w, "result", j->req_id);
  switch (j->kind) {
  case READ_PROJECTS:
    wt_jw_karr(&w, "items");
    for (int r = 0; r < rows; r++) {
      wt_jw_obj(&w);
      wt_jw_kobj(&w, "project");
      KCOL(&w, "id", st.result, r, 0);
      KCOL(&w, "name", st.result, r, 1);
      KCOL(&w, "created_by", st.result, r, 2);
      wt_jw_ktime(&w, "created_at", us_at(st.result, r, 3));
      wt_jw_obj_end(&w);
      KCOL(&w, "role", st.result, r, 4);
      wt_jw_obj_end(&w);
    }
    wt_jw_arr_end(&w);
    break;
  case READ_MEMBERS:
    wt_jw_kstr(&w, "project_id", j->project_id);
    wt_jw_karr(&w, "items");
    for (int r = 0; r < rows; r++) {
      wt_jw_obj(&w);
      KCOL(&w, "user_id", st.result, r, 0);
      KCOL(&w, "username", st.result, r, 1);
      KCOL(&w, "display_name", st.result, r, 2);
      KCOL(&w, "role", st.result, r, 3);
      wt_jw_obj_end(&w);
    }
    wt_jw_arr_end(&w);
    break;
  case READ_LIST: {
    char cursor[GW_CURSOR_MAX];
    wt_jw_kstr(&w, "project_id", j->project_id);
    wt_jw_karr(&w, "items");
    gw_logs_page(&w, st.result, 0, 0, j->project_id, j->limit, cursor);
    wt_jw_arr_end(&w);
    wt_jw_kstr(&w, "next_cursor", cursor[0] ? cursor : NULL);
    break;
  }
  }
  wt_jw_obj_end(&w);
  wt_db_stmts_clear(&st, 1);
}

static void read_done(gw *g, gw_job *job) {
  read_job *j = (read_job *)job;
  gw_pss *pss =
      j->base.cancelled ? NULL : gw_conns_get(&g->conns, j->base.conn_id);
  if (pss) {
    gw_request_done(pss);
    if (j->err != WT_OK)
      gw_reply_error(g, pss, j->req_id, "unavailable",
                     "the database did not answer");
    else {
      g->metrics.reads++;
      gw_conn_send_buf(g, pss, &j->out);
    }
  }
  wt_buf_free(&j->out);
  free(j);
}

static read_job *job_new(gw_pss *pss, read_kind kind, const char *req_id) {
  read_job *j = calloc(1, sizeof(*j));
  if (!j)
    return NULL;
  j->base.run = read_run;
  j->base.done = read_done;
  j->base.conn_id = pss->id;
  j->kind = kind;
  snprintf(j->req_id, sizeof(j->req_id), "%s", req_id);
  snprintf(j->user_id, sizeof(j->user_id), "%s", pss->user_id);
  wt_buf_init(&j->out, GW_REPLY_MAX);
  return j;
}

static void submit(gw *g, gw_pss *pss, read_job *j) {
  pss->inflight++;
  if (!gw_pool_submit(g->pool, &j->base)) {
    pss->inflight--;
    gw_reply_error(g, pss, j->req_id, "unavailable", "shutting down");
    wt_buf_free(&j->out);
    free(j);
  }
}

/* The project_id of a request, and the caller's membership of it. */
static bool member_project(gw *g, gw_pss *pss, const char *req_id,
                           json_object *req, char pid[WT_UUID_STR]) {
  if (!gw_req_uuid(req, "project_id", pid)) {
    gw_reply_error(g, pss, req_id, "invalid", "project_id: expected a UUID");
    return false;
  }
  if (gw_members_role(g->members, pid, pss->user_id) == WT_ROLE_NONE) {
    gw_reply_error(g, pss, req_id, "not_found", "no such project");
    return false;
  }
  return true;
}

void gw_reads_projects(gw *g, gw_pss *pss, const char *req_id) {
  read_job *j = job_new(pss, READ_PROJECTS, req_id);
  if (!j) {
    gw_reply_error(g, pss, req_id, "unavailable", "out of memory");
    return;
  }
  submit(g, pss, j);
}

void gw_reads_members(gw *g, gw_pss *pss, const char *req_id,
                      json_object *req) {
  char pid[WT_UUID_STR];
  read_job *j;
  if (!member_project(g, pss, req_id, req, pid))
    return;
  j = job_new(pss, READ_MEMBERS, req_id);
  if (!j) {
    gw_reply_error(g, pss, req_id, "unavailable", "out of memory");
    return;
  }
  memcpy(j->project_id, pid, sizeof(pid));
  submit(g, pss, j);
}

/* An optional RFC 3339 member, normalised into out ("" when absent). */
static bool opt_time(json_object *req, const char *key, char *out,
                     size_t size) {
  json_object *v;
  int64_t us;
  out[0] = '\0';
  if (!json_object_object_get_ex(req, key, &v) ||
      json_object_is_type(v, json_type_null))
    return true;
  if (!json_object_is_type(v, json_type_string) ||
      wt_time_parse(json_object_get_string(v), &us) != 0)
    return false;
  wt_time_format(us, out, size);
  return true;
}

void gw_reads_list(gw *g, gw_pss *pss, const char *req_id, json_object *req) {
  char pid[WT_UUID_STR];
  json_object *v;
  read_job *j;
  if (!member_project(g, pss, req_id, req, pid))
    return;
  j = job_new(pss, READ_LIST, req_id);
  if (!j) {
    gw_reply_error(g, pss, req_id, "unavailable", "out of memory");
    return;
  }
  memcpy(j->project_id, pid, sizeof(pid));
  j->limit = GW_PAGE_DEFAULT;
  if (json_object_object_get_ex(req, "limit", &v) &&
      !json_object_is_type(v, json_type_null)) {
    int64_t n =
        json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
    if (n < 1 || n > GW_PAGE_MAX) {
      gw_reply_error(g, pss, req_id, "invalid", "limit: 1..500");
      goto bad;
    }
    j->limit = (int)n;
  }
  if (json_object_object_get_ex(req, "user_id", &v) &&
      !json_object_is_type(v, json_type_null) &&
      !gw_req_uuid(req, "user_id", j->filter_user)) {
    gw_reply_error(g, pss, req_id, "invalid", "user_id: expected a UUID");
    goto bad;
  }
  if (!opt_time(req, "from", j->from, sizeof(j->from)) ||
      !opt_time(req, "to", j->to, sizeof(j->to))) {
    gw_reply_error(g, pss, req_id, "invalid",
                   "from/to: expected RFC 3339 times");
    goto bad;
  }
  if (json_object_object_get_ex(req, "cursor", &v) &&
      !json_object_is_type(v, json_type_null)) {
    int64_t at;
    const char *c = gw_req_str(req, "cursor", GW_CURSOR_MAX);
    if (!c || !gw_cursor_decode(c, &at, j->cur_id)) {
      gw_reply_error(g, pss, req_id, "invalid", "cursor: not ours");
      goto bad;
    }
    wt_time_format(at, j->cur_at, sizeof(j->cur_at));
  }
  submit(g, pss, j);
  return;
bad:
  wt_buf_free(&j->out);
  free(j);
}
