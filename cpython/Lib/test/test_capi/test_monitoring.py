"""Tests of sys.monitoring's C API: events fired from C (PyMonitoring_Fire*Event
and scopes), code-like objects, and native C callbacks (fork extensions)."""

import gc
import sys
import types
import unittest
import weakref
from test.support import import_helper

_testcapi = import_helper.import_module('_testcapi')

mon = sys.monitoring
E = mon.events
TOOL = 2
OTHER = 4

# Event ids: sys.monitoring.events.X == 1 << id (C: PY_MONITORING_EVENT_X).
ID = {name: (getattr(E, name)).bit_length() - 1
      for name in ("PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "CALL", "LINE",
                   "INSTRUCTION", "JUMP", "BRANCH_LEFT", "BRANCH_RIGHT",
                   "STOP_ITERATION", "RAISE", "EXCEPTION_HANDLED", "PY_UNWIND",
                   "PY_THROW", "RERAISE", "C_RETURN", "C_RAISE", "BRANCH")}
FIREABLE = [name for name in ID if name != "INSTRUCTION"]
LOCAL = {"PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "CALL", "LINE", "JUMP",
         "BRANCH_LEFT", "BRANCH_RIGHT", "BRANCH", "STOP_ITERATION"}
EXCEPTION_EVENTS = {"RAISE", "EXCEPTION_HANDLED", "PY_UNWIND", "PY_THROW", "RERAISE",
                    "C_RAISE"}


class CodeLike:
    """What a compiled module might use as its code."""
    def __init__(self, name, filename="emulated.pyx", firstlineno=1):
        self.co_name = name
        self.co_filename = filename
        self.co_firstlineno = firstlineno

    def __repr__(self):
        return f"<CodeLike {self.co_name}>"


def scope(*names):
    return _testcapi.MonitoringScope([ID[n] for n in names])


def python_function():
    return 1


class MonitoringCAPITestBase(unittest.TestCase):

    def setUp(self):
        for tool in (TOOL, OTHER):
            if mon.get_tool(tool) is not None:
                self.skipTest(f"tool {tool} in use")
            mon.use_tool_id(tool, "test_capi.test_monitoring")
            self.addCleanup(mon.free_tool_id, tool)
        self.addCleanup(mon.restart_events)
        self.events = []

    def watched(self, code):
        """Is this event about code the test fires events for (rather than
        the test machinery's own code, which global events also report)?"""
        return not isinstance(code, types.CodeType) or code is python_function.__code__ \
            or code.co_filename in ("module.pyx", "emulated.pyx")

    def recorder(self, name, tool=TOOL, result=None):
        def callback(*args):
            if self.watched(args[0]):
                self.events.append((tool, name) + args)
                return result
        return callback

    def listen(self, names, tool=TOOL, codelike=None, result=None):
        """Register a recording callback for each event; set them globally, or
        locally on codelike."""
        events = 0
        for name in names:
            mon.register_callback(tool, getattr(E, name), self.recorder(name, tool, result))
            events |= getattr(E, name)
        if "C_RETURN" in names or "C_RAISE" in names:
            events |= E.CALL | E.C_RETURN | E.C_RAISE
        if codelike is None:
            mon.set_events(tool, events)
        else:
            mon.set_local_events(tool, codelike, events)


class FireEventsTest(MonitoringCAPITestBase):

    def fire_args(self, name):
        """Arguments fire() needs for the event, and what the callback gets
        after (code, offset)."""
        value = object()
        if name in ("PY_RETURN", "PY_YIELD", "C_RETURN"):
            return (value,), (value,)
        if name == "CALL":
            return (print, value), (print, value)
        if name in ("JUMP", "BRANCH_LEFT", "BRANCH_RIGHT", "BRANCH"):
            return (42,), (42,)
        if name in EXCEPTION_EVENTS:
            exc = KeyError("k")
            return (exc,), (exc,)
        return (), ()

    def test_nothing_listens(self):
        s = scope(*FIREABLE)
        s.enter()
        code = CodeLike("f")
        for name in FIREABLE:
            self.assertEqual(s.active(ID[name]), 0)
            args, _ = self.fire_args(name)
            if name == "LINE":
                args = (3,)
            if name == "STOP_ITERATION":
                args = (1,)
            result = s.fire(ID[name], code, 0, *args)
            if name in EXCEPTION_EVENTS:
                self.assertIs(result, args[0])
        s.exit()

    def test_every_event_reaches_a_python_tool(self):
        code = CodeLike("emulated")
        for name in FIREABLE:
            with self.subTest(event=name):
                self.events.clear()
                mon.clear_tool_id(TOOL)
                local = name in LOCAL
                self.listen([name], codelike=code if local else None)
                s = scope(name)
                s.enter()
                self.assertEqual(s.active(ID[name]), 1 << TOOL)
                args, expected = self.fire_args(name)
                if name == "LINE":
                    args, expected = (7,), ()
                    result = s.fire(ID[name], code, 14, *args)
                    self.assertEqual(self.events, [(TOOL, name, code, 7)])
                    continue
                if name == "STOP_ITERATION":
                    args = (5,)
                result = s.fire(ID[name], code, 10, *args)
                s.exit()
                self.assertEqual(len(self.events), 1)
                got = self.events[0]
                self.assertEqual(got[:4], (TOOL, name, code, 10))
                if name == "STOP_ITERATION":
                    self.assertIsInstance(got[4], StopIteration)
                    self.assertEqual(got[4].value, 5)
                else:
                    self.assertEqual(got[4:], expected)
                if name in EXCEPTION_EVENTS:
                    # The exception is still set afterwards.
                    self.assertIs(result, args[0])

    def test_call_without_arg0_reports_missing(self):
        code = CodeLike("f")
        self.listen(["CALL"], codelike=code)
        s = scope("CALL")
        s.enter()
        s.fire(ID["CALL"], code, 4, len)
        self.assertEqual(self.events, [(TOOL, "CALL", code, 4, len, mon.MISSING)])

    def test_stop_iteration_instance_is_passed_as_is(self):
        code = CodeLike("f")
        self.listen(["STOP_ITERATION"], codelike=code)
        s = scope("STOP_ITERATION")
        s.enter()
        exc = StopIteration(3)
        s.fire(ID["STOP_ITERATION"], code, 2, exc)
        self.assertIs(self.events[0][4], exc)

    def test_c_return_and_c_raise_follow_call(self):
        code = CodeLike("f")
        mon.register_callback(TOOL, E.C_RETURN, self.recorder("C_RETURN"))
        mon.set_events(TOOL, E.PY_START)
        s = scope("C_RETURN")
        s.enter()
        self.assertEqual(s.active(ID["C_RETURN"]), 0)
        mon.set_events(TOOL, E.CALL | E.C_RETURN | E.C_RAISE)
        s.enter()
        self.assertEqual(s.active(ID["C_RETURN"]), 1 << TOOL)
        s.fire(ID["C_RETURN"], code, 2, 7)
        self.assertEqual(self.events, [(TOOL, "C_RETURN", code, 2, 7)])

    def test_tools_called_highest_id_first(self):
        code = CodeLike("f")
        self.listen(["PY_START"], tool=TOOL)
        self.listen(["PY_START"], tool=OTHER)
        s = scope("PY_START")
        s.enter()
        self.assertEqual(s.active(ID["PY_START"]), (1 << TOOL) | (1 << OTHER))
        s.fire(ID["PY_START"], code, 0)
        self.assertEqual([e[0] for e in self.events], [OTHER, TOOL])

    def test_negative_offset(self):
        code = CodeLike("f")
        self.listen(["PY_START"], codelike=code)
        s = scope("PY_START")
        s.enter()
        with self.assertRaises(ValueError):
            s.fire(ID["PY_START"], code, -2)
        self.assertEqual(self.events, [])

    def test_bad_event_id_in_scope(self):
        self.listen(["PY_START"])
        s = _testcapi.MonitoringScope([19])
        with self.assertRaises(ValueError):
            s.enter()

    def test_disable_clears_the_tool_in_the_state(self):
        code = CodeLike("f")
        self.listen(["PY_START"], codelike=code, result=mon.DISABLE)
        self.listen(["PY_START"], tool=OTHER, codelike=code)
        s = scope("PY_START")
        s.enter()
        s.fire(ID["PY_START"], code, 0)
        self.assertEqual(s.active(ID["PY_START"]), 1 << OTHER)
        s.fire(ID["PY_START"], code, 0)
        self.assertEqual([e[0] for e in self.events], [OTHER, TOOL, OTHER])
        # Entering again does not re-enable it; restart_events() does.
        s.enter()
        s.fire(ID["PY_START"], code, 0)
        self.assertEqual(len(self.events), 4)
        mon.restart_events()
        s.enter()
        self.assertEqual(s.active(ID["PY_START"]), (1 << TOOL) | (1 << OTHER))
        self.events.clear()
        s.fire(ID["PY_START"], code, 0)
        self.assertEqual([e[0] for e in self.events], [OTHER, TOOL])

    def test_disable_of_global_only_event_is_an_error(self):
        code = CodeLike("f")
        self.listen(["RAISE"], result=mon.DISABLE)
        s = scope("RAISE")
        s.enter()
        with self.assertRaisesRegex(ValueError, "cannot disable RAISE"):
            s.fire(ID["RAISE"], code, 0, KeyError())
        # The broken callback is unregistered.
        self.assertIsNone(mon.register_callback(TOOL, E.RAISE, None))

    def test_disable_of_local_exception_event(self):
        # Set locally (3.15), an exception event can be disabled, for that
        # code-like object only, until restart_events().
        code = CodeLike("f")
        self.listen(["RAISE"], codelike=code, result=mon.DISABLE)
        s = scope("RAISE")
        s.enter()
        s.fire(ID["RAISE"], code, 0, KeyError())
        s.fire(ID["RAISE"], code, 0, KeyError())
        self.assertEqual(len(self.events), 1)
        self.assertEqual(mon.get_local_events(TOOL, code), E.RAISE)

    def test_callback_exception_propagates(self):
        code = CodeLike("f")
        def boom(*args):
            if args[0] is code:
                raise ZeroDivisionError("tool")
        mon.register_callback(TOOL, E.PY_START, boom)
        mon.register_callback(TOOL, E.RAISE, boom)
        mon.set_local_events(TOOL, code, E.PY_START)
        mon.set_events(TOOL, E.RAISE)
        s = scope("PY_START", "RAISE")
        s.enter()
        with self.assertRaisesRegex(ZeroDivisionError, "tool"):
            s.fire(ID["PY_START"], code, 0)
        # For an exception event, the callback's exception replaces it.
        with self.assertRaisesRegex(ZeroDivisionError, "tool"):
            s.fire(ID["RAISE"], code, 0, KeyError())

    def test_no_events_while_a_callback_runs(self):
        code = CodeLike("f")
        s = scope("PY_START")
        def nested(*args):
            self.events.append("outer")
            s.fire(ID["PY_START"], code, 2)
        mon.register_callback(TOOL, E.PY_START, nested)
        mon.set_local_events(TOOL, code, E.PY_START)
        s.enter()
        s.fire(ID["PY_START"], code, 0)
        self.assertEqual(self.events, ["outer"])

    def test_scope_version(self):
        s = scope("PY_START")
        s.enter()
        v = s.version
        s.enter()
        self.assertEqual(s.version, v)
        self.listen(["PY_START"])
        s.enter()
        self.assertNotEqual(s.version, v)
        self.assertEqual(s.active(ID["PY_START"]), 1 << TOOL)
        mon.set_events(TOOL, 0)
        s.enter()
        self.assertEqual(s.active(ID["PY_START"]), 0)

    def test_stale_state_delivers_nothing_wrong(self):
        # A state not refreshed by enter() after a tool stopped listening
        # does not deliver to it.
        code = CodeLike("f")
        self.listen(["PY_START"])
        s = scope("PY_START")
        s.enter()
        mon.set_events(TOOL, 0)
        s.fire(ID["PY_START"], code, 0)
        self.assertEqual(self.events, [])

    def test_recursion_reuses_the_scope(self):
        code = CodeLike("fact")
        self.listen(["PY_START", "PY_RETURN"], codelike=code)
        s = scope("PY_START", "PY_RETURN")
        def emulated(n):
            s.enter()
            s.fire(ID["PY_START"], code, 0)
            result = 1 if n <= 1 else n * emulated(n - 1)
            s.fire(ID["PY_RETURN"], code, 8, result)
            s.exit()
            return result
        self.assertEqual(emulated(3), 6)
        self.assertEqual([e[1:] for e in self.events], [
            ("PY_START", code, 0), ("PY_START", code, 0), ("PY_START", code, 0),
            ("PY_RETURN", code, 8, 1), ("PY_RETURN", code, 8, 2),
            ("PY_RETURN", code, 8, 6)])

    def test_generator_exits_and_reenters(self):
        code = CodeLike("gen")
        names = ["PY_START", "PY_YIELD", "PY_RESUME", "PY_RETURN", "STOP_ITERATION"]
        self.listen(names, codelike=code)
        s = scope(*names)
        def emulated_gen():
            s.enter()
            s.fire(ID["PY_START"], code, 0)
            s.fire(ID["PY_YIELD"], code, 4, 1)
            s.exit()
            yield 1
            s.enter()
            s.fire(ID["PY_RESUME"], code, 6)
            s.fire(ID["PY_RETURN"], code, 10, None)
            s.fire(ID["STOP_ITERATION"], code, 10, None)
            s.exit()
        self.assertEqual(list(emulated_gen()), [1])
        self.assertEqual([e[1] for e in self.events], names)
        self.assertIsInstance(self.events[-1][4], StopIteration)


class CodeLikeTest(MonitoringCAPITestBase):

    def test_local_events_on_a_code_like_object(self):
        code, other = CodeLike("f"), CodeLike("g")
        mon.register_callback(TOOL, E.LINE, self.recorder("LINE"))
        mon.set_local_events(TOOL, code, E.LINE | E.PY_START)
        self.assertEqual(mon.get_local_events(TOOL, code), E.LINE | E.PY_START)
        self.assertEqual(mon.get_local_events(TOOL, other), 0)
        self.assertEqual(mon.get_local_events(OTHER, code), 0)
        s = scope("LINE")
        s.enter()
        self.assertEqual(s.active(ID["LINE"]), 1 << TOOL)
        s.fire(ID["LINE"], code, 0, 1)
        s.fire(ID["LINE"], other, 0, 2)
        self.assertEqual(self.events, [(TOOL, "LINE", code, 1)])
        mon.set_local_events(TOOL, code, 0)
        self.assertEqual(mon.get_local_events(TOOL, code), 0)
        s.enter()
        s.fire(ID["LINE"], code, 0, 3)
        self.assertEqual(len(self.events), 1)

    def test_local_events_validated(self):
        code = CodeLike("f")
        for bad in (E.C_RETURN, 1 << 25, -1):
            with self.subTest(events=bad), self.assertRaises(ValueError):
                mon.set_local_events(TOOL, code, bad)
        self.assertEqual(mon.get_local_events(TOOL, code), 0)
        with self.assertRaises(ValueError):
            mon.set_local_events(5, code, E.PY_START)

    def test_not_code_like(self):
        for bad in (python_function, None, "code", object(), types.SimpleNamespace(co_name="x")):
            with self.subTest(code=bad):
                with self.assertRaises(TypeError):
                    mon.set_local_events(TOOL, bad, E.PY_START)
                with self.assertRaises(TypeError):
                    mon.get_local_events(TOOL, bad)

    def test_lifetime_of_code_like_objects(self):
        code = CodeLike("f")
        ref = weakref.ref(code)
        mon.set_local_events(TOOL, code, E.PY_START)
        mon.set_local_events(OTHER, code, E.PY_START)
        del code
        gc.collect()
        self.assertIsNotNone(ref(), "kept alive while a tool has local events on it")
        mon.set_local_events(TOOL, ref(), 0)
        gc.collect()
        self.assertIsNotNone(ref())
        mon.clear_tool_id(OTHER)
        gc.collect()
        self.assertIsNone(ref())

    def test_free_tool_id_forgets_local_events(self):
        code = CodeLike("f")
        mon.set_local_events(TOOL, code, E.PY_START)
        mon.free_tool_id(TOOL)
        mon.use_tool_id(TOOL, "again")
        self.assertEqual(mon.get_local_events(TOOL, code), 0)

    def test_shim_code_object(self):
        # What Cython uses: PyCode_NewEmpty(), which has no code of its own to run.
        code = _testcapi.code_newempty("module.pyx", "compiled", 10)
        self.listen(["PY_START", "PY_RETURN"], codelike=code)
        self.assertEqual(mon.get_local_events(TOOL, code), E.PY_START | E.PY_RETURN)
        s = scope("PY_START", "PY_RETURN")
        s.enter()
        s.fire(ID["PY_START"], code, 0)
        s.fire(ID["PY_RETURN"], code, 2, "r")
        other = _testcapi.code_newempty("module.pyx", "compiled", 10)
        s.fire(ID["PY_START"], other, 0)
        self.assertEqual([e[1:] for e in self.events],
                         [("PY_START", code, 0), ("PY_RETURN", code, 2, "r")])

    def test_code_without_bytecode(self):
        # A code object with no instruction at all: nothing to instrument, but
        # local events set on it are honoured when C code fires them,
        # including events the eval loop cannot deliver.
        code = python_function.__code__.replace(co_code=b"", co_linetable=b"",
                                                co_exceptiontable=b"",
                                                co_filename="module.pyx")
        self.listen(["LINE", "PY_START"], codelike=code)
        s = scope("LINE", "PY_START")
        s.enter()
        s.fire(ID["PY_START"], code, 0)
        s.fire(ID["LINE"], code, 0, 5)
        self.assertEqual([e[1:] for e in self.events],
                         [("PY_START", code, 0), ("LINE", code, 5)])

    def test_local_events_of_python_code_fired_from_c(self):
        code = python_function.__code__
        self.listen(["PY_START"], codelike=code)
        s = scope("PY_START")
        s.enter()
        self.assertEqual(s.active(ID["PY_START"]), 1 << TOOL)
        s.fire(ID["PY_START"], code, 0)
        python_function()
        self.assertEqual([e[1:] for e in self.events],
                         [("PY_START", code, 0), ("PY_START", code, 0)])


class NativeCallbackTest(MonitoringCAPITestBase):

    def native(self, tool, name, result=0):
        log = []
        _testcapi.monitoring_register_native_recorder(tool, ID[name], log, result)
        return log

    def test_native_next_to_python(self):
        code = CodeLike("f")
        log = self.native(OTHER, "PY_RETURN")
        self.listen(["PY_RETURN"], codelike=code)
        mon.set_local_events(OTHER, code, E.PY_RETURN)
        s = scope("PY_RETURN")
        s.enter()
        s.fire(ID["PY_RETURN"], code, 6, "value")
        self.assertEqual(log, [(ID["PY_RETURN"], code, 6, -1, -1, "value", None)])
        self.assertEqual(self.events, [(TOOL, "PY_RETURN", code, 6, "value")])

    def test_native_c_values(self):
        code = CodeLike("f")
        logs = {name: self.native(TOOL, name) for name in ("LINE", "JUMP", "CALL")}
        mon.set_local_events(TOOL, code, E.LINE | E.JUMP | E.CALL)
        s = scope("LINE", "JUMP", "CALL")
        s.enter()
        s.fire(ID["LINE"], code, 12, 40)
        s.fire(ID["JUMP"], code, 14, 2)
        s.fire(ID["CALL"], code, 16, len)
        self.assertEqual(logs["LINE"], [(ID["LINE"], code, 12, 40, -1, None, None)])
        self.assertEqual(logs["JUMP"], [(ID["JUMP"], code, 14, -1, 2, None, None)])
        self.assertEqual(logs["CALL"], [(ID["CALL"], code, 16, -1, -1, len, mon.MISSING)])

    def test_native_from_the_eval_loop(self):
        log = self.native(TOOL, "PY_START")
        mon.set_local_events(TOOL, python_function.__code__, E.PY_START)
        python_function()
        self.assertEqual(log, [(ID["PY_START"], python_function.__code__, 0, -1, -1,
                                None, None)])

    def test_native_disable(self):
        log = self.native(TOOL, "PY_START", result=1)
        mon.set_local_events(TOOL, python_function.__code__, E.PY_START)
        python_function()
        python_function()
        self.assertEqual(len(log), 1)
        code = CodeLike("f")
        mon.set_local_events(TOOL, code, E.PY_START)
        s = scope("PY_START")
        s.enter()
        s.fire(ID["PY_START"], code, 0)
        self.assertEqual(s.active(ID["PY_START"]), 0)
        s.fire(ID["PY_START"], code, 0)
        self.assertEqual(len(log), 2)

    def test_native_raises(self):
        log = self.native(TOOL, "PY_START", result=-1)
        mon.set_local_events(TOOL, python_function.__code__, E.PY_START)
        with self.assertRaisesRegex(RuntimeError, "native callback failed"):
            python_function()
        code = CodeLike("f")
        mon.set_local_events(TOOL, code, E.PY_START)
        s = scope("PY_START")
        s.enter()
        with self.assertRaisesRegex(RuntimeError, "native callback failed"):
            s.fire(ID["PY_START"], code, 0)
        self.assertEqual(len(log), 2)
        # The interpreter is consistent afterwards.
        mon.register_callback(TOOL, E.PY_START, None)
        self.assertEqual(python_function(), 1)

    def test_native_disable_of_global_only_event(self):
        self.native(TOOL, "RAISE", result=1)
        def raiser():
            mon.set_events(TOOL, E.RAISE)
            try:
                raise KeyError
            except KeyError:
                pass
        with self.assertRaisesRegex(ValueError, "cannot disable RAISE"):
            raiser()
        mon.set_events(TOOL, 0)
        self.assertIsNone(mon.register_callback(TOOL, E.RAISE, None))

    def test_introspection_and_reregistration(self):
        log = self.native(TOOL, "PY_START")
        cb = mon.register_callback(TOOL, E.PY_START, None)
        self.assertEqual(type(cb).__name__, "NativeCallback")
        self.assertEqual((cb.tool, cb.event), (TOOL, ID["PY_START"]))
        self.assertIn("NativeCallback", repr(cb))
        self.assertIn("PY_START", repr(cb))
        with self.assertRaises(TypeError):
            type(cb)()
        # Callable from Python, with a Python callback's arguments.
        code = python_function.__code__
        self.assertIsNone(cb(code, 0))
        self.assertEqual(log, [(ID["PY_START"], code, 0, -1, -1, None, None)])
        with self.assertRaises(TypeError):
            cb(code)
        with self.assertRaises(TypeError):
            cb(code, "0")
        # ... and registrable again, for the same or another tool.
        mon.register_callback(OTHER, E.PY_START, cb)
        mon.set_local_events(OTHER, code, E.PY_START)
        python_function()
        self.assertEqual(len(log), 2)

    def test_reregistered_for_another_event(self):
        # The interpreter passes the event it fires, not the one the
        # callback was first registered for.
        log = self.native(TOOL, "PY_START")
        cb = mon.register_callback(TOOL, E.PY_START, None)
        mon.register_callback(OTHER, E.PY_RETURN, cb)
        del cb
        mon.set_local_events(OTHER, python_function.__code__, E.PY_RETURN)
        python_function()
        self.assertEqual(len(log), 1)
        event, code, offset, lineno, target, arg, arg0 = log[0]
        self.assertEqual((event, code, arg), (ID["PY_RETURN"], python_function.__code__, 1))
        self.assertGreater(offset, 0)

    def test_callback_unregisters_itself(self):
        before = _testcapi.monitoring_native_frees()
        log = self.native(TOOL, "PY_START", result=2)
        mon.set_local_events(TOOL, python_function.__code__, E.PY_START)
        python_function()
        python_function()
        self.assertEqual(len(log), 1)
        self.assertEqual(_testcapi.monitoring_native_frees(), before + 1)
        self.assertIsNone(mon.register_callback(TOOL, E.PY_START, None))

    def test_data_freed_when_the_callback_goes(self):
        before = _testcapi.monitoring_native_frees()
        self.native(TOOL, "PY_START")
        self.native(TOOL, "PY_START")       # replaces the first
        self.assertEqual(_testcapi.monitoring_native_frees(), before + 1)
        cb = mon.register_callback(TOOL, E.PY_START, None)
        self.assertEqual(_testcapi.monitoring_native_frees(), before + 1)
        del cb
        self.assertEqual(_testcapi.monitoring_native_frees(), before + 2)
        self.native(TOOL, "CALL")
        mon.clear_tool_id(TOOL)
        self.assertEqual(_testcapi.monitoring_native_frees(), before + 3)
        self.native(TOOL, "CALL")
        _testcapi.monitoring_unregister_native(TOOL, ID["CALL"])
        self.assertEqual(_testcapi.monitoring_native_frees(), before + 4)

    def test_bad_registration(self):
        before = _testcapi.monitoring_native_frees()
        for tool, event in ((-1, 0), (6, 0), (TOOL, -1), (TOOL, 19)):
            with self.subTest(tool=tool, event=event), self.assertRaises(ValueError):
                _testcapi.monitoring_register_native_recorder(tool, event, [])
        with self.assertRaises(ValueError):
            _testcapi.monitoring_register_native_bad(TOOL, 0, True)
        # Failed registrations leave data to the caller.
        self.assertEqual(_testcapi.monitoring_native_frees(), before)

    def test_registration_is_audited(self):
        code = f"""if 1:
            import sys, _testcapi
            seen = []
            def hook(event, args):
                if event == "sys.monitoring.register_callback":
                    seen.append(type(args[0]).__name__)
            sys.addaudithook(hook)
            _testcapi.monitoring_register_native_recorder(2, 0, [])
            _testcapi.monitoring_unregister_native(2, 0)
            print(seen)
        """
        from test.support.script_helper import assert_python_ok
        rc, out, err = assert_python_ok("-c", code)
        self.assertEqual(out.strip(), b"['NativeCallback', 'NoneType']")

    def test_native_line_coverage(self):
        code = CodeLike("f")
        lines = set()
        _testcapi.monitoring_register_native_line_set(TOOL, lines)
        mon.set_local_events(TOOL, code, E.LINE)
        _testcapi.monitoring_emulate_lines(code, 10, 5, 3)
        self.assertEqual(lines, {10, 11, 12, 13, 14})


if __name__ == "__main__":
    unittest.main()
