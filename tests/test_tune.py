"""Constant tuning in the trainer and the search (tune=W): variants are rows of one compiled
program, factor 1 trains like the program as written, a written-back winner reproduces its
curve, and `eureka-jax search ... tune=3` runs end to end."""

import json
import re

import jax
import numpy as np
import pytest

from eureka_jax.reward import compile_reward
from eureka_jax.train import train_candidates
from eureka_jax.train.config import TrainConfig
from eureka_jax.tune import make_plan, plan_trainer
from tests.conftest import run_cli
from tests.test_constants import PROGRAM

pytestmark = pytest.mark.slow

SHORT = TrainConfig(num_envs=16, unroll_length=8, num_updates=4, num_evals=2,
                    policy_hidden=(32, 32), value_hidden=(32, 32))
CURVES = ("fitness", "episode_return", "episode_length", "value_loss", "policy_loss")


@pytest.fixture(scope="module")
def program(tasks):
    return compile_reward(PROGRAM, tasks["cartpole"], extract=False)


def _same_curves(a, b):
    for name in CURVES:
        np.testing.assert_array_equal(np.asarray(getattr(a.curves, name)),
                                      np.asarray(getattr(b.curves, name)), err_msg=name)


def test_factor_one_trains_like_the_program_as_written_and_a_written_back_winner_reproduces_it(
        tasks, program):
    task = tasks["cartpole"]
    as_written = train_candidates(task, [program], SHORT, seeds=[3, 4])
    source_values = np.float32([program.constant_values])
    factor_one = train_candidates(task, [program], SHORT, seeds=[3, 4], constants=source_values)
    # a program's constants are always arguments (its source values when not tuned), so
    # factor 1 is the same compiled program, bit for bit
    assert factor_one.compile_seconds == 0
    _same_curves(as_written, factor_one)
    for x, y in zip(jax.tree.leaves(as_written.params), jax.tree.leaves(factor_one.params)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    tuned_values = [0.5, 3.0, 0.0123, -1.7]
    tuned = train_candidates(task, [program], SHORT, seeds=[3, 4],
                             constants=np.float32([tuned_values]))
    assert tuned.compile_seconds == 0  # the same compiled program, other values
    assert not np.allclose(tuned.curves.episode_return, factor_one.curves.episode_return)
    # the winner written back as source, compiled again and trained alone, gives its curve
    winner = compile_reward(program.with_values(tuned_values), task, extract=False)
    assert winner.constant_values == pytest.approx(tuned_values, rel=1e-6)
    again = train_candidates(task, [winner], SHORT, seeds=[3, 4])
    _same_curves(tuned, again)


def test_variants_are_rows_of_one_compiled_program_and_the_race_reuses_it(tasks, program):
    task = tasks["cartpole"]
    human = compile_reward(task.human_reward_source, task)
    fns, labels = [program, human], ["tuned", "human"]
    plan = make_plan(fns, labels, 3, [0, "test"])
    assert plan.programs == [0, 0, 0, 1]
    train = plan_trainer(train_candidates, plan, fns, labels)
    rows = [fns[p] for p in plan.programs]
    first = train(task, rows, SHORT, seeds=[0], labels=plan.labels)
    assert first.labels == ["tuned", "tuned~v1", "tuned~v2", "human"] and first.slots is None
    assert first.compile_seconds > 0
    returns = np.asarray(first.curves.episode_return)[:, 0, -1]
    assert len(set(np.round(returns[:3], 4))) == 3  # the variants train differently
    # a seed race over rows (here rows 2 and 0 on fresh seeds) reuses every compiled program:
    # the physics and learner ones, and the reward ones (the row layout is their argument)
    race = train(task, rows, SHORT, seeds=[[5], [6], [5], [6]], labels=plan.labels,
                 slots=[2, 0, 2, 0])
    assert race.compile_seconds == race.reward_compile_seconds == 0
    assert race.slots == [2, 0, 2, 0] and race.labels[0] == "tuned~v2"
    np.testing.assert_array_equal(np.asarray(race.curves.fitness)[0],
                                  np.asarray(race.curves.fitness)[2])  # same row, same seed


def test_search_with_tune_3_writes_back_a_tuned_winner_and_reflects_on_its_constants(tmp_path):
    out = run_cli("search", "task=cartpole", "iteration=1", "sample=2", "tune=3", "confirm=2",
                  "num_eval=0", "seeds=1", "max_iterations=4", "train.num_envs=16",
                  "train.unroll_length=8", "train.num_evals=2", "train.num_minibatches=2",
                  f"runs_dir={tmp_path}", "report_video=false")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "6 candidate(s) x 1 seed(s)" in out.stdout and "2 program(s)" in out.stdout
    run = next((tmp_path / "cartpole").glob("search-*"))
    d = json.loads((run / "iter_00" / "round.json").read_text())
    assert d["variants"] == [0, 1, 2, 0, 1, 2] and d["candidates"] == [0, 0, 0, 1, 1, 1]
    # the race reused every program of the first pass (physics, learner, rewards)
    race = json.loads((run / "iter_00" / "race_curves.json").read_text())
    assert race["compile_seconds"] == race["reward_compile_seconds"] == 0
    k = d["best_row"]
    values = d["tuning"][k]["values"]
    best = (run / "best_reward.py").read_text()
    for name, value in values.items():  # the winner, as source, with the values it trained
        line = re.search(rf"^{name} = (\S+)", best, re.MULTILINE)
        assert np.float32(float(line.group(1))) == np.float32(value)
    assert "Constant tuning: this program trained as 3 variants" in d["reflection"]
    assert "(as written)" in d["reflection"]
    # the round's population lists each program once, as its best variant
    assert [c.get("variants") for c in d["population"]] == [3, 3]
