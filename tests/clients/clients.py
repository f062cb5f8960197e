"""Probes for tests/clients/run.sh: each runs under the interpreter being checked (the fork or stock
3.11.2, with the client packages on PYTHONPATH) and writes what the client measured as JSON, so that
run.sh can compare the two interpreters' files with `clients.py compare`.

    clients.py coverage-dump DATAFILE OUT   lines and arcs of a coverage.py data file
    clients.py lprof OUT                    line_profiler's per-line hit counts for sample.py
    clients.py cython OUT                   cProfile call counts and sys.settrace events of cyfuncs
    clients.py compare WHAT FORK STOCK [KEY...]
                                            exit 1 (and say where) unless the two files are equal
                                            (only their entries KEY... when given)

Paths are reduced to base names: the two interpreters' standard libraries live in different trees.
Timings are never compared, only counts and events.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def write(path, data):
    with open(path, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)


def coverage_dump(datafile, out):
    import coverage
    data = coverage.CoverageData(basename=datafile)
    data.read()
    if not data.has_arcs():
        raise SystemExit("coverage-dump: %s has no arcs (not a --branch run)" % datafile)
    files = {}
    for path in data.measured_files():
        files[os.path.basename(path)] = {"lines": sorted(data.lines(path)),
                                         "arcs": sorted(list(a) for a in data.arcs(path))}
    if not files.get("sample.py", {}).get("arcs"):
        raise SystemExit("coverage-dump: no arcs of sample.py in %s" % datafile)
    write(out, {"coverage": coverage.__version__, "files": files})


def lprof(out):
    sys.path.insert(0, HERE)
    import line_profiler
    import sample
    prof = line_profiler.LineProfiler()
    added = prof.add_module(sample)
    prof.add_function(sample.Shape.perimeter.fget)
    result = prof.runcall(sample.main)
    timings = prof.get_stats().timings
    funcs = {}
    for (filename, firstline, name), lines in timings.items():
        key = "%s:%d(%s)" % (os.path.basename(filename), firstline, name)
        funcs[key] = sorted([lineno, hits] for lineno, hits, _time in lines)
    if not any(hits for lines in funcs.values() for _line, hits in lines):
        raise SystemExit("lprof: line_profiler counted no hits")
    write(out, {"line_profiler": line_profiler.__version__, "functions_added": added + 1,
                "result": repr(result), "functions": funcs})


def label(key):
    filename, line, name = key
    return "%s:%d(%s)" % (os.path.basename(filename), line, name)


def cython(out):
    import cProfile
    import pstats
    import cyfuncs
    if not cyfuncs.__file__.endswith(".so"):
        raise SystemExit("cython: %s is not the compiled module" % cyfuncs.__file__)

    prof = cProfile.Profile()
    result = prof.runcall(cyfuncs.run)
    stats = pstats.Stats(prof).stats
    calls = {}
    for key, (cc, nc, _tt, _ct, callers) in stats.items():
        calls[label(key)] = {"primitive": cc, "total": nc,
                             "callers": {label(k): list(v[:2]) for k, v in callers.items()}}

    events = []

    def tracer(frame, event, arg):
        code = frame.f_code
        detail = arg.__name__ if event == "exception" else None
        events.append([event, os.path.basename(code.co_filename), code.co_name, frame.f_lineno, detail])
        return tracer

    sys.settrace(tracer)
    try:
        traced_result = [cyfuncs.run(), cyfuncs.call_back(py_callback, 3)]
    finally:
        sys.settrace(None)
    pyx_calls = sum(v["total"] for k, v in calls.items() if k.startswith("cyfuncs.pyx:"))
    pyx_events = sum(1 for e in events if e[1] == "cyfuncs.pyx")
    if not (pyx_calls and pyx_events):
        raise SystemExit("cython: the compiled functions reported %d calls to cProfile and %d events to "
                         "sys.settrace: not built with CYTHON_TRACE?" % (pyx_calls, pyx_events))
    write(out, {"result": repr(result), "traced_result": repr(traced_result), "calls": calls,
                "events": events, "pyx_calls": pyx_calls, "pyx_events": pyx_events})


def py_callback(i):
    # A Python frame called from compiled code, while both are traced.
    if i % 2:
        return -i
    return i


def compare(what, fork_path, stock_path, *keys):
    with open(fork_path) as f:
        fork = json.load(f)
    with open(stock_path) as f:
        stock = json.load(f)
    if keys:
        fork = {k: fork.get(k) for k in keys}
        stock = {k: stock.get(k) for k in keys}
    diffs = []

    def walk(a, b, where):
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                if k not in a:
                    diffs.append("%s/%s: only on stock: %r" % (where, k, b[k]))
                elif k not in b:
                    diffs.append("%s/%s: only on the fork: %r" % (where, k, a[k]))
                else:
                    walk(a[k], b[k], "%s/%s" % (where, k))
        elif isinstance(a, list) and isinstance(b, list) and a != b:
            if all(not isinstance(x, (list, dict)) or len(x) < 8 for x in a + b) and len(a) == len(b):
                for i, (x, y) in enumerate(zip(a, b)):
                    if x != y:
                        diffs.append("%s[%d]: fork %r, stock %r" % (where, i, x, y))
            else:
                sa = {json.dumps(x) for x in a}
                sb = {json.dumps(x) for x in b}
                extra = [x for x in a if json.dumps(x) not in sb]
                lack = [x for x in b if json.dumps(x) not in sa]
                diffs.append("%s: %d items on the fork, %d on stock; fork only %s; stock only %s"
                             % (where, len(a), len(b), extra[:10], lack[:10]))
                if not extra and not lack:  # same items, another order or multiplicity
                    for i, (x, y) in enumerate(zip(a, b)):
                        if x != y:
                            diffs.append("%s: first difference at [%d]: fork %r, stock %r" % (where, i, x, y))
                            break
        elif a != b:
            diffs.append("%s: fork %r, stock %r" % (where, a, b))

    walk(fork, stock, what)
    for d in diffs[:40]:
        print("   " + d)
    if len(diffs) > 40:
        print("   ... %d differences in all" % len(diffs))
    return 1 if diffs else 0


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "coverage-dump":
        coverage_dump(*args)
    elif cmd == "lprof":
        lprof(*args)
    elif cmd == "cython":
        cython(*args)
    elif cmd == "compare":
        return compare(*args)
    else:
        raise SystemExit("clients.py: unknown command %s" % cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
