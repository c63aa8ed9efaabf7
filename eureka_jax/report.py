"""Plots and a Markdown summary of a run directory (reads only what the run wrote)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eureka_jax.runs import atomic_write, read_json


def make_report(run_dir: Path) -> Path:
    """Writes ``fitness.png`` and ``report.md`` into ``run_dir``; returns the report's path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    summary = read_json(run_dir / "summary.json")
    evaluation = read_json(run_dir / "evaluation.json") if (run_dir / "evaluation.json").is_file() \
        else None
    rounds = [r for r in summary["rounds"] if r.get("scores")]

    fig, ax = plt.subplots(figsize=(6, 4))
    best_so_far, xs = [], []
    running = -np.inf
    for i, r in enumerate(rounds):
        scores = [s for s in r["scores"] if s is not None]
        ax.scatter([i + 1] * len(scores), scores, color="tab:blue", alpha=0.5, s=15)
        running = max(running, max(scores, default=-np.inf))
        best_so_far.append(running)
        xs.append(i + 1)
    ax.plot(xs, best_so_far, color="tab:red", label="best so far")
    if evaluation:
        for label, color in (("human", "tab:green"), ("sparse", "tab:gray")):
            ax.axhline(evaluation["rewards"][label]["mean"], color=color, linestyle="--",
                       label=f"{label} (evaluation mean)")
    ax.set_xlabel("round")
    ax.set_ylabel("task fitness")
    ax.set_title(f"{summary['task']}: candidates per round")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(run_dir / "fitness.png", dpi=100)
    plt.close(fig)

    lines = [f"# Eureka search on {summary['task']}", "", "![fitness](fitness.png)", "",
             "| round | status | candidates | best fitness |", "| --- | --- | ---: | ---: |"]
    for r in summary["rounds"]:
        n = len(r.get("scores") or [])
        fit = "" if r.get("best_fitness") is None else f"{r['best_fitness']:.3f}"
        lines.append(f"| {r['name']} | {r['status']} | {n} | {fit} |")
    if summary.get("best"):
        b = summary["best"]
        title = (f"Best reward: round {b['iteration']}, candidate {b['candidate']}, "
                 f"fitness {b['fitness']:.3f}")
        lines += ["", title, "", "```python", b["source"].rstrip(), "```"]
    if evaluation:
        heading = (f"## Final evaluation ({evaluation['num_eval']} seeds, "
                   f"{evaluation['statistic']})")
        lines += ["", heading, "", "| reward | mean ± std |", "| --- | ---: |"]
        for label, r in evaluation["rewards"].items():
            lines.append(f"| {label} | {r['mean']:.3f} ± {r['std']:.3f} |")
        hns = evaluation["human_normalized_score"]
        lines += ["", "Human-normalized score (best − sparse) / |human − sparse|: "
                  + ("undefined (human and sparse score the same)" if hns is None
                     else f"{hns:.3f}")]
    report = run_dir / "report.md"
    atomic_write(report, "\n".join(lines) + "\n")
    return report
