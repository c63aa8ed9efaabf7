"""Budget checks: a budget too small to judge rewards by is said before and during a search."""

import dataclasses
from pathlib import Path

import pytest

from eureka_jax.budget import budget_note, budget_warnings, episodes_per_env
from eureka_jax.reflect import reflect
from eureka_jax.task import load_task
from eureka_jax.train import TrainConfig

TASKS = str(Path(__file__).parent / "fixtures" / "tasks")


def test_budget_warnings_and_the_reflection_blame_the_budget_not_the_reward():
    task = dataclasses.replace(load_task("countdown", [TASKS]), episode_length=1000)
    small = TrainConfig(num_envs=16, unroll_length=32, num_updates=50, num_evals=5)
    assert episodes_per_env(task, small) == 1.6
    (warning,) = budget_warnings(task, small)
    assert "at most 1.6 episode(s) of 1000 steps" in warning and "max_iterations" in warning
    big = dataclasses.replace(small, num_updates=200)
    assert budget_warnings(task, big) == [] and budget_note(task, big) is None
    smoke = dataclasses.replace(task, cpu_learns=False)
    assert "smoke test" in budget_warnings(smoke, big)[0]
    assert budget_warnings(smoke, big, platform="gpu") == []
    flat = reflect([0.0, 0.0], [1000, 1000], {"x": [0.1, 0.2]}, "score", 1000,
                   budget_note=budget_note(task, small))
    assert "budget's fault" in flat and "write a different reward" not in flat


def test_the_old_name_of_num_evals_is_still_accepted():
    from eureka_jax.train.config import split_train_settings

    config, _ = split_train_settings({"num_updates": 10, "num_checkpoints": 5})
    assert config.num_evals == 5


def test_every_task_has_a_gpu_profile_and_the_published_ones_match():
    from eureka_jax.config import load_config
    from eureka_jax.errors import EurekaError
    from eureka_jax.task import list_tasks, load_task
    from eureka_jax.train.config import training_settings

    for name in list_tasks():
        config, _ = training_settings(load_config([f"task={name}", "profile=gpu"]),
                                      load_task(name))
        assert config.num_envs >= 2048 and config.total_env_steps >= 5_000_000, name
    # Brax's published ant PPO (notebooks/training.ipynb): 4096 envs, unroll 5, 32
    # minibatches, 4 epochs, lr 3e-4, discount 0.97, 50M steps
    ant, hp = training_settings(load_config(["task=ant", "profile=gpu"]), load_task("ant"))
    assert (ant.num_envs, ant.unroll_length, ant.num_minibatches, ant.update_epochs) == \
        (4096, 5, 32, 4)
    assert abs(ant.total_env_steps - 50_000_000) / 50_000_000 < 0.01
    assert float(hp.learning_rate) == pytest.approx(3e-4)
    assert float(hp.discounting) == pytest.approx(0.97)
    with pytest.raises(EurekaError, match="profile=bogus is not known"):
        load_config(["profile=bogus"])
    fixture = load_task("countdown", [str(Path(__file__).parent / "fixtures" / "tasks")])
    with pytest.raises(EurekaError, match="no gpu profile"):
        training_settings(load_config(["profile=gpu"]), fixture)


def test_bad_new_settings_are_one_sentence(tmp_path):
    import shutil

    from eureka_jax.config import load_config
    from eureka_jax.errors import EurekaError
    from eureka_jax.reward import policy_for

    with pytest.raises(EurekaError, match="reward_cost_ratio=0 must be > 0"):
        policy_for(load_config(["reward_cost_ratio=0"]))
    root = tmp_path / "tasks"
    shutil.copytree(Path(TASKS) / "countdown", root / "countdown")
    spec = root / "countdown" / "task.yaml"
    base = spec.read_text()
    spec.write_text(base + "  - {name: bad, input: t, reduce: median}\n")
    with pytest.raises(EurekaError, match="watch 'bad' has reduce 'median'; use one of"):
        load_task("countdown", [str(root)])
    spec.write_text(base + "variants:\n  countdown: {simulator: other}\n")
    with pytest.raises(EurekaError, match="variant 'countdown' sets simulator, which a variant"):
        load_task("countdown", [str(root)])


def test_the_budget_ladder_counts_learning_against_the_tasks_own_bar(tmp_path):
    import shutil

    import yaml

    from benchmarks.budgets import learns
    from eureka_jax.errors import EurekaError
    from eureka_jax.task import load_task

    # a fraction task: the better reward at 0.5 or more, its seeds agreeing
    assert learns({"human": [0.9, 0.8, 0.85], "sparse": [0.0, 0.1, 0.0]})
    assert not learns({"human": [0.45, 0.4, 0.42], "sparse": [0.1, 0.1, 0.1]})
    # minus a distance (quadcopter's bar -0.5 m): -1.33 m does not learn, -0.35 m does
    assert load_task("quadcopter").learns_at == -0.5 and load_task("cartpole").learns_at == 0.5
    far = {"human": [-1.33, -1.30, -1.36], "sparse": [-1.32, -1.30, -1.35], "learns_at": -0.5}
    near = {"human": [-0.30, -0.35, -0.40], "sparse": [-1.0, -1.0, -1.0], "learns_at": -0.5}
    assert not learns(far) and learns(near)
    # a bar that is not a number is one sentence naming the file and what to write
    shutil.copytree(load_task("cartpole").path, tmp_path / "mycart")
    spec = yaml.safe_load((tmp_path / "mycart" / "task.yaml").read_text())
    spec["name"], spec["fitness"]["learns_at"] = "mycart", "half"
    (tmp_path / "mycart" / "task.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(EurekaError, match=r"mycart/task.yaml: fitness.learns_at is 'half'; give "
                                          r"the fitness a budget rung must reach"):
        load_task("mycart", [str(tmp_path)])
