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

import ast
import inspect
from typing import Any, Protocol

import jax
import jax.numpy as jnp
from mujoco_playground._src import mjx_env

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


def _mentions_reward(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        name = getattr(sub, "id", None) or getattr(sub, "attr", None) or getattr(sub, "name", None)
        if isinstance(name, str) and "reward" in name.lower():
            return True
        if isinstance(sub, ast.Constant) and str(sub.value).startswith("reward/"):
            return True
        if isinstance(sub, ast.alias) and "reward" in sub.name.lower():
            return True
    return False


class _RewardPruner(ast.NodeTransformer):
    """Removes reward methods/imports/statements; a remaining ``reward`` name becomes 0.0."""

    def _drop_if_reward(self, node):
        return None if _mentions_reward(node) else node

    def visit_FunctionDef(self, node):
        if "reward" in node.name.lower():
            return None
        self.generic_visit(node)
        if not node.body:
            node.body = [ast.Pass()]
        return node

    def visit_Call(self, node):  # `config_dict.create(..., reward_config=...)` loses that part
        node.keywords = [k for k in node.keywords if not (k.arg and "reward" in k.arg.lower())]
        self.generic_visit(node)
        return node

    def visit_For(self, node):  # `for k in config.reward_config.scales: ...` logs rewards
        if _mentions_reward(node.iter):
            return None
        self.generic_visit(node)
        return node

    def visit_Import(self, node):
        return self._drop_if_reward(node)

    def visit_ImportFrom(self, node):
        node.names = [a for a in node.names if "reward" not in a.name.lower()]
        return node if node.names else None

    def visit_Assign(self, node):
        for target in node.targets:  # `reward, done = ...` keeps `done`
            if isinstance(target, ast.Tuple):
                target.elts = [
                    ast.Name("_", ast.Store()) if _mentions_reward(e) else e for e in target.elts
                ]
        self.generic_visit(node)  # `metrics = {"reward/x": ..., "y": ...}` keeps `{"y": ...}`
        return self._drop_if_reward(node)

    def visit_AugAssign(self, node):
        return self._drop_if_reward(node)

    def visit_Expr(self, node):
        if isinstance(node.value, ast.Constant):
            return node  # docstrings stay
        return self._drop_if_reward(node)

    def visit_Name(self, node):
        if node.id == "reward" and isinstance(node.ctx, ast.Load):
            return ast.copy_location(ast.Constant(0.0), node)
        return node

    def visit_Dict(self, node):
        self.generic_visit(node)
        keep = [
            (k, v)
            for k, v in zip(node.keys, node.values)
            if not (k is not None and _mentions_reward(k))
        ]
        node.keys = [k for k, _ in keep]
        node.values = [v for _, v in keep]
        return node


_BLOCKS = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try,
           ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.ExceptHandler)


def _stored_names(tree: ast.AST) -> set[str]:
    """Every name a tree binds: assignments, arguments, imports, defs, loop targets."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                               ast.ExceptHandler)) and node.name:
            names.add(node.name)
    return names


def _reads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _known(tree: ast.AST, bound_before: set[str]) -> set[str]:
    """Names a read may use: bound now, or never bound in the source (globals, builtins)."""
    return _stored_names(tree) | (_reads(tree) - bound_before)


def _drop_dangling(tree: ast.Module, bound_before: set[str]) -> bool:
    """Removes what reads a name that the source bound but nothing binds any more (its
    definition was a reward computation): dict entries, then simple statements. Returns
    whether anything went."""
    known = _known(tree, bound_before)
    dropped = False
    for node in ast.walk(tree):  # entries first, so a dict keeps what it can
        if isinstance(node, ast.Dict):
            keep = [(k, v) for k, v in zip(node.keys, node.values) if not _reads(v) - known]
            dropped |= len(keep) != len(node.keys)
            node.keys, node.values = [k for k, _ in keep], [v for _, v in keep]
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(node, field, None)
            if not isinstance(stmts, list):
                continue
            keep = [stmt for stmt in stmts if not (
                isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr))
                and _reads(stmt) - known)]
            dropped |= len(keep) != len(stmts)
            setattr(node, field, keep)
    return dropped


class _NoneForUnbound(ast.NodeTransformer):
    """Last resort: a name still read but no longer bound (e.g. in a ``return``) -> None."""

    def __init__(self, known):
        self.known = known

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load) and node.id not in self.known:
            return ast.copy_location(ast.Constant(None), node)
        return node


def _fill_empty_blocks(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, _BLOCKS) and not node.body:
            node.body = [ast.Pass()]
        if isinstance(node, ast.Try) and not node.handlers and not node.finalbody:
            node.finalbody = [ast.Pass()]


def _defined_names(stmt: ast.stmt) -> set[str]:
    """Names a module-level constant assignment or function definition binds."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        if all(isinstance(t, ast.Name) for t in targets):
            return {t.id for t in targets}
    return set()


def _drop_unused_definitions(tree: ast.Module, read_before: set[str]) -> bool:
    """Removes module-level constants and helper functions that the source read somewhere but
    nothing reads any more: what only the removed reward code used (e.g. a reward's bounds and
    margins). Returns whether anything went."""
    read_now = _reads(tree)
    keep = []
    for stmt in tree.body:
        names = _defined_names(stmt)
        if names and not any(n.startswith("__") for n in names) and names <= read_before \
                and not names & read_now:
            continue
        keep.append(stmt)
    dropped = len(keep) != len(tree.body)
    tree.body = keep
    return dropped


def prune_reward_code(source: str) -> str:
    """Returns ``source`` with every reward computation removed, as Eureka prunes task files.

    Removed: functions and methods whose name mentions "reward", imports of reward
    modules, statements that compute or log rewards (``metrics["reward/..."]``), then the
    statements that read what those computed, and the module-level constants and helpers
    only the removed code used; a reward value passed on to a ``State``
    becomes ``0.0``; a block left empty gets ``pass``. The result always parses. Comments
    are not kept (the source is re-printed from its syntax tree); docstrings are.
    """
    original = ast.parse(source)
    bound_before = _stored_names(original)
    read_before = _reads(original)
    tree = _RewardPruner().visit(original)
    while _drop_dangling(tree, bound_before) | _drop_unused_definitions(tree, read_before):
        pass
    tree = _NoneForUnbound(_known(tree, bound_before)).visit(tree)
    _fill_empty_blocks(tree)
    text = ast.unparse(ast.fix_missing_locations(tree)) + "\n"
    ast.parse(text)  # a SyntaxError here is our bug, not the task author's
    return text


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
