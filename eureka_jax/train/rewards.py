"""The reward program: a round's reward programs applied to stored reward inputs.

The physics and the learner (``ppo.make_parts``) never see a reward program: the rollout
returns each transition's reward inputs, and the functions here turn them into rewards and
the reward's statistics (episode returns, per-component means, finiteness) for the learner
and the curves. Only this part of a training depends on a round's programs, so only it is
compiled again when the programs change (about a second), while the physics and learner
programs are compiled once per task and settings.

``by_rows`` applies each program to its own rows only (rows are static: a candidate's rows
are gathered, its program runs on them, and the results are put back in row order), so a
costly program costs its own rows, not every row of the batch as a ``lax.switch`` under
``vmap`` would. ``reward_switch`` is that switch, for the fused single program
(``ppo.make_train``), which traces the rewards into the training loop.
"""

from __future__ import annotations

from collections import OrderedDict

import flax
import jax
import jax.numpy as jnp
import numpy as np

from eureka_jax.train.curves import _Episodes


def component_count(reward_fns) -> int:
    """M: the largest number of components of any program (rows are padded to it)."""
    return max([len(fn.component_names) for fn in reward_fns] + [0])


def program(reward_fn, num_components: int):
    """``(inputs, constants=None) -> (total, components[M])`` of one transition: the program's
    components in the order of its ``component_names``, padded with zeros to M."""

    def apply(inputs, constants=None):
        total, parts = reward_fn(inputs, constants)
        values = [jnp.asarray(parts[name], jnp.float32) for name in reward_fn.component_names]
        padded = values + [jnp.zeros((), jnp.float32)] * (num_components - len(values))
        return jnp.asarray(total, jnp.float32), jnp.stack(padded) if padded else jnp.zeros(0)

    return apply


def reward_switch(reward_fns, num_components: int):
    """One function ``(candidate_index, inputs, constants=None) -> (total, components[M])``
    over all candidates (``lax.switch``; under ``vmap`` every branch runs for every row and
    ``select`` keeps the row's own). ``constants``: None (every program's own literals) or an
    array [max number of constants] of values for the selected program's tunable constants
    (its first ``len(fn.constants)`` entries; ``eureka_jax.tune``)."""
    branches = [program(fn, num_components) for fn in reward_fns]

    def apply(index, inputs, constants=None):
        if len(branches) == 1:
            return branches[0](inputs, constants)
        if constants is None:
            return jax.lax.switch(index, branches, inputs)
        return jax.lax.switch(index, branches, inputs, constants)

    return apply


def by_rows(reward_fns, rows, num_components: int, inner_axes: int):
    """``(inputs, constants) -> (total, components)`` over a batch whose leading axis is the
    rows: row r is rewarded by program ``rows[r]`` and by no other.

    ``inputs``: leaves [P, *inner, ...] with ``inner_axes`` axes between the rows and one
    transition (e.g. seeds, time, envs); ``constants``: [P, n] or None. Returns total
    [P, *inner] and components [P, *inner, M].
    """
    rows = [int(r) for r in rows]
    groups: OrderedDict = OrderedDict()
    for r, k in enumerate(rows):
        groups.setdefault(k, []).append(r)
    order = np.concatenate([np.asarray(g) for g in groups.values()])
    back = np.argsort(order)

    def over_inner(fn):
        for _ in range(inner_axes):
            fn = jax.vmap(fn, in_axes=(0, None))
        return fn

    def apply(inputs, constants=None):
        totals, comps = [], []
        for k, members in groups.items():
            idx = np.asarray(members)
            if np.all(np.diff(idx) == 1):  # a contiguous block: a slice, no gather
                def take(x, lo=int(idx[0]), hi=int(idx[-1]) + 1):
                    return x[lo:hi]
            else:
                def take(x, idx=idx):
                    return x[idx]
            one = over_inner(program(reward_fns[k], num_components))
            x = jax.tree.map(take, inputs)
            if constants is None:
                def no_constants(x, one=one):
                    return one(x, None)

                t, c = jax.vmap(no_constants)(x)
            else:
                t, c = jax.vmap(one)(x, take(constants))
            totals.append(t)
            comps.append(c)
        total = jnp.concatenate(totals)
        comp = jnp.concatenate(comps)
        if not np.array_equal(back, np.arange(len(rows))):
            total, comp = total[back], comp[back]
        return total, comp

    return apply


@flax.struct.dataclass
class RewardState:
    """Per training run: the reward's side of the training episodes (return and component
    sums of each env's current and last completed episode) and whether a reward went
    non-finite."""

    episodes: _Episodes
    nonfinite: jnp.ndarray

    @classmethod
    def zeros(cls, num_envs: int, num_components: int):
        return cls(_Episodes.zeros(num_envs, num_components), jnp.array(False))


def account(state: RewardState, total, comps, done, per_episode):
    """One run's rewards of an unroll ([T, envs], [T, envs, M], done [T, envs]) added to its
    episode sums; returns (state, (mean episode return, [M] component means, non-finite so
    far)) of the training envs (each env's last completed episode, or its current one)."""
    finite = jnp.isfinite(total).all() & jnp.isfinite(comps).all()

    def step(episodes, x):
        t, c, d = x
        return episodes.add(t, jnp.zeros_like(t), c, d, per_episode), None

    episodes, _ = jax.lax.scan(step, state.episodes, (total, comps, done))
    state = RewardState(episodes=episodes, nonfinite=state.nonfinite | ~finite)
    _, ret, _, comp_means = episodes.summary(per_episode)
    return state, (ret, comp_means, state.nonfinite)


def episode_sums(total, comps, alive, length):
    """One run's evaluation episodes ([L, n] rewards, [L, n, M] components, [L, n] whether
    each env was still in its episode at that step, [n] lengths): (mean return over envs,
    [M] mean over envs of each component's per-step mean, all counted rewards finite)."""
    ok = jnp.isfinite(total) & jnp.isfinite(comps).all(-1)
    finite = jnp.where(alive, ok, True).all()
    ret = jnp.where(alive, total, 0.0).sum(0)
    comp_means = jnp.where(alive[..., None], comps, 0.0).sum(0) / jnp.maximum(length, 1.0)[:, None]
    return jnp.mean(ret), jnp.mean(comp_means, 0), finite, ret
