"""The GPU suite in one command: what a user's first hour on an accelerator measures.

    python -m benchmarks.gpu_suite            # on a GPU: writes results/gpu_suite.md
    python -m benchmarks.gpu_suite --tiny     # the same parts at toy sizes (CPU; the tests)

Parts, each a section of one table (compile time apart from run time everywhere):
1. env throughput: random actions, ``jit(vmap(step))`` in a ``lax.scan``, at batches up to
   8,192 (ant, humanoid, cartpole, shadow_hand_block);
2. batched vs sequential: K = 16 candidates x S = 4 seeds of distinct ant rewards in one
   program, against candidates trained one program each (``--sequential`` of them measured,
   the rest extrapolated at the measured mean: each is one more compile and run of the same
   shapes);
3. trainer ceiling: the batched training's env steps/s against raw physics at the same total
   batch;
4. a short ant search with ``profile=gpu`` (offline proposer), its wall time and best fitness.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

from benchmarks.common import timed, write
from eureka_jax.reward import compile_reward
from eureka_jax.task import load_task
from eureka_jax.train import train_candidates
from eureka_jax.train.config import split_train_settings

FULL = {
    "env_tasks": ("ant", "humanoid", "cartpole", "shadow_hand_block"),
    "env_batches": (1024, 4096, 8192), "env_steps": 100,
    "task": "ant", "k": 16, "s": 4, "train": {"num_updates": 20, "num_evals": 2},
    "search": ["task=ant", "profile=gpu", "iteration=1", "sample=8", "num_eval=0",
               "max_iterations=200"],
}
TINY = {
    "env_tasks": ("cartpole",), "env_batches": (16,), "env_steps": 8,
    "task": "cartpole", "k": 2, "s": 2,
    "train": {"num_envs": 8, "unroll_length": 4, "num_updates": 2, "num_evals": 1,
              "num_minibatches": 2, "update_epochs": 1, "eval_envs": 2,
              "policy_hidden": [16, 16], "value_hidden": [16, 16]},
    "search": ["task=cartpole", "iteration=1", "sample=2", "confirm=0", "num_eval=0",
               "max_iterations=2", "train.num_envs=8", "train.unroll_length=4",
               "train.num_minibatches=2", "train.update_epochs=1", "train.num_evals=1",
               "train.eval_envs=2", "report_video=false"],
}


def reward_variants(task, n: int) -> list:
    """n distinct rewards: the task's human reward with its terms re-weighted (one compile
    each when trained alone, as an LLM's candidates would be)."""
    base = task.human_reward_source
    return [compile_reward(base.replace("def compute_reward(", f"WEIGHT_{i} = {1 + 0.1 * i}\n\n"
                                        "def compute_reward(", 1)
                           .replace("return ", f"return WEIGHT_{i} * ", 1), task)
            for i in range(n)]


def env_rows(sizes) -> list[str]:
    rows = []
    for name in sizes["env_tasks"]:
        task = load_task(name)
        for batch in sizes["env_batches"]:
            steps = sizes["env_steps"]
            _, first = timed(task.random_rollout, jax.random.PRNGKey(0), batch, steps)
            _, run = timed(task.random_rollout, jax.random.PRNGKey(1), batch, steps)
            rows.append(f"| env throughput | {name}, {batch} envs | {first - run:.1f} | "
                        f"{run:.2f} | {batch * steps / run:,.0f} | random actions, {steps} "
                        "steps |")
            print(rows[-1], flush=True)
    return rows


def training_rows(sizes, sequential: int) -> list[str]:
    task = load_task(sizes["task"])
    gpu = dict(getattr(task, "train_gpu", None) or task.train)
    config, hparams = split_train_settings({**gpu, **sizes["train"]})
    k, s = sizes["k"], sizes["s"]
    fns = reward_variants(task, k)
    seeds = list(range(s))
    batched = train_candidates(task, fns, config, hparams, seeds=seeds)
    alone = [train_candidates(task, [fn], config, hparams, seeds=seeds)
             for fn in fns[:max(1, min(sequential, k))]]
    compile_each = float(np.mean([r.compile_seconds for r in alone]))
    run_each = float(np.mean([r.run_seconds for r in alone]))
    seq_total = k * (compile_each + run_each)
    b_total = batched.compile_seconds + batched.run_seconds
    setting = (f"{task.name}, K={k} x S={s}, {config.num_envs} envs, "
               f"{config.total_env_steps:,} steps per run")
    rows = [
        (f"| batched | {setting} | {batched.compile_seconds:.1f} | {batched.run_seconds:.2f} | "
        f"{batched.env_steps_per_second:,.0f} | one program |"),
        (f"| sequential | {setting} | {k * compile_each:.1f} | {k * run_each:.2f} | "
        f"{batched.env_steps / (k * run_each):,.0f} | {len(alone)} measured, x{k / len(alone):g}"
        f"; batched is {seq_total / b_total:.2f}x faster in total, "
        f"{k * run_each / batched.run_seconds:.2f}x in run time |"),
    ]
    batch = k * s * config.num_envs
    steps = config.unroll_length * 4
    _, first = timed(task.random_rollout, jax.random.PRNGKey(0), batch, steps)
    _, raw = timed(task.random_rollout, jax.random.PRNGKey(1), batch, steps)
    raw_sps = batch * steps / raw
    rows.append(f"| trainer ceiling | {task.name}, {batch} envs in all | {first - raw:.1f} | "
                f"{raw:.2f} | {raw_sps:,.0f} | training reaches "
                f"{batched.env_steps_per_second / raw_sps:.0%} of raw physics |")
    for row in rows:
        print(row, flush=True)
    return rows


def search_row(sizes) -> str:
    with tempfile.TemporaryDirectory() as runs:
        argv = [str(Path(sys.executable).with_name("eureka-jax")), "search", "llm=offline",
                f"runs_dir={runs}", *sizes["search"]]
        start = time.perf_counter()
        out = subprocess.run(argv, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        if out.returncode != 0:
            raise SystemExit(f"the search failed:\n{out.stderr[-2000:]}")
        summary = json.loads(next(Path(runs).glob("*/search-*/summary.json")).read_text())
    best = summary["best"]
    row = (f"| search | {' '.join(sizes['search'])} | | {wall:.1f} (wall) | | best fitness "
           f"{best['fitness']:.3f} ± {best.get('std', 0.0):.3f} over {best.get('num_seeds', 1)} "
           "seed(s) |")
    print(row, flush=True)
    return row


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiny", action="store_true", help="toy sizes (CPU, tests)")
    parser.add_argument("--sequential", type=int, default=2,
                        help="candidates actually trained one program each")
    parser.add_argument("--out", default="gpu_suite.md", help="file name in results/")
    parser.add_argument("--cache", action="store_true",
                        help="use the persistent compilation cache (the tests do; compile "
                             "times then measure cache loads)")
    args = parser.parse_args()
    if args.cache:
        from eureka_jax.compile_cache import enable_compilation_cache

        enable_compilation_cache()
    sizes = TINY if args.tiny else FULL
    if not args.tiny and jax.default_backend() == "cpu":
        print("warning: no accelerator; the full suite on a CPU takes hours (use --tiny).",
              flush=True)
    start = time.perf_counter()
    rows = env_rows(sizes) + training_rows(sizes, args.sequential) + [search_row(sizes)]
    write(args.out, "GPU suite" + (" (tiny sizes)" if args.tiny else ""),
          f"- sizes: {'tiny' if args.tiny else 'full'}; the suite's wall time "
          f"{time.perf_counter() - start:.0f} s"
          + ("; compile times are cache loads (--cache)" if args.cache else "") + "\n",
          "| part | setting | compile s | run s | env steps/s | note |\n"
          "| --- | --- | ---: | ---: | ---: | --- |", rows)


if __name__ == "__main__":
    main()
