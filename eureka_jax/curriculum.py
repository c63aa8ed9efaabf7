"""Curricula: train a reward on one task, then fine-tune the policy on the next.

A curriculum is a YAML file in ``configs/curriculum/`` (pen spinning: reorient a pen, then
spin it). The runner is backend-agnostic: it resolves each stage's reward, hands the previous
stage's checkpoint to the next, records every stage in the run directory as it finishes and
skips finished stages on resume. A backend trains one stage (``train_stage`` of
``eureka_jax.backend.Backend``).

Stage keys:
  name: a label; task: our task folder; BACKEND: {...} / BACKEND_task: a backend's own
  settings for the stage (e.g. the task name in that simulator);
  reward: human | sparse | same (the previous stage's) | a reward file path | a search run
    directory (its best_reward.py);
  init: none | previous (start from the previous stage's final parameters);
  train: PPO settings for this stage (over the task's own; ``train.*`` on the command line
    applies to every stage).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from eureka_jax.backend import Backend
from eureka_jax.errors import EurekaError
from eureka_jax.runs import atomic_write, read_json, write_json

CURRICULUM_DIR = Path(__file__).resolve().parents[1] / "configs" / "curriculum"
STAGE_KEYS = {"name", "task", "reward", "init", "train"}


@dataclass
class Stage:
    """One stage. ``backends``: each backend's own settings for the stage, from the YAML keys
    named after it (``NAME: {task: ..., ...}``; ``NAME_task: X`` is short for
    ``NAME: {task: X}``), read by that backend only."""

    name: str
    task: str
    reward: str = "human"
    init: str = "none"
    train: dict = field(default_factory=dict)
    backends: dict = field(default_factory=dict)

    def settings(self, backend: str) -> dict:
        return dict(self.backends.get(backend) or {})


def _backend_settings(raw: dict, label: str) -> dict:
    """The stage's per-backend settings (see ``Stage``); unknown keys are one sentence."""
    from eureka_jax.backend import backend_names

    names = backend_names()
    out: dict = {}
    for key, value in raw.items():
        if key in STAGE_KEYS:
            continue
        if key in names:
            if not isinstance(value, dict):
                raise EurekaError(f"{label}: {key} must map settings to values (e.g. "
                                  f"{key}: {{task: NAME}}); got {value!r}.")
            out.setdefault(key, {}).update(value)
        elif key.endswith("_task") and key[:-len("_task")] in names:
            out.setdefault(key[:-len("_task")], {})["task"] = value
        else:
            raise EurekaError(f"{label} has unknown key {key}; valid: "
                              f"{', '.join(sorted(STAGE_KEYS))}, or a backend's own settings "
                              f"({', '.join(f'{n}: {{...}} / {n}_task' for n in names)}).")
    return out


@dataclass
class Curriculum:
    name: str
    description: str
    stages: list[Stage]


def list_curricula() -> list[str]:
    return sorted(p.stem for p in CURRICULUM_DIR.glob("*.yaml"))


def parse_curriculum(spec: dict, where: str = "curriculum") -> Curriculum:
    """Checks a curriculum dict; every problem is one sentence naming the stage and key."""
    stages = spec.get("stages")
    if not isinstance(stages, list) or not stages:
        raise EurekaError(f"{where}: 'stages' must be a non-empty list of stages.")
    out = []
    for i, raw in enumerate(stages):
        label = f"{where}: stage {i + 1}"
        if not isinstance(raw, dict) or "task" not in raw:
            raise EurekaError(f"{label} needs at least a 'task'.")
        stage = Stage(name=str(raw.get("name", f"stage{i + 1}")), task=str(raw["task"]),
                      reward=str(raw.get("reward", "human")), init=str(raw.get("init", "none")),
                      train=dict(raw.get("train") or {}),
                      backends=_backend_settings(raw, label))
        if stage.init not in ("none", "previous"):
            raise EurekaError(f"{label}: init is '{stage.init}'; use none or previous.")
        if i == 0 and (stage.init == "previous" or stage.reward == "same"):
            raise EurekaError(f"{label} is the first stage: it has no previous stage for "
                              "init: previous or reward: same.")
        out.append(stage)
    return Curriculum(name=str(spec.get("name", where)),
                      description=str(spec.get("description", "")), stages=out)


def load_curriculum(name: str) -> Curriculum:
    path = Path(name)
    if not path.is_file():
        path = CURRICULUM_DIR / f"{name}.yaml"
    if not path.is_file():
        raise EurekaError(f"unknown curriculum '{name}'; choose one of: "
                          f"{', '.join(list_curricula())}, or give a YAML file path.")
    try:
        spec = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise EurekaError(f"{path} is not valid YAML ({e}); fix its syntax.") from e
    return parse_curriculum(spec, str(path))


def resolve_reward(spec: str, previous: str | None, human: Callable[[], str],
                   sparse: Callable[[], str]) -> str:
    """A stage's reward source from its ``reward`` spec."""
    if spec == "same":
        return previous
    if spec == "human":
        return human()
    if spec == "sparse":
        return sparse()
    path = Path(spec).expanduser()
    if path.is_dir() and (path / "best_reward.py").is_file():
        return (path / "best_reward.py").read_text()
    if path.is_file():
        return path.read_text()
    raise EurekaError(f"reward '{spec}' is neither human, sparse, same, a reward file nor a "
                      "search run directory with best_reward.py.")


@dataclass
class StageOutcome:
    """What a backend reports for a trained stage."""

    checkpoint: str  # a path, handed to the next stage's backend call as ``init``
    fitness: list[float]  # per seed, best over checkpoints
    final_fitness: list[float]
    details: dict = field(default_factory=dict)


def _digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def run_curriculum(curriculum: Curriculum, backend: Backend, run_dir: Path, reward: str | None = None,
                   log: Callable[[str], None] = print) -> dict:
    """Runs the stages in order; a finished stage (its ``stage.json``) is read back, not rerun.

    Args:
      reward: overrides the first stage's reward spec (e.g. a search's best reward).

    Returns the summary (also written to ``run_dir/curriculum.json``).
    """
    run_dir = Path(run_dir)
    previous_source, previous_checkpoint, records = None, None, []
    for i, stage in enumerate(curriculum.stages):
        sdir = run_dir / f"stage_{i + 1}_{stage.name}"
        if (sdir / "stage.json").is_file():
            record = read_json(sdir / "stage.json")
            log(f"stage {i + 1} ({stage.name}) finished before; read back")
        else:
            spec = reward if (i == 0 and reward) else stage.reward
            human, sparse = backend.task_rewards(stage)
            source = resolve_reward(spec, previous_source, human, sparse)
            init = previous_checkpoint if stage.init == "previous" else None
            log(f"stage {i + 1}/{len(curriculum.stages)} ({stage.name}): {stage.task}, reward "
                f"{spec}, " + (f"starting from {init}" if init else "from scratch"))
            atomic_write(sdir / "reward.py", source)
            outcome = backend.train_stage(stage, source, init, sdir)
            record = {
                "stage": i + 1, "name": stage.name, "task": stage.task, "reward": spec,
                "init_from": init, "init_digest": _digest(init) if init else None,
                "checkpoint": outcome.checkpoint, "checkpoint_digest": _digest(outcome.checkpoint),
                "fitness_per_seed": outcome.fitness, "final_fitness_per_seed": outcome.final_fitness,
                **outcome.details,
            }
            write_json(sdir / "stage.json", record)
            log("  fitness (best over checkpoints) per seed: "
                + ", ".join(f"{f:.3f}" for f in outcome.fitness))
        previous_source = (sdir / "reward.py").read_text()
        previous_checkpoint = record["checkpoint"]
        records.append(record)
    summary = {"curriculum": curriculum.name, "run_dir": str(run_dir), "stages": records}
    write_json(run_dir / "curriculum.json", summary)
    return summary
