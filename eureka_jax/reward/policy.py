"""What LLM-written reward code may use. One module, allowlists as data.

Reward code is untrusted. It is checked statically here (its syntax tree), then executed and
traced only in a separate, resource-limited worker process (``sandbox.py``), and its traced
program (jaxpr) is inspected before anything runs in the trainer.

To widen the policy on purpose, build a ``Policy`` with larger sets, e.g.
``dataclasses.replace(DEFAULT_POLICY, builtins=DEFAULT_POLICY.builtins | {"sorted"})`` and
pass it to ``compile_reward(..., policy=...)``. Every entry is a deliberate decision: a name
that hands out the interpreter (``getattr``, ``type``, ``__import__``), the filesystem
(``open``, ``jnp.save``) or host callbacks (``jax.pure_callback``) must never be added.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

# Modules reward code may import, and what each import binds to (see sandbox.py).
ALLOWED_IMPORTS = frozenset({"jax", "jax.numpy", "jax.lax", "jax.nn", "math", "typing"})

# The part of the top-level `jax` module that reward code may touch.
JAX_ATTRIBUTES = frozenset({
    "numpy", "lax", "nn", "jit", "vmap", "grad", "value_and_grad", "tree_util", "tree", "Array",
    "jacfwd", "jacrev", "hessian", "eval_shape", "ShapeDtypeStruct",
})

BUILTINS = frozenset({
    "abs", "min", "max", "range", "len", "float", "int", "bool", "dict", "list", "tuple", "zip",
    "enumerate", "sum", "round", "isinstance", "print", "True", "False", "None", "reversed",
    "all", "any", "map", "filter", "sorted", "str", "ValueError", "TypeError", "Exception",
})

# Names that would hand out the interpreter, the filesystem or the process. Forbidden as bare
# names wherever they appear.
FORBIDDEN_NAMES = frozenset({
    "getattr", "setattr", "delattr", "hasattr", "eval", "exec", "compile", "open", "globals",
    "locals", "vars", "dir", "__import__", "input", "breakpoint", "help", "memoryview", "type",
    "object", "super", "id", "classmethod", "staticmethod", "property", "exit", "quit",
    "__builtins__", "__loader__", "__spec__",
})

# Attribute names forbidden on any object: file and array I/O, host callbacks, JAX internals
# and configuration, frame/code objects (generator and traceback frames), string formatting
# that can look up attributes ("{0.__class__}".format(x)).
FORBIDDEN_ATTRIBUTES = frozenset({
    "save", "savez", "savez_compressed", "load", "loadtxt", "savetxt", "genfromtxt", "fromfile",
    "tofile", "frombuffer", "fromregex", "memmap", "DataSource", "tobytes", "dump", "dumps",
    "pure_callback", "io_callback", "debug_callback", "callback", "debug", "experimental",
    "config", "device_put", "device_get", "devices", "distributed", "profiler", "extend",
    "dlpack", "from_dlpack", "ffi", "interpreters", "core", "custom_jvp", "custom_vjp",
    "while_loop", "format", "format_map", "gi_frame", "gi_code", "cr_frame", "ag_frame",
    "tb_frame", "f_globals", "f_locals", "f_back", "f_builtins", "f_code", "co_code",
    "func_globals", "mro", "subclasses", "system", "popen", "environ", "modules",
})

# Attribute name prefixes that change the state of the whole process (pytree registries,
# numpy's print options, JAX's caches and flags): reward code runs in the trainer's process,
# so these are refused on every object, with the names listed below.
STATE_PREFIXES = ("register", "set_", "clear_", "enable_", "disable_")
STATE_ATTRIBUTES = frozenset({"printoptions", "get_printoptions", "default_registry", "static",
                              "overload", "explain_cache_misses"})

# jax.tree_util / jax.tree: an allowlist of the pure functions (the modules also hold the
# process-wide pytree registry and its register_* functions).
TREE_FUNCTIONS = frozenset({
    "tree_map", "tree_leaves", "tree_structure", "tree_flatten", "tree_unflatten",
    "tree_reduce", "tree_all", "tree_transpose", "tree_map_with_path", "tree_leaves_with_path",
    "tree_flatten_with_path", "keystr", "map", "leaves", "structure", "flatten", "unflatten",
    "reduce", "all", "transpose", "map_with_path", "leaves_with_path", "flatten_with_path",
})
# typing: only what annotations name (annotations are never evaluated anyway)
TYPING_NAMES = frozenset({"Tuple", "Dict", "List", "Optional", "Any", "Union", "Callable",
                          "Sequence", "Mapping"})


def changes_process_state(name: str) -> bool:
    """Whether an attribute name is one of the state-changing ones above."""
    return name.startswith(STATE_PREFIXES) or name in STATE_ATTRIBUTES


HINTS = {
    "torch": "use jax.numpy (jnp) instead of torch: rewards run inside a JAX program",
    "numpy": "use jax.numpy (import jax.numpy as jnp) instead of numpy",
    "while_loop": "use jax.lax.fori_loop or jax.lax.scan with a fixed number of steps",
    "format": "use an f-string",
    "format_map": "use an f-string",
}

# Syntax that reward code never needs and that opens doors (classes carry dunders, generators
# carry frames, global/nonlocal reach outside the function, with/async run hidden protocols).
FORBIDDEN_NODES = {
    ast.ClassDef: "class definitions",
    ast.Global: "`global`",
    ast.Nonlocal: "`nonlocal`",
    ast.Yield: "generators (`yield`)",
    ast.YieldFrom: "generators (`yield from`)",
    ast.Await: "`await`",
    ast.AsyncFunctionDef: "async functions",
    ast.AsyncFor: "async loops",
    ast.AsyncWith: "async `with`",
    ast.With: "`with` blocks",
    ast.Try: "`try` blocks",
    ast.TryStar: "`try` blocks",
    ast.While: "`while` loops (use a `for` loop over a fixed range)",
    ast.Delete: "`del`",
}


@dataclass(frozen=True)
class Policy:
    """The rules a reward program is checked against.

    Attributes:
      imports: module names that may be imported.
      jax_attributes: attributes of the top-level `jax` module that are exposed.
      builtins: builtin names available to the code.
      forbidden_names / forbidden_attributes: rejected wherever they appear.
      max_source_chars: longer replies are rejected before parsing.
      max_intermediate_elements: any array in the traced program larger than this is rejected.
      max_constant_elements: arrays the program captures (module-level arrays, default
        argument values, closures; embedded in every compiled training program), in all.
      max_cost_ratio: a reward call may cost at most this many environment steps (flops
        counted on the jaxprs, ``eureka_jax.reward.cost``).
      max_flops_without_reference: the bound when the task has no JAX step to compare with
        (Isaac Gym tasks), in flops per environment and call.
      max_components / max_component_name_chars: the reward's components: how many, and how
        long each name (a Python identifier) may be.
      trace_timeout_s: wall-clock limit for executing, tracing and probing one candidate.
      memory_limit_bytes: address-space limit of the worker process that does that.
      program_memory_bytes: what executing, tracing and probing one program may add to the
        worker's address space; the trainer later executes the same module code, so this also
        bounds what an accepted program can allocate there.
    """

    imports: frozenset = ALLOWED_IMPORTS
    jax_attributes: frozenset = JAX_ATTRIBUTES
    builtins: frozenset = BUILTINS
    forbidden_names: frozenset = FORBIDDEN_NAMES
    forbidden_attributes: frozenset = FORBIDDEN_ATTRIBUTES
    forbidden_primitives: frozenset = field(
        default=frozenset({"while", "pure_callback", "io_callback", "debug_callback",
                           "callback", "infeed", "outfeed", "custom_call"})
    )
    max_source_chars: int = 50_000
    max_intermediate_elements: int = 1_000_000
    max_constant_elements: int = 100_000
    max_cost_ratio: float = 10.0
    max_flops_without_reference: float = 1e6
    max_components: int = 32
    max_component_name_chars: int = 48
    trace_timeout_s: float = 20.0
    memory_limit_bytes: int = 6 << 30
    program_memory_bytes: int = 1 << 30


DEFAULT_POLICY = Policy()


def policy_for(cfg) -> Policy:
    """The default policy with the limits a config sets (``reward_cost_ratio``)."""
    ratio = float(cfg.get("reward_cost_ratio", DEFAULT_POLICY.max_cost_ratio))
    if not ratio > 0:
        from eureka_jax.errors import EurekaError

        raise EurekaError(f"reward_cost_ratio={ratio:g} must be > 0 (how many environment "
                          "steps one reward call may cost; default 10).")
    if ratio == DEFAULT_POLICY.max_cost_ratio:
        return DEFAULT_POLICY
    return Policy(max_cost_ratio=ratio)


@dataclass(frozen=True)
class Violation:
    line: int
    what: str
    instead: str


def check_tree(tree: ast.AST, policy: Policy = DEFAULT_POLICY) -> list[Violation]:
    """Every policy violation in a parsed reward program (empty list: allowed)."""
    found: list[Violation] = []

    def add(node, what, instead=""):
        found.append(Violation(getattr(node, "lineno", 0), what, instead))

    for node in ast.walk(tree):
        kind = FORBIDDEN_NODES.get(type(node))
        if kind:
            add(node, f"{kind} are not allowed", "write plain functions and expressions")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                _check_import(alias.name, node, policy, add)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                add(node, "relative imports are not allowed", "import jax, jax.numpy or math")
            elif module == "jax":
                for alias in node.names:
                    if alias.name not in policy.jax_attributes:
                        add(node, f"`from jax import {alias.name}` is not allowed",
                            f"allowed from jax: {', '.join(sorted(policy.jax_attributes))}")
            else:
                _check_import(module, node, policy, add)
                for alias in node.names:
                    if alias.name == "*":
                        add(node, "`import *` is not allowed", "import names explicitly")
                    elif (alias.name.startswith("_") or alias.name in policy.forbidden_attributes
                          or changes_process_state(alias.name)):
                        add(node, f"importing `{alias.name}` is not allowed")
        elif isinstance(node, ast.Name):
            if node.id in policy.forbidden_names or node.id.startswith("__"):
                add(node, f"the name `{node.id}` is not allowed",
                    "use jax.numpy functions and plain arithmetic")
        elif isinstance(node, ast.Attribute):
            if isinstance(node.ctx, (ast.Store, ast.Del)):
                # would rebind attributes of shared objects (jax classes, module proxies)
                add(node, f"assigning or deleting an attribute (`.{node.attr}`) is not allowed",
                    "compute new values in local variables")
            elif node.attr.startswith("_"):
                add(node, f"attribute `.{node.attr}` is not allowed (no `_` attributes)")
            elif node.attr in policy.forbidden_attributes:
                add(node, f"attribute `.{node.attr}` is not allowed",
                    HINTS.get(node.attr, "rewards compute from their inputs only"))
            elif changes_process_state(node.attr):
                add(node, f"`.{node.attr}` changes state of the whole process (registries, "
                    "global options, caches) and is not allowed",
                    "rewards compute from their inputs only")
            elif (isinstance(node.value, ast.Name) and node.value.id == "jax"
                  and node.attr not in policy.jax_attributes):
                add(node, f"`jax.{node.attr}` is not allowed",
                    f"allowed: jax.{', jax.'.join(sorted(policy.jax_attributes))}")
        elif isinstance(node, (ast.FunctionDef, ast.Lambda)):
            args = node.args
            if args.vararg or args.kwarg:
                add(node, "`*args`/`**kwargs` are not allowed",
                    "name each reward input as its own argument")
    return sorted(found, key=lambda v: v.line)


def _check_import(module: str, node, policy: Policy, add) -> None:
    if module in policy.imports:
        return
    root = module.split(".")[0]
    hint = HINTS.get(root, f"allowed imports: {', '.join(sorted(policy.imports))}")
    add(node, f"importing `{module}` is not allowed", hint)
