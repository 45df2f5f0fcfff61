/* bench/db_round_trips: why the worker batches. Inserts the same N rows
 * three ways through the instrumented DB layer, side by side in one run:
 *   single:    one INSERT per round trip (inside one transaction)
 *   pipelined: the same INSERTs, 64 per round trip
 *   set:       one INSERT ... unnest(arrays) per 1000 rows
 * and prints rows/s, round trips and the ratios between them.
 *   db_round_trips DATABASE_URL [N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wt_db.h"

#define PIPE 64
#define SET_ROWS 1000

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char SQL_INS[] =
    "INSERT INTO bench_rt (id, v) VALUES ($1::int, $2)";
static const char SQL_SET[] = "INSERT INTO bench_rt (id, v) SELECT * FROM "
                              "unnest($1::int[], $2::text[])";

static int must(wt_err e, const char *what, const char *err) {
  if (e != WT_OK) {
    fprintf(stderr, "%s: %s\n", what, err);
    exit(1);
  }
  return 0;
}

static void reset(wt_db *db) {
  char err[512];
  must(wt_db_exec(db, "truncate", "TRUNCATE bench_rt", 0, NULL, NULL, err,
                  sizeof(err)),
       "truncate", err);
}

static void tx(wt_db *db, const char *sql) {
  char err[512];
  must(wt_db_exec(db, sql, sql, 0, NULL, NULL, err, sizeof(err)), sql, err);
}

static double run_single(wt_db *db, int n) {
  char id[16], err[512];
  const char *p[2] = {id, "value"};
  double t0 = now_s();
  tx(db, "BEGIN");
  for (int i = 0; i < n; i++) {
    snprintf(id, sizeof(id), "%d", i);
    must(wt_db_exec(db, "ins", SQL_INS, 2, p, NULL, err, sizeof(err)), "ins",
         err);
  }
  tx(db, "COMMIT");
  return now_s() - t0;
}

static double run_pipelined(wt_db *db, int n) {
  static char ids[PIPE][16];
  static const char *params[PIPE][2];
  wt_db_stmt s[PIPE];
  char err[512];
  double t0 = now_s();
  tx(db, "BEGIN");
  for (int i = 0; i < n; i += PIPE) {
    int k = n - i < PIPE ? n - i : PIPE;
    for (int j = 0; j < k; j++) {
      snprintf(ids[j], sizeof(ids[j]), "%d", i + j);
      params[j][0] = ids[j];
      params[j][1] = "value";
      s[j] = (wt_db_stmt){
          .name = "ins", .sql = SQL_INS, .nparams = 2, .params = params[j]};
    }
    must(wt_db_run(db, s, (size_t)k, err, sizeof(err)), "pipeline", err);
    wt_db_stmts_clear(s, (size_t)k);
  }
  tx(db, "COMMIT");
  return now_s() - t0;
}

static double run_set(wt_db *db, int n) {
  char *ids = malloc((size_t)SET_ROWS * 12 + 3);
  char *vals = malloc((size_t)SET_ROWS * 6 + 3);
  char err[512];
  double t0 = now_s();
  tx(db, "BEGIN");
  for (int i = 0; i < n; i += SET_ROWS) {
    int k = n - i < SET_ROWS ? n - i : SET_ROWS;
    size_t a = 0, b = 0;
    const char *p[2] = {ids, vals};
    ids[a++] = '{';
    vals[b++] = '{';
    for (int j = 0; j < k; j++) {
      a += (size_t)sprintf(ids + a, j ? ",%d" : "%d", i + j);
      b += (size_t)sprintf(vals + b, j ? ",value" : "value");
    }
    ids[a++] = '}';
    ids[a] = '\0';
    vals[b++] = '}';
    vals[b] = '\0';
    must(wt_db_exec(db, "ins_set", SQL_SET, 2, p, NULL, err, sizeof(err)),
         "set", err);
  }
  tx(db, "COMMIT");
  free(ids);
  free(vals);
  return now_s() - t0;
}

typedef double (*run_fn)(wt_db *, int);

int main(int argc, char **argv) {
  static const char *const names[3] = {"single", "pipelined", "set"};
  static const run_fn runs[3] = {run_single, run_pipelined, run_set};
  double best[3] = {1e9, 1e9, 1e9};
  uint64_t trips[3] = {0};
  wt_db *db = NULL;
  char err[512];
  int n;

  if (argc < 2 || strcmp(argv[1], "--help") == 0) {
    fprintf(argc < 2 ? stderr : stdout,
            "Usage: db_round_trips DATABASE_URL [ROWS]\n"
            "Inserts ROWS (default 20000) rows one per round trip, pipelined "
            "and set-based,\nand prints rows/s and the ratios.\n");
    return argc < 2 ? 2 : 0;
  }
  n = argc > 2 ? atoi(argv[2]) : 20000;
  if (n < 1 || n > 10000000) {
    fprintf(stderr, "ROWS: 1..10000000\n");
    return 2;
  }
  must(wt_db_connect(argv[1], "bench", false, &db, err, sizeof(err)), "connect",
       err);
  tx(db, "DROP TABLE IF EXISTS bench_rt");
  tx(db, "CREATE TABLE bench_rt (id int PRIMARY KEY, v text)");
  /* interleaved rounds: the machine's noise hits all three alike */
  for (int round = 0; round < 3; round++) {
    for (int m = 0; m < 3; m++) {
      wt_db_counters before, after;
      double t;
      reset(db);
      wt_db_get_counters(db, &before);
      t = runs[m](db, n);
      wt_db_get_counters(db, &after);
      if (t < best[m])
        best[m] = t;
      trips[m] = after.round_trips - before.round_trips;
    }
  }
  tx(db, "DROP TABLE bench_rt");
  printf("rows=%d\n", n);
  for (int m = 0; m < 3; m++)
    printf("%s_rows_per_s=%.0f\n%s_round_trips=%llu\n", names[m], n / best[m],
           names[m], (unsigned long long)trips[m]);
  printf("ratio_pipelined_to_single=%.2f\n", best[0] / best[1]);
  printf("ratio_set_to_single=%.2f\n", best[0] / best[2]);
  wt_db_destroy(db);
  return 0;
}
