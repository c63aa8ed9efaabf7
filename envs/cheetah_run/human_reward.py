"""Expert reward for cheetah run, as in dm_control/Playground: forward speed, rising linearly
from 0 at standstill to 1 at 10 m/s and capped there."""

import jax.numpy as jnp


def compute_reward(forward_velocity):
    run = jnp.clip(forward_velocity / 10.0, 0.0, 1.0)
    return run, {"run": run}
