"""The Isaac Gym bridge, everything but Isaac Gym itself: the Python-3.8 runtime (DLPack
adapter, VecTask mixin), the task-file context, the TensorBoard log reader, the launcher's
command lines and GPU slots, and whole trainings through a stand-in interpreter."""

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from eureka_jax.bridges.isaacgym import load_isaacgym_task
from eureka_jax.bridges.isaacgym.context import build_context
from eureka_jax.bridges.isaacgym.launcher import (
    RUNTIME_DIR,
    IsaacGymBackend,
    IsaacGymCurriculumBackend,
    Job,
    assign_gpus,
    command_line,
    reward_spec,
)

# compiles training programs or runs the CLI: not in the fast tier (-m 'not slow')
pytestmark = pytest.mark.slow
from eureka_jax.bridges.isaacgym.logs import curves_from_scalars, read_scalars
from eureka_jax.config import load_config
from eureka_jax.curriculum import parse_curriculum, run_curriculum
from eureka_jax.reward import compile_reward
from eureka_jax.train import TrainConfig
from tests.conftest import run_cli

sys.path.insert(0, str(RUNTIME_DIR))
import eureka_ig_runtime as runtime

from tests.isaacgym_standin import StandInVecTask

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


@pytest.fixture(scope="module")
def task():
    return load_isaacgym_task("ShadowHand")


@pytest.fixture(scope="module")
def reward_fn(task):
    return compile_reward(REWARD, task)


def batch(task, n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {name: torch.randn((n, *shape), generator=g) for name, shape in task.inputs.items()}


# ---- the runtime (runs in the Isaac Gym interpreter) -------------------------------------


def test_runtime_is_python38_compatible():
    out = subprocess.run([str(Path(sys.executable).with_name("vermin")), "-t=3.8-", "--no-tips",
                          "--violations", "--eval-annotations", str(RUNTIME_DIR)],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Detecting python files" in out.stdout  # vermin really looked at the files
    files = sorted(RUNTIME_DIR.glob("*.py"))
    assert [f.name for f in files] == ["eureka_ig_runtime.py", "eureka_ig_train.py"]


def test_runtime_imports_nothing_of_eureka_jax():
    allowed = {"builtins", "math", "json", "sys", "jax", "torch", "isaacgym", "isaacgymenvs",
               "eureka_ig_runtime"}
    for path in RUNTIME_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


def test_adapter_equals_jax_and_shares_memory(task, reward_fn):
    reward = runtime.TorchReward.from_spec(reward_spec(reward_fn, task))
    inputs = batch(task)
    total, comps = reward(inputs)
    assert isinstance(total, torch.Tensor) and total.shape == (64,)
    expected_total, expected = jax.vmap(reward_fn)({k: jnp.asarray(v.numpy())
                                                    for k, v in inputs.items()})
    np.testing.assert_allclose(total.numpy(), np.asarray(expected_total), rtol=1e-5, atol=1e-6)
    for name in ("align", "reach", "effort"):
        np.testing.assert_allclose(comps[name].numpy(), np.asarray(expected[name]), rtol=1e-5,
                                   atol=1e-6)
    # zero copy both ways: the same buffer, not a copy
    t = inputs["object_rot"]
    assert runtime.torch_to_jax(t).unsafe_buffer_pointer() == t.data_ptr()
    x = jnp.arange(12.0).reshape(3, 4)
    assert runtime.jax_to_torch(x).data_ptr() == x.unsafe_buffer_pointer()


def test_runtime_refuses_imports_beyond_jax_and_math():
    with pytest.raises(ImportError, match="only jax, jax.numpy and math"):
        runtime.load_function("import os\ndef compute_reward(a):\n    return a, {}\n",
                              "compute_reward")
    with pytest.raises(NameError):  # no open() in the namespace
        runtime.load_function("def f(a):\n    return a\nopen('x')\n", "f")


def test_mixin_replaces_the_reward_and_logs_components(task, reward_fn):
    reward = runtime.TorchReward.from_spec(reward_spec(reward_fn, task))
    cls = runtime.with_eureka_reward(StandInVecTask, reward)
    env = cls()
    actions = torch.randn(64, 20, generator=torch.Generator().manual_seed(1))
    for _ in range(3):
        env.compute_reward(actions)
    inputs = {**{k: getattr(env, k) for k in ("object_rot", "goal_rot", "fingertip_pos",
                                              "object_pos")}, "actions": actions}
    total, comps = reward(inputs)
    torch.testing.assert_close(env.rew_buf, total)
    assert float(env.extras["gt_reward"]) == -1.0
    assert float(env.extras["consecutive_successes"]) == 1.0  # the task's bookkeeping ran
    for name in ("align", "reach", "effort"):
        assert float(env.extras[f"eureka/{name}"]) == pytest.approx(float(comps[name].mean()))
    assert cls.__name__ == "StandInVecTask" and issubclass(cls, StandInVecTask)

    strict = runtime.with_eureka_reward(
        StandInVecTask, runtime.TorchReward.from_spec(
            reward_spec(compile_reward(NEEDS_DOF_VEL, task), task)))
    with pytest.raises(AttributeError, match="'shadow_hand_dof_vel' is not an attribute"):
        strict().compute_reward(actions)


# ---- our side: context, logs, launcher -----------------------------------------------------

TASK_FILE = '''
import torch
from isaacgym import gymtorch
from .base.vec_task import VecTask


class ShadowHandLike(VecTask):
    def __init__(self, cfg):
        self.object_pos = torch.zeros(4, 3)
        self.goal_rot = torch.zeros(4, 4)
        self.reward_scale = cfg["rewardScale"]

    def create_sim(self):
        self.sim = make_a_simulator()

    def compute_reward(self, actions):
        self.rew_buf[:] = compute_hand_reward(self.object_pos, self.goal_rot, self.reward_scale)

    def compute_observations(self):
        self.obs_buf[:, 0:3] = self.object_pos
        self.obs_buf[:, 3:7] = self.goal_rot


@torch.jit.script
def compute_hand_reward(object_pos, goal_rot, reward_scale: float):
    return -torch.norm(object_pos, dim=-1) * reward_scale
'''


def test_context_prunes_rewards_and_lists_attributes(tmp_path):
    path = tmp_path / "shadow_hand_like.py"
    path.write_text(TASK_FILE)
    ctx = build_context(path)
    assert "compute_hand_reward" not in ctx.source
    assert "def compute_reward" not in ctx.source and "reward_scale" not in ctx.source
    assert "def compute_observations" in ctx.source and "def create_sim" not in ctx.source
    assert ctx.attributes["object_pos"] == "torch.zeros(4, 3)"
    assert ctx.observation_attributes == ["goal_rot", "object_pos", "obs_buf"]
    with pytest.raises(Exception, match="no class Missing"):
        build_context(path, "Missing")


def test_log_reader_reads_real_event_files(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp_path / "summaries"))
    for step in range(0, 1001, 100):
        writer.add_scalar("consecutive_successes", step / 100.0, step)
        writer.add_scalar("rewards/step", 2.0 * step, step)
        writer.add_scalar("episode_lengths/step", 50.0, step)
        writer.add_scalar("eureka/align", 0.5, step)
    writer.close()
    curves = curves_from_scalars(read_scalars(tmp_path), 4, ("align", "missing"))
    np.testing.assert_allclose(curves.env_steps, [250, 500, 750, 1000])
    np.testing.assert_allclose(curves.fitness, [2.0, 5.0, 7.0, 10.0])  # last value at/before
    np.testing.assert_allclose(curves.episode_return, [400, 1000, 1400, 2000])
    np.testing.assert_allclose(curves.components[:, 0], 0.5)
    assert np.isnan(curves.components[:, 1]).all()  # a component that was never logged
    assert not bool(curves.failed)


def test_gpu_slots_and_command_lines(tmp_path):
    jobs = [Job(f"c{i}", i, 0, tmp_path / "r.json", tmp_path) for i in range(5)]
    waves = assign_gpus(jobs, [0, 1], per_gpu=2)
    assert [[j.gpu for j in w] for w in waves] == [[0, 1, 0, 1], [0]]
    pen = load_isaacgym_task("ShadowHandPen")
    argv, env = command_line(waves[1][0], pen, "/opt/ig/bin/python", 1500, num_envs=4096)
    assert argv[:4] == ["/opt/ig/bin/python", str(RUNTIME_DIR / "eureka_ig_train.py"),
                        str(tmp_path / "r.json"), "ShadowHand"]
    for part in ("headless=True", "seed=0", "max_iterations=1500", "num_envs=4096",
                 "task.env.objectType=pen", "sim_device=cuda:0"):
        assert part in argv
    assert env == {"CUDA_VISIBLE_DEVICES": "0", "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
                   "PYTHONPATH": str(RUNTIME_DIR)}


# ---- whole trainings through a stand-in interpreter ----------------------------------------

STANDIN = '''#!{python}
"""STAND-IN for an Isaac Gym interpreter (tests only): answers the import probe, and instead
of IsaacGymEnvs' training runs our runtime's reward mixin on a stand-in VecTask, writing what
rl_games would (TensorBoard scalars, a .pth checkpoint)."""
import json, os, sys
if sys.argv[1] == "-c":
    sys.exit(0)
entry, reward_json, task = sys.argv[1:4]
overrides = dict(a.split("=", 1) for a in sys.argv[4:])
json.dump({{"argv": sys.argv, "cuda": os.environ["CUDA_VISIBLE_DEVICES"],
           "prealloc": os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"],
           "pythonpath": os.environ["PYTHONPATH"]}}, open("standin_call.json", "w"))
import torch
from torch.utils.tensorboard import SummaryWriter
from eureka_ig_runtime import TorchReward, with_eureka_reward
sys.path.insert(0, {tests!r})
from isaacgym_standin import StandInVecTask
spec = json.load(open(reward_json))
cls = with_eureka_reward(StandInVecTask, TorchReward.from_spec(spec))
env = cls(n=16, seed=int(overrides["seed"]))
writer = SummaryWriter("summaries")
iterations = int(overrides["max_iterations"])
for it in range(1, iterations + 1):
    env.compute_reward(torch.zeros(16, 20))
    frame = it * 16
    for key, value in env.extras.items():
        writer.add_scalar(key, float(value), frame)
    writer.add_scalar("rewards/step", float(env.rew_buf.mean()), frame)
writer.close()
os.makedirs("nn", exist_ok=True)
torch.save({{"start": overrides.get("checkpoint")}}, "nn/" + task + ".pth")
'''


@pytest.fixture
def standin(tmp_path):
    path = tmp_path / "standin_isaacgym_python"
    path.write_text(STANDIN.format(python=sys.executable, tests=str(Path(__file__).parent)))
    path.chmod(0o755)
    return path


def test_backend_trains_through_the_interpreter_and_reports_crashes(tmp_path, standin, task,
                                                                    reward_fn):
    cfg = load_config([f"isaacgym.python={standin}", "isaacgym.gpus=[2,3]", "max_iterations=6"])
    backend = IsaacGymBackend(cfg, tmp_path / "work")
    crashing = compile_reward(NEEDS_DOF_VEL, task)
    config = TrainConfig(num_updates=6, num_checkpoints=3)
    result = backend.train_candidates(task, [reward_fn, crashing], config, seeds=[0, 1],
                                      labels=["good", "crash"])
    assert result.curves.fitness.shape == (2, 2, 3)
    assert result.curves.components.shape == (2, 2, 3, 3)
    assert not result.curves.failed[0].any() and result.curves.failed[1].all()
    # the stand-in counts a success every 3rd step: 0, 1, 2 after 2, 4, 6 of its 6 steps
    np.testing.assert_allclose(result.curves.fitness[0, 0], [0.0, 1.0, 2.0])
    np.testing.assert_allclose(result.curves.env_steps[0, 0], [32, 64, 96])
    assert "AttributeError" in result.errors[1] and "shadow_hand_dof_vel" in result.errors[1]
    calls = [json.loads(p.read_text()) for p in sorted((tmp_path / "work").rglob(
        "standin_call.json"))]
    assert sorted(c["cuda"] for c in calls) == ["2", "2", "3", "3"]
    assert {c["prealloc"] for c in calls} == {"false"}
    assert {c["pythonpath"] for c in calls} == {str(RUNTIME_DIR)}


def test_curriculum_hands_the_checkpoint_to_stage_two(tmp_path, standin):
    reward_file = tmp_path / "reward.py"
    reward_file.write_text(REWARD)
    cfg = load_config([f"isaacgym.python={standin}", "max_iterations=3", "seeds=1"])
    curriculum = parse_curriculum({"name": "pen_spinning", "stages": [
        {"name": "reorient", "task": "shadow_hand_pen", "isaacgym_task": "ShadowHandPen",
         "reward": str(reward_file)},
        {"name": "spin", "task": "shadow_hand_spin", "isaacgym_task": "ShadowHandSpin",
         "reward": "same", "init": "previous"}]})
    summary = run_curriculum(curriculum, IsaacGymCurriculumBackend(cfg), tmp_path / "run",
                             log=lambda line: None)
    first, second = summary["stages"]
    assert first["checkpoint"].endswith("ShadowHand.pth")
    assert second["init_from"] == first["checkpoint"]
    (call,) = [json.loads(p.read_text()) for p in (tmp_path / "run").rglob("standin_call.json")
               if "stage_2" in str(p)]
    assert f"checkpoint={first['checkpoint']}" in call["argv"]
    assert "ShadowHandSpin" in call["argv"]
    assert torch.load(second["checkpoint"])["start"] == first["checkpoint"]

    # resume: finished stages are read back, no training runs again
    calls = sorted((tmp_path / "run").rglob("standin_call.json"))
    mtimes = [p.stat().st_mtime_ns for p in calls]
    lines = []
    again = run_curriculum(curriculum, IsaacGymCurriculumBackend(cfg), tmp_path / "run",
                           log=lines.append)
    assert again["stages"] == summary["stages"]
    assert sum("finished before; read back" in line for line in lines) == 2
    assert [p.stat().st_mtime_ns for p in calls] == mtimes


def test_missing_isaac_gym_is_one_sentence_with_the_install_steps(tmp_path):
    out = run_cli("search", "backend=isaacgym", "task=ShadowHand", "llm=offline",
                  f"runs_dir={tmp_path}")
    assert out.returncode == 2
    assert "isaacgym.python" in out.stderr and "Isaac Gym Preview 4" in out.stderr
    assert "Traceback" not in out.stderr
    out = run_cli("search", "backend=isaacgym", "task=ShadowHand", "llm=offline",
                  f"runs_dir={tmp_path}", "isaacgym.python=/nonexistent/python3.8")
    assert out.returncode == 2 and "is not an executable" in out.stderr
    out = run_cli("doctor")
    assert out.returncode == 0
    text = " ".join(out.stdout.split())
    assert "backend isaacgym" in text and "not usable" in text and "torch" in text


def test_unknown_isaacgym_task_lists_the_known_ones():
    with pytest.raises(Exception, match="ShadowHandPen"):
        load_isaacgym_task("Nope")


def test_task_context_needs_isaacgymenvs_source(tmp_path):
    task = load_isaacgym_task("ShadowHand")
    with pytest.raises(Exception, match="isaacgym.isaacgymenvs"):
        task.context()
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "shadow_hand.py").write_text(
        textwrap.dedent(TASK_FILE).replace("ShadowHandLike", "ShadowHand"))
    text = load_isaacgym_task("ShadowHand", str(tmp_path)).context()
    assert "compute_hand_reward" not in text and "- object_rot: per-env shape (4,)" in text
    assert "self.object_pos = torch.zeros(4, 3)" in text
