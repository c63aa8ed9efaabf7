"""The CPU stall of the Shadow Hand programs at >= 128 envs: a reproducer and a sweep.

Each case runs in its own process with a deadline (a stalled XLA program cannot be
interrupted from inside): it compiles and runs ``PART`` of the MJX step of
``shadow_hand_block`` on ``BATCH`` envs, ``STEPS`` times in a ``lax.scan``, with ``XLA_FLAGS``,
on MuJoCo's dense mass-matrix layout (the model's default, which stalls) unless the part says
otherwise.

Finding (jaxlib 0.10.2, 2 cores): every stalled process has two XLA pool threads inside
``lapack_spotrf_ffi`` -> ``jax::CholeskyFactorization`` -> ``jax::ParallelBatchMap`` ->
``BlockingCounter::Wait``: the LAPACK kernel splits a large enough batch of Cholesky
factorizations into tasks on the same intra-op pool its caller runs on and waits for them, and
with every pool thread waiting, none runs them. The factorization is MJX's ``factor_m`` (dense
mass matrix); the Newton solver's own Cholesky does not stall it (``step_cg`` keeps
``factor_m`` and stalls; ``step_sparse`` keeps the solver and runs). Workaround, the hand
tasks' CPU default: the sparse layout, factored by MJX in plain JAX.
A case that passes its deadline with the process using no CPU is a stall (threads parked
waiting for work that never comes), told apart from a slow compile by the process's CPU time.

    python -m benchmarks.cpu_hand_stall                       # the default sweep, writes a table
    python -m benchmarks.cpu_hand_stall --batches 128 --flags=--xla_cpu_use_xnnpack=false
    python -m benchmarks.cpu_hand_stall --case 128 step      # one case, in this process

Parts: ``step`` (the task's env step with its reward inputs), ``mjx_step`` (``mjx.step``
alone), ``forward`` (``mjx.forward``: kinematics, collision, constraint set-up, solver),
``collision`` (``mjx.collision`` after kinematics), ``solve`` (forward without collision:
contacts dropped), ``step_chunked`` (``step`` with the batch mapped in chunks of ``CHUNK``
envs, ``lax.map(..., batch_size=CHUNK)``: the workaround under test).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

PARTS = ("step", "mjx_step", "forward", "collision", "solve", "step_chunked", "step_sparse",
         "step_cg")
CHUNK = 64  # step_chunked: the batch stepped as lax.map over chunks of this many envs


def chunked_vmap(fn, chunk: int):
    """``vmap(fn)`` over a batch of B = n x ``chunk``, computed as a scan over n chunks of
    ``chunk`` (``lax.map(batch_size=)`` reshapes zero-size leaves, which MJX data has)."""
    import jax

    def run(*args):
        batch = jax.tree.leaves(args)[0].shape[0]
        if batch <= chunk:
            return jax.vmap(fn)(*args)
        assert batch % chunk == 0, (batch, chunk)
        split = jax.tree.map(lambda x: x.reshape(batch // chunk, chunk, *x.shape[1:]), args)
        _, out = jax.lax.scan(lambda c, a: (c, jax.vmap(fn)(*a)), None, split)
        return jax.tree.map(lambda x: x.reshape(batch, *x.shape[2:]), out)

    return run


def run_case(batch: int, part: str, steps: int = 4) -> dict:
    """In this process: compile and run one case; returns compile and run seconds
    (``EUREKA_JAX_BENCH_CACHE=1``: through the persistent compilation cache, for the tests)."""
    import jax
    import jax.numpy as jnp
    import mujoco
    from mujoco import mjx

    from eureka_jax.task import load_task

    if os.environ.get("EUREKA_JAX_BENCH_CACHE") == "1":
        from eureka_jax.compile_cache import enable_compilation_cache

        enable_compilation_cache()
    task = load_task("shadow_hand_block")
    env = task.env
    # every part but step_sparse on MuJoCo's dense layout (its choice for this model, and what
    # stalls); the task's own CPU default is the sparse one
    env._mj_model.opt.jacobian = (mujoco.mjtJacobian.mjJAC_SPARSE if part == "step_sparse"
                                  else mujoco.mjtJacobian.mjJAC_DENSE)
    if part == "step_cg":
        env._mj_model.opt.solver = mujoco.mjtSolver.mjSOL_CG
    env._mjx_model = mjx.put_model(env._mj_model, impl="jax")
    model = env.mjx_model
    # jitted: the hand's reset run op by op takes minutes (122 s for 8 envs here)
    states = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), batch))

    def one(state, key):
        action = jax.random.uniform(key, (env.action_size,), minval=-1.0, maxval=1.0)
        if part in ("step", "step_chunked", "step_sparse", "step_cg"):
            nxt = env.step(state, action)
            return nxt, env.reward_inputs(state, action, nxt)["object_pos"]
        data = state.data.replace(ctrl=action)
        if part == "mjx_step":
            data = mjx.step(model, data)
        elif part == "forward":
            data = mjx.forward(model, data)
        elif part == "collision":
            data = mjx.collision(model, mjx.kinematics(model, data))
        elif part == "solve":
            free = model.replace(geom_contype=jnp.zeros_like(model.geom_contype),
                                 geom_conaffinity=jnp.zeros_like(model.geom_conaffinity))
            data = mjx.forward(free, data)
        return state.replace(data=data), data.qpos[:3]

    def rollout(states, key):
        def body(s, k):
            keys = jax.random.split(k, batch)
            if part == "step_chunked":
                return chunked_vmap(one, CHUNK)(s, keys)
            return jax.vmap(one)(s, keys)
        return jax.lax.scan(body, states, jax.random.split(key, steps))

    fn = jax.jit(rollout)
    start = time.perf_counter()
    compiled = fn.lower(states, jax.random.PRNGKey(1)).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    jax.block_until_ready(compiled(states, jax.random.PRNGKey(1)))
    return {"compile_s": compile_s, "run_s": time.perf_counter() - start}


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sweep_case(batch: int, part: str, flags: str, deadline: float, steps: int = 4,
               env: dict | None = None) -> dict:
    """Runs one case in a child process; returns its outcome: ok (with times), stalled (no CPU
    used over the last 20 s before the deadline) or slow (still computing at the deadline)."""
    child_env = {**os.environ, **(env or {}), "XLA_FLAGS": flags}
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.cpu_hand_stall", "--case", str(batch), part,
         "--steps", str(steps)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=child_env, cwd=Path(__file__).resolve().parents[1])
    start, samples = time.time(), []
    while proc.poll() is None and time.time() - start < deadline:
        time.sleep(1.0)
        if proc.poll() is None:
            samples.append((time.time(), _cpu_seconds(proc.pid)))
    if proc.poll() is None:
        recent = [s for s in samples if s[0] >= samples[-1][0] - 20]
        busy = recent[-1][1] - recent[0][1]
        proc.kill()
        proc.communicate()
        return {"outcome": "stalled" if busy < 0.5 else "slow", "cpu_s": samples[-1][1],
                "cpu_last_20s": busy}
    out, err = proc.communicate()
    if proc.returncode != 0:
        return {"outcome": "error", "error": err.strip().splitlines()[-1:]}
    return {"outcome": "ok", **json.loads(out.strip().splitlines()[-1])}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", nargs=2, metavar=("BATCH", "PART"),
                        help="run one case in this process (XLA_FLAGS from the environment)")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batches", default="64,128")
    parser.add_argument("--parts", default="step")
    parser.add_argument("--flags", action="append", default=None,
                        help="an XLA_FLAGS value to try (repeatable, written --flags=VALUE); "
                             "'' is the default")
    parser.add_argument("--cases", default=None,
                        help="explicit cases instead of the product: BATCH:PART[:XLA_FLAGS],...")
    parser.add_argument("--deadline", type=float, default=240.0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.case:
        batch, part = args.case
        print(json.dumps(run_case(int(batch), part, args.steps)), flush=True)
        return
    from benchmarks.common import machine_header

    rows = []
    if args.cases:
        cases = [(int(c.split(":")[0]), c.split(":")[1], ":".join(c.split(":")[2:]))
                 for c in args.cases.split(",")]
    else:
        cases = [(int(b), part, flags) for flags in (args.flags or [""])
                 for part in args.parts.split(",") for b in args.batches.split(",")]
    for batch, part, flags in cases:
        r = sweep_case(batch, part, flags, args.deadline, args.steps)
        detail = (f"compile {r['compile_s']:.1f} s, run {r['run_s']:.2f} s"
                  if r["outcome"] == "ok" else
                  f"CPU {r.get('cpu_s', 0):.0f} s, last 20 s {r.get('cpu_last_20s', 0):.1f}"
                  if r["outcome"] != "error" else str(r["error"]))
        rows.append(f"| {batch} | {part} | `{flags or '(default)'}` | {r['outcome']} | "
                    f"{detail} |")
        print(rows[-1], flush=True)
    if args.out:
        Path(args.out).write_text(
            "# The CPU stall of the Shadow Hand programs\n\n" + machine_header()
            + f"- {args.steps} steps in one lax.scan; deadline {args.deadline:.0f} s per case; "
            "stalled = no CPU time used in the 20 s before the deadline\n\n"
            "| envs | part | XLA_FLAGS | outcome | detail |\n| ---: | --- | --- | --- | --- |\n"
            + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
