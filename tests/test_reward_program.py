"""The reward program of the split trainer (``eureka_jax.train.rewards``): each row rewarded by
its own program, episode sums as a loop would count them. Pure functions on small arrays: fast
tier."""

import jax
import jax.numpy as jnp
import numpy as np

from eureka_jax.reward import RewardFn
from eureka_jax.train import rewards
from eureka_jax.train.curves import _Episodes


def _fn(name, scale, calls, with_x=True, seen=None):
    def reward(x):
        calls.append(name)  # Python runs once per trace of the program
        if seen is not None:  # at run time: which rows this program was given
            jax.debug.callback(lambda v: seen.setdefault(name, set()).update(
                np.unique(np.asarray(v) // 24).astype(int).tolist()), x)
        parts = {"scaled": scale * x, "x": x} if with_x else {"scaled": scale * x}
        return scale * x, parts

    return RewardFn(source=f"({name})", entry="compute_reward", input_names=("x",),
                    component_names=("scaled", "x") if with_x else ("scaled",),
                    trusted_fn=reward)


def test_each_row_is_rewarded_by_its_own_program_in_row_order():
    calls, seen = [], {}
    fns = [_fn("double", 2.0, calls, seen=seen), _fn("triple", 3.0, calls, False, seen),
           _fn("minus", -1.0, calls, seen=seen)]
    x = jnp.arange(5 * 2 * 3 * 4, dtype=jnp.float32).reshape(5, 2, 3, 4)  # [P, S, T, envs]
    apply = jax.jit(rewards.by_rows(fns, rewards.component_count(fns), inner_axes=3))
    total, comps = apply(jnp.array([2, 0, 2, 1, 0]), {"x": x})
    scale = np.array([-1.0, 2.0, -1.0, 3.0, 2.0])[:, None, None, None]
    np.testing.assert_allclose(total, scale * np.asarray(x))
    assert comps.shape == (5, 2, 3, 4, 2)
    np.testing.assert_allclose(comps[..., 0], scale * np.asarray(x))
    # components padded with zeros for the program that has fewer
    np.testing.assert_allclose(comps[3, ..., 1], 0.0)
    np.testing.assert_allclose(comps[0, ..., 1], np.asarray(x)[0])
    # at run time each program saw its own rows and no other (row r holds 24r .. 24r + 23)
    assert seen == {"minus": {0, 2}, "double": {1, 4}, "triple": {3}}
    # every program is traced once, whatever the number of its rows
    assert sorted(calls) == ["double", "minus", "triple"]

    # the layout is data: another layout runs through the same compiled program
    seen.clear()
    total, _ = apply(jnp.array([1, 1, 0, 0, 2]), {"x": x})
    np.testing.assert_allclose(total, np.array([3.0, 3.0, 2.0, 2.0, -1.0])[:, None, None, None]
                               * np.asarray(x))
    assert seen == {"triple": {0, 1}, "double": {2, 3}, "minus": {4}}
    assert sorted(calls) == ["double", "minus", "triple"]  # not traced again
    assert apply._cache_size() == 1


def test_account_matches_the_episode_bookkeeping_of_a_loop():
    per_episode = lambda fit, length: fit / 10.0
    T, n, m = 7, 3, 2
    rng = np.random.default_rng(0)
    total = rng.normal(size=(T, n)).astype(np.float32)
    comps = rng.normal(size=(T, n, m)).astype(np.float32)
    done = (rng.random((T, n)) < 0.3).astype(np.float32)
    state, (ret, comp_means, bad) = rewards.account(
        rewards.RewardState.zeros(n, m), jnp.asarray(total), jnp.asarray(comps),
        jnp.asarray(done), per_episode)
    episodes = _Episodes.zeros(n, m)
    for t in range(T):
        episodes = episodes.add(jnp.asarray(total[t]), jnp.zeros(n), jnp.asarray(comps[t]),
                                jnp.asarray(done[t]), per_episode)
    _, want_ret, _, want_comps = episodes.summary(per_episode)
    np.testing.assert_allclose(ret, want_ret, rtol=1e-6)
    np.testing.assert_allclose(comp_means, want_comps, rtol=1e-6)
    assert not bool(bad)
    total[2, 1] = np.nan
    _, (_, _, bad) = rewards.account(state, jnp.asarray(total), jnp.asarray(comps),
                                     jnp.asarray(done), per_episode)
    assert bool(bad)


def test_evaluation_sums_count_only_the_steps_each_env_was_alive():
    alive = np.array([[1, 1], [1, 0], [0, 0]], bool)  # env 0 ran 2 steps, env 1 one
    total = np.array([[1.0, 2.0], [3.0, np.nan], [np.nan, 5.0]], np.float32)
    comps = total[..., None]
    ret, comp_means, finite, per_env = rewards.episode_sums(
        jnp.asarray(total), jnp.asarray(comps), jnp.asarray(alive), jnp.array([2.0, 1.0]))
    np.testing.assert_allclose(per_env, [4.0, 2.0])
    assert float(ret) == 3.0 and bool(finite)  # NaN after an env's end does not count
    np.testing.assert_allclose(comp_means, [(4.0 / 2 + 2.0 / 1) / 2])
