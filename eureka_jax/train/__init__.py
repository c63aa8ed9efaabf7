"""The batched PPO trainer: K reward candidates x S seeds in one compiled program."""

from eureka_jax.train.batch import BatchResult, seed_keys, train_candidates
from eureka_jax.train.config import PPOHyperparams, TrainConfig, split_train_settings
from eureka_jax.train.curves import TrainingCurves, TrainOutput
from eureka_jax.train.ppo import make_train

__all__ = [
    "BatchResult", "PPOHyperparams", "TrainConfig", "TrainOutput", "TrainingCurves", "make_train",
    "seed_keys", "split_train_settings", "train_candidates",
]
