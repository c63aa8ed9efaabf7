"""The Isaac Gym bridge: the same JAX rewards on IsaacGymEnvs tasks (extra ``torch``).

Our interpreter: task specs (``configs/isaacgym/``), context from task files, tasks, jobs, the
backend and the log reader (``tasks.py``, ``context.py``, ``jobs.py``, ``backend.py``,
``logs.py``; no torch needed). The Isaac Gym
interpreter: ``runtime/`` only (Python 3.8, torch, JAX 0.4.13). See docs/isaacgym.md.
"""

from eureka_jax.bridges.isaacgym.backend import IsaacGymBackend
from eureka_jax.bridges.isaacgym.tasks import (
    INSTALL_STEPS,
    IsaacGymTask,
    list_isaacgym_tasks,
    load_isaacgym_task,
)

__all__ = ["INSTALL_STEPS", "IsaacGymBackend", "IsaacGymTask",
           "list_isaacgym_tasks", "load_isaacgym_task"]
