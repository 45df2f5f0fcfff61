#!/usr/bin/env bash
# `make bench`: runs every benchmark against a private stack (or the
# services of WT_DATABASE_URL / WT_KAFKA_BROKERS) and prints its figures.
#   bench/run.sh BUILD_DIR [all|db_round_trips|worker|gateway]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${1:?build dir}"
which="${2:-all}"
case $which in
all | db_round_trips | worker | gateway) ;;
*) echo "usage: bench/run.sh BUILD_DIR [all|db_round_trips|worker|gateway]" >&2; exit 2 ;;
esac
export WT_VAR_DIR="${WT_BENCH_VAR_DIR:-$build/bench-stack}"
# The broker runs with the stack's defaults (C1 JIT, serial GC); WT_KAFKA_JVM_OPTS changes that.
# Kafka's own settings (full JIT, G1) measured worse here: on two shared cores the C2 compiler
# threads take CPU from the phases (gateway 77-94k against 98-104k deliveries/s).
"$here/../deploy/local/stack.sh" start
trap '"$here/../deploy/local/stack.sh" stop' EXIT
eval "$("$here/../deploy/local/stack.sh" env --export)"
if [[ $which == all || $which == db_round_trips ]]; then
  echo "== bench/db_round_trips (PostgreSQL: ${WT_STACK_POSTGRES:-external})"
  "$build/bench/db_round_trips" "$WT_DATABASE_URL" "${WT_BENCH_ROWS:-20000}"
fi
if [[ $which == all || $which == worker ]]; then
  echo "== bench/worker (PostgreSQL: ${WT_STACK_POSTGRES:-external}, Kafka: ${WT_STACK_KAFKA:-external})"
  "$build/bench/bench_worker" --worker "$build/worker/wt-worker" \
    "${WT_BENCH_COMMANDS:-200000}" "${WT_BENCH_NAIVE:-3000}"
fi
if [[ $which == all || $which == gateway ]]; then
  echo "== bench/gateway (PostgreSQL: ${WT_STACK_POSTGRES:-external}, Kafka: ${WT_STACK_KAFKA:-external})"
  # the baseline's npm ws, pinned by bench/ws-baseline/package-lock.json
  if [[ ! -d $here/ws-baseline/node_modules/ws ]]; then
    npm ci --prefix "$here/ws-baseline" --no-audit --no-fund >&2
  fi
  # shellcheck disable=SC2086 # WT_BENCH_GATEWAY_ARGS: options, split on purpose
  "$build/bench/bench_gateway" --gateway "$build/ws-gateway/wt-gateway" \
    --worker "$build/worker/wt-worker" ${WT_BENCH_GATEWAY_ARGS:-}
fi
