"""Plots and a Markdown summary of a run directory (reads only what the run wrote)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eureka_jax.runs import Evaluation, RoundRecord, Summary, atomic_write, read_json


def make_report(run_dir: Path) -> Path:
    """Writes ``fitness.png`` and ``report.md`` into ``run_dir`` (and the best candidate's
    ``components.png`` and TensorBoard scalars); returns the report's path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    summary = Summary.from_json(read_json(run_dir / "summary.json"))
    evaluation = (Evaluation.from_json(read_json(run_dir / "evaluation.json"))
                  if (run_dir / "evaluation.json").is_file() else None)
    records = summary.rounds
    rounds = [r for r in records if r.scores]
    _plot_fitness(run_dir / "fitness.png", summary.task, rounds, evaluation, plt)
    best_curves = _best_curves(run_dir, summary)
    components = _plot_best_components(run_dir, best_curves, plt)
    _write_tensorboard(run_dir, rounds, evaluation, best_curves)
    lines = _report_lines(run_dir, summary, records, evaluation, components)
    dr = run_dir / "dr" / "dr.md"
    if dr.is_file():  # the domain-randomization stage (eureka_jax.dr), a section of its own
        lines += ["", "#" + dr.read_text().strip(), "", "Physics prior: ![prior](dr/prior.png)"]
    report = run_dir / "report.md"
    atomic_write(report, "\n".join(lines) + "\n")
    return report


def _plot_fitness(path: Path, task_name: str, rounds: list, evaluation, plt) -> None:
    """Every trained candidate's score per round, the best so far, then the final
    evaluation's rewards (mean ± std over its fresh seeds)."""
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(7, 4))
    best_so_far, xs = [], []
    running = -np.inf
    shown = [0.0]  # the y range always includes 0, so noise near it is not zoomed into
    for r in rounds:
        x = _round_number(r)
        scores = [s for s in r.scores if s is not None]
        ax.scatter([x] * len(scores), scores, color="tab:blue", alpha=0.5, s=15)
        if r.best_fitness is not None:  # the round's chosen best, after its seed race
            running = max(running, r.best_fitness)
        best_so_far.append(running)
        xs.append(x)
        shown += scores
    ax.plot(xs, best_so_far, color="tab:red", marker="o",
            label="best so far (search: mean over its seeds)")
    if evaluation:
        end = (max(xs) if xs else 1) + 0.6
        for label, color, dx in (("best", "tab:red", -0.15), ("human", "tab:green", 0.0),
                                 ("sparse", "tab:gray", 0.15)):
            r = evaluation.rewards[label]
            if r["mean"] is None:
                continue
            ax.errorbar([end + dx], [r["mean"]], yerr=[r["std"]], color=color, marker="D",
                        capsize=4, label=f"{label}: final evaluation "
                        f"({evaluation.num_eval} fresh seeds, mean ± std)")
            if label != "best":
                ax.axhline(r["mean"], color=color, linestyle="--", linewidth=0.8)
            shown += [r["mean"] - r["std"], r["mean"] + r["std"]]
        ax.set_xticks(xs + [end], [str(x) for x in xs] + ["eval"])
    else:
        ax.set_xticks(xs)
    low, high = min(shown), max(shown)
    pad = 0.05 * (high - low or 1.0)
    ax.set_ylim(low - pad, high + pad)
    ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%.2f"))
    ax.set_xlabel("round")
    ax.set_ylabel("task fitness")
    ax.set_title(f"{task_name}: candidates per round, then the final evaluation")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _report_lines(run_dir: Path, summary: Summary, records: list, evaluation,
                  components: bool) -> list[str]:
    """report.md: the rounds, the best reward with its figures, the final evaluation."""
    lines = [f"# Eureka search on {summary.task}", "", "![fitness](fitness.png)", "",
             "| round | status | candidates | best (mean ± std over its seeds) | seeds |",
             "| --- | --- | ---: | ---: | ---: |"]
    for r in records:
        fit = "" if r.best_fitness is None else f"{r.best_fitness:.3f} ± {r.best_std or 0.0:.3f}"
        lines.append(f"| {_round_number(r)} | {r.status} | {len(r.scores)} | {fit} | "
                     f"{r.best_num_seeds or ''} |")
    if summary.best is not None:
        b = summary.best
        title = (f"Best reward: round {b.round}, candidate {b.candidate}, fitness "
                 f"{b.fitness:.3f} ± {b.std:.3f} over {b.num_seeds} seed(s) in the search")
        lines += ["", title, "", "```python", b.source.rstrip(), "```"]
        if components:
            lines += ["", "![components](components.png)"]
        if (run_dir / "best.gif").is_file():
            lines += ["", ("The best reward's policy (final evaluation, first seed, one episode; "
                      "more with `eureka-jax play`):"), "", "![best policy](best.gif)"]
    if evaluation:
        lines += _evaluation_lines(evaluation)
    return lines


def _evaluation_lines(evaluation: Evaluation) -> list[str]:
    from eureka_jax.evaluate import format_difference, format_hns

    heading = f"## Final evaluation ({evaluation.num_eval} fresh seeds, {evaluation.statistic})"
    lines = ["", heading, "", "| reward | per seed | mean ± std |", "| --- | --- | ---: |"]
    for label, r in evaluation.rewards.items():
        cells = ", ".join("failed" if v is None else f"{v:.3f}" for v in r["fitness_per_seed"])
        mean = "-" if r["mean"] is None else f"{r['mean']:.3f} ± {r['std']:.3f}"
        lines.append(f"| {label} | {cells} | {mean} |")
    return lines + ["", f"- best − human: {format_difference(evaluation.best_minus_human)}",
                    f"- best − sparse: {format_difference(evaluation.best_minus_sparse)}",
                    f"- intervals: {evaluation.interval}",
                    "- human-normalized score (best − sparse) / |human − sparse|: "
                    + format_hns(evaluation)]


def _best_curves(run_dir: Path, summary: Summary):
    """(names, fitness [S, C], components [S, C, M], env_steps [C]) of the best candidate."""
    from eureka_jax.runs import load_result
    from eureka_jax.selection import runs_of

    best = summary.best
    if best is None:
        return None
    name = "iter_init" if best.round == "init" else f"iter_{int(best.round) - 1:02d}"

    decision = RoundRecord.from_json(read_json(run_dir / name / "round.json"))
    first = load_result(run_dir / name / "curves.npz")
    race_path = run_dir / name / "race_curves.npz"
    race = load_result(race_path) if race_path.is_file() else None
    k = (decision.best_row if decision.best_row is not None
         else decision.candidates.index(best.candidate))
    c = runs_of(first, race, k)  # every seed the best trained with
    return first.component_names[k], c.fitness, c.components, c.env_steps[0]


def _plot_best_components(run_dir: Path, curves, plt) -> bool:
    if curves is None:
        return False
    import matplotlib.ticker

    names, fitness, components, steps = curves
    evaluated = np.isfinite(fitness).all(0)  # checkpoints with an evaluation rollout
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    mean = fitness[:, evaluated].mean(0)
    axes[0].plot(steps[evaluated], mean, color="tab:red", marker=".")
    if len(fitness) > 1:
        spread = fitness[:, evaluated].std(0)
        axes[0].fill_between(steps[evaluated], mean - spread, mean + spread, color="tab:red",
                             alpha=0.2)
    axes[0].set_ylim(bottom=min(0.0, float(np.min(mean - 0.05 * abs(mean).max()))))
    axes[0].set_title(f"best reward: task fitness ({len(fitness)} seeds, mean ± std)")
    for j, name in enumerate(names):
        axes[1].plot(steps[evaluated], components[:, evaluated, j].mean(0), label=name)
    axes[1].set_title("best reward: components (per-step mean)")
    axes[1].legend(fontsize=7)
    for ax in axes:
        ax.set_xlabel("env steps")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5))
        ax.xaxis.set_major_formatter(matplotlib.ticker.EngFormatter(sep=""))
    fig.tight_layout()
    fig.savefig(run_dir / "components.png", dpi=100)
    plt.close(fig)
    return True


def _write_tensorboard(run_dir: Path, rounds: list, evaluation, curves) -> None:
    """Scalars for TensorBoard (``tensorboard --logdir RUN_DIR/tensorboard``)."""
    import shutil

    from tensorboardX import SummaryWriter

    folder = run_dir / "tensorboard"
    shutil.rmtree(folder, ignore_errors=True)  # written anew from the run's files
    with SummaryWriter(str(folder)) as writer:
        running = -np.inf
        for i, r in enumerate(rounds):
            scores = [s for s in r.scores if s is not None]
            if r.best_fitness is not None:
                running = max(running, r.best_fitness)
                writer.add_scalar("search/round_best_fitness", r.best_fitness, i + 1)
                writer.add_scalar("search/best_fitness_so_far", running, i + 1)
                writer.add_scalar("search/candidates_trained", len(scores), i + 1)
        if curves is not None:
            names, fitness, components, steps = curves
            for c, step in enumerate(steps):
                if not np.isfinite(fitness[:, c]).all():
                    continue  # no evaluation rollout at this checkpoint
                writer.add_scalar("best/fitness", float(fitness[:, c].mean()), int(step))
                for j, name in enumerate(names):
                    writer.add_scalar(f"best/{name}", float(components[:, c, j].mean()),
                                      int(step))
        if evaluation:
            for label, r in evaluation.rewards.items():
                if r["mean"] is not None:
                    writer.add_scalar(f"evaluation/{label}", r["mean"], 0)


def _round_number(r: RoundRecord):
    """A round's 1-based number as printed everywhere ("init" for init=human's round)."""
    if r.round is not None:
        return r.round
    name = r.name
    return "init" if name == "iter_init" else int(name.split("_")[1]) + 1
