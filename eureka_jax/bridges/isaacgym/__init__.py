"""The Isaac Gym bridge: the same JAX rewards on IsaacGymEnvs tasks (extra ``torch``).

Our interpreter: task specs (``configs/isaacgym/``), context from task files, tasks, jobs, the
backend and the log reader (``tasks.py``, ``context.py``, ``jobs.py``, ``backend.py``,
``logs.py``; no torch needed). The Isaac Gym
interpreter: ``runtime/`` only (Python 3.8, torch, JAX 0.4.13). See docs/isaacgym.md.
"""

# imported on first use (PEP 562), so that the light ``settings`` module, which the config
# loads for every command, does not bring the whole bridge with it
_EXPORTS = {"IsaacGymBackend": "backend", "INSTALL_STEPS": "tasks", "IsaacGymTask": "tasks",
            "list_isaacgym_tasks": "tasks", "load_isaacgym_task": "tasks"}
__all__ = ["INSTALL_STEPS", "IsaacGymBackend", "IsaacGymTask", "list_isaacgym_tasks",
           "load_isaacgym_task"]


def __getattr__(name):
    import importlib

    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
