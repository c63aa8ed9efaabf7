"""Selection: the seed race on constructed results, intervals and the human-normalized score."""

import numpy as np
import pytest

from eureka_jax import selection
from eureka_jax.evaluate import difference, normalized_score
from eureka_jax.train.batch import BatchResult
from eureka_jax.train.curves import TrainingCurves


def _result(fitness, seeds, slots=None, failed=None):
    """A BatchResult whose runs reached ``fitness`` [rows, S] (one checkpoint each)."""
    f = np.asarray(fitness, float)[..., None]
    rows, s = f.shape[:2]
    curves = TrainingCurves(
        fitness=f, episode_return=f, episode_length=np.ones_like(f),
        components=np.zeros((rows, s, 1, 1)), env_steps=np.ones_like(f),
        failed=np.zeros((rows, s), bool) if failed is None else np.asarray(failed),
        failed_at=np.full((rows, s), -1))
    return BatchResult(labels=[f"c{i}" for i in range(rows)], component_names=[()] * rows,
                       seeds=seeds, curves=curves, params=None, compile_seconds=0.0,
                       run_seconds=1.0, env_steps=rows * s, slots=slots)


def test_the_race_overturns_a_one_seed_outlier():
    # first pass, one seed: candidate 0 is a lucky outlier, candidate 1 a steady good one
    first = _result([[0.90], [0.80], [0.10]], seeds=[0])
    top = selection.leaders(selection.per_seed(first, "max"), confirm=2)
    assert top == [0, 1]
    slots, table = selection.race_plan(top, num_rows=3, num_seeds=1, base_seed=0)
    assert slots == [0, 1, 0]
    # fresh seeds, never the first pass's; leaders share them row by row (common numbers)
    assert table == [[1], [1], [2]]
    race = _result([[0.20], [0.75], [0.30]], seeds=table, slots=slots)
    scores = selection.combine(first, race, "max", top)
    assert scores.values[0].tolist() == [0.9, 0.2, 0.3]
    assert scores.seeds[0] == [0, 1, 2] and scores.seeds[1] == [0, 1]
    # held out (default): the seed that made candidate 0 a leader does not count again
    assert scores.mean(0) == pytest.approx(0.25) and scores.scored(1).tolist() == [0.75]
    assert scores.best() == 1  # the confirmed winner, not the one-seed winner
    every = selection.combine(first, race, "max", top, heldout=False)
    assert every.mean(0) == pytest.approx(1.4 / 3) and every.best() == 1
    runs = selection.runs_of(first, race, 0)
    assert runs.fitness.shape == (3, 1) and runs.fitness[:, 0].tolist() == [0.9, 0.2, 0.3]


def test_without_a_race_the_first_pass_mean_decides_and_failures_never_win():
    first = _result([[0.5, 0.7], [0.9, np.nan], [0.6, 0.7]], seeds=[0, 1],
                    failed=[[False, False], [False, True], [False, False]])
    assert selection.leaders(selection.per_seed(first, "max"), confirm=5) == [2, 0]
    scores = selection.combine(first, None, "max", [])
    assert scores.failed(1) and scores.mean(1) == -np.inf
    assert scores.best() == 2
    assert scores.std(2) == pytest.approx(np.std([0.6, 0.7], ddof=1)) and scores.std(0) == pytest.approx(np.std([0.5, 0.7], ddof=1))


def test_t_interval_and_paired_differences():
    mean, low, high = selection.t_interval([1.0, 2.0, 3.0])
    # t(0.975, 2) = 4.303, std 1, n 3
    assert mean == 2.0 and high - mean == pytest.approx(4.303 / np.sqrt(3), rel=1e-3)
    assert mean - low == pytest.approx(high - mean)
    assert selection.t_interval([0.4])[1] == -np.inf
    d = difference([0.9, 0.8, 0.85], [0.1, 0.2, 0.15])
    assert d["mean"] == pytest.approx(0.7) and d["low"] > 0 and d["seeds"] == 3
    assert difference([0.5], [0.2])["low"] is None  # one seed: no interval


def test_normalized_score_edge_cases():
    # human and sparse equal on every seed: undefined
    equal = normalized_score([0.5, 0.6], [0.3, 0.3], [0.3, 0.3])
    assert equal["value"] is None and equal["flag"] == "n/a"
    # within seed noise of each other: not reported as a number
    noisy = normalized_score([0.9, 0.8, 0.7], [0.10, 0.30, 0.20], [0.20, 0.15, 0.25])
    assert noisy["value"] is None and "not told apart" in noisy["reason"]
    # human clearly below sparse (pendulum: 0.028 vs 0.166): computed but flagged
    below = normalized_score([0.40, 0.16, 0.18], [0.03, 0.02, 0.04], [0.17, 0.16, 0.17])
    assert below["flag"] == "human < sparse" and below["value"] == pytest.approx(
        (np.mean([0.40, 0.16, 0.18]) - np.mean([0.17, 0.16, 0.17]))
        / abs(np.mean([0.03, 0.02, 0.04]) - np.mean([0.17, 0.16, 0.17])))
    # the ordinary case
    ok = normalized_score([0.9, 0.95, 0.92], [0.8, 0.82, 0.79], [0.2, 0.25, 0.22])
    assert ok["flag"] == "" and ok["value"] == pytest.approx(
        (np.mean([0.9, 0.95, 0.92]) - np.mean([0.2, 0.25, 0.22]))
        / (np.mean([0.8, 0.82, 0.79]) - np.mean([0.2, 0.25, 0.22])))
