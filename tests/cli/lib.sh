# Sourced by the cli tests that run programs against the fixture's stack:
#   . "$(dirname "$0")/lib.sh"; cli_init TAG STACK_ENV
# sets url and brokers (WT_TEST_* or the fixture's stack.env, read as the
# shell reads it), db (a database name of the test's own, dropped at exit),
# tmp (a folder removed at exit) and worker_pid (a wt-worker stopped at
# exit); ok/fail count checks and cli_done prints the counts and sets the
# exit status. cli_extra_cleanup, when a test defines it, runs first.
# Each program runs as itself on the fixture's broker (SASL, docs/security.md):
# `cli_as PROGRAM CMD...` runs CMD with PROGRAM's Kafka login and producer key
# (as `deploy/local/stack.sh env --for PROGRAM` gives them); cli_kafka_setup
# WT_ADMIN creates the topics and ACLs of $WT_TOPIC_PREFIX as wt-admin.
passed=0
failed=0
worker_pid=""

cli_init() { # TAG STACK_ENV
  local tag="$1" stack_env="$2"
  cli_stack_env="$stack_env"
  url="${WT_TEST_DATABASE_URL:-$(. "$stack_env" && echo "$WT_DATABASE_URL")}"
  brokers="${WT_TEST_KAFKA_BROKERS:-$(. "$stack_env" && echo "$WT_KAFKA_BROKERS")}"
  secrets="$(. "$stack_env" && echo "${WT_STACK_SECRETS_DIR:-}")"
  kafka_protocol="$(. "$stack_env" && echo "${WT_KAFKA_SECURITY_PROTOCOL:-plaintext}")"
  kafka_mechanism="$(. "$stack_env" && echo "${WT_KAFKA_SASL_MECHANISM:-}")"
  [[ -z "${WT_TEST_KAFKA_BROKERS:-}" ]] || kafka_protocol=plaintext
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

# cli_identity PROGRAM: PROGRAM's login and keys as `stack.sh env --for`
# gives them (its lines that are no service address), shell-quoted
cli_identity() {
  WT_VAR_DIR="$(dirname "$cli_stack_env")" \
    "$(dirname "${BASH_SOURCE[0]}")/../../deploy/local/stack.sh" env --for "$1" |
    grep -E '^WT_(KAFKA_(SECURITY_PROTOCOL|SASL_MECHANISM|USER|PASSWORD_FILE)|PRODUCER_(ID|KEY_FILE|KEYS_FILE))='
}
cli_as() { # PROGRAM CMD...
  local ident
  ident="$(cli_identity "$1")" || return 1
  shift
  (eval "$(sed 's/^/export /' <<<"$ident")" && exec "$@")
}
# cli_spawn_as PROGRAM CMD...: CMD in the background as PROGRAM; $! is CMD's pid
cli_spawn_as() {
  local ident
  ident="$(cli_identity "$1")" || return 1
  shift
  (eval "$(sed 's/^/export /' <<<"$ident")" && exec "$@") &
}
# kcat's -X words for PROGRAM's login (one per line: mapfile -t them)
cli_kcat_login() {
  echo "-X"; echo "security.protocol=$kafka_protocol"
  if [[ "$kafka_protocol" == sasl_* ]]; then
    echo "-X"; echo "sasl.mechanisms=$kafka_mechanism"
    echo "-X"; echo "sasl.username=$1"
    echo "-X"; echo "sasl.password=$(cat "$secrets/kafka-$1.password")"
  fi
}
cli_kafka_setup() { # WT_ADMIN: the topics and ACLs of $WT_TOPIC_PREFIX
  cli_as wt-admin "$1" topics >"$tmp/topics.log" 2>&1 &&
    cli_as wt-admin "$1" acls >"$tmp/acls.log" 2>&1 ||
    { cat "$tmp/topics.log" "$tmp/acls.log" 2>/dev/null; return 1; }
}

# cli_create_database: creates $db and exports WT_DATABASE_URL for it
cli_create_database() {
  local u
  psql -v ON_ERROR_STOP=1 -qAt "$url" -c "CREATE DATABASE $db" >/dev/null || return 1
  u="$(psql -qAt "$url" -c "SELECT 'postgresql://' || current_user || '@' || coalesce(inet_server_addr()::text, 'localhost') || ':' || current_setting('port') || '/$db'")"
  export WT_DATABASE_URL="${u/\/32/}"
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
