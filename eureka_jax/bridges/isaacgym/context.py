"""LLM context from an IsaacGymEnvs task file: reward code pruned, observation code kept, and
the tensor attributes a reward may take by name listed."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from eureka_jax.errors import EurekaError
from eureka_jax.model_facts import _fmt, _vec
from eureka_jax.prune import prune_reward_code

# methods that only set up the simulator: left out of the context (Eureka shows the
# observation code, not the asset loading)
SETUP_METHODS = ("create_sim", "_create_ground_plane", "_create_envs", "reset_idx",
                 "reset_target_pose", "pre_physics_step", "post_physics_step")


@dataclass
class TaskContext:
    source: str  # pruned source shown to the LLM
    attributes: dict[str, str]  # self.<name> -> the expression first assigned to it
    observation_attributes: list[str]  # the ones read by compute_observations


def _task_class(tree: ast.Module, class_name: str | None) -> ast.ClassDef:
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    if class_name:
        for c in classes:
            if c.name == class_name:
                return c
        raise EurekaError(f"no class {class_name} in the task file; classes found: "
                          f"{', '.join(c.name for c in classes) or 'none'}.")
    with_obs = [c for c in classes if any(isinstance(f, ast.FunctionDef)
                                          and f.name == "compute_observations" for f in c.body)]
    if not with_obs:
        raise EurekaError("the task file has no class with a compute_observations method; give "
                          "an IsaacGymEnvs task file (isaacgymenvs/tasks/<task>.py).")
    return with_obs[0]


def _self_attributes(node: ast.AST) -> dict[str, str]:
    found: dict[str, str] = {}
    for sub in ast.walk(node):
        targets = []
        if isinstance(sub, ast.Assign):
            targets = sub.targets
        elif isinstance(sub, (ast.AnnAssign, ast.AugAssign)):
            targets = [sub.target]
        for target in targets:
            for t in ast.walk(target):
                if (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                        and t.value.id == "self" and isinstance(t.ctx, ast.Store)):
                    value = getattr(sub, "value", None)
                    found.setdefault(t.attr, ast.unparse(value)[:80] if value is not None else "")
    return found


def _reads(node: ast.AST) -> list[str]:
    return sorted({t.attr for t in ast.walk(node)
                   if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                   and t.value.id == "self" and isinstance(t.ctx, ast.Load)})


def _called(node: ast.AST) -> tuple[set[str], set[str]]:
    """(methods called as ``self.<name>(...)``, functions called by bare name) in ``node``."""
    methods, functions = set(), set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            f = sub.func
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) \
                    and f.value.id == "self":
                methods.add(f.attr)
            elif isinstance(f, ast.Name):
                functions.add(f.id)
    return methods, functions


def _is_reward_name(name: str) -> bool:
    # the task's own reward and what scores it: never shown (Eureka's context has neither)
    low = name.lower()
    return any(word in low for word in ("reward", "bonus", "success", "objective"))


def build_context(task_file: str | Path, class_name: str | None = None) -> TaskContext:
    """Reads an IsaacGymEnvs task file and returns what the LLM sees.

    Kept, as in Eureka's task contexts: the observation computation, i.e. the task class's
    ``compute_observations`` and the methods it calls (transitively), and the module-level
    functions those call, minus anything that computes or scores the reward. Everything else
    goes: ``__init__`` (it reads the reward's hyperparameters from the config: goal bonus,
    penalties, scales), simulator set-up, resets, imports, every function whose name mentions
    reward, bonus, success or objective, and reward statements inside what is kept (see
    ``eureka_jax.prune.prune_reward_code``). The tensor attributes a reward may take are listed
    after the source (``context_text``).
    """
    path = Path(task_file)
    if not path.is_file():
        raise EurekaError(f"task file {path} does not exist; give the path of an IsaacGymEnvs "
                          "task file (isaacgymenvs/tasks/<task>.py).")
    try:
        tree = ast.parse(path.read_text())
    except SyntaxError as e:
        raise EurekaError(f"{path} is not valid Python (line {e.lineno}: {e.msg}).") from None
    cls = _task_class(tree, class_name)
    attributes = _self_attributes(cls)
    methods = {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}
    functions = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
    obs = methods.get("compute_observations")
    keep_methods, keep_functions, todo = set(), set(), [obs] if obs else []
    while todo:
        node = todo.pop()
        called_methods, called_functions = _called(node)
        for name in called_methods - keep_methods:
            if name in methods and name not in SETUP_METHODS and not _is_reward_name(name):
                keep_methods.add(name)
                todo.append(methods[name])
        for name in called_functions - keep_functions:
            if name in functions and not _is_reward_name(name):
                keep_functions.add(name)
                todo.append(functions[name])
    keep_methods.add("compute_observations")
    cls.body = ([ast.Expr(ast.Constant("Set-up, resets and reward omitted; the observation "
                                       "computation follows."))]
                + [n for n in cls.body if isinstance(n, ast.FunctionDef)
                   and n.name in keep_methods])
    module = ast.Module(body=[cls] + [n for n in tree.body if isinstance(n, ast.FunctionDef)
                                      and n.name in keep_functions], type_ignores=[])
    pruned = prune_reward_code(ast.unparse(module))
    return TaskContext(source=pruned, attributes=attributes,
                       observation_attributes=_reads(obs) if obs else [])


def context_text(ctx: TaskContext, input_specs: dict, shared_specs: dict | None = None) -> str:
    """The task source plus the attributes usable as reward inputs, with their shapes."""
    def line(name, shape, kind):
        origin = ctx.attributes.get(name)
        where = f" (self.{name} = {origin})" if origin else ""
        return f"- {name}: {kind} shape {tuple(shape) or 'scalar'}{where}"

    lines = [line(n, s, "per-env") for n, (s, _) in input_specs.items()]
    shared = [line(n, s, "shared") for n, (s, _) in (shared_specs or {}).items()]
    text = ("Environment source code (reward removed):\n```python\n" + ctx.source + "```\n\n"
            "Reward inputs: arguments of compute_reward are bound by name to these tensor "
            "attributes of the task (one environment each, unbatched):\n" + "\n".join(lines)
            + "\n")
    if shared:
        text += ("Shared inputs (the same for every environment, no environment axis):\n"
                 + "\n".join(shared) + "\n")
    return text


# Isaac Gym task YAML keys that belong to the reward (its hyperparameters): never shown
REWARD_WORDS = ("reward", "penalty", "bonus", "scale", "success", "fall")


def task_yaml_summary(task_yaml: dict) -> str:
    """What an IsaacGymEnvs task YAML states about the simulation and the episode (no reward
    hyperparameters)."""
    env = task_yaml.get("env") or {}
    sim = task_yaml.get("sim") or {}
    lines = ["Simulation (from the task's YAML):"]
    dt = sim.get("dt")
    inv = env.get("controlFrequencyInv", 1)
    if isinstance(dt, (int, float)):
        period = float(dt) * (inv if isinstance(inv, int) else 1)
        lines.append(f"- physics timestep {_fmt(dt)} s x controlFrequencyInv {inv} = control "
                     f"period {_fmt(period)} s ({_fmt(1.0 / period)} Hz)")
    if isinstance(sim.get("gravity"), list):
        lines.append(f"- gravity {_vec(sim['gravity'])} m/s^2")
    for key, value in env.items():
        low = key.lower()
        if (any(w in low for w in REWARD_WORDS) or key.endswith("Eps")  # rotEps: reward's
                or isinstance(value, (dict, list))):
            continue
        if key in ("numEnvs", "envSpacing", "enableDebugVis", "aggregateMode", "env_name",
                   "controlFrequencyInv"):
            continue
        lines.append(f"- {key}: {value}")
    return "\n".join(lines) + "\n"
