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
    ax.plot(xs, best_so_far, color="tab:red", marker="o", label="best so far")
    if evaluation:
        for label, color in (("human", "tab:green"), ("sparse", "tab:gray")):
            ax.axhline(evaluation["rewards"][label]["mean"], color=color, linestyle="--",
                       label=f"{label} (evaluation mean)")
    ax.set_xticks(xs)
    ax.set_xlabel("round")
    ax.set_ylabel("task fitness")
    ax.set_title(f"{summary['task']}: candidates per round")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(run_dir / "fitness.png", dpi=100)
    plt.close(fig)

    best_curves = _best_curves(run_dir, summary)
    components = _plot_best_components(run_dir, best_curves, plt)
    _write_tensorboard(run_dir, summary, evaluation, best_curves)

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
        if components:
            lines += ["", "![components](components.png)"]
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


def _best_curves(run_dir: Path, summary: dict):
    """(names, fitness [S, C], components [S, C, M], env_steps [C]) of the best candidate."""
    from eureka_jax.search import load_result

    best = summary.get("best")
    if not best:
        return None
    name = "iter_init" if best["iteration"] == "init" else f"iter_{int(best['iteration']):02d}"
    decision = read_json(run_dir / name / "round.json")
    result = load_result(run_dir / name / "curves.npz")
    k = decision["candidates"].index(best["candidate"])
    c = result.curves
    return result.component_names[k], c.fitness[k], c.components[k], c.env_steps[k, 0]


def _plot_best_components(run_dir: Path, curves, plt) -> bool:
    if curves is None:
        return False
    names, fitness, components, steps = curves
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].plot(steps, fitness.mean(0), color="tab:red")
    axes[0].set_title("best reward: task fitness")
    for j, name in enumerate(names):
        axes[1].plot(steps, components[:, :, j].mean(0), label=name)
    axes[1].set_title("best reward: components (per-step mean)")
    axes[1].legend(fontsize=7)
    for ax in axes:
        ax.set_xlabel("env steps")
    fig.tight_layout()
    fig.savefig(run_dir / "components.png", dpi=100)
    plt.close(fig)
    return True


def _write_tensorboard(run_dir: Path, summary: dict, evaluation, curves) -> None:
    """Scalars for TensorBoard (``tensorboard --logdir RUN_DIR/tensorboard``)."""
    import shutil

    from tensorboardX import SummaryWriter

    folder = run_dir / "tensorboard"
    shutil.rmtree(folder, ignore_errors=True)  # written anew from the run's files
    with SummaryWriter(str(folder)) as writer:
        running = -np.inf
        for i, r in enumerate(x for x in summary["rounds"] if x.get("scores")):
            scores = [s for s in r["scores"] if s is not None]
            if scores:
                running = max(running, max(scores))
                writer.add_scalar("search/round_best_fitness", max(scores), i)
                writer.add_scalar("search/best_fitness_so_far", running, i)
                writer.add_scalar("search/candidates_trained", len(scores), i)
        if curves is not None:
            names, fitness, components, steps = curves
            for c, step in enumerate(steps):
                writer.add_scalar("best/fitness", float(fitness[:, c].mean()), int(step))
                for j, name in enumerate(names):
                    writer.add_scalar(f"best/{name}", float(components[:, c, j].mean()),
                                      int(step))
        if evaluation:
            for label, r in evaluation["rewards"].items():
                writer.add_scalar(f"evaluation/{label}", r["mean"], 0)
