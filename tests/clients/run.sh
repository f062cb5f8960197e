#!/usr/bin/env bash
# Real sys.settrace/sys.setprofile clients built for cp311 give the same results on the fork as on
# stock 3.11.2 (run by tools/run-tests.sh's "clients" part; README.md beside this file says what
# each check proves).
#
#   tests/clients/run.sh FORK_PYTHON STOCK_PYTHON
#
# Debian bookworm's python3-coverage (6.5, with its C tracer), python3-line-profiler (4.0) and
# cython3 (0.29) are downloaded into build/clients/ by tools/fetch-debs.sh and unpacked there
# (nothing is installed); both interpreters run them from that directory.  Scratch files and logs go
# to build/clients/work/.  A check whose package cannot be downloaded is skipped, with the reason.
# Last line: "clients: N passed, N failed, N skipped".
set -uo pipefail
fork=$(readlink -f "$1")
stock=$(readlink -f "$2")
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
dir=$top/build/clients
work=$dir/work
rm -rf "$work" && mkdir -p "$work"

passed=0 failed=0 skipped=0
check() {  # check NAME STATUS
    if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "   ok       $1"
    else failed=$((failed + 1)); echo "   FAILED   $1"; fi
}
skip() {  # skip NAME REASON
    skipped=$((skipped + 1)); echo "   skipped  $1 ($2)"
}
py() {  # py LABEL -> the interpreter
    if [ "$1" = fork ]; then echo "$fork"; else echo "$stock"; fi
}
# Every client runs with a clean Python environment but for PYTHONPATH.
run() {  # run LABEL ARGS...  (the LABEL's interpreter, with the packages on the path)
    local label=$1; shift
    env $(env | grep -o '^PYTHON[A-Z0-9_]*' | sed 's/^/-u /') PYTHONPATH="$site${extra_path:+:$extra_path}" \
        "$(py "$label")" -s "$@"
}
compare() {  # compare WHAT FILE-STEM [KEY...]: fork's FILE-STEM.fork.json against stock's
    local what=$1 stem=$2; shift 2
    "$fork" -s -E "$here/clients.py" compare "$what" "$stem.fork.json" "$stem.stock.json" "$@"
}

root=$("$top/tools/fetch-debs.sh" bookworm "$dir" python3-coverage python3-line-profiler cython3 2> "$work/fetch.log")
fetch_error=$(tr '\n' ' ' < "$work/fetch.log")
site=$root/usr/lib/python3/dist-packages
extra_path=
echo "   packages: $(cd "$dir/deb" 2>/dev/null && ls *.deb 2>/dev/null | tr '\n' ' ')"
echo "   fork:  $fork"
echo "   stock: $stock"
soabi=cpython-311-x86_64-linux-gnu

# --- coverage.py 6.5, C tracer, --branch -----------------------------------------------------------
if [ -f "$site/coverage/tracer.$soabi.so" ]; then
    mkdir -p "$work/coverage" && cp "$here/sample.py" "$work/coverage/"
    for label in fork stock; do
        (cd "$work/coverage" &&
         COVERAGE_DEBUG=sys COVERAGE_DEBUG_FILE=$work/coverage/debug.$label.log \
             run $label -m coverage run --branch --data-file=".coverage.$label" sample.py \
             > "out.$label.log" 2>&1 &&
         grep -qE '^ *tracer: CTracer$' "debug.$label.log" &&
         run $label "$here/clients.py" coverage-dump ".coverage.$label" "cov.$label.json")
        check "coverage.py 6.5 --branch on $label: ran under its C tracer (debug sys: $(grep -m1 -oE 'tracer: [A-Za-z-]+' "$work/coverage/debug.$label.log" 2>/dev/null))" $?
    done
    (cd "$work/coverage" && cmp out.fork.log out.stock.log && compare coverage cov)
    check "coverage.py 6.5 CTracer: lines and arcs of sample.py are the same on fork and stock" $?
else
    for what in "run on fork" "run on stock" "lines and arcs agree"; do
        skip "coverage.py 6.5 C tracer: $what" "no bookworm python3-coverage: $fetch_error"
    done
fi

# --- line_profiler 4.0 --------------------------------------------------------------------------
if [ -f "$site/line_profiler/_line_profiler.$soabi.so" ]; then
    mkdir -p "$work/line_profiler"
    for label in fork stock; do
        (cd "$work/line_profiler" && run $label "$here/clients.py" lprof "lprof.$label.json" > "out.$label.log" 2>&1)
        st=$?
        [ $st -ne 0 ] && tail -n 5 "$work/line_profiler/out.$label.log" | sed 's/^/      /'
        check "line_profiler 4.0 on $label: profiled sample.py's functions" $st
    done
    (cd "$work/line_profiler" && compare line_profiler lprof)
    check "line_profiler 4.0: per-line hit counts are the same on fork and stock" $?
else
    for what in "run on fork" "run on stock" "hit counts agree"; do
        skip "line_profiler 4.0: $what" "no bookworm python3-line-profiler: $fetch_error"
    done
fi

# --- Cython 0.29, profile=True, linetrace=True, CYTHON_TRACE=1 --------------------------------------
if [ -f "$site/Cython/Compiler/Main.py" ]; then
    for label in fork stock; do
        d=$work/cython-$label
        mkdir -p "$d" && cp "$here/cyfuncs.pyx" "$d/"
        # The interpreter's own sysconfig: for a build-tree python its include paths are the source
        # tree's Include/ and the build directory (pyconfig.h), for an installed one the prefix's.
        (cd "$d" &&
         run $label -c 'import sysconfig as s
p = s.get_paths()
v = s.get_config_var
print(v("CC"), v("CFLAGS"), v("CCSHARED"), "-I" + p["include"], "-I" + p["platinclude"], sep="\n")
print(v("LDSHARED"), v("EXT_SUFFIX"), sep="\n")' > build-vars.txt &&
         mapfile -t vars < build-vars.txt &&
         run $label -m cython -3 cyfuncs.pyx -o cyfuncs.c > build.log 2>&1 &&
         ${vars[0]} ${vars[1]} ${vars[2]} -DCYTHON_TRACE=1 ${vars[3]} ${vars[4]} -c cyfuncs.c -o cyfuncs.o >> build.log 2>&1 &&
         ${vars[5]} cyfuncs.o -o "cyfuncs${vars[6]}" >> build.log 2>&1)
        st=$?
        [ $st -ne 0 ] && tail -n 10 "$d/build.log" | sed 's/^/      /'
        check "Cython 0.29: cyfuncs.pyx built with CYTHON_TRACE=1 against $label's headers ($(sed -n 4p "$d/build-vars.txt" 2>/dev/null))" $st
        if [ $st -eq 0 ]; then
            (cd "$d" && extra_path=$d run $label "$here/clients.py" cython "$work/cython.$label.json" > run.log 2>&1)
            st=$?
            [ $st -ne 0 ] && tail -n 5 "$d/run.log" | sed 's/^/      /'
        fi
        check "Cython 0.29 on $label: cProfile and sys.settrace see the compiled functions" $st
    done
    (cd "$work" && compare cython-cprofile cython result calls pyx_calls)
    check "Cython 0.29: cProfile's call counts (and callers) are the same on fork and stock" $?
    (cd "$work" && compare cython-settrace cython traced_result events pyx_events)
    check "Cython 0.29: sys.settrace's call/line/return events are the same on fork and stock" $?
    (cd "$work/cython-fork" && extra_path=$work/cython-fork run fork "$here/clients.py" cython-monitoring \
        > monitoring.log 2>&1)
    st=$?
    [ $st -ne 0 ] && tail -n 5 "$work/cython-fork/monitoring.log" | sed 's/^/      /'
    check "Cython 0.29 on fork: a sys.monitoring tool sees the compiled functions (PY_START, LINE, PY_RETURN)" $st
else
    for what in "build for fork" "run on fork" "build for stock" "run on stock" "cProfile counts agree" \
                "settrace events agree" "sys.monitoring sees them"; do
        skip "Cython 0.29: $what" "no bookworm cython3: $fetch_error"
    done
fi

echo "clients: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
