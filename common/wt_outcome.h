/* wt_outcome: the JSON of a command's outcome on wt.events, written with
 * wt_jw: an applied command's event (with its data object, the new state
 * the rules decided) or its rejection. Pure: no I/O.
 *
 * Each builder comes twice: _to replaces the contents of a caller's buffer
 * (the worker reuses one per kind, no allocation per command) and returns
 * false when there is nothing to build or the buffer failed (its cap); the
 * other returns a malloc'd string the caller frees, NULL for the same
 * cases. Members come in a fixed order; a NULL string is written "". */
#ifndef WT_OUTCOME_H
#define WT_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wt_buf.h"
#include "wt_command.h" /* wt_reject */

struct wt_decision; /* wt_rules.h */

/* The event's data object: the full new state (log object, member object,
 * project object, user object without password_hash). */
char *wt_decision_data_json(const struct wt_decision *d);
bool wt_decision_data_json_to(wt_buf *b, const struct wt_decision *d);

/* {"v":1,"kind":"event","type","project_id","seq","command_id","actor_id",
 *  "at","data"}; for a user.* type the stream is the user, written as
 *  "user_id" in place of "project_id" (the events table keeps it in its
 *  project_id column: a row's outcome is rebuilt by the same call). The
 *  stream's member is left out when stream_id is NULL or "". actor_id NULL
 *  or "" means "system"; data_json (dlen bytes, a JSON object) is inserted
 *  as is. */
char *wt_outcome_event_json(const char *type, const char *stream_id,
                            int64_t seq, const char *command_id,
                            const char *actor_id, int64_t at,
                            const char *data_json);
bool wt_outcome_event_json_to(wt_buf *b, const char *type,
                              const char *stream_id, int64_t seq,
                              const char *command_id, const char *actor_id,
                              int64_t at, const char *data_json, size_t dlen);

/* {"v":1,"kind":"rejected","command_id","project_id"?,"actor_id","code",
 *  "message"}; project_id may be NULL or "", actor_id NULL or "" is
 *  "system". */
char *wt_outcome_rejected_json(const char *command_id, const char *project_id,
                               const char *actor_id, wt_reject code,
                               const char *message);
bool wt_outcome_rejected_json_to(wt_buf *b, const char *command_id,
                                 const char *project_id, const char *actor_id,
                                 wt_reject code, const char *message);

#endif
