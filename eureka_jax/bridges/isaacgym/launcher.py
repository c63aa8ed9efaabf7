"""Isaac Gym as a training backend: tasks, command lines, GPU slots, runs, curves.

Each (candidate, seed) is one IsaacGymEnvs training (rl_games) in a subprocess of the user's
Isaac Gym interpreter (``isaacgym.python``), running our entry script with the checked reward.
Runs are spread over ``isaacgym.gpus`` with ``isaacgym.per_gpu`` at a time on each; their
TensorBoard scalars are read back into the JAX trainer's ``TrainingCurves``, and a crash is
reported with the end of its traceback as the candidate's execution feedback.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from eureka_jax.errors import EurekaError
from eureka_jax.train.config import seed_list

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
TASK_SPECS = Path(__file__).resolve().parents[3] / "configs" / "isaacgym"

INSTALL_STEPS = (
    "install Isaac Gym Preview 4 (download from https://developer.nvidia.com/isaac-gym, then "
    "`pip install -e isaacgym/python` in a Python 3.8 environment), IsaacGymEnvs (`git clone "
    "https://github.com/isaac-sim/IsaacGymEnvs && pip install -e IsaacGymEnvs`) and, into "
    "that environment, JAX's CUDA build with the numpy Isaac Gym needs (`pip install "
    "numpy==1.23.5 \"jax[cuda11_pip]==0.4.13\" -f "
    "https://storage.googleapis.com/jax-releases/jax_cuda_releases.html`), then pass its "
    "interpreter as isaacgym.python=/path/to/python3.8 (docs/isaacgym.md has every step)")


# ---- tasks --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskReward:
    """The task's own reward (``mode="human"``) or its success signal as the reward
    (``mode="sparse"``) on Isaac Gym: no program to compile, the runtime's mixin does it."""

    mode: str
    source: str = ""
    entry: str = ""
    input_names: tuple = ()
    component_names: tuple = ()


@dataclass(eq=False)
class IsaacGymTask:
    """An IsaacGymEnvs task as the search sees it (``configs/isaacgym/<name>.yaml``): the
    reward inputs (task attributes, per-env shapes) the compiler checks rewards against, the
    description, and the context built from the task file.

    Attributes (the YAML's keys):
      task_class: IsaacGymEnvs' task name (its ``isaacgym_task_map`` key and cfg/task YAML).
      inputs: per-environment tensor attributes a reward may take, with per-env shapes.
      shared_inputs: attributes without an environment axis (joint limits, the episode
        length), passed unbatched (``vmap`` with ``in_axes=None``).
      overrides: hydra overrides every training of this task gets (e.g. the object type).
      success_attr: the attribute holding the success metric, logged as
        ``consecutive_successes`` (the fitness).
      success_bonus / success_event: the attribute with the bonus added to the LLM reward on
        every goal reached, and the attribute that is 1 where a goal was reached this step
        (Eureka's hand tasks: ``reach_goal_bonus``, ``reset_goal_buf``); the event is also
        the sparse reward.
      train_config: the rl_games YAML (``cfg/train/<name>.yaml``), for the ``num_envs`` check.
      notes: facts about the task the LLM should know, added to its context.
    """

    name: str
    task_class: str
    description: str
    inputs: dict
    task_file: str
    class_name: str | None = None
    shared_inputs: dict = field(default_factory=dict)
    overrides: list = field(default_factory=list)
    success_attr: str = "consecutive_successes"
    success_bonus: str | None = None
    success_event: str | None = None
    fitness_description: str = "consecutive successes (IsaacGymEnvs' success metric)"
    episode_length: int = 600
    target_fitness: float | None = None
    isaacgymenvs: str | None = None
    goals: list = field(default_factory=list)
    fitness_input: str = "consecutive_successes"
    train: dict = field(default_factory=dict)
    fitness_aggregate: str = "mean"
    train_config: str | None = None
    notes: str = ""
    # the CPU budget ladder measures JAX trainings; an Isaac Gym task trains on the GPUs of
    # the Isaac Gym interpreter, wherever eureka-jax's own JAX runs: never measured here
    cpu_learns: bool | None = None

    @functools.cached_property
    def reward_input_specs(self) -> dict:
        import jax
        import jax.numpy as jnp

        shapes = {**self.inputs, **self.shared_inputs}
        return {n: jax.ShapeDtypeStruct(tuple(s), jnp.float32) for n, s in shapes.items()}

    @property
    def reward_input_names(self):
        return tuple(self.reward_input_specs)

    @functools.cached_property
    def probe_inputs(self) -> dict:
        """128 random per-env inputs (unit quaternions where the name says rot/quat; a shared
        input is one random value repeated): the probe a candidate must survive with finite
        outputs, as for MJX tasks."""
        rng = np.random.default_rng(0)
        out = {}
        for name, shape in {**self.inputs, **self.shared_inputs}.items():
            rows = 1 if name in self.shared_inputs else 128
            x = rng.normal(size=(rows, *shape)).astype(np.float32)
            if ("rot" in name or "quat" in name) and tuple(shape)[-1:] == (4,):
                x /= np.linalg.norm(x, axis=-1, keepdims=True)
            if name.endswith("upper_limits"):  # above the matching lower limits
                x = np.abs(x) + 0.1
            elif name.endswith("lower_limits"):
                x = -np.abs(x) - 0.1
            elif name == "max_episode_length":
                x = np.full_like(x, float(self.episode_length))
            out[name] = np.broadcast_to(x, (128, *shape)).copy()
        return out

    def task_path(self) -> Path:
        root = self.isaacgymenvs
        if not root:
            raise EurekaError(f"task {self.name} needs IsaacGymEnvs' source for its context: "
                              "set isaacgym.isaacgymenvs=/path/to/IsaacGymEnvs/isaacgymenvs; "
                              + INSTALL_STEPS + ".")
        path = Path(root).expanduser() / self.task_file
        if not path.is_file():
            raise EurekaError(f"{path} does not exist; isaacgym.isaacgymenvs must be the "
                              "isaacgymenvs package folder (it holds tasks/ and train.py).")
        return path

    def model_facts(self) -> str:
        """What the task's YAML (``cfg/task/<task_class>.yaml``) states about the simulation
        and the episode, with this spec's ``task.*`` overrides applied (what trains, e.g.
        objectType), without the reward's hyperparameters."""
        from eureka_jax.bridges.isaacgym.context import task_yaml_summary

        path = Path(self.task_path()).parents[1] / "cfg" / "task" / f"{self.task_class}.yaml"
        if not path.is_file():
            return ""
        return task_yaml_summary(apply_overrides(yaml.safe_load(path.read_text()) or {},
                                                 self.overrides))

    def context(self, budget: str | None = None) -> str:
        from eureka_jax.bridges.isaacgym.context import build_context, context_text

        ctx = build_context(self.task_path(), self.class_name)
        specs = {n: (s, "float32") for n, s in self.inputs.items()}
        shared = {n: (s, "float32") for n, s in self.shared_inputs.items()}
        notes = f"\nNotes: {self.notes.strip()}\n" if self.notes.strip() else ""
        facts = self.model_facts()
        return (f"Task: {self.description.strip()}\n" + notes + "\n"
                + (f"{facts}\n" if facts else "") + context_text(ctx, specs, shared)
                + (f"\n{budget}" if budget else ""))

    @property
    def human_reward_source(self) -> str:
        raise EurekaError(f"{self.name}: the human reward is IsaacGymEnvs' own (torch) reward; "
                          "init=human is for MJX tasks.")

    def baseline_rewards(self) -> list:
        """The final evaluation's human and sparse rewards: the task's own reward, and its
        success event as the reward."""
        if not self.success_event:
            raise EurekaError(f"{self.name}: the sparse reward needs the task's success event; "
                              "set success_event (an attribute that is 1 where the goal was "
                              "reached) in its spec, or num_eval=0.")
        return [TaskReward("human"), TaskReward("sparse")]

    def check_num_envs(self, num_envs: int | None) -> None:
        """rl_games asserts that ``num_envs x horizon_length`` is a multiple of
        ``minibatch_size`` (``a2c_common.py``); say so up front, in one sentence."""
        if not self.isaacgymenvs:
            return
        root = Path(self.isaacgymenvs).expanduser()
        train_yaml = root / "cfg" / "train" / f"{self.train_config or self.task_class + 'PPO'}.yaml"
        task_yaml = root / "cfg" / "task" / f"{self.task_class}.yaml"
        if not train_yaml.is_file():
            return
        config = ((yaml.safe_load(train_yaml.read_text()) or {}).get("params") or {}).get(
            "config") or {}
        horizon, minibatch = config.get("horizon_length"), config.get("minibatch_size")
        if not isinstance(horizon, int) or not isinstance(minibatch, int):
            return  # interpolated or per-env minibatches: rl_games derives a valid size
        n = num_envs
        if n is None and task_yaml.is_file():
            default = ((yaml.safe_load(task_yaml.read_text()) or {}).get("env") or {}).get(
                "numEnvs")
            found = re.search(r"resolve_default:\s*(\d+)", str(default))
            n = int(found.group(1)) if found else (default if isinstance(default, int) else None)
        if n is None:
            return
        step = minibatch // math.gcd(minibatch, horizon)
        if n < step or n % step:
            raise EurekaError(
                f"num_envs={n} does not suit {train_yaml.name} (horizon_length {horizon}, "
                f"minibatch_size {minibatch}): rl_games needs num_envs x horizon_length to be a "
                f"multiple of minibatch_size, so set isaacgym.num_envs to a multiple of {step} "
                f"such as {max(step, -(-n // step) * step)}.")


def apply_overrides(task_yaml: dict, overrides: list[str]) -> dict:
    """``task_yaml`` with the hydra overrides that address it (``task.env.objectType=pen``)
    applied, values parsed as YAML as hydra parses them; other overrides are left out."""
    out = json.loads(json.dumps(task_yaml))  # a deep copy of plain YAML data
    for override in overrides:
        key, _, value = str(override).partition("=")
        if not key.startswith("task."):
            continue
        *parents, leaf = key[len("task."):].split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    return out


def list_isaacgym_tasks() -> list[str]:
    return sorted(p.stem for p in TASK_SPECS.glob("*.yaml"))


def load_isaacgym_task(name: str, isaacgymenvs: str | None = None) -> IsaacGymTask:
    path = TASK_SPECS / f"{name}.yaml"
    if not path.is_file():
        raise EurekaError(f"unknown Isaac Gym task '{name}'; choose one of: "
                          f"{', '.join(list_isaacgym_tasks())} (configs/isaacgym/).")
    spec = yaml.safe_load(path.read_text()) or {}
    for key in ("inputs", "shared_inputs"):
        spec[key] = {k: list(v) for k, v in (spec.get(key) or {}).items()}
    return IsaacGymTask(name=name, isaacgymenvs=isaacgymenvs, **spec)


# ---- one training's command line, and where it runs -----------------------------------


@dataclass
class Job:
    label: str
    candidate: int
    seed: int
    reward_json: Path
    run_dir: Path
    row: int = 0  # the result row (candidate, or race slot) this training fills
    gpu: int | None = None


def assign_gpus(jobs: list[Job], gpus: list[int], per_gpu: int) -> list[list[Job]]:
    """Waves of at most ``len(gpus) * per_gpu`` concurrent jobs; inside a wave, jobs go round
    robin over the GPUs so that each GPU runs at most ``per_gpu`` of them."""
    if not gpus or per_gpu < 1:
        raise EurekaError("isaacgym.gpus must list at least one GPU and isaacgym.per_gpu must be "
                          ">= 1.")
    width = len(gpus) * per_gpu
    waves = []
    for start in range(0, len(jobs), width):
        wave = jobs[start:start + width]
        for i, job in enumerate(wave):
            job.gpu = gpus[i % len(gpus)]
        waves.append(wave)
    return waves


def training_pythonpath(isaacgymenvs: str | None) -> str:
    """Our runtime (never the rest of eureka_jax), then the parent of the IsaacGymEnvs package
    the LLM was shown (so training imports that copy, not another one installed in the
    interpreter), then the user's own PYTHONPATH (prepended to, never replaced)."""
    paths = [str(RUNTIME_DIR)]
    if isaacgymenvs:
        paths.append(str(Path(isaacgymenvs).expanduser().resolve().parent))
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    return os.pathsep.join(paths)


def command_line(job: Job, task: IsaacGymTask, python: str, max_iterations: int,
                 num_envs: int | None = None) -> tuple[list[str], dict]:
    """(argv, environment) of one training. The GPU is chosen with CUDA_VISIBLE_DEVICES, so
    inside the process it is always cuda:0."""
    argv = [python, str(RUNTIME_DIR / "eureka_ig_train.py"), str(job.reward_json), task.task_class,
            "headless=True", "sim_device=cuda:0", "rl_device=cuda:0", "graphics_device_id=0",
            f"seed={job.seed}", f"max_iterations={max_iterations}",
            f"experiment={job.label.replace('/', '_')}_seed{job.seed}",
            f"hydra.run.dir={job.run_dir}", *task.overrides]
    if num_envs:
        argv.append(f"num_envs={num_envs}")
    env = {
        "CUDA_VISIBLE_DEVICES": str(job.gpu),
        "XLA_PYTHON_CLIENT_PREALLOCATE": "false",  # leave the GPU memory to Isaac Gym
        "PYTHONPATH": training_pythonpath(task.isaacgymenvs),
        "HYDRA_FULL_ERROR": "1",  # the whole traceback, for the LLM's execution feedback
    }
    return argv, env


def reward_spec(fn, task: IsaacGymTask) -> dict:
    """What the runtime needs of a compiled reward (the JSON beside each run), with the modules
    and builtins the reward policy allowed it: the runtime allows exactly those, so a program
    the checker accepted runs there."""
    from eureka_jax.reward.policy import DEFAULT_POLICY

    policy = getattr(fn, "policy", DEFAULT_POLICY)
    return {"mode": getattr(fn, "mode", "reward"), "source": fn.source, "entry": fn.entry,
            "modules": sorted(policy.imports), "builtins": sorted(policy.builtins),
            "module_names": {m: sorted(names) for m, names in policy.modules},
            "input_names": list(fn.input_names), "component_names": list(fn.component_names),
            "shared_names": [n for n in fn.input_names if n in task.shared_inputs],
            "task_class": task.task_class, "success_attr": task.success_attr,
            "success_bonus": task.success_bonus, "success_event": task.success_event}


def start_training(argv: list[str], env: dict, run_dir: Path):
    """Starts one training in its own process group (rl_games, JAX and Isaac Gym may start
    children of their own), its output in ``run_dir/output.log``."""
    log = open(run_dir / "output.log", "w")  # noqa: SIM115 (closed by finish_trainings)
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=run_dir,
                            env={**os.environ, **env}, start_new_session=True)
    return proc, log


def finish_trainings(started: list, timeout: float) -> list[int | None]:
    """Waits for trainings started together; the exit code of each, or None for one that ran
    past ``timeout`` seconds, whose whole process group is then killed. If waiting is
    interrupted (Ctrl-C), every training still running is killed too: none outlives the
    search."""
    deadline = time.monotonic() + timeout
    codes = []
    try:
        for proc, log in started:
            try:
                codes.append(proc.wait(timeout=max(0.0, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                codes.append(None)
    finally:
        for proc, log in started:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            log.close()
    return codes


def failure_text(code: int | None, output: str, timeout: float) -> str:
    """What a failed training reports (its candidate's execution feedback)."""
    if code is None:
        return (f"the training did not finish within isaacgym.timeout={timeout:g} s and was "
                "stopped; its output ended with:\n" + traceback_tail(output, 10))
    return traceback_tail(output)


def traceback_tail(text: str, lines: int = 25) -> str:
    """The end of a crashed run's output, from its last traceback when there is one."""
    start = text.rfind("Traceback (most recent call last)")
    tail = text[start:] if start >= 0 else text
    return "\n".join(tail.strip().splitlines()[-lines:])


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
        self.cfg = cfg
        self.ig = cfg.isaacgym
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
        epochs = int(self.cfg.max_iterations or self.ig.max_iterations)
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
        task_class = (load_isaacgym_task(self.cfg.task).task_class
                      if self.cfg.task in list_isaacgym_tasks() else "ShadowHand")
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
        from eureka_jax.train.ppo import TrainingCurves

        python = self.check_installed(task.task_class)
        task.check_num_envs(self.ig.num_envs)
        labels = list(labels) if labels else [f"candidate {i}" for i in range(len(reward_fns))]
        root = self.work_dir or Path(self.cfg.runs_dir) / task.name / "isaacgym"
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
        max_iterations = int(self.cfg.max_iterations or self.ig.max_iterations)
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

    # ---- curriculum stages (``isaacgym_task`` of each stage) ------------------------------

    def _task(self, stage):
        if not stage.isaacgym_task:
            raise EurekaError(f"stage {stage.name} has no isaacgym_task; add the IsaacGymEnvs "
                              "task name to the curriculum YAML.")
        return load_isaacgym_task(stage.isaacgym_task, self.ig.isaacgymenvs)

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
        seeds = seed_list(self.cfg)
        iterations = int(stage.isaacgym.get("max_iterations") or self.cfg.max_iterations
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
                argv += [str(x) for x in stage.isaacgym.get("overrides", [])]
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
    from eureka_jax.train.ppo import TrainingCurves

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
