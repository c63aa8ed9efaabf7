"""Wall time of one batched training vs the number of (forced) CPU devices, and vs processes.

    python -m benchmarks.scale [--candidates 8] [--seeds 2] [--updates 40]

Each row runs in a fresh subprocess: 1, 2 and 4 devices forced with
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` in one process, then two processes of
one device each joined by ``jax.distributed`` on 127.0.0.1. On a 2-core machine the devices
share the same cores, so the expected result is "flat": the point is that sharding is correct
(the results match, see tests/test_scale.py) and costs little. Writes
``benchmarks/results/scale.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from benchmarks.common import machine_header

RESULTS = Path(__file__).parent / "results"
REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, resource
import jax
args = json.loads(sys.argv[1])
from eureka_jax import distributed
from eureka_jax.config import load_config
if args["processes"] > 1:
    distributed.initialize(load_config([
        f"distributed.coordinator={args['coordinator']}",
        f"distributed.num_processes={args['processes']}",
        f"distributed.process_id={args['process_id']}"]))
from eureka_jax.compile_cache import enable_compilation_cache
from eureka_jax.reward import compile_reward
from eureka_jax.task import load_task
from eureka_jax.distributed import train_candidates
from eureka_jax.train import TrainConfig, split_train_settings
from benchmarks.trainer import typical_cartpole_rewards
enable_compilation_cache()
task = load_task("cartpole")
settings = {**task.train, "num_updates": args["updates"], "num_evals": 10}
config, hparams = split_train_settings(settings)
if args["processes"] > 1 and jax.process_index() > 0:  # trains what process 0 hands out
    distributed.serve()
    sys.exit(0)
fns = [compile_reward(s, task) for s in typical_cartpole_rewards(args["candidates"])]
r = train_candidates(task, fns, config, hparams, seeds=list(range(args["seeds"])))
if args["processes"] > 1:
    distributed.finish()
print("RESULT " + json.dumps({
    "devices": len(jax.devices()), "compile_s": r.compile_seconds, "run_s": r.run_seconds,
    "steps_per_s": r.env_steps_per_second, "fitness": float(r.max_fitness().mean()),
    "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}))
"""


def _run(args: dict, env_extra: dict) -> subprocess.Popen:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", **env_extra}
    return subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(args)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{err[-3000:]}")
    return json.loads(out.split("RESULT ", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--updates", type=int, default=40)
    a = parser.parse_args()
    base = {"candidates": a.candidates, "seeds": a.seeds, "updates": a.updates, "processes": 1}
    rows = []
    for n in (1, 2, 4):
        r = _result(_run(base, {"XLA_FLAGS": f"--xla_force_host_platform_device_count={n}"}))
        rows.append((f"1 process, {n} forced device(s)", r))
        print(rows[-1], flush=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = [_run({**base, "processes": 2, "process_id": pid,
                   "coordinator": f"127.0.0.1:{port}"}, {"XLA_FLAGS": ""}) for pid in (0, 1)]
    leader = _result(procs[0])
    _, err = procs[1].communicate(timeout=600)
    if procs[1].returncode != 0:
        raise SystemExit(f"process 1 failed:\n{err[-3000:]}")
    rows.append(("2 processes (jax.distributed, gloo), 1 device each", leader))
    print(rows[-1], flush=True)

    steps = a.updates * 64 * 32 * a.candidates * a.seeds
    lines = [
        "# Wall time vs device count (CPU, forced devices)\n",
        machine_header(),
        (f"- workload: cartpole, {a.candidates} typical LLM-style rewards x {a.seeds} seeds, "
        f"{a.updates} PPO updates x 64 envs x 32 steps = {steps:,} env steps in one call; "
        "every row in a fresh process with a warm compilation cache where one exists\n"),
        "- compile and run time apart; ratios are against the first row of this same run\n\n",
        ("| layout | devices | compile s | run s | env steps/s | run time vs 1 device | "
        "mean best fitness | peak RSS GB |"),
        "|---|---|---|---|---|---|---|---|",
    ]
    first = rows[0][1]["run_s"]
    for name, r in rows:
        lines.append(f"| {name} | {r['devices']} | {r['compile_s']:.1f} | {r['run_s']:.1f} | "
                     f"{r['steps_per_s']:,.0f} | {r['run_s'] / first:.2f}x | {r['fitness']:.3f} | "
                     f"{r['peak_rss_gb']:.2f} |")
    lines += ["", GPU_ARITHMETIC]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.md").write_text("\n".join(lines) + "\n")
    print((RESULTS / "scale.md").read_text())


GPU_ARITHMETIC = """## On paper: one 8-GPU node

The mesh puts whole candidates (with all their seeds) on a device, so a round of K = 16
candidates x S = 5 seeds on 8 GPUs is 2 candidates x 5 seeds = 10 training runs per GPU, vmapped
in one program; the round takes the time one GPU needs for 10 runs, instead of 80 runs on one
GPU: up to 8x less wall time, reached when 10 runs' environments keep one GPU busy; if one
GPU is not yet full with 80 runs' worth of environments, the gain is smaller (not measured
here: this machine has no GPU). The only cross-device traffic is gathering the curves (K x S x checkpoints floats) and the
final parameters at the end: kilobytes to megabytes, nothing per step. Several nodes add the
same over `jax.distributed` (one process per node, launched with the same command); the
leader's LLM calls and reward compiles happen once, not per node. Padding: K = 12 on 8 GPUs runs
16 slots, so 4 GPUs train a dropped copy; choose K as a multiple of the GPU count.
"""


if __name__ == "__main__":
    main()
