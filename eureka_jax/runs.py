"""The run directory: every step of a search is written as it finishes, atomically.

Layout of ``runs/<task>/search-<UTC time>/``::

    config.yaml            the resolved config
    llm.jsonl              every request and reply (replayable with llm=replay)
    iter_00/               one folder per round
      attempt_0/prompt.json, replies.json, candidate_00.py, candidate_00.json, ...
      curves.npz           training curves of the round's valid candidates (+ curves.json)
      race_curves.npz      the leaders' extra seeds (seed race), when confirm > 0
      round.json           the round's decision (best candidate, per-seed scores, reflection)
    evaluation.json        the final evaluation (+ evaluation_curves.npz)
    policies.msgpack       its trained policies (best, human, sparse; every seed) and
    policies.json          what rebuilds them (see ``save_policies``; ``eureka-jax play``)
    best.gif               the best policy filmed (report.md shows it)
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


CURVE_FIELDS = ("fitness", "episode_return", "episode_length", "components", "env_steps",
                "failed", "failed_at", "train_fitness", "train_episode_return",
                "train_episode_length", "train_components", "peak_fitness", "watch",
                "policy_loss", "value_loss", "entropy_loss", "approx_kl")


def save_result(path: Path, result) -> None:
    """Writes a ``BatchResult``'s curves (``path``, .npz) and its metadata (.json)."""
    c = result.curves
    write_arrays(path, **{name: getattr(c, name) for name in CURVE_FIELDS
                          if getattr(c, name) is not None})
    write_json(Path(path).with_suffix(".json"), {
        "labels": result.labels, "component_names": result.component_names,
        "seeds": np.asarray(result.seeds).tolist(), "slots": result.slots,
        "compile_seconds": result.compile_seconds, "run_seconds": result.run_seconds,
        "reward_compile_seconds": result.reward_compile_seconds,
        "env_steps": result.env_steps,
        "errors": {str(k): v for k, v in result.errors.items()},
    })


def load_result(path: Path):
    """Reads back what ``save_result`` wrote (parameters are not kept there)."""
    from eureka_jax.train.batch import BatchResult
    from eureka_jax.train.ppo import TrainingCurves

    arrays = read_arrays(path)
    meta = read_json(Path(path).with_suffix(".json"))
    return BatchResult(
        labels=meta["labels"], component_names=[tuple(n) for n in meta["component_names"]],
        seeds=meta["seeds"], curves=TrainingCurves(**arrays), params=None,
        compile_seconds=meta["compile_seconds"], run_seconds=meta["run_seconds"],
        env_steps=meta["env_steps"], slots=meta.get("slots"),
        reward_compile_seconds=meta.get("reward_compile_seconds", 0.0),
        errors={int(k): v for k, v in meta.get("errors", {}).items()},
    )


def train_or_load(path: Path, train, *args, **kwargs):
    """``train(*args, **kwargs)`` and save its result at ``path``, or read back a saved one
    (resume): a finished training is never repeated."""
    path = Path(path)
    if path.is_file() and path.with_suffix(".json").is_file():
        return load_result(path)
    result = train(*args, **kwargs)
    save_result(path, result)
    return result


def save_params(path, params) -> None:
    """Writes ``BatchResult.params`` (leaves [K, S, ...]) as msgpack, atomically."""
    import jax
    from flax import serialization

    atomic_write(path, serialization.msgpack_serialize(
        serialization.to_state_dict(jax.tree.map(np.asarray, params))))


def load_params(path, task, config, reward_fns, num_seeds: int):
    """Reads parameters saved by ``save_params`` for a training of ``task`` with ``config``;
    a file that does not fit (other network sizes or observation size) is a clear error."""
    import jax
    from flax import serialization

    from eureka_jax.errors import EurekaError
    from eureka_jax.train.ppo import make_train

    train = make_train(task, config, reward_fns)
    template = jax.eval_shape(train.initial_params, jax.random.PRNGKey(0))
    template = jax.tree.map(lambda x: np.zeros((len(reward_fns), num_seeds, *x.shape), x.dtype),
                            template)
    state = serialization.msgpack_restore(path.read_bytes())
    try:
        return serialization.from_state_dict(template, state)
    except (ValueError, KeyError) as e:
        raise EurekaError(f"{path} does not hold parameters for this training ({e}); start "
                          "from a checkpoint of the same observation size and network sizes.") from e


def save_policies(run_dir: Path, result, task, config, seeds, sources, curves: str) -> None:
    """A training's final parameters (every row and seed) as ``policies.msgpack`` (flax
    msgpack, the layout ``load_params`` reads: one file, no extra dependency, the same as
    the curriculum's hand-off) and ``policies.json``: what rebuilds the networks and the
    training (observation and action sizes, every static training setting), each row's
    reward source and the curves file of the training (``curves``, in ``run_dir``)."""
    import dataclasses

    save_params(Path(run_dir) / "policies.msgpack", result.params)
    env = getattr(task, "env", None)
    write_json(Path(run_dir) / "policies.json", {
        "task": task.name, "rewards": list(result.labels), "seeds": list(seeds),
        "layout": "leaves [rewards, seeds, ...] of (normalizer, policy, value) parameters",
        "observation_size": getattr(env, "observation_size", None),
        "action_size": getattr(env, "action_size", None),
        "train": dataclasses.asdict(config),
        "sources": dict(zip(result.labels, sources)),
        "curves": curves,
    })
