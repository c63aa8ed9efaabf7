"""Humanoid: a 3D bipedal body on flat ground (Brax's model, on MJX, reward removed).

17 actuated joints (actions in [-1, 1], mapped to each actuator's control range). The episode
terminates when the torso height leaves [1.0, 2.0] m (fallen). "Forward" is world +x.
"""

import jax
import jax.numpy as jnp
import mujoco
from ml_collections import config_dict
from mujoco_playground._src import mjx_env

from eureka_jax.env import MjxTaskEnv, brax_asset

HEALTHY_Z_RANGE = (1.0, 2.0)  # m, torso height outside this range terminates


def default_config() -> config_dict.ConfigDict:
    # Solver settings as Brax uses for its MJX backend.
    return config_dict.create(
        ctrl_dt=0.015, sim_dt=0.003, impl="jax", reset_noise=0.01,
        brax_solver=True, iterations=1, ls_iterations=4,
    )


class Humanoid(MjxTaskEnv):
    """Observation: [qpos without x/y, qvel, body velocities (cvel), actuator forces]."""

    def __init__(self, config=None, config_overrides=None):
        model = mujoco.MjModel.from_xml_path(brax_asset("humanoid.xml"))
        super().__init__(config or default_config(), config_overrides, model)
        self._torso = model.body("torso").id
        self._ctrl_low = jnp.asarray(model.actuator_ctrlrange[:, 0])
        self._ctrl_high = jnp.asarray(model.actuator_ctrlrange[:, 1])

    def reset(self, rng: jax.Array) -> mjx_env.State:
        rng, rng_init = jax.random.split(rng)
        data = self.random_data(rng_init, self._config.reset_noise)
        return mjx_env.State(data, self._obs(data), jnp.zeros(()), jnp.zeros(()), {}, {"rng": rng})

    def step(self, state: mjx_env.State, action: jax.Array) -> mjx_env.State:
        action = jnp.clip(action, -1.0, 1.0)
        ctrl = self._ctrl_low + (action + 1.0) * 0.5 * (self._ctrl_high - self._ctrl_low)
        data = mjx_env.step(self._mjx_model, state.data, ctrl, self.n_substeps)
        height = data.xpos[self._torso, 2]
        healthy = (height >= HEALTHY_Z_RANGE[0]) & (height <= HEALTHY_Z_RANGE[1])
        done = (~healthy | jnp.isnan(data.qpos).any()).astype(jnp.float32)
        return state.replace(data=data, obs=self._obs(data), reward=jnp.zeros(()), done=done)

    def _obs(self, data) -> jax.Array:
        return jnp.concatenate([
            data.qpos[2:],
            data.qvel,
            data.cvel[1:].ravel(),
            data.qfrc_actuator,
        ])

    def reward_inputs(self, state, action, next_state) -> dict:
        """Named quantities of one transition (state --action--> next_state)."""
        com_before = state.data.subtree_com[self._torso]
        com_after = next_state.data.subtree_com[self._torso]
        com_velocity = (com_after - com_before) / self.dt
        return {
            "center_of_mass": com_after,  # (3,) m, whole body, world frame
            "com_velocity": com_velocity,  # (3,) m/s, finite difference over this step
            "forward_velocity": com_velocity[0],  # m/s along +x
            "torso_height": next_state.data.xpos[self._torso, 2],  # m, healthy range [1, 2]
            "torso_orientation": next_state.data.qpos[3:7],  # (4,) quaternion w, x, y, z
            "torso_angular_velocity": next_state.data.qvel[3:6],  # (3,) rad/s
            "joint_positions": next_state.data.qpos[7:],  # (17,) rad
            "joint_velocities": next_state.data.qvel[6:],  # (17,) rad/s
            "action": jnp.clip(action, -1.0, 1.0),  # (17,)
            "terminated": next_state.done,  # 1.0 if the humanoid fell this step
        }


def make_env(config_overrides: dict) -> Humanoid:
    return Humanoid(config_overrides=config_overrides)
