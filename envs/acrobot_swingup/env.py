"""Acrobot swing-up: MuJoCo Playground's AcrobotSwingup with its reward removed.

A two-link pendulum with a motor only at the elbow; the goal is to bring the tip of the lower
arm into a target sphere (radius 0.2 m) above the shoulder. Each episode starts with both
joint angles uniform in [-pi, pi) (Playground's reset). Actions in [-1, 1].
"""

import jax.numpy as jnp

from eureka_jax.env import PlaygroundTask


class AcrobotSwingup(PlaygroundTask):
    playground_env = "AcrobotSwingup"

    def __init__(self, config_overrides=None):
        super().__init__(config_overrides)
        model = self.mj_model
        self._tip = model.site("tip").id
        self._target = model.site("target").id
        self._target_radius = float(model.site_size[self._target, 0])
        self._arms = jnp.array([model.body("upper_arm").id, model.body("lower_arm").id])

    def reward_inputs(self, state, action, next_state) -> dict:
        """Named quantities of one transition (state --action--> next_state)."""
        data = next_state.data
        tip = data.site_xpos[self._tip]
        target = data.site_xpos[self._target]
        distance = jnp.linalg.norm(target - tip)
        return {
            "tip_position": tip,  # (3,) m, world frame
            "target_position": target,  # (3,) m, fixed, 4 m above the shoulder
            "tip_to_target_distance": distance,  # m
            "target_radius": jnp.float32(self._target_radius),  # m
            "arm_vertical": data.xmat[self._arms, 2, 2],  # (2,) cos of each arm's angle, 1 = up
            "arm_horizontal": data.xmat[self._arms, 0, 2],  # (2,) sin of each arm's angle
            "joint_angles": data.qpos,  # (2,) rad, shoulder and elbow
            "joint_velocities": data.qvel,  # (2,) rad/s
            "action": jnp.clip(action, -1.0, 1.0),  # (1,) elbow torque
            "tip_in_target": (distance <= self._target_radius).astype(jnp.float32),
        }


def make_env(config_overrides: dict) -> AcrobotSwingup:
    return AcrobotSwingup(config_overrides)
