"""Cheetah run: MuJoCo Playground's CheetahRun with its reward removed.

A planar two-legged runner (6 actuated joints, actions in [-1, 1]); no termination.
"""

import jax.numpy as jnp

from eureka_jax.env import PlaygroundTask


class CheetahRun(PlaygroundTask):
    playground_env = "CheetahRun"

    def reward_inputs(self, state, action, next_state) -> dict:
        """Named quantities of one transition (state --action--> next_state)."""
        data = next_state.data
        return {
            "forward_velocity": self.sensor(data, "torso_subtreelinvel")[0],  # m/s, whole body
            "torso_height": data.qpos[1],  # m, relative to the start height
            "torso_pitch": data.qpos[2],  # rad
            "torso_pitch_velocity": data.qvel[2],  # rad/s
            "joint_angles": data.qpos[3:],  # (6,) rad: back thigh, shin, foot, front ...
            "joint_velocities": data.qvel[3:],  # (6,) rad/s
            "action": jnp.clip(action, -1.0, 1.0),  # (6,)
        }


def make_env(config_overrides: dict) -> CheetahRun:
    return CheetahRun(config_overrides)
