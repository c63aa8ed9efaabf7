"""Pendulum swing-up: MuJoCo Playground's PendulumSwingup with its reward removed.

A torque-limited pole hinged at one end starts at rest at a random angle, uniform in [0, pi)
rad from upright (anywhere from upright to hanging down; Playground's reset); the motor is too
weak to lift it directly from hanging, so it has to pump energy by swinging. Actions in
[-1, 1].
"""

import jax.numpy as jnp

from eureka_jax.env import PlaygroundTask

UPRIGHT_ANGLE = 30.0  # degrees from vertical that count as "upright"


class PendulumSwingup(PlaygroundTask):
    playground_env = "PendulumSwingup"

    def __init__(self, config_overrides=None):
        super().__init__(config_overrides)
        self._pole = self.mj_model.body("pole").id
        self._hinge = self.mj_model.jnt_dofadr[self.mj_model.joint("hinge").id]

    def reward_inputs(self, state, action, next_state) -> dict:
        """Named quantities of one transition (state --action--> next_state)."""
        data = next_state.data
        cos_angle = data.xmat[self._pole, 2, 2]  # vertical component of the pole's axis
        sin_angle = data.xmat[self._pole, 0, 2]
        return {
            "pole_angle": jnp.arctan2(sin_angle, cos_angle),  # rad in (-pi, pi], 0 = upright
            "pole_cos_angle": cos_angle,  # 1 upright, -1 hanging down
            "pole_angular_velocity": data.qvel[self._hinge],  # rad/s
            "action": jnp.clip(action, -1.0, 1.0),  # (1,) torque / max torque
            "upright": (cos_angle > jnp.cos(jnp.deg2rad(UPRIGHT_ANGLE))).astype(jnp.float32),
        }


def make_env(config_overrides: dict) -> PendulumSwingup:
    return PendulumSwingup(config_overrides)
