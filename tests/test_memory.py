"""The memory check before a batch runs (a small real program; no training compiled here)."""

import logging
import types

import jax
import jax.numpy as jnp
import pytest

from eureka_jax.errors import EurekaError
from eureka_jax.train.memory import check_fits, free_bytes, program_bytes

X = jnp.ones((256, 1024), jnp.float32)  # 1 MiB in, 1 MiB out
PROGRAM = jax.jit(lambda x: jnp.tanh(x) * 2.0).lower(X).compile()


def _device(limit, in_use=0):
    return types.SimpleNamespace(platform="gpu", id=0,
                                 memory_stats=lambda: {"bytes_limit": limit,
                                                       "bytes_in_use": in_use})


def test_a_program_needs_at_least_its_arguments_and_outputs():
    assert program_bytes(PROGRAM) >= 2 * X.nbytes


def test_free_memory_is_the_allocator_limit_or_the_kernels_available_memory():
    assert free_bytes(_device(10 << 30, 4 << 30)) == 6 << 30
    cpu = free_bytes(jax.devices("cpu")[0])
    assert cpu is not None and cpu > 1 << 20


def test_a_batch_that_cannot_fit_is_refused_before_it_runs_and_a_tight_one_warned(caplog):
    need = program_bytes(PROGRAM)
    with pytest.raises(EurekaError, match="needs .* GiB on gpu:0 but .* is free; train fewer"):
        check_fits(PROGRAM, _device(need // 2), "this batch")
    with caplog.at_level(logging.WARNING, logger="eureka_jax"):
        assert check_fits(PROGRAM, _device(int(need * 1.1)), "this batch") == need
    assert "a larger batch would not fit" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="eureka_jax"):
        check_fits(PROGRAM, _device(need * 10), "this batch")
    assert caplog.text == ""
