"""Expert reward for cartpole, in the style of IsaacGymEnvs' Cartpole: stay upright and still,
with a penalty when the episode fails."""

import jax.numpy as jnp


def compute_reward(pole_angle, cart_velocity, pole_angular_velocity, terminated):
    upright = 1.0 - pole_angle**2
    cart_still = -0.01 * jnp.abs(cart_velocity)
    pole_still = -0.005 * jnp.abs(pole_angular_velocity)
    failure = -2.0 * terminated
    total = upright + cart_still + pole_still + failure
    return total, {
        "upright": upright,
        "cart_still": cart_still,
        "pole_still": pole_still,
        "failure": failure,
    }
