/* wt_db: the instrumented PostgreSQL layer. Every SQL statement of
 * Worktracker goes through wt_db_run() (or its two halves wt_db_send() and
 * wt_db_wait()), which
 *   - sends only parameterised statements (scripts without parameters are
 *     allowed for migrations, flagged as such),
 *   - sends a list of statements in one libpq pipeline: one round trip,
 *   - prepares each named statement once per connection, inside the same
 *     pipeline as its first use (no extra round trip),
 *   - counts statements, round trips, rows, errors and time per component
 *     and statement name (wt_db_stats_*), and with log_sql logs each
 *     statement: name, rows, microseconds. Parameters are never logged.
 *
 * A wt_db handle is used by one thread at a time; the stats registry is
 * shared and locked. */
#ifndef WT_DB_H
#define WT_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wt_err.h"

#define WT_DB_MAX_PIPELINE 64  /* statements in one wt_db_run at most */
#define WT_DB_MAX_PREPARED 256 /* named statements prepared per connection */
#define WT_DB_STATS_MAX 512    /* (component, name) pairs tracked */
#define WT_DB_NAME_MAX 64      /* statement name length cap */
#define WT_DB_COMPONENT_MAX 32

typedef struct wt_db wt_db;

typedef struct wt_db_stmt {
  const char *name;          /* stats key and prepared-statement name */
  const char *sql;           /* $1..$n placeholders */
  const char *const *params; /* text values; a NULL entry is SQL NULL */
  /* optional, both or neither: per parameter its byte length and format
   * (0 text, 1 binary: see wt_pgarr); NULL: all text */
  const int *lengths;
  const int *formats;
  PGresult *result; /* out: owned by the caller, PQclear it */
  int nparams;      /* 0..65535 */
  bool script;      /* no params, several statements (migrations) */
} wt_db_stmt;

/* Connects; component names the stats bucket ("worker", "gateway", ...).
 * On success *out owns the connection. */
wt_err wt_db_connect(const char *url, const char *component, bool log_sql,
                     wt_db **out, char *errstr, size_t errstr_size);
void wt_db_destroy(wt_db *db);

/* The one instrumented function. Runs stmts[0..n) in order in one round
 * trip; on return every stmts[i].result is set (NULL only for statements
 * not sent). WT_OK when all succeeded; WT_ERR_DB with the server's message
 * for the first failure (later statements of the pipeline are aborted);
 * WT_ERR_DB_CONN when the connection is lost (see wt_db_reconnect). */
wt_err wt_db_run(wt_db *db, wt_db_stmt *stmts, size_t n, char *errstr,
                 size_t errstr_size);

/* wt_db_run in two halves, so that the caller can work while PostgreSQL
 * does (the worker decides its next batch meanwhile): wt_db_send queues
 * and flushes the pipeline, wt_db_wait reads its results into the same
 * stmts (which must stay valid in between; the parameters need not). At
 * most one pipeline is in flight per connection; nothing else may use the
 * connection until wt_db_wait. Counting and logging as wt_db_run (which
 * is send + wait; scripts only run through it). */
wt_err wt_db_send(wt_db *db, wt_db_stmt *stmts, size_t n, char *errstr,
                  size_t errstr_size);
wt_err wt_db_wait(wt_db *db, wt_db_stmt *stmts, size_t n, char *errstr,
                  size_t errstr_size);
/* One statement: a wrapper around wt_db_run. *res (res may be NULL to drop
 * it) is the result on WT_OK, the caller's to PQclear, and NULL otherwise:
 * the error is in errstr. */
wt_err wt_db_exec(wt_db *db, const char *name, const char *sql, int nparams,
                  const char *const *params, PGresult **res, char *errstr,
                  size_t errstr_size);

/* url (a URI or conninfo) as a conninfo string naming database dbname
 * instead (tests and benchmarks make databases of their own). */
wt_err wt_db_conninfo_with_dbname(const char *url, const char *dbname,
                                  char *out, size_t out_size, char *errstr,
                                  size_t errstr_size);

/* Clears the results of stmts[0..n). */
void wt_db_stmts_clear(wt_db_stmt *stmts, size_t n);

/* Re-establishes a lost connection; prepared statements are forgotten. */
wt_err wt_db_reconnect(wt_db *db, char *errstr, size_t errstr_size);

/* The server's transaction status (PQTRANS_IDLE, PQTRANS_INTRANS, ...). */
PGTransactionStatusType wt_db_txn_status(const wt_db *db);
PGconn *wt_db_conn(wt_db *db);

/* Counters of one connection since it was opened. */
typedef struct wt_db_counters {
  uint64_t round_trips;
  uint64_t statements;
  uint64_t prepares;
  uint64_t rows;
  uint64_t errors;
  uint64_t micros;
} wt_db_counters;
void wt_db_get_counters(const wt_db *db, wt_db_counters *out);

/* Process-wide counters of one statement name within a component. */
typedef struct wt_db_stat {
  uint64_t calls;
  uint64_t rows;
  uint64_t errors;
  /* each statement's own time (wt_db_step_us), so that the statements of
   * one pipeline add up to its round trip */
  uint64_t micros;
} wt_db_stat;
/* Statements of one pipeline share a start: the i-th result comes in
 * at_us after the send (what WT_LOG_SQL logs as us=, growing along the
 * pipeline). The time a statement counts in wt_db_statement_seconds_total
 * is the increment from the result before it (prev_at_us; 0 for the
 * first), not at_us, which would count a pipeline's early part once per
 * statement after it. Pure. */
uint64_t wt_db_step_us(uint64_t at_us, uint64_t prev_at_us);
/* Returns 0 and fills out, or -1 when the pair was never run. */
int wt_db_stats_get(const char *component, const char *name, wt_db_stat *out);
/* Round trips of a component, process-wide. */
uint64_t wt_db_stats_round_trips(const char *component);
/* Prometheus text of all stats; returns the length it needed (snprintf). */
size_t wt_db_stats_prometheus(char *buf, size_t size);
void wt_db_stats_reset(void);

#endif
