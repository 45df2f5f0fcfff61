/* fuzz_command: wt_command_parse (common/wt_command.c), which decides for
 * the worker (and the producers) what a valid command is. Any bytes as one
 * Kafka message value. Besides no crash, no read past the input and no
 * undefined behaviour:
 *   - a refusal says why; an accepted envelope has a known type, canonical
 *     UUIDs, an actor, the routing id its type needs, and every text field
 *     NUL-terminated inside its array;
 *   - a command with a valid payload survives wt_command_to_json and a
 *     second parse unchanged (what the gateway and wt-admin write is what
 *     the worker reads), and that JSON passes wt_json_check. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wt_command.h"
#include "wt_json.h"

#define TEXT_OK(f) (strnlen((f), sizeof(f)) < sizeof(f))

static void check_fields(const wt_command *c) {
  FUZZ_CHECK(c->type > WT_CMD_NONE && c->type < WT_CMD__COUNT);
  FUZZ_CHECK(wt_uuid_valid(c->command_id));
  FUZZ_CHECK(c->actor_system ? c->actor_id[0] == '\0'
                             : wt_uuid_valid(c->actor_id));
  FUZZ_CHECK(wt_uuid_valid(wt_command_key(c)));
  FUZZ_CHECK(c->project_id[0] == '\0' || wt_uuid_valid(c->project_id));
  FUZZ_CHECK(c->user_id[0] == '\0' || wt_uuid_valid(c->user_id));
  FUZZ_CHECK(TEXT_OK(c->origin) && strlen(c->origin) <= WT_ORIGIN_MAX);
  FUZZ_CHECK(TEXT_OK(c->payload_message));
  FUZZ_CHECK((c->payload_error == WT_REJECT_NONE) ==
             (c->payload_message[0] == '\0'));
  FUZZ_CHECK(TEXT_OK(c->target_user_id) && TEXT_OK(c->log_id) &&
             TEXT_OK(c->username) && TEXT_OK(c->name) &&
             TEXT_OK(c->description) && TEXT_OK(c->display_name) &&
             TEXT_OK(c->password_hash));
  if (c->payload_error != WT_REJECT_NONE)
    return;
  /* a valid payload: its texts as the contract says */
  FUZZ_CHECK(wt_utf8_chars(c->name, strlen(c->name)) <= WT_NAME_MAX_CHARS);
  FUZZ_CHECK(wt_utf8_chars(c->description, strlen(c->description)) >= 0);
  FUZZ_CHECK(wt_utf8_chars(c->display_name, strlen(c->display_name)) >= 0);
  FUZZ_CHECK(c->target_user_id[0] == '\0' || wt_uuid_valid(c->target_user_id));
  FUZZ_CHECK(c->log_id[0] == '\0' || wt_uuid_valid(c->log_id));
  if (c->fields & WT_F_EXPECTED_VERSION)
    FUZZ_CHECK(c->expected_version >= 1);
  if ((c->fields & WT_F_STARTED_AT) && (c->fields & WT_F_ENDED_AT) &&
      !c->ended_at_null)
    FUZZ_CHECK(c->ended_at > c->started_at);
}

/* What a second parse of wt_command_to_json must give back. (fields may
 * gain bits: log.create writes ended_at and description always.) */
static void check_same(const wt_command *a, const wt_command *b) {
  FUZZ_CHECK(a->type == b->type);
  FUZZ_CHECK(strcmp(a->command_id, b->command_id) == 0);
  FUZZ_CHECK(a->actor_system == b->actor_system);
  FUZZ_CHECK(strcmp(a->actor_id, b->actor_id) == 0);
  FUZZ_CHECK(strcmp(a->project_id, b->project_id) == 0);
  FUZZ_CHECK(strcmp(a->user_id, b->user_id) == 0);
  FUZZ_CHECK(a->issued_at == b->issued_at);
  FUZZ_CHECK(strcmp(a->origin, b->origin) == 0);
  FUZZ_CHECK(b->payload_error == WT_REJECT_NONE);
  FUZZ_CHECK((a->fields & b->fields) == a->fields);
  FUZZ_CHECK(strcmp(a->target_user_id, b->target_user_id) == 0);
  FUZZ_CHECK(a->role == b->role);
  FUZZ_CHECK(strcmp(a->log_id, b->log_id) == 0);
  FUZZ_CHECK(a->started_at == b->started_at);
  FUZZ_CHECK(a->ended_at_null == b->ended_at_null);
  if (!a->ended_at_null)
    FUZZ_CHECK(a->ended_at == b->ended_at);
  FUZZ_CHECK(a->expected_version == b->expected_version);
  FUZZ_CHECK(strcmp(a->username, b->username) == 0);
  FUZZ_CHECK(strcmp(a->name, b->name) == 0);
  FUZZ_CHECK(strcmp(a->description, b->description) == 0);
  FUZZ_CHECK(strcmp(a->display_name, b->display_name) == 0);
  FUZZ_CHECK(strcmp(a->password_hash, b->password_hash) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  wt_command *cmd = malloc(sizeof(*cmd)), *again = malloc(sizeof(*again));
  char err[256], tiny[4];
  char *json = NULL;
  wt_err rc;

  FUZZ_CHECK(cmd && again);
  /* parse clears only the first byte of the long texts: whatever was in
   * the struct before must not show */
  memset(cmd, 0xa5, sizeof(*cmd));
  memset(again, 0x5a, sizeof(*again));
  err[0] = '\0';
  rc = wt_command_parse((const char *)data, size, cmd, err, sizeof(err));
  FUZZ_CHECK(rc == WT_OK || rc == WT_ERR_INVALID);
  FUZZ_CHECK(strlen(err) < sizeof(err));
  /* the same verdict again, with no room for the reason */
  FUZZ_CHECK(wt_command_parse((const char *)data, size, again, tiny,
                              sizeof(tiny)) == rc);
  if (rc != WT_OK) {
    FUZZ_CHECK(err[0] != '\0');
    goto out;
  }
  check_fields(cmd);
  FUZZ_CHECK(again->payload_error == cmd->payload_error);
  FUZZ_CHECK(strcmp(again->payload_message, cmd->payload_message) == 0);
  if (cmd->payload_error == WT_REJECT_NONE)
    check_same(cmd, again);
  if (cmd->payload_error != WT_REJECT_NONE)
    goto out;
  json = wt_command_to_json(cmd);
  FUZZ_CHECK(json != NULL);
  FUZZ_CHECK(wt_json_check(json, strlen(json), 16, NULL) == WT_OK);
  rc = wt_command_parse(json, strlen(json), again, err, sizeof(err));
  if (rc != WT_OK || again->payload_error != WT_REJECT_NONE)
    fprintf(stderr, "second parse of %s: %s %s\n", json, err,
            again->payload_message);
  FUZZ_CHECK(rc == WT_OK);
  check_same(cmd, again);
out:
  free(json);
  free(again);
  free(cmd);
  return 0;
}
