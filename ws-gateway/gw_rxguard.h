/* gw_rxguard: closes with 1002 a WebSocket connection whose client sends an
 * unmasked frame (RFC 6455 section 5.1).
 *
 * libwebsockets 4.1.6 reads a frame's mask bit and then takes an unmasked
 * frame like a masked one (lib/roles/ws/ops-ws.c, LWS_RXPS_04_FRAME_HDR_LEN;
 * upstream refused them only in 2026, commit cae06c63a), and its API shows
 * no frame header. So the gateway looks at the bytes where lws reads them:
 * lws reads every socket with recv(2) (lib/core-net/output.c,
 * lws_ssl_capable_read_no_ssl), or with TLS (wss://) gets the decrypted
 * bytes from OpenSSL's SSL_read, and wt-gateway defines both, to which the
 * dynamic linker binds lws's calls. Each passes the call on to the real one;
 * on the lws thread, for a connection it follows, it then walks the frame
 * headers in what was read. The first unmasked frame closes the connection
 * with 1002; neither it nor anything after it reaches lws.
 *
 * A connection is followed from its accept: its first request head, then
 * frames. One whose first request is plain HTTP is let go (a WebSocket
 * upgraded on a kept-alive HTTP connection is not checked); so is one whose
 * head did not end in CRLF CRLF. Frames that came with the upgrade request,
 * before ESTABLISHED, reach lws, but the connection is closed with 1002 at
 * ESTABLISHED and its messages are ignored.
 *
 * Everything here runs on the lws thread; recv and SSL_read calls of other
 * threads (librdkafka, libpq, also over TLS) pass straight through. Only
 * wt-gateway links this file: the tests, which link the gw library, keep their
 * libc recv. */
#ifndef GW_RXGUARD_H
#define GW_RXGUARD_H

#include "gw_conn.h"

/* The calling thread is the lws thread: call before the first accept. */
void gw_rxguard_init_thread(void);
/* LWS_CALLBACK_FILTER_NETWORK_CONNECTION: follow the accepted socket. */
void gw_rxguard_accept(int fd);
/* LWS_CALLBACK_HTTP: a plain HTTP request, no WebSocket: let go. */
void gw_rxguard_forget(int fd);
/* LWS_CALLBACK_ESTABLISHED, after pss is set up: from now on an unmasked
 * frame closes pss with 1002; one seen before closes it now. */
void gw_rxguard_established(int fd, gw_pss *pss);
/* Frees the table (at exit). */
void gw_rxguard_free(void);

#endif
