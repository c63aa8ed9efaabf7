"""The context the LLM reads: reward-free env source, description, reward inputs."""

import pytest

from eureka_jax.env import prune_reward_code

# compiles training programs or runs the CLI: not in the fast tier (-m 'not slow')
pytestmark = pytest.mark.slow

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
