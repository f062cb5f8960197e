"""Callbacks that do what real tools do in the interpreter's delicate moments.

inspect        on every event of the corpus: walk f_back, read f_locals, f_lineno, f_lasti, and the
               gi_yieldfrom / gi_frame / cr_await / ag_await of every live generator, coroutine and
               async generator -- including the one whose PY_YIELD is being reported (issue 13 bug 1).
set_lineno     CALL / PY_RETURN / C_RETURN callbacks that, under sys.call_tracing(), give the frame
               an f_trace and set its f_lineno (issue 13 bug 2): a clear exception or a jump, never a
               crash; the program goes on.
reentrancy     callbacks that run gc.collect(), switch sys.settrace / sys.setprofile on and off, and
               drop objects whose __del__ runs Python code (itself monitored code), while the corpus
               runs; results unchanged, frame life cycle balanced.
disable_call   DISABLE returned from CALL must not suppress the C_RETURN of that same call, nor of
               later calls there (issue 13 bug 5; upstream delivers them).
"""

import gc
import os
import sys
import types
import weakref

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (Balance, CORPUS, E, corpus_codes, main, mon, run_corpus)  # noqa: E402

ALL_LOCAL = ("PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "CALL", "STOP_ITERATION")
GLOBAL = ("RAISE", "RERAISE", "EXCEPTION_HANDLED", "PY_UNWIND", "PY_THROW")


def bits(names):
    b = 0
    for n in names:
        b |= getattr(E, n)
    return b


live = weakref.WeakSet()


def _inner_gen(n):
    for i in range(n):
        yield i


def _outer_gen(n):
    yield from _inner_gen(n)
    yield "end"


class _Tick:
    def __await__(self):
        return (yield "tick")


async def _coro(n):
    for _ in range(n):
        await _Tick()
    return n


async def _agen(n):
    for i in range(n):
        await _Tick()
        yield i


def suspended_things(n):
    """Generators, coroutines, async generators in every state, registered in `live`."""
    out = []
    for k in range(n):
        g = _outer_gen(3)
        live.add(g)
        if k % 2:
            next(g)
        c = _coro(3)
        live.add(c)
        if k % 2:
            c.send(None)
        a = _agen(3)
        live.add(a)
        if k % 2:
            try:
                a.__anext__().send(None)
            except StopIteration:
                pass
        out += [g, c, a]
    return out


def drive_all(things):
    res = []
    for t in things:
        try:
            if isinstance(t, types.GeneratorType):
                res.append(list(t))
            elif isinstance(t, types.CoroutineType):
                while True:
                    t.send(None)
            else:
                t.aclose().send(None)
        except StopIteration as e:
            res.append(("stop", e.value))
        except (RuntimeError, ValueError) as e:
            res.append(("err", type(e).__name__))
    return res


def touch_everything(frame):
    n = 0
    f = frame
    while f is not None and n < 50:
        f.f_locals
        f.f_lineno
        f.f_lasti
        f = f.f_back
        n += 1
    for g in list(live):
        for attr in ("gi_yieldfrom", "gi_frame", "gi_running", "gi_suspended", "cr_await", "cr_frame",
                     "cr_running", "ag_await", "ag_frame", "ag_running"):
            v = getattr(g, attr, None)
            if attr.endswith("frame") and v is not None:
                v.f_locals
                v.f_lineno


def inspect_yield():
    """PY_YIELD alone: the yielding generator's own gi_yieldfrom / cr_await / ag_await."""
    seen = []

    def cb(code, offset, value):
        frame = sys._getframe(1)
        if id(code) not in mine:
            return
        for g in list(live):
            fr = getattr(g, "gi_frame", None) or getattr(g, "cr_frame", None) or getattr(g, "ag_frame", None)
            if fr is frame:
                seen.append((getattr(g, "gi_yieldfrom", None), getattr(g, "cr_await", None),
                             getattr(g, "ag_await", None), fr.f_lineno))
    mine = {id(f.__code__) for f in (_inner_gen, _outer_gen, _coro, _agen, _Tick.__await__)}
    mon.use_tool_id(2, "yield-inspector")
    mon.register_callback(2, E.PY_YIELD, cb)
    mon.set_events(2, E.PY_YIELD)
    try:
        for _ in range(3):
            g = _outer_gen(2)
            live.add(g)
            list(g)
            c = _coro(2)
            live.add(c)
            drive_all([c])
            a = _agen(2)
            live.add(a)
            drive_all([a])
    finally:
        mon.free_tool_id(2)
    return [] if seen else ["PY_YIELD callbacks never found their generator"]


def inspect(r, scale):
    errors = inspect_yield()
    expected = run_corpus()
    tool = 3
    mon.use_tool_id(tool, "inspector")
    calls = [0]

    def cb(code, *args):
        calls[0] += 1
        touch_everything(sys._getframe(1))
    for ev in ALL_LOCAL + GLOBAL + ("C_RETURN", "C_RAISE"):
        mon.register_callback(tool, getattr(E, ev), cb)
    mon.set_events(tool, bits(ALL_LOCAL + GLOBAL) | E.C_RETURN | E.C_RAISE)
    for _ in range(max(1, int(3 * scale))):
        things = suspended_things(4)
        if run_corpus() != expected:
            errors.append("corpus results changed by the inspecting tool")
        plain_res = None
        drive_all(things)
        del things
    mon.free_tool_id(tool)
    if calls[0] == 0:
        errors.append("no events delivered")
    return errors




def set_lineno(r, scale):
    """Monitoring callbacks run inside a legacy 'line' trace event (the trace function calls the
    monitored code through sys.call_tracing, which lifts the no-events rule), give their frame an
    f_trace and set its f_lineno.  Upstream refuses every such jump (ValueError: "can't jump during a
    call", "can only jump from a 'line' trace event"): a CALL, C_RETURN or PY_RETURN is no place
    to move the instruction pointer.  A jump that goes through, or a crash, is the bug."""
    expected = run_corpus(6)
    tool = 3
    outcomes = {}
    codes = {id(c) for c in corpus_codes()}
    busy = [False]

    def t2(frame, event, arg):
        return t2

    def cb_for(ev):
        def cb(code, *args):
            if busy[0] or id(code) not in codes:
                return
            busy[0] = True
            frame = sys._getframe(1)
            lines = sorted({l for _, _, l in code.co_lines() if l is not None})
            frame.f_trace = t2
            try:
                frame.f_lineno = lines[(lines.index(frame.f_lineno) + 1) % len(lines)] \
                    if frame.f_lineno in lines else lines[-1]
                outcomes[ev + ": jumped"] = outcomes.get(ev + ": jumped", 0) + 1
            except ValueError:
                outcomes[ev + ": refused"] = outcomes.get(ev + ": refused", 0) + 1
            finally:
                frame.f_trace = None
                busy[0] = False
        return cb

    results = []

    def tracer(frame, event, arg):
        if event == "line" and frame.f_code is driver.__code__:
            for f in CORPUS:
                try:
                    results.append(sys.call_tracing(f, (6,)))
                except Exception as e:     # noqa: BLE001 - after a refused jump nothing raises
                    results.append(("raised", type(e).__name__))
        return tracer

    def driver():
        return None

    mon.use_tool_id(tool, "lineno")
    for ev in ("CALL", "PY_RETURN", "C_RETURN"):
        mon.register_callback(tool, getattr(E, ev), cb_for(ev))
    mon.set_events(tool, E.CALL | E.C_RETURN | E.C_RAISE | E.PY_RETURN)
    try:
        sys.settrace(tracer)
        driver()
    finally:
        sys.settrace(None)
        mon.free_tool_id(tool)
    errors = []
    jumped = {k: v for k, v in outcomes.items() if k.endswith("jumped")}
    if jumped:
        errors.append(f"jumps from monitoring callbacks were performed (upstream refuses them): {jumped}")
    if not outcomes:
        errors.append("the callbacks never ran")
    if results != expected:
        errors.append("corpus results changed")
    if run_corpus(6) != expected:
        errors.append("corpus results differ after the tool is gone")
    if os.environ.get("STRESS_VERBOSE"):
        print("set_lineno outcomes:", outcomes)
    return errors


class Dying:
    count = 0

    def __init__(self):
        self.me = self          # a cycle: only the collector frees it

    def __del__(self):
        Dying.count += 1
        sorted(str(i) for i in range(3))     # Python code (and calls) while a callback runs


def reentrancy(r, scale):
    expected = run_corpus()
    balance = Balance(0)
    balance.install()
    tool = 4
    rr = r
    state = {"trace": False}

    def tracer(frame, event, arg):
        return None

    def cb(code, *args):
        k = rr.randrange(40)
        if k == 0:
            gc.collect()
        elif k == 1:
            if state["trace"]:
                sys.settrace(None)
                sys.setprofile(None)
            else:
                sys.settrace(tracer)
                sys.setprofile(lambda *a: None)
            state["trace"] = not state["trace"]
        elif k <= 4:
            Dying()
        elif k == 5:
            mon.set_local_events(tool, code, rr.choice([0, E.PY_RETURN, E.CALL | E.C_RETURN | E.C_RAISE]))
        elif k == 6:
            return mon.DISABLE if args and isinstance(args[0], int) and cb_ev[0] in ALL_LOCAL else None
    cb_ev = [None]

    def make(ev):
        def f(code, *args):
            cb_ev[0] = ev
            return cb(code, *args)
        return f
    mon.use_tool_id(tool, "reentrant")
    for ev in ALL_LOCAL + GLOBAL + ("C_RETURN", "C_RAISE"):
        mon.register_callback(tool, getattr(E, ev), make(ev))
    mon.set_events(tool, bits(ALL_LOCAL + GLOBAL) | E.C_RETURN | E.C_RAISE)
    errors = []
    try:
        for _ in range(max(1, int(4 * scale))):
            if run_corpus() != expected:
                errors.append("corpus results changed by the re-entrant tool")
                break
    finally:
        sys.settrace(None)
        sys.setprofile(None)
        mon.free_tool_id(tool)
    gc.collect()
    errors += balance.check_done()
    balance.uninstall()
    if Dying.count == 0:
        errors.append("no __del__ ran inside a callback")
    return errors


reentrancy.leak_body = lambda r, scale: reentrancy(r, 0.25)


def disable_call(r, scale):
    mon.restart_events()
    tool = 3
    seen = []

    def f():
        return len("abc")

    def on_call(code, offset, callable, arg0):
        if code is f.__code__:
            seen.append(("CALL", callable.__name__))
            return mon.DISABLE

    def on_c_return(code, offset, callable, arg0):
        if code is f.__code__:
            seen.append(("C_RETURN", callable.__name__))
    mon.use_tool_id(tool, "disabler")
    mon.register_callback(tool, E.CALL, on_call)
    mon.register_callback(tool, E.C_RETURN, on_c_return)
    mon.set_events(tool, E.CALL | E.C_RETURN | E.C_RAISE)
    for _ in range(3):
        f()
    mon.free_tool_id(tool)
    # Upstream 3.13/3.14 with one tool: the C_RETURN of the call that returned DISABLE is still
    # delivered, later ones at that location are not (C_RETURN rides on the CALL's instrumentation).
    want = [("CALL", "len"), ("C_RETURN", "len")]
    if seen != want:
        return [f"events {seen}, upstream gives {want}"]
    return []




if __name__ == "__main__":
    main({"inspect": inspect, "set_lineno": set_lineno, "reentrancy": reentrancy,
          "disable_call": disable_call})
