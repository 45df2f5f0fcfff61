#!/usr/bin/env bash
# `WT_BATCH_MAX=abc make run` fails at once, before PostgreSQL or Kafka
# start, naming the variable (issue 12, item 9): deploy/local/run.sh runs
# `wt-admin config check` for every program it would start.
#   tests/cli/run_config_check.sh BUILD_DIR
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${1:?build dir (with tools/wt-admin)}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; shift; printf '  %s\n' "$@"; failed=$((failed + 1)); }

check() { # name variable value
  local start=$SECONDS out rc var="$tmp/$1"
  out="$(env -i PATH="$PATH" HOME="${HOME:-/tmp}" WT_VAR_DIR="$var" "$2=$3" \
    timeout 60 "$here/../../deploy/local/run.sh" "$build" 2>&1)"
  rc=$?
  local secs=$((SECONDS - start))
  if [[ $rc -eq 2 && "$out" == *"$2"* && "$out" == *"nothing was started"* && $secs -le 5 &&
    ! -e "$var/pg" && ! -e "$var/kafka" && ! -e "$var/devbroker" && ! -e "$var/stack.env" ]]; then
    ok "$1: exit 2 in ${secs}s, nothing started"
  else
    fail "$1" "rc=$rc secs=$secs state: $(ls "$var" | tr '\n' ' ')" "$out"
  fi
}
check batch_max WT_BATCH_MAX abc          # the worker's
check log_level WT_LOG_LEVEL chatty        # everyone's
check brokers WT_KAFKA_BROKERS nowhere     # wt-admin's too
check kafka_protocol WT_KAFKA_SECURITY_PROTOCOL tls # every Kafka client's
if [[ -x "$build/ws-gateway/wt-gateway" ]]; then
  check http_port WT_HTTP_PORT 0           # the gateway's
  check jwt_secret WT_JWT_SECRET too-short # the gateway's, checked by wt_jwt
fi
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
