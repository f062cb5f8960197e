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


def cython_monitoring():
    """The fork only: a sys.monitoring tool sees the compiled functions, which report themselves the
    3.11 way (to tstate->c_profilefunc/c_tracefunc), as PY_START, LINE, PY_RETURN and PY_UNWIND, in the order
    and with the lines a sys.settrace function sees as 'call', 'line' and 'return'; and a legacy
    profiler set at the same time still gets exactly its own events."""
    import cyfuncs
    mon = sys.monitoring
    E = mon.events
    tool = 3
    # An exceptional exit is a 'return' to sys.settrace, and PY_UNWIND to sys.monitoring.
    as_legacy = {E.PY_START: "call", E.LINE: "line", E.PY_RETURN: "return", E.PY_UNWIND: "return"}
    seen = []

    def recorder(event):
        def callback(code, *args):
            if code.co_filename.endswith(".pyx"):
                line = args[-1] if event == E.LINE else None
                seen.append([as_legacy[event], code.co_name, line])
        return callback

    mon.use_tool_id(tool, "clients")
    try:
        for event in as_legacy:
            mon.register_callback(tool, event, recorder(event))
        mon.set_events(tool, E.PY_START | E.LINE | E.PY_RETURN | E.PY_UNWIND)
        mon_result = cyfuncs.run()
        mon.set_events(tool, 0)
    finally:
        mon.free_tool_id(tool)

    traced = []

    def tracer(frame, event, arg):
        code = frame.f_code
        if code.co_filename.endswith(".pyx") and event in ("call", "line", "return"):
            traced.append([event, code.co_name, frame.f_lineno if event == "line" else None])
        return tracer

    sys.settrace(tracer)
    try:
        traced_result = cyfuncs.run()
    finally:
        sys.settrace(None)
    if not seen:
        raise SystemExit("cython-monitoring: no events from the compiled functions")
    if mon_result != traced_result or seen != traced:
        first = next((i for i, (a, b) in enumerate(zip(seen, traced)) if a != b), min(len(seen), len(traced)))
        raise SystemExit("cython-monitoring: %d monitoring events, %d settrace events; first difference at "
                         "%d: %r against %r" % (len(seen), len(traced), first, seen[first:first + 1],
                                                 traced[first:first + 1]))

    # Both at once: the profiler's own events are those it gets alone, the tool's are the same too.
    def profile_events():
        got = []

        def profiler(frame, event, arg):
            if frame.f_code.co_filename.endswith(".pyx"):
                got.append([event, frame.f_code.co_name])
        sys.setprofile(profiler)
        try:
            cyfuncs.run()
        finally:
            sys.setprofile(None)
        return got

    alone = profile_events()
    del seen[:]
    mon.use_tool_id(tool, "clients")
    try:
        mon.register_callback(tool, E.PY_START, recorder(E.PY_START))
        mon.register_callback(tool, E.PY_RETURN, recorder(E.PY_RETURN))
        mon.register_callback(tool, E.PY_UNWIND, recorder(E.PY_UNWIND))
        mon.set_events(tool, E.PY_START | E.PY_RETURN | E.PY_UNWIND)
        together = profile_events()
    finally:
        mon.free_tool_id(tool)
    calls_alone = [e for e in traced if e[0] != "line"]
    if together != alone or seen != calls_alone:
        raise SystemExit("cython-monitoring: with a sys.setprofile profiler at the same time, the profiler got "
                         "%d events (%d alone) and the tool %d (%d expected)"
                         % (len(together), len(alone), len(seen), len(calls_alone)))
    print("cython-monitoring: %d events, the same as sys.settrace's" % len(traced))


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
    elif cmd == "cython-monitoring":
        cython_monitoring(*args)
    elif cmd == "compare":
        return compare(*args)
    else:
        raise SystemExit("clients.py: unknown command %s" % cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
