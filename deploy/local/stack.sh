#!/usr/bin/env bash
# The private local stack (PostgreSQL + a Kafka broker) for `make run` and the test fixture.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage_if_help "usage: ${0##*/} start|stop|status|env [--for PROGRAM] [--export]

  start   make the stack's secrets once, start PostgreSQL (pg.sh) and a Kafka broker (kafka.sh,
          or wt-devbroker) side by side, or reuse the running ones; wait until they answer;
          write \$WT_VAR_DIR/stack.env:
            WT_DATABASE_URL=postgresql://worktracker@127.0.0.1:PORT/worktracker
            WT_KAFKA_BROKERS=127.0.0.1:PORT
            WT_KAFKA_SECURITY_PROTOCOL=sasl_plaintext  (plaintext: devbroker; external: as set)
            WT_KAFKA_SASL_MECHANISM=SCRAM-SHA-512
            WT_STACK_POSTGRES=PostgreSQL\\ 15.x     (or: external)
            WT_STACK_KAFKA=apache-kafka\\ 3.9.1     (or: devbroker, external)
            WT_STACK_SECRETS_DIR=\$WT_VAR_DIR/secrets
            WT_STACK_KAFKA_TLS_BROKERS=127.0.0.1:PORT (Apache Kafka's SASL_SSL listener)
            WT_STACK_KAFKA_CA_FILE=\$WT_VAR_DIR/secrets/kafka-ca.pem  (the CA of its certificate)
          (KEY=VALUE lines, values quoted by bash's printf %q: \`. stack.env\` works; mode 600,
          since an external WT_DATABASE_URL may hold a password). Every Worktracker program
          reads WT_DATABASE_URL and WT_KAFKA_BROKERS from var/stack.env when neither the
          environment nor .env sets them (see docs/configuration.md).
  stop    stop all of it, wait for the processes to exit; safe when nothing runs
  status  print what runs (exit 0 when PostgreSQL and a broker run, else 3); passwords masked
  env     print stack.env (env --export: as export lines for eval)
  env --for PROGRAM
          stack.env and PROGRAM's own identity on the stack, to start it as itself:
            WT_KAFKA_USER=PROGRAM, WT_KAFKA_PASSWORD_FILE=<secrets>/kafka-PROGRAM.password
                                   (when the broker wants SASL)
            WT_PRODUCER_ID=PROGRAM, WT_PRODUCER_KEY_FILE=<secrets>/producer-PROGRAM.key
                                   (when PROGRAM has a producer key)
            WT_PRODUCER_KEYS_FILE=<secrets>/producer-keys    (wt-worker)

Secrets (\$WT_VAR_DIR/secrets, mode 700, files 600; made once, kept across restarts):
  kafka-<principal>.password  the SCRAM password of each Kafka principal (kafka.sh):
                              ${KAFKA_PRINCIPALS[*]}
  kafka-ca.pem                the CA of the broker's TLS certificate (kafka.sh)
  producer-<id>.key           64 hex characters, the key each signing producer signs its
                              commands with: ${PRODUCER_SCOPES[*]%% *}
  producer-keys               the producers the worker trusts, \"<id> <scopes> <key>\" lines

Environment:
  WT_VAR_DIR        state directory (default <repo>/var)
  WT_DATABASE_URL   set: do not start PostgreSQL, pass this URL through
  WT_KAFKA_BROKERS  set: do not start a broker, pass this through (and
                    WT_KAFKA_SECURITY_PROTOCOL, WT_KAFKA_SASL_MECHANISM as set)
  WT_BROKER         kafka (fail without java/mvn) | devbroker | unset: Apache Kafka when java
                    and mvn (or the fetched jars) are there, else wt-devbroker
  WT_DEVBROKER_BIN  default <repo>/build/release/tools/wt-devbroker (or build/release/wt-devbroker)
  WT_CACHE_DIR      jar cache, see kafka.sh --help" "$@"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STACK_ENV=$WT_VAR_DIR/stack.env
DEV_DIR=$WT_VAR_DIR/devbroker
DEV_BIN=${WT_DEVBROKER_BIN:-$WT_REPO/build/release/tools/wt-devbroker}
[[ -n ${WT_DEVBROKER_BIN:-} || -x $DEV_BIN ]] || DEV_BIN=$WT_REPO/build/release/wt-devbroker

# One start/stop at a time per state dir (flock -o: the servers do not inherit the lock).
if [[ ${1:-} =~ ^(start|stop)$ && -z ${WT_STACK_LOCKED:-} ]] && command -v flock >/dev/null; then
    export WT_STACK_LOCKED=1
    mkdir -p "$WT_VAR_DIR"
    exec flock -o -w 600 "$WT_VAR_DIR/.stack.lock" "${BASH_SOURCE[0]}" "$@"
fi

choose_broker() {
    case "${WT_BROKER:-}" in
        devbroker) echo devbroker ;;
        kafka)
            "$HERE/kafka.sh" check ||
                die "WT_BROKER=kafka needs java and mvn (apt-get install openjdk-17-jre-headless maven)"
            echo kafka ;;
        "" | auto)
            if "$HERE/kafka.sh" check; then echo kafka; else
                warn "java or mvn missing: using wt-devbroker instead of Apache Kafka"
                echo devbroker
            fi ;;
        *) die "WT_BROKER must be kafka or devbroker, not '$WT_BROKER'" ;;
    esac
}

# wt-devbroker: in-memory Kafka-protocol broker (librdkafka's mock cluster). It picks its own
# port and prints bootstrap=HOST:PORT on stdout; it runs until SIGTERM.
devbroker_addr() { sed -n 's/^bootstrap=//p' "$DEV_DIR/devbroker.out" 2>/dev/null | tail -n 1 | grep .; }
devbroker_alive() { pid_alive "$1" "$(cat "$DEV_DIR/bin" 2>/dev/null || echo wt-devbroker)"; }

devbroker_start() {
    local pid addr deadline=$((SECONDS + 15))
    mkdir -p "$DEV_DIR"
    pid=$(read_pid "$DEV_DIR/devbroker.pid")
    if devbroker_alive "$pid" && addr=$(devbroker_addr) && port_open "${addr##*:}"; then
        say "wt-devbroker already running on $addr (pid $pid), in memory"
    else
        devbroker_stop >/dev/null
        [[ -x $DEV_BIN ]] || die "wt-devbroker not found at $DEV_BIN (build it first, or set WT_DEVBROKER_BIN)"
        echo "$DEV_BIN" >"$DEV_DIR/bin"
        setsid "$DEV_BIN" </dev/null >"$DEV_DIR/devbroker.out" 2>&1 &
        pid=$!
        echo "$pid" >"$DEV_DIR/devbroker.pid"
        until addr=$(devbroker_addr) && port_open "${addr##*:}"; do
            if ! pid_alive "$pid" || ((SECONDS >= deadline)); then
                tail -n 20 "$DEV_DIR/devbroker.out" >&2 || true
                devbroker_stop >/dev/null
                die "wt-devbroker did not start (output: $DEV_DIR/devbroker.out)"
            fi
            sleep 0.1
        done
        say "wt-devbroker started on $addr (pid $pid), in memory (lost at stop), binary $DEV_BIN"
    fi
    # no authentication (the mock cluster has none); the mechanism is the programs' default
    printf 'WT_KAFKA_BROKERS=%s\nWT_STACK_KAFKA=devbroker\n' "$addr" >"$DEV_DIR/env"
    printf 'WT_KAFKA_SECURITY_PROTOCOL=plaintext\nWT_KAFKA_SASL_MECHANISM=SCRAM-SHA-512\n' >>"$DEV_DIR/env"
}

devbroker_stop() {
    local pid
    rm -f "$DEV_DIR/env"
    pid=$(read_pid "$DEV_DIR/devbroker.pid")
    if devbroker_alive "$pid"; then
        stop_pid "$pid" 10
        say "wt-devbroker stopped"
    fi
    rm -f "$DEV_DIR/devbroker.pid"
}

# env_line NAME VALUE: one stack.env line; env_lines: the same for the
# unquoted NAME=VALUE lines of pg/env, kafka/env, devbroker/env on stdin.
env_line() {
    [[ $2 != *[[:cntrl:]]* ]] || die "$1: a control character in the value"
    printf '%s=%q\n' "$1" "$2"
}
env_lines() {
    local k v
    while IFS='=' read -r k v; do [[ -z $k ]] || env_line "$k" "$v"; done
}

# producer_secrets: each signing producer's key, producer-<id>.key (made once), and the
# worker's list of the producers it trusts, producer-keys ("<id> <scopes> <key>" lines,
# from PRODUCER_SCOPES; written again only when a key changed).
producer_secrets() {
    local entry id key keys=""
    secrets_dir
    for entry in "${PRODUCER_SCOPES[@]}"; do
        id=${entry%% *}
        make_secret "producer-$id.key" random_key
        key=$(<"$SECRETS_DIR/producer-$id.key")
        [[ $key =~ ^[0-9a-f]{64}$ ]] ||
            die "$SECRETS_DIR/producer-$id.key: expected 64 hex characters (delete it to get a new one)"
        keys+="$entry $key"$'\n'
    done
    if [[ ! -f $SECRETS_DIR/producer-keys || $(<"$SECRETS_DIR/producer-keys") != "${keys%$'\n'}" ]]; then
        (umask 077 && printf '%s' "$keys" >"$SECRETS_DIR/producer-keys.$$") &&
            mv -f "$SECRETS_DIR/producer-keys.$$" "$SECRETS_DIR/producer-keys"
    fi
}

start() {
    local broker=external pg_pid="" broker_pid="" ok=yes
    mkdir -p "$WT_VAR_DIR"
    rm -f "$STACK_ENV"
    [[ -n ${WT_KAFKA_BROKERS:-} ]] || broker=$(choose_broker)
    producer_secrets # before kafka.sh runs: it makes the Kafka passwords in the same dir
    # Both at once: the JVM start dominates, initdb and PostgreSQL fit in its shadow.
    if [[ -n ${WT_DATABASE_URL:-} ]]; then
        say "PostgreSQL not started: using WT_DATABASE_URL from the environment"
    else
        "$HERE/pg.sh" start &
        pg_pid=$!
    fi
    case $broker in
        kafka) "$HERE/kafka.sh" start & broker_pid=$! ;;
        devbroker) devbroker_start & broker_pid=$! ;;
        external) say "Kafka broker not started: using WT_KAFKA_BROKERS from the environment" ;;
    esac
    if [[ -n $pg_pid ]] && ! wait "$pg_pid"; then ok=no; fi
    if [[ -n $broker_pid ]] && ! wait "$broker_pid"; then ok=no; fi
    [[ $ok == yes ]] || die "the stack did not start (see above); '$0 stop' stops what did"
    # values quoted as bash quotes them (printf %q), for `. stack.env` and for
    # wt_config, which reads the same quoting; 600: a password may be in it
    (
        umask 077
        {
            if [[ -n $pg_pid ]]; then env_lines <"$WT_VAR_DIR/pg/env"; else
                env_line WT_DATABASE_URL "$WT_DATABASE_URL"
                env_line WT_STACK_POSTGRES external
            fi
            case $broker in
                kafka) env_lines <"$WT_VAR_DIR/kafka/env" ;;
                devbroker) env_lines <"$DEV_DIR/env" ;;
                external)
                    env_line WT_KAFKA_BROKERS "$WT_KAFKA_BROKERS"
                    env_line WT_STACK_KAFKA external
                    env_line WT_KAFKA_SECURITY_PROTOCOL "${WT_KAFKA_SECURITY_PROTOCOL:-plaintext}"
                    env_line WT_KAFKA_SASL_MECHANISM "${WT_KAFKA_SASL_MECHANISM:-SCRAM-SHA-512}" ;;
            esac
            env_line WT_STACK_SECRETS_DIR "$SECRETS_DIR"
        } >"$STACK_ENV.tmp"
    )
    mv -f "$STACK_ENV.tmp" "$STACK_ENV"
    note "wrote $STACK_ENV"
}

stop() {
    local pids=() pid ok=yes
    rm -f "$STACK_ENV"
    "$HERE/kafka.sh" stop & pids+=($!)
    devbroker_stop & pids+=($!)
    "$HERE/pg.sh" stop & pids+=($!)
    for pid in "${pids[@]}"; do wait "$pid" || ok=no; done
    [[ $ok == yes ]] || die "could not stop everything (see above)"
}

status() {
    local pg=no broker=no
    if [[ -f $STACK_ENV ]] && grep -q '^WT_STACK_POSTGRES=external' "$STACK_ENV"; then
        say "PostgreSQL external: $(grep '^WT_DATABASE_URL=' "$STACK_ENV" | mask_url)"
        pg=yes
    elif "$HERE/pg.sh" status; then pg=yes; fi
    if [[ -f $STACK_ENV ]] && grep -q '^WT_STACK_KAFKA=external' "$STACK_ENV"; then
        say "Kafka external: $(grep '^WT_KAFKA_BROKERS=' "$STACK_ENV")"
        broker=yes
    elif "$HERE/kafka.sh" status; then broker=yes; fi
    local pid
    pid=$(read_pid "$DEV_DIR/devbroker.pid")
    if devbroker_alive "$pid"; then
        say "wt-devbroker running on $(devbroker_addr) (pid $pid)"
        broker=yes
    fi
    [[ $pg == yes && $broker == yes ]] || return 3
}

# stack_value NAME: NAME's value in stack.env (empty when not there).
# shellcheck source=/dev/null # written by start
stack_value() { (. "$STACK_ENV" && printf '%s' "${!1:-}"); }

# identity PROGRAM: the stack.env-style lines that make PROGRAM itself on this stack: its
# Kafka principal (when the broker wants SASL), its producer key, the worker's trusted keys.
identity() {
    local p=$1 secrets
    [[ $p =~ ^[a-z][a-z0-9-]*$ ]] || die "env --for: '$p' is not a program name (wt-worker, ...)"
    secrets=$(stack_value WT_STACK_SECRETS_DIR)
    [[ -n $secrets ]] || die "$STACK_ENV has no WT_STACK_SECRETS_DIR: restart the stack ($0 stop; $0 start)"
    if [[ $(stack_value WT_KAFKA_SECURITY_PROTOCOL) == sasl_* ]]; then
        if [[ -f $secrets/kafka-$p.password ]]; then
            env_line WT_KAFKA_USER "$p"
            env_line WT_KAFKA_PASSWORD_FILE "$secrets/kafka-$p.password"
        elif [[ $(stack_value WT_STACK_KAFKA) == apache-kafka* ]]; then
            die "env --for: '$p' is no Kafka principal of this stack (${KAFKA_PRINCIPALS[*]})"
        fi # an external SASL broker: its user and password come from the environment
    fi
    if [[ -f $secrets/producer-$p.key ]]; then
        env_line WT_PRODUCER_ID "$p"
        env_line WT_PRODUCER_KEY_FILE "$secrets/producer-$p.key"
    fi
    if [[ $p == wt-worker && -f $secrets/producer-keys ]]; then
        env_line WT_PRODUCER_KEYS_FILE "$secrets/producer-keys"
    fi
}

# print_env [--for PROGRAM] [--export]
print_env() {
    local program="" export=no
    while (($# > 0)); do
        case $1 in
            --export) export=yes ;;
            --for)
                [[ -n ${2:-} ]] || die "env --for needs a program name (try --help)"
                program=$2
                shift ;;
            *) die "env: unknown option '$1' (try --help)" ;;
        esac
        shift
    done
    [[ -f $STACK_ENV ]] || die "no $STACK_ENV: the stack is not started ($0 start)"
    local lines more=""
    lines=$(cat "$STACK_ENV") # quoted already
    [[ -z $program ]] || more=$(identity "$program")
    [[ -z $more ]] || lines+=$'\n'$more
    if [[ $export == yes ]]; then printf '%s\n' "$lines" | sed 's/^/export /'; else printf '%s\n' "$lines"; fi
}

case "$1" in
    start | stop | status) "$1" ;;
    env) shift; print_env "$@" ;;
    *) die "unknown command '$1' (try --help)" ;;
esac
