"""Curricula: the pen-spinning declaration, one-sentence errors, and a two-stage curriculum
end to end through the command line (stage 2 must start from stage 1's parameters)."""

import json

import jax
import numpy as np
import pytest
from flax import serialization

from eureka_jax.curriculum import load_curriculum, parse_curriculum
from eureka_jax.errors import EurekaError
from tests.conftest import run_cli


def test_pen_spinning_curriculum_is_declared():
    c = load_curriculum("pen_spinning")
    assert [s.task for s in c.stages] == ["shadow_hand_pen", "shadow_hand_spin"]
    assert [s.init for s in c.stages] == ["none", "previous"]
    assert c.stages[1].reward == "same"
    assert [s.settings("isaacgym")["task"] for s in c.stages] == ["ShadowHandPenReorient",
                                                                   "ShadowHandSpin"]


@pytest.mark.parametrize("spec, message", [
    ({"stages": []}, "non-empty list"),
    ({"stages": [{"task": "shadow_hand_pen", "init": "previous"}]}, "no previous stage"),
    ({"stages": [{"task": "shadow_hand_pen", "epochs": 3}]}, "unknown key epochs"),
    ({"stages": [{"task": "a"}, {"task": "b", "init": "last"}]}, "use none or previous"),
])
def test_curriculum_errors_are_one_sentence(spec, message):
    with pytest.raises(EurekaError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_curriculum(spec)


# eval_envs=0: this test is about the hand-off; evaluation episodes are tested elsewhere.
TINY = ["seeds=2", "max_iterations=2", "train.num_envs=8", "train.unroll_length=4",
        "train.num_minibatches=2", "train.update_epochs=1", "train.num_evals=2",
        "train.policy_hidden=[32,32]", "train.value_hidden=[32,32]", "train.eval_envs=0"]


@pytest.mark.slow
def test_a_curriculum_runs_both_stages_and_hands_parameters_over(tmp_path):
    """Two stages with a tiny budget; stage 2 trains with learning rate 0, so its final policy
    and value networks must be exactly stage 1's: the hand-off, made visible. The stages are
    cartpole's: the hand-off does not depend on the task (pen spinning's two hand tasks
    compiled for minutes on 2 cores; their physics is tested in tests/test_tasks.py and
    tests/test_shadow_hand.py, and pen spinning's stages through the Isaac Gym backend in
    tests/test_isaacgym_bridge.py)."""
    spec = tmp_path / "frozen_second_stage.yaml"
    spec.write_text(
        "name: frozen_second_stage\nstages:\n"
        "  - {name: balance, task: cartpole, reward: human}\n"
        "  - {name: still, task: cartpole, reward: same, init: previous,\n"
        "     train: {learning_rate: 0.0}}\n")
    out = run_cli("curriculum", f"name={spec}", f"runs_dir={tmp_path / 'runs'}", *TINY)
    assert out.returncode == 0, out.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs" / "frozen_second_stage").iterdir()
    summary = json.loads((run_dir / "curriculum.json").read_text())
    first, second = summary["stages"]
    assert (first["task"], second["task"]) == ("cartpole", "cartpole")
    assert first["init_from"] is None
    assert second["init_from"] == first["checkpoint"]
    assert second["init_digest"] == first["checkpoint_digest"]
    assert (run_dir / "stage_2_still" / "reward.py").read_text() == \
        (run_dir / "stage_1_balance" / "reward.py").read_text()
    assert len(first["fitness_per_seed"]) == 2 and "stage 1" in out.stdout

    def load(stage):
        return serialization.msgpack_restore((run_dir / stage / "params.msgpack").read_bytes())

    one, two = load("stage_1_balance"), load("stage_2_still")
    for net in ("1", "2"):  # policy, value: unchanged with learning rate 0
        for a, b in zip(jax.tree.leaves(one[net]), jax.tree.leaves(two[net])):
            np.testing.assert_array_equal(a, b)
    def count(params):  # brax keeps the observation count as two 32-bit halves
        c = params["0"]["count"]
        return np.asarray(c["hi"], np.float64) * 2.0**32 + np.asarray(c["lo"], np.float64)

    # the observation statistics kept counting from stage 1's: twice the steps by the end
    np.testing.assert_array_equal(count(two), 2 * count(one))
