"""Is the training budget big enough to tell rewards apart? Checks made before and while
training, so a flat score caused by the budget is not blamed on the reward."""

from __future__ import annotations

MIN_EPISODES = 3  # fewer full-length episodes per training env than this: too little to learn


def episodes_per_env(task, config) -> float:
    """Full-length episodes each training env can complete in one run."""
    return config.num_updates * config.unroll_length / task.episode_length


def budget_warnings(task, config, platform: str = "cpu", profile: str = "cpu") -> list[str]:
    """Sentences about the budget a user should read before a search starts."""
    warnings = []
    if profile == "gpu" and platform == "cpu":
        warnings.append(
            f"profile=gpu on a CPU: {config.total_env_steps:,} env steps per run with "
            f"{config.num_envs} envs will take many hours here; profile=cpu is sized for CPUs.")
    n = episodes_per_env(task, config)
    if n < MIN_EPISODES:
        warnings.append(
            f"each training env completes at most {n:.1f} episode(s) of {task.episode_length} "
            f"steps in this budget ({config.total_env_steps:,} env steps per run); fewer than "
            f"{MIN_EPISODES} rarely learns anything: raise max_iterations (PPO updates, now "
            f"{config.num_updates}).")
    if platform == "cpu" and profile == "cpu" and task.cpu_learns is False:
        warnings.append(
            f"on CPU, {task.name}'s default budget is a smoke test: even its human and sparse "
            "rewards do not learn within it (benchmarks/results/budgets.md), so scores will not "
            "tell rewards apart; use a GPU or a larger max_iterations.")
    return warnings


def budget_note(task, config, platform: str = "cpu") -> str | None:
    """What the reflection says instead of "write a different reward" when the budget is the
    likely reason for a flat score; None when the budget is not suspect."""
    if not budget_warnings(task, config, platform):
        return None
    return ("This training budget is small for the task, so a flat score may be the budget's "
            "fault rather than the reward's: keep what is promising in this reward, make its "
            "signal denser and easier to follow early in training (shaping towards the goal), "
            "and judge it by whether its components move in the right direction.")


def budget_text(task, config, seeds: int, select: str = "max",
                isaacgym_epochs: int | None = None) -> str:
    """The budget as the LLM reads it in its first prompt: how long each candidate trains and
    how it is scored (how fast a reward learns within this decides its score)."""
    if isaacgym_epochs is not None:
        return (f"Training budget: each reward candidate trains a new policy from scratch with "
                f"IsaacGymEnvs' rl_games PPO for {isaacgym_epochs} epochs, {seeds} seed(s); its "
                "score is the highest consecutive_successes logged during training.\n")
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
            "only after much longer training does not.\n")
