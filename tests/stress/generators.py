"""Generators, coroutines and async generators suspended across tool changes.

suspend  many generators / coroutines / async generators are started and left suspended; then, over
         and over and in a seeded random order, tools change (global and local sets, DISABLE,
         restart, tool freed), and a random suspended object is resumed (next/send), thrown into,
         closed, or dropped and collected.  Every value it produces must be what the same sequence
         of operations gives with no tool; a life-cycle tool switched on half-way must see every
         frame it saw start end or stay suspended.
"""

import gc
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Balance, E, main, mon  # noqa: E402


def gen(n):
    total = 0
    try:
        for i in range(n):
            try:
                got = yield i + total
            except ValueError as e:
                got = -len(str(e))
            total += got or 0
    finally:
        total += 1000
    return total


def delegating(n):
    r = yield from gen(n)
    yield ("delegated", r)
    return r


class Tick:
    def __await__(self):
        v = yield "tick"
        return v


async def coro(n):
    acc = 0
    for i in range(n):
        try:
            acc += (await Tick()) or i
        except KeyError:
            acc -= 1
    return acc


async def agen(n):
    for i in range(n):
        x = await Tick()
        yield (i, x)


def make(kind, n):
    if kind == "gen":
        return gen(n)
    if kind == "deleg":
        return delegating(n)
    if kind == "coro":
        return coro(n)
    return agen(n)


def step(obj, kind, op, arg):
    """One operation on a suspended object -> a comparable outcome."""
    try:
        if kind == "agen":
            # Drive the async generator's __anext__ / athrow / aclose awaitables by hand.
            if op == "close":
                aw = obj.aclose()
            elif op == "throw":
                aw = obj.athrow(ValueError("x" * arg))
            else:
                aw = obj.__anext__()
            try:
                out = aw.send(None)
                while out == "tick":
                    out = aw.send(arg)
                return ("yield", out)
            except StopIteration as e:
                return ("stop", e.value)
        if op == "close":
            obj.close()
            return ("closed",)
        if op == "throw":
            exc = KeyError(arg) if kind == "coro" else ValueError("x" * arg)
            return ("yield", obj.throw(exc))
        if op == "next":
            return ("yield", obj.send(None) if kind == "coro" else next(obj))
        return ("yield", obj.send(arg))
    except StopIteration as e:
        return ("stop", e.value)
    except StopAsyncIteration:
        return ("stopasync",)
    except (ValueError, KeyError, RuntimeError, TypeError) as e:
        return ("raised", type(e).__name__)


CODES = [gen.__code__, delegating.__code__, coro.__code__, agen.__code__, Tick.__await__.__code__]


def scenario(seed, with_tools, steps):
    r = random.Random(seed)
    objs = []
    outcomes = []
    balance = None
    counts = [0]

    def make_cb(ev):
        can_disable = ev in ("PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "CALL", "STOP_ITERATION")

        def cb(*args):
            counts[0] += 1
            return mon.DISABLE if can_disable and r2.random() < 0.1 else None
        return cb

    r2 = random.Random(seed + 1)
    for k in range(steps):
        a = r.randrange(10)
        if a < 2 or not objs:
            kind = r.choice(["gen", "deleg", "coro", "agen"])
            o = make(kind, r.randint(1, 6))
            objs.append((o, kind))
            outcomes.append(("new", kind, step(o, kind, "next", 0)))
        elif a < 8:
            i = r.randrange(len(objs))
            o, kind = objs[i]
            op = r.choice(["next", "next", "send", "throw", "close"])
            outcomes.append((i, op, step(o, kind, op, r.randint(0, 4))))
        else:
            i = r.randrange(len(objs))
            del objs[i]
            gc.collect()
            outcomes.append(("dropped", i))
        # Tool changes are drawn from their own generator, so the program's sequence of operations
        # is the same with and without tools.
        if with_tools:
            t = r2.randrange(12)
            if t == 0 and balance is None:
                balance = Balance(0)
                balance.install()
            elif t <= 3:
                tool = r2.randint(2, 4)
                if mon.get_tool(tool) is None:
                    mon.use_tool_id(tool, "gen-stress")
                    for ev in ("PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "CALL",
                               "STOP_ITERATION", "RAISE", "PY_UNWIND", "PY_THROW",
                               "EXCEPTION_HANDLED", "RERAISE"):
                        mon.register_callback(tool, getattr(E, ev), make_cb(ev))
                ev = 0
                for name in ("PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "STOP_ITERATION",
                             "RAISE", "PY_UNWIND", "PY_THROW"):
                    if r2.random() < 0.4:
                        ev |= getattr(E, name)
                if t == 1:
                    mon.set_events(tool, ev)
                else:
                    mon.set_local_events(tool, r2.choice(CODES),
                                         ev & (E.PY_START | E.PY_RESUME | E.PY_RETURN | E.PY_YIELD |
                                               E.STOP_ITERATION))
            elif t == 4:
                mon.restart_events()
            elif t == 5:
                tool = r2.randint(2, 4)
                if mon.get_tool(tool) is not None:
                    mon.free_tool_id(tool)
    del objs
    gc.collect()
    errors = []
    if balance is not None:
        errors = balance.check_done()
        balance.uninstall()
    for t in (2, 3, 4):
        if mon.get_tool(t) is not None:
            mon.free_tool_id(t)
    return outcomes, errors, counts[0]


def suspend(r, scale):
    errors = []
    for rnd in range(max(1, int(6 * scale))):
        seed = r.getrandbits(32)
        plain, _, _ = scenario(seed, False, 400)
        tooled, errs, n = scenario(seed, True, 400)
        if plain != tooled:
            i = next(i for i, (a, b) in enumerate(zip(plain + [None], tooled + [None])) if a != b)
            errors.append(f"round seed {seed}: operation {i} gave {tooled[i] if i < len(tooled) else None}"
                          f" with tools, {plain[i] if i < len(plain) else None} without")
        errors += [f"round seed {seed}: {e}" for e in errs]
    return errors


suspend.leak_body = lambda r, scale: scenario(r.getrandbits(32), True, 200)


if __name__ == "__main__":
    main({"suspend": suspend})
