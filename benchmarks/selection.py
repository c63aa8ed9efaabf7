"""Does the search pick better rewards, or luckier seeds? The winner's curse of one-seed
selection against the seed race, measured on repeated offline searches.

For each task and repetition r (seed r: other offline proposals and other training seeds) one
round of a search runs with the seed race (``seeds=1 confirm=2``); three selections are read
from that round's record, so they are compared on identical candidates and seeds:
the one-seed choice (``confirm=0``, Eureka's: the top first-pass score, which is exactly what
a ``confirm=0`` search would choose), the race ranked by the mean over all of a leader's seeds
(``race_score=all``) and the race ranked by its race seeds only (``race_score=heldout``). Then
every chosen best, and the human reward, train on the same fresh seeds (one batched call per
task). Reported per selection, over repetitions: the chosen best's search score, its
fresh-seed score, the gap between them (the winner's curse), how often it beats the human
reward on the fresh seeds, and the env steps a round spent.

    python -m benchmarks.selection [--tasks cartpole,pendulum_swingup] [--reps 6]
        [--sample 8] [--fresh 5] [--select max] [--budget cartpole=30 pendulum_swingup=100]

Rows accumulate per task in benchmarks/results/selection.json (a task measured again is
replaced); benchmarks/results/selection.md is written from all of them.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from benchmarks.common import fresh_scores, machine_header
from eureka_jax.config import load_config
from eureka_jax.evaluate import EVAL_SEED_OFFSET
from eureka_jax.llm.factory import make_proposer
from eureka_jax.llm.prompts import Prompts
from eureka_jax.runs import load_result, read_json
from eureka_jax.search import Search
from eureka_jax.task import load_task
from eureka_jax.train.config import training_settings

VARIANTS = ("one seed (confirm=0)", "race, all seeds (race_score=all)",
            "race, held-out seeds (race_score=heldout)")


def search(cfg, task, tmp: Path):
    proposer, _, _ = make_proposer(cfg, task, tmp / "llm.jsonl")
    return Search.from_config(cfg, task, tmp, proposer, Prompts(), log=lambda line: None).run()


def picks_of_round(run_dir: Path) -> dict:
    """The three selections' (source, search score) on one raced round, from its record."""
    d = read_json(run_dir / "iter_00" / "round.json")
    values = [np.array([np.nan if v is None else v for v in row]) for row in d["seed_scores"]]
    first = d["first_pass_seeds"]
    confirmed = [d["candidates"].index(c) for c in d["confirmed"]]

    def pick(pool, stat):
        k = max(pool, key=lambda j: (stat(j), -pool.index(j)))
        path = run_dir / "iter_00" / "attempt_0" / f"candidate_{d['candidates'][k]:02d}.py"
        return path.read_text(), float(stat(k))

    every = list(range(len(values)))
    return {
        VARIANTS[0]: pick(every, lambda j: np.mean(values[j][:first])),
        VARIANTS[1]: pick(confirmed, lambda j: np.mean(values[j])),
        VARIANTS[2]: pick(confirmed, lambda j: np.mean(values[j][first:])),
    }


def run_task(name: str, args, budgets: dict) -> list[str]:
    overrides = [f"task={name}", "iteration=1", f"sample={args.sample}", "llm=offline",
                 "seeds=1", "num_eval=0", "target_fitness=null", f"select={args.select}",
                 "confirm=2"]
    if name in budgets:
        overrides.append(f"max_iterations={budgets[name]}")
    task = load_task(name)
    base = load_config(overrides)
    config, hparams = training_settings(base, task)
    picks = {key: [] for key in VARIANTS}
    spent = {VARIANTS[0]: [], VARIANTS[1]: [], VARIANTS[2]: []}
    wall = 0.0
    for rep in range(args.reps):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            summary = search(OmegaConf.merge(base, {"seed": rep}), task, Path(tmp))
            wall += time.perf_counter() - start
            for key, value in picks_of_round(Path(tmp)).items():
                picks[key].append(value)
            first = load_result(Path(tmp) / "iter_00" / "curves.npz").env_steps
            spent[VARIANTS[0]].append(first)
            for key in VARIANTS[1:]:
                spent[key].append(summary.rounds[0].env_steps)
        print(f"{name} rep {rep}: " + "; ".join(f"{k}: {v[-1][1]:.3f}" for k, v in
                                                picks.items()), flush=True)
    # every distinct pick and the human reward on the same fresh seeds, one batched call
    fresh_seeds = [EVAL_SEED_OFFSET + 100 + i for i in range(args.fresh)]
    sources, fresh = fresh_scores(task, picks, config, hparams, fresh_seeds, base.select)
    human = fresh[0]
    rows = []
    for key, chosen in picks.items():
        search_scores = np.array([score for _, score in chosen])
        fresh_means = np.array([np.nanmean(fresh[sources.index(src)]) for src, _ in chosen])
        beats = int(np.sum(fresh_means > np.nanmean(human)))
        gap = search_scores - fresh_means
        rows.append(
            f"| {name} | {key} | {base.select} | {len(chosen)} | {config.total_env_steps:,} | "
            f"{search_scores.mean():.3f} ± {search_scores.std(ddof=1):.3f} | "
            f"{fresh_means.mean():.3f} ± {fresh_means.std(ddof=1):.3f} | "
            f"**{gap.mean():+.3f}** ± {gap.std(ddof=1):.3f} | "
            f"{np.nanmean(human):.3f} ± {np.nanstd(human, ddof=1):.3f} | {beats}/{len(chosen)} | "
            f"{np.mean(spent[key]) / 1e6:.2f}M | {wall:.0f} (all three) |")
        print(rows[-1], flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default="cartpole,pendulum_swingup")
    parser.add_argument("--reps", type=int, default=6)
    parser.add_argument("--sample", type=int, default=8)
    parser.add_argument("--fresh", type=int, default=5, help="fresh seeds per chosen best")
    parser.add_argument("--select", default="max", help="the run statistic: max or final")
    parser.add_argument("--render-only", action="store_true",
                        help="only rewrite selection.md from selection.json")
    parser.add_argument("--budget", nargs="*", default=["cartpole=30", "pendulum_swingup=100"],
                        help="task=num_updates pairs (cut budgets, so rounds don't all hit 1.0)")
    args = parser.parse_args()
    budgets = {k: int(v) for k, v in (b.split("=") for b in args.budget)}
    store = Path(__file__).parent / "results" / "selection.json"
    for name in [] if args.render_only else args.tasks.split(","):
        rows = run_task(name, args, budgets)
        by_task = json.loads(store.read_text()) if store.is_file() else {}  # read late: runs
        by_task[f"{name} select={args.select}"] = rows                  # may go in parallel
        store.write_text(json.dumps(by_task, indent=1) + "\n")
    by_task = json.loads(store.read_text()) if store.is_file() else {}
    rows = [row for name in sorted(by_task) for row in by_task[name]]
    text = (
        "# Selection: one-seed choice vs the seed race\n\n" + machine_header()
        + "- repeated offline searches per task (repetition r: seed r), 1 round x "
        f"{args.sample} samples, first pass 1 seed per candidate; the race trains the top 2 "
        "again on K x 1 fresh seeds (4 each at K = 8); the three selections are read from "
        "the same raced round\n"
        "- score per seed: select=max = best evaluation-rollout fitness over the checkpoints "
        "(Eureka's statistic), select=final = the last checkpoint's\n"
        f"- fresh: each chosen best trained again on the same {args.fresh} fresh seeds "
        f"({EVAL_SEED_OFFSET + 100}..), as was the human reward; gap = search score − fresh "
        "score (the winner's curse), mean ± std over repetitions\n"
        + "\n| task | selection | select | searches | env steps per run | search score | "
        "fresh score | gap | human (fresh) | beats human | env steps per round | wall s (all "
        "searches) |\n"
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
        + "\n".join(rows) + "\n"
    )
    out = Path(__file__).parent / "results" / "selection.md"
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
