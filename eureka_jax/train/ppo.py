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

from eureka_jax.errors import EurekaError
from eureka_jax.train.config import PPOHyperparams, TrainConfig


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
    watched, num_watch = watch_fn(task)
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

    def evaluate(normalizer, policy_params, candidate, key):
        """Full episodes of the current policy from fresh resets on ``eval_envs`` envs.

        Each env runs until it terminates or reaches the time limit; a finished env's state
        is frozen and its statistics stop accumulating. The loop ends when every env has
        finished (a ``while_loop``: a policy that fails fast is evaluated fast).
        Returns (fitness, return, length, component means, watch means, all finite)
        averaged over envs (watch: pooled over the steps where each condition held).
        """
        policy = make_policy((normalizer, policy_params),
                             deterministic=config.eval_deterministic)
        key_reset, key_act = jax.random.split(key)
        n = config.eval_envs
        zeros = jnp.zeros(n)
        init = (jax.vmap(env.reset)(jax.random.split(key_reset, n)), jnp.ones(n, bool),
                jnp.zeros((), jnp.int32), zeros, zeros, zeros,
                jnp.zeros((n, num_components)), jnp.zeros((n, num_watch)),
                jnp.zeros((n, num_watch)), jnp.array(True))

        def running(carry):
            _, alive, t = carry[:3]
            return (t < task.episode_length) & alive.any()

        def step(carry):
            state, alive, t, ret, fit, length, comps, wsum, wcount, finite = carry
            action, _ = policy(state.obs, jax.random.fold_in(key_act, t))
            nxt = jax.vmap(env.step)(state, action)
            inputs = jax.vmap(env.reward_inputs)(state, action, nxt)
            total, parts = jax.vmap(lambda x: rewards(candidate, x))(inputs)
            ok = jnp.isfinite(total) & jnp.isfinite(parts).all(-1)
            finite = finite & jnp.where(alive, ok, True).all()
            ret = ret + jnp.where(alive, total, 0.0)
            fit = fit + jnp.where(alive, inputs[task.fitness_input], 0.0)
            comps = comps + jnp.where(alive[:, None], parts, 0.0)
            values, conds = jax.vmap(watched)(inputs)
            wsum, wcount = watch_update(wsum, wcount, values, conds, alive)
            length = length + alive
            state = jax.tree.map(
                lambda a, b: jnp.where(jnp.reshape(alive, (-1,) + (1,) * (a.ndim - 1)), a, b),
                nxt, state)
            alive = alive & (nxt.done == 0)
            return state, alive, t + 1, ret, fit, length, comps, wsum, wcount, finite

        _, _, _, ret, fit, length, comps, wsum, wcount, finite = jax.lax.while_loop(
            running, step, init)
        comp_means = comps / jnp.maximum(length, 1.0)[:, None]
        watch = watch_mean(wsum, wcount)
        return (jnp.mean(fit / fitness_divisor), jnp.mean(ret), jnp.mean(length),
                jnp.mean(comp_means, 0), watch, finite)

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

        def evaluated(c, key):
            fit, ret, length, comps, watch, finite = evaluate(
                c["normalizer"], c["params"].policy, candidate, key)
            return (fit, ret, length, comps, watch), c["nonfinite"] | ~finite

        def not_evaluated(c, key):
            nan = jnp.full((), jnp.nan)
            return (nan, nan, nan, jnp.full((num_components,), jnp.nan),
                    jnp.full((num_watch,), jnp.nan)), c["nonfinite"]

        def checkpoint(c, inputs):
            index, key = inputs
            key_pool, key_updates, key_eval = jax.random.split(key, 3)
            # Fresh initial states for the envs that reset during this window (cheaper than
            # a reset per step: some resets, e.g. cheetah's, simulate hundreds of steps).
            c = dict(c, pool=reset_pool(key_pool))
            c, _ = jax.lax.scan(update, c, jax.random.split(key_updates, updates_per_checkpoint))
            train_stats = c["episodes"].summary(fitness_divisor)
            if config.eval_envs == 0:  # no evaluation episodes: no behaviour statistics
                stats = (*train_stats, jnp.full((num_watch,), jnp.nan))
                return c, (stats, train_stats, c["nonfinite"])
            # the index is not batched, so under vmap this stays a branch (no wasted rollouts)
            due = ((index + 1) % config.eval_every == 0) | (index == config.num_checkpoints - 1)
            eval_stats, nonfinite = jax.lax.cond(due, evaluated, not_evaluated, c, key_eval)
            c = dict(c, nonfinite=nonfinite)
            return c, (eval_stats, train_stats, nonfinite)

        carry, (eval_stats, train_stats, nonfinite) = jax.lax.scan(
            checkpoint, carry,
            (jnp.arange(config.num_checkpoints), jax.random.split(rng, config.num_checkpoints)),
        )
        failed_at = jnp.where(nonfinite.any(), jnp.argmax(nonfinite), -1)
        env_steps = (jnp.arange(1, config.num_checkpoints + 1) * updates_per_checkpoint
                     * config.steps_per_update).astype(jnp.float32)
        fit, ret, length, comps, watch = eval_stats
        curves = TrainingCurves(
            fitness=fit, episode_return=ret, episode_length=length, components=comps,
            watch=watch,
            env_steps=env_steps, failed=nonfinite.any(), failed_at=failed_at,
            train_fitness=train_stats[0], train_episode_return=train_stats[1],
            train_episode_length=train_stats[2], train_components=train_stats[3],
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
