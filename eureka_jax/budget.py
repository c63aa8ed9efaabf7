"""Is the training budget big enough to tell rewards apart? Checks made before and while
training, so a flat score caused by the budget is not blamed on the reward."""

from __future__ import annotations

MIN_EPISODES = 3  # fewer full-length episodes per training env than this: too little to learn


def episodes_per_env(task, config) -> float:
    """Full-length episodes each training env can complete in one run."""
    return config.num_updates * config.unroll_length / task.episode_length


def budget_findings(task, config, platform: str = "cpu", profile: str = "cpu") -> dict:
    """The budget check, made once for the user's warnings and the LLM's verdict: finding ->
    its number. ``gpu_on_cpu`` (the env steps of a GPU profile run here), ``few_episodes``
    (full-length episodes per training env, below ``MIN_EPISODES``), ``smoke_test`` (on a
    CPU, the task's default budget was measured not to teach even its baselines)."""
    found = {}
    if profile == "gpu" and platform == "cpu":
        found["gpu_on_cpu"] = config.total_env_steps
    n = episodes_per_env(task, config)
    if n < MIN_EPISODES:
        found["few_episodes"] = n
    if platform == "cpu" and profile == "cpu" and task.cpu_learns is False:
        found["smoke_test"] = True
    return found


def budget_warnings(task, config, platform: str = "cpu", profile: str = "cpu") -> list[str]:
    """Sentences about the budget a user should read before a search starts."""
    found = budget_findings(task, config, platform, profile)
    warnings = []
    if "gpu_on_cpu" in found:
        warnings.append(
            f"profile=gpu on a CPU: {config.total_env_steps:,} env steps per run with "
            f"{config.num_envs} envs will take many hours here; profile=cpu is sized for CPUs.")
    if "few_episodes" in found:
        warnings.append(
            f"each training env completes at most {found['few_episodes']:.1f} episode(s) of "
            f"{task.episode_length} steps in this budget ({config.total_env_steps:,} env steps "
            f"per run); fewer than {MIN_EPISODES} rarely learns anything: raise max_iterations "
            f"(PPO updates, now {config.num_updates}).")
    if "smoke_test" in found:
        warnings.append(
            f"on CPU, {task.name}'s default budget is a smoke test: even its human and sparse "
            "rewards do not learn within it (benchmarks/results/budgets.md), so scores will not "
            "tell rewards apart; use a GPU or a larger max_iterations.")
    return warnings


def budget_note(task, config, platform: str = "cpu") -> str | None:
    """What the reflection says instead of "write a different reward" when the budget is the
    likely reason for a flat score; None when the budget is not suspect."""
    if not budget_findings(task, config, platform):
        return None
    return ("This training budget is small for the task, so a flat score may be the budget's "
            "fault rather than the reward's: keep what is promising in this reward, make its "
            "signal denser and easier to follow early in training (shaping towards the goal), "
            "and judge it by whether its components move in the right direction.")


def learner_text(task, config, hparams) -> str:
    """The learner's settings that shape what a reward does, in one paragraph: the discount
    (and the horizon it implies), reward scaling, observation normalisation, the entropy
    cost, and how an episode that reaches the time limit is treated."""
    gamma = float(hparams.discounting)
    horizon = f"about {1 / (1 - gamma):.0f} steps" if gamma < 1 else "unbounded"
    scaling = float(hparams.reward_scaling)
    scaled = ("rewards enter the learner as written (scale 1)" if scaling == 1 else
              f"rewards are multiplied by {scaling:g} before the learner sees them")
    return (f"Learner: PPO with discount {gamma:g} (a reward counts for {horizon} ahead), GAE "
            f"lambda {float(hparams.gae_lambda):g}; {scaled}, not normalised; observations "
            + ("normalised by running mean and std" if config.normalize_observations else
               "used raw")
            + f"; entropy cost {float(hparams.entropy_cost):g}. An episode that reaches the "
            f"time limit ({task.episode_length} steps) is cut and its value bootstrapped (the "
            "policy is not punished for reaching it)"
            + (f"; an episode that ends early ({task.termination}) gets no reward after it, so "
               "a reward that is negative on average teaches the policy to end episodes early."
               if task.termination else "; this task has no early termination.") + "\n")


def budget_verdict(task, config, platform: str = "cpu") -> str | None:
    """The budget check's verdict and what it means for the reward, for the LLM (the user
    reads ``budget_warnings``); None when the budget is not suspect."""
    found = budget_findings(task, config, platform)
    facts = []
    if "few_episodes" in found:
        facts.append(f"each training env completes at most {found['few_episodes']:.1f} "
                     f"episode(s) in this budget, and fewer than {MIN_EPISODES} rarely teaches "
                     "a policy anything")
    if "smoke_test" in found:
        facts.append("on this machine (a CPU) the budget is a smoke test: measured for this "
                     "task, even its human-written and sparse rewards do not learn within it")
    if not facts:
        return None
    return ("Budget check: " + "; ".join(facts) + ". What this means for your reward: prefer "
            "terms that pay off early in training (dense shaping towards the goal, e.g. "
            "distance or alignment terms) over terms that only reward the finished behaviour, "
            "and expect small differences between rewards: a score near the baselines' may be "
            "the budget's doing, not the reward's.\n")


def budget_text(task, config, seeds: int, select: str = "max", hparams=None,
                platform: str | None = None) -> str:
    """The budget as the LLM reads it in its first prompt: how long each candidate trains and
    how it is scored (how fast a reward learns within this decides its score); with
    ``hparams``, the learner's settings; with ``platform``, the budget check's verdict."""
    n = episodes_per_env(task, config)
    when = ("the best of these" if select == "max" else "the last of these")
    scored = (f"{config.eval_envs} evaluation episodes at each of {config.num_evals} "
              f"checkpoints, {when}" if config.eval_envs > 0 else
              f"the training episodes at {config.num_evals} checkpoints, {when}")
    return (f"Training budget: each reward candidate trains a new PPO policy from scratch for "
            f"{config.total_env_steps:,} environment steps ({config.num_envs} parallel envs x "
            f"{config.unroll_length} steps x {config.num_updates} updates, about {n:.1f} "
            f"full-length episodes of {task.episode_length} steps per env), with {seeds} "
            f"seed(s). Its score is the fitness ({task.fitness_description}) of {scored}. A "
            "reward the policy can learn to follow within this budget scores; one that pays off "
            "only after much longer training does not.\n"
            + (learner_text(task, config, hparams) if hparams is not None else "")
            + ((budget_verdict(task, config, platform) or "") if platform else ""))
