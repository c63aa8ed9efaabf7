"""Expert reward for acrobot swing-up, as in dm_control/Playground: 1 inside the target, falling
smoothly (Gaussian tolerance, 0.1 at 1 m) with the distance outside it."""

import jax.numpy as jnp


def gaussian_tolerance(distance_outside, margin, value_at_margin=0.1):
    scale = jnp.sqrt(-2.0 * jnp.log(value_at_margin))
    return jnp.exp(-0.5 * (distance_outside / margin * scale) ** 2)


def compute_reward(tip_to_target_distance, target_radius):
    outside = jnp.maximum(tip_to_target_distance - target_radius, 0.0)
    near_target = gaussian_tolerance(outside, margin=1.0)
    return near_target, {"near_target": near_target}
