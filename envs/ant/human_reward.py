"""Expert reward for ant, as in Brax: forward speed plus a survival bonus minus a control cost."""

import jax.numpy as jnp


def compute_reward(forward_velocity, action):
    forward = forward_velocity
    healthy = jnp.ones_like(forward_velocity)
    control_cost = -0.5 * jnp.sum(action**2)
    total = forward + healthy + control_cost
    return total, {"forward": forward, "healthy": healthy, "control_cost": control_cost}
