"""The Isaac Gym bridge, everything but Isaac Gym itself: the Python-3.8 runtime (DLPack
adapter, VecTask mixin), the task-file context, the TensorBoard log reader (both real
layouts), the launcher's command lines and GPU slots, and whole trainings, curriculum
hand-offs and the final evaluation through a stand-in interpreter: the conformance
environment's Python (JAX 0.4.13, real rl_games 1.6.5 and hydra, torch CPU;
tests/conformance_env.py) running our real entry script against a stand-in isaacgym package
and an isaacgymenvs hydra app in IsaacGymEnvs' layout (tests/fixtures/isaacgym). The runtime
under JAX 0.4.13 and the command line are in test_isaacgym_conformance.py."""

import ast
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from eureka_jax.bridges.isaacgym import IsaacGymTask, load_isaacgym_task
from eureka_jax.bridges.isaacgym.backend import IsaacGymBackend
from eureka_jax.bridges.isaacgym.context import build_context
from eureka_jax.bridges.isaacgym.jobs import Job, assign_gpus, command_line, reward_spec
from eureka_jax.bridges.isaacgym.logs import curves_from_scalars, read_scalars
from eureka_jax.bridges.isaacgym.tasks import RUNTIME_DIR
from eureka_jax.config import load_config
from eureka_jax.curriculum import parse_curriculum, run_curriculum
from eureka_jax.errors import EurekaError
from eureka_jax.evaluate import evaluate
from eureka_jax.reward import compile_reward
from eureka_jax.reward.policy import DEFAULT_POLICY
from eureka_jax.train import TrainConfig
from eureka_jax.train.config import TrainingRequest
from tests.conftest import run_cli

sys.path.insert(0, str(RUNTIME_DIR))
import eureka_ig_runtime as runtime

from tests.isaacgym_standin import ISAACGYMENVS, StandInVecTask, write_interpreter

REWARD = """
import jax.numpy as jnp

def compute_reward(object_rot, goal_rot, fingertip_pos, object_pos, actions):
    align = jnp.abs(jnp.sum(object_rot * goal_rot))
    reach = -jnp.mean(jnp.linalg.norm(fingertip_pos - object_pos, axis=-1))
    effort = -0.01 * jnp.sum(actions ** 2)
    return align + reach + effort, {"align": align, "reach": reach, "effort": effort}
"""
# a valid program for the task spec that needs an attribute the stand-in task lacks
NEEDS_DOF_VEL = """
import jax.numpy as jnp

def compute_reward(shadow_hand_dof_vel):
    calm = -jnp.sum(shadow_hand_dof_vel ** 2)
    return calm, {"calm": calm}
"""


# valid for the spec; the task has the attribute only with observationType full_state
NEEDS_FORCES = """
import jax.numpy as jnp

def compute_reward(dof_force_tensor):
    calm = -jnp.sum(dof_force_tensor ** 2)
    return calm, {"calm": calm}
"""
# a reward that also reads a shared (non-per-env) input
WITH_LIMITS = """
import jax.numpy as jnp

def compute_reward(shadow_hand_dof_pos, shadow_hand_dof_lower_limits, shadow_hand_dof_upper_limits):
    mid = 0.5 * (shadow_hand_dof_lower_limits + shadow_hand_dof_upper_limits)
    centred = -jnp.mean((shadow_hand_dof_pos - mid) ** 2)
    return centred, {"centred": centred}
"""


@pytest.fixture(scope="module")
def task():
    return load_isaacgym_task("ShadowHand", str(ISAACGYMENVS))


@pytest.fixture(scope="module")
def reward_fn(task):
    return compile_reward(REWARD, task)


def batch(task, n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = {name: torch.randn((n, *shape), generator=g) for name, shape in task.inputs.items()}
    return {**out, **{name: torch.randn(shape, generator=g)
                      for name, shape in task.shared_inputs.items()}}


# ---- the runtime (runs in the Isaac Gym interpreter) -------------------------------------


def test_runtime_is_python38_compatible():
    out = subprocess.run([str(Path(sys.executable).with_name("vermin")), "-t=3.8-", "--no-tips",
                          "--violations", "--eval-annotations", str(RUNTIME_DIR)],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Detecting python files" in out.stdout  # vermin really looked at the files
    files = sorted(RUNTIME_DIR.glob("*.py"))
    assert [f.name for f in files] == ["eureka_ig_doctor.py", "eureka_ig_runtime.py",
                                       "eureka_ig_train.py"]


def test_runtime_imports_nothing_of_eureka_jax():
    allowed = {"builtins", "json", "sys", "os", "importlib", "runpy", "traceback", "types", "yaml",
               "jax", "torch", "hydra", "rl_games", "importlib_metadata", "isaacgym",
               "isaacgymenvs", "eureka_ig_runtime"}
    for path in RUNTIME_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


@pytest.mark.slow
def test_isaac_gym_is_imported_before_torch(tmp_path, conformance_python):
    # the stand-in keeps Isaac Gym's rule (isaacgym/gymdeps.py): torch first is an ImportError
    python = write_interpreter(tmp_path / "python", conformance_python)
    env = {**os.environ, "PYTHONPATH": str(RUNTIME_DIR)}
    wrong = subprocess.run([str(python), "-c", ("import eureka_ig_runtime\n"
                            "from isaacgym import gymapi")], env=env, capture_output=True,
                           text=True, check=False)
    assert wrong.returncode != 0
    assert "PyTorch was imported before isaacgym modules" in wrong.stderr
    # our entry script imports gymapi before its runtime: it gets as far as its usage text
    right = subprocess.run([str(python), str(RUNTIME_DIR / "eureka_ig_train.py")], env=env,
                           capture_output=True, text=True, check=False)
    assert right.returncode == 2 and "REWARD_JSON TASK" in right.stderr, right.stderr
    first = next(n for n in ast.parse((RUNTIME_DIR / "eureka_ig_train.py").read_text()).body
                 if isinstance(n, (ast.Import, ast.ImportFrom)))
    assert isinstance(first, ast.ImportFrom) and first.module == "isaacgym"


@pytest.mark.slow
def test_adapter_equals_jax_and_shares_memory(task, reward_fn):
    reward = runtime.TorchReward.from_spec(reward_spec(reward_fn, task))
    inputs = batch(task)
    total, comps = reward(inputs)
    assert isinstance(total, torch.Tensor) and total.shape == (64,)
    expected_total, expected = jax.vmap(reward_fn)({k: jnp.asarray(v.numpy())
                                                    for k, v in inputs.items()
                                                    if k in task.inputs})
    np.testing.assert_allclose(total.numpy(), np.asarray(expected_total), rtol=1e-5, atol=1e-6)
    for name in ("align", "reach", "effort"):
        np.testing.assert_allclose(comps[name].numpy(), np.asarray(expected[name]), rtol=1e-5,
                                   atol=1e-6)
    # zero copy both ways: the same buffer, not a copy
    t = inputs["object_rot"]
    assert runtime.torch_to_jax(t).unsafe_buffer_pointer() == t.data_ptr()
    x = jnp.arange(12.0).reshape(3, 4)
    assert runtime.jax_to_torch(x).data_ptr() == x.unsafe_buffer_pointer()


@pytest.mark.slow
def test_shared_inputs_are_passed_unbatched(task):
    fn = compile_reward(WITH_LIMITS, task)
    spec = reward_spec(fn, task)
    assert spec["shared_names"] == ["shadow_hand_dof_lower_limits",
                                    "shadow_hand_dof_upper_limits"]
    inputs = batch(task)  # limits: [24], no env axis (as the task holds them)
    total, _ = runtime.TorchReward.from_spec(spec)(inputs)
    lo, hi = (jnp.asarray(inputs[n].numpy()) for n in ("shadow_hand_dof_lower_limits",
                                                       "shadow_hand_dof_upper_limits"))
    want, _ = jax.vmap(fn, in_axes=({"shadow_hand_dof_pos": 0,
                                     "shadow_hand_dof_lower_limits": None,
                                     "shadow_hand_dof_upper_limits": None},))(
        {"shadow_hand_dof_pos": jnp.asarray(inputs["shadow_hand_dof_pos"].numpy()),
         "shadow_hand_dof_lower_limits": lo, "shadow_hand_dof_upper_limits": hi})
    np.testing.assert_allclose(total.numpy(), np.asarray(want), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_runtime_allows_exactly_the_policys_modules_and_builtins(task, reward_fn):
    spec = reward_spec(reward_fn, task)
    assert set(spec["modules"]) == DEFAULT_POLICY.imports  # one allowlist, sent with the reward
    assert set(spec["builtins"]) == DEFAULT_POLICY.builtins

    def load(source):
        return runtime.load_function(source, "f", spec["modules"], spec["builtins"])

    with pytest.raises(ImportError, match="may import only jax, jax.lax, jax.nn"):
        load("import os\ndef f(a):\n    return a\n")
    with pytest.raises(NameError):  # no open() in the namespace
        load("def f(a):\n    return a\nopen('x')\n")
    # print passes eureka-jax's checks (its output is dropped there): here too
    assert load("def f(a):\n    print(a)\n    return a\n")(3) == 3
    # what the checker accepts binds as Python binds it
    f = load("import jax.lax\nfrom typing import Tuple\nfrom jax import nn\n"
             "def f(a) -> Tuple[float, float]:\n"
             "    return jax.lax.max(a, 0.0), str(sum(map(float, filter(None, [a, 1.0]))))\n")
    assert float(f(jnp.float32(2.0))[0]) == 2.0 and f(2.0)[1] == "3.0"


@pytest.mark.slow
def test_mixin_replaces_the_reward_adds_the_goal_bonus_and_logs(task, reward_fn):
    spec = reward_spec(reward_fn, task)
    assert (spec["success_bonus"], spec["success_event"]) == ("reach_goal_bonus",
                                                              "reset_goal_buf")
    reward = runtime.TorchReward.from_spec(spec)
    cls = runtime.from_spec(StandInVecTask, spec)
    env = cls()
    actions = torch.randn(64, 20, generator=torch.Generator().manual_seed(1))
    for _ in range(3):  # the 3rd step reaches a goal in half the envs
        env.compute_reward(actions)
    inputs = {**{k: getattr(env, k) for k in ("object_rot", "goal_rot", "fingertip_pos",
                                              "object_pos")}, "actions": actions}
    total, comps = reward(inputs)
    reached = env.reset_goal_buf.float()
    assert reached.sum() == 32
    torch.testing.assert_close(env.rew_buf, total + 250.0 * reached)  # Eureka's bonus
    assert float(env.extras["gpt_reward"]) == pytest.approx(float(total.mean()))  # LLM's alone
    assert float(env.extras["eureka/total"]) == pytest.approx(float(total.mean()))
    assert float(env.extras["eureka/success_bonus"]) == pytest.approx(125.0)
    assert float(env.extras["gt_reward"]) == -1.0
    assert float(env.extras["consecutive_successes"]) == 0.5  # the task's bookkeeping ran
    for name in ("align", "reach", "effort"):
        assert float(env.extras[f"eureka/{name}"]) == pytest.approx(float(comps[name].mean()))
    assert cls.__name__ == "StandInVecTask" and issubclass(cls, StandInVecTask)

    human = runtime.from_spec(StandInVecTask, reward_spec(load_isaacgym_task(
        "ShadowHand").baseline_rewards()[0], task))()
    sparse = runtime.from_spec(StandInVecTask, reward_spec(load_isaacgym_task(
        "ShadowHand").baseline_rewards()[1], task))()
    for env in (human, sparse):
        for _ in range(3):
            env.compute_reward(actions)
    assert (human.rew_buf == -1.0).all()  # the task's own reward
    torch.testing.assert_close(sparse.rew_buf, sparse.reset_goal_buf.float())  # goals reached

    strict = runtime.with_eureka_reward(
        StandInVecTask, runtime.TorchReward.from_spec(
            reward_spec(compile_reward(NEEDS_DOF_VEL, task), task)))
    with pytest.raises(AttributeError, match="'shadow_hand_dof_vel' is not an attribute"):
        strict().compute_reward(actions)


# ---- our side: context, logs, launcher -----------------------------------------------------

def test_context_keeps_the_observations_and_drops_the_reward_and_its_constants():
    ctx = build_context(ISAACGYMENVS / "tasks" / "shadow_hand.py", "ShadowHand")
    for kept in ("def compute_observations", "def compute_full_state", "self.object_pose =",
                 "self.fingertip_state =", "def quat_mul", "def unscale"):
        assert kept in ctx.source, kept
    # the reward, what scores it, and the hyperparameters __init__ reads for it: all gone
    for gone in ("compute_hand_reward", "reach_goal_bonus", "fall_penalty",
                 "action_penalty_scale", "dist_reward_scale", "rot_reward_scale",
                 "success_tolerance", "def __init__", "def reset_idx", "def pre_physics_step",
                 "def simulate", "import torch"):
        assert gone not in ctx.source, gone
    assert ctx.attributes["object_pos"] == "self.root_state_tensor[self.object_indices, 0:3]"
    assert "root_state_tensor" in ctx.observation_attributes
    with pytest.raises(EurekaError, match="no class Missing"):
        build_context(ISAACGYMENVS / "tasks" / "shadow_hand.py", "Missing")


def _write_run(log_dir, layout, epochs=10, per_epoch=100, frame0=0, with_fitness=True):
    """TensorBoard events as rl_games + the IsaacGymEnvs observer (``layout="isaacgymenvs"``)
    or Eureka's observer (``"eureka"``) write them, for a fitness that rises and dips: epoch
    e's values at the frame counter from before that epoch, as rl_games logs them."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(log_dir / "summaries"))
    fitness = [0, 1, 3, 6, 9, 7, 8, 8.5, 8, 8.2][:epochs]
    for epoch in range(1, epochs + 1):
        frame = frame0 + (epoch - 1) * per_epoch
        writer.add_scalar("info/epochs", epoch, frame)
        if epoch >= 2:  # rl_games logs returns once an episode has finished
            writer.add_scalar("rewards/step", 10.0 * epoch, frame)
            writer.add_scalar("rewards/iter", 10.0 * epoch, epoch)
            writer.add_scalar("episode_lengths/step", 50.0, frame)
            writer.add_scalar("episode_lengths/iter", 50.0, epoch)
        extras = {"eureka/align": 0.5, "gt_reward": -1.0}
        if with_fitness:
            extras["consecutive_successes"] = fitness[epoch - 1]
        for key, value in extras.items():
            if layout == "eureka":
                writer.add_scalar(key, value, epoch)
            else:
                writer.add_scalar(f"{key}/frame", value, frame)
                writer.add_scalar(f"{key}/iter", value, epoch)
                writer.add_scalar(f"{key}/time", value, 0.1 * epoch)
    writer.close()


@pytest.mark.parametrize("layout", ["isaacgymenvs", "eureka"])
def test_log_reader_reads_both_real_layouts(tmp_path, layout):
    _write_run(tmp_path, layout)
    curves = curves_from_scalars(read_scalars(tmp_path), 5, ("align", "missing"))
    np.testing.assert_allclose(curves.env_steps, [200, 400, 600, 800, 1000])
    np.testing.assert_allclose(curves.fitness, [1, 6, 7, 8.5, 8.2])  # last value at/before
    assert float(curves.peak_fitness) == 9.0  # Eureka's: the max of the raw series
    np.testing.assert_allclose(curves.episode_return, [20, 40, 60, 80, 100])
    np.testing.assert_allclose(curves.episode_length, 50.0)
    np.testing.assert_allclose(curves.components[:, 0], 0.5)
    assert np.isnan(curves.components[:, 1]).all()  # a component that was never logged
    assert not bool(curves.failed)


def test_log_reader_maps_epochs_of_a_fine_tuning_run_to_frames(tmp_path):
    # Eureka's rl_games restores the frame counter from a checkpoint, not the epoch
    _write_run(tmp_path, "eureka", frame0=5000)
    curves = curves_from_scalars(read_scalars(tmp_path), 2, ())
    np.testing.assert_allclose(curves.env_steps, [5500, 6000])
    np.testing.assert_allclose(curves.fitness, [9, 8.2])


def test_log_reader_says_when_the_fitness_was_never_logged(tmp_path):
    _write_run(tmp_path, "isaacgymenvs", with_fitness=False)
    with pytest.raises(EurekaError, match="logged no 'consecutive_successes'.*success_attr"):
        curves_from_scalars(read_scalars(tmp_path), 4, ())


def test_gpu_slots_and_command_lines(tmp_path, monkeypatch):
    jobs = [Job(f"c{i}", i, 0, tmp_path / "r.json", tmp_path) for i in range(5)]
    waves = assign_gpus(jobs, [0, 1], per_gpu=2)
    assert [[j.gpu for j in w] for w in waves] == [[0, 1, 0, 1], [0]]
    monkeypatch.setenv("PYTHONPATH", "/users/own/path")
    pen = load_isaacgym_task("ShadowHandPenReorient", str(ISAACGYMENVS))
    argv, env = command_line(waves[1][0], pen, "/opt/ig/bin/python", 1500, num_envs=4096)
    assert argv[:4] == ["/opt/ig/bin/python", str(RUNTIME_DIR / "eureka_ig_train.py"),
                        str(tmp_path / "r.json"), "ShadowHand"]
    for part in ("headless=True", "seed=0", "max_iterations=1500", "num_envs=4096",
                 "task.env.objectType=pen", "sim_device=cuda:0"):
        assert part in argv
    # runtime, then the IsaacGymEnvs the LLM was shown, then the user's own path
    assert env == {"CUDA_VISIBLE_DEVICES": "0", "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
                   "HYDRA_FULL_ERROR": "1", "PYTHONPATH": os.pathsep.join(
                       [str(RUNTIME_DIR), str(ISAACGYMENVS.parent), "/users/own/path"])}
    # Eureka's copy defaults ShadowHand to the pen: the block task says block
    block, _ = command_line(waves[1][0], load_isaacgym_task("ShadowHand"), "py", 10)
    assert "task.env.objectType=block" in block


def test_num_envs_that_rl_games_cannot_split_are_refused_up_front(task):
    # the stand-in's ShadowHandPPO.yaml: horizon_length 4, minibatch_size 32
    with pytest.raises(EurekaError, match="multiple of 8") as e:
        task.check_num_envs(12)
    assert str(e.value).count(". ") == 0 and "such as 16." in str(e.value)  # one sentence
    task.check_num_envs(16)
    task.check_num_envs(None)  # the task YAML's default, 16


# ---- whole trainings through the stand-in interpreter -------------------------------------

@pytest.fixture
def standin(tmp_path, conformance_python):
    return write_interpreter(tmp_path / "standin_isaacgym_python", conformance_python)


def _calls(root):
    return [json.loads(p.read_text()) for p in sorted(Path(root).rglob("standin_call.json"))]


@pytest.mark.slow
def test_backend_trains_through_the_interpreter_and_reports_crashes(tmp_path, standin, task,
                                                                    reward_fn, monkeypatch):
    monkeypatch.setenv("STANDIN_RL_GAMES", "isaacgymenvs")
    cfg = load_config([f"isaacgym.python={standin}", f"isaacgym.isaacgymenvs={ISAACGYMENVS}",
                       "isaacgym.gpus=[2,3]", "max_iterations=6"])
    backend = IsaacGymBackend(cfg, tmp_path / "work")
    # without full_state observations the task has no force tensors (as IsaacGymEnvs')
    task = dataclasses.replace(task, overrides=[*task.overrides,
                                                "task.env.observationType=full"])
    crashing = compile_reward(NEEDS_FORCES, task)
    config = TrainConfig(num_updates=6, num_evals=3)
    result = backend.train_candidates(task, [reward_fn, crashing], config, seeds=[0, 1],
                                      labels=["good", "crash"])
    assert result.curves.fitness.shape == (2, 2, 3)
    assert result.curves.components.shape == (2, 2, 3, 3)
    assert not result.curves.failed[0].any() and result.curves.failed[1].all()
    # 16 envs x horizon 4 = 64 frames per epoch, 6 epochs
    np.testing.assert_allclose(result.curves.env_steps[0, 0], [128, 256, 384])
    assert np.isfinite(result.curves.fitness[0]).all()
    # rl_games logs returns once an episode has finished (20 steps = 5 epochs here)
    assert np.isfinite(result.curves.episode_return[0, :, -1]).all()
    np.testing.assert_allclose(result.max_fitness()[0], result.curves.peak_fitness[0])
    assert (result.max_fitness()[0] >= np.nanmax(result.curves.fitness[0], -1)).all()
    assert "AttributeError" in result.errors[1] and "dof_force_tensor" in result.errors[1]
    calls = _calls(tmp_path / "work")
    assert sorted(c["CUDA_VISIBLE_DEVICES"] for c in calls) == ["2", "2", "3", "3"]
    assert {c["XLA_PYTHON_CLIENT_PREALLOCATE"] for c in calls} == {"false"}
    assert {c["HYDRA_FULL_ERROR"] for c in calls} == {"1"}
    assert {c["object_type"] for c in calls} == {"block"}  # not the YAML's pen
    # IsaacGymEnvs built our subclass (the mixin first), not the plain task
    assert {c["mixin"][1] for c in calls} == {"EurekaRewardMixin"}
    assert {c["found_in"] for c in calls} == {"isaacgym_task_map"}
    scalars = read_scalars(next((tmp_path / "work").rglob("good_seed0")))
    assert {"gpt_reward/frame", "eureka/align/frame", "eureka/success_bonus/frame",
            "consecutive_successes/frame"} <= set(scalars)


@pytest.mark.slow
def test_eurekas_copy_of_isaacgymenvs_finds_our_class_and_its_logs_read(tmp_path, standin,
                                                                       task, reward_fn,
                                                                       monkeypatch):
    # Eureka's env creator imports isaacgymenvs.tasks.<env_name> and takes the class from it;
    # its observer writes bare keys by epoch
    monkeypatch.setenv("STANDIN_RL_GAMES", "eureka")
    cfg = load_config([f"isaacgym.python={standin}", f"isaacgym.isaacgymenvs={ISAACGYMENVS}",
                       "max_iterations=5"])
    result = IsaacGymBackend(cfg, tmp_path / "work").train_candidates(
        task, [reward_fn], TrainConfig(num_updates=5, num_evals=5), seeds=[3])
    assert not result.errors and not result.curves.failed.any()
    np.testing.assert_allclose(result.curves.env_steps[0, 0], [64, 128, 192, 256, 320])
    assert np.isfinite(result.curves.fitness[0, 0]).all()
    assert np.isfinite(result.curves.components[0, 0]).all()
    assert np.isfinite(result.curves.episode_return[0, 0, -1])
    (call,) = _calls(tmp_path / "work")
    assert call["found_in"] == "isaacgymenvs.tasks.shadow_hand"  # not the task map
    assert call["mixin"][1] == "EurekaRewardMixin"
    assert "consecutive_successes" in read_scalars(tmp_path / "work")  # the bare layout


@pytest.mark.slow
def test_a_task_without_a_success_metric_fails_its_candidate_not_the_search(tmp_path, standin,
                                                                          monkeypatch):
    # like upstream IsaacGymEnvs' Cartpole: no consecutive_successes in its extras
    monkeypatch.setenv("STANDIN_RL_GAMES", "isaacgymenvs")
    cartpole = IsaacGymTask(name="Cartpole", task_class="Cartpole", description="balance",
                            inputs={"dof_pos": [2], "actions": [1]},
                            task_file="tasks/cartpole.py", isaacgymenvs=str(ISAACGYMENVS),
                            success_attr="no_such_metric")
    fn = compile_reward("def compute_reward(dof_pos):\n    up = -dof_pos[1] ** 2\n"
                        "    return up, {'up': up}\n", cartpole)
    cfg = load_config([f"isaacgym.python={standin}", f"isaacgym.isaacgymenvs={ISAACGYMENVS}",
                       "max_iterations=2"])
    result = IsaacGymBackend(cfg, tmp_path / "work").train_candidates(
        cartpole, [fn], TrainConfig(num_updates=2, num_evals=2), seeds=[0])
    assert result.curves.failed.all()
    assert "logged no 'consecutive_successes'" in result.errors[0]


@pytest.mark.slow
@pytest.mark.parametrize("flavour", ["isaacgymenvs", "eureka"])
def test_curriculum_hands_the_checkpoint_to_stage_two(tmp_path, standin, monkeypatch, flavour):
    monkeypatch.setenv("STANDIN_RL_GAMES", flavour)
    reward_file = tmp_path / "reward.py"
    reward_file.write_text(REWARD)
    cfg = load_config([f"isaacgym.python={standin}", f"isaacgym.isaacgymenvs={ISAACGYMENVS}",
                       "max_iterations=3", "seeds=1"])
    curriculum = parse_curriculum({"name": "pen_spinning", "stages": [
        {"name": "reorient", "task": "shadow_hand_pen", "isaacgym_task": "ShadowHandPenReorient",
         "reward": str(reward_file)},
        {"name": "spin", "task": "shadow_hand_spin", "isaacgym_task": "ShadowHandSpin",
         "reward": "same", "init": "previous"}]})
    summary = run_curriculum(curriculum, IsaacGymBackend(cfg), tmp_path / "run",
                             log=lambda line: None)
    first, second = summary["stages"]
    assert first["checkpoint"].endswith(".pth")
    assert second["init_from"] == first["checkpoint"]
    (call,) = [c for c in _calls(tmp_path / "run") if "task=ShadowHandSpin" in c["argv"]]
    handoff = next(a for a in call["argv"] if a.startswith("checkpoint="))[len("checkpoint="):]
    assert handoff != first["checkpoint"]  # a copy with fresh counters, not stage 1's file
    assert call["checkpoint"] == handoff  # what hydra handed rl_games
    stage1 = torch.load(first["checkpoint"], weights_only=False)  # rl_games' own checkpoint
    assert (stage1["epoch"], stage1["frame"]) == (3, 3 * 64)
    assert torch.load(handoff, weights_only=False)["epoch"] == 0
    # rl-games 1.6.5 restores the counters: from stage 1's file stage 2 would stop after one
    # epoch; from the hand-off it trains its own 3 (and starts its frames at 0)
    done = torch.load(second["checkpoint"], weights_only=False)
    assert (done["epoch"], done["frame"]) == (3, 3 * 64)
    for key in ("model", "optimizer"):  # the weights went through
        assert key in done

    # resume: finished stages are read back, no training runs again
    calls = sorted((tmp_path / "run").rglob("standin_call.json"))
    mtimes = [p.stat().st_mtime_ns for p in calls]
    lines = []
    again = run_curriculum(curriculum, IsaacGymBackend(cfg), tmp_path / "run",
                           log=lines.append)
    assert again["stages"] == summary["stages"]
    assert sum("finished before; read back" in line for line in lines) == 2
    assert [p.stat().st_mtime_ns for p in calls] == mtimes


@pytest.mark.slow
def test_final_evaluation_runs_on_isaac_gym(tmp_path, standin, task, monkeypatch):
    monkeypatch.setenv("STANDIN_RL_GAMES", "isaacgymenvs")
    cfg = load_config([f"isaacgym.python={standin}", f"isaacgym.isaacgymenvs={ISAACGYMENVS}",
                       "isaacgym.per_gpu=3", "max_iterations=4", "backend=isaacgym",
                       "task=ShadowHand"])
    backend = IsaacGymBackend(cfg, tmp_path / "isaacgym")
    evaluation = evaluate(task, REWARD, tmp_path, 2, backend, TrainingRequest.from_config(cfg))
    assert set(evaluation.rewards) == {"best", "human", "sparse"}
    for label, row in evaluation.rewards.items():
        assert len(row["fitness_per_seed"]) == 2 and not row["failed"], label
        assert all(v is not None for v in row["fitness_per_seed"]), label
    assert evaluation.env_steps_per_run == 4 * 64
    assert evaluation.best_minus_human is not None and evaluation.human_normalized_flag is not None
    modes = sorted(json.loads(p.read_text())["mode"] for p in tmp_path.rglob("reward.json"))
    assert modes == ["human", "human", "reward", "reward", "sparse", "sparse"]
    assert json.loads((tmp_path / "evaluation.json").read_text())["seeds"] == evaluation.seeds


@pytest.mark.slow
def test_missing_isaac_gym_is_one_sentence_with_the_install_steps(tmp_path):
    out = run_cli("search", "backend=isaacgym", "task=ShadowHand", "llm=offline",
                  f"runs_dir={tmp_path}")
    assert out.returncode == 2
    assert "isaacgym.python" in out.stderr and "Isaac Gym Preview 4" in out.stderr
    assert "Traceback" not in out.stderr
    out = run_cli("search", "backend=isaacgym", "task=ShadowHand", "llm=offline",
                  f"runs_dir={tmp_path}", "isaacgym.python=/nonexistent/python3.8")
    assert out.returncode == 2 and "is not an executable" in out.stderr
    out = run_cli("doctor", "backend=isaacgym")
    assert out.returncode == 0
    text = " ".join(out.stdout.split())
    assert "backend isaacgym" in text and "not usable" in text and "torch" in text


def test_unknown_isaacgym_task_lists_the_known_ones():
    with pytest.raises(EurekaError, match="ShadowHandPenReorient"):
        load_isaacgym_task("Nope")


def test_task_context_needs_isaacgymenvs_source(tmp_path):
    task = load_isaacgym_task("ShadowHand")
    with pytest.raises(EurekaError, match="isaacgym.isaacgymenvs"):
        task.context()
    text = load_isaacgym_task("ShadowHand", str(ISAACGYMENVS)).context()
    assert "compute_hand_reward" not in text and "- object_rot: per-env shape (4,)" in text
    assert "- shadow_hand_dof_lower_limits: shared shape (24,)" in text
    assert "reach_goal_bonus" not in text
    spin = load_isaacgym_task("ShadowHandSpin", str(ISAACGYMENVS)).context()
    assert "10 degrees" in spin  # what Eureka's training task does, not its shown copy's 30


def test_model_facts_show_what_trains_and_nothing_reward_only():
    # the stand-in YAML defaults ShadowHand to the pen (as Eureka's copy does)
    block = load_isaacgym_task("ShadowHand", str(ISAACGYMENVS)).model_facts()
    pen = load_isaacgym_task("ShadowHandPenReorient", str(ISAACGYMENVS)).model_facts()
    assert "- objectType: block" in block and "pen" not in block
    assert "- objectType: pen" in pen
    for text in (block, pen):
        assert "episodeLength: 20" in text and "observationType: full_state" in text
        for reward_only in ("rotEps", "reachGoalBonus", "distRewardScale", "fallPenalty",
                            "successTolerance"):
            assert reward_only not in text, reward_only


@pytest.mark.slow
def test_mixin_supports_tasks_whose_compute_reward_takes_no_actions(task, reward_fn):
    # upstream Cartpole, BallBalance, Quadcopter, AnymalTerrain: compute_reward(self), the
    # actions kept by pre_physics_step as self.actions
    class NoActionsArgument(StandInVecTask):
        def compute_reward(self):
            super().compute_reward(None)

    actions = torch.randn(64, 20, generator=torch.Generator().manual_seed(2))
    env = runtime.from_spec(NoActionsArgument, reward_spec(reward_fn, task))()
    env.actions = actions
    env.compute_reward()
    reward = runtime.TorchReward.from_spec(reward_spec(reward_fn, task))
    total, _ = reward({**{k: getattr(env, k) for k in ("object_rot", "goal_rot",
                                                       "fingertip_pos", "object_pos")},
                       "actions": actions})
    torch.testing.assert_close(env.rew_buf, total)  # no goal reached at step 1: no bonus
    del env.actions  # a task that keeps none: one sentence, naming the argument to drop
    with pytest.raises(AttributeError, match="given no actions.*leave `actions` out"):
        env.compute_reward()


def _processes_mentioning(text):
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:  # the process ended while we looked
                continue
            if text in cmdline:
                found.append(proc.name)
    return found


@pytest.mark.slow
def test_a_training_past_its_timeout_fails_its_candidate_and_is_ended(tmp_path, standin, task,
                                                                      reward_fn):
    cfg = load_config([f"isaacgym.python={standin}", f"isaacgym.isaacgymenvs={ISAACGYMENVS}",
                       "isaacgym.timeout=1", "max_iterations=500"])
    result = IsaacGymBackend(cfg, tmp_path / "work").train_candidates(
        task, [reward_fn], TrainConfig(num_updates=500, num_evals=2), seeds=[0])
    assert result.curves.failed.all()
    assert "did not finish within isaacgym.timeout=1 s" in result.errors[0]
    assert not _processes_mentioning(str(tmp_path / "work"))  # its process group is gone
