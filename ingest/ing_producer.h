/* ing_producer: the one way commands enter <prefix>.commands, and a reader
 * of their outcomes on <prefix>.events. Shared by the gateway, wt-admin and
 * wt-ingest.
 *
 * ing_producer refuses what the worker would send to the DLQ: every message
 * is checked with wt_command_parse before it is produced (once: by the
 * caller, or here), and an unusable
 * envelope is WT_ERR_INVALID with the reason. A payload error is let
 * through on purpose: the worker answers it with a rejection ("invalid")
 * addressed to the sender, which is what the sender waits for. Messages are
 * keyed by wt_command_key (project_id, or user_id for user.*). With
 * cfg->producer_key_file set, every command carries the signature headers
 * of wt_sign.h as producer cfg->producer_id (docs/security.md).
 *
 * ing_outcomes reads <prefix>.events without a consumer group (librdkafka's
 * simple consumer: nothing is committed, nothing is shared with other
 * readers). It starts every partition at the high watermark queried in
 * ing_outcomes_new, so every outcome produced after it returns is seen:
 * create it before sending the commands whose outcomes you want.
 *
 * Both handles are used by one thread at a time. */
#ifndef ING_PRODUCER_H
#define ING_PRODUCER_H

#include <stdbool.h>
#include <stddef.h>

#include "wt_command.h"
#include "wt_config.h"
#include "wt_err.h"

#define ING_OUTCOME_MAX_BYTES ((size_t)1024 * 1024) /* larger: skipped */
#define ING_OUTCOMES_KEEP 256 /* unrelated outcomes kept for later waits */

/* --- producing ----------------------------------------------------------- */

typedef struct ing_producer ing_producer;

/* An idempotent producer (acks=all) for <prefix>.commands; creates the
 * contract's topics when missing (as `wt-admin topics` does); loads the
 * signing key when cfg->producer_key_file is set (a bad one is an error).
 * client_id names the client in broker logs (NULL: "worktracker"). NULL on
 * error, with the reason in errstr. */
ing_producer *ing_producer_new(const wt_config *cfg, const char *client_id,
                               char *errstr, size_t errstr_size);

/* Three ways in, each with one check (wt_command_parse, the worker's own)
 * and at most one conversion. WT_ERR_INVALID: the worker could not use it
 * (reason in errstr), nothing was sent; a payload error is sent (see
 * above). Delivery is asynchronous: see ing_producer_flush. Inputs are
 * only read. */

/* A command built in code: written (wt_command_write), that text checked
 * (wt_command_encode) and queued as written. */
wt_err ing_producer_send(ing_producer *p, const wt_command *cmd, char *errstr,
                         size_t errstr_size);

/* One raw JSON message of len bytes (a line of wt-ingest): checked, and
 * queued as given. */
wt_err ing_producer_send_json(ing_producer *p, const char *json, size_t len,
                              char *errstr, size_t errstr_size);

/* A message the caller has checked already: cmd is what wt_command_parse
 * made of exactly json[0..len) (WT_OK; a payload error is fine). Queued as
 * given, neither written nor parsed again (the gateway parses the envelope
 * it built; wt-admin checks before it opens the bus). */
wt_err ing_producer_send_parsed(ing_producer *p, const wt_command *cmd,
                                const char *json, size_t len, char *errstr,
                                size_t errstr_size);

/* Waits until every queued message is delivered. WT_ERR_TIMEOUT when some
 * are still in flight after timeout_ms; WT_ERR_KAFKA when a message failed
 * delivery since the last flush (the first failure in errstr). */
wt_err ing_producer_flush(ing_producer *p, int timeout_ms, char *errstr,
                          size_t errstr_size);

/* Flushes for up to 10 s, then frees. NULL is fine. */
void ing_producer_destroy(ing_producer *p);

/* --- outcomes ------------------------------------------------------------ */

typedef struct ing_outcomes ing_outcomes;

/* Starts reading <prefix>.events at its current end. NULL on error. */
ing_outcomes *ing_outcomes_new(const wt_config *cfg, const char *client_id,
                               char *errstr, size_t errstr_size);

/* Waits up to timeout_ms for the outcome of command_id (an applied event
 * or a rejection, matched on its "command_id"). WT_OK: *json_out is the
 * outcome message, NUL-terminated and malloc'd: the caller frees it.
 * Outcomes of other commands read meanwhile are kept (the newest
 * ING_OUTCOMES_KEEP) for later waits. WT_ERR_TIMEOUT when none came,
 * WT_ERR_NOMEM when out of memory. */
wt_err ing_outcomes_wait(ing_outcomes *o, const char *command_id,
                         int timeout_ms, char **json_out);

void ing_outcomes_destroy(ing_outcomes *o); /* NULL is fine */

/* An outcome message, read. */
typedef struct ing_outcome {
  bool applied; /* kind "event"; false: "rejected" */
  char command_id[WT_UUID_STR];
  char type[32]; /* event type ("user.created"); "" if rejected */
  char project_id[WT_UUID_STR]; /* the stream (the user for user.*); "" if none
                                 */
  long long seq;                /* applied: the event's seq; else 0 */
  wt_reject code;               /* rejected: the code; else WT_REJECT_NONE */
  char message[WT_MESSAGE_MAX]; /* rejected: the message */
} ing_outcome;

/* Reads an outcome message (as ing_outcomes_wait returns it).
 * WT_ERR_INVALID when it is not one. */
wt_err ing_outcome_parse(const char *json, ing_outcome *out, char *errstr,
                         size_t errstr_size);

#endif
