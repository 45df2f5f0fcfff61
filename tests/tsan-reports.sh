#!/usr/bin/env bash
# ctest (WT_TSAN=ON): fails if any process of the run wrote a ThreadSanitizer
# report (TSAN_OPTIONS log_path=DIR/tsan: one DIR/tsan.PID file per process
# that reported), and prints the reports.
#   tests/tsan-reports.sh DIR
set -uo pipefail
dir="${1:?reports dir}"
shopt -s nullglob
reports=("$dir"/tsan.*)
if [[ ${#reports[@]} -eq 0 ]]; then
  echo "tsan: no reports"
  exit 0
fi
for r in "${reports[@]}"; do
  echo "=== $r"
  cat "$r"
done
echo "tsan: ${#reports[@]} process(es) reported" >&2
exit 1
