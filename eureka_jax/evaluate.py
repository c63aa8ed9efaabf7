"""Final evaluation: the best reward vs the task's human and sparse rewards, several seeds,
and the human-normalized score (Method - Sparse) / |Human - Sparse| of Eureka's paper."""

from __future__ import annotations

from pathlib import Path

from eureka_jax.reward import compile_reward
from eureka_jax.runs import write_json
from eureka_jax.search import train_or_load
from eureka_jax.train.config import training_settings

EVAL_SEED_OFFSET = 10_000  # evaluation seeds differ from the search's


def human_normalized(method: float, human: float, sparse: float) -> float | None:
    """(method - sparse) / |human - sparse|; None when human and sparse score the same."""
    gap = abs(human - sparse)
    return None if gap < 1e-9 else (method - sparse) / gap


def evaluate(cfg, task, best_source: str, run_dir: Path, num_eval: int) -> dict:
    """Trains best, human and sparse rewards with ``num_eval`` seeds in one batched call.

    Returns (and writes to ``run_dir/evaluation.json``) per reward: fitness per seed (best
    over checkpoints and final), mean and std; and the human-normalized score of the best.
    """
    config, hparams = training_settings(cfg, task)
    sources = {"best": best_source, "human": task.human_reward_source,
               "sparse": task.sparse_reward_source}
    fns = [compile_reward(src, task) for src in sources.values()]
    seeds = [EVAL_SEED_OFFSET + cfg.seed + i for i in range(num_eval)]
    result = train_or_load(Path(run_dir) / "evaluation_curves.npz", task, fns, config, hparams,
                           seeds, list(sources))
    best_fit, final_fit = result.max_fitness(), result.final_fitness()
    stat = best_fit if cfg.select == "max" else final_fit
    rewards = {}
    for k, label in enumerate(sources):
        rewards[label] = {
            "fitness_per_seed": stat[k].tolist(),
            "mean": float(stat[k].mean()),
            "std": float(stat[k].std()),
            "final_mean": float(final_fit[k].mean()),
            "failed": bool(result.curves.failed[k].any()),
        }
    evaluation = {
        "task": task.name,
        "num_eval": num_eval,
        "seeds": seeds,
        "statistic": f"fitness ({task.fitness_description}), "
                     + ("best over checkpoints" if cfg.select == "max" else "final checkpoint"),
        "env_steps_per_run": config.total_env_steps,
        "rewards": rewards,
        "human_normalized_score": human_normalized(
            rewards["best"]["mean"], rewards["human"]["mean"], rewards["sparse"]["mean"]),
    }
    write_json(Path(run_dir) / "evaluation.json", evaluation)
    return evaluation
