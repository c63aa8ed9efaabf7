"""Expert reward for ball_balance, transcribed from IsaacGymEnvs' BallBalance: be close to a
point 0.7 m above the ground over the tray's centre, and be slow there."""

import jax.numpy as jnp


def compute_reward(ball_position, ball_velocity):
    target = jnp.array([0.0, 0.0, 0.7])
    distance = jnp.linalg.norm(ball_position - target)
    speed = jnp.linalg.norm(ball_velocity)
    position = 1.0 / (1.0 + distance)
    slowness = 1.0 / (1.0 + speed)
    return position * slowness, {"position": position, "slowness": slowness}
