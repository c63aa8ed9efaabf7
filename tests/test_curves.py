"""The watch statistics of the evaluation episodes (eureka_jax/train/curves.py): each declared
quantity reduced per step, counted only where its condition holds and its env is still in its
episode, pooled over envs. Small arrays, no environment: fast tier."""

from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np
import pytest

from eureka_jax.errors import EurekaError
from eureka_jax.train.curves import watch_fn, watch_mean, watch_update

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


def test_pooled_means_count_only_live_steps_where_the_condition_held():
    w = jnp.zeros((2, 1))
    n = jnp.zeros((2, 1))
    # env 0: values 1, 3 while alive; env 1: 10 while alive, then 100 after its episode ended
    w, n = watch_update(w, n, jnp.array([[1.0], [10.0]]), jnp.ones((2, 1)), jnp.array([1., 1.]))
    w, n = watch_update(w, n, jnp.array([[3.0], [100.0]]), jnp.ones((2, 1)), jnp.array([1., 0.]))
    assert float(watch_mean(w, n)[0]) == pytest.approx((1 + 3 + 10) / 3)
    never = watch_mean(jnp.zeros((2, 1)), jnp.zeros((2, 1)))
    assert np.isnan(float(never[0]))  # a condition that never held is NaN, not 0


def test_a_watch_naming_an_unknown_input_is_one_sentence():
    bad = SimpleNamespace(**{**vars(Task), "watch": [{"name": "x", "input": "velocty"}]})

    with pytest.raises(EurekaError, match="watch 'x' names input 'velocty', which is not a "
                                          "reward input; choose one of angle, upright, velocity"):
        watch_fn(bad)
