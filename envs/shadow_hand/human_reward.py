"""Expert reward for the Shadow Hand tasks, after the classic IsaacGymEnvs ShadowHand reward:
keep the object near its place (distance), turn it towards the goal (inverse rotation
distance), small actions, a large bonus for each goal reached and a penalty for a drop."""

import jax.numpy as jnp


def compute_reward(goal_dist, rot_dist, action, success, fell):
    distance = -10.0 * goal_dist
    rotation = 1.0 / (jnp.abs(rot_dist) + 0.1)
    action_penalty = -0.0002 * jnp.sum(action**2)
    reach_bonus = 250.0 * success
    fall_penalty = -50.0 * fell
    total = distance + rotation + action_penalty + reach_bonus + fall_penalty
    return total, {"distance": distance, "rotation": rotation, "action_penalty": action_penalty,
                   "reach_bonus": reach_bonus, "fall_penalty": fall_penalty}
