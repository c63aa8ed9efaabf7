"""The reward program: a round's reward programs applied to stored reward inputs.

The physics and the learner (``ppo.make_parts``) never see a reward program: the rollout
returns each transition's reward inputs, and the functions here turn them into rewards and
the reward's statistics (episode returns, per-component means, finiteness) for the learner
and the curves. Only this part of a training depends on a round's programs, so only it is
compiled again when the programs change (about a second), while the physics and learner
programs are compiled once per task and settings.

``by_rows`` applies each program to its own rows only (a loop over the rows that switches on
each row's program index, which is data: one compiled reward program serves every row layout
of a shape), so a costly program costs its own rows, not every row of the batch as a
``lax.switch`` under ``vmap`` would. ``reward_switch`` is that switch, for the fused single program
(``ppo.make_train``), which traces the rewards into the training loop.
"""

from __future__ import annotations

import flax
import jax
import jax.numpy as jnp

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


def by_rows(reward_fns, num_components: int, inner_axes: int):
    """``(programs, inputs, constants) -> (total, components)`` over a batch whose leading
    axis is the rows: row r is rewarded by program ``programs[r]`` and by no other.

    A loop over the rows (``lax.map``) whose body switches on the row's program index: not
    batched, ``lax.switch`` runs only the selected branch, so a costly program costs its own
    rows. The row layout is data (``programs`` is traced), so one compiled reward program
    serves every layout of the same shape: a seed race (the leaders dealt over the first
    pass's rows) or a tuning plan reuses the first pass's. Each program is traced once.

    ``programs``: [P] int32; ``inputs``: leaves [P, *inner, ...] with ``inner_axes`` axes
    between the rows and one transition (e.g. seeds, time, envs); ``constants``: [P, n] or
    None. Returns total [P, *inner] and components [P, *inner, M].
    """
    def over_inner(fn):
        for _ in range(inner_axes):
            fn = jax.vmap(fn, in_axes=(0, None))
        return fn

    branches = [over_inner(program(fn, num_components)) for fn in reward_fns]

    def row(args):
        index, x, constants = args
        if len(branches) == 1:
            return branches[0](x, constants)
        return jax.lax.switch(index, branches, x, constants)

    def apply(programs, inputs, constants=None):
        return jax.lax.map(row, (programs, inputs, constants))

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
