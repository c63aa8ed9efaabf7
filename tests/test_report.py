"""The report of a run directory (eureka_jax/report.py), made from a run written here with
known numbers: what a user reads in report.md, the plots, the TensorBoard scalars. Fast tier:
no training, only the files a search and an evaluation write."""

import json

import matplotlib.pyplot as plt
import numpy as np

from eureka_jax.report import make_report
from eureka_jax.runs import save_result, write_json
from eureka_jax.train.batch import BatchResult
from eureka_jax.train.curves import TrainingCurves

BEST_SOURCE = "def compute_reward(pole_angle):\n    return -pole_angle ** 2, {'tilt': pole_angle}\n"


def _curves(k, s, c, start):
    fitness = start + np.linspace(0, 0.5, c)[None, None].repeat(k, 0).repeat(s, 1)
    return TrainingCurves(
        fitness=fitness, episode_return=fitness * 10, episode_length=np.full((k, s, c), 100.0),
        components=np.stack([fitness, -fitness], -1), env_steps=np.tile(
            np.arange(1, c + 1) * 1000.0, (k, s, 1)), failed=np.zeros((k, s), bool),
        failed_at=np.full((k, s), -1))


def _run(tmp_path, with_evaluation=True):
    run = tmp_path / "run"
    (run / "iter_00").mkdir(parents=True)
    save_result(run / "iter_00" / "curves.npz", BatchResult(
        labels=["iter_00/candidate_00", "iter_00/candidate_01"],
        component_names=[("tilt", "spin"), ("tilt", "spin")], seeds=[0], params=None,
        curves=_curves(2, 1, 5, 0.1), compile_seconds=1.0, run_seconds=2.0, env_steps=10_000))
    write_json(run / "iter_00" / "round.json", {"name": "iter_00", "status": "trained",
                                                 "candidates": [0, 1], "best_row": 1})
    write_json(run / "summary.json", {
        "task": "cartpole",
        "rounds": [{"round": 1, "name": "iter_00", "status": "trained", "scores": [0.4, 0.6],
                    "best_fitness": 0.6, "best_std": 0.05, "best_num_seeds": 3},
                   {"round": 2, "name": "iter_01", "status": "nothing compiled"}],
        "best": {"round": 1, "candidate": 1, "fitness": 0.6, "std": 0.05, "num_seeds": 3,
                 "source": BEST_SOURCE}})
    if with_evaluation:
        write_json(run / "evaluation.json", {
            "num_eval": 2, "statistic": "fitness, best evaluation over training",
            "rewards": {"best": {"fitness_per_seed": [0.7, 0.5], "mean": 0.6, "std": 0.14},
                        "human": {"fitness_per_seed": [0.5, None], "mean": 0.5, "std": 0.0},
                        "sparse": {"fitness_per_seed": [0.1, 0.2], "mean": 0.15, "std": 0.07}},
            "best_minus_human": {"mean": 0.1, "low": None, "high": None, "seeds": 1},
            "best_minus_sparse": {"mean": 0.45, "low": 0.2, "high": 0.7, "seeds": 2},
            "interval": "95% Student-t over seeds, paired by seed",
            "human_normalized_score": 1.29, "human_normalized_flag": None,
            "human_normalized_reason": None})
    return run


def test_the_report_says_what_the_run_found(tmp_path):
    run = _run(tmp_path)
    report = make_report(run).read_text()
    assert "# Eureka search on cartpole" in report
    assert "| 1 | trained | 2 | 0.600 ± 0.050 | 3 |" in report
    assert "| 2 | nothing compiled | 0 |  |  |" in report
    assert ("Best reward: round 1, candidate 1, fitness 0.600 ± 0.050 over 3 seed(s) in the "
            "search") in report and BEST_SOURCE.strip() in report
    assert "## Final evaluation (2 fresh seeds, fitness, best evaluation over training)" in report
    assert "| human | 0.500, failed | 0.500 ± 0.000 |" in report  # a failed seed is said
    assert "- best − sparse: +0.450 [95% CI +0.200, +0.700] over 2 seeds: higher" in report
    assert "- best − human: +0.100 (1 seed: no interval)" in report
    for png in ("fitness.png", "components.png"):
        assert plt.imread(run / png).ndim == 3
    assert "![components](components.png)" in report


def test_the_tensorboard_scalars_follow_the_best_candidate(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = _run(tmp_path)
    make_report(run)
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    best = [(e.step, round(e.value, 4)) for e in events.Scalars("best/fitness")]
    # the best is row 1 of round 1: fitness 0.1 .. 0.6 over five checkpoints of 1000 steps
    assert best == [(1000, 0.1), (2000, 0.225), (3000, 0.35), (4000, 0.475), (5000, 0.6)]
    assert [round(e.value, 4) for e in events.Scalars("search/round_best_fitness")] == [0.6]
    assert round(events.Scalars("evaluation/sparse")[0].value, 4) == 0.15


def test_a_run_without_its_evaluation_still_reports(tmp_path):
    run = _run(tmp_path, with_evaluation=False)
    report = make_report(run).read_text()
    assert "Final evaluation" not in report and "Best reward: round 1" in report
    assert json.loads((run / "summary.json").read_text())["best"]["fitness"] == 0.6
