#!/usr/bin/env bash
# Trust on the Kafka side (issue 12, item 1; docs/security.md), proved on the
# fixture's Apache Kafka broker with kcat as the outsider:
#   - a client without credentials, or with a wrong password, gets nothing;
#   - a principal without a Write ACL cannot put a command (a forged actor_id)
#     on the commands topic, nor the gateway a fake outcome on the events one;
#   - the gateway's principal and key cannot issue user.create (system), an
#     unsigned or badly signed command is rejected `forbidden` and applied
#     never, while the same commands signed by the right producer are applied;
#   - the SASL_SSL listener talks only to a client that trusts its CA.
#   tests/cli/kafka_security.sh WT_ADMIN WT_WORKER STACK_ENV
set -uo pipefail
admin="${1:?path to wt-admin}"
worker="${2:?path to wt-worker}"
stack_env="${3:?stack.env}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cli_init kafka_security "$stack_env"
if [[ "$kafka_protocol" != sasl_* ]]; then
  echo "skipped: the broker at $brokers is not the fixture's SASL broker"
  exit 77
fi
tls_brokers="$(. "$stack_env" && echo "${WT_STACK_KAFKA_TLS_BROKERS:-}")"
ca_file="$(. "$stack_env" && echo "${WT_STACK_KAFKA_CA_FILE:-}")"
sql() { psql -qAt "$WT_DATABASE_URL" -c "$1"; }
run_admin() { cli_as wt-admin "$admin" "$@"; }

cli_create_database || exit 1
export WT_KAFKA_BROKERS="$brokers"
export WT_TOPIC_PREFIX="wt-test-sec-$$-$RANDOM"
export WT_METRICS_PORT=0
commands="$WT_TOPIC_PREFIX.commands"
run_admin migrate >"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log"; exit 1; }
cli_kafka_setup "$admin" || exit 1
cli_spawn_as wt-worker "$worker" >"$tmp/worker.log" 2>&1
worker_pid=$!

# alice, through the one trusted path (wt-admin, signed with its key)
alice="$(printf 'alice-password-1\n' | run_admin user add alice --password-stdin --timeout-ms 60000 2>"$tmp/add.err")"
if [[ "$alice" =~ ^[0-9a-f-]{36}$ ]]; then ok "wt-admin (system scope) creates alice"; else
  fail "user add alice" "$alice" "$(cat "$tmp/add.err")" "$(tail -n 20 "$tmp/worker.log")"; exit 1; fi

uuid() { cat /proc/sys/kernel/random/uuid; }
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
# hmac_hex KEYHEX ID MSGKEY VALUE: the signature ingest/ing_producer puts in wt-signature
hmac_hex() {
  { printf 'wt-command-v1\0%s\0%s\0' "$2" "$3"; printf '%s' "$4"; } |
    openssl dgst -sha256 -mac HMAC -macopt "hexkey:$1" -r | cut -d' ' -f1
}
# kcat_as PRINCIPAL [PASSWORD] -- KCAT ARGS...: kcat logged in as PRINCIPAL
# ("" for an anonymous client), failing fast
kcat_as() {
  local who="$1" login=()
  shift
  if [[ -n "$who" ]]; then mapfile -t login < <(cli_kcat_login "$who"); fi
  if [[ "$1" != -- ]]; then login+=(-X "sasl.password=$1"); shift; fi
  shift
  timeout 60 kcat -b "$brokers" "${login[@]}" -X message.timeout.ms=8000 \
    -X socket.timeout.ms=8000 -X log_level=3 "$@"
}
# produce_as PRINCIPAL SIGNER KEY VALUE: SIGNER is a producer id with a key
# file, "forged" (wt-gateway's id, a random key) or "" (no headers)
produce_as() {
  local who="$1" id="$2" key="$3" value="$4" headers=() khex
  case "$id" in
    "") ;;
    forged) id=wt-gateway khex="$(openssl rand -hex 32)" ;;
    *) khex="$(cat "$secrets/producer-$id.key")" ;;
  esac
  if [[ -n "$id" ]]; then
    headers=(-H "wt-producer=$id" -H "wt-signature=v1=$(hmac_hex "$khex" "$id" "$key" "$value")")
  fi
  printf '%s' "$value" | kcat_as "$who" -- -P -t "$commands" -k "$key" "${headers[@]}" -c 1
}
# outcome COMMAND_ID: "applied", "rejected CODE MESSAGE" or "none" within 30 s
outcome() {
  local r
  for _ in $(seq 300); do
    if [[ -n "$(sql "SELECT 1 FROM events WHERE command_id = '$1'")" ]]; then echo applied; return; fi
    r="$(sql "SELECT code || ' ' || message FROM rejections WHERE command_id = '$1'")"
    if [[ -n "$r" ]]; then echo "rejected $r"; return; fi
    sleep 0.1
  done
  echo none
}
project_create() { # COMMAND_ID PROJECT_ID ACTOR
  printf '{"v":1,"command_id":"%s","type":"project.create","actor_id":"%s","project_id":"%s","issued_at":"%s","payload":{"name":"forged %s"}}' \
    "$1" "$3" "$2" "$(now)" "$1"
}
user_create() { # COMMAND_ID USER_ID USERNAME
  printf '{"v":1,"command_id":"%s","type":"user.create","actor_id":"system","user_id":"%s","issued_at":"%s","payload":{"user_id":"%s","username":"%s","display_name":"M","password_hash":"$y$j9T$x$y"}}' \
    "$1" "$2" "$(now)" "$2" "$3"
}

# 1. no credentials: the broker speaks SASL only
out="$(kcat_as "" -- -L -m 8 2>&1)"
rc=$?
if [[ $rc -ne 0 && "$out" != *"$commands"* ]]; then ok "anonymous metadata request refused (${out//$'\n'/ | })"; else
  fail "anonymous metadata" "rc=$rc" "$out"; fi
c1="$(uuid)" p1="$(uuid)"
out="$(produce_as "" "" "$p1" "$(project_create "$c1" "$p1" "$alice")" 2>&1)"
rc=$?
if [[ $rc -ne 0 ]]; then ok "anonymous produce refused (${out//$'\n'/ | })"; else fail "anonymous produce" "rc=$rc" "$out"; fi

# 2. a wrong password
out="$(kcat_as wt-gateway "wrong-$RANDOM" -- -L -m 8 2>&1)"
rc=$?
if [[ $rc -ne 0 && "$out" == *uthenticat* ]]; then ok "wrong password refused (${out//$'\n'/ | })"; else
  fail "wrong password" "rc=$rc" "$out"; fi

# 3. an authenticated principal without a Write ACL forges alice's command
c3="$(uuid)" p3="$(uuid)"
out="$(produce_as wt-replay wt-gateway "$p3" "$(project_create "$c3" "$p3" "$alice")" 2>&1)"
rc=$?
if [[ $rc -ne 0 && "$out" == *"uthorization"* ]]; then ok "wt-replay may not write commands (${out//$'\n'/ | })"; else
  fail "wt-replay writes commands" "rc=$rc" "$out"; fi

# 4. the gateway may not publish outcomes
out="$(printf '{"v":1,"kind":"event"}' | kcat_as wt-gateway -- -P -t "$WT_TOPIC_PREFIX.events" -k x -c 1 2>&1)"
rc=$?
if [[ $rc -ne 0 && "$out" == *"uthorization"* ]]; then ok "wt-gateway may not write events"; else
  fail "wt-gateway writes events" "rc=$rc" "$out"; fi

# 5. the gateway's principal and key issue user.create as system: rejected
c5="$(uuid)" u5="$(uuid)"
out="$(produce_as wt-gateway wt-gateway "$u5" "$(user_create "$c5" "$u5" mallory)" 2>&1)" ||
  fail "produce as wt-gateway" "$out"
o5="$(outcome "$c5")"
if [[ "$o5" == "rejected forbidden "*wt-gateway* && -z "$(sql "SELECT 1 FROM users WHERE username = 'mallory'")" ]]; then
  ok "wt-gateway cannot issue user.create: $o5"; else fail "gateway user.create" "$o5"; fi

# 6. unsigned, and signed with a key that is not wt-gateway's: rejected
c6="$(uuid)" p6="$(uuid)"
produce_as wt-gateway "" "$p6" "$(project_create "$c6" "$p6" "$alice")" >/dev/null 2>&1
o6="$(outcome "$c6")"
if [[ "$o6" == "rejected forbidden "* && -z "$(sql "SELECT 1 FROM projects WHERE id = '$p6'")" ]]; then
  ok "unsigned command as alice: $o6"; else fail "unsigned command" "$o6"; fi
c7="$(uuid)" p7="$(uuid)"
produce_as wt-gateway forged "$p7" "$(project_create "$c7" "$p7" "$alice")" >/dev/null 2>&1
o7="$(outcome "$c7")"
if [[ "$o7" == "rejected forbidden "* && -z "$(sql "SELECT 1 FROM projects WHERE id = '$p7'")" ]]; then
  ok "forged signature as alice: $o7"; else fail "forged signature" "$o7"; fi

# 7. the same shapes from the right producers are applied (the checks above
#    fail for the reason they name, not for another one)
c8="$(uuid)" p8="$(uuid)"
produce_as wt-gateway wt-gateway "$p8" "$(project_create "$c8" "$p8" "$alice")" >/dev/null 2>&1
o8="$(outcome "$c8")"
c9="$(uuid)" u9="$(uuid)"
produce_as wt-admin wt-admin "$u9" "$(user_create "$c9" "$u9" trusty)" >/dev/null 2>&1
o9="$(outcome "$c9")"
if [[ "$o8" == applied && "$o9" == applied ]]; then
  ok "signed by wt-gateway (alice's project) and wt-admin (user.create): applied"; else
  fail "signed commands" "project: $o8" "user: $o9"; fi
# and what was refused at the broker never reached the worker
for c in "$c1" "$c3"; do
  if [[ -n "$(sql "SELECT 1 FROM events WHERE command_id = '$c' UNION ALL SELECT 1 FROM rejections WHERE command_id = '$c'")" ]]; then
    fail "a refused message was read" "$c"; fi
done

# 8. SASL_SSL: only with the stack's CA
if [[ -n "$tls_brokers" && -f "$ca_file" ]]; then
  mapfile -t login < <(cli_kcat_login wt-admin)
  out="$(timeout 60 kcat -b "$tls_brokers" "${login[@]}" -X security.protocol=sasl_ssl \
    -X "ssl.ca.location=$ca_file" -L -t "$commands" -m 15 2>&1)"
  rc=$?
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/other.key" -out "$tmp/other-ca.pem" \
    -days 1 -subj /CN=other >/dev/null 2>&1
  out2="$(timeout 60 kcat -b "$tls_brokers" "${login[@]}" -X security.protocol=sasl_ssl \
    -X "ssl.ca.location=$tmp/other-ca.pem" -L -m 8 2>&1)"
  rc2=$?
  if [[ $rc -eq 0 && "$out" == *"$commands"* && $rc2 -ne 0 ]]; then
    ok "SASL_SSL on $tls_brokers: the stack's CA works, another CA is refused"; else
    fail "SASL_SSL" "rc=$rc rc2=$rc2" "$out" "$out2"; fi
else
  fail "SASL_SSL" "stack.env names no TLS listener or CA"
fi

cli_done
