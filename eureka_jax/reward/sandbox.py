"""Executing untrusted reward code: the restricted namespace, and the worker process in which
the code is first executed, traced and probed.

Why a process: a hang in C (``10**10**10``, ``math.factorial(10**9)``) cannot be interrupted
by a signal handler in the same thread, and a memory bomb must not take the trainer with it.
The worker runs with an address-space limit and is killed at the wall-clock limit; the parent
then starts a new one. Only a program that passed there is ever executed in the parent.
"""

from __future__ import annotations
import __future__

import builtins
import os
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


def load_function(source: str, entry: str, policy: Policy = DEFAULT_POLICY):
    """Executes (already checked) reward source in a restricted namespace; returns ``entry``."""
    namespace = safe_globals(policy)
    # Annotations are never evaluated (PEP 563 flag), so `x: torch.Tensor` is harmless text.
    code = compile(source, SOURCE_NAME, "exec", flags=__future__.annotations.compiler_flag, dont_inherit=True)
    exec(code, namespace)  # noqa: S102 - restricted namespace, checked source
    return namespace[entry]


def error_line(exc: BaseException) -> int | None:
    """Line of the reward source where ``exc`` was raised (innermost frame in the source)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == SOURCE_NAME]
    return frames[-1].lineno if frames else None


# ---------------------------------------------------------------------------------------------
# Worker process


def _worker_main(fd: int, memory_limit_bytes: int) -> None:
    import resource
    from multiprocessing.connection import Connection

    resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))
    import jax

    jax.config.update("jax_platforms", "cpu")  # checks never take GPU memory from training
    # start XLA's CPU client (thread pools, allocator) now, so that each check's memory
    # budget measures the program, not the client
    jax.jit(lambda x: x + 1)(jax.numpy.ones(2)).block_until_ready()
    from eureka_jax.reward.checks import check_program

    conn = Connection(fd)
    conn.send("ready")
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        try:
            conn.send(check_program(**request))
        except Exception:  # noqa: BLE001 - a bug of ours, not the program's: report it
            conn.send({"ok": False, "internal": traceback.format_exc()})


class Worker:
    """A long-lived checker process; killed and replaced when a program exceeds its limits.

    A plain subprocess (``python -m eureka_jax.reward.worker``) rather than multiprocessing's
    spawn, which would re-run the user's main script in the child.
    """

    STARTUP_TIMEOUT_S = 180.0

    def __init__(self, policy: Policy = DEFAULT_POLICY):
        self.policy = policy
        self._process = None
        self._conn = None

    def _start(self) -> None:
        import socket
        import subprocess
        import sys
        from multiprocessing.connection import Connection

        ours, theirs = socket.socketpair()
        env = {**os.environ, "JAX_PLATFORMS": "cpu",
               "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "eureka_jax.reward.worker", str(theirs.fileno()),
             str(self.policy.memory_limit_bytes)],
            pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self._conn = Connection(ours.detach())
        if not self._conn.poll(self.STARTUP_TIMEOUT_S) or self._conn.recv() != "ready":
            self.close()
            raise RuntimeError("the reward checker process did not start")

    def run(self, request: dict, timeout_s: float) -> dict:
        """Sends one check to the worker; returns its answer or a timeout/resource failure."""
        if self._process is None or self._process.poll() is not None:
            self._start()
        self._conn.send(request)
        try:
            if self._conn.poll(timeout_s):
                answer = self._conn.recv()
                if "internal" in answer:
                    raise RuntimeError(f"reward checker failed:\n{answer['internal']}")
                return answer
        except (EOFError, ConnectionResetError, OSError):
            self.close()
            return {
                "ok": False, "category": "resource", "line": None,
                "message": "the program exhausted the checker's memory "
                f"(limit {self.policy.memory_limit_bytes >> 20} MiB); use small arrays.",
            }
        self.close()
        return {
            "ok": False, "category": "timeout", "line": None,
            "message": f"executing and tracing the program took longer than {timeout_s:g} s; "
            "avoid huge Python loops and huge integer arithmetic.",
        }

    def close(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = None
