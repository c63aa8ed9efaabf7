"""The reward compiler: accepted forms, and a corpus of hostile or broken programs."""

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks.reward_corpus import CORPUS, LEGITIMATE, WAVE4
from eureka_jax.reward import Policy, RewardError, compile_reward, extract_code

# Short limits keep the corpus fast; the hangs in it run for minutes, so 4 s still tells them
# apart from any legitimate program (those check in well under a second).
TEST_POLICY = Policy(trace_timeout_s=4.0)


@pytest.fixture(scope="session")
def cartpole(tasks):
    return tasks["cartpole"]


@pytest.fixture(scope="session")
def evil_module_marker(tmp_path_factory):
    """A module on sys.path that creates a marker file if anything ever imports it."""
    folder = tmp_path_factory.mktemp("evil")
    marker = folder / "imported"
    (folder / "evil_marker_mod.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\nanything = 1\n"
    )
    sys.path.insert(0, str(folder))
    yield marker
    sys.path.remove(str(folder))


# the hangs cost the whole time limit each: in the full suite, not the fast tier
CORPUS_CASES = [pytest.param(*c, id=c[0], marks=[pytest.mark.slow] if c[1] == "timeout" else [])
                for c in CORPUS]


@pytest.mark.parametrize("case_id, category, source", CORPUS_CASES)
def test_corpus_is_rejected_with_its_category(
    cartpole, evil_module_marker, tmp_path, case_id, category, source
):
    marker = tmp_path / "escaped"
    with pytest.raises(RewardError) as info:
        compile_reward(source.replace("{MARKER}", str(marker)), cartpole, policy=TEST_POLICY)
    err = info.value
    assert err.category == category, f"{case_id}: got [{err.category}] {err.message}"
    assert err.message.strip()
    assert not marker.exists(), f"{case_id}: its side effect happened"
    assert not evil_module_marker.exists(), f"{case_id}: the marker module was imported"
    assert "evil_marker_mod" not in sys.modules
    assert callable(jnp.ndarray.mean), f"{case_id}: a jax class was monkeypatched"


def test_corpus_size():
    assert len(CORPUS) >= 40
    assert {c[1] for c in CORPUS} >= {
        "extraction", "syntax", "forbidden", "binding", "exception", "output", "non-finite",
        "timeout", "resource", "cost",
    }


def test_messages_tell_the_llm_what_to_do(cartpole):
    with pytest.raises(RewardError) as info:
        compile_reward("def compute_reward(pole_angel):\n    return pole_angel, {}\n", cartpole)
    assert "'pole_angel'" in info.value.message and "pole_angle" in info.value.message
    with pytest.raises(RewardError) as info:
        compile_reward("import torch\ndef compute_reward(pole_angle):\n    return 1, {}", cartpole)
    assert "jax.numpy" in info.value.message and "line 1" in info.value.message
    with pytest.raises(RewardError) as info:
        compile_reward(
            "def compute_reward(pole_angle):\n    x = 1.0\n    return x + undefined, {}\n",
            cartpole,
        )
    assert info.value.line == 3 and "undefined" in info.value.message


@pytest.mark.slow  # waits out the checker's time limit
def test_worker_recovers_after_a_timeout(cartpole):
    hang = "def compute_reward(pole_angle):\n    n = 9 ** 9 ** 9\n    return pole_angle, {}\n"
    with pytest.raises(RewardError, match="longer than"):
        compile_reward(hang, cartpole, policy=TEST_POLICY)
    ok = compile_reward("def compute_reward(alive):\n    return alive, {}\n", cartpole,
                        policy=TEST_POLICY)
    assert ok.input_names == ("alive",)


ACCEPTED = {
    "fenced_with_helpers_and_constants": '''Here is a reward that keeps the pole upright.

```python
import jax
import jax.numpy as jnp
import math
from typing import Dict, Tuple

ANGLE_TEMPERATURE = 0.2

def bounded(x: jnp.ndarray, temperature: float) -> jnp.ndarray:
    return jnp.exp(-jnp.abs(x) / temperature)

@jax.jit
def compute_reward(pole_angle: jnp.ndarray, action: jnp.ndarray) -> Tuple[jnp.ndarray, Dict[str, jnp.ndarray]]:
    upright = bounded(pole_angle, ANGLE_TEMPERATURE)
    effort = -0.01 * jnp.sum(action ** 2) * math.pi / math.pi
    return upright + effort, {"upright": upright, "effort": effort}
```

The first term rewards small angles; the second discourages large forces.''',
    "several_blocks": '''First a helper:
```python
import jax.numpy as jnp

def centred(x):
    return 1.0 - jnp.tanh(jnp.abs(x))
```
Then the reward:
```python
def compute_reward(cart_position, pole_angle):
    upright = jnp.cos(pole_angle)
    centre = centred(cart_position)
    return upright + centre, {"upright": upright, "centre": centre}
```''',
    "bare_fence": '''```
import jax.numpy as jnp
def compute_reward(pole_angle):
    upright = jnp.cos(pole_angle)
    return upright, {"upright": upright}
```''',
    "prose_then_code_no_fence": '''Sure. The reward is below.
import jax.numpy as jnp
def compute_reward(pole_angle):
    upright = jnp.cos(pole_angle)
    return upright, {"upright": upright}''',
    "only_code": '''import jax.numpy as jnp

def compute_reward(pole_angle, alive):
    upright = jnp.cos(pole_angle)
    return upright * alive, {"upright": upright, "alive": alive}
''',
    # Eureka's prompts ask for torch; annotations are never evaluated, so they are harmless.
    "torch_annotations": '''```python
import jax.numpy as jnp
def compute_reward(pole_angle: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    upright = jnp.cos(pole_angle)
    return upright, {"upright": upright}
```''',
    "lax_and_nn": '''```python
import jax
from jax import lax
import jax.numpy as jnp
def compute_reward(pole_angle, pole_angular_velocity):
    calm = jax.nn.sigmoid(-jnp.abs(pole_angular_velocity))
    upright = lax.cond(jnp.abs(pole_angle) < 0.1, lambda: 1.0, lambda: 0.0)
    smooth = lax.fori_loop(0, 3, lambda i, c: c * 0.5, 1.0)
    return upright + calm + smooth, {"upright": upright, "calm": calm, "smooth": smooth}
```''',
}


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_accepted_forms(cartpole, name):
    reward_fn = compile_reward(ACCEPTED[name], cartpole)
    inputs = {k: jnp.asarray(v[0]) for k, v in cartpole.probe_inputs.items()}
    total, parts = reward_fn(inputs)
    assert total.shape == () and np.isfinite(float(total))
    assert set(parts) == set(reward_fn.component_names)
    assert "def compute_reward" in reward_fn.source


def test_helpers_survive_and_values_are_right(cartpole):
    reward_fn = compile_reward(ACCEPTED["fenced_with_helpers_and_constants"], cartpole)
    assert reward_fn.input_names == ("pole_angle", "action")
    assert reward_fn.component_names == ("effort", "upright")
    total, parts = reward_fn({"pole_angle": jnp.float32(0.1), "action": jnp.array([0.5])})
    assert float(parts["upright"]) == pytest.approx(np.exp(-0.5), rel=1e-6)
    assert float(total) == pytest.approx(np.exp(-0.5) - 0.0025, rel=1e-6)


def test_extract_keeps_everything_before_the_entry():
    code = extract_code(ACCEPTED["several_blocks"])
    assert "def centred" in code and "def compute_reward" in code
    assert code.index("def centred") < code.index("def compute_reward")


# ---- wave 3: cost, captured size, output structure, process-wide state ---------------------

def test_cost_counts_every_loop_iteration_where_xla_counts_one():
    import jax

    from eureka_jax.reward.cost import jaxpr_flops

    def scanned(x):
        c, _ = jax.lax.scan(lambda c, _: (c * 2.0 + 1.0, None), x, None, length=1000)
        return c

    x = jnp.ones(())
    assert jaxpr_flops(jax.make_jaxpr(scanned)(x)) == pytest.approx(2000, rel=0.01)
    xla = jax.jit(scanned).lower(x).cost_analysis()["flops"]
    assert xla < 10  # why the count is ours: XLA sees the body once
    a = jnp.ones((30, 40))
    # 2·M·N·K for the product, plus the transpose (one per element)
    assert jaxpr_flops(jax.make_jaxpr(lambda m: m @ m.T)(a)) == 2 * 30 * 30 * 40 + 30 * 40
    branches = jax.make_jaxpr(lambda p, m: jax.lax.cond(p, lambda m: (m @ m.T).sum(),
                                                        lambda m: m.sum(), m))(True, a)
    assert jaxpr_flops(branches) >= 2 * 30 * 30 * 40  # the dearer branch


LOOP = """
import jax
import jax.numpy as jnp
def compute_reward(pole_angle):
    v = jax.lax.fori_loop(0, 100_000, lambda i, c: c + jnp.sin(c + pole_angle), 0.0)
    return v, {"v": v}
"""


def test_cost_limit_is_in_env_steps_and_configurable(cartpole):
    assert 1e4 < cartpole.step_flops < 1e6  # a MJX cartpole step, counted the same way
    with pytest.raises(RewardError) as info:
        compile_reward(LOOP, cartpole, policy=TEST_POLICY)
    assert info.value.category == "cost" and "times one environment step" in info.value.message
    wide = Policy(trace_timeout_s=4.0, max_cost_ratio=1e4)
    fn = compile_reward(LOOP, cartpole, policy=wide)
    assert fn.flops / cartpole.step_flops > 1.0
    human = compile_reward(cartpole.human_reward_source, cartpole)
    assert human.flops / cartpole.step_flops < 0.01


def test_cost_limit_without_a_jax_step_is_absolute():
    from eureka_jax.bridges.isaacgym import load_isaacgym_task

    hand = load_isaacgym_task("ShadowHand")
    heavy = LOOP.replace("pole_angle", "object_rot[0]").replace(
        "def compute_reward(object_rot[0])", "def compute_reward(object_rot)").replace(
        "100_000", "1_000_000")
    with pytest.raises(RewardError) as info:
        compile_reward(heavy, hand, policy=TEST_POLICY)
    assert info.value.category == "cost" and "the limit is 1e+06" in info.value.message


def test_sandbox_hands_out_no_state_changing_functions():
    from eureka_jax.reward.sandbox import safe_globals

    imp = safe_globals()["__builtins__"]["__import__"]
    jax_ns = imp("jax", fromlist=["tree_util"])
    assert hasattr(jax_ns.tree_util, "tree_map") and hasattr(jax_ns.tree, "map")
    for name in ("register_pytree_node", "register_static", "register_dataclass",
                 "default_registry"):
        assert not hasattr(jax_ns.tree_util, name), name
    assert not hasattr(imp("jax.numpy", fromlist=["x"]), "set_printoptions")
    typing_ns = imp("typing", fromlist=["x"])
    assert hasattr(typing_ns, "Tuple") and not hasattr(typing_ns, "overload")


def test_programs_within_the_memory_budget_pass_and_the_checker_recovers(cartpole):
    from benchmarks.reward_corpus import WAVE3

    gigabytes = {c[0]: c[2] for c in WAVE3}["module_level_gigabytes"]
    with pytest.raises(RewardError, match="MiB"):
        compile_reward(gigabytes, cartpole, policy=TEST_POLICY)
    # 100 MB at module level is inside the budget, and the limit was restored after the
    # rejection (this worker, or its replacement, accepts it)
    fine = gigabytes.replace("24_000, 24_000", "5_000, 5_000")
    assert compile_reward(fine, cartpole, policy=TEST_POLICY).component_names == ("a",)


def test_slow_batches_are_reported_with_the_costliest_rewards():
    from eureka_jax.search import slow_batch

    costs = [(30.0, "candidate_00"), (4e6, "candidate_01"), (12.0, "candidate_02")]
    text = slow_batch(1_000.0, 50_000.0, 2e4, costs)
    assert "50.0x slower" in text and text.index("candidate_01") < text.index("candidate_00")
    assert "200.0x the env step" in text and "reward_cost_ratio" in text
    assert slow_batch(40_000.0, 50_000.0, 2e4, [(30.0, "a"), (12.0, "b")]) is None
    assert "ran at" in slow_batch(40_000.0, 50_000.0, 2e4, costs)  # dearer than a step


REPLIES = Path(__file__).parent / "fixtures" / "llm_replies" / "pendulum_swingup"


@pytest.mark.slow  # builds the pendulum environment
def test_real_llm_replies_compile_and_cost_little(tasks):
    """The 24 replies a real coding LLM wrote to our prompts (prose around code, constants,
    helpers) all compile under every limit of the sandbox, at a tiny fraction of a step."""
    task = tasks["pendulum_swingup"]
    replies = sorted(REPLIES.glob("round*_sample*.md"))
    assert len(replies) == 24
    for path in replies:
        fn = compile_reward(path.read_text(), task)
        assert fn.component_names, path.name
        assert fn.flops / task.step_flops < 0.01, path.name


# ---- wave 4: allowlists, the checked program is the trained one, clean state, bounds --------

@pytest.mark.parametrize("case_id, category, source", WAVE4, ids=[c[0] for c in WAVE4])
def test_wave4_is_rejected_with_its_category(cartpole, case_id, category, source):
    with pytest.raises(RewardError) as info:
        compile_reward(source, cartpole, policy=TEST_POLICY)
    err = info.value
    assert err.category == category, f"{case_id}: got [{err.category}] {err.message}"
    if category == "forbidden":  # the message says what is allowed instead
        assert any(word in err.message for word in ("allowed", "use ", "may only")), err.message
    assert jnp.cos(jnp.float32(0.0)) == 1.0  # nothing changed cos in this process


@pytest.mark.parametrize("case_id, source", LEGITIMATE, ids=[c[0] for c in LEGITIMATE])
def test_legitimate_rewards_compile(cartpole, case_id, source):
    fn = compile_reward(source, cartpole, policy=TEST_POLICY)
    total, parts = jax.vmap(fn)(cartpole.probe_inputs)
    assert np.all(np.isfinite(np.asarray(total))), case_id
    assert all(np.asarray(v).dtype == np.float32 for v in parts.values()), case_id
    assert "__main__" not in fn.source


def test_components_the_total_never_uses_are_named(cartpole):
    # a component reported but not part of the total misleads the reflection; one the total
    # recomputes with the same operations counts as used (no false alarm)
    used = compile_reward(
        "import jax.numpy as jnp\n"
        "def compute_reward(pole_angle, cart_position):\n"
        "    upright = jnp.cos(pole_angle)\n"
        "    centre = -0.1 * jnp.abs(cart_position)\n"
        "    return upright + centre, {'upright': upright, 'centre': centre}\n",
        cartpole, policy=TEST_POLICY)
    assert used.outside_total == ()
    recomputed = compile_reward(
        "import jax.numpy as jnp\n"
        "def compute_reward(pole_angle, cart_position):\n"
        "    total = jnp.cos(pole_angle) - 0.1 * jnp.abs(cart_position)\n"
        "    return total, {'upright': jnp.cos(pole_angle), 'dist': jnp.abs(cart_position)}\n",
        cartpole, policy=TEST_POLICY)
    assert recomputed.outside_total == ()
    unused = compile_reward(
        "import jax.numpy as jnp\n"
        "def compute_reward(pole_angle, cart_velocity):\n"
        "    upright = jnp.cos(pole_angle)\n"
        "    speed = jnp.abs(cart_velocity)\n"
        "    return upright, {'upright': upright, 'speed': speed, 'bonus': 1.0}\n",
        cartpole, policy=TEST_POLICY)
    assert unused.outside_total == ("bonus", "speed")
    from eureka_jax.reflect import reflect

    text = reflect(np.linspace(0, 1, 5), np.ones(5), {"speed": np.ones(5), "upright":
                   np.linspace(0, 1, 5)}, "score", 10, outside_total=unused.outside_total)
    assert "- component 'speed' (not part of the total): values" in text
    assert "'speed' never enters the total: it is reported but rewards nothing" in text


def test_a_plain_number_component_is_a_float32_scalar(cartpole):
    fn = compile_reward(dict(LEGITIMATE)["python_float_bonus"], cartpole)
    _, parts = fn({k: v[0] for k, v in cartpole.probe_inputs.items()})
    assert parts["alive_bonus"].dtype == jnp.float32 and float(parts["alive_bonus"]) == 0.5


def test_the_trainer_runs_the_checked_program_not_the_source(cartpole):
    """A compiled reward carries the checker's export; calling it runs no reward Python here
    (a reward whose module code would raise in this process still evaluates), with its
    constants traced as the trainer passes them."""
    fn = compile_reward(dict(LEGITIMATE)["finfo_at_and_derived_constants"], cartpole)
    assert [c.name for c in fn.constants] == ["WEIGHT"] and fn.exported
    one = {k: v[0] for k, v in cartpole.probe_inputs.items()}
    total, parts = fn(one)
    _, parts2 = fn(one, jnp.array([4.0]))  # HALF follows WEIGHT
    assert float(parts2["upright"]) == pytest.approx(2 * float(parts["upright"]), rel=1e-5)
    nested = jax.jit(jax.vmap(jax.vmap(lambda c, x: fn(x, c)[0], in_axes=(None, 0)),
                                  in_axes=(0, None)))(
        jnp.array([[2.0], [4.0]]), {k: v[:3] for k, v in cartpole.probe_inputs.items()})
    assert nested.shape == (2, 3) and float(nested[0, 0]) == pytest.approx(float(total))


def test_each_program_is_checked_from_a_clean_state(cartpole):
    """A program that changes process-wide state (allowed here by a widened policy, so it is
    executed) changes it only in its own checker child: the next program is judged as in a
    fresh process, and nothing changed in this one."""
    import dataclasses

    from eureka_jax.reward.policy import MODULES

    modules = dict(MODULES, **{"jax.lax": MODULES["jax.lax"] | {"cos_p"}})
    wide = dataclasses.replace(
        TEST_POLICY, modules=tuple(sorted((k, frozenset(v)) for k, v in modules.items())),
        value_attributes=TEST_POLICY.value_attributes | {"def_impl", "def_abstract_eval"})
    good = dict(LEGITIMATE)["interp_and_scan"].replace(
        "ANGLES = jnp.array", "BASE = float(jnp.cos(jnp.float32(0.0)))\nANGLES = BASE * jnp.array")
    first = compile_reward(good, cartpole, policy=wide)
    evil = """
import jax.numpy as jnp
from jax import lax
lax.cos_p.def_impl(lambda x: x * 0.0 + 7.0)
def compute_reward(pole_angle):
    return jnp.cos(pole_angle), {"upright": jnp.cos(pole_angle)}
"""
    compile_reward(evil, cartpole, policy=wide)
    second = compile_reward(good, cartpole, policy=wide)
    assert second.exported == first.exported  # judged and exported as before the evil one
    assert float(jnp.cos(jnp.float32(0.0))) == 1.0


def test_replies_are_bounded_before_parsing():
    import time

    prose = "Here is the reward.\nimport jax.numpy as jnp\ndef compute_reward(x):\n    return x, {}\n"
    prose += ("Some prose (with an unclosed parenthesis and more words here. " * 6 + "\n") * 500
    start = time.perf_counter()
    assert extract_code(prose).rstrip().endswith("return x, {}")
    assert time.perf_counter() - start < 5.0  # a few parses, not one per line
    with pytest.raises(RewardError, match="characters long"):
        extract_code("x" * 1_000_000)


@pytest.mark.parametrize("data, words", [
    (b"def compute_reward(x):\n    return x, {'\xff': x}\n", "not UTF-8"),
    ("def compute_reward(x):\n    return x\x00, {}\n", "NUL"),
])
def test_undecodable_rewards_are_one_sentence_rejections(cartpole, data, words):
    with pytest.raises(RewardError, match=words) as info:
        compile_reward(data, cartpole)
    assert info.value.category == "syntax" and "\n" not in info.value.message


@pytest.mark.slow
def test_legitimate_rewards_train_and_a_bad_program_between_good_ones_changes_nothing(cartpole):
    """The legitimate corpus trains in one batched program. A program that changes process-wide
    state when executed (accepted here only by a widened policy) sits between two copies of a
    good one: the copy checked after it is exported exactly as the first, both train to the
    same result, and nothing changed in the trainer's process."""
    import dataclasses

    from eureka_jax.reward.policy import MODULES
    from eureka_jax.train import train_candidates
    from eureka_jax.train.config import TrainConfig

    modules = dict(MODULES, **{"jax.lax": MODULES["jax.lax"] | {"cos_p"}})
    wide = dataclasses.replace(
        TEST_POLICY, modules=tuple(sorted((k, frozenset(v)) for k, v in modules.items())),
        value_attributes=TEST_POLICY.value_attributes | {"def_impl"})
    evil = """
import jax.numpy as jnp
from jax import lax
lax.cos_p.def_impl(lambda x: x * 0.0 + 7.0)
def compute_reward(pole_angle):
    return jnp.cos(pole_angle), {"upright": jnp.cos(pole_angle)}
"""
    good = dict(LEGITIMATE)["helpers_hints_docstrings"]
    fns = [compile_reward(source, cartpole) for _, source in LEGITIMATE]
    first = compile_reward(good, cartpole, policy=wide)
    bad = compile_reward(evil, cartpole, policy=wide)
    again = compile_reward(good, cartpole, policy=wide)
    assert again.exported == first.exported
    config = TrainConfig(num_envs=16, unroll_length=8, num_updates=4, num_evals=2,
                         policy_hidden=(32, 32), value_hidden=(32, 32))
    result = train_candidates(cartpole, [*fns, first, bad, again], config, seeds=(0,))
    fitness = result.final_fitness()
    assert np.all(np.isfinite(fitness)), fitness
    assert fitness[-3, 0] == fitness[-1, 0]  # the good program before and after the bad one
    assert float(jnp.cos(jnp.float32(0.0))) == 1.0
