"""PPO for K reward candidates x S seeds in one compiled program.

``make_train(task, config, reward_fns)`` returns a pure ``train(rng, candidate, hparams)`` for
one (candidate, seed), PureJaxRL-style: ``lax.scan`` over checkpoints -> updates -> rollout
steps -> epochs -> minibatches. ``jax.jit(jax.vmap(jax.vmap(train)))`` over candidates x
seeds is the main path (see ``batch.py``). The candidate's reward is picked with
``lax.switch`` on its index; under ``vmap`` every branch runs and ``select`` keeps the right
one, so a candidate's NaNs never reach its batch-mates.

Composed from brax.training: PPO networks and inference function, the PPO loss (with GAE),
the gradient-update helper and running observation statistics. Written here: the rollout
with the framework's reward, auto-reset with the task's time limit, episode bookkeeping for
curves, and failure marking.
"""

from __future__ import annotations

import functools
from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax
from brax.training import gradients, types
from brax.training.acme import running_statistics, specs
from brax.training.agents.ppo import losses as ppo_losses
from brax.training.agents.ppo import networks as ppo_networks

from eureka_jax.train.config import PPOHyperparams, TrainConfig


@flax.struct.dataclass
class TrainingCurves:
    """Per-checkpoint statistics of one run (leading axes [K, S] when batched).

    Episode statistics at a checkpoint average, over the training envs, each env's last
    completed episode; an env that has not completed one yet contributes its episode so far
    (so early fitness is a lower bound).

    Attributes:
      fitness: [C] task fitness (fitness signal summed over the episode / max episode length).
      episode_return: [C] episode return under the candidate's own reward.
      episode_length: [C] episode length in steps.
      components: [C, M] per-step mean of each reward component over the episode; M is the
        largest component count in the batch, padded with 0 (names in ``BatchResult``).
      env_steps: [C] environment steps taken by this run at each checkpoint.
      failed: scalar bool, the reward or the training went non-finite.
      failed_at: scalar int, first checkpoint index at which it did (-1 if never).
    """

    fitness: jnp.ndarray
    episode_return: jnp.ndarray
    episode_length: jnp.ndarray
    components: jnp.ndarray
    env_steps: jnp.ndarray
    failed: jnp.ndarray
    failed_at: jnp.ndarray


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

    def add(self, reward, fitness, comps, done, fitness_divisor):
        ret, fit = self.ret + reward, self.fit + fitness
        length, comp_sums = self.length + 1, self.comps + comps
        fit_norm = fit / fitness_divisor
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

    def summary(self, fitness_divisor):
        h = self.has_last
        safe_len = jnp.maximum(self.length, 1.0)
        return (
            jnp.mean(jnp.where(h, self.last_fit, self.fit / fitness_divisor)),
            jnp.mean(jnp.where(h, self.last_ret, self.ret)),
            jnp.mean(jnp.where(h, self.last_length, self.length)),
            jnp.mean(jnp.where(h[:, None], self.last_comps, self.comps / safe_len[:, None]), 0),
        )


def reward_switch(reward_fns, num_components: int):
    """One function ``(candidate_index, inputs) -> (total, components[M])`` over all candidates.

    Each candidate's components are laid out in the order of its ``component_names`` and
    padded with zeros to ``num_components``.
    """

    def branch(reward_fn):
        def apply(inputs):
            total, parts = reward_fn(inputs)
            values = [jnp.asarray(parts[name], jnp.float32) for name in reward_fn.component_names]
            padded = values + [jnp.zeros((), jnp.float32)] * (num_components - len(values))
            return jnp.asarray(total, jnp.float32), jnp.stack(padded) if padded else jnp.zeros(0)

        return apply

    branches = [branch(fn) for fn in reward_fns]

    def apply(index, inputs):
        if len(branches) == 1:
            return branches[0](inputs)
        return jax.lax.switch(index, branches, inputs)

    return apply


def make_train(task, config: TrainConfig, reward_fns):
    """Builds the pure training function for one (candidate, seed).

    Args:
      task: the ``Task`` (its env, episode length and fitness input are used).
      config: static PPO settings.
      reward_fns: the candidates' ``RewardFn``s, indexed by ``candidate``.

    Returns:
      ``train(rng, candidate, hparams, init=None) -> TrainOutput``; pure and jittable.
      ``init``: (normalizer, policy, value) parameters to start from, in the layout of
      ``TrainOutput.params`` (fine-tuning, e.g. a curriculum's next stage); None starts
      from freshly initialised networks.
    """
    env = task.env
    max_length = float(task.episode_length)
    # fitness per episode: the signal's sum / max length ("mean"), or its sum ("sum": counts)
    fitness_divisor = max_length if task.fitness_aggregate == "mean" else 1.0
    num_components = max([len(fn.component_names) for fn in reward_fns] + [0])
    rewards = reward_switch(reward_fns, num_components)
    obs_size = env.observation_size
    if not isinstance(obs_size, int):
        raise NotImplementedError(f"task '{task.name}' has dict observations; not supported yet")
    normalize = (running_statistics.normalize if config.normalize_observations
                 else types.identity_observation_preprocessor)
    network = ppo_networks.make_ppo_networks(
        obs_size,
        env.action_size,
        preprocess_observations_fn=normalize,
        policy_hidden_layer_sizes=config.policy_hidden,
        value_hidden_layer_sizes=config.value_hidden,
    )
    make_policy = ppo_networks.make_inference_fn(network)
    updates_per_checkpoint = config.num_updates // config.num_checkpoints
    minibatch_envs = config.num_envs // config.num_minibatches

    def reset_pool(rng):
        return jax.vmap(env.reset)(jax.random.split(rng, config.num_envs))

    def train(rng, candidate, hparams: PPOHyperparams, init=None) -> TrainOutput:
        optimizer = optax.chain(
            optax.clip_by_global_norm(hparams.max_grad_norm),
            optax.inject_hyperparams(optax.adam)(learning_rate=hparams.learning_rate),
        )
        loss_fn = functools.partial(
            ppo_losses.compute_ppo_loss,
            ppo_network=network,
            entropy_cost=hparams.entropy_cost,
            discounting=hparams.discounting,
            reward_scaling=hparams.reward_scaling,
            gae_lambda=hparams.gae_lambda,
            clipping_epsilon=hparams.clipping_epsilon,
            normalize_advantage=True,
        )
        sgd_step = gradients.gradient_update_fn(loss_fn, optimizer, None, has_aux=True)

        rng, key_policy, key_value, key_env = jax.random.split(rng, 4)
        params = ppo_losses.PPONetworkParams(
            policy=network.policy_network.init(key_policy),
            value=network.value_network.init(key_value),
        )
        normalizer = running_statistics.init_state(specs.Array((obs_size,), jnp.dtype("float32")))
        if init is not None:
            normalizer = init[0]
            params = ppo_losses.PPONetworkParams(policy=init[1], value=init[2])
        opt_state = optimizer.init(params)
        first = reset_pool(key_env)
        carry = {
            "params": params, "normalizer": normalizer, "opt_state": opt_state,
            "env_state": first, "pool": first, "steps": jnp.zeros(config.num_envs),
            "episodes": _Episodes.zeros(config.num_envs, num_components),
            "nonfinite": jnp.array(False),
        }

        def env_step(c, key):
            key_act, = jax.random.split(key, 1)
            policy = make_policy((c["normalizer"], c["params"].policy))
            obs = c["env_state"].obs
            action, extras = policy(obs, key_act)
            nxt = jax.vmap(env.step)(c["env_state"], action)
            inputs = jax.vmap(env.reward_inputs)(c["env_state"], action, nxt)
            total, comps = jax.vmap(lambda x: rewards(candidate, x))(inputs)
            finite = jnp.isfinite(total).all() & jnp.isfinite(comps).all()
            steps = c["steps"] + 1
            terminated = nxt.done
            truncated = jnp.where(terminated > 0, 0.0, (steps >= max_length).astype(jnp.float32))
            done = jnp.maximum(terminated, truncated)
            transition = types.Transition(
                observation=obs,
                action=action,
                reward=total,
                discount=1.0 - terminated,
                next_observation=nxt.obs,
                extras={"policy_extras": extras, "state_extras": {"truncation": truncated}},
            )
            episodes = c["episodes"].add(total, inputs[task.fitness_input], comps, done,
                                         fitness_divisor)
            reset = jax.tree.map(
                lambda p, s: jnp.where(jnp.reshape(done > 0, (-1,) + (1,) * (s.ndim - 1)), p, s),
                c["pool"], nxt,
            )
            c = dict(c, env_state=reset, steps=jnp.where(done > 0, 0.0, steps), episodes=episodes,
                     nonfinite=c["nonfinite"] | ~finite)
            return c, transition

        def sgd_epoch(state, key):
            params, opt_state, normalizer, data = state
            key_perm, key_loss = jax.random.split(key)
            perm = jax.random.permutation(key_perm, config.num_envs)
            shuffled = jax.tree.map(
                lambda x: x[perm].reshape(config.num_minibatches, minibatch_envs, *x.shape[1:]),
                data,
            )

            def minibatch(s, inputs):
                params, opt_state = s
                batch, key = inputs
                (_, _), params, opt_state = sgd_step(
                    params, normalizer, batch, key, optimizer_state=opt_state
                )
                return (params, opt_state), None

            keys = jax.random.split(key_loss, config.num_minibatches)
            (params, opt_state), _ = jax.lax.scan(minibatch, (params, opt_state),
                                                  (shuffled, keys))
            return (params, opt_state, normalizer, data), None

        def update(c, key):
            key_roll, key_sgd = jax.random.split(key)
            c, data = jax.lax.scan(env_step, c, jax.random.split(key_roll, config.unroll_length))
            data = jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), data)  # [envs, T, ...]
            normalizer = running_statistics.update(c["normalizer"], data.observation)
            (params, opt_state, _, _), _ = jax.lax.scan(
                sgd_epoch, (c["params"], c["opt_state"], normalizer, data),
                jax.random.split(key_sgd, config.update_epochs),
            )
            finite = jnp.all(jnp.stack([jnp.isfinite(x).all()
                                        for x in jax.tree.leaves(params)]))
            return dict(c, params=params, opt_state=opt_state, normalizer=normalizer,
                        nonfinite=c["nonfinite"] | ~finite), None

        def checkpoint(c, key):
            key_pool, key_updates = jax.random.split(key)
            # Fresh initial states for the envs that reset during this window (cheaper than
            # a reset per step: some resets, e.g. cheetah's, simulate hundreds of steps).
            c = dict(c, pool=reset_pool(key_pool))
            c, _ = jax.lax.scan(update, c, jax.random.split(key_updates, updates_per_checkpoint))
            fit, ret, length, comps = c["episodes"].summary(fitness_divisor)
            return c, (fit, ret, length, comps, c["nonfinite"])

        carry, (fit, ret, length, comps, nonfinite) = jax.lax.scan(
            checkpoint, carry, jax.random.split(rng, config.num_checkpoints)
        )
        failed_at = jnp.where(nonfinite.any(), jnp.argmax(nonfinite), -1)
        env_steps = (jnp.arange(1, config.num_checkpoints + 1) * updates_per_checkpoint
                     * config.steps_per_update).astype(jnp.float32)
        curves = TrainingCurves(
            fitness=fit, episode_return=ret, episode_length=length, components=comps,
            env_steps=env_steps, failed=nonfinite.any(), failed_at=failed_at,
        )
        params = (carry["normalizer"], carry["params"].policy, carry["params"].value)
        return TrainOutput(curves=curves, params=params)

    def initial_params(key):
        """Fresh (normalizer, policy, value) parameters: the layout ``init`` must have."""
        key_policy, key_value = jax.random.split(key)
        return (running_statistics.init_state(specs.Array((obs_size,), jnp.dtype("float32"))),
                network.policy_network.init(key_policy), network.value_network.init(key_value))

    train.initial_params = initial_params
    return train
