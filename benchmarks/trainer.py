"""Trainer benchmarks; each writes a Markdown table to benchmarks/results/.

    python -m benchmarks.trainer batched    # K candidates batched vs K separate programs
    python -m benchmarks.trainer ceiling    # training env steps/s vs raw physics env steps/s
    python -m benchmarks.trainer overhead   # 16-way switch of typical rewards vs a constant
    python -m benchmarks.trainer brax       # ours vs brax.training.agents.ppo.train

Compile time is measured apart from run time in every table; ratios are from one run.
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from benchmarks.common import timed, write
from eureka_jax.reward import compile_reward
from eureka_jax.task import load_task
from eureka_jax.train import PPOHyperparams, TrainConfig, split_train_settings, train_candidates


def typical_cartpole_rewards(n: int) -> list[str]:
    """n distinct reward programs of the kind an LLM writes for cartpole."""
    sources = []
    for i in range(n):
        temp = 0.1 + 0.05 * i
        weight = 0.01 * (1 + i % 4)
        shape = ("jnp.exp(-jnp.abs(pole_angle) / t)", "1.0 - jnp.tanh(jnp.abs(pole_angle) / t)",
                 "jnp.cos(pole_angle / t * 0.1)", "1.0 / (1.0 + (pole_angle / t) ** 2)")[i % 4]
        sources.append(f"""
import jax.numpy as jnp

def compute_reward(pole_angle, cart_position, cart_velocity, action, terminated):
    t = {temp}
    upright = {shape}
    centred = jnp.exp(-jnp.abs(cart_position) / 1.0)
    calm = -{weight} * jnp.abs(cart_velocity)
    effort = -{weight} * jnp.sum(action ** 2)
    failure = -{1.0 + i % 3} * terminated
    total = upright + 0.5 * centred + calm + effort + failure
    return total, {{"upright": upright, "centred": centred, "calm": calm, "effort": effort,
                   "failure": failure}}
""")
    return sources


def bench_batched(args):
    task = load_task("cartpole")
    config = TrainConfig(num_envs=64, unroll_length=32, num_updates=args.updates,
                         num_evals=10)
    hparams = split_train_settings(task.train)[1]
    fns = [compile_reward(s, task) for s in typical_cartpole_rewards(max(args.k))]
    rows = []
    for k in args.k:
        batched = train_candidates(task, fns[:k], config, hparams, seeds=[0])
        seq_compile = seq_run = 0.0
        for fn in fns[:k]:
            alone = train_candidates(task, [fn], config, hparams, seeds=[0])
            seq_compile += alone.compile_seconds
            seq_run += alone.run_seconds
        b_total = batched.compile_seconds + batched.run_seconds
        s_total = seq_compile + seq_run
        rows.append(
            f"| {k} | {batched.compile_seconds:.1f} | {batched.run_seconds:.1f} | {b_total:.1f} | "
            f"{seq_compile:.1f} | {seq_run:.1f} | {s_total:.1f} | {s_total / b_total:.2f}x | "
            f"{seq_run / batched.run_seconds:.2f}x |"
        )
        print(rows[-1], flush=True)
    write(
        "trainer_batched_vs_sequential.md",
        "Batched vs sequential training (cartpole)",
        f"- each candidate: {config.total_env_steps:,} env steps ({config.num_updates} updates x "
        f"{config.num_envs} envs x {config.unroll_length}), 1 seed; distinct typical rewards\n"
        "- sequential = one training per candidate, one after another in the same process "
        "(the split trainer: the first compiles the physics and learner programs, each later "
        "one only its reward programs; no persistent compilation cache)\n- batched = one "
        "training of the K candidates (candidates x seeds x envs in every program)\n"
        "- target: batched K=16 at least 4x faster than sequential including compile\n",
        "| K | batched compile s | batched run s | batched total s | sequential compile s | "
        "sequential run s | sequential total s | speed-up (total) | speed-up (run only) |\n"
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        rows,
    )


def bench_ceiling(args):
    rows = []
    # Attribution rows: cartpole with 1 SGD pass of 1 minibatch per update instead of 4 x 4
    # (almost only rollout: policy inference + physics + reward inputs); ant without its
    # evaluation episodes (the training's env steps/s counts training steps only, while each
    # evaluated checkpoint runs eval_envs full episodes on top) and with only the last
    # checkpoint evaluated (train.eval_every = num_evals: the fitness is still an
    # evaluation's, the curve's earlier points are the training episodes').
    evals = {"every checkpoint": {}, "last checkpoint": {"eval_every": 5},
             "none": {"eval_envs": 0}}
    for name, k, epochs, minibatches, evaluation in (
            ("cartpole", 4, 4, 4, "every checkpoint"), ("ant", 2, 4, 4, "every checkpoint"),
            ("cartpole", 4, 1, 1, "every checkpoint"), ("ant", 2, 4, 4, "last checkpoint"),
            ("ant", 2, 4, 4, "none")):
        task = load_task(name)
        settings = dict(task.train) or {}
        config = TrainConfig(num_envs=64, unroll_length=32, num_updates=args.updates,
                             num_evals=5, update_epochs=epochs,
                             num_minibatches=minibatches, **evals[evaluation])
        hparams = split_train_settings(settings)[1] if settings else PPOHyperparams.create()
        fns = [compile_reward(task.human_reward_source, task)] * k
        trained = train_candidates(task, fns, config, hparams, seeds=[0])
        batch = k * config.num_envs
        steps = config.unroll_length * 4
        _, first = timed(task.random_rollout, jax.random.PRNGKey(0), batch, steps)
        _, raw = timed(task.random_rollout, jax.random.PRNGKey(1), batch, steps)
        raw_sps = batch * steps / raw
        rows.append(
            f"| {name} | {epochs} x {minibatches} | {evaluation} | {batch} | "
            f"{trained.compile_seconds:.1f} | {trained.env_steps_per_second:,.0f} | "
            f"{first - raw:.1f} | {raw_sps:,.0f} | "
            f"{trained.env_steps_per_second / raw_sps:.0%} |"
        )
        print(rows[-1], flush=True)
    write(
        "trainer_ceiling.md",
        "Training throughput vs raw physics throughput",
        f"- training: K candidates x 1 seed x 64 envs, {args.updates} updates of 32 steps, "
        "64x64 MLPs, 5 checkpoints, evaluation episodes (16 envs, full episodes) at the "
        "checkpoints named; the split trainer (physics/learner programs + the reward "
        "program); env steps/s counts training steps only; raw: random actions, same total "
        "batch, reward inputs computed\n- targets: 40% of raw on cartpole, 70% on ant\n",
        "| task | SGD epochs x minibatches | evaluation episodes at | total batch | "
        "train compile s | train env steps/s | raw compile s | raw env steps/s | train / raw |\n"
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        rows,
    )


def bench_overhead(args):
    task = load_task("cartpole")
    config = TrainConfig(num_envs=64, unroll_length=32, num_updates=args.updates,
                         num_evals=5)
    hparams = split_train_settings(task.train)[1]
    typical = [compile_reward(s, task) for s in typical_cartpole_rewards(16)]
    constant = compile_reward(
        "def compute_reward(alive):\n    return alive * 0.0 + 1.0, {'one': alive * 0.0 + 1.0}\n",
        task)
    # Interleaved repetitions: run-to-run noise on this machine is of the order of the effect.
    runs = {"typical": [], "constant": []}
    rows = []
    for rep in range(args.repeats):
        for label, fns in (("typical", typical), ("constant", [constant] * 16)):
            r = train_candidates(task, fns, config, hparams, seeds=[0])
            runs[label].append(r.run_seconds)
            rows.append(f"| {rep} | {label} | {r.compile_seconds:.1f} | {r.run_seconds:.2f} | "
                        f"{r.env_steps_per_second:,.0f} |")
            print(rows[-1], flush=True)
    ratio = np.median(runs["typical"]) / np.median(runs["constant"]) - 1
    rows.append(f"| median | typical vs constant run time | | {ratio:+.1%} | |")
    write(
        "trainer_reward_overhead.md",
        "Reward overhead: 16 distinct typical rewards vs one constant reward (cartpole)",
        f"- K=16 x 1 seed x 64 envs, {args.updates} updates of 32 steps; the split trainer's "
        "reward program: a loop over the rows, each row rewarded by its own program only (a "
        "switch on the row's program index, not batched)\n- typical: 16 distinct typical "
        "rewards; constant: one constant reward, 16 copies\n- target: overhead under 5%\n",
        "| repetition | rewards | compile s | run s | env steps/s |\n"
        "| --- | --- | ---: | ---: | ---: |",
        rows,
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("which", choices=["batched", "ceiling", "overhead", "brax"])
    parser.add_argument("--updates", type=int, default=100)
    parser.add_argument("--k", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.which == "brax":
        from benchmarks.trainer_vs_brax import bench_brax

        bench_brax(args)
    else:
        {"batched": bench_batched, "ceiling": bench_ceiling, "overhead": bench_overhead}[
            args.which](args)


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"benchmark wall time {time.perf_counter() - start:.0f} s")
