"""Shared pieces of the stress scenarios: the corpus of real programs, a frame life-cycle checker,
a leak check, and the scenario entry point.

Every scenario is `python tests/stress/<file>.py SUBTEST --seed N --scale F`; it exits 0 and prints
"ok" when every invariant holds, and otherwise prints what broke and exits 1 (a crash shows as a
signal exit status, which run.py reports with the command that reproduces it).
"""

import argparse
import collections
import difflib
import fractions
import functools
import gc
import heapq
import json
import os
import random
import re
import sys
import textwrap
import threading
import time

mon = sys.monitoring
E = mon.events


class Boom(Exception):
    """Raised by callbacks on purpose."""


# -- corpus: small real programs using the stdlib ------------------------------------------------

def p_json(n):
    data = {"k%d" % i: [i, str(i) * 3, {"x": i / 4, "y": None, "z": [True, False]}] for i in range(n)}
    return len(json.dumps(json.loads(json.dumps(data, sort_keys=True)), indent=1))


def p_regex(n):
    text = " ".join(f"id{i}=val{i * 7 % 13};" for i in range(n))
    return sum(int(m.group(2)) for m in re.finditer(r"id(\d+)=val(\d+);", text))


def p_textwrap(n):
    words = " ".join(("lorem", "ipsum", "dolor", "sit", "amet")[i % 5] for i in range(n * 4))
    return len(textwrap.wrap(words, width=17)) + len(textwrap.dedent("   a\n   b\n"))


def p_difflib(n):
    a = [f"line {i}" for i in range(n)]
    b = [f"line {i}" if i % 5 else f"LINE {i}" for i in range(n)]
    return round(difflib.SequenceMatcher(None, a, b).ratio(), 6), len(list(difflib.unified_diff(a, b)))


def p_heap(n):
    h = []
    for i in range(n):
        heapq.heappush(h, (i * 7919) % 101)
    return [heapq.heappop(h) for _ in range(min(n, 10))]


def p_fractions(n):
    return str(sum(fractions.Fraction(1, i) for i in range(1, n + 1)))


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def p_recursion(n):
    return fib(min(n, 16))


def _numbers(n):
    for i in range(n):
        yield i


def _squares(it):
    for i in it:
        yield i * i


def _evens(it):
    yield from (x for x in it if x % 2 == 0)


def p_pipeline(n):
    return sum(_evens(_squares(_numbers(n))))


def p_exceptions(n):
    caught = 0
    for i in range(n):
        try:
            try:
                if i % 3 == 0:
                    raise ValueError(i)
                int("x" if i % 3 == 1 else "1")
            finally:
                caught += 0
        except ValueError:
            caught += 1
    return caught


def p_sorting(n):
    items = [(i * 37 % 11, str(i)) for i in range(n)]
    return sorted(items, key=lambda t: (t[0], t[1]))[:5], collections.Counter(i % 7 for i in range(n)).most_common(2)


async def _aget(v):
    return v + 1


async def _acount(n):
    for i in range(n):
        yield await _aget(i)


async def _coro_main(n):
    total = 0
    async for v in _acount(n):
        total += v
    return total


def p_async(n):
    c = _coro_main(n)
    try:
        while True:
            c.send(None)
    except StopIteration as e:
        return e.value


def p_classes(n):
    @functools.total_ordering
    class V:
        def __init__(self, v):
            self.v = v

        def __eq__(self, o):
            return self.v == o.v

        def __lt__(self, o):
            return self.v < o.v

        def __repr__(self):
            return f"V({self.v})"
    return repr(max(V(i * 13 % 17) for i in range(n))), [V(i) >= V(3) for i in range(5)]


CORPUS = [p_json, p_regex, p_textwrap, p_difflib, p_heap, p_fractions, p_recursion, p_pipeline,
          p_exceptions, p_sorting, p_async, p_classes]


def corpus_codes():
    """Code objects the corpus runs (its own and some of the stdlib's it calls)."""
    out = []

    def walk(code):
        out.append(code)
        for c in code.co_consts:
            if isinstance(c, type(code)):
                walk(c)
    for f in CORPUS + [fib, _numbers, _squares, _evens, _aget, _acount, _coro_main]:
        walk(f.__code__)
    for f in (json.dumps, json.loads, json.encoder.JSONEncoder.encode, json.decoder.JSONDecoder.decode,
              textwrap.wrap, textwrap.TextWrapper._wrap_chunks, difflib.SequenceMatcher.ratio,
              difflib.SequenceMatcher.get_matching_blocks, difflib.unified_diff,
              fractions.Fraction.__new__, fractions.Fraction._add, re._compile,
              collections.Counter.most_common, heapq.nsmallest):
        code = getattr(f, "__code__", None)
        if code is not None:
            walk(code)
    return out


def run_corpus(n=12):
    return [f(n) for f in CORPUS]


# -- frame life cycle ----------------------------------------------------------------------------

LIFECYCLE = ("PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "PY_UNWIND", "PY_THROW")


class Balance:
    """A tool that checks PY_START (PY_YIELD (PY_RESUME|PY_THROW))* (PY_RETURN|PY_UNWIND) per frame,
    for the frames whose start it saw (a frame already running when it was switched on is ignored).
    Frames are told apart by identity: the tool holds each frame object it tracks, so ids are not
    reused while it matters."""

    def __init__(self, tool, name="balance"):
        self.tool = tool
        self.name = name
        self.frames = {}
        # Frames whose PY_RESUME/PY_THROW a higher-id tool's callback cut short by raising: this
        # tool never saw them resume, and their next event is the PY_UNWIND of that exception.
        self.cut = set()
        self.errors = []
        self.counts = collections.Counter()
        self.lock = threading.Lock()

    def cut_short(self, ev, frame):
        """A higher-id tool's callback raised at ev in frame: lower-id tools are not called for
        that event (upstream order: highest id first, stop at the first exception)."""
        if ev in ("PY_RESUME", "PY_THROW"):
            self.cut.add(id(frame))
        elif ev == "PY_UNWIND":
            self.frames.pop(id(frame), None)     # the frame's last event; this tool missed it

    def error(self, msg):
        if len(self.errors) < 20:
            self.errors.append(msg)

    def install(self):
        mon.use_tool_id(self.tool, self.name)
        for ev in LIFECYCLE:
            mon.register_callback(self.tool, getattr(E, ev), self._cb(ev))
        mon.set_events(self.tool, functools.reduce(lambda a, b: a | b, (getattr(E, e) for e in LIFECYCLE)))

    def uninstall(self):
        if mon.get_tool(self.tool) is not None:
            mon.free_tool_id(self.tool)

    def _cb(self, ev):
        frames = self.frames

        def cb(code, offset, *rest):
            frame = sys._getframe(1)
            self.counts[ev] += 1
            if frame.f_code is not code:
                self.error(f"{ev} for {code.co_qualname} delivered in a frame of {frame.f_code.co_qualname}")
                return
            key = id(frame)
            ent = frames.get(key)
            if ev == "PY_START":
                if ent is not None:
                    self.error(f"PY_START of {code.co_qualname}: frame already {ent[1]}")
                frames[key] = [frame, "running"]
            elif ent is None:
                if ev == "PY_THROW":
                    frames[key] = [frame, "running"]   # throw() into a generator we saw created? unknown
                return                                   # started before the tool was on
            elif ev in ("PY_RESUME", "PY_THROW"):
                if ent[1] != "suspended":
                    self.error(f"{ev} of {code.co_qualname}: frame {ent[1]}")
                ent[1] = "running"
            elif ev == "PY_UNWIND" and ent[1] == "suspended" and key in self.cut:
                self.cut.discard(key)
                del frames[key]
            elif ent[1] != "running":
                self.error(f"{ev} of {code.co_qualname}: frame {ent[1]}")
            elif ev == "PY_YIELD":
                ent[1] = "suspended"
            else:
                del frames[key]
        return cb

    def check_done(self, threads_alive=()):
        """No frame the tool saw start may still be running (suspended generators may remain).
        Switches the tool's events off first."""
        if mon.get_tool(self.tool) is not None:
            mon.set_events(self.tool, 0)
        live = {id(f) for t in threads_alive for f in _stack(t)}
        me = {id(f) for f in _stack(threading.current_thread())}
        running = [e[0].f_code.co_qualname for k, e in self.frames.items()
                   if e[1] == "running" and k not in me and k not in live]
        if running:
            self.error(f"frames started and never ended: {sorted(set(running))[:10]} ({len(running)})")
        return self.errors


def _stack(thread):
    f = sys._current_frames().get(thread.ident)
    while f is not None:
        yield f
        f = f.f_back


# -- leaks ---------------------------------------------------------------------------------------

def leak_check(fn, warmups=4, runs=4):
    """regrtest -R style (debug builds): run fn, and fail if the interpreter's total reference
    count grows on every one of `runs` runs after `warmups`, or its allocated memory blocks grow by
    2 or more on every run (single blocks come and go with free lists and caches, on upstream too)."""
    gettotal = getattr(sys, "gettotalrefcount", None)
    if gettotal is None:
        return []

    def measure():
        sys._clear_type_cache()
        gc.collect()
        return (gettotal() if gettotal else 0, sys.getallocatedblocks())
    for _ in range(warmups):
        fn()
    # Preallocated: growing a list of results while measuring would itself
    # count as a few references per run.
    refs = [0] * runs
    blocks = [0] * runs
    before = measure()
    for i in range(runs):
        fn()
        after = measure()
        refs[i] = after[0] - before[0]
        blocks[i] = after[1] - before[1]
        before = after
    problems = []
    if gettotal and all(r > 0 for r in refs):
        problems.append(f"reference leak: total refcount grew by {refs} on {runs} runs")
    if sys.getallocatedblocks() and all(b >= 2 for b in blocks):
        problems.append(f"memory block leak: allocated blocks grew by {blocks} on {runs} runs")
    return problems


# -- entry point ---------------------------------------------------------------------------------

def reset_monitoring():
    for t in range(6):
        if mon.get_tool(t) is not None:
            mon.free_tool_id(t)
    mon.restart_events()


def main(subtests):
    ap = argparse.ArgumentParser()
    ap.add_argument("subtest", choices=sorted(subtests))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies iterations and durations")
    ap.add_argument("--leaks", action="store_true", help="also run the subtest's leak check")
    args = ap.parse_args()
    fn = subtests[args.subtest]
    random.seed(args.seed)
    start = time.monotonic()
    errors = fn(random.Random(args.seed), args.scale) or []
    if args.leaks and getattr(fn, "leak_body", None):
        reset_monitoring()
        def body():
            fn.leak_body(random.Random(args.seed), args.scale)
            reset_monitoring()
        errors += leak_check(body)
    reset_monitoring()
    if errors:
        print(f"FAIL {args.subtest} (seed {args.seed}):")
        for e in errors[:30]:
            print("   ", e)
        sys.exit(1)
    print(f"ok {args.subtest} ({time.monotonic() - start:.1f} s)")
