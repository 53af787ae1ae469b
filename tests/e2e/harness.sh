# harness.sh - sourced by the end-to-end suites that report with pass/fail/skip:
#   . "$top/tests/e2e/harness.sh"
# pass NAME, fail NAME WHY, skip NAME WHY print one line each (tests/run.sh reads
# PASS/FAIL/SKIP and the summary); finish prints "N passed, M failed" and exits 1
# when any check failed.
npass=0
nfail=0
pass() { echo "PASS $1"; npass=$((npass + 1)); }
fail() { echo "FAIL $1: $2"; nfail=$((nfail + 1)); }
skip() { echo "SKIP $1: $2"; }
finish() {
    echo "$npass passed, $nfail failed"
    [ "$nfail" -eq 0 ]
    exit $?
}
