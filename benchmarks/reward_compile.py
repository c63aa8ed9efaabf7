"""How long compiling one reward candidate takes (extraction, policy, trace, checks, probe).

Also the checks added in sandbox wave 3 (cost per call counted on the jaxpr, captured
constants, the per-program memory budget): their time per program, and per task the cost of
one environment step and of the human reward in the same count (the unit of the cost limit).

Runs the test corpus of hostile/broken programs and every task's human reward through
``compile_reward`` and writes benchmarks/results/reward_compile.md with the median per
category. The one-off costs (checker process start, the task's probe rollout) are reported
apart. Usage: python -m benchmarks.reward_compile
"""

import statistics
import time
from collections import defaultdict
from pathlib import Path

import jax
import jax.numpy as jnp

from benchmarks.common import machine_header
from eureka_jax.reward import Policy, RewardError, compile_reward
from eureka_jax.reward.cost import constants_size, jaxpr_flops
from eureka_jax.task import list_tasks, load_task
from tests.reward_corpus import CORPUS

POLICY = Policy(trace_timeout_s=4.0)


def main():
    cartpole = load_task("cartpole")
    start = time.perf_counter()
    compile_reward(cartpole.sparse_reward_source, cartpole, policy=POLICY)
    warmup = time.perf_counter() - start

    times = defaultdict(list)
    for _, category, source in CORPUS:
        start = time.perf_counter()
        try:
            compile_reward(source.replace("{MARKER}", "/nonexistent/marker"), cartpole,
                           policy=POLICY)
        except RewardError as e:
            category = e.category
        times[category].append(time.perf_counter() - start)
    cost_rows, check_ms = [], []
    for name in list_tasks():
        task = load_task(name)
        task.probe_inputs  # noqa: B018 - the probe rollout is a one-off per task, not per candidate
        start = time.perf_counter()
        fn = compile_reward(task.human_reward_source, task, policy=POLICY)
        times["accepted (human rewards)"].append(time.perf_counter() - start)
        specs = task.reward_input_specs
        closed = jax.make_jaxpr(fn)({k: jnp.zeros(v.shape, v.dtype) for k, v in specs.items()})
        start = time.perf_counter()
        flops = jaxpr_flops(closed)
        constants_size(closed)
        check_ms.append((time.perf_counter() - start) * 1000)
        cost_rows.append(f"| {name} | {task.step_flops:.3g} | {flops:.3g} | "
                         f"{flops / task.step_flops:.2g} |")

    traced = [t for category, ts in times.items()
              if category in ("accepted (human rewards)", "exception", "output", "non-finite",
                              "resource") for t in ts]
    rows = [
        f"| {c} | {len(ts)} | {statistics.median(ts) * 1000:.1f} | {max(ts) * 1000:.1f} |"
        for c, ts in sorted(times.items())
    ]
    table = (
        "# Reward compile time per candidate\n\n" + machine_header()
        + f"- one-off: checker process start + cartpole probe rollout + first compile: "
        f"{warmup:.1f} s\n"
        f"- median over the {len(traced)} programs that get as far as tracing (accepted, "
        f"exception, output, non-finite, resource): {statistics.median(traced) * 1000:.1f} ms; "
        "statically rejected programs cost well under 1 ms; timeouts cost the limit "
        f"({POLICY.trace_timeout_s:g} s here, 20 s by default) plus a checker restart\n\n"
        "| outcome | programs | median ms | max ms |\n| --- | ---: | ---: | ---: |\n"
        + "\n".join(rows) + "\n\n"
        "## Wave 3 checks\n\n"
        f"- counting flops and captured constants on a program's jaxpr: median "
        f"{statistics.median(check_ms):.2f} ms, max {max(check_ms):.2f} ms per program (once "
        "per candidate, never per step); the per-program memory budget is one /proc read and "
        "two setrlimit calls; the step's count comes from the trace the task already does for "
        "its reward input shapes\n"
        f"- the cost limit is {POLICY.max_cost_ratio:g} environment steps per reward call "
        "(`reward_cost_ratio`); the tasks' own rewards cost this fraction of a step:\n\n"
        "| task | env step flops | human reward flops | ratio |\n| --- | ---: | ---: | ---: |\n"
        + "\n".join(cost_rows) + "\n"
    )
    out = Path(__file__).parent / "results" / "reward_compile.md"
    out.write_text(table)
    print(table)


if __name__ == "__main__":
    main()
