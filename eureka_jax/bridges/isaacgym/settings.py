"""``isaacgym.*``: the Isaac Gym backend's own command-line settings (registered in
``eureka_jax.backend.BACKEND_SETTINGS``; no imports beyond the standard library, since the
config loads it for every command)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class IsaacGymSettings:
    """``isaacgym.*`` (backend=isaacgym; see configs/config.yaml and docs/isaacgym.md)."""

    python: str | None = None
    isaacgymenvs: str | None = None
    gpus: list[int] = field(default_factory=lambda: [0])
    per_gpu: int = 1
    max_iterations: int = 3000
    num_envs: int | None = None
    timeout: float = 86400.0
