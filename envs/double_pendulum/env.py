"""Inverted double pendulum on a cart (Brax's / Gym's model, on MJX, reward removed).

Two 0.6 m poles stacked on a cart that slides on a rail (|x| <= 1 m). The episode terminates
when the tip of the upper pole drops to a height of 1 m or less (fully upright it is at 1.2 m).
The action is one number in [-1, 1], a force on the cart (gear 500).
"""

import jax
import jax.numpy as jnp
import mujoco
from ml_collections import config_dict
from mujoco_playground._src import mjx_env

from eureka_jax.env import MjxTaskEnv, brax_asset

TIP_HEIGHT_LIMIT = 1.0  # m


def default_config() -> config_dict.ConfigDict:
    return config_dict.create(ctrl_dt=0.02, sim_dt=0.01, impl="jax", reset_noise=0.1)


class DoublePendulum(MjxTaskEnv):
    """Observation: [x, sin(q1), sin(q2), cos(q1), cos(q2), clipped velocities (3)]."""

    def __init__(self, config=None, config_overrides=None):
        model = mujoco.MjModel.from_xml_path(brax_asset("inverted_double_pendulum.xml"))
        super().__init__(config or default_config(), config_overrides, model)
        self._tip = model.site("tip").id

    def reset(self, rng: jax.Array) -> mjx_env.State:
        rng, rng_init = jax.random.split(rng)
        data = self.random_data(rng_init, self._config.reset_noise)
        return mjx_env.State(data, self._obs(data), jnp.zeros(()), jnp.zeros(()), {}, {"rng": rng})

    def step(self, state: mjx_env.State, action: jax.Array) -> mjx_env.State:
        data = self.physics_step(state.data, action)
        tip_height = data.site_xpos[self._tip, 2]
        done = ((tip_height <= TIP_HEIGHT_LIMIT) | jnp.isnan(data.qpos).any()).astype(jnp.float32)
        return state.replace(data=data, obs=self._obs(data), reward=jnp.zeros(()), done=done)

    def _obs(self, data) -> jax.Array:
        angles = data.qpos[1:]
        return jnp.concatenate(
            [data.qpos[:1], jnp.sin(angles), jnp.cos(angles), jnp.clip(data.qvel, -10, 10)]
        )

    def reward_inputs(self, state, action, next_state) -> dict:
        """Named quantities of one transition (state --action--> next_state)."""
        data = next_state.data
        tip = data.site_xpos[self._tip]
        return {
            "cart_position": data.qpos[0],  # m, rail limits at +-1
            "lower_pole_angle": data.qpos[1],  # rad, relative to vertical
            "upper_pole_angle": data.qpos[2],  # rad, relative to the lower pole
            "cart_velocity": data.qvel[0],  # m/s
            "lower_pole_angular_velocity": data.qvel[1],  # rad/s
            "upper_pole_angular_velocity": data.qvel[2],  # rad/s
            "tip_x": tip[0],  # m, horizontal position of the upper pole's tip
            "tip_height": tip[2],  # m, 1.2 fully upright; <= 1.0 terminates
            "action": jnp.clip(action, -1.0, 1.0),  # shape (1,)
            "terminated": next_state.done,  # 1.0 if this step ended the episode by failure
            "alive": 1.0 - next_state.done,  # 1.0 while balancing
        }


def make_env(config_overrides: dict) -> DoublePendulum:
    return DoublePendulum(config_overrides=config_overrides)
