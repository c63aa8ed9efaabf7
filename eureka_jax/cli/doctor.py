"""``doctor``: what this machine has, and which backends are usable here."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from eureka_jax.cli.common import console


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
    """Which training backends are usable here and, for each missing piece, how to install it
    (each registered backend's own ``status``)."""
    from eureka_jax.backend import backend_class, backend_names

    rows = []
    for name in backend_names():
        rows += backend_class(name)(cfg).status()
    return rows
