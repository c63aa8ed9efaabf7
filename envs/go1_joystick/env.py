"""Go1 joystick: the Unitree Go1 quadruped follows a commanded planar velocity on flat
ground (MuJoCo Playground's Go1JoystickFlatTerrain, reward removed).

Eureka's Anymal task (IsaacGymEnvs) has the ANYmal C quadruped track a commanded (vx, vy,
yaw rate); Playground's nearest task does the same with the smaller Go1: commands resampled
every few seconds, 1000 steps of 0.02 s, the episode ends when the robot turns over. The
robot model comes from MuJoCo Menagerie (downloaded by Playground on first use).

The command in force during a transition is the one the policy observed before it
(``state.info["command"]``; Playground resamples it inside ``step``).
"""

import jax.numpy as jnp

from eureka_jax.env import PlaygroundTask


class Go1Joystick(PlaygroundTask):
    playground_env = "Go1JoystickFlatTerrain"
    keep_upstream_reward = True  # Playground's reward: the human baseline's private input

    def reward_inputs(self, state, action, next_state) -> dict:
        """Named quantities of one transition (state --action--> next_state)."""
        env, data = self.env, next_state.data
        command = state.info["command"]
        local_velocity = env.get_local_linvel(data)
        yaw_rate = env.get_gyro(data)[2]
        lin_error = jnp.sum((command[:2] - local_velocity[:2]) ** 2)
        yaw_error = (command[2] - yaw_rate) ** 2
        return {
            "command": command,  # (vx m/s, vy m/s, yaw rate rad/s) in the body frame
            "local_velocity": local_velocity,  # m/s, body frame
            "angular_velocity": env.get_gyro(data),  # rad/s, body frame (gyro)
            "up_vector": env.get_upvector(data),  # world z in the body frame; z < 0: fallen
            "base_height": data.qpos[2],  # m
            "joint_angles": data.qpos[7:],  # rad (12,), relative to nothing: the raw angles
            "joint_velocities": data.qvel[6:],  # rad/s (12,)
            "joint_torques": data.actuator_force,  # N·m (12,)
            "feet_positions": env.get_feet_pos(data),  # m (4, 3), world frame
            "velocity_error": lin_error + yaw_error,  # (m/s)^2 + (rad/s)^2
            "neg_velocity_error": -(lin_error + yaw_error),  # fitness signal
            "action": jnp.clip(action, -1.0, 1.0),  # joint-target offsets / 0.5 rad
            "terminated": next_state.done,  # 1.0 if the robot turned over
            "playground_reward": next_state.info["upstream_reward"],  # baselines only
        }


def make_env(config_overrides: dict) -> Go1Joystick:
    return Go1Joystick(config_overrides)
