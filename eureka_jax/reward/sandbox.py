"""Executing untrusted reward code: the restricted namespace it runs in.

The first execution, tracing and probing happen in the worker process (``worker.py``); only a
program that passed there is executed in the trainer's process, in this same namespace.
"""

from __future__ import annotations
import __future__

import builtins
import traceback
import types

from eureka_jax.reward.policy import (
    DEFAULT_POLICY,
    TREE_FUNCTIONS,
    TYPING_NAMES,
    Policy,
    changes_process_state,
)

SOURCE_NAME = "<reward>"
_LIBRARY_ROOTS = frozenset({"jax", "jaxlib", "numpy", "ml_dtypes", "opt_einsum", "scipy"})


def _public(module, keep, policy: Policy, depth: int = 0):
    """A namespace with the public, allowed attributes of ``module``; jax submodules recurse."""
    namespace = types.SimpleNamespace()
    for name in dir(module):
        if (name.startswith("_") or name in policy.forbidden_attributes
                or changes_process_state(name) or not keep(name)):
            continue
        value = getattr(module, name)
        if isinstance(value, types.ModuleType):
            if depth >= 2 or not value.__name__.startswith("jax."):
                continue  # never hand out numpy, os, sys, ... through a module attribute
            pure = (lambda n: n in TREE_FUNCTIONS) if value.__name__ in (
                "jax.tree_util", "jax.tree") else (lambda n: True)
            value = _public(value, pure, policy, depth + 1)
        setattr(namespace, name, value)
    return namespace


def safe_globals(policy: Policy = DEFAULT_POLICY) -> dict:
    """Globals for ``exec`` of reward code: allowed builtins and module proxies only."""
    import math
    import typing

    import jax
    import jax.numpy as jnp

    everything = lambda name: True
    jnp_ns = _public(jnp, everything, policy)
    lax_ns = _public(jax.lax, everything, policy)
    nn_ns = _public(jax.nn, everything, policy)
    jax_ns = _public(jax, lambda n: n in policy.jax_attributes, policy)
    jax_ns.numpy, jax_ns.lax, jax_ns.nn = jnp_ns, lax_ns, nn_ns
    modules = {
        "jax": jax_ns,
        "jax.numpy": jnp_ns,
        "jax.lax": lax_ns,
        "jax.nn": nn_ns,
        "math": _public(math, everything, policy),
        "typing": _public(typing, lambda n: n in TYPING_NAMES, policy),
    }
    modules = {k: v for k, v in modules.items() if k in policy.imports}

    real_import = builtins.__import__

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if not level and name in modules:  # the reward's own `import` statements
            return modules[name] if fromlist else modules[name.split(".")[0]]
        # C code (numpy, jaxlib) imports through the current frame's builtins, which while
        # reward code runs are these. Let library internals reach their own modules; the
        # reward itself cannot call __import__ (rejected by the policy) nor see the result.
        if not level and name.split(".")[0] in _LIBRARY_ROOTS:
            return real_import(name, globals, locals, fromlist, level)
        raise ImportError(f"importing {name} is not allowed")

    safe_builtins = {n: getattr(builtins, n) for n in policy.builtins if hasattr(builtins, n)}
    safe_builtins["print"] = lambda *args, **kwargs: None
    safe_builtins["__import__"] = guarded_import
    return {"__builtins__": safe_builtins, "__name__": "reward"}


def load_function(source: str, entry: str, policy: Policy = DEFAULT_POLICY, constants=None):
    """Executes (already checked) reward source in a restricted namespace; returns ``entry``.

    ``constants``: {name: value} for tunable constants (``reward.constants``): the program is
    executed with those literals replaced by the given values (tracers included).
    """
    from eureka_jax.reward.constants import PARAMETERS, lifted_tree

    namespace = safe_globals(policy)
    program = source
    if constants:
        program = lifted_tree(source, constants)
        namespace[PARAMETERS] = dict(constants)
    # Annotations are never evaluated (PEP 563 flag), so `x: torch.Tensor` is harmless text.
    code = compile(program, SOURCE_NAME, "exec", flags=__future__.annotations.compiler_flag,
                   dont_inherit=True)
    exec(code, namespace)  # noqa: S102 - restricted namespace, checked source
    return namespace[entry]


def error_line(exc: BaseException) -> int | None:
    """Line of the reward source where ``exc`` was raised (innermost frame in the source)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == SOURCE_NAME]
    return frames[-1].lineno if frames else None
