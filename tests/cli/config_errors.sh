#!/usr/bin/env bash
# A bad configuration value stops a program at start, exit status 2, with a
# message naming the variable and what it accepts; each program checks only
# the variables it uses; `wt-admin config check` checks them all before
# anything starts; --help works without any.
set -uo pipefail
bin="${1:?path to wt-admin}"
readme="${2:-}" # docs/configuration.md: its table must match the code
fails=0
passes=0
ok() { echo "ok   $*"; passes=$((passes + 1)); }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
run_case() { # name var value expected-fragment [command...]
  local out rc name=$1 var=$2 value=$3 expect=$4
  shift 4
  [[ $# -gt 0 ]] || set -- config check
  out="$(cd / && env -i PATH="$PATH" "$var=$value" "$bin" "$@" 2>&1)"; rc=$?
  if [[ $rc -ne 2 || ("$out" != *"$var"* && $expect != WT_*) || "$out" != *"$expect"* ]]; then
    fail "$name: rc=$rc out=$out"
  else
    ok "$name: $out"
  fi
}
run_case batch_max_word WT_BATCH_MAX many "integer in 1..100000"
run_case http_port_range WT_HTTP_PORT 70000 "1..65535"
run_case log_level WT_LOG_LEVEL loud "debug, info, warn or error" migrate
run_case brokers WT_KAFKA_BROKERS "no-port" "host:port" migrate
run_case jwt_secret WT_JWT_SECRET short "at least 32 bytes"
run_case jwt_secret_missing WT_JWT_TTL 900 "WT_JWT_SECRET: HS256 needs a secret" config check wt-gateway
run_case log_sql WT_LOG_SQL perhaps "0/1" migrate
run_case worker_named WT_BATCH_MAX 0 "wt-worker" config check wt-worker

# each program only what it uses: wt-admin has no batches, the worker no
# HTTP port
out="$(cd / && env -i PATH="$PATH" WT_BATCH_MAX=abc WT_HTTP_PORT=x "$bin" config check wt-admin 2>&1)"; rc=$?
if [[ $rc -eq 0 && "$out" == "config ok: wt-admin" ]]; then ok "admin ignores the worker's variables"; else
  fail "admin_own_variables: rc=$rc out=$out"; fi
out="$(cd / && env -i PATH="$PATH" WT_HTTP_PORT=x "$bin" config check wt-worker 2>&1)"; rc=$?
if [[ $rc -eq 0 ]]; then ok "worker ignores WT_HTTP_PORT"; else fail "worker_own_variables: rc=$rc out=$out"; fi
out="$(cd / && env -i PATH="$PATH" WT_JWT_SECRET=0123456789abcdef0123456789abcdef "$bin" config check 2>&1)"; rc=$?
if [[ $rc -eq 0 && "$out" == "config ok: wt-admin wt-worker wt-gateway" ]]; then ok "config check: all fine"; else
  fail "config_check_ok: rc=$rc out=$out"; fi
out="$(cd / && env -i PATH="$PATH" "$bin" config check wt-nothing 2>&1)"; rc=$?
if [[ $rc -eq 2 && "$out" == *"unknown program"* ]]; then ok "config check: unknown program"; else
  fail "config_check_unknown: rc=$rc out=$out"; fi

# a .env file is read, and a bad line in it is reported with its number
envfile="$(mktemp)"
printf 'WT_BATCH_WAIT_MS=5\nnot a line\n' > "$envfile"
out="$(env -i PATH="$PATH" WT_ENV_FILE="$envfile" "$bin" migrate 2>&1)"; rc=$?
rm -f "$envfile"
if [[ $rc -ne 2 || "$out" != *"line 2"* ]]; then
  fail "dotenv_bad_line: rc=$rc out=$out"
else
  ok "dotenv_bad_line: $out"
fi

out="$("$bin" --help)"; rc=$?
if [[ $rc -ne 0 || "$out" != *"WT_DATABASE_URL"* || "$out" != *migrate* || "$out" != *"config check"* ||
  "$out" != *"WT_BATCH_MAX"*"1..100000"* ]]; then
  fail "help: rc=$rc"
else
  ok "help"
fi
# docs/configuration.md's table gives each variable's default and range as the code has them
if [[ -n "$readme" ]]; then
  bad=""
  while read -r name accepts; do
    row="$(grep -F "| \`$name\`" "$readme"; grep -E "^\| .*\`$name\`" "$readme")"
    dflt="$(sed -n 's/.*(default: \(.*\))$/\1/p' <<<"$accepts")"
    range="$(grep -oE '^-?[0-9]+\.\.[0-9]+' <<<"$accepts")"
    if [[ -z "$row" ]]; then bad+=" $name(no row)"; continue; fi
    [[ -z "$range" || "$row" == *"$range"* ]] || bad+=" $name($range)"
    [[ "$dflt" == none || "$row" == *"\`$dflt\`"* ]] || bad+=" $name(default $dflt)"
  done < <("$bin" --help | sed -n 's/^  \(WT_[A-Z_]*\) \+/\1 /p')
  if [[ -z "$bad" ]]; then ok "docs/configuration.md table matches the code"; else fail "docs/configuration.md table:$bad"; fi
fi

out="$("$bin" frobnicate 2>&1)"; rc=$?
if [[ $rc -ne 2 || "$out" != *"unknown command"* ]]; then
  fail "unknown_command: rc=$rc"
else
  ok "unknown_command"
fi
echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
