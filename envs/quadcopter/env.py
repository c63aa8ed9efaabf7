"""Quadcopter: fly a small four-rotor craft to a point 1 m above the origin and hover there
(MJX, reward removed).

Written from the facts of IsaacGymEnvs' Quadcopter (its MJCF is generated in code there;
this one is written from those numbers): a chassis disc of radius 0.1 m and thickness 0.03 m
(density 50, 47 g); four rotor arms (spheres of radius 0.01 m, density 200) at 45°, 135°,
225° and 315° just outside the chassis, each with a pitch hinge (+/-30°) carrying a rotor
disc (radius 0.04 m, thickness 0.01 m, density 1000, 50 g) on a roll hinge (+/-30°): 8
position-servoed joints. Each rotor pushes along its own axis with a thrust in [0, 2] N
(the craft weighs 0.25 kg, 2.5 N). Actions (12 numbers in [-1, 1]) move the 8 joint targets
at up to 8π rad/s and the 4 thrusts at up to 200 N/s (targets and thrusts integrate the
action, as IsaacGymEnvs'); the control period is 0.01 s (two 0.005 s physics steps). Resets
put the craft at (0, 0, 1) + U(-1.5, 1.5) m in x and y and U(-0.2, 1.5) m in z, level and
at rest, the joints at U(-0.2, 0.2) rad and the thrusts at 0. The episode ends when the
craft is more than 3 m from the target or lower than 0.3 m, or after 500 steps (5 s).

What differs, and why: the joint servos are far softer (kp 0.5 N·m/rad, kv 0.004, against
PhysX's implicit stiffness 1000 with no damping), because an explicit MuJoCo step cannot
hold a stiff servo on a 50 g rotor at this time step; the rotors still reach their targets
in about 0.05 s. IsaacGymEnvs caps the body's angular speed at 4π rad/s in every physics
step; MuJoCo has no such cap, so the env rescales it after each control step.
"""

import math

import jax
import jax.numpy as jnp
import mujoco
from ml_collections import config_dict
from mujoco_playground._src import mjx_env

from eureka_jax.env import MjxTaskEnv

CHASSIS_RADIUS, CHASSIS_THICKNESS = 0.1, 0.03
ROTOR_RADIUS, ROTOR_THICKNESS, ARM_RADIUS = 0.04, 0.01, 0.01
MAX_THRUST = 2.0  # N per rotor
JOINT_SPEED, THRUST_SPEED = 8.0 * math.pi, 200.0  # per unit action: rad/s, N/s
TARGET = (0.0, 0.0, 1.0)
MAX_DISTANCE, MIN_HEIGHT = 3.0, 0.3
MAX_ANGULAR_SPEED = 4.0 * math.pi  # rad/s, applied after each control step


def _rotor(i: int) -> str:
    a = math.radians(45.0 + 90.0 * i)
    arm = CHASSIS_RADIUS + 0.25 * ARM_RADIUS
    quat = f"{math.cos(a / 2):.6f} 0 0 {math.sin(a / 2):.6f}"  # yaw by a: arm's x points out
    return f"""
      <body name="rotor_arm{i}" pos="{arm * math.cos(a):.6f} {arm * math.sin(a):.6f} 0"
            quat="{quat}">
        <joint name="rotor_pitch{i}" type="hinge" axis="0 1 0" range="-30 30"/>
        <geom type="sphere" size="{ARM_RADIUS}" density="200" contype="0" conaffinity="0"
              rgba="0 0 0 1"/>
        <body name="rotor{i}" pos="{ROTOR_RADIUS + 0.25 * ARM_RADIUS} 0 0">
          <joint name="rotor_roll{i}" type="hinge" axis="1 0 0" range="-30 30"/>
          <geom type="cylinder" size="{ROTOR_RADIUS} {0.5 * ROTOR_THICKNESS}" density="1000"
                contype="0" conaffinity="0" rgba="0.1 0.2 0.6 1"/>
          <site name="thrust{i}" size="0.005"/>
        </body>
      </body>"""


_JOINTS = [f"rotor_{kind}{i}" for i in range(4) for kind in ("pitch", "roll")]

XML = f"""
<mujoco model="quadcopter">
  <compiler angle="degree" inertiafromgeom="true"/>
  <option timestep="0.005"/>
  <worldbody>
    <light pos="0 0 4" dir="0 0 -1"/>
    <geom name="floor" type="plane" size="4 4 0.1" rgba="0.8 0.8 0.8 1" contype="0"
          conaffinity="0"/>
    <site name="target" pos="{TARGET[0]} {TARGET[1]} {TARGET[2]}" size="0.03"
          rgba="1 0 0 0.5"/>
    <body name="chassis" pos="0 0 1">
      <freejoint name="root"/>
      <geom type="cylinder" size="{CHASSIS_RADIUS} {0.5 * CHASSIS_THICKNESS}" density="50"
            contype="0" conaffinity="0" rgba="0.8 0.6 0.2 1"/>
      {"".join(_rotor(i) for i in range(4))}
    </body>
  </worldbody>
  <actuator>
    {"".join(f'<position name="{j}" joint="{j}" kp="0.5" kv="0.004" ctrlrange="-0.5236 0.5236"/>'
             for j in _JOINTS)}
    {"".join(f'<motor name="thrust{i}" site="thrust{i}" gear="0 0 1 0 0 0" '
             f'ctrlrange="0 {MAX_THRUST}"/>' for i in range(4))}
  </actuator>
</mujoco>
"""


def default_config() -> config_dict.ConfigDict:
    # sparse on the CPU: jaxlib's batched dense Cholesky can stall at >= 128 envs (README)
    return config_dict.create(ctrl_dt=0.01, sim_dt=0.005, impl="jax", cpu_jacobian="sparse")


class Quadcopter(MjxTaskEnv):
    """Observation (21 numbers, as IsaacGymEnvs'): (target − position) / 3 (3), orientation
    quaternion (4, w first), linear velocity / 2 (3), angular velocity / π (3), both in the
    world frame, and the 8 rotor joint angles (rad)."""

    def __init__(self, config=None, config_overrides=None):
        model = mujoco.MjModel.from_xml_string(XML)
        super().__init__(config or default_config(), config_overrides, model)
        m = self._mj_model
        self._low = jnp.array(m.actuator_ctrlrange[:, 0])
        self._high = jnp.array(m.actuator_ctrlrange[:, 1])
        self._speed = jnp.array([JOINT_SPEED] * 8 + [THRUST_SPEED] * 4)
        self._target = jnp.array(TARGET)

    def _observe(self, data) -> jax.Array:
        return jnp.concatenate([(self._target - data.qpos[:3]) / 3.0, data.qpos[3:7],
                                data.qvel[:3] / 2.0, data.qvel[3:6] / jnp.pi, data.qpos[7:15]])

    def reset(self, rng: jax.Array) -> mjx_env.State:
        rng, r_xy, r_z, r_joints = jax.random.split(rng, 4)
        xy = jax.random.uniform(r_xy, (2,), minval=-1.5, maxval=1.5)
        z = 1.0 + jax.random.uniform(r_z, (), minval=-0.2, maxval=1.5)
        joints = jax.random.uniform(r_joints, (8,), minval=-0.2, maxval=0.2)
        qpos = jnp.concatenate([xy, z[None], jnp.array([1.0, 0.0, 0.0, 0.0]), joints])
        data = self.make_data(qpos, jnp.zeros(self._mj_model.nv))
        data = data.replace(ctrl=jnp.concatenate([joints, jnp.zeros(4)]))
        return mjx_env.State(data, self._observe(data), jnp.zeros(()), jnp.zeros(()), {},
                             {"rng": rng})

    def step(self, state: mjx_env.State, action: jax.Array) -> mjx_env.State:
        ctrl = state.data.ctrl + self.dt * self._speed * jnp.clip(action, -1.0, 1.0)
        data = mjx_env.step(self._mjx_model, state.data, jnp.clip(ctrl, self._low, self._high),
                            self.n_substeps)
        spin = data.qvel[3:6]  # IsaacGymEnvs caps the body's angular speed at 4π rad/s
        speed = jnp.linalg.norm(spin)
        spin = spin * jnp.minimum(1.0, MAX_ANGULAR_SPEED / jnp.maximum(speed, 1e-9))
        data = data.replace(qvel=data.qvel.at[3:6].set(spin))
        distance = jnp.linalg.norm(self._target - data.qpos[:3])
        done = (distance > MAX_DISTANCE) | (data.qpos[2] < MIN_HEIGHT) | jnp.isnan(data.qpos).any()
        return state.replace(data=data, obs=self._observe(data), reward=jnp.zeros(()),
                             done=done.astype(jnp.float32))

    def reward_inputs(self, state, action, next_state) -> dict:
        """Named quantities of one transition (state --action--> next_state)."""
        data = next_state.data
        position = data.qpos[:3]
        return {
            "position": position,  # m, world frame, z up; the target is (0, 0, 1)
            "target_position": self._target,  # m
            "target_distance": jnp.linalg.norm(self._target - position),  # m; > 3 terminates
            "neg_target_distance": -jnp.linalg.norm(self._target - position),  # m (fitness)
            "orientation": data.qpos[3:7],  # unit quaternion (w, x, y, z), body to world
            "up_axis": _body_z(data.qpos[3:7]),  # the body's z axis in the world frame
            "linear_velocity": data.qvel[:3],  # m/s, world frame
            "angular_velocity": data.qvel[3:6],  # rad/s, body frame
            "rotor_angles": data.qpos[7:15],  # rad, (pitch, roll) of rotors 0..3
            "thrusts": data.ctrl[8:12],  # N, each in [0, 2]
            "action": jnp.clip(action, -1.0, 1.0),  # shape (12,): 8 joint-target, 4 thrust rates
            "terminated": next_state.done,  # 1.0 if the craft left the 3 m ball or fell below 0.3 m
        }


def _body_z(q: jax.Array) -> jax.Array:
    w, x, y, z = q[0], q[1], q[2], q[3]
    return jnp.array([2.0 * (x * z + w * y), 2.0 * (y * z - w * x), 1.0 - 2.0 * (x * x + y * y)])


def make_env(config_overrides: dict) -> Quadcopter:
    return Quadcopter(config_overrides=config_overrides)
