"""The fork is a drop-in CPython 3.11: it says it is the fork, and is stock 3.11 everywhere else.

Run with the fork's interpreter.  Environment:
  FORK_TREE       the assembled tree (build/cpython), whose `base` tag is the source the fork is built
                  on (pristine 3.11.2 + Debian's security patches) and `pristine` the bare tarball
  FORK_ABI_ROOT   an unpacked Debian python3-yaml (tests/abi/fetch-debian-extension.sh)
  STOCK_PYTHON    optional: another CPython 3.11 for the .pyc interchange test
"""

import importlib.machinery
import importlib.util
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import unittest

FORK_TREE = os.environ.get("FORK_TREE")


def base_source(path, rev="base"):
    """A file of the base source, as committed in the assembled tree's base (or pristine) commit."""
    if not FORK_TREE:
        raise unittest.SkipTest("FORK_TREE not set")
    return subprocess.run(["git", "-C", FORK_TREE, "show", f"{rev}:{path}"],
                          check=True, capture_output=True, text=True).stdout


def base_revision():
    """The Debian revision whose patches the base carries (its commit's Base-Revision trailer)."""
    if not FORK_TREE:
        raise unittest.SkipTest("FORK_TREE not set")
    return subprocess.run(["git", "-C", FORK_TREE, "show", "-s",
                           "--format=%(trailers:key=Base-Revision,valueonly)", "base"],
                          check=True, capture_output=True, text=True).stdout.strip()


class IdentityTests(unittest.TestCase):
    def test_version_carries_fork_marker(self):
        self.assertTrue(sys.version.startswith("3.11.2+monitoring "), sys.version)
        out = subprocess.run([sys.executable, "-V"], capture_output=True, text=True).stdout
        self.assertEqual(out.strip(), "Python 3.11.2+monitoring")

    def test_version_names_the_base(self):
        # "3.11.2+monitoring (tags/fork:<commit>+base=3.11.2-6+deb12u8, <date>, <time>) [<compiler>]"
        revision = base_revision()
        self.assertRegex(revision, r"^3\.11\.2-\d+\+deb\d+u\d+$")
        self.assertIn(f"+base={revision},", sys.version)
        # ... in a shape platform still parses
        import platform
        buildno, builddate = platform.python_build()
        self.assertTrue(buildno.endswith(f"+base={revision}"), buildno)

    def test_base_keeps_version_and_magic(self):
        # Debian's patches are fixes only: the version and the bytecode format are 3.11.2's.
        self.assertEqual(base_source("Include/patchlevel.h"), base_source("Include/patchlevel.h", "pristine"))
        magic = re.compile(r"^MAGIC_NUMBER = .*$", re.M)
        path = "Lib/importlib/_bootstrap_external.py"
        self.assertEqual(magic.findall(base_source(path)), magic.findall(base_source(path, "pristine")))
        self.assertEqual(len(magic.findall(base_source(path))), 1)

    def test_version_info_is_stock(self):
        base = base_source("Include/patchlevel.h")
        fields = dict(re.findall(r"#define (PY_(?:MAJOR|MINOR|MICRO)_VERSION)\s+(\d+)", base))
        self.assertEqual(sys.version_info[:3], (int(fields["PY_MAJOR_VERSION"]),
                                                int(fields["PY_MINOR_VERSION"]),
                                                int(fields["PY_MICRO_VERSION"])))
        self.assertEqual(sys.version_info.releaselevel, "final")
        self.assertEqual(sys.hexversion, 0x030B02F0)

    def test_cache_tag_is_stock(self):
        self.assertEqual(sys.implementation.name, "cpython")
        self.assertEqual(sys.implementation.cache_tag, "cpython-311")

    def test_magic_number_is_stock(self):
        base = base_source("Lib/importlib/_bootstrap_external.py")
        m = re.search(r"^MAGIC_NUMBER = \((\d+)\)\.to_bytes\(2, 'little'\) \+ b'\\r\\n'$", base, re.M)
        self.assertIsNotNone(m, "MAGIC_NUMBER line not found in the pristine source")
        expected = int(m.group(1)).to_bytes(2, "little") + b"\r\n"
        self.assertEqual(importlib.util.MAGIC_NUMBER, expected)

    def test_extension_abi_is_cp311(self):
        # "d" only in a --with-pydebug build, as for stock
        self.assertEqual(sys.abiflags, "d" if sysconfig.get_config_var("Py_DEBUG") else "")
        soabi = sysconfig.get_config_var("SOABI")
        self.assertTrue(soabi.startswith(f"cpython-311{sys.abiflags}-"), soabi)
        self.assertIn(f".{soabi}.so", importlib.machinery.EXTENSION_SUFFIXES)
        self.assertIn(".abi3.so", importlib.machinery.EXTENSION_SUFFIXES)


class PycInterchangeTests(unittest.TestCase):
    """A .pyc written by either interpreter is loaded by the other without recompiling."""

    SOURCE = textwrap.dedent("""
        def f(n):
            total = 0
            for i in range(n):
                if i % 3:
                    total += i
            return total
        RESULT = f(100)
    """)

    def setUp(self):
        self.stock = os.environ.get("STOCK_PYTHON")
        if not self.stock:
            self.skipTest("STOCK_PYTHON (another CPython 3.11) not given")
        probe = subprocess.run([self.stock, "-c", "import sys; print(sys.implementation.cache_tag)"],
                               capture_output=True, text=True)
        if probe.stdout.strip() != "cpython-311":
            self.skipTest(f"{self.stock} is not a CPython 3.11")

    def _roundtrip(self, writer, reader):
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "modx.py")
            with open(src, "w") as f:
                f.write(self.SOURCE)
            pyc = os.path.join(d, "modx.pyc")
            subprocess.run([writer, "-c", f"import py_compile; py_compile.compile({src!r}, cfile={pyc!r})"],
                           check=True)
            os.remove(src)  # the reader must use the .pyc itself (sourceless import)
            out = subprocess.run([reader, "-c", "import modx; print(modx.RESULT, modx.__spec__.origin)"],
                                 cwd=d, capture_output=True, text=True, check=True).stdout.split()
            self.assertEqual(out[0], str(sum(i for i in range(100) if i % 3)))
            self.assertTrue(out[1].endswith("modx.pyc"))

    def test_fork_pyc_loads_in_stock(self):
        self._roundtrip(sys.executable, self.stock)

    def test_stock_pyc_loads_in_fork(self):
        self._roundtrip(self.stock, sys.executable)


class StockExtensionTests(unittest.TestCase):
    """A C extension compiled by Debian against stock 3.11 headers loads and works in the fork."""

    def setUp(self):
        root = os.environ.get("FORK_ABI_ROOT")
        if not root:
            self.skipTest("FORK_ABI_ROOT not set (tests/abi/fetch-debian-extension.sh)")
        self.root = root

    def test_debian_yaml_extension(self):
        code = textwrap.dedent("""
            import yaml, yaml._yaml as ext
            assert ext.__file__.endswith('.cpython-311-x86_64-linux-gnu.so'), ext.__file__
            doc = {'name': 'fork', 'items': [1, 2.5, None, True], 'nested': {'a': 'b' * 1000}}
            text = yaml.dump(doc, Dumper=yaml.CDumper)
            assert yaml.load(text, Loader=yaml.CLoader) == doc
            events = [type(e).__name__ for e in yaml.parse('[a, {b: c}]', Loader=yaml.CLoader)]
            assert events[0] == 'StreamStartEvent' and events[-1] == 'StreamEndEvent', events
            try:
                yaml.load('a: [b', Loader=yaml.CLoader)
            except yaml.YAMLError:
                pass
            else:
                raise AssertionError('malformed YAML accepted')
            print(ext.get_version_string())
        """)
        proc = self.run_with_extension(code)
        self.assertRegex(proc.stdout.strip(), r"^\d+\.\d+\.\d+$")

    def test_debian_yaml_extension_under_monitoring(self):
        # The same Cython-generated module, with a sys.monitoring tool watching every event this
        # build delivers: its code objects, frames and tracebacks must still be sound.
        code = textwrap.dedent("""
            import sys, yaml
            M = sys.monitoring
            E = M.events
            seen = []
            def record(name):
                return lambda *args: seen.append((name, args[2] if len(args) > 2 else None))
            names = ["PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "CALL", "C_RETURN",
                     "C_RAISE", "RAISE", "RERAISE", "EXCEPTION_HANDLED", "PY_UNWIND",
                     "PY_THROW", "STOP_ITERATION"]
            M.use_tool_id(M.DEBUGGER_ID, "abi-test")
            events = 0
            for name in names:
                M.register_callback(M.DEBUGGER_ID, getattr(E, name), record(name))
                events |= getattr(E, name)
            M.set_events(M.DEBUGGER_ID, events)
            doc = {'k': [1, 2, {'x': 'y'}]}
            assert yaml.load(yaml.dump(doc, Dumper=yaml.CDumper), Loader=yaml.CLoader) == doc
            try:
                yaml.load('a: [b', Loader=yaml.CLoader)
            except yaml.YAMLError:
                pass
            M.set_events(M.DEBUGGER_ID, 0)
            M.free_tool_id(M.DEBUGGER_ID)
            kinds = {name for name, _ in seen}
            assert ('CALL', yaml.load) in seen, 'no CALL event for yaml.load'
            assert {'PY_START', 'PY_RETURN', 'C_RETURN', 'RAISE', 'EXCEPTION_HANDLED'} <= kinds, kinds
            print(len(seen))
        """)
        proc = self.run_with_extension(code)
        self.assertGreater(int(proc.stdout.strip()), 100)

    def run_with_extension(self, code):
        env = dict(os.environ,
                   PYTHONPATH=os.path.join(self.root, "usr/lib/python3/dist-packages"),
                   LD_LIBRARY_PATH=os.path.join(self.root, "usr/lib/x86_64-linux-gnu"))
        proc = subprocess.run([sys.executable, "-X", "dev", "-c", code], env=env,
                              capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc


if __name__ == "__main__":
    unittest.main()
