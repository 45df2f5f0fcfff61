/* Unit tests of wt_http_metrics: a real server on a free loopback port,
 * driven with plain sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "wt_http_metrics.h"

/* --- the render callback ------------------------------------------------- */

typedef struct text {
  const char *body; /* NULL: claim `fake_len` bytes without writing them */
  size_t len;
  size_t fake_len;
  atomic_int calls;
} text;

static size_t render_text(void *ctx, char *buf, size_t size) {
  text *t = ctx;
  atomic_fetch_add(&t->calls, 1);
  if (!t->body) {
    if (size)
      buf[0] = '\0';
    return t->fake_len;
  }
  if (size) {
    size_t n = t->len < size - 1 ? t->len : size - 1;
    memcpy(buf, t->body, n);
    buf[n] = '\0';
  }
  return t->len;
}

static text small_text = {.body = "# TYPE wt_up gauge\nwt_up 1\n", .len = 27};

static wt_http_metrics *start(text *t) {
  wt_http_metrics *m = NULL;
  char err[256] = "";
  assert_int_equal(
      wt_http_metrics_start(NULL, 0, render_text, t, &m, err, sizeof(err)),
      WT_OK);
  assert_non_null(m);
  assert_true(wt_http_metrics_port(m) > 0);
  return m;
}

/* --- a plain-socket client ----------------------------------------------- */

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int dial(int port) {
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)port)};
  struct timeval tv = {.tv_sec = 10}; /* no test may hang */
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  return fd;
}

static void send_all(int fd, const char *data, size_t len) {
  while (len) {
    ssize_t w = send(fd, data, len, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    assert_true(w > 0);
    data += w;
    len -= (size_t)w;
  }
}

typedef struct response {
  char *raw; /* NUL-terminated */
  size_t len;
  int status;
  const char *body;
  size_t body_len;
} response;

/* Reads until the server closes; parses the status line and the body. */
static void read_response(int fd, response *r) {
  size_t cap = 4096;
  const char *end;
  memset(r, 0, sizeof(*r));
  r->raw = malloc(cap);
  assert_non_null(r->raw);
  for (;;) {
    ssize_t n;
    if (r->len + 1 == cap) {
      r->raw = realloc(r->raw, cap *= 2);
      assert_non_null(r->raw);
    }
    n = recv(fd, r->raw + r->len, cap - 1 - r->len, 0);
    if (n < 0 && errno == EINTR)
      continue;
    assert_true(n >= 0); /* an error or the 10 s timeout fails the test */
    if (n == 0)
      break;
    r->len += (size_t)n;
  }
  r->raw[r->len] = '\0';
  assert_int_equal(sscanf(r->raw, "HTTP/1.1 %d ", &r->status), 1);
  end = strstr(r->raw, "\r\n\r\n");
  assert_non_null(end);
  r->body = end + 4;
  r->body_len = r->len - (size_t)(r->body - r->raw);
}

/* The value of a response header (exact case), copied into buf. */
static const char *header(const response *r, const char *name, char *buf,
                          size_t size) {
  char pat[64];
  const char *p, *eol;
  snprintf(pat, sizeof(pat), "\r\n%s: ", name);
  p = strstr(r->raw, pat);
  if (!p || p > r->body)
    return NULL;
  p += strlen(pat);
  eol = strstr(p, "\r\n");
  snprintf(buf, size, "%.*s", (int)(eol - p), p);
  return buf;
}

static void request(int port, const char *raw, response *r) {
  int fd = dial(port);
  send_all(fd, raw, strlen(raw));
  read_response(fd, r);
  close(fd);
}

static void response_free(response *r) {
  free(r->raw);
  r->raw = NULL;
}

/* Content-Length matches the body, and the connection is closed. */
static void check_framing(const response *r) {
  char buf[64];
  assert_non_null(header(r, "Content-Length", buf, sizeof(buf)));
  assert_int_equal(strtoul(buf, NULL, 10), r->body_len);
  assert_non_null(header(r, "Connection", buf, sizeof(buf)));
  assert_string_equal(buf, "close");
}

/* --- tests --------------------------------------------------------------- */

static void test_metrics(void **state) {
  wt_http_metrics *m = start(&small_text);
  response r;
  char buf[128];
  (void)state;
  request(wt_http_metrics_port(m), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
          &r);
  assert_int_equal(r.status, 200);
  check_framing(&r);
  assert_non_null(header(&r, "Content-Type", buf, sizeof(buf)));
  assert_true(strncmp(buf, "text/plain; version=0.0.4", 25) == 0);
  assert_int_equal(r.body_len, small_text.len);
  assert_memory_equal(r.body, small_text.body, small_text.len);
  response_free(&r);

  /* a query string, HTTP/1.0 and bare LF line ends are fine */
  request(wt_http_metrics_port(m), "GET /metrics?x=1 HTTP/1.0\n\n", &r);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, small_text.len);
  response_free(&r);
  wt_http_metrics_stop(m);
}

static void test_healthz(void **state) {
  wt_http_metrics *m = start(&small_text);
  response r;
  (void)state;
  request(wt_http_metrics_port(m), "GET /healthz HTTP/1.1\r\n\r\n", &r);
  assert_int_equal(r.status, 200);
  check_framing(&r);
  assert_int_equal(r.body_len, 3);
  assert_memory_equal(r.body, "ok\n", 3);
  response_free(&r);
  wt_http_metrics_stop(m);
}

static bool ready_flag(void *ctx) {
  return atomic_load((atomic_bool *)ctx);
}

static size_t render_none(void *ctx, char *buf, size_t size) {
  (void)ctx;
  if (size)
    buf[0] = '\0';
  return 0;
}

/* GET /readyz: 200 or 503 as the callback says; 404 without one. */
static void test_readyz(void **state) {
  wt_http_metrics *m = NULL, *plain = start(&small_text);
  atomic_bool ready = true;
  char err[256] = "";
  response r;
  (void)state;
  assert_int_equal(wt_http_metrics_start_ready(NULL, 0, render_none, ready_flag,
                                               &ready, &m, err, sizeof(err)),
                   WT_OK);
  request(wt_http_metrics_port(m), "GET /readyz HTTP/1.1\r\n\r\n", &r);
  assert_int_equal(r.status, 200);
  check_framing(&r);
  assert_int_equal(r.body_len, 6);
  assert_memory_equal(r.body, "ready\n", 6);
  response_free(&r);
  atomic_store(&ready, false);
  request(wt_http_metrics_port(m), "GET /readyz HTTP/1.1\r\n\r\n", &r);
  assert_int_equal(r.status, 503);
  assert_int_equal(r.body_len, 10);
  assert_memory_equal(r.body, "not ready\n", 10);
  response_free(&r);
  request(wt_http_metrics_port(plain), "GET /readyz HTTP/1.1\r\n\r\n", &r);
  assert_int_equal(r.status, 404);
  response_free(&r);
  wt_http_metrics_stop(m);
  wt_http_metrics_stop(plain);
}

static void test_not_found_and_method(void **state) {
  wt_http_metrics *m = start(&small_text);
  int port = wt_http_metrics_port(m);
  response r;
  char buf[64];
  (void)state;
  request(port, "GET /nope HTTP/1.1\r\n\r\n", &r);
  assert_int_equal(r.status, 404);
  check_framing(&r);
  response_free(&r);
  request(port, "GET /metricsx HTTP/1.1\r\n\r\n", &r);
  assert_int_equal(r.status, 404);
  response_free(&r);

  request(port, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r);
  assert_int_equal(r.status, 405);
  check_framing(&r);
  assert_non_null(header(&r, "Allow", buf, sizeof(buf)));
  assert_string_equal(buf, "GET");
  response_free(&r);
  request(port, "HEAD /healthz HTTP/1.1\r\n\r\n", &r);
  assert_int_equal(r.status, 405);
  response_free(&r);

  /* a POST body the server never reads does not reset the connection */
  request(port,
          "POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
          "and more bytes that nobody expects",
          &r);
  assert_int_equal(r.status, 405);
  response_free(&r);

  request(port, "nonsense\r\n\r\n", &r);
  assert_int_equal(r.status, 400);
  response_free(&r);
  request(port, "GET metrics HTTP/1.1\r\n\r\n", &r);
  assert_int_equal(r.status, 400);
  response_free(&r);
  request(port, "GET /metrics HTTP/2.0\r\n\r\n", &r);
  assert_int_equal(r.status, 400);
  response_free(&r);
  wt_http_metrics_stop(m);
}

/* A request of exactly `len` bytes: padded with one long header. */
static char *request_of_size(size_t len) {
  static const char head[] = "GET /healthz HTTP/1.1\r\nX-Pad: ";
  char *req = malloc(len + 1);
  assert_non_null(req);
  assert_true(len > sizeof(head) + 4);
  memcpy(req, head, sizeof(head) - 1);
  memset(req + sizeof(head) - 1, 'a', len - (sizeof(head) - 1) - 4);
  memcpy(req + len - 4, "\r\n\r\n", 4);
  req[len] = '\0';
  return req;
}

static void test_header_cap(void **state) {
  wt_http_metrics *m = start(&small_text);
  int port = wt_http_metrics_port(m);
  char *req;
  response r;
  (void)state;
  req = request_of_size(WT_HTTP_METRICS_HEADER_MAX);
  request(port, req, &r);
  assert_int_equal(r.status, 200);
  response_free(&r);
  free(req);

  req = request_of_size(WT_HTTP_METRICS_HEADER_MAX + 1);
  request(port, req, &r);
  assert_int_equal(r.status, 431);
  check_framing(&r);
  response_free(&r);
  free(req);

  /* far over: refused all the same, and the response still arrives */
  req = request_of_size((size_t)10 * WT_HTTP_METRICS_HEADER_MAX);
  request(port, req, &r);
  assert_int_equal(r.status, 431);
  response_free(&r);
  free(req);
  wt_http_metrics_stop(m);
}

/* One client sends nothing, another half a request: others are served at
 * once, and the silent ones are closed after the read timeout. */
static void test_silent_client(void **state) {
  wt_http_metrics *m = start(&small_text);
  int port = wt_http_metrics_port(m);
  int silent = dial(port), partial = dial(port);
  uint64_t t0 = now_ms(), t1;
  response r;
  char c;
  (void)state;
  send_all(partial, "GET /metr", 9);
  for (int i = 0; i < 5; i++) {
    request(port, "GET /healthz HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
  }
  assert_true(now_ms() - t0 < 1000);
  /* EOF (0) or a reset (-1): either way, closed by the server */
  assert_true(recv(silent, &c, 1, 0) <= 0);
  t1 = now_ms();
  assert_true(t1 - t0 >= WT_HTTP_METRICS_READ_TIMEOUT_MS - 100);
  assert_true(t1 - t0 < WT_HTTP_METRICS_READ_TIMEOUT_MS + 2000);
  assert_true(recv(partial, &c, 1, 0) <= 0);
  assert_true(now_ms() - t0 < WT_HTTP_METRICS_READ_TIMEOUT_MS + 2000);
  close(silent);
  close(partial);
  wt_http_metrics_stop(m);
}

static void test_big_render(void **state) {
  enum { SIZE = 1 << 20 };
  text big = {0};
  char *body = malloc(SIZE);
  wt_http_metrics *m;
  response r;
  size_t len = 0;
  int fd;
  (void)state;
  assert_non_null(body);
  for (unsigned i = 0; len + 40 < SIZE; i++)
    len += (size_t)snprintf(body + len, SIZE - len,
                            "wt_test_series{n=\"%u\"} %u\n", i, i * 7);
  big.body = body;
  big.len = len;
  m = start(&big);

  /* a client that leaves before reading does not disturb the server */
  fd = dial(wt_http_metrics_port(m));
  send_all(fd, "GET /metrics HTTP/1.1\r\n\r\n", 25);
  close(fd);

  request(wt_http_metrics_port(m), "GET /metrics HTTP/1.1\r\n\r\n", &r);
  assert_int_equal(r.status, 200);
  check_framing(&r);
  assert_int_equal(r.body_len, len);
  assert_memory_equal(r.body, body, len);
  response_free(&r);
  /* the buffer grew once and stays grown: one call per scrape */
  {
    int calls = atomic_load(&big.calls);
    request(wt_http_metrics_port(m), "GET /metrics HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(r.body_len, len);
    assert_int_equal(atomic_load(&big.calls), calls + 1);
    response_free(&r);
  }
  wt_http_metrics_stop(m);
  free(body);
}

static void test_render_too_big(void **state) {
  text huge = {.fake_len = WT_HTTP_METRICS_BODY_MAX};
  wt_http_metrics *m = start(&huge);
  response r;
  (void)state;
  request(wt_http_metrics_port(m), "GET /metrics HTTP/1.1\r\n\r\n", &r);
  assert_int_equal(r.status, 500);
  check_framing(&r);
  response_free(&r);
  request(wt_http_metrics_port(m), "GET /healthz HTTP/1.1\r\n\r\n", &r);
  assert_int_equal(r.status, 200);
  response_free(&r);
  wt_http_metrics_stop(m);
}

/* Waits until the server has answered /healthz: every earlier connect was
 * accepted by then (one thread, accepts in order). */
static void sync_server(int port) {
  response r;
  request(port, "GET /healthz HTTP/1.1\r\n\r\n", &r);
  assert_int_equal(r.status, 200);
  response_free(&r);
}

static void test_stop_with_idle_client(void **state) {
  wt_http_metrics *m = start(&small_text);
  int port = wt_http_metrics_port(m);
  int idle = dial(port), partial = dial(port);
  uint64_t t0;
  char c;
  (void)state;
  send_all(partial, "GET /", 5);
  sync_server(port);
  t0 = now_ms();
  wt_http_metrics_stop(m);
  assert_true(now_ms() - t0 < 500);
  assert_true(recv(idle, &c, 1, 0) <= 0);
  close(idle);
  close(partial);
  wt_http_metrics_stop(NULL);
}

/* With every slot taken, the next connection waits in the backlog until a
 * slot frees up. */
static void test_client_cap(void **state) {
  wt_http_metrics *m = start(&small_text);
  int port = wt_http_metrics_port(m);
  int idle[WT_HTTP_METRICS_CLIENTS_MAX];
  struct pollfd p;
  response r;
  int fd;
  (void)state;
  for (int i = 0; i < WT_HTTP_METRICS_CLIENTS_MAX - 1; i++)
    idle[i] = dial(port);
  sync_server(port); /* 63 idle connections accepted */
  idle[WT_HTTP_METRICS_CLIENTS_MAX - 1] = dial(port);
  fd = dial(port); /* the kernel accepts it; the server does not yet */
  send_all(fd, "GET /healthz HTTP/1.1\r\n\r\n", 25);
  p = (struct pollfd){.fd = fd, .events = POLLIN};
  assert_int_equal(poll(&p, 1, 300), 0);
  close(idle[0]);
  read_response(fd, &r);
  assert_int_equal(r.status, 200);
  response_free(&r);
  close(fd);
  for (int i = 1; i < WT_HTTP_METRICS_CLIENTS_MAX; i++)
    close(idle[i]);
  wt_http_metrics_stop(m);
}

typedef struct scraper {
  int port;
  int ok;
} scraper;

/* One scrape without cmocka asserts (they must stay on the main thread):
 * true when a whole 200 with the expected body came back. */
static bool scrape_once(int port) {
  static const char req[] = "GET /metrics HTTP/1.1\r\n\r\n";
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)port)};
  struct timeval tv = {.tv_sec = 10};
  char buf[1024];
  size_t len = 0;
  const char *body;
  bool ok = false;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
      connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
      send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != sizeof(req) - 1)
    goto out;
  for (;;) {
    ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      goto out;
    if (n == 0)
      break;
    len += (size_t)n;
  }
  buf[len] = '\0';
  body = strstr(buf, "\r\n\r\n");
  ok = strncmp(buf, "HTTP/1.1 200 ", 13) == 0 && body &&
       strcmp(body + 4, small_text.body) == 0;
out:
  close(fd);
  return ok;
}

static void *scrape_loop(void *arg) {
  scraper *s = arg;
  for (int i = 0; i < 50; i++)
    s->ok += scrape_once(s->port);
  return NULL;
}

static void test_concurrent_scrapes(void **state) {
  enum { THREADS = 8 };
  wt_http_metrics *m = start(&small_text);
  pthread_t th[THREADS];
  scraper s[THREADS];
  (void)state;
  for (int i = 0; i < THREADS; i++) {
    s[i] = (scraper){.port = wt_http_metrics_port(m)};
    assert_int_equal(pthread_create(&th[i], NULL, scrape_loop, &s[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(s[i].ok, 50);
  }
  wt_http_metrics_stop(m);
}

static void test_start_errors(void **state) {
  wt_http_metrics *m = start(&small_text), *m2 = NULL;
  char err[256] = "";
  (void)state;
  assert_int_equal(wt_http_metrics_start("not-an-ip", 0, render_text,
                                         &small_text, &m2, err, sizeof(err)),
                   WT_ERR_INVALID);
  assert_null(m2);
  assert_non_null(strstr(err, "not-an-ip"));
  assert_int_equal(wt_http_metrics_start(NULL, 70000, render_text, &small_text,
                                         &m2, err, sizeof(err)),
                   WT_ERR_INVALID);
  assert_int_equal(wt_http_metrics_start("127.0.0.1", wt_http_metrics_port(m),
                                         render_text, &small_text, &m2, err,
                                         sizeof(err)),
                   WT_ERR_IO);
  assert_null(m2);
  assert_non_null(strstr(err, "in use"));
  /* IPv6 loopback works where the host has it */
  if (wt_http_metrics_start("::1", 0, render_text, &small_text, &m2, err,
                            sizeof(err)) == WT_OK) {
    assert_true(wt_http_metrics_port(m2) > 0);
    wt_http_metrics_stop(m2);
  }
  wt_http_metrics_stop(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_metrics),
      cmocka_unit_test(test_healthz),
      cmocka_unit_test(test_readyz),
      cmocka_unit_test(test_not_found_and_method),
      cmocka_unit_test(test_header_cap),
      cmocka_unit_test(test_silent_client),
      cmocka_unit_test(test_big_render),
      cmocka_unit_test(test_render_too_big),
      cmocka_unit_test(test_stop_with_idle_client),
      cmocka_unit_test(test_client_cap),
      cmocka_unit_test(test_concurrent_scrapes),
      cmocka_unit_test(test_start_errors),
  };
  return cmocka_run_group_tests_name("http_metrics", tests, NULL, NULL);
}
