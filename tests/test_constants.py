"""Tunable constants: found in real LLM replies, lifted, written back exactly; the design of
a program's variants (tune=W). No training here (fast tier)."""

import ast
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from eureka_jax.reward import compile_reward
from eureka_jax.reward.constants import find_constants, format_value, with_values
from eureka_jax.reward.extract import extract_code
from eureka_jax.tune import constants_text, design, make_plan

REPLIES = Path(__file__).parent / "fixtures" / "llm_replies" / "pendulum_swingup"

PROGRAM = '''import jax.numpy as jnp

UPRIGHT_TEMPERATURE = 0.25   # rad^2
UPRIGHT_WEIGHT = 1.0
VELOCITY_WEIGHT = 0.01
FAIL_PENALTY = -2.0
STEPS = 3                    # an integer: a count, left alone
SCALE = 2.0 * UPRIGHT_WEIGHT  # computed: follows UPRIGHT_WEIGHT


def compute_reward(pole_angle, cart_velocity, terminated):
    upright = SCALE * jnp.exp(-pole_angle ** 2 / UPRIGHT_TEMPERATURE) / 2.0
    still = -VELOCITY_WEIGHT * jnp.abs(cart_velocity)
    fail = FAIL_PENALTY * terminated
    return upright + still + fail, {"upright": upright, "still": still, "fail": fail}
'''


def _replies():
    files = sorted(REPLIES.glob("round*_sample*.md"))
    assert len(files) == 24, f"the recorded replies are missing from {REPLIES}"
    return files


def test_every_recorded_reply_has_named_constants_that_are_found_and_written_back_exactly():
    counts = []
    for path in _replies():
        code = extract_code(path.read_text(), "compute_reward")
        found = find_constants(code)
        counts.append(len(found))
        assert all(c.name.isupper() for c in found), path.name
        # writing back the values as they are gives the same program (same syntax tree)
        same = with_values(code, {c.name: c.value for c in found})
        assert ast.dump(ast.parse(same)) == ast.dump(ast.parse(code)), path.name
        # new values read back as written (float32-exact), everything else untouched
        new = {c.name: c.value * 1.7 for c in found}
        changed = with_values(code, new)
        again = {c.name: c.value for c in find_constants(changed)}
        assert again == {n: float(format_value(v)) for n, v in new.items()}
        assert all(np.float32(again[n]) == np.float32(v) for n, v in new.items())
        kept = [line for line in changed.splitlines() if not any(
            line.startswith(f"{n} =") for n in new)]
        assert kept == [line for line in code.splitlines() if not any(
            line.startswith(f"{n} =") for n in new)]
    assert min(counts) >= 3  # the real replies carry 3-9 named constants each


def test_floats_set_once_are_constants_ints_and_computed_values_are_not():
    found = {c.name: c.value for c in find_constants(PROGRAM)}
    assert found == {"UPRIGHT_TEMPERATURE": 0.25, "UPRIGHT_WEIGHT": 1.0,
                     "VELOCITY_WEIGHT": 0.01, "FAIL_PENALTY": -2.0}
    twice = "A = 0.5\nB = 0.1\nA = 0.7\nZERO = 0.0\n"
    assert [c.name for c in find_constants(twice)] == ["B"]
    # the comment after a value survives a write-back
    assert "UPRIGHT_TEMPERATURE = 0.5   # rad^2" in with_values(PROGRAM, {"UPRIGHT_TEMPERATURE": 0.5})
    with pytest.raises(KeyError, match="STEPS"):
        with_values(PROGRAM, {"STEPS": 4.0})


@pytest.mark.slow  # compiles the reward program twice (~8 s on 2 cores)
def test_a_compiled_program_takes_its_constants_as_traced_values(tasks, transitions):
    task = tasks["cartpole"]
    fn = compile_reward(PROGRAM, task, extract=False)
    assert [c.name for c in fn.constants] == ["UPRIGHT_TEMPERATURE", "UPRIGHT_WEIGHT",
                                              "VELOCITY_WEIGHT", "FAIL_PENALTY"]
    inputs = {k: jnp.asarray(v[0, 0]) for k, v in transitions("cartpole").items()}
    total, parts = fn(inputs)
    same_total, same_parts = fn(inputs, jnp.asarray(fn.constant_values, jnp.float32))
    np.testing.assert_array_equal(same_total, total)  # op by op: the same IEEE operations
    np.testing.assert_array_equal(same_parts["upright"], parts["upright"])
    # new values act like the written-back program (SCALE follows UPRIGHT_WEIGHT)
    values = [0.5, 3.0, 0.02, -1.0]
    tuned_total, tuned_parts = fn(inputs, jnp.asarray(values, jnp.float32))
    written = compile_reward(fn.with_values(values), task, extract=False)
    want_total, want_parts = written(inputs)
    np.testing.assert_allclose(tuned_total, want_total, rtol=1e-6)
    np.testing.assert_allclose(tuned_parts["upright"], want_parts["upright"], rtol=1e-6)
    assert not np.isclose(float(tuned_parts["upright"]), float(parts["upright"]))


def test_a_constant_that_needs_a_python_number_stays_a_literal(tasks):
    source = ('import math\nimport jax.numpy as jnp\n\nWEIGHT = 0.5\nTEMPERATURE = 0.2\n'
              'GAIN = 2.0\n\n\ndef compute_reward(pole_angle):\n'
              '    scale = math.exp(GAIN)\n'
              '    if WEIGHT > 0:\n'
              '        r = WEIGHT * scale * jnp.exp(-pole_angle ** 2 / TEMPERATURE)\n'
              '    else:\n'
              '        r = 0.0 * pole_angle\n'
              '    return r, {"r": r}\n')
    fn = compile_reward(source, tasks["cartpole"], extract=False)
    assert [c.name for c in fn.constants] == ["TEMPERATURE"]


def test_the_design_tries_each_constant_lower_and_higher_within_the_range():
    rng = np.random.default_rng(0)
    factors = design(5, 7, rng, spread=3.0)
    assert factors.shape == (7, 5)
    np.testing.assert_array_equal(factors[0], np.ones(5))  # variant 0: as written
    assert (factors >= 1 / 3).all() and (factors <= 3).all()
    # a Latin hypercube: each constant has one factor in each of the 6 equal log-slices
    slices = np.floor((np.log(factors[1:]) + np.log(3)) / (2 * np.log(3)) * 6)
    for j in range(5):
        assert sorted(slices[:, j]) == list(range(6))
    assert design(3, 1, rng).shape == (1, 3)  # tune=1: the program alone


def test_a_plan_is_reproducible_and_rounds_variants_to_readable_values(tasks):
    task = tasks["cartpole"]
    fn = compile_reward(PROGRAM, task, extract=False)
    human = compile_reward(task.human_reward_source, task)  # no named constants
    a = make_plan([fn, human], ["p0", "p1"], 3, [0, "iter_00"])
    b = make_plan([fn, human], ["p0", "p1"], 3, [0, "iter_00"])
    np.testing.assert_array_equal(a.values, b.values)
    assert a.programs == [0, 0, 0, 1]  # a program without constants trains once
    assert a.labels == ["p0", "p0~v1", "p0~v2", "p1"]
    np.testing.assert_array_equal(a.values[0], np.float32(fn.constant_values))
    for v in a.values[1:3]:
        assert all(float(f"{x:.3g}") == pytest.approx(float(x), rel=1e-6) for x in v)
    other = make_plan([fn, human], ["p0", "p1"], 3, [0, "iter_01"])
    assert not np.array_equal(other.values, a.values)  # another round draws anew
    text = constants_text(fn, a, 0, [0.2, 0.5, 0.1, 0.3], winner=1, seeds=[1, 3, 1, 1])
    assert "UPRIGHT_TEMPERATURE" in text and "(as written) -> 0.2 (1 seed)" in text
    assert "-> 0.5 (3 seeds)" in text
    assert "Best variant: UPRIGHT_TEMPERATURE = " in text and "confounded" in text


def test_the_offline_proposer_reads_a_written_back_program_with_its_tuned_values(tasks):
    from eureka_jax.llm.offline import OfflineProposer, _genome_in

    proposer = OfflineProposer(tasks["cartpole"], seed=0)
    reply = proposer.propose([{"role": "user", "content": "first round"}], 1)[0]
    code = extract_code(reply, "compute_reward")
    found = find_constants(code)
    tuned = with_values(code, {c.name: c.value * 2.0 for c in found})
    before, after = _genome_in(code), _genome_in(tuned)
    assert [t["input"] for t in after] == [t["input"] for t in before]
    for old, new in zip(before, after):
        assert new["weight"] == pytest.approx(2.0 * old["weight"], rel=1e-6)
        assert new["temperature"] == pytest.approx(2.0 * old["temperature"], rel=1e-6)


@pytest.mark.parametrize("override, message", [
    ("tune=0", "tune=0 is too small"), ("tune_range=1.0", "tune_range=1.0"),
])
def test_bad_tuning_settings_are_one_sentence(tasks, override, message):
    from eureka_jax.config import load_config
    from eureka_jax.errors import EurekaError
    from eureka_jax.search import SearchSettings

    with pytest.raises(EurekaError, match=message):
        SearchSettings.from_config(load_config([override])).check(tasks["cartpole"])
    from eureka_jax.backend import make_backend

    isaac = load_config(["tune=3", "backend=isaacgym"])
    with pytest.raises(EurekaError, match="tune=3 needs constant variants as rows of one "
                                          "compiled program.*backend=isaacgym does not do"):
        SearchSettings.from_config(isaac).check(tasks["cartpole"], make_backend(isaac))
