/* gw_reads: the read requests (projects, members, list), each one
 * statement through the pool; the reply is written on the pool thread (the
 * log rows by gw_page, shared with subscribe's snapshot). The membership
 * check comes first, from the cache: non-members get not_found before any
 * query. */
#ifndef GW_READS_H
#define GW_READS_H

#include <json-c/json.h>

#include "gw_conn.h"

struct gw;

void gw_reads_projects(struct gw *g, gw_pss *pss, const char *req_id);
void gw_reads_members(struct gw *g, gw_pss *pss, const char *req_id,
                      json_object *req);
void gw_reads_list(struct gw *g, gw_pss *pss, const char *req_id,
                   json_object *req);

#endif
