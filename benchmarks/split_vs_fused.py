"""Run time per env step of the split trainer against the fused one, side by side: one
process, both trainers compiled first, then their runs alternated (A B B A A B ...), so both
see the same host. On a shared 2-core host one run of each says little (the spread within one
trainer is as large as the gap); the repeats give a paired interval of the ratio. Short runs
(``--set num_updates=20 num_evals=2``) pair better than long ones: the host drifts less
within a pair, so many short pairs give a tighter interval than a few long ones.

    python -m benchmarks.split_vs_fused [--tasks pendulum_swingup ...] [--rows 6]
                                        [--repeats 8] [--set key=value ...]
                                        [--cpu-devices N] [--out PATH]

``--cpu-devices N`` runs both trainers on N XLA CPU devices (``jax_num_cpu_devices``), the
rows spread over them: on a small CPU host one device per core runs each device's rows on a
core of its own, where one device leaves the cores to XLA's intra-op threads.

Rows are the task's human and sparse rewards, alternated (their cost is a small part of a
run: the reward programs took 0.3 s of a 48 s split run on pendulum_swingup), 1 seed each, at
the task's CPU default with the ``--set`` overrides. Writes ``results/split_vs_fused.md``.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from benchmarks.common import write
from eureka_jax.selection import t_interval

HEADER = ("| task | rows x seeds | env steps per run | pairs | fused compile s | split compile s "
          "| fused run s (median) | split run s (median) | split / fused run time [95% CI] |\n"
          "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")


def paired_runs(task, reward_fns, config, hparams, seeds, repeats: int) -> dict:
    """Both trainers compiled (their first calls, not timed as runs), then ``repeats`` pairs
    of runs alternated (pair 1 fused first, then the order flips). Returns {"compile":
    {"fused": s, "split": s}, "fused": [run s], "split": [run s], "env_steps": per run}."""
    from eureka_jax.train import train_candidates

    def run(fused: bool):
        return train_candidates(task, reward_fns, config, hparams, seeds=seeds, fused=fused)

    out = {"compile": {}, "fused": [], "split": []}
    for fused in (True, False):
        result = run(fused)
        out["compile"]["fused" if fused else "split"] = result.compile_seconds
        out["env_steps"] = result.env_steps
    for i in range(repeats):
        for fused in ((True, False) if i % 2 == 0 else (False, True)):
            out["fused" if fused else "split"].append(run(fused).run_seconds)
    return out


def ratio(out: dict) -> tuple[float, float, float]:
    """split / fused run time: the geometric mean over the pairs and its 95% t interval."""
    log_ratio = np.log(np.asarray(out["split"]) / np.asarray(out["fused"]))
    return tuple(math.exp(x) for x in t_interval(log_ratio))


def table_row(name: str, shape: str, out: dict) -> str:
    mean, low, high = ratio(out)
    return (f"| {name} | {shape} | {out['env_steps']:,} | {len(out['fused'])} | "
            f"{out['compile']['fused']:.1f} | {out['compile']['split']:.1f} | "
            f"{np.median(out['fused']):.2f} | {np.median(out['split']):.2f} | "
            f"**{mean:.2f}x** [{low:.2f}, {high:.2f}] |")


def main():
    from eureka_jax.config import load_config
    from eureka_jax.reward import compile_reward
    from eureka_jax.task import load_task
    from eureka_jax.train.config import training_settings

    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", nargs="+", default=["pendulum_swingup"])
    parser.add_argument("--rows", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--set", nargs="*", default=[], help="train.KEY=VALUE overrides")
    parser.add_argument("--cpu-devices", type=int, default=None,
                        help="XLA CPU devices (jax_num_cpu_devices); default: JAX's (1)")
    parser.add_argument("--out", default="split_vs_fused.md")
    args = parser.parse_args()
    import jax

    if args.cpu_devices is not None:
        jax.config.update("jax_num_cpu_devices", args.cpu_devices)  # before the first device use

    rows, details = [], []
    for name in args.tasks:
        task = load_task(name)
        cfg = load_config([f"task={name}", *(f"train.{kv}" for kv in args.set)])
        config, hparams = training_settings(cfg, task)
        human = compile_reward(task.human_reward_source, task)
        sparse = compile_reward(task.sparse_reward_source, task)
        fns = [(human, sparse)[i % 2] for i in range(args.rows)]
        out = paired_runs(task, fns, config, hparams, [0], args.repeats)
        rows.append(table_row(name, f"{args.rows} x 1 on {len(jax.devices())} "
                                    f"{jax.default_backend()} device(s)", out))
        details.append(f"- {name}: {config.num_updates} updates x {config.num_envs} envs x "
                       f"{config.unroll_length} steps, evaluation envs {config.eval_envs} at "
                       f"{config.num_evals} checkpoints; runs (fused / split) s: "
                       + ", ".join(f"{f:.2f} / {s:.2f}" for f, s in zip(out["fused"],
                                                                          out["split"])))
        print(rows[-1], flush=True)
    notes = ("- rows: the task's human and sparse rewards alternated, 1 seed each; settings: "
             + (", ".join(args.set) if args.set else "the tasks' CPU defaults") + "\n"
             "- per task: both trainers compiled first (not in the runs), then the runs "
             "alternated in one process (pair 1 fused first, then the order flips); the ratio "
             "is the geometric mean of split / fused over the pairs with a 95% t interval "
             "(the criterion: within 1.10x)\n" + "\n".join(details) + "\n")
    write(args.out, "Split vs fused trainer: run time side by side", notes, HEADER, rows)


if __name__ == "__main__":
    main()
