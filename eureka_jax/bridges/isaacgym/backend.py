"""Isaac Gym as a training backend (``IsaacGymBackend``): trainings run, curves read back.

Each (candidate, seed) is one IsaacGymEnvs training (rl_games) in a subprocess of the user's
Isaac Gym interpreter (``isaacgym.python``), running our entry script with the checked reward.
Runs are spread over ``isaacgym.gpus`` with ``isaacgym.per_gpu`` at a time on each; their
TensorBoard scalars are read back into the JAX trainer's ``TrainingCurves``, and a crash is
reported with the end of its traceback as the candidate's execution feedback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from eureka_jax.bridges.isaacgym.jobs import (
    Job,
    assign_gpus,
    command_line,
    failure_text,
    finish_trainings,
    reward_spec,
    start_training,
    traceback_tail,
    training_pythonpath,
)
from eureka_jax.bridges.isaacgym.tasks import (
    INSTALL_STEPS,
    RUNTIME_DIR,
    list_isaacgym_tasks,
    load_isaacgym_task,
)
from eureka_jax.errors import EurekaError
from eureka_jax.train.config import TrainingRequest

# ---- the backend --------------------------------------------------------------------------


class IsaacGymBackend:
    """The ``eureka_jax.backend.Backend`` of IsaacGymEnvs tasks: ``train_candidates`` with the
    JAX trainer's signature and result, one rl_games training per row and seed; curriculum
    stages hand rl_games' checkpoint (``checkpoint=PATH``) of the previous stage's first seed
    to the next."""

    name = "isaacgym"
    # one process per training: no constant variants as rows, no cached baselines (Eureka's
    # own numbers are the reference), no saved JAX policies, no budget ladder
    supports = frozenset()

    def __init__(self, cfg, work_dir: Path | None = None):
        # the command-line config is read here, once (``make_backend`` is the edge)
        from omegaconf import OmegaConf

        from eureka_jax.bridges.isaacgym.settings import IsaacGymSettings

        section = cfg.isaacgym
        self.ig = IsaacGymSettings(**(OmegaConf.to_container(section, resolve=True)
                                      if OmegaConf.is_config(section) else dict(section)))
        self.training = TrainingRequest.from_config(cfg)
        self.task_name, self.runs_dir = str(cfg.task), str(cfg.runs_dir)
        # the run directory; the trainings write under its isaacgym/
        self.work_dir = Path(work_dir) / "isaacgym" if work_dir else None
        self._verified: dict[str, str] = {}  # task class -> interpreter that passed the probe

    def load_task(self, name: str):
        return load_isaacgym_task(name, self.ig.isaacgymenvs)

    def prepare(self, task, work_dir: Path | None) -> None:
        """The interpreter passes its probe and the env count suits the task; trainings write
        under ``work_dir/isaacgym``."""
        self.check_installed(task.task_class)
        task.check_num_envs(self.ig.num_envs)
        if work_dir is not None:
            self.work_dir = Path(work_dir) / "isaacgym"

    def budget(self, task, config, hparams, num_seeds: int, select: str) -> tuple:
        epochs = int(self.training.max_iterations or self.ig.max_iterations)
        return None, (f"Training budget: each reward candidate trains a new policy from scratch "
                      f"with IsaacGymEnvs' rl_games PPO for {epochs} epochs, {num_seeds} "
                      "seed(s); its score is the highest consecutive_successes logged during "
                      "training.\n")

    def status(self) -> list[tuple[str, str]]:
        """The bridge's pieces here: torch, the Isaac Gym interpreter and its probe (for this
        task's class, ShadowHand unless an Isaac Gym task is named), TensorBoard, the
        IsaacGymEnvs source."""
        import importlib.util
        from importlib import metadata

        rows = []
        if importlib.util.find_spec("torch") is None:
            rows.append(("torch (bridge)", 'missing; install with: pip install -e ".[torch]"'))
        else:
            version = metadata.version("torch")
            rows.append(("torch (bridge)", f"{version} (only the Isaac Gym bridge uses it)"))
        task_class = (load_isaacgym_task(self.task_name).task_class
                      if self.task_name in list_isaacgym_tasks() else "ShadowHand")
        try:
            exe = self.interpreter()
        except EurekaError as e:
            rows.append(("backend isaacgym", f"not usable: {e}"))
        else:
            checks = self.probe(task_class)
            failed = next((c for c in checks if not c["ok"]), None)
            rows.append(("backend isaacgym", f"usable: {exe}" if failed is None else
                         f"not usable: {exe} fails '{failed['check']}'; {INSTALL_STEPS}"))
            rows += [(f"  {c['check']}", ("ok: " if c["ok"] else "FAILED: ") + c["detail"])
                     for c in checks]
        if importlib.util.find_spec("tensorboard") is None:
            rows.append(("tensorboard (bridge)", ("missing (reads Isaac Gym trainings' logs); "
                                                  'install with: pip install -e ".[isaacgym]"')))
        envs = self.ig.isaacgymenvs
        rows.append(("IsaacGymEnvs source", envs if envs else
                     "not set (isaacgym.isaacgymenvs=...; needed for task context); "
                     + INSTALL_STEPS))
        return rows

    def interpreter(self) -> str:
        """The Isaac Gym interpreter's path; one sentence when it is not set or not there."""
        python = self.ig.python
        if not python:
            raise EurekaError("backend=isaacgym needs the Isaac Gym interpreter: " + INSTALL_STEPS
                              + ".")
        exe = shutil.which(python) or (python if Path(python).is_file() else None)
        if exe is None:
            raise EurekaError(f"isaacgym.python={python} is not an executable; " + INSTALL_STEPS
                              + ".")
        return exe

    def probe(self, task_class: str = "ShadowHand") -> list[dict]:
        """The runtime's checks of the Isaac Gym interpreter (``runtime/eureka_ig_doctor.py``:
        import order, torch and JAX, a DLPack round trip, IsaacGymEnvs, hydra composing its
        config, rl_games' version), run there with the PYTHONPATH a training gets."""
        exe = self.interpreter()
        done = subprocess.run([exe, str(RUNTIME_DIR / "eureka_ig_doctor.py"), task_class],
                              capture_output=True, text=True, timeout=300, check=False,
                              env={**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
                                   "PYTHONPATH": training_pythonpath(self.ig.isaacgymenvs)})
        checks = [json.loads(line) for line in done.stdout.splitlines()
                  if line.startswith('{"check"')]
        if done.returncode and (not checks or checks[-1]["ok"]):  # died before reporting
            checks.append({"check": "interpreter", "ok": False,
                           "detail": traceback_tail(done.stderr, 1) or f"exit {done.returncode}"})
        return checks

    def check_installed(self, task_class: str = "ShadowHand") -> str:
        """The interpreter, once every probe passed and our side can read rl_games' logs; the
        first failure in one sentence otherwise."""
        import importlib.util

        if task_class in self._verified:
            return self._verified[task_class]
        if importlib.util.find_spec("tensorboard") is None:
            raise EurekaError("reading Isaac Gym trainings' logs needs TensorBoard in "
                              "eureka-jax's environment: pip install -e \".[isaacgym]\".")
        exe = self.interpreter()
        for check in self.probe(task_class):
            if not check["ok"]:
                raise EurekaError(f"{exe} fails the check '{check['check']}' "
                                  f"({check['detail']}); " + INSTALL_STEPS + ".")
        self._verified[task_class] = exe
        return exe

    def train_candidates(self, task, reward_fns, config, hparams=None, seeds=(0,), labels=None,
                         slots=None, min_rows: int = 0):
        """The JAX trainer's contract (``train.batch.train_candidates``), one IsaacGymEnvs
        training per row and seed; ``slots``/a seed table as there (a seed race);
        ``min_rows`` is ignored (no compiled program to keep: each training is a process)."""
        from eureka_jax.bridges.isaacgym.logs import curves_from_scalars, read_scalars
        from eureka_jax.train.batch import BatchResult
        from eureka_jax.train.curves import TrainingCurves

        python = self.check_installed(task.task_class)
        task.check_num_envs(self.ig.num_envs)
        labels = list(labels) if labels else [f"candidate {i}" for i in range(len(reward_fns))]
        root = self.work_dir or Path(self.runs_dir) / task.name / "isaacgym"
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        rows = list(range(len(reward_fns))) if slots is None else [int(i) for i in slots]
        table = np.asarray(seeds, dtype=np.int64)
        table = table if table.ndim == 2 else np.broadcast_to(table, (len(rows), len(table)))
        jobs = []
        for row, k in enumerate(rows):
            for s in table[row]:
                run_dir = root / stamp / f"{labels[k].replace('/', '_')}_seed{s}"
                run_dir.mkdir(parents=True, exist_ok=True)
                spec = run_dir / "reward.json"
                spec.write_text(json.dumps(reward_spec(reward_fns[k], task)))
                jobs.append(Job(labels[k], k, int(s), spec, run_dir, row=row))
        max_iterations = int(self.training.max_iterations or self.ig.max_iterations)
        start = time.perf_counter()
        outputs = {}
        timeout = float(self.ig.timeout)
        for wave in assign_gpus(jobs, list(self.ig.gpus), int(self.ig.per_gpu)):
            started = [start_training(*command_line(job, task, python, max_iterations,
                                                    self.ig.num_envs), job.run_dir)
                       for job in wave]
            for job, code in zip(wave, finish_trainings(started, timeout)):
                outputs[(job.row, job.seed)] = (code, (job.run_dir / "output.log").read_text())
        run_seconds = time.perf_counter() - start
        c = config.num_evals
        per_run, errors = [], {}
        for job in jobs:
            code, text = outputs[(job.row, job.seed)]
            curves = None
            if code == 0:
                try:  # logs without the fitness fail this candidate, not the search
                    curves = curves_from_scalars(read_scalars(job.run_dir), c,
                                                 reward_fns[job.candidate].component_names)
                except EurekaError as e:
                    errors[job.row] = f"the training finished but {e}"
            else:
                errors[job.row] = failure_text(code, text, timeout)
            if curves is None:
                m = len(reward_fns[job.candidate].component_names)
                nan = np.full(c, np.nan, np.float32)
                curves = TrainingCurves(fitness=nan, episode_return=nan, episode_length=nan,
                                        components=np.full((c, m), np.nan, np.float32),
                                        env_steps=nan, failed=np.array(True),
                                        failed_at=np.array(0),
                                        peak_fitness=np.array(np.nan, np.float32))
            per_run.append(curves)
        m = max([len(fn.component_names) for fn in reward_fns] + [0])
        stacked = _stack(per_run, len(rows), table.shape[1], m)
        result = BatchResult(labels=[labels[k] for k in rows],
                             component_names=[reward_fns[k].component_names for k in rows],
                             seeds=np.asarray(seeds).tolist(), curves=stacked, params=None,
                             compile_seconds=0.0, run_seconds=run_seconds,
                             env_steps=int(np.nan_to_num(stacked.env_steps[..., -1]).sum()),
                             slots=None if slots is None else rows, errors=errors)
        for row, text in errors.items():
            print(f"{labels[rows[row]]}: Isaac Gym training failed:\n{text}", file=sys.stderr)
        return result

    # ---- curriculum stages (each stage's ``isaacgym: {task, max_iterations, overrides}``;
    # ``isaacgym_task: X`` is short for ``isaacgym: {task: X}``) ----------------------------

    def _task(self, stage):
        name = stage.settings("isaacgym").get("task")
        if not name:
            raise EurekaError(f"stage {stage.name} has no isaacgym_task; add the IsaacGymEnvs "
                              "task name to the curriculum YAML.")
        return load_isaacgym_task(name, self.ig.isaacgymenvs)

    def task_rewards(self, stage):
        task = self._task(stage)

        def human():
            return task.human_reward_source

        def sparse():
            raise EurekaError("reward: sparse is not available on Isaac Gym tasks; give a "
                              "reward file or a search run directory.")

        return human, sparse

    def stage_jobs(self, stage, fn, task, init, stage_dir: Path) -> list[tuple[list[str], dict]]:
        """The command lines of a stage's runs (one per seed), with the hand-off: the previous
        stage's checkpoint as ``checkpoint=``, whose epoch and frame counters the entry script
        resets (``fresh_checkpoint``), so every stage trains its own ``max_iterations``."""
        python = self.check_installed(task.task_class)
        task.check_num_envs(self.ig.num_envs)
        seeds = self.training.seed_list()
        own = stage.settings("isaacgym")
        iterations = int(own.get("max_iterations") or self.training.max_iterations
                         or self.ig.max_iterations)
        jobs = []
        for s in seeds:
            run_dir = Path(stage_dir) / f"seed{s}"
            run_dir.mkdir(parents=True, exist_ok=True)
            spec = run_dir / "reward.json"
            spec.write_text(json.dumps(reward_spec(fn, task)))
            jobs.append(Job(stage.name, 0, s, spec, run_dir))
        out = []
        for wave in assign_gpus(jobs, list(self.ig.gpus), int(self.ig.per_gpu)):
            for job in wave:
                argv, env = command_line(job, task, python, iterations, self.ig.num_envs)
                if init:
                    argv.append(f"checkpoint={init}")
                argv += [str(x) for x in own.get("overrides", [])]
                out.append((job, argv, env))
        return out

    def train_stage(self, stage, reward_source, init, stage_dir):
        from eureka_jax.bridges.isaacgym.logs import curves_from_scalars, read_scalars
        from eureka_jax.curriculum import StageOutcome
        from eureka_jax.reward import RewardError, compile_reward

        task = self._task(stage)
        try:
            fn = compile_reward(reward_source, task)
        except RewardError as e:
            raise EurekaError(f"stage {stage.name}: the reward does not compile for "
                              f"{task.name} [{e.category}]: {e.message}") from e
        fitness, final = [], []
        checkpoints = []
        timeout = float(self.ig.timeout)
        for job, argv, env in self.stage_jobs(stage, fn, task, init, stage_dir):
            (code,) = finish_trainings([start_training(argv, env, job.run_dir)], timeout)
            if code != 0:
                output = (job.run_dir / "output.log").read_text()
                raise EurekaError(f"stage {stage.name}, seed {job.seed}: Isaac Gym training "
                                  f"failed:\n{failure_text(code, output, timeout)}")
            curves = curves_from_scalars(read_scalars(job.run_dir), 10, fn.component_names)
            fitness.append(float(curves.peak_fitness))  # Eureka's: max of the raw series
            final.append(float(curves.fitness[-1]))
            found = sorted(job.run_dir.rglob("*.pth"), key=lambda p: p.stat().st_mtime)
            if not found:
                raise EurekaError(f"stage {stage.name}, seed {job.seed}: the training wrote no "
                                  f"rl_games checkpoint (*.pth) under {job.run_dir}.")
            checkpoints.append(str(found[-1]))
        return StageOutcome(checkpoint=checkpoints[0], fitness=fitness, final_fitness=final,
                            details={"checkpoints": checkpoints})


def _stack(runs, k: int, s: int, m: int):
    from eureka_jax.train.curves import TrainingCurves

    def pad(x):
        return np.concatenate([x, np.full((*x.shape[:-1], m - x.shape[-1]), np.nan, np.float32)],
                              axis=-1)

    fields = {}
    for name in ("fitness", "episode_return", "episode_length", "env_steps", "failed",
                 "failed_at", "peak_fitness"):
        fields[name] = np.stack([getattr(r, name) for r in runs]).reshape(k, s, *np.shape(
            getattr(runs[0], name)))
    comps = np.stack([pad(r.components) for r in runs])
    fields["components"] = comps.reshape(k, s, *comps.shape[1:])
    return TrainingCurves(**fields)
