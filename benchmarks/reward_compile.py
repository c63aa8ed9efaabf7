"""How long compiling one reward candidate takes (extraction, policy, trace, checks, probe).

Runs the test corpus of hostile/broken programs and every task's human reward through
``compile_reward`` and writes benchmarks/results/reward_compile.md with the median per
category. The one-off costs (checker process start, the task's probe rollout) are reported
apart. Usage: python -m benchmarks.reward_compile
"""

import statistics
import time
from collections import defaultdict
from pathlib import Path

from benchmarks.common import machine_header
from eureka_jax.reward import Policy, RewardError, compile_reward
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
    for name in list_tasks():
        task = load_task(name)
        task.probe_inputs  # noqa: B018 - the probe rollout is a one-off per task, not per candidate
        start = time.perf_counter()
        compile_reward(task.human_reward_source, task, policy=POLICY)
        times["accepted (human rewards)"].append(time.perf_counter() - start)

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
        + "\n".join(rows) + "\n"
    )
    out = Path(__file__).parent / "results" / "reward_compile.md"
    out.write_text(table)
    print(table)


if __name__ == "__main__":
    main()
