# Sourced by the cli tests that run programs against the fixture's stack:
#   . "$(dirname "$0")/lib.sh"; cli_init TAG STACK_ENV
# sets url and brokers (WT_TEST_* or the fixture's stack.env, read as the
# shell reads it), db (a database name of the test's own, dropped at exit),
# tmp (a folder removed at exit) and worker_pid (a wt-worker stopped at
# exit); ok/fail count checks and cli_done prints the counts and sets the
# exit status. cli_extra_cleanup, when a test defines it, runs first.
passed=0
failed=0
worker_pid=""

cli_init() { # TAG STACK_ENV
  local tag="$1" stack_env="$2"
  url="${WT_TEST_DATABASE_URL:-$(. "$stack_env" && echo "$WT_DATABASE_URL")}"
  brokers="${WT_TEST_KAFKA_BROKERS:-$(. "$stack_env" && echo "$WT_KAFKA_BROKERS")}"
  db="wt_test_${tag}_$$"
  tmp="$(mktemp -d)"
  trap cli_cleanup EXIT
}

cli_cleanup() {
  if declare -F cli_extra_cleanup >/dev/null; then cli_extra_cleanup; fi
  if [[ -n "$worker_pid" ]] && kill -0 "$worker_pid" 2>/dev/null; then
    kill -TERM "$worker_pid" 2>/dev/null
    wait "$worker_pid" 2>/dev/null
  fi
  psql -qAt "$url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$tmp"
}

ok() { echo "ok   $1"; passed=$((passed + 1)); }
fail() {
  echo "FAIL $1"
  shift
  printf '  %s\n' "$@"
  failed=$((failed + 1))
}

cli_done() {
  echo "$passed passed, $failed failed"
  [[ $failed -eq 0 ]]
}
