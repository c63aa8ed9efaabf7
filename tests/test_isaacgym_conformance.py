"""The Isaac Gym bridge against the real packages an Isaac Gym user has, in the conformance
environment (tests/conformance_env.py: JAX/jaxlib 0.4.13, rl-games 1.6.5, hydra-core 1.3,
torch CPU): the runtime's DLPack path and reward application under JAX 0.4.13, the entry
script started as the launcher starts it through real hydra (every override reaching the
composed config), the interpreter probe of ``doctor``, and ``eureka-jax search`` / ``evaluate``
with ``backend=isaacgym`` typed as a user types them. Only Isaac Gym itself is a stand-in
(tests/fixtures/isaacgym/site). Whole trainings with real rl_games, the log reader on their
logs and the curriculum hand-off are in test_isaacgym_bridge.py."""

import json
import os
import subprocess

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from eureka_jax.bridges.isaacgym import load_isaacgym_task
from eureka_jax.bridges.isaacgym.jobs import Job, command_line, reward_spec
from eureka_jax.bridges.isaacgym.tasks import RUNTIME_DIR
from eureka_jax.reward import compile_reward
from tests.conftest import run_cli
from tests.isaacgym_standin import ISAACGYMENVS, write_interpreter

pytestmark = pytest.mark.slow  # builds a virtualenv once, starts interpreters

# every kind of input: per-env vectors, a quaternion, a [5, 3] matrix, the actions, shared
# arrays without an env axis, and a shared Python number (the task's max_episode_length);
# every module the policy allows, and builtins beyond the old runtime's list
EVERY_INPUT = """
import math
import jax
import jax.lax
import jax.nn
import jax.numpy as jnp
from typing import Dict, Tuple

TEMPERATURE = 0.5

def _spread(points) -> float:
    return jnp.mean(jnp.linalg.norm(points - jnp.mean(points, axis=0), axis=-1))

def compute_reward(object_rot, goal_rot, fingertip_pos, object_pos, actions,
                   shadow_hand_dof_pos, shadow_hand_dof_lower_limits,
                   shadow_hand_dof_upper_limits, max_episode_length) -> Tuple[float, Dict]:
    align = jnp.exp(-(1.0 - jnp.abs(jnp.sum(object_rot * goal_rot))) / TEMPERATURE)
    reach = -jax.nn.softplus(jnp.mean(jnp.linalg.norm(fingertip_pos - object_pos, axis=-1)))
    mid = 0.5 * (shadow_hand_dof_lower_limits + shadow_hand_dof_upper_limits)
    centred = -jax.lax.clamp(0.0, jnp.mean((shadow_hand_dof_pos - mid) ** 2), 10.0)
    effort = -sum(map(float, filter(None, [0.01, 0.0]))) * jnp.sum(actions ** 2)
    horizon = math.pi / jnp.sqrt(max_episode_length)
    parts = {"align": align, "reach": reach, "centred": centred, "effort": effort,
             "spread": horizon * _spread(fingertip_pos)}
    return sum(parts.values()), parts
"""

APPLY = r"""
import json, sys
import numpy as np
import torch
import jax
import eureka_ig_runtime as rt

spec = json.load(open(sys.argv[1]))
data = np.load(sys.argv[2])
inputs = {k: torch.from_numpy(data[k]) for k in data.files}
inputs["max_episode_length"] = 600  # a Python number, as the task holds it
total, comps = rt.TorchReward.from_spec(spec)(inputs)
tensor = inputs["object_rot"]
array = rt.torch_to_jax(tensor)
result = rt.jax_to_torch(array * 2.0)
print(json.dumps({
    "jax": jax.__version__, "protocol": rt.DLPACK_PROTOCOL,
    "torch_to_jax_shares": array.unsafe_buffer_pointer() == tensor.data_ptr(),
    "jax_to_torch_shares": rt.jax_to_torch(array).data_ptr() == tensor.data_ptr(),
    "round_trip": bool(torch.equal(result, tensor * 2.0)),
    "total": total.tolist(), "device": str(total.device),
    "components": {k: v.tolist() for k, v in comps.items()}}))
"""


@pytest.fixture(scope="module")
def task():
    return load_isaacgym_task("ShadowHand", str(ISAACGYMENVS))


def test_the_conformance_environment_is_what_an_isaac_gym_user_has(conformance_python):
    code = ("from importlib.metadata import version; import json; print(json.dumps({p: "
            "version(p) for p in ('jax', 'jaxlib', 'numpy', 'rl-games', 'hydra-core')}))")
    done = subprocess.run([str(conformance_python), "-c", code], capture_output=True,
                          text=True, check=True)
    versions = json.loads(done.stdout)
    assert versions["jax"] == versions["jaxlib"] == "0.4.13"
    assert versions["rl-games"] == "1.6.5" and versions["hydra-core"].startswith("1.3.")
    assert versions["numpy"] == "1.23.5"  # np.float, which isaacgym/torch_utils.py uses


def test_runtime_applies_a_reward_on_jax_0_4_13_zero_copy(tmp_path, conformance_python, task):
    fn = compile_reward(EVERY_INPUT, task)
    rng = np.random.default_rng(0)
    arrays = {name: rng.normal(size=(64, *task.inputs[name])).astype(np.float32)
              for name in fn.input_names if name in task.inputs}
    for name in ("object_rot", "goal_rot"):
        arrays[name] /= np.linalg.norm(arrays[name], axis=-1, keepdims=True)
    arrays["shadow_hand_dof_lower_limits"] = -np.ones(24, np.float32)
    arrays["shadow_hand_dof_upper_limits"] = np.ones(24, np.float32)
    np.savez(tmp_path / "inputs.npz", **arrays)
    (tmp_path / "reward.json").write_text(json.dumps(reward_spec(fn, task)))
    done = subprocess.run([str(conformance_python), "-c", APPLY, str(tmp_path / "reward.json"),
                           str(tmp_path / "inputs.npz")], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(RUNTIME_DIR)}, check=False)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["jax"] == "0.4.13" and out["protocol"] is False  # the capsule path
    assert out["torch_to_jax_shares"] and out["jax_to_torch_shares"] and out["round_trip"]
    # the same numbers as the checked program vmapped by JAX 0.10 here
    shared = {"shadow_hand_dof_lower_limits", "shadow_hand_dof_upper_limits",
              "max_episode_length"}
    values = {**{k: jnp.asarray(v) for k, v in arrays.items()},
              "max_episode_length": jnp.float32(600)}
    want_total, want = jax.vmap(fn, in_axes=({k: None if k in shared else 0
                                              for k in values},))(values)
    np.testing.assert_allclose(out["total"], np.asarray(want_total), rtol=2e-5, atol=2e-6)
    for name in fn.component_names:
        np.testing.assert_allclose(out["components"][name], np.asarray(want[name]), rtol=2e-5,
                                   atol=2e-6)


def test_entry_script_starts_train_py_through_real_hydra_with_every_override(
        tmp_path, conformance_python, task, monkeypatch):
    monkeypatch.setenv("STANDIN_RL_GAMES", "isaacgymenvs")
    python = write_interpreter(tmp_path / "python", conformance_python)
    fn = compile_reward(EVERY_INPUT, task)
    run_dir = tmp_path / "a run dir with spaces"
    run_dir.mkdir()
    spec = run_dir / "reward.json"
    spec.write_text(json.dumps(reward_spec(fn, task)))
    pen = load_isaacgym_task("ShadowHandPenReorient", str(ISAACGYMENVS))
    argv, env = command_line(Job("cand/0", 0, 7, spec, run_dir), pen, str(python), 2,
                             num_envs=32)
    done = subprocess.run(argv, cwd=run_dir, env={**os.environ, **env}, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    call = json.loads((run_dir / "standin_call.json").read_text())
    config = call["config"]
    assert config["task"]["env"]["numEnvs"] == 32 and config["task"]["env"]["objectType"] == "pen"
    assert config["train"]["params"]["config"]["max_epochs"] == 2
    assert config["train"]["params"]["config"]["name"] == "cand_0_seed7"
    assert config["seed"] == 7 and config["headless"] is True
    assert call["cwd"] == str(run_dir)  # hydra.run.dir, spaces and all
    assert call["mixin"][1] == "EurekaRewardMixin"
    # rl_games trained it and wrote its checkpoint and summaries where the launcher reads them
    assert list(run_dir.glob("runs/cand_0_seed7/nn/*.pth"))
    assert list(run_dir.glob("runs/cand_0_seed7/summaries/events.out.tfevents.*"))


def test_doctor_probes_the_interpreter(tmp_path, conformance_python, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # one table row per line
    python = write_interpreter(tmp_path / "python", conformance_python)
    out = run_cli("doctor", "backend=isaacgym", "task=ShadowHandSpin",
                  f"isaacgym.python={python}", f"isaacgym.isaacgymenvs={ISAACGYMENVS}")
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    for line in ("import order │ ok: isaacgym imported before torch",
                 "jax 0.4.13 (cpu, DLPack capsules)",
                 "dlpack │ ok: torch <-> JAX round trip on cpu, zero-copy both ways",
                 "task=ShadowHandSpin", "rl_games │ ok: rl-games 1.6.5",
                 "backend isaacgym │ usable"):
        assert line in text, line
    # an interpreter without our runtime's needs: the failing check, not a traceback
    broken = tmp_path / "broken"
    broken.write_text(f"#!/bin/sh\nexec {conformance_python} -S \"$@\"\n")  # no site-packages
    broken.chmod(0o755)
    out = run_cli("doctor", "backend=isaacgym", f"isaacgym.python={broken}",
                  f"isaacgym.isaacgymenvs={ISAACGYMENVS}")
    text = " ".join(out.stdout.split())
    assert out.returncode == 0 and "backend isaacgym │ not usable" in text
    assert "FAILED" in text and "Traceback" not in out.stdout + out.stderr


def test_search_and_evaluate_with_backend_isaacgym_from_the_command_line(
        tmp_path, conformance_python):
    python = write_interpreter(tmp_path / "python", conformance_python)
    common = [f"isaacgym.python={python}", f"isaacgym.isaacgymenvs={ISAACGYMENVS}",
              "max_iterations=6", f"runs_dir={tmp_path / 'runs'}"]
    # the search alone (num_eval=0), then its final evaluation by the evaluate command: the
    # same code path the search's own evaluation takes, with fewer rl_games trainings
    out = run_cli("search", "backend=isaacgym", "task=ShadowHand", "llm=offline", "iteration=1",
                  "sample=2", "confirm=0", "num_eval=0", *common)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs" / "ShadowHand").glob("search-*")
    for name in ("report.md", "best_reward.py", "summary.json"):
        assert (run_dir / name).is_file(), name

    def trained():
        return sorted(json.loads(p.read_text())["mode"]
                      for p in (run_dir / "isaacgym").rglob("reward.json"))

    assert trained() == ["reward", "reward"]
    out = run_cli("evaluate", f"run={run_dir}", "num_eval=2", *common)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    assert set(evaluation["rewards"]) == {"best", "human", "sparse"}
    for label, row in evaluation["rewards"].items():
        assert len(row["fitness_per_seed"]) == 2 and not row["failed"], label
    assert trained() == ["human", "human", "reward", "reward", "reward", "reward", "sparse",
                         "sparse"]
    assert "best − human" in (run_dir / "report.md").read_text()
