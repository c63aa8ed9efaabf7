"""Shared by the commands: consoles, run directories, the backend choice."""

from __future__ import annotations

import sys

from rich.console import Console

# Piped output (not a terminal) gets a wide table instead of rich's 80-column default.
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)


err_console = Console(stderr=True, soft_wrap=True)


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


def make_backend(cfg, work_dir=None):
    """(task, backend) for ``cfg.backend``: the JAX task and None (the batched JAX trainer),
    or the Isaac Gym task and its ``IsaacGymBackend`` (trainings under ``work_dir``; its
    ``train_candidates`` is the trainer)."""
    if cfg.backend == "isaacgym":
        from eureka_jax.bridges.isaacgym import IsaacGymBackend, load_isaacgym_task

        task = load_isaacgym_task(cfg.task, cfg.isaacgym.isaacgymenvs)
        return task, IsaacGymBackend(cfg, work_dir)
    from eureka_jax.task import load_task  # backend=jax (the config allows no other)

    return load_task(cfg.task, cfg.task_dirs), None
