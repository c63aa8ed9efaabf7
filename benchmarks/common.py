"""Shared by the benchmark scripts: the machine/version header of every table, timing, and
writing a results table."""

import resource
import time
from pathlib import Path

import jax

from eureka_jax.benchmark import machine_lines as machine_header


def timed(fn, *args):
    """Runs ``fn(*args)`` to completion and returns (result, seconds)."""
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - start


RESULTS = Path(__file__).parent / "results"


def peak_memory_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def kept_notes(table: Path) -> str:
    """The notes written by hand under an existing table (from its first line starting with
    "Notes"), so that a rerun replaces the numbers and keeps what was learnt from them."""
    if not table.exists():
        return ""
    lines = table.read_text().splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith("Notes")), len(lines))
    return "\n" + "".join(lines[start:]) if start < len(lines) else ""


def write(name: str, title: str, notes: str, header: str, rows: list[str]) -> None:
    """Writes ``results/<name>`` (or ``name`` itself, an absolute path): title, machine
    header, peak memory, notes, a table."""
    path = Path(name) if Path(name).is_absolute() else RESULTS / name
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (f"# {title}\n\n{machine_header()}- peak memory of the process: "
            f"{peak_memory_mib():,.0f} MiB\n{notes}\n{header}\n" + "\n".join(rows) + "\n")
    path.write_text(text + kept_notes(path))
    print(text, flush=True)


def fresh_scores(task, picks: dict, config, hparams, seeds, select: str = "max"):
    """Every distinct picked source (``picks``: name -> [(source, score)]) and the human
    reward trained on the same fresh ``seeds`` in one batched call.

    Returns:
      (sources, per-seed scores [1 + distinct picks, seeds]); row 0 is the human reward.
    """
    from eureka_jax import selection
    from eureka_jax.reward import compile_reward
    from eureka_jax.train import train_candidates

    sources = [task.human_reward_source]
    for chosen in picks.values():
        sources += [src for src, _ in chosen if src not in sources]
    fns = [compile_reward(src, task) for src in sources]
    result = train_candidates(task, fns, config, hparams, seeds=list(seeds))
    return sources, selection.per_seed(result, select)
