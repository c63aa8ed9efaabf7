"""Expert reward for quadcopter, transcribed from IsaacGymEnvs' Quadcopter: be near the target,
and, in proportion to that, stay upright and do not spin about the vertical."""

import jax.numpy as jnp


def compute_reward(target_distance, up_axis, angular_velocity):
    position = 1.0 / (1.0 + target_distance**2)
    tilt = jnp.abs(1.0 - up_axis[2])
    upright = 1.0 / (1.0 + tilt**2)
    spin = jnp.abs(angular_velocity[2])
    no_spin = 1.0 / (1.0 + spin**2)
    return position + position * (upright + no_spin), {
        "position": position,
        "upright": position * upright,
        "no_spin": position * no_spin,
    }
