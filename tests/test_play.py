"""Filming saved policies: the OpenGL choice and the errors a user meets (no training here;
the replay itself is exercised end to end in test_search.py)."""

import ctypes.util

import pytest

from eureka_jax.errors import EurekaError
from eureka_jax.play import SavedPolicies, choose_gl, frame_every


def _libraries(monkeypatch, present):
    monkeypatch.setattr(ctypes.util, "find_library",
                        lambda name: f"lib{name}.so" if name in present else None)


def test_a_cpu_machine_renders_with_osmesa_and_an_unset_one_is_told_what_to_install(
        monkeypatch):
    monkeypatch.setattr("os.path.exists", lambda path: False)  # no NVIDIA device
    _libraries(monkeypatch, {"OSMesa", "EGL"})
    environ = {}
    assert choose_gl(environ) == "osmesa" and environ["MUJOCO_GL"] == "osmesa"
    _libraries(monkeypatch, set())
    assert choose_gl({"DISPLAY": ":0"}) == "glfw"
    assert choose_gl({}, required=False) is None
    with pytest.raises(EurekaError, match="apt-get install libosmesa6"):
        choose_gl({})


def test_a_gpu_machine_renders_with_egl_and_a_set_backend_is_checked(monkeypatch):
    monkeypatch.setattr("os.path.exists", lambda path: path == "/dev/nvidia0")
    _libraries(monkeypatch, {"OSMesa", "EGL"})
    assert choose_gl({}) == "egl"
    assert choose_gl({"MUJOCO_GL": "osmesa"}) == "osmesa"  # the user's choice stands
    _libraries(monkeypatch, {"EGL"})
    with pytest.raises(EurekaError, match="MUJOCO_GL=osmesa but libOSMesa is not installed"):
        choose_gl({"MUJOCO_GL": "osmesa"})


def test_a_run_without_policies_is_one_sentence(tmp_path):
    with pytest.raises(EurekaError, match="keeps no policies") as e:
        SavedPolicies(tmp_path)
    assert "num_eval > 0" in str(e.value)


def test_videos_play_near_real_time():
    assert frame_every(0.02) == 2  # cartpole's 50 Hz control: every 2nd step, 25 frames/s
    assert frame_every(0.05) == 1
    assert frame_every(0.002) == 17
