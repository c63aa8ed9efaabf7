"""The Isaac Gym bridge: the same JAX rewards on IsaacGymEnvs tasks (extra ``torch``).

Our interpreter: task specs (``configs/isaacgym/``), context from task files, the launcher and
log reader (``launcher.py``, ``context.py``, ``logs.py``; no torch needed). The Isaac Gym
interpreter: ``runtime/`` only (Python 3.8, torch, JAX 0.4.13). See docs/isaacgym.md.
"""

from eureka_jax.bridges.isaacgym.launcher import (
    INSTALL_STEPS,
    IsaacGymBackend,
    IsaacGymTask,
    list_isaacgym_tasks,
    load_isaacgym_task,
)

__all__ = ["INSTALL_STEPS", "IsaacGymBackend", "IsaacGymTask",
           "list_isaacgym_tasks", "load_isaacgym_task"]
