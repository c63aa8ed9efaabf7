"""Budget checks: a budget too small to judge rewards by is said before and during a search."""

import dataclasses
from pathlib import Path

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
