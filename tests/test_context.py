"""The context the LLM reads: reward-free env source, description, reward inputs."""

import pytest

from eureka_jax.prune import prune_reward_code

# the tests that load every task (building each environment) are slow; the pruner's are fast

UPSTREAM = '''
from mujoco_playground._src import reward
import jax.numpy as jp

class Env:
  def step(self, state, action):
    data = self.physics(state, action)
    reward = self._get_reward(data, action)  # the reward
    state.metrics["reward/upright"] = reward
    obs = self._get_obs(data)
    reward, done = jp.zeros(2)
    return State(data, obs, reward, done, {"reward/x": 1.0, "distance": 2.0})

  def _get_reward(self, data, action):
    return reward.tolerance(data.x, (0, 1))

  def _get_obs(self, data):
    """Observation."""
    return data.x
'''


def test_prune_removes_reward_code_and_keeps_the_rest():
    pruned = prune_reward_code(UPSTREAM)
    for gone in ("_get_reward", "tolerance", "import reward", "reward/"):
        assert gone not in pruned, gone
    assert "_get_obs" in pruned and '"""Observation."""' in pruned
    assert "_, done = jp.zeros(2)" in pruned
    assert "State(data, obs, 0.0, done" in pruned
    assert "'distance': 2.0" in pruned
    compile(pruned, "pruned", "exec")  # still valid Python


@pytest.mark.slow
def test_playground_context_has_no_reward_code(tasks):
    text = tasks["acrobot_swingup"].context()
    assert "_get_reward" not in text and "tolerance" not in text
    assert "def _get_obs" in text  # the upstream env is there, minus its reward
    assert "tip_to_target_distance" in text
    assert tasks["acrobot_swingup"].description.strip() in text


def test_pruned_source_always_parses_blocks_and_names_included():
    source = '''
class Env:
  def __init__(self, speed):
    if speed == 0.0:
      self._stand_reward = 1.0
    for k in range(3):
      self._reward_scale = k
    self._speed = speed

  def reset(self, rng):
    metrics = {"reward/standing": 0.0, "reward/move": 0.0}
    upright = self._upright_reward(rng)
    info = {"rng": rng, "upright": upright}
    shaped = upright * 2.0
    return State(rng, metrics, info)
'''
    pruned = prune_reward_code(source)
    compile(pruned, "pruned", "exec")
    assert "if speed == 0.0:\n            pass" in pruned
    assert "metrics = {}" in pruned  # the reward keys went, the definition stayed
    # `upright` came from a reward method: what reads it goes with it, the rest stays
    assert "upright" not in pruned and "shaped" not in pruned
    assert "info = {'rng': rng}" in pruned and "return State(rng, metrics, info)" in pruned


@pytest.mark.slow
def test_every_task_context_parses_including_a_users_playground_wrapper(tasks):
    import ast
    from pathlib import Path

    from eureka_jax.task import load_task

    walker = load_task("walker_walk", [str(Path(__file__).parent / "fixtures" / "tasks")])
    for task in [*tasks.values(), walker]:
        upstream = getattr(task.env, "upstream_source", None)
        if upstream is not None:
            ast.parse(upstream())  # the pruned upstream module is valid Python
        ast.parse((task.path / "env.py").read_text())
        assert "reward/" not in task.context(), task.name


def _reward_only_names(source: str) -> set[str]:
    """Module-level constants and helpers of an upstream env that only its reward code reads
    (read inside functions whose name mentions reward, and nowhere else): an oracle written
    apart from the pruner's own logic."""
    import ast

    tree = ast.parse(source)
    module_level = {t.id for s in tree.body if isinstance(s, ast.Assign)
                    for t in s.targets if isinstance(t, ast.Name)}
    module_level |= {s.name for s in tree.body if isinstance(s, ast.FunctionDef)}
    in_reward, elsewhere = set(), set()
    reward_nodes = {id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
                    and "reward" in f.name.lower() for n in ast.walk(f)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            (in_reward if id(node) in reward_nodes else elsewhere).add(node.id)
    return (in_reward - elsewhere) & module_level


@pytest.mark.slow
def test_no_name_only_the_upstream_reward_used_survives_pruning(tasks):
    import inspect
    import re

    from eureka_jax.env import PlaygroundTask

    checked = 0
    for task in tasks.values():
        env = getattr(task.env, "unwrapped", task.env)  # under an ActionRepeat
        if not isinstance(env, PlaygroundTask):
            continue
        upstream = inspect.getsource(inspect.getmodule(type(env.env)))
        names = _reward_only_names(upstream)
        context = task.context()
        survivors = [n for n in names if re.search(rf"\b{re.escape(n)}\b", context)]
        assert not survivors, f"{task.name}: {survivors}"
        checked += 1
    assert checked >= 3  # acrobot, cheetah, pendulum
    text = tasks["pendulum_swingup"].context()
    assert "_ANGLE_BOUND" not in text and "_COSINE_BOUND" not in text
    assert "_RUN_SPEED" not in tasks["cheetah_run"].context()


@pytest.mark.slow
def test_model_facts_give_actuator_ranges_and_the_control_period(tasks):
    cart = tasks["cartpole"].model_facts()
    assert "control period 0.02 s (50 Hz)" in cart and "10 s" in cart
    assert "push: drives slider, control range [-1, 1], motor, force/torque = 10 x control" in cart
    assert "pole: 0.1 kg" in cart
    assert "episode end: when the pole tilts more than 0.2 rad" in cart
    hand = tasks["shadow_hand_block"].model_facts()
    assert "control period 0.04 s (25 Hz)" in hand
    assert hand.count("control range [") == 20 and "position servo" in hand
    pend = tasks["pendulum_swingup"].model_facts()
    assert "force/torque = 1 x control" in pend and "damping 0.1" in pend
    assert "episode end: none before the 1000-step time limit" in pend


@pytest.mark.slow
def test_facts_that_confused_an_llm_are_stated_plainly(tasks):
    # double_pendulum: Brax's model file nudges gravity's x by 1e-05; its reset draws from a
    # helper of the base class, whose code the context now carries with the rest pose
    pend = tasks["double_pendulum"]
    facts = pend.model_facts()
    assert "gravity (0, 0, -9.81) m/s^2 (the model file sets x = 1e-05: a numerical nudge, " \
           "negligible)" in facts
    assert "gravity (0, 0, -9.81) m/s^2;" in tasks["cartpole"].model_facts()  # no nudge
    source = pend.context_source()
    helpers = source.split("# ---- helpers of the env's base class")[1]
    assert "# this model's rest pose m.qpos0 = [0, 0, 0]" in helpers
    assert "def random_data(self, rng, noise: float):" in helpers
    assert "jax.random.uniform(rng_pos, (m.nq,), minval=-noise, maxval=noise)" in helpers
    assert "def make_data(" in helpers  # random_data's own helper
    assert "reset_noise=0.1" in source  # the noise the reset passes to it
    # every MJX task folder that calls a base helper gets its source; others get none
    for name, task in tasks.items():
        own = (task.path / "env.py").read_text()
        calls = any(f"self.{n}(" in own for n in ("random_data", "physics_step", "make_data"))
        assert ("helpers of the env's base class" in task.context_source()) == calls, name


@pytest.mark.slow
def test_the_first_prompt_carries_the_budget(tasks):
    from eureka_jax.budget import budget_text
    from eureka_jax.config import load_config
    from eureka_jax.llm.prompts import Prompts
    from eureka_jax.train.config import training_settings

    task = tasks["pendulum_swingup"]
    cfg = load_config(["task=pendulum_swingup", "seeds=2"])
    config, _ = training_settings(cfg, task)
    budget = budget_text(task, config, cfg.seeds, cfg.select)
    assert "819,200 environment steps" in budget and "2 seed(s)" in budget
    assert "6.4 full-length episodes of 1000 steps" in budget and "20 checkpoints" in budget
    user = Prompts().initial(task, budget)[1]["content"]
    assert budget.strip() in user and "Physical model" in user
