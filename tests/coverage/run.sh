#!/usr/bin/env bash
# coverage.py 7.x on the fork (run by tools/run-tests.sh's "coverage" part).
#
#   tests/coverage/run.sh PYTHON
#
# Fetches Debian trixie's python3-coverage (7.6.0, pure Python apart from a
# cp313 CTracer that 3.11 cannot load) into build/coverage/ with tools/fetch-debs.sh
# (a private apt configuration; nothing is installed), runs tests/coverage/sample.py with
# COVERAGE_CORE=sysmon and COVERAGE_CORE=pytrace, with --branch, and compares
# the two reports (compare.py).  It also checks that the run really used the
# sys.monitoring core.  Last line: "coverage: N passed, N failed, N skipped".
set -uo pipefail
python=$(readlink -f "$1")
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
work=$top/build/coverage
if ! root=$("$top/tools/fetch-debs.sh" trixie "$work" python3-coverage); then
    echo "coverage: cannot download python3-coverage from trixie (see $work/apt-*.log)"
    echo "coverage: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
pkg=$(ls "$work"/deb/python3-coverage_7.*_amd64.deb | head -n1)
export PYTHONPATH=$root/usr/lib/python3/dist-packages
echo "   $(basename "$pkg")"

passed=0 failed=0
check() {  # check NAME STATUS
    if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "   $1: ok"; else failed=$((failed + 1)); echo "   $1: FAILED"; fi
}
cd "$work"
cp "$here/sample.py" sample.py
for core in sysmon pytrace; do
    rm -f ".cov.$core"
    COVERAGE_CORE=$core COVERAGE_DEBUG=sys COVERAGE_DEBUG_FILE=debug.$core.log \
        "$python" -m coverage run --branch --data-file=".cov.$core" sample.py > "run.$core.log" 2>&1
    check "coverage run (COVERAGE_CORE=$core)" $?
    "$python" -m coverage json --data-file=".cov.$core" -o "$core.json" > /dev/null 2>&1
    check "coverage json ($core)" $?
done
grep -q "core: SysMonitor" debug.sysmon.log
check "the sysmon run used the sys.monitoring core (coverage debug sys: $(grep -m1 -o 'core: [A-Za-z]*' debug.sysmon.log))" $?
"$python" "$here/compare.py" sysmon.json pytrace.json sample.py | sed 's/^/   /'
check "sysmon and pytrace agree (lines exactly, branches but for known cases)" ${PIPESTATUS[0]}
echo "coverage: $passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
