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
(default <repo>/var/kafka): server.properties (mode 600: it holds the broker's password),
log4j.properties, data/, tls/, server.log, kafka.out, kafka.pid; ports picked once and kept
in kafka/port, kafka/tls.port and kafka/controller.port.
  fetch   resolve the jars with Maven once into \$CACHE/libs
  check   exit 0 when this machine can run it: java, and mvn or the jars already fetched
  start   fetch if needed, make the secrets and the TLS certificate, format the storage once
          (with the SCRAM users), start (or reuse) the broker and wait until it answers;
          prints version, ports and data dir
  stop    SIGTERM, SIGKILL after 30 s
  status  say whether it runs
Security (every listener on 127.0.0.1 only):
  127.0.0.1:PORT      SASL_PLAINTEXT, SCRAM-SHA-512 only: the clients (and the broker itself)
  127.0.0.1:TLSPORT   SASL_SSL, SCRAM-SHA-512: certificate for IP:127.0.0.1 and DNS:localhost,
                      signed by a CA made once (key: kafka/tls/ca.key; certificate copied to
                      \$WT_VAR_DIR/secrets/kafka-ca.pem)
  controller port     SASL_PLAINTEXT, PLAIN, only wt-broker (SCRAM cannot bootstrap KRaft)
  ACLs: StandardAuthorizer; super users wt-broker and wt-admin; no ACL, no access.
  SCRAM users ${KAFKA_PRINCIPALS[*]}, passwords in
  \$WT_VAR_DIR/secrets/kafka-<user>.password (made once, random; mode 600), added when the
  storage is formatted: new passwords, or a data dir of the older PLAINTEXT broker, format
  it again (its topics are lost; PostgreSQL keeps the product's state).
Writes kafka/env: WT_KAFKA_BROKERS=127.0.0.1:PORT, WT_STACK_KAFKA, WT_KAFKA_SECURITY_PROTOCOL=
sasl_plaintext, WT_KAFKA_SASL_MECHANISM=SCRAM-SHA-512, WT_STACK_KAFKA_TLS_BROKERS=127.0.0.1:TLSPORT,
WT_STACK_KAFKA_CA_FILE.
Environment: WT_VAR_DIR; WT_CACHE_DIR (default \${XDG_CACHE_HOME:-\$HOME/.cache}/worktracker);
CACHE is \$WT_CACHE_DIR/kafka-$KAFKA_VERSION; WT_KAFKA_JVM_OPTS (heap, JIT, GC)." "$@"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${WT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/worktracker}/kafka-$KAFKA_VERSION
K_DIR=$WT_VAR_DIR/kafka
DATA=$K_DIR/data
PID_FILE=$K_DIR/kafka.pid
PORT_RANGE=(26000 32767) # pg.sh uses 20000-25999
START_TIMEOUT=90
# The class archive of the broker's start (see launch). Its name says which broker set-up it
# was dumped from (SASL and TLS load classes the PLAINTEXT broker's classes.jsa lacks).
ARCHIVE=$CACHE/classes-sasl.jsa

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
    rm -rf "$CACHE/libs" "$CACHE"/classes*.jsa
    mv "$tmp" "$CACHE/libs"
    echo "$KAFKA_VERSION" >"$CACHE/libs.complete"
}

# kafka_password PRINCIPAL: its SCRAM password (made once in $SECRETS_DIR), checked to hold
# only characters that need no quoting in server.properties, JAAS and --add-scram.
kafka_password() {
    local file=$SECRETS_DIR/kafka-$1.password pw
    make_secret "kafka-$1.password" random_password
    pw=$(<"$file")
    [[ $pw =~ ^[A-Za-z0-9._~-]{16,}$ ]] ||
        die "$file: expected 16 or more of A-Z a-z 0-9 . _ ~ - (delete it to get a new one)"
    printf '%s' "$pw"
}

write_config() { # $1 client port, $2 TLS port, $3 controller port
    local pw
    pw=$(kafka_password wt-broker)
    # mode 600 from the start: the JAAS lines hold the broker's own password (never the
    # java command line, which `ps` shows to everyone)
    (umask 077 && cat >"$K_DIR/server.properties.tmp") <<EOF
# written by deploy/local/kafka.sh at every start (mode 600: it holds wt-broker's password)
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$3
listeners=CLIENT://127.0.0.1:$1,TLS://127.0.0.1:$2,CONTROLLER://127.0.0.1:$3
advertised.listeners=CLIENT://127.0.0.1:$1,TLS://127.0.0.1:$2
listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,TLS:SASL_SSL,CONTROLLER:SASL_PLAINTEXT
inter.broker.listener.name=CLIENT
controller.listener.names=CONTROLLER

# SASL. The clients: SCRAM-SHA-512 only, on both client listeners; the broker reaches itself
# on CLIENT as wt-broker (its SCRAM credentials are in the metadata from the format on).
# The controller: PLAIN with one static user, wt-broker, since SCRAM credentials live in the
# metadata that the controller itself serves (SCRAM cannot bootstrap KRaft).
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
sasl.mechanism.controller.protocol=PLAIN
listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="wt-broker" password="$pw";
listener.name.tls.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.tls.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="wt-broker" password="$pw" user_wt-broker="$pw";

# TLS on the SASL_SSL listener: key (PKCS#8, unencrypted) and certificate in one PEM file
# (see make_tls); no client certificates
listener.name.tls.ssl.keystore.type=PEM
listener.name.tls.ssl.keystore.location=$K_DIR/tls/broker.pem

# ACLs: nothing without one, but for the super users (the broker, and wt-admin, which
# creates the topics and the ACLs: wt-admin acls)
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:wt-broker;User:wt-admin
allow.everyone.if.no.acl.found=false

log.dirs=$DATA
num.partitions=6
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
EOF
    mv -f "$K_DIR/server.properties.tmp" "$K_DIR/server.properties"
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

# make_tls: the SASL_SSL listener's certificate, for IP:127.0.0.1 and DNS:localhost, signed
# by a CA of this broker's own. The CA is made once (kafka/tls/ca.key stays here; its
# certificate goes to $SECRETS_DIR/kafka-ca.pem for the clients); the broker's key and
# certificate again when missing, not signed by that CA, or not valid 30 days from now (one
# openssl call at each start: verify at that time checks all three).
make_tls() {
    local t=$K_DIR/tls log=$K_DIR/tls/openssl.log month=$((30 * 86400))
    (umask 077 && mkdir -p "$t")
    : >"$log"
    if ! { [[ -s $t/ca.key && -s $t/ca.pem && -s $t/broker.crt && -s $t/broker.pem ]] &&
        openssl verify -attime $(($(date +%s) + month)) -CAfile "$t/ca.pem" "$t/broker.crt"; } >>"$log" 2>&1
    then
        if ! { [[ -s $t/ca.key && -s $t/ca.pem ]] &&
            openssl x509 -checkend "$month" -noout -in "$t/ca.pem"; } >>"$log" 2>&1; then
            (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
                -keyout "$t/ca.key" -out "$t/ca.pem" -days 3650 -subj "/CN=Worktracker local Kafka CA" \
                -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign) \
                >>"$log" 2>&1 || { cat "$log" >&2; die "openssl: making the Kafka CA failed"; }
        fi
        (
            umask 077
            openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$t/broker.key" &&
                openssl req -new -key "$t/broker.key" -subj /CN=localhost |
                openssl x509 -req -CA "$t/ca.pem" -CAkey "$t/ca.key" -days 825 \
                    -set_serial "0x$(random_key | cut -c1-32)" -out "$t/broker.crt" -extfile <(
                    printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' \
                        'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature' \
                        'extendedKeyUsage=serverAuth')
        ) >>"$log" 2>&1 || { cat "$log" >&2; die "openssl: making the Kafka broker's certificate failed"; }
        # genpkey writes PKCS#8 ("BEGIN PRIVATE KEY"), unencrypted: what Kafka's PEM key
        # store reads without ssl.key.password
        (umask 077 && cat "$t/broker.key" "$t/broker.crt" >"$t/broker.pem.tmp") &&
            mv -f "$t/broker.pem.tmp" "$t/broker.pem"
        rm -f "$t/broker.key"
    fi
    secrets_dir
    if ! cmp -s "$t/ca.pem" "$SECRETS_DIR/kafka-ca.pem"; then
        (umask 077 && cp "$t/ca.pem" "$SECRETS_DIR/kafka-ca.pem.$$") &&
            mv -f "$SECRETS_DIR/kafka-ca.pem.$$" "$SECRETS_DIR/kafka-ca.pem"
    fi
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
    [[ -f $ARCHIVE ]] && cds=(-XX:SharedArchiveFile="$ARCHIVE")
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

# format CP LOG4J_OPTION: formats $DATA with the SCRAM users of KAFKA_PRINCIPALS, once; again
# when their passwords changed, or when it is a data dir of the older PLAINTEXT kafka.sh
# (kafka/formatted, mode 600, holds a hash of the passwords it was formatted with).
format() {
    local p pw scram=() sums="" stamp args=$K_DIR/format.args
    for p in "${KAFKA_PRINCIPALS[@]}"; do
        pw=$(kafka_password "$p")
        scram+=(--add-scram "SCRAM-SHA-512=[name=$p,password=$pw]")
        sums+="$p=$pw"$'\n'
    done
    stamp="sasl-scram-sha-512 $(printf '%s' "$sums" | sha256sum | cut -c1-64)"
    if [[ -f $K_DIR/formatted ]]; then
        [[ -d $DATA && $(<"$K_DIR/formatted") == "$stamp" ]] && return 0
        if [[ $(<"$K_DIR/formatted") == sasl-scram-sha-512\ * ]]; then
            note "the Kafka passwords in $SECRETS_DIR changed: formatting $DATA again" \
                "(this private broker's topics are dropped; PostgreSQL keeps the product's state)"
        else
            note "formatting $DATA again, once: it was made for the PLAINTEXT broker of an older" \
                "kafka.sh, and SCRAM users are added only when formatting (this private broker's" \
                "topics are dropped; PostgreSQL keeps the product's state)"
        fi
    fi
    rm -rf "$DATA" "$K_DIR/formatted"
    # The passwords reach StorageTool through an argument file (mode 600, removed after): the
    # java launcher reads @FILE itself, so they never are on a command line (`ps` shows those).
    (umask 077 && printf '%s\n' kafka.tools.StorageTool format -t "$(new_cluster_id)" \
        -c "$K_DIR/server.properties" "${scram[@]}" >"$args")
    if ! java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "$2" -cp "$1" @"$args" \
        >"$K_DIR/format.log" 2>&1; then
        rm -f "$args"
        sed -E 's/(password=)[^],[:space:]]*/\1***/g' "$K_DIR/format.log" >&2
        die "formatting $DATA failed"
    fi
    rm -f "$args"
    (umask 077 && echo "$stamp" >"$K_DIR/formatted")
}

start() {
    local pid port tport cport
    pid=$(read_pid "$PID_FILE")
    port=$(cat "$K_DIR/port" 2>/dev/null || true)
    tport=$(cat "$K_DIR/tls.port" 2>/dev/null || true)
    if pid_alive "$pid" kafka.Kafka && [[ -n $port && -n $tport ]] && port_open "$port"; then
        say "Apache Kafka $KAFKA_VERSION (KRaft, broker+controller) already running on" \
            "127.0.0.1:$port (SASL SCRAM-SHA-512; TLS on $tport) (pid $pid), data $DATA"
        write_env "$port" "$tport"
        return 0
    fi
    [[ -n $pid ]] && pid_alive "$pid" kafka.Kafka && stop # running but not answering
    command -v java >/dev/null || die "java not found (apt-get install openjdk-17-jre-headless)"
    command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"
    fetch
    mkdir -p "$K_DIR" && chmod 700 "$K_DIR" # the broker's secrets: TLS key, passwords
    port=$(remembered_port "$K_DIR/port" "${PORT_RANGE[@]}")
    tport=$(remembered_port "$K_DIR/tls.port" "${PORT_RANGE[@]}" "$port")
    cport=$(remembered_port "$K_DIR/controller.port" "${PORT_RANGE[@]}" "$port" "$tport")
    make_tls
    write_config "$port" "$tport" "$cport"
    local cp="$CACHE/libs/*" log4j="-Dlog4j.configuration=file:$K_DIR/log4j.properties"
    format "$cp" "$log4j"
    # A fresh server.log, so the "started" line awaited below is this run's.
    if [[ -f $K_DIR/server.log ]]; then mv -f "$K_DIR/server.log" "$K_DIR/server.log.prev"; fi
    launch "$cp" "$log4j"
    local up=yes
    await "$port" || up=no
    if [[ $up == no && -f $ARCHIVE ]] && ! pid_alive "$pid"; then
        warn "Kafka exited at once with the class archive $ARCHIVE: retrying without it"
        rm -f "$ARCHIVE"
        launch "$cp" "$log4j"
        up=yes
        await "$port" || up=no
    fi
    if [[ $up == no ]]; then
        pid_alive "$pid" && stop_pid "$pid" 10
        rm -f "$PID_FILE"
        fail_start "Kafka did not start (within $START_TIMEOUT s) on 127.0.0.1:$port"
    fi
    say "Apache Kafka $KAFKA_VERSION (KRaft, broker+controller) started on 127.0.0.1:$port" \
        "(SASL SCRAM-SHA-512; TLS on $tport), data $DATA"
    write_env "$port" "$tport"
}

# write_env PORT TLS_PORT: kafka/env, unquoted NAME=VALUE lines (stack.sh quotes them for
# stack.env); WT_KAFKA_BROKERS first.
write_env() {
    {
        printf 'WT_KAFKA_BROKERS=127.0.0.1:%s\n' "$1"
        printf 'WT_STACK_KAFKA=apache-kafka %s\n' "$KAFKA_VERSION"
        printf 'WT_KAFKA_SECURITY_PROTOCOL=sasl_plaintext\n'
        printf 'WT_KAFKA_SASL_MECHANISM=SCRAM-SHA-512\n'
        printf 'WT_STACK_KAFKA_TLS_BROKERS=127.0.0.1:%s\n' "$2"
        printf 'WT_STACK_KAFKA_CA_FILE=%s\n' "$SECRETS_DIR/kafka-ca.pem"
    } >"$K_DIR/env"
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
        if [[ ! -f $ARCHIVE ]] && java -XX:SharedArchiveFile="$K_DIR/classes.jsa" -Xshare:on \
            -cp "$CACHE/libs/*" -version >/dev/null 2>&1; then
            cp "$K_DIR/classes.jsa" "$ARCHIVE.$$" && mv -f "$ARCHIVE.$$" "$ARCHIVE"
        fi
        rm -f "$K_DIR/classes.jsa"
    fi
}

status() {
    local pid
    pid=$(read_pid "$PID_FILE")
    if pid_alive "$pid" kafka.Kafka; then
        say "Apache Kafka $KAFKA_VERSION running on 127.0.0.1:$(cat "$K_DIR/port") (SASL SCRAM-SHA-512;" \
            "TLS on $(cat "$K_DIR/tls.port" 2>/dev/null)) (pid $pid), data $DATA"
    else
        say "Apache Kafka not running (data $DATA)"
        return 3
    fi
}

case "$1" in
    start | stop | status | fetch | check) "$1" ;;
    *) die "unknown command '$1' (try --help)" ;;
esac
