"""Opt-in: the Isaac Gym bridge against the real IsaacGymEnvs and Eureka sources.

Runs only with ``EUREKA_JAX_IGE=/path/to/IsaacGymEnvs`` and/or
``EUREKA_JAX_EUREKA=/path/to/Eureka`` (a checkout, or an export of it without the asset blobs:
``git archive HEAD isaacgymenvs`` in IsaacGymEnvs; ``git archive
HEAD:isaacgymenvs/isaacgymenvs __init__.py cfg learning tasks train.py utils`` in Eureka; the
repository root or the ``isaacgymenvs`` package folder). For every task spec of
``configs/isaacgym/`` that the source has:

- the launcher's command line starts the real ``train.py`` through real hydra and the real
  rl_games in the conformance environment, with Isaac Gym replaced by a stand-in
  (``tests/fixtures/isaacgym/upstream_stub``) that stops at task creation; the config hydra
  composed carries every override, and the class being built is ours (the mixin first);
- the pruner and the model facts on the real task file and YAML: the observation code kept,
  the reward and its constants gone, every reward input an attribute the task sets, and the
  facts showing what trains (objectType) and nothing reward-only.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from eureka_jax.bridges.isaacgym import list_isaacgym_tasks, load_isaacgym_task
from eureka_jax.bridges.isaacgym.context import build_context
from eureka_jax.bridges.isaacgym.jobs import Job, command_line, reward_spec
from eureka_jax.reward import compile_reward
from tests.isaacgym_standin import FIXTURES, write_interpreter

pytestmark = pytest.mark.slow


def _package(root: str) -> Path:
    root = Path(root).expanduser()
    for candidate in (root / "isaacgymenvs" / "isaacgymenvs", root / "isaacgymenvs", root):
        if (candidate / "train.py").is_file() and (candidate / "tasks").is_dir():
            return candidate
    raise AssertionError(f"{root} holds no isaacgymenvs package (train.py and tasks/)")


SOURCES = [pytest.param(os.environ.get(var), id=name, marks=pytest.mark.skipif(
    not os.environ.get(var), reason=f"set {var}=/path/to/{name} to run"))
    for var, name in (("EUREKA_JAX_IGE", "IsaacGymEnvs"), ("EUREKA_JAX_EUREKA", "Eureka"))]
# pysdf and urdfpy (IsaacGymEnvs' industreal tasks import them) do not install on Python 3.11
PLACEHOLDER_MODULES = "pysdf,urdfpy"


def _specs(package: Path):
    return [name for name in list_isaacgym_tasks()
            if (package / load_isaacgym_task(name).task_file).is_file()]


def _first_reward(task) -> str:
    names = [n for n in ("object_rot", "goal_rot") if n in task.inputs] or list(task.inputs)[:1]
    terms = " + ".join(f"jnp.sum({n})" for n in names)
    return (f"import jax.numpy as jnp\n\ndef compute_reward({', '.join(names)}):\n"
            f"    term = -jnp.abs({terms})\n    return term, {{'term': term}}\n")


@pytest.mark.parametrize("root", SOURCES)
def test_real_train_py_starts_through_real_hydra_up_to_task_creation(root, tmp_path,
                                                                     conformance_python):
    package = _package(root)
    python = write_interpreter(tmp_path / "python", conformance_python,
                               FIXTURES / "upstream_stub")
    checkpoint = tmp_path / "stage one.pth"
    torch.save({"epoch": 5, "frame": 640, "model": {}}, checkpoint)
    names = _specs(package)
    assert names, f"{package} has none of the task files of configs/isaacgym/"
    for name in names:
        task = load_isaacgym_task(name, str(package))
        run_dir = tmp_path / f"{name} run"
        run_dir.mkdir()
        spec = run_dir / "reward.json"
        spec.write_text(json.dumps(reward_spec(compile_reward(_first_reward(task), task), task)))
        argv, env = command_line(Job("cand/1", 1, 11, spec, run_dir), task, str(python), 7,
                                 num_envs=64)
        argv.append(f"checkpoint={checkpoint}")
        report = run_dir / "stub_report.json"
        done = subprocess.run(argv, cwd=run_dir, capture_output=True, text=True, check=False,
                              env={**os.environ, **env, "PYTORCH_JIT": "0",
                                   "EUREKA_JAX_STUB_REPORT": str(report),
                                   "EUREKA_JAX_STUB_MODULES": PLACEHOLDER_MODULES})
        assert "StubStop" in done.stderr and report.is_file(), (name, done.stderr[-4000:])
        found = json.loads(report.read_text())
        config = found["config"]
        assert config["task_name"] == task.task_class, name
        assert config["task"]["env"]["numEnvs"] == 64, name
        assert config["seed"] == 11 and config["headless"] is True, name
        assert config["sim_device"] == config["rl_device"] == "cuda:0", name
        assert config["train"]["params"]["config"]["max_epochs"] == 7, name
        assert config["train"]["params"]["config"]["name"] == "cand_1_seed11", name
        # the hand-off: a copy of the checkpoint with fresh counters, in the run directory
        assert config["checkpoint"] == str(run_dir / "handoff_checkpoint.pth"), name
        assert torch.load(config["checkpoint"], weights_only=False)["epoch"] == 0
        for override in task.overrides:
            key, _, value = override.partition("=")
            node = config
            for part in key.split("."):
                node = node[part]
            assert str(node) == value, (name, override)
        assert found["task_class_mro"][:2] == [task.task_class, "EurekaRewardMixin"], name


@pytest.mark.parametrize("root", SOURCES)
def test_context_and_facts_on_the_real_task_files(root):
    package = _package(root)
    for name in _specs(package):
        task = load_isaacgym_task(name, str(package))
        ctx = build_context(task.task_path(), task.class_name)
        assert "def compute_observations" in ctx.source, name
        for gone in ("reach_goal_bonus", "fall_penalty", "action_penalty_scale", "rot_eps",
                     "success_tolerance", "def compute_hand_reward", "def __init__"):
            assert gone not in ctx.source, (name, gone)
        # every per-env input of the spec is an attribute the task sets (the action tensor is
        # the mixin's argument)
        missing = [n for n in task.inputs if n != "actions" and n not in ctx.attributes
                   and f"self.{n}" not in task.task_path().read_text()]
        assert not missing, (name, missing)
        facts = task.model_facts()
        assert "objectType" in facts, name
        object_type = next(o.partition("=")[2] for o in task.overrides
                           if o.startswith("task.env.objectType=")) if any(
            o.startswith("task.env.objectType=") for o in task.overrides) else None
        if object_type:
            assert f"- objectType: {object_type}" in facts, name
        for reward_only in ("rotEps", "reachGoalBonus", "distRewardScale", "fallPenalty",
                            "successTolerance", "actionPenaltyScale"):
            assert reward_only not in facts, (name, reward_only)
        text = task.context()
        assert "compute_hand_reward" not in text and "Task:" in text, name
