"""Raw environment throughput of every task: random actions, jit(vmap(step)) in a lax.scan.

Writes benchmarks/results/env_throughput.md. Compile time (first call) is reported apart from
run time (second call, same shapes). Usage:

    python -m benchmarks.env_throughput [--batch 256] [--steps 100] [--tasks cartpole,ant]
    python -m benchmarks.env_throughput --tasks shadow_hand_block,shadow_hand_pen,shadow_hand_spin \
        --batch 16,64,256 --steps 20 --out benchmarks/results/shadow_hand_throughput.md

The persistent compilation cache is not enabled here, so compile times are cold.
"""

import argparse
from pathlib import Path

import jax

from benchmarks.common import machine_header, timed
from eureka_jax.task import list_tasks, load_task


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", default="256", help="one or more, comma-separated")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--tasks", default=",".join(list_tasks()))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results/env_throughput.md"))
    args = parser.parse_args()

    rows = []
    for name in args.tasks.split(","):
        task = load_task(name)
        substeps = getattr(task.env, "n_substeps", 1)
        for batch in (int(b) for b in args.batch.split(",")):
            rng = jax.random.PRNGKey(0)
            _, compile_and_run = timed(task.random_rollout, rng, batch, args.steps)
            _, run = timed(task.random_rollout, jax.random.PRNGKey(1), batch, args.steps)
            steps_per_s = batch * args.steps / run
            rows.append(
                f"| {name} | {task.env.action_size} | {batch} | {compile_and_run - run:.1f} | "
                f"{run:.2f} | {steps_per_s:,.0f} | {substeps} | {steps_per_s * substeps:,.0f} |"
            )
            print(rows[-1], flush=True)

    table = (
        "# Raw environment throughput (random actions, reward inputs computed)\n\n"
        + machine_header()
        + f"- {args.steps} steps per call, one `lax.scan`, vmapped; compile s = first call minus "
        "second call (cold: no persistent cache)\n\n"
        "| task | actions | batch | compile s | run s | env steps/s | physics steps per env step "
        "| physics steps/s |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n" + "\n".join(rows) + "\n"
    )
    Path(args.out).write_text(table)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
