#!/usr/bin/env bash
# Runs the libFuzzer targets of a WT_FUZZ build (`make fuzz`, `make test`).
#   tests/fuzz/run.sh BUILD_DIR [--regress] [--seconds N] [TARGET...]
# --regress: first every committed input once (tests/fuzz/corpus/<target>/).
# --seconds N: then fuzz each target for N seconds (0: not at all), from the
#   committed corpus plus what earlier runs found (BUILD_DIR/fuzz-work/
#   <target>/, where new inputs go: never into the repository); a crash, a
#   leak or a timeout is saved under BUILD_DIR/crashes/<target>/.
# TARGET: json, command, jwt, ws_frame (default: all). Each run is niced
# (FUZZ_NICE, default 19). Prints per target the executions, the corpus and
# the verdict; exits 1 when any target failed.
set -uo pipefail

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }
[[ $# -ge 1 && "$1" != -h && "$1" != --help ]] || { usage; exit 2; }
build=$1
shift
regress=0 seconds=0 targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
  --regress) regress=1 ;;
  --seconds) seconds=${2:?--seconds needs a number}; shift ;;
  -h | --help) usage; exit 0 ;;
  -*) usage >&2; exit 2 ;;
  *) targets+=("$1") ;;
  esac
  shift
done
[[ ${#targets[@]} -gt 0 ]] || targets=(json command jwt ws_frame)
here=$(cd "$(dirname "$0")" && pwd)
nice_level=${FUZZ_NICE:-19}

# The longest input each target is given: past its own caps, not much more
# (a command's 65536-byte cap is tested in test_command.c, not by fuzzing).
max_len() {
  case "$1" in
  json) echo 4096 ;;
  command) echo 8192 ;;
  jwt) echo 8400 ;; # WT_JWT_MAX_TOKEN is 8192
  ws_frame) echo 2048 ;;
  *) echo 4096 ;;
  esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
mkdir -p "$build/fuzz-logs"
for t in "${targets[@]}"; do
  bin=$build/tests/fuzz/fuzz_$t
  corpus=$here/corpus/$t
  work=$build/fuzz-work/$t
  crashes=$build/crashes/$t
  log=$build/fuzz-logs/$t.log
  if [[ ! -x $bin ]]; then
    echo "fuzz $t: no $bin (build with -DWT_FUZZ=ON)" >&2
    failed+=("$t")
    continue
  fi
  mkdir -p "$work" "$crashes"
  dict=()
  [[ -f $here/$t.dict ]] && dict=(-dict="$here/$t.dict")
  if [[ $regress -eq 1 ]]; then
    n=$(find "$corpus" -type f | wc -l)
    if ! find "$corpus" -type f -print0 | sort -z |
      xargs -0 nice -n "$nice_level" "$bin" -artifact_prefix="$crashes/" \
        >"$build/fuzz-logs/$t.regress.log" 2>&1; then
      echo "fuzz $t: a committed input fails (see $build/fuzz-logs/$t.regress.log)"
      grep -E '^Running:|property does not hold|ERROR:|SUMMARY:' \
        "$build/fuzz-logs/$t.regress.log" | grep -B1 -E 'property|ERROR|SUMMARY' | tail -6
      failed+=("$t")
      continue
    fi
    echo "fuzz $t: $n committed inputs pass"
  fi
  [[ $seconds -gt 0 ]] || continue
  nice -n "$nice_level" "$bin" -max_total_time="$seconds" -max_len="$(max_len "$t")" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "${dict[@]}" "$work" "$corpus" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[bKM]*\).*/\1/p' <<<"$last")
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  if [[ $rc -ne 0 ]]; then
    echo "fuzz $t: FAILED after ${execs:-?} executions (exit $rc); input in $crashes/, log $log"
    grep -E 'property does not hold|ERROR:|SUMMARY:|^artifact_prefix|Test unit written' "$log" | head -6
    failed+=("$t")
  else
    echo "fuzz $t: ${execs:-?} executions in ${seconds} s, corpus ${corp:-?} (inputs/bytes), cov ${cov:-?}, no crash"
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: failed: ${failed[*]}"
  exit 1
fi
