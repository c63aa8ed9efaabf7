"""Expert reward for pendulum swing-up, as in Gym's Pendulum: a quadratic cost on the angle
from upright, the angular speed and the torque."""

import jax.numpy as jnp


def compute_reward(pole_angle, pole_angular_velocity, action):
    angle_cost = -(pole_angle**2)
    speed_cost = -0.1 * pole_angular_velocity**2
    torque_cost = -0.001 * jnp.sum(action**2)
    total = angle_cost + speed_cost + torque_cost
    return total, {"angle_cost": angle_cost, "speed_cost": speed_cost, "torque_cost": torque_cost}
