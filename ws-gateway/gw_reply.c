#include "gw_reply.h"

#include <string.h>

#include "gw.h"

void gw_reply_open(wt_jw *w, const char *type, const char *req_id) {
  wt_jw_obj(w);
  wt_jw_kstr(w, "type", type);
  if (req_id)
    wt_jw_kstr(w, "id", req_id);
}

void gw_reply_error(gw *g, gw_pss *pss, const char *req_id, const char *code,
                    const char *message) {
  wt_buf b;
  wt_jw w;
  wt_buf_init(&b, GW_REPLY_SMALL);
  wt_jw_init(&w, &b);
  gw_reply_open(&w, "error", req_id);
  wt_jw_kstr(&w, "code", code);
  wt_jw_kstr(&w, "message", message);
  wt_jw_obj_end(&w);
  gw_conn_send_buf(g, pss, &b);
  wt_buf_free(&b);
}

void gw_request_done(gw_pss *pss) {
  if (pss->inflight > 0)
    pss->inflight--;
}

const char *gw_req_str(json_object *req, const char *key, size_t max) {
  json_object *v;
  const char *s;
  if (!json_object_object_get_ex(req, key, &v) ||
      !json_object_is_type(v, json_type_string))
    return NULL;
  s = json_object_get_string(v);
  return (size_t)json_object_get_string_len(v) <= max &&
                 strlen(s) == (size_t)json_object_get_string_len(v)
             ? s
             : NULL;
}

bool gw_req_uuid(json_object *req, const char *key, char out[WT_UUID_STR]) {
  const char *s = gw_req_str(req, key, WT_UUID_STR - 1);
  if (!s || !wt_uuid_valid(s))
    return false;
  memcpy(out, s, WT_UUID_STR);
  return true;
}
