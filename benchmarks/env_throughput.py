"""Raw environment throughput of every task: random actions, jit(vmap(step)) in a lax.scan.

Writes benchmarks/results/env_throughput.md. Compile time (first call) is reported apart from
run time (second call, same shapes). Usage:

    python benchmarks/env_throughput.py [--batch 256] [--steps 100] [--tasks cartpole,ant]
"""

import argparse
from pathlib import Path

import jax

from benchmarks.common import machine_header, timed
from eureka_jax.task import list_tasks, load_task


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--tasks", default=",".join(list_tasks()))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results/env_throughput.md"))
    args = parser.parse_args()

    rows = []
    for name in args.tasks.split(","):
        task = load_task(name)
        rng = jax.random.PRNGKey(0)
        _, compile_and_run = timed(task.random_rollout, rng, args.batch, args.steps)
        _, run = timed(task.random_rollout, jax.random.PRNGKey(1), args.batch, args.steps)
        steps_per_s = args.batch * args.steps / run
        rows.append(
            f"| {name} | {task.env.action_size} | {args.batch} | {compile_and_run - run:.1f} | "
            f"{run:.2f} | {steps_per_s:,.0f} |"
        )
        print(rows[-1], flush=True)

    table = (
        "# Raw environment throughput (random actions, reward inputs computed)\n\n"
        + machine_header()
        + f"- {args.steps} steps of {args.batch} envs per call, one `lax.scan`, vmapped\n\n"
        "| task | actions | batch | compile s | run s | env steps/s |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: |\n" + "\n".join(rows) + "\n"
    )
    Path(args.out).write_text(table)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
