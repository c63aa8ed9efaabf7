"""Run time per env step of the split trainer against the fused one, side by side: one
process, both trainers compiled first, then their runs alternated (A B B A A B ...), so both
see the same host. On a shared 2-core host one run of each says little (the spread within one
trainer is as large as the gap); the repeats give a paired interval of the ratio.

    python -m benchmarks.split_vs_fused [--task pendulum_swingup] [--rows 6] [--repeats 5]
                                        [--set key=value ...]

Rows are the task's human and sparse rewards, alternated (their cost is a small part of a
run: the reward programs took 0.3 s of a 48 s split run on pendulum_swingup), 1 seed each, at
the task's CPU default. Writes ``results/split_vs_fused_<task>.md``.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from benchmarks.common import write
from eureka_jax.config import load_config
from eureka_jax.reward import compile_reward
from eureka_jax.selection import t_interval
from eureka_jax.task import load_task
from eureka_jax.train import train_candidates
from eureka_jax.train.config import training_settings


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", default="pendulum_swingup")
    parser.add_argument("--rows", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--set", nargs="*", default=[], help="train.KEY=VALUE overrides")
    args = parser.parse_args()

    task = load_task(args.task)
    cfg = load_config([f"task={args.task}", *(f"train.{kv}" for kv in args.set)])
    config, hparams = training_settings(cfg, task)
    human = compile_reward(task.human_reward_source, task)
    sparse = compile_reward(task.sparse_reward_source, task)
    fns = [(human, sparse)[i % 2] for i in range(args.rows)]

    def run(fused: bool):
        result = train_candidates(task, fns, config, hparams, seeds=[0], fused=fused)
        return result.compile_seconds, result.run_seconds, result.env_steps

    compile_s = {}
    for fused in (True, False):  # compile both (the first call of each), not timed as runs
        compile_s[fused], _, steps = run(fused)
    times = {True: [], False: []}
    for i in range(args.repeats):
        order = (True, False) if i % 2 == 0 else (False, True)
        for fused in order:
            _, seconds, _ = run(fused)
            times[fused].append(seconds)
            print(f"repeat {i + 1}: {'fused' if fused else 'split'} {seconds:.1f} s", flush=True)

    fused_s, split_s = np.array(times[True]), np.array(times[False])
    log_ratio = np.log(split_s / fused_s)
    mean, low, high = t_interval(log_ratio)
    rows = [f"| {i + 1} | {f:.1f} | {s:.1f} | {s / f:.2f} |"
            for i, (f, s) in enumerate(zip(fused_s, split_s))]
    rows.append(f"| median | {np.median(fused_s):.1f} | {np.median(split_s):.1f} | "
                f"{np.median(split_s) / np.median(fused_s):.2f} |")
    notes = (f"- task: {args.task}, {args.rows} rows (human and sparse rewards alternated) x 1 "
             f"seed, {config.num_updates} updates x {config.num_envs} envs x "
             f"{config.unroll_length} steps, evaluation envs {config.eval_envs}"
             + (f"; settings: {', '.join(args.set)}" if args.set else "") + "\n"
             f"- {steps:,} env steps per run; compile (first call, not in the runs): fused "
             f"{compile_s[True]:.1f} s, split {compile_s[False]:.1f} s\n"
             f"- runs alternated in one process (repeat 1 fused first, then the order flips)\n"
             f"- split / fused run time, geometric mean over the {args.repeats} paired repeats: "
             f"**{math.exp(mean):.2f}x**, 95% t interval [{math.exp(low):.2f}, "
             f"{math.exp(high):.2f}] (the criterion: within 1.10x)\n")
    write(f"split_vs_fused_{args.task}.md",
          f"Split vs fused trainer: run time side by side ({args.task})", notes,
          "| repeat | fused run s | split run s | split / fused |\n| ---: | ---: | ---: | ---: |",
          rows)


if __name__ == "__main__":
    main()
