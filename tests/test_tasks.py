"""Every task in the registry: builds, steps jitted and vmapped, and feeds finite reward inputs."""

import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from eureka_jax import EurekaError, list_tasks, load_task
from eureka_jax.llm.offline import OfflineProposer
from eureka_jax.reward import compile_reward
from tests.conftest import TASK_NAMES

# compiles training programs or runs the CLI: not in the fast tier (-m 'not slow')
pytestmark = pytest.mark.slow

EXPECTED = {
    "cartpole",
    "pendulum_swingup",
    "double_pendulum",
    "ant",
    "humanoid",
    "acrobot_swingup",
    "cheetah_run",
    "shadow_hand_block",
    "shadow_hand_pen",
    "shadow_hand_spin",
}


def test_registry_has_the_zoo():
    assert EXPECTED <= set(TASK_NAMES)


@pytest.mark.parametrize("name", TASK_NAMES)
def test_reset_step_vmapped_no_nan(tasks, rollouts, name):
    """8 jitted, vmapped steps of 4 envs under random actions (the shared rollout)."""
    _, steps = rollouts(name)
    assert steps["obs"].shape[:2] == (16, 8)
    assert np.isfinite(steps["obs"]).all()
    assert np.all(steps["reward"] == 0.0), "task envs are reward-free"
    assert set(np.unique(steps["done"])) <= {0.0, 1.0}


@pytest.mark.parametrize("name", TASK_NAMES)
def test_reward_inputs_finite_and_documented(tasks, transitions, name):
    task = tasks[name]
    inputs = transitions(name)
    assert "action" in inputs
    assert task.fitness_input in inputs
    assert inputs["action"].shape == (16, 8, task.env.action_size)
    for key, spec in task.reward_input_specs.items():
        assert inputs[key].shape == (16, 8, *spec.shape), key
        assert np.isfinite(inputs[key]).all(), f"{name}: reward input {key} is not finite"
        assert f"- {key}:" in task.reward_inputs_text()


@pytest.mark.parametrize("name", TASK_NAMES)
def test_human_and_sparse_rewards_compile_and_run(tasks, transitions, name):
    task = tasks[name]
    inputs = transitions(name)
    for source in (task.human_reward_source, task.sparse_reward_source):
        reward_fn = compile_reward(source, task)
        assert set(reward_fn.input_names) <= set(task.reward_input_names)
        total, parts = jax.vmap(jax.vmap(reward_fn))(inputs)
        assert total.shape == (16, 8)
        assert np.isfinite(np.asarray(total)).all()
        assert set(parts) == set(reward_fn.component_names) and parts


@pytest.mark.parametrize("name", TASK_NAMES)
def test_fresh_offline_proposals_compile_for_every_task(tasks, name):
    """The offline proposer's first programs compile on every task (here, not in
    tests/test_offline.py: the probe's rollout is the one this file's tests compiled)."""
    task = tasks[name]
    for reply in OfflineProposer(task, seed=1).propose([], 2):
        reward_fn = compile_reward(reply, task)
        assert reward_fn.component_names
        goals = {g["input"] for g in task.goals}
        assert goals <= set(reward_fn.input_names)


def test_unknown_task_lists_the_valid_ones():
    with pytest.raises(EurekaError, match=r"unknown task 'nope'.*cartpole.*task_dirs=\["):
        load_task("nope")


def test_task_dirs_mistakes_are_explained():
    from eureka_jax.config import load_config

    folder = list_tasks()["cartpole"]
    with pytest.raises(EurekaError, match=r"is a task folder itself.*task_dirs=\[.*task=cartpole"):
        list_tasks([str(folder)])
    # without brackets, one path or several, it is still a list
    assert list(load_config([f"task_dirs={folder.parent}"]).task_dirs) == [str(folder.parent)]
    assert list(load_config(["task_dirs=/a,/b"]).task_dirs) == ["/a", "/b"]


def test_tasks_are_listed_from_task_yaml_without_building_an_env():
    import yaml

    for name, folder in list_tasks().items():
        task = load_task(name)
        assert "env" not in task.__dict__  # the cached env property was never evaluated
        # the measured verdict as the task folder states it (null: not measured here)
        stated = yaml.safe_load((folder / "task.yaml").read_text()).get("cpu_learns")
        assert task.cpu_learns is stated, name
    assert load_task("cartpole").cpu_learns is True and load_task("humanoid").cpu_learns is False


def test_user_task_dir_is_found(tmp_path):
    shutil.copytree(list_tasks()["cartpole"], tmp_path / "my_cartpole")
    (tmp_path / "my_cartpole" / "task.yaml").write_text(
        (tmp_path / "my_cartpole" / "task.yaml").read_text().replace("name: cartpole", "name: my_cartpole")
    )
    assert "my_cartpole" in list_tasks([str(tmp_path)])
    task = load_task("my_cartpole", [str(tmp_path)])
    assert task.env.action_size == 1


def test_task_folder_errors_say_what_to_fix(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "task.yaml").write_text("description: x\n")
    with pytest.raises(EurekaError, match="lacks env.py, human_reward.py"):
        load_task("broken", [str(tmp_path)])
    with pytest.raises(EurekaError, match="is not a folder"):
        list_tasks([str(tmp_path / "missing")])


def test_sparse_reward_is_the_fitness_signal(tasks):
    task = tasks["cartpole"]
    reward_fn = compile_reward(task.sparse_reward_source, task)
    assert reward_fn.input_names == ("alive",)
    total, parts = reward_fn({"alive": jnp.float32(1.0), "pole_angle": jnp.float32(0.1)})
    assert float(total) == 1.0 and list(parts) == ["alive"]
