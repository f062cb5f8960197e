#!/usr/bin/env bash
# Build (or reuse) the fork and the stock 3.11.2 reference for one variant, then run the benchmark suite.
#
#   bench/run.sh [VARIANT]          VARIANT: default (make bench), optimized (make bench-optimized), ...
#
# Environment:
#   QUICK=1           3 runs per interpreter instead of 5, every workload at 0.4 of its scale (< 5 min)
#   CALLGRIND=1       also count instructions under valgrind --tool=callgrind
#   CALLGRIND_WORKLOAD=NAME[,NAME]   workload(s) for the instruction counts (default: generators)
#   BENCH_FILTER=RE   only the WORKLOAD/CONFIG pairs matching the regex, e.g. 'app/' or '/none$'
#   BENCH_RUNS=N      measured runs per interpreter
#   BENCH_PYTHON=...  Python that runs the harness (default python3; any 3.9+)
#   CHART_PYTHON=...  Python with matplotlib for the chart (default /usr/bin/python3)
#   BENCH_PACKAGES=DIR where the coverage-* configurations find coverage.py (default build/bench/packages,
#                     filled by this script through tools/fetch-debs.sh)
#   BENCH_SKIP_TREE=1 do not re-assemble build/cpython (bench the assembled tree as it is, e.g. while
#                     working in it with unexported changes, which `forktree.py tree` refuses to replace)
#
# Writes build/bench/{report.md,results.json,ratios.png} (copies under build/bench/VARIANT[-quick]/).
set -euo pipefail

variant=${1:-default}
top=$(cd "$(dirname "$0")/.." && pwd)
py=${BENCH_PYTHON:-python3}
t_start=$(date +%s)

step() { printf 'bench: %s\n' "$*" >&2; }

if [ -n "${BENCH_SKIP_TREE:-}" ] && [ "$BENCH_SKIP_TREE" != 0 ]; then
    step "BENCH_SKIP_TREE: using build/cpython as it is"
else
    step "assembling the fork's tree"
    "$top/tools/forktree.py" tree >&2
fi
t0=$(date +%s)
step "building fork-$variant (cached when up to date)"
fork=$("$top/tools/build.sh" fork "$variant")
t1=$(date +%s)
step "building stock-$variant (cached when up to date)"
stock=$("$top/tools/build.sh" stock "$variant")
t2=$(date +%s)
step "builds: fork $((t1 - t0)) s, stock $((t2 - t1)) s"

# coverage.py for the coverage-* configurations: bookworm's 6.5 (C tracer built for cp311) and trixie's
# 7.6 (sys.monitoring core), unpacked under build/bench/packages/SUITE (bench/runner.py looks there).
for suite in bookworm trixie; do
    "$top/tools/fetch-debs.sh" "$suite" "$top/build/bench/packages/$suite" python3-coverage > /dev/null ||
        step "WARNING: no python3-coverage from $suite: its coverage-* configuration will be reported missing"
done

args=(--variant "$variant" --stock "$stock" --fork "$fork" --out "$top/build/bench")
[ "${QUICK:-0}" != 0 ] && args+=(--quick)
[ "${CALLGRIND:-0}" != 0 ] && args+=(--callgrind)
[ -n "${CALLGRIND_WORKLOAD:-}" ] && args+=(--callgrind-workload "$CALLGRIND_WORKLOAD")
[ -n "${BENCH_FILTER:-}" ] && args+=(--filter "$BENCH_FILTER")
[ -n "${BENCH_RUNS:-}" ] && args+=(--runs "$BENCH_RUNS")
[ -n "${CHART_PYTHON:-}" ] && args+=(--chart-python "$CHART_PYTHON")

status=0
"$py" "$top/bench/harness.py" "${args[@]}" || status=$?
step "total $(( $(date +%s) - t_start )) s (builds $((t2 - t0)) s)"
exit $status
