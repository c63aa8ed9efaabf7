"""What do evaluation rollouts cost? One batched training (human + sparse x 2 seeds, the task's
default budget) without evaluation rollouts, and with ``eval_envs`` envs at every n-th
checkpoint; compile time apart, run time as the median of interleaved repetitions.

    python -m benchmarks.eval_overhead [--tasks cartpole,pendulum_swingup] [--reps 3]

Writes benchmarks/results/eval_overhead.md.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import jax
import numpy as np

from benchmarks.common import machine_header
from eureka_jax.reward import compile_reward
from eureka_jax.task import load_task
from eureka_jax.train import batch, train_candidates
from eureka_jax.train.config import split_train_settings

SETTINGS = [("none (training episodes)", 0, 1), ("16 envs, every checkpoint", 16, 1),
            ("16 envs, every 2nd checkpoint", 16, 2)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default="cartpole,pendulum_swingup")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    batch._MAX_PROGRAMS = len(SETTINGS)  # keep every setting's compiled program for the reps
    rows = []
    for name in args.tasks.split(","):
        task = load_task(name)
        base, hparams = split_train_settings(dict(task.train))
        fns = [compile_reward(task.human_reward_source, task),
               compile_reward(task.sparse_reward_source, task)]
        compile_s, runs = {}, {label: [] for label, _, _ in SETTINGS}
        for rep in range(args.reps + 1):  # the first pass compiles; repetitions interleave
            for label, envs, every in SETTINGS:
                config = dataclasses.replace(base, eval_envs=envs, eval_every=every)
                result = train_candidates(task, fns, config, hparams, seeds=[0, 1])
                if rep == 0:
                    compile_s[label] = result.compile_seconds
                else:
                    runs[label].append(result.run_seconds)
        ref = float(np.median(runs[SETTINGS[0][0]]))
        for label, envs, every in SETTINGS:
            med = float(np.median(runs[label]))
            rows.append(f"| {name} | {base.total_env_steps:,} | {base.num_evals} | {label} "
                        f"| {compile_s[label]:.1f} | {med:.2f} | "
                        f"{', '.join(f'{r:.2f}' for r in runs[label])} | "
                        f"{(med / ref - 1) * 100:+.0f}% |")
            print(rows[-1], flush=True)
    text = (
        "# Evaluation rollouts: overhead\n\n" + machine_header()
        + f"- one batched call: human + sparse rewards x 2 seeds at the task's default budget; "
        f"run time = median of {args.reps} interleaved repetitions (compile excluded: the "
        "compiled program is reused)\n"
        "- evaluation: deterministic policy, full episodes from fresh resets, the loop ends "
        "when every env is done; overhead relative to no evaluation\n"
        f"- devices: {[d.device_kind for d in jax.devices()]}\n\n"
        "| task | env steps per run | checkpoints | evaluation | compile s | run s (median) | "
        "runs | overhead |\n| --- | ---: | ---: | --- | ---: | ---: | --- | ---: |\n"
        + "\n".join(rows) + "\n")
    out = Path(__file__).parent / "results" / "eval_overhead.md"
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
