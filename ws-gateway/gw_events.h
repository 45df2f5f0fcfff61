/* gw_events: the reader of <prefix>.events. One thread consumes every
 * partition without a consumer group, starting at the partitions' ends as
 * they were when gw_events_new returned (so a cache snapshot read after it
 * misses nothing: what came between is either in the snapshot or in the
 * stream). Outcomes are parsed on that thread into gw_event values and
 * handed to the lws thread through a locked queue + lws_cancel_service().
 * The thread also checks the broker's metadata every 2 s for /readyz. */
#ifndef GW_EVENTS_H
#define GW_EVENTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "wt_buf.h"
#include "wt_command.h"
#include "wt_config.h"
#include "wt_err.h"

#define GW_EVENT_MAX_BYTES ((size_t)1 << 20) /* larger outcomes are skipped */

/* An outcome: an applied event or a rejection. */
typedef struct gw_event {
  struct gw_event *next;
  bool applied;
  char command_id[WT_UUID_STR];
  char project_id[WT_UUID_STR]; /* the project; "" for user.* */
  char actor_id[WT_UUID_STR];   /* or "system" */
  char type[32];                /* applied: "log.created"... */
  char at[40];
  int64_t seq;
  char code[16];                /* rejected */
  char message[WT_MESSAGE_MAX]; /* rejected */
  char *data;                   /* applied: the data object, JSON text */
  char *raw;                    /* the outcome as published, JSON text */
  /* from data, for member.* (user_id, role) and user.* (all; user_id is
   * also the stream of user.*, the outcome's user_id) */
  char user_id[WT_UUID_STR];
  wt_role role;
  char username[WT_USERNAME_MAX + 1];
  char display_name[WT_NAME_MAX_CHARS * 4 + 1];
  bool is_active;
  int64_t token_version;
  char created_by[WT_UUID_STR]; /* project.created */
} gw_event;

void gw_event_free(gw_event *e);
void gw_event_free_list(gw_event *e);

/* Parses an outcome message; NULL (reason in errstr) when it is not one. */
gw_event *gw_event_parse(const char *json, size_t len, char *errstr,
                         size_t errstr_size);

/* An applied event read from the events table (data is JSON text, at in
 * microseconds; project_id is the row's column, a user for user.*); raw is
 * built as the worker publishes it. NULL when out of memory or data is not
 * JSON. */
gw_event *gw_event_from_row(const char *project_id, int64_t seq,
                            const char *type, const char *command_id,
                            const char *actor_id, int64_t at_us,
                            const char *data);

/* The push frame of an applied event:
 * {"type":"event","event_type":T,"project_id","seq","command_id",
 *  "actor_id","at","data"} */
void gw_event_frame(wt_buf *out, const gw_event *e);

typedef struct gw_events gw_events;
struct lws_context;

/* Connects and assigns every partition of <prefix>.events at its current
 * end. NULL (reason in errstr) when Kafka does not answer. */
gw_events *gw_events_new(const wt_config *cfg, atomic_bool *kafka_ok,
                         char *errstr, size_t errstr_size);
/* Starts the consumer thread; it wakes ctx for every batch it queues. */
int gw_events_start(gw_events *ev, struct lws_context *ctx);
/* Outcomes read but not yet taken by the loop, at most; beyond, the
 * thread stops reading Kafka until the loop catches up. */
#define GW_EVENTS_QUEUE_MAX 4096
/* Takes up to max queued outcomes (oldest first); the caller owns the
 * list. *more: some are left (take them on the next turn of the loop, so
 * that a backlog does not stall every connection). */
gw_event *gw_events_take(gw_events *ev, size_t max, bool *more);
/* Stops the thread, closes the consumer, frees what is queued. */
void gw_events_destroy(gw_events *ev);

#endif
