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
from eureka_jax.train.curves import (
    TrainingCurves,
    TrainOutput,
    _Episodes,
    watch_fn,
    watch_mean,
    watch_update,
)


def reward_switch(reward_fns, num_components: int):
    """One function ``(candidate_index, inputs, constants=None) -> (total, components[M])``
    over all candidates.

    Each candidate's components are laid out in the order of its ``component_names`` and
    padded with zeros to ``num_components``. ``constants``: None (every program's own
    literals) or an array [max number of constants] of values for the selected program's
    tunable constants (its first ``len(fn.constants)`` entries; ``eureka_jax.tune``).
    """

    def branch(reward_fn):
        def apply(inputs, constants=None):
            total, parts = reward_fn(inputs, constants)
            values = [jnp.asarray(parts[name], jnp.float32) for name in reward_fn.component_names]
            padded = values + [jnp.zeros((), jnp.float32)] * (num_components - len(values))
            return jnp.asarray(total, jnp.float32), jnp.stack(padded) if padded else jnp.zeros(0)

        return apply

    branches = [branch(fn) for fn in reward_fns]

    def apply(index, inputs, constants=None):
        if len(branches) == 1:
            return branches[0](inputs, constants)
        if constants is None:
            return jax.lax.switch(index, branches, inputs)
        return jax.lax.switch(index, branches, inputs, constants)

    return apply


@flax.struct.dataclass
class _Carry:
    """The training loop's state between steps, updates and checkpoints."""

    params: Any  # brax PPONetworkParams (policy, value)
    normalizer: Any  # running observation statistics
    opt_state: Any
    env_state: Any  # the training envs' states
    pool: Any  # fresh initial states for envs that reset in this checkpoint window
    steps: jnp.ndarray  # [num_envs] steps into the current episode
    episodes: _Episodes
    nonfinite: jnp.ndarray  # the reward, an update or an evaluation went NaN/inf


# brax's PPO loss metrics kept per checkpoint (mean over the window's updates, epochs and
# minibatches), and the TrainingCurves fields they fill
LOSS_METRICS = ("policy_loss", "v_loss", "entropy_loss", "kl_mean")
LOSS_FIELDS = ("policy_loss", "value_loss", "entropy_loss", "approx_kl")


def observation_layout(task):
    """(observation size, network keys) of a task's env for brax's networks.

    Flat observations: (size, {}). Dict observations (Playground's convention, e.g.
    ``{"state": (48,), "privileged_state": (123,)}``): ({key: shape}, {"policy_obs_key",
    "value_obs_key"}) from the task's ``observation_keys`` (task.yaml ``observation_keys:
    {policy: KEY, value: KEY}``); by default the policy reads ``state`` and the value network
    ``privileged_state`` where there is one (an asymmetric actor-critic), else ``state``.
    Running statistics are kept per key.
    """
    from collections.abc import Mapping

    from eureka_jax.errors import EurekaError

    size = task.env.observation_size
    if not isinstance(size, Mapping):
        return int(size), {}
    shapes = {k: (int(v),) if isinstance(v, int) else tuple(int(d) for d in v)
              for k, v in size.items()}
    wanted = dict(getattr(task, "observation_keys", None) or {})
    policy = wanted.get("policy", "state")
    value = wanted.get("value", "privileged_state" if "privileged_state" in shapes else policy)
    for role, key in (("policy", policy), ("value", value)):
        if key not in shapes:
            raise EurekaError(f"task '{task.name}': its env's observations have the keys "
                              f"{', '.join(shapes)}, not '{key}' for the {role} network; set "
                              f"observation_keys: {{{role}: KEY}} in its task.yaml.")
        if len(shapes[key]) != 1:
            raise EurekaError(f"task '{task.name}': observation '{key}' has shape "
                              f"{shapes[key]}; the {role} network (an MLP) reads flat vectors.")
    return shapes, {"policy_obs_key": policy, "value_obs_key": value}


def episode_fitness(task):
    """``(signal's sum over an episode, the episode's length) -> fitness``, by the task's
    ``fitness_aggregate``: "mean" divides by the maximum length (time after a termination
    counts as 0), "sum" keeps the sum (a count), "episode_mean" divides by the episode's own
    length (a per-step average over the steps it ran, e.g. Eureka's quadcopter distance)."""
    if task.fitness_aggregate == "sum":
        return lambda fit, length: fit
    if task.fitness_aggregate == "episode_mean":
        return lambda fit, length: fit / jnp.maximum(length, 1.0)
    max_length = float(task.episode_length)
    return lambda fit, length: fit / max_length


def make_train(task, config: TrainConfig, reward_fns):
    """Builds the pure training function for one (candidate, seed).

    Args:
      task: the ``Task`` (its env, episode length and fitness input are used).
      config: static PPO settings.
      reward_fns: the candidates' ``RewardFn``s, indexed by ``candidate``.

    Returns:
      ``train(rng, candidate, hparams, init=None, constants=None) -> TrainOutput``; pure and
      jittable. ``init``: (normalizer, policy, value) parameters to start from, in the layout
      of ``TrainOutput.params`` (fine-tuning, e.g. a curriculum's next stage); None starts
      from freshly initialised networks. ``constants``: values of the candidate's tunable
      constants ([max constants of any candidate], traced; ``reward_switch``); None: the
      programs' own literals (the program traced is then the one without tuning).
    """
    env = task.env
    max_length = float(task.episode_length)
    per_episode = episode_fitness(task)
    num_components = max([len(fn.component_names) for fn in reward_fns] + [0])
    rewards = reward_switch(reward_fns, num_components)
    watched, num_watch = watch_fn(task)
    obs_size, obs_keys = observation_layout(task)
    normalize = (running_statistics.normalize if config.normalize_observations
                 else types.identity_observation_preprocessor)
    network = ppo_networks.make_ppo_networks(
        obs_size,
        env.action_size,
        preprocess_observations_fn=normalize,
        policy_hidden_layer_sizes=config.policy_hidden,
        value_hidden_layer_sizes=config.value_hidden,
        **obs_keys,
    )
    make_policy = ppo_networks.make_inference_fn(network)
    updates_per_checkpoint = config.num_updates // config.num_evals
    minibatch_envs = config.num_envs // config.num_minibatches

    def reset_pool(rng):
        return jax.vmap(env.reset)(jax.random.split(rng, config.num_envs))

    def evaluate(normalizer, policy_params, candidate, key, record: bool = False,
                 constants=None):
        """Full episodes of the current policy from fresh resets on ``eval_envs`` envs.

        Each env runs until it terminates or reaches the time limit; a finished env's state
        is frozen and its statistics stop accumulating. The loop ends when every env has
        finished (a ``while_loop``: a policy that fails fast is evaluated fast).
        Returns (fitness, return, length, component means, watch means, all finite)
        averaged over envs (watch: pooled over the steps where each condition held).
        ``record=True`` (replaying a saved policy, not in training) also returns a dict:
        each env's fitness and length, and the states to render (``RENDER_FIELDS`` of
        ``state.data``, [episode_length + 1, envs, ...]; frames past an env's length repeat
        its last state).
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
        if record:
            first = _render_state(init[0])
            init = (*init, jax.tree.map(
                lambda x: jnp.zeros((task.episode_length + 1, *x.shape), x.dtype).at[0].set(x),
                first))

        def running(carry):
            _, alive, t = carry[:3]
            return (t < task.episode_length) & alive.any()

        def step(carry):
            state, alive, t, ret, fit, length, comps, wsum, wcount, finite = carry[:10]
            action, _ = policy(state.obs, jax.random.fold_in(key_act, t))
            nxt = jax.vmap(env.step)(state, action)
            inputs = jax.vmap(env.reward_inputs)(state, action, nxt)
            total, parts = jax.vmap(lambda x: rewards(candidate, x, constants))(inputs)
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
            out = (state, alive, t + 1, ret, fit, length, comps, wsum, wcount, finite)
            if record:
                out = (*out, jax.tree.map(lambda b, x: b.at[t + 1].set(x), carry[10],
                                          _render_state(state)))
            return out

        final = jax.lax.while_loop(running, step, init)
        _, _, _, ret, fit, length, comps, wsum, wcount, finite = final[:10]
        comp_means = comps / jnp.maximum(length, 1.0)[:, None]
        watch = watch_mean(wsum, wcount)
        stats = (jnp.mean(per_episode(fit, length)), jnp.mean(ret), jnp.mean(length),
                 jnp.mean(comp_means, 0), watch, finite)
        if record:
            return (*stats, {"fitness": per_episode(fit, length), "return": ret, "length": length,
                             "states": final[10]})
        return stats

    def train(rng, candidate, hparams: PPOHyperparams, init=None, constants=None) -> TrainOutput:
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

        key_policy, key_value, key_env, checkpoint_keys = run_keys(rng)
        normalizer, policy_params, value_params = fresh_params(key_policy, key_value)
        params = ppo_losses.PPONetworkParams(policy=policy_params, value=value_params)
        if init is not None:
            normalizer = init[0]
            params = ppo_losses.PPONetworkParams(policy=init[1], value=init[2])
        opt_state = optimizer.init(params)
        first = reset_pool(key_env)
        carry = _Carry(
            params=params, normalizer=normalizer, opt_state=opt_state, env_state=first,
            pool=first, steps=jnp.zeros(config.num_envs),
            episodes=_Episodes.zeros(config.num_envs, num_components),
            nonfinite=jnp.array(False),
        )

        def env_step(c, key):
            key_act, = jax.random.split(key, 1)
            policy = make_policy((c.normalizer, c.params.policy))
            obs = c.env_state.obs
            action, extras = policy(obs, key_act)
            nxt = jax.vmap(env.step)(c.env_state, action)
            inputs = jax.vmap(env.reward_inputs)(c.env_state, action, nxt)
            total, comps = jax.vmap(lambda x: rewards(candidate, x, constants))(inputs)
            finite = jnp.isfinite(total).all() & jnp.isfinite(comps).all()
            steps = c.steps + 1
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
            episodes = c.episodes.add(total, inputs[task.fitness_input], comps, done,
                                      per_episode)
            reset = jax.tree.map(
                lambda p, s: jnp.where(jnp.reshape(done > 0, (-1,) + (1,) * (s.ndim - 1)), p, s),
                c.pool, nxt,
            )
            c = c.replace(env_state=reset, steps=jnp.where(done > 0, 0.0, steps), episodes=episodes,
                     nonfinite=c.nonfinite | ~finite)
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
                (_, metrics), params, opt_state = sgd_step(
                    params, normalizer, batch, key, optimizer_state=opt_state
                )
                return (params, opt_state), jnp.stack([metrics[k] for k in LOSS_METRICS])

            keys = jax.random.split(key_loss, config.num_minibatches)
            (params, opt_state), losses = jax.lax.scan(minibatch, (params, opt_state),
                                                       (shuffled, keys))
            return (params, opt_state, normalizer, data), losses.mean(0)

        def update(c, key):
            key_roll, key_sgd = jax.random.split(key)
            c, data = jax.lax.scan(env_step, c, jax.random.split(key_roll, config.unroll_length))
            data = jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), data)  # [envs, T, ...]
            normalizer = running_statistics.update(c.normalizer, data.observation)
            (params, opt_state, _, _), losses = jax.lax.scan(
                sgd_epoch, (c.params, c.opt_state, normalizer, data),
                jax.random.split(key_sgd, config.update_epochs),
            )
            finite = jnp.all(jnp.stack([jnp.isfinite(x).all()
                                        for x in jax.tree.leaves(params)]))
            return c.replace(params=params, opt_state=opt_state, normalizer=normalizer,
                        nonfinite=c.nonfinite | ~finite), losses.mean(0)

        def evaluated(c, key):
            fit, ret, length, comps, watch, finite = evaluate(
                c.normalizer, c.params.policy, candidate, key, constants=constants)
            return (fit, ret, length, comps, watch), c.nonfinite | ~finite

        def not_evaluated(c, key):
            nan = jnp.full((), jnp.nan)
            return (nan, nan, nan, jnp.full((num_components,), jnp.nan),
                    jnp.full((num_watch,), jnp.nan)), c.nonfinite

        def checkpoint(c, inputs):
            index, key = inputs
            key_pool, key_updates, key_eval = jax.random.split(key, 3)  # as in eval_key
            # Fresh initial states for the envs that reset during this window (cheaper than
            # a reset per step: some resets, e.g. cheetah's, simulate hundreds of steps).
            c = c.replace(pool=reset_pool(key_pool))
            c, losses = jax.lax.scan(update, c,
                                     jax.random.split(key_updates, updates_per_checkpoint))
            losses = losses.mean(0)  # [len(LOSS_METRICS)] over this window's updates
            train_stats = c.episodes.summary(per_episode)
            if config.eval_envs == 0:  # no evaluation episodes: no behaviour statistics
                stats = (*train_stats, jnp.full((num_watch,), jnp.nan))
                return c, (stats, train_stats, losses, c.nonfinite)
            # the index is not batched, so under vmap this stays a branch (no wasted rollouts)
            due = ((index + 1) % config.eval_every == 0) | (index == config.num_evals - 1)
            eval_stats, nonfinite = jax.lax.cond(due, evaluated, not_evaluated, c, key_eval)
            c = c.replace(nonfinite=nonfinite)
            return c, (eval_stats, train_stats, losses, nonfinite)

        carry, (eval_stats, train_stats, losses, nonfinite) = jax.lax.scan(
            checkpoint, carry,
            (jnp.arange(config.num_evals), checkpoint_keys),
        )
        failed_at = jnp.where(nonfinite.any(), jnp.argmax(nonfinite), -1)
        env_steps = (jnp.arange(1, config.num_evals + 1) * updates_per_checkpoint
                     * config.steps_per_update).astype(jnp.float32)
        fit, ret, length, comps, watch = eval_stats
        curves = TrainingCurves(
            fitness=fit, episode_return=ret, episode_length=length, components=comps,
            watch=watch,
            env_steps=env_steps, failed=nonfinite.any(), failed_at=failed_at,
            train_fitness=train_stats[0], train_episode_return=train_stats[1],
            train_episode_length=train_stats[2], train_components=train_stats[3],
            **{name: losses[:, i] for i, name in enumerate(LOSS_FIELDS)},
        )
        params = (carry.normalizer, carry.params.policy, carry.params.value)
        return TrainOutput(curves=curves, params=params)

    def fresh_params(key_policy, key_value):
        """New (normalizer, policy, value) parameters: the layout ``init`` must have."""
        shapes = (specs.Array((obs_size,), jnp.dtype("float32")) if isinstance(obs_size, int)
                  else {k: specs.Array(v, jnp.dtype("float32")) for k, v in obs_size.items()})
        return (running_statistics.init_state(shapes),
                network.policy_network.init(key_policy), network.value_network.init(key_value))

    def initial_params(key):
        """Fresh (normalizer, policy, value) parameters from one key (``fresh_params``)."""
        return fresh_params(*jax.random.split(key))

    def run_keys(rng):
        """(policy init, value init, first env resets, [num_evals] checkpoint keys) of the run
        seeded with ``rng``."""
        rng, key_policy, key_value, key_env = jax.random.split(rng, 4)
        return key_policy, key_value, key_env, jax.random.split(rng, config.num_evals)

    def eval_key(rng, index: int = -1):
        """The key of the evaluation at checkpoint ``index`` of the run seeded with ``rng``
        (-1: the last, whose result is the run's final fitness): replaying a saved policy
        with it repeats that evaluation's episodes."""
        return jax.random.split(run_keys(rng)[3][index], 3)[2]

    train.initial_params = initial_params
    train.evaluate = evaluate
    train.eval_key = eval_key
    return train


# what of ``state.data`` a replay keeps to render a frame (Playground's ``render_array`` reads
# these)
RENDER_FIELDS = ("qpos", "qvel", "mocap_pos", "mocap_quat", "xfrc_applied")


def _render_state(state):
    return {name: getattr(state.data, name) for name in RENDER_FIELDS}
