#include "wt_migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wt_log.h"

/* pg_advisory_lock key: "wtmigrat" as bytes, any constant would do */
#define MIGRATE_LOCK_KEY "8675309000000001"

int wt_migrate_parse_name(const char *f, int *version) {
  size_t n = strlen(f);
  int v = 0;
  if (n < 10 || n >= WT_MIGRATE_NAME_MAX || strcmp(f + n - 4, ".sql") != 0 ||
      f[4] != '_')
    return -1;
  for (int i = 0; i < 4; i++) {
    if (!isdigit((unsigned char)f[i]))
      return -1;
    v = v * 10 + (f[i] - '0');
  }
  for (size_t i = 5; i < n - 4; i++)
    if (!islower((unsigned char)f[i]) && !isdigit((unsigned char)f[i]) &&
        f[i] != '_')
      return -1;
  if (v == 0)
    return -1;
  *version = v;
  return 0;
}

static int by_version(const void *a, const void *b) {
  const wt_migration *x = a, *y = b;
  return (x->version > y->version) - (x->version < y->version);
}

wt_err wt_migrate_plan(wt_migration *files, size_t nfiles,
                       const wt_migration *applied, size_t napplied,
                       size_t *pending, size_t *npending, char *errstr,
                       size_t errstr_size) {
  *npending = 0;
  qsort(files, nfiles, sizeof(*files), by_version);
  for (size_t i = 1; i < nfiles; i++) {
    if (files[i].version == files[i - 1].version) {
      wt_errf(errstr, errstr_size, "%s and %s share version %04d",
              files[i - 1].name, files[i].name, files[i].version);
      return WT_ERR_INVALID;
    }
  }
  for (size_t a = 0; a < napplied; a++) {
    const wt_migration *f = NULL;
    for (size_t i = 0; i < nfiles && !f; i++)
      if (files[i].version == applied[a].version)
        f = &files[i];
    if (!f) {
      wt_errf(errstr, errstr_size,
              "applied migration %04d (%s) has no file: refusing to go on",
              applied[a].version, applied[a].name);
      return WT_ERR_CONFLICT;
    }
    if (strcmp(f->checksum, applied[a].checksum) != 0 ||
        strcmp(f->name, applied[a].name) != 0) {
      wt_errf(errstr, errstr_size,
              "migration %s changed after it was applied (sha256 %.12s..., "
              "applied as %s with %.12s...): refusing to go on; add a new "
              "migration instead",
              f->name, f->checksum, applied[a].name, applied[a].checksum);
      return WT_ERR_CONFLICT;
    }
  }
  for (size_t i = 0; i < nfiles; i++) {
    bool done = false;
    for (size_t a = 0; a < napplied && !done; a++)
      done = applied[a].version == files[i].version;
    if (!done)
      pending[(*npending)++] = i;
  }
  return WT_OK;
}

static void sha256_hex(const void *data, size_t len, char out[65]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
  for (unsigned int i = 0; i < mdlen && i < 32; i++)
    snprintf(out + (size_t)2 * i, 3, "%02x", md[i]);
  out[64] = '\0';
}

static char *read_file(const char *path, size_t *len, char *errstr,
                       size_t errstr_size) {
  FILE *f = fopen(path, "rb");
  char *buf;
  size_t n;
  if (!f) {
    wt_errf(errstr, errstr_size, "%s: %s", path, strerror(errno));
    return NULL;
  }
  buf = malloc(WT_MIGRATE_MAX_BYTES + 1);
  if (!buf) {
    fclose(f);
    wt_errf(errstr, errstr_size, "out of memory");
    return NULL;
  }
  n = fread(buf, 1, WT_MIGRATE_MAX_BYTES + 1, f);
  fclose(f);
  if (n > WT_MIGRATE_MAX_BYTES) {
    wt_errf(errstr, errstr_size, "%s: larger than %zu bytes", path,
            WT_MIGRATE_MAX_BYTES);
    free(buf);
    return NULL;
  }
  buf[n] = '\0';
  if (strlen(buf) != n) {
    wt_errf(errstr, errstr_size, "%s: contains a NUL byte", path);
    free(buf);
    return NULL;
  }
  *len = n;
  return buf;
}

/* Lists dir's migrations with their checksums. */
static wt_err scan_dir(const char *dir, wt_migration *files, size_t *nfiles,
                       char *errstr, size_t errstr_size) {
  DIR *d = opendir(dir);
  struct dirent *de;
  wt_err err = WT_OK;
  *nfiles = 0;
  if (!d) {
    wt_errf(errstr, errstr_size, "migrations folder %s: %s", dir,
            strerror(errno));
    return WT_ERR_IO;
  }
  while ((de = readdir(d)) != NULL) {
    char path[4096];
    size_t len;
    char *text;
    int version;
    if (de->d_name[0] == '.' || strlen(de->d_name) < 4 ||
        strcmp(de->d_name + strlen(de->d_name) - 4, ".sql") != 0)
      continue;
    if (wt_migrate_parse_name(de->d_name, &version) != 0) {
      wt_errf(errstr, errstr_size,
              "%s/%s: a migration is named NNNN_[a-z0-9_]+.sql", dir,
              de->d_name);
      err = WT_ERR_INVALID;
      break;
    }
    if (*nfiles == WT_MIGRATE_MAX_FILES) {
      wt_errf(errstr, errstr_size, "more than %d migrations",
              WT_MIGRATE_MAX_FILES);
      err = WT_ERR_INVALID;
      break;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
    text = read_file(path, &len, errstr, errstr_size);
    if (!text) {
      err = WT_ERR_IO;
      break;
    }
    files[*nfiles].version = version;
    /* parse_name capped the length below WT_MIGRATE_NAME_MAX */
    memcpy(files[*nfiles].name, de->d_name, strlen(de->d_name) + 1);
    sha256_hex(text, len, files[*nfiles].checksum);
    free(text);
    (*nfiles)++;
  }
  closedir(d);
  return err;
}

static const char SQL_LOCK[] = "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")";
static const char SQL_UNLOCK[] =
    "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")";
static const char SQL_CREATE[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY, name text NOT NULL,"
    " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())";
static const char SQL_APPLIED[] =
    "SELECT version, name, checksum FROM schema_migrations ORDER BY version";
static const char SQL_RECORD[] =
    "INSERT INTO schema_migrations (version, name, checksum)"
    " VALUES ($1::int, $2, $3)";

static wt_err apply_one(wt_db *db, const char *dir, const wt_migration *m,
                        char *errstr, size_t errstr_size) {
  char path[4096], version[16];
  const char *params[3] = {version, m->name, m->checksum};
  char checksum[65];
  size_t len;
  char *text;
  wt_err err;
  wt_db_stmt script = {.name = "migrate_script", .script = true};
  wt_db_stmt finish[2] = {
      {.name = "migrate_record",
       .sql = SQL_RECORD,
       .nparams = 3,
       .params = params},
      {.name = "commit", .sql = "COMMIT"},
  };

  snprintf(path, sizeof(path), "%s/%s", dir, m->name);
  snprintf(version, sizeof(version), "%d", m->version);
  text = read_file(path, &len, errstr, errstr_size);
  if (!text)
    return WT_ERR_IO;
  sha256_hex(text, len, checksum);
  if (strcmp(checksum, m->checksum) != 0) {
    wt_errf(errstr, errstr_size, "%s changed while migrating", m->name);
    free(text);
    return WT_ERR_CONFLICT;
  }
  err = wt_db_exec(db, "begin", "BEGIN", 0, NULL, NULL, errstr, errstr_size);
  if (err != WT_OK)
    goto out;
  script.sql = text;
  err = wt_db_run(db, &script, 1, errstr, errstr_size);
  wt_db_stmts_clear(&script, 1);
  if (err == WT_OK) {
    err = wt_db_run(db, finish, 2, errstr, errstr_size);
    wt_db_stmts_clear(finish, 2);
  }
  if (err != WT_OK) {
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", errstr ? errstr : "");
    if (wt_db_txn_status(db) != PQTRANS_UNKNOWN)
      (void)wt_db_exec(db, "rollback", "ROLLBACK", 0, NULL, NULL, NULL, 0);
    wt_errf(errstr, errstr_size, "%s: %s", m->name, msg);
    goto out;
  }
  WT_INFO("migration applied version=%d name=%s sha256=%.12s", m->version,
          m->name, m->checksum);
out:
  free(text);
  return err;
}

wt_err wt_migrate_run(wt_db *db, const char *dir, size_t *applied_out,
                      char *errstr, size_t errstr_size) {
  wt_migration *files = calloc(WT_MIGRATE_MAX_FILES, sizeof(*files));
  wt_migration *applied = calloc(WT_MIGRATE_MAX_FILES, sizeof(*applied));
  size_t *pending = calloc(WT_MIGRATE_MAX_FILES, sizeof(*pending));
  size_t nfiles = 0, napplied = 0, npending = 0, done = 0;
  bool locked = false;
  wt_db_stmt start[3] = {
      {.name = "migrate_lock", .sql = SQL_LOCK},
      {.name = "migrate_create_table", .sql = SQL_CREATE},
      {.name = "migrate_applied", .sql = SQL_APPLIED},
  };
  wt_err err;

  if (applied_out)
    *applied_out = 0;
  if (!files || !applied || !pending) {
    wt_errf(errstr, errstr_size, "out of memory");
    err = WT_ERR_NOMEM;
    goto out;
  }
  err = scan_dir(dir, files, &nfiles, errstr, errstr_size);
  if (err != WT_OK)
    goto out;
  /* one round trip: lock, make sure the table exists, read it */
  err = wt_db_run(db, start, 3, errstr, errstr_size);
  locked =
      start[0].result && PQresultStatus(start[0].result) == PGRES_TUPLES_OK;
  if (err != WT_OK)
    goto out;
  napplied = (size_t)PQntuples(start[2].result);
  if (napplied > WT_MIGRATE_MAX_FILES) {
    wt_errf(errstr, errstr_size, "schema_migrations has %zu rows", napplied);
    err = WT_ERR_INVALID;
    goto out;
  }
  for (size_t i = 0; i < napplied; i++) {
    applied[i].version = atoi(PQgetvalue(start[2].result, (int)i, 0));
    snprintf(applied[i].name, sizeof(applied[i].name), "%s",
             PQgetvalue(start[2].result, (int)i, 1));
    snprintf(applied[i].checksum, sizeof(applied[i].checksum), "%s",
             PQgetvalue(start[2].result, (int)i, 2));
  }
  err = wt_migrate_plan(files, nfiles, applied, napplied, pending, &npending,
                        errstr, errstr_size);
  if (err != WT_OK)
    goto out;
  for (size_t i = 0; i < npending; i++) {
    err = apply_one(db, dir, &files[pending[i]], errstr, errstr_size);
    if (err != WT_OK)
      goto out;
    done++;
  }
  if (npending == 0)
    WT_INFO("migrations up to date applied=%zu", napplied);
out:
  wt_db_stmts_clear(start, 3);
  if (locked && wt_db_txn_status(db) == PQTRANS_IDLE)
    (void)wt_db_exec(db, "migrate_unlock", SQL_UNLOCK, 0, NULL, NULL, NULL, 0);
  if (applied_out)
    *applied_out = done;
  free(files);
  free(applied);
  free(pending);
  return err;
}
