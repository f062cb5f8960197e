"""The last step of `make`: the stdlib's trace module on sys.monitoring, at work.

    PYTHON tools/show-trace.py

Runs `PYTHON -m trace --count --missing --summary` on tools/show-trace-sample.py twice with the
same interpreter: as is (trace collects through sys.monitoring), and with the COVERAGE_ID tool id
held by someone else, which makes trace fall back to its sys.settrace tracer.  Prints the summary,
both times, and fails if the two runs did not write the same .cover file.
"""

import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, "show-trace-sample.py")
# The same `python -m trace`, with COVERAGE_ID taken first: trace uses sys.settrace.
SETTRACE = ("import sys, runpy; sys.monitoring.use_tool_id(sys.monitoring.COVERAGE_ID, 'show');"
            "sys.argv[0] = 'trace'; runpy.run_module('trace', run_name='__main__', alter_sys=True)")


def run(prefix, coverdir):
    sample = os.path.relpath(SAMPLE)  # as the summary shows it: tools/... from the top directory
    cmd = [sys.executable] + prefix + ["--count", "--missing", "--summary", "-C", coverdir, sample]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=120)
    elapsed = time.perf_counter() - t0
    if proc.returncode:
        sys.exit("show-trace: %s failed:\n%s" % (" ".join(cmd), proc.stdout))
    with open(os.path.join(coverdir, "show-trace-sample.cover")) as f:
        return elapsed, proc.stdout, f.read()


def main():
    if not hasattr(sys, "monitoring"):
        sys.exit("show-trace: %s has no sys.monitoring" % sys.executable)
    with tempfile.TemporaryDirectory() as tmp:
        fast, output, cover = run(["-m", "trace"], os.path.join(tmp, "monitoring"))
        slow, _, settrace_cover = run(["-c", SETTRACE], os.path.join(tmp, "settrace"))
    if cover != settrace_cover:
        sys.exit("show-trace: the sys.monitoring and sys.settrace runs counted differently")
    print("== python -m trace --count --missing --summary tools/show-trace-sample.py")
    print(output.rstrip())
    hits = sum(1 for line in cover.splitlines() if line[:5].strip().isdigit())
    missed = sum(1 for line in cover.splitlines() if line.startswith(">>>>>>"))
    print("   %d lines counted, %d never run (>>>>>>) in the .cover file" % (hits, missed))
    print("trace --count through sys.monitoring: %.2f s; the same run through trace's sys.settrace"
          " tracer: %.2f s (%.1fx the time); identical .cover files" % (fast, slow, slow / fast))
    print("(this build's trace module counts with sys.monitoring events, PEP 669, instead of a"
          " sys.settrace callback on every line and call)")

if __name__ == "__main__":
    main()
