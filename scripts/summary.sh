#!/usr/bin/env bash
# The closing lines of the test suite, from its logs:
#   scripts/summary.sh CARGO_LOG PYTEST_LOG SKIP_LOG CARGO_STATUS PYTEST_STATUS
# prints the skips (if any) and one line "total: N passed, M failed, K skipped", and exits
# with the run's status. A run that failed is never reported as "0 failed": a test binary that
# crashed or did not build prints no "test result" line, and a failed build of the Python
# extension runs no pytest; each counts as one failure. Tested by auralis-py/tests/test_summary.py.
set -uo pipefail
log=$1 pylog=$2 skips=$3 cargo_status=$4 py_status=$5
status=0
read -r cp cf < <(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { print p + 0, f + 0 }' "$log")
summary=$(grep -E '^=+ .*(passed|failed|error|skipped).* in [0-9.]+s' "$pylog" | tail -1 || true)
count() { echo "$summary" | awk -v re="$1" '{ for (i = 2; i <= NF; i++) if ($i ~ re) n += $(i-1) } END { print n + 0 }'; }
pp=$(count '^passed')
pf=$(count '^(failed|errors?),?$')
ps=$(count '^skipped')
if [ "$cargo_status" != 0 ]; then
    status=$cargo_status
    if [ "$cf" = 0 ]; then
        echo "cargo test failed without a failing test: a test binary crashed or did not build" >&2
        cf=1
    fi
fi
if [ "$py_status" != 0 ]; then
    [ "$status" != 0 ] || status=$py_status
    if [ "$pf" = 0 ]; then
        echo "the Python suite failed without a failing test (build, collection or pytest error)" >&2
        pf=1
    fi
elif [ -z "$summary" ]; then
    echo "pytest printed no summary" >&2
    status=1
    pf=1
fi
rs=$(grep -c '^SKIP' "$skips" || true)
if [ "$((rs + ps))" != 0 ]; then
    echo "skipped (missing here; CI requires them):"
    sed 's/^/  /' "$skips"
    grep -E '^SKIPPED' "$pylog" | sed 's/^/  /' || true
fi
echo "total: $((cp + pp)) passed, $((cf + pf)) failed, $((rs + ps)) skipped"
exit "$status"
