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
 *
 * A partition's stored row changes only with a batch that holds new
 * messages of it, so once its outcomes are confirmed the row still starts
 * at the old floor until then: a partition that the batches left (Kafka
 * hands out a backlog in runs of one partition) would be read again from
 * there after a crash. Such rows are "stale" until the runner moves their
 * batch_start up to next_offset (wk_floors_settled, wk_runner.c).
 * Pure bookkeeping, no I/O. */
#ifndef WK_FLOORS_H
#define WK_FLOORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wk_batch.h"

typedef struct wk_floors {
  int64_t pending[WK_MAX_PARTITIONS];     /* -1: none */
  int64_t unpublished[WK_MAX_PARTITIONS]; /* -1: none */
  /* a batch of the partition committed since its row was last settled:
   * the stored batch_start may lie below next_offset */
  bool stale[WK_MAX_PARTITIONS];
} wk_floors;

void wk_floors_init(wk_floors *f);
/* A batch committed (call before the next batch is sent). */
void wk_floors_finished(wk_floors *f, const wk_msg *msgs, size_t n);
/* The pending batch's outcomes are confirmed delivered. */
void wk_floors_confirmed(wk_floors *f);
/* The finished batch's outcomes were produced: it is now the pending one
 * (the one before must have been confirmed). */
void wk_floors_published(wk_floors *f);
/* The partitions whose stored row may start below its next_offset while
 * none of their outcomes wait for confirmation, except those with a
 * message in skip[0..nskip) (the batch about to be sent: its own write
 * moves their rows). Up to max of them into parts; returns how many. */
size_t wk_floors_settled(const wk_floors *f, const wk_msg *skip, size_t nskip,
                         int *parts, size_t max);
/* The rows of parts[0..n) were moved up to their next_offset (or need not
 * be): no longer stale. */
void wk_floors_rows_settled(wk_floors *f, const int *parts, size_t n);
/* A revoked partition. */
void wk_floors_forget(wk_floors *f, int partition);
/* The floor of every partition into out (wk_positions.floor). */
void wk_floors_apply(const wk_floors *f, int64_t *out);

#endif
