/* wk_floors: where a restart must read again from, per partition, while
 * committed batches' outcomes are not yet confirmed delivered.
 *
 * The runner sends batch k+1 as soon as batch k's transaction answered,
 * publishes k's outcomes while k+1 is written, and confirms them (the
 * broker has them) before it publishes k+1's. So when a batch is sent, two
 * committed batches may have unconfirmed outcomes: the one published last
 * (pending) and the one just finished (unpublished). The batch_start a
 * batch stores is the lower of its own first offset and the floor, the
 * minimum over both: a crash then replays, and re-publishes, them too.
 * Pure bookkeeping, no I/O. */
#ifndef WK_FLOORS_H
#define WK_FLOORS_H

#include <stddef.h>
#include <stdint.h>

#include "wk_batch.h"

typedef struct wk_floors {
  int64_t pending[WK_MAX_PARTITIONS];     /* -1: none */
  int64_t unpublished[WK_MAX_PARTITIONS]; /* -1: none */
} wk_floors;

void wk_floors_init(wk_floors *f);
/* A batch committed (call before the next batch is sent). */
void wk_floors_finished(wk_floors *f, const wk_msg *msgs, size_t n);
/* The pending batch's outcomes are confirmed delivered. */
void wk_floors_confirmed(wk_floors *f);
/* The finished batch's outcomes were produced: it is now the pending one
 * (the one before must have been confirmed). */
void wk_floors_published(wk_floors *f);
/* A revoked partition. */
void wk_floors_forget(wk_floors *f, int partition);
/* The floor of every partition into out (wk_positions.floor). */
void wk_floors_apply(const wk_floors *f, int64_t *out);

#endif
