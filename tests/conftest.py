import os
import subprocess
import sys
import tempfile
from pathlib import Path

import jax
import pytest

from eureka_jax.compile_cache import enable_compilation_cache
from eureka_jax.task import PROBE_ENVS, PROBE_STEPS, list_tasks, load_task

enable_compilation_cache()
REPO = Path(__file__).resolve().parents[1]
# the baselines' scores a search measures and caches (eureka_jax/references.py): kept out of the
# user's cache, one folder per test process (its CLI subprocesses inherit it)
os.environ["EUREKA_JAX_REFERENCES"] = tempfile.mkdtemp(prefix="eureka-jax-references-")


def _runnable_here(name: str) -> bool:
    """Tasks whose robot models Playground downloads (MuJoCo Menagerie) run only where they
    are present; offline, tests/test_eureka_suite.py checks that they stop in one sentence."""
    from mujoco_playground._src.mjx_env import MENAGERIE_PATH

    return MENAGERIE_PATH.exists() or "menagerie" not in load_task(name).needs


TASK_NAMES = [name for name in list_tasks() if _runnable_here(name)]


@pytest.fixture(scope="session")
def conformance_python():
    """The Isaac Gym conformance environment's interpreter (JAX 0.4.13, rl-games 1.6.5,
    hydra-core, torch CPU), built on first use (tests/conformance_env.py)."""
    from tests.conformance_env import conformance_python as build

    return build()


@pytest.fixture(scope="session", autouse=True)
def room_for_shared_programs():
    """The trainer keeps the compiled programs of its last few calls (6: a search's first
    pass and race, ``train.batch._MAX_PROGRAMS``); a test worker runs many files' trainings,
    and the tests that reuse a fixture's programs ("compiles nothing but its reward
    program") would otherwise depend on which other files ran between them. 32 here."""
    from eureka_jax.train import batch

    batch._MAX_PROGRAMS = 32


@pytest.fixture(scope="session")
def tasks():
    """Loaded tasks, shared so each environment is built once per test session."""
    return {name: load_task(name) for name in TASK_NAMES}


@pytest.fixture(scope="session")
def rollouts(tasks):
    """name -> (reward inputs, env outputs) of one random rollout ([steps=16, envs=8, ...]).

    The same shapes and key as the reward compiler's probe, so one compile per task serves
    both: environment compiles dominate the suite's time.
    """
    cache = {}

    def get(name):
        if name not in cache:
            rollout = tasks[name].random_rollout(jax.random.PRNGKey(0), PROBE_ENVS, PROBE_STEPS)
            cache[name] = jax.device_get(rollout)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def transitions(rollouts):
    """name -> reward inputs of the shared random rollout."""
    return lambda name: rollouts(name)[0]


def cli_argv(*args) -> list[str]:
    """The command line of the installed `eureka-jax` command (for tests that start it
    themselves, e.g. to kill it)."""
    return [str(Path(sys.executable).with_name("eureka-jax")), *args]


def run_cli(*args, cwd=None, timeout=600):
    """Runs the installed `eureka-jax` command as a user would, returning the finished process."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        cli_argv(*args), check=False, capture_output=True, text=True, cwd=cwd or REPO, env=env,
        timeout=timeout,
    )


# A search's training settings small enough for a test (under one episode per env).
SEARCH_TINY = ["max_iterations=4", "train.num_envs=16", "train.unroll_length=16",
               "train.num_minibatches=2", "seeds=1"]


# Seconds each file took on 2 cores (the suite's --durations=0, 2026-12-07 evening), used to
# put the longest files first. Note: xdist's ``--dist loadfile`` then reorders files by their
# number of tests (its default ``--loadscope-reorder``; a stable sort, so this order only
# breaks ties). Turning that off (``--no-loadscope-reorder``) was tried on 2026-12-07: 25:00
# against 22:33, test_tasks' env rollouts ran 3-5x slower beside test_scale's two processes
# at the start; so xdist's order stays. (Three workers on the 2 cores: 24 min 34 s; no gain.)
FILE_SECONDS = {
    "test_cli.py": 250, "test_scale.py": 220, "test_search_resume.py": 215,
    "test_tasks.py": 190, "test_benchmarks.py": 190, "test_isaacgym_bridge.py": 165,
    "test_isaacgym_conformance.py": 160, "test_search.py": 155, "test_train.py": 150,
    "test_tune.py": 150, "test_dict_obs.py": 150, "test_dr_stage.py": 150,
    "test_randomize.py": 120, "test_reward.py": 110, "test_eureka_suite.py": 70,
    "test_shadow_hand.py": 60, "test_curriculum.py": 40, "test_offline.py": 20,
}


def pytest_collection_modifyitems(config, items):
    weight = {}
    for item in items:
        weight.setdefault(item.path.name, FILE_SECONDS.get(item.path.name, 0))
    first_seen = {}
    for i, item in enumerate(items):
        first_seen.setdefault(item.path.name, i)
    items.sort(key=lambda it: (-weight[it.path.name], first_seen[it.path.name]))
