"""What a training records: the curves (``TrainingCurves``), the per-env episode bookkeeping of
the training rollouts, and the task's behaviour statistics (``watch``) of the evaluation
rollouts. Pure data and small pure functions; the trainer (``ppo.py``) fills them."""

from __future__ import annotations

from typing import Any

import flax
import jax.numpy as jnp

from eureka_jax.errors import EurekaError


@flax.struct.dataclass
class TrainingCurves:
    """Per-checkpoint statistics of one run (leading axes [K, S] when batched).

    ``fitness``, ``episode_return``, ``episode_length`` and ``components`` come from
    evaluation rollouts when ``TrainConfig.eval_envs > 0``: at an evaluated checkpoint the
    current policy runs ``eval_envs`` full episodes from fresh resets (deterministic actions
    by default), so a reading neither repeats across checkpoints nor counts a partial
    episode. Checkpoints that are not evaluated (``eval_every > 1``) hold NaN there; the last
    checkpoint is always evaluated. With ``eval_envs=0`` they are the training statistics.

    The ``train_*`` fields are the training episodes' statistics at every checkpoint: the
    mean, over the training envs, of each env's last completed episode (an env that has not
    completed one yet contributes its episode so far, so early values are lower bounds).
    They are None where a backend does not provide them (Isaac Gym logs).

    Attributes:
      fitness: [C] task fitness (fitness signal summed over the episode / max episode length).
      episode_return: [C] episode return under the candidate's own reward.
      episode_length: [C] episode length in steps.
      components: [C, M] per-step mean of each reward component over the episode; M is the
        largest component count in the batch, padded with 0 (names in ``BatchResult``).
      env_steps: [C] environment steps taken by this run at each checkpoint.
      failed: scalar bool, the reward or the training went non-finite.
      failed_at: scalar int, first checkpoint index at which it did (-1 if never).
      train_fitness, train_episode_return, train_episode_length, train_components: the same
        statistics from the training episodes.
      watch: [C, W] the task's behaviour statistics (``Task.watch``, in its order) in the
        evaluation episodes: each watched quantity's mean over the steps where its condition
        held (NaN where it never did, or at a checkpoint not evaluated).
      policy_loss, value_loss, entropy_loss, approx_kl: [C] brax's PPO loss terms and the
        approximate KL between old and new policy, averaged over each checkpoint's updates:
        they tell a diverged optimisation (KL or value loss exploding) from a reward that
        teaches nothing. None where a backend does not provide them (Isaac Gym).
      peak_fitness: scalar, the maximum of the fitness over every value the backend logged,
        where it logs more often than the checkpoints (Isaac Gym: Eureka's statistic, the max
        of the raw ``consecutive_successes`` series); None for the JAX trainer, whose
        checkpoints are its evaluations.
    """

    fitness: jnp.ndarray
    episode_return: jnp.ndarray
    episode_length: jnp.ndarray
    components: jnp.ndarray
    env_steps: jnp.ndarray
    failed: jnp.ndarray
    failed_at: jnp.ndarray
    train_fitness: jnp.ndarray | None = None
    train_episode_return: jnp.ndarray | None = None
    train_episode_length: jnp.ndarray | None = None
    train_components: jnp.ndarray | None = None
    peak_fitness: jnp.ndarray | None = None
    watch: jnp.ndarray | None = None
    policy_loss: jnp.ndarray | None = None
    value_loss: jnp.ndarray | None = None
    entropy_loss: jnp.ndarray | None = None
    approx_kl: jnp.ndarray | None = None


@flax.struct.dataclass
class TrainOutput:
    curves: TrainingCurves
    params: Any  # (normalizer_params, policy_params, value_params), brax's inference layout


@flax.struct.dataclass
class _Episodes:
    """Per-env episode accumulators (current) and the last completed episode."""

    ret: jnp.ndarray
    fit: jnp.ndarray
    length: jnp.ndarray
    comps: jnp.ndarray
    last_ret: jnp.ndarray
    last_fit: jnp.ndarray
    last_length: jnp.ndarray
    last_comps: jnp.ndarray
    has_last: jnp.ndarray

    @classmethod
    def zeros(cls, num_envs: int, num_components: int):
        z = jnp.zeros(num_envs)
        c = jnp.zeros((num_envs, num_components))
        return cls(z, z, z, c, z, z, z, c, jnp.zeros(num_envs, bool))

    def add(self, reward, fitness, comps, done, per_episode):
        """``per_episode(sum, length)``: an episode's fitness (``ppo.episode_fitness``)."""
        ret, fit = self.ret + reward, self.fit + fitness
        length, comp_sums = self.length + 1, self.comps + comps
        fit_norm = per_episode(fit, length)
        comp_means = comp_sums / length[:, None]
        d = done.astype(bool)
        return _Episodes(
            ret=jnp.where(d, 0.0, ret),
            fit=jnp.where(d, 0.0, fit),
            length=jnp.where(d, 0.0, length),
            comps=jnp.where(d[:, None], 0.0, comp_sums),
            last_ret=jnp.where(d, ret, self.last_ret),
            last_fit=jnp.where(d, fit_norm, self.last_fit),
            last_length=jnp.where(d, length, self.last_length),
            last_comps=jnp.where(d[:, None], comp_means, self.last_comps),
            has_last=self.has_last | d,
        )

    def summary(self, per_episode):
        h = self.has_last
        safe_len = jnp.maximum(self.length, 1.0)
        return (
            jnp.mean(jnp.where(h, self.last_fit, per_episode(self.fit, self.length))),
            jnp.mean(jnp.where(h, self.last_ret, self.ret)),
            jnp.mean(jnp.where(h, self.last_length, self.length)),
            jnp.mean(jnp.where(h[:, None], self.last_comps, self.comps / safe_len[:, None]), 0),
        )


def watch_fn(task):
    """``inputs -> (values [W], conditions [W])`` for one transition, from ``task.watch``:
    each entry takes a reward input (``index`` picks an element), reduces it (``value``,
    ``abs``, ``norm``, ``mean``) and counts the step only where its ``where`` input (a 0/1
    reward input) is > 0.5."""
    specs = list(getattr(task, "watch", None) or ())
    if specs:
        known = set(task.reward_input_specs)
        for w in specs:
            for key in ("input", "where"):
                if w.get(key) and w[key] not in known:
                    raise EurekaError(f"task '{task.name}': watch '{w['name']}' names {key} "
                                      f"'{w[key]}', which is not a reward input; choose one of "
                                      f"{', '.join(sorted(known))}.")

    def one(inputs):
        values, conds = [], []
        for w in specs:
            x = jnp.asarray(inputs[w["input"]], jnp.float32)
            if "index" in w:
                x = x.reshape(-1)[int(w["index"])]
            how = w.get("reduce", "value")
            x = {"value": lambda v: v.reshape(-1)[0] if v.ndim else v, "abs": jnp.abs,
                 "norm": jnp.linalg.norm, "mean": jnp.mean}[how](x)
            x = jnp.mean(x) if jnp.ndim(x) else x
            cond = (inputs[w["where"]] > 0.5).astype(jnp.float32) if w.get("where") else 1.0
            values.append(x)
            conds.append(jnp.asarray(cond, jnp.float32).reshape(()))
        return (jnp.stack(values) if values else jnp.zeros((0,)),
                jnp.stack(conds) if conds else jnp.zeros((0,)))

    return one, len(specs)


def watch_update(wsum, wcount, values, conds, alive):
    """One evaluation step of the watch statistics: per env [n, W], count a value only while
    its env is still in its episode and its condition holds."""
    conds = conds * alive[:, None]
    return wsum + jnp.where(conds > 0, values, 0.0), wcount + conds


def watch_mean(wsum, wcount):
    """[W] each statistic pooled over all envs' counted steps (NaN if none counted)."""
    count = wcount.sum(0)
    return jnp.where(count > 0, wsum.sum(0) / jnp.maximum(count, 1.0), jnp.nan)
