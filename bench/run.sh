#!/usr/bin/env bash
# `make bench`: runs every benchmark against a private stack (or the
# services of WT_DATABASE_URL / WT_KAFKA_BROKERS) and prints its figures.
#   bench/run.sh BUILD_DIR
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${1:?build dir}"
export WT_VAR_DIR="${WT_BENCH_VAR_DIR:-$build/bench-stack}"
"$here/../deploy/local/stack.sh" start
trap '"$here/../deploy/local/stack.sh" stop' EXIT
eval "$("$here/../deploy/local/stack.sh" env --export)"
echo "== bench/db_round_trips (PostgreSQL: ${WT_STACK_POSTGRES:-external})"
"$build/bench/db_round_trips" "$WT_DATABASE_URL" "${WT_BENCH_ROWS:-20000}"
