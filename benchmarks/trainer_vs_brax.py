"""Peer benchmark: our batched trainer vs ``brax.training.agents.ppo.train`` on cartpole with
the human reward and the same PPO hyperparameters, measured in one run.

brax 0.14's ``ppo.train`` calls ``jax.device_put_replicated``, which jax 0.10 removed; this
script (and only this script) puts back a one-line equivalent for the single local device so
the peer can run. Brax's fitness is read from its own evaluation (deterministic policy, full
episodes): cartpole fitness = mean episode length / 500. Ours is the training-episode fitness
at the last checkpoint, so the comparison of fitness is indicative, of speed exact.
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
from brax.training.agents.ppo import networks as ppo_networks
from brax.training.agents.ppo import train as brax_ppo
from mujoco_playground import wrapper

from eureka_jax.reward import compile_reward
from eureka_jax.task import load_task
from eureka_jax.train import TrainConfig, split_train_settings, train_candidates


def _device_put_replicated(x, devices):
    stacked = jax.tree.map(lambda a: jnp.stack([jnp.asarray(a)] * len(devices)), x)
    return jax.device_put(stacked, devices[0])


class RewardedEnv:
    """Our reward-free task env with a compiled reward put back, in Playground's interface."""

    def __init__(self, env, reward_fn):
        self.env, self.reward_fn = env, reward_fn
        self.mj_model, self.mjx_model = env.mj_model, env.mjx_model
        self.action_size, self.observation_size = env.action_size, env.observation_size
        self.dt = env.dt
        self.unwrapped = self

    def reset(self, rng):
        return self.env.reset(rng)

    def step(self, state, action):
        nxt = self.env.step(state, action)
        total, _ = self.reward_fn(self.env.reward_inputs(state, action, nxt))
        return nxt.replace(reward=total)


def bench_brax(args):
    from benchmarks.common import write

    if not hasattr(jax, "device_put_replicated"):
        jax.device_put_replicated = _device_put_replicated
    task = load_task("cartpole")
    human = compile_reward(task.human_reward_source, task)
    config = TrainConfig(num_envs=64, unroll_length=32, num_updates=args.updates,
                         num_evals=10)
    _, hp = split_train_settings(task.train)

    ours = train_candidates(task, [human], config, hp, seeds=[0])
    ours_fit = float(ours.final_fitness()[0, 0])

    calls = []

    def progress(step, metrics):
        calls.append((time.perf_counter(), step, metrics))

    start = time.perf_counter()
    brax_ppo.train(
        environment=RewardedEnv(task.env, human),
        wrap_env_fn=wrapper.wrap_for_brax_training,
        num_timesteps=config.total_env_steps,
        episode_length=task.episode_length,
        num_envs=config.num_envs,
        unroll_length=config.unroll_length,
        batch_size=config.num_envs // config.num_minibatches,
        num_minibatches=config.num_minibatches,
        num_updates_per_batch=config.update_epochs,
        learning_rate=float(hp.learning_rate),
        entropy_cost=float(hp.entropy_cost),
        discounting=float(hp.discounting),
        gae_lambda=float(hp.gae_lambda),
        clipping_epsilon=float(hp.clipping_epsilon),
        max_grad_norm=float(hp.max_grad_norm),
        normalize_observations=True,
        num_evals=3,  # evals at 0, 1/2 and the end: the second half is timed post-compile
        num_eval_envs=16,
        network_factory=functools.partial(
            ppo_networks.make_ppo_networks, policy_hidden_layer_sizes=config.policy_hidden,
            value_hidden_layer_sizes=config.value_hidden),
        seed=0,
        progress_fn=progress,
    )
    total = time.perf_counter() - start
    # Brax compiles its training step on first use, after the first evaluation; the second
    # half of training (between the 2nd and 3rd evaluation) is compiled already.
    _, (t2, s2, _), (t3, s3, metrics) = calls[-3:]
    brax_sps = (s3 - s2) / (t3 - t2)
    brax_train = config.total_env_steps / brax_sps
    brax_fit = float(metrics["eval/avg_episode_length"]) / task.episode_length
    ours_sps = ours.env_steps_per_second
    rows = [
        (f"| eureka-jax (1 candidate x 1 seed) | {ours.compile_seconds:.1f} | "
         f"{ours.run_seconds:.1f} | {ours_sps:,.0f} | {ours_fit:.3f} |"),
        (f"| brax ppo.train | {total - brax_train:.1f} (everything but training: compile, "
         f"3 evaluations) | {brax_train:.1f} (from the 2nd half's rate) | {brax_sps:,.0f} | "
         f"{brax_fit:.3f} |"),
    ]
    write(
        "trainer_vs_brax.md",
        "Peer: eureka-jax trainer vs brax.training.agents.ppo.train (cartpole, human reward)",
        f"- same env, reward, budget ({config.total_env_steps:,} env steps), networks "
        f"(64x64), PPO numbers (lr {float(hp.learning_rate):g}, 4 epochs x 4 minibatches, "
        "unroll 32, 64 envs)\n- brax needed `jax.device_put_replicated` put back for jax 0.10 "
        "(single device)\n- speed ratio (ours / brax, env steps/s): "
        f"{ours_sps / brax_sps:.2f}x\n",
        "| trainer | compile s | train s | env steps/s | final fitness |\n"
        "| --- | ---: | ---: | ---: | ---: |",
        rows,
    )
