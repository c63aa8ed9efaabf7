"""Final evaluation: the best reward vs the task's human and sparse rewards on fresh seeds.

Every seed is reported, with mean ± std, and the differences best − human and best − sparse
with 95 % Student-t intervals over seeds, *paired* by seed: the three rewards train in one
batched call where slot s uses seed s for every reward (common random numbers), so
``best_s − human_s`` is one observation per seed. t rather than a bootstrap: with the 3-10
seeds an evaluation has, a bootstrap's percentiles come from a handful of distinct values and
under-cover. Eureka's human-normalized score (best − sparse) / |human − sparse| is kept, but it
is only a ratio of noise when human and sparse are not told apart (their interval covers 0):
then it is reported as unavailable with that reason; when human < sparse it is flagged, since
the formula then rewards falling below the sparse reward less than it seems.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eureka_jax.backend import Backend
from eureka_jax.reward import compile_reward
from eureka_jax.runs import Evaluation, read_json, save_policies, train_or_load, write_json
from eureka_jax.selection import per_seed, t_interval
from eureka_jax.task import TaskSpec
from eureka_jax.train.config import TrainingRequest

EVAL_SEED_OFFSET = 10_000  # evaluation seeds differ from the search's


def human_normalized(method: float, human: float, sparse: float) -> float | None:
    """(method - sparse) / |human - sparse|; None when human and sparse score the same."""
    gap = abs(human - sparse)
    return None if gap < 1e-9 else (method - sparse) / gap


def difference(a, b) -> dict:
    """Paired difference a − b over seeds: mean and 95 % t interval (NaN runs dropped)."""
    d = np.asarray(a, float) - np.asarray(b, float)
    d = d[np.isfinite(d)]
    if len(d) == 0:
        return {"mean": None, "low": None, "high": None, "seeds": 0}
    mean, low, high = t_interval(d)
    return {"mean": mean, "low": None if not np.isfinite(low) else low,
            "high": None if not np.isfinite(high) else high, "seeds": len(d)}


def normalized_score(best, human, sparse, gap: dict | None = None) -> dict:
    """Eureka's human-normalized score with the reason it is unavailable or misleading;
    ``gap``: ``difference(human, sparse)`` if already computed."""
    gap = gap or difference(human, sparse)
    hb, sb, bb = (float(np.nanmean(x)) for x in (human, sparse, best))
    value = human_normalized(bb, hb, sb)
    if gap["low"] is None or (gap["low"] <= 0.0 <= gap["high"]):
        return {"value": None, "flag": "n/a",
                "reason": "human and sparse rewards are not told apart on these seeds (their "
                          "difference's 95% interval covers 0), so the ratio would be noise"}
    if value is None:
        return {"value": None, "flag": "n/a", "reason": "human and sparse score the same"}
    if hb < sb:
        return {"value": value, "flag": "human < sparse",
                "reason": "the human reward scores below the sparse one, so this ratio does not "
                          "read as 'fraction of the human reward's result'; compare best − "
                          "human and best − sparse directly"}
    return {"value": value, "flag": "", "reason": ""}


def evaluate(task: TaskSpec, best_source: str | None, run_dir: Path, num_eval: int,
             backend: Backend, training: TrainingRequest, select: str = "max",
             references: bool = True) -> Evaluation:
    """Trains best, human and sparse rewards with ``num_eval`` fresh seeds in one batched call
    of ``backend`` (``backend.Backend``), with the ``training`` settings (its seeds offset by
    ``EVAL_SEED_OFFSET``) and the score statistic ``select``. ``best_source`` None evaluates
    the human and sparse rewards alone (a benchmark of the baselines). With ``references``
    (and a backend that supports them) the baselines' scores join the reference cache.

    Returns the ``runs.Evaluation`` (also written to ``run_dir/evaluation.json``, and into
    ``summary.json`` when the run has one): per reward the score per seed, mean and std; best − human and best − sparse
    with 95 % intervals; and the human-normalized score with its caveat.
    """
    config, hparams = training.resolve(task)
    baselines = task.baseline_rewards()
    if best_source is None:
        sources, fns = ("human", "sparse"), baselines
    else:
        sources, fns = ("best", "human", "sparse"), [compile_reward(best_source, task),
                                                     *baselines]
    seeds = training.seed_list(EVAL_SEED_OFFSET, num_eval)
    result = train_or_load(Path(run_dir) / "evaluation_curves.npz", backend.train_candidates,
                           task, fns, config, hparams, seeds=seeds, labels=list(sources))
    if result.params is not None:  # a fresh JAX training (resumed ones read curves back)
        texts = [task.human_reward_source, task.sparse_reward_source]
        save_policies(Path(run_dir), result, task, config, seeds,
                      sources=texts if best_source is None else [best_source, *texts],
                      curves="evaluation_curves.npz")
    stat = dict(zip(sources, per_seed(result, select)))
    final_fit = dict(zip(sources, result.final_fitness()))
    rewards = {}
    for label in sources:
        v = stat[label]
        rewards[label] = {
            "fitness_per_seed": [None if np.isnan(x) else float(x) for x in v],
            "mean": float(np.nanmean(v)) if np.isfinite(v).any() else None,
            "std": float(np.nanstd(v, ddof=1)) if np.isfinite(v).sum() > 1 else 0.0,
            "final_mean": float(np.nanmean(final_fit[label])),
            "failed": bool(result.curves.failed[sources.index(label)].any()),
        }
    human_minus_sparse = difference(stat["human"], stat["sparse"])
    best = {}
    if best_source is not None:
        hns = normalized_score(stat["best"], stat["human"], stat["sparse"], human_minus_sparse)
        best = {"best_minus_human": difference(stat["best"], stat["human"]),
                "best_minus_sparse": difference(stat["best"], stat["sparse"]),
                "human_normalized_score": hns["value"], "human_normalized_flag": hns["flag"],
                "human_normalized_reason": hns["reason"]}
    evaluation = Evaluation(
        task=task.name, num_eval=num_eval, seeds=seeds,
        statistic=f"fitness ({task.fitness_description}), "
                  + ("best evaluation over training" if select == "max"
                     else "evaluation at the end of training"),
        rewards=rewards, human_minus_sparse=human_minus_sparse,
        env_steps_per_run=int(result.env_steps // max(1, len(sources) * num_eval)),
        compile_seconds=result.compile_seconds, run_seconds=result.run_seconds, **best)
    write_json(Path(run_dir) / "evaluation.json", evaluation.to_json())
    if references and "references" in backend.supports:
        # the baselines at this budget, on fresh seeds: the next search's reference points
        from eureka_jax import references as cache

        cache.record(task, config, hparams, select,
                          {label: dict(zip(seeds, stat[label])) for label in ("human", "sparse")},
                          "a final evaluation")
    summary_path = Path(run_dir) / "summary.json"
    if summary_path.is_file():
        write_json(summary_path, {**read_json(summary_path), "evaluation": evaluation.to_json()})
    return evaluation


def format_difference(d: dict) -> str:
    """'+0.120 [95% CI +0.031, +0.209] over 5 seeds'"""
    if d["mean"] is None:
        return "n/a (no seed finished)"
    if d["low"] is None:
        return f"{d['mean']:+.3f} (1 seed: no interval)"
    verdict = ("higher" if d["low"] > 0 else "lower" if d["high"] < 0
               else "not distinguishable")
    return (f"{d['mean']:+.3f} [95% CI {d['low']:+.3f}, {d['high']:+.3f}] over {d['seeds']} "
            f"seeds: {verdict}")


def format_hns(evaluation: Evaluation) -> str:
    value, flag = evaluation.human_normalized_score, evaluation.human_normalized_flag
    reason = evaluation.human_normalized_reason
    if value is None:
        return f"n/a ({reason})" if reason else "n/a"
    return f"{value:.3f}" + (f" [flag: {flag}: {reason}]" if flag else "")
