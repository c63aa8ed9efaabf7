"""The backend seam: a new backend is one class and one registration line, and the search,
the final evaluation, the report and ``doctor`` run through it end to end.

The backend here is a test double on purpose (what it stands in for is a simulator, which a
unit test cannot install): its "training" returns known curves, a score that is a fixed
function of each reward's source, so the test can say which program the search must keep and
what the evaluation must report."""

import hashlib
import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from eureka_jax import backend as backends
from eureka_jax.config import load_config
from eureka_jax.curriculum import StageOutcome
from eureka_jax.errors import EurekaError
from eureka_jax.evaluate import evaluate
from eureka_jax.llm.factory import make_proposer
from eureka_jax.llm.prompts import Prompts
from eureka_jax.report import make_report
from eureka_jax.search import Search, SearchSettings
from eureka_jax.train.batch import BatchResult
from eureka_jax.train.config import TrainingRequest
from eureka_jax.train.curves import TrainingCurves


def score(source: str) -> float:
    """The scripted fitness of a reward program: a fixed number in [0, 1) per source."""
    return int(hashlib.sha256(source.encode()).hexdigest()[:8], 16) / 2**32


def seed_offset(seed) -> float:
    return 1e-4 * (int(seed) % 3)  # seeds differ a little, so intervals have a width


class ScriptedBackend:
    """Trains nothing: each row's fitness rises linearly to ``score(source)`` (+ a seed's
    offset) over the checkpoints. Records every call in ``trained``."""

    name = "scripted"
    supports = frozenset()
    trained: ClassVar[list] = []

    def __init__(self, cfg, work_dir=None):
        self.cfg = cfg

    def load_task(self, name):
        from eureka_jax.task import load_task

        return load_task(name)

    def prepare(self, task, work_dir):
        pass

    def budget(self, task, config, hparams, num_seeds, select):
        return None, f"Training budget: scripted, {num_seeds} seed(s), no training.\n"

    def train_candidates(self, task, reward_fns, config, hparams=None, seeds=(0,), labels=None,
                         slots=None, min_rows=0):
        rows = list(range(len(reward_fns))) if slots is None else list(slots)
        table = np.asarray(seeds, dtype=np.int64)
        table = table if table.ndim == 2 else np.broadcast_to(table, (len(rows), len(table)))
        c, m = config.num_evals, max(len(fn.component_names) for fn in reward_fns)
        ramp = np.linspace(0.0, 1.0, c)
        fitness = np.array([[score(reward_fns[k].source) * ramp + seed_offset(s) for s in row]
                            for k, row in zip(rows, table)], np.float32)
        shape = fitness.shape
        curves = TrainingCurves(
            fitness=fitness, episode_return=fitness, episode_length=np.full(shape, 10.0),
            components=np.zeros((*shape, m), np.float32),
            env_steps=np.broadcast_to(np.arange(1, c + 1, dtype=np.float32) * 100, shape),
            failed=np.zeros(shape[:2], bool), failed_at=np.full(shape[:2], -1))
        names = labels or [f"candidate {i}" for i in range(len(reward_fns))]
        self.trained.append([reward_fns[k].source for k in rows])
        return BatchResult(labels=[names[k] for k in rows],
                           component_names=[reward_fns[k].component_names for k in rows],
                           seeds=table.tolist(), curves=curves, params=None,
                           compile_seconds=0.0, run_seconds=1.0, env_steps=100 * c * table.size,
                           slots=None if slots is None else rows)

    def task_rewards(self, stage):
        task = self.load_task(stage.task)
        return (lambda: task.human_reward_source), (lambda: task.sparse_reward_source)

    def train_stage(self, stage, reward_source, init, stage_dir):
        checkpoint = Path(stage_dir) / "checkpoint.txt"
        checkpoint.write_text(reward_source)
        return StageOutcome(checkpoint=str(checkpoint), fitness=[score(reward_source)],
                            final_fitness=[score(reward_source)])

    def status(self):
        return [("backend scripted", "usable: a test double")]


@pytest.fixture
def scripted(monkeypatch):
    monkeypatch.setitem(backends.BACKENDS, "scripted", ScriptedBackend)  # the one line
    monkeypatch.setattr(ScriptedBackend, "trained", [])
    return ScriptedBackend


SETTINGS = ["task=cartpole", "backend=scripted", "llm=offline", "iteration=2", "sample=2",
            "seeds=2", "confirm=1", "num_eval=3", "report_video=false"]


@pytest.mark.slow  # a whole search, evaluation and report (~8 s): not in the fast tier
def test_search_evaluation_and_report_run_through_a_registered_backend(scripted, tmp_path):
    cfg = load_config(SETTINGS)
    backend = backends.make_backend(cfg)
    task = backend.load_task(cfg.task)
    proposer, _, _ = make_proposer(cfg, task, tmp_path / "llm.jsonl")
    summary = Search(SearchSettings.from_config(cfg), task, tmp_path, proposer, Prompts(),
                     backend, log=lambda line: None).run()

    searched = {src for call in scripted.trained for src in call}
    assert len(scripted.trained) >= 2, "each round trains through the backend"
    best = summary.best.source
    # the search keeps the program the scripted trainer scored highest (seed offsets < 2e-4)
    assert score(best) == pytest.approx(max(score(s) for s in searched), abs=2e-4)
    assert not (tmp_path / "reference.json").exists()  # a backend without "references"
    prompt = (tmp_path / "llm.jsonl").read_text()
    assert "Training budget: scripted" in prompt  # the backend's budget reaches the LLM

    evaluation = evaluate(task, best, tmp_path, int(cfg.num_eval), backend,
                          TrainingRequest.from_config(cfg))
    expect = {"best": best, "human": task.human_reward_source,
              "sparse": task.sparse_reward_source}
    for label, source in expect.items():
        seeds = evaluation.seeds
        mean = np.mean([score(source) + seed_offset(s) for s in seeds])
        assert evaluation.rewards[label]["mean"] == pytest.approx(mean, abs=1e-6)
    assert evaluation.best_minus_human["mean"] == pytest.approx(
        score(best) - score(task.human_reward_source), abs=1e-6)
    assert json.loads((tmp_path / "summary.json").read_text())["evaluation"]["num_eval"] == 3

    report = make_report(tmp_path).read_text()
    assert f"{evaluation.rewards['best']['mean']:.3f}" in report


def test_a_backend_is_asked_what_it_supports(scripted, tmp_path):
    cfg = load_config([*SETTINGS, "tune=2"])
    backend = backends.make_backend(cfg)
    task = backend.load_task(cfg.task)
    proposer, _, _ = make_proposer(cfg, task, tmp_path / "llm.jsonl")
    with pytest.raises(EurekaError, match="backend=scripted does not do; .*backend=jax"):
        Search(SearchSettings.from_config(cfg), task, tmp_path, proposer, Prompts(), backend,
               log=lambda line: None)


def test_an_unregistered_backend_is_one_sentence():
    with pytest.raises(EurekaError, match="backend=bullet is not known; use backend=jax or "
                                          "backend=isaacgym"):
        load_config(["backend=bullet"])


def test_doctor_and_curricula_reach_a_registered_backend(scripted, tmp_path):
    from eureka_jax.cli.doctor import backend_status
    from eureka_jax.curriculum import parse_curriculum, run_curriculum

    cfg = load_config(["task=cartpole", "backend=scripted"])
    rows = dict(backend_status(cfg))
    assert rows["backend scripted"] == "usable: a test double" and "backend jax" in rows
    curriculum = parse_curriculum({"name": "two", "stages": [
        {"name": "a", "task": "cartpole", "reward": "human"},
        {"name": "b", "task": "cartpole", "reward": "sparse", "init": "previous"}]})
    summary = run_curriculum(curriculum, backends.make_backend(cfg), tmp_path,
                             log=lambda line: None)
    first, second = summary["stages"]
    assert second["init_from"] == first["checkpoint"]
    task = backends.make_backend(cfg).load_task("cartpole")
    assert second["fitness_per_seed"] == [score(task.sparse_reward_source)]


def test_curriculum_stages_carry_each_backends_own_settings(scripted):
    from eureka_jax.curriculum import parse_curriculum

    spec = {"stages": [
        {"task": "cartpole", "scripted_task": "BalanceV2",
         "isaacgym": {"task": "ShadowHand", "max_iterations": 10}},
        {"task": "cartpole", "init": "previous", "scripted": {"task": "SwingV2", "gain": 2}},
    ]}
    first, second = parse_curriculum(spec).stages
    assert first.settings("scripted") == {"task": "BalanceV2"}  # NAME_task: short form
    assert first.settings("isaacgym") == {"task": "ShadowHand", "max_iterations": 10}
    assert second.settings("scripted") == {"task": "SwingV2", "gain": 2}
    assert second.settings("isaacgym") == {}
    with pytest.raises(EurekaError, match=r"stage 1 has unknown key mujoco_task; valid: init, "
                                          r"name, reward, task, train, or a backend's own"):
        parse_curriculum({"stages": [{"task": "cartpole", "mujoco_task": "x"}]})
    with pytest.raises(EurekaError, match=r"scripted must map settings to values"):
        parse_curriculum({"stages": [{"task": "cartpole", "scripted": "x"}]})


def test_a_backends_settings_section_is_part_of_the_config():
    from eureka_jax.backend import BACKEND_SETTINGS

    cfg = load_config(["isaacgym.per_gpu=2", "isaacgym.gpus=[0,1]"])
    assert cfg.isaacgym.per_gpu == 2 and list(cfg.isaacgym.gpus) == [0, 1]
    assert set(BACKEND_SETTINGS) <= set(cfg)
    with pytest.raises(EurekaError, match="check the value's type"):
        load_config(["isaacgym.per_gpu=many"])


def test_a_benchmark_suite_asks_the_backend_for_task_folders():
    from eureka_jax.cli.benchmark import cmd_benchmark

    with pytest.raises(EurekaError, match="benchmark suite=eureka needs the task folders a "
                                          "benchmark suite names.*backend=isaacgym does not do.*"
                                          r"\(backend=jax\)"):
        cmd_benchmark(load_config(["backend=isaacgym"]))
