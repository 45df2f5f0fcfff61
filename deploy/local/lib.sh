#!/usr/bin/env bash
# Shared helpers for the private local stack (stack.sh, pg.sh, kafka.sh). Source it; do not run it.
# Sets WT_REPO (two levels above this file) and WT_VAR_DIR (absolute; not created here), and
# the names of the stack's secrets (SECRETS_DIR, KAFKA_PRINCIPALS, PRODUCER_SCOPES).

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    echo "usage: source deploy/local/lib.sh  (helpers for stack.sh, pg.sh, kafka.sh; nothing to run)"
    exit 0
fi

WT_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WT_VAR_DIR=$(realpath -m "${WT_VAR_DIR:-$WT_REPO/var}")
export WT_REPO WT_VAR_DIR
# The stack's secrets (Kafka passwords, producer keys, the Kafka CA): mode 700, files 600,
# made once and kept across restarts (see make_secret).
SECRETS_DIR=$WT_VAR_DIR/secrets
# The Kafka principals (SCRAM-SHA-512 users) of the stack's Apache Kafka broker: the broker
# itself and wt-admin are its super users; `wt-admin acls` gives the others their rights.
# shellcheck disable=SC2034 # used by kafka.sh and stack.sh
KAFKA_PRINCIPALS=(wt-broker wt-admin wt-gateway wt-worker wt-ingest wt-replay)
# The producers that sign their commands (producer-<id>.key) and the scopes the worker
# trusts each with (producer-keys).
# shellcheck disable=SC2034 # used by stack.sh
PRODUCER_SCOPES=("wt-admin system,users" "wt-gateway users" "wt-ingest users")

# say: a result line on stdout; note/warn/die: messages on stderr, prefixed with the script's name.
say() { printf '%s\n' "$*"; }
note() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
warn() { note "$@"; }
die() { warn "$*"; exit 1; }

# mask_url: stdin to stdout with the passwords of PostgreSQL URLs and conninfo strings
# replaced by *** (user:***@host, password=***), for whatever prints a WT_DATABASE_URL.
mask_url() {
    sed -E -e 's#(://[^:/?@[:space:]]*:)[^@/?[:space:]]*@#\1***@#g' \
        -e "s#(^|[[:space:]?&])(password[[:space:]]*=[[:space:]]*)('([^'\\\\]|\\\\.)*'|[^[:space:]&']*)#\\1\\2***#g"
}

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port LO HI [EXCLUDE...]: a random port in [LO, HI] that nothing listens on.
# The callers use ranges below Linux' ephemeral range (32768-60999), so an outgoing
# connection can never hold the port we remember for the next start.
free_port() {
    local lo=$1 hi=$2 port i
    shift 2
    for ((i = 0; i < 200; i++)); do
        port=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
        [[ " $* " == *" $port "* ]] && continue
        port_open "$port" || { echo "$port"; return 0; }
    done
    die "no free TCP port in $lo-$hi"
}

# remembered_port FILE LO HI [EXCLUDE...]: the port kept in FILE, or a new free one (saved)
# when there is none yet or it is taken now.
remembered_port() {
    local file=$1 port=""
    shift
    [[ -f $file ]] && port=$(<"$file")
    if [[ ! $port =~ ^[0-9]+$ ]] || port_open "$port"; then
        port=$(free_port "$@")
        echo "$port" >"$file"
    fi
    echo "$port"
}

# wait_for_port PORT SECONDS [PID]: until the port answers; false on timeout or when PID exits.
wait_for_port() {
    local port=$1 deadline=$((SECONDS + $2)) pid=${3:-}
    until port_open "$port"; do
        [[ -n $pid ]] && ! pid_alive "$pid" && return 1
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# read_pid FILE: the pid in FILE (empty when none).
read_pid() {
    local pid=""
    [[ -f $1 ]] && pid=$(head -n1 "$1")
    [[ $pid =~ ^[0-9]+$ ]] && echo "$pid"
    return 0
}

# pid_alive PID [PATTERN]: the process exists, is not a zombie, and (if given) its command
# line contains PATTERN (guards against a recycled pid).
pid_alive() {
    local pid=$1 stat cmd
    [[ -n $pid && -r /proc/$pid/stat ]] || return 1
    read -r stat 2>/dev/null <"/proc/$pid/stat" || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]] || return 1
    if [[ -n ${2:-} ]]; then
        cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
        [[ $cmd == *"$2"* ]] || return 1
    fi
}

# stop_pid PID SECONDS: SIGTERM, wait up to SECONDS, then SIGKILL and wait for it to go.
stop_pid() {
    local pid=$1 deadline=$((SECONDS + $2))
    kill -TERM "$pid" 2>/dev/null || true
    while pid_alive "$pid"; do
        if ((SECONDS >= deadline)); then
            warn "pid $pid still running after $2 s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            deadline=$((SECONDS + 10))
            while pid_alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
            pid_alive "$pid" && die "pid $pid does not exit"
            return 0
        fi
        sleep 0.1
    done
}

# secrets_dir: makes $SECRETS_DIR (mode 700) when missing.
secrets_dir() {
    if ! (umask 077 && mkdir -p "$SECRETS_DIR" && chmod 700 "$SECRETS_DIR"); then
        die "cannot make $SECRETS_DIR"
    fi
}

# make_secret NAME COMMAND...: $SECRETS_DIR/NAME (mode 600) from COMMAND's output, once: a
# file that is there already is kept. Nothing of it reaches the terminal or a log.
make_secret() {
    local file=$SECRETS_DIR/$1 tmp=$SECRETS_DIR/.$1.$$
    shift
    [[ -s $file ]] && return 0
    secrets_dir
    if ! (umask 077 && "$@" >"$tmp") || [[ ! -s $tmp ]]; then
        rm -f "$tmp"
        die "cannot make $file"
    fi
    # ln, not mv: when another start made it meanwhile, that one stays (no link over it)
    [[ -e $file && ! -s $file ]] && rm -f "$file" # an empty one, left by a full disk
    ln "$tmp" "$file" 2>/dev/null || true
    rm -f "$tmp"
}

# random_password: 24 random bytes, base64url (32 characters, no newline).
random_password() { head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }
# random_key: 32 random bytes as 64 lowercase hex characters (no newline).
random_key() { head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n'; }

# usage_if_help TEXT "$@": prints TEXT and exits when the arguments ask for help.
usage_if_help() {
    local text=$1
    shift
    case "${1:-}" in
        -h | --help | help) printf '%s\n' "$text"; exit 0 ;;
        "") printf '%s\n' "$text" >&2; exit 2 ;;
    esac
}
