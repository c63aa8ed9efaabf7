"""The `eureka-jax` command as a user runs it (subprocess)."""

import json
import re

import jax
import numpy as np
import pytest

from tests.conftest import run_cli


def test_help_lists_subcommands():  # the fast tier's one CLI run: the entry point starts
    out = run_cli("--help")
    assert out.returncode == 0
    assert "tasks" in out.stdout and "show-task" in out.stdout


@pytest.mark.slow
def test_tasks_table_lists_every_task():
    out = run_cli("tasks")
    assert out.returncode == 0, out.stderr
    for name in ("cartpole", "ant", "humanoid", "acrobot_swingup", "cheetah_run"):
        assert name in out.stdout
    assert "forward_velocity" in out.stdout
    assert "smoke only" in out.stdout  # the hand tasks' CPU budgets do not learn


@pytest.mark.slow
def test_show_task_is_the_llm_context_without_reward_code():
    out = run_cli("show-task", "env=cartpole")  # Eureka's `env` alias
    assert out.returncode == 0, out.stderr
    assert "Keep the pole balanced upright" in out.stdout
    assert "def reward_inputs" in out.stdout and "- pole_angle: scalar, float32" in out.stdout
    # names that only the human reward uses
    for name in ("cart_still", "pole_still", "upright = 1.0 - pole_angle"):
        assert name not in out.stdout
    # the randomizable physics, after the context and marked as the DR stage's
    context, trailer = out.stdout.split("--- randomizable physics", 1)
    assert "push_gear" not in context
    assert "- push_gear: gear of the actuator" in trailer and "valid range [2, 20]" in trailer


@pytest.mark.slow  # runs the CLI (a new process each) or compiles training programs
@pytest.mark.parametrize(
    "args, message",
    [
        (["show-task", "task=nope"], "unknown task 'nope'; choose one of: acrobot_swingup"),
        (["show-task", "colour=red"], "unknown key 'colour'; valid keys are: task"),
        (["show-task", "seed=abc"], "could not be converted to Integer"),
        (["show-task", "cartpole"], "is not of the form key=value"),
        (["frobnicate"], "unknown subcommand 'frobnicate'"),
    ],
)
def test_user_errors_are_one_sentence(args, message):
    out = run_cli(*args)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_check_reward_accepts_baselines_and_rejects_with_category(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\ndef compute_reward(pole_angle):\n    return pole_angle, {}\n")
    out = run_cli("check-reward", "task=cartpole", f"reward=human,sparse,{bad}")
    assert out.returncode == 1, out.stderr
    assert "human: accepted" in out.stdout and "sparse: accepted" in out.stdout
    assert "upright" in out.stdout  # a component of the human reward, with probe values
    assert f"{bad}: REJECTED [forbidden]" in out.stdout and "import os" in out.stdout


@pytest.mark.slow
def test_train_prints_fitness_per_candidate_and_seed(tmp_path):
    reply = tmp_path / "reply.md"
    reply.write_text(
        "Try this:\n```python\nimport jax.numpy as jnp\n\n"
        "def compute_reward(pole_angle):\n    upright = jnp.cos(pole_angle)\n"
        "    return upright, {'upright': upright}\n```\n"
    )
    out = run_cli("train", "env=cartpole", f"reward=human,{reply}", "seeds=2",
                  "max_iterations=2", "train.num_envs=8", "train.unroll_length=8",
                  "train.num_minibatches=2", f"runs_dir={tmp_path / 'runs'}")
    assert out.returncode == 0, out.stderr
    assert "training 2 candidate(s) x 2 seed(s)" in out.stdout
    assert "seed 0" in out.stdout and "seed 1" in out.stdout
    assert str(reply) in out.stdout and "human" in out.stdout
    assert "compile" in out.stdout and "env steps/s" in out.stdout
    # the training is kept: curves and policies, in the layout `eureka-jax play` reads
    run = next((tmp_path / "runs" / "cartpole").glob("train-*"))
    assert f"saved: {run}" in out.stdout
    meta = json.loads((run / "policies.json").read_text())
    assert meta["rewards"] == ["human", str(reply)] and meta["seeds"] == [0, 1]
    assert "upright = jnp.cos(pole_angle)" in meta["sources"][str(reply)]
    from eureka_jax.play import SavedPolicies

    saved = SavedPolicies(run)
    assert saved.row(str(reply)) == 1 and saved.column(1) == 1
    assert all(np.asarray(x).shape[:2] == (2, 2) for x in jax.tree.leaves(saved.params))
    curves = np.load(run / "curves.npz")
    assert curves["fitness"].shape[:2] == (2, 2)


@pytest.mark.slow
def test_train_settings_errors_are_one_sentence():
    out = run_cli("train", "task=cartpole", "reward=human", "train.num_minibatches=7")
    assert out.returncode == 2
    assert "must divide train.num_envs" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
def test_propose_offline_prints_compiling_programs(tmp_path):
    out = run_cli("propose", "task=cartpole", "sample=4", "llm=offline", f"runs_dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    assert "4 of 4 compile" in out.stdout
    assert out.stdout.count("def compute_reward") == 4
    assert len(list(tmp_path.glob("cartpole/propose-*/sample_*.py"))) == 4


@pytest.mark.slow
def test_propose_through_the_real_client_then_replay(tmp_path):
    from tests.llm_server import ScriptedLLM
    from tests.test_llm import REPLY

    with ScriptedLLM([REPLY, "I cannot help with that."]) as server:
        out = run_cli("propose", "task=cartpole", "sample=2", "llm=openai", "model=scripted",
                      f"base_url={server.base_url}", "api_key=test", f"runs_dir={tmp_path}")
        assert out.returncode == 0, out.stderr
        assert len(server.requests) == 1 and server.requests[0]["n"] == 2
        assert "cartpole" in server.requests[0]["messages"][1]["content"]
    assert "1 of 2 compile" in out.stdout and "REJECTED [extraction]" in out.stdout
    assert "tokens: 100 prompt + 100 completion" in out.stdout
    recorded = next(tmp_path.glob("cartpole/propose-*/llm.jsonl"))
    again = run_cli("propose", "task=cartpole", "sample=2", "llm=replay", "model=scripted",
                    f"replay=[{recorded}]", f"runs_dir={tmp_path}")
    assert again.returncode == 0, again.stderr
    assert "1 of 2 compile" in again.stdout  # the server is gone: answered from the recording


# big enough envs that the training's arrays stand out of the process's own memory
MEMORY_TRAIN = ["train.num_envs=2048", "train.unroll_length=16", "max_iterations=2",
                "train.num_evals=1", "train.eval_envs=16"]

PEAK_SCRIPT = """
import json, sys, threading, time
from eureka_jax.compile_cache import enable_compilation_cache
from eureka_jax.config import load_config
from eureka_jax.reward import compile_reward
from eureka_jax.task import load_task
import eureka_jax.train.batch as batch
from eureka_jax.train.config import training_settings

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

enable_compilation_cache()  # as the CLI does: the compile is not what is measured
task = load_task("cartpole")
config, hparams = training_settings(load_config(sys.argv[1:]), task)
fn = compile_reward(task.human_reward_source, task)
start, peak, done = [0], [0], threading.Event()

def sample():
    while not done.is_set():
        peak[0] = max(peak[0], rss())
        time.sleep(0.002)

def before_run(compiled, device, what):  # compiled; measure from here
    start[0] = rss()
    threading.Thread(target=sample, daemon=True).start()
    return check(compiled, device, what)

check, batch.check_fits = batch.check_fits, before_run
result = batch.train_candidates(task, [fn, fn], config, hparams, seeds=[0, 1])
done.set()
print(json.dumps({"measured": peak[0] - start[0], "program": result.memory_bytes}))
"""


@pytest.mark.slow
def test_doctor_shows_devices_mesh_and_a_memory_estimate_within_2x_of_the_peak():
    import subprocess
    import sys

    out = run_cli("doctor", "sample=6", "seeds=1", *MEMORY_TRAIN)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "cpu:0" in text and "1-D mesh 'candidates'" in text
    assert "sample=6 candidates -> 6 slots" in text
    per_run = float(re.search(r"one run \(candidate x seed\) needs ([\d.,]+) MiB", text)
                    .group(1).replace(",", "")) * 2**20
    assert "sample=6 x seeds=1 = 6 runs, fits" in text
    # 2 candidates x 2 seeds trained for real: the process's memory while it runs
    peak = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, "task=cartpole", *MEMORY_TRAIN],
                          capture_output=True, text=True, timeout=600, check=False)
    assert peak.returncode == 0, peak.stderr
    measured = json.loads(peak.stdout.strip().splitlines()[-1])
    assert 0.5 < measured["measured"] / (4 * per_run) < 2.0
    # the batch's own program, checked before it ran: 4 runs' worth (it scales with K x S)
    assert abs(measured["program"] / (4 * per_run) - 1) < 0.1
