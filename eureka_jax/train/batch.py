"""Run the batched trainer: K candidates x S seeds in every compiled program, the physics and
learner programs compiled once per task and the reward programs per round, timed honestly."""

from __future__ import annotations

import functools
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from eureka_jax.train import learners
from eureka_jax.train import programs as progs
from eureka_jax.train.config import PPOHyperparams, TrainConfig
from eureka_jax.train.curves import TrainingCurves, TrainOutput
from eureka_jax.train.learners import learner
from eureka_jax.train.memory import check_fits
from eureka_jax.train.ppo import not_evaluated, training_curves
from eureka_jax.train.sharding import global_array, to_host


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
      compile_seconds / run_seconds: tracing + XLA compile time and execution time, apart (0
        compile seconds: the compiled programs of an earlier call were reused).
      reward_compile_seconds: the part of ``compile_seconds`` spent on the reward programs.
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
    reward_compile_seconds: float = 0.0

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


# Compiled programs of recent calls: the physics and learner programs of a task, settings and
# batch shape (every round of a search uses the same), and the reward programs of a round's
# programs and batch shape (the row layout is their argument: a seed race reuses them). Reward
# programs are keyed by their sources, not object identity, so a process that recompiles the
# same sources (a distributed worker) hits too; a few entries only, since an executable holds
# device memory.
_PROGRAMS: OrderedDict = OrderedDict()
_MAX_PROGRAMS = 6


def device_layout(num_candidates: int, devices=None) -> dict:
    """How K candidates are spread over ``devices``: the padded candidate count (a multiple of
    the device count) and the candidates per device (each with all its seeds)."""
    devices = list(devices if devices is not None else jax.devices())
    padded = -(-num_candidates // len(devices)) * len(devices)
    return {"devices": len(devices), "candidates": num_candidates, "padded_candidates": padded,
            "per_device": padded // len(devices)}


def train_candidates(task, reward_fns, config: TrainConfig, hparams: PPOHyperparams | None = None,
                     seeds=(0,), labels=None, devices=None, init_params=None,
                     slots=None, constants=None, fused: bool = False,
                     min_rows: int = 0, before_run=None, physics=None) -> BatchResult:
    """Trains every reward candidate with every seed, batched: candidates x seeds x envs in
    every compiled program.

    The training is a host loop over programs that do not depend on the reward programs
    (the learner's ``make_parts``, ``train.learners``: init, roll out an unroll, learn from
    it, evaluate; compiled once per task, settings and batch shape, then reused by every
    later call and found in JAX's persistent cache by later processes) with this call's
    reward programs between them
    (``rewards.by_rows``: the stored reward inputs of an unroll -> each row's rewards, by its
    own program only; compiled per set of programs in about a second). ``fused=True`` runs
    the same training as one program with the rewards traced in (``make_train``), the
    reference the split one is measured against (``benchmarks/compile_once.py``).

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
        allowed); None trains each candidate once. The physics and learner programs depend
        only on P and S and the reward programs on the programs and P and S (the layout is
        their argument), so a call with the same programs and P (a seed race) compiles
        nothing.
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

      fused: one program with the rewards traced in (see above).
      min_rows: pad the rows to at least this many (copies of the first, dropped from every
        result, as for the devices): a search passes its ``sample`` so a round where fewer
        programs compile keeps the batch shape, and with it every compiled physics and
        learner program (the padded rows cost run time, not a compile).
      before_run: called with the compiled programs after compiling and before running
        them, in every process: the multi-process layer (``distributed.train_candidates``,
        which wraps this function) puts a barrier there, since XLA's CPU collectives give a
        process 30 s to reach the first collective and a process still compiling would miss
        it.
      physics: [P, n, 3] each row's domain-randomization table (low, high, log-uniform flag
        of each of the task's ``randomize`` parameters; ``eureka_jax.randomize``), traced:
        every training env draws its physics from its row's table at each reset, so K
        configurations train in one compiled program. None: the nominal physics (no
        randomization; the programs without it).

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
    layout = device_layout(max(k, int(min_rows)), devices)
    devices = list(devices if devices is not None else jax.devices())
    mesh = Mesh(np.array(devices), ("candidates",))
    spread = NamedSharding(mesh, PartitionSpec("candidates"))
    replicated = NamedSharding(mesh, PartitionSpec())

    pad = layout["padded_candidates"] - k
    seed_rows = seeds if isinstance(seeds[0], list) else [seeds] * k
    keys = seed_keys(seed_rows + [seed_rows[0]] * pad, k + pad)
    padded_rows = rows + [rows[0]] * pad
    if constants is None:
        constants = source_constants(reward_fns, rows)  # None when no program has any
    table = None
    if constants is not None:
        table = _check_constants(constants, k, reward_fns, rows)
        table = np.concatenate([table, np.repeat(table[:1], pad, 0)])
    if physics is not None:
        if fused:
            raise ValueError("domain randomization runs in the split trainer only (fused=False)")
        physics = np.asarray(physics, np.float32)
        if physics.ndim != 3 or physics.shape[0] != k or physics.shape[2] != 3:
            raise ValueError(f"physics needs one [n, 3] table per row ({k} rows); got shape "
                             f"{physics.shape}")
        physics = np.concatenate([physics, np.repeat(physics[:1], pad, 0)])
    init = None
    if init_params is not None:
        parts = learners.parts(task, config)
        init = _check_init(init_params, k, num_seeds, parts)
        init = jax.tree.map(lambda x: np.concatenate([x, np.repeat(x[:1], pad, 0)]), init)
    batch = _Batch(task=task, config=config, rows=padded_rows, num_seeds=num_seeds,
                   devices=tuple(devices), spread=spread, replicated=replicated,
                   keys=global_array(keys, spread),
                   hparams=jax.tree.map(lambda x: global_array(x, replicated), hparams),
                   init=None if init is None else jax.tree.map(
                       lambda x: global_array(x, spread), init),
                   constants=None if table is None else global_array(table, spread),
                   before_run=before_run,
                   physics=None if physics is None else global_array(physics, spread))
    what = f"this batch ({k} candidate row(s) x {num_seeds} seed(s) of {task.name})"
    run = _run_fused if fused else _run_split
    out, compile_seconds, reward_compile_seconds, run_seconds, memory = run(
        batch, reward_fns, what)
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
        reward_compile_seconds=reward_compile_seconds,
    )


@dataclass
class _Batch:
    """One call's inputs, placed on the devices ([P, S] leading axes, P = padded rows)."""

    task: Any
    config: TrainConfig
    rows: list  # the program of each (padded) row
    num_seeds: int
    devices: tuple
    spread: Any  # sharding over the candidate axis
    replicated: Any
    keys: Any  # [P, S] PRNG keys
    hparams: Any
    init: Any  # parameters to start from, leaves [P, S, ...], or None
    constants: Any  # [P, n] tunable constants, or None
    before_run: Any = None  # called with the compiled programs before they run
    physics: Any = None  # [P, n, 3] domain-randomization tables, or None

    def randomize(self) -> tuple:
        """The task's randomization parameters when this batch randomizes, else ()."""
        from eureka_jax.randomize import parameters

        return parameters(self.task) if self.physics is not None else ()

    def local_device(self):
        return next(d for d in self.devices if d.process_index == jax.process_index())

    def row_programs(self):
        """[P] int32 on the devices: the program of each row (the reward programs' argument)."""
        return global_array(np.asarray(self.rows, np.int32), self.spread)


def _sources(reward_fns) -> tuple:
    """What identifies reward programs in the program cache: their entry points and sources."""
    return tuple((fn.entry, fn.source) for fn in reward_fns)


def _cached(key, build, task):
    """``build()`` -> (compiled programs, seconds), kept for the next call with ``key``
    (0 seconds then); keys hold ``id(task)``, so the task is kept with its programs."""
    if key in _PROGRAMS:
        _PROGRAMS.move_to_end(key)
        return _PROGRAMS[key][1], 0.0
    start = time.perf_counter()
    programs = build()
    seconds = time.perf_counter() - start
    _PROGRAMS[key] = (task, programs)  # the task is held so its id is not reused
    while len(_PROGRAMS) > _MAX_PROGRAMS:
        _PROGRAMS.popitem(last=False)
    return programs, seconds


def compiled_programs(task, config: TrainConfig, reward_fns, device) -> list:
    """The compiled programs of a training of ``reward_fns`` (one row each) x one seed on
    ``device``, in the order they run (for a memory estimate: ``estimate_memory``)."""
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    mesh = Mesh(np.array([device]), ("candidates",))
    spread, rep = NamedSharding(mesh, PartitionSpec("candidates")), NamedSharding(mesh,
                                                                                    PartitionSpec())
    rows = list(range(len(reward_fns)))
    table = source_constants(reward_fns, rows)
    batch = _Batch(task=task, config=config, rows=rows, num_seeds=1, devices=(device,),
                   spread=spread, replicated=rep, keys=seed_keys([0], len(rows)),
                   hparams=PPOHyperparams.create(), init=None,
                   constants=None if table is None else jax.numpy.asarray(table))
    parts, physics, shapes = progs.physics_programs(batch)
    rewards = progs.reward_programs(batch, reward_fns, shapes)
    accounting = progs.accounting_programs(batch, parts, shapes,
                                           progs.component_width(rewards["num_components"]))
    return progs.all_programs(physics, accounting, rewards)


def _run_split(batch: _Batch, reward_fns, what: str):
    """The training as a host loop over compiled programs: the physics and learner programs
    (compiled once per task, settings and batch shape) and the round's reward programs
    between them. Returns (TrainOutput, compile s, of which reward programs s, run s,
    memory bytes)."""
    config, task = batch.config, batch.task
    shape_key = (id(task), config, len(batch.rows), batch.num_seeds, batch.init is None,
                 batch.devices, batch.randomize())
    (parts, physics, shapes), physics_seconds = _cached(
        ("physics", *shape_key), lambda: progs.physics_programs(batch), task)
    # not the row layout: it is an argument of the reward programs
    reward_key = (_sources(reward_fns),
                  None if batch.constants is None else batch.constants.shape[1])
    rewards, reward_seconds = _cached(
        ("rewards", *shape_key, reward_key),
        lambda: progs.reward_programs(batch, reward_fns, shapes), task)
    num_components = rewards["num_components"]
    width = progs.component_width(num_components)
    accounting, accounting_seconds = _cached(
        ("accounting", *shape_key, width),
        lambda: progs.accounting_programs(batch, parts, shapes, width), task)
    compiled = progs.all_programs(physics, accounting, rewards)
    memory = check_fits(compiled, batch.local_device(), what)
    if batch.before_run is not None:
        batch.before_run(compiled)
    extra = (batch.constants,) if batch.constants is not None else ()
    programs = batch.row_programs()
    num_watch = parts.num_watch
    indices = [global_array(np.int32(i), batch.replicated) for i in range(config.num_evals)]
    updates = config.num_updates // config.num_evals

    state = jax.tree.map(lambda s: global_array(np.zeros(s.shape, s.dtype), batch.spread),
                         accounting["state"])
    start = time.perf_counter()
    # Every array stays where it is between the programs: any transfer (host <-> device, or a
    # resharding between devices) inside the loop is an error, not a silent slowdown.
    with jax.transfer_guard("disallow"):
        carry = physics["init"](*progs.init_call(batch, parts)[0])
        windows, reward_windows, evals = [], [], []
        for index in range(config.num_evals):
            carry = physics["begin"](carry, indices[index])
            for _ in range(updates):
                carry, rollout = physics["roll"](carry)
                total, comps = rewards["apply"](programs, rollout.inputs, *extra)
                state, summary = accounting["account"](state, total, comps, rollout.done)
                carry = physics["learn"](carry, rollout, total, batch.hparams)
            reward_windows.append(summary)
            due = (index + 1) % config.eval_every == 0 or index == config.num_evals - 1
            evals.append(progs.evaluate_rows(physics, accounting, rewards["apply"], carry,
                                             programs, extra)
                         if config.eval_envs and due else None)
            windows.append(physics["end"](carry))
        jax.block_until_ready((carry, windows, reward_windows, evals))
    run_seconds = time.perf_counter() - start

    rows_seeds = (len(batch.rows), batch.num_seeds)
    missing = jax.tree.map(lambda x: np.broadcast_to(np.asarray(x), rows_seeds + x.shape),
                           not_evaluated(num_components, num_watch))
    stack = lambda items: jax.tree.map(
        lambda *xs: np.stack([to_host(x) for x in xs], axis=2), *items)
    # the component means without the padding columns (component_width)
    narrow = lambda x: to_host(x)[..., :num_components]
    reward_windows = [(ret, narrow(comps), bad) for ret, comps, bad in reward_windows]
    evals = [missing if e is None else (*e[:3], narrow(e[3]), *e[4:]) for e in evals]
    curves = jax.vmap(jax.vmap(functools.partial(training_curves, config)))(
        stack(windows), stack(reward_windows), stack(evals))
    params = (carry.normalizer, carry.params.policy, carry.params.value)
    return (TrainOutput(curves=curves, params=params),
            physics_seconds + accounting_seconds + reward_seconds, reward_seconds, run_seconds,
            memory)


def _run_fused(batch: _Batch, reward_fns, what: str):
    """The whole training as one compiled program with the rewards traced in
    (the learner's ``make_train``): the reference the split trainer is measured against."""
    train = learner(batch.config.learner).make_train(batch.task, batch.config, reward_fns)
    spread, rep = batch.spread, batch.replicated
    candidates = batch.row_programs()
    args = [batch.keys, candidates, batch.hparams]
    inner, outer, shardings = [0, None, None], [0, 0, None], [spread, spread, rep]
    if batch.init is not None:
        args.append(batch.init)
        inner, outer, shardings = [*inner, 0], [*outer, 0], [*shardings, spread]
    if batch.constants is not None:
        args.append(batch.constants)
        inner, outer, shardings = [*inner, None], [*outer, 0], [*shardings, spread]
        per_run = _with_constants(train, batch.init is not None)
    else:
        per_run = train
    from jax.sharding import PartitionSpec

    # per device: its evaluation loops end with its own rows (progs.per_device)
    specs = tuple(PartitionSpec("candidates") if s is spread else PartitionSpec()
                  for s in shardings)
    batched = jax.jit(
        progs.per_device(jax.vmap(jax.vmap(per_run, in_axes=tuple(inner)),
                                  in_axes=tuple(outer)), spread, specs),
        in_shardings=tuple(shardings), out_shardings=spread,
    )
    key = ("fused", id(batch.task), _sources(reward_fns),
           batch.config, tuple(batch.rows), batch.num_seeds, batch.init is None,
           None if batch.constants is None else batch.constants.shape[1], batch.devices)
    compiled, compile_seconds = _cached(key, lambda: batched.lower(*args).compile(),
                                        batch.task)
    memory = check_fits([compiled], batch.local_device(), what)
    if batch.before_run is not None:
        batch.before_run([compiled])
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    run_seconds = time.perf_counter() - start
    return out, compile_seconds, compile_seconds, run_seconds, memory


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


def estimate_memory(task, config, reward_fns, device=None) -> dict:
    """Compiles the programs of one (candidate, seed) training and returns ``per_run`` bytes
    (the largest program's need), the device's ``free`` bytes and how many candidates ×
    seeds ``fits`` in 80 % of them (per device; a mesh of D devices holds D times as many
    candidates)."""
    from eureka_jax.train.memory import WARN_SHARE, free_bytes, program_bytes

    device = device or jax.devices()[0]
    programs = compiled_programs(task, config, reward_fns[:1], device)
    needs = [program_bytes(p) for p in programs]
    per_run = None if any(n is None for n in needs) else max(needs)
    free = free_bytes(device)
    fits = None if not per_run or free is None else int(WARN_SHARE * free // per_run)
    return {"per_run": per_run, "free": free, "fits": fits, "device": device}
