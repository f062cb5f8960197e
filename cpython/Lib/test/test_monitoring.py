"""Tests for sys.monitoring (PEP 669).

The same file runs on this fork (CPython 3.11 with a native sys.monitoring)
and on upstream CPython 3.12+, so that every expectation about behaviour
defined upstream is checked against upstream itself.

Events are compared as tuples ``(event, function, line, *arguments)`` where
``line`` is relative to the function's ``def`` line (``None`` for an
instruction that has no line number).  Raw offsets are never compared: 3.11
and 3.12+ compile the same source to different bytecode.

Expectations guarded by ``FORK`` are fork behaviour (see the fork's
monitoring contract); expectations guarded by ``NEW`` reflect how 3.12+
compiles or runs a construct differently from 3.11, each with the reason.
"""

import dis
import gc
import sys
import threading
import time
import types
import unittest
from test import support
from test.support import script_helper


# This fork reports itself as "3.11.2+monitoring"; no upstream 3.11 has
# sys.monitoring at all.
FORK = sys.version.startswith("3.11")
# Upstream 3.12+ (the reference implementation of PEP 669).
NEW = sys.version_info >= (3, 12)
# clear_tool_id() and "free_tool_id() also clears" are 3.14 API, which the
# fork provides.
HAS_314_API = FORK or sys.version_info >= (3, 14)

mon = sys.monitoring
E = mon.events

# The events covered here.  C_RETURN and C_RAISE are ancillary: they are
# switched on together with CALL.
IN_SCOPE = (
    "PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "CALL",
    "STOP_ITERATION", "RAISE", "EXCEPTION_HANDLED", "PY_UNWIND", "PY_THROW",
    "RERAISE", "C_RETURN", "C_RAISE",
)
LOCAL_EVENTS = ("PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "CALL",
                "LINE", "INSTRUCTION", "STOP_ITERATION")
OTHER_EVENTS = ("RAISE", "EXCEPTION_HANDLED", "PY_UNWIND", "PY_THROW",
                "RERAISE")

TOOL = 3            # the recorder's tool id (not a conventional one)
NUM_TOOLS = 6


def events_of(*names):
    bits = 0
    for name in names:
        bits |= getattr(E, name)
    return bits


ALL = events_of(*IN_SCOPE)
EXC_EVENTS = events_of("PY_START", "PY_RETURN", *OTHER_EVENTS)
GEN_EVENTS = events_of("PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD",
                       "STOP_ITERATION", "RAISE")


class Boom(Exception):
    """Raised by test callbacks."""


# ---------------------------------------------------------------------------
# Helpers

def code_of(obj):
    return obj if isinstance(obj, types.CodeType) else obj.__code__


def rel_line(code, offset):
    """Line of the instruction at *offset*, relative to co_firstlineno."""
    positions = list(code.co_positions())
    if offset < 0 or offset % 2 or offset // 2 >= len(positions):
        return f"bad offset {offset}"
    line = positions[offset // 2][0]
    return None if line is None else line - code.co_firstlineno


def handler_targets(code):
    return {entry.target for entry in dis.Bytecode(code).exception_entries}


def exc(type_, *args):
    """How describe() shows an exception instance."""
    return f"{type_.__name__}{args!r}"


def describe(obj):
    """A stable, address-free description of a callback argument."""
    if obj is mon.MISSING:
        return "MISSING"
    if isinstance(obj, BaseException):
        return exc(type(obj), *obj.args)
    if isinstance(obj, (types.GeneratorType, types.CoroutineType,
                        types.AsyncGeneratorType)):
        return f"<{type(obj).__name__} {obj.__name__}>"
    if isinstance(obj, types.MethodType):
        return f"bound {obj.__func__.__name__}"
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType,
                        types.MethodDescriptorType,
                        types.WrapperDescriptorType, type)):
        return obj.__name__
    if isinstance(obj, tuple):
        inner = ", ".join(map(describe, obj))
        return f"({inner},)" if len(obj) == 1 else f"({inner})"
    if obj is None or isinstance(obj, (bool, int, float, str, bytes)):
        return repr(obj)
    return f"<{type(obj).__name__}>"


# Generators may report the end of a delegated or iterated generator either
# as STOP_ITERATION or as a RAISE of StopIteration (the docs allow both);
# tests that accept either map both to this name with either_stop().
STOP = "STOP_ITERATION|RAISE"


def either_stop(events):
    out = []
    previous = None
    for event in events:
        # A StopIteration raised by a C function (C_RAISE just before, in
        # the same function) is a real exception: it stays a RAISE.
        real = (previous is not None and previous[0] == "C_RAISE" and
                previous[1] == event[1])
        if (event[0] == "STOP_ITERATION" or
                (event[0] == "RAISE" and not real and
                 event[3].startswith("StopIteration("))):
            event = (STOP,) + event[1:]
        out.append(event)
        previous = event
    return out


def gen_exit(name, exc_desc, line_311):
    """Events of an exception leaving a generator or coroutine frame."""
    if NEW:
        # 3.12+ wraps the whole body of a generator or coroutine in an
        # implicit handler without line number (CALL_INTRINSIC_1
        # INTRINSIC_STOPITERATION_ERROR; RERAISE): the exception is handled
        # and re-raised there before the frame unwinds.  3.11 has no such
        # handler: the frame unwinds at the instruction that raised.
        return [("EXCEPTION_HANDLED", name, None, exc_desc),
                ("RERAISE", name, None, exc_desc),
                ("PY_UNWIND", name, None, exc_desc)]
    return [("PY_UNWIND", name, line_311, exc_desc)]


def free_all_tools():
    for tool in range(NUM_TOOLS):
        if mon.get_tool(tool) is not None:
            mon.set_events(tool, 0)
            for name in IN_SCOPE:
                mon.register_callback(tool, getattr(E, name), None)
            mon.free_tool_id(tool)
    mon.restart_events()


class Recorder:
    """Records the events of the given functions (or code objects) only.

    Events of any other code, the test harness included, are ignored.
    ``raise_on = (event, function name)`` makes the callback raise Boom the
    first time it records that event; ``result`` is what callbacks return.
    """

    def __init__(self, *targets, events=ALL, tool=TOOL):
        self.codes = frozenset(map(code_of, targets))
        self.tool = tool
        self.wanted = events
        self.events = []
        self.raise_on = None
        self.result = None

    def _make_callback(self, event):
        def callback(code, offset, *args):
            if code not in self.codes:
                return None
            where = rel_line(code, offset)
            if (event == "EXCEPTION_HANDLED" and
                    offset not in handler_targets(code)):
                where = f"offset {offset} is not a handler"
            self.events.append(
                (event, code.co_name, where) + tuple(map(describe, args)))
            if self.raise_on == (event, code.co_name):
                self.raise_on = None
                raise Boom(event)
            return self.result
        return callback

    def start(self):
        mon.use_tool_id(self.tool, "recorder")
        for name in IN_SCOPE:
            mon.register_callback(self.tool, getattr(E, name),
                                  self._make_callback(name))
        mon.set_events(self.tool, self.wanted)
        return self

    def stop(self):
        if mon.get_tool(self.tool) is not None:
            mon.set_events(self.tool, 0)
            for name in IN_SCOPE:
                mon.register_callback(self.tool, getattr(E, name), None)
            mon.free_tool_id(self.tool)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


class MonitoringTestCase(unittest.TestCase):
    """Leaves every tool id free and nothing disabled, whatever happens."""

    def setUp(self):
        self._local = []
        self.addCleanup(self._reset)

    def _reset(self):
        for tool, code in self._local:
            # Upstream 3.12/3.13 keep local events of a freed tool.
            unused = mon.get_tool(tool) is None
            if unused:
                mon.use_tool_id(tool, "cleanup")
            mon.set_local_events(tool, code, 0)
            if unused:
                mon.free_tool_id(tool)
        free_all_tools()

    def set_local(self, tool, code, events):
        self._local.append((tool, code_of(code)))
        mon.set_local_events(tool, code_of(code), events)

    def claim(self, tool, name="test"):
        mon.use_tool_id(tool, name)


# ---------------------------------------------------------------------------
# Target code.  Expectations use lines relative to each ``def``: do not edit
# a function body without updating its expectations.

def callee(a=1, b=2):
    c = a + b
    return c


def call_plain():
    x = callee(10, 20)
    y = callee()
    z = callee(b=5)
    return x + y + z


def two_calls():
    a = callee(1, 1)
    b = callee(2, 2)
    return a + b


class Widget:
    def __init__(self, size):
        self.size = size

    def grow(self, by):
        return self.size + by


def call_methods():
    w = Widget(3)
    n = w.grow(4)
    bound = w.grow
    m = bound(5)
    return n + m


def negate(x):
    return -x


def call_builtins():
    n = len("abc")
    d = {"k": 1}
    v = d.get("k")
    s = sorted([3, 1], key=negate)
    g = globals
    g()
    return n + v + s[0]


def call_builtin_raises():
    try:
        int("x")
    except ValueError:
        result = "caught"
    return result


def star_target(*args, **kwargs):
    return len(args) + len(kwargs)


def call_star():
    args = (1, 2)
    kw = {"z": 3}
    a = star_target(*args, **kw)
    b = star_target(*(), **kw)
    c = len(*["ab"])
    return a + b + c


def gen_values():
    yield 1
    yield 2
    return 3


def gen_implicit_return():
    yield 1
    yield 2


def drive_with_next():
    g = gen_values()
    a = next(g)
    b = next(g)
    try:
        next(g)
    except StopIteration as stop:
        c = stop.value
    return (a, b, c)


def drive_with_for(gen_func):
    total = 0
    for value in gen_func():
        total += value
    return total


def gen_echo():
    received = yield "first"
    return received * 2


def drive_with_send():
    g = gen_echo()
    a = g.send(None)
    try:
        g.send(21)
    except StopIteration as stop:
        b = stop.value
    return (a, b)


def delegator():
    result = yield from gen_values()
    return result * 10


def gen_catching():
    try:
        yield 1
    except KeyError:
        yield 2
    return 3


def gen_with_finally():
    try:
        yield 1
    finally:
        cleanup = True


def gen_raising():
    yield 1
    raise KeyError("g")


def gen_raising_stop():
    yield 1
    raise StopIteration("s")


def throw_into(g, error):
    value = g.throw(error)
    return value


def throw_uncaught(g, error):
    try:
        g.throw(error)
    except KeyError:
        result = "propagated"
    return result


def close_it(g):
    g.close()
    return "closed"


def loop_over(iterable):
    total = 0
    try:
        for value in iterable:
            total += value
    except (KeyError, RuntimeError):
        total = -total
    return total


async def coro_inner():
    return 5


async def coro_outer():
    value = await coro_inner()
    return value + 1


class Suspend:
    def __await__(self):
        received = yield "paused"
        return received


async def coro_suspending():
    value = await Suspend()
    return value


def step_coro(coro, value):
    try:
        out = coro.send(value)
    except StopIteration as stop:
        out = ("done", stop.value)
    return out


async def agen_values():
    yield 1
    yield 2


def step_agen(agen):
    step = agen.__anext__()
    try:
        step.send(None)
    except StopIteration as stop:
        result = stop.value
    except StopAsyncIteration:
        result = "end"
    return result


def raise_here():
    raise KeyError("deep")


def pass_through():
    raise_here()


def catch_it():
    try:
        pass_through()
    except KeyError as error:
        caught = error
    return caught.args


def raise_in_operation():
    try:
        {}["missing"]
    except KeyError:
        result = "handled"
    return result


def catcher(func):
    try:
        func()
    except KeyError:
        result = "caught"
    return result


def reraise_bare():
    try:
        raise KeyError("a")
    except KeyError:
        raise


def reraise_finally():
    try:
        raise KeyError("b")
    finally:
        done = True


def except_no_match():
    try:
        raise KeyError("e")
    except ValueError:
        pass


class Manager:
    def __init__(self, suppress):
        self.suppress = suppress

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return self.suppress


def reraise_with():
    with Manager(False):
        raise KeyError("c")


def suppress_with():
    with Manager(True):
        raise KeyError("d")
    return "suppressed"


# ---------------------------------------------------------------------------
# API

class TestConstants(MonitoringTestCase):

    def test_conventional_tool_ids(self):
        self.assertEqual(mon.DEBUGGER_ID, 0)
        self.assertEqual(mon.COVERAGE_ID, 1)
        self.assertEqual(mon.PROFILER_ID, 2)
        self.assertEqual(mon.OPTIMIZER_ID, 5)

    def test_sentinels(self):
        self.assertIsNotNone(mon.DISABLE)
        self.assertIsNotNone(mon.MISSING)
        self.assertIsNot(mon.DISABLE, mon.MISSING)
        self.assertIs(sys.monitoring.DISABLE, mon.DISABLE)
        self.assertIs(sys.monitoring.MISSING, mon.MISSING)

    def test_no_events(self):
        self.assertEqual(E.NO_EVENTS, 0)

    def test_events_are_distinct_single_bits(self):
        names = IN_SCOPE + ("LINE", "INSTRUCTION", "JUMP", "BRANCH")
        values = [getattr(E, name) for name in names]
        for name, value in zip(names, values):
            with self.subTest(event=name):
                self.assertIsInstance(value, int)
                self.assertGreater(value, 0)
                self.assertEqual(value & (value - 1), 0)
        self.assertEqual(len(set(values)), len(values))

    def test_numbering_shared_with_upstream(self):
        # Ids 0-7 are the same in 3.12, 3.13, 3.14 and the fork.
        expected = ["PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "CALL",
                    "LINE", "INSTRUCTION", "JUMP"]
        for event_id, name in enumerate(expected):
            with self.subTest(event=name):
                self.assertEqual(getattr(E, name), 1 << event_id)

    @unittest.skipUnless(FORK, "3.14 numbering (3.13 numbers BRANCH as 8)")
    def test_numbering_fork(self):
        expected = ["PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "CALL",
                    "LINE", "INSTRUCTION", "JUMP", "BRANCH_LEFT",
                    "BRANCH_RIGHT", "STOP_ITERATION", "RAISE",
                    "EXCEPTION_HANDLED", "PY_UNWIND", "PY_THROW", "RERAISE",
                    "C_RETURN", "C_RAISE", "BRANCH"]
        for event_id, name in enumerate(expected):
            with self.subTest(event=name):
                self.assertEqual(getattr(E, name), 1 << event_id)


class TestToolIds(MonitoringTestCase):

    def test_use_get_free(self):
        self.assertIsNone(mon.get_tool(4))
        self.assertIsNone(mon.use_tool_id(4, "first"))
        self.assertEqual(mon.get_tool(4), "first")
        for other in (0, 1, 2, 3, 5):
            self.assertIsNone(mon.get_tool(other))
        self.assertIsNone(mon.free_tool_id(4))
        self.assertIsNone(mon.get_tool(4))
        mon.use_tool_id(4, "second")
        self.assertEqual(mon.get_tool(4), "second")

    def test_every_id_can_be_claimed(self):
        for tool in range(NUM_TOOLS):
            mon.use_tool_id(tool, f"tool {tool}")
        self.assertEqual([mon.get_tool(t) for t in range(NUM_TOOLS)],
                         [f"tool {t}" for t in range(NUM_TOOLS)])
        for tool in range(NUM_TOOLS):
            mon.free_tool_id(tool)
        self.assertEqual([mon.get_tool(t) for t in range(NUM_TOOLS)],
                         [None] * NUM_TOOLS)

    def test_bool_is_an_int_tool_id(self):
        mon.use_tool_id(True, "bool")
        self.assertEqual(mon.get_tool(1), "bool")

    def test_use_tool_id_in_use(self):
        mon.use_tool_id(4, "first")
        with self.assertRaises(ValueError):
            mon.use_tool_id(4, "first")
        with self.assertRaises(ValueError):
            mon.use_tool_id(4, "second")
        self.assertEqual(mon.get_tool(4), "first")

    def test_use_tool_id_bad_id(self):
        for bad in (-1, 6, 7, 255, -1000):
            with self.subTest(tool=bad):
                with self.assertRaises(ValueError):
                    mon.use_tool_id(bad, "x")
        with self.assertRaises(OverflowError):
            mon.use_tool_id(2 ** 70, "x")
        for bad in ("0", 1.0, None):
            with self.subTest(tool=bad):
                with self.assertRaises(TypeError):
                    mon.use_tool_id(bad, "x")
        self.assertEqual([mon.get_tool(t) for t in range(NUM_TOOLS)],
                         [None] * NUM_TOOLS)

    def test_use_tool_id_bad_name(self):
        # Upstream raises ValueError (not TypeError) for a non-str name.
        for bad in (5, None, b"name"):
            with self.subTest(name=bad):
                with self.assertRaises(ValueError):
                    mon.use_tool_id(0, bad)
                self.assertIsNone(mon.get_tool(0))

    def test_use_tool_id_signature(self):
        with self.assertRaises(TypeError):
            mon.use_tool_id()
        with self.assertRaises(TypeError):
            mon.use_tool_id(0)
        with self.assertRaises(TypeError):
            mon.use_tool_id(0, "a", "b")
        with self.assertRaises(TypeError):
            mon.use_tool_id(tool_id=0, name="a")
        self.assertIsNone(mon.get_tool(0))

    def test_get_tool_errors(self):
        for bad in (-1, 6):
            with self.assertRaises(ValueError):
                mon.get_tool(bad)
        with self.assertRaises(TypeError):
            mon.get_tool("0")
        with self.assertRaises(TypeError):
            mon.get_tool()

    def test_free_unused_tool_is_a_no_op(self):
        self.assertIsNone(mon.free_tool_id(3))
        self.assertIsNone(mon.get_tool(3))

    def test_free_tool_id_errors(self):
        for bad in (-1, 6):
            with self.assertRaises(ValueError):
                mon.free_tool_id(bad)
        with self.assertRaises(TypeError):
            mon.free_tool_id("0")
        with self.assertRaises(TypeError):
            mon.free_tool_id()

    @unittest.skipUnless(HAS_314_API, "3.13's free_tool_id() keeps events")
    def test_free_tool_id_clears_everything(self):
        calls = []

        def start(code, offset):
            if code is callee.__code__:
                calls.append(offset)
        self.claim(TOOL)
        mon.register_callback(TOOL, E.PY_START, start)
        mon.set_events(TOOL, E.PY_START)
        mon.set_local_events(TOOL, callee.__code__, E.PY_RETURN)
        mon.free_tool_id(TOOL)
        self.assertIsNone(mon.get_tool(TOOL))
        self.assertEqual(callee(), 3)
        self.assertEqual(calls, [])
        self.claim(TOOL)
        self.assertEqual(mon.get_events(TOOL), 0)
        self.assertEqual(mon.get_local_events(TOOL, callee.__code__), 0)
        self.assertIsNone(mon.register_callback(TOOL, E.PY_START, None))

    @unittest.skipUnless(HAS_314_API, "clear_tool_id() is 3.14 API")
    def test_clear_tool_id(self):
        calls = []

        def start(code, offset):
            if code is callee.__code__:
                calls.append(offset)
        self.claim(TOOL, "kept")
        mon.register_callback(TOOL, E.PY_START, start)
        mon.set_events(TOOL, E.PY_START)
        mon.set_local_events(TOOL, callee.__code__, E.PY_RETURN)
        self.assertIsNone(mon.clear_tool_id(TOOL))
        self.assertEqual(mon.get_tool(TOOL), "kept")
        self.assertEqual(mon.get_events(TOOL), 0)
        self.assertEqual(mon.get_local_events(TOOL, callee.__code__), 0)
        self.assertEqual(callee(), 3)
        self.assertEqual(calls, [])
        self.assertIsNone(mon.register_callback(TOOL, E.PY_START, None))
        # Clearing an unused tool is not an error.
        self.assertIsNone(mon.clear_tool_id(4))
        self.assertIsNone(mon.get_tool(4))

    @unittest.skipUnless(HAS_314_API, "clear_tool_id() is 3.14 API")
    def test_clear_tool_id_errors(self):
        for bad in (-1, 6):
            with self.assertRaises(ValueError):
                mon.clear_tool_id(bad)
        with self.assertRaises(TypeError):
            mon.clear_tool_id("0")
        with self.assertRaises(TypeError):
            mon.clear_tool_id()


class TestRegisterCallback(MonitoringTestCase):

    def test_returns_previous(self):
        first = lambda *args: None
        second = lambda *args: None
        self.claim(TOOL)
        self.assertIsNone(mon.register_callback(TOOL, E.PY_START, first))
        self.assertIs(mon.register_callback(TOOL, E.PY_START, second), first)
        self.assertIs(mon.register_callback(TOOL, E.PY_START, None), second)
        self.assertIsNone(mon.register_callback(TOOL, E.PY_START, None))

    def test_per_tool_and_per_event(self):
        first = lambda *args: None
        second = lambda *args: None
        self.claim(0)
        self.claim(TOOL)
        mon.register_callback(0, E.PY_START, first)
        mon.register_callback(TOOL, E.PY_START, second)
        mon.register_callback(TOOL, E.RAISE, first)
        self.assertIsNone(mon.register_callback(0, E.PY_RETURN, None))
        self.assertIs(mon.register_callback(0, E.PY_START, None), first)
        self.assertIs(mon.register_callback(TOOL, E.PY_START, None), second)
        self.assertIs(mon.register_callback(TOOL, E.RAISE, None), first)

    def test_every_event_has_its_own_slot(self):
        self.claim(TOOL)
        callbacks = {}
        for name in IN_SCOPE:
            callbacks[name] = lambda *args: None
            mon.register_callback(TOOL, getattr(E, name), callbacks[name])
        for name in IN_SCOPE:
            with self.subTest(event=name):
                self.assertIs(
                    mon.register_callback(TOOL, getattr(E, name), None),
                    callbacks[name])

    def test_unused_tool(self):
        # Upstream accepts registering for a tool id that is not in use.
        func = lambda *args: None
        self.assertIsNone(mon.register_callback(4, E.PY_START, func))
        self.assertIs(mon.register_callback(4, E.PY_START, None), func)

    def test_non_callable_is_accepted_and_fails_when_called(self):
        self.claim(TOOL)
        self.assertIsNone(mon.register_callback(TOOL, E.PY_START, 42))
        self.set_local(TOOL, callee, E.PY_START)
        with self.assertRaises(TypeError):
            callee()
        self.assertEqual(mon.register_callback(TOOL, E.PY_START, None), 42)
        self.assertEqual(callee(), 3)

    def test_bad_event(self):
        func = lambda *args: None
        self.claim(TOOL)
        for bad in (0, E.PY_START | E.PY_RETURN, E.CALL | E.C_RETURN, -1):
            with self.subTest(event=bad):
                with self.assertRaises(ValueError):
                    mon.register_callback(TOOL, bad, func)
        for bad in (1 << 19, 1 << 20, 1 << 30):
            with self.subTest(event=bad):
                with self.assertRaises(ValueError):
                    mon.register_callback(TOOL, bad, func)
        with self.assertRaises(OverflowError):
            mon.register_callback(TOOL, 1 << 64, func)
        with self.assertRaises(TypeError):
            mon.register_callback(TOOL, "PY_START", func)
        with self.assertRaises(TypeError):
            mon.register_callback(TOOL, 1.0, func)
        self.assertIsNone(mon.register_callback(TOOL, E.PY_START, None))

    def test_bad_tool(self):
        func = lambda *args: None
        for bad in (-1, 6):
            with self.assertRaises(ValueError):
                mon.register_callback(bad, E.PY_START, func)
        with self.assertRaises(TypeError):
            mon.register_callback("0", E.PY_START, func)

    def test_signature(self):
        func = lambda *args: None
        self.claim(TOOL)
        with self.assertRaises(TypeError):
            mon.register_callback(TOOL, E.PY_START)
        with self.assertRaises(TypeError):
            mon.register_callback(TOOL, E.PY_START, func, None)
        with self.assertRaises(TypeError):
            mon.register_callback(TOOL, E.PY_START, func=func)
        self.assertIsNone(mon.register_callback(TOOL, E.PY_START, None))

    def test_audit_event(self):
        # Audit hooks cannot be removed: run in a child interpreter.
        code = """if 1:
            import sys
            seen = []
            def hook(event, args):
                if event.startswith("sys.monitoring"):
                    seen.append((event, args))
            sys.addaudithook(hook)
            m = sys.monitoring
            def func(*args):
                pass
            m.use_tool_id(3, "audited")
            m.register_callback(3, m.events.PY_START, func)
            m.register_callback(3, m.events.RAISE, None)
            for event, args in seen:
                print(event, len(args), args[0] is func, args[0] is None)

            def veto(event, args):
                if (event == "sys.monitoring.register_callback" and
                        args[0] is func):
                    raise RuntimeError("vetoed")
            sys.addaudithook(veto)
            try:
                m.register_callback(3, m.events.PY_RETURN, func)
            except RuntimeError as error:
                print("refused:", error)
            print(m.register_callback(3, m.events.PY_RETURN, None))
        """
        rc, out, err = script_helper.assert_python_ok("-c", code)
        self.assertEqual(out.decode().splitlines(), [
            "sys.monitoring.register_callback 1 True False",
            "sys.monitoring.register_callback 1 False True",
            "refused: vetoed",
            "None",     # nothing was registered
        ])


class TestGlobalEventSets(MonitoringTestCase):

    def test_set_get_each_event(self):
        self.claim(TOOL)
        self.assertEqual(mon.get_events(TOOL), 0)
        for name in IN_SCOPE:
            if name in ("C_RETURN", "C_RAISE"):
                continue
            with self.subTest(event=name):
                self.assertIsNone(mon.set_events(TOOL, getattr(E, name)))
                self.assertEqual(mon.get_events(TOOL), getattr(E, name))
        mon.set_events(TOOL, E.NO_EVENTS)
        self.assertEqual(mon.get_events(TOOL), 0)

    def test_set_get_combination(self):
        self.claim(TOOL)
        combo = events_of("PY_START", "PY_RETURN", "RAISE", "PY_UNWIND")
        mon.set_events(TOOL, combo)
        self.assertEqual(mon.get_events(TOOL), combo)
        self.claim(0)
        self.assertEqual(mon.get_events(0), 0)

    def test_tools_are_independent(self):
        self.claim(0)
        self.claim(5)
        mon.set_events(0, E.PY_START)
        mon.set_events(5, E.RAISE)
        self.assertEqual(mon.get_events(0), E.PY_START)
        self.assertEqual(mon.get_events(5), E.RAISE)

    def test_ancillary_events(self):
        self.claim(TOOL)
        # C_RETURN and C_RAISE come with CALL; they cannot be set alone,
        # nor only one of them with CALL.
        for bad in (E.C_RETURN, E.C_RAISE, E.C_RETURN | E.C_RAISE,
                    E.CALL | E.C_RETURN, E.CALL | E.C_RAISE):
            with self.subTest(events=bad):
                with self.assertRaises(ValueError):
                    mon.set_events(TOOL, bad)
                self.assertEqual(mon.get_events(TOOL), 0)
        mon.set_events(TOOL, E.CALL | E.C_RETURN | E.C_RAISE)
        self.assertEqual(mon.get_events(TOOL), E.CALL)

    def test_bad_event_set(self):
        self.claim(TOOL)
        mon.set_events(TOOL, E.PY_START)
        for bad in (1 << 19, 1 << 20, 1 << 30, -1, E.PY_START | 1 << 25):
            with self.subTest(events=bad):
                with self.assertRaises(ValueError):
                    mon.set_events(TOOL, bad)
        for bad in (1 << 31, 1 << 64):
            with self.subTest(events=bad):
                with self.assertRaises(OverflowError):
                    mon.set_events(TOOL, bad)
        for bad in ("1", 1.0, None):
            with self.subTest(events=bad):
                with self.assertRaises(TypeError):
                    mon.set_events(TOOL, bad)
        self.assertEqual(mon.get_events(TOOL), E.PY_START)

    def test_unused_tool(self):
        with self.assertRaises(ValueError):
            mon.set_events(TOOL, E.PY_START)
        with self.assertRaises(ValueError):
            mon.set_events(TOOL, 0)
        # Reading the events of a tool id not in use is not an error.
        self.assertEqual(mon.get_events(TOOL), 0)
        self.assertIsNone(mon.get_tool(TOOL))

    def test_bad_tool(self):
        for bad in (-1, 6):
            with self.assertRaises(ValueError):
                mon.set_events(bad, E.PY_START)
            with self.assertRaises(ValueError):
                mon.get_events(bad)
        with self.assertRaises(TypeError):
            mon.set_events("0", E.PY_START)
        with self.assertRaises(TypeError):
            mon.get_events("0")

    def test_signature(self):
        self.claim(TOOL)
        with self.assertRaises(TypeError):
            mon.set_events(TOOL)
        with self.assertRaises(TypeError):
            mon.set_events(TOOL, 0, 0)
        with self.assertRaises(TypeError):
            mon.get_events()
        with self.assertRaises(TypeError):
            mon.get_events(TOOL, 0)


class TestLocalEventSets(MonitoringTestCase):

    def test_set_get_each_local_event(self):
        self.claim(TOOL)
        code = callee.__code__
        self.assertEqual(mon.get_local_events(TOOL, code), 0)
        for name in LOCAL_EVENTS:
            with self.subTest(event=name):
                self.set_local(TOOL, code, getattr(E, name))
                self.assertEqual(mon.get_local_events(TOOL, code),
                                 getattr(E, name))
        combo = events_of(*LOCAL_EVENTS)
        self.set_local(TOOL, code, combo)
        self.assertEqual(mon.get_local_events(TOOL, code), combo)
        # Per code object and per tool; global events are untouched.
        self.assertEqual(mon.get_local_events(TOOL, call_plain.__code__), 0)
        self.assertEqual(mon.get_events(TOOL), 0)
        self.claim(0)
        self.assertEqual(mon.get_local_events(0, code), 0)
        self.set_local(TOOL, code, 0)
        self.assertEqual(mon.get_local_events(TOOL, code), 0)

    def test_call_with_ancillary_events(self):
        self.claim(TOOL)
        code = callee.__code__
        self.set_local(TOOL, code, E.CALL | E.C_RETURN | E.C_RAISE)
        self.assertEqual(mon.get_local_events(TOOL, code), E.CALL)
        for bad in (E.C_RETURN, E.C_RAISE, E.CALL | E.C_RETURN):
            with self.subTest(events=bad):
                with self.assertRaises(ValueError):
                    mon.set_local_events(TOOL, code, bad)
        self.assertEqual(mon.get_local_events(TOOL, code), E.CALL)

    def test_exception_events_may_be_local(self):
        # CPython 3.15 (gh-142186): the exception events may be set locally.
        self.claim(TOOL)
        code = callee.__code__
        for name in OTHER_EVENTS:
            with self.subTest(event=name):
                if not FORK and sys.version_info < (3, 15):
                    with self.assertRaises(ValueError):
                        mon.set_local_events(TOOL, code, getattr(E, name))
                    continue
                self.set_local(TOOL, code, E.PY_START | getattr(E, name))
                self.assertEqual(mon.get_local_events(TOOL, code),
                                 E.PY_START | getattr(E, name))
        self.set_local(TOOL, code, 0)

    def test_bad_event_set(self):
        self.claim(TOOL)
        code = callee.__code__
        for bad in (1 << 19, 1 << 20, -1):
            with self.subTest(events=bad):
                with self.assertRaises(ValueError):
                    mon.set_local_events(TOOL, code, bad)
        with self.assertRaises(OverflowError):
            mon.set_local_events(TOOL, code, 1 << 64)
        with self.assertRaises(TypeError):
            mon.set_local_events(TOOL, code, "1")
        self.assertEqual(mon.get_local_events(TOOL, code), 0)

    def test_not_a_code_object(self):
        self.claim(TOOL)
        for bad in (callee, None, "code", call_plain.__code__.co_code):
            with self.subTest(code=bad):
                with self.assertRaises(TypeError):
                    mon.set_local_events(TOOL, bad, E.PY_START)
                with self.assertRaises(TypeError):
                    mon.get_local_events(TOOL, bad)

    def test_unused_tool(self):
        with self.assertRaises(ValueError):
            mon.set_local_events(TOOL, callee.__code__, E.PY_START)
        self.assertEqual(mon.get_local_events(TOOL, callee.__code__), 0)

    def test_bad_tool(self):
        for bad in (-1, 6):
            with self.assertRaises(ValueError):
                mon.set_local_events(bad, callee.__code__, E.PY_START)
            with self.assertRaises(ValueError):
                mon.get_local_events(bad, callee.__code__)

    def test_signature(self):
        self.claim(TOOL)
        with self.assertRaises(TypeError):
            mon.set_local_events(TOOL, callee.__code__)
        with self.assertRaises(TypeError):
            mon.get_local_events(TOOL)
        with self.assertRaises(TypeError):
            mon.get_local_events(TOOL, callee.__code__, 0)


class TestRestartEventsAPI(MonitoringTestCase):

    def test_no_argument(self):
        self.assertIsNone(mon.restart_events())

    @unittest.skipUnless(FORK, "restart_events(tool_id) is a fork extension")
    def test_tool_argument_errors(self):
        self.assertIsNone(mon.restart_events(TOOL))
        for bad in (-1, 6):
            with self.assertRaises(ValueError):
                mon.restart_events(bad)
        with self.assertRaises(TypeError):
            mon.restart_events("0")
        with self.assertRaises(TypeError):
            mon.restart_events(0, 1)

    @unittest.skipIf(FORK, "the fork accepts a tool id")
    def test_upstream_takes_no_argument(self):
        with self.assertRaises(TypeError):
            mon.restart_events(0)


# ---------------------------------------------------------------------------
# Events

class TestCallEvents(MonitoringTestCase):

    def test_plain_functions(self):
        with Recorder(callee, call_plain) as rec:
            self.assertEqual(call_plain(), 39)
        self.assertEqual(rec.events, [
            ("PY_START", "call_plain", 0),
            ("CALL", "call_plain", 1, "callee", "10"),
            ("PY_START", "callee", 0),
            ("PY_RETURN", "callee", 2, "30"),
            ("CALL", "call_plain", 2, "callee", "MISSING"),
            ("PY_START", "callee", 0),
            ("PY_RETURN", "callee", 2, "3"),
            # arg0 of a call with only keyword arguments: the first value.
            ("CALL", "call_plain", 3, "callee", "5"),
            ("PY_START", "callee", 0),
            ("PY_RETURN", "callee", 2, "6"),
            ("PY_RETURN", "call_plain", 4, "39"),
        ])

    def test_methods_and_construction(self):
        with Recorder(Widget.__init__, Widget.grow, call_methods) as rec:
            self.assertEqual(call_methods(), 15)
        self.assertEqual(rec.events, [
            ("PY_START", "call_methods", 0),
            # A class is not a Python function: C_RETURN follows its call,
            # after the Python __init__ it ran.
            ("CALL", "call_methods", 1, "Widget", "3"),
            ("PY_START", "__init__", 0),
            ("PY_RETURN", "__init__", 1, "None"),
            ("C_RETURN", "call_methods", 1, "Widget", "3"),
            # obj.method(x): the callable is the function, arg0 is self.
            ("CALL", "call_methods", 2, "grow", "<Widget>"),
            ("PY_START", "grow", 0),
            ("PY_RETURN", "grow", 1, "7"),
            # Calling a bound method object: the callable is the bound
            # method and arg0 the first explicit argument; it runs Python
            # code, so there is no C_RETURN.
            ("CALL", "call_methods", 4, "bound grow", "5"),
            ("PY_START", "grow", 0),
            ("PY_RETURN", "grow", 1, "8"),
            ("PY_RETURN", "call_methods", 5, "15"),
        ])

    def test_builtins(self):
        with Recorder(call_builtins, negate) as rec:
            self.assertEqual(call_builtins(), 7)
        self.assertEqual(rec.events, [
            ("PY_START", "call_builtins", 0),
            ("CALL", "call_builtins", 1, "len", "'abc'"),
            ("C_RETURN", "call_builtins", 1, "len", "'abc'"),
            ("CALL", "call_builtins", 3, "get", "<dict>"),
            ("C_RETURN", "call_builtins", 3, "get", "<dict>"),
            ("CALL", "call_builtins", 4, "sorted", "<list>"),
            ("PY_START", "negate", 0),
            ("PY_RETURN", "negate", 1, "-3"),
            ("PY_START", "negate", 0),
            ("PY_RETURN", "negate", 1, "-1"),
            ("C_RETURN", "call_builtins", 4, "sorted", "<list>"),
            ("CALL", "call_builtins", 6, "globals", "MISSING"),
            ("C_RETURN", "call_builtins", 6, "globals", "MISSING"),
            ("PY_RETURN", "call_builtins", 7, "7"),
        ])

    def test_builtin_raises(self):
        error = exc(ValueError, "invalid literal for int() with base 10: 'x'")
        with Recorder(call_builtin_raises) as rec:
            self.assertEqual(call_builtin_raises(), "caught")
        self.assertEqual(rec.events, [
            ("PY_START", "call_builtin_raises", 0),
            ("CALL", "call_builtin_raises", 2, "int", "'x'"),
            ("C_RAISE", "call_builtin_raises", 2, "int", "'x'"),
            ("RAISE", "call_builtin_raises", 2, error),
            ("EXCEPTION_HANDLED", "call_builtin_raises", None, error),
            ("PY_RETURN", "call_builtin_raises", 5, "'caught'"),
        ])

    def test_c_events_need_call(self):
        # With CALL off, C_RETURN/C_RAISE callbacks are never called.
        rec = Recorder(call_builtins, call_builtin_raises,
                       events=E.PY_START | E.PY_RETURN)
        with rec:
            call_builtins()
            call_builtin_raises()
        self.assertEqual([e[0] for e in rec.events],
                         ["PY_START", "PY_RETURN"] * 2)

    def test_call_function_ex(self):
        with Recorder(call_star, star_target) as rec:
            self.assertEqual(call_star(), 6)
        self.assertEqual(rec.events, [
            ("PY_START", "call_star", 0),
            ("CALL", "call_star", 3, "star_target", "1"),
            ("PY_START", "star_target", 0),
            ("CALL", "star_target", 1, "len", "(1, 2)"),
            ("C_RETURN", "star_target", 1, "len", "(1, 2)"),
            ("CALL", "star_target", 1, "len", "<dict>"),
            ("C_RETURN", "star_target", 1, "len", "<dict>"),
            ("PY_RETURN", "star_target", 1, "3"),
            ("CALL", "call_star", 4, "star_target", "MISSING"),
            ("PY_START", "star_target", 0),
            ("CALL", "star_target", 1, "len", "()"),
            ("C_RETURN", "star_target", 1, "len", "()"),
            ("CALL", "star_target", 1, "len", "<dict>"),
            ("C_RETURN", "star_target", 1, "len", "<dict>"),
            ("PY_RETURN", "star_target", 1, "1"),
            ("CALL", "call_star", 5, "len", "'ab'"),
            ("C_RETURN", "call_star", 5, "len", "'ab'"),
            ("PY_RETURN", "call_star", 6, "6"),
        ])

    def test_callback_arguments_are_the_objects(self):
        seen = []

        def call(code, offset, func, arg0):
            if code is call_methods.__code__:
                seen.append((func, arg0))
        self.claim(TOOL)
        mon.register_callback(TOOL, E.CALL, call)
        mon.set_events(TOOL, E.CALL)
        call_methods()
        mon.set_events(TOOL, 0)
        self.assertEqual(len(seen), 3)
        self.assertIs(seen[0][0], Widget)
        self.assertIs(seen[1][0], Widget.grow)
        self.assertIsInstance(seen[1][1], Widget)
        self.assertIs(type(seen[2][0]), types.MethodType)
        self.assertIs(seen[2][0].__func__, Widget.grow)


class TestGeneratorEvents(MonitoringTestCase):

    def test_next(self):
        with Recorder(gen_values, drive_with_next) as rec:
            self.assertEqual(drive_with_next(), (1, 2, 3))
        gen = "<generator gen_values>"
        self.assertEqual(rec.events, [
            ("PY_START", "drive_with_next", 0),
            ("CALL", "drive_with_next", 1, "gen_values", "MISSING"),
            ("CALL", "drive_with_next", 2, "next", gen),
            ("PY_START", "gen_values", 0),
            ("PY_YIELD", "gen_values", 1, "1"),
            ("C_RETURN", "drive_with_next", 2, "next", gen),
            ("CALL", "drive_with_next", 3, "next", gen),
            ("PY_RESUME", "gen_values", 1),
            ("PY_YIELD", "gen_values", 2, "2"),
            ("C_RETURN", "drive_with_next", 3, "next", gen),
            ("CALL", "drive_with_next", 5, "next", gen),
            ("PY_RESUME", "gen_values", 2),
            ("PY_RETURN", "gen_values", 3, "3"),
            ("C_RAISE", "drive_with_next", 5, "next", gen),
            ("RAISE", "drive_with_next", 5, exc(StopIteration, 3)),
            ("EXCEPTION_HANDLED", "drive_with_next", None,
             exc(StopIteration, 3)),
            ("PY_RETURN", "drive_with_next", 8, "(1, 2, 3)"),
        ])

    def test_for_loop(self):
        with Recorder(gen_values, drive_with_for, events=GEN_EVENTS) as rec:
            self.assertEqual(drive_with_for(gen_values), 3)
        self.assertEqual(either_stop(rec.events), [
            ("PY_START", "drive_with_for", 0),
            ("PY_START", "gen_values", 0),
            ("PY_YIELD", "gen_values", 1, "1"),
            ("PY_RESUME", "gen_values", 1),
            ("PY_YIELD", "gen_values", 2, "2"),
            ("PY_RESUME", "gen_values", 2),
            ("PY_RETURN", "gen_values", 3, "3"),
            (STOP, "drive_with_for", 2, exc(StopIteration, 3)),
            ("PY_RETURN", "drive_with_for", 4, "3"),
        ])

    def test_for_loop_implicit_return(self):
        with Recorder(gen_implicit_return, drive_with_for,
                      events=GEN_EVENTS) as rec:
            self.assertEqual(drive_with_for(gen_implicit_return), 3)
        self.assertEqual(either_stop(rec.events), [
            ("PY_START", "drive_with_for", 0),
            ("PY_START", "gen_implicit_return", 0),
            ("PY_YIELD", "gen_implicit_return", 1, "1"),
            ("PY_RESUME", "gen_implicit_return", 1),
            ("PY_YIELD", "gen_implicit_return", 2, "2"),
            ("PY_RESUME", "gen_implicit_return", 2),
            ("PY_RETURN", "gen_implicit_return", 2, "None"),
            (STOP, "drive_with_for", 2, exc(StopIteration)),
            ("PY_RETURN", "drive_with_for", 4, "3"),
        ])

    def test_for_loop_over_iterator_class(self):
        # A real StopIteration raised by __next__: RAISE where it is raised,
        # and RAISE again in the loop, which swallows it without
        # EXCEPTION_HANDLED.
        class Countdown:
            def __init__(self):
                self.n = 2

            def __iter__(self):
                return self

            def __next__(self):
                self.n -= 1
                if self.n < 0:
                    raise StopIteration(7)
                return self.n
        events = EXC_EVENTS | E.STOP_ITERATION
        with Recorder(Countdown.__next__, loop_over, events=events) as rec:
            self.assertEqual(loop_over(Countdown()), 1)
        stop = exc(StopIteration, 7)
        self.assertEqual(rec.events, [
            ("PY_START", "loop_over", 0),
            ("PY_START", "__next__", 0),
            ("PY_RETURN", "__next__", 4, "1"),
            ("PY_START", "__next__", 0),
            ("PY_RETURN", "__next__", 4, "0"),
            ("PY_START", "__next__", 0),
            ("RAISE", "__next__", 3, stop),
            ("PY_UNWIND", "__next__", 3, stop),
            ("RAISE", "loop_over", 3, stop),
            ("PY_RETURN", "loop_over", 7, "1"),
        ])

    def test_for_loop_over_c_iterator(self):
        # A C iterator ends silently: no event at all for its end.
        with Recorder(loop_over, events=ALL) as rec:
            self.assertEqual(loop_over(iter([1, 2])), 3)
        self.assertEqual(rec.events, [
            ("PY_START", "loop_over", 0),
            ("PY_RETURN", "loop_over", 7, "3"),
        ])

    def test_send(self):
        with Recorder(gen_echo, drive_with_send) as rec:
            self.assertEqual(drive_with_send(), ("first", 42))
        gen = "<generator gen_echo>"
        self.assertEqual(rec.events, [
            ("PY_START", "drive_with_send", 0),
            ("CALL", "drive_with_send", 1, "gen_echo", "MISSING"),
            ("CALL", "drive_with_send", 2, "send", gen),
            ("PY_START", "gen_echo", 0),
            ("PY_YIELD", "gen_echo", 1, "'first'"),
            ("C_RETURN", "drive_with_send", 2, "send", gen),
            ("CALL", "drive_with_send", 4, "send", gen),
            ("PY_RESUME", "gen_echo", 1),
            ("PY_RETURN", "gen_echo", 2, "42"),
            ("C_RAISE", "drive_with_send", 4, "send", gen),
            ("RAISE", "drive_with_send", 4, exc(StopIteration, 42)),
            ("EXCEPTION_HANDLED", "drive_with_send", None,
             exc(StopIteration, 42)),
            ("PY_RETURN", "drive_with_send", 7, "('first', 42)"),
        ])

    def test_yield_from(self):
        with Recorder(gen_values, delegator, drive_with_for) as rec:
            self.assertEqual(drive_with_for(delegator), 3)
        self.assertEqual(either_stop(rec.events), [
            ("PY_START", "drive_with_for", 0),
            ("CALL", "drive_with_for", 2, "delegator", "MISSING"),
            ("PY_START", "delegator", 0),
            ("CALL", "delegator", 1, "gen_values", "MISSING"),
            ("PY_START", "gen_values", 0),
            ("PY_YIELD", "gen_values", 1, "1"),
            ("PY_YIELD", "delegator", 1, "1"),
            ("PY_RESUME", "delegator", 1),
            ("PY_RESUME", "gen_values", 1),
            ("PY_YIELD", "gen_values", 2, "2"),
            ("PY_YIELD", "delegator", 1, "2"),
            ("PY_RESUME", "delegator", 1),
            ("PY_RESUME", "gen_values", 2),
            ("PY_RETURN", "gen_values", 3, "3"),
            (STOP, "delegator", 1, exc(StopIteration, 3)),
            ("PY_RETURN", "delegator", 2, "30"),
            (STOP, "drive_with_for", 2, exc(StopIteration, 30)),
            ("PY_RETURN", "drive_with_for", 4, "3"),
        ])

    def test_exception_out_of_generator(self):
        error = exc(KeyError, "g")
        with Recorder(gen_raising, loop_over, events=EXC_EVENTS) as rec:
            self.assertEqual(loop_over(gen_raising()), -1)
        self.assertEqual(rec.events, [
            ("PY_START", "loop_over", 0),
            ("PY_START", "gen_raising", 0),
            ("RAISE", "gen_raising", 2, error),
            *gen_exit("gen_raising", error, 2),
            ("RAISE", "loop_over", 3, error),
            ("EXCEPTION_HANDLED", "loop_over", None, error),
            ("PY_RETURN", "loop_over", 7, "-1"),
        ])

    def test_stop_iteration_raised_in_generator(self):
        # PEP 479: a StopIteration escaping a generator becomes RuntimeError.
        stop = exc(StopIteration, "s")
        error = exc(RuntimeError, "generator raised StopIteration")
        with Recorder(gen_raising_stop, loop_over, events=EXC_EVENTS) as rec:
            self.assertEqual(loop_over(gen_raising_stop()), -1)
        if NEW:
            # 3.12+ converts it in the generator's implicit handler.
            inside = [
                ("EXCEPTION_HANDLED", "gen_raising_stop", None, stop),
                ("RERAISE", "gen_raising_stop", None, error),
                ("PY_UNWIND", "gen_raising_stop", None, error),
            ]
        else:
            # 3.11 converts it in C after the frame has unwound.
            inside = [("PY_UNWIND", "gen_raising_stop", 2, stop)]
        self.assertEqual(rec.events, [
            ("PY_START", "loop_over", 0),
            ("PY_START", "gen_raising_stop", 0),
            ("RAISE", "gen_raising_stop", 2, stop),
            *inside,
            ("RAISE", "loop_over", 3, error),
            ("EXCEPTION_HANDLED", "loop_over", None, error),
            ("PY_RETURN", "loop_over", 7, "-1"),
        ])


class TestThrowAndClose(MonitoringTestCase):

    def test_throw_caught(self):
        error = KeyError("k")
        g = gen_catching()
        with Recorder(gen_catching, throw_into) as rec:
            self.assertEqual(next(g), 1)
            self.assertEqual(throw_into(g, error), 2)
        gen = "<generator gen_catching>"
        self.assertEqual(rec.events, [
            ("PY_START", "gen_catching", 0),
            ("PY_YIELD", "gen_catching", 2, "1"),
            ("PY_START", "throw_into", 0),
            ("CALL", "throw_into", 1, "throw", gen),
            ("PY_THROW", "gen_catching", 2, exc(KeyError, "k")),
            ("RAISE", "gen_catching", 2, exc(KeyError, "k")),
            ("EXCEPTION_HANDLED", "gen_catching", None, exc(KeyError, "k")),
            ("PY_YIELD", "gen_catching", 4, "2"),
            ("C_RETURN", "throw_into", 1, "throw", gen),
            ("PY_RETURN", "throw_into", 2, "2"),
        ])
        g.close()

    def test_throw_uncaught(self):
        error = exc(KeyError, "k")
        g = gen_values()
        with Recorder(gen_values, throw_uncaught) as rec:
            self.assertEqual(next(g), 1)
            self.assertEqual(throw_uncaught(g, KeyError("k")), "propagated")
        gen = "<generator gen_values>"
        self.assertEqual(rec.events, [
            ("PY_START", "gen_values", 0),
            ("PY_YIELD", "gen_values", 1, "1"),
            ("PY_START", "throw_uncaught", 0),
            ("CALL", "throw_uncaught", 2, "throw", gen),
            ("PY_THROW", "gen_values", 1, error),
            ("RAISE", "gen_values", 1, error),
            *gen_exit("gen_values", error, 1),
            ("C_RAISE", "throw_uncaught", 2, "throw", gen),
            ("RAISE", "throw_uncaught", 2, error),
            ("EXCEPTION_HANDLED", "throw_uncaught", None, error),
            ("PY_RETURN", "throw_uncaught", 5, "'propagated'"),
        ])

    def test_throw_into_unstarted(self):
        error = exc(KeyError, "k")
        g = gen_values()
        with Recorder(gen_values, throw_uncaught) as rec:
            self.assertEqual(throw_uncaught(g, KeyError("k")), "propagated")
        gen = "<generator gen_values>"
        self.assertEqual(rec.events, [
            ("PY_START", "throw_uncaught", 0),
            ("CALL", "throw_uncaught", 2, "throw", gen),
            # Not started yet: no PY_START, and outside any handler.
            ("PY_THROW", "gen_values", 0, error),
            ("RAISE", "gen_values", 0, error),
            ("PY_UNWIND", "gen_values", 0, error),
            ("C_RAISE", "throw_uncaught", 2, "throw", gen),
            ("RAISE", "throw_uncaught", 2, error),
            ("EXCEPTION_HANDLED", "throw_uncaught", None, error),
            ("PY_RETURN", "throw_uncaught", 5, "'propagated'"),
        ])

    def test_throw_through_yield_from(self):
        error = exc(KeyError, "k")
        d = delegator()
        with Recorder(gen_values, delegator, throw_uncaught) as rec:
            self.assertEqual(next(d), 1)
            self.assertEqual(throw_uncaught(d, KeyError("k")), "propagated")
        gen = "<generator delegator>"
        if NEW:
            # 3.12+: the delegating SEND's CLEANUP_THROW handler catches the
            # exception and re-raises it.
            cleanup_throw = [
                ("EXCEPTION_HANDLED", "delegator", 1, error),
                ("RERAISE", "delegator", 1, error),
            ]
        else:
            cleanup_throw = []
        self.assertEqual(rec.events, [
            ("PY_START", "delegator", 0),
            ("CALL", "delegator", 1, "gen_values", "MISSING"),
            ("PY_START", "gen_values", 0),
            ("PY_YIELD", "gen_values", 1, "1"),
            ("PY_YIELD", "delegator", 1, "1"),
            ("PY_START", "throw_uncaught", 0),
            ("CALL", "throw_uncaught", 2, "throw", gen),
            # Thrown into the innermost generator first ...
            ("PY_THROW", "gen_values", 1, error),
            ("RAISE", "gen_values", 1, error),
            *gen_exit("gen_values", error, 1),
            # ... then into the delegating one.
            ("PY_THROW", "delegator", 1, error),
            ("RAISE", "delegator", 1, error),
            *cleanup_throw,
            *gen_exit("delegator", error, 1),
            ("C_RAISE", "throw_uncaught", 2, "throw", gen),
            ("RAISE", "throw_uncaught", 2, error),
            ("EXCEPTION_HANDLED", "throw_uncaught", None, error),
            ("PY_RETURN", "throw_uncaught", 5, "'propagated'"),
        ])

    def test_close(self):
        g = gen_values()
        with Recorder(gen_values, close_it) as rec:
            self.assertEqual(next(g), 1)
            self.assertEqual(close_it(g), "closed")
        gen = "<generator gen_values>"
        if NEW:
            # 3.12+ closes a generator suspended outside any try block
            # without running it.
            inside = []
        else:
            # 3.11 always throws GeneratorExit into a suspended generator.
            error = exc(GeneratorExit)
            inside = [
                ("PY_THROW", "gen_values", 1, error),
                ("RAISE", "gen_values", 1, error),
                ("PY_UNWIND", "gen_values", 1, error),
            ]
        self.assertEqual(rec.events, [
            ("PY_START", "gen_values", 0),
            ("PY_YIELD", "gen_values", 1, "1"),
            ("PY_START", "close_it", 0),
            ("CALL", "close_it", 1, "close", gen),
            *inside,
            ("C_RETURN", "close_it", 1, "close", gen),
            ("PY_RETURN", "close_it", 2, "'closed'"),
        ])

    def test_close_with_finally(self):
        error = exc(GeneratorExit)
        g = gen_with_finally()
        with Recorder(gen_with_finally, close_it) as rec:
            self.assertEqual(next(g), 1)
            self.assertEqual(close_it(g), "closed")
        gen = "<generator gen_with_finally>"
        if NEW:
            # 3.12+: the finally block's cleanup handler has no line number.
            after_finally = [
                ("EXCEPTION_HANDLED", "gen_with_finally", None, error),
                ("RERAISE", "gen_with_finally", None, error),
            ] + gen_exit("gen_with_finally", error, None)
        else:
            # 3.11: the cleanup handler carries the finally body's line.
            after_finally = [
                ("EXCEPTION_HANDLED", "gen_with_finally", 4, error),
                ("RERAISE", "gen_with_finally", 4, error),
                ("PY_UNWIND", "gen_with_finally", 4, error),
            ]
        self.assertEqual(rec.events, [
            ("PY_START", "gen_with_finally", 0),
            ("PY_YIELD", "gen_with_finally", 2, "1"),
            ("PY_START", "close_it", 0),
            ("CALL", "close_it", 1, "close", gen),
            ("PY_THROW", "gen_with_finally", 2, error),
            ("RAISE", "gen_with_finally", 2, error),
            ("EXCEPTION_HANDLED", "gen_with_finally", None, error),
            ("RERAISE", "gen_with_finally", 4, error),
            *after_finally,
            ("C_RETURN", "close_it", 1, "close", gen),
            ("PY_RETURN", "close_it", 2, "'closed'"),
        ])

    def test_thrown_exception_is_the_object(self):
        seen = []
        error = KeyError("k")

        def record(code, offset, exception):
            if code is gen_values.__code__:
                seen.append(exception)
        self.claim(TOOL)
        mon.register_callback(TOOL, E.PY_THROW, record)
        mon.register_callback(TOOL, E.RAISE, record)
        mon.set_events(TOOL, E.PY_THROW | E.RAISE)
        g = gen_values()
        next(g)
        with self.assertRaises(KeyError) as caught:
            g.throw(error)
        mon.set_events(TOOL, 0)
        self.assertIs(caught.exception, error)
        self.assertEqual(len(seen), 2)
        self.assertIs(seen[0], error)
        self.assertIs(seen[1], error)


class TestCoroutineEvents(MonitoringTestCase):

    def test_await_coroutine(self):
        c = coro_outer()
        with Recorder(coro_inner, coro_outer, step_coro) as rec:
            self.assertEqual(step_coro(c, None), ("done", 6))
        coro = "<coroutine coro_outer>"
        self.assertEqual(either_stop(rec.events), [
            ("PY_START", "step_coro", 0),
            ("CALL", "step_coro", 2, "send", coro),
            ("PY_START", "coro_outer", 0),
            ("CALL", "coro_outer", 1, "coro_inner", "MISSING"),
            ("PY_START", "coro_inner", 0),
            ("PY_RETURN", "coro_inner", 1, "5"),
            (STOP, "coro_outer", 1, exc(StopIteration, 5)),
            ("PY_RETURN", "coro_outer", 2, "6"),
            ("C_RAISE", "step_coro", 2, "send", coro),
            ("RAISE", "step_coro", 2, exc(StopIteration, 6)),
            ("EXCEPTION_HANDLED", "step_coro", None, exc(StopIteration, 6)),
            ("PY_RETURN", "step_coro", 5, "('done', 6)"),
        ])

    def test_await_suspends(self):
        c = coro_suspending()
        with Recorder(Suspend.__await__, coro_suspending, step_coro) as rec:
            self.assertEqual(step_coro(c, None), "paused")
            self.assertEqual(step_coro(c, 7), ("done", 7))
        coro = "<coroutine coro_suspending>"
        self.assertEqual(either_stop(rec.events), [
            ("PY_START", "step_coro", 0),
            ("CALL", "step_coro", 2, "send", coro),
            ("PY_START", "coro_suspending", 0),
            ("CALL", "coro_suspending", 1, "Suspend", "MISSING"),
            ("C_RETURN", "coro_suspending", 1, "Suspend", "MISSING"),
            ("PY_START", "__await__", 0),
            ("PY_YIELD", "__await__", 1, "'paused'"),
            ("PY_YIELD", "coro_suspending", 1, "'paused'"),
            ("C_RETURN", "step_coro", 2, "send", coro),
            ("PY_RETURN", "step_coro", 5, "'paused'"),
            ("PY_START", "step_coro", 0),
            ("CALL", "step_coro", 2, "send", coro),
            ("PY_RESUME", "coro_suspending", 1),
            ("PY_RESUME", "__await__", 1),
            ("PY_RETURN", "__await__", 2, "7"),
            (STOP, "coro_suspending", 1, exc(StopIteration, 7)),
            ("PY_RETURN", "coro_suspending", 2, "7"),
            ("C_RAISE", "step_coro", 2, "send", coro),
            ("RAISE", "step_coro", 2, exc(StopIteration, 7)),
            ("EXCEPTION_HANDLED", "step_coro", None, exc(StopIteration, 7)),
            ("PY_RETURN", "step_coro", 5, "('done', 7)"),
        ])

    def test_async_generator(self):
        ag = agen_values()
        with Recorder(agen_values, step_agen) as rec:
            results = [step_agen(ag), step_agen(ag), step_agen(ag)]
        self.assertEqual(results, [1, 2, "end"])
        agen = "<async_generator agen_values>"
        asend = "<async_generator_asend>"
        wrapped = "<async_generator_wrapped_value>"

        def step(resume, yield_or_return, error, result):
            return [
                ("PY_START", "step_agen", 0),
                ("CALL", "step_agen", 1, "__anext__", agen),
                ("C_RETURN", "step_agen", 1, "__anext__", agen),
                ("CALL", "step_agen", 3, "send", asend),
                resume,
                yield_or_return,
                ("C_RAISE", "step_agen", 3, "send", asend),
                ("RAISE", "step_agen", 3, error),
                ("EXCEPTION_HANDLED", "step_agen", None, error),
                ("PY_RETURN", "step_agen", 8, result),
            ]
        self.assertEqual(rec.events, [
            *step(("PY_START", "agen_values", 0),
                  ("PY_YIELD", "agen_values", 1, wrapped),
                  exc(StopIteration, 1), "1"),
            *step(("PY_RESUME", "agen_values", 1),
                  ("PY_YIELD", "agen_values", 2, wrapped),
                  exc(StopIteration, 2), "2"),
            *step(("PY_RESUME", "agen_values", 2),
                  ("PY_RETURN", "agen_values", 2, "None"),
                  exc(StopAsyncIteration), "'end'"),
        ])


class TestExceptionEvents(MonitoringTestCase):

    def test_raise_through_frames(self):
        error = exc(KeyError, "deep")
        with Recorder(raise_here, pass_through, catch_it,
                      events=EXC_EVENTS) as rec:
            self.assertEqual(catch_it(), ("deep",))
        self.assertEqual(rec.events, [
            ("PY_START", "catch_it", 0),
            ("PY_START", "pass_through", 0),
            ("PY_START", "raise_here", 0),
            ("RAISE", "raise_here", 1, error),
            ("PY_UNWIND", "raise_here", 1, error),
            ("RAISE", "pass_through", 1, error),
            ("PY_UNWIND", "pass_through", 1, error),
            ("RAISE", "catch_it", 2, error),
            ("EXCEPTION_HANDLED", "catch_it", None, error),
            ("PY_RETURN", "catch_it", 5, "('deep',)"),
        ])

    def test_exception_argument_is_the_exception(self):
        seen = []

        def record(code, offset, exception):
            if code in (raise_here.__code__, catch_it.__code__):
                seen.append(exception)
        self.claim(TOOL)
        for name in ("RAISE", "PY_UNWIND", "EXCEPTION_HANDLED"):
            mon.register_callback(TOOL, getattr(E, name), record)
        mon.set_events(TOOL, events_of("RAISE", "PY_UNWIND",
                                       "EXCEPTION_HANDLED"))
        catch_it()
        mon.set_events(TOOL, 0)
        self.assertEqual(len(seen), 4)
        self.assertIsInstance(seen[0], KeyError)
        for other in seen[1:]:
            self.assertIs(other, seen[0])

    def test_unwind_through_with_after_specialized_call(self):
        # The exception comes out of a builtin call that the specializer
        # turned into a PRECALL that calls by itself; the frame is left by
        # the RERAISE of the with statement's cleanup, and PY_UNWIND must
        # be reported there, not at the call (RERAISE moves prev_instr back
        # to the call that raised).
        class Quiet:
            def __enter__(self):
                return self
            def __exit__(self, *exc_info):
                return False

        def failing():
            raise ValueError("x")
            yield

        def leave_by_reraise(it):
            with Quiet():
                next(it)

        for _ in range(20):     # specialize the call to next()
            with self.assertRaises(ValueError):
                leave_by_reraise(failing())
        offsets = []

        def on_unwind(code, offset, exception):
            if code is leave_by_reraise.__code__:
                offsets.append(offset)
        self.claim(TOOL)
        mon.register_callback(TOOL, E.PY_UNWIND, on_unwind)
        mon.set_events(TOOL, E.PY_UNWIND)
        with self.assertRaises(ValueError):
            leave_by_reraise(failing())
        mon.set_events(TOOL, 0)
        names = {i.offset: i.opname for i in dis.get_instructions(leave_by_reraise)}
        self.assertEqual(len(offsets), 1)
        self.assertEqual(names[offsets[0]], "RERAISE")

    def test_raise_in_operation(self):
        error = exc(KeyError, "missing")
        with Recorder(raise_in_operation) as rec:
            self.assertEqual(raise_in_operation(), "handled")
        self.assertEqual(rec.events, [
            ("PY_START", "raise_in_operation", 0),
            ("RAISE", "raise_in_operation", 2, error),
            ("EXCEPTION_HANDLED", "raise_in_operation", None, error),
            ("PY_RETURN", "raise_in_operation", 5, "'handled'"),
        ])

    def test_bare_raise_is_reraise(self):
        error = exc(KeyError, "a")
        with Recorder(reraise_bare, catcher, events=EXC_EVENTS) as rec:
            self.assertEqual(catcher(reraise_bare), "caught")
        self.assertEqual(rec.events, [
            ("PY_START", "catcher", 0),
            ("PY_START", "reraise_bare", 0),
            ("RAISE", "reraise_bare", 2, error),
            ("EXCEPTION_HANDLED", "reraise_bare", None, error),
            ("RERAISE", "reraise_bare", 4, error),
            # The except block's cleanup handler (no line number).
            ("EXCEPTION_HANDLED", "reraise_bare", None, error),
            ("RERAISE", "reraise_bare", None, error),
            ("PY_UNWIND", "reraise_bare", None, error),
            ("RAISE", "catcher", 2, error),
            ("EXCEPTION_HANDLED", "catcher", None, error),
            ("PY_RETURN", "catcher", 5, "'caught'"),
        ])

    def test_finally_reraises(self):
        error = exc(KeyError, "b")
        with Recorder(reraise_finally, catcher, events=EXC_EVENTS) as rec:
            self.assertEqual(catcher(reraise_finally), "caught")
        # The cleanup handler of the finally block: 3.12+ gives it no line
        # number, 3.11 the line of the finally body.
        cleanup = None if NEW else 4
        self.assertEqual(rec.events, [
            ("PY_START", "catcher", 0),
            ("PY_START", "reraise_finally", 0),
            ("RAISE", "reraise_finally", 2, error),
            ("EXCEPTION_HANDLED", "reraise_finally", None, error),
            ("RERAISE", "reraise_finally", 4, error),
            ("EXCEPTION_HANDLED", "reraise_finally", cleanup, error),
            ("RERAISE", "reraise_finally", cleanup, error),
            ("PY_UNWIND", "reraise_finally", cleanup, error),
            ("RAISE", "catcher", 2, error),
            ("EXCEPTION_HANDLED", "catcher", None, error),
            ("PY_RETURN", "catcher", 5, "'caught'"),
        ])

    def test_no_matching_except(self):
        error = exc(KeyError, "e")
        with Recorder(except_no_match, catcher, events=EXC_EVENTS) as rec:
            self.assertEqual(catcher(except_no_match), "caught")
        self.assertEqual(rec.events, [
            ("PY_START", "catcher", 0),
            ("PY_START", "except_no_match", 0),
            ("RAISE", "except_no_match", 2, error),
            ("EXCEPTION_HANDLED", "except_no_match", None, error),
            ("RERAISE", "except_no_match", 3, error),
            ("EXCEPTION_HANDLED", "except_no_match", None, error),
            ("RERAISE", "except_no_match", None, error),
            ("PY_UNWIND", "except_no_match", None, error),
            ("RAISE", "catcher", 2, error),
            ("EXCEPTION_HANDLED", "catcher", None, error),
            ("PY_RETURN", "catcher", 5, "'caught'"),
        ])

    def test_with_exit_reraises(self):
        error = exc(KeyError, "c")
        with Recorder(reraise_with, catcher, Manager.__enter__,
                      Manager.__exit__, events=EXC_EVENTS) as rec:
            self.assertEqual(catcher(reraise_with), "caught")
        self.assertEqual(rec.events, [
            ("PY_START", "catcher", 0),
            ("PY_START", "reraise_with", 0),
            ("PY_START", "__enter__", 0),
            ("PY_RETURN", "__enter__", 1, "<Manager>"),
            ("RAISE", "reraise_with", 2, error),
            ("EXCEPTION_HANDLED", "reraise_with", 1, error),
            ("PY_START", "__exit__", 0),
            ("PY_RETURN", "__exit__", 1, "False"),
            ("RERAISE", "reraise_with", 1, error),
            ("EXCEPTION_HANDLED", "reraise_with", None, error),
            ("RERAISE", "reraise_with", None, error),
            ("PY_UNWIND", "reraise_with", None, error),
            ("RAISE", "catcher", 2, error),
            ("EXCEPTION_HANDLED", "catcher", None, error),
            ("PY_RETURN", "catcher", 5, "'caught'"),
        ])

    def test_with_exit_suppresses(self):
        error = exc(KeyError, "d")
        with Recorder(suppress_with, Manager.__enter__, Manager.__exit__,
                      events=EXC_EVENTS) as rec:
            self.assertEqual(suppress_with(), "suppressed")
        self.assertEqual(rec.events, [
            ("PY_START", "suppress_with", 0),
            ("PY_START", "__enter__", 0),
            ("PY_RETURN", "__enter__", 1, "<Manager>"),
            ("RAISE", "suppress_with", 2, error),
            ("EXCEPTION_HANDLED", "suppress_with", 1, error),
            ("PY_START", "__exit__", 0),
            ("PY_RETURN", "__exit__", 1, "True"),
            ("PY_RETURN", "suppress_with", 3, "'suppressed'"),
        ])

    def test_with_calls_are_not_call_events(self):
        # __enter__ and __exit__ run without CALL events.
        with Recorder(suppress_with, events=E.CALL) as rec:
            suppress_with()
        self.assertEqual(rec.events, [
            ("CALL", "suppress_with", 1, "Manager", "True"),
            ("C_RETURN", "suppress_with", 1, "Manager", "True"),
            ("CALL", "suppress_with", 2, "KeyError", "'d'"),
            ("C_RETURN", "suppress_with", 2, "KeyError", "'d'"),
        ])


# ---------------------------------------------------------------------------
# Rules

class TestDispatch(MonitoringTestCase):

    def test_callback_order(self):
        order = []
        code = callee.__code__
        for tool in (4, 1, 3):
            self.claim(tool)
            mon.register_callback(
                tool, E.PY_START,
                lambda c, o, tool=tool: order.append(tool) if c is code else None)
            mon.set_events(tool, E.PY_START)
        callee()
        # As upstream (3.12-3.15): the highest tool id first.
        self.assertEqual(order, [4, 3, 1])

    def test_same_event_two_tools(self):
        first = Recorder(callee, tool=0, events=E.PY_START | E.PY_RETURN)
        second = Recorder(callee, tool=5, events=E.PY_RETURN)
        with first, second:
            callee(4, 5)
        self.assertEqual(first.events, [("PY_START", "callee", 0),
                                        ("PY_RETURN", "callee", 2, "9")])
        self.assertEqual(second.events, [("PY_RETURN", "callee", 2, "9")])

    def test_no_recursion(self):
        # Nothing a callback runs is reported, to any tool.
        nested = []

        def start(code, offset):
            if code is call_plain.__code__:
                nested.append(two_calls())
                try:
                    raise_here()
                except KeyError:
                    nested.append("raised")
        self.claim(1)
        mon.register_callback(1, E.PY_START, start)
        mon.set_events(1, E.PY_START)
        with Recorder(call_plain, two_calls, raise_here, callee,
                      tool=4) as rec:
            self.assertEqual(call_plain(), 39)
        self.assertEqual(nested, [6, "raised"])
        self.assertEqual([e[:2] for e in rec.events if e[1] != "callee"], [
            ("PY_START", "call_plain"),
            ("CALL", "call_plain"),
            ("CALL", "call_plain"),
            ("CALL", "call_plain"),
            ("PY_RETURN", "call_plain"),
        ])
        self.assertEqual(len(rec.events), 5 + 3 * 2)

    def test_other_return_values_ignored(self):
        for value in (42, "x", True, mon.MISSING, object()):
            with self.subTest(value=value):
                rec = Recorder(callee, call_builtin_raises, call_plain)
                rec.result = value
                with rec:
                    self.assertEqual(call_plain(), 39)
                    self.assertEqual(call_plain(), 39)
                    self.assertEqual(call_builtin_raises(), "caught")
                self.assertEqual(len(rec.events), 2 * 11 + 6)
                self.assertEqual(rec.events[:11], rec.events[11:22])


class TestDisable(MonitoringTestCase):

    def _call_counter(self, tool, disable_arg0=None):
        seen = []

        def call(code, offset, func, arg0):
            if code is two_calls.__code__:
                seen.append(arg0)
                if arg0 == disable_arg0:
                    return mon.DISABLE
        self.claim(tool)
        mon.register_callback(tool, E.CALL, call)
        mon.set_events(tool, E.CALL)
        return seen

    def test_disable_one_location(self):
        disabling = self._call_counter(0, disable_arg0=1)
        other = self._call_counter(1)
        two_calls()
        self.assertEqual((disabling, other), ([1, 2], [1, 2]))
        two_calls()
        # Only that location, only for that tool.
        self.assertEqual((disabling, other), ([1, 2, 2], [1, 2, 1, 2]))
        two_calls()
        self.assertEqual((disabling, other), ([1, 2, 2, 2], [1, 2] * 3))
        mon.restart_events()
        two_calls()
        self.assertEqual(disabling, [1, 2, 2, 2, 1, 2])
        self.assertEqual(other, [1, 2] * 4)

    def test_disable_py_start_keeps_other_events(self):
        log = []

        def start(code, offset):
            if code is callee.__code__:
                log.append("start")
                return mon.DISABLE

        def ret(code, offset, value):
            if code is callee.__code__:
                log.append(value)
        self.claim(TOOL)
        mon.register_callback(TOOL, E.PY_START, start)
        mon.register_callback(TOOL, E.PY_RETURN, ret)
        mon.set_events(TOOL, E.PY_START | E.PY_RETURN)
        callee(1, 1)
        callee(2, 2)
        mon.restart_events()
        callee(3, 3)
        self.assertEqual(log, ["start", 2, 4, "start", 6])

    def test_disable_yield_location(self):
        # Each yield is its own location.
        seen = []

        def on_yield(code, offset, value):
            if code is gen_values.__code__:
                seen.append(value)
                if value == 1:
                    return mon.DISABLE
        self.claim(TOOL)
        mon.register_callback(TOOL, E.PY_YIELD, on_yield)
        mon.set_events(TOOL, E.PY_YIELD)
        self.assertEqual(list(gen_values()), [1, 2])
        self.assertEqual(list(gen_values()), [1, 2])
        self.assertEqual(seen, [1, 2, 2])

    def test_disable_local_event(self):
        seen = []

        def start(code, offset):
            if code is callee.__code__:
                seen.append(code.co_name)
                return mon.DISABLE
        self.claim(TOOL)
        mon.register_callback(TOOL, E.PY_START, start)
        self.set_local(TOOL, callee, E.PY_START)
        callee()
        callee()
        self.assertEqual(seen, ["callee"])
        self.assertEqual(mon.get_local_events(TOOL, callee.__code__),
                         E.PY_START)
        mon.restart_events()
        callee()
        self.assertEqual(seen, ["callee", "callee"])

    def _check_disable_refused(self, event, events, func, codes, expected):
        # DISABLE returned by a callback of a non-local event raises
        # ValueError in the monitored code and unregisters the callback.
        def callback(code, offset, *args):
            if code in codes:
                return mon.DISABLE
        self.claim(TOOL)
        mon.register_callback(TOOL, getattr(E, event), callback)
        mon.set_events(TOOL, events)
        with self.assertRaises(ValueError):
            func()
        self.assertIsNone(
            mon.register_callback(TOOL, getattr(E, event), None))
        self.assertEqual(mon.get_events(TOOL), events)
        mon.set_events(TOOL, 0)
        self.assertEqual(func(), expected)
        mon.free_tool_id(TOOL)

    def test_disable_refused_for_non_local_events(self):
        def throw():
            g = gen_values()
            next(g)
            return throw_uncaught(g, KeyError("t"))

        def pop():
            try:
                {}.pop("k")
            except KeyError:
                return "normal"
        cases = [
            ("RAISE", E.RAISE, raise_in_operation,
             {raise_in_operation.__code__}, "handled"),
            ("EXCEPTION_HANDLED", E.EXCEPTION_HANDLED, raise_in_operation,
             {raise_in_operation.__code__}, "handled"),
            ("PY_UNWIND", E.PY_UNWIND, lambda: catcher(raise_here),
             {raise_here.__code__}, "caught"),
            ("RERAISE", E.RERAISE, lambda: catcher(reraise_bare),
             {reraise_bare.__code__}, "caught"),
            ("PY_THROW", E.PY_THROW, throw,
             {gen_values.__code__}, "propagated"),
            ("C_RAISE", E.CALL, pop, {pop.__code__}, "normal"),
            ("C_RETURN", E.CALL, call_builtins,
             {call_builtins.__code__}, 7),
        ]
        for event, events, func, codes, expected in cases:
            with self.subTest(event=event):
                self._check_disable_refused(event, events, func, codes,
                                            expected)

    def test_disable_from_call_keeps_that_calls_c_events(self):
        # A CALL callback that returns DISABLE still receives the C_RETURN
        # or C_RAISE of that same call; later calls there send neither.
        def pop():
            try:
                {}.pop("k")
            except KeyError:
                return "caught"

        codes = {call_builtins.__code__, pop.__code__}
        seen = []

        def record(name, result=None):
            def callback(code, offset, func, arg0):
                if code in codes:
                    seen.append((name, describe(func)))
                    return result
            return callback
        self.claim(TOOL)
        mon.register_callback(TOOL, E.CALL, record("CALL", mon.DISABLE))
        mon.register_callback(TOOL, E.C_RETURN, record("C_RETURN"))
        mon.register_callback(TOOL, E.C_RAISE, record("C_RAISE"))
        mon.set_events(TOOL, E.CALL | E.C_RETURN | E.C_RAISE)
        for _ in range(2):
            self.assertEqual(call_builtins(), 7)
            self.assertEqual(pop(), "caught")
        mon.set_events(TOOL, 0)
        self.assertEqual(seen, [
            ("CALL", "len"), ("C_RETURN", "len"),
            ("CALL", "get"), ("C_RETURN", "get"),
            ("CALL", "sorted"), ("C_RETURN", "sorted"),
            ("CALL", "globals"), ("C_RETURN", "globals"),
            ("CALL", "pop"), ("C_RAISE", "pop"),
        ])

    def test_disable_refused_replaces_exception(self):
        seen = []

        def on_raise(code, offset, exception):
            if code is raise_in_operation.__code__:
                seen.append(exception)
                return mon.DISABLE
        self.claim(TOOL)
        mon.register_callback(TOOL, E.RAISE, on_raise)
        mon.set_events(TOOL, E.RAISE)
        with self.assertRaises(ValueError) as caught:
            raise_in_operation()
        self.assertEqual(len(seen), 1)
        self.assertIsInstance(seen[0], KeyError)
        self.assertIn("RAISE", str(caught.exception))

    # Upstream (3.13, 3.14) forgets such a DISABLE when the change re-instruments
    # the code (always when the callback changes the events of code running on
    # the stack), although only restart_events() is documented to re-enable a
    # disabled location.
    @unittest.skipUnless(FORK, "upstream loses a DISABLE returned after the "
                               "callback switched its event off")
    def test_disable_after_the_callback_switched_its_event_off(self):
        # The callback first switches its event off (globally or in the
        # code object), then returns DISABLE: the location stays disabled
        # when the event comes back on, until restart_events().
        def loop():
            t = 0
            for i in range(3):
                if i:
                    t += i
                else:
                    t -= i
            return t
        code = loop.__code__

        def run(event, local):
            seen = []
            first = []

            def callback(code_, *args):
                if code_ is code:
                    seen.append(args)
                    if not first:
                        first.append(args)
                        if local:
                            mon.set_local_events(TOOL, code, 0)
                        else:
                            mon.set_events(TOOL, 0)
                        return mon.DISABLE

            def switch_on():
                if local:
                    self.set_local(TOOL, code, event)
                else:
                    mon.set_events(TOOL, event)
            self.claim(TOOL)
            try:
                mon.register_callback(TOOL, event, callback)
                switch_on()
                self.assertEqual(loop(), 3)
                self.assertEqual(seen, first)
                switch_on()
                self.assertEqual(loop(), 3)
                self.assertTrue(seen[1:])
                self.assertNotIn(first[0], seen[1:])
                mon.restart_events()
                del seen[:]
                self.assertEqual(loop(), 3)
                self.assertIn(first[0], seen)
            finally:
                mon.set_local_events(TOOL, code, 0)
                mon.free_tool_id(TOOL)
                mon.restart_events()

        for name in ("LINE", "INSTRUCTION", "JUMP", "BRANCH_LEFT", "BRANCH_RIGHT"):
            for local in (False, True):
                with self.subTest(event=name, local=local):
                    run(getattr(E, name), local)


@unittest.skipUnless(FORK or sys.version_info >= (3, 15),
                     "local exception events are new in CPython 3.15")
class TestLocalExceptionEvents(MonitoringTestCase):

    def test_local_raise_only_that_code(self):
        rec = Recorder(raise_here, call_plain, events=0)
        with rec:
            self.set_local(TOOL, raise_here, E.RAISE | E.PY_UNWIND)
            for _ in range(2):
                with self.assertRaises(KeyError):
                    raise_here()
            call_plain()
        self.assertEqual([e[:2] for e in rec.events],
                         [("RAISE", "raise_here"), ("PY_UNWIND", "raise_here")] * 2)

    def test_disable_local_exception_event(self):
        rec = Recorder(raise_here, events=0)
        rec.result = mon.DISABLE
        with rec:
            self.set_local(TOOL, raise_here, E.RAISE | E.PY_UNWIND)
            for _ in range(3):
                with self.assertRaises(KeyError):
                    raise_here()
            # Switched off for the code object, until restart_events().
            self.assertEqual([e[:2] for e in rec.events],
                             [("RAISE", "raise_here"), ("PY_UNWIND", "raise_here")])
            mon.restart_events()
            with self.assertRaises(KeyError):
                raise_here()
        if FORK:
            # The contract: until restart_events().  (Upstream 3.15.2 keeps
            # them off after a restart.)
            self.assertEqual(len(rec.events), 4)

    @unittest.skipUnless(FORK, "upstream 3.15.2 accepts DISABLE here")
    def test_global_exception_event_still_refuses_disable(self):
        rec = Recorder(raise_here, events=E.RAISE)
        rec.result = mon.DISABLE
        with rec:
            with self.assertRaises(ValueError):
                raise_here()

    def test_handled_and_reraise_local(self):
        rec = Recorder(reraise_finally, events=0)
        with rec:
            self.set_local(TOOL, reraise_finally,
                           E.EXCEPTION_HANDLED | E.RERAISE)
            with self.assertRaises(Exception):
                reraise_finally()
        self.assertEqual({e[0] for e in rec.events}, {"EXCEPTION_HANDLED", "RERAISE"})


class TestLocalEvents(MonitoringTestCase):

    def test_local_adds_to_global(self):
        rec = Recorder(callee, call_plain, events=E.PY_RETURN)
        with rec:
            self.set_local(TOOL, callee, E.PY_START)
            self.set_local(TOOL, call_plain, E.CALL)
            self.assertEqual(mon.get_local_events(TOOL, callee.__code__),
                             E.PY_START)
            self.assertEqual(mon.get_local_events(TOOL, call_plain.__code__),
                             E.CALL)
            self.assertEqual(mon.get_events(TOOL), E.PY_RETURN)
            call_plain()
        self.assertEqual(rec.events, [
            ("CALL", "call_plain", 1, "callee", "10"),
            ("PY_START", "callee", 0),
            ("PY_RETURN", "callee", 2, "30"),
            ("CALL", "call_plain", 2, "callee", "MISSING"),
            ("PY_START", "callee", 0),
            ("PY_RETURN", "callee", 2, "3"),
            ("CALL", "call_plain", 3, "callee", "5"),
            ("PY_START", "callee", 0),
            ("PY_RETURN", "callee", 2, "6"),
            ("PY_RETURN", "call_plain", 4, "39"),
        ])

    def test_local_only_that_code(self):
        rec = Recorder(callee, two_calls, call_plain, events=0)
        with rec:
            self.set_local(TOOL, callee, E.PY_START)
            two_calls()
            self.set_local(TOOL, callee, 0)
            call_plain()
        self.assertEqual(rec.events, [("PY_START", "callee", 0)] * 2)

    def test_local_events_per_tool(self):
        first = Recorder(callee, call_plain, tool=0, events=0)
        second = Recorder(callee, call_plain, tool=4, events=0)
        with first, second:
            self.set_local(0, callee, E.PY_RETURN)
            self.set_local(4, call_plain, E.PY_RETURN)
            call_plain()
        self.assertEqual(first.events,
                         [("PY_RETURN", "callee", 2, v) for v in "30 3 6".split()])
        self.assertEqual(second.events,
                         [("PY_RETURN", "call_plain", 4, "39")])

    def test_local_call_brings_c_events(self):
        rec = Recorder(call_builtins, negate, events=0)
        with rec:
            self.set_local(TOOL, call_builtins, E.CALL)
            call_builtins()
        self.assertEqual([e[0] for e in rec.events],
                         ["CALL", "C_RETURN"] * 4)


class TestRestartEventsForTool(MonitoringTestCase):
    """restart_events(tool_id) re-enables what that tool disabled (fork)."""

    def _disabling(self, tool, seen):
        def start(code, offset):
            if code is callee.__code__:
                seen.append(tool)
                return mon.DISABLE
        self.claim(tool)
        mon.register_callback(tool, E.PY_START, start)
        mon.set_events(tool, E.PY_START)

    @unittest.skipUnless(FORK, "restart_events(tool_id) is a fork extension")
    def test_restart_one_tool(self):
        seen = []
        self._disabling(0, seen)
        self._disabling(2, seen)
        callee()
        self.assertEqual(sorted(seen), [0, 2])
        seen.clear()
        callee()
        self.assertEqual(seen, [])
        mon.restart_events(2)
        callee()
        self.assertEqual(seen, [2])
        callee()
        self.assertEqual(seen, [2])
        mon.restart_events(0)
        callee()
        self.assertEqual(seen, [2, 0])
        mon.restart_events()
        callee()
        self.assertEqual(sorted(seen[2:]), [0, 2])

    @unittest.skipUnless(FORK, "restart_events(tool_id) is a fork extension")
    def test_restart_other_tool_changes_nothing(self):
        seen = []
        self._disabling(0, seen)
        self.claim(4)
        callee()
        mon.restart_events(4)
        callee()
        self.assertEqual(seen, [0])

    def test_restart_all(self):
        seen = []
        self._disabling(0, seen)
        self._disabling(2, seen)
        callee()
        callee()
        mon.restart_events()
        callee()
        self.assertEqual(sorted(seen), [0, 0, 2, 2])


class TestRaisingCallbacks(MonitoringTestCase):

    def _run(self, raise_on, *targets, events=ALL):
        rec = Recorder(callee, call_plain, *targets, events=events)
        rec.raise_on = raise_on
        with rec:
            with self.assertRaises(Boom) as caught:
                call_plain()
        self.assertEqual(caught.exception.args, (raise_on[0],))
        # The interpreter is fine afterwards.
        self.assertEqual(call_plain(), 39)
        return rec.events

    def test_from_py_start(self):
        boom = exc(Boom, "PY_START")
        self.assertEqual(self._run(("PY_START", "callee")), [
            ("PY_START", "call_plain", 0),
            ("CALL", "call_plain", 1, "callee", "10"),
            ("PY_START", "callee", 0),
            # The callee's body does not run.
            ("RAISE", "callee", 0, boom),
            ("PY_UNWIND", "callee", 0, boom),
            ("RAISE", "call_plain", 1, boom),
            ("PY_UNWIND", "call_plain", 1, boom),
        ])

    def test_from_call(self):
        boom = exc(Boom, "CALL")
        self.assertEqual(self._run(("CALL", "call_plain")), [
            ("PY_START", "call_plain", 0),
            ("CALL", "call_plain", 1, "callee", "10"),
            # Before the callee runs.
            ("RAISE", "call_plain", 1, boom),
            ("PY_UNWIND", "call_plain", 1, boom),
        ])

    def test_from_py_return(self):
        boom = exc(Boom, "PY_RETURN")
        self.assertEqual(self._run(("PY_RETURN", "callee")), [
            ("PY_START", "call_plain", 0),
            ("CALL", "call_plain", 1, "callee", "10"),
            ("PY_START", "callee", 0),
            ("PY_RETURN", "callee", 2, "30"),
            ("RAISE", "callee", 2, boom),
            ("PY_UNWIND", "callee", 2, boom),
            ("RAISE", "call_plain", 1, boom),
            ("PY_UNWIND", "call_plain", 1, boom),
        ])

    def test_from_c_return(self):
        boom = exc(Boom, "C_RETURN")
        rec = Recorder(call_builtins, negate)
        rec.raise_on = ("C_RETURN", "call_builtins")
        with rec:
            with self.assertRaises(Boom):
                call_builtins()
        self.assertEqual(rec.events, [
            ("PY_START", "call_builtins", 0),
            ("CALL", "call_builtins", 1, "len", "'abc'"),
            ("C_RETURN", "call_builtins", 1, "len", "'abc'"),
            ("RAISE", "call_builtins", 1, boom),
            ("PY_UNWIND", "call_builtins", 1, boom),
        ])
        self.assertEqual(call_builtins(), 7)

    def test_from_c_raise_replaces_exception(self):
        boom = exc(Boom, "C_RAISE")
        rec = Recorder(call_builtin_raises)
        rec.raise_on = ("C_RAISE", "call_builtin_raises")
        with rec:
            with self.assertRaises(Boom) as caught:
                call_builtin_raises()
        self.assertIsNone(caught.exception.__context__)
        self.assertEqual(rec.events, [
            ("PY_START", "call_builtin_raises", 0),
            ("CALL", "call_builtin_raises", 2, "int", "'x'"),
            ("C_RAISE", "call_builtin_raises", 2, "int", "'x'"),
            ("RAISE", "call_builtin_raises", 2, boom),
            ("EXCEPTION_HANDLED", "call_builtin_raises", None, boom),
            ("RERAISE", "call_builtin_raises", 3, boom),
            ("EXCEPTION_HANDLED", "call_builtin_raises", None, boom),
            ("RERAISE", "call_builtin_raises", None, boom),
            ("PY_UNWIND", "call_builtin_raises", None, boom),
        ])
        self.assertEqual(call_builtin_raises(), "caught")

    def test_from_raise_replaces_exception(self):
        rec = Recorder(raise_in_operation, events=EXC_EVENTS)
        rec.raise_on = ("RAISE", "raise_in_operation")
        with rec:
            with self.assertRaises(Boom) as caught:
                raise_in_operation()
        self.assertIsNone(caught.exception.__context__)
        boom = exc(Boom, "RAISE")
        self.assertEqual(rec.events[:3], [
            ("PY_START", "raise_in_operation", 0),
            ("RAISE", "raise_in_operation", 2, exc(KeyError, "missing")),
            ("EXCEPTION_HANDLED", "raise_in_operation", None, boom),
        ])
        self.assertEqual(rec.events[-1],
                         ("PY_UNWIND", "raise_in_operation", None, boom))
        self.assertEqual(raise_in_operation(), "handled")

    def test_from_exception_handled(self):
        rec = Recorder(raise_in_operation, events=EXC_EVENTS)
        rec.raise_on = ("EXCEPTION_HANDLED", "raise_in_operation")
        with rec:
            with self.assertRaises(Boom):
                raise_in_operation()
        self.assertEqual(raise_in_operation(), "handled")

    def test_from_py_yield(self):
        rec = Recorder(gen_values)
        rec.raise_on = ("PY_YIELD", "gen_values")
        g = gen_values()
        with rec:
            with self.assertRaises(Boom):
                next(g)
        # The generator is finished.
        self.assertIsNone(g.gi_frame)
        self.assertEqual(list(g), [])
        self.assertEqual(rec.events[:3], [
            ("PY_START", "gen_values", 0),
            ("PY_YIELD", "gen_values", 1, "1"),
            ("RAISE", "gen_values", 1, exc(Boom, "PY_YIELD")),
        ])
        self.assertEqual(list(gen_values()), [1, 2])

    def test_from_py_resume(self):
        g = gen_values()
        self.assertEqual(next(g), 1)
        rec = Recorder(gen_values)
        rec.raise_on = ("PY_RESUME", "gen_values")
        with rec:
            with self.assertRaises(Boom):
                next(g)
        self.assertIsNone(g.gi_frame)
        self.assertEqual(rec.events[:2], [
            ("PY_RESUME", "gen_values", 1),
            ("RAISE", "gen_values", 1, exc(Boom, "PY_RESUME")),
        ])
        self.assertEqual(list(gen_values()), [1, 2])


class TestBytecodeAfterInstrumentation(MonitoringTestCase):

    @unittest.skipUnless(FORK, "3.11's superinstructions")
    def test_disabled_lines_give_back_superinstructions(self):
        def add(a, b):
            c = a + b
            return c

        def adaptive_ops():
            return [i.opname for i in dis.get_instructions(add, adaptive=True)]
        for _ in range(20):
            add(1, 2)
        before = adaptive_ops()
        self.assertIn("LOAD_FAST__LOAD_FAST", before)
        self.claim(TOOL)
        mon.register_callback(TOOL, E.LINE, lambda code, line: mon.DISABLE)
        self.set_local(TOOL, add, E.LINE)
        add(1, 2)
        # Every line is DISABLEd, and no longer instrumented: quickening's
        # pairs are fused again, as before the tool came.
        self.assertEqual(adaptive_ops(), before)
        # The same when the events go away.
        mon.restart_events()
        add(1, 2)
        self.set_local(TOOL, add, 0)
        self.assertEqual(adaptive_ops(), before)


class TestCodeRunByCallbacks(MonitoringTestCase):
    """Callbacks get no events, even in code that is instrumented for some:
    such frames run the instruction under the layers (specialized, where the
    interpreter specializes under layers) and must leave them in place."""

    def check(self, event_name):
        class A:
            def __init__(self):
                self.value = 1

        class B:
            def __init__(self):
                self.other = 0
                self.value = 2

        def get(obj):
            return obj.value

        for _ in range(50):     # specialize the attribute load for A
            get(A())
        seen = []
        inner = []

        def callback(code, arg):
            if code is get.__code__:
                seen.append(arg)
                # No events in here, and B's instance misses A's
                # specialization.
                inner.append(get(B()))
        self.claim(TOOL)
        mon.register_callback(TOOL, getattr(E, event_name), callback)
        self.set_local(TOOL, get, getattr(E, event_name))
        self.assertEqual(get(A()), 1)
        first = list(seen)
        self.assertTrue(first)
        self.assertEqual(inner, [2] * len(first))
        seen.clear()
        self.assertEqual(get(A()), 1)
        self.assertEqual(seen, first)
        self.assertEqual(get(B()), 2)
        self.assertEqual(len(seen), 2 * len(first))

    def test_instruction(self):
        self.check("INSTRUCTION")

    def test_line(self):
        self.check("LINE")

    def instrumented_opnames(self, func):
        return {i.opname for i in dis.get_instructions(func, adaptive=True)
                if i.opname.startswith("INSTRUMENTED_")}

    def test_code_only_callbacks_run(self):
        # A function that only callbacks call gets no events there; once
        # called outside one, it gets them like any other.
        def helper(n):
            total = 0
            for i in range(n):
                total += i
            return total
        # Code of its own: this test's constants outlive a run (-R).
        helper = types.FunctionType(helper.__code__.replace(), globals())

        seen = []
        helped = []

        def callback(code, *args):
            seen.append(code.co_name)
            if code is callee.__code__:
                helped.append(helper(3))
        self.claim(TOOL)
        for event in (E.PY_START, E.LINE, E.PY_RETURN):
            mon.register_callback(TOOL, event, callback)
        mon.set_events(TOOL, E.PY_START | E.LINE | E.PY_RETURN)
        self.assertEqual(callee(), 3)
        self.assertEqual(helped, [3] * 4)
        self.assertNotIn("helper", seen)
        if FORK:
            # Left as it was: it runs as fast as without a tool.
            self.assertEqual(self.instrumented_opnames(helper), set())
        seen.clear()
        self.assertEqual(helper(2), 1)
        mon.set_events(TOOL, 0)
        # start, the lines (the loop's twice), and the return
        self.assertEqual(seen.count("helper"), 2 + 2 + 2 * 2 + 1)

    def test_trace_function_code(self):
        # The same for sys.settrace functions, as under 3.11's tracing.
        def helper(event):
            return event.upper()

        calls = []

        def tracer(frame, event, arg):
            helper(event)
            calls.append((frame.f_code.co_name, event))
            return tracer
        old = sys.gettrace()
        sys.settrace(tracer)
        try:
            callee()
            helper("x")
        finally:
            sys.settrace(old)
        self.assertEqual([c for c in calls if c[0] == "callee"],
                         [("callee", "call"), ("callee", "line"),
                          ("callee", "line"), ("callee", "return")])
        self.assertIn(("helper", "call"), calls)
        self.assertNotIn(("tracer", "call"), calls)
        if FORK:
            self.assertEqual(self.instrumented_opnames(tracer), set())

    def test_generator_started_by_callback(self):
        # A generator that a callback starts gets its events once it is
        # resumed outside callbacks, although the callback ran its code.
        def gen():
            yield 1
            yield 2
            yield 3

        started = []
        seen = []

        def start(code, offset):
            if code is callee.__code__ and not started:
                g = gen()
                started.append((g, next(g)))
            elif code is gen.__code__:
                seen.append(("start", rel_line(code, offset)))

        def resume(code, offset):
            if code is gen.__code__:
                seen.append(("resume", rel_line(code, offset)))

        def line(code, line):
            if code is gen.__code__:
                seen.append(("line", line - code.co_firstlineno))
        self.claim(TOOL)
        mon.register_callback(TOOL, E.PY_START, start)
        mon.register_callback(TOOL, E.PY_RESUME, resume)
        mon.register_callback(TOOL, E.LINE, line)
        mon.set_events(TOOL, E.PY_START | E.PY_RESUME | E.LINE)
        callee()
        g, first = started[0]
        self.assertEqual(first, 1)
        self.assertEqual(seen, [])
        self.assertEqual(next(g), 2)
        self.assertEqual(list(g), [3])
        mon.set_events(TOOL, 0)
        self.assertEqual(seen, [("resume", 1), ("line", 2),
                                ("resume", 2), ("line", 3), ("resume", 3)])


class TestReentrancy(MonitoringTestCase):

    def test_callback_switches_events(self):
        log = []

        def start(code, offset):
            if code is callee.__code__:
                log.append(("start", mon.get_events(TOOL)))
                mon.set_events(TOOL, E.PY_RETURN)

        def ret(code, offset, value):
            if code in (callee.__code__, two_calls.__code__):
                log.append(("return", code.co_name, value))
        self.claim(TOOL)
        mon.register_callback(TOOL, E.PY_START, start)
        mon.register_callback(TOOL, E.PY_RETURN, ret)
        mon.set_events(TOOL, E.PY_START)
        self.assertEqual(two_calls(), 6)
        # PY_START is off from the callback on; PY_RETURN is on at once,
        # in the frame that is running.
        self.assertEqual(log, [
            ("start", E.PY_START),
            ("return", "callee", 2),
            ("return", "callee", 4),
            ("return", "two_calls", 6),
        ])
        self.assertEqual(mon.get_events(TOOL), E.PY_RETURN)

    def test_callback_replaces_itself(self):
        log = []

        def second(code, offset):
            if code is callee.__code__:
                log.append("second")

        def first(code, offset):
            if code is callee.__code__:
                log.append("first")
                mon.register_callback(TOOL, E.PY_START, second)
        self.claim(TOOL)
        mon.register_callback(TOOL, E.PY_START, first)
        mon.set_events(TOOL, E.PY_START)
        two_calls()
        self.assertEqual(log, ["first", "second"])

    @unittest.skipUnless(HAS_314_API, "3.13's free_tool_id() keeps events")
    def test_callback_frees_its_tool(self):
        log = []

        def start(code, offset):
            if code is callee.__code__:
                log.append("start")
                mon.free_tool_id(TOOL)
        self.claim(TOOL)
        mon.register_callback(TOOL, E.PY_START, start)
        mon.set_events(TOOL, E.PY_START)
        self.assertEqual(two_calls(), 6)
        self.assertEqual(log, ["start"])
        self.assertIsNone(mon.get_tool(TOOL))

    def test_enable_while_generator_suspended(self):
        g = gen_values()
        self.assertEqual(next(g), 1)
        with Recorder(gen_values, events=GEN_EVENTS) as rec:
            self.assertEqual(next(g), 2)
            with self.assertRaises(StopIteration):
                next(g)
        self.assertEqual(rec.events, [
            ("PY_RESUME", "gen_values", 1),
            ("PY_YIELD", "gen_values", 2, "2"),
            ("PY_RESUME", "gen_values", 2),
            ("PY_RETURN", "gen_values", 3, "3"),
        ])

    def test_enable_inside_for_loop(self):
        rec = Recorder(gen_values, events=GEN_EVENTS)
        seen = []
        try:
            for value in gen_values():
                seen.append(value)
                if value == 1:
                    rec.start()
        finally:
            rec.stop()
        self.assertEqual(seen, [1, 2])
        self.assertEqual(rec.events, [
            ("PY_RESUME", "gen_values", 1),
            ("PY_YIELD", "gen_values", 2, "2"),
            ("PY_RESUME", "gen_values", 2),
            ("PY_RETURN", "gen_values", 3, "3"),
        ])

    def test_disable_while_generator_suspended(self):
        with Recorder(gen_values, events=GEN_EVENTS) as rec:
            g = gen_values()
            self.assertEqual(next(g), 1)
            mon.set_events(TOOL, 0)
            self.assertEqual(list(g), [2])
        self.assertEqual(rec.events, [
            ("PY_START", "gen_values", 0),
            ("PY_YIELD", "gen_values", 1, "1"),
        ])

    def test_disable_from_callback_inside_generator(self):
        log = []

        def on_yield(code, offset, value):
            if code is gen_values.__code__:
                log.append(value)
                mon.set_events(TOOL, 0)
        self.claim(TOOL)
        mon.register_callback(TOOL, E.PY_YIELD, on_yield)
        mon.set_events(TOOL, E.PY_YIELD)
        self.assertEqual(list(gen_values()), [1, 2])
        self.assertEqual(log, [1])


class TestFrameSeenByCallbacks(MonitoringTestCase):
    """A callback sees the monitored frame in a consistent state."""

    # 3.12 and 3.13 (and the fork) show the delegate while PY_YIELD runs;
    # 3.14 shows None until the frame is suspended.
    DELEGATE_SEEN = not sys.version_info >= (3, 14)

    def test_gi_yieldfrom_during_py_yield(self):
        # The yielded value is off the stack: the delegate is what
        # gi_yieldfrom finds (this read a stale stack slot and crashed).
        import gc
        seen = []
        g = delegator()

        def on_yield(code, offset, value):
            if code is delegator.__code__:
                seen.append(g.gi_yieldfrom)
        self.claim(TOOL)
        mon.register_callback(TOOL, E.PY_YIELD, on_yield)
        mon.set_events(TOOL, E.PY_YIELD)
        first = next(g)
        inner = g.gi_yieldfrom
        rest = list(g)
        mon.set_events(TOOL, 0)
        gc.collect()
        self.assertEqual([first] + rest, [1, 2])
        self.assertEqual(len(seen), 2)
        for delegate in seen:
            self.assertIs(delegate, inner if self.DELEGATE_SEEN else None)

    def test_cr_await_during_py_yield(self):
        seen = []
        coro = coro_suspending()

        def on_yield(code, offset, value):
            if code is coro_suspending.__code__:
                seen.append((value, coro.cr_await))
        self.claim(TOOL)
        mon.register_callback(TOOL, E.PY_YIELD, on_yield)
        mon.set_events(TOOL, E.PY_YIELD)
        self.assertEqual(step_coro(coro, None), "paused")
        awaited = coro.cr_await
        self.assertEqual(step_coro(coro, 7), ("done", 7))
        mon.set_events(TOOL, 0)
        self.assertEqual(len(seen), 1)
        self.assertEqual(seen[0][0], "paused")
        self.assertIs(seen[0][1], awaited if self.DELEGATE_SEEN else None)

    def test_gc_inside_every_event(self):
        # The collector traverses the frames of suspended and running
        # generators: what it finds must be what is on their stacks.
        import gc
        events = events_of(*IN_SCOPE)
        calls = []

        def collect(code, offset, *args):
            if code.co_filename == __file__:
                calls.append(code.co_name)
                gc.collect()
        self.claim(TOOL)
        for name in IN_SCOPE:
            mon.register_callback(TOOL, getattr(E, name), collect)
        mon.set_events(TOOL, events)
        try:
            results = (list(delegator()), drive_with_send(),
                       catcher(reraise_finally), step_coro(coro_suspending(), None),
                       list(gen_with_finally()))
        finally:
            mon.set_events(TOOL, 0)
        self.assertEqual(results[0], [1, 2])
        self.assertGreater(len(calls), 20)

    def _jump_from(self, event, events, code, target):
        # A tool that tries to jump from `event`, called under
        # sys.call_tracing() inside a settrace 'line' event (as pdb's "debug"
        # command runs code): the jump is refused with ValueError and the
        # function runs as usual.
        errors = []

        def noop_trace(frame, what, arg):
            return noop_trace

        def jump(event_code, offset, *args):
            if event_code is code:
                frame = sys._getframe(1)
                frame.f_trace = noop_trace
                try:
                    frame.f_lineno = code.co_firstlineno + 1
                except ValueError as e:
                    errors.append(str(e))
                else:
                    errors.append("jumped")
                finally:
                    frame.f_trace = None

        def run():
            return target(), target()

        results = []

        def tracer(frame, what, arg):
            if what == "line" and frame.f_code is outer.__code__ and not results:
                results.append(sys.call_tracing(run, ()))
            return tracer

        def outer():
            x = 1
            return x

        self.claim(TOOL)
        mon.register_callback(TOOL, getattr(E, event), jump)
        mon.set_events(TOOL, events)
        sys.settrace(tracer)
        try:
            outer()
        finally:
            sys.settrace(None)
            mon.free_tool_id(TOOL)
        return results[0], errors

    def test_f_lineno_refused_from_events(self):
        during_call = "can't jump during a call"
        new_frame = "can't jump from the 'call' trace event of a new frame"
        not_line = "can only jump from a 'line' trace event"
        c_events = E.CALL | E.C_RETURN | E.C_RAISE
        cases = [
            ("CALL", E.CALL, call_builtins, call_builtins, during_call),
            ("C_RETURN", c_events, call_builtins, call_builtins, during_call),
            ("PY_START", E.PY_START, callee, callee, new_frame),
            ("PY_RETURN", E.PY_RETURN, callee, callee, not_line),
            ("RAISE", E.RAISE, raise_in_operation, raise_in_operation, not_line),
            ("EXCEPTION_HANDLED", E.EXCEPTION_HANDLED, raise_in_operation,
             raise_in_operation, not_line),
        ]
        if FORK:
            # The fork names the reason for JUMP and the branch events too
            # (upstream 3.14 lets them jump).
            cases += [
                ("JUMP", E.JUMP, line_while, lambda: line_while(5), not_line),
                ("BRANCH_LEFT", E.BRANCH_LEFT, line_while, lambda: line_while(5), not_line),
            ]
            # Upstream lets PY_YIELD and PY_RESUME callbacks jump; the fork's
            # eval loop only moves to another instruction after a 'line'
            # trace event.
            cases += [
                ("PY_YIELD", E.PY_YIELD, gen_values, lambda: list(gen_values()),
                 not_line),
                ("PY_RESUME", E.PY_RESUME, gen_values, lambda: list(gen_values()),
                 not_line),
            ]
        for event, events, where, target, message in cases:
            with self.subTest(event=event):
                expected = target(), target()
                results, errors = self._jump_from(event, events,
                                                  where.__code__, target)
                self.assertEqual(results, expected)
                self.assertTrue(errors)
                self.assertEqual(set(errors), {message})

    def test_f_lineno_jump_from_line(self):
        # A LINE callback may jump, as a settrace function may on a 'line'
        # event (and without setting f_trace, as upstream allows).
        def three():
            x = 1
            x = 2
            x = 3
            return x
        first = three.__code__.co_firstlineno
        jumps = []

        def on_line(code, line):
            if code is three.__code__ and line == first + 2 and not jumps:
                frame = sys._getframe(1)
                frame.f_lineno = first + 4
                jumps.append(frame.f_lineno)
        self.claim(TOOL)
        mon.register_callback(TOOL, E.LINE, on_line)
        self.set_local(TOOL, three, E.LINE)
        self.assertEqual(three(), 1)
        self.assertEqual(jumps, [first + 4])
        self.assertEqual(three(), 3)

    def test_f_lineno_refused_from_instruction(self):
        errors = []

        def on_instruction(code, offset):
            if code is callee.__code__ and not errors:
                try:
                    sys._getframe(1).f_lineno = code.co_firstlineno + 1
                except ValueError as e:
                    errors.append(str(e))
        self.claim(TOOL)
        mon.register_callback(TOOL, E.INSTRUCTION, on_instruction)
        self.set_local(TOOL, callee, E.INSTRUCTION)
        self.assertEqual(callee(), 3)
        self.assertEqual(errors, ["can only jump from a 'line' trace event"])


class TestEventConsistency(MonitoringTestCase):
    """What a tool receives does not depend on what else is monitored."""

    def _record(self, events, func, wanted, runs=3):
        seen = []
        self.claim(TOOL)
        for name in wanted:
            mon.register_callback(
                TOOL, getattr(E, name),
                lambda code, offset, *args, name=name:
                    seen.append((name, code.co_name, offset, tuple(map(describe, args))))
                    if code.co_filename == __file__ and code.co_name != "_record" else None)
        mon.set_events(TOOL, events)
        try:
            for _ in range(runs):
                func()
        finally:
            mon.free_tool_id(TOOL)
        return seen

    def test_branch_callback_switches_events_off_then_disables(self):
        # The callback's own change frees the side table before its DISABLE
        # is applied (this crashed).
        def loop():
            t = 0
            for i in range(3):
                t += i
            return t
        seen = []

        def on_branch(code, src, dest):
            if code is loop.__code__:
                seen.append(src)
                mon.set_local_events(TOOL, code, 0)
                return mon.DISABLE
        self.claim(TOOL)
        mon.register_callback(TOOL, E.BRANCH_LEFT, on_branch)
        self.set_local(TOOL, loop, E.BRANCH_LEFT)
        self.assertEqual(loop(), 3)
        self.assertEqual(loop(), 3)
        self.assertEqual(len(seen), 1)

    def test_gc_sees_a_running_generator_as_without_events(self):
        # Whether the GC traverses the locals and stack of a running
        # generator's frame does not depend on events delivered in it.  (The
        # fork left the stack top stored for a callback behind, so that the
        # GC traversed slots the eval loop had popped since, whose references
        # may be gone: a "refcount is too small" abort in debug builds.  3.11
        # keeps a running frame's stack from the GC; 3.14 traverses it.)
        class Marker:
            pass

        def local_seen_by_gc():
            seen = []

            def gen():
                local = Marker()
                len(())
                seen.append(local in gc.get_referents(it))
                yield local
            it = gen()
            next(it)
            return seen
        without = local_seen_by_gc()
        self.claim(TOOL)
        mon.register_callback(TOOL, E.CALL, lambda *args: None)
        mon.set_events(TOOL, E.CALL)
        with_events = local_seen_by_gc()
        mon.set_events(TOOL, 0)
        self.assertEqual(len(without), 1)
        self.assertEqual(with_events, without)

    def test_for_loop_over_generator_returning_a_value(self):
        # The StopIteration that ends iterating a generator is
        # STOP_ITERATION, never RAISE, whether STOP_ITERATION is on or not.
        def gen():
            yield 1
            return -2

        def loop():
            for x in gen():
                pass
        self.assertEqual(self._record(E.RAISE, loop, ["RAISE"]), [])
        events = self._record(E.RAISE | E.STOP_ITERATION, loop,
                              ["RAISE", "STOP_ITERATION"], runs=1)
        self.assertEqual([e[:2] for e in events], [("STOP_ITERATION", "loop")])

    def test_raise_offset_of_a_failing_c_call(self):
        # The call fails in C code that ran Python code; RAISE reports the
        # same offset whether or not CALL is monitored there (and however
        # the call has been specialized by then).
        def caller():
            try:
                sum(1 // (x - 2) for x in range(3))
            except ZeroDivisionError:
                pass

        def offsets(events):
            # Enough runs for the call to be quickened and specialized.
            return [e[2] for e in self._record(events, caller, ["RAISE"], runs=50)
                    if e[1] == "caller"]
        plain = offsets(E.RAISE)
        with_call = offsets(E.RAISE | E.CALL | E.C_RETURN | E.C_RAISE)
        self.assertEqual(len(plain), 50)
        self.assertEqual(set(plain), set(with_call))
        self.assertEqual(len(set(plain)), 1)

    def test_throw_ends_delegate_then_generator_yields(self):
        # throw() into a generator suspended in "yield from" ends the inner
        # generator; the outer one goes on and yields again: that is a
        # PY_THROW of the outer frame with the StopIteration.
        def inner():
            try:
                yield 1
            except ValueError:
                pass
            return 2

        def outer():
            r = yield from inner()
            yield r

        suspended = []

        def run():
            g = outer()
            suspended.append(g)     # not finalized while recording
            next(g)
            return g.throw(ValueError)

        names = ["PY_START", "PY_RESUME", "PY_YIELD", "PY_RETURN",
                 "PY_UNWIND", "PY_THROW"]
        events = self._record(events_of(*names), run, names, runs=1)
        self.assertEqual([(e[0], e[1], e[3]) for e in events
                          if e[1] in ("inner", "outer")], [
            ("PY_START", "outer", ()),
            ("PY_START", "inner", ()),
            ("PY_YIELD", "inner", ("1",)),
            ("PY_YIELD", "outer", ("1",)),
            ("PY_THROW", "inner", (exc(ValueError),)),
            ("PY_RETURN", "inner", ("2",)),
            ("PY_THROW", "outer", (exc(StopIteration, 2),)),
            ("PY_YIELD", "outer", ("2",)),
        ])


class TestThreads(MonitoringTestCase):

    def test_events_from_worker_thread(self):
        results = []
        with Recorder(callee, two_calls) as rec:
            worker = threading.Thread(
                target=lambda: results.append(two_calls()))
            worker.start()
            worker.join()
        self.assertEqual(results, [6])
        self.assertEqual(rec.events, [
            ("PY_START", "two_calls", 0),
            ("CALL", "two_calls", 1, "callee", "1"),
            ("PY_START", "callee", 0),
            ("PY_RETURN", "callee", 2, "2"),
            ("CALL", "two_calls", 2, "callee", "2"),
            ("PY_START", "callee", 0),
            ("PY_RETURN", "callee", 2, "4"),
            ("PY_RETURN", "two_calls", 3, "6"),
        ])

    def test_switch_while_thread_runs(self):
        # The worker is already running (blocked) when events change.
        go = [threading.Event() for _ in range(2)]
        done = [threading.Event() for _ in range(2)]
        started = threading.Event()
        results = []

        def work():
            started.set()
            for index in range(2):
                go[index].wait()
                try:
                    results.append(callee(index, 10))
                finally:
                    done[index].set()

        rec = Recorder(callee, events=E.PY_START | E.PY_RETURN)
        worker = threading.Thread(target=work)
        worker.start()
        try:
            self.assertTrue(started.wait(support.SHORT_TIMEOUT))
            rec.start()
            go[0].set()
            self.assertTrue(done[0].wait(support.SHORT_TIMEOUT))
            mon.set_events(TOOL, 0)
            go[1].set()
            self.assertTrue(done[1].wait(support.SHORT_TIMEOUT))
        finally:
            go[0].set()
            go[1].set()
            worker.join()
            rec.stop()
        self.assertEqual(results, [10, 11])
        self.assertEqual(rec.events, [("PY_START", "callee", 0),
                                      ("PY_RETURN", "callee", 2, "10")])

    def test_switching_stress(self):
        # One thread switches events on and off in a loop while others make
        # calls.  A phase counter, advanced only by the switching thread,
        # tells a worker whether events were certainly on (2 mod 4) or
        # certainly off (0 mod 4) for the whole of one of its calls: then the
        # call must produce exactly its CALL and PY_START events, or none.
        # (1 and 3 mod 4 are the switches themselves: anything goes.)
        rounds, workers = 100, 3
        phase = [0]
        stop = threading.Event()
        local = threading.local()
        failures = []
        checks = {0: 0, 2: 0}

        def target(n):
            return n if n < 2 else target(n - 1) + target(n - 2)

        def on_call(code, offset, callable, arg0):
            if callable is target:
                local.count += 1

        def on_start(code, offset):
            if code is target.__code__:
                local.count += 1

        def work():
            local.count = 0
            checked = 0
            try:
                while not stop.is_set() or checked < 20:
                    before, count = phase[0], local.count
                    target(1)
                    if phase[0] != before or before % 2:
                        continue
                    expected = 2 if before % 4 == 2 else 0
                    if local.count - count != expected:
                        failures.append((before, local.count - count))
                    checks[before % 4] += 1
                    checked += 1
            except BaseException as exc:
                failures.append(exc)

        def switch():
            for _ in range(rounds):
                phase[0] += 1
                mon.set_events(TOOL, E.PY_START | E.CALL)
                phase[0] += 1
                time.sleep(0.0002)
                phase[0] += 1
                mon.set_events(TOOL, 0)
                phase[0] += 1
                time.sleep(0.0002)

        self.claim(TOOL)
        mon.register_callback(TOOL, E.CALL, on_call)
        mon.register_callback(TOOL, E.PY_START, on_start)
        old_interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-5)
        threads = [threading.Thread(target=work) for _ in range(workers)]
        try:
            for thread in threads:
                thread.start()
            switch()
        finally:
            stop.set()
            for thread in threads:
                thread.join()
            sys.setswitchinterval(old_interval)
        self.assertEqual(failures, [])
        self.assertGreater(checks[2], 0)
        self.assertGreater(checks[0], 0)


class TestFirstChange(MonitoringTestCase):
    """No version checks at RESUME until tool state first changes."""

    def test_first_change_of_tool_state(self):
        # Until the first change of tool state in the process, RESUME does
        # not check instrumentation versions; the first change must reach
        # quickened code, code not run yet, and suspended generators.  A fresh
        # process, since this one has seen changes already.
        script = """if 1:
            import sys
            mon = sys.monitoring
            E = mon.events
            def hot():
                return 1
            def cold():
                return 2
            def gen():
                yield 1
                yield 2
            for i in range(100):
                hot()          # quickened
            g = gen()
            next(g)            # suspended
            seen = []
            mon.use_tool_id(0, "test")
            mon.register_callback(0, E.PY_START, lambda c, o: seen.append(c.co_name))
            mon.register_callback(0, E.PY_RESUME, lambda c, o: seen.append("resume " + c.co_name))
            mon.set_events(0, E.PY_START | E.PY_RESUME)
            hot(); cold(); next(g)
            mon.set_events(0, 0)
            hot(); cold()
            print(seen)
        """
        rc, out, err = script_helper.assert_python_ok("-c", script)
        self.assertEqual(out.strip(), b"['hot', 'cold', 'resume gen']")

    def test_first_change_is_local(self):
        # set_local_events() instruments its code object at once, without a
        # change of version: no RESUME check is needed for it.
        script = """if 1:
            import sys
            mon = sys.monitoring
            E = mon.events
            def hot():
                return 1
            for i in range(100):
                hot()
            seen = []
            mon.use_tool_id(0, "test")
            mon.register_callback(0, E.PY_START, lambda c, o: seen.append(c.co_name))
            mon.set_local_events(0, hot.__code__, E.PY_START)
            hot(); hot()
            mon.set_local_events(0, hot.__code__, 0)
            hot()
            print(seen)
        """
        rc, out, err = script_helper.assert_python_ok("-c", script)
        self.assertEqual(out.strip(), b"['hot', 'hot']")


class TestCoexistence(MonitoringTestCase):

    def test_settrace(self):
        trace = []

        def tracer(frame, event, arg):
            if frame.f_code in (callee.__code__, two_calls.__code__):
                trace.append((event, frame.f_code.co_name,
                              frame.f_lineno - frame.f_code.co_firstlineno))
            return tracer
        with Recorder(callee, two_calls,
                      events=E.PY_START | E.PY_RETURN | E.CALL) as rec:
            sys.settrace(tracer)
            try:
                self.assertEqual(two_calls(), 6)
            finally:
                sys.settrace(None)
        self.assertEqual(trace, [
            ("call", "two_calls", 0),
            ("line", "two_calls", 1),
            ("call", "callee", 0),
            ("line", "callee", 1),
            ("line", "callee", 2),
            ("return", "callee", 2),
            ("line", "two_calls", 2),
            ("call", "callee", 0),
            ("line", "callee", 1),
            ("line", "callee", 2),
            ("return", "callee", 2),
            ("line", "two_calls", 3),
            ("return", "two_calls", 3),
        ])
        self.assertEqual(rec.events, [
            ("PY_START", "two_calls", 0),
            ("CALL", "two_calls", 1, "callee", "1"),
            ("PY_START", "callee", 0),
            ("PY_RETURN", "callee", 2, "2"),
            ("CALL", "two_calls", 2, "callee", "2"),
            ("PY_START", "callee", 0),
            ("PY_RETURN", "callee", 2, "4"),
            ("PY_RETURN", "two_calls", 3, "6"),
        ])

    def test_setprofile(self):
        profile = []

        def profiler(frame, event, arg):
            if frame.f_code is call_builtins.__code__ or (
                    frame.f_code is negate.__code__):
                name = describe(arg) if event.startswith("c_") else None
                profile.append((event, frame.f_code.co_name, name))
        with Recorder(call_builtins, negate,
                      events=E.PY_START | E.PY_RETURN) as rec:
            sys.setprofile(profiler)
            try:
                self.assertEqual(call_builtins(), 7)
            finally:
                sys.setprofile(None)
        self.assertEqual(profile, [
            ("call", "call_builtins", None),
            ("c_call", "call_builtins", "len"),
            ("c_return", "call_builtins", "len"),
            ("c_call", "call_builtins", "get"),
            ("c_return", "call_builtins", "get"),
            ("c_call", "call_builtins", "sorted"),
            ("call", "negate", None),
            ("return", "negate", None),
            ("call", "negate", None),
            ("return", "negate", None),
            ("c_return", "call_builtins", "sorted"),
            ("c_call", "call_builtins", "globals"),
            ("c_return", "call_builtins", "globals"),
            ("return", "call_builtins", None),
        ])
        self.assertEqual(rec.events, [
            ("PY_START", "call_builtins", 0),
            ("PY_START", "negate", 0),
            ("PY_RETURN", "negate", 1, "-3"),
            ("PY_START", "negate", 0),
            ("PY_RETURN", "negate", 1, "-1"),
            ("PY_RETURN", "call_builtins", 7, "7"),
        ])

    def test_trace_after_tool_freed(self):
        trace = []

        def tracer(frame, event, arg):
            if frame.f_code is callee.__code__:
                trace.append(event)
            return tracer
        with Recorder(callee):
            callee()
        sys.settrace(tracer)
        try:
            callee()
        finally:
            sys.settrace(None)
        self.assertEqual(trace, ["call", "line", "line", "return"])


# ---------------------------------------------------------------------------
# LINE, INSTRUCTION: target code.  Expectations use lines relative to each
# ``def``: do not edit a function body without updating its expectations.

def line_while(n):
    i = t = 0
    while i < n:
        i += 1
        if i == 2:
            continue
        if i == 4:
            break
        t += i
    else:
        t = -1
    return t


def line_for(n):
    t = 0
    for x in range(n):
        if x == 5:
            break
        t += x
    else:
        t += 100
    return t


def line_one_line_loop(n):
    t = 0
    for x in range(n): t += x
    while t > 3: t -= 2
    return t


def line_one_line_function(): return 1


def line_nested(x):
    if x > 0:
        if x > 5:
            r = 2
        else:
            r = 1
    elif x < -5:
        r = -1
    else:
        r = 0
    return r


def line_try(x):
    try:
        if x:
            raise ValueError(x)
        y = 1
    except ValueError:
        y = 2
    else:
        y += 10
    finally:
        y += 1
    return y


class LineCM:
    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return True


def line_with(fail):
    with LineCM() as cm:
        if fail:
            raise KeyError(fail)
        x = 1
    return 2


def line_match(v):
    match v:
        case [a, b]:
            return a + b
        case {"k": k}:
            return k
        case int(x) if x > 3:
            return x
        case _:
            return None


def line_comprehensions(n):
    a = [x for x in range(n) if x % 2]
    b = {x: x
         for x in range(n)}
    return a, b


def line_genexpr(n):
    return sum(x for x in range(n))


def line_expressions(a, b):
    r = a and b
    s = a or b
    t = 1 if a else 2
    u = 0 < a < 5
    assert a or b, "never"
    return r, s, t, u


def line_generator(n):
    for i in range(n):
        yield i
    yield from range(2)


def line_use_generator():
    return list(line_generator(2))


async def line_coroutine(x):
    await LineAwaitable()
    return x


class LineAwaitable:
    def __await__(self):
        yield 1


def line_run_coroutine():
    c = line_coroutine(3)
    c.send(None)
    try:
        c.send(None)
    except StopIteration as e:
        return e.value


def line_multiline(x):
    y = (x +
         1)
    return y

LINE_PROGRAMS = [
    (line_while, (5,)), (line_while, (1,)), (line_for, (3,)), (line_for, (9,)),
    (line_one_line_loop, (4,)), (line_one_line_function, ()),
    (line_nested, (7,)), (line_nested, (1,)), (line_nested, (-9,)), (line_nested, (0,)),
    (line_try, (0,)), (line_try, (1,)), (line_with, (0,)), (line_with, (1,)),
    (line_match, ([1, 2],)), (line_match, ({"k": 3},)), (line_match, (5,)), (line_match, ("x",)),
    (line_comprehensions, (3,)), (line_genexpr, (3,)),
    (line_expressions, (0, 1)), (line_expressions, (2, 0)),
    (line_use_generator, ()), (line_run_coroutine, ()), (line_multiline, (1,)),
]


def _line_owners(funcs):
    """Map each code object of funcs (nested ones included) to how LINE
    events in it are shown: (name, line of the def they are relative to).
    Comprehensions are their own code objects on 3.11 but inlined on 3.12+
    (PEP 709): they are shown as part of the function around them."""
    owners = {}
    def add(code, name, base):
        owners[code] = (name, base)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                inner = const.co_name
                if inner in ("<listcomp>", "<dictcomp>", "<setcomp>"):
                    add(const, name, base)
                else:
                    add(const, inner, const.co_firstlineno)
    for func in funcs:
        code = code_of(func)
        add(code, code.co_name, code.co_firstlineno)
    return owners


class _OwnersTool:
    """A tool monitoring the code objects in self.owners: register() claims
    the tool id and registers the callbacks; the events self.wanted are set
    on each owner (self.local) or globally."""

    def start(self):
        self.register()
        if self.local:
            for code in self.owners:
                mon.set_local_events(self.tool, code, self.wanted)
        else:
            mon.set_events(self.tool, self.wanted)
        return self

    def stop(self):
        if mon.get_tool(self.tool) is not None:
            for code in self.owners:
                mon.set_local_events(self.tool, code, 0)
            mon.free_tool_id(self.tool)
        mon.restart_events()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


class LineRecorder(_OwnersTool):
    """Records LINE events of the given functions as (name, relative line).

    With ``disable``, every callback returns DISABLE; with ``local``, the
    events are set on each code object instead of globally.  The callback
    also checks that sys._getframe(1) is the monitored frame at that line.
    """

    def __init__(self, *funcs, tool=TOOL, events=E.LINE, disable=False, local=False):
        self.owners = _line_owners(funcs)
        self.tool = tool
        self.wanted = events
        self.disable = disable
        self.local = local
        self.events = []
        self.bad_frames = []

    def line(self, code, line):
        owner = self.owners.get(code)
        if owner is None:
            return None
        frame = sys._getframe(1)
        if frame.f_code is not code or frame.f_lineno != line:
            self.bad_frames.append((code.co_name, line, frame.f_code.co_name, frame.f_lineno))
        self.events.append((owner[0], line - owner[1]))
        return mon.DISABLE if self.disable else None

    def register(self):
        mon.use_tool_id(self.tool, "lines")
        mon.register_callback(self.tool, E.LINE, self.line)


class Expectations:
    """Expected results per (function, arguments); arguments may be
    unhashable."""

    def __init__(self, table):
        self.rows = [[func, args, expected] for (func, args), expected in table]

    def _row(self, key):
        for row in self.rows:
            if row[0] is key[0] and row[1] == key[1]:
                return row
        raise KeyError(key)

    def __getitem__(self, key):
        return self._row(key)[2]

    def __setitem__(self, key, value):
        self._row(key)[2] = value

    def items(self):
        return [((func, args), expected) for func, args, expected in self.rows]


class BranchRecorder(_OwnersTool):
    """Records JUMP, BRANCH_LEFT and BRANCH_RIGHT of the given functions as
    (event, name, source line, destination line), lines relative to the
    def, and checks every branch event against code.co_branches()."""

    EVENTS = ("JUMP", "BRANCH_LEFT", "BRANCH_RIGHT")

    def __init__(self, *funcs, tool=TOOL, events=None, disable=(), local=False):
        self.owners = _line_owners(funcs)
        self.tool = tool
        self.wanted = events if events is not None else events_of(*self.EVENTS)
        self.disable = disable
        self.local = local
        self.events = []
        self.mismatches = []
        self.branches = {code: {src: (left, right)
                                for src, left, right in code.co_branches()}
                         for code in self.owners}

    def _callback(self, event):
        def callback(code, src, dest):
            owner = self.owners.get(code)
            if owner is None:
                return None
            lines = list(code.co_positions())
            def rel(offset):
                line = lines[offset // 2][0] if offset // 2 < len(lines) else None
                return None if line is None else line - owner[1]
            self.events.append((event, owner[0], rel(src), rel(dest)))
            if event != "JUMP":
                left, right = self.branches[code].get(src, (None, None))
                if dest != (left if event == "BRANCH_LEFT" else right):
                    self.mismatches.append((event, code.co_name, src, dest))
            elif src in self.branches[code]:
                self.mismatches.append((event, code.co_name, src, dest))
            return mon.DISABLE if event in self.disable else None
        return callback

    def register(self):
        mon.use_tool_id(self.tool, "branches")
        for name in self.EVENTS:
            mon.register_callback(self.tool, getattr(E, name), self._callback(name))


LINE_EXPECTED = Expectations([
    ((line_while, (5,)),
        [1, 2, 3, 4, 6, 8, 2, 3, 4, 5, 2, 3, 4, 6, 8, 2, 3, 4, 6, 7, 11]),
    ((line_while, (1,)),
        [1, 2, 3, 4, 6, 8, 2, 10, 11]),
    ((line_for, (3,)),
        [1, 2, 3, 5, 2, 3, 5, 2, 3, 5, 2, 7, 8]),
    ((line_for, (9,)),
        [1, 2, 3, 5, 2, 3, 5, 2, 3, 5, 2, 3, 5, 2, 3, 5, 2, 3, 4, 8]),
    ((line_one_line_loop, (4,)),
        [1, 2, 3, 4]),
    ((line_one_line_function, ()),
        [0]),
    ((line_nested, (7,)),
        [1, 2, 3, 10]),
    ((line_nested, (1,)),
        [1, 2, 5, 10]),
    ((line_nested, (-9,)),
        [1, 6, 7, 10]),
    ((line_nested, (0,)),
        [1, 6, 9, 10]),
    ((line_try, (0,)),
        [1, 2, 4, 8, 10, 11]),
    ((line_try, (1,)),
        [1, 2, 3, 5, 6, 10, 11]),
    ((line_with, (0,)),
        [1, '__enter__:1', 2, 4, 1, '__exit__:1', 5]),
    ((line_with, (1,)),
        [1, '__enter__:1', 2, 3, 1, '__exit__:1', 5]),
    ((line_match, ([1, 2],)),
        [1, 2, 3]),
    ((line_match, ({'k': 3},)),
        [1, 2, 4, 5]),
    ((line_match, (5,)),
        [1, 2, 4, 6, 7]),
    ((line_match, ('x',)),
        [1, 2, 4, 6, 8, 9]),
    ((line_comprehensions, (3,)),
        [1, 1, 2, 3, 2, 2, 3, 2, 3, 2, 3, 2, 4]),
    ((line_genexpr, (3,)),
        [1, '<genexpr>:0']),
    ((line_expressions, (0, 1)),
        [1, 2, 3, 4, 5, 6]),
    ((line_expressions, (2, 0)),
        [1, 2, 3, 4, 5, 6]),
    ((line_use_generator, ()),
        [1, 'line_generator:1', 'line_generator:2', 'line_generator:1',
        'line_generator:2', 'line_generator:1', 'line_generator:3']),
    ((line_run_coroutine, ()),
        [1, 2, 'line_coroutine:1', '__await__:1', 3, 4, 'line_coroutine:2', 5,
        6]),
    ((line_multiline, (1,)),
        [1, 2, 1, 3]),
])

# DISABLE returned from every LINE callback (fork: per line of the code
# object; upstream disables one location at a time).

LINE_EXPECTED_DISABLE = Expectations([
    ((line_while, (5,)),
        [1, 2, 3, 4, 6, 8, 5, 7, 11]),
    ((line_while, (1,)),
        [1, 2, 3, 4, 6, 8, 10, 11]),
    ((line_for, (3,)),
        [1, 2, 3, 5, 7, 8]),
    ((line_for, (9,)),
        [1, 2, 3, 5, 4, 8]),
    ((line_one_line_loop, (4,)),
        [1, 2, 3, 4]),
    ((line_one_line_function, ()),
        [0]),
    ((line_nested, (7,)),
        [1, 2, 3, 10]),
    ((line_nested, (1,)),
        [1, 2, 5, 10]),
    ((line_nested, (-9,)),
        [1, 6, 7, 10]),
    ((line_nested, (0,)),
        [1, 6, 9, 10]),
    ((line_try, (0,)),
        [1, 2, 4, 8, 10, 11]),
    ((line_try, (1,)),
        [1, 2, 3, 5, 6, 10, 11]),
    ((line_with, (0,)),
        [1, '__enter__:1', 2, 4, '__exit__:1', 5]),
    ((line_with, (1,)),
        [1, '__enter__:1', 2, 3, '__exit__:1', 5]),
    ((line_match, ([1, 2],)),
        [1, 2, 3]),
    ((line_match, ({'k': 3},)),
        [1, 2, 4, 5]),
    ((line_match, (5,)),
        [1, 2, 4, 6, 7]),
    ((line_match, ('x',)),
        [1, 2, 4, 6, 8, 9]),
    ((line_comprehensions, (3,)),
        [1, 1, 2, 3, 2, 3, 4]),
    ((line_genexpr, (3,)),
        [1, '<genexpr>:0']),
    ((line_expressions, (0, 1)),
        [1, 2, 3, 4, 5, 6]),
    ((line_expressions, (2, 0)),
        [1, 2, 3, 4, 5, 6]),
    ((line_use_generator, ()),
        [1, 'line_generator:1', 'line_generator:2', 'line_generator:3']),
    ((line_run_coroutine, ()),
        [1, 2, 'line_coroutine:1', '__await__:1', 3, 4, 'line_coroutine:2', 5,
        6]),
    ((line_multiline, (1,)),
        [1, 2, 3]),
])

# What upstream 3.12+ reports where the fork differs on purpose, or because
# 3.12+ compiles the construct differently.
if not FORK:
    # gh-155992: upstream does not report the first line of a function (or
    # generator expression) that is all on its def line.
    LINE_EXPECTED[line_one_line_function, ()] = []
    LINE_EXPECTED[line_genexpr, (3,)] = [1]
if NEW:
    # PEP 709: 3.12+ inlines list and dict comprehensions; on 3.11 each is a
    # function of its own, which reports its first line when it starts.
    LINE_EXPECTED[line_comprehensions, (3,)] = [1, 3, 2, 3, 2, 3, 2, 3, 2, 3, 4]
    if sys.version_info < (3, 14):
        # 3.12 and 3.13 report the dict comprehension's line once more at
        # its end.
        LINE_EXPECTED[line_comprehensions, (3,)] = [1, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 4]

LINE_HELPERS = (LineCM.__enter__, LineCM.__exit__, LineAwaitable.__await__,
                line_generator, line_coroutine)


def line_compact(name, events):
    return [line if owner == name else f"{owner}:{line}"
            for owner, line in events]


class TestLineEvents(MonitoringTestCase):

    def run_program(self, func, args, **kwargs):
        with LineRecorder(func, *LINE_HELPERS, **kwargs) as rec:
            func(*args)
        self.assertEqual(rec.bad_frames, [])
        return line_compact(func.__name__, rec.events)

    def test_sequences(self):
        for (func, args), expected in LINE_EXPECTED.items():
            with self.subTest(func=func.__name__, args=args):
                self.assertEqual(self.run_program(func, args), expected)

    def test_local_events_same_as_global(self):
        for (func, args), expected in LINE_EXPECTED.items():
            with self.subTest(func=func.__name__, args=args):
                self.assertEqual(self.run_program(func, args, local=True), expected)

    @unittest.skipUnless(FORK, "upstream disables LINE per location")
    def test_disable_per_line(self):
        for (func, args), expected in LINE_EXPECTED_DISABLE.items():
            with self.subTest(func=func.__name__, args=args):
                self.assertEqual(self.run_program(func, args, disable=True), expected)

    def test_disabled_line_stays_off_until_restart(self):
        with LineRecorder(line_for, disable=True) as rec:
            line_for(3)
            first = list(rec.events)
            line_for(3)
            self.assertEqual(rec.events, first)
            mon.restart_events()
            line_for(3)
            self.assertEqual(rec.events, first * 2)

    def test_disable_is_per_tool(self):
        keep = LineRecorder(line_for, tool=1)
        drop = LineRecorder(line_for, tool=4, disable=True)
        with keep, drop:
            line_for(3)
            line_for(3)
        expected = LINE_EXPECTED[line_for, (3,)]
        self.assertEqual(line_compact("line_for", keep.events), expected * 2)
        if FORK:
            # DISABLE switches the whole line off (upstream: one location).
            self.assertEqual(len(drop.events), len(set(drop.events)))

    def test_local_only_that_code(self):
        with LineRecorder(line_for, line_nested, local=True) as rec:
            mon.set_local_events(TOOL, line_nested.__code__, 0)
            line_for(1)
            line_nested(1)
        self.assertEqual({name for name, line in rec.events}, {"line_for"})

    def test_two_tools_same_line_order(self):
        order = []
        for tool in (1, 4):
            self.claim(tool)
            mon.register_callback(
                tool, E.LINE,
                lambda code, line, tool=tool:
                    order.append(tool) if code is line_multiline.__code__ else None)
            mon.set_events(tool, E.LINE)
        line_multiline(1)
        self.assertEqual(order, [4, 1] * 4)

    def test_callback_raises(self):
        def line(code, line):
            if code is line_nested.__code__ and line - code.co_firstlineno == 2:
                raise Boom("line")
        self.claim(TOOL)
        mon.register_callback(TOOL, E.LINE, line)
        mon.set_events(TOOL, E.LINE)
        with self.assertRaises(Boom):
            line_nested(1)
        mon.set_events(TOOL, 0)
        self.assertEqual(line_nested(1), 1)

    def test_enable_inside_running_loop(self):
        seen = []
        code = line_switch_in_loop.__code__

        def line(c, line):
            if c is code:
                seen.append(line - code.co_firstlineno)
        self.claim(TOOL)
        mon.register_callback(TOOL, E.LINE, line)
        self.assertEqual(line_switch_in_loop(4, TOOL), 6)
        # Lines are reported from the one after set_events() on, up to the
        # one that switched them off.
        self.assertEqual(seen, [5, 7, 2, 3, 5, 6])

    @unittest.skipUnless(FORK, "upstream disables LINE per location")
    def test_generator_expression_in_loop(self):
        with LineRecorder(line_genexpr, disable=True) as rec:
            for _ in range(3):
                line_genexpr(3)
        self.assertEqual(line_compact("line_genexpr", rec.events),
                         LINE_EXPECTED_DISABLE[line_genexpr, (3,)])


# BRANCH_LEFT (L), BRANCH_RIGHT (R) and JUMP (J) as (kind, source line,
# destination line) per run, lines relative to the def.
BRANCH_EXPECTED = Expectations([
    ((line_while, (5,)),
        [('L', 2, 3), ('R', 4, 6), ('R', 6, 8), ('L', 2, 3), ('L', 4, 5),
        ('J', 5, 2), ('L', 2, 3), ('R', 4, 6), ('R', 6, 8), ('L', 2,
        3), ('R', 4, 6), ('L', 6, 7), ('J', 7, 11)]),
    ((line_while, (1,)),
        [('L', 2, 3), ('R', 4, 6), ('R', 6, 8), ('R', 2, 10)]),
    ((line_for, (3,)),
        [('L', 2, 2), ('R', 3, 5), ('J', 5, 2), ('L', 2, 2), ('R', 3, 5),
        ('J', 5, 2), ('L', 2, 2), ('R', 3, 5), ('J', 5, 2), ('R', 2,
        7)]),
    ((line_for, (9,)),
        [('L', 2, 2), ('R', 3, 5), ('J', 5, 2), ('L', 2, 2), ('R', 3, 5),
        ('J', 5, 2), ('L', 2, 2), ('R', 3, 5), ('J', 5, 2), ('L', 2,
        2), ('R', 3, 5), ('J', 5, 2), ('L', 2, 2), ('R', 3, 5), ('J',
        5, 2), ('L', 2, 2), ('L', 3, 4), ('J', 4, 8)]),
    ((line_one_line_loop, (4,)),
        [('L', 2, 2), ('J', 2, 2), ('L', 2, 2), ('J', 2, 2), ('L', 2, 2),
        ('J', 2, 2), ('L', 2, 2), ('J', 2, 2), ('R', 2, 3), ('L', 3,
        3), ('L', 3, 3), ('R', 3, 4)]),
    ((line_one_line_function, ()),
        []),
    ((line_nested, (7,)),
        [('L', 1, 2), ('L', 2, 3), ('J', 3, 10)]),
    ((line_nested, (1,)),
        [('L', 1, 2), ('R', 2, 5), ('J', 5, 10)]),
    ((line_nested, (-9,)),
        [('R', 1, 6), ('L', 6, 7), ('J', 7, 10)]),
    ((line_nested, (0,)),
        [('R', 1, 6), ('R', 6, 9)]),
    ((line_try, (0,)),
        [('R', 2, 4), ('J', 8, 10), ('J', 10, 11)]),
    ((line_try, (1,)),
        [('L', 2, 3), ('L', 5, 5), ('J', 6, 10), ('J', 10, 11)]),
    ((line_with, (0,)),
        [('R', 2, 4), ('J', 1, 5)]),
    ((line_with, (1,)),
        [('L', 2, 3), ('R', 1, 1)]),
    ((line_match, ([1, 2],)),
        [('L', 2, 2), ('L', 2, 2)]),
    ((line_match, ({'k': 3},)),
        [('R', 2, 2), ('L', 4, 4), ('L', 4, 4), ('L', 4, 4)]),
    ((line_match, (5,)),
        [('R', 2, 2), ('R', 4, 4), ('L', 6, 6), ('L', 6, 7)]),
    ((line_match, ('x',)),
        [('R', 2, 2), ('R', 4, 4), ('R', 6, 6)]),
    ((line_comprehensions, (3,)),
        [('L', 1, 1), ('R', 1, 1), ('L', 1, 1), ('L', 1, 1), ('J', 1, 1),
        ('L', 1, 1), ('R', 1, 1), ('R', 1, 1), ('L', 2, 3), ('J', 2,
        2), ('L', 2, 3), ('J', 2, 2), ('L', 2, 3), ('J', 2, 2), ('R',
        2, 2)]),
    ((line_expressions, (0, 1)),
        [('R', 1, 1), ('L', 2, 2), ('R', 3, 3), ('R', 4, 4), ('L', 5, 5),
        ('R', 5, 6)]),
    ((line_expressions, (2, 0)),
        [('L', 1, 1), ('R', 2, 2), ('L', 3, 3), ('J', 3, 3), ('L', 4, 4),
        ('J', 4, 4), ('R', 5, 6)]),
    ((line_run_coroutine, ()),
        [('L', 5, 5)]),
    ((line_multiline, (1,)),
        []),
])


class TestBranchEvents(MonitoringTestCase):

    def run_program(self, func, args, **kwargs):
        with BranchRecorder(func, *LINE_HELPERS, **kwargs) as rec:
            func(*args)
            func(*args)
        self.assertEqual(rec.mismatches, [])
        return rec.events

    def test_consistent_with_co_branches(self):
        # Every BRANCH_LEFT/BRANCH_RIGHT goes where co_branches() says, and
        # JUMP is never reported at a branch.
        for (func, args), _ in LINE_EXPECTED.items():
            for local in (False, True):
                with self.subTest(func=func.__name__, args=args, local=local):
                    self.run_program(func, args, local=local)

    def test_sequences(self):
        for (func, args), expected in BRANCH_EXPECTED.items():
            if NEW and func is line_comprehensions:
                continue        # PEP 709: compiled differently
            with self.subTest(func=func.__name__, args=args):
                events = self.run_program(func, args)
                compact = [(kind[7] if kind != "JUMP" else "J", src, dest)
                           for kind, name, src, dest in events]
                if NEW:
                    # 3.11 and 3.12+ put unconditional jumps in different
                    # places (3.11 tests a while loop at both ends, 3.12+
                    # duplicates small exit blocks): compare the branches.
                    compact = [e for e in compact if e[0] != "J"]
                    expected = [e for e in expected if e[0] != "J"]
                self.assertEqual(compact, expected * 2)

    def test_local_events_same_as_global(self):
        for (func, args), _ in BRANCH_EXPECTED.items():
            with self.subTest(func=func.__name__, args=args):
                self.assertEqual(self.run_program(func, args, local=True),
                                 self.run_program(func, args))

    def test_disable_one_direction(self):
        for direction, other in (("BRANCH_LEFT", "BRANCH_RIGHT"),
                                 ("BRANCH_RIGHT", "BRANCH_LEFT")):
            with self.subTest(disable=direction):
                with BranchRecorder(line_nested, disable=(direction,),
                                    events=E.BRANCH_LEFT | E.BRANCH_RIGHT) as rec:
                    for x in (7, 1, -9, 0):
                        line_nested(x)
                    first = list(rec.events)
                    del rec.events[:]
                    for x in (7, 1, -9, 0):
                        line_nested(x)
                # The disabled direction is reported no more; the other
                # direction of the same branches still is.
                self.assertEqual(rec.events,
                                 [e for e in first if e[0] == other])
                self.assertEqual(rec.mismatches, [])

    def test_disable_jump(self):
        with BranchRecorder(line_for, disable=("JUMP",)) as rec:
            line_for(3)
            line_for(3)
        jumps = [e for e in rec.events if e[0] == "JUMP"]
        self.assertEqual(jumps, [("JUMP", "line_for", 5, 2)])

    def test_co_branches(self):
        branches = list(line_nested.__code__.co_branches())
        # if x > 0, if x > 5, elif x < -5
        self.assertEqual(len(branches), 3)
        for src, left, right in branches:
            self.assertIsInstance(src, int)
            self.assertGreater(left, src)
            self.assertNotEqual(left, right)
        self.assertEqual(list(callee.__code__.co_branches()), [])
        branches = callee.__code__.co_branches()
        self.assertIs(iter(branches), branches)
        # FOR_ITER: left goes on with the loop, right leaves it.
        (src, left, right), = [b for b in line_one_line_loop.__code__.co_branches()
                               if b[2] > b[0]][:1]
        self.assertGreater(right, left)

    def test_branch_deprecated_event(self):
        seen = []

        def branch(code, src, dest):
            if code is line_nested.__code__:
                seen.append((src, dest))
        self.claim(TOOL)
        mon.register_callback(TOOL, E.BRANCH, branch)
        mon.set_events(TOOL, E.BRANCH)
        line_nested(7)
        line_nested(0)
        seen_alone = list(seen)
        rec = BranchRecorder(line_nested, tool=4,
                             events=E.BRANCH_LEFT | E.BRANCH_RIGHT)
        with rec:
            line_nested(7)
            line_nested(0)
        offsets = {}
        for src, left, right in line_nested.__code__.co_branches():
            offsets[src] = (left, right)
        self.assertEqual(len(seen_alone), len(rec.events))
        self.assertEqual(seen[len(seen_alone):], seen_alone)
        for src, dest in seen:
            self.assertIn(dest, offsets[src])

    def test_two_tools_mixing_events(self):
        lines = LineRecorder(line_for, tool=1)
        branches = BranchRecorder(line_for, tool=2)
        instructions = []
        self.claim(5)
        mon.register_callback(
            5, E.INSTRUCTION,
            lambda code, offset: instructions.append(offset)
            if code is line_for.__code__ else None)
        mon.set_events(5, E.INSTRUCTION)
        with lines, branches:
            self.assertEqual(line_for(3), 103)
        mon.set_events(5, 0)
        self.assertEqual(line_compact("line_for", lines.events),
                         LINE_EXPECTED[line_for, (3,)])
        if FORK:
            # Upstream 3.14.10 reports a BRANCH_RIGHT destination that
            # disagrees with co_branches() while INSTRUCTION is on too.
            self.assertEqual(branches.mismatches, [])
            self.assertEqual(len(branches.events), 10)
        self.assertGreater(len(instructions), 40)
        self.assertEqual(line_for(3), 103)


def line_switch_in_loop(n, tool):
    t = 0
    for i in range(n):
        if i == 1:
            mon.set_events(tool, mon.events.LINE)
        if i == 2:
            mon.set_events(tool, 0)
        t += i
    return t


def instruction_target(a):
    b = a + 1
    return callee(b)


class TestInstructionEvents(MonitoringTestCase):

    def record(self, func, events, *args, local=False, result=None):
        code = code_of(func)
        ops = {i.offset: i.opname for i in dis.get_instructions(code)}
        seen = []

        def instruction(c, offset):
            if c is code:
                seen.append(("I", ops[offset]))
                return result

        def line(c, line):
            if c is code:
                seen.append(("L", line - code.co_firstlineno))

        def call(c, offset, func, arg0):
            if c is code:
                seen.append(("C", ops[offset]))
        self.claim(TOOL)
        mon.register_callback(TOOL, E.INSTRUCTION, instruction)
        mon.register_callback(TOOL, E.LINE, line)
        mon.register_callback(TOOL, E.CALL, call)
        if local:
            self.set_local(TOOL, code, events)
        else:
            mon.set_events(TOOL, events)
        func(*args)
        mon.set_events(TOOL, 0)
        mon.free_tool_id(TOOL)
        return seen

    def expected_instructions(self, func):
        # Every instruction after RESUME, in order (the function is straight
        # line code); no CACHE entries.
        names = [i.opname for i in dis.get_instructions(func)]
        return names[names.index("RESUME") + 1:]

    def test_every_instruction(self):
        for local in (False, True):
            with self.subTest(local=local):
                seen = self.record(instruction_target, E.INSTRUCTION, 1, local=local)
                self.assertEqual([name for kind, name in seen],
                                 self.expected_instructions(instruction_target))
                free_all_tools()

    def test_order_line_instruction_event(self):
        seen = self.record(instruction_target, E.INSTRUCTION | E.LINE | E.CALL, 1)
        names = self.expected_instructions(instruction_target)
        call = names.index("CALL")
        store = names.index("STORE_FAST")
        expected = ([("L", 1)] + [("I", n) for n in names[:store + 1]] +
                    [("L", 2)] + [("I", n) for n in names[store + 1:call + 1]] +
                    [("C", "CALL")] + [("I", n) for n in names[call + 1:]])
        self.assertEqual(seen, expected)

    def test_disable_one_instruction(self):
        code = instruction_target.__code__
        seen = []

        def instruction(c, offset):
            if c is code:
                seen.append(offset)
                return mon.DISABLE if offset == first[0] else None
        first = [None]
        self.claim(TOOL)
        mon.register_callback(TOOL, E.INSTRUCTION, instruction)
        mon.set_events(TOOL, E.INSTRUCTION)
        instruction_target(1)
        everything = list(seen)
        first[0] = everything[1]
        del seen[:]
        instruction_target(1)       # DISABLEs the second instruction
        instruction_target(1)
        self.assertEqual(seen, everything + everything[:1] + everything[2:])
        mon.restart_events()
        del seen[:]
        first[0] = None
        instruction_target(1)
        self.assertEqual(seen, everything)

    def test_extended_arg(self):
        # An instruction with an EXTENDED_ARG prefix still works under the
        # LINE and INSTRUCTION layers.
        ns = {}
        src = "def f(x):\n    " + "\n    ".join(f"v{i} = x" for i in range(300)) + "\n    return v299 + 1\n"
        exec(src, ns)
        f = ns["f"]
        seen = self.record(f, E.INSTRUCTION | E.LINE, 4)
        self.assertIn(("L", 301), seen)
        self.assertEqual(f(4), 5)


class TestLineInstrumentationState(MonitoringTestCase):
    """What LINE and INSTRUCTION leave in a code object."""

    def adaptive_opnames(self, func):
        return {i.opname for i in dis.get_instructions(func, adaptive=True)}

    @unittest.skipUnless(FORK, "the fork's instrumented opcodes")
    def test_no_callback_no_instrumentation(self):
        self.claim(TOOL)
        mon.set_events(TOOL, E.LINE | E.INSTRUCTION | E.PY_START)
        line_for(2)
        self.assertFalse({n for n in self.adaptive_opnames(line_for)
                          if n.startswith("INSTRUMENTED_")})
        # Registering the callback brings the instrumentation up to date.
        mon.register_callback(TOOL, E.LINE, lambda code, line: None)
        line_for(2)
        self.assertIn("INSTRUMENTED_LINE", self.adaptive_opnames(line_for))
        mon.register_callback(TOOL, E.LINE, None)
        line_for(2)
        self.assertNotIn("INSTRUMENTED_LINE", self.adaptive_opnames(line_for))

    def test_code_unchanged(self):
        code = line_while.__code__
        before = code.co_code
        copy = code.replace()
        with LineRecorder(line_while), \
                LineRecorder(line_while, tool=4, events=E.INSTRUCTION):
            line_while(5)
            self.assertEqual(code.replace().co_code, before)
            self.assertEqual(code, copy)
            self.assertEqual(list(code.co_lines()), list(copy.co_lines()))
        self.assertEqual(code.co_code, before)
        self.assertEqual(line_while(5), 4)

    @unittest.skipUnless(FORK, "the fork's instrumented opcodes")
    def test_removed_when_tool_freed(self):
        with LineRecorder(line_while):
            line_while(5)
            self.assertIn("INSTRUMENTED_LINE", self.adaptive_opnames(line_while))
        line_while(5)
        self.assertFalse({n for n in self.adaptive_opnames(line_while)
                          if n.startswith("INSTRUMENTED_")})


class TestLineCoexistence(MonitoringTestCase):

    def settrace_events(self, func, *args, opcodes=False):
        seen = []
        code = func.__code__

        def tracer(frame, event, arg):
            if frame.f_code is code:
                frame.f_trace_opcodes = opcodes
                line = frame.f_lineno
                seen.append((event, line and line - code.co_firstlineno))
            return tracer
        sys.settrace(tracer)
        try:
            func(*args)
        finally:
            sys.settrace(None)
        return seen

    def test_settrace_and_line_events(self):
        for func, args in ((line_while, (5,)), (line_for, (3,)),
                           (line_one_line_loop, (4,)), (line_try, (1,)),
                           (line_with, (1,))):
            with self.subTest(func=func.__name__):
                for opcodes in (False, True):
                    alone = self.settrace_events(func, *args, opcodes=opcodes)
                    with LineRecorder(func, *LINE_HELPERS) as rec, \
                            LineRecorder(func, tool=4, events=E.INSTRUCTION):
                        both = self.settrace_events(func, *args, opcodes=opcodes)
                    self.assertEqual(both, alone)
                    self.assertEqual(line_compact(func.__name__, rec.events),
                                     LINE_EXPECTED[func, args])

    def test_settrace_jump_with_line_tool(self):
        def jumper(frame, event, arg):
            if frame.f_code is line_jump_target.__code__ and event == "line":
                if frame.f_lineno == line_jump_target.__code__.co_firstlineno + 2:
                    frame.f_lineno += 1
            return jumper
        with LineRecorder(line_jump_target) as rec:
            sys.settrace(jumper)
            try:
                result = line_jump_target()
            finally:
                sys.settrace(None)
        self.assertEqual(result, 1)
        # sys.settrace is a monitoring tool itself, called first: the other
        # tools still see the line the trace function jumped from, and
        # nothing where it jumped to.
        self.assertEqual(line_compact("line_jump_target", rec.events), [1, 2])


def line_jump_target():
    x = 1
    x = 2
    return x


class TestLegacyLines(unittest.TestCase):
    """sys.settrace's 'line' events go to the frames that want them: with a
    local trace function (frame.f_trace) and frame.f_trace_lines set.  The
    fork instruments lines only in the code of such frames."""

    LINE = (__import__("opcode")._instrumented_instructions["INSTRUMENTED_LINE"][0]
            if FORK else None)

    def first_line_layered(self, func):
        # The instruction after RESUME starts the first line
        return func.__code__._co_code_adaptive[2] == self.LINE

    def run_traced(self, tracer, body):
        old = sys.gettrace()
        sys.settrace(tracer)
        try:
            body()
        finally:
            sys.settrace(old)

    @staticmethod
    def recorder(func, events):
        """A local trace function recording (event, line relative to the
        def line) for the frames of func."""
        code = func.__code__
        def local(frame, event, arg):
            if frame.f_code is code:
                events.append((event, frame.f_lineno - code.co_firstlineno))
            return local
        return local

    def test_untraced_frames_get_no_lines(self):
        def warm():
            return 0
        def unwanted():
            x = 1
            return x
        def wanted():
            y = 2
            return y
        events = []
        local = self.recorder(wanted, events)
        def tracer(frame, event, arg):
            return local(frame, event, arg) if frame.f_code is wanted.__code__ else None
        layered = []
        def body():
            warm()
            unwanted()
            wanted()
            layered.append((self.first_line_layered(unwanted),
                            self.first_line_layered(wanted)))
        self.run_traced(tracer, body)
        self.assertEqual(events, [("call", 0), ("line", 1), ("line", 2), ("return", 2)])
        if FORK:
            self.assertEqual(layered, [(False, True)])
            # Gone with the trace function
            wanted()
            self.assertFalse(self.first_line_layered(wanted))

    def test_f_trace_set_in_running_frame(self):
        def late():
            a = 1
            sys._getframe().f_trace = local
            b = 2
            return a + b
        events = []
        local = self.recorder(late, events)
        self.run_traced(lambda frame, event, arg: None, late)
        self.assertEqual(events, [("line", 3), ("line", 4), ("return", 4)])

    def test_f_trace_lines_switched_on(self):
        def switched():
            a = 1
            sys._getframe().f_trace_lines = True
            b = 2
            return a + b
        events = []
        local = self.recorder(switched, events)
        def tracer(frame, event, arg):
            if frame.f_code is switched.__code__:
                frame.f_trace_lines = False
                return local
            return None
        self.run_traced(tracer, switched)
        self.assertEqual(events, [("line", 3), ("line", 4), ("return", 4)])

    def test_frames_running_when_set(self):
        # What bdb.set_trace() does: give the running frames a local trace
        # function, then set the trace function.
        def running():
            frame = sys._getframe()
            frame.f_trace = local
            sys.settrace(local)
            a = 1
            sys.settrace(None)
            return a
        events = []
        local = self.recorder(running, events)
        self.run_traced(None, running)
        self.assertEqual(events, [("line", 4), ("line", 5)])

    def test_generator_wants_lines_after_resumption(self):
        # The tracer decides at each 'call' event, resumptions included.
        def gen():
            yield 1
            x = 2
            yield x
        events = []
        local = self.recorder(gen, events)
        calls = 0
        def tracer(frame, event, arg):
            nonlocal calls
            if frame.f_code is gen.__code__:
                calls += 1
                if calls == 2:
                    return local(frame, event, arg)
            return None
        g = gen()
        def body():
            next(g)
            next(g)
        self.run_traced(tracer, body)
        self.assertEqual(events, [("call", 1), ("line", 2), ("line", 3),
                                  ("return", 3)])


class TestSubinterpreters(MonitoringTestCase):
    """Tool state is per interpreter."""

    def test_separate_tool_tables(self):
        _testcapi = support.import_helper.import_module("_testcapi")
        seen = []
        self.claim(TOOL)
        def record(code, offset):
            if code.co_filename == __file__:
                seen.append(code.co_name)
        mon.register_callback(TOOL, E.PY_START, record)
        mon.set_events(TOOL, E.PY_START)
        # The sub-interpreter finds TOOL free, uses it, and sees only its own code.
        script = f"""if 1:
            import sys
            mon = sys.monitoring
            assert mon.get_tool({TOOL}) is None, mon.get_tool({TOOL})
            mon.use_tool_id({TOOL}, "sub")
            got = []
            mon.register_callback({TOOL}, mon.events.PY_START,
                                  lambda code, offset: got.append(code.co_name))
            mon.set_events({TOOL}, mon.events.PY_START)
            def inner():
                return 1
            inner()
            mon.free_tool_id({TOOL})
            assert got == ["inner"], got
        """

        def run_sub():
            return _testcapi.run_in_subinterp(script)

        self.assertEqual(run_sub(), 0)
        self.assertEqual(seen, ["run_sub"])
        self.assertEqual(mon.get_tool(TOOL), "test")
        self.assertEqual(mon.get_events(TOOL), E.PY_START)

    # posixpath is deep-frozen: its code objects are shared by every
    # interpreter of the process.
    SHARED_CODE_SETUP = """if 1:
        import posixpath, sys
        mon = sys.monitoring
        mon.use_tool_id({tool}, "sub")
        mon.register_callback({tool}, mon.events.PY_START, lambda c, o: None)
        mon.set_local_events({tool}, posixpath.join.__code__,
                             mon.events.PY_START)
        posixpath.join("a", "b")
    """

    def test_shared_code_survives_subinterpreter_teardown(self):
        # The sub-interpreter monitors posixpath.join first; the main
        # interpreter's own local events on it must outlive the
        # sub-interpreter.
        import posixpath
        interpreters = support.import_helper.import_module("_xxsubinterpreters")
        code = posixpath.join.__code__
        sub = interpreters.create()
        try:
            interpreters.run_string(sub, self.SHARED_CODE_SETUP.format(tool=TOOL))
            seen = []
            self.claim(TOOL)
            mon.register_callback(TOOL, E.PY_START,
                                  lambda c, o: seen.append(c) if c is code else None)
            self.set_local(TOOL, code, E.PY_START)
            posixpath.join("a", "b")
        finally:
            interpreters.destroy(sub)
        self.assertEqual(mon.get_local_events(TOOL, code), E.PY_START)
        for _ in range(6):
            posixpath.join("a", "b")
        self.assertEqual(len(seen), 7)

    def test_monitoring_used_during_subinterpreter_teardown(self):
        # Code that runs while a sub-interpreter is torn down uses
        # sys.monitoring on shared code; nothing of it may outlive the
        # sub-interpreter (this wrote through a freed interpreter at exit).
        support.import_helper.import_module("_xxsubinterpreters")
        late = f"""if 1:
            import builtins, posixpath, sys
            class Late:
                def __del__(self):
                    mon = sys.monitoring
                    mon.use_tool_id({TOOL}, "late")
                    mon.register_callback({TOOL}, mon.events.PY_START,
                                          lambda c, o: None)
                    mon.set_local_events({TOOL}, posixpath.join.__code__,
                                         mon.events.PY_START)
                    posixpath.join("x", "y")
            sys.late = Late()
            builtins.late = Late()
        """
        script = f"""if 1:
            import posixpath, sys, _xxsubinterpreters as interpreters
            sub = interpreters.create()
            interpreters.run_string(sub, {late!r})
            interpreters.destroy(sub)
            mon = sys.monitoring
            code = posixpath.join.__code__
            seen = []
            mon.use_tool_id({TOOL}, "main")
            mon.register_callback({TOOL}, mon.events.PY_START,
                                  lambda c, o: seen.append(c) if c is code else None)
            mon.set_local_events({TOOL}, code, mon.events.PY_START)
            posixpath.join("a", "b")
            assert len(seen) == 1, seen
            print("ok")
        """
        result = script_helper.assert_python_ok("-c", script)
        self.assertEqual(result.out.strip(), b"ok")

    def test_shared_code_lines_in_two_interpreters(self):
        # LINE and INSTRUCTION layer the bytecode that both interpreters
        # run; each sees its own complete line sequence.
        import posixpath
        interpreters = support.import_helper.import_module("_xxsubinterpreters")
        code = posixpath.join.__code__
        lines = []
        self.claim(TOOL)
        mon.register_callback(TOOL, E.LINE,
                              lambda c, l: lines.append(l) if c is code else None)
        self.set_local(TOOL, code, E.LINE | E.BRANCH_LEFT | E.BRANCH_RIGHT)
        posixpath.join("a", "b")
        expected = list(lines)
        sub = interpreters.create()
        try:
            interpreters.run_string(sub, f"""if 1:
                import posixpath, sys
                mon = sys.monitoring
                mon.use_tool_id({TOOL}, "sub")
                got = []
                mon.register_callback({TOOL}, mon.events.LINE,
                                      lambda c, l: got.append(l))
                mon.register_callback({TOOL}, mon.events.INSTRUCTION,
                                      lambda c, o: None)
                mon.set_events({TOOL}, mon.events.LINE | mon.events.INSTRUCTION)
                posixpath.join("a", "b")
                mon.set_events({TOOL}, 0)
                assert got, got
            """)
            for _ in range(2):
                lines.clear()
                posixpath.join("a", "b")
                self.assertEqual(lines, expected)
                interpreters.run_string(sub, "import posixpath; posixpath.join('x', 'y')")
        finally:
            interpreters.destroy(sub)
        lines.clear()
        posixpath.join("a", "b")
        self.assertEqual(lines, expected)

    def test_shared_code_instrumentation_versions(self):
        # posixpath.join is deep-frozen: one code object for all interpreters.
        # The sub-interpreter leaves it uninstrumented, stamped with its
        # second tool state; this interpreter's second tool state must not
        # pass for the same one.  A fresh process, so that both interpreters
        # start with no tool state.
        support.import_helper.import_module("_xxsubinterpreters")
        script = """if 1:
            import sys, posixpath, _xxsubinterpreters as subinterpreters
            mon = sys.monitoring
            code = posixpath.join.__code__
            sub = subinterpreters.create()
            subinterpreters.run_string(sub, '''if 1:
                import sys, posixpath
                mon = sys.monitoring
                mon.use_tool_id(0, "sub")
                mon.register_callback(0, mon.events.PY_START, lambda *args: None)
                mon.set_events(0, mon.events.PY_START)
                posixpath.join("a", "b")
                mon.set_events(0, 0)
                posixpath.join("a", "b")
                ''')
            starts = []
            mon.use_tool_id(0, "main")
            mon.register_callback(0, mon.events.PY_START,
                                  lambda c, offset: starts.append(c is code))
            mon.set_events(0, mon.events.PY_RETURN)
            mon.set_events(0, mon.events.PY_START)
            for i in range(6):
                posixpath.join("a", "b")
            mon.set_events(0, 0)
            subinterpreters.destroy(sub)
            print(starts.count(True))
        """
        rc, out, err = script_helper.assert_python_ok("-c", script)
        self.assertEqual(out.strip(), b"6")

    ORPHAN_SETUP = """if 1:
        import sys, posixpath, types, _xxsubinterpreters as subinterpreters
        mon = sys.monitoring
        # -X frozen_modules=on: the deep-frozen code object, static and shared
        assert posixpath.__spec__.origin == "frozen", posixpath.__spec__
        code = posixpath.join.__code__
        before = code.co_code
        def first_opcode():
            # Of the instruction after RESUME, the first line start
            return code._co_code_adaptive[2]
        sub = subinterpreters.create()
        subinterpreters.run_string(sub, '''if 1:
            import sys, posixpath
            mon = sys.monitoring
            mon.use_tool_id(0, "sub")
            mon.register_callback(0, mon.events.LINE, lambda *args: None)
            mon.register_callback(0, mon.events.INSTRUCTION, lambda *args: None)
            mon.set_events(0, mon.events.LINE | mon.events.INSTRUCTION)
            posixpath.join("a", "b")
            ''')
        subinterpreters.destroy(sub)
        # The layers the sub-interpreter left in the shared bytecode are
        # invisible to everything that reads the code.
        assert code.co_code == before
        assert code == code.replace(co_name=code.co_name)
        if {fork}:
            import opcode
            LINE = opcode._instrumented_instructions["INSTRUMENTED_LINE"][0]
            assert first_opcode() == LINE, first_opcode()
        """

    def test_shared_code_left_layered_by_finalized_interpreter(self):
        # A finalized interpreter leaves its layers in code that outlives it
        # (the fork removes them lazily): the next interpreter to run the
        # code removes them, and its own tools see what they would see alone.
        support.import_helper.import_module("_xxsubinterpreters")
        script = self.ORPHAN_SETUP.format(fork=FORK) + """if 1:
            assert posixpath.join("a", "b") == "a/b"
            assert first_opcode() < 240, first_opcode()
            copy = types.FunctionType(code.replace(co_name="copy"),
                                      posixpath.__dict__)
            lines = []
            mon.use_tool_id(0, "main")
            mon.register_callback(0, mon.events.LINE,
                                  lambda c, l: lines.append((c.co_name, l)))
            mon.set_events(0, mon.events.LINE)
            copy("a", "b")
            posixpath.join("a", "b")
            mon.set_events(0, 0)
            expected = [l for n, l in lines if n == "copy"]
            got = [l for n, l in lines if n == "join"]
            assert got == expected and got, (got, expected)
            print("ok")
        """
        rc, out, err = script_helper.assert_python_ok(
            "-X", "frozen_modules=on", "-c", script)
        self.assertEqual(out.strip(), b"ok")

    def test_shared_code_left_layered_at_exit(self):
        # Nothing runs the code again before the process exits: finalization
        # puts the static code object back in order with the side table the
        # finalized interpreter left.
        support.import_helper.import_module("_xxsubinterpreters")
        script = self.ORPHAN_SETUP.format(fork=FORK) + """if 1:
            print("ok")
        """
        rc, out, err = script_helper.assert_python_ok(
            "-X", "frozen_modules=on", "-c", script)
        self.assertEqual(out.strip(), b"ok")


if __name__ == "__main__":
    unittest.main()
