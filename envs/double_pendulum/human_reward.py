"""Expert reward for the inverted double pendulum, as in Gym/Brax: a survival bonus minus the
tip's distance from the upright point and the poles' angular speeds."""


def compute_reward(tip_x, tip_height, lower_pole_angular_velocity, upper_pole_angular_velocity,
                   terminated):
    alive_bonus = 10.0 * (1.0 - terminated)
    distance_penalty = -(0.01 * tip_x**2 + (tip_height - 2.0) ** 2)
    velocity_penalty = -(
        1e-3 * lower_pole_angular_velocity**2 + 5e-3 * upper_pole_angular_velocity**2
    )
    total = alive_bonus + distance_penalty + velocity_penalty
    return total, {
        "alive_bonus": alive_bonus,
        "distance_penalty": distance_penalty,
        "velocity_penalty": velocity_penalty,
    }
