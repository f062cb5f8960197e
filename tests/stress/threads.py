"""Tools changed under running threads, and callbacks that raise.

toggle   three threads run the corpus over and over while a fourth switches tools on and off: global
         and local event sets, callbacks registered and removed, DISABLE returned at random,
         restart_events(), tool ids freed and claimed again.  A life-cycle tool (Balance) stays on
         throughout and must see every frame it saw start end; every corpus result must equal the
         one computed with no tool.
raising  callbacks raise at random (seeded) events in one or several threads; the exception must
         surface in the monitored code (caught by the driver), the frame life cycle seen by a
         lower-id tool must stay balanced, and afterwards, with no tool, the corpus must give the
         same results as before (the interpreter is consistent).
legacy   sys.settrace and sys.setprofile are switched on and off in some threads (also from inside
         their own trace functions, and left set when a thread ends) while others run the corpus
         with no trace function and a monitoring life-cycle tool stays on: every thread without a
         trace function must see no legacy event, every traced thread its own calls and lines, the
         corpus results must not change, and afterwards no thread is traced.
"""

import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (Balance, Boom, CORPUS, E, corpus_codes, main, mon, run_corpus)  # noqa: E402

LOCAL = ("PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "CALL", "STOP_ITERATION")
GLOBAL_ONLY = ("RAISE", "RERAISE", "EXCEPTION_HANDLED", "PY_UNWIND", "PY_THROW")
ANCILLARY = ("C_RETURN", "C_RAISE")


def supported():
    """The events this interpreter accepts (LINE, JUMP, BRANCH_* once the fork has them)."""
    mon.use_tool_id(5, "probe")
    ok = []
    for n in dir(E):
        if not n.isupper() or n in ("NO_EVENTS",) + ANCILLARY:
            continue
        try:
            mon.set_events(5, getattr(E, n))
            ok.append(n)
        except ValueError:
            pass
    mon.free_tool_id(5)
    return ok


def random_set(r, names):
    bits = 0
    for n in names:
        if r.random() < 0.4:
            bits |= getattr(E, n)
    if bits & E.CALL:
        bits |= E.C_RETURN | E.C_RAISE
    return bits


def toggle(r, scale):
    events = supported()
    local_ok = [n for n in events if n in LOCAL or n in ("LINE", "JUMP", "BRANCH_LEFT", "BRANCH_RIGHT",
                                                            "INSTRUCTION")]
    expected = run_corpus()
    codes = corpus_codes()
    errors = []
    balance = Balance(0)
    balance.install()
    stop = threading.Event()
    counts = [0] * 6

    def make_cb(tool, ev, p_disable, seed):
        rr = random.Random(seed)
        DISABLE = mon.DISABLE
        if ev in GLOBAL_ONLY + ANCILLARY:
            p_disable = 0          # DISABLE is a ValueError for these

        def cb(*args):
            counts[tool] += 1
            if p_disable and rr.random() < p_disable:
                return DISABLE
        return cb

    def worker(k):
        n = 0
        try:
            while not stop.is_set():
                got = [f(12) for f in CORPUS]
                if got != expected:
                    bad = [f.__name__ for f, a, b in zip(CORPUS, got, expected) if a != b]
                    errors.append(f"thread {k}: corpus results changed by the tools: {bad}")
                    return
                n += 1
        except BaseException as e:   # noqa: BLE001
            errors.append(f"thread {k}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 6 * scale
    actions = 0
    try:
        while time.monotonic() < deadline:
            tool = r.randint(1, 5)
            a = r.randrange(8)
            if mon.get_tool(tool) is None:
                mon.use_tool_id(tool, f"toggler{tool}")
                for n in events + list(ANCILLARY):
                    if r.random() < 0.8:
                        mon.register_callback(tool, getattr(E, n), make_cb(tool, n, r.choice([0, 0.1, 0.5]),
                                                                          r.getrandbits(32)))
            elif a <= 2:
                mon.set_events(tool, random_set(r, events))
            elif a <= 4:
                mon.set_local_events(tool, r.choice(codes), random_set(r, local_ok))
            elif a == 5:
                mon.restart_events()
            elif a == 6:
                n = r.choice(events)
                mon.register_callback(tool, getattr(E, n), None if r.random() < 0.5 else
                                      make_cb(tool, n, 0.3, r.getrandbits(32)))
            else:
                mon.free_tool_id(tool)
            actions += 1
            time.sleep(r.random() * 0.002)
    finally:
        stop.set()
        for t in threads:
            t.join()
        for t in range(1, 6):
            if mon.get_tool(t) is not None:
                mon.free_tool_id(t)
    errors += balance.check_done()
    balance.uninstall()
    if sum(counts) == 0:
        errors.append("the toggled tools received no events at all")
    if run_corpus() != expected:
        errors.append("corpus results differ after the run, with no tool on")
    return errors


def raising(r, scale):
    events = [n for n in supported() if n not in ("INSTRUCTION",)]
    expected = run_corpus()
    errors = []
    balance = Balance(0)          # lowest id: called after the raising tool, so it never sees an
    balance.install()             # event whose callback chain was cut short by the exception
    raised = [0]
    seen_boom = [0]
    lock = threading.Lock()

    armed = threading.local()

    corpus = {id(c) for c in corpus_codes()}

    def make_cb(ev, rr):
        def cb(code, *args):
            # Only in the corpus's own code while the driver waits for it: an exception raised
            # anywhere else (threading's internals, the driver) is not this test's subject.
            if id(code) in corpus and getattr(armed, "on", False) and rr.random() < 0.02:
                with lock:
                    raised[0] += 1
                balance.cut_short(ev, sys._getframe(1))
                raise Boom(ev)
        return cb

    def run_thread(k, seed):
        rr = random.Random(seed)
        deadline = time.monotonic() + 4 * scale
        try:
            while time.monotonic() < deadline:
                f = rr.choice(CORPUS)
                try:
                    armed.on = True
                    try:
                        f(12)
                    finally:
                        armed.on = False
                except Boom:
                    with lock:
                        seen_boom[0] += 1
                except Exception as e:   # noqa: BLE001 - a Boom turned into something else is fine
                    pass
        except BaseException as e:       # noqa: BLE001
            errors.append(f"thread {k}: {type(e).__name__} escaped: {e}")

    mon.use_tool_id(5, "raiser")
    rr = random.Random(r.getrandbits(32))
    for n in events + list(ANCILLARY):
        mon.register_callback(5, getattr(E, n), make_cb(n, rr))
    bits = 0
    for n in events:
        bits |= getattr(E, n)
    mon.set_events(5, bits | (E.C_RETURN | E.C_RAISE if bits & E.CALL else 0))
    threads = [threading.Thread(target=run_thread, args=(k, r.getrandbits(32))) for k in range(2)]
    for t in threads:
        t.start()
    run_thread("main", r.getrandbits(32))
    for t in threads:
        t.join()
    mon.free_tool_id(5)
    errors += balance.check_done()
    balance.uninstall()
    if raised[0] == 0 or seen_boom[0] == 0:
        errors.append(f"callbacks raised {raised[0]} times and the driver saw {seen_boom[0]} Boom")
    if sys.exc_info()[0] is not None:
        errors.append(f"an exception is still being handled: {sys.exc_info()!r}")
    if run_corpus() != expected:
        errors.append("corpus results differ after the run, with no tool on")
    return errors


def legacy(r, scale):
    expected = run_corpus()
    errors = []
    balance = Balance(tool=2)
    balance.install()
    stop = threading.Event()
    lock = threading.Lock()
    counts = {"untraced_events": 0, "traced_lines": 0, "traced_calls": 0, "profile_calls": 0}

    def bump(key, n=1):
        with lock:
            counts[key] += n

    def untraced_worker():
        # Never has a trace or profile function; checks that it sees none of the others'.
        while not stop.is_set():
            if sys.gettrace() is not None or sys.getprofile() is not None:
                bump("untraced_events")
            if run_corpus() != expected:
                errors.append("an untraced thread computed different corpus results")
                return

    def traced_worker(seed):
        rr = random.Random(seed)
        rounds = max(1, int(10 * scale))
        for _ in range(rounds):
            lines = [0]
            calls = [0]

            def local(frame, event, arg):
                if event == "line":
                    lines[0] += 1
                return local

            def tracer(frame, event, arg):
                if event == "call":
                    calls[0] += 1
                    if rr.random() < 0.05:
                        sys.settrace(tracer)       # from inside a trace function
                return local

            def profiler(frame, event, arg):
                calls[0] += 0                      # runs Python code while profiling

            if rr.random() < 0.7:
                sys.settrace(tracer)
            if rr.random() < 0.5:
                sys.setprofile(profiler)
            traced = sys.gettrace() is not None
            result = run_corpus(6)
            sys.settrace(None)
            sys.setprofile(None)
            if result != run_corpus(6):
                errors.append("a traced thread computed different corpus results")
            if traced and (lines[0] == 0 or calls[0] == 0):
                errors.append(f"a traced thread saw {calls[0]} calls and {lines[0]} lines")
            bump("traced_lines", lines[0])
            bump("traced_calls", calls[0])
        if rr.random() < 0.5:
            sys.settrace(lambda *a: None)          # left set when the thread ends
            sys.setprofile(lambda *a: None)

    untraced = [threading.Thread(target=untraced_worker) for _ in range(2)]
    for t in untraced:
        t.start()
    deadline = time.monotonic() + 20
    for k in range(max(2, int(10 * scale))):
        batch = [threading.Thread(target=traced_worker, args=(r.getrandbits(32),)) for _ in range(2)]
        for t in batch:
            t.start()
        for t in batch:
            t.join()
        if time.monotonic() > deadline:
            break
    stop.set()
    for t in untraced:
        t.join()
    errors += balance.check_done()
    balance.uninstall()
    if counts["untraced_events"]:
        errors.append(f"untraced threads found a trace function {counts['untraced_events']} times")
    if counts["traced_lines"] == 0:
        errors.append("no traced thread saw a line event")
    if sys.gettrace() is not None or sys.getprofile() is not None:
        errors.append("the main thread ended up traced")
    # With no trace function left, a fresh thread runs untraced and tracing still works.
    seen = []
    def check_thread():
        def t(frame, event, arg):
            seen.append(event)
        sys.settrace(t)
        run_corpus(2)
        sys.settrace(None)
    th = threading.Thread(target=check_thread)
    th.start()
    th.join()
    if "call" not in seen:
        errors.append("tracing a new thread after the run saw no call")
    if run_corpus() != expected:
        errors.append("corpus results differ after the run, with no tool on")
    return errors


if __name__ == "__main__":
    main({"toggle": toggle, "raising": raising, "legacy": legacy})
