/* wk_batch: decides and writes one batch of consumed commands, exactly
 * once, in one transaction sent as one pipeline.
 *
 *   parse -> (load misses: one round trip, cold only) -> decide -> plan ->
 *   BEGIN; wt_begin_batch (offset guard + duplicate guard); writes;
 *   events; rejections; COMMIT   (one round trip)
 *
 * Slow paths, each bounded: a command decided before (WT208) has its first
 * outcome looked up and re-published; a create whose id turned out to
 * exist (unique violation) has its ids loaded and is decided again.
 * No Kafka I/O here: the outcomes to publish are returned.
 *
 * This is the I/O half; what is decided and written comes from the pure
 * half, wk_decide.h. */
#ifndef WK_BATCH_H
#define WK_BATCH_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "wk_decide.h"
#include "wk_state.h"
#include "wt_config.h"
#include "wt_db.h"
#include "wt_sign.h"

/* Sets m->signer from the message's signature headers (hdrs: its headers,
 * NULL when it has none) checked against keys (NULL: no
 * WT_PRODUCER_KEYS_FILE, nothing checked). m's key and value must be set;
 * the signer borrows from keys. Pure. A command whose signer does not
 * cover its actor (wt_sign_permits) is rejected `forbidden` by the batch
 * before the rules see it, recorded and published like any rejection. */
void wk_msg_check_signer(wk_msg *m, const wt_sign_keys *keys,
                         const rd_kafka_headers_t *hdrs);

typedef struct wk_batch wk_batch;

/* db and st stay the caller's. group and topic name the offsets row. */
wk_batch *wk_batch_new(wt_db *db, wk_state *st, const wt_config *cfg,
                       const char *group, const char *topic);
void wk_batch_destroy(wk_batch *b);

/* Parses msgs ahead of wk_batch_run (optional: run parses what was not).
 * Uses nothing but b: it may run while another wk_batch on the same state
 * and connection is being written. */
void wk_batch_parse(wk_batch *b, const wk_msg *msgs, size_t n);

/* Makes message i of msgs[0..n) a dead letter with reason (parsing msgs
 * first if needed): its run then only moves the position past it and
 * returns it for the DLQ. For a command PostgreSQL keeps refusing. */
void wk_batch_set_dead(wk_batch *b, const wk_msg *msgs, size_t n, size_t i,
                       const char *reason);

/* Decides msgs ahead of wk_batch_run, against the state as the batch
 * before will have left it, without asking PostgreSQL: true when every
 * command could be decided from the caches (none redelivered, nothing to
 * load). The decisions sit in the state's overlay until wk_batch_run
 * writes them; they are void (and run decides again) once the state's
 * epoch moves, e.g. because the batch before failed. The caller owns the
 * state meanwhile: see wk_batch_set_write_hook. */
bool wk_batch_prepare(wk_batch *b, const wk_msg *msgs, size_t n,
                      const wk_positions *pos);

/* fn(ctx, true) just before a batch's transaction is sent, fn(ctx, false)
 * when its answer is in. Between the two, wk_batch_run touches neither the
 * state nor pos: another thread may wk_batch_prepare the next batch. */
void wk_batch_set_write_hook(wk_batch *b, void (*fn)(void *ctx, bool before),
                             void *ctx);

/* Runs msgs[0..n) (n <= WT_BATCH_MAX). On WT_OK the transaction committed,
 * pos advanced and res holds the outcomes. WT_ERR_CONFLICT: another worker
 * owns a partition now (drop the batch). WT_ERR_DB_CONN: PostgreSQL is
 * gone (reconnect, run the same batch again). */
wt_err wk_batch_run(wk_batch *b, const wk_msg *msgs, size_t n,
                    wk_positions *pos, wk_batch_result *res, char *errstr,
                    size_t errstr_size);

/* wk_batch_run in two halves, so that the caller can publish the batch
 * before while this one is written. wk_batch_send sends the first attempt
 * when the batch was prepared (and its epoch holds): true when it is out
 * (the write hook's "before" ran). wk_batch_finish waits for it, or does
 * the whole run when nothing was sent; its result is wk_batch_run's. */
bool wk_batch_send(wk_batch *b, const wk_msg *msgs, size_t n,
                   const wk_positions *pos, wk_batch_result *res);
wt_err wk_batch_finish(wk_batch *b, const wk_msg *msgs, size_t n,
                       wk_positions *pos, wk_batch_result *res, char *errstr,
                       size_t errstr_size);

#endif
