"""What every task environment is, and the adapter that brings MuJoCo Playground envs in.

A task environment is a MuJoCo Playground ``MjxEnv`` (or shaped like one) whose reward has
been removed: ``reset(rng)`` and ``step(state, action)`` return a ``mjx_env.State`` whose
``reward`` is always 0, and ``done`` marks termination (the trainer adds time-limit
truncation at the task's ``episode_length``). Rewards come from the framework, which calls

    reward_inputs(state, action, next_state) -> dict[str, jax.Array]

on one unbatched transition and passes the named quantities to a reward function by
argument name. Every task exposes ``action`` among them.
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol

import jax
import jax.numpy as jnp
from mujoco_playground._src import mjx_env

from eureka_jax.prune import prune_reward_code

State = mjx_env.State


class TaskEnv(Protocol):
    """The interface the trainer and the reward compiler rely on."""

    action_size: int
    observation_size: Any

    def reset(self, rng: jax.Array) -> State: ...

    def step(self, state: State, action: jax.Array) -> State: ...

    def reward_inputs(self, state: State, action: jax.Array, next_state: State) -> dict: ...


class ActionRepeat:
    """A task environment whose ``step`` holds the action for ``repeat`` steps of ``env``
    (Brax's and Playground's ``action_repeat``): the policy acts every ``repeat`` control
    periods, ``dt`` is ``repeat`` times the env's, and an env that terminates inside the
    repeat stays in its terminal state. Reward inputs are those of the whole transition
    (first state -> last state). Everything else is the wrapped env's."""

    def __init__(self, env, repeat: int):
        self._env, self.repeat = env, int(repeat)

    def __getattr__(self, name):
        return getattr(self._env, name)

    @property
    def dt(self):
        return self._env.dt * self.repeat

    @property
    def unwrapped(self):
        return self._env

    def reset(self, rng: jax.Array) -> State:
        return self._env.reset(rng)

    def step(self, state: State, action: jax.Array) -> State:
        def once(s, _):
            nxt = self._env.step(s, action)
            return jax.tree.map(lambda old, new: jnp.where(s.done > 0, old, new), s, nxt), None

        return jax.lax.scan(once, state, None, length=self.repeat)[0]

    def reward_inputs(self, state: State, action: jax.Array, next_state: State) -> dict:
        return self._env.reward_inputs(state, action, next_state)


def zero_reward(state: State) -> State:
    """Drops whatever reward a wrapped env computed, so no reward leaks into training."""
    return state.replace(reward=jnp.zeros(()), metrics={})


class PlaygroundTask:
    """Adapter: a MuJoCo Playground env, with its reward dropped, as a task environment.

    Subclasses set ``playground_env`` (a name from ``mujoco_playground.registry``) and write
    ``reward_inputs``. The LLM is shown the Playground env's module with its reward code
    pruned (see ``prune_reward_code``), followed by the subclass's own module.

    Args:
      config_overrides: passed to ``mujoco_playground.registry.load``; ``impl`` defaults to
        ``"jax"`` because Playground's default ``"warp"`` does not run on CPU.
    """

    playground_env: str = ""
    # Keep the reward Playground computed in ``info["upstream_reward"]`` (the task's human
    # baseline reads it through a private reward input; training never sees it).
    keep_upstream_reward: bool = False

    def __init__(self, config_overrides: dict | None = None):
        overrides = {"impl": "jax", **(config_overrides or {})}
        self.env = load_playground(self.playground_env, overrides)
        self.mj_model = self.env.mj_model
        self.mjx_model = self.env.mjx_model
        self.action_size = self.env.action_size
        self.observation_size = self.env.observation_size
        self.dt = self.env.dt

    def reset(self, rng: jax.Array) -> State:
        state = self.env.reset(rng)
        if self.keep_upstream_reward:
            state = state.replace(info={**state.info, "upstream_reward": jnp.zeros(())})
        return zero_reward(state)

    def step(self, state: State, action: jax.Array) -> State:
        nxt = self.env.step(state, action)
        if self.keep_upstream_reward:
            nxt = nxt.replace(info={**nxt.info, "upstream_reward": jnp.asarray(nxt.reward,
                                                                             jnp.float32)})
        return zero_reward(nxt)

    def sensor(self, data, name: str) -> jax.Array:
        """Reads a named MuJoCo sensor from ``data``."""
        return mjx_env.get_sensor_data(self.mj_model, data, name)

    def upstream_source(self) -> str:
        """The Playground env's module source with its reward code pruned."""
        module = inspect.getmodule(type(self.env))
        return prune_reward_code(inspect.getsource(module))


def load_playground(name: str, config_overrides: dict | None = None):
    """``mujoco_playground.registry.load(name)`` with its failures in one sentence.

    Playground's locomotion and manipulation envs load robot models from MuJoCo Menagerie,
    which Playground clones (git, a pinned commit) into its package folder on first use.
    Offline that clone fails with a ``CalledProcessError`` after a progress bar; here it says
    which assets, where they go and how to put a local copy there.
    """
    import contextlib
    import io
    import subprocess

    from mujoco_playground import registry
    from mujoco_playground._src import mjx_env as playground

    from eureka_jax.errors import EurekaError

    if name not in registry.ALL_ENVS:
        raise EurekaError(f"'{name}' is not a MuJoCo Playground environment; choose one of "
                          f"mujoco_playground.registry.ALL_ENVS (e.g. "
                          f"{', '.join(list(registry.ALL_ENVS)[:4])}, ...).")
    robot = name in registry.locomotion.ALL_ENVS or name in registry.manipulation.ALL_ENVS
    path, commit = playground.MENAGERIE_PATH, playground.MENAGERIE_COMMIT_SHA
    if not robot or path.exists():
        return registry.load(name, config_overrides=config_overrides)
    print(f"{name} needs MuJoCo Menagerie's robot models; Playground downloads them once into "
          f"{path} (git, needs internet) ...", flush=True)
    output = io.StringIO()  # Playground's progress bar, shown only if the download fails
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            return registry.load(name, config_overrides=config_overrides)
    except (subprocess.CalledProcessError, OSError) as e:
        raise EurekaError(
            f"Playground environment {name} needs the MuJoCo Menagerie robot models in {path}, "
            f"which Playground downloads on first use with internet access, and the download "
            f"failed ({e}); offline, put a checkout there: where there is internet, run git "
            f"clone https://github.com/google-deepmind/mujoco_menagerie && git -C "
            f"mujoco_menagerie checkout {commit}, then copy that folder to {path}.") from e


class MjxTaskEnv(mjx_env.MjxEnv):
    """Base for task environments written directly on MJX (reward-free ``MjxEnv``).

    Subclasses build an ``mujoco.MjModel`` and call ``super().__init__(config, overrides,
    mj_model)``; config needs ``ctrl_dt``, ``sim_dt`` and ``impl`` (``"jax"`` runs on CPU and
    GPU; ``"warp"`` is GPU-only). Optional solver keys, applied after the overrides:
    ``iterations``, ``ls_iterations``, ``brax_solver`` (Newton without Euler damping, the
    settings Brax uses for its MJX backend), ``jacobian`` (``dense``, ``sparse`` or ``auto``:
    MuJoCo's mass-matrix and constraint-Jacobian layout) and ``cpu_jacobian`` (the same, used
    when JAX runs on the CPU: the Shadow Hand sets ``sparse`` there, see
    ``benchmarks/cpu_hand_stall.py``).
    """

    def __init__(self, config, config_overrides, mj_model):
        super().__init__(config, config_overrides)
        import mujoco
        from mujoco import mjx

        c = self._config
        jacobian = c.get("jacobian")
        if c.get("cpu_jacobian") and jax.default_backend() == "cpu":
            jacobian = c.cpu_jacobian
        if jacobian:
            mj_model.opt.jacobian = {"dense": mujoco.mjtJacobian.mjJAC_DENSE,
                                     "sparse": mujoco.mjtJacobian.mjJAC_SPARSE,
                                     "auto": mujoco.mjtJacobian.mjJAC_AUTO}[jacobian]
        if c.get("brax_solver"):
            mj_model.opt.solver = mujoco.mjtSolver.mjSOL_NEWTON
            mj_model.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_EULERDAMP
        if "iterations" in c:
            mj_model.opt.iterations = c.iterations
        if "ls_iterations" in c:
            mj_model.opt.ls_iterations = c.ls_iterations
        self._mj_model = mj_model
        self._mj_model.opt.timestep = self.sim_dt
        self._mjx_model = mjx.put_model(self._mj_model, impl=self._config.impl)

    def make_data(self, qpos, qvel):
        """MJX data at ``qpos``/``qvel`` with derived quantities (positions, contacts) computed."""
        from mujoco import mjx

        data = mjx_env.make_data(self._mj_model, qpos=qpos, qvel=qvel, impl=self._config.impl)
        return mjx.forward(self._mjx_model, data)

    def random_data(self, rng, noise: float):
        """Data at the model's rest pose and zero velocity, each jittered by U(-noise, noise)."""
        rng_pos, rng_vel = jax.random.split(rng)
        m = self._mj_model
        qpos = m.qpos0 + jax.random.uniform(rng_pos, (m.nq,), minval=-noise, maxval=noise)
        qvel = jax.random.uniform(rng_vel, (m.nv,), minval=-noise, maxval=noise)
        return self.make_data(qpos, qvel)

    def physics_step(self, data, action):
        """Advances ``ctrl_dt`` seconds with ``action`` clipped to the actuator range [-1, 1]."""
        return mjx_env.step(self._mjx_model, data, jnp.clip(action, -1.0, 1.0), self.n_substeps)

    @property
    def xml_path(self) -> str:
        return self._mj_model.names.split(b"\x00")[0].decode()

    @property
    def action_size(self) -> int:
        return self._mj_model.nu

    @property
    def mj_model(self):
        return self._mj_model

    @property
    def mjx_model(self):
        return self._mjx_model


def brax_asset(name: str) -> str:
    """Path of an MJCF file shipped with brax (``brax/envs/assets/<name>``)."""
    from importlib import resources

    return str(resources.files("brax") / "envs" / "assets" / name)
