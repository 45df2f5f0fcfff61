/* gw_reply: what the WebSocket request handlers share (gw_ws, the
 * dispatcher, gw_reads and gw_subs): the error reply, the end of a request
 * that went through the pool, and reading members of a request. It sits
 * above gw_conn and below every handler, so that the handlers never call
 * back up into the dispatcher. lws thread only. */
#ifndef GW_REPLY_H
#define GW_REPLY_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "gw_conn.h"
#include "wt_jw.h"
#include "wt_uuid.h"

struct gw;

/* The reply's cap for small replies (errors, acknowledgements). */
#define GW_REPLY_SMALL 4096

/* {"type":"error","id"?,"code","message"}: id only when req_id is set. */
void gw_reply_error(struct gw *g, gw_pss *pss, const char *req_id,
                    const char *code, const char *message);

/* Opens a reply object on w: {"type":type and "id":req_id when req_id is
 * not NULL; the caller adds its members and closes it. */
void gw_reply_open(wt_jw *w, const char *type, const char *req_id);

/* The answer of a request that went through the pool arrived. */
void gw_request_done(gw_pss *pss);

/* A string member of at most max bytes without NUL inside, or NULL. The
 * string is req's. */
const char *gw_req_str(json_object *req, const char *key, size_t max);
/* A canonical UUID member copied to out; false when missing or bad. */
bool gw_req_uuid(json_object *req, const char *key, char out[WT_UUID_STR]);

#endif
