"""Does an asymmetric actor-critic help the Shadow Hand at the CPU budget?

Two arms train the task's human reward on the same seeds, one batched call each:
  - symmetric: policy and value network both read the full observation (100 numbers);
  - asymmetric (``env: {observation: asymmetric}``): the policy reads what a real hand could
    observe (joint positions, object pose, goal, previous action: 55 numbers), the value
    network the full observation (``privileged_state``), as Playground's LEAP-hand task and
    OpenAI's Dactyl split them.
Reported per arm, mean ± std over seeds at the last evaluation: successes (the fitness), the
rotation distance to the goal and the episode length (the hand scores no successes at CPU
budgets, so the dense statistics are what can differ); and the paired difference asymmetric
− symmetric with a 95% t interval. Compile and run time apart.

    python -m benchmarks.asymmetric_critic [--task shadow_hand_block] [--seeds 4]
        [--updates 100]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from benchmarks.common import machine_header
from eureka_jax.compile_cache import enable_compilation_cache
from eureka_jax.reward import compile_reward
from eureka_jax.selection import t_interval
from eureka_jax.task import load_task
from eureka_jax.train import train_candidates
from eureka_jax.train.config import training_settings


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", default="shadow_hand_block")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--updates", type=int, default=None,
                        help="PPO updates (default: the task's CPU budget)")
    args = parser.parse_args()
    enable_compilation_cache()
    from eureka_jax.config import load_config

    base = load_task(args.task)
    cfg = load_config([f"task={args.task}"] + ([f"max_iterations={args.updates}"]
                                               if args.updates else []))
    config, hparams = training_settings(cfg, base)
    seeds = list(range(args.seeds))
    arms = {"symmetric": base, "asymmetric": dataclasses.replace(
        base, env_config={**base.env_config, "observation": "asymmetric"})}
    watch = [w["name"] for w in base.watch]
    results = {}
    for arm, task in arms.items():
        fn = compile_reward(task.human_reward_source, task)
        r = train_candidates(task, [fn], config, hparams, seeds=seeds, labels=["human"])
        curves = r.curves
        results[arm] = {
            "fitness": np.asarray(curves.fitness)[0, :, -1],
            "rotation": np.asarray(curves.watch)[0, :, -1, watch.index("rotation_to_goal")],
            "length": np.asarray(curves.episode_length)[0, :, -1],
            "compile": r.compile_seconds, "run": r.run_seconds,
            "obs": task.env.observation_size,
        }
        print(arm, {k: v for k, v in results[arm].items()}, flush=True)
    rows = []
    for arm, res in results.items():
        rows.append(f"| {arm} | {res['obs']} | {_pm(res['fitness'])} | {_pm(res['rotation'])} | "
                    f"{_pm(res['length'])} | {res['compile']:.0f} | {res['run']:.0f} |")
    diffs = []
    for key, label in (("fitness", "successes"), ("rotation", "rotation distance (rad)"),
                       ("length", "episode length")):
        mean, lo, hi = t_interval(results["asymmetric"][key] - results["symmetric"][key])
        diffs.append(f"| {label} | {mean:+.3f} [{lo:+.3f}, {hi:+.3f}] |")
    text = (
        f"# Asymmetric actor-critic on {args.task} at the CPU budget\n\n" + machine_header()
        + f"- the human reward, {len(seeds)} seeds (0..{len(seeds) - 1}) per arm, one batched "
        f"call per arm; {config.total_env_steps:,} env steps per run ({config.num_envs} envs "
        f"x {config.unroll_length} x {config.num_updates} updates)\n"
        "- values at the last evaluation (full episodes from fresh resets), mean ± std over "
        "seeds; differences paired by seed (common seeds), 95% t interval\n\n"
        "| arm | observation (policy / value) | successes | rotation distance (rad) | "
        "episode length | compile s | run s |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |\n"
        + "\n".join(rows) + "\n\n| asymmetric − symmetric | mean [95% CI] |\n| --- | ---: |\n"
        + "\n".join(diffs) + "\n")
    out = Path(__file__).parent / "results" / "asymmetric_critic.md"
    out.write_text(text)
    print(text)


def _pm(values) -> str:
    v = np.asarray(values, float)
    return f"{v.mean():.3f} ± {v.std(ddof=1):.3f}" if len(v) > 1 else f"{v.mean():.3f}"


if __name__ == "__main__":
    main()
