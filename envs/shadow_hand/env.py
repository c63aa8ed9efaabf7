"""Shadow Hand in-hand manipulation on MJX (reward removed): the environment of this task
folder, whose variants (task.yaml) are the tasks shadow_hand_block (turn a 5 cm cube to a random
goal orientation), shadow_hand_pen (line a 20 cm pen's axis up with a random goal axis) and
shadow_hand_spin (spin the pen: the goal advances a fixed step about a fixed axis).

The hand (24 joints, 20 position actuators; the last two joints of each of the four fingers
are coupled by a tendon) is mounted palm up; an object (a block or a pen) lies in the palm.
The goal is an orientation of the object, shown by a transparent copy that is never
simulated. Each control step (``ctrl_dt`` = 0.04 s, ``sim_dt`` = 0.01 s physics steps):

- the action in [-1, 1]^20 asks each actuator for ``rest + action * half its range`` (absolute
  targets around the rest pose, clipped to the range) and is smoothed:
  ``target = alpha * asked + (1 - alpha) * target``;
- the object's orientation distance to the goal is measured; when it is below
  ``success_tolerance`` the step counts as a success and the goal moves on: to a new random
  orientation (``goal_mode="random"``) or, for pen spinning, by ``spin_increment`` radians
  about the fixed ``spin_axis`` (``goal_mode="spin"``);
- the episode ends when the object falls: its centre gets farther than ``fall_distance`` from
  where it started in the palm.

Orientation distance: for a block, the angle of the rotation between the object's and the
goal's orientation; for a pen (``symmetric=True``), the angle between the pen's long axis and
the goal's long axis, ignoring which end is which and any roll about the axis.

Model: ``envs/assets/shadow_hand/hand_{block,pen}.xml``, derived from gymnasium-robotics'
Shadow Hand by ``derive.py`` in that folder (which says what was changed for MJX and why). A
variant chooses the scene, the distance (``symmetric``) and the goal rule (``goal_mode``)
through its ``env:`` settings.
The environment computes no reward; ``reward_inputs`` lists what a reward may use.
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import mujoco
from brax import math
from ml_collections import config_dict
from mujoco_playground import State
from mujoco_playground import step as physics_step

from eureka_jax.env import MjxTaskEnv

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "shadow_hand"
NUM_HAND_JOINTS = 24
# where the free object sits in qpos (position, quaternion) and qvel (linear, angular velocity)
OBJECT_POS = slice(NUM_HAND_JOINTS, NUM_HAND_JOINTS + 3)
OBJECT_QUAT = slice(NUM_HAND_JOINTS + 3, NUM_HAND_JOINTS + 7)
OBJECT_POSE = slice(NUM_HAND_JOINTS, NUM_HAND_JOINTS + 7)
OBJECT_LINVEL = slice(NUM_HAND_JOINTS, NUM_HAND_JOINTS + 3)
OBJECT_ANGVEL = slice(NUM_HAND_JOINTS + 3, NUM_HAND_JOINTS + 6)
VARIANT_KEYS = ("scene", "symmetric", "goal_mode")  # env: settings a variant chooses
FINGERTIPS = ("ff", "mf", "rf", "lf", "th")  # first, middle, ring, little finger, thumb
# The hand's start pose (rad, joint order of the model: WRJ1, WRJ0, FFJ3..0, MFJ3..0, RFJ3..0,
# LFJ4..0, THJ4..0): the initial pose of gymnasium-robotics' hand tasks, fingers curled
# around the palm so that an object can rest there. Action 0 asks for this pose.
REST_POSE = (-0.165, -0.320, 0.143, 0.320, 0.713, 0.671, 0.000, 0.315, 0.766, 0.732, 0.000,
             0.367, 0.712, 0.670, 0.053, -0.136, 0.399, 0.742, 0.704, 0.004, 0.551, -0.015,
             -0.002, -0.789)


def default_config() -> config_dict.ConfigDict:
    return config_dict.create(
        ctrl_dt=0.04,
        sim_dt=0.01,
        impl="jax",
        iterations=6,
        ls_iterations=6,
        # On the CPU, MuJoCo's sparse mass matrix: MJX then factors it with its own JAX code.
        # The dense layout's batched Cholesky (jaxlib 0.10's LAPACK kernel, which splits a
        # batch of >= 128 over XLA's thread pool and blocks on it) deadlocks on 2 cores
        # (benchmarks/results/cpu_hand_stall.md). Same physics; GPUs keep MuJoCo's choice.
        cpu_jacobian="sparse",
        action_smoothing=0.5,  # alpha of the moving average of actuator targets
        success_tolerance=0.1,  # rad
        fall_distance=0.15,  # m from the object's start position
        reset_joint_noise=0.1,  # fraction of each joint's range
        reset_object_noise=0.01,  # m
        spin_increment=0.7854,  # rad per success in goal_mode="spin" (pi / 4)
        spin_axis=(0.0, 0.0, 1.0),  # world frame; the palm faces +z
        # "full": one observation for policy and value network; "asymmetric": a dict, the
        # policy's "state" what a real hand could observe (joint positions, object pose, goal,
        # previous action), the value network's "privileged_state" the full observation
        observation="full",
    )


def quat_distance(q: jax.Array, goal: jax.Array) -> jax.Array:
    """Angle (rad, in [0, pi]) of the rotation taking orientation ``goal`` to ``q``."""
    diff = math.quat_mul(q, math.quat_inv(goal))
    return 2.0 * jnp.arcsin(jnp.clip(jnp.linalg.norm(diff[1:]), 0.0, 1.0))


def axis_distance(q: jax.Array, goal: jax.Array) -> jax.Array:
    """Angle (rad, in [0, pi/2]) between the local z axes of ``q`` and ``goal``, ignoring
    direction: the distance for a pen, whose two ends and roll do not matter."""
    z = jnp.array([0.0, 0.0, 1.0])
    cos = jnp.abs(jnp.dot(math.rotate(z, q), math.rotate(z, goal)))
    return jnp.arccos(jnp.clip(cos, 0.0, 1.0))


def random_quat(rng: jax.Array) -> jax.Array:
    """A uniformly random unit quaternion (w, x, y, z)."""
    q = jax.random.normal(rng, (4,))
    return q / jnp.linalg.norm(q)


def advance_goal(goal: jax.Array, success: jax.Array, rng: jax.Array, mode: str,
                 increment: float, axis) -> jax.Array:
    """The next goal orientation: unchanged without success; otherwise random, or the goal
    rotated by ``increment`` about the world ``axis`` (pen spinning)."""
    if mode == "random":
        new = random_quat(rng)
    elif mode == "spin":
        new = math.quat_mul(math.quat_rot_axis(jnp.asarray(axis, jnp.float32), increment), goal)
    else:
        raise ValueError(f"goal_mode must be 'random' or 'spin', not {mode!r}")
    return jnp.where(success > 0, new, goal)


class ShadowHandEnv(MjxTaskEnv):
    """Observation (100 numbers): joint positions (24) and velocities x 0.1 (24), object
    position relative to its start (3), object orientation (4), object linear velocity (3) and
    angular velocity x 0.1 (3), goal orientation (4), fingertip positions relative to the
    object (15), previous action (20).

    With ``observation="asymmetric"`` (config) it is a dict for an asymmetric actor-critic:
    ``state`` (55: joint positions, object position and orientation, goal, previous action;
    no velocities, no fingertip details) for the policy and ``privileged_state`` (the 100
    above) for the value network."""

    def __init__(self, config=None, config_overrides=None, scene: str = "hand_block.xml",
                 symmetric: bool = False, goal_mode: str = "random"):
        self.scene = scene
        self.symmetric = symmetric  # True: pen distance (long axis only)
        self.goal_mode = goal_mode  # "random", or "spin"
        model = mujoco.MjModel.from_xml_path(str(ASSETS / scene))
        super().__init__(config or default_config(), config_overrides, model)
        m = self._mj_model
        low, high = m.actuator_ctrlrange[:, 0], m.actuator_ctrlrange[:, 1]
        self._ctrl_half = jnp.asarray((high - low) / 2)
        joint_low = m.jnt_range[:NUM_HAND_JOINTS, 0]
        joint_high = m.jnt_range[:NUM_HAND_JOINTS, 1]
        self._joint_low, self._joint_high = jnp.asarray(joint_low), jnp.asarray(joint_high)
        self._hand_rest = jnp.asarray(REST_POSE)
        # actuator targets of the rest pose; action a asks for rest + a * half the range
        self._ctrl_rest = jnp.clip(self._hand_rest[m.actuator_trnid[:, 0]], low, high)
        self._ctrl_low, self._ctrl_high = jnp.asarray(low), jnp.asarray(high)
        self._object_start = jnp.asarray(m.qpos0[OBJECT_POSE])
        self._tip_sites = jnp.asarray(
            [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, f"robot0:S_{t}tip") for t in FINGERTIPS])

    @property
    def action_size(self) -> int:
        return self._mj_model.nu

    def distance(self, q, goal):
        return axis_distance(q, goal) if self.symmetric else quat_distance(q, goal)

    # ---- reset / step ------------------------------------------------------------------------

    def reset(self, rng: jax.Array) -> State:
        c = self._config
        rng, k_hand, k_pos, k_rot, k_goal = jax.random.split(rng, 5)
        span = self._joint_high - self._joint_low
        hand = self._hand_rest + c.reset_joint_noise * span * jax.random.uniform(
            k_hand, (NUM_HAND_JOINTS,), minval=-0.5, maxval=0.5)
        hand = jnp.clip(hand, self._joint_low, self._joint_high)
        pos = self._object_start[:3] + jax.random.uniform(k_pos, (3,), minval=-1, maxval=1) * (
            c.reset_object_noise)
        k_axis, k_angle = jax.random.split(k_rot)
        axis = jax.random.normal(k_axis, (3,))
        tilt = math.quat_rot_axis(axis / jnp.linalg.norm(axis), 0.1 * jax.random.uniform(k_angle))
        quat = math.quat_mul(tilt, self._object_start[3:])
        if self.goal_mode == "spin":
            goal = advance_goal(quat, jnp.ones(()), k_goal, "spin", c.spin_increment, c.spin_axis)
        else:
            goal = random_quat(k_goal)
        qpos = jnp.concatenate([hand, pos, quat])
        data = self.make_data(qpos, jnp.zeros(self._mj_model.nv))
        data = data.replace(mocap_quat=goal[None])
        target = self._ctrl_rest
        info = {
            "rng": rng, "goal_quat": goal, "target": target,
            "prev_action": jnp.zeros(self.action_size), "success": jnp.zeros(()),
            "successes": jnp.zeros(()), "rot_dist": self.distance(quat, goal),
        }
        obs = self._observe(data, goal, info["prev_action"])
        return State(data, obs, jnp.zeros(()), jnp.zeros(()), {}, info)

    def step(self, state: State, action: jax.Array) -> State:
        c, info = self._config, state.info
        action = jnp.clip(action, -1.0, 1.0)
        mapped = jnp.clip(self._ctrl_rest + action * self._ctrl_half, self._ctrl_low,
                          self._ctrl_high)
        target = c.action_smoothing * mapped + (1.0 - c.action_smoothing) * info["target"]
        data = physics_step(self._mjx_model, state.data, target, self.n_substeps)
        quat = self.object_quat(data)
        rot_dist = self.distance(quat, info["goal_quat"])
        success = (rot_dist < c.success_tolerance).astype(jnp.float32)
        rng, k_goal = jax.random.split(info["rng"])
        goal = advance_goal(info["goal_quat"], success, k_goal, self.goal_mode,
                            c.spin_increment, c.spin_axis)
        data = data.replace(mocap_quat=goal[None])
        fell = jnp.linalg.norm(self.object_pos(data) - self._object_start[:3]) > c.fall_distance
        done = (fell | jnp.isnan(data.qpos).any()).astype(jnp.float32)
        info = {
            "rng": rng, "goal_quat": goal, "target": target, "prev_action": action,
            "success": success, "successes": info["successes"] + success, "rot_dist": rot_dist,
        }
        obs = self._observe(data, goal, action)
        return state.replace(data=data, obs=obs, reward=jnp.zeros(()), done=done, info=info)

    # ---- what the policy sees and what a reward may use ----------------------------------

    def object_pos(self, data) -> jax.Array:
        return data.qpos[OBJECT_POS]

    def object_quat(self, data) -> jax.Array:
        q = data.qpos[OBJECT_QUAT]
        return q / jnp.linalg.norm(q)

    def fingertip_pos(self, data) -> jax.Array:
        return data.site_xpos[self._tip_sites]  # [5, 3], order: ff, mf, rf, lf, th

    def _observe(self, data, goal, prev_action):
        full = self._full_observation(data, goal, prev_action)
        if self._config.observation == "full":
            return full
        if self._config.observation != "asymmetric":
            raise ValueError(f"observation must be 'full' or 'asymmetric', not "
                             f"{self._config.observation!r}")
        state = jnp.concatenate([
            data.qpos[:NUM_HAND_JOINTS], self.object_pos(data) - self._object_start[:3],
            self.object_quat(data), goal, prev_action,
        ])
        return {"state": state, "privileged_state": full}

    def _full_observation(self, data, goal, prev_action) -> jax.Array:
        obj = self.object_pos(data)
        return jnp.concatenate([
            data.qpos[:NUM_HAND_JOINTS], 0.1 * data.qvel[:NUM_HAND_JOINTS],
            obj - self._object_start[:3], self.object_quat(data),
            data.qvel[OBJECT_LINVEL],
            0.1 * data.qvel[OBJECT_ANGVEL], goal,
            (self.fingertip_pos(data) - obj).reshape(-1), prev_action,
        ])

    def reward_inputs(self, state, action, next_state) -> dict:
        """Named quantities of one transition (state --action--> next_state)."""
        data, info = next_state.data, next_state.info
        obj = self.object_pos(data)
        return {
            "object_pos": obj,  # (3,) m, world frame
            "object_quat": self.object_quat(data),  # (4,) w, x, y, z
            "object_linvel": data.qvel[OBJECT_LINVEL],  # (3,) m/s, world
            "object_angvel": data.qvel[OBJECT_ANGVEL],  # (3,) rad/s, object frame
            "goal_pos": self._object_start[:3],  # (3,) m: where the object should stay (its start)
            "goal_quat": state.info["goal_quat"],  # (4,) the goal this step aimed at
            "goal_dist": jnp.linalg.norm(obj - self._object_start[:3]),  # m
            "rot_dist": info["rot_dist"],  # rad, orientation distance to goal_quat (see module doc)
            "fingertip_pos": self.fingertip_pos(data),  # (5, 3) m: ff, mf, rf, lf, th tips
            "fingertip_dist": jnp.linalg.norm(self.fingertip_pos(data) - obj, axis=-1),  # (5,) m
            "dof_pos": data.qpos[:NUM_HAND_JOINTS],  # (24,) rad, hand joints
            "dof_vel": data.qvel[:NUM_HAND_JOINTS],  # (24,) rad/s
            "action": jnp.clip(action, -1.0, 1.0),  # (20,)
            "prev_action": state.info["prev_action"],  # (20,) the action before this one
            "success": info["success"],  # 1.0 when this step reached the goal (goal then moves on)
            "consecutive_successes": info["successes"],  # successes so far in this episode
            "fell": next_state.done,  # 1.0 when the object fell (the episode ends)
        }


def make_env(config_overrides: dict) -> ShadowHandEnv:
    """The variant's environment: its ``scene``/``symmetric``/``goal_mode`` come with the
    config overrides (task.yaml ``env:``) and are taken out before the physics config."""
    overrides = dict(config_overrides or {})
    variant = {k: overrides.pop(k) for k in VARIANT_KEYS if k in overrides}
    return ShadowHandEnv(config_overrides=overrides, **variant)
