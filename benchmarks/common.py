"""Shared by the benchmark scripts: the machine/version header of every table."""

import os
import platform
import time
from importlib import metadata

import jax


def machine_header() -> str:
    versions = ", ".join(
        f"{p} {metadata.version(p)}" for p in ("jax", "mujoco", "mujoco-mjx", "brax", "playground")
    )
    cpu = platform.processor() or platform.machine()
    return (
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n"
        f"- machine: {os.cpu_count()} CPU cores ({cpu}), {platform.system()}, "
        f"devices: {[d.device_kind for d in jax.devices()]}\n"
        f"- python {platform.python_version()}; {versions}\n"
    )


def timed(fn, *args):
    """Runs ``fn(*args)`` to completion and returns (result, seconds)."""
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - start
