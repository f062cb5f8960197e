#!/usr/bin/env python3
"""Benchmark harness: the fork against stock CPython 3.11.2, every workload under every tool configuration.

    harness.py --stock PATH --fork PATH [--variant NAME] [--out DIR] [--quick] [--callgrind]
               [--filter REGEX] [--runs N]
    harness.py --render build/bench/results.json      (rewrite the report and chart only)

Runs with any CPython 3.9+ and the standard library only; the interpreters under test run
bench/runner.py, one fresh process per measured run.  For every (workload, configuration) pair it runs
one warm-up per interpreter, then N measured runs interleaved stock, fork, stock, fork, ...  It writes
OUT/results.json (every run and the environment), OUT/report.md (the tables) and OUT/ratios.png (a
chart, drawn by bench/chart.py under the system Python with matplotlib; a chart failure is a warning),
keeps a copy of the three under OUT/<variant>/ (OUT/<variant>-quick/ in QUICK mode), and prints the report.

Exit status: 0 when every run that could run did (configurations an interpreter lacks are reported as
missing, which is not a failure); 1 when a run crashed, timed out, or a checksum disagreed.
"""

import argparse
import ast
import concurrent.futures
import datetime
import fractions
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
WORKLOAD_DIR = os.path.join(HERE, "workloads")
RUNNER_MAIN = "import sys, runner; sys.exit(runner.main(sys.argv))"

# Workloads in report order; any other bench/workloads/*.py is appended alphabetically.
WORKLOAD_ORDER = ["recursion", "numeric", "strings", "stdlib", "generators", "objects", "app"]


class Config:
    def __init__(self, name, group, title, counterpart=None):
        self.name = name
        self.group = group  # decides the scale; a config and its counterpart share a group
        self.title = title
        self.counterpart = counterpart  # for sys.monitoring configs: the legacy tool to compare on stock


CONFIGS = [
    Config("none", "none", "no tool"),
    Config("settrace-line", "line", "sys.settrace line tracer recording every (file, line)"),
    Config("setprofile-calls", "profile", "sys.setprofile call counter (calls per code object)"),
    Config("cprofile", "profile", "cProfile.Profile enabled around the run"),
    Config("settrace-breakpoint", "line",
           "bdb-style breakpoint on one function: global trace on every call, line trace in that function"),
    Config("settrace-opcodes", "instr", "sys.settrace instruction counter (frame.f_trace_opcodes)"),
    Config("mon-line", "line", "sys.monitoring line coverage: LINE, DISABLE after first hit",
           "settrace-line"),
    Config("mon-branch", "line",
           "sys.monitoring branch coverage: LINE + BRANCH_LEFT/BRANCH_RIGHT (or BRANCH), DISABLE",
           "settrace-line"),
    Config("mon-profile", "profile", "sys.monitoring PY_START/PY_RETURN call counter", "setprofile-calls"),
    Config("mon-breakpoint", "line", "sys.monitoring breakpoint on one function via local LINE events",
           "settrace-breakpoint"),
    Config("mon-instruction", "instr", "sys.monitoring INSTRUCTION counter", "settrace-opcodes"),
    Config("settrace-breakpoint-idle", "idle",
           "settrace-breakpoint, with the breakpoint in a function the workload never calls"),
    Config("mon-breakpoint-idle", "idle",
           "mon-breakpoint, with the breakpoint in a function the workload never calls",
           "settrace-breakpoint-idle"),
    Config("pdb-settrace-breakpoint-rare", "idle",
           "pdb (settrace backend) run by scripted commands, breakpoint in a function called every 8th unit"),
    Config("pdb-breakpoint-rare", "idle",
           "pdb-settrace-breakpoint-rare on pdb's monitoring backend", "pdb-settrace-breakpoint-rare"),
    Config("coverage-ctracer", "line", "coverage.py 6.5 line+branch coverage with its C tracer (Coverage API)"),
    Config("coverage-sysmon", "line", "coverage.py 7.6 line+branch coverage, COVERAGE_CORE=sysmon (Coverage API)",
           "coverage-ctracer"),
    Config("trace-count", "line", "stdlib trace.Trace(count=1).runctx, as python -m trace --count"),
    Config("trace-listfuncs", "calls", "stdlib trace.Trace(countfuncs=1).runctx, as python -m trace --listfuncs"),
]
CONFIG_BY_NAME = {c.name: c for c in CONFIGS}

# Fraction of a workload's full-scale REPS that each group runs.  Tracers are slow (10-20x), so their
# runs are scaled down to fit the time budget; fork/stock ratios always compare equal scales.
FRACTIONS = {"none": 1.0, "line": 1 / 35, "profile": 1 / 20, "instr": 1 / 60, "idle": 1 / 4, "calls": 1 / 4}

FULL = {"runs": 5, "scale": 1.0}
QUICK = {"runs": 3, "scale": 0.4}
CALLGRIND_SCALE = 1  # reps of the callgrind workload: one unit, 5-20 ms of native time on stock
RUN_TIMEOUT = 300


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


# ------------------------------------------------------------------------------------------ discovery

def workload_names():
    found = sorted(f[:-3] for f in os.listdir(WORKLOAD_DIR) if f.endswith(".py") and not f.startswith("_"))
    return [w for w in WORKLOAD_ORDER if w in found] + [w for w in found if w not in WORKLOAD_ORDER]


def full_reps(workload):
    """The module's REPS constant, read without importing it (the harness's Python is not under test)."""
    with open(os.path.join(WORKLOAD_DIR, workload + ".py")) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "REPS" for t in node.targets):
            return int(ast.literal_eval(node.value))
    raise SystemExit("workload %s has no REPS" % workload)


def reps_for(workload, config, scale):
    return max(1, int(round(full_reps(workload) * FRACTIONS[config.group] * scale)))


# ------------------------------------------------------------------------------------------- running

class Interp:
    def __init__(self, label, path, pycache):
        self.label = label
        self.path = os.path.abspath(path)
        self.pycache = pycache
        self.info = {}

    def command(self, *args):
        # -s: no user site; pycache_prefix keeps bytecode caches under build/ and apart per interpreter.
        # Run from bench/ and import runner (not `python runner.py`, which compiles it in every process,
        # nor `-m runner`, whose runpy imports cost 30 million instructions per process under callgrind).
        return [self.path, "-s", "-X", "pycache_prefix=" + self.pycache, "-c", RUNNER_MAIN] + list(args)


def child_env():
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0"}
    for var in ("HOME", "BENCH_PACKAGES"):
        if var in os.environ:
            env[var] = os.environ[var]
    return env


def parse_marker(stdout, marker):
    for line in stdout.splitlines():
        if line.startswith(marker + " "):
            return ast.literal_eval(line[len(marker) + 1:])
    return None


def describe_failure(proc):
    tail = [l for l in (proc.stderr or "").strip().splitlines() if l.strip()][-1:]
    return "exit %s%s" % (proc.returncode, (": " + tail[0][:200]) if tail else "")


def run_once(interp, workload, config, reps, timeout=RUN_TIMEOUT):
    cmd = interp.command(workload, config, str(reps))
    try:
        proc = subprocess.run(cmd, env=child_env(), cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": "timed out after %d s" % timeout}
    result = parse_marker(proc.stdout, "BENCH-RESULT")
    if proc.returncode != 0 or result is None:
        return {"error": describe_failure(proc)}
    return result


def interp_info(interp):
    proc = subprocess.run(interp.command("--info"), env=child_env(), cwd=HERE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    info = parse_marker(proc.stdout, "BENCH-INFO")
    if info is None:
        raise SystemExit("%s does not run: %s" % (interp.path, describe_failure(proc)))
    return info


def summarize(values):
    if not values:
        return None
    med = statistics.median(values)
    return {
        "median": med,
        "min": min(values),
        "max": max(values),
        "spread_pct": (max(values) - min(values)) / 2 / med * 100 if med else 0.0,
    }


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    if not xs:
        return None
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def measure_cell(interps, workload, config, reps, runs, all_runs):
    """Warm-up, then `runs` interleaved runs per interpreter.  Returns the cell summary."""
    sides = {}
    for it in interps:
        sides[it.label] = {"status": "ok", "times": [], "checksums": set(), "stats": None, "detail": None}

    def record(it, phase, index):
        side = sides[it.label]
        t0 = time.time()
        r = run_once(it, workload, config.name, reps)
        all_runs.append({
            "workload": workload, "config": config.name, "interpreter": it.label, "phase": phase,
            "index": index, "reps": reps, "wall": round(time.time() - t0, 4),
            "elapsed": r.get("elapsed"), "checksum": r.get("checksum"), "stats": r.get("stats"),
            "missing": r.get("missing"), "error": r.get("error"),
        })
        if "missing" in r:
            side["status"], side["detail"] = "missing", r["missing"]
            return
        if "error" in r:
            side["status"], side["detail"] = "error", r["error"]
            return
        side["checksums"].add(r["checksum"])
        if side["stats"] is None:
            side["stats"] = r["stats"]
        elif side["stats"] != r["stats"]:
            side["stats_unstable"] = True
        if phase == "run":
            side["times"].append(r["elapsed"])

    for it in interps:
        record(it, "warmup", 0)
    for i in range(runs):
        for it in interps:  # interleaved: stock, fork, stock, fork, ...
            if sides[it.label]["status"] == "ok":
                record(it, "run", i)

    cell = {"workload": workload, "config": config.name, "group": config.group, "reps": reps, "notes": []}
    for label, side in sides.items():
        out = {"status": side["status"], "detail": side["detail"], "times": side["times"],
               "summary": summarize(side["times"]), "stats": side["stats"]}
        if len(side["checksums"]) > 1:
            out["status"], out["detail"] = "error", "checksums differ between runs: %s" % sorted(side["checksums"], key=str)
        out["checksum"] = next(iter(side["checksums"])) if len(side["checksums"]) == 1 else None
        if side.get("stats_unstable"):
            cell["notes"].append("%s: tool event figures differ between runs" % label)
        cell[label] = out
    s, f = cell["stock"], cell["fork"]
    if s["status"] == "ok" and f["status"] == "ok":
        if s["checksum"] != f["checksum"]:
            f["status"], f["detail"] = "error", "checksum %r differs from stock's %r" % (f["checksum"], s["checksum"])
        else:
            cell["ratio"] = f["summary"]["median"] / s["summary"]["median"]
            pairs = [b / a for a, b in zip(s["times"], f["times"])]
            cell["pair_ratios"] = pairs
            if s["stats"] != f["stats"]:
                cell["notes"].append("tool event figures differ: stock %s, fork %s" % (s["stats"], f["stats"]))
    return cell


# ----------------------------------------------------------------------------------------- callgrind

def callgrind_run(interp, workload, config, reps, outdir):
    out = os.path.join(outdir, "callgrind.%s.%s.%s.%d" % (interp.label, workload, config, reps))
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + interp.command(workload, config, str(reps))
    proc = subprocess.run(cmd, env=child_env(), cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=3600)
    result = parse_marker(proc.stdout, "BENCH-RESULT")
    if proc.returncode != 0 or result is None:
        return {"error": describe_failure(proc)}
    if "missing" in result:
        return result
    total = None
    with open(out) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                total = int(line.split()[1])
    if total is None:
        return {"error": "no totals in " + out}
    result["ir"] = total
    return result


def measure_callgrind(interps, workloads, configs, outdir, jobs, known_missing):
    """Ir of the timed units alone: a run with the workload minus a run that only imports and installs.

    known_missing[(interpreter, config)]: a configuration the timed runs already found missing there;
    it is reported as missing without starting valgrind."""
    os.makedirs(outdir, exist_ok=True)
    tasks = []
    results = {}
    for w in workloads:
        for c in configs:
            for it in interps:
                for reps in (0, CALLGRIND_SCALE):
                    if (it.label, c.name) in known_missing:
                        results[(it.label, w, c.name, reps)] = {"missing": known_missing[(it.label, c.name)]}
                    else:
                        tasks.append((it, w, c.name, reps))
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(callgrind_run, it, w, c, r, outdir): (it.label, w, c, r) for it, w, c, r in tasks}
        for fut in concurrent.futures.as_completed(futures):
            key = futures[fut]
            results[key] = fut.result()
            log("callgrind %-5s %-10s %-19s reps=%d: %s" % (key[0], key[1], key[2], key[3],
                results[key].get("ir", results[key].get("missing") or results[key].get("error"))))
    rows = []
    for w in workloads:
        for c in configs:
            row = {"workload": w, "config": c.name, "reps": CALLGRIND_SCALE}
            for it in interps:
                base, full = results[(it.label, w, c.name, 0)], results[(it.label, w, c.name, CALLGRIND_SCALE)]
                if "missing" in full or "missing" in base:
                    row[it.label] = {"status": "missing", "detail": full.get("missing") or base.get("missing")}
                elif "error" in full or "error" in base:
                    row[it.label] = {"status": "error", "detail": full.get("error") or base.get("error")}
                else:
                    row[it.label] = {"status": "ok", "ir_total": full["ir"], "ir_baseline": base["ir"],
                                     "ir": full["ir"] - base["ir"], "checksum": full["checksum"]}
            s, f = row["stock"], row["fork"]
            if s["status"] == "ok" and f["status"] == "ok":
                row["ratio"] = f["ir"] / s["ir"]
            rows.append(row)
    # The sys.monitoring tools on the fork against their legacy counterparts on stock.
    index = {(r["workload"], r["config"]): r for r in rows}
    for r in rows:
        legacy = index.get((r["workload"], CONFIG_BY_NAME[r["config"]].counterpart))
        if legacy and r["fork"]["status"] == "ok" and legacy["stock"]["status"] == "ok":
            r["vs_counterpart"] = {"counterpart": legacy["config"], "ratio": r["fork"]["ir"] / legacy["stock"]["ir"]}
    return rows


# ------------------------------------------------------------------------------------------- report

def fraction_text(x):
    f = fractions.Fraction(x).limit_denominator(1000)
    return str(f.numerator) if f.denominator == 1 else "%d/%d" % (f.numerator, f.denominator)


def fmt_time(x):
    return "%.3f" % x if x is not None else ""


def fmt_ratio(x):
    return "%.3f" % x if x is not None else ""


def side_cell(side):
    if side["status"] == "ok":
        return fmt_time(side["summary"]["median"])
    return "**%s** (%s)" % (side["status"], side["detail"])


def side_spread(side):
    if side["status"] == "ok":
        sm = side["summary"]
        return "±%.1f%% [%s–%s]" % (sm["spread_pct"], fmt_time(sm["min"]), fmt_time(sm["max"]))
    return ""


def config_summary(cells, config):
    mine = [c for c in cells if c["config"] == config.name]
    status = {}
    for label in ("stock", "fork"):
        sts = sorted({c[label]["status"] + (": " + c[label]["detail"] if c[label]["detail"] else "") for c in mine})
        status[label] = "; ".join(sts) if sts else ""
    ratios = [c["ratio"] for c in mine if "ratio" in c]
    return {
        "config": config.name, "group": config.group, "stock": status["stock"], "fork": status["fork"],
        "geomean": geomean(ratios), "min": min(ratios) if ratios else None, "max": max(ratios) if ratios else None,
        "workloads": len(ratios), "of": len(mine),
    }


def cross_rows(cells):
    """For each sys.monitoring config: the fork's time against stock's time under the legacy counterpart."""
    index = {(c["workload"], c["config"]): c for c in cells}
    rows = []
    for config in CONFIGS:
        if not config.counterpart:
            continue
        per = []
        for c in cells:
            if c["config"] != config.name:
                continue
            legacy = index.get((c["workload"], config.counterpart))
            entry = {"workload": c["workload"], "reps": c["reps"]}
            if legacy is None:
                entry["status"] = "counterpart not run"
            elif c["fork"]["status"] != "ok":
                entry["status"] = "%s (%s)" % (c["fork"]["status"], c["fork"]["detail"])
            elif legacy["stock"]["status"] != "ok":
                entry["status"] = "stock %s" % legacy["stock"]["status"]
            else:
                entry["status"] = "ok"
                entry["fork_mon"] = c["fork"]["summary"]["median"]
                entry["stock_legacy"] = legacy["stock"]["summary"]["median"]
                entry["ratio"] = entry["fork_mon"] / entry["stock_legacy"]
            per.append(entry)
        if per:
            rows.append({"config": config.name, "counterpart": config.counterpart, "workloads": per,
                         "geomean": geomean([e["ratio"] for e in per if "ratio" in e])})
    return rows


def overhead_rows(cells):
    """Slowdown of each tool against no tool, per unit of work, geometric mean over workloads."""
    index = {(c["workload"], c["config"]): c for c in cells}
    rows = []
    for config in CONFIGS:
        if config.name == "none":
            continue
        row = {"config": config.name}
        added = {}
        for label in ("stock", "fork"):
            xs = []
            for c in cells:
                base = index.get((c["workload"], "none"))
                if c["config"] != config.name or base is None:
                    continue
                if c[label]["status"] == "ok" and base[label]["status"] == "ok":
                    per_rep = c[label]["summary"]["median"] / c["reps"]
                    base_rep = base[label]["summary"]["median"] / base["reps"]
                    xs.append(per_rep / base_rep)
                    added.setdefault(c["workload"], {})[label] = per_rep - base_rep
            row[label] = geomean(xs)
        # the time the tool adds (time(config) - time(none), per unit of work), fork / stock
        row["added"] = geomean([a["fork"] / a["stock"] for a in added.values()
                                if "fork" in a and a.get("stock", 0) > 0 and a["fork"] > 0])
        if row["stock"] is not None or row["fork"] is not None:
            rows.append(row)
    return rows


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(x).replace("|", "\\|") for x in r) + " |")
    return "\n".join(out)


def write_report(path, data):
    env = data["environment"]
    cells = data["cells"]
    opts = data["options"]
    lines = []
    lines.append("# Benchmark: fork vs stock CPython 3.11.2 (%s build)" % data["variant"])
    lines.append("")
    lines.append("- date: %s; mode: %s (%d warm-up + %d runs per interpreter, interleaved stock/fork; scale x%g)"
                 % (env["date"], "QUICK" if opts["quick"] else "full", 1, opts["runs"], opts["scale"]))
    lines.append("- project commit: %s" % (env.get("commit") or "none (no commit yet)"))
    lines.append("- CPU: %s x%s; load average at start %s, at end %s"
                 % (env["cpu_model"], env["cpus"], env["loadavg_start"], env.get("loadavg_end")))
    for label in ("stock", "fork"):
        inf = env["interpreters"][label]
        lines.append("- %s: `%s`, %s; CC `%s`; CONFIG_ARGS `%s`; sys.monitoring: %s"
                     % (label, inf["executable"], inf["version"].split("\n")[0], inf.get("CC"),
                        inf.get("CONFIG_ARGS") or "", "yes" if inf["has_monitoring"] else "no"))
    lines.append("- identical compiler flags: %s" % ("yes" if env.get("same_flags") else "**no** (see results.json)"))
    lines.append("- wall time of the harness: %.0f s" % data.get("wall_seconds", 0))
    lines.append("")
    lines.append("Times are seconds of the timed units of work inside a fresh process (start-up excluded); ratio = fork "
                 "median / stock median (< 1 means the fork is faster); spread = half the min-max range "
                 "relative to the median.")
    lines.append("")

    lines.append("## Summary per tool configuration (fork/stock, same configuration, same scale)")
    lines.append("")
    rows = []
    for config in CONFIGS:
        s = config_summary(cells, config)
        if not s["of"]:
            continue
        rows.append([config.name, config.title, fraction_text(FRACTIONS[config.group]),
                     s["stock"], s["fork"],
                     ("**%s**" % fmt_ratio(s["geomean"])) if s["geomean"] else
                     ("n/a (vs stock %s: next table)" % config.counterpart if config.counterpart and s["fork"] == "ok"
                      else "n/a"),
                     ("%s–%s" % (fmt_ratio(s["min"]), fmt_ratio(s["max"]))) if s["geomean"] else "",
                     "%d/%d" % (s["workloads"], s["of"])])
    lines.append(md_table(["config", "what it does", "scale", "stock", "fork", "geomean fork/stock",
                           "range", "workloads"], rows))
    lines.append("")

    lines.append("## sys.monitoring on the fork vs the legacy tool on stock")
    lines.append("")
    lines.append("Stock 3.11 has no sys.monitoring; the comparison that matters is the fork's sys.monitoring "
                 "tool against the tool a user runs on stock today, at the same scale.")
    lines.append("")
    rows = []
    for r in data["cross"]:
        statuses = sorted({e["status"] for e in r["workloads"] if e["status"] != "ok"})
        rows.append([r["config"], r["counterpart"],
                     ("**%s**" % fmt_ratio(r["geomean"])) if r["geomean"] else "n/a",
                     "; ".join(statuses) if statuses else "all ok"])
    lines.append(md_table(["fork config", "stock counterpart", "geomean fork-mon / stock-legacy", "status"], rows))
    lines.append("")

    lines.append("## Tool overhead (slowdown against no tool, per unit of work, geomean over workloads)")
    lines.append("")
    rows = [[r["config"], ("%.2fx" % r["stock"]) if r["stock"] else "n/a", ("%.2fx" % r["fork"]) if r["fork"] else "n/a",
             fmt_ratio(r.get("added")) or "n/a"]
            for r in data["overhead"]]
    lines.append(md_table(["config", "stock", "fork", "added time fork/stock"], rows))
    lines.append("")
    lines.append("Added time = time(config) - time(none) per unit of work on each side; the last column is the "
                 "geometric mean over workloads of fork's added time / stock's (a workload where either side adds "
                 "nothing measurable, <= 0, is left out).")
    lines.append("")

    lines.append("## Every workload x configuration")
    lines.append("")
    rows = []
    for c in cells:
        pr = c.get("pair_ratios")
        rows.append([c["workload"], c["config"], c["reps"], side_cell(c["stock"]), side_spread(c["stock"]),
                     side_cell(c["fork"]), side_spread(c["fork"]), fmt_ratio(c.get("ratio")),
                     ("%s–%s" % (fmt_ratio(min(pr)), fmt_ratio(max(pr)))) if pr else ""])
    lines.append(md_table(["workload", "config", "reps", "stock median s", "stock spread", "fork median s",
                           "fork spread", "fork/stock", "pair ratios"], rows))
    lines.append("")
    notes = [(c["workload"], c["config"], n) for c in cells for n in c["notes"]]
    if notes:
        lines.append("### Notes")
        lines.append("")
        for w, cfg, n in notes:
            lines.append("- %s / %s: %s" % (w, cfg, n))
        lines.append("")

    if data.get("callgrind") is not None:
        cg = data["callgrind"]
        lines.append("## Instruction counts (callgrind)")
        lines.append("")
        lines.append("Instructions (Ir) executed by `run(%d)` alone: a callgrind run of the workload minus a run "
                     "that only imports it and installs the tool. Deterministic, so stable on a noisy machine."
                     % CALLGRIND_SCALE)
        lines.append("")
        rows = []
        for r in cg:
            def ir(side):
                return "{:,}".format(side["ir"]) if side["status"] == "ok" else "**%s** (%s)" % (side["status"], side["detail"])
            vs = r.get("vs_counterpart")
            rows.append([r["workload"], r["config"], ir(r["stock"]), ir(r["fork"]), fmt_ratio(r.get("ratio")),
                         ("%s (vs stock %s)" % (fmt_ratio(vs["ratio"]), vs["counterpart"])) if vs else ""])
        lines.append(md_table(["workload", "config", "stock Ir", "fork Ir", "fork/stock",
                               "fork-mon / stock-legacy"], rows))
        gm = geomean([r["ratio"] for r in cg if "ratio" in r])
        lines.append("")
        lines.append("Geometric mean of the Ir ratios: **%s**" % (fmt_ratio(gm) if gm else "n/a"))
        lines.append("")
        base = {(r["workload"], label): r[label]["ir"] for r in cg if r["config"] == "none"
                for label in ("stock", "fork") if r[label]["status"] == "ok"}
        added = {}
        for r in cg:
            w = r["workload"]
            if r["config"] == "none" or (w, "stock") not in base or (w, "fork") not in base:
                continue
            if r["stock"]["status"] == "ok" and r["fork"]["status"] == "ok":
                over_stock = r["stock"]["ir"] - base[(w, "stock")]
                over_fork = r["fork"]["ir"] - base[(w, "fork")]
                if over_stock > 0 and over_fork > 0:
                    added.setdefault(r["config"], []).append(over_fork / over_stock)
        if added:
            lines.append("Instructions a tool adds (Ir(config) - Ir(none), each side), fork / stock, geometric "
                         "mean over the workloads above (leaving out any where a side adds <= 0):")
            lines.append("")
            lines.append(md_table(["config", "added Ir fork/stock"],
                                  [[k, "**%s**" % fmt_ratio(geomean(v))] for k, v in added.items()]))
            lines.append("")

    lines.append("## Scales")
    lines.append("")
    lines.append("Full-scale REPS make each workload run about 1.5 s on a stock default build. Each configuration "
                 "runs REPS x fraction x mode scale (at least 1):")
    lines.append("")
    groups = sorted(set(c.group for c in CONFIGS), key=lambda g: -FRACTIONS[g])
    header = ["workload", "full REPS"] + ["%s (%s)" % (g, ", ".join(c.name for c in CONFIGS if c.group == g)) for g in groups]
    ran = {(c["workload"], c["group"]): c["reps"] for c in cells}
    rows = []
    for w in data["workloads"]:
        rows.append([w, full_reps(w)] + [ran.get((w, g), "-") for g in groups])
    lines.append(md_table(header, rows))
    lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- environment

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def loadavg():
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return None


def git_commit():
    try:
        head = subprocess.run(["git", "-C", TOP, "rev-parse", "HEAD"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, universal_newlines=True)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", TOP, "status", "--porcelain", "--untracked-files=no"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except OSError:
        return None


def valgrind_version():
    try:
        return subprocess.run(["valgrind", "--version"], stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()
    except OSError:
        return None


# ---------------------------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stock", help="stock 3.11.2 interpreter")
    ap.add_argument("--fork", help="the fork's interpreter")
    ap.add_argument("--render", metavar="RESULTS_JSON",
                    help="measure nothing: rewrite report.md and ratios.png from a results.json, beside it")
    ap.add_argument("--variant", default="default", help="build variant, for the report")
    ap.add_argument("--out", default=os.path.join(TOP, "build", "bench"), help="output directory")
    ap.add_argument("--quick", action="store_true", help="fewer runs, smaller scale")
    ap.add_argument("--runs", type=int, help="measured runs per interpreter (default 5, QUICK 3)")
    ap.add_argument("--scale", type=float, help="multiplier on every workload's reps (default 1, QUICK 0.4)")
    ap.add_argument("--filter", help="regex on WORKLOAD/CONFIG, e.g. 'recursion|/none$'")
    ap.add_argument("--callgrind", action="store_true", help="also count instructions under callgrind")
    ap.add_argument("--callgrind-workload", default="generators",
                    help="comma-separated workloads for callgrind (default: generators)")
    ap.add_argument("--chart-python", default="/usr/bin/python3", help="Python with matplotlib for the chart")
    args = ap.parse_args()
    if args.render:
        with open(args.render) as f:
            data = json.load(f)
        return finish(data, os.path.dirname(os.path.abspath(args.render)), args.chart_python)
    if not (args.stock and args.fork):
        ap.error("--stock and --fork are required (unless --render)")

    mode = QUICK if args.quick else FULL
    runs = args.runs or mode["runs"]
    scale = args.scale or mode["scale"]
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    started = time.time()

    interps = [
        Interp("stock", args.stock, os.path.join(out, "pycache", "stock-" + args.variant)),
        Interp("fork", args.fork, os.path.join(out, "pycache", "fork-" + args.variant)),
    ]
    for it in interps:
        it.info = interp_info(it)
    flags_of = lambda i: (i.get("CC"), i.get("CFLAGS"), i.get("CONFIG_ARGS"), i.get("LDFLAGS"))
    env = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu_model": cpu_model(),
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "loadavg_start": loadavg(),
        "commit": git_commit(),
        "harness_python": sys.version.split()[0],
        "interpreters": {it.label: it.info for it in interps},
        "same_flags": flags_of(interps[0].info) == flags_of(interps[1].info),
    }
    if args.callgrind:
        env["valgrind"] = valgrind_version()

    workloads = workload_names()
    pattern = re.compile(args.filter) if args.filter else None
    plan = [(w, c) for w in workloads for c in CONFIGS if not pattern or pattern.search("%s/%s" % (w, c.name))]
    if not plan:
        raise SystemExit("--filter %r matches nothing" % args.filter)
    log("bench: %d cells (%d workloads x %d configs), %d runs each per interpreter, scale x%g"
        % (len(plan), len({w for w, _ in plan}), len({c.name for _, c in plan}), runs, scale))

    all_runs = []
    cells = []
    for w, c in plan:
        reps = reps_for(w, c, scale)
        t0 = time.time()
        cell = measure_cell(interps, w, c, reps, runs, all_runs)
        cells.append(cell)
        def brief(side):
            return fmt_time(side["summary"]["median"]) if side["status"] == "ok" else side["status"]
        log("  %-10s %-19s reps=%-3d stock %-8s fork %-8s ratio %-6s (%.0f s)"
            % (w, c.name, reps, brief(cell["stock"]), brief(cell["fork"]), fmt_ratio(cell.get("ratio")) or "-",
               time.time() - t0))

    callgrind = None
    if args.callgrind:
        if shutil.which("valgrind") is None:
            log("bench: valgrind not found; skipping instruction counts (tools/deps.sh --bench installs it)")
        else:
            cg_workloads = [w for w in args.callgrind_workload.split(",") if w]
            cg_configs = [c for c in CONFIGS if not pattern or any(pattern.search("%s/%s" % (w, c.name)) for w in cg_workloads)]
            t0 = time.time()
            known_missing = {}
            for c in cells:
                for label in ("stock", "fork"):
                    if c[label]["status"] == "missing":
                        known_missing[(label, c["config"])] = c[label]["detail"]
            callgrind = measure_callgrind(interps, cg_workloads, cg_configs, os.path.join(out, "callgrind"),
                                          os.cpu_count() or 1, known_missing)
            log("bench: callgrind took %.0f s" % (time.time() - t0))

    env["loadavg_end"] = loadavg()
    data = {
        "variant": args.variant,
        "options": {"quick": args.quick, "runs": runs, "warmups": 1, "scale": scale, "filter": args.filter,
                    "fractions": FRACTIONS, "callgrind": args.callgrind},
        "environment": env,
        "workloads": sorted({w for w, _ in plan}, key=workloads.index),
        "configs": [{"name": c.name, "group": c.group, "title": c.title, "counterpart": c.counterpart,
                     "fraction": FRACTIONS[c.group]} for c in CONFIGS],
        "cells": cells,
        "summary": [config_summary(cells, c) for c in CONFIGS],
        "cross": cross_rows(cells),
        "overhead": overhead_rows(cells),
        "callgrind": callgrind,
        "runs": all_runs,
    }
    data["wall_seconds"] = time.time() - started
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(data, f, indent=1, sort_keys=False, default=str)

    return finish(data, out, args.chart_python)


def finish(data, out, chart_python):
    """Write report.md and ratios.png for `data` (already saved as OUT/results.json), keep copies under
    OUT/<variant>/, print the report.  Returns the exit status."""
    results = os.path.join(out, "results.json")
    report = write_report(os.path.join(out, "report.md"), data)
    chart = os.path.join(out, "ratios.png")
    keep = os.path.join(out, data["variant"] + ("-quick" if data["options"]["quick"] else ""))
    for stale in (chart, os.path.join(keep, "ratios.png")):  # never leave an older run's picture behind
        if os.path.exists(stale):
            os.remove(stale)
    try:
        proc = subprocess.run([chart_python, os.path.join(HERE, "chart.py"), results, chart],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
        if proc.returncode != 0:
            log("bench: WARNING: chart failed (%s): %s" % (chart_python, proc.stdout.strip()[-500:]))
            chart = None
    except (OSError, subprocess.TimeoutExpired) as e:
        log("bench: WARNING: chart failed (%s): %s" % (chart_python, e))
        chart = None

    os.makedirs(keep, exist_ok=True)
    for p in (results, os.path.join(out, "report.md"), chart):
        if p and os.path.exists(p) and os.path.dirname(os.path.abspath(p)) != os.path.abspath(keep):
            shutil.copy2(p, keep)

    print(report)
    log("bench: wrote %s, %s%s (copies in %s); %.0f s of measuring"
        % (results, os.path.join(out, "report.md"), (", " + chart) if chart else "", keep, data.get("wall_seconds", 0)))

    cells, callgrind = data["cells"], data.get("callgrind")
    failures = [c for c in cells if "error" in (c["stock"]["status"], c["fork"]["status"])]
    if callgrind:
        failures += [r for r in callgrind if "error" in (r["stock"]["status"], r["fork"]["status"])]
    if failures:
        log("bench: %d cell(s) failed (see 'error' in the report)" % len(failures))
        return 1
    return 0

if __name__ == "__main__":
    sys.exit(main())
