"""Learners: the algorithm that turns rollouts and their rewards into a policy.

``train.learner`` names one (``LEARNERS``). A learner is a module with

- ``make_parts(task, config) -> Parts``: the reward-free functions of one run, which the
  batched trainer compiles once per task and settings and composes with each round's reward
  programs (``train.batch``): ``init`` (networks, optimiser, first states), ``begin``/``end``
  (a checkpoint window), ``roll`` (act: one unroll, returning the reward inputs),
  ``learn`` (update from an unroll and its rewards), ``evaluate``/``evaluate_runs``/
  ``evaluate_carry`` (evaluation episodes), ``initial_params``, ``eval_key``,
  ``per_episode`` and ``num_watch`` (see ``ppo.Parts``);
- ``make_train(task, config, reward_fns)``: the same training as one program with the rewards
  traced in (the reference ``benchmarks/compile_once.py`` measures against).

``parts(task, config, randomize)`` makes a learner's parts once per task and settings (the
trainer, ``play`` and the robustness sweeps share them, and with them their traces).

Adding an algorithm: such a module and one line here; ``train.learner=NAME`` selects it.
"""

from __future__ import annotations

import importlib

from eureka_jax.errors import EurekaError

LEARNERS = {
    "ppo": "eureka_jax.train.ppo",  # brax's PPO losses and networks, our rollout and update
}


def check_learner(name: str) -> None:
    """One sentence for a ``train.learner`` that is not registered."""
    if name not in LEARNERS:
        raise EurekaError(f"train.learner={name} is not known; use "
                          + " or ".join(f"train.learner={n}" for n in LEARNERS) + ".")


def learner(name: str):
    """The module of ``train.learner=name``."""
    check_learner(name)
    return importlib.import_module(LEARNERS[name])


_PARTS: dict = {}
_MAX_PARTS = 8


def parts(task, config, randomize=()):
    """The learner's ``make_parts(task, config, randomize)``, made once per task, settings and
    randomization: its run functions are ``jax.jit``s, so every later batch shape (the seed
    race, the final evaluation, a DR stage's rows) batches their first trace instead of
    tracing the physics and the learner again. Keys hold ``id(task)``; the task is kept with
    its parts so that the id is not reused."""
    key = (id(task), config, tuple(randomize))
    if key not in _PARTS:
        _PARTS[key] = (task, learner(config.learner).make_parts(task, config,
                                                               randomize=randomize))
        while len(_PARTS) > _MAX_PARTS:
            _PARTS.pop(next(iter(_PARTS)))
    return _PARTS[key][1]
