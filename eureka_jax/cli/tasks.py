"""``tasks`` and ``show-task``: the task table and the exact context an LLM reads."""

from __future__ import annotations

from rich.table import Table

from eureka_jax.cli.common import console


def cmd_tasks(cfg) -> None:
    """Lists the task folders: simulator, episode, fitness, CPU budget (reads task.yaml only)."""
    from rich.markup import escape

    from eureka_jax.task import list_tasks, load_task
    from eureka_jax.train.config import training_settings

    table = Table(title="eureka-jax tasks (show-task task=NAME: actions, reward inputs, source)")
    table.add_column("task", no_wrap=True)
    table.add_column("simulator")
    table.add_column("episode", justify="right")
    table.add_column("fitness", overflow="fold")
    table.add_column("default budget", justify="right")
    table.add_column("on 2 CPU cores", overflow="fold")
    table.add_column("Eureka task", overflow="fold")
    for name in list_tasks(cfg.task_dirs):
        task = load_task(name, cfg.task_dirs)  # builds no environment
        config, _ = training_settings(cfg, task)
        cpu = {True: "learns", False: "smoke only", None: "not measured"}[task.cpu_learns]
        simulator = task.simulator + (" (needs Menagerie)" if "menagerie" in task.needs else "")
        eureka = (f"{task.eureka['task']}: {task.eureka['metric'].split(' (')[0]}"
                  if task.eureka else "-")
        table.add_row(name, simulator, str(task.episode_length),
                      escape(f"{task.fitness_description} [{task.fitness_input}]"),
                      f"{config.total_env_steps:,}", cpu, escape(eureka))
    console.print(table)


def cmd_show_task(cfg) -> None:
    """Prints exactly the task context the LLM receives (with the training budget of these
    settings, as in a search's first prompt)."""
    import jax

    from eureka_jax.budget import budget_text
    from eureka_jax.task import load_task
    from eureka_jax.train.config import training_settings

    task = load_task(cfg.task, cfg.task_dirs)
    config, hparams = training_settings(cfg, task)
    print(task.context(budget_text(task, config, cfg.seeds, cfg.select, hparams=hparams,
                                   platform=jax.default_backend())), end="")
    from eureka_jax.randomize import parameters, parameters_text

    randomizable = parameters(task)
    if randomizable:  # not part of the reward search's context: the DR stage's prompt
        print(f"\n--- randomizable physics (task.yaml randomize:; shown to the LLM in the "
              f"domain-randomization stage, dr_iteration > 0) ---\n"
              f"{parameters_text(randomizable)}")
