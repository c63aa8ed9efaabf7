"""The ``eureka-jax`` command: ``eureka-jax SUBCOMMAND key=value ...``.

Every error a user can cause ends with one sentence on stderr and exit code 2, never a
traceback.
"""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from eureka_jax.config import load_config
from eureka_jax.errors import EurekaError

# Piped output (not a terminal) gets a wide table instead of rich's 80-column default.
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, soft_wrap=True)


def cmd_tasks(cfg) -> None:
    """Lists the task folders: name, simulator, action size, reward inputs, fitness."""
    from eureka_jax.task import list_tasks, load_task

    table = Table(title="eureka-jax tasks")
    table.add_column("task", no_wrap=True)
    table.add_column("simulator")
    table.add_column("actions", justify="right")
    table.add_column("reward inputs", overflow="fold")
    table.add_column("fitness", overflow="fold")
    for name in list_tasks(cfg.task_dirs):
        task = load_task(name, cfg.task_dirs)
        table.add_row(
            name,
            task.simulator,
            str(task.env.action_size),
            ", ".join(task.reward_input_names),
            f"{task.fitness_description} [{task.fitness_input}]",
        )
    console.print(table)


def cmd_show_task(cfg) -> None:
    """Prints exactly the task context the LLM receives."""
    from eureka_jax.task import load_task

    print(load_task(cfg.task, cfg.task_dirs).context(), end="")


COMMANDS = {
    "tasks": cmd_tasks,
    "show-task": cmd_show_task,
}

USAGE = (
    "usage: eureka-jax SUBCOMMAND [key=value ...]\n\n"
    "subcommands:\n"
    + "\n".join(f"  {name:<12} {fn.__doc__.splitlines()[0]}" for name, fn in COMMANDS.items())
    + "\n\nexamples:\n  eureka-jax tasks\n  eureka-jax show-task task=cartpole\n"
)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0
    command, overrides = args[0], args[1:]
    if command not in COMMANDS:
        err_console.print(
            f"error: unknown subcommand '{command}'; choose one of: {', '.join(COMMANDS)}.",
            highlight=False,
        )
        return 2
    try:
        COMMANDS[command](load_config(overrides))
    except EurekaError as e:
        err_console.print(f"error: {e}", highlight=False, markup=False)
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted.")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
