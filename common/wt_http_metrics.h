/* wt_http_metrics: a tiny HTTP/1.1 server for Prometheus scrapes and
 * liveness probes, run by the worker on WT_METRICS_PORT (default 9101).
 *
 *   GET /metrics  200, Content-Type: text/plain; version=0.0.4, the text of
 *                 the render callback
 *   GET /healthz  200 "ok\n"
 *   GET /readyz   200 "ready\n" or 503 "not ready\n" as the ready callback
 *                 says (wt_http_metrics_start_ready; without one: 404)
 *   other paths   404; other methods 405; a malformed request 400; request
 *                 headers over WT_HTTP_METRICS_HEADER_MAX 431
 *
 * One background thread, poll()-based, owns the listening socket and every
 * connection. At most WT_HTTP_METRICS_CLIENTS_MAX connections at a time
 * (further ones wait in the listen backlog); a request must arrive whole
 * within WT_HTTP_METRICS_READ_TIMEOUT_MS of the connection; one response
 * per connection, then "Connection: close". The thread blocks all signals,
 * so the program's handlers run on its own threads.
 *
 * The render callback runs on the server thread, concurrently with the
 * program's threads: it must be thread-safe (read counters atomically or
 * under a lock). It writes at most size bytes, NUL included, and returns the
 * length it needed, like snprintf; the server grows its buffer and calls it
 * again when that did not fit, up to WT_HTTP_METRICS_BODY_MAX (then 500).
 * ctx is the caller's and must outlive the server. */
#ifndef WT_HTTP_METRICS_H
#define WT_HTTP_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "wt_err.h"

#define WT_HTTP_METRICS_CLIENTS_MAX 64
#define WT_HTTP_METRICS_HEADER_MAX 8192       /* request line + headers */
#define WT_HTTP_METRICS_BODY_MAX (16u << 20)  /* rendered metrics */
#define WT_HTTP_METRICS_OUT_MAX (64u << 20)   /* all responses queued */
#define WT_HTTP_METRICS_READ_TIMEOUT_MS 5000  /* to receive the request */
#define WT_HTTP_METRICS_WRITE_TIMEOUT_MS 5000 /* without write progress */
#define WT_HTTP_METRICS_CONN_TIMEOUT_MS 60000 /* one connection, at most */

typedef struct wt_http_metrics wt_http_metrics;

/* Writes the metrics text into buf (size bytes, may be 0) and returns the
 * length of the whole text, like snprintf. */
typedef size_t(wt_metrics_render_fn)(void *ctx, char *buf, size_t size);

/* Readiness for GET /readyz: runs on the server thread like the render
 * callback, with the same ctx, and must be thread-safe; a slow check holds
 * up the other requests, so it bounds its own waits. */
typedef bool(wt_ready_fn)(void *ctx);

/* Binds bind_addr:port (a numeric IPv4 or IPv6 address; NULL means
 * "127.0.0.1"; port 0 picks a free port) and starts the server thread.
 * WT_OK and *out; WT_ERR_INVALID for a bad address or port; WT_ERR_IO when
 * the socket cannot be bound (errstr says why); WT_ERR_NOMEM. */
wt_err wt_http_metrics_start(const char *bind_addr, int port,
                             wt_metrics_render_fn *render, void *ctx,
                             wt_http_metrics **out, char *errstr,
                             size_t errstr_size);

/* wt_http_metrics_start, with GET /readyz answered by ready (NULL: 404). */
wt_err wt_http_metrics_start_ready(const char *bind_addr, int port,
                                   wt_metrics_render_fn *render,
                                   wt_ready_fn *ready, void *ctx,
                                   wt_http_metrics **out, char *errstr,
                                   size_t errstr_size);

/* The bound port (useful after port 0). */
int wt_http_metrics_port(const wt_http_metrics *m);

/* Wakes and joins the server thread, closes the listening socket and every
 * connection (responses in flight are cut), frees m. NULL is a no-op. */
void wt_http_metrics_stop(wt_http_metrics *m);

#endif
