"""Does the offline proposer search? A 5-round x 8-sample offline search from scratch (no
human reward) on cartpole and pendulum_swingup, several seeds: its first round's best, its
final best, and the sparse baseline trained with the same budget (one batched call).

    python -m benchmarks.offline_search [--tasks cartpole,pendulum_swingup] [--seeds 0 1 2]

Early stopping at the task's target fitness is switched off so every search runs 5 rounds.
Writes benchmarks/results/offline_search.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from benchmarks.common import machine_header
from eureka_jax.config import load_config
from eureka_jax.llm.factory import make_proposer
from eureka_jax.llm.prompts import Prompts
from eureka_jax.reward import compile_reward
from eureka_jax.search import Search
from eureka_jax.task import load_task
from eureka_jax.train import train_candidates
from eureka_jax.train.config import training_settings


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default="cartpole,pendulum_swingup")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--iteration", type=int, default=5)
    parser.add_argument("--sample", type=int, default=8)
    parser.add_argument("--budget", nargs="*", default=[],
                        help="task=num_updates pairs, e.g. cartpole=20")
    args = parser.parse_args()
    budgets = dict(b.split("=") for b in args.budget)
    rows = []
    for name in args.tasks.split(","):
        overrides = [f"task={name}", f"iteration={args.iteration}", f"sample={args.sample}",
                     "llm=offline", "seeds=1", "num_eval=0"]
        if name in budgets:
            overrides.append(f"max_iterations={budgets[name]}")
        base = load_task(name)
        task = dataclasses.replace(base, target_fitness=None)
        cfg0 = load_config(overrides)
        config, hparams = training_settings(cfg0, task)
        sparse = train_candidates(task, [compile_reward(task.sparse_reward_source, task)],
                                  config, hparams, seeds=args.seeds)
        sparse_scores = score_per_seed(sparse, cfg0.select)
        for i, seed in enumerate(args.seeds):
            cfg = OmegaConf.merge(cfg0, {"seed": seed})
            with tempfile.TemporaryDirectory() as tmp:
                proposer, _, _ = make_proposer(cfg, task, Path(tmp) / "llm.jsonl")
                start = time.perf_counter()
                summary = Search.from_config(cfg, task, Path(tmp), proposer, Prompts(),
                                 log=lambda line: None).run()
                seconds = time.perf_counter() - start
            bests = [r.best_fitness for r in summary.rounds if r.best_fitness is not None]
            running = np.maximum.accumulate(bests)
            row = (f"| {name} | {seed} | {config.total_env_steps:,} | {bests[0]:.3f} | "
                   f"{running[-1]:.3f} | {' → '.join(f'{b:.2f}' for b in bests)} | "
                   f"{sparse_scores[i]:.3f} | {'yes' if running[-1] > bests[0] else 'no'} | "
                   f"{'yes' if running[-1] >= sparse_scores[i] else 'no'} | {seconds:.0f} |")
            rows.append(row)
            print(row, flush=True)
    text = (
        "# Offline proposer as a search operator\n\n" + machine_header()
        + f"- {args.iteration} rounds x {args.sample} samples, 1 training seed per candidate, "
        "from scratch (no human reward); fitness = best over checkpoints\n"
        "- sparse: the sparse reward trained with the same budget and the same seed\n\n"
        "| task | seed | env steps per candidate | round 1 best | final best | best per round | "
        "sparse | improved over round 1 | ≥ sparse | wall s |\n"
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | --- | --- | ---: |\n"
        + "\n".join(rows) + "\n"
    )
    out = Path(__file__).parent / "results" / "offline_search.md"
    out.write_text(text)
    print(text)


def score_per_seed(result, select):
    per_seed = result.max_fitness() if select == "max" else result.final_fitness()
    return per_seed[0]


if __name__ == "__main__":
    main()
