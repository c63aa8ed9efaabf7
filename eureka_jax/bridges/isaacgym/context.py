"""LLM context from an IsaacGymEnvs task file: reward code pruned, observation code kept, and
the tensor attributes a reward may take by name listed."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from eureka_jax.env import prune_reward_code
from eureka_jax.errors import EurekaError

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


def build_context(task_file: str | Path, class_name: str | None = None) -> TaskContext:
    """Reads an IsaacGymEnvs task file and returns what the LLM sees.

    Kept: the task class with ``__init__`` and ``compute_observations`` (and helpers they
    call that do not compute rewards), module-level helper functions that are not reward
    functions. Removed: every function or method whose name mentions "reward" (e.g.
    ``compute_reward``, ``compute_hand_reward``), simulator setup methods, and reward
    statements elsewhere (see ``eureka_jax.env.prune_reward_code``).
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
    obs = [f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "compute_observations"]
    cls.body = [n for n in cls.body
                if not (isinstance(n, ast.FunctionDef) and n.name in SETUP_METHODS)]
    pruned = prune_reward_code(ast.unparse(tree))
    return TaskContext(source=pruned, attributes=attributes,
                       observation_attributes=_reads(obs[0]) if obs else [])


def context_text(ctx: TaskContext, input_specs: dict) -> str:
    """The task source plus the attributes usable as reward inputs, with their shapes."""
    lines = []
    for name, (shape, _) in input_specs.items():
        origin = ctx.attributes.get(name)
        where = f" (self.{name} = {origin})" if origin else ""
        lines.append(f"- {name}: per-env shape {tuple(shape) or 'scalar'}{where}")
    return ("Environment source code (reward removed):\n```python\n" + ctx.source + "```\n\n"
            "Reward inputs: arguments of compute_reward are bound by name to these tensor "
            "attributes of the task (one environment each, unbatched):\n" + "\n".join(lines)
            + "\n")
