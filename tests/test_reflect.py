"""The reflection the LLM reads after a round, on constructed rounds: every candidate's
behaviour, reference points, the budget's verdict, the learner's settings, the history across
rounds, and notes that agree with the numbers beside them. Pure functions: fast tier."""

import json

import numpy as np
import pytest

from eureka_jax.evaluate import human_normalized
from eureka_jax.reflect import (
    CHARS_PER_TOKEN,
    behaviour,
    behaviour_text,
    history_text,
    population_text,
    reference_text,
    reflect,
    reflect_runs,
    welch_interval,
)
from eureka_jax.train.curves import TrainingCurves


def _runs(fitness, components, watch=None):
    """TrainingCurves of one candidate's runs: fitness [n, C], components [n, C, M]."""
    fitness = np.asarray(fitness, float)
    n, c = fitness.shape
    return TrainingCurves(fitness=fitness, episode_return=np.ones((n, c)),
                          episode_length=np.full((n, c), 1000.0),
                          components=np.asarray(components, float),
                          env_steps=np.arange(c)[None].repeat(n, 0), failed=np.zeros(n, bool),
                          failed_at=np.full(n, -1), watch=None if watch is None else
                          np.asarray(watch, float))


def test_reflection_on_handmade_curves():
    c = 40
    text = reflect(
        fitness=np.linspace(0.0, 0.8, c),
        episode_length=np.linspace(20, 400, c),
        components={"upright": np.linspace(0.2, 0.9, c), "effort": np.full(c, -0.001),
                    "bonus": np.full(c, 50.0) + np.linspace(0, 5, c)},
        fitness_description="fraction of time upright", episode_limit=500,
    )
    lines = text.splitlines()
    assert lines[0] == ("Curves below: its one run, 10 of its 40 evaluated checkpoints shown "
                        "(evenly spaced; max, mean and min over all 40).")
    assert lines[1].startswith("Task score (fraction of time upright): values [0, ")
    assert "max 0.8, mean 0.4, min 0" in lines[1]
    assert len(lines[1].split("[")[1].split("]")[0].split(", ")) == 10  # ~10 values
    assert "Episode length (limit 500)" in lines[2]
    assert "- component 'upright': values [0.2," in text and "max 0.9" in text
    assert "'effort' hardly changed" in text
    assert "stayed at zero" not in text
    zero = reflect(np.zeros(5), np.full(5, 10.0), {"x": np.linspace(0, 1, 5)}, "score", 100)
    assert "The task score stayed at zero" in zero


def test_a_dominating_component_is_flagged_only_when_the_score_is_low():
    # 'energy' is twelve times the other term in both rounds below; where the score rose well
    # above the sparse reward's it is the term doing the work, and no note may blame it
    c = 20
    comps = {"energy": np.linspace(1.0, 5.0, c), "ctrl": np.full(c, -0.1) - np.linspace(0, .3, c)}
    reference = {"human": {"mean": 0.3, "std": 0.02, "n": 5},
                 "sparse": {"mean": 0.2, "std": 0.01, "n": 5}}
    working = _runs(np.linspace(0.19, 0.39, c)[None].repeat(3, 0),
                    np.stack([np.stack([comps["energy"], comps["ctrl"]], -1)] * 3))

    class Task:
        fitness_description, episode_length, watch = "fraction upright", 1000, []

    good = reflect_runs(working, ("energy", "ctrl"), Task, seed_scores=[0.39, 0.38, 0.40],
                        reference=reference)
    assert "drowned" not in good and "times larger" not in good
    floor = _runs(np.full((3, c), 0.19), working.components)
    low = reflect_runs(floor, ("energy", "ctrl"), Task, seed_scores=[0.19, 0.2, 0.19],
                       reference=reference)
    assert "'energy' is about 12 times larger than any other component and the task score " \
           "is low" in low  # mean 3.0 against 0.25
    # without reference points, "low" is a score curve that did not rise
    assert "times larger" not in reflect(np.linspace(0.1, 0.6, c), np.ones(c), comps, "s", 10)
    assert "times larger" in reflect(np.full(c, 0.1), np.ones(c), comps, "s", 10)


def test_the_curves_say_whose_mean_they_are_and_how_many_checkpoints_they_summarise():
    # the case: seeds score 0.311 / 0.283 / 0.215 at different checkpoints, so the
    # mean curve peaks lower (0.249 there); the text must say why the two disagree
    c = 20
    fitness = np.full((3, c), 0.15)
    fitness[0, 5], fitness[1, 12], fitness[2, 18] = 0.311, 0.283, 0.215

    class Task:
        fitness_description, episode_length, watch = "fraction upright", 1000, []

    text = reflect_runs(_runs(fitness, np.ones((3, c, 1))), ("upright",), Task,
                        seed_scores=[0.311, 0.283, 0.215])
    assert "Task score over 3 seed(s), best over training: mean 0.27" in text
    assert ("Curves below: the mean over its 3 runs (one per seed), 10 of its 20 evaluated "
            "checkpoints shown") in text
    assert "A seed's score is its own best checkpoint, so the mean curve can peak below the " \
           "mean score." in text
    # checkpoints without an evaluation are not counted as shown
    sparse_eval = fitness.copy()
    sparse_eval[:, 1::2] = np.nan
    text = reflect_runs(_runs(sparse_eval, np.ones((3, c, 1))), ("upright",), Task)
    assert "10 of its 10 evaluated checkpoints" in text


def test_reflection_reports_what_the_policy_does():
    from eureka_jax.task import load_task

    task = load_task("pendulum_swingup")  # watch: speed_when_upright, pole_height, speed
    c = 4
    watch = np.zeros((2, c, 3))
    watch[..., 0] = [[np.nan, 9.0, 11.0, 12.0], [np.nan, 7.0, 9.0, 10.0]]  # spinning through
    watch[..., 1], watch[..., 2] = 0.1, 5.0
    runs = _runs(np.full((2, c), 0.19), np.ones((2, c, 1)), watch)
    text = reflect_runs(runs, ("upright",), task)
    assert "What the policy does" in text
    line = next(x for x in text.splitlines() if x.startswith("- speed_when_upright"))
    assert "while within the upright window" in line and "values [8, 10, 11]" in line


def test_every_candidate_gets_a_behaviour_line_naming_what_set_it_apart():
    # six candidates that differ only in how fast the pole moves while upright: each one's
    # line carries that statistic with its own value, taken at its own best checkpoint
    from eureka_jax.task import load_task

    task = load_task("pendulum_swingup")
    names = [w["name"] for w in task.watch]
    spin = names.index("speed_when_upright")
    c, population = 6, []
    for i, speed in enumerate((0.5, 1.5, 3.0, 6.0, 9.0, 12.0)):
        fitness = np.tile(np.linspace(0.1, 0.2, c), (2, 1))
        fitness[:, 3] = 0.3  # the best checkpoint: the 4th
        watch = np.full((2, c, len(names)), 1.0)
        watch[:, :, spin] = 99.0  # anywhere else
        watch[:, 3, spin] = speed
        energy = np.tile(np.linspace(0.1, 0.4, c), (2, 1))
        comps = np.stack([energy, np.full((2, c), -0.02)], -1)
        b = behaviour(_runs(fitness, comps, watch), ("energy", "ctrl"), task)
        population.append({"index": i, "status": "trained", "score": 0.3 - i / 100,
                           "std": 0.01, "num_seeds": 2, "components": ["energy", "ctrl"],
                           "behaviour": b})
    text = population_text(population, 1, 0)
    for i, speed in enumerate((0.5, 1.5, 3.0, 6.0, 9.0, 12.0)):
        block = text.split(f"candidate {i}:")[1].split("- candidate")[0]
        assert f"speed_when_upright {speed:.3g}" in block
        assert "at its best checkpoint (4 of 6, mean over its runs)" in block
        assert "energy 0.1 -> 0.28" in block and "ctrl -0.02 -> -0.02 (flat)" in block
    assert behaviour_text(population[0]["behaviour"]).startswith("at its best checkpoint")


def test_round_reflection_lists_the_whole_population_within_its_budget():
    population = [
        {"index": 0, "status": "trained", "score": 0.19, "std": 0.01, "num_seeds": 3,
         "components": ["upright", "effort"]},
        {"index": 1, "status": "failed", "failed_at": 4, "components": ["energy"],
         "num_seeds": 1},
        {"index": 2, "status": "rejected", "category": "non-finite",
         "message": "the reward is NaN or infinite on real transitions: `total`"},
        {"index": 3, "status": "trained", "score": 0.05, "std": 0.0, "num_seeds": 1,
         "components": ["upright", "speed"], "outside_total": ["speed"]},
    ]
    text = population_text(population, 3, 0, parent_components=["upright", "spin"],
                           best_so_far={"round": 2, "score": 0.21, "std": 0.02, "num_seeds": 3},
                           round_best_source="def compute_reward(pole_angle):\n    ...")
    assert "Round 3: 4 candidates (2 trained, 1 failed in training, 1 rejected)" in text
    assert "candidate 0: 0.19 ± 0.01 over 3 seeds; components: upright, effort" in text
    assert text.index("candidate 0") < text.index("candidate 3")  # best first
    assert "candidate 1: training went NaN/inf at checkpoint 4" in text
    assert "candidate 2: rejected before training [non-finite]" in text
    assert "components: upright, speed (speed not in the total)" in text
    assert "did not beat the best reward so far (round 2: 0.21)" in text
    assert "def compute_reward(pole_angle)" in text  # the round's best, shown anyway
    # K = 16 within a small budget: the tail is summarised in one line
    many = [{"index": i, "status": "trained", "score": i / 100, "std": 0.01, "num_seeds": 2,
             "components": ["a_long_component_name", "another_one", "and_a_third"]}
            for i in range(16)]
    short = population_text(many, 1, 15, max_tokens=200)
    assert len(short) <= 200 * CHARS_PER_TOKEN and "more (scores" in short
    assert "candidate 15: 0.15" in short  # the best is never cut
    full = population_text(many, 1, 15)
    assert all(f"candidate {i}:" in full for i in range(16))


def test_a_diff_of_programs_claims_nothing_the_names_cannot_show():
    # the case: the best kept the name 'energy' but computes another energy term,
    # and 'ctrl' became 'effort': no "drops"/"adds"/"keeps" claim, the names side by side
    population = [{"index": 0, "status": "trained", "score": 0.3, "std": 0.01, "num_seeds": 3,
                   "components": ["energy", "effort"]}]
    text = population_text(population, 2, 0, parent_components=["energy", "ctrl"])
    assert "drops" not in text and "adds" not in text and "keeps" not in text
    assert ("Component names of this round's best: energy, effort; of the reward shown to you "
            "for this round: energy, ctrl (names only: a term of the same name may compute "
            "something else).") in text


def test_history_says_whether_a_round_beat_the_one_before_within_noise():
    rounds = [
        {"round": 1, "score": 0.269, "std": 0.03, "seed_scores": [0.26, 0.27, 0.277]},
        {"round": 2, "score": 0.335, "std": 0.01, "seed_scores": [0.325, 0.335, 0.345]},
        {"round": 3, "score": 0.345, "std": 0.03, "seed_scores": [0.31, 0.345, 0.38]},
        {"round": 4, "score": None},
    ]
    reference = {"human": {"mean": 0.30, "std": 0.02, "n": 5},
                 "sparse": {"mean": 0.28, "std": 0.01, "n": 5}, "source": "5 seeds each"}
    text = history_text(rounds, reference)
    lines = text.splitlines()
    assert lines[0].startswith("History of this search")
    assert lines[1] == "- round 1: 0.269 ± 0.03 (3 seeds) (not above the sparse reward's 0.28)"
    assert lines[2].startswith("- round 2: 0.335 ± 0.01 (3 seeds) (above the sparse reward's "
                               "0.28); vs the best before it (round 1, 0.269): +0.066")
    assert lines[2].endswith(", better")
    # 0.345 vs 0.335: the same within noise, as the LLM wanted to be told
    assert lines[3].endswith("not distinguishable within noise")
    assert "(round 2, 0.335)" in lines[3]
    assert lines[4] == "- round 4: no candidate trained to a score"
    one_seed = history_text([{"round": 1, "score": 0.2, "std": 0.0, "seed_scores": [0.2]},
                             {"round": 2, "score": 0.3, "std": 0.0, "seed_scores": [0.3]}])
    assert "too few seeds to tell apart" in one_seed
    d = welch_interval([0.325, 0.335, 0.345], [0.24, 0.27, 0.30])
    assert d[0] == pytest.approx(0.065) and d[1] < 0 < d[2]  # [-0.0015, +0.131]
    assert welch_interval([1.0], [0.0, 1.0]) is None


def test_reference_points_read_as_the_baselines_scores():
    text = reference_text({"human": {"mean": 0.301, "std": 0.02, "n": 3},
                           "sparse": {"mean": 0.198, "std": 0.01, "n": 3},
                           "source": "measured by a search"})
    assert text.startswith("Reference points at this budget (measured by a "
                           "search): the task's human-written reward scores 0.301 ± 0.02 "
                           "(3 seeds); the sparse reward scores 0.198 ± 0.01 (3 seeds).")
    assert reference_text(None) == ""


def test_references_accumulate_seeds_per_task_and_budget(tmp_path, monkeypatch):
    from eureka_jax import references
    from eureka_jax.config import load_config
    from eureka_jax.task import load_task
    from eureka_jax.train.config import training_settings

    monkeypatch.setenv("EUREKA_JAX_REFERENCES", str(tmp_path))
    task = load_task("cartpole")
    config, hparams = training_settings(load_config(["task=cartpole"]), task)
    assert references.lookup(task, config, hparams, "max") is None
    references.record(task, config, hparams, "max",
                      {"human": {1: 0.9, 2: 0.8}, "sparse": {1: 0.5, 2: float("nan")}}, "a test")
    found = references.lookup(task, config, hparams, "max")
    assert found["human"] == {"mean": pytest.approx(0.85), "std": pytest.approx(0.0707, abs=1e-4),
                              "n": 2}
    assert found["sparse"] == {"mean": 0.5, "std": None, "n": 1}  # a failed run is kept out
    references.record(task, config, hparams, "max",
                      {"human": {3: 0.7}, "sparse": {3: 0.3}}, "a test")
    assert references.lookup(task, config, hparams, "max")["human"]["n"] == 3
    # another budget, or another selection statistic, is another record
    longer, _ = training_settings(load_config(["task=cartpole", "max_iterations=7"]), task)
    assert references.lookup(task, longer, hparams, "max") is None
    assert references.lookup(task, config, hparams, "final") is None
    saved = json.loads(next(tmp_path.glob("cartpole-*.json")).read_text())
    assert saved["human"] == {"1": 0.9, "2": 0.8, "3": 0.7}


def test_the_budget_paragraph_gives_the_learner_settings_and_the_budget_verdict():
    from eureka_jax.budget import budget_text
    from eureka_jax.config import load_config
    from eureka_jax.task import load_task
    from eureka_jax.train.config import training_settings

    task = load_task("pendulum_swingup")  # cpu_learns: false
    cfg = load_config(["task=pendulum_swingup"])
    config, hparams = training_settings(cfg, task)
    text = budget_text(task, config, 3, "max", hparams=hparams, platform="cpu")
    gamma = float(hparams.discounting)
    assert f"Learner: PPO with discount {gamma:g} (a reward counts for about " \
           f"{1 / (1 - gamma):.0f} steps ahead)" in text
    assert "rewards enter the learner as written (scale 1), not normalised" in text
    assert f"entropy cost {float(hparams.entropy_cost):g}" in text
    assert "time limit (1000 steps) is cut and its value bootstrapped" in text
    assert "this task has no early termination" in text
    assert "Budget check: on this machine (a CPU) the budget is a smoke test" in text
    assert "prefer terms that pay off early in training" in text
    # on a GPU the CPU verdict does not apply; a task with termination says what ending costs
    assert "Budget check" not in budget_text(task, config, 3, "max", hparams=hparams,
                                             platform="gpu")
    cart = load_task("cartpole")
    cconfig, chp = training_settings(load_config(["task=cartpole"]), cart)
    ctext = budget_text(cart, cconfig, 3, "max", hparams=chp, platform="cpu")
    assert "a reward that is negative on average teaches the policy to end episodes early" \
        in ctext and "Budget check" not in ctext  # cartpole learns at its CPU budget


def test_human_normalized_score():
    assert human_normalized(0.9, 0.8, 0.2) == pytest.approx(7 / 6)
    assert human_normalized(0.2, 0.8, 0.2) == 0.0
    assert human_normalized(0.5, 0.3, 0.3) is None
