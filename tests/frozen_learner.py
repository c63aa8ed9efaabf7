"""A second learner for the learner seam's test (``tests/test_train.py``): PPO's rollout and
evaluation with an update that changes nothing, so its policy stays the one it started
with. Registered by one line (``LEARNERS["frozen"] = "tests.frozen_learner"``); nothing
else in the trainer, evaluation or saved-policy code knows it."""

from __future__ import annotations

import dataclasses

from eureka_jax.train import ppo


def make_parts(task, config, randomize=()):
    parts = ppo.make_parts(task, config, randomize=randomize)

    def learn(c, rollout, total, hparams):
        return c.replace(update=c.update + 1)  # counts the update, learns nothing

    return dataclasses.replace(parts, learn=learn)


def make_train(task, config, reward_fns):
    return ppo.make_train(task, config, reward_fns, parts=make_parts(task, config))
