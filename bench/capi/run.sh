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
    # 10^6 calls of fire_site (no tool), 2 x 10^6 of empty_site (the same call doing nothing).
    echo "== instructions (callgrind), no tool"
    EMBED_PROGRAM_NAME=$obj/python valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out" \
        --toggle-collect=fire_site --toggle-collect=empty_site "$out/capi_bench" 1000000 1 > /dev/null 2>&1
    callgrind_annotate "$out/callgrind.out" | awk '
        /:fire_site/ { gsub(",", "", $1); fire += $1 }
        /:empty_site/ { gsub(",", "", $1); empty += $1 }
        END { printf "  fire_site %.1f instructions per call, empty_site %.1f: the Fire call site costs %.1f\n",
                     fire / 1e6, empty / 2e6, fire / 1e6 - empty / 2e6 }'
fi
