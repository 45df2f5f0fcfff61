#!/usr/bin/env bash
# A private PostgreSQL cluster for local runs and tests.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage_if_help "usage: ${0##*/} start|stop|status

A private PostgreSQL (15 or newer) cluster in \$WT_VAR_DIR/pg (default <repo>/var/pg):
data in pg/data (initdb once, trust auth, user worktracker, UTF8), database worktracker,
listening on 127.0.0.1 only, on a port picked once and kept in pg/port, socket in pg/run,
server log in pg/log. As root the server runs as user postgres (created if missing).
  start   start it (or reuse a running one); prints version, port and data dir
  stop    stop it (fast shutdown, SIGKILL after 30 s)
  status  say whether it runs
Writes pg/env with WT_DATABASE_URL=postgresql://worktracker@127.0.0.1:PORT/worktracker.
Environment: WT_VAR_DIR, WT_PG_BIN (directory with initdb/pg_ctl; default: newest
/usr/lib/postgresql/*/bin, else pg_config --bindir)." "$@"

PG_DIR=$(readlink -m "$WT_VAR_DIR/pg") # a symlink when the cluster had to move (see below)
DATA=$PG_DIR/data
PG_USER=worktracker
DB_NAME=worktracker
PORT_RANGE=(20000 25999) # kafka.sh uses 26000-32767: parallel starts never pick the same port
cd /                     # the postgres user may not be able to read the caller's directory

# The newest PostgreSQL >= 15 server binaries (not /usr/local/bin wrappers).
find_pg_bin() {
    local d best="" bestv=0 v
    for d in /usr/lib/postgresql/*/bin "$(pg_config --bindir 2>/dev/null || true)"; do
        [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]] || continue
        v=$("$d/postgres" --version | sed -n 's/^[^0-9]*\([0-9][0-9]*\).*/\1/p')
        if [[ $v =~ ^[0-9]+$ ]] && ((v >= 15 && v > bestv)); then best=$d bestv=$v; fi
    done
    [[ -n $best ]] || die "PostgreSQL 15 or newer not found (apt-get install postgresql-15, or set WT_PG_BIN)"
    echo "$best"
}
PG_BIN=${WT_PG_BIN:-$(find_pg_bin)}

# Run a server tool as the cluster's owner: initdb and pg_ctl refuse to run as root.
as_owner() {
    if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}

# As root: a postgres user that owns $PG_DIR and can reach it.
prepare_root() {
    ((EUID == 0)) || { mkdir -p "$PG_DIR"; return 0; }
    if ! id postgres >/dev/null 2>&1; then
        useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home \
            --shell /usr/sbin/nologin postgres
    fi
    mkdir -p "$PG_DIR"
    [[ $(stat -L -c %U "$PG_DIR") == postgres ]] || chown -R postgres: "$PG_DIR/"
    runuser -u postgres -- test -w "$PG_DIR/." && return 0
    # Let postgres traverse the path (o+x only: no listing, no reading).
    local d=$PG_DIR
    while [[ $d != / ]]; do
        d=$(dirname "$d")
        runuser -u postgres -- test -x "$d/." || chmod o+x "$d" 2>/dev/null || true
    done
    runuser -u postgres -- test -w "$PG_DIR/." && return 0
    # Impossible here (e.g. a FUSE or root-squashed mount): put the cluster under /var/tmp.
    [[ -z $(ls -A "$PG_DIR") ]] || die "user postgres cannot reach $PG_DIR (and it is not empty)"
    local alt
    alt=$(mktemp -d /var/tmp/worktracker-pg.XXXXXX)
    chown postgres: "$alt"
    rmdir "$PG_DIR" && ln -s "$alt" "$PG_DIR"
    warn "user postgres cannot reach $PG_DIR: the cluster lives in $alt (symlinked)"
    PG_DIR=$alt DATA=$alt/data
}

pg_version() { "$PG_BIN/postgres" --version | awk '{print $3}'; }
running() { as_owner "$PG_BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1; }
port_of_running() { sed -n 4p "$DATA/postmaster.pid"; }

write_conf() { # settings applied at every start (the port may change)
    local sockdir=$PG_DIR/run
    # a unix socket path must fit in 107 bytes; TCP is what everything here uses anyway
    ((${#sockdir} + 20 > 107)) && sockdir=""
    [[ -z $sockdir ]] || as_owner mkdir -p "$sockdir"
    as_owner tee "$DATA/worktracker.conf" >/dev/null <<EOF
# written by deploy/local/pg.sh at every start
listen_addresses = '127.0.0.1'
port = $1
unix_socket_directories = '$sockdir'
max_connections = 200
shared_buffers = 256MB
synchronous_commit = on
fsync = on
# write-heavy batches: fewer checkpoints (each makes the next write of every
# page a full-page image in the WAL) and compressed page images
max_wal_size = 4GB
checkpoint_timeout = 15min
wal_compression = lz4
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

start() {
    prepare_root
    local port version
    version=$(pg_version)
    if [[ -f $DATA/PG_VERSION ]] && running && port=$(port_of_running) &&
        "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U "$PG_USER" -d postgres; then
        say "PostgreSQL $version already running on 127.0.0.1:$port, data $DATA"
        write_env "$port" "$version"
        return 0
    fi
    if [[ ! -f $DATA/PG_VERSION ]]; then
        [[ -e $DATA ]] && as_owner rm -rf "$DATA" # an initdb that did not finish
        as_owner "$PG_BIN/initdb" -D "$DATA" -U "$PG_USER" --auth=trust -E UTF8 \
            --locale=C.UTF-8 --no-sync >"$PG_DIR/initdb.log" 2>&1 ||
            { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
        echo "include_if_exists = 'worktracker.conf'" | as_owner tee -a "$DATA/postgresql.conf" >/dev/null
    fi
    port=$(remembered_port "$PG_DIR/port" "${PORT_RANGE[@]}")
    write_conf "$port"
    if ! as_owner "$PG_BIN/pg_ctl" start -D "$DATA" -l "$PG_DIR/log" -w -t 60 -s; then
        tail -n 30 "$PG_DIR/log" >&2 || true
        die "PostgreSQL did not start (log: $PG_DIR/log)"
    fi
    local deadline=$((SECONDS + 30))
    until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U "$PG_USER" -d postgres; do
        ((SECONDS < deadline)) || die "PostgreSQL does not answer on 127.0.0.1:$port"
        sleep 0.1
    done
    local psql=("$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1)
    if [[ -z $("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'") ]]; then
        "${psql[@]}" -c "CREATE DATABASE $DB_NAME"
    fi
    say "PostgreSQL $version started on 127.0.0.1:$port, data $DATA"
    write_env "$port" "$version"
}

write_env() {
    printf 'WT_DATABASE_URL=postgresql://%s@127.0.0.1:%s/%s\nWT_STACK_POSTGRES=PostgreSQL %s\n' \
        "$PG_USER" "$1" "$DB_NAME" "$2" >"$PG_DIR/env"
}

stop() {
    rm -f "$PG_DIR/env"
    [[ -f $DATA/postmaster.pid ]] || { say "PostgreSQL not running"; return 0; }
    local pid
    pid=$(read_pid "$DATA/postmaster.pid")
    if running; then
        as_owner "$PG_BIN/pg_ctl" stop -D "$DATA" -m fast -w -t 30 -s ||
            as_owner "$PG_BIN/pg_ctl" stop -D "$DATA" -m immediate -w -t 10 -s || true
    fi
    if pid_alive "$pid" "$DATA"; then # still there: kill the server and its children
        warn "PostgreSQL (pid $pid) did not stop: SIGKILL"
        pkill -KILL -P "$pid" 2>/dev/null || true
        kill -KILL "$pid" 2>/dev/null || true
        stop_pid "$pid" 10
    fi
    as_owner rm -f "$DATA/postmaster.pid"
    say "PostgreSQL stopped"
}

status() {
    if [[ -f $DATA/PG_VERSION ]] && running; then
        say "PostgreSQL $(pg_version) running on 127.0.0.1:$(port_of_running) (pid $(read_pid "$DATA/postmaster.pid")), data $DATA"
    else
        say "PostgreSQL not running (data $DATA)"
        return 3
    fi
}

case "$1" in
    start | stop | status) "$1" ;;
    *) die "unknown command '$1' (try --help)" ;;
esac
