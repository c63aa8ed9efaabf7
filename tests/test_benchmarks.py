"""The benchmark scripts a GPU session runs, exercised here at toy sizes on the CPU."""

import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def test_the_gpu_suite_runs_every_part_at_tiny_sizes_and_writes_one_table(tmp_path):
    out = tmp_path / "gpu_suite.md"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.gpu_suite", "--tiny",
                           "--sequential", "1", "--cache", "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = out.read_text()
    assert "- machine:" in table and "jax " in table  # the machine and versions
    for part in ("| env throughput | cartpole, 16 envs |", "| batched | cartpole, K=2 x S=2",
                 "| sequential | cartpole, K=2 x S=2", "1 measured, x2",
                 "| trainer ceiling | cartpole, 32 envs in all |", "| search | task=cartpole"):
        assert part in table, part
    assert "best fitness" in table and "of raw physics" in table


def test_the_stall_reproducer_runs_a_case_that_finishes_and_the_hand_avoids_the_stall():
    import mujoco

    from benchmarks.cpu_hand_stall import sweep_case
    from eureka_jax.task import load_task

    result = sweep_case(8, "step_sparse", "", deadline=600, steps=1,
                        env={"EUREKA_JAX_BENCH_CACHE": "1"})
    assert result["outcome"] == "ok", result
    assert result["compile_s"] > 0 and result["run_s"] > 0
    # on this CPU the hand tasks use the layout that does not stall
    model = load_task("shadow_hand_block").env.mj_model
    assert model.opt.jacobian == mujoco.mjtJacobian.mjJAC_SPARSE


def test_a_rerun_of_a_table_keeps_the_notes_under_it(tmp_path):
    """A benchmark's rerun (``benchmarks.common.write``, and ``compile_once.py``'s own
    writer) rewrites its table's numbers; what was written by hand under it (from the first
    line starting with "Notes") is kept, and a table without notes gets none."""
    from benchmarks.common import kept_notes, write

    out = tmp_path / "bench.md"
    write(str(out), "Bench", "- settings\n", "| a |\n| --- |", ["| 1 |"])
    out.write_text(out.read_text() + "\nNotes (by hand): why 1\n")
    write(str(out), "Bench", "- settings\n", "| a |\n| --- |", ["| 2 |"])
    text = out.read_text()
    assert "| 2 |" in text and "| 1 |" not in text and text.endswith("Notes (by hand): why 1\n")

    table = tmp_path / "compile_once.md"
    assert kept_notes(table) == ""  # no table yet
    table.write_text("# T\n\n| a |\n| 1 |\n\nNotes (by hand, today):\n- the gap is in X\n")
    assert kept_notes(table) == "\nNotes (by hand, today):\n- the gap is in X\n"
    table.write_text("# T\n\n| a |\n| 1 |\n")
    assert kept_notes(table) == ""
