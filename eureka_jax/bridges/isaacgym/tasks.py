"""Isaac Gym tasks: the specs in ``configs/isaacgym/`` (IsaacGymEnvs task, overrides, the
success metric), what the LLM reads of them, and the install steps every error points to."""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from eureka_jax.errors import EurekaError

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
TASK_SPECS = Path(__file__).resolve().parents[3] / "configs" / "isaacgym"

INSTALL_STEPS = (
    "install Isaac Gym Preview 4 (download from https://developer.nvidia.com/isaac-gym, then "
    "`pip install -e isaacgym/python` in a Python 3.8 environment), IsaacGymEnvs (`git clone "
    "https://github.com/isaac-sim/IsaacGymEnvs && pip install -e IsaacGymEnvs`) and, into "
    "that environment, JAX's CUDA build with the numpy Isaac Gym needs (`pip install "
    "numpy==1.23.5 \"jax[cuda11_pip]==0.4.13\" -f "
    "https://storage.googleapis.com/jax-releases/jax_cuda_releases.html`), then pass its "
    "interpreter as isaacgym.python=/path/to/python3.8 (docs/isaacgym.md has every step)")


# ---- tasks --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskReward:
    """The task's own reward (``mode="human"``) or its success signal as the reward
    (``mode="sparse"``) on Isaac Gym: no program to compile, the runtime's mixin does it."""

    mode: str
    source: str = ""
    entry: str = ""
    input_names: tuple = ()
    component_names: tuple = ()


@dataclass(eq=False)
class IsaacGymTask:
    """An IsaacGymEnvs task as the search sees it (``configs/isaacgym/<name>.yaml``): the
    reward inputs (task attributes, per-env shapes) the compiler checks rewards against, the
    description, and the context built from the task file.

    Attributes (the YAML's keys):
      task_class: IsaacGymEnvs' task name (its ``isaacgym_task_map`` key and cfg/task YAML).
      inputs: per-environment tensor attributes a reward may take, with per-env shapes.
      shared_inputs: attributes without an environment axis (joint limits, the episode
        length), passed unbatched (``vmap`` with ``in_axes=None``).
      overrides: hydra overrides every training of this task gets (e.g. the object type).
      success_attr: the attribute holding the success metric, logged as
        ``consecutive_successes`` (the fitness).
      success_bonus / success_event: the attribute with the bonus added to the LLM reward on
        every goal reached, and the attribute that is 1 where a goal was reached this step
        (Eureka's hand tasks: ``reach_goal_bonus``, ``reset_goal_buf``); the event is also
        the sparse reward.
      train_config: the rl_games YAML (``cfg/train/<name>.yaml``), for the ``num_envs`` check.
      notes: facts about the task the LLM should know, added to its context.
    """

    name: str
    task_class: str
    description: str
    inputs: dict
    task_file: str
    class_name: str | None = None
    shared_inputs: dict = field(default_factory=dict)
    overrides: list = field(default_factory=list)
    success_attr: str = "consecutive_successes"
    success_bonus: str | None = None
    success_event: str | None = None
    fitness_description: str = "consecutive successes (IsaacGymEnvs' success metric)"
    episode_length: int = 600
    target_fitness: float | None = None
    isaacgymenvs: str | None = None
    goals: list = field(default_factory=list)
    fitness_input: str = "consecutive_successes"
    train: dict = field(default_factory=dict)
    fitness_aggregate: str = "mean"
    train_config: str | None = None
    notes: str = ""
    # the CPU budget ladder measures JAX trainings; an Isaac Gym task trains on the GPUs of
    # the Isaac Gym interpreter, wherever eureka-jax's own JAX runs: never measured here
    cpu_learns: bool | None = None

    @functools.cached_property
    def reward_input_specs(self) -> dict:
        import jax
        import jax.numpy as jnp

        shapes = {**self.inputs, **self.shared_inputs}
        return {n: jax.ShapeDtypeStruct(tuple(s), jnp.float32) for n, s in shapes.items()}

    @property
    def reward_input_names(self):
        return tuple(self.reward_input_specs)

    @functools.cached_property
    def probe_inputs(self) -> dict:
        """128 random per-env inputs (unit quaternions where the name says rot/quat; a shared
        input is one random value repeated): the probe a candidate must survive with finite
        outputs, as for MJX tasks."""
        rng = np.random.default_rng(0)
        out = {}
        for name, shape in {**self.inputs, **self.shared_inputs}.items():
            rows = 1 if name in self.shared_inputs else 128
            x = rng.normal(size=(rows, *shape)).astype(np.float32)
            if ("rot" in name or "quat" in name) and tuple(shape)[-1:] == (4,):
                x /= np.linalg.norm(x, axis=-1, keepdims=True)
            if name.endswith("upper_limits"):  # above the matching lower limits
                x = np.abs(x) + 0.1
            elif name.endswith("lower_limits"):
                x = -np.abs(x) - 0.1
            elif name == "max_episode_length":
                x = np.full_like(x, float(self.episode_length))
            out[name] = np.broadcast_to(x, (128, *shape)).copy()
        return out

    def task_path(self) -> Path:
        root = self.isaacgymenvs
        if not root:
            raise EurekaError(f"task {self.name} needs IsaacGymEnvs' source for its context: "
                              "set isaacgym.isaacgymenvs=/path/to/IsaacGymEnvs/isaacgymenvs; "
                              + INSTALL_STEPS + ".")
        path = Path(root).expanduser() / self.task_file
        if not path.is_file():
            raise EurekaError(f"{path} does not exist; isaacgym.isaacgymenvs must be the "
                              "isaacgymenvs package folder (it holds tasks/ and train.py).")
        return path

    def model_facts(self) -> str:
        """What the task's YAML (``cfg/task/<task_class>.yaml``) states about the simulation
        and the episode, with this spec's ``task.*`` overrides applied (what trains, e.g.
        objectType), without the reward's hyperparameters."""
        from eureka_jax.bridges.isaacgym.context import task_yaml_summary

        path = Path(self.task_path()).parents[1] / "cfg" / "task" / f"{self.task_class}.yaml"
        if not path.is_file():
            return ""
        return task_yaml_summary(apply_overrides(yaml.safe_load(path.read_text()) or {},
                                                 self.overrides))

    def context(self, budget: str | None = None) -> str:
        from eureka_jax.bridges.isaacgym.context import build_context, context_text

        ctx = build_context(self.task_path(), self.class_name)
        specs = {n: (s, "float32") for n, s in self.inputs.items()}
        shared = {n: (s, "float32") for n, s in self.shared_inputs.items()}
        notes = f"\nNotes: {self.notes.strip()}\n" if self.notes.strip() else ""
        facts = self.model_facts()
        return (f"Task: {self.description.strip()}\n" + notes + "\n"
                + (f"{facts}\n" if facts else "") + context_text(ctx, specs, shared)
                + (f"\n{budget}" if budget else ""))

    @property
    def human_reward_source(self) -> str:
        raise EurekaError(f"{self.name}: the human reward is IsaacGymEnvs' own (torch) reward; "
                          "init=human is for MJX tasks.")

    def baseline_rewards(self) -> list:
        """The final evaluation's human and sparse rewards: the task's own reward, and its
        success event as the reward."""
        if not self.success_event:
            raise EurekaError(f"{self.name}: the sparse reward needs the task's success event; "
                              "set success_event (an attribute that is 1 where the goal was "
                              "reached) in its spec, or num_eval=0.")
        return [TaskReward("human"), TaskReward("sparse")]

    def check_num_envs(self, num_envs: int | None) -> None:
        """rl_games asserts that ``num_envs x horizon_length`` is a multiple of
        ``minibatch_size`` (``a2c_common.py``); say so up front, in one sentence."""
        if not self.isaacgymenvs:
            return
        root = Path(self.isaacgymenvs).expanduser()
        train_yaml = root / "cfg" / "train" / f"{self.train_config or self.task_class + 'PPO'}.yaml"
        task_yaml = root / "cfg" / "task" / f"{self.task_class}.yaml"
        if not train_yaml.is_file():
            return
        config = ((yaml.safe_load(train_yaml.read_text()) or {}).get("params") or {}).get(
            "config") or {}
        horizon, minibatch = config.get("horizon_length"), config.get("minibatch_size")
        if not isinstance(horizon, int) or not isinstance(minibatch, int):
            return  # interpolated or per-env minibatches: rl_games derives a valid size
        n = num_envs
        if n is None and task_yaml.is_file():
            default = ((yaml.safe_load(task_yaml.read_text()) or {}).get("env") or {}).get(
                "numEnvs")
            found = re.search(r"resolve_default:\s*(\d+)", str(default))
            n = int(found.group(1)) if found else (default if isinstance(default, int) else None)
        if n is None:
            return
        step = minibatch // math.gcd(minibatch, horizon)
        if n < step or n % step:
            raise EurekaError(
                f"num_envs={n} does not suit {train_yaml.name} (horizon_length {horizon}, "
                f"minibatch_size {minibatch}): rl_games needs num_envs x horizon_length to be a "
                f"multiple of minibatch_size, so set isaacgym.num_envs to a multiple of {step} "
                f"such as {max(step, -(-n // step) * step)}.")


def apply_overrides(task_yaml: dict, overrides: list[str]) -> dict:
    """``task_yaml`` with the hydra overrides that address it (``task.env.objectType=pen``)
    applied, values parsed as YAML as hydra parses them; other overrides are left out."""
    out = json.loads(json.dumps(task_yaml))  # a deep copy of plain YAML data
    for override in overrides:
        key, _, value = str(override).partition("=")
        if not key.startswith("task."):
            continue
        *parents, leaf = key[len("task."):].split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    return out


def list_isaacgym_tasks() -> list[str]:
    return sorted(p.stem for p in TASK_SPECS.glob("*.yaml"))


def load_isaacgym_task(name: str, isaacgymenvs: str | None = None) -> IsaacGymTask:
    path = TASK_SPECS / f"{name}.yaml"
    if not path.is_file():
        raise EurekaError(f"unknown Isaac Gym task '{name}'; choose one of: "
                          f"{', '.join(list_isaacgym_tasks())} (configs/isaacgym/).")
    spec = yaml.safe_load(path.read_text()) or {}
    for key in ("inputs", "shared_inputs"):
        spec[key] = {k: list(v) for k, v in (spec.get(key) or {}).items()}
    return IsaacGymTask(name=name, isaacgymenvs=isaacgymenvs, **spec)
