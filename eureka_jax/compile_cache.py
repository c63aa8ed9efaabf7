"""JAX's persistent compilation cache, so a second run of the same program skips XLA."""

import os
from pathlib import Path

import jax


def enable_compilation_cache(path: str | None = None) -> Path:
    """Turns on JAX's on-disk compilation cache (``EUREKA_JAX_CACHE`` or ~/.cache/eureka-jax).

    Only programs that took more than a second to compile are stored.
    """
    cache = Path(path or os.environ.get("EUREKA_JAX_CACHE", "~/.cache/eureka-jax/xla")).expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(cache))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return cache
