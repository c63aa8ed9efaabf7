"""Franka cabinet: the Franka Emika Panda arm pulls a cabinet's handle out to a target
(MuJoCo Playground's PandaOpenCabinet, reward removed).

Eureka's FrankaCabinet (IsaacGymEnvs) has the same arm open the top drawer of a cabinet;
Playground's nearest task pulls a handle on a slide joint (0 to 0.5 m along x) to a target
0.1-0.3 m out, in 150 steps of 0.02 s. Its success threshold is ours: the handle within
2 cm of its target (Eureka: the drawer opened more than 0.39 m of its 0.4 m). The robot
model comes from MuJoCo Menagerie (downloaded by Playground on first use).
"""

import jax.numpy as jnp

from eureka_jax.env import PlaygroundTask

SUCCESS_DISTANCE = 0.02  # m between the handle and its target


class FrankaCabinet(PlaygroundTask):
    playground_env = "PandaOpenCabinet"
    keep_upstream_reward = True  # Playground's reward: the human baseline's private input

    def reset(self, rng):
        state = super().reset(rng)
        return state.replace(info={**state.info, "opened": jnp.zeros(())})

    def step(self, state, action):
        nxt = super().step(state, action)
        now = (self._handle_gap(nxt) < SUCCESS_DISTANCE).astype(jnp.float32)
        return nxt.replace(info={**nxt.info, "opened": jnp.maximum(state.info["opened"], now)})

    def _handle_gap(self, state):
        return jnp.linalg.norm(state.info["target_pos"] - state.data.xpos[self.env._obj_body])

    def reward_inputs(self, state, action, next_state) -> dict:
        """Named quantities of one transition (state --action--> next_state)."""
        env, data = self.env, next_state.data
        handle = data.xpos[env._obj_body]
        gripper = data.site_xpos[env._gripper_site]
        barrier = sum(data.sensordata[env._mj_model.sensor_adr[i]] > 0
                      for i in env._barrier_hand_found_sensor)
        return {
            "handle_position": handle,  # m, world frame; it slides along x only
            "handle_target": next_state.info["target_pos"],  # m, where the handle must go
            "gripper_position": gripper,  # m, the gripper site between the fingertips
            "handle_to_target": self._handle_gap(next_state),  # m
            "gripper_to_handle": jnp.linalg.norm(handle - gripper),  # m
            "arm_joint_offset": data.qpos[env._robot_arm_qposadr]
                                - jnp.asarray(env._init_q)[env._robot_arm_qposadr],  # rad (7,)
            "barrier_contact": (barrier > 0).astype(jnp.float32),  # hand touching the barrier
            "opened": next_state.info["opened"],  # 1.0 once the handle was within 2 cm
            "newly_opened": next_state.info["opened"] - state.info["opened"],  # 1.0 that step
            "action": jnp.clip(action, -1.0, 1.0),  # joint-target deltas / 0.04 rad
            "terminated": next_state.done,  # 1.0 if the handle left the workspace
            "playground_reward": next_state.info["upstream_reward"],  # baselines only
        }


def make_env(config_overrides: dict) -> FrankaCabinet:
    return FrankaCabinet(config_overrides)
