"""Domain randomization: the declared parameters, the configurations an LLM writes, the
physics they give, the trainer with K configurations in one program, the robustness
evaluation and the search's DR stage end to end (issue 33)."""

import dataclasses
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from eureka_jax import randomize as R
from eureka_jax.errors import EurekaError


@pytest.fixture(scope="module")
def cartpole():
    from eureka_jax.task import load_task

    return load_task("cartpole")


@pytest.fixture(scope="module")
def params(cartpole):
    return R.parameters(cartpole)


def test_declared_parameters_read_their_nominal_values_and_units_from_the_model(params):
    by_name = {p.name: p for p in params}
    assert set(by_name) == {"pole_mass", "cart_mass", "push_gear", "cart_damping",
                            "pole_damping", "gravity"}
    assert by_name["pole_mass"].nominal == pytest.approx(0.1)
    assert by_name["cart_mass"].nominal == pytest.approx(1.0)
    assert by_name["push_gear"].nominal == pytest.approx(10.0)
    assert by_name["gravity"].nominal == pytest.approx(-9.81)
    assert by_name["cart_damping"].unit == "N s/m"  # a slide joint
    assert by_name["pole_damping"].unit == "N m s/rad"  # a hinge
    assert by_name["push_gear"].unit == "N per unit action"  # it drives the slide joint
    assert by_name["cart_mass"].test == (0.2, 1.5)  # the held-out range where declared
    assert by_name["pole_mass"].test == (0.02, 0.5)  # else the bounds
    text = R.parameters_text(params)
    assert "- push_gear:" in text and "nominal 10 N" in text and "valid range [2, 20]" in text


def test_every_task_that_declares_randomizable_physics_resolves_it():
    from eureka_jax.task import load_task
    from tests.conftest import TASK_NAMES

    declared = [load_task(n) for n in TASK_NAMES if load_task(n).randomize]
    assert {t.name for t in declared} >= {"cartpole", "double_pendulum"}
    for task in declared:
        for p in R.parameters(task):
            assert p.low <= p.nominal <= p.high and p.low <= p.test[0] <= p.test[1] <= p.high


@pytest.mark.parametrize("entry, words", [
    ({"name": "m", "field": "body_density", "of": "pole", "bounds": [0, 1]}, "not one of"),
    ({"name": "m", "field": "body_mass", "of": "wheel", "bounds": [0, 1]}, "no body named"),
    ({"name": "m", "field": "body_mass", "of": "pole", "bounds": [0.5, 1.0]},
     "around the nominal value 0.1"),
    ({"name": "g", "field": "gravity", "of": "w", "bounds": [-20, 0]}, "x, y or z"),
    ({"name": "m", "field": "body_mass", "of": "pole"}, "needs name, field, of and bounds"),
    ({"name": "m", "field": "body_mass", "of": "pole", "bounds": [0.01, 1], "test": [0, 2]},
     "inside the bounds"),
])
def test_a_declaration_that_does_not_fit_the_model_is_one_sentence(cartpole, entry, words):
    task = dataclasses.replace(cartpole, randomize=[entry])
    task.__dict__["env"] = cartpole.env  # the same built env (a cached property)
    with pytest.raises(EurekaError, match=words):
        R.parameters(task)


def test_parameters_change_the_model(cartpole, params):
    values = R.nominal_values(params).copy()
    values[0] = 0.4  # pole mass x4
    values[5] = -5.0  # gravity
    model = R.apply(cartpole.env.mjx_model, params, jnp.asarray(values))
    base = cartpole.env.mjx_model
    pole = params[0].index
    assert float(model.body_mass[pole]) == pytest.approx(0.4)
    np.testing.assert_allclose(model.body_inertia[pole], 4 * np.asarray(base.body_inertia[pole]),
                               rtol=1e-5)  # inertia scales with the mass
    assert float(model.opt.gravity[2]) == pytest.approx(-5.0)
    assert float(base.body_mass[pole]) == pytest.approx(0.1)  # the env's own is untouched


@pytest.mark.slow
def test_each_episode_steps_with_the_physics_it_drew(cartpole, params):
    env = R.Randomized(cartpole.env, params)
    key = jax.random.PRNGKey(3)
    heavy_table = R.nominal_table(params)
    heavy_table[1] = (4.0, 4.0, 0.0)  # cart mass 4 kg

    def push(step, state):  # 15 steps of full force
        return jax.lax.scan(lambda s, _: (step(s, jnp.ones(1)), None), state, None,
                            length=15)[0]

    @jax.jit
    def run(tables):  # one program: a nominal and a heavy episode, and the env itself
        drawn = jax.vmap(env.reset_drawn, (None, 0))(key, tables)
        return (jax.vmap(lambda s: push(env.step, s))(drawn),
                push(cartpole.env.step, cartpole.env.reset(key)))

    ends, plain = run(jnp.asarray(np.stack([R.nominal_table(params), heavy_table])))
    # a table that randomizes nothing is the env itself; a 4x heavier cart moves less
    np.testing.assert_array_equal(ends.data.qpos[0], plain.data.qpos)
    assert 0 < float(ends.data.qpos[1, 0]) < 0.5 * float(ends.data.qpos[0, 0])
    assert float(ends.info[R.PHYSICS][1, 1]) == pytest.approx(4.0)


def test_draws_stay_in_each_range_and_log_uniform_spreads_by_ratio():
    table = jnp.asarray([[1.0, 2.0, 0.0], [0.01, 100.0, 1.0], [3.0, 3.0, 0.0]])
    values = jax.vmap(lambda k: R.draw(k, table))(jax.random.split(jax.random.PRNGKey(0), 4000))
    v = np.asarray(values)
    assert (v[:, 0] >= 1).all() and (v[:, 0] <= 2).all()
    assert (v[:, 1] >= 0.01).all() and (v[:, 1] <= 100).all()
    assert (v[:, 2] == 3).all()
    # log-uniform over [0.01, 100]: a quarter of the draws in each decade pair
    assert 0.45 < np.mean(v[:, 1] < 1.0) < 0.55


GOOD = ("I randomize the masses.\n```yaml\n"
        "- {parameter: pole_mass, distribution: uniform, range: [0.05, 0.3]}\n"
        "- {parameter: push_gear, distribution: loguniform, range: [5, 15]}\n```")


@pytest.mark.parametrize("reply, words", [
    ("```yaml\n- {parameter: pole_weight, range: [0.1, 0.2]}\n```",
     "unknown parameter 'pole_weight'; the parameters are pole_mass"),
    ("```yaml\n- {parameter: pole_mass, range: [-0.2, 0.3]}\n```",
     r"leaves the valid range \[0.02, 0.5\] kg"),
    ("```yaml\n- {parameter: pole_mass, range: [0.3, 0.1]}\n```", "low <= high"),
    ("```yaml\n- {parameter: pole_mass, range: heavy}\n```", "two numbers"),
    ("```yaml\n- {parameter: gravity, distribution: loguniform, range: [-12, -8]}\n```",
     "needs low > 0"),
    ("```yaml\n- {parameter: pole_mass, distribution: normal, range: [0.1, 0.2]}\n```",
     "uniform, loguniform"),
    (("```yaml\n- {parameter: pole_mass, range: [0.1, 0.2]}\n"
      "- {parameter: pole_mass, range: [0.1, 0.3]}\n```"), "appears twice"),
    ("I would randomize the pole.", "holds no configuration"),
    ("```yaml\n- {parameter: [\n```", "not valid YAML"),
])
def test_a_bad_configuration_gets_a_message_the_llm_can_act_on(params, reply, words):
    entries, error = R.parse_configuration(reply, params)
    assert entries is None
    assert re.search(words, error), error


def test_a_configuration_becomes_a_table_and_back(params):
    python_first = "```python\nx = 1\n```\nand then\n" + GOOD
    entries, error = R.parse_configuration(python_first, params)
    assert error is None
    assert entries == [{"parameter": "pole_mass", "distribution": "uniform", "range": [0.05, 0.3]},
                       {"parameter": "push_gear", "distribution": "loguniform",
                        "range": [5.0, 15.0]}]
    table = R.configuration_table(entries, params)
    assert table.shape == (len(params), 3)
    np.testing.assert_allclose(table[0], (0.05, 0.3, 0))
    np.testing.assert_allclose(table[2], (5, 15, 1))
    np.testing.assert_allclose(table[1], (1.0, 1.0, 0))  # left out: nominal
    assert R.parse_configuration(R.configuration_text(entries), params)[0] == entries


def test_the_offline_proposer_writes_valid_configurations_and_varies_the_best(params):
    from eureka_jax.llm.offline_dr import OfflineDRProposer

    proposer = OfflineDRProposer(params, seed=1)
    prior = "- pole_mass: [0.02, 0.3] kg\n- cart_mass: [0.8, 5] kg"
    first = proposer.propose([{"role": "user", "content": prior}], 6)
    parsed = [R.parse_configuration(r, params) for r in first]
    assert all(e is None for _, e in parsed), parsed
    assert len({r for r in first}) > 1
    for entries, _ in parsed:  # within the prior's range scaled by at most 1.25
        for e in entries:
            if e["parameter"] == "pole_mass":
                assert e["range"][1] <= 0.1 + 1.25 * 0.2 + 1e-6
    best = ("most robust configuration so far:\n```yaml\n"
            "- {parameter: cart_mass, distribution: uniform, range: [0.5, 2.0]}\n```")
    varied = proposer.propose([{"role": "user", "content": best}], 3)
    for reply in varied:
        entries, error = R.parse_configuration(reply, params)
        assert error is None and [e["parameter"] for e in entries] == ["cart_mass"]
        assert entries[0]["range"] != [0.5, 2.0]


# ---- training, evaluation and the stage (compiles: slow) ------------------------------------

TINY_CONFIG = {"num_envs": 16, "unroll_length": 16, "num_updates": 20, "num_evals": 4,
               "eval_envs": 8, "num_minibatches": 2}


@pytest.mark.slow
def test_configurations_train_as_rows_of_one_program_and_bad_physics_fails_alone(cartpole,
                                                                                   params):
    from eureka_jax.train.batch import train_candidates
    from eureka_jax.train.config import TrainConfig

    config = TrainConfig(**TINY_CONFIG)
    fns = cartpole.baseline_rewards()[:1]
    nominal = R.nominal_table(params)
    wide = nominal.copy()
    wide[0], wide[2] = (0.02, 0.5, 1.0), (2.0, 20.0, 0.0)
    broken = nominal.copy()
    broken[0] = (-1.0, -1.0, 0.0)  # a negative mass: physics MuJoCo cannot integrate
    broken[5] = (1e30, 1e30, 0.0)
    out = train_candidates(cartpole, fns, config, seeds=[0, 1], slots=[0, 0, 0],
                           physics=np.stack([nominal, broken, wide]))
    plain = train_candidates(cartpole, fns, config, seeds=[0, 1])
    # the row that randomizes nothing is the unrandomized training, bit for bit
    np.testing.assert_array_equal(out.curves.fitness[0], plain.curves.fitness[0])
    assert out.curves.failed[1].all() and not out.curves.failed[[0, 2]].any()
    assert np.isfinite(out.curves.fitness[2]).all()
    assert not np.array_equal(out.curves.fitness[2], out.curves.fitness[0])
    # other tables, same shape: nothing compiles
    again = train_candidates(cartpole, fns, config, seeds=[0, 1], slots=[0, 0, 0],
                             physics=np.stack([wide, nominal, wide]))
    assert again.compile_seconds == 0.0
    np.testing.assert_array_equal(again.curves.fitness[1], plain.curves.fitness[0])

    from eureka_jax.robustness import evaluate_physics, held_out_values
    from eureka_jax.train.learners import learner

    # every policy on the nominal model and 5 held-out ones, in one program; at the nominal
    # physics a policy scores what the trainer's own evaluation gives (the same key)
    models = np.concatenate([R.nominal_values(params)[None], held_out_values(params, 5)])
    scores = evaluate_physics(cartpole, config, out.params, models, config.eval_envs)
    assert scores.shape == (3, 2, 6) and np.isfinite(scores[[0, 2]]).all()
    parts = learner("ppo").make_parts(cartpole, config)
    normalizer, policy, _ = jax.tree.map(lambda x: x[0, 0], out.params)
    own = parts.evaluate(normalizer, policy, jax.random.PRNGKey(0)).fitness
    assert scores[0, 0, 0] == pytest.approx(float(jnp.mean(own)), abs=1e-6)
    assert np.isnan(scores[1]).all() or (scores[1] == 0).all()


@pytest.mark.parametrize("args, words", [
    (["dr_tolerance=1.5"], "dr_tolerance=1.5 is the fraction"),
    (["dr_sample=0"], "dr_sample=0 is too small"),
    (["num_eval=0"], "set num_eval to at least 1"),
    (["task=pendulum_swingup"], "declares no randomizable parameters"),
])
def test_dr_settings_are_checked_before_a_search_starts(args, words):
    from eureka_jax.backend import make_backend
    from eureka_jax.config import load_config
    from eureka_jax.search import SearchSettings
    from eureka_jax.task import load_task

    cfg = load_config(["task=cartpole", "dr_iteration=2", *args])
    with pytest.raises(EurekaError, match=words):
        SearchSettings.from_config(cfg).check(load_task(cfg.task), make_backend(cfg))
