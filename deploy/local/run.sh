#!/usr/bin/env bash
# `make run`: check the configuration of every program it will start (and
# stop at once, exit 2, when a value is bad), start the local stack (unless
# WT_DATABASE_URL / WT_KAFKA_BROKERS point elsewhere), migrate, create the
# topics and their ACLs, start every Worktracker program that is built, each
# as itself (its Kafka user, its producer key: stack.sh env --for), print
# what runs where, and stop all of it on Ctrl-C.
#   deploy/local/run.sh BUILD_DIR
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
[[ "${1:-}" == "-h" || "${1:-}" == "--help" ]] && { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }
build="${1:-$repo/build/release}"
export WT_VAR_DIR="${WT_VAR_DIR:-$repo/var}"
export WT_DEVBROKER_BIN="${WT_DEVBROKER_BIN:-$build/tools/wt-devbroker}"

# .env is honoured (the environment wins, as in the programs themselves)
if [[ -f "${WT_ENV_FILE:-$repo/.env}" ]]; then
  while IFS='=' read -r k v || [[ -n "$k" ]]; do
    k="${k#export }"
    [[ "$k" =~ ^[A-Z_][A-Z0-9_]*$ ]] || continue
    v="${v%$'\r'}"
    if [[ "$v" =~ ^\"(.*)\"$ || "$v" =~ ^\'(.*)\'$ ]]; then v="${BASH_REMATCH[1]}"; fi
    if [[ -z "${!k+x}" ]]; then export "$k=$v"; fi
  done < "${WT_ENV_FILE:-$repo/.env}"
fi

# shellcheck source=lib.sh
source "$here/lib.sh" # mask_url

# the gateway signs tokens with WT_JWT_SECRET: a local one is made once and
# kept in var/, so that tokens survive a restart of `make run`
if [[ -z "${WT_JWT_SECRET:-}" && "${WT_JWT_ALG:-HS256}" == HS256 ]]; then
  mkdir -p "$WT_VAR_DIR"
  if [[ ! -s "$WT_VAR_DIR/jwt-secret" ]]; then
    (umask 077 && head -c 48 /dev/urandom | base64 | tr -d '\n' >"$WT_VAR_DIR/jwt-secret")
  fi
  WT_JWT_SECRET="$(cat "$WT_VAR_DIR/jwt-secret")"
  export WT_JWT_SECRET
fi

# every program's configuration, before anything starts: a bad value stops
# here, named, instead of after PostgreSQL and Kafka came up
programs=(wt-admin)
[[ -x "$build/worker/wt-worker" ]] && programs+=(wt-worker)
[[ -x "$build/ws-gateway/wt-gateway" ]] && programs+=(wt-gateway)
if ! "$build/tools/wt-admin" config check "${programs[@]}" >/dev/null; then
  echo "run: configuration error (above); nothing was started" >&2
  exit 2
fi

pids=()
stopping=0
cleanup() {
  [[ $stopping -eq 1 ]] && return
  stopping=1
  echo
  echo "run: ${stop_note:-stopping}..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  "$here/stack.sh" stop || true
  echo "run: everything stopped"
}
trap cleanup EXIT
trap 'stop_note="stopping on request"; exit 130' INT TERM

"$here/stack.sh" start
eval "$("$here/stack.sh" env --export)"

# identity PROGRAM: exports into this shell (call it in a subshell) what
# makes PROGRAM itself on the stack: the Kafka user, password file and
# producer key that `stack.sh env --for` gives it. What the environment or
# .env sets already wins, as in the programs themselves.
identity() {
  local ident line name
  ident="$("$here/stack.sh" env --for "$1")" || return 1
  while IFS= read -r line; do
    name="${line%%=*}"
    [[ -n "${!name+x}" ]] || eval "export $line" # printf %q quoted
  done <<<"$ident"
}
# run_as PROGRAM COMMAND...: COMMAND as PROGRAM (see identity)
run_as() {
  (
    identity "$1" || exit 1
    shift
    exec "$@"
  )
}

run_as wt-admin "$build/tools/wt-admin" migrate --dir "$repo/migrations"
run_as wt-admin "$build/tools/wt-admin" topics
# the ACLs of the plan (docs/security.md): each program may do only what it
# needs; they mean something only where the broker authenticates its clients
if [[ "${WT_KAFKA_SECURITY_PROTOCOL:-plaintext}" == sasl_* ]]; then
  if [[ "$("$build/tools/wt-admin" --help 2>/dev/null)" =~ $'\n'\ +acls\  ]]; then
    run_as wt-admin "$build/tools/wt-admin" acls
  else
    echo "run: this wt-admin has no 'acls' command (an older build?): the programs" \
      "get no ACLs, and the broker refuses all but wt-admin" >&2
  fi
fi

started=()
start_program() { # name binary
  if [[ -x "$2" ]]; then
    # one fork, which becomes the program: $! is the program's pid
    (identity "$1" && exec "$2") &
    pids+=($!)
    started+=("$1 (pid $!)")
  fi
}
start_program wt-worker "$build/worker/wt-worker"
start_program wt-gateway "$build/ws-gateway/wt-gateway"

# demo users and a shared project, through the worker like any producer
demo=""
if [[ -x "$build/worker/wt-worker" ]]; then
  if demo="$(run_as wt-admin "$build/tools/wt-admin" demo 2>&1)"; then
    demo="$(grep -iE 'user|password|project' <<<"$demo" | grep -v ' INFO ' || true)"
  else
    echo "$demo" >&2
    echo "run: wt-admin demo failed (see above)" >&2
    demo=""
  fi
fi

echo
echo "Worktracker is running:"
echo "  PostgreSQL   $(mask_url <<<"$WT_DATABASE_URL")   (${WT_STACK_POSTGRES:-external})"
kafka_how="${WT_STACK_KAFKA:-external}"
if [[ "${WT_KAFKA_SECURITY_PROTOCOL:-plaintext}" == sasl_* ]]; then
  how="SASL ${WT_KAFKA_SASL_MECHANISM:-SCRAM-SHA-512}"
  [[ -n "${WT_STACK_KAFKA_TLS_BROKERS:-}" ]] && how+="; TLS on ${WT_STACK_KAFKA_TLS_BROKERS##*:}"
  kafka_how="$how; $kafka_how"
fi
echo "  Kafka        $WT_KAFKA_BROKERS   ($kafka_how)"
if [[ ${#started[@]} -eq 0 ]]; then
  echo "  programs     none built yet besides wt-admin"
else
  for s in "${started[@]}"; do echo "  program      $s"; done
fi
if [[ -x "$build/ws-gateway/wt-gateway" ]]; then
  echo "  open         http${WT_TLS_CERT_FILE:+s}://127.0.0.1:${WT_HTTP_PORT:-8080}/"
fi
if [[ -n "$demo" ]]; then
  echo "Demo data:"
  sed 's/^/  /' <<<"$demo"
fi
# the programs find the stack through var/stack.env (or $WT_VAR_DIR's)
var_prefix=""
[[ "$(realpath -m "$WT_VAR_DIR")" == "$(realpath -m "$repo/var")" ]] || var_prefix="WT_VAR_DIR=$WT_VAR_DIR "
echo "In another shell, from $repo (the programs take WT_DATABASE_URL and WT_KAFKA_BROKERS"
echo "from $WT_VAR_DIR/stack.env; or: . $WT_VAR_DIR/stack.env):"
echo "  $var_prefix${build#"$repo"/}/tools/wt-admin user list"
echo "Press Ctrl-C to stop all of it."
if [[ ${#pids[@]} -gt 0 ]]; then
  status=0
  wait -n -p exited "${pids[@]}" || status=$?
  # Ctrl-C reaches the programs too, and bash runs no INT trap for a SIGINT
  # that its child handled; the programs exit 0 only when asked to stop
  # (SIGINT/SIGTERM), so status 0 is a stop on request, anything else an
  # early exit
  if [[ $status -eq 0 ]]; then
    stop_note="stopping on request"
  else
    name="a program (pid $exited)"
    for s in "${started[@]}"; do [[ $s == *"(pid $exited)" ]] && name=$s; done
    echo "run: $name exited with status $status" >&2
    stop_note="stopping the rest"
  fi
else
  while :; do sleep 3600 & wait $!; done
fi
