/* wk_decide: the pure half of a batch. No PostgreSQL, no Kafka: it parses
 * the consumed messages, classifies them against the stored positions,
 * collects what the caches lack, decides the fresh commands into the
 * state's overlay and plans the batch's transaction as a list of
 * statements. wk_batch.c is the I/O half: it loads what was collected
 * (converting the rows for wk_state_load_*), sends the statements planned
 * here, reads the answer and retries. tests/unit/test_wk_decide.c tests
 * this half without services.
 *
 * A wk_decide is one batch's working memory, reused from batch to batch
 * (its buffers keep their capacity: no allocation per command but each
 * outcome's own copy). The state (wk_state) stays the caller's. The I/O
 * half reads the fields below; only functions of this module change them,
 * but for wk_decide_set_found. */
#ifndef WK_DECIDE_H
#define WK_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wk_state.h"
#include "wt_buf.h"
#include "wt_command.h"
#include "wt_config.h"
#include "wt_db.h"
#include "wt_err.h"
#include "wt_lru.h"
#include "wt_pgarr.h"
#include "wt_sign.h"

#define WK_MAX_PARTITIONS 1024
/* group and topic names of the offsets row, NUL included */
#define WK_NAME_MAX 128

typedef struct wk_msg {
  int partition;
  int64_t offset;
  const void *key;
  size_t key_len;
  const void *value;
  size_t len;
  /* who signed it (wk_msg_check_signer). Zeroed: WT_SIGN_UNCHECKED, as
   * without WT_PRODUCER_KEYS_FILE: user actors accepted, system not. */
  wt_signer signer;
} wk_msg;

/* next_offset per partition as stored in PostgreSQL: -1 no row yet.
 * floor: where a restart must read again from at the latest (-1: none):
 * the first offset of an earlier batch whose outcomes are not yet
 * confirmed delivered. The batch_start a batch stores is the lower of its
 * own first offset and the floor, so that a crash before the delivery
 * re-publishes those outcomes too. */
typedef struct wk_positions {
  int64_t next[WK_MAX_PARTITIONS];
  int64_t floor[WK_MAX_PARTITIONS];
} wk_positions;

typedef enum wk_out_topic { WK_OUT_EVENTS, WK_OUT_DLQ } wk_out_topic;

typedef struct wk_out {
  wk_out_topic topic;
  char *key; /* NUL-terminated; may be "" */
  char *value;
  size_t len;
} wk_out;

typedef struct wk_batch_result {
  size_t commands, applied, rejected, duplicates, dead;
  size_t by_type[WT_CMD__COUNT][2]; /* [type][0 applied, 1 rejected] */
  /* rejected forbidden for their signer, by wt_sign_refusal (these are
   * in rejected and by_type too) */
  size_t unverified[WT_SIGN_REFUSAL__COUNT];
  uint64_t round_trips;
  bool prepared; /* decided ahead by wk_batch_prepare */
  /* where the time went, milliseconds (all attempts) */
  double ms_parse, ms_load, ms_decide, ms_write;
  wk_out *outs; /* to publish, in order */
  size_t nouts, outs_cap;
} wk_batch_result;

void wk_batch_result_init(wk_batch_result *r);
void wk_batch_result_clear(wk_batch_result *r); /* frees the outs */

/* What a message of the batch is. */
typedef enum wk_msg_state {
  WK_MSG_FRESH,       /* to decide */
  WK_MSG_DEAD,        /* unparseable: to the DLQ */
  WK_MSG_REDELIVERED, /* offset below the stored position: decided before */
  WK_MSG_DECIDED,     /* outcome known (decided before, or a duplicate) */
  WK_MSG_INDUP,       /* same command_id as an earlier message of the batch */
} wk_msg_state;

/* The load round trip: one array literal per id list of wk_need. */
enum {
  WK_LOAD_USER_IDS,
  WK_LOAD_USERNAMES,
  WK_LOAD_PROJECT_IDS,
  WK_LOAD_LOG_IDS,
  WK_LOAD_LISTS
};

/* The write statements without a JSON plan kind (wk_plan): project seq,
 * logs (binary columns), events. */
enum {
  WK_COLS_PROJECTS_UPDATE,
  WK_COLS_LOGS_INSERT,
  WK_COLS_LOGS_UPDATE,
  WK_COLS_LOGS_REPLACE,
  WK_COLS_LOGS_DELETE,
  WK_COLS_EVENTS_INSERT,
  WK_COL_WRITES
};

/* wt_begin_batch's parameters: group, topic, partitions, expected,
 * starts, nexts (text), fresh and rejected command ids (binary uuid[]) */
#define WK_GUARD_PARAMS 8
/* the JSON kinds' rows and keys (two each), then the rejections */
#define WK_WRITE_PARAMS (2 * WK_PLAN_JSON_KINDS + 1)
/* BEGIN, the guard, every write kind, the rejections, COMMIT */
#define WK_WRITE_STMTS_MAX (WK_PLAN_JSON_KINDS + WK_COL_WRITES + 4)

typedef struct wk_decide {
  wk_state *st; /* the caller's */
  int64_t max_log_seconds;
  char group[WK_NAME_MAX];
  char topic[WK_NAME_MAX];
  size_t cap; /* messages per batch (WT_BATCH_MAX) */
  /* per message, [0..cap) */
  wt_command *cmds;
  wk_msg_state *state;
  size_t *dup_of;           /* WK_MSG_INDUP: the message it repeats */
  int *parts_of;            /* its partition */
  wk_collect_mode *collect; /* how its needs are collected */
  bool *rejected;  /* decided: rejected (the guard searches events for it) */
  char **out_json; /* its outcome (or dead letter), owned here */
  wt_lru *ids;     /* command_id -> its first command in cmds */
  size_t parsed;   /* messages wk_decide_parse did ahead of the run */
  wk_need need;
  wk_plan plan;
  /* decide found a rejected create of an id assumed new that a later
   * command names: the batch must be decided again with that id loaded */
  bool reload_created;
  wk_batch_result decided; /* the counts of the decisions */
  /* the positions after this batch (-2: no message of the batch) and the
   * number of partitions it has (wk_decide_offsets) */
  int64_t next[WK_MAX_PARTITIONS];
  size_t nparts;
  /* events_insert's columns: project_id, seq, command_id, type, actor_id,
   * at, data (wk_sql.h) */
  wt_pgrows events;
  wt_buf rejections; /* rejections_insert's JSON array */
  wt_buf lookup_ids; /* "{...}": the commands whose first outcome is asked */
  wt_buf lit[WK_LOAD_LISTS];
  wt_buf parts, expected, starts, nexts; /* the guard's array literals */
  /* wt_begin_batch's guard: binary uuid[] (a thousand ids as text were
   * PostgreSQL's uuid and array parsing on every batch) */
  wt_pgarr fresh_ids, rejected_ids;
  /* decide's builders: a command's data and its outcome, reused */
  wt_buf data_json, outcome;
  /* the planned statements' parameter arrays (wk_decide_write_plan) */
  const char *guard[WK_GUARD_PARAMS];
  int guard_len[WK_GUARD_PARAMS];
  const char *wparams[WK_WRITE_PARAMS];
  const char *load_params[WK_LOAD_LISTS + 1];
} wk_decide;

/* group and topic name the offsets row (and topic the dead letters);
 * st stays the caller's. false: out of memory (then wk_decide_free). */
bool wk_decide_init(wk_decide *d, wk_state *st, const wt_config *cfg,
                    const char *group, const char *topic);
void wk_decide_free(wk_decide *d);

/* Parses msgs[0..n) (n <= cap): dead letters, duplicates within the batch,
 * the rest fresh. Touches nothing but d. */
void wk_decide_parse(wk_decide *d, const wk_msg *msgs, size_t n);
/* Makes message i a dead letter with reason (parsing first if needed). */
void wk_decide_set_dead(wk_decide *d, const wk_msg *msgs, size_t n, size_t i,
                        const char *reason);
/* Messages below a partition's stored position were decided before. */
void wk_decide_classify(wk_decide *d, const wk_msg *msgs, size_t n,
                        const wk_positions *pos);
/* What the commands to decide need that the caches lack, into d->need
 * (and what they use pinned): see wk_state_collect. lookup_fresh: the
 * fresh commands' first outcomes are looked up in the same round trip. */
void wk_decide_collect(wk_decide *d, const wk_msg *msgs, size_t n, bool verify,
                       bool lookup_fresh);
/* The statements that load what the commands to decide need (d->need, see
 * wk_state_collect) and the first outcomes of the commands that may have
 * been decided before (redelivered ones; with lookup_fresh the fresh ones
 * too), into s[0..WK_LOAD_LISTS + 2); returns how many, 0 when nothing is
 * missing. idx[k] (k: WK_LOAD_USER_IDS for users, _PROJECT_IDS, _LOG_IDS,
 * WK_LOAD_LISTS for the events, + 1 the rejections) is the statement's
 * index in s, or -1. */
size_t wk_decide_load_plan(wk_decide *d, const wk_msg *msgs, size_t n,
                           bool verify, bool lookup_fresh, wt_db_stmt *s,
                           int idx[WK_LOAD_LISTS + 2]);
/* The first outcome of message i, found decided before: json is the
 * outcome (ownership to d; NULL: its builder ran out of memory, wk_oom). */
void wk_decide_set_found(wk_decide *d, size_t i, char *json);
/* After the look-up: a redelivered command not found was never decided. */
void wk_decide_lookup_done(wk_decide *d, size_t n);
/* Decides every fresh command at time now (microseconds) into the
 * overlay and the outcome rows, and plans the writes. false: a parameter
 * hit its cap (the overlay is discarded). */
bool wk_decide_run(wk_decide *d, const wk_msg *msgs, size_t n, int64_t now);
/* The batch's partitions with their expected, start and next offsets
 * (d->next, d->nparts and the guard's literals); returns d->nparts. */
size_t wk_decide_offsets(wk_decide *d, const wk_msg *msgs, size_t n,
                         const wk_positions *pos);
/* The batch's transaction, decided and offset, as statements into
 * s[0..WK_WRITE_STMTS_MAX): BEGIN, wt_begin_batch, the writes in
 * dependency order, the rejections, COMMIT. Their parameters point into d
 * (valid until the next batch). WT_ERR_NOMEM: the guard is over its cap. */
wt_err wk_decide_write_plan(wk_decide *d, size_t n, wt_db_stmt *s, size_t *ns,
                            char *errstr, size_t errstr_size);
/* A committed batch: pos advances, res gets the outcomes in message order
 * (moved out of d, copied only when a duplicate shares one) and counts. */
void wk_decide_outcomes(wk_decide *d, const wk_msg *msgs, size_t n,
                        wk_positions *pos, wk_batch_result *res);

#endif
