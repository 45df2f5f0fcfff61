/* Tests of the test-support WebSocket/HTTP client (tests/support/
 * wt_wsclient) against a tiny server written here with raw sockets: one
 * thread accepts on 127.0.0.1, one thread per connection answers HTTP or
 * upgrades and echoes WebSocket messages. Text messages starting with '!'
 * are commands that make the server do what a test needs (fragments, pings,
 * closes, protocol violations). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "wt_buf.h"
#include "wt_test.h"
#include "wt_wsclient.h"

#define SRV_MAX_MESSAGE ((size_t)4 * 1024 * 1024)
#define SRV_CONN_MAX 64
#define TIMEOUT_MS 5000

/* --- the server ---------------------------------------------------------- */

static struct {
  int listen_fd;
  int port;
  atomic_bool stop;
  pthread_t acceptor;
  pthread_mutex_t lock;
  pthread_t conns[SRV_CONN_MAX];
  size_t nconns;
  atomic_int client_close_code; /* the last close code a client sent */
} srv;

/* Reads exactly len bytes; false on EOF, error or server stop. */
static bool srv_read(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    ssize_t n;
    int rc;
    if (atomic_load(&srv.stop))
      return false;
    rc = poll(&pfd, 1, 50);
    if (rc < 0 && errno != EINTR)
      return false;
    if (rc <= 0)
      continue;
    n = recv(fd, p, len, 0);
    if (n <= 0)
      return false;
    p += n;
    len -= (size_t)n;
  }
  return true;
}

static bool srv_write(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    p += n;
    len -= (size_t)n;
  }
  return true;
}

static bool srv_write_str(int fd, const char *s) {
  return srv_write(fd, s, strlen(s));
}

/* An unmasked frame's header into h; returns its length. */
static size_t srv_frame_head(uint8_t h[10], int opcode, bool fin,
                             uint64_t len) {
  size_t n = 0;
  h[n++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
  if (len < 126) {
    h[n++] = (uint8_t)len;
  } else if (len <= 0xffff) {
    h[n++] = 126;
    h[n++] = (uint8_t)(len >> 8);
    h[n++] = (uint8_t)len;
  } else {
    h[n++] = 127;
    for (int shift = 56; shift >= 0; shift -= 8)
      h[n++] = (uint8_t)(len >> shift);
  }
  return n;
}

static bool srv_send_frame(int fd, int opcode, bool fin, const void *data,
                           size_t len) {
  uint8_t h[10];
  size_t n = srv_frame_head(h, opcode, fin, len);
  return srv_write(fd, h, n) && srv_write(fd, data, len);
}

static bool srv_send_text(int fd, const char *s) {
  return srv_send_frame(fd, WT_WS_TEXT, true, s, strlen(s));
}

static bool srv_send_close(int fd, int code, const char *reason) {
  char payload[125] = {(char)(code >> 8), (char)code};
  size_t n = strlen(reason) < 123 ? strlen(reason) : 123;
  for (size_t i = 0; i < n; i++) /* not a string: no NUL */
    payload[2 + i] = reason[i];
  return srv_send_frame(fd, WT_WS_CLOSE, true, payload, n + 2);
}

/* Sec-WebSocket-Accept for key (RFC 6455 section 4.2.2). */
static void srv_accept_key(const char *key, char out[32]) {
  char in[128];
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  snprintf(in, sizeof(in), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
  EVP_Digest(in, strlen(in), digest, &len, EVP_sha1(), NULL);
  EVP_EncodeBlock((unsigned char *)out, digest, (int)len);
}

static bool srv_header(const char *head, const char *name, char *out,
                       size_t size) {
  char pattern[64];
  const char *p;
  size_t n;
  snprintf(pattern, sizeof(pattern), "\r\n%s:", name);
  p = strcasestr(head, pattern);
  if (!p)
    return false;
  p += strlen(pattern);
  while (*p == ' ')
    p++;
  n = strcspn(p, "\r\n");
  n = n < size - 1 ? n : size - 1;
  memcpy(out, p, n);
  out[n] = '\0';
  return true;
}

/* A message from the client: a '!' command or something to echo. */
static bool srv_message(int fd, int opcode, const char *data, size_t len,
                        bool *close_sent) {
  if (opcode != WT_WS_TEXT || data[0] != '!')
    return srv_send_frame(fd, opcode, true, data, len);
  if (strncmp(data, "!frag ", 6) == 0) {
    /* Three fragments with a ping between them. */
    const char *t = data + 6;
    size_t n = strlen(t), a = n / 3, b = 2 * n / 3;
    return srv_send_frame(fd, WT_WS_TEXT, false, t, a) &&
           srv_send_frame(fd, WT_WS_PING, true, "frag-ping", 9) &&
           srv_send_frame(fd, WT_WS_CONTINUATION, false, t + a, b - a) &&
           srv_send_frame(fd, WT_WS_CONTINUATION, true, t + b, n - b);
  }
  if (strncmp(data, "!ping ", 6) == 0)
    return srv_send_frame(fd, WT_WS_PING, true, data + 6, len - 6);
  if (strncmp(data, "!close ", 7) == 0) {
    char *reason;
    long code = strtol(data + 7, &reason, 10);
    *close_sent = true;
    return srv_send_close(fd, (int)code, *reason ? reason + 1 : "");
  }
  if (strcmp(data, "!json") == 0)
    return srv_send_text(fd, "{\"type\":\"a\",\"n\":1}") &&
           srv_send_text(fd, "{\"type\":\"b\",\"n\":2}") &&
           srv_send_frame(fd, WT_WS_BINARY, true, "{\"type\":\"c\"}", 12) &&
           srv_send_text(fd, "not json") &&
           srv_send_text(fd, "[\"type\",\"c\"]") &&
           srv_send_text(fd, "{\"type\":\"c\",\"n\":3}") &&
           srv_send_text(fd, "{\"type\":\"a\",\"n\":4}");
  if (strncmp(data, "!many ", 6) == 0) {
    int count = atoi(data + 6);
    for (int i = 0; i < count; i++) {
      char msg[64];
      snprintf(msg, sizeof(msg), "{\"type\":\"x\",\"n\":%d}", i);
      if (!srv_send_text(fd, msg))
        return false;
    }
    return srv_send_text(fd, "{\"type\":\"end\"}");
  }
  if (strncmp(data, "!slow ", 6) == 0) {
    /* Half a frame, a pause, the rest. */
    uint8_t h[10];
    size_t n = len - 6, hl = srv_frame_head(h, WT_WS_TEXT, true, n);
    struct timespec pause = {.tv_nsec = 300L * 1000 * 1000};
    if (!srv_write(fd, h, hl) || !srv_write(fd, data + 6, n / 2))
      return false;
    nanosleep(&pause, NULL);
    return srv_write(fd, data + 6 + n / 2, n - n / 2);
  }
  if (strcmp(data, "!huge") == 0) { /* a 17 MiB header, no payload */
    uint8_t h[10];
    return srv_write(fd, h, srv_frame_head(h, WT_WS_TEXT, true, 17u << 20));
  }
  if (strcmp(data, "!masked") == 0)
    return srv_write(fd, "\x81\x82\x01\x02\x03\x04\x69\x6b", 8);
  if (strcmp(data, "!badop") == 0)
    return srv_send_frame(fd, 0x3, true, "", 0);
  if (strcmp(data, "!badutf8") == 0) /* a surrogate, UTF-8 encoded */
    return srv_send_text(fd, "{\"id\":\"\xed\xa0\x80\"}");
  if (strcmp(data, "!badutf8frag") == 0) /* an overlong '/', in two */
    return srv_send_frame(fd, WT_WS_TEXT, false, "ab\xc0", 3) &&
           srv_send_frame(fd, WT_WS_CONTINUATION, true, "\xaf", 1);
  if (strcmp(data, "!badcode") == 0) {
    *close_sent = true;
    return srv_send_close(fd, 5000, "");
  }
  if (strcmp(data, "!badreason") == 0) {
    *close_sent = true;
    return srv_send_close(fd, 1000, "\xff");
  }
  if (strcmp(data, "!close1") == 0) {
    *close_sent = true;
    return srv_send_frame(fd, WT_WS_CLOSE, true, "\x03", 1);
  }
  if (strcmp(data, "!drop") == 0) {
    shutdown(fd, SHUT_RDWR);
    return false;
  }
  return srv_send_text(fd, "unknown command");
}

/* Echoes until the client closes; answers pings, reports pongs as text. */
static void srv_websocket(int fd) {
  wt_buf msg;
  int msg_opcode = 0;
  bool close_sent = false;
  wt_buf_init(&msg, SRV_MAX_MESSAGE);
  for (;;) {
    uint8_t h[2], ext[8], mask[4];
    uint64_t len;
    char *payload;
    int opcode;
    bool fin, ok = true;
    if (!srv_read(fd, h, 2))
      break;
    opcode = h[0] & 0x0f;
    fin = (h[0] & 0x80) != 0;
    len = h[1] & 0x7f;
    if (len >= 126) {
      size_t n = len == 126 ? 2 : 8;
      if (!srv_read(fd, ext, n))
        break;
      len = 0;
      for (size_t i = 0; i < n; i++)
        len = len << 8 | ext[i];
    }
    if (!(h[1] & 0x80)) {
      srv_send_close(fd, 1002, "unmasked frame");
      break;
    }
    if (len > SRV_MAX_MESSAGE) {
      srv_send_close(fd, 1009, "too big");
      break;
    }
    payload = malloc(len + 1);
    if (!payload || !srv_read(fd, mask, 4) || !srv_read(fd, payload, len)) {
      free(payload);
      break;
    }
    for (size_t i = 0; i < len; i++)
      payload[i] = (char)(payload[i] ^ mask[i & 3]);
    payload[len] = '\0';
    switch (opcode) {
    case WT_WS_CLOSE:
      atomic_store(&srv.client_close_code,
                   len >= 2 ? (uint8_t)payload[0] << 8 | (uint8_t)payload[1]
                            : 1005);
      if (!close_sent)
        srv_send_frame(fd, WT_WS_CLOSE, true, payload, len);
      ok = false;
      break;
    case WT_WS_PING:
      ok = srv_send_frame(fd, WT_WS_PONG, true, payload, len);
      break;
    case WT_WS_PONG: {
      char text[160];
      snprintf(text, sizeof(text), "pong %s", payload);
      ok = srv_send_text(fd, text);
      break;
    }
    case WT_WS_TEXT:
    case WT_WS_BINARY:
    case WT_WS_CONTINUATION:
      if ((opcode == WT_WS_CONTINUATION) != (msg_opcode != 0)) {
        srv_send_close(fd, 1002, "bad fragmentation");
        ok = false;
        break;
      }
      if (opcode != WT_WS_CONTINUATION) {
        msg_opcode = opcode;
        wt_buf_reset(&msg);
      }
      wt_buf_append(&msg, payload, len);
      if (fin) {
        ok = wt_buf_ok(&msg) &&
             srv_message(fd, msg_opcode, msg.data ? msg.data : "", msg.len,
                         &close_sent);
        msg_opcode = 0;
      }
      break;
    default: srv_send_close(fd, 1002, "bad opcode"); ok = false;
    }
    free(payload);
    if (!ok)
      break;
  }
  wt_buf_free(&msg);
}

static void srv_http(int fd, const char *method, const char *path,
                     const char *head) {
  char ct[128] = "", cl[32] = "", resp[512];
  if (strcmp(method, "GET") == 0 && strcmp(path, "/hello") == 0) {
    srv_write_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                      "Content-Length: 5\r\n\r\nhelloEXTRA");
  } else if (strcmp(method, "POST") == 0 && strcmp(path, "/echo") == 0) {
    size_t n;
    char *body;
    srv_header(head, "Content-Type", ct, sizeof(ct));
    srv_header(head, "Content-Length", cl, sizeof(cl));
    n = (size_t)strtoul(cl, NULL, 10);
    body = malloc(n + 1);
    if (body && srv_read(fd, body, n)) {
      snprintf(resp, sizeof(resp),
               "HTTP/1.1 201 Created\r\nContent-Type: %s\r\n"
               "X-Connection: %s\r\nContent-Length: %zu\r\n\r\n",
               ct, strcasestr(head, "\r\nConnection: close\r\n") ? "close" : "",
               n);
      if (srv_write_str(fd, resp))
        srv_write(fd, body, n);
    }
    free(body);
  } else if (strcmp(path, "/eof") == 0) {
    srv_write_str(fd, "HTTP/1.1 200 OK\r\n\r\nuntil ");
    srv_write_str(fd, "the end");
  } else if (strcmp(path, "/chunked") == 0) {
    srv_write_str(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n1;ext=1\r\n \r\nB\r\nchunked wor\r\n"
                      "2\r\nld\r\n0\r\n\r\n");
  } else if (strcmp(path, "/big") == 0) {
    size_t n = 1u << 20;
    char *body = malloc(n);
    if (body) {
      for (size_t i = 0; i < n; i++)
        body[i] = (char)('a' + i % 26);
      snprintf(resp, sizeof(resp),
               "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", n);
      if (srv_write_str(fd, resp))
        srv_write(fd, body, n);
    }
    free(body);
  } else {
    srv_write_str(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n"
                      "not found");
  }
}

static void *srv_conn(void *arg) {
  int fd = *(int *)arg;
  char head[8192], method[16], path[256], key[128], proto[128], value[128];
  char accept[32], resp[512];
  size_t n = 0;
  const char *extra = "";
  free(arg);
  while (n < sizeof(head) - 1) {
    if (!srv_read(fd, head + n, 1))
      goto out;
    head[++n] = '\0';
    if (n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0)
      break;
  }
  if (sscanf(head, "%15s %255s", method, path) != 2)
    goto out;
  if (!srv_header(head, "Upgrade", value, sizeof(value))) {
    srv_http(fd, method, path, head);
    goto out;
  }
  if (strcmp(path, "/refuse") == 0) {
    srv_write_str(fd, "HTTP/1.1 503 Service Unavailable\r\n"
                      "Content-Length: 11\r\n\r\nunavailable");
    goto out;
  }
  if (strcmp(path, "/auth") == 0 &&
      !(srv_header(head, "Authorization", value, sizeof(value)) &&
        strcmp(value, "Bearer good") == 0)) {
    srv_write_str(fd, "HTTP/1.1 401 Unauthorized\r\n"
                      "Content-Length: 0\r\n\r\n");
    goto out;
  }
  if (!srv_header(head, "Sec-WebSocket-Key", key, sizeof(key)))
    goto out;
  srv_accept_key(strcmp(path, "/badaccept") == 0 ? "nonsense" : key, accept);
  if (strcmp(path, "/wrongproto") == 0)
    extra = "Sec-WebSocket-Protocol: other.v9\r\n";
  else if (srv_header(head, "Sec-WebSocket-Protocol", proto, sizeof(proto)) &&
           strstr(proto, "worktracker.v1"))
    extra = "Sec-WebSocket-Protocol: worktracker.v1\r\n";
  snprintf(resp, sizeof(resp),
           "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\n"
           "Connection: keep-alive, Upgrade\r\nsec-websocket-accept: %s\r\n"
           "%s\r\n",
           accept, extra);
  if (strcmp(path, "/early") == 0) /* a frame in the same packet */
    snprintf(resp + strlen(resp), sizeof(resp) - strlen(resp),
             "\x81\x0bhello early");
  if (srv_write_str(fd, resp))
    srv_websocket(fd);
out:
  close(fd);
  return NULL;
}

static void *srv_accept_loop(void *arg) {
  (void)arg;
  while (!atomic_load(&srv.stop)) {
    struct pollfd pfd = {.fd = srv.listen_fd, .events = POLLIN};
    struct timeval sndtimeo = {.tv_sec = 5};
    pthread_t thread;
    int fd, *fdp;
    if (poll(&pfd, 1, 50) <= 0)
      continue;
    fd = accept(srv.listen_fd, NULL, NULL);
    if (fd < 0)
      continue;
    /* A test that fails stops reading: do not block the server for ever. */
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sndtimeo, sizeof(sndtimeo));
    fdp = malloc(sizeof(*fdp)); /* srv_conn frees it */
    if (fdp)
      *fdp = fd;
    pthread_mutex_lock(&srv.lock);
    if (fdp && srv.nconns < SRV_CONN_MAX &&
        pthread_create(&thread, NULL, srv_conn, fdp) == 0) {
      srv.conns[srv.nconns++] = thread;
    } else {
      close(fd);
      free(fdp);
    }
    pthread_mutex_unlock(&srv.lock);
  }
  return NULL;
}

static int srv_start(void **state) {
  struct sockaddr_in addr = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(addr);
  (void)state;
  srv.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (srv.listen_fd < 0 ||
      bind(srv.listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
      listen(srv.listen_fd, 16) != 0 ||
      getsockname(srv.listen_fd, (struct sockaddr *)&addr, &len) != 0)
    return -1;
  srv.port = ntohs(addr.sin_port);
  atomic_store(&srv.stop, false);
  pthread_mutex_init(&srv.lock, NULL);
  return pthread_create(&srv.acceptor, NULL, srv_accept_loop, NULL) ? -1 : 0;
}

static int srv_stop(void **state) {
  (void)state;
  atomic_store(&srv.stop, true);
  pthread_join(srv.acceptor, NULL);
  for (size_t i = 0; i < srv.nconns; i++)
    pthread_join(srv.conns[i], NULL);
  pthread_mutex_destroy(&srv.lock);
  close(srv.listen_fd);
  return 0;
}

/* --- helpers ------------------------------------------------------------- */

static wt_ws *connect_ws(const char *path, const char *subprotocol) {
  char err[256] = "";
  int status = -1;
  wt_ws *ws = wt_ws_connect("127.0.0.1", srv.port, path, subprotocol, NULL,
                            TIMEOUT_MS, &status, err, sizeof(err));
  if (!ws)
    fail_msg("connect %s: %s", path, err);
  assert_int_equal(status, 101);
  return ws;
}

static void expect_text(wt_ws *ws, const char *text) {
  wt_ws_msg msg;
  int rc = wt_ws_recv(ws, TIMEOUT_MS, &msg);
  if (rc != WT_WS_TEXT)
    fail_msg("recv %d (%s), wanted \"%s\"", rc, wt_ws_error(ws), text);
  assert_string_equal(msg.data, text);
  assert_int_equal(msg.len, strlen(text));
  wt_ws_msg_free(&msg);
}

static void send_text(wt_ws *ws, const char *text) {
  assert_int_equal(wt_ws_send_text(ws, text, strlen(text)), 0);
}

static int64_t ms_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether a client sent a close with code within TIMEOUT_MS (connections
 * of earlier tests may still be closing: wait for this code). */
static bool wait_client_close(int code) {
  int64_t until = ms_now() + TIMEOUT_MS;
  while (atomic_load(&srv.client_close_code) != code && ms_now() < until)
    usleep(10 * 1000);
  return atomic_load(&srv.client_close_code) == code;
}

/* A port nothing listens on (just released). */

/* --- tests --------------------------------------------------------------- */

/* The server's own accept computation, against RFC 6455's example. */
static void test_accept_key_rfc_example(void **state) {
  char accept[32];
  (void)state;
  srv_accept_key("dGhlIHNhbXBsZSBub25jZQ==", accept);
  assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_handshake(void **state) {
  char err[256];
  int status = -1;
  wt_ws *ws;
  (void)state;

  ws = connect_ws("/ws", "worktracker.v1");
  assert_string_equal(wt_ws_subprotocol(ws), "worktracker.v1");
  assert_true(wt_ws_fd(ws) >= 0);
  assert_int_equal(wt_ws_close_code(ws), 0);
  assert_int_equal(wt_ws_backlog_count(ws), 0);
  wt_ws_close(ws);

  ws = connect_ws("/ws", NULL);
  assert_string_equal(wt_ws_subprotocol(ws), "");
  wt_ws_close(ws);

  /* extra_headers reach the server. */
  ws = wt_ws_connect("127.0.0.1", srv.port, "/auth", NULL,
                     "X-Other: 1\r\nAuthorization: Bearer good\r\n", TIMEOUT_MS,
                     &status, err, sizeof(err));
  assert_non_null(ws);
  assert_int_equal(status, 101);
  wt_ws_close(ws);
  assert_null(wt_ws_connect("127.0.0.1", srv.port, "/auth", NULL,
                            "Authorization: Bearer bad\r\n", TIMEOUT_MS,
                            &status, err, sizeof(err)));
  assert_int_equal(status, 401);

  assert_null(wt_ws_connect("127.0.0.1", srv.port, "/badaccept", NULL, NULL,
                            TIMEOUT_MS, &status, err, sizeof(err)));
  assert_int_equal(status, 101);
  assert_non_null(strstr(err, "Sec-WebSocket-Accept"));

  assert_null(wt_ws_connect("127.0.0.1", srv.port, "/wrongproto",
                            "worktracker.v1", NULL, TIMEOUT_MS, &status, err,
                            sizeof(err)));
  assert_non_null(strstr(err, "other.v9"));

  assert_null(wt_ws_connect("127.0.0.1", wt_test_free_port(), "/ws", NULL, NULL,
                            TIMEOUT_MS, &status, err, sizeof(err)));
  assert_int_equal(status, 0);
  assert_non_null(strstr(err, "connect"));

  /* A frame in the same read as the 101 head is not lost. */
  ws = connect_ws("/early", NULL);
  expect_text(ws, "hello early");
  wt_ws_close(ws);
}

static void test_refused_upgrade(void **state) {
  char err[256] = "";
  int status = -1;
  (void)state;
  assert_null(wt_ws_connect("127.0.0.1", srv.port, "/refuse", NULL, NULL,
                            TIMEOUT_MS, &status, err, sizeof(err)));
  assert_int_equal(status, 503);
  assert_non_null(strstr(err, "503"));
}

/* Lengths in 7 bits, 16 bits and 64 bits, both ways. */
static void test_round_trip_sizes(void **state) {
  static const size_t sizes[] = {
      0,       1, 125, 126, 65535, 65536, (size_t)70 * 1024, (size_t)200 * 1024,
      1u << 20};
  wt_ws *ws = connect_ws("/ws", NULL);
  (void)state;
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    size_t n = sizes[i];
    char *text = malloc(n + 1);
    wt_ws_msg msg;
    assert_non_null(text);
    for (size_t j = 0; j < n; j++)
      text[j] = (char)('a' + (j * 7 + i) % 26);
    text[n] = '\0';
    assert_int_equal(wt_ws_send_text(ws, text, n), 0);
    assert_int_equal(wt_ws_recv(ws, TIMEOUT_MS, &msg), WT_WS_TEXT);
    assert_int_equal(msg.opcode, WT_WS_TEXT);
    assert_int_equal(msg.len, n);
    assert_memory_equal(msg.data, text, n);
    assert_int_equal(msg.data[n], '\0');
    wt_ws_msg_free(&msg);
    free(text);
  }
  /* Binary, with NULs. */
  {
    const char bin[] = {0, 1, 2, 0, (char)0xff};
    wt_ws_msg msg;
    assert_int_equal(wt_ws_send_frame(ws, WT_WS_BINARY, true, bin, 5), 0);
    assert_int_equal(wt_ws_recv(ws, TIMEOUT_MS, &msg), WT_WS_BINARY);
    assert_int_equal(msg.len, 5);
    assert_memory_equal(msg.data, bin, 5);
    wt_ws_msg_free(&msg);
  }
  wt_ws_close(ws);
}

/* The client's fragments, with a ping between them, arrive as one message;
 * the server's pong is dropped silently. */
static void test_fragmented_send(void **state) {
  wt_ws *ws = connect_ws("/ws", NULL);
  (void)state;
  assert_int_equal(wt_ws_send_frame(ws, WT_WS_TEXT, false, "hel", 3), 0);
  assert_int_equal(wt_ws_send_frame(ws, WT_WS_PING, true, "p", 1), 0);
  assert_int_equal(wt_ws_send_frame(ws, WT_WS_CONTINUATION, false, "lo ", 3),
                   0);
  assert_int_equal(wt_ws_send_frame(ws, WT_WS_CONTINUATION, true, "world", 5),
                   0);
  expect_text(ws, "hello world");
  wt_ws_close(ws);
}

/* The server's fragments are reassembled; the ping between them is
 * answered (the server reports the pong as "pong <payload>"). */
static void test_fragmented_recv(void **state) {
  wt_ws *ws = connect_ws("/ws", NULL);
  (void)state;
  send_text(ws, "!frag abcdefghijk");
  expect_text(ws, "abcdefghijk");
  expect_text(ws, "pong frag-ping");
  send_text(ws, "!frag ab"); /* an empty first fragment */
  expect_text(ws, "ab");
  expect_text(ws, "pong frag-ping");
  wt_ws_close(ws);
}

static void test_ping_pong(void **state) {
  wt_ws *ws = connect_ws("/ws", NULL);
  (void)state;
  send_text(ws, "!ping are you there");
  expect_text(ws, "pong are you there");
  send_text(ws, "!ping ");
  expect_text(ws, "pong ");
  wt_ws_close(ws);
}

static void test_close_from_server(void **state) {
  wt_ws *ws = connect_ws("/ws", NULL);
  wt_ws_msg msg;
  (void)state;
  send_text(ws, "!close 4001 token expired");
  assert_int_equal(wt_ws_recv(ws, TIMEOUT_MS, &msg), WT_WS_CLOSE);
  assert_int_equal(msg.opcode, WT_WS_CLOSE);
  assert_int_equal(msg.close_code, 4001);
  assert_string_equal(msg.data, "token expired");
  assert_int_equal(msg.len, 13);
  wt_ws_msg_free(&msg);
  assert_int_equal(wt_ws_close_code(ws), 4001);
  /* The client answered with the same code. */
  assert_true(wait_client_close(4001));
  assert_int_equal(wt_ws_recv(ws, 100, &msg), WT_WS_ERROR);
  assert_null(msg.data);
  wt_ws_close(ws);

  /* A close without a code reads as 1005. */
  ws = connect_ws("/ws", NULL);
  assert_int_equal(wt_ws_send_frame(ws, WT_WS_TEXT, true, "!close", 6), 0);
  expect_text(ws, "unknown command");
  assert_int_equal(wt_ws_send_frame(ws, WT_WS_CLOSE, true, "", 0), 0);
  assert_int_equal(wt_ws_recv(ws, TIMEOUT_MS, &msg), WT_WS_CLOSE);
  assert_int_equal(msg.close_code, 1005);
  assert_string_equal(msg.data, "");
  wt_ws_msg_free(&msg);
  wt_ws_close(ws);
}

static void test_close_from_client(void **state) {
  wt_ws *ws = connect_ws("/ws", NULL);
  wt_ws_msg msg;
  (void)state;
  assert_int_equal(wt_ws_send_close(ws, 4321), 0);
  assert_int_equal(wt_ws_recv(ws, TIMEOUT_MS, &msg), WT_WS_CLOSE);
  assert_int_equal(msg.close_code, 4321); /* the server's echo */
  wt_ws_msg_free(&msg);
  assert_true(wait_client_close(4321));
  assert_int_equal(wt_ws_close_code(ws), 4321);
  wt_ws_close(ws);
}

static void test_connection_lost(void **state) {
  wt_ws *ws = connect_ws("/ws", NULL);
  wt_ws_msg msg;
  (void)state;
  send_text(ws, "!drop");
  assert_int_equal(wt_ws_recv(ws, TIMEOUT_MS, &msg), WT_WS_ERROR);
  assert_int_equal(wt_ws_close_code(ws), 1006);
  assert_non_null(strstr(wt_ws_error(ws), "without a close frame"));
  wt_ws_close(ws);
}

static void test_protocol_violations(void **state) {
  static const struct {
    const char *command, *error;
  } cases[] = {{"!huge", "over the"},
               {"!masked", "masked"},
               {"!badop", "opcode"},
               {"!badutf8", "text message that is not UTF-8"},
               {"!badutf8frag", "text message that is not UTF-8"},
               {"!badcode", "close code 5000 is not allowed"},
               {"!badreason", "close reason that is not UTF-8"},
               {"!close1", "1-byte payload"}};
  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    wt_ws *ws = connect_ws("/ws", NULL);
    wt_ws_msg msg;
    send_text(ws, cases[i].command);
    assert_int_equal(wt_ws_recv(ws, TIMEOUT_MS, &msg), WT_WS_ERROR);
    if (!strstr(wt_ws_error(ws), cases[i].error))
      fail_msg("%s: %s", cases[i].command, wt_ws_error(ws));
    assert_int_equal(wt_ws_close_code(ws), 1006);
    wt_ws_close(ws);
  }
}

/* An unmasked frame goes out unmasked: the server closes with 1002. */
static void test_unmasked_send(void **state) {
  wt_ws *ws = connect_ws("/ws", NULL);
  wt_ws_msg msg;
  (void)state;
  /* no payload: the server stops reading at the header, and bytes it
   * never read would make its close a reset */
  assert_int_equal(wt_ws_send_frame_unmasked(ws, WT_WS_TEXT, true, "", 0), 0);
  if (wt_ws_recv(ws, TIMEOUT_MS, &msg) != WT_WS_CLOSE)
    fail_msg("no close: %s", wt_ws_error(ws));
  assert_int_equal(msg.close_code, 1002);
  assert_string_equal(msg.data, "unmasked frame");
  wt_ws_msg_free(&msg);
  wt_ws_close(ws);
}

static void test_close_codes_allowed(void **state) {
  static const int allowed[] = {1000, 1001, 1002, 1003, 1007,
                                1011, 1014, 3000, 4001, 4999};
  static const int refused[] = {0,    999,  1004, 1005, 1006,
                                1015, 1016, 2999, 5000, 65535};
  (void)state;
  for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
    if (!wt_ws_close_code_allowed(allowed[i]))
      fail_msg("%d refused", allowed[i]);
  for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
    if (wt_ws_close_code_allowed(refused[i]))
      fail_msg("%d allowed", refused[i]);
}

static void test_recv_timeout(void **state) {
  wt_ws *ws = connect_ws("/ws", NULL);
  wt_ws_msg msg;
  int64_t start = ms_now(), took;
  (void)state;
  assert_int_equal(wt_ws_recv(ws, 150, &msg), WT_WS_TIMEOUT);
  took = ms_now() - start;
  assert_true(took >= 140 && took < 2000);
  assert_null(msg.data);
  assert_int_equal(wt_ws_recv(ws, 0, &msg), WT_WS_TIMEOUT);
  /* Still usable; half a frame survives a timeout. */
  send_text(ws, "!slow split across a pause");
  assert_int_equal(wt_ws_recv(ws, 100, &msg), WT_WS_TIMEOUT);
  expect_text(ws, "split across a pause");
  assert_int_equal(wt_ws_close_code(ws), 0);
  wt_ws_close(ws);
}

static void test_json_backlog(void **state) {
  wt_ws *ws = connect_ws("/ws", NULL);
  char *json = NULL;
  (void)state;
  send_text(ws, "!json");
  /* a, b, "not json" and the array are kept; the binary one is dropped. */
  assert_int_equal(wt_ws_recv_json_type(ws, "c", TIMEOUT_MS, &json), 0);
  assert_string_equal(json, "{\"type\":\"c\",\"n\":3}");
  free(json);
  assert_int_equal(wt_ws_backlog_count(ws), 4);
  assert_int_equal(wt_ws_recv_json_type(ws, "b", 0, &json), 0);
  assert_string_equal(json, "{\"type\":\"b\",\"n\":2}");
  free(json);
  /* Oldest first. */
  assert_int_equal(wt_ws_recv_json_type(ws, "a", TIMEOUT_MS, &json), 0);
  assert_string_equal(json, "{\"type\":\"a\",\"n\":1}");
  free(json);
  assert_int_equal(wt_ws_recv_json_type(ws, "a", TIMEOUT_MS, NULL), 0);
  assert_int_equal(wt_ws_backlog_count(ws), 2);
  /* Nothing more: a timeout, the connection still open. */
  assert_int_equal(wt_ws_recv_json_type(ws, "a", 100, &json), -1);
  assert_null(json);
  assert_int_equal(wt_ws_close_code(ws), 0);

  /* The backlog keeps the newest WT_WS_BACKLOG_MAX messages. */
  send_text(ws, "!many 100");
  assert_int_equal(wt_ws_recv_json_type(ws, "end", TIMEOUT_MS, NULL), 0);
  assert_int_equal(wt_ws_backlog_count(ws), WT_WS_BACKLOG_MAX);
  assert_int_equal(wt_ws_recv_json_type(ws, "x", 0, &json), 0);
  assert_string_equal(json, "{\"type\":\"x\",\"n\":36}");
  free(json);

  /* A close ends the wait with its code. */
  send_text(ws, "!close 4008 too slow");
  assert_int_equal(wt_ws_recv_json_type(ws, "never", TIMEOUT_MS, &json), -1);
  assert_null(json);
  assert_int_equal(wt_ws_close_code(ws), 4008);
  /* The backlog still answers after the close. */
  assert_int_equal(wt_ws_recv_json_type(ws, "x", 0, &json), 0);
  assert_string_equal(json, "{\"type\":\"x\",\"n\":37}");
  free(json);
  wt_ws_close(ws);
}

static void test_http(void **state) {
  char *headers = NULL, *body = NULL, value[64];
  int status = 0;
  (void)state;

  assert_int_equal(wt_http_request("127.0.0.1", srv.port, "GET", "/hello", NULL,
                                   NULL, TIMEOUT_MS, &status, &headers, &body),
                   0);
  assert_int_equal(status, 200);
  assert_string_equal(body, "hello"); /* Content-Length, not the extra */
  assert_true(strncmp(headers, "HTTP/1.1 200 OK\r\n", 17) == 0);
  assert_true(wt_http_header(headers, "content-type", value, sizeof(value)));
  assert_string_equal(value, "text/plain");
  assert_false(wt_http_header(headers, "X-Missing", value, sizeof(value)));
  free(headers);
  free(body);

  assert_int_equal(wt_http_request("127.0.0.1", srv.port, "POST", "/echo",
                                   "application/json", "{\"username\":\"u\"}",
                                   TIMEOUT_MS, &status, &headers, &body),
                   0);
  assert_int_equal(status, 201);
  assert_string_equal(body, "{\"username\":\"u\"}");
  assert_true(wt_http_header(headers, "Content-Type", value, sizeof(value)));
  assert_string_equal(value, "application/json");
  assert_true(wt_http_header(headers, "X-Connection", value, sizeof(value)));
  assert_string_equal(value, "close");
  free(headers);
  free(body);

  assert_int_equal(wt_http_request("127.0.0.1", srv.port, "POST", "/echo", NULL,
                                   NULL, TIMEOUT_MS, &status, NULL, &body),
                   0);
  assert_int_equal(status, 201);
  assert_string_equal(body, "");
  free(body);

  assert_int_equal(wt_http_request("127.0.0.1", srv.port, "GET", "/eof", NULL,
                                   NULL, TIMEOUT_MS, &status, NULL, &body),
                   0);
  assert_string_equal(body, "until the end");
  free(body);

  assert_int_equal(wt_http_request("127.0.0.1", srv.port, "GET", "/chunked",
                                   NULL, NULL, TIMEOUT_MS, &status, NULL,
                                   &body),
                   0);
  assert_string_equal(body, "hello chunked world");
  free(body);

  assert_int_equal(wt_http_request("127.0.0.1", srv.port, "GET", "/big", NULL,
                                   NULL, TIMEOUT_MS, &status, NULL, &body),
                   0);
  assert_int_equal(strlen(body), 1u << 20);
  assert_int_equal(body[(1u << 20) - 1], 'a' + ((1u << 20) - 1) % 26);
  free(body);

  assert_int_equal(wt_http_request("127.0.0.1", srv.port, "GET", "/missing",
                                   NULL, NULL, TIMEOUT_MS, &status, NULL, NULL),
                   0);
  assert_int_equal(status, 404);

  status = -1;
  assert_int_equal(wt_http_request("127.0.0.1", wt_test_free_port(), "GET", "/",
                                   NULL, NULL, TIMEOUT_MS, &status, &headers,
                                   &body),
                   -1);
  assert_int_equal(status, 0);
  assert_null(headers);
  assert_null(body);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accept_key_rfc_example),
      cmocka_unit_test(test_handshake),
      cmocka_unit_test(test_refused_upgrade),
      cmocka_unit_test(test_round_trip_sizes),
      cmocka_unit_test(test_fragmented_send),
      cmocka_unit_test(test_fragmented_recv),
      cmocka_unit_test(test_ping_pong),
      cmocka_unit_test(test_close_from_server),
      cmocka_unit_test(test_close_from_client),
      cmocka_unit_test(test_connection_lost),
      cmocka_unit_test(test_protocol_violations),
      cmocka_unit_test(test_unmasked_send),
      cmocka_unit_test(test_close_codes_allowed),
      cmocka_unit_test(test_recv_timeout),
      cmocka_unit_test(test_json_backlog),
      cmocka_unit_test(test_http),
  };
  return cmocka_run_group_tests(tests, srv_start, srv_stop);
}
