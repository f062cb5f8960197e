"""Check that the security tests can fail: each fix's tests must fail without the fix.

    check_pristine.py [--stdlib-only]

Run with a pristine CPython 3.11.2 (`tools/build.sh pristine`), or with --stdlib-only by any 3.11
with PYTHONPATH pointing at the pristine tree's Lib/: most fixes are in pure-Python modules, so that
shows them too; the few in C (test classes with `fixed_in_c = True`) are then left out, counted as
skipped.  Every test class of test_cves.py stands for one fix; it passes this check when at least one
of its tests fails or errors here (the others may check that good input still works, and pass on
pristine too).

Prints one line per fix and a last line "pristine: N passed, N failed, N skipped", counting fixes;
exits 1 unless every fix checked fails here.
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    sys.path.insert(0, HERE)
    import tarfile
    import test_cves

    print(f"stdlib under test: {os.path.dirname(tarfile.__file__)}")
    stdlib_only = "--stdlib-only" in sys.argv[1:]
    loader = unittest.TestLoader()
    passed = failed = skipped = 0
    for name in sorted(dir(test_cves)):
        cls = getattr(test_cves, name)
        if not (isinstance(cls, type) and issubclass(cls, unittest.TestCase)):
            continue
        cve = (cls.__doc__ or "").split("(", 1)[0].strip()
        if stdlib_only and getattr(cls, "fixed_in_c", False):
            skipped += 1
            print(f"  {name:44} not checked: the fix is in C, this interpreter has it [{cve}]")
            continue
        result = unittest.TestResult()
        loader.loadTestsFromTestCase(cls).run(result)
        # a failing subtest is reported with its _SubTest; count the tests themselves
        bad = len({getattr(test, "test_case", test).id() for test, _ in result.failures + result.errors})
        if result.testsRun and bad and not result.skipped:
            passed += 1
            print(f"  {name:44} fails without the fix, as it must ({bad} of {result.testsRun}) [{cve}]")
        else:
            failed += 1
            why = "skipped" if result.skipped else "passes without the fix: it cannot show the fix"
            print(f"  {name:44} {why.upper()} [{cve}]")
    print(f"pristine: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if failed == 0 and passed else 1


if __name__ == "__main__":
    sys.exit(main())
