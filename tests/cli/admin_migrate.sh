#!/usr/bin/env bash
# `wt-admin migrate` on a fresh database: applies, re-runs as a no-op, and
# with WT_LOG_SQL=1 logs each statement with its name, rows and time.
set -euo pipefail
bin="${1:?path to wt-admin}"
stack_env="${2:?stack.env}"
url="${WT_TEST_DATABASE_URL:-$(sed -n 's/^WT_DATABASE_URL=//p' "$stack_env")}"
db="wt_test_cli_$$"
psql -v ON_ERROR_STOP=1 -qAt "$url" -c "CREATE DATABASE $db" >/dev/null
trap 'psql -qAt "$url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null' EXIT
dburl="$(psql -qAt "$url" -c "SELECT 'postgresql://' || current_user || '@' || coalesce(inet_server_addr()::text, 'localhost') || ':' || current_setting('port') || '/$db'")"
dburl="${dburl/\/32/}"

out="$(WT_DATABASE_URL="$dburl" WT_LOG_SQL=1 "$bin" migrate 2>&1)"
echo "$out"
grep -q 'sql name=migrate_lock rows=1 us=' <<<"$out"
grep -q 'sql name=migrate_script rows=0 us=' <<<"$out"
grep -q 'migration applied version=1 name=0001_init.sql' <<<"$out"
grep -q 'migrate done applied=' <<<"$out"

out="$(WT_DATABASE_URL="$dburl" WT_LOG_SQL=1 "$bin" migrate 2>&1)"
echo "$out"
grep -q 'migrate done applied=0' <<<"$out"
[[ "$(grep -c 'sql name=' <<<"$out")" -eq 4 ]] # lock, create, read, unlock
echo "1 passed, 0 failed"
