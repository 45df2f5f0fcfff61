#!/usr/bin/env bash
# `wt-admin user ...` and `wt-admin demo` as an operator runs them: against the
# fixture's PostgreSQL and Kafka, a fresh database, a topic prefix of its own
# and a wt-worker deciding the commands.
#   tests/cli/admin_users.sh WT_ADMIN WT_WORKER STACK_ENV
set -uo pipefail
admin="${1:?path to wt-admin}"
worker="${2:?path to wt-worker}"
stack_env="${3:?stack.env}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cli_init users "$stack_env"
sql() { psql -qAt "$WT_DATABASE_URL" -c "$1"; }
run_admin() { cli_as wt-admin "$admin" "$@"; }

cli_create_database || exit 1
export WT_KAFKA_BROKERS="$brokers"
export WT_TOPIC_PREFIX="wt-test-users-$$-$RANDOM"
export WT_METRICS_PORT=0
timeout=(--timeout-ms 30000) # the worker's first group join takes a while

run_admin migrate >"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log"; exit 1; }

if run_admin user --help | grep -q 'user revoke-tokens' &&
  run_admin user add --help | grep -q -- '--password-stdin' &&
  run_admin demo --help | grep -q 'alice-demo-password'; then
  ok "--help"; else fail "--help"; fi
# without a producer key wt-admin sends nothing: the worker would reject it
out="$(env -u WT_PRODUCER_KEY_FILE "$admin" user add nokey --password x 2>&1)"
rc=$?
if [[ $rc -eq 2 && "$out" == *"system commands need WT_PRODUCER_KEY_FILE: the worker rejects unsigned ones"* ]]; then
  ok "user add without a producer key: exit 2, said why"; else
  fail "user add without a producer key" "rc=$rc out=$out"; fi
cli_kafka_setup "$admin" || exit 1
cli_spawn_as wt-worker "$worker" >"$tmp/worker.log" 2>&1
worker_pid=$!

# user add: prints the new id; the same username again is a conflict
secret="pw-$RANDOM-$RANDOM-never-logged"
out="$(printf '%s\n' "$secret" | WT_LOG_LEVEL=debug run_admin user add tester \
  --display-name "Test Ér" --password-stdin "${timeout[@]}" 2>"$tmp/add.err")"
rc=$?
id="$(sql "SELECT id FROM users WHERE username = 'tester'")"
if [[ $rc -eq 0 && "$out" == "$id" && -n "$id" ]]; then ok "user add prints the id"; else
  fail "user add" "rc=$rc out=$out id=$id" "$(cat "$tmp/add.err")"; fi
# the outcome it waited for names the user's stream (user.* events carry user_id)
if grep -q "command applied type=user.create .* stream=$id seq=1" "$tmp/add.err"; then
  ok "user add logs the user's stream"; else
  fail "user add stream" "$(grep 'command applied' "$tmp/add.err")"; fi

out="$(printf 'other\n' | run_admin user add tester --password-stdin "${timeout[@]}" 2>&1)"
rc=$?
if [[ $rc -eq 1 && "$out" == *"rejected: conflict: username tester is taken"* ]]; then
  ok "user add twice: conflict, exit 1"; else fail "user add twice" "rc=$rc out=$out"; fi

hash="$(sql "SELECT password_hash FROM users WHERE username = 'tester'")"
if [[ "$hash" == '$y$'* ]] && ! grep -qF -- "$secret" "$tmp/add.err" "$tmp/worker.log"; then
  ok "password stored as yescrypt, never logged"; else fail "password" "hash=${hash:0:8}"; fi

out="$(run_admin user list 2>&1)"
rc=$?
if [[ $rc -eq 0 && "$out" == *"USERNAME"* && "$out" == *"$id  tester"*"Test Ér"*"yes"* ]]; then
  ok "user list"; else fail "user list" "rc=$rc" "$out"; fi
out="$(run_admin user list --json 2>&1)"
rc=$?
if [[ $rc -eq 0 && "$out" == *"\"id\":\"$id\",\"username\":\"tester\""*"\"is_active\":true,\"token_version\":0"* ]]; then
  ok "user list --json"; else fail "user list --json" "rc=$rc" "$out"; fi

out="$(run_admin user deactivate tester "${timeout[@]}" 2>&1)"
rc=$?
if [[ $rc -eq 0 && "$(sql "SELECT is_active FROM users WHERE id = '$id'")" == f ]]; then
  ok "user deactivate by username"; else fail "user deactivate" "rc=$rc" "$out"; fi

out="$(run_admin user revoke-tokens tester "${timeout[@]}" 2>&1)"
rc=$?
tv="$(sql "SELECT token_version FROM users WHERE id = '$id'")"
out2="$(run_admin user revoke-tokens "$id" "${timeout[@]}" 2>&1)"
rc2=$?
tv2="$(sql "SELECT token_version FROM users WHERE id = '$id'")"
if [[ $rc -eq 0 && $tv -eq 1 && $rc2 -eq 0 && $tv2 -eq 2 ]]; then
  ok "user revoke-tokens bumps token_version (by username, by id)"; else
  fail "user revoke-tokens" "rc=$rc tv=$tv rc2=$rc2 tv2=$tv2" "$out" "$out2"; fi

out="$(run_admin user deactivate nobody-here 2>&1)"
rc=$?
if [[ $rc -eq 1 && "$out" == *'no user named "nobody-here"'* ]]; then
  ok "unknown username"; else fail "unknown username" "rc=$rc" "$out"; fi

counts() {
  sql "SELECT (SELECT count(*) FROM users WHERE username IN ('alice', 'bob'))
           || ' ' || (SELECT count(*) FROM projects WHERE name = 'Demo project')
           || ' ' || (SELECT count(*) FROM project_members)
           || ' ' || (SELECT count(*) FROM work_logs)"
}
out="$(run_admin demo "${timeout[@]}" 2>&1)"
rc=$?
c1="$(counts)"
if [[ $rc -eq 0 && "$out" == *"6 created, 0 already there"* && "$c1" == "2 1 2 2" &&
  "$out" == *"alice  password alice-demo-password"* ]]; then
  ok "demo"; else fail "demo" "rc=$rc counts=$c1" "$out"; fi

# again: nothing new, and the printed passwords match the stored hashes
out="$(run_admin demo "${timeout[@]}" 2>&1)"
rc=$?
c2="$(counts)"
if [[ $rc -eq 0 && "$out" == *"0 created, 6 already there"* && "$c2" == "2 1 2 2" &&
  "$out" == *"alice  password alice-demo-password"* &&
  "$out" == *"bob    password bob-demo-password"* ]]; then
  ok "demo again: idempotent"; else fail "demo again" "rc=$rc counts=$c2" "$out"; fi

# the worker stops cleanly on SIGTERM
kill -TERM "$worker_pid"
for _ in $(seq 300); do kill -0 "$worker_pid" 2>/dev/null || break; sleep 0.1; done
wait "$worker_pid"
rc=$?
worker_pid=""
if [[ $rc -eq 0 ]]; then ok "wt-worker exits 0 on SIGTERM"; else
  fail "wt-worker SIGTERM" "rc=$rc" "$(tail -n 20 "$tmp/worker.log")"; fi

# without a worker: no outcome in time is exit 1 with a clear message
out="$(printf 'x\n' | run_admin user add late-one --password-stdin --timeout-ms 1500 2>&1)"
rc=$?
if [[ $rc -eq 1 && "$out" == *"no outcome for user.create"*"is wt-worker running?"* ]]; then
  ok "no outcome in time"; else fail "no outcome in time" "rc=$rc" "$out"; fi

cli_done
