"""Compare coverage.py's sysmon and pytrace JSON reports of sample.py.

Line coverage must agree exactly.  Branch coverage must agree except for the
arcs listed in KNOWN, where coverage.py 7.6.0's two cores disagree on a stock
CPython 3.13 too: the self-arc of a one-line comprehension or generator
expression (the sysmon core builds arcs from LINE events, and a loop on one
line reports its line once).  On 3.11 list comprehensions are functions of
their own (3.12+ inlines them, PEP 709), so their self-arc is in the same
case as a generator expression's on 3.13.
"""
import json
import sys

sysmon, pytrace = (json.load(open(p))["files"]["sample.py"] for p in sys.argv[1:3])
source = open(sys.argv[3]).read().splitlines()

def known(arc):
    a, b = arc
    text = source[a - 1]
    return a == b and (" for " in text and ("[" in text or "(" in text))

failures = 0
for key in ("executed_lines", "missing_lines"):
    if sysmon[key] != pytrace[key]:
        print(f"{key} differ: sysmon {sysmon[key]} pytrace {pytrace[key]}")
        failures += 1
for key in ("executed_branches", "missing_branches"):
    a = {tuple(x) for x in sysmon[key]}
    b = {tuple(x) for x in pytrace[key]}
    for arc in sorted(a ^ b):
        where = "sysmon only" if arc in a else "pytrace only"
        if known(arc):
            print(f"{key}: {arc} {where} (known: coverage.py's cores disagree on 3.13 too): {source[arc[0] - 1].strip()}")
        else:
            print(f"{key}: {arc} {where}: UNEXPECTED")
            failures += 1
print(f"lines: {len(sysmon['executed_lines'])} executed; branches: "
      f"{len(sysmon['executed_branches'])} (sysmon) / {len(pytrace['executed_branches'])} (pytrace)")
sys.exit(1 if failures else 0)
