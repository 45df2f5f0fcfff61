/* gw_pool: a few worker threads for what must not block the lws thread:
 * PostgreSQL reads and password hash checks. Each thread has its own wt_db
 * connection (component "gateway"), opened lazily and re-opened after a
 * loss.
 *
 * A job is a struct that embeds gw_job first. gw_pool_submit hands it over
 * (the pool owns it until done); run() executes on a pool thread with that
 * thread's connection; then the job goes on the completion queue and
 * lws_cancel_service() wakes the lws thread, which calls gw_pool_drain():
 * done() runs there and owns (frees) the job. A job carries the id of the
 * connection it answers, never its wsi. */
#ifndef GW_POOL_H
#define GW_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "wt_config.h"
#include "wt_db.h"

struct lws_context;
struct gw;

typedef struct gw_job gw_job;
/* db is NULL when PostgreSQL cannot be reached. */
typedef void(gw_job_run_fn)(gw_job *job, wt_db *db);
typedef void(gw_job_done_fn)(struct gw *g, gw_job *job);

struct gw_job {
  gw_job *next;
  gw_job_run_fn *run;
  gw_job_done_fn *done;
  uint64_t conn_id;
  bool cancelled; /* never run (shutdown): done() only frees */
};

typedef struct gw_pool gw_pool;

gw_pool *gw_pool_new(const wt_config *cfg, int threads,
                     struct lws_context *ctx);
/* Queues a job; false when the pool is stopping (the caller keeps it). */
bool gw_pool_submit(gw_pool *p, gw_job *job);
/* On the lws thread: runs done() of every finished job. */
void gw_pool_drain(gw_pool *p, struct gw *g);
/* Sets the lws context to wake (the pool may be made before it). */
void gw_pool_set_context(gw_pool *p, struct lws_context *ctx);
/* Stops and joins the threads; jobs not run yet and finished jobs get
 * their done() (connections are gone by then: done() finds no one), then
 * frees the pool. */
void gw_pool_destroy(gw_pool *p, struct gw *g);

/* wt_db_run with one reconnect-and-retry when the connection was lost. */
wt_err gw_db_run(wt_db *db, wt_db_stmt *stmts, size_t n, char *errstr,
                 size_t errstr_size);

#endif
