"""Draw the ratios of a benchmark run as a PNG.

    /usr/bin/python3 chart.py results.json ratios.png

Run with a Python that has matplotlib (Debian's python3-matplotlib; the harness uses /usr/bin/python3).
Panels: fork/stock time per configuration (one bar per workload, a diamond for the geometric mean);
the fork's sys.monitoring tools against the legacy tool on stock; callgrind instruction ratios when
measured.  Configurations an interpreter lacks are written on the axis as "missing" rather than left out.
"""

import json
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.ticker  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


COLOR_OF = {}  # workload -> colour, the same in every panel


def grouped(ax, groups, workloads, values, title, ylabel, log=False, why=None):
    """groups: x labels; values[g][w] = ratio or None; why[g]: what is missing where nothing was measured."""
    if log:
        ax.set_yscale("log")
    n = max(1, len(workloads))
    width = 0.8 / (n + 1)
    for i, w in enumerate(workloads):
        xs, ys = [], []
        for gi, g in enumerate(groups):
            v = values[g].get(w)
            if v is not None:
                xs.append(gi - 0.4 + width * (i + 0.5))
                ys.append(v)
        ax.bar(xs, ys, width=width, color=COLOR_OF.get(w, "gray"), label=w)
    gx, gy = [], []
    labels = []
    for gi, g in enumerate(groups):
        gm = geomean(list(values[g].values()))
        if gm is not None:
            gx.append(gi + 0.4 - width / 2)
            gy.append(gm)
            ax.annotate("%.2f" % gm, (gi + 0.4 - width / 2, gm), textcoords="offset points", xytext=(0, 6),
                        ha="center", fontsize=8, fontweight="bold")
            labels.append(g)
        else:
            labels.append(g + "\n" + ((why or {}).get(g) or "(missing)"))
    if gx:
        ax.scatter(gx, gy, marker="D", color="black", zorder=3, label="geomean")
    ax.axhline(1.0, color="red", linewidth=1, linestyle="--")
    ax.set_xlim(-0.5, max(len(groups), 1) - 0.5)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    if log:
        vals = [v for g in groups for v in values[g].values() if v] + [1.0]
        ax.set_ylim(min(vals) / 1.6, max(vals) * 1.6)
        fmt = matplotlib.ticker.FuncFormatter(lambda y, _: "%g" % y)
        ax.yaxis.set_major_formatter(fmt)
        ax.yaxis.set_minor_formatter(fmt)
        ax.tick_params(axis="y", which="minor", labelsize=7)
    if len(groups) == 0:
        ax.text(0.5, 0.5, "nothing measured", ha="center", va="center", transform=ax.transAxes)


def main(results_path, png_path):
    with open(results_path) as f:
        data = json.load(f)
    workloads = data["workloads"]
    cmap = plt.get_cmap("tab10")
    for i, w in enumerate(workloads):
        COLOR_OF[w] = cmap(i % 10)
    configs = [c["name"] for c in data["configs"]]
    cells = data["cells"]
    run_configs = [c for c in configs if any(x["config"] == c for x in cells)]

    same = {c: {} for c in run_configs}
    for x in cells:
        if "ratio" in x:
            same[x["config"]][x["workload"]] = x["ratio"]
    why = {}
    for c in run_configs:
        mine = [x for x in cells if x["config"] == c]
        parts = []
        for label in ("stock", "fork"):
            bad = sorted({x[label]["status"] for x in mine if x[label]["status"] != "ok"})
            if bad:
                parts.append("%s: %s" % (label, "/".join(bad)))
        why[c] = "\n".join(parts)

    cross_groups = []
    cross = {}
    for r in data.get("cross", []):
        name = "%s vs\n%s" % (r["config"], r["counterpart"])
        cross_groups.append(name)
        cross[name] = {e["workload"]: e.get("ratio") for e in r["workloads"] if e.get("ratio")}

    panels = 2 + (1 if data.get("callgrind") else 0)
    fig, axes = plt.subplots(panels, 1, figsize=(12, 4.2 * panels))
    grouped(axes[0], run_configs, workloads, same,
            "Time ratio fork/stock, same tool configuration (< 1: fork faster)", "fork / stock", why=why)
    have_cross = any(cross.values())
    grouped(axes[1], cross_groups, workloads, cross,
            "Fork's sys.monitoring tool vs the legacy tool on stock (< 1: monitoring cheaper; log scale)",
            "fork-mon / stock-legacy", log=have_cross)
    if not have_cross:
        axes[1].set_ylim(0, 2)
        axes[1].text(0.5, 0.75, "no sys.monitoring results yet (missing on the fork)", ha="center", va="center",
                     transform=axes[1].transAxes, fontsize=11, color="gray")
    if data.get("callgrind"):
        cg = data["callgrind"]
        cg_configs = []
        cg_vals = {}
        for r in cg:
            if r["config"] not in cg_vals:
                cg_configs.append(r["config"])
                cg_vals[r["config"]] = {}
            if r.get("ratio"):
                cg_vals[r["config"]][r["workload"]] = r["ratio"]
        for r in cg:  # the fork's sys.monitoring tools against the legacy tool on stock, in instructions
            vs = r.get("vs_counterpart")
            if vs:
                name = "%s vs\nstock %s" % (r["config"], vs["counterpart"])
                if name not in cg_vals:
                    cg_configs.append(name)
                    cg_vals[name] = {}
                cg_vals[name][r["workload"]] = vs["ratio"]
        cg_workloads = [w for w in workloads if any(r["workload"] == w for r in cg)]
        cg_workloads += sorted({r["workload"] for r in cg} - set(cg_workloads))
        grouped(axes[2], cg_configs, cg_workloads, cg_vals,
                "Instruction (Ir) ratios under callgrind: fork/stock per configuration; "
                "fork-mon / stock-legacy at the right", "Ir ratio")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", fontsize=8, ncol=4)
    env = data["environment"]
    fig.suptitle("%s build, %s, %s mode, %s" % (data["variant"], env["date"],
                                                "QUICK" if data["options"]["quick"] else "full",
                                                env["cpu_model"]), fontsize=9, x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(png_path, dpi=100)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
