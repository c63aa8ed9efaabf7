"""Expert reward for humanoid, as in Brax: weighted forward speed plus a survival bonus minus a
control cost (Brax charges the cost on actuator controls in [-0.4, 0.4]; actions here are in
[-1, 1], hence the smaller weight)."""

import jax.numpy as jnp


def compute_reward(forward_velocity, action):
    forward = 1.25 * forward_velocity
    healthy = 5.0 * jnp.ones_like(forward_velocity)
    control_cost = -0.016 * jnp.sum(action**2)
    total = forward + healthy + control_cost
    return total, {"forward": forward, "healthy": healthy, "control_cost": control_cost}
