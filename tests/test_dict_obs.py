"""Dict observations (Playground's robot-env convention): the policy and the value network
read the keys a task names, trained batched, saved and replayed like flat ones."""

import json
import re
from pathlib import Path

import jax
import numpy as np
import pytest

from eureka_jax.reward import compile_reward
from eureka_jax.task import load_task
from eureka_jax.train import TrainConfig, train_candidates
from eureka_jax.train.ppo import make_train
from tests.conftest import run_cli

FIXTURES = str(Path(__file__).parent / "fixtures" / "tasks")
SHORT = TrainConfig(num_envs=16, unroll_length=8, num_updates=4, num_evals=2,
                    policy_hidden=(32, 32), value_hidden=(32, 32), eval_envs=4)


def _first_layer_inputs(params):
    """Input width of the first dense layer of a brax MLP's parameters."""
    layer = params["params"]["hidden_0"]["kernel"]
    return layer.shape[0]


@pytest.mark.slow  # builds the dict-observation networks (~5 s)
def test_the_critic_reads_the_privileged_key_and_the_policy_does_not():
    task = load_task("cartpole_dict", [FIXTURES])
    fn = compile_reward(task.human_reward_source, task)
    normalizer, policy, value = jax.eval_shape(make_train(task, SHORT, [fn]).initial_params,
                                               jax.random.PRNGKey(0))
    assert _first_layer_inputs(policy) == 4  # state: the cartpole observation
    assert _first_layer_inputs(value) == 6  # privileged_state: state + the pole tip
    assert set(normalizer.mean) == {"state", "privileged_state"}  # statistics per key
    twin = load_task("cartpole_dict_twin", [FIXTURES])
    _, policy, value = jax.eval_shape(make_train(twin, SHORT, [fn]).initial_params,
                                      jax.random.PRNGKey(0))
    assert _first_layer_inputs(policy) == _first_layer_inputs(value) == 4


@pytest.mark.slow  # builds the dict-observation task's env (~5 s)
def test_an_unknown_observation_key_is_one_sentence():
    import dataclasses

    from eureka_jax.errors import EurekaError

    task = dataclasses.replace(load_task("cartpole_dict", [FIXTURES]),
                               observation_keys={"value": "camera"})
    fn = compile_reward(task.human_reward_source, task)
    with pytest.raises(EurekaError, match="not 'camera' for the value network; set "
                                          "observation_keys"):
        make_train(task, SHORT, [fn])


@pytest.mark.slow
def test_a_dict_task_trains_batched_exactly_like_its_flat_twin():
    upright = ("import jax.numpy as jnp\n\ndef compute_reward(pole_angle):\n"
               "    u = jnp.cos(pole_angle)\n    return u, {'u': u}\n")
    curves = {}
    for name, dirs in (("cartpole_dict_twin", [FIXTURES]), ("cartpole", [])):
        task = load_task(name, dirs)
        fns = [compile_reward(upright, task), compile_reward(upright.replace("cos", "sin"),
                                                              task)]
        result = train_candidates(task, fns, SHORT, seeds=[0, 1])
        assert result.curves.fitness.shape == (2, 2, SHORT.num_evals)
        curves[name] = result.curves
    for field in ("fitness", "episode_return", "episode_length", "value_loss"):
        np.testing.assert_allclose(getattr(curves["cartpole_dict_twin"], field),
                                   getattr(curves["cartpole"], field), rtol=1e-5, atol=1e-6,
                                   err_msg=field)


@pytest.mark.slow
def test_train_saves_a_dict_task_and_play_replays_it(tmp_path):
    out = run_cli("train", "task=cartpole_dict", f"task_dirs=[{FIXTURES}]", "reward=human",
                  "seeds=2", "max_iterations=2", "train.num_envs=8", "train.unroll_length=8",
                  "train.num_minibatches=2", "train.eval_envs=3", "report_video=false",
                  f"runs_dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    run = next((tmp_path / "cartpole_dict").glob("train-*"))
    meta = json.loads((run / "policies.json").read_text())
    assert meta["observation_size"] == {"privileged_state": [6], "state": [4]}
    played = run_cli("play", f"run={run}", "reward=human", "seed=1")
    assert played.returncode == 0, played.stderr
    replayed = re.search(r"fitness (\S+) \(the run recorded (\S+)\)", played.stdout)
    assert float(replayed.group(1)) == pytest.approx(float(replayed.group(2)), abs=5e-4)
    assert (run / "play" / "human-seed1.gif").stat().st_size > 1000


def test_a_playground_robot_without_its_assets_is_one_sentence_saying_how_to_get_them(
        monkeypatch):
    from mujoco_playground._src import mjx_env as playground

    from eureka_jax.env import PlaygroundTask
    from eureka_jax.errors import EurekaError

    if playground.MENAGERIE_PATH.exists():
        pytest.skip("MuJoCo Menagerie is installed here; nothing is missing")
    monkeypatch.setenv("GIT_ALLOW_PROTOCOL", "file")  # no download, even where one could work

    class Go1(PlaygroundTask):
        playground_env = "Go1JoystickFlatTerrain"

    with pytest.raises(EurekaError) as e:
        Go1()
    text = str(e.value)
    assert text.count(". ") == 0 and text.endswith(".")  # one sentence
    for part in ("needs the MuJoCo Menagerie robot models", ("downloads on first use with "
                 "internet access"), str(playground.MENAGERIE_PATH),
                 playground.MENAGERIE_COMMIT_SHA):
        assert part in text, part
    assert not playground.MENAGERIE_PATH.exists()  # no half-made copy left behind


def test_an_unknown_playground_environment_is_one_sentence():
    from eureka_jax.env import load_playground
    from eureka_jax.errors import EurekaError

    with pytest.raises(EurekaError, match="'Go2Flip' is not a MuJoCo Playground environment"):
        load_playground("Go2Flip")


def test_the_context_of_a_playground_robot_module_keeps_observations_and_drops_rewards():
    """The reward pruning works on Playground's locomotion sources (readable offline: only
    the robot models are downloaded)."""
    import inspect

    from mujoco_playground._src.locomotion.go1 import joystick

    from eureka_jax.prune import prune_reward_code

    pruned = prune_reward_code(inspect.getsource(joystick))
    assert "def _get_obs" in pruned and "privileged_state" in pruned
    assert "_reward_tracking_lin_vel" not in pruned and "def _get_reward" not in pruned
    assert "reward_config" not in pruned
