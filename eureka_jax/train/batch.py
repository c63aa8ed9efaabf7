"""Run the batched trainer: K candidates x S seeds in one compiled program, timed honestly."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from eureka_jax.train.config import PPOHyperparams, TrainConfig
from eureka_jax.train.memory import check_fits
from eureka_jax.train.ppo import TrainingCurves, make_train
from eureka_jax.train.sharding import global_array, to_host

# Called at the start of every train_candidates call, before anything is placed on devices,
# with (task, reward_fns, config, hparams, seeds, labels, slots=, init_params=). The
# multi-process layer (eureka_jax.distributed) registers one that hands the same batch to the
# other processes; the trainer itself never imports that layer.
BEFORE_TRAINING: list = []
# Called with the compiled program after compiling and before running it, in every process.
# The multi-process layer registers a barrier there: XLA's CPU collectives give a process 30 s
# to reach the first collective, and a process still compiling (a slower host, a busy CPU)
# would miss it.
BEFORE_RUN: list = []


@dataclass
class BatchResult:
    """What one batched training call produced (numpy arrays, leading axes [K, S]).

    Rows are candidates, or, for a call with ``slots``, the slots (several rows may train
    the same candidate with other seeds; ``slots`` says which).

    Attributes:
      labels: one per row (file name, "human", "sparse", "candidate 3", ...).
      component_names: per row, the names of ``curves.components[k, :, :, :len]``.
      seeds: the seed of each S column (the same for every row), or a [K][S] table.
      curves: ``TrainingCurves`` with arrays [K, S, C] ([K, S, C, M] for components).
      params: final (normalizer, policy, value) parameters, leaves [K, S, ...].
      compile_seconds / run_seconds: XLA compile time and execution time, apart (0 compile
        seconds: the compiled program of an earlier call was reused).
      env_steps: total environment steps of the call (all rows and seeds).
      slots: per row, the index of the candidate it trained (None: row k is candidate k).
      errors: row index -> text, for trainings that crashed (Isaac Gym backend).
      memory_bytes: what the compiled program needs on each device (XLA's analysis; None
        where unknown), checked against the free memory before it ran.
    """

    labels: list[str]
    component_names: list[tuple[str, ...]]
    seeds: list
    curves: TrainingCurves
    params: Any
    compile_seconds: float
    run_seconds: float
    env_steps: int
    slots: list[int] | None = None
    errors: dict = field(default_factory=dict)
    memory_bytes: int | None = None

    def seed_table(self) -> np.ndarray:
        """[K, S] the seed of every run."""
        table = np.asarray(self.seeds)
        if table.ndim == 1:
            table = np.broadcast_to(table, (len(self.labels), len(table)))
        return table

    @property
    def env_steps_per_second(self) -> float:
        return self.env_steps / self.run_seconds

    def final_fitness(self) -> np.ndarray:
        """[K, S] fitness at the last checkpoint."""
        return np.asarray(self.curves.fitness[..., -1])

    def max_fitness(self) -> np.ndarray:
        """[K, S] best fitness over the evaluated checkpoints (Eureka's selection statistic);
        where the backend kept the raw series' maximum (``curves.peak_fitness``), that."""
        if self.curves.peak_fitness is not None:
            return np.asarray(self.curves.peak_fitness, dtype=float)
        fitness = np.asarray(self.curves.fitness, dtype=float)
        evaluated = np.isfinite(fitness)
        return np.where(evaluated.any(-1), np.max(np.where(evaluated, fitness, -np.inf), -1),
                        np.nan)


def seed_keys(seeds, num_rows: int) -> jax.Array:
    """[K, S] PRNG keys. With a list of S seeds, column s uses ``PRNGKey(seeds[s])`` for every
    row, so candidate k trained alone with the same seed sees the same random numbers (common
    random numbers); a [K][S] table gives every run its own seed."""
    table = np.asarray(seeds, dtype=np.int64)
    if table.ndim == 1:
        table = np.broadcast_to(table, (num_rows, len(table)))
    return jnp.stack([jnp.stack([jax.random.PRNGKey(int(s)) for s in row]) for row in table])


# Compiled batch programs of recent calls, so a second call with the same rewards, settings
# and shapes (e.g. a round's seed race) skips tracing and XLA. Keyed by the reward sources,
# not object identity, so a process that recompiles the same sources (a distributed worker)
# hits too; a few entries only, since an executable holds device memory.
_PROGRAMS: OrderedDict = OrderedDict()
_MAX_PROGRAMS = 2


def device_layout(num_candidates: int, devices=None) -> dict:
    """How K candidates are spread over ``devices``: the padded candidate count (a multiple of
    the device count) and the candidates per device (each with all its seeds)."""
    devices = list(devices if devices is not None else jax.devices())
    padded = -(-num_candidates // len(devices)) * len(devices)
    return {"devices": len(devices), "candidates": num_candidates, "padded_candidates": padded,
            "per_device": padded // len(devices)}


def train_candidates(task, reward_fns, config: TrainConfig, hparams: PPOHyperparams | None = None,
                     seeds=(0,), labels=None, devices=None, init_params=None,
                     slots=None, constants=None) -> BatchResult:
    """Trains every reward candidate with every seed in one ``jit(vmap(vmap(train)))`` call.

    The candidate axis is sharded over ``devices`` with a 1-D ``jax.sharding.Mesh``; each
    device trains its candidates with all their seeds. When K does not divide by the device
    count, the axis is padded with copies of the first candidate, which are dropped from every
    result. One device is the same program with a mesh of one. (Measured on CPU: this nested
    candidates-then-seeds layout ran ~40% faster than one flat vmap over K x S runs.)

    Args:
      task: the ``Task``.
      reward_fns: compiled ``RewardFn``s (K of them).
      config: static PPO settings (shapes, counts).
      hparams: traced PPO numbers (defaults if None).
      seeds: the S seeds, shared by all candidates; or a [P][S] table, one row per slot.
      labels: names for the candidates in tables.
      slots: which candidate each of P rows trains (indices into ``reward_fns``; repeats
        allowed); None trains each candidate once. Every branch of the reward switch is in
        the program either way, so a call with the same rewards and P reuses the compiled
        program of an earlier one (a seed race costs no compile).
      constants: [P, n] values of the tunable constants of each row's program (its first
        ``len(fn.constants)`` columns; ``eureka_jax.tune``), traced, so W variants of one
        program are rows of one compiled program. None: the programs' own values, passed the
        same way (``source_constants``): a program's named constants are always arguments,
        so a variant with the source values trains bit-for-bit like the program itself
        (literals would be folded into the kernels and round differently), and a tuned
        program written back as source compiles to the same program.
      init_params: parameters to start from, leaves [K, S, ...] (a ``BatchResult.params``
        of the same network sizes and observation size): fine-tuning. None: fresh networks.
      devices: the devices to shard over (all of ``jax.devices()`` if None: with
        ``jax.distributed``, the devices of every process).

    Returns:
      A ``BatchResult``; compile time is measured apart from run time.
    """
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    hparams = hparams if hparams is not None else PPOHyperparams.create()
    seeds = np.asarray(seeds, dtype=np.int64).tolist()
    rows = list(range(len(reward_fns))) if slots is None else [int(i) for i in slots]
    k = len(rows)
    num_seeds = len(seeds[0]) if isinstance(seeds[0], list) else len(seeds)
    if isinstance(seeds[0], list) and len(seeds) != k:
        raise ValueError(f"a seed table needs one row per slot: {len(seeds)} rows, {k} slots")
    layout = device_layout(k, devices)
    devices = list(devices if devices is not None else jax.devices())
    mesh = Mesh(np.array(devices), ("candidates",))
    spread = NamedSharding(mesh, PartitionSpec("candidates"))
    replicated = NamedSharding(mesh, PartitionSpec())

    # with several processes, the leader first hands the same job to the others
    for hook in BEFORE_TRAINING:
        hook(task, reward_fns, config, hparams, seeds, labels, slots=slots,
             init_params=init_params, constants=constants)
    pad = layout["padded_candidates"] - k
    seed_rows = seeds if isinstance(seeds[0], list) else [seeds] * k
    keys = seed_keys(seed_rows + [seed_rows[0]] * pad, k + pad)
    candidates = jnp.asarray(rows + [rows[0]] * pad, jnp.int32)

    train = make_train(task, config, reward_fns)
    args = [global_array(keys, spread), global_array(candidates, spread),
            jax.tree.map(lambda x: global_array(x, replicated), hparams)]
    inner, outer, shardings = [0, None, None], [0, 0, None], [spread, spread, replicated]
    if init_params is not None:
        init = _check_init(init_params, k, num_seeds, train)
        init = jax.tree.map(lambda x: np.concatenate([x, np.repeat(x[:1], pad, 0)]), init)
        args.append(jax.tree.map(lambda x: global_array(x, spread), init))
        inner, outer, shardings = [*inner, 0], [*outer, 0], [*shardings, spread]
    if constants is None:
        constants = source_constants(reward_fns, rows)  # None when no program has any
    if constants is not None:
        table = _check_constants(constants, k, reward_fns, rows)
        args.append(global_array(np.concatenate([table, np.repeat(table[:1], pad, 0)]), spread))
        inner, outer, shardings = [*inner, None], [*outer, 0], [*shardings, spread]
        per_run = _with_constants(train, init_params is not None)
    else:
        per_run = train
    batched = jax.jit(
        jax.vmap(jax.vmap(per_run, in_axes=tuple(inner)), in_axes=tuple(outer)),
        in_shardings=tuple(shardings), out_shardings=spread,
    )
    key = (id(task), tuple((fn.entry, fn.source) for fn in reward_fns), config,
           k + pad, num_seeds, init_params is None,
           None if constants is None else np.shape(constants)[1], tuple(devices))
    if key in _PROGRAMS:
        _PROGRAMS.move_to_end(key)
        compiled, compile_seconds = _PROGRAMS[key][1], 0.0
    else:
        start = time.perf_counter()
        compiled = batched.lower(*args).compile()
        compile_seconds = time.perf_counter() - start
        _PROGRAMS[key] = (task, compiled)  # the task is held so its id is not reused
        while len(_PROGRAMS) > _MAX_PROGRAMS:
            _PROGRAMS.popitem(last=False)
    local = next(d for d in devices if d.process_index == jax.process_index())
    memory = check_fits(compiled, local, f"this batch ({k} candidate row(s) x "
                        f"{num_seeds} seed(s) of {task.name})")
    for hook in BEFORE_RUN:
        hook(compiled)
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    run_seconds = time.perf_counter() - start
    names = labels if labels else [f"candidate {i}" for i in range(len(reward_fns))]
    return BatchResult(
        labels=[names[i] for i in rows] if slots is not None else list(names),
        component_names=[reward_fns[i].component_names for i in rows],
        seeds=seeds,
        curves=jax.tree.map(lambda x: to_host(x)[:k], out.curves),
        params=jax.tree.map(lambda x: to_host(x)[:k], out.params),
        compile_seconds=compile_seconds,
        run_seconds=run_seconds,
        env_steps=config.total_env_steps * k * num_seeds,
        slots=None if slots is None else rows,
        memory_bytes=memory,
    )


def source_constants(reward_fns, rows=None) -> np.ndarray | None:
    """[P, n] float32: each row's program's tunable constants as written (zero-padded), the
    table ``train_candidates`` passes when given none; None when no program has any."""
    rows = list(range(len(reward_fns))) if rows is None else list(rows)
    width = max([len(fn.constants) for fn in reward_fns] + [0])
    if not width:
        return None
    table = np.zeros((len(rows), width), np.float32)
    for r, i in enumerate(rows):
        values = reward_fns[i].constant_values
        table[r, :len(values)] = values
    return table


def _with_constants(train, with_init: bool):
    """``train`` with the constants as its last positional argument (vmap's axes are
    positional)."""
    if with_init:
        return lambda rng, candidate, hparams, init, constants: train(
            rng, candidate, hparams, init, constants=constants)
    return lambda rng, candidate, hparams, constants: train(rng, candidate, hparams,
                                                             constants=constants)


def _check_constants(constants, k: int, reward_fns, rows) -> np.ndarray:
    """``constants`` as a float32 [K, n] table, one row per slot, wide enough for every
    program's tunable constants."""
    table = np.asarray(constants, np.float32)
    need = max([len(fn.constants) for fn in reward_fns] + [0])
    if table.ndim != 2 or table.shape[0] != k or table.shape[1] < need:
        raise ValueError(f"constants must be a [{k}, >= {need}] table (one row per slot, one "
                         f"column per tunable constant); got shape {table.shape}")
    return table


def _check_init(init_params, k: int, s: int, train):
    """``init_params`` as numpy leaves [K, S, ...], checked against the networks ``train``
    builds; a mismatch is one sentence saying what differs."""
    from eureka_jax.errors import EurekaError

    expected = jax.eval_shape(train.initial_params, jax.random.PRNGKey(0))
    init = jax.tree.map(np.asarray, init_params)
    exp_leaves, exp_tree = jax.tree.flatten(expected)
    leaves, tree = jax.tree.flatten(init)
    if tree != exp_tree or any(a.shape != (k, s, *b.shape) for a, b in zip(leaves, exp_leaves)):
        got = [a.shape for a in leaves]
        want = [(k, s, *b.shape) for b in exp_leaves]
        raise EurekaError(
            "the parameters to start from do not fit this training: expected leaves of shapes "
            f"{want[:4]}... (candidates x seeds x network), got {got[:4]}...; fine-tune with the "
            "same observation size, policy_hidden/value_hidden and candidates x seeds.")
    return init
