"""``doctor``: what this machine has, and which backends are usable here."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from eureka_jax.cli.common import console
from eureka_jax.errors import EurekaError


def cmd_doctor(cfg) -> int:
    """Shows devices, the mesh a search would use, versions, cache, usable backends and how
    many candidates x seeds of the task fit in memory."""
    from importlib import metadata

    import jax

    from eureka_jax.compile_cache import enable_compilation_cache
    from eureka_jax.train.batch import device_layout

    table = Table(title="eureka-jax doctor", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    devices = jax.devices()
    table.add_row("devices", ", ".join(f"{d.platform}:{d.id} ({d.device_kind})" for d in devices))
    table.add_row("processes", f"{jax.process_count()} (this is process {jax.process_index()})")
    layout = device_layout(cfg.sample, devices)
    table.add_row("mesh", f"1-D mesh 'candidates' over {layout['devices']} device(s): "
                  f"sample={cfg.sample} candidates -> {layout['padded_candidates']} slots, "
                  f"{layout['per_device']} per device, each with its {cfg.seeds} seed(s)")
    table.add_row("versions", ", ".join(
        f"{p} {metadata.version(p)}" for p in ("jax", "jaxlib", "mujoco", "mujoco-mjx", "brax",
                                               "playground", "openai")))
    table.add_row("compile cache", str(enable_compilation_cache()))
    for name, status in backend_status(cfg):
        table.add_row(name, escape(status))  # install lines hold brackets: jax[cuda11_pip]
    if cfg.backend == "jax":
        table.add_row(f"memory ({cfg.task}, profile={cfg.profile})", memory_status(cfg))
    console.print(table)
    return 0


def memory_status(cfg) -> str:
    """How many candidates x seeds of ``cfg.task`` at its training settings fit on the first
    device, from the compiled program's memory analysis (one compile of a single run)."""
    from eureka_jax.reward import compile_reward
    from eureka_jax.task import load_task
    from eureka_jax.train.batch import estimate_memory as estimate
    from eureka_jax.train.config import training_settings
    from eureka_jax.train.memory import WARN_SHARE

    task = load_task(cfg.task, cfg.task_dirs)
    config, _ = training_settings(cfg, task)
    est = estimate(task, config, [compile_reward(task.human_reward_source, task)])
    device = f"{est['device'].platform}:{est['device'].id}"
    if est["per_run"] is None or est["free"] is None:
        return f"unknown: {device} reports no memory analysis or no free memory"
    runs = int(cfg.sample) * int(cfg.seeds)
    verdict = ("fits" if runs <= est["fits"] else
               f"does NOT fit: lower sample or seeds, or train.num_envs (now {config.num_envs})")
    return (f"one run (candidate x seed) needs {est['per_run'] / 2**20:,.1f} MiB; {device} has "
            f"{est['free'] / 2**30:,.1f} GiB free: about {est['fits']:,} runs fit per device "
            f"in {WARN_SHARE:.0%} of it; this search's batch, sample={cfg.sample} x "
            f"seeds={cfg.seeds} = {runs} runs, {verdict} (the final evaluation trains 3 x "
            f"num_eval={cfg.num_eval} runs)")


def backend_status(cfg) -> list[tuple[str, str]]:
    """Which training backends are usable here and, for each missing piece, how to install it."""
    import importlib.util
    from importlib import metadata

    import jax

    from eureka_jax.bridges.isaacgym import (
        INSTALL_STEPS,
        IsaacGymBackend,
        list_isaacgym_tasks,
        load_isaacgym_task,
    )

    rows = [("backend jax", f"usable: {len(jax.devices())} {jax.default_backend()} device(s)")]
    if importlib.util.find_spec("torch") is None:
        rows.append(("torch (bridge)", 'missing; install with: pip install -e ".[torch]"'))
    else:
        version = metadata.version("torch")
        rows.append(("torch (bridge)", f"{version} (only the Isaac Gym bridge uses it)"))
    backend = IsaacGymBackend(cfg)
    # the probe composes hydra's config for this task (ShadowHand unless one is named)
    task_class = (load_isaacgym_task(cfg.task).task_class
                  if cfg.task in list_isaacgym_tasks() else "ShadowHand")
    try:
        exe = backend.interpreter()
    except EurekaError as e:
        rows.append(("backend isaacgym", f"not usable: {e}"))
    else:
        checks = backend.probe(task_class)
        failed = next((c for c in checks if not c["ok"]), None)
        rows.append(("backend isaacgym", f"usable: {exe}" if failed is None else
                     f"not usable: {exe} fails '{failed['check']}'; {INSTALL_STEPS}"))
        rows += [(f"  {c['check']}", ("ok: " if c["ok"] else "FAILED: ") + c["detail"])
                 for c in checks]
    if importlib.util.find_spec("tensorboard") is None:
        rows.append(("tensorboard (bridge)", ("missing (reads Isaac Gym trainings' logs); "
                                              'install with: pip install -e ".[isaacgym]"')))
    envs = cfg.isaacgym.isaacgymenvs
    rows.append(("IsaacGymEnvs source", envs if envs else
                 "not set (isaacgym.isaacgymenvs=...; needed for task context); " + INSTALL_STEPS))
    return rows
