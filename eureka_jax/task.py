"""Task folders: how a task is found, loaded, and what it exposes.

A task is a folder ``envs/<name>/`` (or in a folder of the user's, ``task_dirs=[...]``) with

- ``env.py`` — the environment without its reward, read by the LLM as context. It defines
  ``make_env(config_overrides: dict) -> TaskEnv`` (see ``eureka_jax.env``);
- ``task.yaml`` — name, description, fitness, episode length, default training budget;
- ``human_reward.py`` — the expert reward, written in the same contract as an LLM reward.

Fitness is what "success" means independently of any reward: a per-step signal (one of the
reward inputs, named by ``fitness.input``) summed over an episode and divided by the maximum
episode length. For a survival task the signal is 1 per step survived, so fitness is the
episode-length fraction; for locomotion it is forward velocity, so fitness is the mean velocity
over the full horizon with time after a fall counting as 0. With ``fitness.aggregate: sum``
the episode's sum is not divided: a count, e.g. the consecutive successes of the Shadow Hand
tasks (as in Eureka's ShadowHand fitness); with ``episode_mean`` it is divided by the
episode's own length: a per-step average over the steps it ran, for a signal whose best value
is not 0 (Eureka's quadcopter metric, minus the distance to the target, where counting time
after a crash as 0 would reward crashing). The sparse baseline reward is that same signal used
as the reward.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np
import yaml

from eureka_jax.errors import EurekaError

if TYPE_CHECKING:  # annotations only: env.py imports Playground, loaded with a task's env
    from eureka_jax.env import TaskEnv

BUILTIN_TASK_DIR = Path(__file__).resolve().parents[1] / "envs"
REQUIRED_FILES = ("env.py", "task.yaml", "human_reward.py")
REQUIRED_KEYS = ("description", "episode_length", "fitness")
PROBE_ENVS, PROBE_STEPS = 8, 16


class TaskSpec(Protocol):
    """What the search, the compiler, the reflection and the evaluation need of a task: the
    interface ``Task`` (a task folder, JAX) and ``bridges.isaacgym.IsaacGymTask`` share."""

    name: str
    description: str
    episode_length: int
    fitness_input: str
    fitness_description: str
    fitness_aggregate: str
    target_fitness: float | None
    goals: list
    train: dict

    @property
    def reward_input_specs(self) -> dict: ...  # name -> jax.ShapeDtypeStruct (one env)

    @property
    def probe_inputs(self) -> dict: ...  # name -> [128, *shape] arrays the probe runs on

    @property
    def human_reward_source(self) -> str: ...

    def context(self, budget: str | None = None) -> str: ...  # what the LLM reads

    def model_facts(self) -> str: ...

    def baseline_rewards(self) -> list: ...  # the final evaluation's human and sparse


def base_helpers_source(env, own: str) -> str:
    """The source of the ``MjxTaskEnv`` helpers that a task's env.py calls (``self.NAME(``)
    and does not define itself, e.g. how ``random_data`` draws an episode's start, with the
    model's rest pose: so the context says how an episode starts from the code that does it.
    Empty for envs of other bases."""
    import inspect
    import re

    from eureka_jax.env import MjxTaskEnv

    base = getattr(env, "unwrapped", env)
    if not isinstance(base, MjxTaskEnv):
        return ""
    helpers = [name for name, member in vars(MjxTaskEnv).items()
               if callable(member) and not name.startswith("_")]
    called = [n for n in helpers if re.search(rf"self\.{n}\(", own)
              and not re.search(rf"def {n}\(", own)]
    # helpers that those call (random_data -> make_data)
    for name in list(called):
        body = inspect.getsource(getattr(MjxTaskEnv, name))
        called += [n for n in helpers if n not in called and re.search(rf"self\.{n}\(", body)]
    if not called:
        return ""
    rest = ", ".join(f"{float(x):.4g}" for x in base.mj_model.qpos0)
    return ("\n# ---- helpers of the env's base class (eureka_jax/env.py, MjxTaskEnv) that the "
            "code above calls ----\n"
            f"# this model's rest pose m.qpos0 = [{rest}]\n"
            + "\n".join(textwrap.dedent(inspect.getsource(getattr(MjxTaskEnv, n)))
                        for n in called))


def _learns_at(fitness: dict, path: Path) -> float:
    """``fitness.learns_at``: a number (default 0.5)."""
    value = fitness.get("learns_at", 0.5)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EurekaError(f"{path / 'task.yaml'}: fitness.learns_at is {value!r}; give the "
                          "fitness a budget rung must reach to count as learning, a number "
                          "such as 0.5 (or -0.5 for minus a distance in m).")
    return float(value)


@dataclass(eq=False)
class Task:
    """A loaded task folder.

    Attributes:
      name: folder name, used as ``task=NAME``.
      path: the folder.
      description: the task description given to the LLM.
      simulator: a short label for the task table (e.g. "MJX", "Playground/MJX").
      episode_length: maximum steps per episode (time limit added by the trainer).
      fitness_input: the reward input whose per-step value is the fitness signal.
      fitness_description: what the fitness measures, in words.
      env_config: config overrides passed to ``make_env``.
      train: the task's default training budget and PPO hyperparameters.
      target_fitness: optional fitness at which a search may stop early.
      fitness_aggregate: "mean" (the signal summed over an episode / the maximum length),
        "sum" (the signal summed over an episode: a count, e.g. consecutive successes) or
        "episode_mean" (the sum / the episode's own length).
      goals: declared goal terms, ``[{"input": NAME, "want": "zero"|"high"|"low"}]``, read by
        the offline proposer (an LLM reads the description instead).
      learns_at: the fitness a rung of the budget ladder must reach to count as learning
        (``fitness.learns_at``; default 0.5: half the episode for fractions, 0.5 m/s for
        speeds; a negative fitness such as minus a distance states its own, e.g. -0.5 m).
      cpu_learns: whether the default budget lets the human or sparse reward learn on 2 CPU
        cores (measured by ``benchmarks/budgets.py``); None where not measured.
      termination: when an episode ends before its time limit, in words (None: never); part
        of the generated model facts in the context.
      train_gpu: the accelerator profile (``profile=gpu``): settings over ``train`` for a GPU,
        from the published PPO settings where they exist (see each task.yaml).
      watch: behaviour statistics recorded in the evaluation episodes and reported in the
        reflection, ``[{"name", "input", "reduce": value|abs|norm|mean, "index", "where",
        "description"}]`` (``where``: a 0/1 reward input; the statistic counts only those
        steps), so the LLM sees what the policy does, not only what it is paid.
      observation_keys: for an env with dict observations, which key the policy and the
        value network read (``{"policy": "state", "value": "privileged_state"}``; the
        defaults, see ``train.ppo.observation_layout``).
      eureka: for a task that stands for one of Eureka's Isaac Gym tasks: ``task`` (its
        IsaacGymEnvs name), ``metric`` (Eureka's success metric, with its source), ``scale``
        (Eureka's metric = scale x this task's fitness) and ``differs`` (what is not as in
        Eureka's task: robot, observation, thresholds); empty otherwise.
      action_repeat: the policy acts every ``action_repeat`` control periods of the env and
        holds its action in between (Brax's ``action_repeat``); ``episode_length`` then counts
        policy steps: task.yaml's ``episode_length`` (control periods) / ``action_repeat``.
      baseline_inputs: reward inputs only the baselines may read (e.g. the reward a wrapped
        Playground env computed, its human baseline): not shown to the LLM, and a searched
        reward that asks for one is rejected (``compile_reward(..., public_only=True)``).
      randomize: the physics parameters a domain-randomization configuration may change
        (``eureka_jax.randomize``: ``[{"name", "field", "of", "bounds"}]``).
      needs: what the task downloads on first use (``menagerie``: MuJoCo Menagerie's robot
        models, through Playground), shown in the task table.
    """

    name: str
    path: Path
    description: str
    simulator: str
    episode_length: int
    fitness_input: str
    fitness_description: str
    env_config: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    target_fitness: float | None = None
    goals: list = field(default_factory=list)
    fitness_aggregate: str = "mean"
    cpu_learns: bool | None = None
    learns_at: float = 0.5
    termination: str | None = None
    watch: list = field(default_factory=list)
    train_gpu: dict = field(default_factory=dict)
    observation_keys: dict = field(default_factory=dict)
    eureka: dict = field(default_factory=dict)
    needs: list = field(default_factory=list)
    baseline_inputs: tuple = ()
    action_repeat: int = 1
    randomize: list = field(default_factory=list)

    @functools.cached_property
    def env_module(self):
        return _import_file(self.path / "env.py", f"eureka_jax_tasks.{self.name}.env")

    @functools.cached_property
    def env(self) -> TaskEnv:
        """The task environment (built once per process; wrapped in ``ActionRepeat`` when the
        task sets ``action_repeat``)."""
        env = self.env_module.make_env(dict(self.env_config))
        if self.action_repeat > 1:
            from eureka_jax.env import ActionRepeat

            env = ActionRepeat(env, self.action_repeat)
        return env

    @functools.cached_property
    def _transition(self):
        """(the environment step's jaxpr, reward input specs) from one abstract transition."""
        from eureka_jax.reward.cost import jaxpr_flops

        env = self.env
        state = jax.eval_shape(env.reset, jax.random.PRNGKey(0))
        action = jax.ShapeDtypeStruct((env.action_size,), jnp.float32)
        step, next_state = jax.make_jaxpr(env.step, return_shape=True)(state, action)
        return jaxpr_flops(step), jax.eval_shape(env.reward_inputs, state, action, next_state)

    @property
    def step_flops(self) -> float:
        """Floating-point work of one environment step (one env), counted on its jaxpr
        (``eureka_jax.reward.cost``): the unit a reward's cost is bounded in."""
        return self._transition[0]

    @functools.cached_property
    def reward_input_specs(self) -> dict[str, jax.ShapeDtypeStruct]:
        """Name -> shape/dtype of every reward input, for one (unbatched) transition."""
        specs = self._transition[1]
        if "action" not in specs:
            raise EurekaError(
                f"task '{self.name}': reward_inputs() in {self.path / 'env.py'} must include "
                "'action'; add it to the returned dict."
            )
        if self.fitness_input not in specs:
            raise EurekaError(
                f"task '{self.name}': fitness.input '{self.fitness_input}' in task.yaml is not "
                f"a reward input; choose one of {sorted(specs)}."
            )
        return dict(sorted(specs.items()))

    @property
    def reward_input_names(self) -> tuple[str, ...]:
        return tuple(self.reward_input_specs)

    @property
    def public_input_specs(self) -> dict[str, jax.ShapeDtypeStruct]:
        """The reward inputs a searched reward may take: all but ``baseline_inputs``."""
        return {k: v for k, v in self.reward_input_specs.items()
                if k not in self.baseline_inputs}

    def random_rollout(self, rng: jax.Array, num_envs: int = 8, num_steps: int = 16):
        """A short rollout of ``num_envs`` environments under uniform random actions.

        Environments are not reset when they terminate (the rollout is for probing, not
        training). Returns ``(inputs, steps)``: the reward inputs as a dict of arrays shaped
        ``[num_steps, num_envs, *shape]``, and ``steps`` with the ``obs``, ``reward`` and
        ``done`` the environment returned, shaped ``[num_steps, num_envs, ...]``.
        """
        return _random_rollout(self.env, rng, num_envs, num_steps)

    @functools.cached_property
    def probe_inputs(self) -> dict:
        """Reward inputs of 128 real transitions (8 envs x 16 random steps), flattened to
        ``[128, *shape]`` numpy arrays; what reward programs are probed on."""
        inputs = self.sample_transitions(jax.random.PRNGKey(0), PROBE_ENVS, PROBE_STEPS)
        return {k: np.asarray(v).reshape(-1, *v.shape[2:]) for k, v in inputs.items()}

    def sample_transitions(self, rng: jax.Array, num_envs: int = 8, num_steps: int = 16):
        """Reward inputs of real transitions (``random_rollout``'s first output)."""
        return self.random_rollout(rng, num_envs, num_steps)[0]

    def context_source(self) -> str:
        """The environment source the LLM reads: reward-free, as the user would read it."""
        own = (self.path / "env.py").read_text()
        upstream = getattr(self.env, "upstream_source", None)
        if upstream is None:
            return own + base_helpers_source(self.env, own)
        label = getattr(self.env, "upstream_label", None) or getattr(self.env, "playground_env", "")
        return (
            f"# ---- upstream environment ({label}), reward code removed ----\n"
            f"{upstream()}\n# ---- task adapter: {self.name}/env.py ----\n{own}"
        )

    def reward_inputs_text(self) -> str:
        """One line per reward input: name, shape and dtype."""
        lines = []
        for name, spec in self.public_input_specs.items():
            shape = "scalar" if spec.shape == () else f"shape {tuple(spec.shape)}"
            lines.append(f"- {name}: {shape}, {spec.dtype}")
        return "\n".join(lines)

    def model_facts(self) -> str:
        """The generated physical summary of the task's model (``eureka_jax.model_facts``)."""
        from eureka_jax.model_facts import env_model_summary

        return env_model_summary(self.env, self.episode_length, self.termination) or ""

    def context(self, budget: str | None = None) -> str:
        """Exactly what the LLM is given about the task (before the output rules): the
        description, the model's physical facts, the reward-free source, the reward inputs
        and, when given, the training budget."""
        facts = self.model_facts()
        return (
            f"Task: {self.description.strip()}\n\n"
            + (f"{facts}\n" if facts else "")
            + f"Environment source code (reward removed):\n```python\n{self.context_source()}```\n\n"
            "Reward inputs (arguments compute_reward may take, by name; one environment, "
            f"unbatched):\n{self.reward_inputs_text()}\n"
            + (f"\n{budget}" if budget else "")
        )

    @property
    def human_reward_source(self) -> str:
        return (self.path / "human_reward.py").read_text()

    @property
    def sparse_reward_source(self) -> str:
        """The fitness signal itself, as a reward in the LLM contract."""
        x = self.fitness_input
        return (
            f"def compute_reward({x}):\n"
            f'    """Sparse baseline: the task\'s fitness signal ({self.fitness_description})."""\n'
            f'    return {x}, {{"{x}": {x}}}\n'
        )

    def baseline_rewards(self) -> list:
        """The final evaluation's human and sparse rewards, compiled."""
        from eureka_jax.reward import compile_reward

        return [compile_reward(self.human_reward_source, self),
                compile_reward(self.sparse_reward_source, self)]


@functools.partial(jax.jit, static_argnums=(0, 2, 3))
def _random_rollout(env, rng, num_envs, num_steps):
    reset_rng, act_rng = jax.random.split(rng)
    state = jax.vmap(env.reset)(jax.random.split(reset_rng, num_envs))

    def one_step(state, rng):
        action = jax.random.uniform(rng, (num_envs, env.action_size), minval=-1.0, maxval=1.0)
        next_state = jax.vmap(env.step)(state, action)
        inputs = jax.vmap(env.reward_inputs)(state, action, next_state)
        steps = {"obs": next_state.obs, "reward": next_state.reward, "done": next_state.done}
        return next_state, (inputs, steps)

    _, (inputs, steps) = jax.lax.scan(one_step, state, jax.random.split(act_rng, num_steps))
    return inputs, steps


def _import_file(path: Path, module_name: str):
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def _task_roots(task_dirs) -> list[Path]:
    roots = [BUILTIN_TASK_DIR] if BUILTIN_TASK_DIR.is_dir() else []
    for d in task_dirs or ():
        p = Path(d).expanduser().resolve()
        if not p.is_dir():
            raise EurekaError(f"task_dirs entry '{d}' is not a folder; give an existing folder.")
        if (p / "task.yaml").is_file():
            raise EurekaError(
                f"task_dirs entry '{d}' is a task folder itself; task_dirs lists folders that "
                f"hold task folders: use task_dirs=[{p.parent}] and task={p.name}.")
        roots.append(p)
    if not roots:
        raise EurekaError(
            f"no task folders found ({BUILTIN_TASK_DIR} is missing); install from a clone with "
            "'pip install -e .' or pass task_dirs=[...]."
        )
    return roots


def _read_spec(folder: Path) -> dict:
    """A folder's task.yaml, parsed once per version of the file (``list_tasks`` reads every
    folder's for its variants on each ``load_task``; the task then needs the same file)."""
    path = folder / "task.yaml"
    return _parse_spec(path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _parse_spec(path: Path, mtime_ns: int) -> dict:
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise EurekaError(f"{path} is not valid YAML ({e}); fix its syntax.") from e


def _variants(folder: Path) -> list[str]:
    """The task names a folder defines: its ``variants`` (one folder, several tasks that share
    the environment and differ in a few settings), or the folder's own name."""
    spec = _read_spec(folder)
    variants = spec.get("variants") if isinstance(spec, dict) else None
    if variants is None:
        return [folder.name]
    if not isinstance(variants, dict) or not variants:
        raise EurekaError(f"{folder / 'task.yaml'}: variants must map task names to their "
                          "settings (description, fitness, env, ...).")
    return list(variants)


def list_tasks(task_dirs=()) -> dict[str, Path]:
    """Finds task folders: every sub-folder holding a ``task.yaml`` (a folder with
    ``variants`` defines one task per variant).

    Args:
      task_dirs: extra folders of the user's, searched after the built-in ``envs/``.

    Returns:
      task name -> folder, sorted by name.
    """
    found: dict[str, Path] = {}
    for root in _task_roots(task_dirs):
        for folder in sorted(p for p in root.iterdir() if (p / "task.yaml").is_file()):
            for name in _variants(folder):
                if name in found and found[name] != folder:
                    raise EurekaError(
                        f"task '{name}' is defined twice ({found[name]} and {folder}); "
                        "rename one of them."
                    )
                found[name] = folder
    return dict(sorted(found.items()))


def load_task(name: str, task_dirs=()) -> Task:
    """Loads the task folder called ``name`` (environment built lazily on first use: reading
    a task's task.yaml builds nothing)."""
    tasks = list_tasks(task_dirs)
    if name not in tasks:
        raise EurekaError(f"unknown task '{name}'; choose one of: {', '.join(tasks)} (a task "
                          "folder of your own needs task_dirs=[/folder/holding/it]).")
    return _load_folder(tasks[name], name)


VARIANT_KEYS = ("description", "fitness", "env", "termination", "target_fitness", "goals",
                "watch", "train", "train_gpu", "episode_length", "observation_keys", "eureka", "action_repeat",
                "randomize")


def _merge_variant(spec: dict, name: str, path: Path) -> dict:
    """The folder's settings with variant ``name``'s on top (``fitness``, ``env`` and
    ``train`` merge key by key; the others replace)."""
    variant = (spec.get("variants") or {}).get(name) or {}
    unknown = sorted(set(variant) - set(VARIANT_KEYS))
    if unknown:
        raise EurekaError(f"{path / 'task.yaml'}: variant '{name}' sets {', '.join(unknown)}, "
                          f"which a variant cannot change; it may set {', '.join(VARIANT_KEYS)}.")
    merged = {k: v for k, v in spec.items() if k != "variants"}
    for key, value in variant.items():
        if key in ("fitness", "env", "train", "train_gpu") and isinstance(value, dict):
            merged[key] = {**(merged.get(key) or {}), **value}
        else:
            merged[key] = value
    return merged


def _load_folder(path: Path, name: str | None = None) -> Task:
    missing = [f for f in REQUIRED_FILES if not (path / f).is_file()]
    if missing:
        raise EurekaError(f"task folder {path} lacks {', '.join(missing)}; add them (see README).")
    spec: dict[str, Any] = dict(_read_spec(path))  # a copy: the cached one stays as read
    if spec.get("variants"):
        name = name if name in spec["variants"] else next(iter(spec["variants"]))
        spec = _merge_variant(spec, name, path)
    absent = [k for k in REQUIRED_KEYS if k not in spec]
    if absent:
        raise EurekaError(f"{path / 'task.yaml'} lacks {', '.join(absent)}; add them.")
    if spec.get("name", path.name) != path.name:
        raise EurekaError(
            f"{path / 'task.yaml'} says name '{spec['name']}' but its folder is '{path.name}'; "
            "make them the same."
        )
    fitness = spec["fitness"]
    if not isinstance(fitness, dict) or "input" not in fitness:
        raise EurekaError(f"{path / 'task.yaml'}: fitness needs an 'input' (a reward input name).")
    aggregate = str(fitness.get("aggregate", "mean"))
    if aggregate not in FITNESS_AGGREGATES:
        raise EurekaError(f"{path / 'task.yaml'}: fitness.aggregate is '{aggregate}'; use 'mean' "
                          "(per-step average over the maximum episode length), 'sum' (a count) "
                          "or 'episode_mean' (per-step average over the steps the episode ran).")
    repeat = spec.get("action_repeat", 1)
    if not isinstance(repeat, int) or repeat < 1 or int(spec["episode_length"]) % repeat:
        raise EurekaError(f"{path / 'task.yaml'}: action_repeat is {repeat!r}; give a positive "
                          f"whole number that divides episode_length ({spec['episode_length']}).")
    return Task(
        name=name or path.name,
        path=path,
        description=str(spec["description"]),
        simulator=str(spec.get("simulator", "MJX")),
        episode_length=int(spec["episode_length"]) // repeat,
        action_repeat=repeat,
        fitness_input=str(fitness["input"]),
        fitness_description=str(fitness.get("description", fitness["input"])),
        env_config=dict(spec.get("env") or {}),
        train=dict(spec.get("train") or {}),
        train_gpu=dict(spec.get("train_gpu") or {}),
        target_fitness=spec.get("target_fitness"),
        goals=list(spec.get("goals") or []),
        fitness_aggregate=aggregate,
        cpu_learns=spec.get("cpu_learns"),
        learns_at=_learns_at(fitness, path),
        termination=spec.get("termination"),
        watch=_watch_specs(spec.get("watch"), path),
        observation_keys=dict(spec.get("observation_keys") or {}),
        eureka=_eureka_spec(spec.get("eureka"), path),
        needs=list(spec.get("needs") or []),
        baseline_inputs=tuple(spec.get("baseline_inputs") or ()),
        randomize=list(spec.get("randomize") or []),
    )


EUREKA_KEYS = ("task", "metric", "scale", "differs")


def _eureka_spec(raw, path: Path) -> dict:
    """``eureka:`` of a task.yaml: which of Eureka's tasks this one stands for."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not {"task", "metric"} <= set(raw):
        raise EurekaError(f"{path / 'task.yaml'}: eureka needs a task (the IsaacGymEnvs task "
                          "name) and a metric (Eureka's success metric, in words).")
    unknown = sorted(set(raw) - set(EUREKA_KEYS))
    if unknown:
        raise EurekaError(f"{path / 'task.yaml'}: eureka has unknown keys {', '.join(unknown)}; "
                          f"it may set {', '.join(EUREKA_KEYS)}.")
    scale = raw.get("scale", 1)
    if not isinstance(scale, (int, float)) or scale == 0:
        raise EurekaError(f"{path / 'task.yaml'}: eureka.scale is {scale!r}; give the number "
                          "that turns this task's fitness into Eureka's metric (e.g. 500).")
    return {"task": str(raw["task"]), "metric": str(raw["metric"]), "scale": float(scale),
            "differs": str(raw.get("differs", "")).strip()}


FITNESS_AGGREGATES = ("mean", "sum", "episode_mean")
WATCH_REDUCE = ("value", "abs", "norm", "mean")  # how a watched input becomes one number


def _watch_specs(raw, path: Path) -> list:
    """``watch:`` of a task.yaml, checked for form (names are checked against the reward
    inputs when a trainer is built)."""
    out = []
    for i, w in enumerate(raw or []):
        if not isinstance(w, dict) or "name" not in w or "input" not in w:
            raise EurekaError(f"{path / 'task.yaml'}: watch entry {i + 1} needs a name and an "
                              "input (a reward input name).")
        if w.get("reduce", "value") not in WATCH_REDUCE:
            raise EurekaError(f"{path / 'task.yaml'}: watch '{w['name']}' has reduce "
                              f"'{w['reduce']}'; use one of {', '.join(WATCH_REDUCE)}.")
        out.append(dict(w))
    return out
