"""Reward checking: time per candidate, and the cost model against timed runs.

1. Compile time per outcome: the test corpora (hostile/broken programs, waves 3-4, and the
   legitimate LLM-style rewards) and every task's human reward through ``compile_reward``.
   Each program is executed, traced, exported and probed in a child forked from a clean
   zygote process; the floor of that (fork + the child's JAX CPU client + one trivial
   program) is reported apart, as are the one-off costs (zygote start, the task's probe).
2. Counted vs measured cost: programs with expensive primitives (convolution, windowed
   reduction, scan, matrix product, sort, FFT, gather) accepted under a wide cost limit,
   each one's counted flops per call in environment steps (the unit of the limit) next to
   its measured time per call in environment steps (cartpole, vmapped over 4,096 envs,
   compile excluded).

Usage: python -m benchmarks.reward_compile (an otherwise idle machine: it times things).
"""

import dataclasses
import statistics
import time
from collections import defaultdict
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from mujoco_playground._src.mjx_env import MENAGERIE_PATH

from benchmarks.common import machine_header
from benchmarks.reward_corpus import CORPUS, LEGITIMATE, WAVE4
from eureka_jax.reward import Policy, RewardError, compile_reward
from eureka_jax.task import list_tasks, load_task

POLICY = Policy(trace_timeout_s=4.0)
BATCH = 4096

# name -> the expensive part of a cartpole reward (x: the pole angle)
EXPENSIVE = {
    "elementwise (the human reward's kind)": "jnp.cos(x)",
    "matrix product 64x64": "(jnp.ones((64, 64)) * x @ jnp.ones((64, 64))).mean()",
    "scan, 2,000 steps": "jax.lax.scan(lambda c, _: (c * 0.99 + x, None), 0.0, None, "
                         "length=2000)[0]",
    "convolution 64x64, 15x15 kernel": "jax.lax.conv(jnp.ones((1, 1, 64, 64)) * x, "
                                       "jnp.ones((1, 1, 15, 15)), (1, 1), 'SAME').mean()",
    "windowed sum 256x256, 16x16": "jax.lax.reduce_window(jnp.ones((256, 256)) * x, 0.0, "
                                   "jax.lax.add, (16, 16), (1, 1), 'SAME').mean()",
    "sort 4,096": "jnp.sort(jnp.sin(jnp.arange(4096.0) * x)).mean()",
    "FFT 4,096": "jnp.abs(jnp.fft.fft(jnp.sin(jnp.arange(4096.0) * x))).mean()",
    "gather 4,096 of 4,096": "jnp.take(jnp.arange(4096.0) * x, "
                             "(jnp.arange(4096) * 7) % 4096).mean()",
}


def _program(expression: str) -> str:
    return ("import jax\nimport jax.numpy as jnp\ndef compute_reward(pole_angle):\n"
            f"    x = pole_angle\n    term = {expression}\n"
            "    return term, {'term': term}\n")


def _per_call_seconds(fn, batch, repeats=5):
    run = jax.jit(jax.vmap(fn))
    jax.block_until_ready(run(batch))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(run(batch))
        times.append(time.perf_counter() - start)
    return min(times)


def compile_times(cartpole):
    times = defaultdict(list)
    cases = [(c, s) for _, c, s in CORPUS + WAVE4] + [("accepted", s) for _, s in LEGITIMATE]
    for category, source in cases:
        start = time.perf_counter()
        try:
            compile_reward(source.replace("{MARKER}", "/nonexistent/marker"), cartpole,
                           policy=POLICY)
            category = "accepted (corpus)"
        except RewardError as e:
            category = e.category
        times[category].append(time.perf_counter() - start)
    for name in list_tasks():
        task = load_task(name)
        if "menagerie" in task.needs and not MENAGERIE_PATH.exists():
            continue  # its models download on first use; offline it cannot be built
        task.probe_inputs  # noqa: B018 - the probe rollout is a one-off per task
        start = time.perf_counter()
        compile_reward(task.human_reward_source, task, policy=POLICY)
        times["accepted (human rewards)"].append(time.perf_counter() - start)
    return times


def cost_rows(cartpole):
    wide = dataclasses.replace(POLICY, max_cost_ratio=1e6)
    keys = jax.random.split(jax.random.PRNGKey(0), BATCH)
    states = jax.jit(jax.vmap(cartpole.env.reset))(keys)
    actions = jnp.zeros((BATCH, cartpole.env.action_size))
    step = jax.jit(jax.vmap(cartpole.env.step))
    jax.block_until_ready(step(states, actions))
    step_s = min(_timed(step, states, actions) for _ in range(5))
    angles = {"pole_angle": jnp.asarray(np.random.default_rng(0).uniform(-1, 1, BATCH),
                                        jnp.float32)}
    rows = []
    for name, expression in EXPENSIVE.items():
        fn = compile_reward(_program(expression), cartpole, policy=wide)
        seconds = _per_call_seconds(fn, angles)
        counted = fn.flops / cartpole.step_flops
        measured = seconds / step_s
        rows.append(f"| {name} | {fn.flops:.3g} | {counted:.3g} | {seconds * 1e3:.2f} | "
                    f"{measured:.3g} | {counted / measured:.2g} |")
    return step_s, rows


def _timed(fn, *args):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - start


def main():
    cartpole = load_task("cartpole")
    start = time.perf_counter()
    compile_reward(cartpole.sparse_reward_source, cartpole, policy=POLICY)
    warmup = time.perf_counter() - start
    floor = []
    trivial = "def compute_reward(pole_angle):\n    return pole_angle, {}\n"
    for _ in range(5):
        start = time.perf_counter()
        compile_reward(trivial, cartpole, policy=POLICY)
        floor.append(time.perf_counter() - start)
    times = compile_times(cartpole)
    step_s, rows = cost_rows(cartpole)
    table = (
        "# Reward checking: time per candidate, and the cost model against timed runs\n\n"
        + machine_header()
        + f"- one-off: checker zygote start + cartpole probe rollout + first compile: "
        f"{warmup:.1f} s\n"
        f"- per program, the floor (fork from the clean zygote, the child's JAX CPU client, "
        f"trace, export and probe of a one-line reward): median "
        f"{statistics.median(floor) * 1000:.0f} ms over 5\n\n"
        "## Compile time per outcome\n\n"
        "Statically rejected programs (forbidden, syntax, binding, extraction) never reach a "
        f"child. Timeouts cost the limit ({POLICY.trace_timeout_s:g} s here, 20 s by "
        "default).\n\n"
        "| outcome | programs | median ms | max ms |\n| --- | ---: | ---: | ---: |\n"
        + "\n".join(f"| {c} | {len(ts)} | {statistics.median(ts) * 1000:.1f} | "
                    f"{max(ts) * 1000:.1f} |" for c, ts in sorted(times.items())) + "\n\n"
        "## Counted vs measured cost of one reward call\n\n"
        f"cartpole, {BATCH:,} envs vmapped; one environment step takes "
        f"{step_s * 1e3:.2f} ms for the batch ({cartpole.step_flops:.3g} counted flops per "
        "env). Counted: the checker's flops per call divided by the step's (the unit of "
        f"`reward_cost_ratio`, limit {POLICY.max_cost_ratio:g}). Measured: the reward's time "
        "per batched call divided by the step's, best of 5 after compiling. The count is "
        "a model of work, not of time: a ratio far below 1 means the count understates a "
        "program's time (the limit is then looser than it reads).\n\n"
        "| program | counted flops | counted (env steps) | measured ms | measured (env "
        "steps) | counted / measured |\n| --- | ---: | ---: | ---: | ---: | ---: |\n"
        + "\n".join(rows) + "\n"
    )
    out = Path(__file__).parent / "results" / "reward_compile.md"
    out.write_text(table)
    print(table)


if __name__ == "__main__":
    main()
