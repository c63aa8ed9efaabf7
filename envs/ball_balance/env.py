"""Ball balance: a round tray, tilted and raised by three servos, keeps a dropped ball on it
(MJX, reward removed).

Written from the facts of IsaacGymEnvs' BallBalance: a tray of radius 0.5 m and thickness
0.02 m (density 100, 1.57 kg) whose centre rests 0.559 m above the ground; a ball of radius
0.1 m (density 200, 0.84 kg) dropped from 1-2 m above the ground, up to 0.5 m off the tray's
centre, thrown towards the centre at up to 5 m/s and downwards at 5 m/s; three actions in
[-1, 1] that move position-servo targets at a fixed speed (targets integrate the action, as
IsaacGymEnvs' ``actionSpeedScale``); a control period of 0.01 s; 500 steps (5 s); the episode
ends when the ball's centre falls below 1.5 ball radii (it lies on the ground).

What differs, and why: IsaacGymEnvs carries the tray on three two-link legs whose feet are
pinned to the ground (a closed kinematic chain that PhysX holds with stiff attractors) and
actuates the three knees. Written as MuJoCo ``connect`` constraints that chain buckled under
the knee servos at any time step we could afford (the tray sank through the ground within a
second of random actions), so here the tray is mounted on the three degrees of freedom those
legs give it, directly: a vertical slide (heave, +/-0.15 m) and two tilt hinges (roll about
x, pitch about y, +/-30 degrees), each a position servo. The action moves the heave target at
up to 1 m/s and the tilt targets at up to 5 rad/s. The observation has the servos' positions,
speeds and forces instead of IsaacGymEnvs' knee angles and leg force sensors.
"""

import jax
import jax.numpy as jnp
import mujoco
from ml_collections import config_dict
from mujoco_playground._src import mjx_env

from eureka_jax.env import MjxTaskEnv

TRAY_RADIUS, TRAY_THICKNESS, TRAY_HEIGHT = 0.5, 0.02, 0.559
BALL_RADIUS = 0.1
FALLEN_HEIGHT = 1.5 * BALL_RADIUS  # the ball's centre below this: it lies on the ground
TARGET_SPEED = (1.0, 5.0, 5.0)  # heave m/s, roll rad/s, pitch rad/s per unit action

XML = f"""
<mujoco model="ball_balance">
  <compiler angle="degree" inertiafromgeom="true"/>
  <option timestep="0.01"/>
  <worldbody>
    <light pos="0 0 4" dir="0 0 -1"/>
    <geom name="floor" type="plane" size="3 3 0.1" rgba="0.8 0.8 0.8 1" contype="0"
          conaffinity="0"/>
    <body name="tray" pos="0 0 {TRAY_HEIGHT}">
      <joint name="heave" type="slide" axis="0 0 1" range="-0.15 0.15"/>
      <joint name="roll" type="hinge" axis="1 0 0" range="-30 30"/>
      <joint name="pitch" type="hinge" axis="0 1 0" range="-30 30"/>
      <geom name="tray" type="cylinder" size="{TRAY_RADIUS} {0.5 * TRAY_THICKNESS}"
            density="100" contype="0" conaffinity="0" rgba="0.48 0.65 0.8 1"/>
      <geom name="column" type="capsule" fromto="0 0 -0.01 0 0 -{TRAY_HEIGHT - 0.02}"
            size="0.02" mass="0" contype="0" conaffinity="0" rgba="0.15 0.2 0.3 1"/>
    </body>
    <body name="ball" pos="0.2 0 2.0">
      <freejoint name="ball_root"/>
      <geom name="ball" type="sphere" size="{BALL_RADIUS}" density="200" contype="0"
            conaffinity="0" rgba="0.99 0.66 0.25 1"/>
    </body>
  </worldbody>
  <contact>
    <pair geom1="ball" geom2="tray" friction="1 1 0.005 0.0001 0.0001"/>
    <pair geom1="ball" geom2="floor"/>
  </contact>
  <actuator>
    <position name="heave" joint="heave" kp="4000" kv="100" ctrlrange="-0.15 0.15"/>
    <position name="roll" joint="roll" kp="400" kv="10" ctrlrange="-0.5236 0.5236"/>
    <position name="pitch" joint="pitch" kp="400" kv="10" ctrlrange="-0.5236 0.5236"/>
  </actuator>
  <sensor>
    <actuatorfrc name="heave_force" actuator="heave"/>
    <actuatorfrc name="roll_torque" actuator="roll"/>
    <actuatorfrc name="pitch_torque" actuator="pitch"/>
  </sensor>
</mujoco>
"""


def default_config() -> config_dict.ConfigDict:
    # sparse on the CPU: jaxlib's batched dense Cholesky can stall at >= 128 envs (README)
    return config_dict.create(ctrl_dt=0.01, sim_dt=0.01, impl="jax", cpu_jacobian="sparse")


class BallBalance(MjxTaskEnv):
    """Observation (15 numbers): servo positions (heave m, roll and pitch rad; 3), their
    speeds (3), ball position (3) and velocity (3) in the world frame (the tray's centre
    rests at (0, 0, 0.559)), and the servos' forces/torques divided by 20 (3)."""

    def __init__(self, config=None, config_overrides=None):
        model = mujoco.MjModel.from_xml_string(XML)
        super().__init__(config or default_config(), config_overrides, model)
        m = self._mj_model
        self._ball_q = m.joint("ball_root").qposadr[0]
        self._ball_v = m.joint("ball_root").dofadr[0]
        self._low = jnp.array(m.actuator_ctrlrange[:, 0])
        self._high = jnp.array(m.actuator_ctrlrange[:, 1])
        self._speed = jnp.array(TARGET_SPEED)

    def _observe(self, data) -> jax.Array:
        q, v = self._ball_q, self._ball_v
        return jnp.concatenate([data.qpos[:3], data.qvel[:3], data.qpos[q:q + 3],
                                data.qvel[v:v + 3], data.actuator_force / 20.0])

    def reset(self, rng: jax.Array) -> mjx_env.State:
        rng, r_dist, r_dir, r_h, r_speed = jax.random.split(rng, 5)
        dist = jax.random.uniform(r_dist, (), minval=0.001, maxval=0.5)
        angle = jax.random.uniform(r_dir, (), minval=0.0, maxval=2.0 * jnp.pi)
        direction = jnp.array([jnp.cos(angle), jnp.sin(angle)])
        height = jax.random.uniform(r_h, (), minval=1.0, maxval=2.0)
        speed = jax.random.uniform(r_speed, (), minval=0.0, maxval=5.0)
        towards_centre = -(dist - 0.001) / (0.5 - 0.001) * speed * direction
        q, v = self._ball_q, self._ball_v
        qpos = jnp.asarray(self._mj_model.qpos0)
        qpos = qpos.at[q:q + 3].set(jnp.array([dist * direction[0], dist * direction[1], height]))
        qpos = qpos.at[q + 3:q + 7].set(jnp.array([1.0, 0.0, 0.0, 0.0]))
        qvel = jnp.zeros(self._mj_model.nv)
        qvel = qvel.at[v:v + 3].set(jnp.array([towards_centre[0], towards_centre[1], -5.0]))
        data = self.make_data(qpos, qvel)
        data = data.replace(ctrl=jnp.zeros(self._mj_model.nu))
        return mjx_env.State(data, self._observe(data), jnp.zeros(()), jnp.zeros(()), {},
                             {"rng": rng})

    def step(self, state: mjx_env.State, action: jax.Array) -> mjx_env.State:
        target = state.data.ctrl + self.dt * self._speed * jnp.clip(action, -1.0, 1.0)
        target = jnp.clip(target, self._low, self._high)
        data = mjx_env.step(self._mjx_model, state.data, target, self.n_substeps)
        ball_height = data.qpos[self._ball_q + 2]
        done = ((ball_height < FALLEN_HEIGHT) | jnp.isnan(data.qpos).any()).astype(jnp.float32)
        return state.replace(data=data, obs=self._observe(data), reward=jnp.zeros(()), done=done)

    def reward_inputs(self, state, action, next_state) -> dict:
        """Named quantities of one transition (state --action--> next_state)."""
        data = next_state.data
        q, v = self._ball_q, self._ball_v
        return {
            "ball_position": data.qpos[q:q + 3],  # m, world frame; z up, ground at 0
            "ball_velocity": data.qvel[v:v + 3],  # m/s, world frame
            "tray_height": TRAY_HEIGHT + data.qpos[0],  # m, the tray's centre above ground
            "tray_tilt": data.qpos[1:3],  # rad, (roll about x, pitch about y); 0 = level
            "ball_radius": jnp.asarray(BALL_RADIUS),  # m
            "tray_velocity": data.qvel[:3],  # heave m/s, roll and pitch rad/s
            "action": jnp.clip(action, -1.0, 1.0),  # shape (3,), servo target speeds / max
            "terminated": next_state.done,  # 1.0 if the ball fell to the ground this step
            "alive": 1.0 - next_state.done,  # 1.0 while the ball is off the ground
        }


def make_env(config_overrides: dict) -> BallBalance:
    return BallBalance(config_overrides=config_overrides)
