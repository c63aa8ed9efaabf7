"""The watch statistics of the evaluation episodes (eureka_jax/train/curves.py): each declared
quantity reduced per step and gated by its condition (their accumulation over an episode is
tested against a loop in test_train.py). Small arrays, no environment: fast tier."""

from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np
import pytest

from eureka_jax.errors import EurekaError
from eureka_jax.train.curves import watch_fn

Task = SimpleNamespace(name="toy", reward_input_specs=dict.fromkeys(("velocity", "angle",
                                                                     "upright")), watch=[
    {"name": "speed", "input": "velocity", "reduce": "norm"},
    {"name": "vx", "input": "velocity", "index": 0, "reduce": "abs"},
    {"name": "spin_when_up", "input": "angle", "reduce": "abs", "where": "upright"},
])


def test_each_statistic_is_reduced_and_gated_per_step():
    one, width = watch_fn(Task)
    assert width == 3
    values, conds = one({"velocity": jnp.array([-3.0, 4.0]), "angle": jnp.array(-0.5),
                         "upright": jnp.array(0.0)})
    np.testing.assert_allclose(values, [5.0, 3.0, 0.5])
    np.testing.assert_allclose(conds, [1.0, 1.0, 0.0])  # not upright: spin not counted


def test_a_watch_naming_an_unknown_input_is_one_sentence():
    bad = SimpleNamespace(**{**vars(Task), "watch": [{"name": "x", "input": "velocty"}]})

    with pytest.raises(EurekaError, match="watch 'x' names input 'velocty', which is not a "
                                          "reward input; choose one of angle, upright, velocity"):
        watch_fn(bad)


def test_the_learner_is_a_setting_with_a_one_sentence_error():
    from eureka_jax.train.config import split_train_settings
    from eureka_jax.train.learners import learner

    config, _ = split_train_settings({"learner": "ppo"})
    assert hasattr(learner(config.learner), "make_parts")
    with pytest.raises(EurekaError, match="train.learner=sac is not known; use "
                                          "train.learner=ppo"):
        split_train_settings({"learner": "sac"})
