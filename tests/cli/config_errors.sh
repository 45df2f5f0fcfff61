#!/usr/bin/env bash
# A bad configuration value stops a program at start, exit status 2, with a
# message naming the variable and what it accepts; --help works without any.
set -uo pipefail
bin="${1:?path to wt-admin}"
fails=0
run_case() { # name var value expected-fragment
  local out rc
  out="$(env -i PATH="$PATH" "$2=$3" "$bin" migrate 2>&1)"; rc=$?
  if [[ $rc -ne 2 || "$out" != *"$2"* || "$out" != *"$4"* ]]; then
    echo "FAIL $1: rc=$rc out=$out"; fails=$((fails + 1))
  else
    echo "ok   $1: $out"
  fi
}
run_case batch_max_word WT_BATCH_MAX many "integer in 1..100000"
run_case http_port_range WT_HTTP_PORT 70000 "1..65535"
run_case log_level WT_LOG_LEVEL loud "debug, info, warn or error"
run_case brokers WT_KAFKA_BROKERS "no-port" "host:port"
run_case jwt_secret WT_JWT_SECRET short "at least 32 bytes"
run_case log_sql WT_LOG_SQL perhaps "0/1"

# a .env file is read, and a bad line in it is reported with its number
envfile="$(mktemp)"
printf 'WT_BATCH_WAIT_MS=5\nnot a line\n' > "$envfile"
out="$(env -i PATH="$PATH" WT_ENV_FILE="$envfile" "$bin" migrate 2>&1)"; rc=$?
rm -f "$envfile"
if [[ $rc -ne 2 || "$out" != *"line 2"* ]]; then
  echo "FAIL dotenv_bad_line: rc=$rc out=$out"; fails=$((fails + 1))
else
  echo "ok   dotenv_bad_line: $out"
fi

out="$("$bin" --help)"; rc=$?
if [[ $rc -ne 0 || "$out" != *"WT_DATABASE_URL"* || "$out" != *migrate* ]]; then
  echo "FAIL help: rc=$rc"; fails=$((fails + 1))
else
  echo "ok   help"
fi
out="$("$bin" frobnicate 2>&1)"; rc=$?
if [[ $rc -ne 2 || "$out" != *"unknown command"* ]]; then
  echo "FAIL unknown_command: rc=$rc"; fails=$((fails + 1))
else
  echo "ok   unknown_command"
fi
echo "$((10 - fails)) passed, $fails failed"
[[ $fails -eq 0 ]]
