#!/usr/bin/env bash
# The fork's test command (`make test`): run from the project root after the fork is built.
#
#   tools/run-tests.sh VARIANT [fork] [security] [regrtest] [roundtrip]     (default: all four)
#
#   fork       the fork's own tests under tests/ (identity, ABI, ...), run by the fork's interpreter
#   security   tests/security: the security fixes of the base (base/debian-patches.txt) are in the
#              fork, and each fix's tests fail without it (pristine 3.11.2's Lib/ under the fork's
#              interpreter; also a pristine build, `tools/build.sh pristine VARIANT`, if there is one)
#   regrtest   CPython's full regression suite in the assembled build (-j$(nproc), failures re-run
#              once), minus tests/regrtest-exclusions.txt; a failure that stock 3.11.2 built the same
#              way shows too is reported as such (STOCK_CHECK=0 skips that check)
#   roundtrip  assemble -> change -> export -> re-assemble gives the same tree
#
# Logs go to build/test/.  The last line is "tests: N passed, N failed, N skipped".
set -uo pipefail

variant=${1:-default}
shift || true
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(fork security regrtest roundtrip)

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=build/test
mkdir -p "$out"
python=build/obj/fork-$variant/python
[ -x "$python" ] || { echo "run-tests: $python not built (make build)" >&2; exit 1; }
jobs=${JOBS:-$(nproc)}

total_passed=0 total_failed=0 total_skipped=0
declare -a verdicts=()

# Count "N passed, N failed, N skipped" from a part's last summary line.
tally() {  # tally NAME LINE STATUS
    local name=$1 line=$2 status=$3 p f s
    p=$(sed -n 's/.* \([0-9]\+\) passed.*/\1/p' <<< "$line"); p=${p:-0}
    f=$(sed -n 's/.* \([0-9]\+\) failed.*/\1/p' <<< "$line"); f=${f:-0}
    s=$(sed -n 's/.* \([0-9]\+\) skipped.*/\1/p' <<< "$line"); s=${s:-0}
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    total_passed=$((total_passed + p)); total_failed=$((total_failed + f)); total_skipped=$((total_skipped + s))
    verdicts+=("$(printf '%-10s %s' "$name" "$( [ "$status" -eq 0 ] && echo ok || echo FAILED): $p passed, $f failed, $s skipped")")
}

# unittest's closing lines -> "N passed, N failed, N skipped"
unittest_line() {  # unittest_line LOG
    local ran fails skips
    ran=$(sed -n 's/^Ran \([0-9]\+\) tests\?.*/\1/p' "$1" | tail -n1); ran=${ran:-0}
    fails=$(grep -E '^FAILED \(' "$1" | tail -n1 | grep -oE '(failures|errors)=[0-9]+' | awk -F= '{ s += $2 } END { print s + 0 }')
    skips=$(grep -E '^(OK|FAILED) \(' "$1" | tail -n1 | grep -oE 'skipped=[0-9]+' | cut -d= -f2)
    fails=${fails:-0}; skips=${skips:-0}
    echo "unittest: $((ran - fails - skips)) passed, $fails failed, $skips skipped"
}

run_fork() {
    echo "== fork tests (tests/, with $python)"
    local abi_root stock_py="" st
    abi_root=$(tests/abi/fetch-debian-extension.sh) || abi_root=""
    # Another CPython 3.11 for the .pyc interchange test: the stock build if there is one, else the
    # system's python3.11.
    for cand in build/obj/stock-$variant/python "$(command -v python3.11 || true)" /usr/bin/python3.11; do
        if [ -n "$cand" ] && [ -x "$cand" ]; then stock_py=$(readlink -f "$cand"); break; fi
    done
    FORK_TREE=$top/build/cpython FORK_ABI_ROOT=$abi_root STOCK_PYTHON=$stock_py \
        "$python" -m unittest discover -v -s tests/identity -t tests/identity -p 'test_*.py' > "$out/fork.log" 2>&1
    st=$?
    grep -E '(\.\.\. |^Ran |^OK|^FAILED)' "$out/fork.log" | grep -v '\.\.\. ok$' || true
    [ $st -ne 0 ] && tail -n 60 "$out/fork.log"
    tally fork "$(unittest_line "$out/fork.log")" $st
}

run_security() {
    echo "== security fixes of the base (tests/security, with $python)"
    local st line pristine_py
    "$python" -m unittest discover -v -s tests/security -t tests/security -p 'test_*.py' > "$out/security.log" 2>&1
    st=$?
    grep -E '(\.\.\. |^Ran |^OK|^FAILED)' "$out/security.log" | grep -v '\.\.\. ok$' || true
    [ $st -ne 0 ] && tail -n 60 "$out/security.log"
    tally security "$(unittest_line "$out/security.log")" $st

    # The same tests must fail without the fixes: on pristine 3.11.2's standard library, taken from
    # the assembled tree's `pristine` commit and run by the fork's interpreter (which leaves out the
    # fixes made in C) ...
    echo "== ... and fail on pristine CPython 3.11.2 (its Lib/, with $python)"
    rm -rf "$out/pristine-lib" && mkdir -p "$out/pristine-lib"
    git -C build/cpython archive pristine Lib | tar -x -C "$out/pristine-lib"
    env "${clean_env[@]}" PYTHONPATH="$top/$out/pristine-lib/Lib" "$python" -s tests/security/check_pristine.py \
        --stdlib-only > "$out/security-pristine.log" 2>&1
    st=$?
    cat "$out/security-pristine.log"
    tally pristine "$(tail -n1 "$out/security-pristine.log")" $st
    # ... and on a pristine build, when one was made (it is not built here: a whole extra build).
    pristine_py=build/obj/pristine-$variant/python
    if [ -x "$pristine_py" ]; then
        echo "== ... and fail on the pristine build $pristine_py"
        env "${clean_env[@]}" "$pristine_py" -s tests/security/check_pristine.py > "$out/security-pristine-build.log" 2>&1
        st=$?
        cat "$out/security-pristine-build.log"
        tally pristine-b "$(tail -n1 "$out/security-pristine-build.log")" $st
    fi
}

run_roundtrip() {
    echo "== tooling round trip (tests/tooling)"
    local st
    python3 -m unittest -v tests/tooling/test_roundtrip.py > "$out/roundtrip.log" 2>&1
    st=$?
    grep -E '(\.\.\. |^Ran |^OK|^FAILED)' "$out/roundtrip.log" || true
    [ $st -ne 0 ] && tail -n 40 "$out/roundtrip.log"
    tally roundtrip "$(unittest_line "$out/roundtrip.log")" $st
}

# The regression suite.  Resources: all that this machine has (no network, no sound, no display).
REGRTEST_USE=${REGRTEST_USE:-all,-network,-urlfetch,-gui,-audio}

# CPython's suite expects a clean environment: inherited PYTHON* variables (PYTHONUNBUFFERED,
# PYTHONDONTWRITEBYTECODE, ...) make stock 3.11.2 fail tests too (test_cmd_line, test_compileall).
clean_env=()
while IFS= read -r var; do clean_env+=(-u "$var"); done < <(env | grep -o '^PYTHON[A-Z0-9_]*' || true)

# ... and default signal dispositions: a suite started from a non-interactive shell's background job
# inherits SIGINT and SIGQUIT ignored (a shell cannot reset signals ignored at its entry), which fails
# stock's test_pdb, test_generators and test_multiprocessing_* too.  Reset them, then exec.
default_signals=(python3 -c 'import os, signal, sys
for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
    signal.signal(s, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])')

regrtest() {  # regrtest PYTHON LOG XML [TESTS...]
    local py=$1 log=$2 xml=$3; shift 3
    local excluded ignores=()
    # A plain name excludes a test module (-x); a dotted pattern ignores matching test cases
    # (--ignore), leaving the rest of the module in the run.
    mapfile -t excluded < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' tests/regrtest-exclusions.txt |
                            awk '$1 !~ /\./ {print $1}')
    while read -r pat; do ignores+=(--ignore "$pat"); done < <(
        sed -e 's/#.*//' -e '/^[[:space:]]*$/d' tests/regrtest-exclusions.txt | awk '$1 ~ /\./ {print $1}')
    if [ $# -gt 0 ]; then
        "${default_signals[@]}" env "${clean_env[@]}" "$py" -m test -j"$jobs" -w -u "$REGRTEST_USE" \
            --timeout 1800 --junit-xml "$top/$xml" ${ignores[@]+"${ignores[@]}"} "$@" > "$log" 2>&1
    else
        "${default_signals[@]}" env "${clean_env[@]}" "$py" -m test -j"$jobs" -w -u "$REGRTEST_USE" \
            --timeout 1800 --junit-xml "$top/$xml" ${ignores[@]+"${ignores[@]}"} \
            ${excluded[@]+-x "${excluded[@]}"} > "$log" 2>&1
    fi
}

run_regrtest() {
    echo "== CPython regression suite (-j$jobs, -u $REGRTEST_USE, $(grep -cvE '^\s*(#|$)' tests/regrtest-exclusions.txt) exclusions)"
    local st line start=$SECONDS
    regrtest "$python" "$out/regrtest.log" "$out/regrtest.xml"
    python3 tools/regrtest-summary.py "$out/regrtest.log" "$out/regrtest.xml" tests/regrtest-exclusions.txt \
        --json "$out/regrtest-summary.json" > "$out/regrtest-summary.txt"
    st=$?
    cat "$out/regrtest-summary.txt"
    echo "  wall time: $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s"
    line=$(tail -n1 "$out/regrtest-summary.txt")
    if [ $st -ne 0 ] && [ "${STOCK_CHECK:-1}" = 1 ]; then
        # Is each failure the fork's, or stock 3.11.2's too on this machine?
        local failed
        mapfile -t failed < <(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["failed"]))' \
                              "$out/regrtest-summary.json")
        if [ ${#failed[@]} -gt 0 ]; then
            echo "== the same tests on stock 3.11.2 built the same way"
            local stock
            stock=$(tools/build.sh stock "$variant") || stock=""
            if [ -n "$stock" ]; then
                regrtest "$stock" "$out/regrtest-stock.log" "$out/regrtest-stock.xml" "${failed[@]}"
                python3 tools/regrtest-summary.py "$out/regrtest-stock.log" "$out/regrtest-stock.xml" \
                    tests/regrtest-exclusions.txt --json "$out/regrtest-stock.json" > /dev/null
                python3 - "$out/regrtest-summary.json" "$out/regrtest-stock.json" <<'EOF'
import json, sys
fork, stock = (json.load(open(p)) for p in sys.argv[1:3])
for name in fork["failed"]:
    on_stock = "fails on stock too (not a regression; add it to tests/regrtest-exclusions.txt with the reason)" \
        if name in stock["failed"] else "PASSES ON STOCK: a regression of the fork"
    print(f"    {name:32} {on_stock}")
EOF
            fi
        fi
    fi
    tally regrtest "$line" $st
}

for part in "${parts[@]}"; do
    case $part in
        fork) run_fork ;;
        security) run_security ;;
        regrtest) run_regrtest ;;
        roundtrip) run_roundtrip ;;
        *) echo "run-tests: unknown part $part" >&2; exit 2 ;;
    esac
done

echo "== summary"
printf '  %s\n' "${verdicts[@]}"
echo "tests: $total_passed passed, $total_failed failed, $total_skipped skipped"
[ "$total_failed" -eq 0 ]
