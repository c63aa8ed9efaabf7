"""Settings typed at the command-line edge: the flat config becomes ``SearchSettings`` /
``TrainingRequest`` once, and library functions take those (fast: no compile)."""

import ast
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from eureka_jax.config import load_config
from eureka_jax.errors import EurekaError
from eureka_jax.search import SearchSettings
from eureka_jax.task import load_task
from eureka_jax.train.config import TrainingRequest

ROOT = Path(__file__).resolve().parents[1]


def test_a_search_config_becomes_typed_settings():
    cfg = load_config(["task=cartpole", "sample=3", "seeds=2", "seed=7", "select=final",
                       "references=off", "reward_cost_ratio=4", "train.num_envs=32",
                       "target_fitness=0.9"])
    s = SearchSettings.from_config(cfg)
    assert (s.sample, s.select, s.references, s.target_fitness) == (3, "final", False, 0.9)
    assert s.seeds == [7, 8] and s.training.overrides == {"num_envs": 32}
    assert s.policy.max_cost_ratio == 4.0 and s.dr is None
    dr = SearchSettings.from_config(load_config(["dr_iteration=2", "dr_sample=3"])).dr
    assert (dr.iterations, dr.samples, dr.width) == (2, 3, 5)


def test_a_run_saved_before_newer_keys_still_loads():
    # a config.yaml written by an earlier version: no race_score, references, dr_* keys
    saved = OmegaConf.create({"task": "cartpole", "iteration": 2, "sample": 4, "seed": 1,
                              "seeds": 1, "select": "max", "train": {}, "profile": "cpu",
                              "max_iterations": None})
    s = SearchSettings.from_config(saved)
    assert (s.iteration, s.sample, s.race_score, s.references, s.dr) == (2, 4, "heldout", True,
                                                                          None)


@pytest.mark.parametrize("values, words", [
    ({"sample": 0}, "sample=0 is too small"),
    ({"select": "median"}, "select=median is not known; use select=max or select=final"),
    ({"tune_range": 1.0}, "tune_range=1.0"),
    ({"target_fitness": "high"}, "target_fitness=high is not a number"),
    ({"dr_iteration": 1, "num_eval": 0}, "set num_eval to at least 1"),
])
def test_bad_settings_are_one_sentence_even_from_an_edited_run(values, words):
    saved = OmegaConf.create({"task": "cartpole", **values})  # not checked by load_config
    with pytest.raises(EurekaError, match=words):
        SearchSettings.from_config(saved)


def test_the_training_request_resolves_the_tasks_settings():
    task = load_task("cartpole")
    config, _ = TrainingRequest().resolve(task)
    assert config.num_updates == task.train["num_updates"]
    gpu, _ = TrainingRequest(profile="gpu").resolve(task)
    assert gpu.num_envs == task.train_gpu["num_envs"]
    short, _ = TrainingRequest(max_iterations=7, overrides={"learning_rate": 1e-3}).resolve(task)
    assert short.num_updates == 7 and short.num_evals == 7  # the largest divisor <= 20
    stage, _ = TrainingRequest(overrides={"num_envs": 16}).resolve(task, {"num_envs": 8,
                                                                           "unroll_length": 4})
    assert (stage.num_envs, stage.unroll_length) == (16, 4)  # the user's over the stage's
    assert TrainingRequest(seed=5, seeds=3).seed_list() == [5, 6, 7]
    assert TrainingRequest(seed=5).seed_list(1000, 2) == [1005, 1006]
    with pytest.raises(EurekaError, match="profile=tpu is not known"):
        TrainingRequest(profile="tpu")


# The command-line edge: the only functions that read the flat config (a parameter named
# cfg). Everything else takes typed settings.
EDGE = {
    "eureka_jax/config.py", "eureka_jax/cli/", "eureka_jax/bridges/isaacgym/runtime/",
}
EDGE_FUNCTIONS = {
    "from_config",  # each settings class types its own keys
    "__init__",  # a backend reads its own section when make_backend builds it
    "make_backend", "make_proposer", "resolve_llm",  # the registries' factories
    "policy_for", "training_settings",  # the reward policy's and training's shortcuts
    "initialize", "settings",  # distributed.*: joining processes before anything else
}


def test_library_functions_take_typed_settings_not_the_flat_config():
    readers = []
    for path in (ROOT / "eureka_jax").rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if any(rel == e or rel.startswith(e) for e in EDGE):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.FunctionDef) and node.name not in EDGE_FUNCTIONS
                    and "cfg" in [a.arg for a in node.args.args + node.args.kwonlyargs]):
                readers.append(f"{rel}:{node.lineno} {node.name}")
    assert readers == []
