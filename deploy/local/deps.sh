#!/usr/bin/env bash
# Installs the Debian packages a make target needs, or says how.
#   deploy/local/deps.sh build|run|test|chaos|lint
# As root: missing packages are installed with apt-get (lists updated once).
# Otherwise: prints the exact apt-get line and exits 1.
set -euo pipefail

usage() {
  sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
}
[[ "${1:-}" == "-h" || "${1:-}" == "--help" ]] && { usage; exit 0; }
purpose="${1:?$(usage)}"

# openssl (the command): the gateway's TLS test certificates, and the local
# Kafka broker's CA and certificate for its SASL_SSL listener (kafka.sh)
build_pkgs=(cmake ninja-build gcc make pkg-config libc6-dev
  libwebsockets-dev librdkafka-dev libpq-dev libjson-c-dev libjwt-dev
  libssl-dev libcmocka-dev libcrypt-dev openssl
  libev-dev libwebsockets-evlib-ev)
pg_pkgs=(postgresql postgresql-client)
# `make test` runs the e2e tests under clang's ThreadSanitizer too
tsan_pkgs=(clang-14 libclang-rt-14-dev)
# and checks the gateway's traffic against schemas/ (tests/schemas-check.sh)
schema_pkgs=(python3-jsonschema)
# and the chaos test (tests/chaos/chaos.py: Python, librdkafka through ctypes, kcat to read
# the topics back)
chaos_pkgs=(python3 kcat)
lint_pkgs=(clang-format clang-tidy)

want=()
case "$purpose" in
build) want=("${build_pkgs[@]}") ;;
run | test | chaos)
  want=("${build_pkgs[@]}" "${pg_pkgs[@]}")
  if [[ "$purpose" == test ]]; then want+=("${tsan_pkgs[@]}" "${schema_pkgs[@]}" "${chaos_pkgs[@]}"); fi
  if [[ "$purpose" == chaos ]]; then want+=("${chaos_pkgs[@]}"); fi
  # Apache Kafka runs on Java and is fetched with Maven; `make run` falls
  # back to the devbroker without them, the tests never do.
  if ! command -v java >/dev/null; then want+=(default-jre-headless); fi
  if ! command -v mvn >/dev/null; then want+=(maven); fi
  ;;
lint) want=("${build_pkgs[@]}" "${lint_pkgs[@]}") ;;
*) usage >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  only_java=1
  for p in "${missing[@]}"; do
    [[ "$p" == default-jre-headless || "$p" == maven ]] || only_java=0
  done
  if [[ "$purpose" == run && $only_java -eq 1 ]]; then
    echo "deps: no Java/Maven: make run uses wt-devbroker instead of Apache Kafka" >&2
    exit 0
  fi
  echo "Missing Debian packages for '$purpose'. Install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
stamp=/var/lib/apt/periodic/wt-update-stamp
if [[ ! -f $stamp ]] || [[ -n "$(find "$stamp" -mmin +360 2>/dev/null)" ]]; then
  apt-get update -q >&2
  mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
