"""Arrays across processes: what the trainer needs whether one process runs or several.

Kept apart from ``eureka_jax.distributed`` (which joins the processes and hands jobs around,
and imports the trainer) so that the trainer never imports the multi-process layer.
"""

from __future__ import annotations

import jax
import numpy as np


def multi_process() -> bool:
    return jax.process_count() > 1


def to_host(x) -> np.ndarray:
    """A (possibly multi-process) array as one numpy array on this process."""
    if getattr(x, "is_fully_addressable", True):
        return np.asarray(x)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def global_array(value: np.ndarray, sharding) -> jax.Array:
    """The same host value on every process, placed as one global array."""
    value = np.asarray(value)
    return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])
