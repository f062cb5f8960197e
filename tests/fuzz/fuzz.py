#!/usr/bin/env python3
"""The monitoring fuzzer's driver: runs harness.py cases in child interpreters.

    fuzz.py --python build/obj/fork-default/python [--seed S] [--iterations N] [--duration SECONDS]
    fuzz.py --python PY --case SEED          one case, verbose, with its program

Case i of a run with master seed S has seed S * 1000003 + i; every failure is printed with that
seed (and its program saved under --out), and `fuzz.py --case SEED` reproduces it.  Cases run in
batches in a child process so that a crash (SIGSEGV, an ASan report, an abort) or a hang is caught,
attributed to the case that was running, and the run goes on with the next case.  The runner itself
may be any Python 3; the interpreter under test is --python.

The last line is "fuzz: N passed, N failed, 0 skipped" (the format run-tests.sh tallies).
"""

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HARNESS = os.path.join(HERE, "harness.py")


def child_env():
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"
    env.pop("PYTHONSTARTUP", None)
    return env


def run_batch(python, seeds, timeout, errfile):
    """-> list of (seed, status, text) for the seeds the child got through, or crashed at."""
    results = []
    with open(errfile, "w+") as err:
        try:
            p = subprocess.run([python, HARNESS] + [str(s) for s in seeds], stdout=subprocess.PIPE,
                               stderr=err, env=child_env(), timeout=timeout, text=True)
            out, rc, hung = p.stdout, p.returncode, False
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            rc, hung = None, True
        err.seek(0)
        stderr = err.read()
    current, block = None, None
    for line in out.splitlines():
        if line.startswith("CASE "):
            current = int(line.split()[1])
        elif line.startswith("OK "):
            results.append((current, "ok", line))
            current = None
        elif line.startswith("FAIL "):
            block = [line]
        elif line == "END" and block is not None:
            results.append((current, "fail", "\n".join(block)))
            block, current = None, None
        elif block is not None:
            block.append(line)
    if current is not None:
        what = f"hung (no result within {timeout} s)" if hung else f"child died (exit status {rc})"
        tail = "\n".join(stderr.splitlines()[-40:])
        results.append((current, "crash", f"CRASH {current}: {what}\n{tail}"))
    elif rc not in (0, None) or "Sanitizer" in stderr or "runtime error:" in stderr:
        if results:
            # Something at exit (e.g. a LeakSanitizer report): blame the batch's last case.
            s, _, _ = results[-1]
            results.append((s, "crash", f"CRASH after case {s}: exit status {rc}\n"
                                        + "\n".join(stderr.splitlines()[-40:])))
    return results


def show_case(python, seed):
    subprocess.run([python, HARNESS, "--show", str(seed)], env=child_env())
    p = subprocess.run([python, HARNESS, str(seed)], env=child_env())
    return p.returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", default=sys.executable, help="interpreter under test")
    ap.add_argument("--seed", type=int, default=1, help="master seed (default 1)")
    ap.add_argument("--iterations", type=int, default=200, help="cases to run (default 200)")
    ap.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0: no limit)")
    ap.add_argument("--batch", type=int, default=25, help="cases per child process")
    ap.add_argument("--timeout", type=float, default=120, help="seconds per batch before it counts as hung")
    ap.add_argument("--out", default="build/test/fuzz", help="where failing programs are written")
    ap.add_argument("--case", type=int, help="run one case verbosely and show its program")
    ap.add_argument("--quiet", action="store_true", help="print only failures and the summary")
    args = ap.parse_args()

    if args.case is not None:
        return show_case(args.python, args.case)

    probe = subprocess.run([args.python, HARNESS, "--probe"], stdout=subprocess.PIPE, text=True,
                           env=child_env())
    print(f"fuzz: {args.python}, master seed {args.seed}, up to {args.iterations} cases"
          + (f" or {args.duration:.0f} s" if args.duration else ""))
    print("  " + probe.stdout.strip().replace("\n", "\n  "))
    os.makedirs(args.out, exist_ok=True)
    start = time.monotonic()
    seeds = [args.seed * 1000003 + i for i in range(args.iterations)]
    passed = failed = events = 0
    failures = []
    i = 0
    while i < len(seeds):
        if args.duration and time.monotonic() - start > args.duration:
            break
        batch = seeds[i:i + args.batch]
        results = run_batch(args.python, batch, args.timeout, os.path.join(args.out, "stderr.txt"))
        done = set()
        for seed, status, text in results:
            done.add(seed)
            if status == "ok":
                passed += 1
                parts = text.split()
                events += int(parts[3]) + int(parts[4])
                continue
            failed += 1
            failures.append(seed)
            path = os.path.join(args.out, f"case-{seed}.txt")
            with open(path, "w") as f:
                f.write(text + "\n\n")
                f.flush()
                subprocess.run([args.python, HARNESS, "--show", str(seed)], stdout=f,
                               stderr=subprocess.STDOUT, env=child_env())
            print(text)
            print(f"  -> reproduce: {sys.argv[0]} --python {args.python} --case {seed}   (saved: {path})")
        # Continue after the last case the child reported (a crash ends a batch early).
        reported = [k for k, s in enumerate(batch) if s in done]
        i += (max(reported) + 1) if reported else len(batch)
        if not args.quiet:
            print(f"  {passed + failed} cases, {failed} failed, {events} events, "
                  f"{time.monotonic() - start:.0f} s", flush=True)
    print(f"  {passed + failed} programs (seeds {seeds[0]}..{seeds[0] + passed + failed - 1}), "
          f"{events} events delivered, {time.monotonic() - start:.1f} s"
          + (f"; failing seeds: {' '.join(map(str, failures))}" if failures else ""))
    print(f"fuzz: {passed} passed, {failed} failed, 0 skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
