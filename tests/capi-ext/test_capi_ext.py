"""A pure-Python tool observes a compiled function emulated by an extension
built out of tree against the installed fork (tests/capi-ext/capi_ext.c).

Run by the installed python3.11, with capi_ext importable (the runner builds
it with python3.11-config)."""

import sys
import unittest

import capi_ext

mon = sys.monitoring
E = mon.events
TOOL = mon.COVERAGE_ID
NAMES = {getattr(E, n): n for n in dir(E) if n.isupper() and n != "NO_EVENTS"}


def double(x):
    return 2 * x


def fail(x):
    raise KeyError(x)


class Tool:
    """Records every event about the emulated code and the callables it calls."""
    def __init__(self, codes):
        self.codes = codes
        self.events = []
        for event, name in NAMES.items():
            if event & (E.C_RETURN | E.C_RAISE | E.INSTRUCTION | E.BRANCH |
                        E.BRANCH_LEFT | E.BRANCH_RIGHT | E.JUMP):
                continue
            mon.register_callback(TOOL, event, self.callback(name))

    def callback(self, name):
        def record(code, *args):
            if any(code is c for c in self.codes):
                self.events.append((name, code.co_name) + args)
        return record


class CompiledFunctionTest(unittest.TestCase):

    def setUp(self):
        mon.use_tool_id(TOOL, "capi-ext test")
        self.addCleanup(mon.free_tool_id, TOOL)
        self.tool = Tool([capi_ext.code, double.__code__, fail.__code__])
        local = E.PY_START | E.LINE | E.CALL | E.PY_RETURN
        mon.set_local_events(TOOL, capi_ext.code, local)
        mon.set_local_events(TOOL, double.__code__, E.PY_START | E.PY_RETURN)
        mon.set_local_events(TOOL, fail.__code__, E.PY_START)

    def test_code_object(self):
        self.assertEqual(capi_ext.code.co_name, "emulated")
        self.assertEqual(capi_ext.code.co_filename, "capi_ext_emulated.py")
        self.assertEqual(mon.get_local_events(TOOL, capi_ext.code),
                         E.PY_START | E.LINE | E.CALL | E.PY_RETURN)

    def test_return(self):
        self.assertEqual(capi_ext.emulated(double, 5), 11)
        self.assertEqual(self.tool.events, [
            ("PY_START", "emulated", 0),
            ("LINE", "emulated", 2),
            ("CALL", "emulated", 4, double, 5),
            ("PY_START", "double", 0),
            ("PY_RETURN", "double", self.tool.events[4][2], 10),
            ("LINE", "emulated", 3),
            ("PY_RETURN", "emulated", 8, 11),
        ])

    def test_raise_and_unwind(self):
        mon.set_events(TOOL, E.RAISE | E.PY_UNWIND)
        with self.assertRaises(KeyError) as cm:
            capi_ext.emulated(fail, 3)
        mon.set_events(TOOL, 0)
        names = [e[:2] for e in self.tool.events]
        self.assertEqual(names, [
            ("PY_START", "emulated"), ("LINE", "emulated"), ("CALL", "emulated"),
            ("PY_START", "fail"), ("RAISE", "fail"), ("PY_UNWIND", "fail"),
            ("RAISE", "emulated"), ("PY_UNWIND", "emulated"),
        ])
        for name, where, *args in self.tool.events[-2:]:
            self.assertEqual(args[0], 4)
            self.assertIs(args[1], cm.exception)

    def test_disable_and_restart(self):
        def line(code, lineno):
            if code is capi_ext.code:
                self.tool.events.append(("LINE", lineno))
                return mon.DISABLE
        mon.register_callback(TOOL, E.LINE, line)
        capi_ext.emulated(double, 1)
        capi_ext.emulated(double, 1)
        lines = [e for e in self.tool.events if e[0] == "LINE"]
        # DISABLE switches LINE off for this scope (both lines share its state).
        self.assertEqual(lines, [("LINE", 2)])
        mon.restart_events()
        capi_ext.emulated(double, 1)
        lines = [e for e in self.tool.events if e[0] == "LINE"]
        self.assertEqual(lines, [("LINE", 2), ("LINE", 2)])

    def test_nothing_without_a_tool(self):
        mon.set_local_events(TOOL, capi_ext.code, 0)
        self.assertEqual(capi_ext.emulated(double, 2), 5)
        self.assertEqual([e[1] for e in self.tool.events], ["double", "double"])


if __name__ == "__main__":
    unittest.main()
