/* gw_http: the HTTP side of the port: /healthz, /readyz, /metrics, the
 * dashboard at / and its icon at /favicon.ico, POST /api/login (password check
 * on a pool thread, throttled per username and per client address) and POST
 * /api/token/refresh. Bodies are capped at GW_HTTP_BODY_MAX (413).
 * Passwords and tokens never reach the log. */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <libwebsockets.h>
#include <stddef.h>

#include "gw_conn.h"

/* The HTTP reasons of the one lws callback. */
int gw_http_callback(struct lws *wsi, enum lws_callback_reasons reason,
                     gw_pss *pss, void *in, size_t len);

/* Makes a yescrypt hash to spend a login's time on unknown users. */
int gw_http_dummy_hash(char *out, size_t size);

#endif
