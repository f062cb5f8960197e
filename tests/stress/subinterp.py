"""Sub-interpreters monitoring shared code at the same time as the main interpreter.

3.11 deep-freezes part of the stdlib (posixpath, genericpath, os, ...): those code objects are
static and shared by every interpreter, while each interpreter has its own tools.

shared   threads create sub-interpreters that switch tools on for posixpath.join / genericpath code
         (globally and locally, with DISABLE and restart) and count events, while the main
         interpreter does the same with other event sets; every interpreter must count exactly its
         own calls (issue 13 bug 3).
teardown the main interpreter monitors posixpath.join locally; sub-interpreters that monitored the
         same code are created and destroyed; the main interpreter's counts stay exact afterwards
         (issue 13 bug 4: teardown must not free data the main interpreter owns).
"""

import os
import posixpath
import sys
import textwrap
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import E, main, mon  # noqa: E402

try:
    import _xxsubinterpreters as interpreters
except ImportError:           # 3.13+: the module was renamed
    try:
        import _interpreters as interpreters
    except ImportError:
        interpreters = None

SUB_SCRIPT = textwrap.dedent('''
    import sys, posixpath, genericpath
    mon = sys.monitoring
    E = mon.events
    TOOL = {tool}
    join = posixpath.join.__code__
    counts = {{"start": 0, "ret": 0}}
    def on_start(code, off):
        if code is join:
            counts["start"] += 1
    def on_return(code, off, val):
        if code is join:
            counts["ret"] += 1
            if {disable}:
                return mon.DISABLE
    mon.use_tool_id(TOOL, "sub")
    mon.register_callback(TOOL, E.PY_START, on_start)
    mon.register_callback(TOOL, E.PY_RETURN, on_return)
    if {local}:
        mon.set_local_events(TOOL, join, E.PY_START | E.PY_RETURN)
    else:
        mon.set_events(TOOL, E.PY_START | E.PY_RETURN)
    for i in range({n}):
        posixpath.join("a", str(i))
        genericpath.commonprefix(["ab", "ac"])
    mon.free_tool_id(TOOL)
    want_ret = 1 if {disable} and {n} else {n}
    if counts["start"] != {n} or counts["ret"] != want_ret:
        raise AssertionError(f"sub-interpreter counted {{counts}} for {n} calls of posixpath.join "
                             f"(PY_RETURN wanted {{want_ret}})")
''')


class Counter:
    def __init__(self, tool, code, local, disable_return=False):
        self.tool, self.code = tool, code
        self.start = self.ret = 0
        self.disable_return = disable_return
        mon.use_tool_id(tool, "main-counter")
        mon.register_callback(tool, E.PY_START, self.on_start)
        mon.register_callback(tool, E.PY_RETURN, self.on_return)
        if local:
            mon.set_local_events(tool, code, E.PY_START | E.PY_RETURN)
        else:
            mon.set_events(tool, E.PY_START | E.PY_RETURN)

    def on_start(self, code, off):
        if code is self.code:
            self.start += 1

    def on_return(self, code, off, val):
        if code is self.code:
            self.ret += 1

    def close(self):
        mon.free_tool_id(self.tool)


def run_sub(script, errors):
    try:
        interp = interpreters.create()
    except Exception as e:      # noqa: BLE001
        errors.append(f"create failed: {e!r}")
        return
    try:
        interpreters.run_string(interp, script)
    except Exception as e:      # noqa: BLE001
        errors.append(f"in a sub-interpreter: {e}")
    finally:
        interpreters.destroy(interp)


def shared(r, scale):
    if interpreters is None:
        print("skipped: no sub-interpreter module")
        return []
    errors = []
    rounds = max(1, int(8 * scale))
    join = posixpath.join.__code__

    def sub_worker(seed):
        import random
        rr = random.Random(seed)
        for _ in range(rounds):
            script = SUB_SCRIPT.format(tool=rr.randint(0, 5), n=rr.randint(0, 200),
                                       local=rr.random() < 0.5, disable=rr.random() < 0.3)
            run_sub(script, errors)

    threads = [threading.Thread(target=sub_worker, args=(r.getrandbits(32),)) for _ in range(2)]
    for t in threads:
        t.start()
    for k in range(rounds * 4):
        c = Counter(r.randint(0, 5), join, local=r.random() < 0.5)
        n = r.randint(1, 300)
        for i in range(n):
            posixpath.join("x", str(i))
        c.close()
        if (c.start, c.ret) != (n, n):
            errors.append(f"main interpreter counted PY_START {c.start}, PY_RETURN {c.ret} "
                          f"for {n} calls of posixpath.join")
    for t in threads:
        t.join()
    return errors




KEEP_SCRIPT = textwrap.dedent('''
    import sys, posixpath
    mon = sys.monitoring
    mon.use_tool_id({tool}, "sub-keeps")
    mon.register_callback({tool}, mon.events.PY_START, lambda code, off: None)
    mon.set_local_events({tool}, posixpath.join.__code__, mon.events.PY_START)
    posixpath.join("a", "b")
''')


def sub_first(r, errors, join):
    """The sub-interpreter sets up monitoring of the shared code first and keeps it; the main
    interpreter then monitors the same code; the sub-interpreter goes away."""
    interp = interpreters.create()
    try:
        interpreters.run_string(interp, KEEP_SCRIPT.format(tool=r.choice([2, 3])))
        c = Counter(4, join, local=True)
    finally:
        interpreters.destroy(interp)
    churn = [bytearray(r.choice((48, 64, 80, 96, 128))) for _ in range(20000)]
    del churn
    n = r.randint(1, 100)
    for i in range(n):
        posixpath.join("z", str(i))
    got = (c.start, c.ret, mon.get_local_events(4, join))
    mon.set_local_events(4, join, 0)
    c.close()
    if got != (n, n, E.PY_START | E.PY_RETURN):
        errors.append(f"sub-interpreter set up first and destroyed: the main interpreter counted "
                      f"PY_START {got[0]}, PY_RETURN {got[1]} for {n} calls; its local events "
                      f"are {got[2]:#x}")


def teardown(r, scale):
    if interpreters is None:
        print("skipped: no sub-interpreter module")
        return []
    errors = []
    join = posixpath.join.__code__
    for _ in range(3):
        sub_first(r, errors, join)
    c = Counter(2, join, local=True)
    total = 0
    for k in range(max(1, int(6 * scale))):
        script = SUB_SCRIPT.format(tool=r.choice([2, 3]), n=r.randint(1, 50), local=True, disable=False)
        run_sub(script, errors)
        # Reuse freed memory of the size of per-code data, so that a dangling pointer shows.
        churn = [bytearray(r.choice((48, 64, 80, 96, 128))) for _ in range(20000)]
        del churn
        if mon.get_local_events(2, join) != E.PY_START | E.PY_RETURN:
            errors.append(f"after a sub-interpreter's teardown the main interpreter's local events on "
                          f"posixpath.join are {mon.get_local_events(2, join):#x}")
        # Touch the per-code data: change the local set and put it back.
        mon.set_local_events(2, join, E.PY_START)
        mon.set_local_events(2, join, E.PY_START | E.PY_RETURN)
        n = r.randint(1, 100)
        for i in range(n):
            posixpath.join("y", str(i))
        total += n
        if (c.start, c.ret) != (total, total):
            errors.append(f"after {k + 1} sub-interpreters were destroyed the main interpreter counted "
                          f"PY_START {c.start}, PY_RETURN {c.ret} for {total} calls")
            break
    mon.set_local_events(2, join, 0)
    c.close()
    return errors




if __name__ == "__main__":
    main({"shared": shared, "teardown": teardown})
