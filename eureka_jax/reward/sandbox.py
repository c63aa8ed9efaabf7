"""Executing untrusted reward code: the restricted namespace it runs in.

The first execution, tracing and probing happen in the worker process (``worker.py``); only a
program that passed there is executed in the trainer's process, in this same namespace.
"""

from __future__ import annotations
import __future__

import builtins
import traceback
import types

from eureka_jax.reward.policy import DEFAULT_POLICY, Policy

SOURCE_NAME = "<reward>"
_LIBRARY_ROOTS = frozenset({"jax", "jaxlib", "numpy", "ml_dtypes", "opt_einsum", "scipy"})


def module_proxies(policy: Policy = DEFAULT_POLICY) -> dict:
    """{module name: namespace with exactly the policy's allowed names of that module}; an
    allowed submodule (``jax.numpy.linalg``) is the proxy of its own, so no path leads from a
    proxy to anything the policy does not list."""
    import importlib

    allowed = dict(policy.modules)
    proxies: dict = {}

    def build(module_name: str):
        if module_name in proxies:
            return proxies[module_name]
        module = importlib.import_module(module_name)
        namespace = types.SimpleNamespace()
        for name in sorted(allowed[module_name]):
            sub = f"{module_name}.{name}"
            if sub in allowed:
                setattr(namespace, name, build(sub))
            elif hasattr(module, name) and not isinstance(getattr(module, name),
                                                          types.ModuleType):
                setattr(namespace, name, getattr(module, name))
        proxies[module_name] = namespace
        return namespace

    for name in allowed:
        build(name)
    return proxies


def safe_globals(policy: Policy = DEFAULT_POLICY) -> dict:
    """Globals for ``exec`` of reward code: allowed builtins and module proxies only."""
    modules = module_proxies(policy)
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
