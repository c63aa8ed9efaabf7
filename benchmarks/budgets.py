"""Which training budget lets rewards be told apart? The human and sparse rewards of a task
over a ladder of budgets, several seeds each, on this machine.

    python -m benchmarks.budgets --tasks double_pendulum --ladder 100,250,500 [--seeds 3]

Each rung is one batched call (human and sparse x seeds), timed with compile apart. A rung
*learns* when the better of the two rewards ends (evaluation rollouts, final checkpoint) at a
mean fitness of at least the task's ``fitness.learns_at`` (default 0.5: half the episode
upright/alive for fraction tasks, 0.5 m/s for velocity tasks, half a success per episode for
counts; quadcopter's -0.5: within 0.5 m of the target on average) with its seeds agreeing (3
standard errors below the mean still above 0, or above twice a negative bar); human and sparse are *told apart* when the 95 % t interval of their paired difference
excludes 0. A task's CPU default is the smallest rung that learns within the cap
on run time (``--cap``, seconds for one candidate x seed run). Results accumulate in
benchmarks/results/budgets.json (one entry per task and rung, re-measured rungs replaced) and
benchmarks/results/budgets.md is written from all of them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks.common import machine_header
from eureka_jax.config import load_config
from eureka_jax.reward import compile_reward
from eureka_jax.selection import t_interval
from eureka_jax.task import load_task
from eureka_jax.train import train_candidates
from eureka_jax.train.config import training_settings

RESULTS = Path(__file__).parent / "results"
NOTES = RESULTS / "budgets_notes.md"  # written by hand, appended to the table


def measure(name: str, updates: int, seeds: int, train: dict | None = None) -> dict:
    """One rung; ``train``: settings over the task's own (``train.KEY=VALUE``), recorded in
    the entry and shown beside the task."""
    task = load_task(name)
    train = dict(train or {})
    cfg = load_config([f"task={name}", f"max_iterations={updates}",
                       *(f"train.{k}={v}" for k, v in train.items())])
    config, hparams = training_settings(cfg, task)
    fns = [compile_reward(task.human_reward_source, task),
           compile_reward(task.sparse_reward_source, task)]
    result = train_candidates(task, fns, config, hparams, seeds=list(range(seeds)),
                              labels=["human", "sparse"])
    fitness = np.asarray(result.curves.fitness, float)  # [2, S, C]
    final = fitness[..., -1]
    _, low, high = t_interval(final[0] - final[1])
    return {
        "task": name, "num_updates": updates, "env_steps": config.total_env_steps,
        "train": train,
        "action_repeat": task.action_repeat,
        "episodes_per_env": config.num_updates * config.unroll_length / task.episode_length,
        "seeds": seeds, "human": final[0].tolist(), "sparse": final[1].tolist(),
        "learns_at": task.learns_at,
        "told_apart": bool(low > 0 or high < 0),
        "compile_seconds": result.compile_seconds,
        "run_seconds_per_run": result.run_seconds / (2 * seeds),
        "env_steps_per_second": result.env_steps_per_second,
    }


def learns(entry: dict) -> bool:
    """The better reward's mean reaches the task's bar (``learns_at``, 0.5 where the entry
    predates it) and its seeds agree: 3 standard errors below the mean is above 0 for a
    positive bar, above twice the bar for a negative one."""
    bar = float(entry.get("learns_at", 0.5))
    best = max((np.asarray(entry["human"]), np.asarray(entry["sparse"])), key=np.mean)
    se = best.std(ddof=1) / np.sqrt(len(best))
    floor = 0.0 if bar > 0 else 2 * bar
    return bool(best.mean() >= bar and best.mean() - 3 * se > floor)


def _repeat(entry: dict) -> str:
    """Rungs measured with an action repeat say so (their env steps are policy steps), and
    rungs with settings over the task's own name them."""
    n = entry.get("action_repeat", 1)
    own = ", ".join(f"{k}={v}" for k, v in sorted(entry.get("train", {}).items()))
    return (f" (action_repeat {n})" if n > 1 else "") + (f" ({own})" if own else "")


def _key(entry: dict) -> tuple:
    return entry["task"], entry["num_updates"], tuple(sorted(entry.get("train", {}).items()))


def render(entries: list[dict], cap: float) -> str:
    rows = []
    for e in sorted(entries, key=lambda e: (e["task"], e["env_steps"])):
        h, s = np.asarray(e["human"]), np.asarray(e["sparse"])
        within = e["run_seconds_per_run"] <= cap
        rows.append(
            f"| {e['task']}{_repeat(e)} | {e['num_updates']} | {e['env_steps']:,} | "
            f"{e['episodes_per_env']:.1f} | {h.mean():.3f} ± {h.std(ddof=1):.3f} | "
            f"{s.mean():.3f} ± {s.std(ddof=1):.3f} | {'yes' if learns(e) else 'no'} | "
            f"{'yes' if e['told_apart'] else 'no'} | {e['compile_seconds']:.0f} | "
            f"{e['run_seconds_per_run']:.1f}{'' if within else ' (over cap)'} | "
            f"{e['env_steps_per_second']:,.0f} |")
    return (
        "# Training budgets: do the human and sparse rewards learn?\n\n" + machine_header()
        + "- each rung: human and sparse rewards x seeds 0.. in one batched call; fitness = "
        "evaluation rollouts at the final checkpoint, mean ± std over seeds\n"
        "- learns: the better reward's mean fitness ≥ the task's bar (0.5; quadcopter -0.5 "
        "m) and 3 standard errors below it still > 0 (a negative bar: > twice the bar); "
        "told apart: 95% t interval of human − sparse (paired) excludes 0\n"
        f"- cap: {cap:.0f} s of run time per candidate x seed run (a batched call of K x S "
        "runs shares the cores, so one run's share is run time / (K x S))\n\n"
        "| task | PPO updates | env steps per run | episodes per env | human | sparse | learns "
        "| told apart | compile s | run s per run | env steps/s |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: |\n"
        + "\n".join(rows) + "\n"
        + (f"\n{NOTES.read_text()}" if NOTES.is_file() else ""))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default="")
    parser.add_argument("--ladder", default="", help="PPO updates per rung, e.g. 100,250,500")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--cap", type=float, default=120.0)
    parser.add_argument("--train", nargs="*", default=[],
                        help="KEY=VALUE training settings over the task's own, e.g. "
                             "discounting=0.99")
    args = parser.parse_args()
    train = dict(kv.split("=", 1) for kv in args.train)
    store = RESULTS / "budgets.json"
    entries = json.loads(store.read_text()) if store.is_file() else []
    for name in [t for t in args.tasks.split(",") if t]:  # no tasks: only re-render the table
        for updates in (int(u) for u in args.ladder.split(",")):
            entry = measure(name, updates, args.seeds, train)
            print(json.dumps(entry), flush=True)
            entries = json.loads(store.read_text()) if store.is_file() else []  # read late
            entries = [e for e in entries if _key(e) != _key(entry)]
            entries.append(entry)
            store.write_text(json.dumps(entries, indent=1) + "\n")
            (RESULTS / "budgets.md").write_text(render(entries, args.cap))
    entries = json.loads(store.read_text()) if store.is_file() else []
    (RESULTS / "budgets.md").write_text(render(entries, args.cap))
    print(render(entries, args.cap))


if __name__ == "__main__":
    main()
