/* wt_wsclient: a small blocking WebSocket (RFC 6455) and HTTP/1.1 client for
 * the gateway's end-to-end tests and benchmarks. Raw sockets rather than
 * libwebsockets, so that tests can also misbehave on purpose: raw or
 * fragmented frames, bad opcodes, oversized frames, bytes that are no frame
 * at all (wt_ws_send_raw), or not reading (wt_ws_fd).
 *
 * Timeouts are in milliseconds; a negative timeout waits forever, 0 only
 * looks at what is already there. Every message and HTTP body is capped at
 * WT_WS_MAX_MESSAGE bytes. A wt_ws belongs to one thread at a time. */
#ifndef WT_WSCLIENT_H
#define WT_WSCLIENT_H

#include <stdbool.h>
#include <stddef.h>

#define WT_WS_MAX_MESSAGE                                                      \
  ((size_t)16 * 1024 * 1024) /* one message or HTTP body */
#define WT_WS_BACKLOG_MAX 64 /* messages wt_ws_recv_json_type keeps aside */

/* Frame opcodes (RFC 6455 section 5.2). */
enum wt_ws_opcode {
  WT_WS_CONTINUATION = 0x0,
  WT_WS_TEXT = 0x1,
  WT_WS_BINARY = 0x2,
  WT_WS_CLOSE = 0x8,
  WT_WS_PING = 0x9,
  WT_WS_PONG = 0xA
};

/* wt_ws_recv's results besides WT_WS_TEXT, WT_WS_BINARY and WT_WS_CLOSE. */
#define WT_WS_ERROR (-1)
#define WT_WS_TIMEOUT (-2)

typedef struct wt_ws wt_ws;

/* A received message. data is malloc'd and owned by the caller (free it
 * with wt_ws_msg_free); it is NUL-terminated, the NUL not counted in len. */
typedef struct wt_ws_msg {
  int opcode;     /* WT_WS_TEXT, WT_WS_BINARY or WT_WS_CLOSE */
  char *data;     /* the payload; for a close, the reason */
  size_t len;     /* bytes in data */
  int close_code; /* WT_WS_CLOSE: the code, 1005 when the frame had none */
} wt_ws_msg;

/* Connects to ws://host:port/path and upgrades with a random
 * Sec-WebSocket-Key, checking Sec-WebSocket-Accept. subprotocol (may be
 * NULL) is offered as Sec-WebSocket-Protocol; a server that answers with
 * another one fails the connect. extra_headers (may be NULL) are sent
 * verbatim, each line ending in "\r\n". timeout_ms bounds connect plus
 * handshake and, later, each send (a peer that does not read makes a send
 * fail after it). *http_status_out (may be NULL) gets the answer's status:
 * 101 on success, e.g. 401 or 503 when the upgrade is refused, 0 when no
 * answer came. NULL on failure, with the reason in errstr. */
wt_ws *wt_ws_connect(const char *host, int port, const char *path,
                     const char *subprotocol, const char *extra_headers,
                     int timeout_ms, int *http_status_out, char *errstr,
                     size_t errstr_size);

/* The same over TLS (wss://host:port/path). ca_file (may be NULL: no
 * verification) is a PEM file of the certificates to trust: the server's
 * must then chain to one of them and name host (a DNS name, or an IP
 * address in its subjectAltName). A failed handshake fails the connect
 * with status 0. OpenSSL writes a TLS socket with write(2): ignore SIGPIPE
 * (the e2e tests do). Everything else works as on a plain wt_ws; the socket
 * of wt_ws_fd then carries TLS records (wt_ws_send_raw sends its bytes
 * inside them). */
wt_ws *wt_wss_connect(const char *host, int port, const char *ca_file,
                      const char *path, const char *subprotocol,
                      const char *extra_headers, int timeout_ms,
                      int *http_status_out, char *errstr, size_t errstr_size);

/* Sends a close 1000 when neither side has sent one yet (best effort, at
 * most 100 ms), closes the socket and frees. To drop the connection without
 * a close frame, shutdown(wt_ws_fd(ws), SHUT_RDWR) first. NULL is a no-op. */
void wt_ws_close(wt_ws *ws);

/* Sends return 0, or -1 when the socket fails or the send times out. */
int wt_ws_send_text(wt_ws *ws, const char *data, size_t len);
/* One masked frame exactly as asked: any opcode 0..15, fin or not, any
 * length (also control frames over 125 bytes). For fragments and abuse. */
int wt_ws_send_frame(wt_ws *ws, int opcode, bool fin, const void *data,
                     size_t len);
/* The same, unmasked, as no client may send it (RFC 6455 section 5.1): a
 * server must close the connection. Not recorded for WT_SCHEMA_DUMP. */
int wt_ws_send_frame_unmasked(wt_ws *ws, int opcode, bool fin, const void *data,
                              size_t len);
/* A close frame with the 2-byte code, or with no payload when code <= 0. */
int wt_ws_send_close(wt_ws *ws, int code);
/* Bytes as they are, e.g. an unmasked frame or a header that lies. */
int wt_ws_send_raw(wt_ws *ws, const void *data, size_t len);

/* Whether a close frame may carry code (RFC 6455 section 7.4): 1000-1003,
 * 1007-1014 and 3000-4999. */
bool wt_ws_close_code_allowed(int code);

/* Waits up to timeout_ms for the next message: reassembles fragments,
 * answers pings with pongs and drops pongs. Returns WT_WS_TEXT or
 * WT_WS_BINARY with the message in *out; WT_WS_CLOSE with the code and reason
 * in *out (a close is answered with the same code unless one was sent);
 * WT_WS_TIMEOUT (a partly received message is kept for the next call); or
 * WT_WS_ERROR: connection lost, protocol violation by the server (masked or
 * RSV frames, bad opcode, bad fragmentation, a text message or close reason
 * that is not UTF-8, a close code not allowed on the wire or a 1-byte close
 * payload), message over the cap, or the
 * connection was already closed. *out is zeroed unless a message is given.
 * Does not look at wt_ws_recv_json_type's backlog. */
int wt_ws_recv(wt_ws *ws, int timeout_ms, wt_ws_msg *out);
/* Frees out->data and zeroes *out. */
void wt_ws_msg_free(wt_ws_msg *msg);

/* Returns 0 with the first text message whose top-level "type" is the
 * string `type`: first from the backlog (oldest first), then from the
 * connection. Other text messages read meanwhile go to the backlog (the
 * oldest is dropped past WT_WS_BACKLOG_MAX); binary ones are dropped.
 * *json_out (json_out may be NULL) gets the message, malloc'd, the caller's
 * to free. -1 on timeout, close or error (see wt_ws_close_code). */
int wt_ws_recv_json_type(wt_ws *ws, const char *type, int timeout_ms,
                         char **json_out);
/* Messages in the backlog. */
size_t wt_ws_backlog_count(const wt_ws *ws);

/* 0 while open; the code of the close frame received (1005 when it had
 * none); 1006 when the connection was lost or broken without one. */
int wt_ws_close_code(const wt_ws *ws);
/* The socket, e.g. to stop reading or to shrink SO_RCVBUF. Still owned by
 * ws. */
int wt_ws_fd(const wt_ws *ws);
/* The subprotocol the server chose, "" when none. */
const char *wt_ws_subprotocol(const wt_ws *ws);
/* The last failure of a call on ws, "" when none. */
const char *wt_ws_error(const wt_ws *ws);

/* Recording for tests/schemas-check.sh. When the environment variable
 * WT_SCHEMA_DUMP names a file, every WebSocket message sent or received and
 * the bodies of the gateway's HTTP API are appended to it, one line
 * "<kind> <json>" each (kinds in schemas/README.md):
 *   ws-client, ws-server         a text message sent, received
 *   ws-server-close              a close received, as {"code":N,"reason":S}
 *   ws-client-invalid            a message sent invalid on purpose (see
 *                                wt_ws_dump_invalid), as a JSON string
 *   ws-server-reply-to-invalid   the next message or close received on that
 *                                connection after one (a frame, or
 *                                {"code":N,"reason":S})
 *   ws-client-binary, ws-server-binary  binary messages, as JSON strings
 *   http-login-request, http-refresh-request  bodies of POST /api/login,
 *                                /api/token/refresh
 *   http-request-invalid         a body sent invalid on purpose (see
 *                                wt_http_dump_invalid), as a JSON string
 *   http-ROUTE-response-STATUS   an answer's body; ROUTE is login, refresh,
 *                                readyz, or other (other routes' JSON bodies)
 * What is not one line of text (a newline, CR or NUL in it, or empty) is
 * written as a JSON string too: bytes outside printable ASCII as \u00XX, cut
 * after 1024 bytes. Each line is appended with one write(), so threads and
 * processes may share a file. Without WT_SCHEMA_DUMP nothing is copied. */

/* The next message sent on ws (all its fragments) is invalid on purpose: it
 * is recorded as ws-client-invalid, and the next one received on ws as
 * ws-server-reply-to-invalid. */
void wt_ws_dump_invalid(wt_ws *ws);
/* The calling thread's next wt_http_request body is invalid on purpose:
 * recorded as http-request-invalid (its answer as usual). */
void wt_http_dump_invalid(void);

/* One HTTP/1.1 request with Connection: close. content_type and body may be
 * NULL; a body is sent with its Content-Length (0 without a body, except
 * for GET and HEAD). Reads the answer by
 * Content-Length, chunked encoding or until EOF, at most WT_WS_MAX_MESSAGE
 * bytes of body, all within timeout_ms. On 0: *status_out gets the status;
 * *headers_out the status line and header lines (each ending in "\r\n");
 * *body_out the body, NUL-terminated. Each out pointer may be NULL; the
 * strings are malloc'd, the caller's to free. -1 on failure (connect,
 * timeout, malformed answer, cap), with the reason on stderr. */
int wt_http_request(const char *host, int port, const char *method,
                    const char *path, const char *content_type,
                    const char *body, int timeout_ms, int *status_out,
                    char **headers_out, char **body_out);

/* wt_http_request over TLS (https://), ca_file as for wt_wss_connect. */
int wt_https_request(const char *host, int port, const char *ca_file,
                     const char *method, const char *path,
                     const char *content_type, const char *body, int timeout_ms,
                     int *status_out, char **headers_out, char **body_out);

/* The value of header `name` (case-insensitive, the first one, without
 * surrounding blanks) in a header block as wt_http_request gives it.
 * false when absent; the value is truncated to out_size - 1. */
bool wt_http_header(const char *headers, const char *name, char *out,
                    size_t out_size);

#endif
