"""One measured run, executed by the interpreter under test (stock 3.11.2 or the fork).

    python runner.py WORKLOAD CONFIG REPS     -> one line "BENCH-RESULT {...}" on stdout
    python runner.py --info                   -> one line "BENCH-INFO {...}" describing the interpreter

(The harness runs `python -c "import sys, runner; sys.exit(runner.main(sys.argv))" ARGS` from bench/,
which uses a cached .pyc of this file and skips runpy.)  The result is a Python literal, read with
ast.literal_eval: no json import.  Start-up is outside the timed region anyway, but under callgrind
each of these would add some 30 million instructions to every process.

The workload module is imported first, then the tool configuration is installed, then only
`workload.run(REPS)` is timed with time.perf_counter; start-up, imports and tool set-up are outside the
timed region.  Every run is a fresh process (the harness starts one per run).

A tool configuration the interpreter cannot provide (every sys.monitoring one on stock 3.11) is not an
error: the result says {"missing": "<reason>"} and the harness reports it as such.  REPS 0 installs and
removes the tool without running the workload (the callgrind baseline).

Keep this file runnable on any CPython 3.9+ (the sys.monitoring tools follow the 3.12+ API and are
meant to run unchanged on 3.12, 3.13 and 3.14 as well as on the fork).
"""

import gc
import importlib
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = os.path.join(HERE, "workloads")


def run_units(name, module, reps):
    """The timed work: `reps` units of the workload, each checked against its checksum."""
    unit, expected = module.unit, module.EXPECTED
    result = None
    for _ in range(reps):
        result = unit()
        if result != expected:
            raise AssertionError("%s: checksum %r != %r" % (name, result, expected))
    return result


class Missing(Exception):
    """The interpreter has no way to run this tool configuration."""


# ------------------------------------------------------------------------------- tool configurations
#
# Each tool has install(module), uninstall() and stats() -> dict of event figures.  The figures are
# deterministic for a given interpreter, workload and REPS, so the harness can compare them between
# stock and the fork (the legacy hooks must report the same events on both).


class NoTool:
    def install(self, module):
        pass

    def uninstall(self):
        pass

    def stats(self):
        return {}


class SettraceLine:
    """A line tracer through sys.settrace, recording every executed (file, line)."""

    def install(self, module):
        seen = self.seen = set()
        add = seen.add

        def local(frame, event, arg):
            if event == "line":
                add((frame.f_code.co_filename, frame.f_lineno))
            return local

        def global_(frame, event, arg):
            return local

        sys.settrace(global_)

    def uninstall(self):
        sys.settrace(None)

    def stats(self):
        return {"distinct_lines": len(self.seen)}


class SettraceBreakpoint:
    """What bdb/pdb do for one breakpoint: every call reaches the global trace function, which returns a
    local tracer only for the function holding the breakpoint; that tracer checks every line."""

    def target(self, module):
        return breakpoint_target(module.BREAKPOINT)

    def install(self, module):
        code, line = self.target(module)
        hits = 0

        def local(frame, event, arg):
            nonlocal hits
            if event == "line" and frame.f_lineno == line:
                hits += 1
            return local

        def global_(frame, event, arg):
            if frame.f_code is code:
                return local
            return None

        sys.settrace(global_)
        self.hits = lambda: hits

    def uninstall(self):
        sys.settrace(None)

    def stats(self):
        return {"breakpoint_hits": self.hits()}


class SettraceOpcodes:
    """An instruction counter through sys.settrace with frame.f_trace_opcodes (the legacy way)."""

    def install(self, module):
        count = 0

        def local(frame, event, arg):
            nonlocal count
            if event == "opcode":
                count += 1
            return local

        def global_(frame, event, arg):
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
            return local

        sys.settrace(global_)
        self.count = lambda: count

    def uninstall(self):
        sys.settrace(None)

    def stats(self):
        return {"opcodes": self.count()}


class SetprofileCalls:
    """A call counter through sys.setprofile: calls per code object."""

    def install(self, module):
        counts = self.counts = {}
        get = counts.get

        def prof(frame, event, arg):
            if event == "call":
                code = frame.f_code
                counts[code] = get(code, 0) + 1

        sys.setprofile(prof)

    def uninstall(self):
        sys.setprofile(None)

    def stats(self):
        return {"calls": sum(self.counts.values()), "functions": len(self.counts)}


class CProfile:
    def install(self, module):
        import cProfile
        self.prof = cProfile.Profile()
        self.prof.enable()

    def uninstall(self):
        self.prof.disable()

    def stats(self):
        entries = self.prof.getstats()
        return {"calls": sum(e.callcount for e in entries), "functions": len(entries)}


def monitoring(*needed):
    """sys.monitoring, after checking that it has every attribute and event the tool needs."""
    mon = getattr(sys, "monitoring", None)
    if mon is None:
        raise Missing("no sys.monitoring")
    for name in ("use_tool_id", "free_tool_id", "register_callback", "set_events", "DISABLE", "events") + needed:
        if name.startswith("events."):
            if not hasattr(getattr(mon, "events", None), name[7:]):
                raise Missing("sys.monitoring has no %s" % name)
        elif not hasattr(mon, name):
            raise Missing("sys.monitoring has no %s" % name)
    return mon


class MonitoringTool:
    """Common part of the sys.monitoring tools: claim a tool id, register callbacks, clean up."""

    tool_id_name = "COVERAGE_ID"
    default_tool_id = 1
    needed = ()

    def claim(self):
        mon = self.mon = monitoring(*self.needed)
        self.tool = getattr(mon, self.tool_id_name, self.default_tool_id)
        try:
            mon.use_tool_id(self.tool, "bench-" + type(self).__name__)
        except Exception as e:  # ValueError if taken; anything else: the fork cannot do it yet
            raise Missing("use_tool_id failed: %s: %s" % (type(e).__name__, e))
        self.registered = []
        return mon

    def register(self, event, callback):
        try:
            self.mon.register_callback(self.tool, event, callback)
        except Exception as e:
            raise Missing("register_callback failed: %s: %s" % (type(e).__name__, e))
        self.registered.append(event)

    def enable(self, events):
        try:
            self.mon.set_events(self.tool, events)
        except Exception as e:
            raise Missing("set_events failed: %s: %s" % (type(e).__name__, e))

    def uninstall(self):
        mon = self.mon
        mon.set_events(self.tool, 0)
        for event in self.registered:
            mon.register_callback(self.tool, event, None)
        mon.free_tool_id(self.tool)


class MonLine(MonitoringTool):
    """Line coverage: LINE events, each location disabled after its first hit."""

    needed = ("events.LINE",)

    def install(self, module):
        mon = self.claim()
        DISABLE = mon.DISABLE
        seen = self.seen = set()
        add = seen.add

        def on_line(code, line):
            add((code.co_filename, line))
            return DISABLE

        self.register(mon.events.LINE, on_line)
        self.enable(mon.events.LINE)

    def stats(self):
        return {"distinct_lines": len(self.seen)}


class MonBranch(MonitoringTool):
    """Branch coverage the way coverage.py's sys.monitoring core does it: LINE plus BRANCH_LEFT and
    BRANCH_RIGHT (3.14) or BRANCH (3.12, 3.13), every location disabled after its first event."""

    needed = ("events.LINE",)

    def install(self, module):
        mon = self.claim()
        ev = mon.events
        DISABLE = mon.DISABLE
        lines = self.lines = set()
        arcs = self.arcs = set()
        add_line = lines.add
        add_arc = arcs.add

        def on_line(code, line):
            add_line((code.co_filename, line))
            return DISABLE

        def on_branch(code, src, dst):
            add_arc((code.co_filename, code.co_firstlineno, src, dst))
            return DISABLE

        if hasattr(ev, "BRANCH_LEFT") and hasattr(ev, "BRANCH_RIGHT"):
            branch_events = [ev.BRANCH_LEFT, ev.BRANCH_RIGHT]
            self.flavour = "BRANCH_LEFT/BRANCH_RIGHT"
        elif hasattr(ev, "BRANCH"):
            branch_events = [ev.BRANCH]
            self.flavour = "BRANCH"
        else:
            raise Missing("sys.monitoring.events has neither BRANCH_LEFT/BRANCH_RIGHT nor BRANCH")
        self.register(ev.LINE, on_line)
        mask = ev.LINE
        for e in branch_events:
            self.register(e, on_branch)
            mask |= e
        self.enable(mask)

    def stats(self):
        return {"distinct_lines": len(self.lines), "distinct_branches": len(self.arcs)}


class MonProfile(MonitoringTool):
    """A profiler's call counter on PY_START and PY_RETURN: calls per code object, returns in total."""

    tool_id_name = "PROFILER_ID"
    default_tool_id = 2
    needed = ("events.PY_START", "events.PY_RETURN")

    def install(self, module):
        mon = self.claim()
        counts = self.counts = {}
        get = counts.get
        returns = 0

        def on_start(code, offset):
            counts[code] = get(code, 0) + 1

        def on_return(code, offset, retval):
            nonlocal returns
            returns += 1

        self.register(mon.events.PY_START, on_start)
        self.register(mon.events.PY_RETURN, on_return)
        self.enable(mon.events.PY_START | mon.events.PY_RETURN)
        self.returns = lambda: returns

    def stats(self):
        return {"calls": sum(self.counts.values()), "functions": len(self.counts), "returns": self.returns()}


class MonBreakpoint(MonitoringTool):
    """A debugger's breakpoint on one function: local LINE events on that code object only; every
    other line of it is disabled on first sight, the breakpoint line stays armed."""

    tool_id_name = "DEBUGGER_ID"
    default_tool_id = 0
    needed = ("set_local_events", "events.LINE")

    def target(self, module):
        return breakpoint_target(module.BREAKPOINT)

    def install(self, module):
        code, bp_line = self.target(module)
        mon = self.claim()
        DISABLE = mon.DISABLE
        hits = 0

        def on_line(c, line):
            nonlocal hits
            if line == bp_line and c is code:
                hits += 1
                return None
            return DISABLE

        self.register(mon.events.LINE, on_line)
        try:
            mon.set_local_events(self.tool, code, mon.events.LINE)
        except Exception as e:
            raise Missing("set_local_events failed: %s: %s" % (type(e).__name__, e))
        self.code = code
        self.hits = lambda: hits

    def uninstall(self):
        self.mon.set_local_events(self.tool, self.code, 0)
        MonitoringTool.uninstall(self)

    def stats(self):
        return {"breakpoint_hits": self.hits()}


class MonInstruction(MonitoringTool):
    """An instruction counter on INSTRUCTION events."""

    tool_id_name = "OPTIMIZER_ID"  # any free id will do; this one is otherwise unused here
    default_tool_id = 5
    needed = ("events.INSTRUCTION",)

    def install(self, module):
        mon = self.claim()
        count = 0

        def on_instruction(code, offset):
            nonlocal count
            count += 1

        self.register(mon.events.INSTRUCTION, on_instruction)
        self.enable(mon.events.INSTRUCTION)
        self.count = lambda: count

    def stats(self):
        return {"instructions": self.count()}


def idle_function(n):
    """The breakpoint function of the *-breakpoint-idle configurations: the workloads never call
    it, so those configurations measure what a breakpoint costs in the rest of the program."""
    total = 0
    for i in range(n):
        total += i
    return total


class SettraceBreakpointIdle(SettraceBreakpoint):
    """SettraceBreakpoint with the breakpoint in a function the workload does not call."""

    def target(self, module):
        return breakpoint_target(idle_function)


class MonBreakpointIdle(MonBreakpoint):
    """MonBreakpoint with the breakpoint in a function the workload does not call."""

    def target(self, module):
        return breakpoint_target(idle_function)


class TraceTool:
    """The stdlib's trace module as `python -m trace` uses it: a trace.Trace whose runctx() executes
    the timed work (the harness's timing function, called from code compiled from a string, as
    runctx runs the program's code).  On stock 3.11 it traces with sys.settrace; the fork's trace
    module collects the same figures through sys.monitoring."""

    options = {}

    def install(self, module):
        import trace
        self.tracer = trace.Trace(**self.options)

    def run(self, timed):
        namespace = {"timed": timed}
        self.tracer.runctx("result = timed()", namespace, namespace)
        return namespace["result"]

    def uninstall(self):
        pass


class TraceCount(TraceTool):
    """python -m trace --count: every execution of every line counted (no files ignored)."""

    options = {"count": 1, "trace": 0}

    def stats(self):
        counts = self.tracer.results().counts
        return {"distinct_lines": len(counts), "line_events": sum(counts.values())}


class TraceListfuncs(TraceTool):
    """python -m trace --listfuncs: the functions called at least once."""

    options = {"count": 0, "trace": 0, "countfuncs": 1}

    def stats(self):
        return {"functions": len(self.tracer.results().calledfuncs)}


def rare_function(n):
    """The breakpoint function of the pdb-*-breakpoint-rare configurations: called once every
    RARE_EVERY units of the workload, by the unit wrapper that those configurations install."""
    total = 0
    for i in range(n):
        total += i
    return total


RARE_EVERY = 8


class _PdbScript:
    """pdb's stdin for a non-interactive session: the first commands, then `cycle` again and again
    (one round per stop at the breakpoint)."""

    def __init__(self, first, cycle):
        self.lines = list(first)
        self.cycle = list(cycle)

    def readline(self):
        if not self.lines:
            self.lines = list(self.cycle)
        return self.lines.pop(0) + "\n"


class PdbSettraceBreakpointRare:
    """pdb itself, driven by a script of commands: started as breakpoint() starts it (set_trace() in
    a running frame), it sets a breakpoint with a `break` command in rare_function, which the
    workload's units call once every RARE_EVERY units, `continue`s, and at each stop prints a
    variable and continues.  This one uses the settrace backend, the only one stock 3.11 has."""

    backend = "settrace"

    def make_pdb(self, stdin, stdout):
        import pdb
        try:
            return pdb.Pdb(stdin=stdin, stdout=stdout, nosigint=True, readrc=False,
                           backend=self.backend)
        except TypeError:  # 3.11's pdb: no backend argument, settrace only
            if self.backend != "settrace":
                raise Missing("pdb.Pdb has no backend argument")
            return pdb.Pdb(stdin=stdin, stdout=stdout, nosigint=True, readrc=False)

    def install(self, module):
        import io
        code, line = breakpoint_target(rare_function)
        self.out = io.StringIO()
        script = _PdbScript(["break %s:%d" % (code.co_filename, line), "continue"],
                            ["p n", "continue"])
        self.pdb = self.make_pdb(script, self.out)
        unit = module.unit
        count = 0

        def rare_unit():
            nonlocal count
            if count % RARE_EVERY == 0:
                rare_function(10)
            count += 1
            return unit()

        self.module, self.unit = module, unit
        module.unit = rare_unit
        self.pdb.set_trace(sys._getframe())
        # (pdb stops here and reads its first commands)

    def uninstall(self):
        self.module.unit = self.unit
        self.pdb.clear_all_breaks()
        self.pdb.set_continue()  # no breakpoint left: pdb stops tracing
        sys.settrace(None)

    def stats(self):
        out = self.out.getvalue()
        if "Error" in out or "***" in out:
            raise AssertionError("pdb reported an error:\n" + out)
        return {"breakpoint_stops": out.count("-> total = 0")}


class PdbBreakpointRare(PdbSettraceBreakpointRare):
    """PdbSettraceBreakpointRare on pdb's monitoring backend (pdb.Pdb(backend='monitoring'))."""

    backend = "monitoring"


PACKAGES = os.environ.get("BENCH_PACKAGES") or os.path.join(os.path.dirname(HERE), "build", "bench", "packages")


class CoverageTool:
    """coverage.py measuring line and branch coverage of the workloads (the Coverage API, as a test
    runner's plugin uses it: start and stop around the run), from a Debian package that
    bench/run.sh unpacked under PACKAGES/<suite> (tools/fetch-debs.sh).  Each configuration runs in
    a process of its own, so the two coverage.py versions never meet: the package's dist-packages
    directory goes first on sys.path before coverage is imported."""

    suite = None       # Debian suite the package comes from
    version = None     # the major version expected
    core = None        # COVERAGE_CORE, or None for coverage.py's default
    tracer = None      # the tracer class coverage.py must end up using

    def install(self, module):
        self.check_interpreter()
        site = os.path.join(PACKAGES, self.suite, "root", "usr", "lib", "python3", "dist-packages")
        if not os.path.isdir(os.path.join(site, "coverage")):
            raise Missing("no coverage.py from %s's python3-coverage in %s (bench/run.sh fetches it)"
                          % (self.suite, site))
        sys.path.insert(0, site)
        if self.core:
            os.environ["COVERAGE_CORE"] = self.core
        else:
            os.environ.pop("COVERAGE_CORE", None)
        import coverage
        if not coverage.__version__.startswith(self.version + "."):
            raise Missing("coverage.py %s instead of %s.x" % (coverage.__version__, self.version))
        self.cov = coverage.Coverage(branch=True, data_file=None, config_file=False, source=[WORKLOADS])
        self.cov.start()
        used = self.cov._collector.tracer_name()
        if used != self.tracer:
            self.cov.stop()
            raise Missing("coverage.py %s runs %s here, not %s" % (coverage.__version__, used, self.tracer))

    def check_interpreter(self):
        pass

    def uninstall(self):
        self.cov.stop()

    def stats(self):
        data = self.cov.get_data()
        files = data.measured_files()
        return {"distinct_lines": sum(len(data.lines(f) or ()) for f in files),
                "distinct_arcs": sum(len(data.arcs(f) or ()) for f in files)}


class CoverageCTracer(CoverageTool):
    """coverage.py 6.5 (Debian bookworm, built for cp311) with its C tracer: sys.settrace's C level."""

    suite, version, core, tracer = "bookworm", "6", None, "CTracer"


class CoverageSysmon(CoverageTool):
    """coverage.py 7.6 (Debian trixie) with COVERAGE_CORE=sysmon: its sys.monitoring core."""

    suite, version, core, tracer = "trixie", "7", "sysmon", "SysMonitor"

    def check_interpreter(self):
        # coverage.py would quietly fall back to another core; say so instead.
        if getattr(sys, "monitoring", None) is None:
            raise Missing("no sys.monitoring")


TOOLS = {
    "none": NoTool,
    "settrace-line": SettraceLine,
    "setprofile-calls": SetprofileCalls,
    "cprofile": CProfile,
    "settrace-breakpoint": SettraceBreakpoint,
    "settrace-opcodes": SettraceOpcodes,
    "mon-line": MonLine,
    "mon-branch": MonBranch,
    "mon-profile": MonProfile,
    "mon-breakpoint": MonBreakpoint,
    "mon-instruction": MonInstruction,
    "settrace-breakpoint-idle": SettraceBreakpointIdle,
    "mon-breakpoint-idle": MonBreakpointIdle,
    "pdb-settrace-breakpoint-rare": PdbSettraceBreakpointRare,
    "pdb-breakpoint-rare": PdbBreakpointRare,
    "coverage-ctracer": CoverageCTracer,
    "coverage-sysmon": CoverageSysmon,
    "trace-count": TraceCount,
    "trace-listfuncs": TraceListfuncs,
}


def breakpoint_target(func):
    """(code object, line) of the breakpoint: the first line of the body of func."""
    code = func.__code__
    if hasattr(code, "co_lines"):
        lines = {line for _, _, line in code.co_lines()}
    else:  # 3.9
        import dis
        lines = {line for _, line in dis.findlinestarts(code)}
    return code, min(line for line in lines if line is not None and line > code.co_firstlineno)


# ---------------------------------------------------------------------------------------------- main

def info():
    import platform
    import sysconfig
    mon = getattr(sys, "monitoring", None)
    out = {
        "executable": sys.executable,
        "version": sys.version,
        "implementation": sys.implementation.name,
        "cache_tag": sys.implementation.cache_tag,
        "platform": platform.platform(),
        "has_monitoring": mon is not None,
        "monitoring_events": sorted(n for n in dir(getattr(mon, "events", None)) if n.isupper()) if mon else [],
    }
    for var in ("CC", "CFLAGS", "OPT", "LDFLAGS", "CONFIG_ARGS", "PY_CFLAGS_NODIST", "SOABI"):
        out[var] = sysconfig.get_config_var(var)
    print("BENCH-INFO " + repr(out), flush=True)


def measure(workload, config, reps):
    sys.path.insert(0, WORKLOADS)
    module = importlib.import_module(workload)
    tool = TOOLS[config]()
    result = {"workload": workload, "config": config, "reps": reps}
    gc.collect()
    try:
        tool.install(module)
    except Missing as e:
        result["missing"] = str(e)
        return result
    def timed():
        t0 = time.perf_counter()
        checksum = run_units(workload, module, reps)
        t1 = time.perf_counter()
        return checksum, t0, t1

    try:
        if reps:
            # A tool with run() runs the timed work itself (trace.Trace.runctx).
            run = getattr(tool, "run", None)
            checksum, t0, t1 = run(timed) if run else timed()
        else:
            checksum, t0, t1 = None, 0.0, 0.0
    finally:
        tool.uninstall()
    result["elapsed"] = t1 - t0
    result["checksum"] = checksum
    result["stats"] = tool.stats()
    return result


def main(argv):
    if argv[1:] == ["--info"]:
        info()
        return 0
    if len(argv) != 4 or argv[2] not in TOOLS:
        sys.stderr.write("usage: runner.py WORKLOAD CONFIG REPS | --info\nconfigs: %s\n" % " ".join(TOOLS))
        return 2
    result = measure(argv[1], argv[2], int(argv[3]))
    print("BENCH-RESULT " + repr(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
