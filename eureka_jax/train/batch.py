"""Run the batched trainer: K candidates x S seeds in one compiled program, timed honestly."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from eureka_jax.train.config import PPOHyperparams, TrainConfig
from eureka_jax.train.ppo import TrainingCurves, make_train


@dataclass
class BatchResult:
    """What one batched training call produced (numpy arrays, leading axes [K, S]).

    Attributes:
      labels: one per candidate (file name, "human", "sparse", "candidate 3", ...).
      component_names: per candidate, the names of ``curves.components[k, :, :, :len]``.
      seeds: the seed of each S slot (the same seeds for every candidate).
      curves: ``TrainingCurves`` with arrays [K, S, C] ([K, S, C, M] for components).
      params: final (normalizer, policy, value) parameters, leaves [K, S, ...].
      compile_seconds / run_seconds: XLA compile time and execution time, apart.
      env_steps: total environment steps of the call (all candidates and seeds).
    """

    labels: list[str]
    component_names: list[tuple[str, ...]]
    seeds: list[int]
    curves: TrainingCurves
    params: Any
    compile_seconds: float
    run_seconds: float
    env_steps: int

    @property
    def env_steps_per_second(self) -> float:
        return self.env_steps / self.run_seconds

    def final_fitness(self) -> np.ndarray:
        """[K, S] fitness at the last checkpoint."""
        return np.asarray(self.curves.fitness[..., -1])

    def max_fitness(self) -> np.ndarray:
        """[K, S] best fitness over checkpoints (Eureka's selection statistic)."""
        return np.asarray(np.max(self.curves.fitness, axis=-1))


def seed_keys(seeds: list[int], num_candidates: int) -> jax.Array:
    """[K, S] PRNG keys: slot s uses ``PRNGKey(seeds[s])`` for every candidate, so candidate k
    trained alone with the same seed sees the same random numbers (common random numbers)."""
    keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
    return jnp.broadcast_to(keys, (num_candidates, *keys.shape))


def device_layout(num_slots: int, devices=None) -> dict:
    """How ``num_slots`` (candidate, seed) runs are spread over ``devices``: the padded slot
    count (a multiple of the device count) and the runs per device."""
    devices = list(devices if devices is not None else jax.devices())
    padded = -(-num_slots // len(devices)) * len(devices)
    return {"devices": len(devices), "slots": num_slots, "padded_slots": padded,
            "per_device": padded // len(devices)}


def train_candidates(task, reward_fns, config: TrainConfig, hparams: PPOHyperparams | None = None,
                     seeds=(0,), labels=None, devices=None) -> BatchResult:
    """Trains every reward candidate with every seed in one compiled program.

    The K x S (candidate, seed) runs are laid out on one flat axis, ``vmap``ped, and sharded
    over ``devices`` with a 1-D ``jax.sharding.Mesh``; when K x S does not divide by the device
    count, the axis is padded with copies of the first run, which are dropped from every
    result. One device is the same program with a mesh of one.

    Args:
      task: the ``Task``.
      reward_fns: compiled ``RewardFn``s (K of them).
      config: static PPO settings (shapes, counts).
      hparams: traced PPO numbers (defaults if None).
      seeds: the S seeds, shared by all candidates.
      labels: names for the candidates in tables.
      devices: the devices to shard over (all of ``jax.devices()`` if None).

    Returns:
      A ``BatchResult``; compile time is measured apart from run time.
    """
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    hparams = hparams if hparams is not None else PPOHyperparams.create()
    seeds = [int(s) for s in seeds]
    k, s = len(reward_fns), len(seeds)
    layout = device_layout(k * s, devices)
    devices = list(devices if devices is not None else jax.devices())
    mesh = Mesh(np.array(devices), ("runs",))
    spread = NamedSharding(mesh, PartitionSpec("runs"))
    replicated = NamedSharding(mesh, PartitionSpec())

    keys = seed_keys(seeds, k).reshape(k * s, -1)
    candidates = jnp.repeat(jnp.arange(k, dtype=jnp.int32), s)
    pad = layout["padded_slots"] - k * s
    keys = jnp.concatenate([keys, jnp.repeat(keys[:1], pad, axis=0)])
    candidates = jnp.concatenate([candidates, jnp.repeat(candidates[:1], pad)])

    train = make_train(task, config, reward_fns)
    batched = jax.jit(jax.vmap(train, in_axes=(0, 0, None)),
                      in_shardings=(spread, spread, replicated), out_shardings=spread)
    args = (jax.device_put(keys, spread), jax.device_put(candidates, spread),
            jax.device_put(hparams, replicated))
    start = time.perf_counter()
    compiled = batched.lower(*args).compile()
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    run_seconds = time.perf_counter() - start

    def unflatten(x):
        return x[: k * s].reshape(k, s, *x.shape[1:])

    return BatchResult(
        labels=list(labels) if labels else [f"candidate {i}" for i in range(k)],
        component_names=[fn.component_names for fn in reward_fns],
        seeds=seeds,
        curves=jax.tree.map(lambda x: unflatten(np.asarray(x)), out.curves),
        params=jax.tree.map(unflatten, out.params),
        compile_seconds=compile_seconds,
        run_seconds=run_seconds,
        env_steps=config.total_env_steps * k * s,
    )
