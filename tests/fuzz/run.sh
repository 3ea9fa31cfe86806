#!/usr/bin/env bash
# Runs every libFuzzer harness named on the command line for FUZZ_SECONDS, FUZZ_JOBS at a time
# (a 2-core machine fuzzes two harnesses at once), then the HTTP fuzzer against the ASan build for
# FUZZ_SECONDS. Every step runs; the last line counts them, and the exit status is 1 if any step
# found something. New inputs go to build/fuzz/corpus/<name>/, crash inputs to
# build/fuzz/crashes/<name>/ (keep one as tests/fuzz/regress/<name>/ once it is fixed).
set -u
cd "$(dirname "$0")/../.."
secs=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-2}
python=${PYTHON:-python3}
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

run_one() {
    local n=$1 secs=$2
    mkdir -p "build/fuzz/corpus/$n" "build/fuzz/crashes/$n"
    if "build/fuzz/fuzz_$n" -max_total_time="$secs" -timeout=5 -print_final_stats=1 \
        -artifact_prefix="build/fuzz/crashes/$n/" "build/fuzz/corpus/$n" "tests/fuzz/corpus/$n" \
        >"build/fuzz/$n.log" 2>&1; then
        echo 0 >"build/fuzz/$n.rc"
        echo "  FUZZ    $n: $(grep -h 'stat::number_of_executed_units' "build/fuzz/$n.log" |
            awk '{print $2}') runs in $secs s, nothing found"
    else
        echo 1 >"build/fuzz/$n.rc"
        tail -60 "build/fuzz/$n.log"
        echo "  FUZZ    $n found a bug; input in build/fuzz/crashes/$n/"
    fi
}
export -f run_one

rm -f build/fuzz/*.rc
printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c 'run_one "$1" "$2"' _ {} "$secs"
passed=0
failed=0
for n in "$@"; do
    if [ "$(cat "build/fuzz/$n.rc" 2>/dev/null)" = 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
done
if FUZZ_SECONDS=$secs "$python" tests/fuzz/http_fuzz.py --carnetd build/carnetd-asan; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
