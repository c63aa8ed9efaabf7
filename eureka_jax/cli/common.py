"""Shared by the commands: consoles, run directories."""

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
