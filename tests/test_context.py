"""The context the LLM reads: reward-free env source, description, reward inputs."""

from eureka_jax.env import prune_reward_code

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
