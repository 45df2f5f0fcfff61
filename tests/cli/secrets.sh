#!/usr/bin/env bash
# Secrets are never printed (issue 12, item 3): no error, log line or
# /metrics text holds the JWT secret or a database password. Runs wt-admin
# and wt-worker against the fixture's stack with a password in
# WT_DATABASE_URL (the fixture's PostgreSQL trusts local connections, so the
# password is carried everywhere and checked nowhere) and everything logged.
#   tests/cli/secrets.sh WT_ADMIN WT_WORKER STACK_ENV
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
admin="${1:?path to wt-admin}"
worker="${2:?path to wt-worker}"
stack_env="${3:?stack.env}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cli_init secrets "$stack_env"
jwt="jwt-secret-$RANDOM-$RANDOM"      # too short: 20-odd bytes
pw="pw-$RANDOM$RANDOM-never-printed" # the database password
# the Kafka passwords of the principals this test runs as (SASL stack)
kpw_admin="" kpw_worker=""
if [[ "$kafka_protocol" == sasl_* ]]; then
  kpw_admin="$(cat "$secrets/kafka-wt-admin.password")"
  kpw_worker="$(cat "$secrets/kafka-wt-worker.password")"
fi
has() { [[ -n "$2" && "$1" == *"$2"* ]]; }
leaked() { has "$1" "$jwt" || has "$1" "$pw" || has "$1" "$kpw_admin" || has "$1" "$kpw_worker"; }
# clean NAME TEXT: true when TEXT holds no secret, else counts a failure
clean() {
  if leaked "$2"; then fail "$1: a secret is printed" "$2"; return 1; fi
}
run_admin() { cli_as wt-admin "$admin" "$@"; }

export WT_TOPIC_PREFIX="wt-test-secrets-$$-$RANDOM"
export WT_KAFKA_BROKERS="$brokers"
unset WT_ENV_FILE WT_STACK_ENV WT_VAR_DIR

# configuration errors
out="$(WT_JWT_SECRET="$jwt" run_admin config check 2>&1)"
rc=$?
if [[ $rc -eq 2 && "$out" == *WT_JWT_SECRET* ]] && clean "short WT_JWT_SECRET" "$out"; then
  ok "a short WT_JWT_SECRET: named, not shown ($out)"; elif ! leaked "$out"; then fail "short secret" "rc=$rc" "$out"; fi
for bad in "postgresql://u:$pw@h/db?bogus=1" "postgresql://u:$pw%zz@h/db" "host=h password=$pw bogus=1" \
  "host=h password='$pw x' port"; do
  out="$(WT_DATABASE_URL="$bad" run_admin migrate 2>&1)"
  rc=$?
  if [[ $rc -eq 2 && "$out" == *WT_DATABASE_URL* && "$out" == *'***'* ]] && clean "bad URL" "$out"; then
    ok "a bad WT_DATABASE_URL: masked ($out)"; elif ! leaked "$out"; then fail "bad URL" "rc=$rc" "$out"; fi
done

# a Kafka password refused by the broker, and one refused by the configuration
if [[ "$kafka_protocol" == sasl_* ]]; then
  bad="kafka-pw-$RANDOM$RANDOM-never-printed"
  out="$(cli_as wt-admin env -u WT_KAFKA_PASSWORD_FILE WT_KAFKA_PASSWORD="$bad" "$admin" topics 2>&1)"
  rc=$?
  if [[ $rc -ne 0 && "$out" == *uthenticat* && "$out" != *"$bad"* ]] && clean "wrong Kafka password" "$out"; then
    ok "a wrong Kafka password: refused, not shown ($(grep -m1 -i authenticat <<<"$out"))"; else
    fail "wrong Kafka password" "rc=$rc" "$out"; fi
  out="$(WT_KAFKA_PASSWORD="$bad" run_admin config check 2>&1)"
  rc=$?
  if [[ $rc -eq 2 && "$out" == *WT_KAFKA_PASSWORD* && "$out" != *"$bad"* ]]; then
    ok "WT_KAFKA_PASSWORD and WT_KAFKA_PASSWORD_FILE both set: named, not shown"; else
    fail "both Kafka passwords" "rc=$rc" "$out"; fi
fi

# a password in a good URL: logs at debug level with every SQL statement
psql -v ON_ERROR_STOP=1 -qAt "$url" -c "CREATE DATABASE $db" >/dev/null || exit 1
dburl="$(psql -qAt "$url" -c "SELECT 'postgresql://' || current_user || ':$pw@' || coalesce(inet_server_addr()::text, 'localhost') || ':' || current_setting('port') || '/$db'")"
export WT_DATABASE_URL="${dburl/\/32/}"
export WT_LOG_LEVEL=debug WT_LOG_SQL=1
out="$(run_admin migrate 2>&1)"
rc=$?
if [[ $rc -eq 0 ]] && clean "migrate" "$out"; then ok "wt-admin migrate at debug: no password"; elif ! leaked "$out"; then
  fail "migrate" "rc=$rc" "$out"; fi
cli_kafka_setup "$admin" || fail "wt-admin topics/acls"
out="$(WT_DATABASE_URL="postgresql://worktracker:$pw@127.0.0.1:1/nowhere" run_admin user list 2>&1)"
rc=$?
if [[ $rc -eq 1 ]] && clean "connection refused" "$out"; then ok "cannot connect: no password ($out)"; elif ! leaked "$out"; then
  fail "cannot connect" "rc=$rc" "$out"; fi

# the worker: its log and /metrics
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
WT_METRICS_PORT="$port" WT_JWT_SECRET="$jwt-$jwt" cli_spawn_as wt-worker "$worker" >"$tmp/worker.log" 2>&1
worker_pid=$!
out="$(printf 'user-password\n' | run_admin user add dora --password-stdin --timeout-ms 60000 2>&1)"
rc=$?
[[ $rc -eq 0 ]] || fail "user add" "rc=$rc" "$out" "$(tail -n 20 "$tmp/worker.log")"
metrics=""
for _ in $(seq 600); do # a 60 s deadline, polled
  metrics="$(curl -sf "http://127.0.0.1:$port/metrics")" && break
  sleep 0.1
done
if [[ "$metrics" == *wt_db_statements_total* ]] && clean "/metrics" "$metrics"; then
  ok "worker /metrics: no secret"; elif ! leaked "$metrics"; then
  fail "/metrics" "$metrics"; fi
kill -TERM "$worker_pid"
wait "$worker_pid"
worker_pid=""
if [[ "$(wc -l <"$tmp/worker.log")" -gt 5 ]] && clean "worker log" "$(cat "$tmp/worker.log")"; then
  ok "worker log at debug: no secret ($(wc -l <"$tmp/worker.log") lines)"; elif ! leaked "$(cat "$tmp/worker.log")"; then
  fail "worker log" "$(cat "$tmp/worker.log")"; fi

# what the local stack's scripts print of a URL
# shellcheck source=../../deploy/local/lib.sh
out="$(source "$here/../../deploy/local/lib.sh" && mask_url <<<"  PostgreSQL   $WT_DATABASE_URL   (external)")"
if [[ "$out" == *"worktracker:***@"* ]] && clean "mask_url" "$out"; then ok "run.sh/stack.sh mask_url: $out"; elif ! leaked "$out"; then
  fail "mask_url" "$out"; fi

cli_done
