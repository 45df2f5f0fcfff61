#!/usr/bin/env bash
# ctest fixture: start/stop the real PostgreSQL and Apache Kafka for the
# integration tests, in a state folder of the build tree.
#   tests/stack-fixture.sh start|stop STATE_DIR
# WT_TEST_DATABASE_URL / WT_TEST_KAFKA_BROKERS use external services instead.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cmd="${1:?start|stop}"
export WT_VAR_DIR="${2:?state dir}"
export WT_BROKER=kafka # the tests prove the product on Apache Kafka only
unset WT_DATABASE_URL WT_KAFKA_BROKERS
[[ -n "${WT_TEST_DATABASE_URL:-}" ]] && export WT_DATABASE_URL="$WT_TEST_DATABASE_URL"
[[ -n "${WT_TEST_KAFKA_BROKERS:-}" ]] && export WT_KAFKA_BROKERS="$WT_TEST_KAFKA_BROKERS"
case "$cmd" in
start)
  mkdir -p "$WT_VAR_DIR"
  "$here/../deploy/local/stack.sh" start
  # kept after stop: `make test` names the services the tests used, and how
  # the tests log in to Kafka (stack.env's values are shell-quoted: read them
  # as the shell does)
  (. "$WT_VAR_DIR/stack.env" &&
    sasl="" &&
    if [[ "${WT_KAFKA_SECURITY_PROTOCOL:-plaintext}" == sasl_* ]]; then
      sasl=" (SASL ${WT_KAFKA_SASL_MECHANISM:-}${WT_STACK_KAFKA_TLS_BROKERS:+, SASL_SSL too})"
    fi &&
    printf 'WT_STACK_POSTGRES=%s\nWT_STACK_KAFKA=%s\n' "${WT_STACK_POSTGRES:-}" \
      "${WT_STACK_KAFKA:-}$sasl") | tee "$WT_VAR_DIR/services.txt"
  ;;
stop) "$here/../deploy/local/stack.sh" stop ;;
*) echo "usage: $0 start|stop STATE_DIR" >&2; exit 2 ;;
esac
