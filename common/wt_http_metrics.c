#include "wt_http_metrics.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "wt_log.h"

#define LISTEN_BACKLOG 64
#define HEAD_MAX 256 /* status line, headers and a short body */
#define RENDER_INITIAL (64u << 10)
#define RENDER_ATTEMPTS 4 /* the text may grow between two calls */
#define LINGER_MS 2000    /* to drain what the client still sends */
#define LINGER_BYTES (256u << 10)
#define ACCEPT_PAUSE_MS 100 /* after EMFILE and the like */

typedef enum conn_state {
  CONN_FREE = 0,
  CONN_READING, /* until the end of the request headers */
  CONN_WRITING, /* the response */
  CONN_DRAINING /* response sent, write side shut: read until EOF */
} conn_state;

typedef struct conn {
  int fd;
  conn_state state;
  uint64_t deadline;      /* ms, monotonic: the state's own timeout */
  uint64_t conn_deadline; /* ms: the whole connection's */
  size_t in_len;
  size_t drained;
  size_t head_len, sent;
  char *body; /* the rendered metrics (owned), or NULL */
  size_t body_len, body_alloc;
  char head[HEAD_MAX];
  char in[WT_HTTP_METRICS_HEADER_MAX];
} conn;

struct wt_http_metrics {
  pthread_t thread;
  int listen_fd;
  int wake_rd, wake_wr; /* self-pipe: stop writes one byte */
  int port;
  wt_metrics_render_fn *render;
  wt_ready_fn *ready; /* NULL: no /readyz */
  void *ctx;
  size_t render_hint; /* what the last render needed */
  size_t out_bytes;   /* allocated for every conn's body */
  uint64_t accept_paused_until;
  size_t nconns;
  conn conns[WT_HTTP_METRICS_CLIENTS_MAX];
};

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void close_fd(int fd) {
  if (fd >= 0)
    close(fd); /* no retry on EINTR: Linux frees the fd anyway */
}

/* --- connections --------------------------------------------------------- */

static void conn_free_body(wt_http_metrics *m, conn *c) {
  if (c->body) {
    m->out_bytes -= c->body_alloc;
    free(c->body);
  }
  c->body = NULL;
  c->body_len = c->body_alloc = 0;
}

static void conn_close(wt_http_metrics *m, conn *c) {
  close_fd(c->fd);
  conn_free_body(m, c);
  c->fd = -1;
  c->state = CONN_FREE;
  m->nconns--;
}

static const char *reason_phrase(int status) {
  switch (status) {
  case 200: return "OK";
  case 400: return "Bad Request";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 503: return "Service Unavailable";
  default: return "Error";
  }
}

/* Starts a response: the head (with a short fixed text as the body), or
 * the head for c->body when short_body is NULL. */
static void conn_respond(conn *c, int status, const char *ctype,
                         const char *short_body, uint64_t now) {
  size_t body_len = short_body ? strlen(short_body) : c->body_len;
  int n = snprintf(c->head, sizeof(c->head),
                   "HTTP/1.1 %d %s\r\n"
                   "Content-Type: %s\r\n"
                   "Content-Length: %zu\r\n"
                   "%s"
                   "Connection: close\r\n\r\n%s",
                   status, reason_phrase(status), ctype, body_len,
                   status == 405 ? "Allow: GET\r\n" : "",
                   short_body ? short_body : "");
  assert(n > 0 && (size_t)n < sizeof(c->head));
  c->head_len = (size_t)n;
  c->sent = 0;
  c->state = CONN_WRITING;
  c->deadline = now + WT_HTTP_METRICS_WRITE_TIMEOUT_MS;
}

static void conn_respond_text(conn *c, int status, const char *text,
                              uint64_t now) {
  conn_respond(c, status, "text/plain; charset=utf-8", text, now);
}

static void conn_respond_metrics(wt_http_metrics *m, conn *c, uint64_t now) {
  size_t size = m->render_hint + m->render_hint / 4 + 1;
  if (size < RENDER_INITIAL)
    size = RENDER_INITIAL;
  for (int attempt = 0; attempt < RENDER_ATTEMPTS; attempt++) {
    char *buf;
    size_t need;
    if (size > WT_HTTP_METRICS_BODY_MAX)
      size = WT_HTTP_METRICS_BODY_MAX;
    /* 64 clients each holding a big text would be a lot of memory */
    if (m->out_bytes + size > WT_HTTP_METRICS_OUT_MAX) {
      conn_respond_text(c, 503, "busy\n", now);
      return;
    }
    buf = malloc(size);
    if (!buf) {
      conn_respond_text(c, 503, "out of memory\n", now);
      return;
    }
    need = m->render(m->ctx, buf, size);
    if (need < size) {
      m->render_hint = need;
      c->body = buf;
      c->body_len = need;
      c->body_alloc = size;
      m->out_bytes += size;
      conn_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", NULL,
                   now);
      return;
    }
    free(buf);
    if (need >= WT_HTTP_METRICS_BODY_MAX) {
      WT_ERROR("metrics text too large bytes=%zu max=%u", need,
               WT_HTTP_METRICS_BODY_MAX - 1);
      conn_respond_text(c, 500, "metrics text too large\n", now);
      return;
    }
    size = need + need / 8 + 1;
  }
  conn_respond_text(c, 500, "metrics text keeps growing\n", now);
}

static bool token_equal(const char *p, size_t len, const char *s) {
  return strlen(s) == len && memcmp(p, s, len) == 0;
}

/* The request line is "METHOD SP target SP HTTP/1.x"; headers are not
 * needed. end: length of the request line. */
static void conn_handle_request(wt_http_metrics *m, conn *c, size_t end,
                                uint64_t now) {
  const char *line = c->in;
  const char *sp1, *sp2, *path;
  size_t mlen, plen, vlen;
  if (end > 0 && line[end - 1] == '\r')
    end--;
  sp1 = memchr(line, ' ', end);
  sp2 = sp1 ? memchr(sp1 + 1, ' ', end - (size_t)(sp1 + 1 - line)) : NULL;
  if (!sp1 || !sp2 || sp1 == line) {
    conn_respond_text(c, 400, "bad request\n", now);
    return;
  }
  mlen = (size_t)(sp1 - line);
  path = sp1 + 1;
  plen = (size_t)(sp2 - path);
  vlen = end - (size_t)(sp2 + 1 - line);
  if (plen == 0 || path[0] != '/' ||
      !(token_equal(sp2 + 1, vlen, "HTTP/1.1") ||
        token_equal(sp2 + 1, vlen, "HTTP/1.0"))) {
    conn_respond_text(c, 400, "bad request\n", now);
    return;
  }
  if (!token_equal(line, mlen, "GET")) {
    conn_respond_text(c, 405, "method not allowed\n", now);
    return;
  }
  {
    const char *q = memchr(path, '?', plen);
    if (q)
      plen = (size_t)(q - path);
  }
  if (token_equal(path, plen, "/metrics"))
    conn_respond_metrics(m, c, now);
  else if (token_equal(path, plen, "/healthz"))
    conn_respond_text(c, 200, "ok\n", now);
  else if (m->ready && token_equal(path, plen, "/readyz")) {
    bool ready = m->ready(m->ctx);
    conn_respond_text(c, ready ? 200 : 503, ready ? "ready\n" : "not ready\n",
                      now);
  } else
    conn_respond_text(c, 404, "not found\n", now);
}

/* The end of the request headers (a blank line) in in[0..len), searching
 * from `from`; returns the length of the request line, or 0 when the
 * headers are not complete yet. */
static size_t headers_complete(const char *in, size_t len, size_t from) {
  for (size_t i = from; i < len; i++) {
    if (in[i] != '\n')
      continue;
    if ((i >= 1 && in[i - 1] == '\n') ||
        (i >= 2 && in[i - 1] == '\r' && in[i - 2] == '\n')) {
      const char *nl = memchr(in, '\n', len);
      assert(nl);
      return (size_t)(nl - in) + 1;
    }
  }
  return 0;
}

static void conn_read_request(wt_http_metrics *m, conn *c, uint64_t now) {
  for (;;) {
    size_t before = c->in_len, line;
    ssize_t r = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    if (r <= 0) { /* EOF or an error before a whole request */
      conn_close(m, c);
      return;
    }
    c->in_len += (size_t)r;
    line = headers_complete(c->in, c->in_len, before);
    if (line) {
      conn_handle_request(m, c, line - 1, now);
      return;
    }
    if (c->in_len == sizeof(c->in)) {
      conn_respond_text(c, 431, "request headers too large\n", now);
      return;
    }
  }
}

static void conn_write(wt_http_metrics *m, conn *c, uint64_t now) {
  size_t total = c->head_len + c->body_len;
  bool progress = false;
  while (c->sent < total) {
    struct iovec iov[2];
    struct msghdr msg = {.msg_iov = iov};
    ssize_t w;
    if (c->sent < c->head_len) {
      iov[msg.msg_iovlen++] = (struct iovec){.iov_base = c->head + c->sent,
                                             .iov_len = c->head_len - c->sent};
      if (c->body_len)
        iov[msg.msg_iovlen++] =
            (struct iovec){.iov_base = c->body, .iov_len = c->body_len};
    } else {
      size_t off = c->sent - c->head_len;
      iov[msg.msg_iovlen++] = (struct iovec){.iov_base = c->body + off,
                                             .iov_len = c->body_len - off};
    }
    w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
    if (w > 0) {
      c->sent += (size_t)w;
      progress = true;
      continue;
    }
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (progress)
        c->deadline = now + WT_HTTP_METRICS_WRITE_TIMEOUT_MS;
      return;
    }
    conn_close(m, c); /* EPIPE, ECONNRESET: the client is gone */
    return;
  }
  conn_free_body(m, c);
  /* Closing with unread input would send an RST, which can destroy the
   * response in the client's buffers: shut the write side and read until
   * the client closes (or the linger time ends). */
  shutdown(c->fd, SHUT_WR);
  c->state = CONN_DRAINING;
  c->deadline = now + LINGER_MS;
}

static void conn_drain(wt_http_metrics *m, conn *c) {
  char buf[4096];
  for (;;) {
    ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    if (r <= 0 || (c->drained += (size_t)r) > LINGER_BYTES) {
      conn_close(m, c);
      return;
    }
  }
}

static void accept_conns(wt_http_metrics *m, uint64_t now) {
  while (m->nconns < WT_HTTP_METRICS_CLIENTS_MAX) {
    conn *c = NULL;
    int fd = accept4(m->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
        continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        /* EMFILE and the like: the socket stays readable, so pausing is
         * what keeps this thread from spinning */
        WT_WARN("metrics accept failed, pausing: %s", strerror(errno));
        m->accept_paused_until = now + ACCEPT_PAUSE_MS;
      }
      return;
    }
    for (size_t i = 0; i < WT_HTTP_METRICS_CLIENTS_MAX && !c; i++)
      if (m->conns[i].state == CONN_FREE)
        c = &m->conns[i];
    if (!c) {
      /* nconns says a slot is free and the table says none is: a bug, but
       * one that must not cost the worker more than this connection */
      WT_ERROR("metrics: no free connection slot (nconns=%zu)", m->nconns);
      close(fd);
      return;
    }
    c->fd = fd;
    c->state = CONN_READING;
    c->in_len = 0;
    c->drained = 0;
    c->body = NULL;
    c->deadline = now + WT_HTTP_METRICS_READ_TIMEOUT_MS;
    c->conn_deadline = now + WT_HTTP_METRICS_CONN_TIMEOUT_MS;
    m->nconns++;
  }
}

static void *server_main(void *arg) {
  wt_http_metrics *m = arg;
  struct pollfd pfds[2 + WT_HTTP_METRICS_CLIENTS_MAX];
  conn *polled[2 + WT_HTTP_METRICS_CLIENTS_MAX];
  for (;;) {
    uint64_t now = now_ms(), next = UINT64_MAX;
    nfds_t n = 0;
    int timeout, rc;
    bool listening;
    for (size_t i = 0; i < WT_HTTP_METRICS_CLIENTS_MAX; i++) {
      conn *c = &m->conns[i];
      if (c->state != CONN_FREE &&
          (c->deadline <= now || c->conn_deadline <= now))
        conn_close(m, c); /* too slow: no response, just closed */
    }
    pfds[n++] = (struct pollfd){.fd = m->wake_rd, .events = POLLIN};
    listening = m->nconns < WT_HTTP_METRICS_CLIENTS_MAX &&
                now >= m->accept_paused_until;
    if (listening)
      pfds[n++] = (struct pollfd){.fd = m->listen_fd, .events = POLLIN};
    else if (now < m->accept_paused_until)
      next = m->accept_paused_until;
    for (size_t i = 0; i < WT_HTTP_METRICS_CLIENTS_MAX; i++) {
      conn *c = &m->conns[i];
      if (c->state == CONN_FREE)
        continue;
      if (c->deadline < next)
        next = c->deadline;
      if (c->conn_deadline < next)
        next = c->conn_deadline;
      polled[n] = c;
      pfds[n++] = (struct pollfd){
          .fd = c->fd, .events = c->state == CONN_WRITING ? POLLOUT : POLLIN};
    }
    timeout = next == UINT64_MAX       ? -1
              : next - now > INT32_MAX ? INT32_MAX
                                       : (int)(next - now);
    rc = poll(pfds, n, timeout);
    if (rc < 0) {
      if (errno != EINTR) {
        WT_ERROR("metrics poll failed: %s", strerror(errno));
        usleep(ACCEPT_PAUSE_MS * 1000);
      }
      continue;
    }
    if (pfds[0].revents)
      break; /* stop */
    now = now_ms();
    for (nfds_t i = listening ? 2 : 1; i < n; i++) {
      conn *c = polled[i];
      if (!pfds[i].revents)
        continue;
      switch (c->state) {
      case CONN_READING: conn_read_request(m, c, now); break;
      case CONN_WRITING: break;
      case CONN_DRAINING: conn_drain(m, c); break;
      case CONN_FREE: break;
      }
      /* a response is written right away: it usually fits the socket */
      if (c->state == CONN_WRITING)
        conn_write(m, c, now);
    }
    if (listening && pfds[1].revents)
      accept_conns(m, now);
  }
  for (size_t i = 0; i < WT_HTTP_METRICS_CLIENTS_MAX; i++)
    if (m->conns[i].state != CONN_FREE)
      conn_close(m, &m->conns[i]);
  return NULL;
}

/* --- API ----------------------------------------------------------------- */

static wt_err listen_on(wt_http_metrics *m, const char *addr, int port,
                        char *errstr, size_t errstr_size) {
  struct addrinfo hints = {0}, *ai = NULL;
  union {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
  } bound;
  socklen_t bound_len = sizeof(bound);
  char portstr[8];
  int one = 1, gai;
  wt_err err = WT_ERR_IO;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
  memset(&bound, 0, sizeof(bound));
  snprintf(portstr, sizeof(portstr), "%d", port);
  gai = getaddrinfo(addr, portstr, &hints, &ai);
  if (gai != 0) {
    wt_errf(errstr, errstr_size, "metrics bind address %s: %s", addr,
            gai_strerror(gai));
    return WT_ERR_INVALID;
  }
  m->listen_fd =
      socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (m->listen_fd < 0) {
    wt_errf(errstr, errstr_size, "metrics socket: %s", strerror(errno));
    goto out;
  }
  if (setsockopt(m->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
      bind(m->listen_fd, ai->ai_addr, ai->ai_addrlen) ||
      listen(m->listen_fd, LISTEN_BACKLOG) ||
      getsockname(m->listen_fd, &bound.sa, &bound_len)) {
    wt_errf(errstr, errstr_size, "metrics listen on %s port %d: %s", addr, port,
            strerror(errno));
    goto out;
  }
  m->port = ntohs(bound.sa.sa_family == AF_INET6 ? bound.in6.sin6_port
                                                 : bound.in.sin_port);
  err = WT_OK;
out:
  freeaddrinfo(ai);
  return err;
}

wt_err wt_http_metrics_start(const char *bind_addr, int port,
                             wt_metrics_render_fn *render, void *ctx,
                             wt_http_metrics **out, char *errstr,
                             size_t errstr_size) {
  return wt_http_metrics_start_ready(bind_addr, port, render, NULL, ctx, out,
                                     errstr, errstr_size);
}

wt_err wt_http_metrics_start_ready(const char *bind_addr, int port,
                                   wt_metrics_render_fn *render,
                                   wt_ready_fn *ready, void *ctx,
                                   wt_http_metrics **out, char *errstr,
                                   size_t errstr_size) {
  wt_http_metrics *m = NULL;
  int pipefd[2];
  sigset_t all, old;
  wt_err err;
  *out = NULL;
  if (!bind_addr)
    bind_addr = "127.0.0.1";
  if (port < 0 || port > 65535) {
    wt_errf(errstr, errstr_size, "metrics port %d out of 0..65535", port);
    return WT_ERR_INVALID;
  }
  assert(render);
  m = calloc(1, sizeof(*m));
  if (!m) {
    wt_errf(errstr, errstr_size, "out of memory");
    return WT_ERR_NOMEM;
  }
  m->listen_fd = m->wake_rd = m->wake_wr = -1;
  for (size_t i = 0; i < WT_HTTP_METRICS_CLIENTS_MAX; i++)
    m->conns[i].fd = -1;
  m->render = render;
  m->ready = ready;
  m->ctx = ctx;
  err = listen_on(m, bind_addr, port, errstr, errstr_size);
  if (err != WT_OK)
    goto fail;
  if (pipe2(pipefd, O_NONBLOCK | O_CLOEXEC) != 0) {
    wt_errf(errstr, errstr_size, "metrics pipe: %s", strerror(errno));
    err = WT_ERR_IO;
    goto fail;
  }
  m->wake_rd = pipefd[0];
  m->wake_wr = pipefd[1];
  /* the thread inherits a mask that blocks every signal */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  err = pthread_create(&m->thread, NULL, server_main, m) ? WT_ERR_NOMEM : WT_OK;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (err != WT_OK) {
    wt_errf(errstr, errstr_size, "metrics thread: cannot create");
    goto fail;
  }
  pthread_setname_np(m->thread, "wt-metrics");
  *out = m;
  return WT_OK;
fail:
  close_fd(m->listen_fd);
  close_fd(m->wake_rd);
  close_fd(m->wake_wr);
  free(m);
  return err;
}

int wt_http_metrics_port(const wt_http_metrics *m) {
  return m->port;
}

void wt_http_metrics_stop(wt_http_metrics *m) {
  ssize_t w;
  if (!m)
    return;
  do
    w = write(m->wake_wr, "x", 1);
  while (w < 0 && errno == EINTR);
  pthread_join(m->thread, NULL);
  close_fd(m->listen_fd);
  close_fd(m->wake_rd);
  close_fd(m->wake_wr);
  free(m);
}
