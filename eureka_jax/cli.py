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


def reward_sources(spec: str | None, task) -> list[tuple[str, str]]:
    """``reward=PATH[,PATH...]`` (or ``human``/``sparse``) -> [(label, source)]."""
    from pathlib import Path

    if not spec:
        raise EurekaError("no reward given; pass reward=PATH (or reward=human, reward=sparse).")
    sources = []
    for item in str(spec).split(","):
        item = item.strip()
        if item == "human":
            sources.append(("human", task.human_reward_source))
        elif item == "sparse":
            sources.append(("sparse", task.sparse_reward_source))
        else:
            path = Path(item).expanduser()
            if not path.is_file():
                raise EurekaError(f"reward file '{item}' does not exist; give a path to a .py "
                                  "file or a saved LLM reply, or human/sparse.")
            sources.append((str(path), path.read_text()))
    return sources


def cmd_check_reward(cfg) -> int:
    """Compiles reward file(s) for a task: components and probe values, or why rejected."""
    import jax
    import numpy as np

    from eureka_jax.reward import RewardError, compile_reward
    from eureka_jax.task import load_task

    task = load_task(cfg.task, cfg.task_dirs)
    rejected = 0
    for label, source in reward_sources(cfg.reward, task):
        try:
            reward_fn = compile_reward(source, task)
        except RewardError as e:
            rejected += 1
            print(f"{label}: REJECTED [{e.category}] {e.message}")
            continue
        total, parts = jax.vmap(reward_fn)(task.probe_inputs)
        table = Table(title=f"{label}: accepted ({reward_fn.compile_seconds:.2f} s), "
                      f"inputs {', '.join(reward_fn.input_names)}")
        for column in ("term", "mean", "min", "max"):
            table.add_column(column, justify="left" if column == "term" else "right")
        for name, values in [("total", total), *sorted(parts.items())]:
            v = np.asarray(values)
            table.add_row(name, f"{v.mean():.4g}", f"{v.min():.4g}", f"{v.max():.4g}")
        console.print(table)
        print("(probe: 128 transitions under random actions)")
    return 1 if rejected else 0


def training_settings(cfg, task):
    """The task's PPO settings with the user's ``train.*`` and ``max_iterations`` on top."""
    from eureka_jax.train import split_train_settings

    settings = {**task.train, **dict(cfg.train)}
    if cfg.max_iterations is not None:
        settings["num_updates"] = int(cfg.max_iterations)
        # keep checkpoints dividing the updates: the largest divisor <= the configured count
        wanted = int(settings.get("num_checkpoints", 20))
        settings["num_checkpoints"] = max(
            d for d in range(1, min(wanted, settings["num_updates"]) + 1)
            if settings["num_updates"] % d == 0
        )
    return split_train_settings(settings)


def cmd_train(cfg) -> int:
    """Trains reward file(s) batched (candidates x seeds): fitness per candidate and seed."""
    import numpy as np

    from eureka_jax.reward import RewardError, compile_reward
    from eureka_jax.task import load_task
    from eureka_jax.train import train_candidates

    task = load_task(cfg.task, cfg.task_dirs)
    config, hparams = training_settings(cfg, task)
    labels, fns = [], []
    for label, source in reward_sources(cfg.reward, task):
        try:
            fns.append(compile_reward(source, task))
            labels.append(label)
        except RewardError as e:
            print(f"{label}: REJECTED [{e.category}] {e.message}")
    if not fns:
        raise EurekaError("no reward compiled; fix the rewards above (eureka-jax check-reward).")
    seeds = [cfg.seed + i for i in range(cfg.seeds)]
    print(f"training {len(fns)} candidate(s) x {len(seeds)} seed(s) on {task.name}: "
          f"{config.total_env_steps:,} env steps each ({config.num_updates} updates x "
          f"{config.num_envs} envs x {config.unroll_length} steps)", flush=True)
    result = train_candidates(task, fns, config, hparams, seeds=seeds, labels=labels)
    table = Table(title=f"{task.name}: fitness = {task.fitness_description} "
                  "(best over checkpoints / final)")
    table.add_column("reward", overflow="fold")
    for s in seeds:
        table.add_column(f"seed {s}", justify="right")
    table.add_column("mean ± std (best)", justify="right")
    table.add_column("status")
    best, final = result.max_fitness(), result.final_fitness()
    for k, label in enumerate(labels):
        failed = result.curves.failed[k]
        status = "ok" if not failed.any() else "failed (non-finite) at checkpoint " + ", ".join(
            str(int(c)) for c in result.curves.failed_at[k] if c >= 0)
        cells = [f"{best[k, i]:.3f} / {final[k, i]:.3f}" for i in range(len(seeds))]
        table.add_row(label, *cells, f"{best[k].mean():.3f} ± {best[k].std():.3f}", status)
    console.print(table)
    print(f"compile {result.compile_seconds:.1f} s, run {result.run_seconds:.1f} s, "
          f"{result.env_steps_per_second:,.0f} env steps/s "
          f"({result.env_steps:,} steps in total)")
    return 0 if np.isfinite(best).all() else 1


def new_run_dir(cfg, task_name: str, kind: str):
    """``runs/<task>/<kind>-<UTC timestamp>/`` (created)."""
    import time
    from pathlib import Path

    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    path = Path(cfg.runs_dir).expanduser() / task_name / f"{kind}-{stamp}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = path.with_name(f"{kind}-{stamp}-{suffix}")
    path.mkdir(parents=True)
    return path


def cmd_propose(cfg) -> int:
    """Asks the proposer for `sample` reward programs for a task and compiles each."""
    from eureka_jax.llm.factory import make_proposer
    from eureka_jax.llm.prompts import Prompts
    from eureka_jax.reward import RewardError, compile_reward
    from eureka_jax.task import load_task

    task = load_task(cfg.task, cfg.task_dirs)
    run_dir = new_run_dir(cfg, task.name, "propose")
    proposer, kind, usage = make_proposer(cfg, task, run_dir / "llm.jsonl")
    messages = Prompts(cfg.prompts_dir).initial(task)
    print(f"asking {kind} for {cfg.sample} reward program(s) for {task.name} ...", flush=True)
    replies = proposer.propose(messages, cfg.sample)
    accepted = 0
    for i, reply in enumerate(replies):
        try:
            reward_fn = compile_reward(reply, task)
        except RewardError as e:
            print(f"--- sample {i}: REJECTED [{e.category}] {e.message}")
            continue
        accepted += 1
        (run_dir / f"sample_{i}.py").write_text(reward_fn.source)
        print(f"--- sample {i}: compiles; components {', '.join(reward_fn.component_names)}")
        print(reward_fn.source)
    tokens = (f"; tokens: {usage.prompt_tokens} prompt + {usage.completion_tokens} completion"
              if usage.calls else "")
    print(f"{accepted} of {len(replies)} compile; replies recorded in {run_dir / 'llm.jsonl'}"
          + tokens)
    return 0 if accepted else 1


COMMANDS = {
    "tasks": cmd_tasks,
    "show-task": cmd_show_task,
    "check-reward": cmd_check_reward,
    "train": cmd_train,
    "propose": cmd_propose,
}

USAGE = (
    "usage: eureka-jax SUBCOMMAND [key=value ...]\n\n"
    "subcommands:\n"
    + "\n".join(f"  {name:<12} {fn.__doc__.splitlines()[0]}" for name, fn in COMMANDS.items())
    + "\n\nexamples:\n  eureka-jax tasks\n  eureka-jax show-task task=cartpole\n"
    "  eureka-jax check-reward task=cartpole reward=human\n"
    "  eureka-jax train task=cartpole reward=human,sparse seeds=2\n"
    "  eureka-jax propose task=cartpole sample=4 llm=offline\n"
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
        cfg = load_config(overrides)
        from eureka_jax.compile_cache import enable_compilation_cache

        enable_compilation_cache()
        status = COMMANDS[command](cfg)
    except EurekaError as e:
        err_console.print(f"error: {e}", highlight=False, markup=False)
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted.")
        return 130
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
