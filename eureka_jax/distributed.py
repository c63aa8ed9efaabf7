"""Several hosts: ``jax.distributed`` joins the processes, process 0 runs the search.

Every process is started with the same command line (by hand, ``srun``, ``mpirun``, ...).
After ``initialize``, ``jax.devices()`` lists the devices of all processes and the trainer's
candidate mesh spans them. Process 0 (the leader) proposes, compiles, selects and writes the
run directory; the other processes only train. Each time the leader trains a batch it posts
the job (task, training settings, seeds and the reward sources) in the coordination service's
key-value store; every other process compiles the same sources with the same checks, says it
is ready (or why not), and then all processes enter the same compiled program, each training
the candidates on its devices. Results are gathered to every process; the leader keeps them.
No job system of our own: JAX's coordinator carries the messages and the collectives.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

import jax
import numpy as np

from eureka_jax.errors import EurekaError
from eureka_jax.train.sharding import multi_process

# The trainer (eureka_jax.train.batch) is imported where it is used, so that commands that
# train nothing start without it; it never imports this module (dependency one-way).

_PREFIX = "eureka_jax"
_state = {"jobs": 0, "serving": False}


def settings(cfg) -> dict:
    """The ``distributed.*`` settings, with ``EUREKA_JAX_COORDINATOR``,
    ``EUREKA_JAX_NUM_PROCESSES`` and ``EUREKA_JAX_PROCESS_ID`` used where config leaves null."""
    d = dict(cfg.distributed)
    env = os.environ
    for key, var, kind in (("coordinator", "EUREKA_JAX_COORDINATOR", str),
                           ("num_processes", "EUREKA_JAX_NUM_PROCESSES", int),
                           ("process_id", "EUREKA_JAX_PROCESS_ID", int)):
        if d.get(key) is None and env.get(var):
            try:
                d[key] = kind(env[var])
            except ValueError:
                raise EurekaError(f"{var}={env[var]!r} is not a valid {kind.__name__}.") from None
    return d


def initialize(cfg) -> bool:
    """Joins the processes when ``distributed.coordinator`` (or ``distributed.auto``) is set.

    Returns True when running with more than one process.
    """
    d = settings(cfg)
    if not d["coordinator"] and not d["auto"]:
        return False
    if d["coordinator"]:
        missing = [k for k in ("num_processes", "process_id") if d.get(k) is None]
        if missing:
            raise EurekaError(
                f"distributed.coordinator is set but {' and '.join('distributed.' + m for m in missing)} "
                "not; give every process distributed.num_processes=N and its own "
                "distributed.process_id=0..N-1 (or use distributed.auto=true under SLURM/MPI).")
        if not 0 <= d["process_id"] < d["num_processes"]:
            raise EurekaError(f"distributed.process_id={d['process_id']} is outside 0.."
                              f"{d['num_processes'] - 1} (distributed.num_processes).")
    if _initialized():  # already joined (e.g. by the caller); never touch the backend before
        return jax.process_count() > 1
    try:
        if d["coordinator"]:
            jax.distributed.initialize(
                coordinator_address=d["coordinator"], num_processes=int(d["num_processes"]),
                process_id=int(d["process_id"]),
                initialization_timeout=int(d["initialization_timeout"]))
        else:
            jax.distributed.initialize(initialization_timeout=int(d["initialization_timeout"]))
    except (RuntimeError, ValueError) as e:
        raise EurekaError(
            f"jax.distributed could not start ({_first_line(e)}); check that process 0 is "
            f"running and that {d['coordinator'] or 'the cluster environment'} is reachable "
            "from every process.") from e
    if jax.process_count() > 1:
        _place_mjx_models_locally()
    return jax.process_count() > 1


_RUNS = [0]  # batches run so far: every process runs the same sequence, so the ids agree
COMPILE_WAIT_S = 3600  # how long a process waits for the others to finish compiling


def _all_compiled(compiled) -> None:
    """Barrier between compiling and running a batch: every process has its program before
    any starts the collectives (which allow only 30 s to join)."""
    _RUNS[0] += 1
    try:
        _client().wait_at_barrier(f"eureka_jax/compiled/{_RUNS[0]}", COMPILE_WAIT_S * 1000)
    except jax.errors.JaxRuntimeError as e:
        raise EurekaError(f"the other processes did not finish compiling batch {_RUNS[0]} "
                          f"within {COMPILE_WAIT_S} s ({_first_line(e)}).") from e


def train_candidates(task, reward_fns, config, hparams=None, seeds=(0,), labels=None,
                     slots=None, constants=None, min_rows: int = 0, init_params=None, **options):
    """The trainer (``train.batch.train_candidates``) across the joined processes: the leader
    first posts the batch (``announce``), then every process compiles it, waits at a barrier
    until all have (``before_run``) and trains its share. One process: the trainer itself."""
    from eureka_jax.train import batch

    if multi_process():
        if init_params is not None:
            raise EurekaError("fine-tuning from given parameters (curricula) runs in one "
                              "process; start the curriculum without distributed.* settings.")
        if options.get("physics") is not None:
            raise EurekaError("domain randomization (dr_iteration > 0) runs in one process; "
                              "start it without distributed.* settings.")
        announce(task, reward_fns, config, hparams, seeds, labels, slots=slots,
                 constants=constants, min_rows=min_rows)
        options["before_run"] = _all_compiled
    return batch.train_candidates(task, reward_fns, config, hparams, seeds=seeds, labels=labels,
                                  slots=slots, constants=constants, min_rows=min_rows,
                                  init_params=init_params, **options)


def _place_mjx_models_locally() -> None:
    """MJX puts models and data on ``jax.devices()[0]`` when no device is given; with several
    processes that is process 0's device, which the other processes cannot read, so their
    environments would close over arrays they cannot use. From here on, an unspecified device
    means this process's first local device (mujoco-mjx 3.17's ``_resolve_impl_and_device``)."""
    from mujoco.mjx._src import io

    if getattr(io._resolve_impl_and_device, "eureka_jax_local", False):
        return
    original = io._resolve_impl_and_device

    def resolve_locally(impl, device=None):
        if device is None and (impl is None or str(getattr(impl, "value", impl)) == "jax"):
            device = jax.local_devices()[0]
        return original(impl, device)

    resolve_locally.eureka_jax_local = True
    io._resolve_impl_and_device = resolve_locally


def _initialized() -> bool:
    from jax._src import distributed

    return distributed.global_state.client is not None


def _first_line(e: Exception) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


def is_leader() -> bool:
    return jax.process_index() == 0


def _client():
    from jax._src import distributed

    return distributed.global_state.client


def _get(key: str, timeout_s: float) -> str:
    """Waits for ``key`` in the coordination service's store (in 10 s slices)."""
    deadline = time.monotonic() + timeout_s
    while True:
        wait = max(1, min(10, deadline - time.monotonic()))
        try:
            return _client().blocking_key_value_get(key, int(wait * 1000))
        except jax.errors.JaxRuntimeError as e:
            if "DEADLINE_EXCEEDED" not in str(e) or time.monotonic() >= deadline:
                raise EurekaError(f"no message '{key}' from the other processes within "
                                  f"{timeout_s:.0f} s ({_first_line(e)}).") from e


def announce(task, reward_fns, config, hparams, seeds, labels, timeout_s: float = 600,
             slots=None, constants=None, min_rows: int = 0) -> None:
    """Leader: posts a training job and waits until every other process has compiled it.

    Raises:
      EurekaError: when a process could not load the task or compile a reward (nothing has
        been trained; the leader's run directory is untouched).
    """
    if not multi_process() or not is_leader() or _state["serving"]:
        return
    n = _state["jobs"]
    _state["jobs"] += 1
    job = {
        "kind": "train", "task": task.name, "config": dataclasses.asdict(config),
        "hparams": {k: float(v) for k, v in dataclasses.asdict(hparams).items()},
        "seeds": np.asarray(seeds, dtype=np.int64).tolist(),
        "slots": None if slots is None else [int(i) for i in slots],
        # float32 values, which JSON's doubles carry exactly
        "constants": None if constants is None else np.asarray(constants, np.float32).tolist(),
        "labels": list(labels) if labels else None,
        "min_rows": int(min_rows),
        "sources": [fn.source for fn in reward_fns], "entries": [fn.entry for fn in reward_fns],
    }
    _client().key_value_set(f"{_PREFIX}/job/{n}", json.dumps(job))
    problems = []
    for pid in range(1, jax.process_count()):
        reply = _get(f"{_PREFIX}/ready/{n}/{pid}", timeout_s)
        if reply != "ok":
            problems.append(f"process {pid}: {reply}")
    if problems:
        raise EurekaError("the training processes could not prepare the batch: "
                          + "; ".join(problems) + ". Start every process with the same "
                          "eureka-jax version, task folders and command line.")


def finish() -> None:
    """Leader: tells the other processes that there is no more work."""
    if multi_process() and is_leader():
        _client().key_value_set(f"{_PREFIX}/job/{_state['jobs']}", json.dumps({"kind": "stop"}))


def serve(task_dirs=(), job_timeout_s: float = 86400.0) -> int:
    """Non-leader processes: train every job the leader posts until it says stop.

    Args:
      task_dirs: extra task folders (as the leader's ``task_dirs``).
      job_timeout_s: how long to wait for the leader's next job.

    Returns the number of jobs trained.
    """
    from eureka_jax.reward import RewardError, compile_reward
    from eureka_jax.task import load_task
    from eureka_jax.train import batch
    from eureka_jax.train.config import PPOHyperparams, TrainConfig

    timeout = float(job_timeout_s)
    pid, tasks, done = jax.process_index(), {}, 0
    _state["serving"] = True
    try:
        for n in range(1 << 30):
            job = json.loads(_get(f"{_PREFIX}/job/{n}", timeout))
            if job["kind"] == "stop":
                return done
            try:  # whatever goes wrong here is reported to the leader, which would wait otherwise
                if job["task"] not in tasks:
                    tasks[job["task"]] = load_task(job["task"], task_dirs)
                task = tasks[job["task"]]
                fns = [compile_reward(src, task, entry=entry, extract=False)
                       for src, entry in zip(job["sources"], job["entries"])]
                config = TrainConfig(**{k: tuple(v) if isinstance(v, list) else v
                                        for k, v in job["config"].items()})
                hparams = PPOHyperparams.create(**job["hparams"])
            except (EurekaError, RewardError) as e:
                _client().key_value_set(f"{_PREFIX}/ready/{n}/{pid}", str(e))
                continue
            except Exception as e:
                _client().key_value_set(f"{_PREFIX}/ready/{n}/{pid}",
                                        f"{type(e).__name__}: {_first_line(e)}")
                raise
            _client().key_value_set(f"{_PREFIX}/ready/{n}/{pid}", "ok")
            batch.train_candidates(task, fns, config, hparams, seeds=job["seeds"],
                                   labels=job["labels"], slots=job.get("slots"),
                                   constants=job.get("constants"),
                                   min_rows=job.get("min_rows", 0), before_run=_all_compiled)
            done += 1
    finally:
        _state["serving"] = False
    return done
