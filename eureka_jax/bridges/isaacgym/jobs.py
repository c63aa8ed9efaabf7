"""One Isaac Gym training: its command line in the Isaac Gym interpreter, the GPU slot it runs in,
the process and its output; a crash or a timeout is one candidate's failure text."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from eureka_jax.bridges.isaacgym.tasks import RUNTIME_DIR, IsaacGymTask
from eureka_jax.errors import EurekaError

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
