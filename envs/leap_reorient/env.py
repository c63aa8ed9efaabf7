"""LEAP reorient: the LEAP hand turns a cube in its palm to a goal orientation that changes
after every success (MuJoCo Playground's LeapCubeReorient, reward removed).

Eureka's AllegroHand task (IsaacGymEnvs) reorients a cube with the four-fingered Allegro
hand; Playground's nearest task does the same with the four-fingered LEAP hand: a success is
the cube within 0.1 rad of the goal orientation (Eureka's AllegroHand: 0.1 rad too), after
which a new goal is drawn; 1000 steps of 0.05 s; the episode ends when the cube falls. The
robot model comes from MuJoCo Menagerie (downloaded by Playground on first use).
"""

import jax.numpy as jnp

from eureka_jax.env import PlaygroundTask


class LeapReorient(PlaygroundTask):
    playground_env = "LeapCubeReorient"
    keep_upstream_reward = True  # Playground's reward: the human baseline's private input

    def reward_inputs(self, state, action, next_state) -> dict:
        """Named quantities of one transition (state --action--> next_state)."""
        env, data = self.env, next_state.data
        return {
            "cube_position": env.get_cube_position(data),  # m, relative to the palm's grasp site
            "cube_orientation": env.get_cube_orientation(data),  # quaternion (w, x, y, z)
            "goal_orientation": env.get_cube_goal_orientation(data),  # quaternion (w, x, y, z)
            "orientation_error": env._cube_orientation_error(data),  # rad; < 0.1 is a success
            "cube_linear_velocity": env.get_cube_linvel(data),  # m/s
            "cube_angular_velocity": env.get_cube_angvel(data),  # rad/s
            "fingertip_positions": env.get_fingertip_positions(data),  # m (12,), 4 tips
            "joint_angles": data.qpos[env._hand_qids],  # rad (16,)
            "joint_velocities": data.qvel[env._hand_dqids],  # rad/s (16,)
            "success": (next_state.info["success_count"]
                        - state.info["success_count"]).astype(jnp.float32),  # 1.0: goal reached
            "action": jnp.clip(action, -1.0, 1.0),  # joint-target deltas / 0.5 rad
            "terminated": next_state.done,  # 1.0 if the cube fell
            "playground_reward": next_state.info["upstream_reward"],  # baselines only
        }


def make_env(config_overrides: dict) -> LeapReorient:
    return LeapReorient(config_overrides)
