"""Running a checked reward program from its export (StableHLO), under any number of vmaps.

The checker exports each program batched over a symbolic leading axis: ``(values [b, n],
*inputs [b, ...]) -> (total [b], {name: [b]})``. The trainer calls the reward per environment,
inside vmaps over environments, seeds and candidates (and ``lax.switch`` over candidates, which
batches every branch). An exported call has no batching rule of its own, so the per-environment
function here is a ``custom_vmap`` whose rule calls the batched export once, and the batched
function's own rule folds any further batch axes into its leading one. No Python of the reward
runs in the trainer's process.
"""

from __future__ import annotations

import jax
import jax.export
import jax.numpy as jnp
from jax.custom_batching import custom_vmap


def _broadcast(args, batched, size):
    return [a if b else jnp.broadcast_to(a, (size, *jnp.shape(a))) for a, b in zip(args, batched)]


def per_env_function(blob: bytes):
    """``f(values [n], *inputs) -> (total, {name: scalar})`` for one environment, from the
    serialized export ``blob``; vmap it as often as needed."""
    program = jax.export.deserialize(bytearray(blob))

    @custom_vmap
    def batched(*args):  # every arg with the same leading batch axis
        return program.call(*args)

    @batched.def_vmap
    def _batched_rule(axis_size, in_batched, *args):
        args = _broadcast(args, in_batched, axis_size)
        inner = args[0].shape[1]
        flat = [a.reshape((axis_size * inner, *a.shape[2:])) for a in args]
        out = batched(*flat)
        out = jax.tree.map(lambda o: o.reshape((axis_size, inner, *o.shape[1:])), out)
        return out, jax.tree.map(lambda _: True, out)

    @custom_vmap
    def single(*args):
        out = batched(*[a[None] for a in args])
        return jax.tree.map(lambda o: o[0], out)

    @single.def_vmap
    def _single_rule(axis_size, in_batched, *args):
        out = batched(*_broadcast(args, in_batched, axis_size))
        return out, jax.tree.map(lambda _: True, out)

    return single
