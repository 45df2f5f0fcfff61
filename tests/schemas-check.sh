#!/usr/bin/env bash
# Checks recorded traffic against schemas/ with Python's jsonschema (Debian:
# python3-jsonschema).
#   tests/schemas-check.sh --run TEST DUMP   run TEST (test_gateway_e2e) with
#                                            WT_SCHEMA_DUMP=DUMP (emptied
#                                            first), then check DUMP
#   tests/schemas-check.sh [--partial] DUMP  check a dump made before
# DUMP has one line "<kind> <json>" per message (tests/support/wt_wsclient.h,
# schemas/README.md). Each is checked against its schema; a frame sent invalid
# on purpose is not, but the server's reply to it must be an error "invalid"
# (or a close 1009 for an oversized message) that is. Unless --partial, every
# WebSocket frame type and HTTP body of the API must have been seen at least
# once, so that a dump that misses traffic fails too. Exit 0 when all agree.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
schemas="$here/../schemas"

usage() {
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

die() {
  echo "schemas-check: FAIL: $*" >&2
  echo "0 passed, 1 failed" # for tests/summary.sh
  exit 1
}

partial=0
case "${1:-}" in
--run)
  [[ $# -eq 3 ]] || usage
  test_bin="$2" dump="$3"
  rm -f "$dump"
  # its output aside: its cases are counted where ctest runs it on its own
  echo "schemas-check: running $test_bin with WT_SCHEMA_DUMP=$dump (output in $dump.log)"
  if ! WT_SCHEMA_DUMP="$dump" "$test_bin" >"$dump.log" 2>&1; then
    tail -n 60 "$dump.log" >&2
    die "$test_bin failed (its traffic is not checked)"
  fi
  ;;
--partial)
  [[ $# -eq 2 ]] || usage
  partial=1 dump="$2"
  ;;
-h | --help | "") usage ;;
*)
  [[ $# -eq 1 ]] || usage
  dump="$1"
  ;;
esac
[[ -s "$dump" ]] || die "$dump is missing or empty"

# Debian's python3 has python3-jsonschema; another python3 first on PATH
# (pyenv, a venv) may not.
python=
for p in "${WT_PYTHON:-}" /usr/bin/python3 python3; do
  if [[ -n "$p" ]] && "$p" -c 'import jsonschema' 2>/dev/null; then
    python="$p"
    break
  fi
done
[[ -n "$python" ]] ||
  die "no python3 with the jsonschema module (apt-get install python3-jsonschema)"

exec "$python" - "$schemas" "$dump" "$partial" <<'PYTHON'
import json
import os
import sys

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker

schema_dir, dump_path, partial = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
BASE = "https://worktracker.invalid/schemas/"

schemas = {}
for name in sorted(os.listdir(schema_dir)):
    if name.endswith(".schema.json"):
        try:
            with open(os.path.join(schema_dir, name), encoding="utf-8") as f:
                s = json.load(f)
            Draft202012Validator.check_schema(s)
        except (ValueError, jsonschema.exceptions.SchemaError) as e:
            print("schemas-check: FAIL: schemas/%s is no draft 2020-12 schema: %s"
                  % (name, getattr(e, "message", e)), file=sys.stderr)
            print("0 passed, 1 failed")
            sys.exit(1)
        if s.get("$id") != BASE + name:
            print("schemas-check: FAIL: schemas/%s: $id is not %s" % (name, BASE + name),
                  file=sys.stderr)
            print("0 passed, 1 failed")
            sys.exit(1)
        schemas[name] = s

try:  # jsonschema >= 4.18
    from referencing import Registry, Resource

    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas.values())

    def make_validator(schema):
        return Draft202012Validator(schema, registry=registry,
                                    format_checker=FormatChecker())
except ImportError:  # Debian bookworm's 4.10
    store = {s["$id"]: s for s in schemas.values()}

    def make_validator(schema):
        return Draft202012Validator(
            schema, format_checker=FormatChecker(),
            resolver=jsonschema.RefResolver.from_schema(schema, store=store))

validators = {}


def validator(ref):
    """A validator of "file" or "file#/$defs/name"."""
    if ref not in validators:
        validators[ref] = make_validator({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": BASE + ref})
    return validators[ref]


def is_discriminator(e):
    """A branch's "'x' was expected" on the frame's type (or event_type)."""
    return e.validator in ("const", "enum") and \
        list(e.relative_path) in (["type"], ["event_type"])


def leaves(err):
    """The innermost errors; of a oneOf/anyOf, only those of the branches
    meant for the document's type, when some are."""
    if not err.context:
        yield err
        return
    branches = {}
    for c in err.context:
        branches.setdefault(c.relative_schema_path[0], []).append(c)
    meant = [b for b in branches.values()
             if not any(is_discriminator(c) for c in b)]
    for b in meant or branches.values():
        for c in b:
            yield from leaves(c)


def problems(ref, doc):
    """What is wrong with doc under ref, most specific first; [] if valid."""
    errors = list(validator(ref).iter_errors(doc))
    found = [e for err in errors for e in leaves(err)]
    found.sort(key=lambda e: -len(e.absolute_path))
    out = []
    for e in found:
        where = "/".join(str(p) for p in e.absolute_path) or "(top)"
        msg = "at %s: %s" % (where, e.message if len(e.message) < 300
                              else e.message[:300] + "...")
        if msg not in out:
            out.append(msg)
    return out[:4]


failures = []
seen = {}
pending_ws = 0        # ws-client-invalid frames without a reply yet
pending_http = None   # line number of an http-request-invalid unanswered


def fail(lineno, kind, text, why):
    short = text if len(text) <= 400 else text[:400] + "..."
    failures.append("line %d, %s %s\n    %s" % (lineno, kind, short,
                                             "\n    ".join(why)))


def check(lineno, kind, text, doc, ref):
    why = problems(ref, doc)
    if why:
        fail(lineno, kind, text, ["does not match %s:" % ref] + why)
    return not why


def note(key):
    seen[key] = seen.get(key, 0) + 1


API_2XX = {"login": "http.schema.json#/$defs/login_response",
           "refresh": "http.schema.json#/$defs/refresh_response",
           "readyz": "http.schema.json#/$defs/readyz_response"}

with open(dump_path, encoding="utf-8", errors="surrogateescape") as f:
    lines = f.read().split("\n")
if lines and lines[-1] == "":
    lines.pop()

# sent invalid on purpose: not checked, may not even be JSON
UNCHECKED = ("ws-client-invalid", "http-request-invalid", "command-invalid",
             "command-dlq")

for lineno, line in enumerate(lines, 1):
    kind, _, text = line.partition(" ")
    try:
        doc = json.loads(text)
    except ValueError as e:
        if kind not in UNCHECKED:
            fail(lineno, kind, text, ["not JSON: %s" % e])
            continue
        doc = None
    frame_type = doc.get("type") if isinstance(doc, dict) else None

    if kind == "ws-client":
        note("ws-client %s" % frame_type)
        check(lineno, kind, text, doc, "ws-client.schema.json")
    elif kind == "ws-client-invalid":
        note(kind)
        pending_ws += 1
    elif kind == "ws-server":
        note("ws-server %s" % frame_type)
        check(lineno, kind, text, doc, "ws-server.schema.json")
    elif kind == "ws-server-close":
        note(kind)
        check(lineno, kind, text, doc, "ws-server.schema.json#/$defs/close")
    elif kind == "ws-server-reply-to-invalid":
        note(kind)
        if pending_ws == 0:
            fail(lineno, kind, text, ["a reply to an invalid frame, but none was sent"])
            continue
        pending_ws -= 1
        if isinstance(doc, dict) and "type" in doc:
            if check(lineno, kind, text, doc, "ws-server.schema.json") and (
                    frame_type != "error" or doc.get("code") != "invalid"):
                fail(lineno, kind, text,
                     ["a frame sent invalid on purpose got this, not an error \"invalid\""])
        elif check(lineno, kind, text, doc, "ws-server.schema.json#/$defs/close") \
                and doc.get("code") != 1009:
            fail(lineno, kind, text,
                 ["a frame sent invalid on purpose got this close, not an error"
                  " \"invalid\" or a close 1009 (too large)"])
    elif kind in ("http-login-request", "http-refresh-request"):
        note(kind)
        check(lineno, kind, text, doc,
              "http.schema.json#/$defs/%s_request" % kind.split("-")[1])
    elif kind == "http-request-invalid":
        note(kind)
        pending_http = lineno
    elif kind.startswith("http-") and "-response-" in kind:
        route, _, status = kind[len("http-"):].partition("-response-")
        if not status.isdigit():
            fail(lineno, kind, text, ["unknown kind"])
            continue
        status = int(status)
        note("http-%s-response-%d" % (route, status))
        if pending_http is not None:
            pending_http = None
            if not 400 <= status < 500:
                fail(lineno, kind, text,
                     ["a body sent invalid on purpose got status %d, not 4xx" % status])
        if 200 <= status < 300:
            if route not in API_2XX:
                fail(lineno, kind, text, ["a %d JSON answer outside the API" % status])
            else:
                check(lineno, kind, text, doc, API_2XX[route])
        elif route == "readyz" and status == 503 and isinstance(doc, dict) \
                and "error" not in doc:
            check(lineno, kind, text, doc, API_2XX[route])
        elif "error_%d" % status in schemas["http.schema.json"]["$defs"]:
            check(lineno, kind, text, doc, "http.schema.json#/$defs/error_%d" % status)
        else:
            fail(lineno, kind, text, ["status %d is not one of the API's" % status])
    elif kind in ("command", "event", "rejected"):  # unit tests' dumps
        note(kind)
        check(lineno, kind, text, doc, "%s.schema.json" % kind)
    elif kind in ("command-invalid", "command-dlq"):
        note(kind)
    elif kind in ("ws-client-binary", "ws-server-binary"):
        fail(lineno, kind, text, ["a binary message: the API has none (mark a"
                                  " frame sent so on purpose with wt_ws_dump_invalid)"])
    else:
        fail(lineno, kind, text, ["unknown kind"])

if pending_ws:
    failures.append("%d ws-client-invalid frame(s) got no reply on their"
                    " connection" % pending_ws)
if pending_http is not None:
    failures.append("line %d: http-request-invalid got no answer" % pending_http)

if not partial:
    want = ["ws-client %s" % t for t in schemas["ws-client.schema.json"]["properties"]["type"]["enum"]]
    want += ["ws-server %s" % t for t in schemas["ws-server.schema.json"]["properties"]["type"]["enum"]]
    want += ["ws-server-close", "ws-client-invalid", "ws-server-reply-to-invalid",
             "http-login-request", "http-login-response-200", "http-login-response-401",
             "http-login-response-429", "http-refresh-request",
             "http-refresh-response-200", "http-refresh-response-401",
             "http-readyz-response-200", "http-request-invalid"]
    missing = [k for k in want if k not in seen]
    if missing:
        failures.append("never seen in the dump (the test no longer sends or gets"
                        " them, or they are not recorded): " + ", ".join(missing))

print("schemas-check: %d lines of %s:" % (len(lines), dump_path))
for key in sorted(seen):
    print("  %6d  %s" % (seen[key], key))
sys.stdout.flush()
if failures:
    print("\nschemas-check: FAIL: %d problem(s):" % len(failures), file=sys.stderr)
    for f in failures:
        print(f, file=sys.stderr)
    sys.stderr.flush()
    print("0 passed, 1 failed")  # for tests/summary.sh
    sys.exit(1)
print("schemas-check: OK, every line matches its schema")
print("1 passed, 0 failed")
PYTHON
