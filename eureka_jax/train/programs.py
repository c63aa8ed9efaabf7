"""The compiled programs of one training, by how often they compile: the physics and learner
programs (init, begin, roll, learn, evaluate, end) once per task, settings and batch shape;
the reward statistics (``account``, the evaluation's ``chunks`` and ``stats``) once per task and
component width; the round's one reward program (``apply``) per round. ``batch`` is the
trainer's record of one call's inputs (``eureka_jax.train.batch._Batch``)."""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np

from eureka_jax.train import learners
from eureka_jax.train import rewards as rewards_lib
from eureka_jax.train.ppo import evaluation_stats


def batched(fn, in_axes):
    """``fn`` of one run over [P, S] runs: ``in_axes`` per argument, 0 (batched) or None."""
    return jax.vmap(jax.vmap(fn, in_axes=in_axes), in_axes=in_axes)


def per_device(fn, spread, in_specs=None):
    """``fn`` run by each device on its own rows (``shard_map`` over the candidate axis).
    For the programs with a ``while_loop`` whose end depends on the rows (the evaluation
    episodes end when every env of every row has): under plain ``jit`` the loop's condition
    is reduced over all rows, an all-reduce across devices at every step (NCCL on GPUs, gloo
    between processes), which on CPU devices could also deadlock (seen with 2 CPU devices
    on 2 cores: XLA's rendezvous timed out after 40 s). Each device's loop then ends when its
    own rows have ended; the episodes are independent, so nothing else changes. The reward
    program loops over each device's rows the same way. ``check_vma`` is off: a reward
    program whose output does not depend on its inputs (a constant component) would
    otherwise differ in type from the other branches of the rows' switch.
    ``in_specs``: one spec per argument (default: every argument spread)."""
    from jax.sharding import PartitionSpec

    rows = PartitionSpec("candidates")
    return jax.shard_map(fn, mesh=spread.mesh, in_specs=rows if in_specs is None else in_specs,
                         out_specs=rows, check_vma=False)


def compile_all(lowered: dict) -> dict:
    """XLA compiles of several lowered programs at once (XLA releases the GIL: on 2 cores
    the six programs of a training compile in about the time of the two largest)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(len(lowered), os.cpu_count() or 1)) as pool:
        futures = {name: pool.submit(low.compile) for name, low in lowered.items()}
        return {name: future.result() for name, future in futures.items()}


def physics_programs(batch):
    """The compiled reward-free programs of this batch's shape (the learner's
    ``make_parts``): init, begin, roll, learn, evaluate, end; the same for every round's
    reward programs."""
    parts = learners.parts(batch.task, batch.config, batch.randomize())
    spread, rep = batch.spread, batch.replicated
    init_args, init_axes, init_fn = init_call(batch, parts)
    seed_axes = init_axes[:-1] + (None,) if batch.physics is not None else init_axes
    init = jax.jit(jax.vmap(jax.vmap(init_fn, in_axes=seed_axes), in_axes=init_axes),
                   in_shardings=tuple(spread if a == 0 else rep for a in init_axes),
                   out_shardings=spread)
    begin = jax.jit(batched(parts.begin, (0, None)), in_shardings=(spread, rep),
                    out_shardings=spread, donate_argnums=0)
    roll = jax.jit(batched(parts.roll, (0,)), in_shardings=(spread,), out_shardings=spread,
                   donate_argnums=0)
    learn = jax.jit(batched(parts.learn, (0, 0, 0, None)),
                    in_shardings=(spread, spread, spread, rep), out_shardings=spread,
                    donate_argnums=0)
    evaluate = jax.jit(per_device(parts.evaluate_runs, spread), in_shardings=(spread,),
                       out_shardings=spread)
    end = jax.jit(batched(lambda c: parts.end(c)[1], (0,)), in_shardings=(spread,),
                  out_shardings=spread)
    # each program is traced once: the shapes of what it returns come from its lowering
    lowered = {"init": init.lower(*init_args)}
    carry = lowered["init"].out_info
    lowered["roll"] = roll.lower(carry)
    rollout = lowered["roll"].out_info[1]
    total = jax.ShapeDtypeStruct(rollout.done.shape, jnp.float32)
    lowered.update(begin=begin.lower(carry, jax.ShapeDtypeStruct((), jnp.int32)),
                   learn=learn.lower(carry, rollout, total, batch.hparams), end=end.lower(carry))
    if batch.config.eval_envs:
        lowered["evaluate"] = evaluate.lower(carry)
    compiled = compile_all(lowered)
    shapes = {"rollout": rollout,
              "episodes": lowered["evaluate"].out_info if batch.config.eval_envs else None}
    return parts, compiled, shapes


def init_call(batch, parts):
    """(arguments, their row axes, the function) of the ``init`` program: keys and
    hyperparameters, then the parameters to start from and the randomization tables where
    the batch has them (those last are per row, shared by the row's seeds)."""
    extra = [x for x in (batch.init, batch.physics) if x is not None]
    with_init, with_physics = batch.init is not None, batch.physics is not None

    def init(rng, hparams, *rest):
        rest = list(rest)
        start = rest.pop(0) if with_init else None
        physics = rest.pop(0) if with_physics else None
        return parts.init(rng, hparams, start, physics)

    return (batch.keys, batch.hparams, *extra), (0, None) + (0,) * len(extra), init


def component_width(num_components: int) -> int:
    """The component axis the reward programs write: M rounded up to a multiple of 8 (at
    least 8), so that the once-per-task accounting programs serve every round whose programs
    have up to that many components (M changes from round to round); the padding columns
    are zeros, and are dropped before the curves."""
    return max(8, -(-num_components // 8) * 8)


def reward_programs(batch, reward_fns, shapes):
    """This round's one compiled reward program, ``apply``: (row programs [P], reward inputs
    of an unroll's shape [P, S, T, envs, ...], constants) -> (rewards [P, S, T, envs],
    components [P, S, T, envs, W]), each row by its own program only (``rewards.by_rows``).
    The evaluation episodes' inputs go through the same program in unroll-sized chunks
    (``accounting_programs``), so nothing else depends on the round's programs: the
    statistics are compiled once per task. The row layout is an argument (``programs``,
    [P] int32), so the program serves every call of this shape with these reward programs:
    the seed race and a tuning plan compile nothing."""
    spread = batch.spread
    num_components = rewards_lib.component_count(reward_fns)
    # each device loops over its own rows: no row crosses a device
    apply = per_device(
        rewards_lib.by_rows(reward_fns, component_width(num_components), inner_axes=3), spread)
    extra = (batch.constants,) if batch.constants is not None else ()
    programs = jax.ShapeDtypeStruct((len(batch.rows),), jnp.int32, sharding=spread)
    apply_jit = jax.jit(apply, in_shardings=(spread,) * (2 + len(extra)), out_shardings=spread)
    lowered = apply_jit.lower(programs, shapes["rollout"].inputs, *extra)
    return {"apply": lowered.compile(), "num_components": num_components}


def accounting_programs(batch, parts, shapes, width: int):
    """The reward's statistics, compiled once per task, settings, batch shape and component
    width ``W`` (never per round): ``account`` (an unroll's rewards into the training
    episodes' sums: ``rewards.account``), and with evaluation episodes ``chunks`` (their
    reward inputs [P, S, L, n, ...] cut into unroll-shaped pieces for ``apply``, the last
    one padded) and ``stats`` (the pieces' rewards put back together: the evaluation's
    return, component means and finiteness). ``state``: the shape of the reward state."""
    config, spread = batch.config, batch.spread
    rollout = shapes["rollout"]
    total = jax.ShapeDtypeStruct(rollout.done.shape, jnp.float32)
    comps = jax.ShapeDtypeStruct(rollout.done.shape + (width,), jnp.float32)
    account = batched(functools.partial(rewards_lib.account, per_episode=parts.per_episode),
                       (0, 0, 0, 0))
    state = jax.eval_shape(lambda: batched(
        lambda _: rewards_lib.RewardState.zeros(config.num_envs, width), (0,))(
            jnp.zeros((len(batch.rows), batch.num_seeds))))
    account_jit = jax.jit(account, in_shardings=(spread,) * 4, out_shardings=spread,
                          donate_argnums=0)
    lowered = {"account": account_jit.lower(state, total, comps, rollout.done)}
    if config.eval_envs:
        episodes = shapes["episodes"]
        runs, (length, envs) = episodes.alive.shape[:2], episodes.alive.shape[2:4]
        size = int(np.prod(rollout.done.shape[2:4]))  # transitions per run in one unroll
        num_chunks = -(-(length * envs) // size)
        check_same_inputs(rollout.inputs, episodes.inputs)

        def chunks(episodes):
            def padded(x):  # [P, S, L, n, ...] -> [P, S, pieces x T x envs, ...]
                flat = x.reshape(*runs, length * envs, *x.shape[4:])
                pad = [(0, 0), (0, 0), (0, num_chunks * size - length * envs)]
                return jnp.pad(flat, pad + [(0, 0)] * (x.ndim - 4))

            def piece(j, x):  # piece j: [P, S, T, envs, ...]
                return x[:, :, j * size:(j + 1) * size].reshape(*rollout.done.shape,
                                                                 *x.shape[3:])
            flat = jax.tree.map(padded, episodes.inputs)
            return tuple(jax.tree.map(functools.partial(piece, j), flat)
                         for j in range(num_chunks))

        def stats(episodes, totals, comps):  # episodes without their inputs
            def join(pieces, tail):
                x = jnp.concatenate([p.reshape(*runs, size, *tail) for p in pieces], axis=2)
                return x[:, :, :length * envs].reshape(*runs, length, envs, *tail)
            return batched(evaluation_stats, (0, 0, 0))(episodes, join(totals, ()),
                                                          join(comps, (width,)))

        no_inputs = episodes.replace(inputs=None)
        lowered["chunks"] = jax.jit(chunks, in_shardings=(spread,),
                                    out_shardings=spread).lower(episodes)
        lowered["stats"] = jax.jit(stats, in_shardings=(spread,) * 3,
                                   out_shardings=spread).lower(
            no_inputs, (total,) * num_chunks, (comps,) * num_chunks)
    return {**compile_all(lowered), "state": state}


def check_same_inputs(unroll, evaluation) -> None:
    """The evaluation's reward inputs must be the unroll's, transition for transition (the
    reward program serves both)."""
    a = jax.tree.map(lambda x: (x.shape[4:], x.dtype), unroll)
    b = jax.tree.map(lambda x: (x.shape[4:], x.dtype), evaluation)
    if a != b:
        raise ValueError(f"the evaluation episodes' reward inputs {b} differ from the "
                         f"unroll's {a}: the task's reward_inputs must return the same "
                         "fields for both")


def all_programs(physics: dict, accounting: dict, rewards: dict) -> list:
    """Every compiled program of a training: the physics and learner ones, the reward
    statistics, then the round's reward program (the memory check and the multi-process
    barrier take the list)."""
    return (list(physics.values())
            + [accounting[k] for k in ("account", "chunks", "stats") if k in accounting]
            + [rewards["apply"]])


def evaluate_rows(physics, accounting, apply, carry, programs, extra):
    """Every run's evaluation episodes and their statistics: the reward inputs go through
    the round's reward program in unroll-sized pieces."""
    episodes = physics["evaluate"](carry)
    pieces = [apply(programs, x, *extra) for x in accounting["chunks"](episodes)]
    return accounting["stats"](episodes.replace(inputs=None), tuple(t for t, _ in pieces),
                               tuple(c for _, c in pieces))
