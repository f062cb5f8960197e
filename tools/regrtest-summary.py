#!/usr/bin/env python3
"""Summarise a regrtest run: modules and test cases run, passed, failed, skipped (with reasons), excluded.

    regrtest-summary.py LOG XML EXCLUSIONS [--json OUT]

LOG is regrtest's console output (module-level skips print their reason there), XML its --junit-xml
file (test-case results; with -w a re-run's result replaces the first), EXCLUSIONS the list of tests
excluded with -x, one per line with a `# reason`.  Prints the summary; the last line has the
"N passed, N failed, N skipped" form.
"""

import collections
import json
import re
import sys
import xml.etree.ElementTree as ET

# "0:01:10 load avg: 1.5 [ 52/434/1] test_x passed -- running: test_y (30 sec)"
PROGRESS_LINE = re.compile(r"\] (test[\w.]*) (skipped \(resource denied\)|skipped|failed|passed|"
                           r"crashed|timed out)")
# "test_x skipped -- reason" on a line of its own
SKIP_REASON_LINE = re.compile(r"^(test[\w.]*) skipped(?: \(resource denied\))? -- (.*)$")


def read_exclusions(path):
    out = {}
    with open(path) as f:
        for line in f:
            name, _, reason = line.partition("#")
            if name.strip():
                out[name.strip()] = reason.strip()
    return out


def module_results(log):
    """{module: (last status, reason)} from the progress lines, and the final verdict line."""
    results, verdict, failed_final = {}, None, set()
    lines = log.splitlines()
    reasons = {}
    for line in lines:
        m = PROGRESS_LINE.search(line)
        if m:
            results[m.group(1)] = (m.group(2), "")
        m = SKIP_REASON_LINE.match(line)
        if m:
            reasons[m.group(1)] = m.group(2).strip()
        if line.startswith("Tests result:") or line.startswith("== Tests result:"):
            verdict = line.strip("= ").strip()
    for mod, (status, _) in results.items():
        results[mod] = (status, reasons.get(mod, ""))
    # The final summary's "N tests failed" list (after the re-run) is authoritative.
    for i, line in enumerate(lines):
        if re.match(r"^\d+ tests? failed( again)?:", line) or re.match(r"^\d+ tests? failed:", line):
            block = []
            for nxt in lines[i + 1:]:
                if not nxt.startswith("    "):
                    break
                block.extend(nxt.split())
            failed_final = set(block)
    return results, verdict, failed_final


def case_results(xml_path):
    """{test id: (outcome, detail)} with later results (re-runs) replacing earlier ones."""
    cases = {}
    try:
        root = ET.parse(xml_path).getroot()
    except (OSError, ET.ParseError):
        return cases
    for case in root.iter("testcase"):
        name = case.get("name")
        if case.find("skipped") is not None:
            cases[name] = ("skipped", (case.find("skipped").text or "").strip())
        elif case.find("failure") is not None or case.find("error") is not None:
            cases[name] = ("failed", "")
        else:
            cases[name] = ("passed", "")
    return cases


def main(argv):
    log_path, xml_path, excl_path = argv[1:4]
    json_out = argv[argv.index("--json") + 1] if "--json" in argv else None
    with open(log_path, errors="replace") as f:
        log = f.read()
    exclusions = read_exclusions(excl_path)
    modules, verdict, failed_final = module_results(log)
    cases = case_results(xml_path)

    by_status = collections.defaultdict(list)
    for mod, (status, reason) in sorted(modules.items()):
        if mod in failed_final:
            status = "failed"
        elif status in ("failed", "crashed", "timed out"):
            status = "passed on re-run"  # -w: not in the final failure list
        by_status[status.split(" (")[0] if status.startswith("skipped") else status].append((mod, reason))

    counts = collections.Counter(outcome for outcome, _ in cases.values())
    skip_reasons = collections.Counter(detail for outcome, detail in cases.values() if outcome == "skipped")

    print("=" * 78)
    print("CPython regression suite")
    print(f"  test modules run: {len(modules)}   passed: {len(by_status['passed'])}"
          f"   passed on re-run: {len(by_status['passed on re-run'])}"
          f"   failed: {len(by_status['failed'])}   skipped: {len(by_status['skipped'])}")
    print(f"  test cases run: {sum(counts.values())}   passed: {counts['passed']}"
          f"   failed: {counts['failed']}   skipped: {counts['skipped']}")
    if by_status["failed"]:
        print("  failed modules:")
        for mod, _ in by_status["failed"]:
            print(f"    {mod}")
    if by_status["passed on re-run"]:
        print("  failed at first, passed when re-run alone (-w):")
        for mod, _ in by_status["passed on re-run"]:
            print(f"    {mod}")
    print(f"  skipped modules ({len(by_status['skipped'])}), with reasons:")
    for mod, reason in by_status["skipped"]:
        print(f"    {mod:32} {reason or '(no reason given)'}")
    print(f"  skipped test cases ({counts['skipped']}), most common reasons:")
    for reason, n in skip_reasons.most_common(15):
        print(f"    {n:5}  {reason[:100] or '(no reason given)'}")
    print(f"  excluded ({len(exclusions)}), with reasons:")
    for mod, reason in sorted(exclusions.items()):
        print(f"    {mod:32} {reason}")
    print(f"  {verdict or 'Tests result: (no verdict line: the run did not finish)'}")
    print("=" * 78)
    if json_out:
        with open(json_out, "w") as f:
            json.dump({"modules": {k: list(v) for k, v in modules.items()},
                       "failed": [m for m, _ in by_status["failed"]],
                       "rerun_passed": [m for m, _ in by_status["passed on re-run"]],
                       "cases": dict(counts), "excluded": exclusions, "verdict": verdict}, f, indent=1)
    failed = len(by_status["failed"])
    print(f"regrtest: {counts['passed']} passed, {counts['failed'] if failed else 0} failed, "
          f"{counts['skipped']} skipped")
    return 1 if failed or not verdict else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
