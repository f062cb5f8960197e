#!/usr/bin/env bash
# The C API benchmarks (make bench-capi): builds bench/capi/capi_bench.c against the default build's
# static libpython3.11.a and runs it; prints the disassembly of a Fire call site and the timings.
#
#   bench/capi/run.sh [SITES [CALLS]]   call sites timed (default 2e8), emulated calls (default 2e5)
#
# BENCH_CAPI_OBJ: an object directory with libpython3.11.a (default build/obj/fork-default).
# Environment: CALLGRIND=1 also counts the instructions of the call site under callgrind.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
obj=${BENCH_CAPI_OBJ:-$top/build/obj/fork-default}
out=$top/build/bench/capi
mkdir -p "$out"
vars=$("$obj/python" -c 'import sysconfig as s
print(" ".join(s.get_config_var(v) or "" for v in ("LIBS", "SYSLIBS", "LINKFORSHARED")))')
# shellcheck disable=SC2086
cc -O2 -g -I"$top/build/cpython/Include" -I"$obj" -o "$out/capi_bench" "$top/bench/capi/capi_bench.c" \
    "$obj/libpython3.11.a" $vars
echo "== a Fire call site (PyMonitoring_FireLineEvent in fire_site), as compiled with -O2:"
objdump -d --no-show-raw-insn "$out/capi_bench" | awk '/<fire_site>:/ {p = 1} p && /^$/ {p = 0} p'
echo "== timings"
EMBED_PROGRAM_NAME=$obj/python "$out/capi_bench" "$@" | tee "$out/results.txt"
if [ "${CALLGRIND:-0}" = 1 ]; then
    echo "== instructions (callgrind) of 1000000 calls of fire_site, no tool"
    EMBED_PROGRAM_NAME=$obj/python valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out" \
        --toggle-collect=fire_site "$out/capi_bench" 1000000 1 > /dev/null 2>&1
    callgrind_annotate "$out/callgrind.out" | grep -E 'fire_site|PROGRAM TOTALS' | head -3
fi
