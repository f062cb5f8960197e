"""Compare coverage.py's sysmon and pytrace JSON reports of sample.py.

    compare.py SYSMON.json PYTRACE.json sample.py

Line coverage must agree exactly.  Branch coverage must agree too, but for one
kind of arc that coverage.py 7.6's two cores see differently on any Python:
the self-arc (a, a) of a loop that stays on line a.  The pytrace core gets a
settrace "line" event on every backward jump, even one to the same line, and
records (a, a); the sysmon core builds arcs from sys.monitoring LINE events
only, and LINE fires only when the line changes (PEP 669), so it never sees
that arc.  The arc reaches the report only from a "branch line" (two or more
exits in coverage.py's static analysis): a comprehension's or generator
expression's line is one, as the comprehension is a code object of its own
(on 3.11 every comprehension is; PEP 709 inlines list, set and dict
comprehensions on 3.12+, generator expressions stay functions), with one exit
out of that code object and one to the next line.  A plain one-line `for` or
`while` (checksum() in the sample) is not a branch line, so its self-arc,
which only pytrace records too, stays out of the report.  On a stock 3.13,
sample.py's generator expressions show the same difference.

So an arc is a known difference only if it is in pytrace's executed branches
alone, is (a, a), and the compiled sample has a backward jump from line a to
line a.  Anything else (any sysmon-only arc, any other missing or extra arc)
fails.  The sample must also run every one of its lines, and every branch but
the false exit of its `if __name__ == "__main__":` line, so that it keeps
exercising what it is meant to.
"""
import dis
import json
import sys

sysmon, pytrace = (json.load(open(p))["files"]["sample.py"] for p in sys.argv[1:3])
text = open(sys.argv[3]).read()
source = text.splitlines()


def code_objects(code):
    yield code
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            yield from code_objects(const)


def one_line_loops(code):
    """Lines a with a backward jump from a to a somewhere in the module."""
    lines = set()
    for co in code_objects(code):
        instructions = list(dis.get_instructions(co))
        line_at = {i.offset: i.positions.lineno for i in instructions}
        for i in instructions:
            if i.opcode in dis.hasjrel and "BACKWARD" in i.opname:
                if i.positions.lineno is not None and line_at.get(i.argval) == i.positions.lineno:
                    lines.add(i.positions.lineno)
    return lines


same_line_loops = one_line_loops(compile(text, sys.argv[3], "exec"))


def known(key, arc, where):
    a, b = arc
    return key == "executed_branches" and where == "pytrace only" and a == b and a in same_line_loops


failures = 0
for key in ("executed_lines", "missing_lines"):
    if sysmon[key] != pytrace[key]:
        print(f"{key} differ: sysmon {sysmon[key]} pytrace {pytrace[key]}")
        failures += 1
known_count = 0
for key in ("executed_branches", "missing_branches"):
    a = {tuple(x) for x in sysmon[key]}
    b = {tuple(x) for x in pytrace[key]}
    for arc in sorted(a ^ b):
        where = "sysmon only" if arc in a else "pytrace only"
        if known(key, arc, where):
            known_count += 1
            print(f"{key}: {arc} {where} (known: a loop on one line, no LINE event): {source[arc[0] - 1].strip()}")
        else:
            print(f"{key}: {arc} {where}: UNEXPECTED")
            failures += 1

# The sample must keep running all of itself under both cores.
main_guard = [n for n, line in enumerate(source, 1) if line.startswith("if __name__ ==")]
for name, report in (("sysmon", sysmon), ("pytrace", pytrace)):
    if report["missing_lines"]:
        print(f"{name}: sample lines not run: {report['missing_lines']}")
        failures += 1
    stray = [arc for arc in report["missing_branches"] if arc[0] not in main_guard]
    if stray:
        print(f"{name}: sample branches not taken: {stray}")
        failures += 1
print(f"lines: {len(sysmon['executed_lines'])} executed; branches: "
      f"{len(sysmon['executed_branches'])} (sysmon) / {len(pytrace['executed_branches'])} (pytrace), "
      f"{known_count} known differences")
sys.exit(1 if failures else 0)
