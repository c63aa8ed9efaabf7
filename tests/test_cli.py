"""The `eureka-jax` command as a user runs it (subprocess)."""

import pytest

from tests.conftest import run_cli


def test_help_lists_subcommands():
    out = run_cli("--help")
    assert out.returncode == 0
    assert "tasks" in out.stdout and "show-task" in out.stdout


def test_tasks_table_lists_every_task():
    out = run_cli("tasks")
    assert out.returncode == 0, out.stderr
    for name in ("cartpole", "ant", "humanoid", "acrobot_swingup", "cheetah_run"):
        assert name in out.stdout
    assert "forward_velocity" in out.stdout


def test_show_task_is_the_llm_context_without_reward_code():
    out = run_cli("show-task", "env=cartpole")  # Eureka's `env` alias
    assert out.returncode == 0, out.stderr
    assert "Keep the pole balanced upright" in out.stdout
    assert "def reward_inputs" in out.stdout and "- pole_angle: scalar, float32" in out.stdout
    # names that only the human reward uses
    for name in ("cart_still", "pole_still", "upright = 1.0 - pole_angle"):
        assert name not in out.stdout


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
