"""Eureka's nine Isaac Gym tasks as eureka-jax tasks (issue 28): the two new MJX models, the
three Playground counterparts (offline: their contexts, and the one sentence when their
robot models cannot be downloaded), Eureka's metrics as fitness (``episode_mean``),
baseline-only reward inputs, ``action_repeat``, and ``eureka-jax benchmark``."""

import ast
import inspect
import json
from dataclasses import replace

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from eureka_jax.cli import main
from eureka_jax.env import ActionRepeat
from eureka_jax.errors import EurekaError
from eureka_jax.prune import prune_reward_code
from eureka_jax.reward import RewardError, compile_reward
from eureka_jax.task import list_tasks, load_task

EUREKA_TASKS = {"cartpole": "Cartpole", "ball_balance": "BallBalance",
                "quadcopter": "Quadcopter", "go1_joystick": "Anymal", "ant": "Ant",
                "humanoid": "Humanoid", "franka_cabinet": "FrankaCabinet",
                "shadow_hand_block": "ShadowHand", "leap_reorient": "AllegroHand"}
PLAYGROUND = {"franka_cabinet": "PandaOpenCabinet", "go1_joystick": "Go1JoystickFlatTerrain",
              "leap_reorient": "LeapCubeReorient"}
MODULES = {"franka_cabinet": "mujoco_playground._src.manipulation.franka_emika_panda.open_cabinet",
           "go1_joystick": "mujoco_playground._src.locomotion.go1.joystick",
           "leap_reorient": "mujoco_playground._src.manipulation.leap_hand.reorient"}
CLASSES = {"franka_cabinet": "PandaOpenCabinet", "go1_joystick": "Joystick",
           "leap_reorient": "CubeReorient"}


def test_the_nine_eureka_tasks_are_listed_with_eurekas_metric(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("│ ") and " │ " in line]
    first = {line.split("│")[1].strip(): i for i, line in enumerate(rows)
             if line.split("│")[1].strip()}
    for name, eureka in EUREKA_TASKS.items():  # a task's row may wrap onto further lines
        i = first[name]
        end = min([j for j in first.values() if j > i] or [len(rows)])
        cell = " ".join(" ".join(r.split("│")[-2].split()) for r in rows[i:end])
        simulator = " ".join(" ".join(r.split("│")[2].split()) for r in rows[i:end])
        assert cell.startswith(f"{eureka}:"), cell
        assert ("(needs Menagerie)" in simulator) == (name in PLAYGROUND), simulator
    for name, eureka in EUREKA_TASKS.items():
        task = load_task(name)
        assert task.eureka["task"] == eureka and task.eureka["differs"]
        assert "eureka/envs/isaac/" in task.eureka["metric"]  # where the metric is defined
        assert task.train_gpu, f"{name} has no train_gpu profile"


def test_eureka_metric_scales_and_aggregates():
    assert load_task("cartpole").eureka["scale"] == 500  # episode length in steps
    assert load_task("ball_balance").eureka["scale"] == 500
    quad = load_task("quadcopter")
    assert (quad.fitness_input, quad.fitness_aggregate) == ("neg_target_distance", "episode_mean")
    go1 = load_task("go1_joystick")
    assert (go1.fitness_input, go1.fitness_aggregate) == ("neg_velocity_error", "episode_mean")
    assert load_task("leap_reorient").fitness_aggregate == "sum"


def test_episode_mean_divides_by_the_episodes_own_length():
    from eureka_jax.train.ppo import episode_fitness

    fit, length = jnp.array([-10.0, -3.0]), jnp.array([20.0, 3.0])
    quad = load_task("quadcopter")
    np.testing.assert_allclose(episode_fitness(quad)(fit, length), [-0.5, -1.0])
    cart = load_task("cartpole")  # "mean": over the maximum length, time after a fall is 0
    np.testing.assert_allclose(episode_fitness(cart)(fit, length), [-10 / 500, -3 / 500])


def test_an_unknown_aggregate_or_eureka_block_is_one_sentence(tmp_path):
    from eureka_jax.task import _load_folder

    folder = tmp_path / "t"
    folder.mkdir()
    for f in ("env.py", "human_reward.py"):
        (folder / f).write_text("")
    (folder / "task.yaml").write_text(
        "description: x\nepisode_length: 10\nfitness: {input: a, aggregate: median}\n")
    with pytest.raises(EurekaError, match="episode_mean"):
        _load_folder(folder)
    (folder / "task.yaml").write_text(
        "description: x\nepisode_length: 10\nfitness: {input: a}\neureka: {task: X}\n")
    with pytest.raises(EurekaError, match="needs a task .* and a metric"):
        _load_folder(folder)
    (folder / "task.yaml").write_text(
        "description: x\nepisode_length: 10\nfitness: {input: a}\naction_repeat: 3\n")
    with pytest.raises(EurekaError, match="divides episode_length"):
        _load_folder(folder)


def test_the_new_models_have_isaacgymenvs_masses_and_dimensions():
    from eureka_jax.task import _import_file

    bb = _import_file(load_task("ball_balance").path / "env.py", "bb_facts")
    m = mujoco.MjModel.from_xml_string(bb.XML)
    assert m.body("tray").mass[0] == pytest.approx(100 * np.pi * 0.5**2 * 0.02, rel=1e-3)
    assert m.body("ball").mass[0] == pytest.approx(200 * 4 / 3 * np.pi * 0.1**3, rel=1e-3)
    assert m.nu == 3 and m.geom("tray").size[0] == 0.5
    quad = _import_file(load_task("quadcopter").path / "env.py", "quad_facts")
    m = mujoco.MjModel.from_xml_string(quad.XML)
    assert m.nu == 12 and m.njnt == 9  # free joint + 4 x (pitch, roll)
    assert m.body_subtreemass[m.body("chassis").id] == pytest.approx(0.2515, abs=2e-3)
    assert (m.actuator_ctrlrange[8:] == [0.0, 2.0]).all()  # thrust in [0, 2] N per rotor


@pytest.fixture(scope="module")
def new_tasks():
    return {name: load_task(name) for name in ("ball_balance", "quadcopter")}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ball_balance", "quadcopter"])
def test_new_tasks_step_stably_and_end_as_isaacgymenvs(new_tasks, name):
    """Random actions on 16 envs x 5 seeds: finite everywhere before termination, and every
    episode ends the IsaacGymEnvs way (the ball on the ground; the craft away or low)."""
    task = new_tasks[name]
    for seed in range(5):
        inputs, steps = task.random_rollout(jax.random.PRNGKey(seed), 16, 150)
        done = np.asarray(steps["done"]) > 0
        first = done.argmax(0)
        obs = np.asarray(steps["obs"])
        for env in range(16):
            upto = first[env] if done[:, env].any() else len(done)
            assert np.isfinite(obs[: upto + 1, env]).all(), (seed, env)
        ended = done.any(0)
        assert ended.sum() >= 12, "a random policy should mostly fail within 1.5 s"
        envs = np.flatnonzero(ended)
        if name == "ball_balance":
            z = np.asarray(inputs["ball_position"])[..., 2]
            assert (z[first[envs], envs] < 0.15).all()
        else:
            d = np.asarray(inputs["target_distance"])[first[envs], envs]
            h = np.asarray(inputs["position"])[..., 2][first[envs], envs]
            assert ((d > 3.0) | (h < 0.3)).all()
    for src in (task.human_reward_source, task.sparse_reward_source):
        compile_reward(src, task)


@pytest.mark.parametrize("name", sorted(PLAYGROUND))
def test_playground_counterparts_show_a_pruned_source_offline(name):
    import importlib

    task = load_task(name)
    assert task.needs == ["menagerie"] and task.baseline_inputs == ("playground_reward",)
    module = importlib.import_module(MODULES[name])
    pruned = prune_reward_code(inspect.getsource(module))
    ast.parse(pruned)
    assert f"class {CLASSES[name]}(" in pruned and "reward" not in pruned.lower()
    adapter = (task.path / "env.py").read_text()
    ast.parse(adapter)
    assert f'playground_env = "{PLAYGROUND[name]}"' in adapter


def test_playground_counterparts_stop_in_one_sentence_without_menagerie():
    from mujoco_playground._src import mjx_env as playground

    if playground.MENAGERIE_PATH.exists():
        pytest.skip("MuJoCo Menagerie is installed here; nothing is missing")
    with pytest.raises(EurekaError, match="needs the MuJoCo Menagerie robot models"):
        _ = load_task("go1_joystick").reward_input_specs


@pytest.fixture(scope="module")
def cartpole():
    return load_task("cartpole")


@pytest.mark.slow
def test_baseline_inputs_are_hidden_from_the_llm_and_refused_to_searched_rewards(cartpole):
    task = replace(cartpole, baseline_inputs=("alive",))
    assert "- alive:" not in task.context() and "- pole_angle:" in task.context()
    source = "def compute_reward(alive):\n    return alive, {'alive': alive}\n"
    compile_reward(source, task)  # the baselines may read it
    with pytest.raises(RewardError, match="'alive', which is not a reward input"):
        compile_reward(source, task, public_only=True)


@pytest.mark.slow
def test_action_repeat_holds_the_action_and_stops_at_termination(cartpole):
    env = cartpole.env
    twice = ActionRepeat(env, 2)
    state = jax.jit(env.reset)(jax.random.PRNGKey(0))
    action = jnp.array([0.7])
    step, step_twice = jax.jit(env.step), jax.jit(twice.step)  # eager MJX steps are slow
    expected = step(step(state, action), action)
    got = step_twice(state, action)
    np.testing.assert_allclose(got.data.qpos, expected.data.qpos, rtol=1e-6, atol=1e-7)
    assert twice.dt == pytest.approx(2 * env.dt) and twice.action_size == env.action_size
    # a pole past the limit terminates on the first inner step; the second must not move it
    fallen = state.replace(data=state.data.replace(qpos=jnp.array([0.0, 0.5])))
    after_one = step(fallen, action)
    assert after_one.done == 1.0
    np.testing.assert_allclose(step_twice(fallen, action).data.qpos, after_one.data.qpos)


def test_action_repeat_from_task_yaml_sets_the_horizon_and_the_model_facts(tmp_path):
    """pendulum_swingup with Playground's action_repeat 4: 250 policy steps of 0.08 s."""
    import shutil

    folder = tmp_path / "pendulum_swingup"
    shutil.copytree(load_task("pendulum_swingup").path, folder)
    spec = (folder / "task.yaml").read_text()
    (folder / "task.yaml").write_text(spec + "\naction_repeat: 4\n")
    from eureka_jax.task import _load_folder

    task = _load_folder(folder)
    assert task.action_repeat == 4 and task.episode_length == 250
    assert isinstance(task.env, ActionRepeat)
    facts = task.model_facts()
    assert "0.08 s" in facts and "250-step time limit" in facts


@pytest.mark.slow
def test_benchmark_runs_a_suite_and_resumes(tmp_path, capsys, monkeypatch):
    """cartpole's baselines at a tiny budget, go1_joystick reported as skipped offline (tried
    again on resume), the table with Eureka's units, the published-number column and a PNG."""
    from mujoco_playground._src import mjx_env as playground

    monkeypatch.setenv("COLUMNS", "400")
    args = ["benchmark", "tasks=cartpole,go1_joystick", "num_eval=2", "max_iterations=20",
            "train.num_evals=2", f"runs_dir={tmp_path}"]
    assert main(args) == 0
    out = capsys.readouterr().out
    run = next(tmp_path.glob("benchmark-eureka/cpu-*"))
    table = (run / "suite.md").read_text()
    assert (run / "suite.png").stat().st_size > 1000
    row = next(line for line in table.splitlines() if line.startswith("| cartpole "))
    evaluation = json.loads((run / "cartpole" / "evaluation.json").read_text())
    human = evaluation["rewards"]["human"]
    assert len(human["fitness_per_seed"]) == 2
    assert f"{500 * human['mean']:.3g} ± " in row  # Eureka's units: episode length in steps
    assert "not published" in row and "Cartpole" in row
    if not playground.MENAGERIE_PATH.exists():
        skipped = next(line for line in table.splitlines() if line.startswith("| go1_joystick "))
        assert "skipped: " in skipped and "Menagerie" in skipped
        assert not (run / "go1_joystick" / "evaluation.json").exists()
    assert "83%" in table  # the suite-wide result Eureka's README states, cited
    assert main(["benchmark", "tasks=cartpole", f"resume={run}"]) == 0
    assert "cartpole: done in an earlier run of this suite (read back)" in capsys.readouterr().out
    assert "table:" in out


def test_benchmark_refuses_tasks_outside_the_suite(capsys):
    assert main(["benchmark", "tasks=pendulum_swingup"]) == 2
    assert "not in suite eureka" in capsys.readouterr().err


def test_every_suite_task_exists():
    from eureka_jax.benchmark import load_suite

    suite = load_suite("eureka")
    assert {t["task"] for t in suite["tasks"]} == set(EUREKA_TASKS)
    assert set(EUREKA_TASKS) <= set(list_tasks())
