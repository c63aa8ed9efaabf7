"""Reference points: what the task's human-written and sparse rewards score at a training
budget, so a candidate's score can be read against them ("0.198" is "no better than sparse").

Measured once per task and budget and kept on disk (``EUREKA_JAX_REFERENCES``, by default
``~/.cache/eureka-jax/references``), keyed by everything that decides a score: the task, both
baseline programs, the static training settings, the learner's numbers and the selection
statistic. Filled by a search that finds none (one trainer call before its first round, in
the shape of the round's first pass, so the physics and learner programs it compiles are the
ones the rounds reuse) and by every final evaluation (``evaluate``), whose fresh seeds add to
the record.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from eureka_jax.runs import atomic_write

REFERENCE_SEED_OFFSET = 20_000  # apart from the search's (0+) and the evaluation's (10,000+)
LABELS = ("human", "sparse")


def folder() -> Path:
    return Path(os.environ.get("EUREKA_JAX_REFERENCES",
                               "~/.cache/eureka-jax/references")).expanduser()


def key(task, config, hparams, select: str) -> str:
    """A digest of everything that decides the baselines' scores."""
    settings = {
        "task": task.name,
        "human": task.human_reward_source,
        "sparse": task.sparse_reward_source,
        "config": dataclasses.asdict(config),
        "hparams": {f.name: float(np.asarray(getattr(hparams, f.name)))
                    for f in dataclasses.fields(hparams)},
        "select": select,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str)
                          .encode()).hexdigest()[:20]


def _path(task, config, hparams, select) -> Path:
    return folder() / f"{task.name}-{key(task, config, hparams, select)}.json"


def lookup(task, config, hparams, select: str) -> dict | None:
    """``{"human": {"mean", "std", "n"}, "sparse": {...}, "source"}`` at this budget, or None
    when never measured."""
    path = _path(task, config, hparams, select)
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    out = {"source": record.get("source", "measured")}
    for label in LABELS:
        values = np.asarray([v for v in record.get(label, {}).values() if v is not None], float)
        if values.size:
            out[label] = {"mean": float(values.mean()), "n": int(values.size),
                          "std": float(values.std(ddof=1)) if values.size > 1 else None}
    return out if all(label in out for label in LABELS) else None


def record(task, config, hparams, select: str, scores: dict, where: str) -> dict | None:
    """Adds per-seed scores ``{"human": {seed: value}, "sparse": {...}}`` (NaN: a failed run,
    kept out) to the record at this budget; returns ``lookup``'s view of it."""
    path = _path(task, config, hparams, select)
    old = json.loads(path.read_text()) if path.is_file() else {}
    new = {"task": task.name, "key": key(task, config, hparams, select),
           "env_steps_per_run": int(config.total_env_steps)}
    for label in LABELS:
        merged = dict(old.get(label, {}))
        merged.update({str(int(s)): (float(v) if np.isfinite(v) else None)
                       for s, v in scores.get(label, {}).items()})
        new[label] = merged
    new["source"] = (f"measured by {where} on {datetime.date.today().isoformat()}"
                     if not old else "measured by searches and final evaluations, the last on "
                     f"{datetime.date.today().isoformat()}")
    atomic_write(path, json.dumps(new, indent=1))
    return lookup(task, config, hparams, select)


def measure(task, config, hparams, select: str, train, rows: int, num_seeds: int,
            seed: int = 0) -> dict | None:
    """Trains the human and sparse rewards in one call shaped like a round's first pass
    (``rows`` rows of ``num_seeds`` seeds, the two rewards alternating, every run a fresh
    seed) and records their scores. ``train``: the batched trainer."""
    from eureka_jax.selection import per_seed

    rows = max(int(rows), 2)
    table = (seed + REFERENCE_SEED_OFFSET
             + np.arange(rows * num_seeds).reshape(rows, num_seeds)).tolist()
    slots = [i % 2 for i in range(rows)]
    result = train(task, list(task.baseline_rewards()), config, hparams, seeds=table,
                   labels=list(LABELS), slots=slots)
    values = per_seed(result, select)
    scores = {label: {} for label in LABELS}
    for row, slot in enumerate(slots):
        for j, s in enumerate(table[row]):
            scores[LABELS[slot]][s] = float(values[row, j])
    return record(task, config, hparams, select, scores, "a search before its first round")
