"""Cartpole: a cart on a 4.8 m track carrying a hinged pole (MJX, reward removed).

The episode terminates when the pole tilts more than 0.2 rad (about 12 degrees) from upright
or the cart leaves the track (|x| > 2.4 m). The action is one number in [-1, 1], a horizontal
force on the cart of up to 10 N.
"""

import jax
import jax.numpy as jnp
import mujoco
from ml_collections import config_dict
from mujoco_playground._src import mjx_env

from eureka_jax.env import MjxTaskEnv

XML = """
<mujoco model="cartpole">
  <option timestep="0.01"/>
  <worldbody>
    <geom name="track" type="box" size="2.4 0.02 0.02" pos="0 0 0" contype="0" conaffinity="0"/>
    <body name="cart" pos="0 0 0">
      <joint name="slider" type="slide" axis="1 0 0" damping="0.0"/>
      <geom name="cart" type="box" size="0.2 0.1 0.05" mass="1.0" contype="0" conaffinity="0"/>
      <body name="pole" pos="0 0 0">
        <joint name="hinge" type="hinge" axis="0 1 0" damping="0.0"/>
        <geom name="pole" type="capsule" fromto="0 0 0 0 0 1.0" size="0.025" mass="0.1"
              contype="0" conaffinity="0"/>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor name="push" joint="slider" gear="10" ctrlrange="-1 1" ctrllimited="true"/>
  </actuator>
</mujoco>
"""

POLE_ANGLE_LIMIT = 0.2  # rad
CART_POSITION_LIMIT = 2.4  # m


def default_config() -> config_dict.ConfigDict:
    return config_dict.create(ctrl_dt=0.02, sim_dt=0.01, impl="jax", reset_noise=0.05)


class Cartpole(MjxTaskEnv):
    """Observation: [cart position, pole angle, cart velocity, pole angular velocity]."""

    def __init__(self, config=None, config_overrides=None):
        model = mujoco.MjModel.from_xml_string(XML)
        super().__init__(config or default_config(), config_overrides, model)

    def reset(self, rng: jax.Array) -> mjx_env.State:
        rng, rng_init = jax.random.split(rng)
        data = self.random_data(rng_init, self._config.reset_noise)
        obs = jnp.concatenate([data.qpos, data.qvel])
        return mjx_env.State(data, obs, jnp.zeros(()), jnp.zeros(()), {}, {"rng": rng})

    def step(self, state: mjx_env.State, action: jax.Array) -> mjx_env.State:
        data = self.physics_step(state.data, action)
        cart_position, pole_angle = data.qpos[0], data.qpos[1]
        fell = jnp.abs(pole_angle) > POLE_ANGLE_LIMIT
        off_track = jnp.abs(cart_position) > CART_POSITION_LIMIT
        done = (fell | off_track | jnp.isnan(data.qpos).any()).astype(jnp.float32)
        obs = jnp.concatenate([data.qpos, data.qvel])
        return state.replace(data=data, obs=obs, reward=jnp.zeros(()), done=done)

    def reward_inputs(self, state, action, next_state) -> dict:
        """Named quantities of one transition (state --action--> next_state)."""
        data = next_state.data
        return {
            "cart_position": data.qpos[0],  # m, 0 = track centre, |x| > 2.4 terminates
            "pole_angle": data.qpos[1],  # rad, 0 = upright, |angle| > 0.2 terminates
            "cart_velocity": data.qvel[0],  # m/s
            "pole_angular_velocity": data.qvel[1],  # rad/s
            "action": jnp.clip(action, -1.0, 1.0),  # shape (1,), force / 10 N
            "terminated": next_state.done,  # 1.0 if this step ended the episode by failure
            "alive": 1.0 - next_state.done,  # 1.0 while balancing
        }


def make_env(config_overrides: dict) -> Cartpole:
    return Cartpole(config_overrides=config_overrides)
