#!/usr/bin/env bash
# The documented commands (docs/operations.md, docs/configuration.md) while `make run` is up (issue 12, item 8): from a
# checkout whose var/stack.env names the stack's random ports, wt-admin and
# wt-worker find PostgreSQL and Kafka with no WT_DATABASE_URL or
# WT_KAFKA_BROKERS set, and `. var/stack.env` works in bash. The stack is the
# ctest fixture's; the checkout a folder with build/release/{tools,worker}
# linked to the built programs and var/stack.env as stack.sh writes it,
# naming a fresh database.
#   tests/cli/readme_stack_env.sh WT_ADMIN WT_WORKER STACK_ENV
set -uo pipefail
admin="${1:?path to wt-admin}"
worker="${2:?path to wt-worker}"
stack_env="${3:?stack.env}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cli_init readme "$stack_env"

psql -v ON_ERROR_STOP=1 -qAt "$url" -c "CREATE DATABASE $db" >/dev/null || exit 1
dburl="$(psql -qAt "$url" -c "SELECT 'postgresql://' || current_user || '@' || coalesce(inet_server_addr()::text, 'localhost') || ':' || current_setting('port') || '/$db'")"
dburl="${dburl/\/32/}"

# the checkout: var/stack.env as stack.sh writes it (the fixture's, with
# the fresh database), the programs where docs/configuration.md says
mkdir -p "$tmp/repo/var" "$tmp/repo/build/release/tools" "$tmp/repo/build/release/worker"
ln -s "$admin" "$tmp/repo/build/release/tools/wt-admin"
ln -s "$worker" "$tmp/repo/build/release/worker/wt-worker"
{
  printf 'WT_DATABASE_URL=%q\n' "$dburl"
  printf 'WT_KAFKA_BROKERS=%q\n' "$brokers"
  grep -E '^WT_(STACK_|KAFKA_SECURITY_PROTOCOL=|KAFKA_SASL_MECHANISM=)' "$stack_env"
} >"$tmp/repo/var/stack.env"
cd "$tmp/repo" || exit 1

# a clean environment: only what a user's shell has, plus a topic prefix of
# our own (the fixture's broker is shared) and no metrics port
export -n WT_DATABASE_URL WT_KAFKA_BROKERS WT_ENV_FILE WT_STACK_ENV WT_VAR_DIR
unset WT_DATABASE_URL WT_KAFKA_BROKERS WT_ENV_FILE WT_STACK_ENV WT_VAR_DIR
export WT_TOPIC_PREFIX="wt-test-readme-$$-$RANDOM"
export WT_METRICS_PORT=0

# `. var/stack.env` in bash gives the stack's values, quoted ones included
out="$(bash -c 'set -eu; . var/stack.env; printf "%s|%s|%s|%s" "$WT_DATABASE_URL" "$WT_KAFKA_BROKERS" "$WT_STACK_POSTGRES" "$WT_STACK_KAFKA"' 2>&1)"
if [[ "$out" == "$dburl|$brokers|"* && "$out" != *'\'* && "$out" != *"command not found"* ]]; then
  ok ". var/stack.env: $out"; else fail ". var/stack.env" "$out" "$(cat var/stack.env)"; fi

out="$(build/release/tools/wt-admin migrate 2>&1)"
rc=$?
if [[ $rc -eq 0 && "$out" == *"config WT_DATABASE_URL WT_KAFKA_BROKERS"*"from var/stack.env"* &&
  "$out" == *"migrate done"* ]]; then
  ok "wt-admin migrate reads var/stack.env"; else fail "wt-admin migrate" "rc=$rc" "$out"; fi
build/release/tools/wt-admin topics >"$tmp/topics.log" 2>&1 || fail "wt-admin topics" "$(cat "$tmp/topics.log")"
# on the SASL stack each program logs in as itself (wt-admin, wt-worker) with
# the password stack.env's WT_STACK_SECRETS_DIR holds; the ACLs let it
build/release/tools/wt-admin acls >"$tmp/acls.log" 2>&1 || fail "wt-admin acls" "$(cat "$tmp/acls.log")"

build/release/worker/wt-worker >"$tmp/worker.log" 2>&1 &
worker_pid=$!

# docs/operations.md's Users section, as typed (a first command waits longer: the
# worker's first group join takes a while)
out="$(printf 'carol-password-1\n' | build/release/tools/wt-admin user add carol --display-name "Carol" --password-stdin --timeout-ms 60000 2>&1)"
rc=$?
if [[ $rc -eq 0 ]]; then ok "user add carol"; else
  fail "user add carol" "rc=$rc" "$out" "$(tail -n 20 "$tmp/worker.log")"; fi
out="$(build/release/tools/wt-admin user list 2>&1)"
rc=$?
if [[ $rc -eq 0 && "$out" == *"carol"*"Carol"* ]]; then ok "user list"; else fail "user list" "rc=$rc" "$out"; fi
out="$(build/release/tools/wt-admin user deactivate carol 2>&1)"
rc=$?
if [[ $rc -eq 0 && "$(psql -qAt "$dburl" -c "SELECT is_active FROM users WHERE username = 'carol'")" == f ]]; then
  ok "user deactivate carol"; else fail "user deactivate" "rc=$rc" "$out"; fi
out="$(build/release/tools/wt-admin demo 2>&1)"
rc=$?
if [[ $rc -eq 0 && "$out" == *"alice"* ]]; then ok "demo"; else fail "demo" "rc=$rc" "$out"; fi
if grep -q "config WT_DATABASE_URL WT_KAFKA_BROKERS.* from var/stack.env" "$tmp/worker.log"; then
  ok "wt-worker reads var/stack.env"; else fail "wt-worker log" "$(head -n 5 "$tmp/worker.log")"; fi

# the environment wins over var/stack.env, variable by variable
out="$(WT_DATABASE_URL="postgresql://worktracker@127.0.0.1:1/nowhere" build/release/tools/wt-admin user list 2>&1)"
rc=$?
if [[ $rc -ne 0 && "$out" == *"port 1 failed"* && "$out" == *"config WT_KAFKA_BROKERS"*"from var/stack.env"* && "$out" != *"WT_DATABASE_URL"*"from var/stack.env"* ]]; then
  ok "WT_DATABASE_URL from the environment wins, each variable on its own"; else
  fail "environment wins" "rc=$rc" "$out"; fi

cli_done
