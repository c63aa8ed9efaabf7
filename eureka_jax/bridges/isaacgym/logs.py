"""Reading an Isaac Gym (rl_games) training's TensorBoard scalars back into ``TrainingCurves``.

rl_games writes ``rewards/step``, ``episode_lengths/step`` and every ``extras`` scalar (ours:
``consecutive_successes``, ``eureka/<component>``, ``gt_reward``) as TensorBoard events keyed
by frame (environment steps). The curves are resampled at ``num_checkpoints`` evenly spaced
points (the last value at or before each point), as the JAX trainer records them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eureka_jax.errors import EurekaError
from eureka_jax.train.ppo import TrainingCurves

RETURN_TAGS = ("rewards/step", "rewards/frame", "rewards/iter")
LENGTH_TAGS = ("episode_lengths/step", "episode_lengths/frame", "episode_lengths/iter")


def read_scalars(log_dir: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """tag -> (steps, values) from every event file under ``log_dir``."""
    from tensorboard.backend.event_processing.event_accumulator import (
        SCALARS,
        EventAccumulator,
    )

    files = sorted(Path(log_dir).rglob("events.out.tfevents.*"))
    if not files:
        raise EurekaError(f"no TensorBoard event files under {log_dir}; did the training start?")
    out: dict[str, tuple[list, list]] = {}
    for f in files:
        acc = EventAccumulator(str(f), size_guidance={SCALARS: 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            steps, values = out.setdefault(tag, ([], []))
            for e in acc.Scalars(tag):
                steps.append(e.step)
                values.append(e.value)
    result = {}
    for tag, (steps, values) in out.items():
        order = np.argsort(steps, kind="stable")
        result[tag] = (np.asarray(steps)[order], np.asarray(values, np.float32)[order])
    return result


def _resample(steps, values, at):
    idx = np.searchsorted(steps, at, side="right") - 1
    return np.where(idx >= 0, values[np.clip(idx, 0, None)], np.nan).astype(np.float32)


def curves_from_scalars(scalars: dict, num_checkpoints: int, component_names, total_steps=None,
                        fitness_tag: str = "consecutive_successes") -> TrainingCurves:
    """``TrainingCurves`` with arrays [C] ([C, M] for components) from one run's scalars."""
    if fitness_tag not in scalars:
        known = ", ".join(sorted(scalars)) or "none"
        raise EurekaError(f"the training logged no '{fitness_tag}' (tags found: {known}); the "
                          "task must report its success metric in extras.")
    fit_steps, _ = scalars[fitness_tag]
    last = float(total_steps or fit_steps.max())
    at = np.linspace(last / num_checkpoints, last, num_checkpoints)

    def first_of(tags):
        for tag in tags:
            if tag in scalars:
                return _resample(*scalars[tag], at)
        return np.full(num_checkpoints, np.nan, np.float32)

    comps = [(_resample(*scalars[f"eureka/{n}"], at) if f"eureka/{n}" in scalars
              else np.full(num_checkpoints, np.nan, np.float32)) for n in component_names]
    return TrainingCurves(
        fitness=_resample(*scalars[fitness_tag], at),
        episode_return=first_of(RETURN_TAGS),
        episode_length=first_of(LENGTH_TAGS),
        components=(np.stack(comps, axis=-1) if comps
                    else np.zeros((num_checkpoints, 0), np.float32)),
        env_steps=at.astype(np.float32),
        failed=np.array(False),
        failed_at=np.array(-1),
    )
