"""The run directory: every step of a search is written as it finishes, atomically.

Layout of ``runs/<task>/search-<UTC time>/``::

    config.yaml            the resolved config
    llm.jsonl              every request and reply (replayable with llm=replay)
    iter_00/               one folder per round
      attempt_0/prompt.json, replies.json, candidate_00.py, candidate_00.json, ...
      curves.npz           training curves of the round's valid candidates
      round.json           the round's decision (best candidate, fitness, reflection)
    evaluation.json        the final evaluation
    summary.json, report.md, fitness.png
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np


def atomic_write(path: Path, data: bytes | str) -> None:
    """Writes ``path`` so that a reader sees the old file or the whole new one, never part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: Path, value) -> None:
    atomic_write(path, json.dumps(value, indent=2, default=_jsonable) + "\n")


def read_json(path: Path):
    return json.loads(Path(path).read_text())


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value)}")


def write_arrays(path: Path, **arrays) -> None:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write(path, buffer.getvalue())


def read_arrays(path: Path) -> dict:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}
