"""Does the search pick better rewards, or luckier seeds? The winner's curse of one-seed
selection against the seed race, measured on repeated offline searches.

For each task and repetition r (seed r: other offline proposals and other training seeds) a
search runs with the seed race (``seeds=1 confirm=2``) and, as the old selection, with
``confirm=0`` (choose on one seed). Then every chosen best, and the human reward, train on the
same fresh seeds (one batched call per task). Reported per setting, over repetitions: the
chosen best's search score, its fresh-seed score, the gap between them (the winner's curse),
how often it beats the human reward on the fresh seeds, and the env steps a round spent.

With ``--iteration 1`` (the default) both selections see the same round: the old selection
is read from the raced search's first pass, which is exactly the ``confirm=0`` search (same
proposals, same seeds, same program), so old and new are compared on identical candidates.
With more rounds the two searches diverge and both are run.

    python -m benchmarks.selection [--tasks cartpole,pendulum_swingup] [--reps 6]
        [--sample 8] [--fresh 5] [--budget cartpole=100 pendulum_swingup=100]

Writes benchmarks/results/selection.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from benchmarks.common import machine_header
from eureka_jax import selection
from eureka_jax.config import load_config
from eureka_jax.evaluate import EVAL_SEED_OFFSET
from eureka_jax.llm.factory import make_proposer
from eureka_jax.llm.prompts import Prompts
from eureka_jax.reward import compile_reward
from eureka_jax.runs import load_result, read_json
from eureka_jax.search import Search
from eureka_jax.task import load_task
from eureka_jax.train import train_candidates
from eureka_jax.train.config import training_settings


def search(cfg, task, tmp: Path) -> dict:
    proposer, _, _ = make_proposer(cfg, task, tmp / "llm.jsonl")
    return Search(cfg, task, tmp, proposer, Prompts(), log=lambda line: None).run()


def one_seed_pick(run_dir: Path, select: str) -> tuple[str, float]:
    """The old selection on a raced round: the first pass's top one-seed score."""
    decision = read_json(run_dir / "iter_00" / "round.json")
    first = load_result(run_dir / "iter_00" / "curves.npz")
    scores = selection.per_seed(first, select)[:, 0]
    k = int(np.nanargmax(scores))
    source = (run_dir / "iter_00" / "attempt_0" / f"candidate_{decision['candidates'][k]:02d}.py")
    return source.read_text(), float(scores[k])


def run_task(name: str, args, budgets: dict) -> list[str]:
    overrides = [f"task={name}", f"iteration={args.iteration}", f"sample={args.sample}",
                 "llm=offline", "seeds=1", "num_eval=0", "target_fitness=null"]
    if name in budgets:
        overrides.append(f"max_iterations={budgets[name]}")
    task = load_task(name)
    base = load_config(overrides)
    config, hparams = training_settings(base, task)
    picks = {"one seed (confirm=0)": [], "seed race (confirm=2)": []}
    spent = {key: [] for key in picks}
    wall = {key: 0.0 for key in picks}
    for rep in range(args.reps):
        new_cfg = OmegaConf.merge(base, {"seed": rep, "confirm": 2})
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            summary = search(new_cfg, task, Path(tmp))
            wall["seed race (confirm=2)"] += time.perf_counter() - start
            picks["seed race (confirm=2)"].append((summary["best"]["source"],
                                                   summary["best"]["fitness"]))
            spent["seed race (confirm=2)"].append(
                np.mean([r["env_steps"] for r in summary["rounds"] if r.get("env_steps")]))
            if args.iteration == 1:
                picks["one seed (confirm=0)"].append(one_seed_pick(Path(tmp), base.select))
                spent["one seed (confirm=0)"].append(
                    load_result(Path(tmp) / "iter_00" / "curves.npz").env_steps)
        if args.iteration > 1:
            old_cfg = OmegaConf.merge(base, {"seed": rep, "confirm": 0})
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                summary = search(old_cfg, task, Path(tmp))
                wall["one seed (confirm=0)"] += time.perf_counter() - start
            picks["one seed (confirm=0)"].append((summary["best"]["source"],
                                                  summary["best"]["fitness"]))
            spent["one seed (confirm=0)"].append(
                np.mean([r["env_steps"] for r in summary["rounds"] if r.get("env_steps")]))
        print(f"{name} rep {rep}: " + "; ".join(f"{k}: {v[-1][1]:.3f}" for k, v in
                                                picks.items()), flush=True)
    # every pick and the human reward on the same fresh seeds, in one batched call
    labels, sources = ["human"], [task.human_reward_source]
    for key, chosen in picks.items():
        for rep, (source, _) in enumerate(chosen):
            labels.append(f"{key} #{rep}")
            sources.append(source)
    fresh_seeds = [EVAL_SEED_OFFSET + 100 + i for i in range(args.fresh)]
    fns = [compile_reward(s, task) for s in sources]
    result = train_candidates(task, fns, config, hparams, seeds=fresh_seeds, labels=labels)
    fresh = selection.per_seed(result, base.select)  # [1 + picks, fresh]
    human = fresh[0]
    rows, i = [], 1
    for key, chosen in picks.items():
        search_scores = np.array([score for _, score in chosen])
        fresh_means = np.nanmean(fresh[i:i + len(chosen)], axis=1)
        beats = int(np.sum(fresh_means > np.nanmean(human)))
        gap = search_scores - fresh_means
        i += len(chosen)
        rows.append(
            f"| {name} | {key} | {len(chosen)} | {config.total_env_steps:,} | "
            f"{search_scores.mean():.3f} ± {search_scores.std(ddof=1):.3f} | "
            f"{fresh_means.mean():.3f} ± {fresh_means.std(ddof=1):.3f} | "
            f"**{gap.mean():+.3f}** ± {gap.std(ddof=1):.3f} | "
            f"{np.nanmean(human):.3f} ± {np.nanstd(human, ddof=1):.3f} | {beats}/{len(chosen)} | "
            f"{np.mean(spent[key]) / 1e6:.2f}M | "
            + (f"{wall[key]:.0f} |" if args.iteration > 1 or "race" in key else "(in race) |"))
    for row in rows:
        print(row, flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default="cartpole,pendulum_swingup")
    parser.add_argument("--reps", type=int, default=6)
    parser.add_argument("--iteration", type=int, default=1)
    parser.add_argument("--sample", type=int, default=8)
    parser.add_argument("--fresh", type=int, default=5, help="fresh seeds per chosen best")
    parser.add_argument("--budget", nargs="*", default=["cartpole=100", "pendulum_swingup=100"],
                        help="task=num_updates pairs (cut budgets, so rounds don't all hit 1.0)")
    args = parser.parse_args()
    budgets = {k: int(v) for k, v in (b.split("=") for b in args.budget)}
    rows = []
    for name in args.tasks.split(","):
        rows += run_task(name, args, budgets)
    text = (
        "# Selection: one-seed choice vs the seed race\n\n" + machine_header()
        + f"- {args.reps} repeated offline searches per task and setting (repetition r: seed r), "
        f"{args.iteration} round(s) x {args.sample} samples, first pass 1 seed per candidate; "
        "the race trains the top 2 again on K x 1 fresh seeds (4 each at K = 8)\n"
        "- score = best evaluation-rollout fitness over training (select=max), per seed\n"
        f"- fresh: each chosen best trained again on the same {args.fresh} fresh seeds "
        f"({EVAL_SEED_OFFSET + 100}..), as was the human reward; gap = search score − fresh "
        "score (the winner's curse), mean ± std over repetitions\n"
        + ("- with 1 round, the one-seed choice is read from the raced search's first pass: "
           "the identical confirm=0 search\n" if args.iteration == 1 else "")
        + "\n| task | selection | searches | env steps per run | search score | fresh score | "
        "gap | human (fresh) | beats human | env steps per round | wall s (all searches) |\n"
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
        + "\n".join(rows) + "\n"
    )
    out = Path(__file__).parent / "results" / "selection.md"
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
