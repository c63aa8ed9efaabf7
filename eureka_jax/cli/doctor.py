"""``doctor``: what this machine has, and which backends are usable here."""

from __future__ import annotations

from rich.table import Table

from eureka_jax.cli.common import console
from eureka_jax.errors import EurekaError


def cmd_doctor(cfg) -> int:
    """Shows devices, the mesh a search would use, versions, cache and usable backends."""
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
        table.add_row(name, status)
    console.print(table)
    return 0


def backend_status(cfg) -> list[tuple[str, str]]:
    """Which training backends are usable here and, for each missing piece, how to install it."""
    import importlib.util
    from importlib import metadata

    import jax

    from eureka_jax.bridges.isaacgym import INSTALL_STEPS, IsaacGymBackend

    rows = [("backend jax", f"usable: {len(jax.devices())} {jax.default_backend()} device(s)")]
    if importlib.util.find_spec("torch") is None:
        rows.append(("torch (bridge)", 'missing; install with: pip install -e ".[torch]"'))
    else:
        version = metadata.version("torch")
        rows.append(("torch (bridge)", f"{version} (only the Isaac Gym bridge uses it)"))
    try:
        exe = IsaacGymBackend(cfg).check_installed()
        rows.append(("backend isaacgym", f"usable: {exe} imports isaacgym and isaacgymenvs"))
    except EurekaError as e:
        rows.append(("backend isaacgym", f"not usable: {e}"))
    envs = cfg.isaacgym.isaacgymenvs
    rows.append(("IsaacGymEnvs source", envs if envs else
                 "not set (isaacgym.isaacgymenvs=...; needed for task context); " + INSTALL_STEPS))
    return rows
