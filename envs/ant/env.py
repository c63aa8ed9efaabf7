"""Ant: a four-legged robot on flat ground (Brax's model, on MJX, reward removed).

The torso is a free body; each leg has a hip and an ankle joint (8 actuators, actions in
[-1, 1]). The episode terminates when the torso height leaves [0.2, 1.0] m (fallen or
flipped). "Forward" is the +x direction of the world.
"""

import jax
import jax.numpy as jnp
import mujoco
from ml_collections import config_dict
from mujoco_playground._src import mjx_env

from eureka_jax.env import MjxTaskEnv, brax_asset

HEALTHY_Z_RANGE = (0.2, 1.0)  # m, torso height outside this range terminates


def default_config() -> config_dict.ConfigDict:
    # Solver settings as Brax uses for its MJX backend.
    return config_dict.create(
        ctrl_dt=0.05, sim_dt=0.01, impl="jax", reset_noise=0.1,
        brax_solver=True, iterations=1, ls_iterations=4,
    )


class Ant(MjxTaskEnv):
    """Observation: [qpos without x/y (13), qvel (14)]."""

    def __init__(self, config=None, config_overrides=None):
        model = mujoco.MjModel.from_xml_path(brax_asset("ant.xml"))
        super().__init__(config or default_config(), config_overrides, model)
        self._torso = model.body("torso").id

    def reset(self, rng: jax.Array) -> mjx_env.State:
        rng, rng_init = jax.random.split(rng)
        data = self.random_data(rng_init, self._config.reset_noise)
        obs = jnp.concatenate([data.qpos[2:], data.qvel])
        return mjx_env.State(data, obs, jnp.zeros(()), jnp.zeros(()), {}, {"rng": rng})

    def step(self, state: mjx_env.State, action: jax.Array) -> mjx_env.State:
        data = self.physics_step(state.data, action)
        height = data.xpos[self._torso, 2]
        healthy = (height >= HEALTHY_Z_RANGE[0]) & (height <= HEALTHY_Z_RANGE[1])
        done = (~healthy | jnp.isnan(data.qpos).any()).astype(jnp.float32)
        obs = jnp.concatenate([data.qpos[2:], data.qvel])
        return state.replace(data=data, obs=obs, reward=jnp.zeros(()), done=done)

    def reward_inputs(self, state, action, next_state) -> dict:
        """Named quantities of one transition (state --action--> next_state)."""
        before, after = state.data.xpos[self._torso], next_state.data.xpos[self._torso]
        velocity = (after - before) / self.dt
        return {
            "torso_position": after,  # (3,) m, world frame
            "torso_velocity": velocity,  # (3,) m/s, finite difference over this step
            "forward_velocity": velocity[0],  # m/s along +x
            "torso_height": after[2],  # m, healthy range [0.2, 1.0]
            "torso_orientation": next_state.data.qpos[3:7],  # (4,) quaternion w, x, y, z
            "torso_angular_velocity": next_state.data.qvel[3:6],  # (3,) rad/s
            "joint_positions": next_state.data.qpos[7:],  # (8,) rad, hips and ankles
            "joint_velocities": next_state.data.qvel[6:],  # (8,) rad/s
            "action": jnp.clip(action, -1.0, 1.0),  # (8,)
            "terminated": next_state.done,  # 1.0 if the ant fell or flipped this step
        }


def make_env(config_overrides: dict) -> Ant:
    return Ant(config_overrides=config_overrides)
