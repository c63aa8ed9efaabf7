"""PPO for K reward candidates x S seeds, batched in every program.

``make_parts(task, config)`` returns the reward-free functions of one (candidate, seed) run,
PureJaxRL-style ``lax.scan``s inside each: ``init``, ``begin`` (a checkpoint window's keys and
reset pool), ``roll`` (an unroll that returns each transition's reward inputs, not its
reward), ``learn`` (advantages and the PPO epochs, given the unroll's rewards), ``evaluate``
(full evaluation episodes, their reward inputs kept) and ``end``. ``batch.py`` compiles each
once per task, settings and batch shape (``jit(vmap(vmap(part)))`` over candidates x seeds)
and runs them in a host loop with the round's reward program (``rewards.py``) between
``roll`` and ``learn``. ``make_train`` composes the same parts and the rewards
(``lax.switch``) into one fused program: the reference.

Composed from brax.training: PPO networks and inference function, the PPO loss (with GAE),
the gradient-update helper and running observation statistics. Written here: the rollout,
auto-reset with the task's time limit, episode bookkeeping for curves, and failure marking.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax
from brax.training import gradients, types
from brax.training.acme import running_statistics, specs
from brax.training.agents.ppo import losses as ppo_losses
from brax.training.agents.ppo import networks as ppo_networks

from eureka_jax.train import rewards as rewards_lib
from eureka_jax.train.config import PPOHyperparams, TrainConfig
from eureka_jax.train.curves import (
    TrainingCurves,
    TrainOutput,
    _Episodes,
    watch_fn,
    watch_mean,
    watch_update,
)

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


@flax.struct.dataclass
class _Carry:
    """One run's training state between the programs of a training (``make_parts``)."""

    params: Any  # brax PPONetworkParams (policy, value)
    normalizer: Any  # running observation statistics
    opt_state: Any
    env_state: Any  # the training envs' states
    pool: Any  # fresh initial states for envs that reset in this checkpoint window
    steps: jnp.ndarray  # [num_envs] steps into the current episode
    episodes: _Episodes  # the fitness side of the training episodes (no reward in here)
    nonfinite: jnp.ndarray  # an update went NaN/inf
    checkpoint_keys: jnp.ndarray  # [num_evals] one key per checkpoint window
    update_keys: jnp.ndarray  # [updates per window] the current window's update keys
    update: jnp.ndarray  # index of the next update in the window
    eval_key: jnp.ndarray  # the current window's evaluation key
    losses: jnp.ndarray  # [len(LOSS_METRICS)] summed over the window's updates
    physics: Any = None  # [n, 3] the run's randomization table (``randomize``), or None


@flax.struct.dataclass
class Rollout:
    """One unroll of one run: what the learner and the reward program need, [T, envs, ...].
    ``transition.reward`` is a placeholder; the learner is given the rewards apart."""

    transition: Any  # brax types.Transition
    inputs: Any  # the reward inputs of every transition (dict)
    done: jnp.ndarray  # [T, envs] the episode ended at this transition (terminated or timed out)


@flax.struct.dataclass
class EvalEpisodes:
    """One run's evaluation episodes, reward-free: each step's reward inputs and whether each
    env was still in its episode ([L, n, ...], L = the episode length), the fitness and
    length of each env's episode, the watch statistics; ``states`` (replay only) the
    states to render ([L + 1, n, ...])."""

    inputs: Any
    alive: jnp.ndarray
    fitness: jnp.ndarray
    length: jnp.ndarray
    watch: jnp.ndarray
    states: Any = None
    ret: Any = None  # with a reward in the loop (fused): [n] returns, [n, M] component sums,
    comps: Any = None  # all counted rewards finite; inputs and alive are then None
    finite: Any = None


def make_evaluation(task, config: TrainConfig, env, make_policy, randomized=None):
    """The evaluation episodes of ``make_parts``: ``(evaluate, evaluate_runs)``.

    ``evaluate(normalizer, policy, key, record=False, reward=None, physics=None)``: one run's
    full episodes; ``evaluate_runs(carry)``: every run's (leaves [P, S, ...]) in one loop.
    ``env``: the task's env (or its ``Randomized`` wrapper, ``randomized``, for ``physics``);
    ``make_policy``: brax's inference function of the run's networks.
    """
    per_episode = episode_fitness(task)
    watched, num_watch = watch_fn(task)
    length_max = task.episode_length

    def eval_start(normalizer, policy_params, key, record=False, reward=None, physics=None):
        """One run's evaluation state before its first step (see ``evaluate``)."""
        key_reset, key_act = jax.random.split(key)
        n = config.eval_envs if physics is None else physics.shape[0]
        if physics is None:
            first = jax.vmap(env.reset)(jax.random.split(key_reset, n))
        else:
            first = jax.vmap(randomized.reset_with)(jax.random.split(key_reset, n), physics)
        zero_action = jnp.zeros((n, env.action_size))
        example = jax.eval_shape(jax.vmap(env.reward_inputs), first, zero_action, first)
        zeros = jnp.zeros(n)
        c = {"state": first, "alive": jnp.ones(n, bool), "key_act": key_act,
             "fit": zeros, "length": zeros, "wsum": jnp.zeros((n, num_watch)),
             "wcount": jnp.zeros((n, num_watch))}
        if reward is None:  # keep every step's inputs for the reward program
            c["inputs"] = jax.tree.map(lambda s: jnp.zeros((length_max, *s.shape), s.dtype),
                                       example)
            c["was_alive"] = jnp.zeros((length_max, n), bool)
        else:  # the fused program: the reward's sums, step by step
            m = jax.eval_shape(jax.vmap(reward), example)[1].shape[-1]
            c.update(ret=zeros, comps=jnp.zeros((n, m)), finite=jnp.array(True))
        if record:
            c["states"] = jax.tree.map(
                lambda x: jnp.zeros((length_max + 1, *x.shape), x.dtype).at[0].set(x),
                _render_state(first))
        return c

    def eval_step(c, t, normalizer, policy_params, reward=None):
        """Step ``t`` of one run's evaluation episodes (``t`` shared by all runs)."""
        policy = make_policy((normalizer, policy_params),
                             deterministic=config.eval_deterministic)
        state, alive = c["state"], c["alive"]
        action, _ = policy(state.obs, jax.random.fold_in(c["key_act"], t))
        nxt = jax.vmap(env.step)(state, action)
        inputs = jax.vmap(env.reward_inputs)(state, action, nxt)
        values, conds = jax.vmap(watched)(inputs)
        wsum, wcount = watch_update(c["wsum"], c["wcount"], values, conds, alive)
        state = jax.tree.map(
            lambda a, b: jnp.where(jnp.reshape(alive, (-1,) + (1,) * (a.ndim - 1)), a, b),
            nxt, state)
        out = {**c, "state": state, "alive": alive & (nxt.done == 0),
               "fit": c["fit"] + jnp.where(alive, inputs[task.fitness_input], 0.0),
               "length": c["length"] + alive, "wsum": wsum, "wcount": wcount}
        if reward is None:
            out["inputs"] = jax.tree.map(lambda b, x: b.at[t].set(x), c["inputs"], inputs)
            out["was_alive"] = c["was_alive"].at[t].set(alive)
        else:
            total, parts = jax.vmap(reward)(inputs)
            ok = jnp.isfinite(total) & jnp.isfinite(parts).all(-1)
            out.update(ret=c["ret"] + jnp.where(alive, total, 0.0),
                       comps=c["comps"] + jnp.where(alive[:, None], parts, 0.0),
                       finite=c["finite"] & jnp.where(alive, ok, True).all())
        if "states" in c:
            out["states"] = jax.tree.map(lambda b, x: b.at[t + 1].set(x), c["states"],
                                         _render_state(state))
        return out

    def eval_finish(c) -> EvalEpisodes:
        return EvalEpisodes(inputs=c.get("inputs"), alive=c.get("was_alive"),
                            fitness=per_episode(c["fit"], c["length"]), length=c["length"],
                            watch=watch_mean(c["wsum"], c["wcount"]), states=c.get("states"),
                            ret=c.get("ret"), comps=c.get("comps"), finite=c.get("finite"))

    def running(loop):
        t, c = loop
        return (t < length_max) & c["alive"].any()

    # one run's start and step, traced once (at one run's shapes) for every batch shape of
    # ``evaluate_runs`` (see ``make_parts``)
    run_start = jax.jit(lambda normalizer, policy, key: eval_start(normalizer, policy, key))
    run_step = jax.jit(lambda c, t, normalizer, policy: eval_step(c, t, normalizer, policy))

    def evaluate(normalizer, policy_params, key, record: bool = False,
                 reward=None, physics=None) -> EvalEpisodes:
        """Full episodes of one run's policy from fresh resets on ``eval_envs`` envs.

        Each env runs until it terminates or reaches the time limit; a finished env's state
        is frozen and its statistics stop accumulating. The loop ends when every env has
        finished (a ``while_loop``: a policy that fails fast is evaluated fast). Each step's
        reward inputs are kept for the reward program (``rewards.episode_sums``), or, with
        ``reward`` (``inputs -> (total, components)``, the fused program), summed step by
        step. ``physics`` [m, n]: m episodes, each with its own physics values (a task with
        ``randomize``), instead of ``eval_envs`` at the nominal physics.
        """
        def body(loop):
            t, c = loop
            return t + 1, eval_step(c, t, normalizer, policy_params, reward)

        start = eval_start(normalizer, policy_params, key, record, reward, physics)
        _, final = jax.lax.while_loop(running, body, (jnp.zeros((), jnp.int32), start))
        return eval_finish(final)

    def evaluate_runs(carry) -> EvalEpisodes:
        """Every run's evaluation episodes (``carry`` leaves [P, S, ...]) in one loop over
        time with the runs batched inside it: the step index is shared, so the inputs kept
        are written in place (a ``vmap`` of each run's own loop would select between whole
        buffers at every step), and the loop ends when every env of every run has."""
        runs = lambda f: jax.vmap(jax.vmap(f))

        def body(loop):
            t, c = loop
            step = runs(lambda c, normalizer, policy: run_step(c, t, normalizer, policy))
            return t + 1, step(c, carry.normalizer, carry.params.policy)

        start = runs(lambda c: run_start(c.normalizer, c.params.policy, c.eval_key))(carry)
        _, final = jax.lax.while_loop(running, body, (jnp.zeros((), jnp.int32), start))
        return runs(eval_finish)(final)

    return evaluate, evaluate_runs


def make_parts(task, config: TrainConfig, randomize=()):
    """The reward-free programs of one (seed) run, composed by ``make_train`` (one fused
    program) or by ``batch.train_candidates`` (one compiled program each, the reward program
    between them)::

        carry = init(rng, hparams, init)
        for index in range(num_evals):
            carry = begin(carry, index)
            for _ in range(num_updates // num_evals):
                carry, rollout = roll(carry)
                total = <rewards of rollout.inputs>
                carry = learn(carry, rollout, total, hparams)
            episodes = evaluate_runs(carries)      # when the checkpoint is evaluated
            carry, window = end(carry)

    Also ``evaluate(normalizer, policy, key, record)`` (a saved policy's episodes),
    ``initial_params(key)`` and ``eval_key(rng, index)``. Nothing here depends on a reward
    program, so every round of a search reuses these programs.

    ``randomize``: the task's ``randomize.Parameter``s for domain randomization: ``init``
    then takes the run's table of ranges ([n, 3], traced: K configurations are rows of one
    program), every training env draws its physics from it at each reset, the evaluation
    during training runs at the nominal physics, and ``evaluate(..., physics=[m, n])``
    runs m evaluation episodes, each with its own physics values.
    """
    from eureka_jax.randomize import Randomized

    randomized = Randomized(task.env, randomize) if randomize else None
    env = randomized or task.env
    max_length = float(task.episode_length)
    per_episode = episode_fitness(task)
    _, num_watch = watch_fn(task)
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

    def optimizer(hparams):
        return optax.chain(
            optax.clip_by_global_norm(hparams.max_grad_norm),
            optax.inject_hyperparams(optax.adam)(learning_rate=hparams.learning_rate),
        )

    def reset_pool(rng, physics=None):
        keys = jax.random.split(rng, config.num_envs)
        if randomized is None:
            return jax.vmap(env.reset)(keys)
        return jax.vmap(randomized.reset_drawn, (0, None))(keys, physics)

    evaluate, evaluate_runs = make_evaluation(task, config, env, make_policy, randomized)

    def init(rng, hparams: PPOHyperparams, start=None, physics=None) -> _Carry:
        """A run's first state; ``start``: (normalizer, policy, value) parameters to start
        from (``TrainOutput.params`` layout), None: fresh networks; ``physics``: the run's
        randomization table [n, 3] (with ``randomize``)."""
        if (physics is None) != (randomized is None):
            raise ValueError("init takes a physics table exactly when make_parts was given "
                             "randomize parameters")
        key_policy, key_value, key_env, checkpoint_keys = run_keys(rng)
        normalizer, policy_params, value_params = fresh_params(key_policy, key_value)
        if start is not None:
            normalizer, policy_params, value_params = start
        params = ppo_losses.PPONetworkParams(policy=policy_params, value=value_params)
        # no reset here: the first window's pool is the first states (``begin``), so only
        # one program compiles the (sometimes costly) reset
        placeholder = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype),
                                   jax.eval_shape(reset_pool, key_env, physics))
        return _Carry(
            params=params, normalizer=normalizer, opt_state=optimizer(hparams).init(params),
            env_state=placeholder, pool=placeholder, steps=jnp.zeros(config.num_envs),
            episodes=_Episodes.zeros(config.num_envs, 0), nonfinite=jnp.array(False),
            checkpoint_keys=checkpoint_keys,
            update_keys=jnp.zeros((updates_per_checkpoint, *checkpoint_keys.shape[1:]),
                                  checkpoint_keys.dtype),
            update=jnp.zeros((), jnp.int32), eval_key=checkpoint_keys[0],
            losses=jnp.zeros(len(LOSS_METRICS)), physics=physics,
        )

    def begin(c: _Carry, index) -> _Carry:
        """Opens checkpoint window ``index``: its keys, and fresh initial states for the envs
        that reset in it (cheaper than a reset per step: some resets, e.g. cheetah's,
        simulate hundreds of steps); the first window's are also the envs' first states."""
        key_pool, key_updates, key_eval = jax.random.split(c.checkpoint_keys[index], 3)
        pool = reset_pool(key_pool, c.physics)
        first = index == 0  # the run starts from the first window's fresh states
        env_state = jax.tree.map(lambda p, s: jnp.where(first, p, s), pool, c.env_state)
        return c.replace(pool=pool, env_state=env_state,
                         update_keys=jax.random.split(key_updates, updates_per_checkpoint),
                         update=jnp.zeros((), jnp.int32), eval_key=key_eval,
                         losses=jnp.zeros(len(LOSS_METRICS)))

    def env_step(c: _Carry, key):
        key_act, = jax.random.split(key, 1)
        policy = make_policy((c.normalizer, c.params.policy))
        obs = c.env_state.obs
        action, extras = policy(obs, key_act)
        nxt = jax.vmap(env.step)(c.env_state, action)
        inputs = jax.vmap(env.reward_inputs)(c.env_state, action, nxt)
        steps = c.steps + 1
        terminated = nxt.done
        truncated = jnp.where(terminated > 0, 0.0, (steps >= max_length).astype(jnp.float32))
        done = jnp.maximum(terminated, truncated)
        transition = types.Transition(
            observation=obs,
            action=action,
            reward=jnp.zeros_like(terminated),
            discount=1.0 - terminated,
            next_observation=nxt.obs,
            extras={"policy_extras": extras, "state_extras": {"truncation": truncated}},
        )
        episodes = c.episodes.add(jnp.zeros_like(done), inputs[task.fitness_input],
                                  jnp.zeros((config.num_envs, 0)), done, per_episode)
        reset = jax.tree.map(
            lambda p, s: jnp.where(jnp.reshape(done > 0, (-1,) + (1,) * (s.ndim - 1)), p, s),
            c.pool, nxt,
        )
        c = c.replace(env_state=reset, steps=jnp.where(done > 0, 0.0, steps), episodes=episodes)
        return c, Rollout(transition=transition, inputs=inputs, done=done)

    def roll(c: _Carry):
        """One unroll of ``unroll_length`` steps with the current policy. The env-state
        leaves that no later step reads (``live_state``: e.g. MJX's positions and inertias,
        recomputed from ``qpos`` at every step) leave the program as they came in, so XLA
        drops their computation and their reset from the loop, as it does in the fused
        program, where they are dead (cartpole: 55 -> 13 reset selects per step)."""
        key_roll, _ = jax.random.split(c.update_keys[c.update])
        final, rollout = jax.lax.scan(env_step, c, jax.random.split(key_roll,
                                                                    config.unroll_length))
        live = live_state(env_step, c)
        leaves, tree = jax.tree.flatten(final.env_state)
        kept = [new if keep else old
                for new, old, keep in zip(leaves, jax.tree.leaves(c.env_state), live)]
        return final.replace(env_state=jax.tree.unflatten(tree, kept)), rollout

    def learn(c: _Carry, rollout: Rollout, total, hparams: PPOHyperparams) -> _Carry:
        """PPO's update from one unroll and its rewards ``total`` [T, envs]."""
        opt = optimizer(hparams)
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
        sgd_step = gradients.gradient_update_fn(loss_fn, opt, None, has_aux=True)
        _, key_sgd = jax.random.split(c.update_keys[c.update])
        data = rollout.transition._replace(reward=total)
        data = jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), data)  # [envs, T, ...]
        normalizer = running_statistics.update(c.normalizer, data.observation)

        def sgd_epoch(state, key):
            params, opt_state = state
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
            return (params, opt_state), losses.mean(0)

        (params, opt_state), losses = jax.lax.scan(
            sgd_epoch, (c.params, c.opt_state), jax.random.split(key_sgd, config.update_epochs))
        finite = jnp.all(jnp.stack([jnp.isfinite(x).all() for x in jax.tree.leaves(params)]))
        return c.replace(params=params, opt_state=opt_state, normalizer=normalizer,
                         nonfinite=c.nonfinite | ~finite, update=c.update + 1,
                         losses=c.losses + losses.mean(0))

    def evaluate_carry(c: _Carry, reward=None) -> EvalEpisodes:
        """The current policy's evaluation episodes with this window's key."""
        return evaluate(c.normalizer, c.params.policy, c.eval_key, reward=reward)

    def end(c: _Carry):
        """Closes the window: (the training episodes' mean fitness and length, [L] the mean
        loss terms over the window's updates, an update went non-finite so far)."""
        fit, _, length, _ = c.episodes.summary(per_episode)
        return c, (fit, length, c.losses / updates_per_checkpoint, c.nonfinite)

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
        """(policy init, value init, unused, [num_evals] checkpoint keys) of the run seeded with
        ``rng`` (the third key once drew the first env states; kept so that every other key,
        and so the evaluation keys of saved runs, stays as it was)."""
        rng, key_policy, key_value, key_env = jax.random.split(rng, 4)
        return key_policy, key_value, key_env, jax.random.split(rng, config.num_evals)

    def eval_key(rng, index: int = -1):
        """The key of the evaluation at checkpoint ``index`` of the run seeded with ``rng``
        (-1: the last, whose result is the run's final fitness): replaying a saved policy
        with it repeats that evaluation's episodes."""
        return jax.random.split(run_keys(rng)[3][index], 3)[2]

    # Each run function is a ``jax.jit``: a program that batches it (``vmap`` over rows and
    # seeds, any K x S) traces it once, at one run's shapes, and batches that trace; MJX's
    # and PPO's Python run only on the first trace (most of a training's start-up on CPU:
    # 20 of 28 s for cartpole's programs). XLA inlines the calls.
    init, begin, roll, learn, end = (jax.jit(f) for f in (init, begin, roll, learn, end))
    return Parts(init=init, begin=begin, roll=roll, learn=learn, end=end,
                 live_state=functools.partial(live_state, env_step), evaluate=evaluate,
                 evaluate_carry=evaluate_carry, evaluate_runs=evaluate_runs,
                 initial_params=initial_params, eval_key=eval_key,
                 per_episode=per_episode, num_watch=num_watch)


def live_state(step, c) -> tuple:
    """Per leaf of ``c.env_state``: does a later ``step(c, key)`` (one transition: policy,
    physics, reward inputs, reset) read it? A leaf is live when the step's outputs other
    than the next env state depend on it, or the next state's live leaves do (a fixed
    point of JAX's dead-code elimination over the step's jaxpr). The dead ones are derived
    quantities the physics recomputes from the live ones before reading them."""
    from jax._src.interpreters import partial_eval as pe  # JAX's DCE, with its rules for
    # scan, while, cond and calls (public jaxprs have no DCE of their own)

    shapes = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), c)
    key = jax.ShapeDtypeStruct(c.update_keys.shape[1:], c.update_keys.dtype)

    def split_step(state, rest, key):  # the env state's leaves first, in and out
        nxt, out = step(rest.replace(env_state=state), key)
        return nxt.env_state, nxt.replace(env_state=None), out

    closed = jax.make_jaxpr(split_step)(shapes.env_state, shapes.replace(env_state=None), key)
    n = len(jax.tree.leaves(shapes.env_state))
    others = len(closed.jaxpr.outvars) - n
    live = [False] * n
    while True:
        _, used = pe.dce_jaxpr(closed.jaxpr, live + [True] * others)
        if used[:n] == live:
            return tuple(live)
        live = [a or b for a, b in zip(live, used[:n])]


@dataclasses.dataclass(frozen=True)
class Parts:
    """The reward-free functions of one run (``make_parts``)."""

    init: Callable
    begin: Callable
    roll: Callable
    learn: Callable
    end: Callable
    live_state: Callable  # one run's carry -> per env-state leaf, read by a later step
    evaluate: Callable
    evaluate_carry: Callable
    evaluate_runs: Callable
    initial_params: Callable
    eval_key: Callable
    per_episode: Callable
    num_watch: int


def not_evaluated(num_components: int, num_watch: int):
    """The evaluation statistics of a checkpoint that is not evaluated (NaN; finite)."""
    nan = jnp.full((), jnp.nan)
    return (nan, nan, nan, jnp.full((num_components,), jnp.nan),
            jnp.full((num_watch,), jnp.nan), jnp.array(True))


def evaluation_stats(episodes: EvalEpisodes, total, comps):
    """(fitness, return, length, [M] components, [W] watch, finite) of evaluation episodes
    whose rewards the reward program computed (``total`` [L, n], ``comps`` [L, n, M]), or
    whose loop summed them (``total`` and ``comps`` None)."""
    if episodes.ret is not None:  # summed in the loop
        comp_means = episodes.comps / jnp.maximum(episodes.length, 1.0)[:, None]
        ret, comp_means, finite = (jnp.mean(episodes.ret), jnp.mean(comp_means, 0),
                                   episodes.finite)
    else:
        ret, comp_means, finite, _ = rewards_lib.episode_sums(total, comps, episodes.alive,
                                                              episodes.length)
    return (jnp.mean(episodes.fitness), ret, jnp.mean(episodes.length), comp_means,
            episodes.watch, finite)


def training_curves(config: TrainConfig, windows, reward_windows, evals) -> TrainingCurves:
    """One run's curves from its checkpoint windows (leading axis [C] on every leaf):
    ``windows`` = ``Parts.end``'s (fitness, length, losses, update non-finite),
    ``reward_windows`` = ``rewards.account``'s (return, components, reward non-finite),
    ``evals`` = ``evaluation_stats`` (or ``not_evaluated``)."""
    fit_train, len_train, losses, update_bad = windows
    ret_train, comps_train, reward_bad = reward_windows
    fit, ret, length, comps, watch, finite = evals
    if config.eval_envs == 0:  # no evaluation episodes: the training statistics stand in
        fit, ret, length, comps = fit_train, ret_train, len_train, comps_train
        finite = jnp.ones_like(update_bad)
    bad = jax.lax.cummax((update_bad | reward_bad | ~finite).astype(jnp.int32)) > 0
    updates_per_checkpoint = config.num_updates // config.num_evals
    env_steps = (jnp.arange(1, config.num_evals + 1) * updates_per_checkpoint
                 * config.steps_per_update).astype(jnp.float32)
    return TrainingCurves(
        fitness=fit, episode_return=ret, episode_length=length, components=comps,
        watch=watch, env_steps=env_steps, failed=bad.any(),
        failed_at=jnp.where(bad.any(), jnp.argmax(bad), -1),
        train_fitness=fit_train, train_episode_return=ret_train,
        train_episode_length=len_train, train_components=comps_train,
        **{name: losses[:, i] for i, name in enumerate(LOSS_FIELDS)},
    )


def make_train(task, config: TrainConfig, reward_fns, parts: Parts | None = None):
    """The whole training of one (candidate, seed) as one pure function, the rewards traced
    into it (``rewards.reward_switch``): the fused program, kept as the reference the split
    trainer (``batch.train_candidates``) is measured against (``benchmarks/compile_once.py``)
    and for whole-program analyses.

    Returns ``train(rng, candidate, hparams, init=None, constants=None) -> TrainOutput``;
    pure and jittable. ``init``: (normalizer, policy, value) parameters to start from (the
    layout of ``TrainOutput.params``); ``constants``: values of the candidate's tunable
    constants ([max constants of any candidate], traced), None: the programs' own literals.
    ``parts``: another learner's ``Parts`` to compose the same way (default: PPO's).
    """
    parts = make_parts(task, config) if parts is None else parts
    num_components = rewards_lib.component_count(reward_fns)
    rewards = rewards_lib.reward_switch(reward_fns, num_components)
    updates_per_checkpoint = config.num_updates // config.num_evals

    def train(rng, candidate, hparams: PPOHyperparams, init=None, constants=None) -> TrainOutput:
        def reward_of(inputs):
            one = lambda x: rewards(candidate, x, constants)
            return jax.vmap(jax.vmap(one))(inputs)

        def update(state, _):
            c, r = state
            c, rollout = parts.roll(c)
            total, comps = reward_of(rollout.inputs)
            r, summary = rewards_lib.account(r, total, comps, rollout.done, parts.per_episode)
            return (parts.learn(c, rollout, total, hparams), r), summary

        def evaluated(c):  # the rewards summed in the loop, as one program would
            episodes = parts.evaluate_carry(c, lambda x: rewards(candidate, x, constants))
            return evaluation_stats(episodes, None, None)

        def checkpoint(state, index):
            c, r = state
            c = parts.begin(c, index)
            (c, r), summaries = jax.lax.scan(update, (c, r), None, length=updates_per_checkpoint)
            reward_window = jax.tree.map(lambda x: x[-1], summaries)
            if config.eval_envs == 0:
                evals = not_evaluated(num_components, parts.num_watch)
            else:  # the index is not batched, so under vmap this stays a branch
                due = ((index + 1) % config.eval_every == 0) | (index == config.num_evals - 1)
                evals = jax.lax.cond(due, evaluated,
                                     lambda c: not_evaluated(num_components, parts.num_watch), c)
            c, window = parts.end(c)
            return (c, r), (window, reward_window, evals)

        carry = parts.init(rng, hparams, init)
        state = (carry, rewards_lib.RewardState.zeros(config.num_envs, num_components))
        (carry, _), (windows, reward_windows, evals) = jax.lax.scan(
            checkpoint, state, jnp.arange(config.num_evals))
        curves = training_curves(config, windows, reward_windows, evals)
        params = (carry.normalizer, carry.params.policy, carry.params.value)
        return TrainOutput(curves=curves, params=params)

    train.parts = parts
    train.initial_params = parts.initial_params
    train.eval_key = parts.eval_key
    return train


# what of ``state.data`` a replay keeps to render a frame (Playground's ``render_array`` reads
# these)
RENDER_FIELDS = ("qpos", "qvel", "mocap_pos", "mocap_quat", "xfrc_applied")


def _render_state(state):
    return {name: getattr(state.data, name) for name in RENDER_FIELDS}
