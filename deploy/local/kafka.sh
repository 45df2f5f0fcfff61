#!/usr/bin/env bash
# A private single-node Apache Kafka broker (KRaft) from Maven Central jars.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The 3.9 line on purpose: Debian bookworm's librdkafka 2.0.2 was tested against Kafka 3.x,
# and Kafka 4.0.0 removed protocol versions it relies on (JoinGroup v0 etc.).
KAFKA_VERSION=3.9.1

usage_if_help "usage: ${0##*/} start|stop|status|fetch|check

Apache Kafka $KAFKA_VERSION, one process as KRaft broker+controller, in \$WT_VAR_DIR/kafka
(default <repo>/var/kafka): server.properties, log4j.properties, data/, server.log, kafka.out,
kafka.pid; ports picked once and kept in kafka/port and kafka/controller.port.
  fetch   resolve the jars with Maven once into \$CACHE/libs
  check   exit 0 when this machine can run it: java, and mvn or the jars already fetched
  start   fetch if needed, format the storage once, start (or reuse) the broker and wait
          until it answers; prints version, port and data dir
  stop    SIGTERM, SIGKILL after 30 s
  status  say whether it runs
Writes kafka/env with WT_KAFKA_BROKERS=127.0.0.1:PORT.
Environment: WT_VAR_DIR; WT_CACHE_DIR (default \${XDG_CACHE_HOME:-\$HOME/.cache}/worktracker);
CACHE is \$WT_CACHE_DIR/kafka-$KAFKA_VERSION." "$@"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${WT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/worktracker}/kafka-$KAFKA_VERSION
K_DIR=$WT_VAR_DIR/kafka
DATA=$K_DIR/data
PID_FILE=$K_DIR/kafka.pid
PORT_RANGE=(26000 32767) # pg.sh uses 20000-25999
START_TIMEOUT=90

fetch() {
    if [[ -f $CACHE/libs.complete ]]; then return 0; fi
    command -v mvn >/dev/null || die "mvn not found: needed once to fetch the Kafka jars (apt-get install maven)"
    note "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central into $CACHE (once)"
    mkdir -p "$CACHE"
    local tmp=$CACHE/libs.partial.$$
    rm -rf "$CACHE"/libs.partial.* # left by an interrupted fetch
    if ! mvn -q -B -f "$HERE/kafka-pom.xml" -Dkafka.version="$KAFKA_VERSION" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
        >"$CACHE/fetch.log" 2>&1; then
        tail -n 30 "$CACHE/fetch.log" >&2
        rm -rf "$tmp"
        die "fetching the Kafka jars failed (log: $CACHE/fetch.log)"
    fi
    [[ -f $tmp/kafka_2.13-$KAFKA_VERSION.jar ]] || die "kafka_2.13-$KAFKA_VERSION.jar missing in $tmp"
    rm -rf "$CACHE/libs" "$CACHE/classes.jsa"
    mv "$tmp" "$CACHE/libs"
    echo "$KAFKA_VERSION" >"$CACHE/libs.complete"
}

write_config() { # $1 broker port, $2 controller port
    cat >"$K_DIR/server.properties" <<EOF
# written by deploy/local/kafka.sh at every start
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$2
listeners=PLAINTEXT://127.0.0.1:$1,CONTROLLER://127.0.0.1:$2
advertised.listeners=PLAINTEXT://127.0.0.1:$1
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA
num.partitions=6
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
EOF
    cat >"$K_DIR/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$K_DIR/server.log
log4j.appender.file.MaxFileSize=5MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
EOF
}

# A cluster id: 16 random bytes, base64url without padding (what StorageTool random-uuid
# prints), not starting with '-'.
new_cluster_id() {
    local id="-"
    while [[ $id == -* ]]; do
        id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    done
    echo "$id"
}

# launch CP LOG4J_OPTION: starts the broker in the background; sets pid.
launch() {
    # Class data sharing: the first run dumps the loaded classes at exit (see stop), later
    # runs map them, which halves the start time. Harmless when the archive is stale.
    local cds=(-XX:ArchiveClassesAtExit="$K_DIR/classes.jsa")
    [[ -f $CACHE/classes.jsa ]] && cds=(-XX:SharedArchiveFile="$CACHE/classes.jsa")
    # setsid: its own session, so no terminal signal reaches it; $! is java's own pid.
    # WT_KAFKA_JVM_OPTS: the broker's heap, JIT and GC. The default starts fast and small
    # (C1 only, serial GC), which also measured best on the shared 2-core machines.
    # shellcheck disable=SC2086 # options, split on purpose
    setsid java ${WT_KAFKA_JVM_OPTS:--Xms256m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1} \
        -XX:+ExitOnOutOfMemoryError -XX:ErrorFile="$K_DIR/hs_err_pid%p.log" \
        -XX:+IgnoreUnrecognizedVMOptions -Xlog:cds=off \
        -Xlog:cds+dynamic=off "${cds[@]}" -Djava.awt.headless=true "$2" -cp "$1" \
        kafka.Kafka "$K_DIR/server.properties" </dev/null >"$K_DIR/kafka.out" 2>&1 &
    pid=$!
    echo "$pid" >"$PID_FILE"
}

# await PORT: until the broker (pid) answers on PORT and logged "Kafka Server started";
# false when it exits or START_TIMEOUT passes.
await() {
    local deadline=$((SECONDS + START_TIMEOUT))
    wait_for_port "$1" "$START_TIMEOUT" "$pid" || return 1
    until grep -q 'Kafka Server started' "$K_DIR/server.log" 2>/dev/null; do
        pid_alive "$pid" && ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

fail_start() {
    { echo "--- last lines of $K_DIR/server.log:"; tail -n 30 "$K_DIR/server.log" 2>/dev/null
      echo "--- last lines of $K_DIR/kafka.out:"; tail -n 10 "$K_DIR/kafka.out" 2>/dev/null; } >&2 || true
    die "$*"
}

check() {
    command -v java >/dev/null && { [[ -f $CACHE/libs.complete ]] || command -v mvn >/dev/null; }
}

start() {
    local pid port cport
    pid=$(read_pid "$PID_FILE")
    port=$(cat "$K_DIR/port" 2>/dev/null || true)
    if pid_alive "$pid" kafka.Kafka && [[ -n $port ]] && port_open "$port"; then
        say "Apache Kafka $KAFKA_VERSION (KRaft, broker+controller) already running on 127.0.0.1:$port (pid $pid), data $DATA"
        write_env "$port"
        return 0
    fi
    [[ -n $pid ]] && pid_alive "$pid" kafka.Kafka && stop # running but not answering
    command -v java >/dev/null || die "java not found (apt-get install openjdk-17-jre-headless)"
    fetch
    mkdir -p "$K_DIR"
    port=$(remembered_port "$K_DIR/port" "${PORT_RANGE[@]}")
    cport=$(remembered_port "$K_DIR/controller.port" "${PORT_RANGE[@]}" "$port")
    write_config "$port" "$cport"
    local cp="$CACHE/libs/*" log4j="-Dlog4j.configuration=file:$K_DIR/log4j.properties"
    if [[ ! -f $K_DIR/formatted ]]; then
        rm -rf "$DATA"
        java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "$log4j" -cp "$cp" kafka.tools.StorageTool format -t "$(new_cluster_id)" \
            -c "$K_DIR/server.properties" >"$K_DIR/format.log" 2>&1 ||
            { cat "$K_DIR/format.log" >&2; die "formatting $DATA failed"; }
        touch "$K_DIR/formatted"
    fi
    # A fresh server.log, so the "started" line awaited below is this run's.
    if [[ -f $K_DIR/server.log ]]; then mv -f "$K_DIR/server.log" "$K_DIR/server.log.prev"; fi
    launch "$cp" "$log4j"
    local up=yes
    await "$port" || up=no
    if [[ $up == no && -f $CACHE/classes.jsa ]] && ! pid_alive "$pid"; then
        warn "Kafka exited at once with the class archive $CACHE/classes.jsa: retrying without it"
        rm -f "$CACHE/classes.jsa"
        launch "$cp" "$log4j"
        up=yes
        await "$port" || up=no
    fi
    if [[ $up == no ]]; then
        pid_alive "$pid" && stop_pid "$pid" 10
        rm -f "$PID_FILE"
        fail_start "Kafka did not start (within $START_TIMEOUT s) on 127.0.0.1:$port"
    fi
    say "Apache Kafka $KAFKA_VERSION (KRaft, broker+controller) started on 127.0.0.1:$port, data $DATA"
    write_env "$port"
}

write_env() {
    printf 'WT_KAFKA_BROKERS=127.0.0.1:%s\nWT_STACK_KAFKA=apache-kafka %s\n' "$1" "$KAFKA_VERSION" >"$K_DIR/env"
}

stop() {
    local pid
    rm -f "$K_DIR/env"
    pid=$(read_pid "$PID_FILE")
    if pid_alive "$pid" kafka.Kafka; then
        stop_pid "$pid" 30
        say "Apache Kafka stopped"
    else
        say "Apache Kafka not running"
    fi
    rm -f "$PID_FILE"
    # Keep a class archive that the JVM finished writing (a killed JVM leaves a broken one).
    if [[ -f $K_DIR/classes.jsa ]]; then
        if [[ ! -f $CACHE/classes.jsa ]] && java -XX:SharedArchiveFile="$K_DIR/classes.jsa" -Xshare:on \
            -cp "$CACHE/libs/*" -version >/dev/null 2>&1; then
            cp "$K_DIR/classes.jsa" "$CACHE/classes.jsa.$$" && mv -f "$CACHE/classes.jsa.$$" "$CACHE/classes.jsa"
        fi
        rm -f "$K_DIR/classes.jsa"
    fi
}

status() {
    local pid
    pid=$(read_pid "$PID_FILE")
    if pid_alive "$pid" kafka.Kafka; then
        say "Apache Kafka $KAFKA_VERSION running on 127.0.0.1:$(cat "$K_DIR/port") (pid $pid), data $DATA"
    else
        say "Apache Kafka not running (data $DATA)"
        return 3
    fi
}

case "$1" in
    start | stop | status | fetch | check) "$1" ;;
    *) die "unknown command '$1' (try --help)" ;;
esac
