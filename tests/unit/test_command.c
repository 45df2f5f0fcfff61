/* Unit tests of wt_command: the envelope (what goes to the DLQ), every
 * payload rule (what is rejected "invalid"), times, UUIDs, UTF-8, the
 * serialiser's round trip and the caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "wt_command.h"

#define CID "c0000000-0000-4000-8000-000000000001"
#define A1 "a1000000-0000-4000-8000-000000000001"
#define A2 "a2000000-0000-4000-8000-000000000002"
#define P1 "b1000000-0000-4000-8000-000000000001"
#define L1 "d1000000-0000-4000-8000-000000000001"
#define T0 "2026-11-27T08:00:00Z"
#define T1 "2026-11-27T09:30:00Z"

/* 90 bytes: past what the parser keeps of an envelope string */
#define X90                                                                    \
  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
  "x"                                                                          \
  "xxxxxxxxxxxxxxx"

/* An envelope around a type, extra envelope members and a payload. */
#define ENV_AS(actor, type, extra, payload)                                    \
  "{\"v\":1,\"command_id\":\"" CID "\",\"type\":\"" type                       \
  "\",\"actor_id\":\"" actor "\",\"project_id\":\"" P1                         \
  "\",\"issued_at\":\"" T0 "\"" extra ",\"payload\":" payload "}"
#define ENV(type, payload) ENV_AS(A1, type, "", payload)
#define USER_ENV(type, payload)                                                \
  "{\"v\":1,\"command_id\":\"" CID "\",\"type\":\"" type                       \
  "\",\"actor_id\":\"system\",\"user_id\":\"" A2 "\",\"issued_at\":\"" T0      \
  "\",\"payload\":" payload "}"

#define LOG_CREATE(rest)                                                       \
  ENV("log.create", "{\"log_id\":\"" L1 "\",\"started_at\":\"" T0 "\"" rest "}")
#define LOG_UPDATE(rest) ENV("log.update", "{\"log_id\":\"" L1 "\"" rest "}")
#define USER_CREATE(rest)                                                      \
  USER_ENV("user.create", "{\"user_id\":\"" A2 "\"" rest "}")
#define UC_OK_REST                                                             \
  ",\"username\":\"dora.x\",\"display_name\":\"Dora\","                        \
  "\"password_hash\":\"$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA\""

/* With WT_SCHEMA_DUMP=FILE, every document built is appended to FILE as
 * "<schema> <json>" lines, for checking against schemas/ (see its README). */
static void schema_dump(const char *schema, const char *json) {
  const char *path = getenv("WT_SCHEMA_DUMP");
  FILE *f = path ? fopen(path, "a") : NULL;
  if (!f)
    return;
  fprintf(f, "%s ", schema);
  for (const char *c = json; *c; c++) /* JSON whitespace: one line each */
    fputc(*c == '\n' || *c == '\r' ? ' ' : *c, f);
  fputc('\n', f);
  fclose(f);
}

/* --- parse table ---------------------------------------------------------- */

typedef struct parse_case {
  const char *name;
  const char *json;
  wt_err err;         /* WT_ERR_INVALID: to the DLQ */
  wt_reject payload;  /* when WT_OK: the payload verdict */
  const char *expect; /* a fragment of errstr or payload_message */
} parse_case;

#define DLQ(n, j, e)                                                           \
  { n, j, WT_ERR_INVALID, WT_REJECT_NONE, e }
#define OK(n, j)                                                               \
  { n, j, WT_OK, WT_REJECT_NONE, NULL }
#define BAD(n, j, e)                                                           \
  { n, j, WT_OK, WT_REJECT_INVALID, e }

static parse_case parse_cases[] = {
    /* not a usable envelope: the DLQ */
    DLQ("envelope: not JSON", "hello", "not JSON"),
    DLQ("envelope: empty", "", "not JSON"),
    DLQ("envelope: truncated", "{\"v\":1", "not JSON"),
    DLQ("envelope: array", "[1,2]", "not a JSON object"),
    DLQ("envelope: string", "\"x\"", "not a JSON object"),
    DLQ("envelope: null", "null", "not"),
    DLQ("envelope: trailing junk",
        ENV("project.rename", "{\"name\":\"x\"}") "x", "not JSON"),
    DLQ("envelope: two objects", ENV("project.rename", "{\"name\":\"x\"}") "{}",
        "not JSON"),
    DLQ("envelope: trailing comma", "{\"v\":1,}", "not JSON"),
    DLQ("envelope: single quotes", "{'v':1}", "not JSON"),
    DLQ("envelope: NaN in an ignored key",
        ENV_AS(A1, "log.delete", ",\"x\":NaN", "{\"log_id\":\"" L1 "\"}"),
        "not JSON"),
    DLQ("envelope: -Infinity in an ignored key",
        ENV_AS(A1, "log.delete", ",\"x\":[-Infinity]",
               "{\"log_id\":\"" L1 "\"}"),
        "not JSON"),
    DLQ("envelope: 1. in an ignored key",
        ENV_AS(A1, "log.delete", ",\"x\":1.", "{\"log_id\":\"" L1 "\"}"),
        "not JSON"),
    DLQ("envelope: raw invalid UTF-8",
        ENV("project.rename", "{\"name\":\"\xff\"}"), "not JSON"),
    /* stricter than json-c was: RFC 8259 JSON only */
    DLQ("envelope: raw control character in a string",
        ENV("project.rename", "{\"name\":\"a\tb\"}"),
        "not JSON: control character"),
    DLQ("envelope: UTF-8 of a surrogate",
        ENV("project.rename", "{\"name\":\"\xed\xa0\x80\"}"),
        "not JSON: invalid UTF-8"),
    DLQ("envelope: overlong UTF-8",
        ENV("project.rename", "{\"name\":\"\xc0\xaf\"}"),
        "not JSON: invalid UTF-8"),
    DLQ("envelope: leading zero", "{\"v\":01}", "not JSON"),
    /* a NUL early in a string too long to keep: still found */
    DLQ("envelope: actor_id system, a NUL and more",
        ENV_AS("system\\u0000" X90, "log.delete", "",
               "{\"log_id\":\"" L1 "\"}"),
        "actor_id: NUL is not allowed"),
    DLQ("envelope: command_id, a NUL and more",
        "{\"v\":1,\"command_id\":\"" CID "\\u0000" X90 "\"}",
        "command_id: NUL is not allowed"),
    DLQ("envelope: payload after a repeated payload is a string",
        ENV_AS(A1, "log.delete", ",\"payload\":{\"log_id\":\"" L1 "\"}",
               "\"x\""),
        "payload: must be a JSON object"),
    DLQ("envelope: v missing", "{\"command_id\":\"" CID "\"}", "v:"),
    DLQ("envelope: v=2",
        "{\"v\":2,\"command_id\":\"" CID "\",\"type\":\"log.create\"}", "v:"),
    DLQ("envelope: v string", "{\"v\":\"1\"}", "v:"),
    DLQ("envelope: v float", "{\"v\":1.0}", "v:"),
    DLQ("envelope: v true", "{\"v\":true}", "v:"),
    DLQ("envelope: command_id missing", "{\"v\":1}", "command_id: required"),
    DLQ("envelope: command_id uppercase",
        "{\"v\":1,\"command_id\":\"C0000000-0000-4000-8000-00000000000A\"}",
        "command_id"),
    DLQ("envelope: command_id braces", "{\"v\":1,\"command_id\":\"{" CID "}\"}",
        "command_id"),
    DLQ("envelope: command_id number", "{\"v\":1,\"command_id\":12}",
        "command_id: must be a string"),
    DLQ("envelope: command_id with NUL",
        "{\"v\":1,\"command_id\":\"c0000000\\u0000\"}", "NUL"),
    DLQ("envelope: type missing", "{\"v\":1,\"command_id\":\"" CID "\"}",
        "type: required"),
    DLQ("envelope: type unknown", ENV("log.destroy", "{\"log_id\":\"" L1 "\"}"),
        "unknown command type"),
    DLQ("envelope: type uppercase",
        ENV("LOG.DELETE", "{\"log_id\":\"" L1 "\"}"), "unknown command type"),
    DLQ("envelope: actor_id missing",
        "{\"v\":1,\"command_id\":\"" CID "\",\"type\":\"log.delete\"}",
        "actor_id: required"),
    DLQ("envelope: actor_id not a UUID",
        ENV_AS("alice", "log.delete", "", "{\"log_id\":\"" L1 "\"}"),
        "actor_id"),
    DLQ("envelope: actor_id System",
        ENV_AS("System", "log.delete", "", "{\"log_id\":\"" L1 "\"}"),
        "actor_id"),
    DLQ("envelope: issued_at missing",
        "{\"v\":1,\"command_id\":\"" CID
        "\",\"type\":\"log.delete\",\"actor_id\":\"" A1
        "\",\"project_id\":\"" P1 "\",\"payload\":{}}",
        "issued_at: required"),
    DLQ("envelope: issued_at with offset",
        "{\"v\":1,\"command_id\":\"" CID
        "\",\"type\":\"log.delete\",\"actor_id\":\"" A1
        "\",\"project_id\":\"" P1
        "\",\"issued_at\":\"2026-11-27T08:00:00+02:00\",\"payload\":{}}",
        "issued_at"),
    DLQ("envelope: project_id missing on log.create",
        "{\"v\":1,\"command_id\":\"" CID
        "\",\"type\":\"log.create\",\"actor_id\":\"" A1 "\",\"issued_at\":\"" T0
        "\",\"payload\":{}}",
        "project_id: required"),
    DLQ("envelope: project_id missing on member.add",
        "{\"v\":1,\"command_id\":\"" CID
        "\",\"type\":\"member.add\",\"actor_id\":\"" A1 "\",\"issued_at\":\"" T0
        "\",\"payload\":{}}",
        "project_id: required"),
    DLQ("envelope: project_id null on project.create",
        "{\"v\":1,\"command_id\":\"" CID
        "\",\"type\":\"project.create\",\"actor_id\":\"" A1
        "\",\"project_id\":null,\"issued_at\":\"" T0 "\",\"payload\":{}}",
        "project_id: required"),
    DLQ("envelope: project_id bad",
        "{\"v\":1,\"command_id\":\"" CID
        "\",\"type\":\"project.rename\",\"actor_id\":\"" A1
        "\",\"project_id\":\"p1\",\"issued_at\":\"" T0 "\",\"payload\":{}}",
        "project_id"),
    DLQ("envelope: user_id missing on user.create",
        "{\"v\":1,\"command_id\":\"" CID "\",\"type\":\"user.create\",\"actor_"
        "id\":\"system\",\"issued_at\":\"" T0 "\",\"payload\":{}}",
        "user_id: required"),
    DLQ("envelope: user_id bad on user.deactivate",
        "{\"v\":1,\"command_id\":\"" CID
        "\",\"type\":\"user.deactivate\",\"actor_id\":\"system\",\"user_id\":"
        "\"A2000000-0000-4000-8000-000000000002\",\"issued_at\":\"" T0
        "\",\"payload\":{}}",
        "user_id"),
    DLQ("envelope: origin over 64 bytes",
        ENV_AS(A1, "log.delete",
               ",\"origin\":\"0123456789012345678901234567890123456789012345678"
               "9012345678901234\"",
               "{\"log_id\":\"" L1 "\"}"),
        "origin"),
    DLQ("envelope: origin number",
        ENV_AS(A1, "log.delete", ",\"origin\":5", "{\"log_id\":\"" L1 "\"}"),
        "origin: must be a string"),
    DLQ("envelope: payload missing",
        "{\"v\":1,\"command_id\":\"" CID
        "\",\"type\":\"log.delete\",\"actor_id\":\"" A1
        "\",\"project_id\":\"" P1 "\",\"issued_at\":\"" T0 "\"}",
        "payload"),
    DLQ("envelope: payload array", ENV("log.delete", "[]"), "payload"),
    DLQ("envelope: payload string", ENV("log.delete", "\"x\""), "payload"),
    DLQ("envelope: payload null", ENV("log.delete", "null"), "payload"),

    /* usable envelopes */
    OK("envelope: minimal log.delete",
       ENV("log.delete", "{\"log_id\":\"" L1 "\"}")),
    OK("envelope: unknown top-level keys are ignored",
       ENV_AS(A1, "log.delete", ",\"trace\":{\"a\":[1,2]},\"x\":null",
              "{\"log_id\":\"" L1 "\"}")),
    OK("envelope: origin of 64 bytes",
       ENV_AS(A1, "log.delete",
              ",\"origin\":\"0123456789012345678901234567890123456789012345678"
              "901234567890123\"",
              "{\"log_id\":\"" L1 "\"}")),
    OK("envelope: origin null is absent",
       ENV_AS(A1, "log.delete", ",\"origin\":null", "{\"log_id\":\"" L1 "\"}")),
    OK("envelope: trailing whitespace",
       ENV("log.delete", "{\"log_id\":\"" L1 "\"}") " \n\r\t"),
    OK("envelope: numbers, literals and escapes in an ignored key",
       ENV_AS(A1, "log.delete",
              ",\"x\":[1.5e3,-0.25E-2,true,false,null,\"NaN.\\\"I\\\\\"]",
              "{\"log_id\":\"" L1 "\"}")),
    OK("envelope: leading whitespace",
       "\n " ENV("log.delete", "{\"log_id\":\"" L1 "\"}")),
    OK("envelope: user.* without project_id",
       USER_ENV("user.revoke_tokens", "{\"user_id\":\"" A2 "\"}")),
    OK("envelope: system actor on a project command",
       ENV_AS("system", "project.rename", "", "{\"name\":\"x\"}")),

    /* payloads: project.* */
    OK("project.create: ok", ENV("project.create", "{\"name\":\"Apollo\"}")),
    OK("project.create: unicode name",
       ENV("project.create",
           "{\"name\":\"Caf\\u00e9 \xe2\x82\xac \xf0\x9f\x98\x80\"}")),
    BAD("project.create: name missing", ENV("project.create", "{}"),
        "payload.name: required"),
    BAD("project.create: name number", ENV("project.create", "{\"name\":5}"),
        "payload.name: must be a string"),
    BAD("project.create: name null", ENV("project.create", "{\"name\":null}"),
        "payload.name: must not be null"),
    BAD("project.create: name empty", ENV("project.create", "{\"name\":\"\"}"),
        "payload.name: must be 1..200"),
    BAD("project.create: name blank",
        ENV("project.create", "{\"name\":\" \\t \"}"),
        "payload.name: must not be blank"),
    BAD("project.create: name with NUL",
        ENV("project.create", "{\"name\":\"a\\u0000b\"}"), "NUL"),
    BAD("project.create: misspelt field",
        ENV("project.create", "{\"nmae\":\"x\"}"),
        "payload.nmae: unknown field"),
    BAD("project.rename: extra field",
        ENV("project.rename", "{\"name\":\"x\",\"owner\":\"y\"}"),
        "payload.owner: unknown field"),

    /* member.* */
    OK("member.add: ok",
       ENV("member.add", "{\"user_id\":\"" A2 "\",\"role\":\"owner\"}")),
    BAD("member.add: role missing",
        ENV("member.add", "{\"user_id\":\"" A2 "\"}"),
        "payload.role: required"),
    BAD("member.add: role admin",
        ENV("member.add", "{\"user_id\":\"" A2 "\",\"role\":\"admin\"}"),
        "payload.role"),
    BAD("member.add: role number",
        ENV("member.add", "{\"user_id\":\"" A2 "\",\"role\":1}"),
        "payload.role: must be a string"),
    BAD("member.add: user_id missing",
        ENV("member.add", "{\"role\":\"member\"}"),
        "payload.user_id: required"),
    BAD("member.add: user_id uppercase",
        ENV("member.add",
            "{\"user_id\":\"A2000000-0000-4000-8000-000000000002\","
            "\"role\":\"member\"}"),
        "payload.user_id: must be a canonical"),
    OK("member.remove: ok", ENV("member.remove", "{\"user_id\":\"" A2 "\"}")),
    BAD("member.remove: role is unknown here",
        ENV("member.remove", "{\"user_id\":\"" A2 "\",\"role\":\"member\"}"),
        "payload.role: unknown field"),
    BAD("member.remove: user_id number",
        ENV("member.remove", "{\"user_id\":42}"), "payload.user_id"),

    /* log.create */
    OK("log.create: ok",
       LOG_CREATE(",\"ended_at\":\"" T1 "\",\"description\":\"work\"")),
    OK("log.create: running timer (null)", LOG_CREATE(",\"ended_at\":null")),
    OK("log.create: running timer (absent)", LOG_CREATE("")),
    OK("log.create: author named is the actor",
       LOG_CREATE(",\"user_id\":\"" A1 "\"")),
    OK("log.create: another author parses (the rules refuse it)",
       LOG_CREATE(",\"user_id\":\"" A2 "\"")),
    BAD("log.create: log_id missing",
        ENV("log.create", "{\"started_at\":\"" T0 "\"}"),
        "payload.log_id: required"),
    BAD("log.create: log_id not a UUID",
        ENV("log.create", "{\"log_id\":\"L1\",\"started_at\":\"" T0 "\"}"),
        "payload.log_id"),
    BAD("log.create: started_at missing",
        ENV("log.create", "{\"log_id\":\"" L1 "\"}"),
        "payload.started_at: required"),
    BAD("log.create: started_at number",
        ENV("log.create", "{\"log_id\":\"" L1 "\",\"started_at\":1700000000}"),
        "payload.started_at: must be an RFC 3339"),
    BAD("log.create: started_at null",
        ENV("log.create", "{\"log_id\":\"" L1 "\",\"started_at\":null}"),
        "payload.started_at: must not be null"),
    BAD("log.create: started_at February 30th",
        ENV("log.create",
            "{\"log_id\":\"" L1 "\",\"started_at\":\"2026-02-30T08:00:00Z\"}"),
        "payload.started_at"),
    BAD("log.create: started_at with offset",
        ENV("log.create", "{\"log_id\":\"" L1
                          "\",\"started_at\":\"2026-11-27T08:00:00+00:00\"}"),
        "payload.started_at"),
    BAD("log.create: ended_at equals started_at",
        LOG_CREATE(",\"ended_at\":\"" T0 "\""),
        "payload.ended_at: must be after"),
    BAD("log.create: ended_at before started_at",
        LOG_CREATE(",\"ended_at\":\"2026-11-27T07:59:59.999Z\""),
        "payload.ended_at: must be after"),
    BAD("log.create: ended_at bad", LOG_CREATE(",\"ended_at\":\"tomorrow\""),
        "payload.ended_at"),
    BAD("log.create: description number", LOG_CREATE(",\"description\":1"),
        "payload.description: must be a string"),
    BAD("log.create: description null", LOG_CREATE(",\"description\":null"),
        "payload.description: must not be null"),
    BAD("log.create: user_id bad", LOG_CREATE(",\"user_id\":\"bob\""),
        "payload.user_id"),
    BAD("log.create: expected_version is not for create",
        LOG_CREATE(",\"expected_version\":1"),
        "payload.expected_version: unknown field"),
    BAD("log.create: unknown field", LOG_CREATE(",\"duration\":60"),
        "payload.duration: unknown field"),
    BAD("log.create: started_at with a NUL after the time",
        ENV("log.create",
            "{\"log_id\":\"" L1 "\",\"started_at\":\"" T0 "\\u0000x\"}"),
        "payload.started_at: NUL is not allowed"),
    /* contract v1.1: a lone surrogate escape or a NUL is rejected, never
     * stored altered (it used to be stored as U+FFFD) */
    BAD("log.create: description, a lone high surrogate",
        LOG_CREATE(",\"description\":\"\\ud83d\""),
        "payload.description: a lone surrogate escape (\\ud83d) is not text"),
    BAD("log.create: description, a lone high surrogate at the end",
        LOG_CREATE(",\"description\":\"ok \\uD83D\""),
        "payload.description: a lone surrogate escape (\\ud83d) is not text"),
    BAD("log.create: description, a lone low surrogate",
        LOG_CREATE(",\"description\":\"\\ude00x\""),
        "payload.description: a lone surrogate escape (\\ude00) is not text"),
    BAD("log.create: description, a high surrogate before a non-surrogate",
        LOG_CREATE(",\"description\":\"\\ud83d\\u0041\""),
        "payload.description: a lone surrogate escape (\\ud83d) is not text"),
    BAD("log.create: description, two highs before a low",
        LOG_CREATE(",\"description\":\"\\ud83d\\ud83d\\ude00\""),
        "payload.description: a lone surrogate escape (\\ud83d) is not text"),
    BAD("log.create: description, a low before a high",
        LOG_CREATE(",\"description\":\"\\ude00\\ud83d\""),
        "payload.description: a lone surrogate escape (\\ude00) is not text"),
    BAD("log.create: description with a NUL",
        LOG_CREATE(",\"description\":\"a\\u0000b\""),
        "payload.description: NUL is not allowed"),
    OK("log.create: description, a surrogate pair",
       LOG_CREATE(",\"description\":\"\\ud83d\\ude00 \\uDBFF\\uDFFF\"")),
    BAD("log.create: log_id, a lone surrogate",
        ENV("log.create", "{\"log_id\":\"\\udbff\",\"started_at\":\"" T0 "\"}"),
        "payload.log_id: a lone surrogate escape (\\udbff) is not text"),
    BAD("project.create: name, a lone surrogate",
        ENV("project.create", "{\"name\":\"Apollo \\udfff\"}"),
        "payload.name: a lone surrogate escape (\\udfff) is not text"),
    BAD("project.create: name with a NUL",
        ENV("project.create", "{\"name\":\"\\u0000\"}"),
        "payload.name: NUL is not allowed"),
    BAD("member.add: role with a NUL",
        ENV("member.add", "{\"user_id\":\"" A2 "\",\"role\":\"owner\\u0000\"}"),
        "payload.role: NUL is not allowed"),
    BAD("user.create: display_name, a lone surrogate",
        USER_CREATE(",\"username\":\"dora.x\",\"display_name\":\"D\\ud800\","
                    "\"password_hash\":\"$1$x\""),
        "payload.display_name: a lone surrogate escape (\\ud800) is not text"),
    DLQ("envelope: origin, a lone surrogate",
        ENV_AS(A1, "log.delete", ",\"origin\":\"gw\\ud83d\"",
               "{\"log_id\":\"" L1 "\"}"),
        "origin: a lone surrogate escape (\\ud83d) is not text"),
    DLQ("envelope: type with a NUL",
        ENV("log.delete\\u0000", "{\"log_id\":\"" L1 "\"}"),
        "type: NUL is not allowed"),
    OK("log.create: an escaped key is its decoded name",
       ENV("log.create",
           "{\"log\\u005fid\":\"" L1 "\",\"started_at\":\"" T0 "\"}")),
    BAD("log.create: a key with a NUL is no known key",
        LOG_CREATE(",\"description\\u0000\":\"x\""),
        "payload.description: unknown field"),
    BAD("log.create: the first unknown field in the text is named",
        LOG_CREATE(",\"zz\":1,\"expected_version\":2"),
        "payload.zz: unknown field"),
    BAD("log.create: a known key of another type counts in text order",
        LOG_CREATE(",\"expected_version\":2,\"zz\":1"),
        "payload.expected_version: unknown field"),
    BAD("log.update: expected_version 2^63, never clamped",
        LOG_UPDATE(",\"description\":\"x\",\"expected_version\":"
                   "9223372036854775808"),
        "payload.expected_version: 9223372036854775808 is out of range "
        "(1..9223372036854775807)"),
    OK("log.update: expected_version 2^63 - 1",
       LOG_UPDATE(",\"description\":\"x\",\"expected_version\":"
                  "9223372036854775807")),
    BAD("log.update: expected_version below -2^63",
        LOG_UPDATE(",\"description\":\"x\",\"expected_version\":"
                   "-9223372036854775809"),
        "payload.expected_version: -9223372036854775809 is out of range"),
    BAD("log.delete: expected_version of 40 digits",
        ENV("log.delete", "{\"log_id\":\"" L1 "\",\"expected_version\":"
                          "1234567890123456789012345678901234567890}"),
        "payload.expected_version: 123456789012345678901234... is out of "
        "range"),

    /* log.update */
    OK("log.update: description only", LOG_UPDATE(",\"description\":\"\"")),
    OK("log.update: stop the timer", LOG_UPDATE(",\"ended_at\":\"" T1 "\"")),
    OK("log.update: restart the timer", LOG_UPDATE(",\"ended_at\":null")),
    OK("log.update: expected_version",
       LOG_UPDATE(",\"started_at\":\"" T0 "\",\"expected_version\":3")),
    BAD("log.update: nothing to change", LOG_UPDATE(""), "at least one of"),
    BAD("log.update: only expected_version",
        LOG_UPDATE(",\"expected_version\":2"), "at least one of"),
    BAD("log.update: expected_version 0",
        LOG_UPDATE(",\"description\":\"x\",\"expected_version\":0"),
        "payload.expected_version: must be a positive integer"),
    BAD("log.update: expected_version negative",
        LOG_UPDATE(",\"description\":\"x\",\"expected_version\":-1"),
        "payload.expected_version"),
    BAD("log.update: expected_version string",
        LOG_UPDATE(",\"description\":\"x\",\"expected_version\":\"1\""),
        "payload.expected_version"),
    BAD("log.update: expected_version float",
        LOG_UPDATE(",\"description\":\"x\",\"expected_version\":1.5"),
        "payload.expected_version"),
    BAD("log.update: expected_version -2^63",
        LOG_UPDATE(",\"description\":\"x\",\"expected_version\":"
                   "-9223372036854775808"),
        "payload.expected_version: must be a positive integer"),
    BAD("log.update: started_at null", LOG_UPDATE(",\"started_at\":null"),
        "payload.started_at: must not be null"),
    BAD("log.update: ended before started, both given",
        LOG_UPDATE(",\"started_at\":\"" T1 "\",\"ended_at\":\"" T0 "\""),
        "payload.ended_at: must be after"),
    BAD("log.update: project_id in payload",
        LOG_UPDATE(",\"description\":\"x\",\"project_id\":\"" P1 "\""),
        "payload.project_id: unknown field"),

    /* log.delete */
    OK("log.delete: with expected_version",
       ENV("log.delete", "{\"log_id\":\"" L1 "\",\"expected_version\":7}")),
    BAD("log.delete: description is unknown here",
        ENV("log.delete", "{\"log_id\":\"" L1 "\",\"description\":\"x\"}"),
        "payload.description: unknown field"),
    BAD("log.delete: log_id missing", ENV("log.delete", "{}"),
        "payload.log_id: required"),

    /* user.* */
    OK("user.create: ok", USER_CREATE(UC_OK_REST)),
    OK("user.create: bcrypt hash",
       USER_CREATE(",\"username\":\"d_o-r.a9\",\"display_name\":\"D\","
                   "\"password_hash\":\"$2b$12$abcdefghijklmnopqrstuv\"")),
    BAD("user.create: payload user_id differs from the envelope's",
        USER_ENV("user.create", "{\"user_id\":\"" A1 "\"" UC_OK_REST "}"),
        "payload.user_id: must equal the envelope's user_id"),
    BAD("user.create: username too short",
        USER_CREATE(",\"username\":\"ab\",\"display_name\":\"D\","
                    "\"password_hash\":\"$x\""),
        "payload.username"),
    BAD("user.create: username uppercase",
        USER_CREATE(",\"username\":\"Dora\",\"display_name\":\"D\","
                    "\"password_hash\":\"$x\""),
        "payload.username"),
    BAD("user.create: username with a space",
        USER_CREATE(",\"username\":\"do ra\",\"display_name\":\"D\","
                    "\"password_hash\":\"$x\""),
        "payload.username"),
    BAD("user.create: username of 65",
        USER_CREATE(
            ",\"username\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "aaaaaaaaaaaaaaaaaaaaa\",\"display_name\":\"D\","
            "\"password_hash\":\"$x\""),
        "payload.username"),
    BAD("user.create: display_name blank",
        USER_CREATE(",\"username\":\"dora\",\"display_name\":\"  \","
                    "\"password_hash\":\"$x\""),
        "payload.display_name: must not be blank"),
    BAD("user.create: display_name missing",
        USER_CREATE(",\"username\":\"dora\",\"password_hash\":\"$x\""),
        "payload.display_name: required"),
    BAD("user.create: password in clear",
        USER_CREATE(",\"username\":\"dora\",\"display_name\":\"D\","
                    "\"password_hash\":\"hunter2\""),
        "payload.password_hash"),
    BAD("user.create: password hash with a space",
        USER_CREATE(",\"username\":\"dora\",\"display_name\":\"D\","
                    "\"password_hash\":\"$1$ab cd\""),
        "payload.password_hash"),
    BAD("user.create: password hash missing",
        USER_CREATE(",\"username\":\"dora\",\"display_name\":\"D\""),
        "payload.password_hash: required"),
    OK("user.deactivate: ok",
       USER_ENV("user.deactivate", "{\"user_id\":\"" A2 "\"}")),
    BAD("user.deactivate: payload user_id differs",
        USER_ENV("user.deactivate", "{\"user_id\":\"" A1 "\"}"),
        "must equal the envelope's user_id"),
    BAD("user.revoke_tokens: payload user_id missing",
        USER_ENV("user.revoke_tokens", "{}"), "payload.user_id: required"),
};

#define NPARSE (sizeof(parse_cases) / sizeof(parse_cases[0]))

static void test_parse_case(void **state) {
  const parse_case *pc = *state;
  wt_command cmd;
  char err[256] = "";
  wt_err rc =
      wt_command_parse(pc->json, strlen(pc->json), &cmd, err, sizeof(err));
  if (rc != pc->err)
    fail_msg("parse returned %s, expected %s (errstr \"%s\")", wt_strerror(rc),
             wt_strerror(pc->err), err);
  if (rc != WT_OK) {
    schema_dump("command-dlq", pc->json);
    if (pc->expect && !strstr(err, pc->expect))
      fail_msg("errstr \"%s\" lacks \"%s\"", err, pc->expect);
    return;
  }
  if (cmd.payload_error != pc->payload)
    fail_msg("payload_error %s, expected %s (\"%s\")",
             wt_reject_name(cmd.payload_error), wt_reject_name(pc->payload),
             cmd.payload_message);
  if (pc->expect && !strstr(cmd.payload_message, pc->expect))
    fail_msg("payload_message \"%s\" lacks \"%s\"", cmd.payload_message,
             pc->expect);
  if (pc->payload == WT_REJECT_NONE)
    assert_string_equal(cmd.payload_message, "");
  schema_dump(pc->payload ? "command-invalid" : "command", pc->json);
}

/* --- parsed values -------------------------------------------------------- */

static void parse_ok(const char *json, wt_command *cmd) {
  char err[256] = "";
  wt_err rc = wt_command_parse(json, strlen(json), cmd, err, sizeof(err));
  if (rc != WT_OK)
    fail_msg("parse failed: %s", err);
  if (cmd->payload_error)
    fail_msg("payload error: %s", cmd->payload_message);
}

static void test_fields_log_create(void **state) {
  wt_command c;
  (void)state;
  parse_ok(ENV_AS(A1, "log.create", ",\"origin\":\"gateway\"",
                  "{\"log_id\":\"" L1 "\",\"started_at\":\"" T0
                  "\",\"ended_at\":\"" T1
                  "\",\"description\":\"a \\\"quote\\\" \\u00e9\"}"),
           &c);
  assert_int_equal(c.type, WT_CMD_LOG_CREATE);
  assert_string_equal(c.command_id, CID);
  assert_false(c.actor_system);
  assert_string_equal(c.actor_id, A1);
  assert_string_equal(c.project_id, P1);
  assert_string_equal(c.user_id, "");
  assert_string_equal(c.origin, "gateway");
  assert_string_equal(c.log_id, L1);
  assert_int_equal(c.ended_at - c.started_at, INT64_C(5400000000));
  assert_false(c.ended_at_null);
  assert_string_equal(c.description, "a \"quote\" \xc3\xa9");
  assert_int_equal(c.fields, WT_F_LOG_ID | WT_F_STARTED_AT | WT_F_ENDED_AT |
                                 WT_F_DESCRIPTION);
  assert_string_equal(wt_command_key(&c), P1);
  /* a surrogate pair is one character, kept as its UTF-8 */
  parse_ok(LOG_CREATE(",\"description\":\"\\ud83d\\ude00!\""), &c);
  assert_string_equal(c.description, "\xf0\x9f\x98\x80!");
}

static void test_fields_running_timer(void **state) {
  wt_command c;
  (void)state;
  parse_ok(LOG_CREATE(""), &c);
  assert_true(c.ended_at_null);
  assert_string_equal(c.description, "");
  assert_int_equal(c.fields, WT_F_LOG_ID | WT_F_STARTED_AT);
  parse_ok(LOG_UPDATE(",\"ended_at\":null,\"user_id\":\"" A1 "\""), &c);
  assert_true(c.ended_at_null);
  assert_int_equal(c.fields, WT_F_LOG_ID | WT_F_ENDED_AT | WT_F_USER_ID);
  assert_string_equal(c.target_user_id, A1);
}

static void test_fields_user_create(void **state) {
  wt_command c;
  (void)state;
  parse_ok(USER_CREATE(UC_OK_REST), &c);
  assert_true(c.actor_system);
  assert_string_equal(c.actor_id, "");
  assert_string_equal(c.user_id, A2);
  assert_string_equal(c.target_user_id, A2);
  assert_string_equal(c.username, "dora.x");
  assert_string_equal(c.display_name, "Dora");
  assert_string_equal(c.password_hash,
                      "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA");
  assert_string_equal(wt_command_key(&c), A2);
}

/* The last of duplicate keys counts (as json-c kept it). */
static void test_duplicate_keys_last_wins(void **state) {
  wt_command c;
  (void)state;
  parse_ok(ENV("project.rename", "{\"name\":\"first\",\"name\":\"second\"}"),
           &c);
  assert_string_equal(c.name, "second");
  parse_ok("{\"v\":1,\"command_id\":\"" CID
           "\",\"type\":\"log.delete\",\"type\":\"project.rename\","
           "\"actor_id\":\"" A1 "\",\"project_id\":\"" P1
           "\",\"issued_at\":\"" T0 "\",\"payload\":{\"name\":\"x\"}}",
           &c);
  assert_int_equal(c.type, WT_CMD_PROJECT_RENAME);
}

/* The payload's members are read in the envelope's one scan: from the
 * last "payload" key, whatever came before it, its key escaped or not;
 * a "payload" key deeper down is just a member. */
static void test_payload_in_one_scan(void **state) {
  wt_command c;
  (void)state;
  /* two payloads: only the last one's members */
  parse_ok(ENV_AS(A1, "project.rename", ",\"payload\":{\"name\":\"first\"}",
                  "{\"name\":\"second\"}"),
           &c);
  assert_string_equal(c.name, "second");
  /* the first payload had a member the last one lacks: it is gone */
  parse_ok(ENV_AS(A1, "log.update",
                  ",\"payload\":{\"log_id\":\"" L1
                  "\",\"description\":\"old\"}",
                  "{\"log_id\":\"" L1 "\",\"ended_at\":\"" T1 "\"}"),
           &c);
  assert_false(c.fields & WT_F_DESCRIPTION);
  assert_true(c.fields & WT_F_ENDED_AT);
  /* an escaped "payload" key is the payload */
  parse_ok("{\"v\":1,\"command_id\":\"" CID "\",\"type\":\"project.rename\","
           "\"actor_id\":\"" A1 "\",\"project_id\":\"" P1
           "\",\"issued_at\":\"" T0 "\",\"p\\u0061yload\":{\"name\":\"esc\"}}",
           &c);
  assert_string_equal(c.name, "esc");
  /* "payload" inside the payload is an unknown payload member */
  {
    char err[256] = "";
    const char *j =
        ENV("project.rename", "{\"name\":\"n\",\"payload\":{\"name\":\"x\"}}");
    assert_int_equal(wt_command_parse(j, strlen(j), &c, err, sizeof(err)),
                     WT_OK);
    assert_int_equal(c.payload_error, WT_REJECT_INVALID);
    assert_non_null(strstr(c.payload_message, "payload"));
  }
}

/* A name of n copies of a UTF-8 sequence. */
static char *repeated_name(const char *type, const char *key, const char *unit,
                           size_t n) {
  size_t ulen = strlen(unit), size = n * ulen + 512;
  char *body = malloc(n * ulen + 1), *json = malloc(size);
  assert_non_null(body);
  assert_non_null(json);
  for (size_t i = 0; i < n; i++)
    memcpy(body + i * ulen, unit, ulen);
  body[n * ulen] = '\0';
  snprintf(json, size,
           "{\"v\":1,\"command_id\":\"" CID "\",\"type\":\"%s\",\"actor_id\":"
           "\"" A1 "\",\"project_id\":\"" P1 "\",\"issued_at\":\"" T0
           "\",\"payload\":{\"log_id\":\"" L1 "\",\"%s\":\"%s\"}}",
           type, key, body);
  free(body);
  return json;
}

typedef struct length_case {
  const char *name;
  const char *type;
  const char *key;
  const char *unit;
  size_t n;
  bool ok;
} length_case;

static length_case length_cases[] = {
    {"length: description of 2000 ASCII", "log.update", "description", "a",
     2000, true},
    {"length: description of 2001 ASCII", "log.update", "description", "a",
     2001, false},
    {"length: description of 2000 four-byte chars", "log.update", "description",
     "\xf0\x9f\x98\x80", 2000, true},
    {"length: description of 2001 four-byte chars", "log.update", "description",
     "\xf0\x9f\x98\x80", 2001, false},
    {"length: description of 2000 escaped chars", "log.update", "description",
     "\\u00e9", 2000, true},
};

static void test_length_case(void **state) {
  const length_case *lc = *state;
  char *json = repeated_name(lc->type, lc->key, lc->unit, lc->n);
  wt_command c;
  char err[256] = "";
  assert_int_equal(wt_command_parse(json, strlen(json), &c, err, sizeof(err)),
                   WT_OK);
  if (lc->ok) {
    assert_int_equal(c.payload_error, WT_REJECT_NONE);
    assert_int_equal(wt_utf8_chars(c.description, strlen(c.description)),
                     (long)lc->n);
  } else {
    assert_int_equal(c.payload_error, WT_REJECT_INVALID);
    assert_non_null(strstr(c.payload_message, "0..2000"));
  }
  free(json);
}

static void test_name_lengths(void **state) {
  static const char *const units[] = {"n", "\xc3\xa9", "\xe2\x82\xac",
                                      "\xf0\x9f\x98\x80"};
  (void)state;
  for (size_t u = 0; u < 4; u++)
    for (size_t n = 199; n <= 201; n++) {
      size_t ulen = strlen(units[u]);
      char name[1024], json[2048];
      wt_command c;
      char err[256] = "";
      for (size_t i = 0; i < n; i++)
        memcpy(name + i * ulen, units[u], ulen);
      name[n * ulen] = '\0';
      snprintf(json, sizeof(json), ENV("project.create", "{\"name\":\"%s\"}"),
               name);
      assert_int_equal(
          wt_command_parse(json, strlen(json), &c, err, sizeof(err)), WT_OK);
      assert_int_equal(c.payload_error,
                       n <= 200 ? WT_REJECT_NONE : WT_REJECT_INVALID);
      if (n <= 200)
        assert_string_equal(c.name, name);
    }
}

static void test_password_hash_cap(void **state) {
  char hash[600], json[1024];
  wt_command c;
  char err[256] = "";
  (void)state;
  for (size_t n = 511; n <= 513; n++) {
    hash[0] = '$';
    memset(hash + 1, 'x', n - 1);
    hash[n] = '\0';
    snprintf(json, sizeof(json),
             USER_CREATE(",\"username\":\"dora\",\"display_name\":\"D\","
                         "\"password_hash\":\"%s\""),
             hash);
    assert_int_equal(wt_command_parse(json, strlen(json), &c, err, sizeof(err)),
                     WT_OK);
    assert_int_equal(c.payload_error,
                     n <= 512 ? WT_REJECT_NONE : WT_REJECT_INVALID);
  }
}

/* --- caps ----------------------------------------------------------------- */

/* A valid command padded with an ignored key to exactly total bytes. */
static char *padded_command(size_t total) {
  const char *base = ENV("log.delete", "{\"log_id\":\"" L1 "\"}");
  size_t blen = strlen(base), extra = strlen(",\"pad\":\"\"");
  char *out = malloc(total + 1);
  size_t pad;
  assert_non_null(out);
  assert_true(total >= blen + extra);
  pad = total - blen - extra;
  /* base is "{...}": insert the pad member before the closing brace */
  memcpy(out, base, blen - 1);
  memcpy(out + blen - 1, ",\"pad\":\"", 8);
  memset(out + blen - 1 + 8, 'p', pad);
  memcpy(out + blen - 1 + 8 + pad, "\"}", 2);
  out[total] = '\0';
  assert_int_equal(strlen(out), total);
  return out;
}

static void test_size_cap(void **state) {
  char *at = padded_command(WT_COMMAND_MAX_BYTES);
  char *over = padded_command(WT_COMMAND_MAX_BYTES + 1);
  wt_command c;
  char err[256] = "";
  (void)state;
  assert_int_equal(wt_command_parse(at, strlen(at), &c, err, sizeof(err)),
                   WT_OK);
  assert_int_equal(c.payload_error, WT_REJECT_NONE);
  assert_int_equal(wt_command_parse(over, strlen(over), &c, err, sizeof(err)),
                   WT_ERR_INVALID);
  assert_non_null(strstr(err, "cap"));
  free(at);
  free(over);
}

/* Nesting: json-c's depth 16 counts its own base level, so 15 nested
 * containers (the root object included) parse and 16 do not. */
static void test_depth_cap(void **state) {
  char json[1024];
  wt_command c;
  char err[256] = "";
  (void)state;
  for (int levels = 14; levels <= 17; levels++) {
    char nest[64] = "";
    char close[64] = "";
    int arrays = levels - 1; /* the root object is one level */
    for (int i = 0; i < arrays; i++) {
      nest[i] = '[';
      close[i] = ']';
    }
    nest[arrays] = close[arrays] = '\0';
    snprintf(
        json, sizeof(json),
        ENV_AS(A1, "log.delete", ",\"deep\":%s1%s", "{\"log_id\":\"" L1 "\"}"),
        nest, close);
    assert_int_equal(wt_command_parse(json, strlen(json), &c, err, sizeof(err)),
                     levels <= 15 ? WT_OK : WT_ERR_INVALID);
  }
  assert_non_null(strstr(err, "too deep"));
}

/* The length is what counts: a NUL inside it is junk, bytes after it are
 * not read. */
static void test_embedded_nul(void **state) {
  static const char base[] = ENV("log.delete", "{\"log_id\":\"" L1 "\"}");
  char buf[sizeof(base) + 4];
  wt_command c;
  char err[256] = "";
  (void)state;
  memcpy(buf, base, sizeof(base)); /* with its NUL */
  buf[sizeof(base)] = 'x';
  buf[sizeof(base) + 1] = 'y';
  buf[sizeof(base) + 2] = 'z';
  assert_int_equal(
      wt_command_parse(buf, sizeof(base) + 3, &c, err, sizeof(err)),
      WT_ERR_INVALID);
  assert_int_equal(
      wt_command_parse(buf, sizeof(base) - 1, &c, err, sizeof(err)), WT_OK);
  assert_int_equal(wt_command_parse(buf, 10, &c, err, sizeof(err)),
                   WT_ERR_INVALID);
  assert_int_equal(wt_command_parse(NULL, 0, &c, err, sizeof(err)),
                   WT_ERR_INVALID);
}

/* --- serialising ---------------------------------------------------------- */

static const char *round_trip_cases[] = {
    ENV("project.create", "{\"name\":\"Caf\\u00e9 / \\\"x\\\"\"}"),
    ENV("project.rename", "{\"name\":\"Apollo 2\"}"),
    ENV("member.add", "{\"user_id\":\"" A2 "\",\"role\":\"member\"}"),
    ENV("member.add", "{\"user_id\":\"" A2 "\",\"role\":\"owner\"}"),
    ENV("member.remove", "{\"user_id\":\"" A2 "\"}"),
    LOG_CREATE(",\"ended_at\":\"2026-11-27T09:30:00.123456Z\","
               "\"description\":\"line\\nbreak\\ttab\""),
    LOG_CREATE(",\"user_id\":\"" A1 "\""),
    LOG_UPDATE(",\"ended_at\":null,\"expected_version\":4"),
    LOG_UPDATE(",\"started_at\":\"" T0 "\",\"description\":\"x\""),
    ENV("log.delete", "{\"log_id\":\"" L1 "\",\"expected_version\":9}"),
    ENV_AS(A1, "log.delete", ",\"origin\":\"wt-ingest/1\"",
           "{\"log_id\":\"" L1 "\"}"),
    USER_CREATE(UC_OK_REST),
    USER_ENV("user.deactivate", "{\"user_id\":\"" A2 "\"}"),
    USER_ENV("user.revoke_tokens", "{\"user_id\":\"" A2 "\"}"),
};

#define NROUND (sizeof(round_trip_cases) / sizeof(round_trip_cases[0]))

/* A command's text by wt_command_write, NUL-terminated, malloc'd. */
static char *write_text(const wt_command *c) {
  wt_buf b;
  wt_buf_init(&b, WT_COMMAND_MAX_BYTES);
  assert_true(wt_command_write(c, &b));
  assert_true(wt_buf_ok(&b));
  return b.data;
}

/* parse -> write -> parse gives the same command; the JSON is stable. */
static void test_round_trip(void **state) {
  const char *json = *(const char **)*state;
  wt_command *c1 = calloc(3, sizeof(*c1));
  char *j1 = NULL, *j2 = NULL;
  assert_non_null(c1);
  parse_ok(json, &c1[0]);
  j1 = write_text(&c1[0]);
  schema_dump("command", j1);
  parse_ok(j1, &c1[1]);
  j2 = write_text(&c1[1]);
  assert_string_equal(j1, j2);
  parse_ok(j2, &c1[2]);
  assert_memory_equal(&c1[1], &c1[2], sizeof(wt_command));
  /* what the first parse saw survives the trip */
  assert_int_equal(c1[0].type, c1[1].type);
  assert_string_equal(c1[0].name, c1[1].name);
  assert_string_equal(c1[0].description, c1[1].description);
  assert_int_equal(c1[0].started_at, c1[1].started_at);
  assert_int_equal(c1[0].ended_at_null, c1[1].ended_at_null);
  assert_int_equal(c1[0].expected_version, c1[1].expected_version);
  /* log.create writes ended_at and description even when absent */
  assert_int_equal(c1[0].fields | WT_F_ENDED_AT | WT_F_DESCRIPTION,
                   c1[1].fields | WT_F_ENDED_AT | WT_F_DESCRIPTION);
  free(j1);
  free(j2);
  free(c1);
}

/* --- writing: every type by hand, write -> parse -> equal ------------------
 */

/* Text with what a writer must escape or pass through: quotes, backslash,
 * control characters, a slash, DEL, UTF-8 of 2, 3 and 4 bytes. */
#define AWKWARD                                                                \
  "q\"b\\s/\t\n\r\x01\x1f\x7f caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"

/* Every field the parser fills, compared; a command by hand sets fields as
 * the parser will. */
static void assert_same_command(const wt_command *a, const wt_command *b) {
  assert_int_equal(a->type, b->type);
  assert_string_equal(a->command_id, b->command_id);
  assert_int_equal(a->actor_system, b->actor_system);
  assert_string_equal(a->actor_id, b->actor_id);
  assert_string_equal(a->project_id, b->project_id);
  assert_string_equal(a->user_id, b->user_id);
  assert_int_equal(a->issued_at, b->issued_at);
  assert_string_equal(a->origin, b->origin);
  assert_int_equal(a->fields, b->fields);
  assert_int_equal(a->payload_error, WT_REJECT_NONE);
  assert_int_equal(b->payload_error, WT_REJECT_NONE);
  assert_string_equal(a->target_user_id, b->target_user_id);
  assert_int_equal(a->role, b->role);
  assert_string_equal(a->log_id, b->log_id);
  assert_int_equal(a->started_at, b->started_at);
  assert_int_equal(a->ended_at_null, b->ended_at_null);
  if (!a->ended_at_null)
    assert_int_equal(a->ended_at, b->ended_at);
  assert_int_equal(a->expected_version, b->expected_version);
  assert_string_equal(a->username, b->username);
  assert_string_equal(a->name, b->name);
  assert_string_equal(a->description, b->description);
  assert_string_equal(a->display_name, b->display_name);
  assert_string_equal(a->password_hash, b->password_hash);
}

/* The longest text of max characters: 4-byte UTF-8 each. */
static void longest(char *out, size_t max) {
  for (size_t i = 0; i < max; i++)
    memcpy(out + 4 * i, "\xf0\x9f\x98\x80", 4);
  out[4 * max] = '\0';
}

static void by_hand_log(wt_command *c, wt_cmd_type t, int variant) {
  memcpy(c->project_id, P1, sizeof(P1));
  memcpy(c->log_id, L1, sizeof(L1));
  c->fields = WT_F_LOG_ID;
  if (variant) {
    memcpy(c->target_user_id, A2, sizeof(A2));
    c->fields |= WT_F_USER_ID;
  }
  if (t == WT_CMD_LOG_DELETE) {
    if (variant) {
      c->expected_version = INT64_MAX;
      c->fields |= WT_F_EXPECTED_VERSION;
    }
    return;
  }
  c->started_at = INT64_C(1796491800000000);
  c->ended_at = INT64_C(1796495399999999);
  c->ended_at_null = variant && t == WT_CMD_LOG_CREATE;
  c->fields |= WT_F_STARTED_AT | WT_F_ENDED_AT | WT_F_DESCRIPTION;
  if (variant)
    longest(c->description, WT_DESCRIPTION_MAX_CHARS);
  else
    snprintf(c->description, sizeof(c->description), "%s", AWKWARD);
  if (t == WT_CMD_LOG_UPDATE) {
    c->expected_version = variant ? 1 : 42;
    c->fields |= WT_F_EXPECTED_VERSION;
    if (variant) { /* an update of the description alone */
      c->fields &= ~(WT_F_STARTED_AT | WT_F_ENDED_AT);
      c->started_at = 0;
      c->ended_at = 0;
    }
  }
}

/* A command of type t by hand, every field its payload takes set (variant
 * 1: the optional ones too, the longest texts, the system actor), as the
 * parser will read it back. */
static void by_hand(wt_command *c, wt_cmd_type t, int variant) {
  wt_command_init(c, t, variant ? NULL : A1);
  memcpy(c->command_id, CID, sizeof(CID));
  c->issued_at = INT64_C(1796495400123457); /* µs survive */
  if (variant)
    snprintf(c->origin, sizeof(c->origin), "%s", "wt-ingest/1 \"x\"");
  switch (t) {
  case WT_CMD_PROJECT_CREATE:
  case WT_CMD_PROJECT_RENAME:
    memcpy(c->project_id, P1, sizeof(P1));
    c->fields = WT_F_NAME;
    if (variant)
      longest(c->name, WT_NAME_MAX_CHARS);
    else
      snprintf(c->name, sizeof(c->name), "%s", AWKWARD);
    break;
  case WT_CMD_MEMBER_ADD:
    memcpy(c->project_id, P1, sizeof(P1));
    memcpy(c->target_user_id, A2, sizeof(A2));
    c->role = variant ? WT_ROLE_OWNER : WT_ROLE_MEMBER;
    c->fields = WT_F_USER_ID | WT_F_ROLE;
    break;
  case WT_CMD_MEMBER_REMOVE:
    memcpy(c->project_id, P1, sizeof(P1));
    memcpy(c->target_user_id, A2, sizeof(A2));
    c->fields = WT_F_USER_ID;
    break;
  case WT_CMD_LOG_CREATE:
  case WT_CMD_LOG_UPDATE:
  case WT_CMD_LOG_DELETE: by_hand_log(c, t, variant); break;
  case WT_CMD_USER_CREATE:
    memcpy(c->user_id, A2, sizeof(A2));
    memcpy(c->target_user_id, A2, sizeof(A2));
    snprintf(c->username, sizeof(c->username), "%s",
             variant ? "a.very-long_user.name-0123456789" : "bob");
    if (variant)
      longest(c->display_name, WT_NAME_MAX_CHARS);
    else
      snprintf(c->display_name, sizeof(c->display_name), "%s", AWKWARD);
    if (variant) {
      memset(c->password_hash, 'x', WT_PASSWORD_HASH_MAX);
      c->password_hash[0] = '$';
    } else {
      snprintf(c->password_hash, sizeof(c->password_hash), "%s",
               "$y$j9T$salt$\"hash\\");
    }
    c->fields =
        WT_F_USER_ID | WT_F_USERNAME | WT_F_DISPLAY_NAME | WT_F_PASSWORD_HASH;
    break;
  case WT_CMD_USER_DEACTIVATE:
  case WT_CMD_USER_REVOKE_TOKENS:
    memcpy(c->user_id, A2, sizeof(A2));
    memcpy(c->target_user_id, A2, sizeof(A2));
    c->fields = WT_F_USER_ID;
    break;
  case WT_CMD_NONE:
  case WT_CMD__COUNT: break;
  }
}

/* Every command type, both variants: write -> parse -> equal, the text is
 * what parse -> write gives again, and wt_command_encode is that write and
 * parse in one, appended to what its buffer holds. */
static void test_write_every_type(void **state) {
  wt_command *c = calloc(3, sizeof(*c));
  char err[256] = "";
  (void)state;
  assert_non_null(c);
  for (int t = WT_CMD_NONE + 1; t < WT_CMD__COUNT; t++) {
    for (int variant = 0; variant < 2; variant++) {
      const char *name = wt_cmd_type_name((wt_cmd_type)t);
      char *text, *again;
      wt_buf b;
      by_hand(&c[0], (wt_cmd_type)t, variant);
      text = write_text(&c[0]);
      schema_dump("command", text);
      if (wt_command_parse(text, strlen(text), &c[1], err, sizeof(err)) !=
          WT_OK)
        fail_msg("%s/%d: %s: %s", name, variant, err, text);
      if (c[1].payload_error)
        fail_msg("%s/%d: %s: %s", name, variant, c[1].payload_message, text);
      assert_same_command(&c[0], &c[1]);
      again = write_text(&c[1]);
      assert_string_equal(text, again);
      wt_buf_init(&b, (size_t)2 * WT_COMMAND_MAX_BYTES);
      wt_buf_puts(&b, "prefix");
      assert_int_equal(wt_command_encode(&c[0], &b, &c[2], err, sizeof(err)),
                       WT_OK);
      assert_string_equal(b.data + 6, text);
      assert_same_command(&c[0], &c[2]);
      wt_buf_free(&b);
      free(again);
      free(text);
    }
  }
  free(c);
}

/* What wt_command_write does not do: judge. The parser does, through
 * wt_command_encode; a full buffer and an unknown type are false. */
static void test_write_and_encode_failures(void **state) {
  wt_command *c = calloc(2, sizeof(*c));
  char err[256] = "", *text;
  size_t need;
  wt_buf b;
  (void)state;
  assert_non_null(c);
  wt_buf_init(&b, WT_COMMAND_MAX_BYTES);

  by_hand(&c[0], WT_CMD_LOG_UPDATE, 0);
  c[0].type = WT_CMD_NONE;
  assert_false(wt_command_write(&c[0], &b));
  assert_int_equal(b.len, 0);
  assert_int_equal(wt_command_encode(&c[0], &b, &c[1], err, sizeof(err)),
                   WT_ERR_INVALID);
  assert_string_equal(err, "unknown command type");
  assert_false(wt_command_write(NULL, &b));

  /* a bad envelope: written as it is, refused by the parse */
  by_hand(&c[0], WT_CMD_LOG_UPDATE, 0);
  memcpy(c[0].command_id, "NOT-A-UUID", 11);
  assert_true(wt_command_write(&c[0], &b));
  wt_buf_reset(&b);
  assert_int_equal(wt_command_encode(&c[0], &b, &c[1], err, sizeof(err)),
                   WT_ERR_INVALID);
  assert_non_null(strstr(err, "command_id"));

  /* a bad payload: WT_OK with the payload error, as the worker sees it */
  by_hand(&c[0], WT_CMD_USER_CREATE, 0);
  snprintf(c[0].username, sizeof(c[0].username), "%s", "No Caps");
  wt_buf_reset(&b);
  assert_int_equal(wt_command_encode(&c[0], &b, &c[1], err, sizeof(err)),
                   WT_OK);
  assert_int_equal(c[1].payload_error, WT_REJECT_INVALID);
  assert_non_null(strstr(c[1].payload_message, "username"));

  /* the cap: every size below the text's fails, the text's fits */
  by_hand(&c[0], WT_CMD_LOG_CREATE, 0);
  text = write_text(&c[0]);
  need = strlen(text);
  for (size_t cap = 0; cap < need; cap += cap < 64 ? 1 : 37) {
    wt_buf small;
    wt_buf_init(&small, cap);
    assert_false(wt_command_write(&c[0], &small));
    wt_buf_free(&small);
  }
  wt_buf_free(&b);
  wt_buf_init(&b, need);
  assert_true(wt_command_write(&c[0], &b));
  assert_string_equal(b.data, text);
  wt_buf_reset(&b);
  wt_buf_putc(&b, 'x'); /* one byte short now */
  assert_false(wt_command_write(&c[0], &b));
  wt_buf_reset(&b);
  wt_buf_putc(&b, 'x');
  assert_int_equal(wt_command_encode(&c[0], &b, &c[1], err, sizeof(err)),
                   WT_ERR_INVALID);
  assert_string_equal(err, "command too large");
  free(text);
  wt_buf_free(&b);
  free(c);
}

/* A producer fills the struct by hand (through wt_command_to_json, the
 * transitional wrapper of wt_command_write). */
static void test_to_json_by_hand(void **state) {
  wt_command c, back;
  char *json = NULL;
  (void)state;
  memset(&c, 0, sizeof(c));
  c.type = WT_CMD_LOG_CREATE;
  wt_uuid_generate(c.command_id);
  memcpy(c.actor_id, A1, sizeof(A1));
  memcpy(c.project_id, P1, sizeof(P1));
  memcpy(c.log_id, L1, sizeof(L1));
  c.issued_at = wt_time_now_us();
  c.started_at = c.issued_at - 60 * INT64_C(1000000);
  c.ended_at_null = true;
  json = wt_command_to_json(&c);
  assert_non_null(json);
  assert_non_null(strstr(json, "\"ended_at\":null"));
  assert_non_null(strstr(json, "\"description\":\"\""));
  assert_null(strstr(json, "\"origin\""));
  parse_ok(json, &back);
  assert_string_equal(back.command_id, c.command_id);
  assert_int_equal(back.issued_at, c.issued_at);
  assert_int_equal(back.started_at, c.started_at);
  assert_true(back.ended_at_null);
  free(json);
  c.type = WT_CMD_NONE;
  assert_null(wt_command_to_json(&c));
}

/* --- times ---------------------------------------------------------------- */

typedef struct time_case {
  const char *text;
  const char *formatted; /* NULL: rejected */
} time_case;

static time_case time_cases[] = {
    {"1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"},
    {"2026-11-27T18:30:00Z", "2026-11-27T18:30:00Z"},
    {"2024-02-29T12:00:00Z", "2024-02-29T12:00:00Z"},
    {"2000-02-29T23:59:59Z", "2000-02-29T23:59:59Z"},
    {"2026-11-27T18:30:00.5Z", "2026-11-27T18:30:00.500Z"},
    {"2026-11-27T18:30:00.120Z", "2026-11-27T18:30:00.120Z"},
    {"2026-11-27T18:30:00.000Z", "2026-11-27T18:30:00Z"},
    {"2026-11-27T18:30:00.123456Z", "2026-11-27T18:30:00.123456Z"},
    {"2026-11-27T18:30:00.000001Z", "2026-11-27T18:30:00.000001Z"},
    {"2026-12-31T23:59:59.999Z", "2026-12-31T23:59:59.999Z"},
    {"9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"},
    {"2023-02-29T00:00:00Z", NULL}, /* not a leap year */
    {"2100-02-29T00:00:00Z", NULL}, /* century, not a leap year */
    {"2026-02-30T00:00:00Z", NULL},
    {"2026-04-31T00:00:00Z", NULL},
    {"2026-13-01T00:00:00Z", NULL},
    {"2026-00-10T00:00:00Z", NULL},
    {"2026-11-00T00:00:00Z", NULL},
    {"2026-11-27T24:00:00Z", NULL},
    {"2026-11-27T23:60:00Z", NULL},
    {"2026-12-31T23:59:60Z", NULL}, /* leap second */
    {"2026-11-27T18:30:00", NULL},  /* no zone */
    {"2026-11-27T18:30:00+02:00", NULL},
    {"2026-11-27T18:30:00+00:00", NULL},
    {"2026-11-27T18:30:00-00:00", NULL},
    {"2026-11-27T18:30:00z", NULL},
    {"2026-11-27t18:30:00Z", NULL},
    {"2026-11-27 18:30:00Z", NULL},
    {"2026-11-27T18:30:00.Z", NULL},
    {"2026-11-27T18:30:00.1234567Z", NULL},
    {"2026-11-27T18:30:00,5Z", NULL},
    {"2026-11-27T18:30:00ZZ", NULL},
    {"2026-11-27T18:30Z", NULL},
    {"2026-11-27", NULL},
    {"2026-1-27T18:30:00Z", NULL},
    {"+2026-11-27T18:30:00Z", NULL},
    {"1969-12-31T23:59:59Z", NULL},
    {"0000-01-01T00:00:00Z", NULL},
    {"2026-11-27T1a:30:00Z", NULL},
    {"", NULL},
};

#define NTIME (sizeof(time_cases) / sizeof(time_cases[0]))

static void test_time_case(void **state) {
  const time_case *tc = *state;
  int64_t us = -42;
  char out[40];
  if (!tc->formatted) {
    assert_int_equal(wt_time_parse(tc->text, &us), -1);
    assert_int_equal(us, -42);
    return;
  }
  assert_int_equal(wt_time_parse(tc->text, &us), 0);
  wt_time_format(us, out, sizeof(out));
  assert_string_equal(out, tc->formatted);
}

/* Against the C library over the whole range, a day at a time in steps. */
static void test_time_matches_timegm(void **state) {
  (void)state;
  for (int64_t day = 0; day < 2932897; day += 97) {
    time_t t = (time_t)(day * 86400 + (day * 7919) % 86400);
    struct tm tm;
    char text[40], out[40];
    int64_t us = 0;
    assert_non_null(gmtime_r(&t, &tm));
    strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
    assert_int_equal(wt_time_parse(text, &us), 0);
    assert_int_equal(us, (int64_t)t * 1000000);
    wt_time_format(us, out, sizeof(out));
    assert_string_equal(out, text);
  }
}

static void test_time_round_trip(void **state) {
  uint64_t x = 88172645463325252u;
  const int64_t max = INT64_C(253402300799999999); /* 9999-12-31T23:59:59.9.. */
  (void)state;
  for (int i = 0; i < 20000; i++) {
    char out[40];
    int64_t us = 0, t;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    t = (int64_t)(x % (uint64_t)max);
    if (i % 3 == 1)
      t -= t % 1000; /* milliseconds */
    if (i % 3 == 2)
      t -= t % 1000000; /* whole seconds */
    wt_time_format(t, out, sizeof(out));
    assert_int_equal(wt_time_parse(out, &us), 0);
    assert_int_equal(us, t);
  }
}

static void test_time_now(void **state) {
  int64_t now = wt_time_now_us();
  char out[40];
  int64_t back = 0;
  (void)state;
  assert_true(now > INT64_C(1700000000000000));
  wt_time_format(now, out, sizeof(out));
  assert_int_equal(wt_time_parse(out, &back), 0);
  assert_int_equal(back, now);
}

/* --- UUIDs ---------------------------------------------------------------- */

typedef struct uuid_case {
  const char *text;
  bool valid;
} uuid_case;

static uuid_case uuid_cases[] = {
    {"c0000000-0000-4000-8000-000000000001", true},
    {"0123abcd-ef45-6789-abcd-ef0123456789", true},
    {"00000000-0000-0000-0000-000000000000", true},
    {"C0000000-0000-4000-8000-000000000001", false},
    {"c0000000-0000-4000-8000-00000000000A", false},
    {"c0000000000040008000000000000001", false},
    {"c0000000-0000-4000-8000-0000000000012", false},
    {"c0000000-0000-4000-8000-00000000001", false},
    {"{c0000000-0000-4000-8000-000000000001}", false},
    {"c0000000-0000-4000-8000_000000000001", false},
    {"g0000000-0000-4000-8000-000000000001", false},
    {" c0000000-0000-4000-8000-00000000001", false},
    {"", false},
};

#define NUUID (sizeof(uuid_cases) / sizeof(uuid_cases[0]))

static void test_uuid_case(void **state) {
  const uuid_case *uc = *state;
  assert_int_equal(wt_uuid_valid(uc->text), uc->valid);
}

static int cmp_uuid(const void *a, const void *b) {
  return strcmp(a, b);
}

static void test_uuid_generate(void **state) {
  enum { N = 1000 };
  char(*ids)[WT_UUID_STR] = calloc(N, WT_UUID_STR);
  (void)state;
  assert_non_null(ids);
  assert_false(wt_uuid_valid(NULL));
  for (int i = 0; i < N; i++) {
    wt_uuid_generate(ids[i]);
    assert_true(wt_uuid_valid(ids[i]));
    assert_int_equal(ids[i][14], '4');
    assert_non_null(strchr("89ab", ids[i][19]));
  }
  qsort(ids, N, WT_UUID_STR, cmp_uuid);
  for (int i = 1; i < N; i++)
    assert_true(strcmp(ids[i - 1], ids[i]) != 0);
  free(ids);
}

/* --- UTF-8 ---------------------------------------------------------------- */

typedef struct utf8_case {
  const char *name;
  const char *bytes;
  size_t len;
  long chars;
} utf8_case;

#define U8(n, s, c)                                                            \
  { n, s, sizeof(s) - 1, c }

static utf8_case utf8_cases[] = {
    U8("utf8: empty", "", 0),
    U8("utf8: ascii", "abc", 3),
    U8("utf8: two-byte", "\xc3\xa9t\xc3\xa9", 3),
    U8("utf8: three-byte", "\xe2\x82\xac", 1),
    U8("utf8: four-byte", "\xf0\x9f\x98\x80!", 2),
    U8("utf8: U+10FFFF", "\xf4\x8f\xbf\xbf", 1),
    U8("utf8: NUL counts when inside len", "a\0b", 3),
    U8("utf8: overlong slash", "\xc0\xaf", -1),
    U8("utf8: overlong three-byte", "\xe0\x80\xaf", -1),
    U8("utf8: overlong four-byte", "\xf0\x80\x80\xaf", -1),
    U8("utf8: surrogate", "\xed\xa0\x80", -1),
    U8("utf8: over U+10FFFF", "\xf4\x90\x80\x80", -1),
    U8("utf8: truncated", "\xe2\x82", -1),
    U8("utf8: lone continuation", "\x80", -1),
    U8("utf8: bad continuation", "\xc3\x28", -1),
    U8("utf8: 0xff", "a\xff", -1),
};

#define NUTF8 (sizeof(utf8_cases) / sizeof(utf8_cases[0]))

static void test_utf8_case(void **state) {
  const utf8_case *uc = *state;
  assert_int_equal(wt_utf8_chars(uc->bytes, uc->len), uc->chars);
}

/* --- names ---------------------------------------------------------------- */

static void test_names(void **state) {
  (void)state;
  for (int t = WT_CMD_NONE + 1; t < WT_CMD__COUNT; t++)
    assert_int_equal(wt_cmd_type_parse(wt_cmd_type_name((wt_cmd_type)t)), t);
  assert_string_equal(wt_cmd_type_name(WT_CMD_USER_REVOKE_TOKENS),
                      "user.revoke_tokens");
  assert_int_equal(wt_cmd_type_parse("none"), WT_CMD_NONE);
  assert_int_equal(wt_cmd_type_parse(NULL), WT_CMD_NONE);
  assert_string_equal(wt_cmd_type_name(WT_CMD__COUNT), "unknown");
  assert_string_equal(wt_role_name(WT_ROLE_MEMBER), "member");
  assert_string_equal(wt_role_name(WT_ROLE_OWNER), "owner");
  assert_string_equal(wt_reject_name(WT_REJECT_INVALID), "invalid");
  assert_string_equal(wt_reject_name(WT_REJECT_NOT_FOUND), "not_found");
  assert_string_equal(wt_reject_name(WT_REJECT_FORBIDDEN), "forbidden");
  assert_string_equal(wt_reject_name(WT_REJECT_CONFLICT), "conflict");
}

/* --- main ----------------------------------------------------------------- */

#define NLENGTH (sizeof(length_cases) / sizeof(length_cases[0]))
#define NSINGLE 19

int main(void) {
  enum { NTESTS = NPARSE + NLENGTH + NROUND + NTIME + NUUID + NUTF8 + NSINGLE };
  static struct CMUnitTest tests[NTESTS];
  static char names[NTESTS][160];
  size_t n = 0, k = 0;
#define SINGLE(f) tests[n++] = (struct CMUnitTest)cmocka_unit_test(f)
#define NAMED(fn, st, ...)                                                     \
  do {                                                                         \
    snprintf(names[k], sizeof(names[k]), __VA_ARGS__);                         \
    tests[n++] = (struct CMUnitTest){                                          \
        .name = names[k++], .test_func = (fn), .initial_state = (st)};         \
  } while (0)
  SINGLE(test_fields_log_create);
  SINGLE(test_fields_running_timer);
  SINGLE(test_fields_user_create);
  SINGLE(test_duplicate_keys_last_wins);
  SINGLE(test_payload_in_one_scan);
  SINGLE(test_name_lengths);
  SINGLE(test_password_hash_cap);
  SINGLE(test_size_cap);
  SINGLE(test_depth_cap);
  SINGLE(test_embedded_nul);
  SINGLE(test_to_json_by_hand);
  SINGLE(test_write_every_type);
  SINGLE(test_write_and_encode_failures);
  SINGLE(test_time_matches_timegm);
  SINGLE(test_time_round_trip);
  SINGLE(test_time_now);
  SINGLE(test_uuid_generate);
  SINGLE(test_names);
  for (size_t i = 0; i < NPARSE; i++)
    NAMED(test_parse_case, &parse_cases[i], "parse %s", parse_cases[i].name);
  for (size_t i = 0; i < NLENGTH; i++)
    NAMED(test_length_case, &length_cases[i], "%s", length_cases[i].name);
  for (size_t i = 0; i < NROUND; i++) {
    wt_command c;
    char err[256] = "";
    const char *json = round_trip_cases[i];
    wt_command_parse(json, strlen(json), &c, err, sizeof(err));
    NAMED(test_round_trip, &round_trip_cases[i], "round trip %zu %s", i,
          wt_cmd_type_name(c.type));
  }
  for (size_t i = 0; i < NTIME; i++)
    NAMED(test_time_case, &time_cases[i], "time %s \"%s\"",
          time_cases[i].formatted ? "ok" : "bad", time_cases[i].text);
  for (size_t i = 0; i < NUUID; i++)
    NAMED(test_uuid_case, &uuid_cases[i], "uuid %s \"%s\"",
          uuid_cases[i].valid ? "ok" : "bad", uuid_cases[i].text);
  for (size_t i = 0; i < NUTF8; i++)
    NAMED(test_utf8_case, &utf8_cases[i], "%s", utf8_cases[i].name);
  return _cmocka_run_group_tests("command", tests, n, NULL, NULL);
}
