#include "gw_pool.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wt_log.h"

struct gw_pool {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  gw_job *todo_head, *todo_tail;
  gw_job *done_head, *done_tail;
  bool stopping;
  struct lws_context *_Atomic ctx;
  int nthreads;
  pthread_t *threads;
  char url[WT_CONFIG_URL_MAX];
  bool log_sql;
};

static void push(gw_job **head, gw_job **tail, gw_job *j) {
  j->next = NULL;
  if (*tail)
    (*tail)->next = j;
  else
    *head = j;
  *tail = j;
}

static gw_job *pop(gw_job **head, gw_job **tail) {
  gw_job *j = *head;
  if (j) {
    *head = j->next;
    if (!*head)
      *tail = NULL;
    j->next = NULL;
  }
  return j;
}

wt_err gw_db_run(wt_db *db, wt_db_stmt *stmts, size_t n, char *errstr,
                 size_t errstr_size) {
  wt_err e;
  if (!db) {
    wt_errf(errstr, errstr_size, "PostgreSQL unreachable");
    return WT_ERR_DB_CONN;
  }
  e = wt_db_run(db, stmts, n, errstr, errstr_size);
  if (e != WT_ERR_DB_CONN)
    return e;
  wt_db_stmts_clear(stmts, n);
  if (wt_db_reconnect(db, errstr, errstr_size) != WT_OK)
    return WT_ERR_DB_CONN;
  return wt_db_run(db, stmts, n, errstr, errstr_size);
}

static void *thread_main(void *arg) {
  gw_pool *p = arg;
  wt_db *db = NULL;
  char err[512];
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  for (;;) {
    gw_job *j;
    pthread_mutex_lock(&p->lock);
    while (!p->todo_head && !p->stopping)
      pthread_cond_wait(&p->cond, &p->lock);
    if (p->stopping) {
      pthread_mutex_unlock(&p->lock);
      break;
    }
    j = pop(&p->todo_head, &p->todo_tail);
    pthread_mutex_unlock(&p->lock);
    if (!db && wt_db_connect(p->url, "gateway", p->log_sql, &db, err,
                             sizeof(err)) != WT_OK) {
      WT_WARN("pool: PostgreSQL unreachable error=\"%s\"", err);
      db = NULL;
    }
    j->run(j, db);
    pthread_mutex_lock(&p->lock);
    push(&p->done_head, &p->done_tail, j);
    pthread_mutex_unlock(&p->lock);
    {
      struct lws_context *ctx = atomic_load(&p->ctx);
      if (ctx)
        lws_cancel_service(ctx);
    }
  }
  wt_db_destroy(db);
  return NULL;
}

gw_pool *gw_pool_new(const wt_config *cfg, int threads,
                     struct lws_context *ctx) {
  gw_pool *p = calloc(1, sizeof(*p));
  if (!p)
    return NULL;
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->cond, NULL);
  atomic_store(&p->ctx, ctx);
  snprintf(p->url, sizeof(p->url), "%s", cfg->database_url);
  p->log_sql = cfg->log_sql;
  p->threads = calloc((size_t)threads, sizeof(*p->threads));
  if (!p->threads) {
    free(p);
    return NULL;
  }
  for (int i = 0; i < threads; i++) {
    if (pthread_create(&p->threads[i], NULL, thread_main, p) != 0)
      break;
    p->nthreads++;
  }
  if (p->nthreads == 0) {
    free(p->threads);
    free(p);
    return NULL;
  }
  return p;
}

void gw_pool_set_context(gw_pool *p, struct lws_context *ctx) {
  atomic_store(&p->ctx, ctx);
}

bool gw_pool_submit(gw_pool *p, gw_job *job) {
  bool ok;
  pthread_mutex_lock(&p->lock);
  ok = !p->stopping;
  if (ok) {
    push(&p->todo_head, &p->todo_tail, job);
    pthread_cond_signal(&p->cond);
  }
  pthread_mutex_unlock(&p->lock);
  return ok;
}

void gw_pool_drain(gw_pool *p, struct gw *g) {
  gw_job *list;
  pthread_mutex_lock(&p->lock);
  list = p->done_head;
  p->done_head = p->done_tail = NULL;
  pthread_mutex_unlock(&p->lock);
  while (list) {
    gw_job *j = list;
    list = j->next;
    j->done(g, j);
  }
}

void gw_pool_destroy(gw_pool *p, struct gw *g) {
  if (!p)
    return;
  pthread_mutex_lock(&p->lock);
  p->stopping = true;
  pthread_cond_broadcast(&p->cond);
  pthread_mutex_unlock(&p->lock);
  for (int i = 0; i < p->nthreads; i++)
    pthread_join(p->threads[i], NULL);
  /* what never ran is finished unrun: done() frees it */
  while (p->todo_head) {
    gw_job *j = pop(&p->todo_head, &p->todo_tail);
    j->conn_id = 0;
    j->cancelled = true;
    j->done(g, j);
  }
  gw_pool_drain(p, g);
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->cond);
  free(p->threads);
  free(p);
}
