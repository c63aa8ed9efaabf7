"""Shadow Hand tasks: goal logic on constructed orientations and states, the three variants
and the asymmetric observation (the pen-spinning curriculum: tests/test_curriculum.py)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brax import math as bmath

from eureka_jax.task import list_tasks, load_task
from tests.conftest import run_cli

# compiles training programs or runs the CLI: not in the fast tier (-m 'not slow')
pytestmark = pytest.mark.slow

X, Y, Z = jnp.eye(3)
# the hand's environment module: envs/shadow_hand/env.py, shared by the three variants
HAND = load_task("shadow_hand_block").env_module
advance_goal, axis_distance, quat_distance = (HAND.advance_goal, HAND.axis_distance,
                                              HAND.quat_distance)


def rot(axis, angle):
    return bmath.quat_rot_axis(axis, angle)


def test_block_distance_is_the_rotation_angle():
    q = rot(Y, 0.3)
    assert float(quat_distance(q, q)) == pytest.approx(0.0, abs=1e-3)
    assert float(quat_distance(bmath.quat_mul(rot(X, 0.5), q), q)) == pytest.approx(0.5, abs=1e-4)
    assert float(quat_distance(-q, q)) == pytest.approx(0.0, abs=1e-3)  # same rotation


def test_pen_distance_ignores_roll_and_which_end_is_which():
    q = rot(Y, 0.7)
    assert float(axis_distance(bmath.quat_mul(q, rot(Z, 1.3)), q)) < 1e-3  # roll about the pen
    assert float(axis_distance(bmath.quat_mul(q, rot(X, math.pi)), q)) < 1e-3  # ends swapped
    tilted = bmath.quat_mul(q, rot(X, 0.4))
    assert float(axis_distance(tilted, q)) == pytest.approx(0.4, abs=1e-4)
    # the block distance does see the flip the pen ignores
    assert float(quat_distance(bmath.quat_mul(q, rot(X, math.pi)), q)) == pytest.approx(math.pi,
                                                                                     abs=1e-3)


def test_goal_advances_only_on_success():
    goal, key = rot(X, 0.2), jax.random.PRNGKey(3)
    spun = advance_goal(goal, jnp.ones(()), key, "spin", math.pi / 4, (0.0, 0.0, 1.0))
    np.testing.assert_allclose(spun, bmath.quat_mul(rot(Z, math.pi / 4), goal), atol=1e-6)
    assert float(quat_distance(spun, goal)) == pytest.approx(math.pi / 4, abs=1e-4)
    np.testing.assert_array_equal(
        advance_goal(goal, jnp.zeros(()), key, "spin", math.pi / 4, (0, 0, 1)), goal)
    new = advance_goal(goal, jnp.ones(()), key, "random", 0.0, (0, 0, 1))
    assert float(jnp.linalg.norm(new)) == pytest.approx(1.0, abs=1e-5)
    assert float(quat_distance(new, goal)) > 1e-2
    np.testing.assert_array_equal(advance_goal(goal, jnp.zeros(()), key, "random", 0.0, (0, 0, 1)),
                                  goal)


def test_pen_step_detects_success_symmetrically_and_moves_the_goal(tasks):
    """Two pens: env 0's goal is its own orientation with the ends swapped (a success for a
    symmetric pen), env 1's goal is tilted 90 degrees (no success)."""
    env = tasks["shadow_hand_pen"].env
    state = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), 2))
    pen = jax.vmap(env.object_quat)(state.data)
    goals = jnp.stack([bmath.quat_mul(pen[0], rot(X, math.pi)),
                       bmath.quat_mul(pen[1], rot(X, math.pi / 2))])
    info = dict(state.info, goal_quat=goals)
    nxt = jax.jit(jax.vmap(env.step))(state.replace(info=info), jnp.zeros((2, env.action_size)))
    np.testing.assert_array_equal(nxt.info["success"], [1.0, 0.0])
    np.testing.assert_array_equal(nxt.info["successes"], [1.0, 0.0])
    assert float(quat_distance(nxt.info["goal_quat"][0], goals[0])) > 1e-2  # a new goal
    np.testing.assert_array_equal(nxt.info["goal_quat"][1], goals[1])  # unchanged
    inputs = jax.vmap(env.reward_inputs)(state.replace(info=info), jnp.zeros((2, 20)), nxt)
    np.testing.assert_array_equal(inputs["success"], [1.0, 0.0])
    np.testing.assert_allclose(inputs["goal_quat"], goals)  # the goal the step aimed at
    assert float(inputs["rot_dist"][1]) == pytest.approx(math.pi / 2, abs=0.1)


def test_spin_goal_starts_one_increment_ahead(tasks, transitions):
    env = tasks["shadow_hand_spin"].env
    state = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(1), 4))
    pen = jax.vmap(env.object_quat)(state.data)
    ahead = jax.vmap(lambda q: bmath.quat_mul(rot(Z, env._config.spin_increment), q))(pen)
    np.testing.assert_allclose(jax.vmap(quat_distance)(state.info["goal_quat"], ahead), 0.0,
                               atol=2e-3)


def test_the_three_tasks_are_variants_of_one_folder_with_a_count_fitness():
    out = run_cli("tasks")
    assert out.returncode == 0, out.stderr
    names = ("shadow_hand_block", "shadow_hand_pen", "shadow_hand_spin")
    for name in names:
        assert name in out.stdout
    folders = {list_tasks()[n] for n in names}
    assert len(folders) == 1 and folders.pop().name == "shadow_hand"
    tasks = {n: load_task(n) for n in names}
    assert len({t.description for t in tasks.values()}) == 3  # each variant its own words
    assert {t.fitness_aggregate for t in tasks.values()} == {"sum"}  # shared: a count
    assert tasks["shadow_hand_spin"].env_config == {"scene": "hand_pen.xml", "symmetric": True,
                                                    "goal_mode": "spin"}


def test_the_asymmetric_observation_gives_the_critic_the_full_state_and_the_policy_less(tasks):
    import dataclasses

    from eureka_jax.train.ppo import observation_layout

    base = tasks["shadow_hand_block"]
    task = dataclasses.replace(base, env_config={**base.env_config, "observation": "asymmetric"})
    assert base.env.observation_size == 100
    shapes, keys = observation_layout(task)
    assert shapes == {"state": (55,), "privileged_state": (100,)}
    assert keys == {"policy_obs_key": "state", "value_obs_key": "privileged_state"}
    state = jax.jit(task.env.reset)(jax.random.PRNGKey(0))
    full = jax.jit(base.env.reset)(jax.random.PRNGKey(0))
    # the critic's input is exactly the symmetric observation; the policy's a part of it
    np.testing.assert_array_equal(state.obs["privileged_state"], full.obs)
    np.testing.assert_array_equal(state.obs["state"][:24], full.obs[:24])  # joint positions
