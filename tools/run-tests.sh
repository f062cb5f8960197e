#!/usr/bin/env bash
# The fork's test command (`make test`): run from the project root after the fork is built.
#
#   tools/run-tests.sh VARIANT [fork] [security] [stress] [fuzz] [capi] [coverage] [clients] [regrtest]
#                      [pdb] [roundtrip]
#              (default: all)
#
#   fork       the fork's own tests under tests/ (identity, ABI, ...), run by the fork's interpreter
#   security   tests/security: the security fixes of the base (base/debian-patches.txt) are in the
#              fork, and each fix's tests fail without it (pristine 3.11.2's Lib/ under the fork's
#              interpreter; also a pristine build, `tools/build.sh pristine VARIANT`, if there is one)
#   stress     tests/stress: bounded, seeded stress scenarios for sys.monitoring (STRESS_SEED,
#              STRESS_SCALE; with a debug build also the -R style leak check)
#   fuzz       tests/fuzz: a short fixed-seed fuzz run (FUZZ_SEED, FUZZ_ITERATIONS; `make fuzz` runs
#              a long one)
#   capi       the C API out of tree (tests/capi-ext, tests/embed) against an installed fork: builds
#              the shared variant with PREFIX=build/install and installs it there (~5 min on 2 cores
#              from scratch, seconds when up to date), plus the static libpython3.11.a of VARIANT
#   regrtest   CPython's full regression suite in the assembled build (-j$(nproc), failures re-run
#              once), minus tests/regrtest-exclusions.txt; a failure that stock 3.11.2 built the same
#              way shows too is reported as such (STOCK_CHECK=0 skips that check)
#   coverage   coverage.py 7.6 (Debian trixie's, downloaded into build/coverage) on a sample
#              project: COVERAGE_CORE=sysmon agrees with COVERAGE_CORE=pytrace (tests/coverage)
#   clients    real sys.settrace/sys.setprofile clients built for cp311 (Debian bookworm's coverage.py
#              6.5 C tracer, line_profiler 4.0, Cython 0.29 with CYTHON_TRACE, downloaded into
#              build/clients) give the same results on the fork as on stock 3.11.2 built the same
#              way (tools/build.sh stock VARIANT, built when missing; STOCK_PYTHON=PATH uses another
#              stock 3.11 instead) (tests/clients)
#   pdb        test_pdb and test_bdb a second time, with bdb's and pdb's monitoring backend as the
#              default (tests/pdb/regrtest_monitoring.py; regrtest runs them with 'settrace');
#              a few seconds
#   roundtrip  assemble -> change -> export -> re-assemble gives the same tree
#
# Logs go to build/test/.  The last line is "tests: N passed, N failed, N skipped".
set -uo pipefail

variant=${1:-default}
shift || true
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(fork security stress fuzz capi coverage clients regrtest pdb roundtrip)

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

run_capi() {
    echo "== C API out of tree (tests/capi-ext, tests/embed) against fork-shared installed in build/install"
    local prefix=$top/build/install st start=$SECONDS
    # The installed layout: the shared variant (build/obj/fork-shared) configured for this prefix and
    # installed there without pip.  (With VARIANT=shared that is the variant under test itself, which
    # then runs the later parts from its build tree just the same.)
    if ! { PREFIX=$prefix tools/build.sh fork shared &&
           make -C build/obj/fork-shared install ENSUREPIP=no; } > "$out/capi-install.log" 2>&1; then
        tail -n 30 "$out/capi-install.log"
        tally capi "capi: 0 passed, 1 failed, 0 skipped" 1
        return
    fi
    echo "  install: $(( SECONDS - start )) s"
    tests/embed/run.sh "$prefix" "$top/build/obj/fork-$variant" "$top/build/cpython" "$out/capi" \
        > "$out/capi.log" 2>&1
    st=$?
    cat "$out/capi.log"
    tally capi "$(tail -n1 "$out/capi.log")" $st
}

run_coverage() {
    echo "== coverage.py on sys.monitoring (tests/coverage)"
    tests/coverage/run.sh "$python" > "$out/coverage.log" 2>&1
    local st=$?
    cat "$out/coverage.log"
    tally coverage "$(tail -n1 "$out/coverage.log")" $st
}

run_clients() {
    echo "== legacy tracing clients on the fork and on stock 3.11.2 (tests/clients)"
    local stock=${STOCK_PYTHON:-} st start=$SECONDS
    if [ -z "$stock" ]; then
        # Cached when up to date; the first time a whole build (about 3 min on 2 cores).
        stock=$(tools/build.sh stock "$variant" 2> "$out/clients-stock-build.log") || {
            tail -n 20 "$out/clients-stock-build.log"
            tally clients "clients: 0 passed, 1 failed, 0 skipped" 1
            return
        }
        echo "  stock-$variant: $(( SECONDS - start )) s"
    fi
    tests/clients/run.sh "$python" "$stock" > "$out/clients.log" 2>&1
    st=$?
    cat "$out/clients.log"
    echo "  wall time: $(( SECONDS - start )) s"
    tally clients "$(tail -n1 "$out/clients.log")" $st
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

# Sanitizer builds: LeakSanitizer reports what is still allocated at exit (not in the regression
# suite, see regrtest()), with the suppressions
# for leaks stock 3.11.2 has too (tests/sanitizers/lsan.supp: each entry with its evidence); UBSan
# stops at its first report so that it cannot scroll by unnoticed.
sanitizer_env() {
    case "-$variant-" in
        *-asan-*) export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=1}
                  export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$top/tests/sanitizers/lsan.supp:print_suppressions=0} ;;
    esac
    case "-$variant-" in
        *-ubsan-*) export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} ;;
    esac
}
sanitizer_env

run_stress() {
    echo "== stress scenarios (tests/stress, seed ${STRESS_SEED:-1})"
    local st leaks=()
    "$python" -c 'import sys; sys.exit(not hasattr(sys, "gettotalrefcount"))' && leaks=(--leaks)
    python3 tests/stress/run.py --python "$python" --seed "${STRESS_SEED:-1}" --scale "${STRESS_SCALE:-1}" \
        ${leaks[@]+"${leaks[@]}"} > "$out/stress.log" 2>&1
    st=$?
    cat "$out/stress.log"
    tally stress "$(tail -n1 "$out/stress.log")" $st
}

run_fuzz() {
    echo "== fuzzer, short run (tests/fuzz, seed ${FUZZ_SEED:-1}, ${FUZZ_ITERATIONS:-150} programs)"
    local st
    python3 tests/fuzz/fuzz.py --python "$python" --seed "${FUZZ_SEED:-1}" --iterations "${FUZZ_ITERATIONS:-150}" \
        --quiet --out "$out/fuzz" > "$out/fuzz.log" 2>&1
    st=$?
    # Failures in full are in the log and build/test/fuzz/case-SEED.txt; show their headlines.
    grep -E '^(fuzz|  [0-9]+ programs|FAIL|CRASH|  -> reproduce|  [a-z].*(differ|tool [AB]:|output))' "$out/fuzz.log" | head -n 60
    tally fuzz "$(tail -n1 "$out/fuzz.log")" $st
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
    # Under ASan the regression suite checks memory errors only, as CPython's own ASan CI does:
    # stock 3.11.2 leaks at exit in many of its test processes.  Leaks are checked on the fork's
    # own suites (fork, stress, fuzz).
    local ASAN_OPTIONS=${ASAN_OPTIONS:-}
    ASAN_OPTIONS=${ASAN_OPTIONS//detect_leaks=1/detect_leaks=0}
    [ -n "$ASAN_OPTIONS" ] && export ASAN_OPTIONS
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

run_pdb() {
    echo "== test_pdb and test_bdb on the monitoring backend (tests/pdb/regrtest_monitoring.py)"
    local st ok failed skipped
    # In this process (no -j): the runner changes the default backend before regrtest starts.
    "${default_signals[@]}" env "${clean_env[@]}" "$python" tests/pdb/regrtest_monitoring.py -v \
        --timeout 600 test_pdb test_bdb > "$out/pdb-monitoring.log" 2>&1
    st=$?
    ok=$(grep -cE '\.\.\. ok$' "$out/pdb-monitoring.log")
    failed=$(grep -cE '\.\.\. (FAIL|ERROR)$' "$out/pdb-monitoring.log")
    skipped=$(grep -cE '\.\.\. skipped' "$out/pdb-monitoring.log")
    grep -E '^(FAIL|ERROR):|^Tests result' "$out/pdb-monitoring.log" || true
    [ $st -ne 0 ] && tail -n 40 "$out/pdb-monitoring.log"
    tally pdb "pdb: $ok passed, $failed failed, $skipped skipped" $st
}

for part in "${parts[@]}"; do
    case $part in
        fork) run_fork ;;
        security) run_security ;;
        stress) run_stress ;;
        fuzz) run_fuzz ;;
        capi) run_capi ;;
        coverage) run_coverage ;;
        clients) run_clients ;;
        regrtest) run_regrtest ;;
        pdb) run_pdb ;;
        roundtrip) run_roundtrip ;;
        *) echo "run-tests: unknown part $part" >&2; exit 2 ;;
    esac
done

echo "== summary"
printf '  %s\n' "${verdicts[@]}"
echo "tests: $total_passed passed, $total_failed failed, $total_skipped skipped"
[ "$total_failed" -eq 0 ]
