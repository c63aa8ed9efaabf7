"""Reading an Isaac Gym (rl_games) training's TensorBoard scalars back into ``TrainingCurves``.

Two layouts exist for the task's ``extras`` (ours: ``consecutive_successes``, ``gt_reward``,
``gpt_reward``, ``eureka/<component>``), both written by the rl_games observer of
``isaacgymenvs/utils/rlgames_utils.py``:

- IsaacGymEnvs: ``<key>/frame`` (keyed by frame, i.e. environment steps), ``<key>/iter``
  (keyed by epoch) and ``<key>/time``;
- Eureka's copy of IsaacGymEnvs: a bare ``<key>`` keyed by epoch.

rl_games itself writes ``rewards/step`` and ``episode_lengths/step`` by frame, the same
values as ``.../iter`` by epoch, and ``info/epochs`` (value: the epoch) by frame; those pairs
map epochs to frames. rl_games logs epoch ``e``'s statistics at the frame counter from
*before* that epoch (``F0 + (e - 1) B`` for ``B`` frames per epoch; rl-games 1.6.5's
``a2c_common.train`` reads the counter, then adds the epoch's frames), and so does the observer
it hands that frame to; here every value is placed at the frames done when it was measured,
``F0 + e B``. ``/frame`` is preferred; an epoch-keyed tag is mapped to frames. Each
tag is resampled on its own axis at ``num_evals`` evenly spaced frames (the last value
at or before each point). The fitness is also kept unresampled: its maximum over the whole
logged series is Eureka's selection statistic (``eureka/eureka.py`` takes
``max(consecutive_successes)``), written as ``TrainingCurves.peak_fitness``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eureka_jax.errors import EurekaError
from eureka_jax.train.curves import TrainingCurves

RETURN_TAGS = ("rewards/step", "rewards/frame")
LENGTH_TAGS = ("episode_lengths/step", "episode_lengths/frame")
# (epoch-keyed tag, frame-keyed tag) logged at the same moments with the same values
EPOCH_FRAME_PAIRS = (("rewards/iter", "rewards/step"),
                     ("episode_lengths/iter", "episode_lengths/step"))


def read_scalars(log_dir: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """tag -> (steps, values) from every event file under ``log_dir``."""
    try:
        from tensorboard.backend.event_processing.event_accumulator import (
            SCALARS,
            EventAccumulator,
        )
    except ImportError as e:
        raise EurekaError("reading Isaac Gym trainings' logs needs TensorBoard in eureka-jax's "
                          'environment: pip install -e ".[isaacgym]".') from e

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


def epoch_to_frame(scalars: dict):
    """``(frames_done, per_epoch)``: a function epochs -> frames done at the end of each epoch,
    fitted on the (epoch, frame) pairs rl_games logs, and the frames one epoch adds (the shift
    from the frame a value is logged at to the frames done when it was measured); ``(None,
    0.0)`` without such pairs.

    rl_games advances a fixed number of frames per epoch (num_envs x horizon_length), so a
    line fits exactly; its offset is the frame counter a fine-tuning run restored (Eureka's
    rl_games keeps the frame but not the epoch of a checkpoint)."""
    epochs, frames = [], []
    if "info/epochs" in scalars:
        f, e = scalars["info/epochs"]
        epochs += list(e)
        frames += list(f)
    for by_epoch, by_frame in EPOCH_FRAME_PAIRS:
        if by_epoch in scalars and by_frame in scalars:
            e, f = scalars[by_epoch][0], scalars[by_frame][0]
            n = min(len(e), len(f))
            epochs += list(e[:n])
            frames += list(f[:n])
    pairs = {(float(e), float(f)) for e, f in zip(epochs, frames)}
    if not pairs:
        return None, 0.0
    e, f = np.array(sorted(pairs)).T
    if len(set(e)) == 1:  # one epoch: logged at frame F0 = (e - 1) B from a fresh start
        slope = f[0] / (e[0] - 1) if e[0] > 1 else 0.0
        offset = f[0] - slope * (e[0] - 1)
    else:
        slope, before = np.polyfit(e, f, 1)
        offset = before + slope  # logged at F0 + (e - 1) B: done at F0 + e B
    # frames are counts: rounded, so that a fit's last bit (numpy 2.4's polyfit gives
    # 100.0000000000001 frames per epoch for an exact line) cannot move a value past the
    # checkpoint it was logged at
    return (lambda epochs: np.rint(offset + slope * np.asarray(epochs, dtype=float))), \
        float(np.rint(slope))


def find_tag(scalars: dict, key: str, to_frame, per_epoch: float = 0.0):
    """``key``'s series as (frames done, values): ``key/frame`` (shifted by one epoch's
    frames, see the module docstring), else ``key`` or ``key/iter`` (by epoch) mapped to
    frames; None if it was not logged."""
    if f"{key}/frame" in scalars:
        steps, values = scalars[f"{key}/frame"]
        return steps + per_epoch, values
    for tag in (key, f"{key}/iter"):
        if tag in scalars:
            steps, values = scalars[tag]
            if to_frame is None:
                raise EurekaError(f"'{tag}' is logged by epoch and the logs have no "
                                  "rewards/iter, rewards/step or info/epochs to map epochs to "
                                  "frames.")
            return to_frame(steps), values
    return None


def _resample(steps, values, at):
    idx = np.searchsorted(steps, at, side="right") - 1
    return np.where(idx >= 0, values[np.clip(idx, 0, None)], np.nan).astype(np.float32)


def curves_from_scalars(scalars: dict, num_evals: int, component_names, total_steps=None,
                        fitness_tag: str = "consecutive_successes") -> TrainingCurves:
    """``TrainingCurves`` with arrays [C] ([C, M] for components) from one run's scalars.

    Raises ``EurekaError`` when the fitness was never logged (the launcher makes that the
    candidate's failure, with this message as its feedback)."""
    to_frame, per_epoch = epoch_to_frame(scalars)
    fitness = find_tag(scalars, fitness_tag, to_frame, per_epoch)
    if fitness is None:
        known = ", ".join(sorted(scalars)) or "none"
        raise EurekaError(f"the training logged no '{fitness_tag}' (tags found: {known}); the "
                          "task must report its success metric in extras (success_attr in "
                          "its spec, see docs/isaacgym.md).")
    frame_tags = [scalars[t][0] + per_epoch for t in (*RETURN_TAGS, *LENGTH_TAGS, "info/epochs")
                  if t in scalars]
    last = float(total_steps or max(float(np.max(s)) for s in [fitness[0], *frame_tags]))
    # a run that restored a frame counter (fine-tuning) starts there, not at 0
    first = max(0.0, float(to_frame(0))) if to_frame is not None and not total_steps else 0.0
    at = first + (last - first) * np.arange(1, num_evals + 1) / num_evals

    def series(tags):
        for tag in tags:
            if tag in scalars:
                steps, values = scalars[tag]
                return _resample(steps + per_epoch, values, at)
        return np.full(num_evals, np.nan, np.float32)

    def component(name):
        found = find_tag(scalars, f"eureka/{name}", to_frame, per_epoch)
        return (_resample(*found, at) if found is not None
                else np.full(num_evals, np.nan, np.float32))

    comps = [component(n) for n in component_names]
    return TrainingCurves(
        fitness=_resample(*fitness, at),
        episode_return=series(RETURN_TAGS),
        episode_length=series(LENGTH_TAGS),
        components=(np.stack(comps, axis=-1) if comps
                    else np.zeros((num_evals, 0), np.float32)),
        env_steps=at.astype(np.float32),
        failed=np.array(False),
        failed_at=np.array(-1),
        peak_fitness=np.asarray(np.max(fitness[1]), np.float32),
    )
