/* wt_migrate: applies migrations/NNNN_name.sql in order.
 *
 * Each pending file runs in its own transaction, all of it under a session
 * advisory lock, and is recorded in schema_migrations with its SHA-256. A
 * re-run is a no-op. An applied file that changed, vanished or shares its
 * number with another is refused before anything runs.
 *
 * wt_migrate_plan() is the pure part (tested without a database);
 * wt_migrate_run() reads the folder and talks to PostgreSQL via wt_db. */
#ifndef WT_MIGRATE_H
#define WT_MIGRATE_H

#include <stddef.h>

#include "wt_db.h"
#include "wt_err.h"

#define WT_MIGRATE_MAX_FILES 1000
#define WT_MIGRATE_NAME_MAX 128
#define WT_MIGRATE_MAX_BYTES ((size_t)4 * 1024 * 1024)

typedef struct wt_migration {
  int version;                    /* NNNN */
  char name[WT_MIGRATE_NAME_MAX]; /* the file name */
  char checksum[65];              /* SHA-256, lowercase hex */
} wt_migration;

/* "0001_init.sql" -> version 1. Returns 0, or -1 when the name is not
 * NNNN_[a-z0-9_]+.sql. */
int wt_migrate_parse_name(const char *file_name, int *version);

/* files: the folder's migrations (any order; sorted in place by version).
 * applied: rows of schema_migrations. On success pending[] receives
 * indexes into files of those to apply, in order. */
wt_err wt_migrate_plan(wt_migration *files, size_t nfiles,
                       const wt_migration *applied, size_t napplied,
                       size_t *pending, size_t *npending, char *errstr,
                       size_t errstr_size);

/* Applies the pending migrations of dir. *applied_out (may be NULL)
 * receives how many ran. */
wt_err wt_migrate_run(wt_db *db, const char *dir, size_t *applied_out,
                      char *errstr, size_t errstr_size);

#endif
