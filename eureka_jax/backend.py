"""The seam between the search and a simulator: the ``Backend`` protocol and its registry.

A backend loads its tasks, trains candidates x seeds (``train_candidates``, the contract of
``train.batch.train_candidates``: a ``BatchResult`` with one curve set per row and seed),
trains a curriculum stage, describes its training budget for the prompt, reports whether it
is usable here (``doctor``), and says what it supports (``FEATURES``). The search, the final
evaluation, curricula, ``play`` and ``doctor`` go through it; nothing outside a backend's own
module names a backend.

Adding a simulator: a module with a class that implements ``Backend`` and one line in
``BACKENDS`` (``name: "module:Class"``). ``backend=NAME`` then selects it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from eureka_jax.errors import EurekaError

if TYPE_CHECKING:
    from eureka_jax.task import TaskSpec

# What a backend may support; the search and the commands ask before they use it.
FEATURES = {
    "tuning": "constant variants as rows of one compiled program (tune=)",
    "references": "the human and sparse rewards measured at this budget and cached",
    "saved_policies": "trained parameters kept for play, replay and fine-tuning",
    "video": "the best policy filmed after a search",
    "budget_checks": "the budget ladder's verdicts (cpu_learns, smoke test) apply",
    "padding": "rows padded to one batch shape so every pass reuses compiled programs",
    "randomization": "domain-randomization tables as rows of one compiled program (dr_*)",
    "suites": "the task folders a benchmark suite names (configs/suites/)",
}

# name -> "module:Class" (imported when chosen) or the class itself
BACKENDS: dict[str, Any] = {
    "jax": "eureka_jax.jax_backend:JaxBackend",
    "isaacgym": "eureka_jax.bridges.isaacgym.backend:IsaacGymBackend",
}

# name -> "module:Dataclass" of a backend's own command-line section (``NAME.key=value``;
# ``configs/config.yaml`` may give its defaults), for a backend that takes settings of its
# own; imported when the config is composed, so keep such a module light.
BACKEND_SETTINGS: dict[str, str] = {
    "isaacgym": "eureka_jax.bridges.isaacgym.settings:IsaacGymSettings",
}


class Backend(Protocol):
    name: str
    supports: frozenset  # keys of FEATURES

    def load_task(self, name: str) -> TaskSpec:
        """The task called ``name`` (the search's ``task=``)."""

    def prepare(self, task, work_dir: Path | None) -> None:
        """Checks that trainings of ``task`` can start here (before any LLM call or run
        directory: one sentence when not) and where they write (``work_dir``)."""

    def train_candidates(self, task, reward_fns, config, hparams=None, seeds=(0,), labels=None,
                         slots=None, min_rows: int = 0):
        """Every reward x every seed -> ``train.batch.BatchResult`` (``slots``: which program
        each row trains, a seed table [rows][S] allowed; ``min_rows``: the batch shape to pad
        to, for backends that support ``padding``)."""

    def budget(self, task, config, hparams, num_seeds: int, select: str) -> tuple:
        """(a note on what the budget means for the reflection or None, the prompt's budget
        paragraph)."""

    def task_rewards(self, stage) -> tuple[Callable[[], str], Callable[[], str]]:
        """A curriculum stage's (human, sparse) reward-source getters."""

    def train_stage(self, stage, reward_source: str, init: str | None, stage_dir: Path):
        """Trains one curriculum stage from checkpoint ``init`` -> ``curriculum.StageOutcome``."""

    def status(self) -> list[tuple[str, str]]:
        """(what, state) rows for ``doctor``: usable here or not, and how to install."""


def backend_names() -> tuple:
    return tuple(BACKENDS)


def backend_settings() -> dict:
    """name -> the dataclass of each backend's own settings section (``BACKEND_SETTINGS``)."""
    out = {}
    for name, where in BACKEND_SETTINGS.items():
        module, _, attr = where.partition(":")
        out[name] = getattr(importlib.import_module(module), attr)
    return out


def backend_class(name: str):
    """The registered class of ``backend=name``; one sentence for a name not registered."""
    if name not in BACKENDS:
        raise EurekaError(f"backend={name} is not known; use "
                          + " or ".join(f"backend={n}" for n in BACKENDS) + ".")
    entry = BACKENDS[name]
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = getattr(importlib.import_module(module), attr)
    return entry


def make_backend(cfg, work_dir: Path | None = None) -> Backend:
    """The backend ``cfg.backend`` names, bound to the resolved config."""
    return backend_class(cfg.backend)(cfg, work_dir)


def require(backend: Backend, feature: str, what: str) -> None:
    """One sentence when ``backend`` lacks ``feature`` and the user asked for ``what``."""
    if feature not in backend.supports:
        raise EurekaError(f"{what} needs {FEATURES[feature]}, which backend={backend.name} "
                          "does not do; drop it or use a backend that does (backend="
                          + " or backend=".join(n for n in BACKENDS if _has(n, feature))
                          + ").")


def _has(name: str, feature: str) -> bool:
    return feature in getattr(backend_class(name), "supports", frozenset())
