#!/usr/bin/env bash
# After ctest: which services the tests used, and how many test cases ran
# (cmocka cases and the cli scripts' checks, read from ctest's log).
#   tests/summary.sh BUILD_DIR
set -uo pipefail
build="${1:?build dir}"
log="$build/Testing/Temporary/LastTest.log"
services="$build/test-stack/services.txt"
if [[ -f "$services" ]]; then
  echo "Services the tests used: $(sed 's/^WT_STACK_//' "$services" | paste -sd ';' | sed 's/;/; /g')"
fi
[[ -f "$log" ]] || { echo "no ctest log at $log" >&2; exit 1; }
awk '
  /^\[  PASSED  \] [0-9]+ test\(s\)\./ { passed += $4 }
  /^\[  FAILED  \] [0-9]+ test\(s\), listed below:/ { failed += $4 }
  /^[0-9]+ passed, [0-9]+ failed$/ { passed += $1; failed += $3 }
  END { printf "test cases: %d passed, %d failed\n", passed, failed; exit failed > 0 }
' "$log"
