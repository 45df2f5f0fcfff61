#include "wt_wsclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wt_buf.h"
#include "wt_json.h" /* wt_utf8_chars */

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
/* An HTTP answer's status line and headers. */
#define HEAD_MAX ((size_t)64 * 1024)
#define READ_CHUNK ((size_t)64 * 1024)
/* WT_SCHEMA_DUMP: what is written as a JSON string is cut after this. */
#define DUMP_STRING_MAX ((size_t)1024)

struct wt_ws {
  int fd;
  SSL *ssl;          /* wss://: the TLS session over fd, else NULL */
  int io_timeout_ms; /* for sends */
  wt_buf in;         /* bytes read; [in_pos, in.len) not parsed yet */
  size_t in_pos;
  wt_buf frag;     /* the fragmented message being reassembled */
  int frag_opcode; /* its opcode, 0 when none is under way */
  bool close_sent;
  bool finished; /* close received, connection lost or broken */
  int close_code;
  char subprotocol[128];
  char *backlog[WT_WS_BACKLOG_MAX]; /* oldest first */
  size_t backlog_len;
  char error[256];
  /* WT_SCHEMA_DUMP: the message being sent, fragment by fragment */
  wt_buf dump_out;
  int dump_opcode;
  bool dump_invalid; /* the message being sent is invalid on purpose */
  int dump_replies;  /* received messages that answer invalid ones */
};

/* A parsed frame whose payload lies in ws->in. */
struct frame {
  int opcode;
  bool fin;
  const uint8_t *payload;
  size_t len;
  size_t size; /* header plus payload */
};

/* --- time and sockets ---------------------------------------------------- */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* -1: no deadline. */
static int64_t deadline_of(int timeout_ms) {
  return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

static int remaining_ms(int64_t deadline) {
  int64_t left;
  if (deadline < 0)
    return -1;
  left = deadline - now_ms();
  return left < 0 ? 0 : (int)left;
}

/* 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline) {
  for (;;) {
    struct pollfd p = {.fd = fd, .events = events};
    int rc = poll(&p, 1, remaining_ms(deadline));
    if (rc >= 0)
      return rc > 0 ? 1 : 0;
    if (errno != EINTR)
      return -1;
  }
}

/* A connected, non-blocking TCP socket, or -1. */
static int tcp_connect(const char *host, int port, int64_t deadline, char *err,
                       size_t err_size) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  struct addrinfo *res = NULL;
  char service[16];
  int fd = -1, rc;
  snprintf(service, sizeof(service), "%d", port);
  rc = getaddrinfo(host, service, &hints, &res);
  if (rc != 0) {
    snprintf(err, err_size, "resolve %s: %s", host, gai_strerror(rc));
    return -1;
  }
  snprintf(err, err_size, "connect %s:%d: no address", host, port);
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    int soerr = 0, one = 1;
    socklen_t slen = sizeof(soerr);
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                ai->ai_protocol);
    if (fd < 0)
      continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      soerr = errno;
      if (soerr == EINPROGRESS) {
        rc = wait_fd(fd, POLLOUT, deadline);
        soerr = rc == 0 ? ETIMEDOUT : errno;
        if (rc > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) != 0)
          soerr = errno;
      }
    }
    if (soerr == 0) {
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      break;
    }
    snprintf(err, err_size, "connect %s:%d: %s", host, port, strerror(soerr));
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

/* OpenSSL's reason for the last error, or dflt; clears the queue. */
static const char *tls_reason(const char *dflt) {
  const char *r = ERR_reason_error_string(ERR_peek_last_error());
  ERR_clear_error();
  return r ? r : dflt; /* a static string of OpenSSL's */
}

/* TLS: how to wait after SSL_read/SSL_write/SSL_connect returned rc <= 0:
 * POLLIN or POLLOUT, or 0 when the session failed (or, for reads, ended). */
static short tls_wait_events(SSL *ssl, int rc) {
  switch (SSL_get_error(ssl, rc)) {
  case SSL_ERROR_WANT_READ: return POLLIN;
  case SSL_ERROR_WANT_WRITE: return POLLOUT;
  default: return 0;
  }
}

static int tls_send_all(int fd, SSL *ssl, const char *p, size_t len,
                        int64_t deadline, char *err, size_t err_size) {
  while (len > 0) {
    /* after WANT_*, the same buffer and length again */
    int n = SSL_write(ssl, p, len > INT_MAX ? INT_MAX : (int)len);
    short ev;
    int rc;
    if (n > 0) {
      p += n;
      len -= (size_t)n;
      continue;
    }
    ev = tls_wait_events(ssl, n);
    if (!ev) {
      snprintf(err, err_size, "send: TLS: %s", tls_reason("session failed"));
      return -1;
    }
    rc = wait_fd(fd, ev, deadline);
    if (rc <= 0) {
      snprintf(err, err_size, "send: %s",
               rc == 0 ? "timed out" : strerror(errno));
      return -1;
    }
  }
  return 0;
}

static int send_all(int fd, SSL *ssl, const void *data, size_t len,
                    int64_t deadline, char *err, size_t err_size) {
  const char *p = data;
  if (ssl)
    return tls_send_all(fd, ssl, p, len, deadline, err, err_size);
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int rc = wait_fd(fd, POLLOUT, deadline);
      if (rc <= 0) {
        snprintf(err, err_size, "send: %s",
                 rc == 0 ? "timed out" : strerror(errno));
        return -1;
      }
    } else {
      snprintf(err, err_size, "send: %s", strerror(errno));
      return -1;
    }
  }
  return 0;
}

/* Appends what arrives to b: >0 bytes read, 0 EOF, -1 error (also when b
 * is full), -2 timeout. */
static ssize_t tls_recv_some(int fd, SSL *ssl, wt_buf *b, int64_t deadline) {
  char chunk[READ_CHUNK];
  for (;;) {
    int n = SSL_read(ssl, chunk, (int)sizeof(chunk));
    short ev;
    if (n > 0) {
      wt_buf_append(b, chunk, (size_t)n);
      return wt_buf_ok(b) ? n : -1;
    }
    /* SSL_OP_IGNORE_UNEXPECTED_EOF: an EOF without close_notify is an end
     * like a close_notify */
    if (SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN)
      return 0;
    ev = tls_wait_events(ssl, n);
    ERR_clear_error();
    if (!ev)
      return -1;
    n = wait_fd(fd, ev, deadline);
    if (n <= 0)
      return n == 0 ? -2 : -1;
  }
}

static ssize_t recv_some(int fd, SSL *ssl, wt_buf *b, int64_t deadline) {
  char chunk[READ_CHUNK];
  if (ssl)
    return tls_recv_some(fd, ssl, b, deadline);
  for (;;) {
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n > 0) {
      wt_buf_append(b, chunk, (size_t)n);
      return wt_buf_ok(b) ? n : -1;
    }
    if (n == 0)
      return 0;
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return -1;
    n = wait_fd(fd, POLLIN, deadline);
    if (n <= 0)
      return n == 0 ? -2 : -1;
  }
}

/* --- TLS ------------------------------------------------------------------ */

/* What to connect with: NULL for plain TCP. */
typedef struct tls_opts {
  const char *ca_file; /* NULL: the server's certificate is not verified */
} tls_opts;

static void tls_end(SSL *ssl) {
  if (!ssl)
    return;
  SSL_shutdown(ssl); /* best effort: our close_notify, no wait for theirs */
  SSL_free(ssl);
  ERR_clear_error();
}

/* The TLS client handshake on a connected non-blocking socket; with a
 * ca_file, the server's certificate must chain to it and name host (a DNS
 * name, or an IP address in its subjectAltName). NULL with err. */
static SSL *tls_start(int fd, const char *host, const tls_opts *tls,
                      int64_t deadline, char *err, size_t err_size) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL *ssl = NULL;
  unsigned char addr[16];
  bool ip = inet_pton(AF_INET, host, addr) == 1 ||
            inet_pton(AF_INET6, host, addr) == 1;
  snprintf(err, err_size, "TLS: cannot set up a session");
  if (!ctx)
    goto fail;
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (tls->ca_file) {
    if (SSL_CTX_load_verify_locations(ctx, tls->ca_file, NULL) != 1) {
      snprintf(err, err_size, "TLS: cannot load CA file %s", tls->ca_file);
      goto fail;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  }
  ssl = SSL_new(ctx); /* holds its own reference to ctx */
  if (!ssl || SSL_set_fd(ssl, fd) != 1)
    goto fail;
  if (!ip) {
    /* a macro that casts its argument to void *: a copy of our own */
    char sni[256];
    snprintf(sni, sizeof(sni), "%s", host);
    SSL_set_tlsext_host_name(ssl, sni);
  }
  if (tls->ca_file &&
      (ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)
          : SSL_set1_host(ssl, host)) != 1)
    goto fail;
  for (;;) {
    int rc = SSL_connect(ssl);
    short ev;
    if (rc == 1)
      break;
    ev = tls_wait_events(ssl, rc);
    if (!ev) {
      long verify = SSL_get_verify_result(ssl);
      snprintf(err, err_size, "TLS handshake with %s failed: %s", host,
               verify != X509_V_OK ? X509_verify_cert_error_string(verify)
                                   : tls_reason("connection closed"));
      goto fail;
    }
    rc = wait_fd(fd, ev, deadline);
    if (rc <= 0) {
      snprintf(err, err_size, "TLS handshake with %s: %s", host,
               rc == 0 ? "timed out" : strerror(errno));
      goto fail;
    }
  }
  SSL_CTX_free(ctx);
  return ssl;
fail:
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return NULL;
}

/* --- HTTP heads ---------------------------------------------------------- */

bool wt_http_header(const char *headers, const char *name, char *out,
                    size_t out_size) {
  size_t name_len = strlen(name);
  const char *line = strstr(headers, "\r\n"); /* skip the status line */
  while (line && line[2] != '\0' && line[2] != '\r') {
    const char *start = line + 2, *end = strstr(start, "\r\n");
    if (!end)
      end = start + strlen(start);
    if ((size_t)(end - start) > name_len && start[name_len] == ':' &&
        strncasecmp(start, name, name_len) == 0) {
      const char *v = start + name_len + 1;
      size_t n;
      while (v < end && (*v == ' ' || *v == '\t'))
        v++;
      while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
      n = (size_t)(end - v);
      if (out_size > 0) {
        n = n < out_size - 1 ? n : out_size - 1;
        memcpy(out, v, n);
        out[n] = '\0';
      }
      return true;
    }
    line = strstr(start, "\r\n");
  }
  return false;
}

/* The status of "HTTP/1.x NNN ...", or 0. */
static int parse_status(const char *head) {
  int status = 0;
  if (strncmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ')
    return 0;
  for (int i = 9; i < 12; i++) {
    if (head[i] < '0' || head[i] > '9')
      return 0;
    status = status * 10 + (head[i] - '0');
  }
  return status;
}

/* Connects, sends req and reads the answer's head into resp: the head is
 * NUL-terminated at *head_len - 2 (its lines, each with its CRLF), the body
 * starts at *head_len. The socket, or -1 with err. */
static int http_exchange(const char *host, int port, const tls_opts *tls,
                         SSL **ssl, const wt_buf *req, int64_t deadline,
                         wt_buf *resp, size_t *head_len, int *status, char *err,
                         size_t err_size) {
  int fd = tcp_connect(host, port, deadline, err, err_size);
  *ssl = NULL;
  if (fd < 0)
    goto fail;
  if (tls && !(*ssl = tls_start(fd, host, tls, deadline, err, err_size)))
    goto fail;
  if (send_all(fd, *ssl, req->data, req->len, deadline, err, err_size))
    goto fail;
  for (;;) {
    const char *end =
        resp->len ? memmem(resp->data, resp->len, "\r\n\r\n", 4) : NULL;
    ssize_t n;
    if (end) {
      *head_len = (size_t)(end - resp->data) + 4;
      resp->data[*head_len - 2] = '\0';
      if ((*status = parse_status(resp->data)) != 0)
        return fd;
      snprintf(err, err_size, "not an HTTP answer: %.40s", resp->data);
      goto fail;
    }
    if (resp->len > HEAD_MAX) {
      snprintf(err, err_size, "answer head over %zu bytes", HEAD_MAX);
      goto fail;
    }
    n = recv_some(fd, *ssl, resp, deadline);
    if (n <= 0) {
      snprintf(err, err_size, "reading the answer: %s",
               n == 0    ? "connection closed"
               : n == -2 ? "timed out"
                         : "failed");
      goto fail;
    }
  }
fail:
  tls_end(*ssl);
  *ssl = NULL;
  if (fd >= 0)
    close(fd);
  return -1;
}

/* --- WT_SCHEMA_DUMP ------------------------------------------------------ */

static _Thread_local bool http_dump_invalid_next;

static const char *dump_path(void) {
  const char *path = getenv("WT_SCHEMA_DUMP");
  return path && path[0] ? path : NULL;
}

/* Whether data can go into the dump as it is: one line, not empty. */
static bool one_line(const char *data, size_t len) {
  if (len == 0)
    return false;
  for (size_t i = 0; i < len; i++)
    if (data[i] == '\n' || data[i] == '\r' || data[i] == '\0')
      return false;
  return true;
}

/* data as a JSON string: printable ASCII as it is, every other byte as
 * \u00XX, cut after DUMP_STRING_MAX bytes. */
static void dump_string(wt_buf *b, const char *data, size_t len) {
  size_t n = len < DUMP_STRING_MAX ? len : DUMP_STRING_MAX;
  wt_buf_putc(b, '"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)data[i];
    if (c == '"' || c == '\\') {
      wt_buf_putc(b, '\\');
      wt_buf_putc(b, (char)c);
    } else if (c < 0x20 || c >= 0x7f) {
      wt_buf_printf(b, "\\u%04x", c);
    } else {
      wt_buf_putc(b, (char)c);
    }
  }
  if (n < len)
    wt_buf_printf(b, "...(%zu bytes)", len);
  wt_buf_putc(b, '"');
}

/* Appends the line "<kind> <data>" to the dump, data as a JSON string when
 * as_string or when it is not one line. */
static void dump(const char *kind, const char *data, size_t len,
                 bool as_string) {
  const char *path = dump_path();
  wt_buf b;
  int fd;
  if (!path)
    return;
  wt_buf_init(&b, WT_WS_MAX_MESSAGE + 256);
  wt_buf_printf(&b, "%s ", kind);
  if (as_string || !one_line(data, len))
    dump_string(&b, data, len);
  else
    wt_buf_append(&b, data, len);
  wt_buf_putc(&b, '\n');
  fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 || !wt_buf_ok(&b) || write(fd, b.data, b.len) != (ssize_t)b.len)
    fprintf(stderr, "WT_SCHEMA_DUMP %s: cannot append a %s line\n", path, kind);
  if (fd >= 0)
    close(fd);
  wt_buf_free(&b);
}

void wt_ws_dump_invalid(wt_ws *ws) {
  ws->dump_invalid = true;
}

void wt_http_dump_invalid(void) {
  http_dump_invalid_next = true;
}

/* A data frame sent (or not, !sent): recorded once its message is whole. */
static void dump_sent(wt_ws *ws, int opcode, bool fin, const void *data,
                      size_t len, bool sent) {
  if (!dump_path())
    return;
  if (opcode != WT_WS_CONTINUATION) {
    wt_buf_reset(&ws->dump_out);
    ws->dump_opcode = opcode;
  }
  if (len)
    wt_buf_append(&ws->dump_out, data, len);
  if (!fin)
    return;
  if (sent && ws->dump_invalid) {
    dump("ws-client-invalid", ws->dump_out.data, ws->dump_out.len, true);
    ws->dump_replies++;
  } else if (sent) {
    bool binary = ws->dump_opcode == WT_WS_BINARY;
    dump(binary ? "ws-client-binary" : "ws-client", ws->dump_out.data,
         ws->dump_out.len, binary);
  }
  ws->dump_invalid = false;
  wt_buf_free(&ws->dump_out); /* do not keep up to the cap around */
  wt_buf_init(&ws->dump_out, WT_WS_MAX_MESSAGE);
}

/* A message received (text, binary or close). */
static void dump_received(wt_ws *ws, const wt_ws_msg *m) {
  bool reply = ws->dump_replies > 0;
  if (!dump_path())
    return;
  if (reply)
    ws->dump_replies--;
  if (m->opcode == WT_WS_CLOSE) {
    wt_buf b;
    wt_buf_init(&b, 4096);
    wt_buf_printf(&b, "{\"code\":%d,\"reason\":", m->close_code);
    dump_string(&b, m->data, m->len);
    wt_buf_putc(&b, '}');
    dump(reply ? "ws-server-reply-to-invalid" : "ws-server-close", b.data,
         b.len, false);
    wt_buf_free(&b);
  } else {
    bool binary = m->opcode == WT_WS_BINARY;
    dump(reply    ? "ws-server-reply-to-invalid"
         : binary ? "ws-server-binary"
                  : "ws-server",
         m->data, m->len, binary);
  }
}

/* The API route of an HTTP path, or NULL. */
static const char *dump_route(const char *path) {
  static const char *const routes[][2] = {{"/api/login", "login"},
                                          {"/api/token/refresh", "refresh"},
                                          {"/readyz", "readyz"}};
  size_t n = strcspn(path, "?");
  for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
    if (strlen(routes[i][0]) == n && strncmp(path, routes[i][0], n) == 0)
      return routes[i][1];
  return NULL;
}

/* --- WebSocket ----------------------------------------------------------- */

/* Marks the connection unusable and says why; returns WT_WS_ERROR. The
 * message is formatted aside first: fmt's arguments may be ws->error. */
static int fail(wt_ws *ws, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(wt_ws *ws, const char *fmt, ...) {
  char msg[sizeof(ws->error)];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  memcpy(ws->error, msg, sizeof(msg));
  ws->finished = true;
  if (ws->close_code == 0)
    ws->close_code = 1006;
  return WT_WS_ERROR;
}

static wt_ws *ws_connect(const char *host, int port, const tls_opts *tls,
                         const char *path, const char *subprotocol,
                         const char *extra_headers, int timeout_ms,
                         int *http_status_out, char *errstr,
                         size_t errstr_size) {
  int64_t deadline = deadline_of(timeout_ms);
  unsigned char nonce[16], digest[EVP_MAX_MD_SIZE];
  char key[32], keyguid[80], want[64], value[256];
  char err[256] = "";
  unsigned int digest_len = 0;
  size_t head_len = 0;
  int status = 0;
  bool ok = false;
  wt_buf req, resp;
  wt_ws *ws = calloc(1, sizeof(*ws));

  wt_buf_init(&req, HEAD_MAX);
  wt_buf_init(&resp, HEAD_MAX + READ_CHUNK);
  if (!ws) {
    snprintf(err, sizeof(err), "out of memory");
    goto err;
  }
  ws->fd = -1;
  ws->io_timeout_ms = timeout_ms;
  /* Room for a whole frame at the cap plus one more read. */
  wt_buf_init(&ws->in, WT_WS_MAX_MESSAGE + 2 * READ_CHUNK);
  wt_buf_init(&ws->frag, WT_WS_MAX_MESSAGE);
  wt_buf_init(&ws->dump_out, WT_WS_MAX_MESSAGE);

  if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
    snprintf(err, sizeof(err), "RAND_bytes failed");
    goto err;
  }
  EVP_EncodeBlock((unsigned char *)key, nonce, sizeof(nonce));
  snprintf(keyguid, sizeof(keyguid), "%s%s", key, WS_GUID);
  if (!EVP_Digest(keyguid, strlen(keyguid), digest, &digest_len, EVP_sha1(),
                  NULL)) {
    snprintf(err, sizeof(err), "SHA-1 failed");
    goto err;
  }
  EVP_EncodeBlock((unsigned char *)want, digest, (int)digest_len);

  wt_buf_printf(&req,
                "GET %s HTTP/1.1\r\nHost: %s%s%s:%d\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n",
                path, strchr(host, ':') ? "[" : "", host,
                strchr(host, ':') ? "]" : "", port, key);
  if (subprotocol)
    wt_buf_printf(&req, "Sec-WebSocket-Protocol: %s\r\n", subprotocol);
  if (extra_headers)
    wt_buf_puts(&req, extra_headers);
  wt_buf_puts(&req, "\r\n");
  if (!wt_buf_ok(&req)) {
    snprintf(err, sizeof(err), "request head over %zu bytes", HEAD_MAX);
    goto err;
  }

  ws->fd = http_exchange(host, port, tls, &ws->ssl, &req, deadline, &resp,
                         &head_len, &status, err, sizeof(err));
  if (ws->fd < 0)
    goto err;
  if (status != 101) {
    snprintf(err, sizeof(err), "upgrade refused: %.*s",
             (int)strcspn(resp.data, "\r\n"), resp.data);
    goto err;
  }
  if (!wt_http_header(resp.data, "Upgrade", value, sizeof(value)) ||
      strcasecmp(value, "websocket") != 0 ||
      !wt_http_header(resp.data, "Connection", value, sizeof(value)) ||
      !strcasestr(value, "upgrade")) {
    snprintf(err, sizeof(err), "101 without Upgrade/Connection headers");
    goto err;
  }
  if (!wt_http_header(resp.data, "Sec-WebSocket-Accept", value,
                      sizeof(value)) ||
      strcmp(value, want) != 0) {
    snprintf(err, sizeof(err), "bad Sec-WebSocket-Accept (want %s)", want);
    goto err;
  }
  if (wt_http_header(resp.data, "Sec-WebSocket-Protocol", ws->subprotocol,
                     sizeof(ws->subprotocol)) &&
      (!subprotocol || strcmp(ws->subprotocol, subprotocol) != 0)) {
    snprintf(err, sizeof(err), "server chose subprotocol \"%s\", not offered",
             ws->subprotocol);
    goto err;
  }
  /* Frames may follow the head in the same read. */
  wt_buf_append(&ws->in, resp.data + head_len, resp.len - head_len);
  ok = true;

err:
  if (http_status_out)
    *http_status_out = status;
  if (!ok && errstr && errstr_size)
    snprintf(errstr, errstr_size, "%s", err);
  wt_buf_free(&req);
  wt_buf_free(&resp);
  if (!ok && ws) {
    ws->close_sent = true; /* nothing to say to that server */
    wt_ws_close(ws);
    ws = NULL;
  }
  return ws;
}

wt_ws *wt_ws_connect(const char *host, int port, const char *path,
                     const char *subprotocol, const char *extra_headers,
                     int timeout_ms, int *http_status_out, char *errstr,
                     size_t errstr_size) {
  return ws_connect(host, port, NULL, path, subprotocol, extra_headers,
                    timeout_ms, http_status_out, errstr, errstr_size);
}

wt_ws *wt_wss_connect(const char *host, int port, const char *ca_file,
                      const char *path, const char *subprotocol,
                      const char *extra_headers, int timeout_ms,
                      int *http_status_out, char *errstr, size_t errstr_size) {
  tls_opts tls = {.ca_file = ca_file};
  return ws_connect(host, port, &tls, path, subprotocol, extra_headers,
                    timeout_ms, http_status_out, errstr, errstr_size);
}

void wt_ws_close(wt_ws *ws) {
  if (!ws)
    return;
  if (ws->fd >= 0) {
    if (!ws->close_sent && !ws->finished) {
      ws->io_timeout_ms = 100;
      wt_ws_send_close(ws, 1000);
    }
    tls_end(ws->ssl);
    close(ws->fd);
  }
  wt_buf_free(&ws->in);
  wt_buf_free(&ws->frag);
  wt_buf_free(&ws->dump_out);
  for (size_t i = 0; i < ws->backlog_len; i++)
    free(ws->backlog[i]);
  free(ws);
}

int wt_ws_send_raw(wt_ws *ws, const void *data, size_t len) {
  return send_all(ws->fd, ws->ssl, data, len, deadline_of(ws->io_timeout_ms),
                  ws->error, sizeof(ws->error));
}

/* One frame, masked (as a client must) or not. */
static int send_frame(wt_ws *ws, int opcode, bool fin, bool masked,
                      const void *data, size_t len) {
  /* 7-bit length, or 126 and 16 bits, or 127 and 64 bits; then the mask. */
  size_t ext = len < 126       ? 0
               : len <= 0xffff ? 2
                               : 8,
         h = 2 + ext + (masked ? 4 : 0);
  uint8_t *frame = malloc(h + len), mask[4] = {0};
  int rc;
  if (!frame || (masked && RAND_bytes(mask, 4) != 1)) {
    free(frame);
    snprintf(ws->error, sizeof(ws->error), "out of memory or no random");
    return -1;
  }
  frame[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
  frame[1] = (uint8_t)((masked ? 0x80 : 0) | (ext == 0   ? len
                                              : ext == 2 ? 126
                                                         : 127));
  for (size_t i = 0; i < ext; i++)
    frame[2 + i] = (uint8_t)((uint64_t)len >> (8 * (ext - 1 - i)));
  if (masked)
    memcpy(frame + h - 4, mask, 4);
  for (size_t i = 0; i < len; i++)
    frame[h + i] = ((const uint8_t *)data)[i] ^ mask[i & 3];
  rc = wt_ws_send_raw(ws, frame, h + len);
  free(frame);
  if (rc == 0 && opcode == WT_WS_CLOSE)
    ws->close_sent = true;
  if (masked && opcode <= WT_WS_BINARY)
    dump_sent(ws, opcode, fin, data, len, rc == 0);
  return rc;
}

int wt_ws_send_frame(wt_ws *ws, int opcode, bool fin, const void *data,
                     size_t len) {
  return send_frame(ws, opcode, fin, true, data, len);
}

int wt_ws_send_frame_unmasked(wt_ws *ws, int opcode, bool fin, const void *data,
                              size_t len) {
  return send_frame(ws, opcode, fin, false, data, len);
}

bool wt_ws_close_code_allowed(int code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

int wt_ws_send_text(wt_ws *ws, const char *data, size_t len) {
  return wt_ws_send_frame(ws, WT_WS_TEXT, true, data, len);
}

int wt_ws_send_close(wt_ws *ws, int code) {
  uint8_t payload[2] = {(uint8_t)(code >> 8), (uint8_t)code};
  return wt_ws_send_frame(ws, WT_WS_CLOSE, true, payload, code > 0 ? 2 : 0);
}

/* 1 with a whole frame in *f, 0 when more bytes are needed, WT_WS_ERROR
 * when the server broke the protocol. */
static int parse_frame(wt_ws *ws, struct frame *f) {
  const uint8_t *p = (const uint8_t *)ws->in.data + ws->in_pos;
  size_t avail = ws->in.len - ws->in_pos, h = 2;
  uint64_t len;
  if (avail < 2)
    return 0;
  f->fin = (p[0] & 0x80) != 0;
  f->opcode = p[0] & 0x0f;
  len = p[1] & 0x7f;
  if (p[0] & 0x70)
    return fail(ws, "frame with RSV bits 0x%x", p[0] & 0x70);
  if (p[1] & 0x80)
    return fail(ws, "masked frame from the server");
  if ((f->opcode > WT_WS_BINARY && f->opcode < WT_WS_CLOSE) ||
      f->opcode > WT_WS_PONG)
    return fail(ws, "bad opcode 0x%x", f->opcode);
  if (f->opcode >= WT_WS_CLOSE && (!f->fin || len > 125))
    return fail(ws, "control frame 0x%x fragmented or over 125 bytes",
                f->opcode);
  if (len >= 126) {
    size_t n = len == 126 ? 2 : 8;
    if (avail < 2 + n)
      return 0;
    len = 0;
    for (size_t i = 0; i < n; i++)
      len = len << 8 | p[2 + i];
    h += n;
  }
  if (len > WT_WS_MAX_MESSAGE)
    return fail(ws, "frame of %llu bytes over the %zu-byte cap",
                (unsigned long long)len, WT_WS_MAX_MESSAGE);
  if (avail - h < len)
    return 0;
  f->payload = p + h;
  f->len = (size_t)len;
  f->size = h + (size_t)len;
  return 1;
}

/* A malloc'd, NUL-terminated copy, or NULL. */
static char *copy_bytes(const void *data, size_t len) {
  char *s = malloc(len + 1);
  if (s) {
    if (len)
      memcpy(s, data, len);
    s[len] = '\0';
  }
  return s;
}

/* Handles one frame. WT_WS_TEXT/BINARY/CLOSE with *out filled, 0 to go on
 * reading, WT_WS_ERROR. */
static int handle_frame(wt_ws *ws, const struct frame *f, wt_ws_msg *out) {
  int opcode;
  switch (f->opcode) {
  case WT_WS_PING:
    if (!ws->close_sent &&
        wt_ws_send_frame(ws, WT_WS_PONG, true, f->payload, f->len) != 0)
      return fail(ws, "pong: %s", ws->error);
    return 0;
  case WT_WS_PONG: return 0;
  case WT_WS_CLOSE:
    if (f->len == 1)
      return fail(ws, "close frame with a 1-byte payload");
    out->close_code = f->len ? f->payload[0] << 8 | f->payload[1] : 1005;
    if (f->len && !wt_ws_close_code_allowed(out->close_code))
      return fail(ws, "close code %d is not allowed on the wire",
                  out->close_code);
    if (f->len > 2 &&
        wt_utf8_chars((const char *)f->payload + 2, f->len - 2) < 0)
      return fail(ws, "close reason that is not UTF-8");
    out->len = f->len ? f->len - 2 : 0;
    out->data = copy_bytes(f->len ? f->payload + 2 : f->payload, out->len);
    if (!out->data)
      return fail(ws, "out of memory");
    out->opcode = WT_WS_CLOSE;
    ws->close_code = out->close_code;
    ws->finished = true;
    if (!ws->close_sent)
      wt_ws_send_close(ws, out->close_code == 1005 ? 0 : out->close_code);
    return WT_WS_CLOSE;
  case WT_WS_TEXT:
  case WT_WS_BINARY:
    if (ws->frag_opcode)
      return fail(ws, "data frame inside a fragmented message");
    if (f->fin) {
      if (f->opcode == WT_WS_TEXT &&
          wt_utf8_chars((const char *)f->payload, f->len) < 0)
        return fail(ws, "text message that is not UTF-8");
      out->data = copy_bytes(f->payload, f->len);
      if (!out->data)
        return fail(ws, "out of memory");
      out->len = f->len;
      out->opcode = f->opcode;
      return f->opcode;
    }
    opcode = ws->frag_opcode = f->opcode;
    wt_buf_reset(&ws->frag);
    break;
  default: /* continuation: parse_frame let no other opcode through */
    if (!ws->frag_opcode)
      return fail(ws, "continuation frame without a message");
    opcode = ws->frag_opcode;
    break;
  }
  wt_buf_append(&ws->frag, f->payload, f->len);
  if (!wt_buf_ok(&ws->frag))
    return fail(ws, "fragmented message over the cap");
  if (!f->fin)
    return 0;
  if (opcode == WT_WS_TEXT && wt_utf8_chars(ws->frag.data, ws->frag.len) < 0)
    return fail(ws, "text message that is not UTF-8");
  out->data = copy_bytes(ws->frag.data ? ws->frag.data : "", ws->frag.len);
  if (!out->data)
    return fail(ws, "out of memory");
  out->len = ws->frag.len;
  out->opcode = opcode;
  ws->frag_opcode = 0;
  wt_buf_free(&ws->frag); /* do not keep up to the cap around */
  wt_buf_init(&ws->frag, WT_WS_MAX_MESSAGE);
  return opcode;
}

int wt_ws_recv(wt_ws *ws, int timeout_ms, wt_ws_msg *out) {
  int64_t deadline = deadline_of(timeout_ms);
  memset(out, 0, sizeof(*out));
  if (ws->finished) {
    snprintf(ws->error, sizeof(ws->error), "connection already closed (%d)",
             ws->close_code);
    return WT_WS_ERROR;
  }
  for (;;) {
    struct frame f = {0};
    int rc = parse_frame(ws, &f);
    ssize_t n;
    if (rc < 0)
      return WT_WS_ERROR;
    if (rc > 0) {
      ws->in_pos += f.size;
      rc = handle_frame(ws, &f, out);
      if (rc > 0)
        dump_received(ws, out);
      if (rc != 0)
        return rc;
      continue;
    }
    /* Move the unparsed tail to the front before reading more. */
    if (ws->in_pos > 0) {
      memmove(ws->in.data, ws->in.data + ws->in_pos, ws->in.len - ws->in_pos);
      ws->in.len -= ws->in_pos;
      ws->in.data[ws->in.len] = '\0';
      ws->in_pos = 0;
    }
    n = recv_some(ws->fd, ws->ssl, &ws->in, deadline);
    if (n == -2) {
      snprintf(ws->error, sizeof(ws->error), "timed out");
      return WT_WS_TIMEOUT;
    }
    if (n == 0)
      return fail(ws, "connection closed without a close frame");
    if (n < 0)
      return fail(ws, "receive failed");
  }
}

void wt_ws_msg_free(wt_ws_msg *msg) {
  free(msg->data);
  memset(msg, 0, sizeof(*msg));
}

/* Whether json is an object whose "type" is the string type. */
static bool json_type_is(const char *json, const char *type) {
  struct json_object *obj = json_tokener_parse(json), *t = NULL;
  bool match = obj && json_object_is_type(obj, json_type_object) &&
               json_object_object_get_ex(obj, "type", &t) &&
               json_object_is_type(t, json_type_string) &&
               strcmp(json_object_get_string(t), type) == 0;
  json_object_put(obj);
  return match;
}

int wt_ws_recv_json_type(wt_ws *ws, const char *type, int timeout_ms,
                         char **json_out) {
  int64_t deadline = deadline_of(timeout_ms);
  char *found = NULL;
  if (json_out)
    *json_out = NULL;
  for (size_t i = 0; i < ws->backlog_len && !found; i++) {
    if (!json_type_is(ws->backlog[i], type))
      continue;
    found = ws->backlog[i];
    memmove(&ws->backlog[i], &ws->backlog[i + 1],
            (ws->backlog_len - i - 1) * sizeof(ws->backlog[0]));
    ws->backlog_len--;
  }
  while (!found) {
    wt_ws_msg msg;
    int rc = wt_ws_recv(ws, remaining_ms(deadline), &msg);
    if (rc == WT_WS_TEXT && json_type_is(msg.data, type)) {
      found = msg.data;
      msg.data = NULL;
    } else if (rc == WT_WS_TEXT) {
      if (ws->backlog_len == WT_WS_BACKLOG_MAX) {
        free(ws->backlog[0]);
        memmove(&ws->backlog[0], &ws->backlog[1],
                (WT_WS_BACKLOG_MAX - 1) * sizeof(ws->backlog[0]));
        ws->backlog_len--;
      }
      ws->backlog[ws->backlog_len++] = msg.data;
      msg.data = NULL;
    }
    wt_ws_msg_free(&msg);
    if (rc != WT_WS_TEXT && rc != WT_WS_BINARY)
      return -1;
  }
  if (json_out)
    *json_out = found;
  else
    free(found);
  return 0;
}

size_t wt_ws_backlog_count(const wt_ws *ws) {
  return ws->backlog_len;
}

int wt_ws_close_code(const wt_ws *ws) {
  return ws->close_code;
}

int wt_ws_fd(const wt_ws *ws) {
  return ws->fd;
}

const char *wt_ws_subprotocol(const wt_ws *ws) {
  return ws->subprotocol;
}

const char *wt_ws_error(const wt_ws *ws) {
  return ws->error;
}

/* --- HTTP ---------------------------------------------------------------- */

/* Walks a chunked body (in a NUL-terminated buffer): 1 complete (decoded
 * into out when not NULL), 0 more bytes needed, -1 malformed. */
static int chunked_decode(const char *p, size_t len, wt_buf *out) {
  size_t pos = 0;
  for (;;) {
    const char *eol = memmem(p + pos, len - pos, "\r\n", 2);
    char *end;
    unsigned long long size;
    if (!eol)
      return 0;
    size = strtoull(p + pos, &end, 16);
    if (end == p + pos || (end != eol && *end != ';') ||
        size > WT_WS_MAX_MESSAGE)
      return -1;
    pos = (size_t)(eol - p) + 2;
    if (size == 0) /* trailers until a blank line */
      return (len - pos >= 2 && memcmp(p + pos, "\r\n", 2) == 0) ||
             memmem(p + pos, len - pos, "\r\n\r\n", 4);
    if (len - pos < size + 2)
      return 0;
    if (memcmp(p + pos + size, "\r\n", 2) != 0)
      return -1;
    if (out)
      wt_buf_append(out, p + pos, (size_t)size);
    pos += (size_t)size + 2;
  }
}

static int http_request(const char *host, int port, const tls_opts *tls,
                        const char *method, const char *path,
                        const char *content_type, const char *body,
                        int timeout_ms, int *status_out, char **headers_out,
                        char **body_out) {
  int64_t deadline = deadline_of(timeout_ms);
  SSL *ssl = NULL;
  wt_buf req, resp, decoded;
  char err[256] = "", value[64], *body_copy = NULL, *head_copy = NULL;
  size_t head_len = 0, want = SIZE_MAX;
  int fd = -1, status = 0, ret = -1;
  bool chunked = false, no_body, invalid = http_dump_invalid_next;
  const char *route = dump_route(path);

  http_dump_invalid_next = false;
  if (status_out)
    *status_out = 0;
  if (headers_out)
    *headers_out = NULL;
  if (body_out)
    *body_out = NULL;
  wt_buf_init(&req, WT_WS_MAX_MESSAGE + HEAD_MAX);
  wt_buf_init(&resp, WT_WS_MAX_MESSAGE + HEAD_MAX + READ_CHUNK);
  wt_buf_init(&decoded, WT_WS_MAX_MESSAGE);

  wt_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n",
                method, path, host, port);
  if (content_type)
    wt_buf_printf(&req, "Content-Type: %s\r\n", content_type);
  if (body || (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0))
    wt_buf_printf(&req, "Content-Length: %zu\r\n", body ? strlen(body) : 0);
  wt_buf_puts(&req, "\r\n");
  if (body)
    wt_buf_puts(&req, body);
  if (!wt_buf_ok(&req)) {
    snprintf(err, sizeof(err), "request over the cap");
    goto out;
  }
  if (body && invalid) {
    dump("http-request-invalid", body, strlen(body), true);
  } else if (body && route && strcmp(route, "readyz") != 0) {
    char kind[64];
    snprintf(kind, sizeof(kind), "http-%s-request", route);
    dump(kind, body, strlen(body), false);
  }
  fd = http_exchange(host, port, tls, &ssl, &req, deadline, &resp, &head_len,
                     &status, err, sizeof(err));
  if (fd < 0)
    goto out;
  /* Read the body as the head says it is framed. */
  no_body = strcmp(method, "HEAD") == 0 || status / 100 == 1 || status == 204 ||
            status == 304;
  chunked =
      !no_body &&
      wt_http_header(resp.data, "Transfer-Encoding", value, sizeof(value)) &&
      strcasestr(value, "chunked");
  if (no_body) {
    want = 0;
  } else if (!chunked && wt_http_header(resp.data, "Content-Length", value,
                                        sizeof(value))) {
    char *end;
    unsigned long long n = strtoull(value, &end, 10);
    if (end == value || *end != '\0' || n > WT_WS_MAX_MESSAGE) {
      snprintf(err, sizeof(err), "bad Content-Length: %s", value);
      goto out;
    }
    want = (size_t)n;
  }
  for (;;) {
    size_t have = resp.len - head_len;
    int rc = chunked ? chunked_decode(resp.data + head_len, have, NULL) : 0;
    ssize_t n;
    if (rc < 0) {
      snprintf(err, sizeof(err), "malformed chunked body");
      goto out;
    }
    if (rc > 0)
      break;
    if (!chunked && have >= want) {
      resp.len = head_len + want;
      break;
    }
    n = recv_some(fd, ssl, &resp, deadline);
    if (n == 0 && want == SIZE_MAX && !chunked)
      break; /* delimited by EOF */
    if (n <= 0) {
      snprintf(err, sizeof(err), "reading the body: %s",
               n == 0    ? "connection closed early"
               : n == -2 ? "timed out"
                         : "failed or over the cap");
      goto out;
    }
  }
  if (chunked)
    chunked_decode(resp.data + head_len, resp.len - head_len, &decoded);
  else
    wt_buf_append(&decoded, resp.data + head_len, resp.len - head_len);
  if (!wt_buf_ok(&decoded)) {
    snprintf(err, sizeof(err), "body over the cap");
    goto out;
  }
  body_copy = copy_bytes(decoded.data ? decoded.data : "", decoded.len);
  head_copy = copy_bytes(resp.data, head_len - 2);
  if (!body_copy || !head_copy)
    goto out;
  if (dump_path() &&
      (route ||
       (wt_http_header(head_copy, "Content-Type", value, sizeof(value)) &&
        strncasecmp(value, "application/json", 16) == 0))) {
    char kind[64];
    snprintf(kind, sizeof(kind), "http-%s-response-%d", route ? route : "other",
             status);
    dump(kind, body_copy, decoded.len, false);
  }
  if (status_out)
    *status_out = status;
  if (body_out) {
    *body_out = body_copy;
    body_copy = NULL;
  }
  if (headers_out) {
    *headers_out = head_copy;
    head_copy = NULL;
  }
  ret = 0;

out:
  free(body_copy);
  free(head_copy);
  if (ret != 0)
    fprintf(stderr, "wt_http%s_request %s %s:%d%s: %s\n", tls ? "s" : "",
            method, host, port, path, err[0] ? err : "out of memory");
  tls_end(ssl);
  if (fd >= 0)
    close(fd);
  wt_buf_free(&req);
  wt_buf_free(&resp);
  wt_buf_free(&decoded);
  return ret;
}

int wt_http_request(const char *host, int port, const char *method,
                    const char *path, const char *content_type,
                    const char *body, int timeout_ms, int *status_out,
                    char **headers_out, char **body_out) {
  return http_request(host, port, NULL, method, path, content_type, body,
                      timeout_ms, status_out, headers_out, body_out);
}

int wt_https_request(const char *host, int port, const char *ca_file,
                     const char *method, const char *path,
                     const char *content_type, const char *body, int timeout_ms,
                     int *status_out, char **headers_out, char **body_out) {
  tls_opts tls = {.ca_file = ca_file};
  return http_request(host, port, &tls, method, path, content_type, body,
                      timeout_ms, status_out, headers_out, body_out);
}
