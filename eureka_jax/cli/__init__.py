"""The ``eureka-jax`` command: ``eureka-jax SUBCOMMAND key=value ...``.

This module parses the command line, keeps the one-sentence error boundary and dispatches to
the commands (one module each: ``tasks``, ``rewards``, ``search``, ``results``, ``doctor``,
``benchmark``).

Every error a user can cause ends with one sentence on stderr and exit code 2, never a
traceback.
"""

from __future__ import annotations

import sys

from eureka_jax.cli.benchmark import cmd_benchmark
from eureka_jax.cli.common import err_console
from eureka_jax.cli.doctor import cmd_doctor
from eureka_jax.cli.results import (
    cmd_curriculum,
    cmd_evaluate,
    cmd_play,
    cmd_report,
    cmd_robustness,
)
from eureka_jax.cli.rewards import cmd_check_reward, cmd_propose, cmd_train
from eureka_jax.cli.search import cmd_search
from eureka_jax.cli.tasks import cmd_show_task, cmd_tasks
from eureka_jax.config import load_config
from eureka_jax.errors import EurekaError

COMMANDS = {
    "tasks": cmd_tasks,
    "show-task": cmd_show_task,
    "check-reward": cmd_check_reward,
    "train": cmd_train,
    "propose": cmd_propose,
    "search": cmd_search,
    "evaluate": cmd_evaluate,
    "report": cmd_report,
    "play": cmd_play,
    "robustness": cmd_robustness,
    "curriculum": cmd_curriculum,
    "doctor": cmd_doctor,
    "benchmark": cmd_benchmark,
}


USAGE = (
    "usage: eureka-jax SUBCOMMAND [key=value ...]\n\n"
    "subcommands:\n"
    + "\n".join(f"  {name:<12} {fn.__doc__.splitlines()[0]}" for name, fn in COMMANDS.items())
    + "\n\nexamples:\n  eureka-jax tasks\n  eureka-jax show-task task=cartpole\n"
    "  eureka-jax check-reward task=cartpole reward=human\n"
    "  eureka-jax train task=cartpole reward=human,sparse seeds=2\n"
    "  eureka-jax propose task=cartpole sample=4 llm=offline\n"
    "  eureka-jax search task=cartpole iteration=3 sample=8 llm=offline\n"
    "  eureka-jax search --resume runs/cartpole/search-<time>\n"
    "  eureka-jax play run=runs/cartpole/search-<time> reward=best\n"
    "  eureka-jax curriculum name=pen_spinning\n"
)


TRAINING_COMMANDS = ("train", "search", "evaluate", "curriculum", "benchmark")
FILMING_COMMANDS = ("search", "evaluate", "play")  # they render; MuJoCo's GL is set first


def _run(command: str, cfg) -> int:
    """Runs a subcommand; with ``distributed.*`` set, process 0 runs it and the other
    processes train the batches it hands them (see ``eureka_jax.distributed``)."""
    from eureka_jax import distributed

    if not distributed.initialize(cfg):
        return COMMANDS[command](cfg)
    import jax

    if not distributed.is_leader():
        if command not in TRAINING_COMMANDS:
            return COMMANDS[command](cfg)
        jobs = distributed.serve(cfg.task_dirs, float(cfg.distributed.job_timeout))
        print(f"process {jax.process_index()}: trained {jobs} batch(es) for process 0; done.")
        return 0
    try:
        return COMMANDS[command](cfg)
    finally:
        distributed.finish()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0
    command, overrides = args[0], args[1:]
    if "--resume" in overrides:  # eureka-jax search --resume DIR
        i = overrides.index("--resume")
        if i + 1 >= len(overrides):
            err_console.print("error: --resume needs a run directory; write --resume DIR.")
            return 2
        overrides = overrides[:i] + [f"resume={overrides[i + 1]}"] + overrides[i + 2:]
    if command not in COMMANDS:
        err_console.print(
            f"error: unknown subcommand '{command}'; choose one of: {', '.join(COMMANDS)}.",
            highlight=False,
        )
        return 2
    try:
        if command in FILMING_COMMANDS:
            from eureka_jax.play import choose_gl

            choose_gl(required=False)  # before mujoco is imported; play itself insists
        cfg = load_config(overrides)
        from eureka_jax.compile_cache import enable_compilation_cache

        enable_compilation_cache()
        status = _run(command, cfg)
    except EurekaError as e:
        err_console.print(f"error: {e}", highlight=False, markup=False)
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted.")
        return 130
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
