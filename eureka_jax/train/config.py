"""Training configuration: static shapes/counts (one compile each) and traced numbers."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import flax
import jax.numpy as jnp

from eureka_jax.errors import EurekaError
from eureka_jax.train.learners import check_learner


@dataclass(frozen=True)
class TrainConfig:
    """Static PPO settings: everything that changes array shapes or loop lengths.

    Changing any of these recompiles; the numbers in ``PPOHyperparams`` do not.

    Attributes:
      num_envs: parallel environments per (candidate, seed).
      unroll_length: environment steps per env between two PPO updates.
      num_updates: PPO updates per run; total env steps = num_updates * num_envs * unroll_length.
      update_epochs: passes over each rollout.
      num_minibatches: minibatches per pass (must divide num_envs).
      num_evals: points at which curves are recorded and the policy evaluated (must divide
        num_updates; Brax's name; ``num_checkpoints`` is accepted for it).
      policy_hidden, value_hidden: MLP layer sizes.
      normalize_observations: running mean/std observation normalisation (brax's).
      eval_envs: environments per evaluation rollout (full episodes from fresh resets at a
        checkpoint, inside the compiled program); 0 reads the curves from the training
        episodes instead.
      eval_every: evaluate at every n-th checkpoint (and always at the last one).
      eval_deterministic: evaluate with the policy's mode (True) or with sampled actions.
      learner: the algorithm (``train.learners.LEARNERS``); its own static settings are the
        ones above (PPO's: update_epochs, num_minibatches, the network sizes).
    """

    num_envs: int = 64
    unroll_length: int = 32
    num_updates: int = 100
    update_epochs: int = 4
    num_minibatches: int = 4
    num_evals: int = 20
    policy_hidden: tuple[int, ...] = (64, 64)
    value_hidden: tuple[int, ...] = (64, 64)
    normalize_observations: bool = True
    eval_envs: int = 16
    eval_every: int = 1
    eval_deterministic: bool = True
    learner: str = "ppo"

    def __post_init__(self):
        check_learner(self.learner)
        for name in ("num_envs", "unroll_length", "num_updates", "update_epochs",
                     "num_minibatches", "num_evals"):
            if int(getattr(self, name)) < 1:
                raise EurekaError(f"train.{name} must be a positive integer; got "
                                  f"{getattr(self, name)}.")
        if int(self.eval_envs) < 0:
            raise EurekaError(f"train.eval_envs must be 0 (no evaluation rollouts) or a "
                              f"positive integer; got {self.eval_envs}.")
        if int(self.eval_every) < 1:
            raise EurekaError(f"train.eval_every must be a positive integer; got "
                              f"{self.eval_every}.")
        if self.num_envs % self.num_minibatches:
            raise EurekaError(
                f"train.num_minibatches ({self.num_minibatches}) must divide train.num_envs "
                f"({self.num_envs}); choose e.g. num_minibatches=4 with num_envs=64."
            )
        if self.num_updates % self.num_evals:
            raise EurekaError(
                f"train.num_evals ({self.num_evals}) must divide train.num_updates "
                f"({self.num_updates}); e.g. num_updates=100 with num_evals=20."
            )

    @property
    def steps_per_update(self) -> int:
        return self.num_envs * self.unroll_length

    @property
    def total_env_steps(self) -> int:
        return self.num_updates * self.steps_per_update


@flax.struct.dataclass
class PPOHyperparams:
    """Numbers that vary between runs without recompiling (traced arrays)."""

    learning_rate: jnp.ndarray = 3e-4
    entropy_cost: jnp.ndarray = 1e-3
    discounting: jnp.ndarray = 0.97
    gae_lambda: jnp.ndarray = 0.95
    clipping_epsilon: jnp.ndarray = 0.2
    reward_scaling: jnp.ndarray = 1.0
    max_grad_norm: jnp.ndarray = 0.5

    @classmethod
    def create(cls, **values) -> PPOHyperparams:
        return cls(**{k: jnp.asarray(v, jnp.float32) for k, v in
                      {**{f.name: f.default for f in dataclasses.fields(cls)}, **values}.items()})


STATIC_KEYS = tuple(f.name for f in dataclasses.fields(TrainConfig))
TRACED_KEYS = tuple(f.name for f in dataclasses.fields(PPOHyperparams))


# older spellings still accepted in task.yaml and train.* (renamed to Brax's words)
ALIASES = {"num_checkpoints": "num_evals"}


def split_train_settings(settings: dict) -> tuple[TrainConfig, PPOHyperparams]:
    """Splits a task's/user's ``train`` dict into the static config and traced numbers."""
    settings = {ALIASES.get(k, k): v for k, v in settings.items()}
    unknown = sorted(set(settings) - set(STATIC_KEYS) - set(TRACED_KEYS))
    if unknown:
        raise EurekaError(
            f"unknown training setting(s) {', '.join(unknown)}; valid: "
            f"{', '.join(STATIC_KEYS + TRACED_KEYS)}."
        )
    static = {k: v for k, v in settings.items() if k in STATIC_KEYS}
    for key in ("policy_hidden", "value_hidden"):
        if key in static:
            static[key] = tuple(int(x) for x in static[key])
    return TrainConfig(**static), PPOHyperparams.create(
        **{k: v for k, v in settings.items() if k in TRACED_KEYS}
    )


@dataclass(frozen=True)
class TrainingRequest:
    """What a command asks of training, typed once at the command-line edge
    (``from_config``): the task's settings are resolved against it by ``resolve``.

    Attributes:
      profile: ``cpu`` (the task's ``train``) or ``gpu`` (its ``train_gpu`` on top).
      overrides: the user's ``train.*`` values, on top of the task's.
      max_iterations: the PPO updates per run, when given (checkpoints follow it).
      seed, seeds: the first training seed and how many.
    """

    profile: str = "cpu"
    overrides: dict = dataclasses.field(default_factory=dict, hash=False)
    max_iterations: int | None = None
    seed: int = 0
    seeds: int = 1

    def __post_init__(self):
        if self.profile not in ("cpu", "gpu"):
            raise EurekaError(f"profile={self.profile} is not known; use profile=cpu or "
                              "profile=gpu.")
        if int(self.seeds) < 1:
            raise EurekaError(f"seeds={self.seeds} is too small; seeds must be at least 1.")
        if self.max_iterations is not None and int(self.max_iterations) < 1:
            raise EurekaError(f"max_iterations={self.max_iterations} must be a positive "
                              "integer (or null: the task's own).")

    @classmethod
    def from_config(cls, cfg) -> TrainingRequest:
        """The request a resolved command-line config makes."""
        from omegaconf import OmegaConf

        train = cfg.get("train") or {}
        overrides = (OmegaConf.to_container(train, resolve=True)
                     if OmegaConf.is_config(train) else dict(train))
        return cls(profile=str(cfg.get("profile", "cpu")), overrides=overrides,
                   max_iterations=(None if cfg.get("max_iterations") is None
                                   else int(cfg.max_iterations)),
                   seed=int(cfg.get("seed", 0)), seeds=int(cfg.get("seeds", 1)))

    def resolve(self, task, extra: dict | None = None) -> tuple[TrainConfig, PPOHyperparams]:
        """The task's PPO settings (with its ``train_gpu`` profile on top for ``gpu``), then
        ``extra`` (e.g. a curriculum stage's), then the overrides and ``max_iterations``."""
        base = dict(task.train)
        if self.profile == "gpu":
            gpu = getattr(task, "train_gpu", None)
            if not gpu:
                raise EurekaError(f"task '{task.name}' has no gpu profile (train_gpu in its "
                                  "task.yaml); use profile=cpu, or set train.* yourself.")
            base.update(gpu)
        settings = {ALIASES.get(k, k): v
                    for k, v in {**base, **(extra or {}), **self.overrides}.items()}
        if self.max_iterations is not None:
            settings["num_updates"] = int(self.max_iterations)
            # keep checkpoints dividing the updates: the largest divisor <= the configured count
            wanted = int(settings.get("num_evals", 20))
            settings["num_evals"] = max(
                d for d in range(1, min(wanted, settings["num_updates"]) + 1)
                if settings["num_updates"] % d == 0
            )
        return split_train_settings(settings)

    def seed_list(self, offset: int = 0, count: int | None = None) -> list[int]:
        """The training seeds: ``seed + offset + i`` for i < ``count`` (default ``seeds``)."""
        n = int(self.seeds if count is None else count)
        return [int(self.seed) + offset + i for i in range(n)]


def training_settings(cfg, task, extra: dict | None = None) -> tuple[TrainConfig, PPOHyperparams]:
    """The command-line edge's shortcut: ``TrainingRequest.from_config(cfg).resolve(...)``."""
    return TrainingRequest.from_config(cfg).resolve(task, extra)
