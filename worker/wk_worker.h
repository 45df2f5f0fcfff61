/* wk_worker: the wt-worker process's shared state, between its main
 * thread (wk_main.c: Kafka consumer, partitions, collecting and deciding
 * batches ahead) and its runner thread (wk_runner.c: writing batches,
 * publishing outcomes). Internal to the program.
 *
 * Out of memory: one policy for every file of worker/ (docs/worker.md says
 * it for operators).
 *   - Starting (the _new/_init constructors, wk_main.c's setup): a failed
 *     allocation returns NULL or an error up to main, which exits 1 saying
 *     "out of memory".
 *   - Running (a batch: parse, load, decide, plan, outcomes; the caches):
 *     a failed malloc/calloc/realloc/strdup calls wk_oom(__func__)
 *     (wk_oom.h), the one handler: one ERROR line, then abort(). A half
 *     decided batch is never unwound by hand: nothing of it is committed,
 *     and the restarted worker reads again from the positions stored in
 *     PostgreSQL (exactly once holds, as after any crash: see chaos).
 *     No bare abort() for memory, no error code for it either.
 *   - WT_ERR_NOMEM from the worker means a hard cap, not malloc: a wt_buf
 *     or wt_pgarr over its cap (a client can grow those), e.g. a batch's
 *     parameters past 256 MiB. The batch is refused, retried, then written
 *     one command at a time, and a command still over goes to the DLQ
 *     (wk_runner.c isolate). wt_buf cannot tell its cap from a failed
 *     realloc; both take this path, which is safe either way.
 *   - abort() stays only for a broken invariant (a bug), said so where. */
#ifndef WK_WORKER_H
#define WK_WORKER_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "wk_batch.h"
#include "wk_floors.h"
#include "wk_metrics.h"
#include "wt_config.h"
#include "wt_kafka.h"

#define WK_BACKOFF_MAX_MS 5000

typedef struct wk_slot {
  rd_kafka_message_t **msgs;
  wk_msg *view; /* msgs as the batch sees them */
  size_t n;
  wk_batch *batch;
  uint64_t seq; /* which job it is (consume counts them) */
  wk_batch_result res;
  uint64_t statements; /* the batch's SQL statements, for the metrics */
  /* wk_now_ms() when the runner began on it: took it, or sent it while
   * publishing the batch before (not when its messages came) */
  double started_ms;
} wk_slot;

#define WK_SLOTS 3 /* one collected, one written, one sent next */

typedef struct wk_worker {
  wt_config cfg;
  char group[96]; /* "<prefix>-worker": wt-worker for the default prefix */
  wt_kafka_topics topics;
  wt_db *db;
  wk_state *st;
  wk_batch *batch;
  wk_metrics *metrics;
  /* the producers whose signed commands are trusted (WT_PRODUCER_KEYS_FILE,
   * read at start); NULL: none, signatures unchecked. Read-only. */
  wt_sign_keys *keys;
  rd_kafka_t *consumer, *producer;
  wk_positions pos;
  bool assigned[WK_MAX_PARTITIONS];
  /* Batches in turn: the main thread collects, parses and decides ahead
   * (wk_batch_prepare) one while the runner thread writes the one before
   * and publishes the one before that; the runner sends batch k+1 as soon
   * as batch k's answer is in, and publishes k while k+1 is written. */
  wk_slot slots[WK_SLOTS];
  int collecting; /* index of the slot being collected */
  pthread_t runner;
  bool runner_started;
  /* setup is done (main thread, before the runner starts: a lost
   * PostgreSQL is a WARN from then on; start_ms below) */
  bool running;
  /* the consumer has joined its group (the first assignment; false again
   * when it failed for good): read by the metrics thread */
  atomic_bool joined;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  wk_slot *queue[2]; /* handed to the runner, oldest first */
  size_t nqueued;
  uint64_t submitted; /* jobs handed to the runner */
  uint64_t active;    /* the job the runner sends or finishes */
  uint64_t committed; /* the newest job whose decisions are in the caches */
  double start_ms;    /* wk_now_ms() when setup began */
  /* The state (caches, overlay) and the positions belong to whoever holds
   * state_lock: the runner while it decides and finishes a batch; while
   * the batch's transaction is out (wk_batch_set_write_hook) the main
   * thread may take it to decide the next batch ahead (wk_batch_prepare).
   * Order: state_lock before lock. */
  pthread_mutex_t state_lock;
  bool confirming; /* the runner waits for the last outcomes' delivery */
  bool quit;
  bool fatal; /* the consumer failed for good (main thread): exit 1 */
  /* the runner met a moved position (WT409): the main thread goes back to
   * the stored positions (wk_main.c do_resync); until then the runner
   * takes no job */
  bool resync_needed;
  int failed_deliveries;
  /* outcomes produced whose delivery report has not come (runner) */
  size_t undelivered;
  /* a confirmation may have left rows to settle (runner: wk_runner.c
   * settle_rows) */
  bool settle_due;
  /* The last written batch's outcomes: produced, their delivery not yet
   * confirmed (the runner confirms them when their delivery reports are
   * in, looked at before it sends a batch, or when it goes idle). */
  wk_batch_result pending;
  bool has_pending;
  /* the committed batches whose outcomes are unconfirmed; pos.floor is
   * kept from them (wk_floors.h) */
  wk_floors floors;
} wk_worker;

/* set by the signal handler, read by both threads (lock-free atomic) */
extern atomic_int wk_stop_requested;

void wk_sleep_ms(long ms);
double wk_now_ms(void); /* CLOCK_MONOTONIC */
/* (Re)connects to PostgreSQL with capped backoff; false: stopping. */
bool wk_db_ready(wk_worker *w);
/* Destroys the slot's messages of one partition (-1: all of them). */
void wk_drop_messages(wk_slot *b, int partition);
/* Forgets what was decided ahead for a batch that will not run. */
void wk_drop_speculation(wk_worker *w);

/* --- wk_runner.c ---------------------------------------------------------- */

/* The runner thread (arg: the worker): takes the queued batches in turn,
 * sends each as soon as the one before is answered, publishes. */
void *wk_runner_main(void *arg);
/* wk_batch's write hook: the state is free for the main thread while a
 * batch's transaction is out. */
void wk_on_write(void *ctx, bool before);
/* The producer's delivery report callback. */
void wk_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

#endif
