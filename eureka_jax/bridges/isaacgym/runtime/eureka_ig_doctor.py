"""Checks an Isaac Gym interpreter for the bridge (runs there, Python 3.8; prints JSON lines).

    python eureka_ig_doctor.py TASK

Each line is ``{"check": NAME, "ok": bool, "detail": TEXT}``, in the order a training needs
them: Isaac Gym imported before torch (it refuses to load after), torch and JAX with our
runtime, a DLPack round trip between them (zero-copy both ways, on the GPU when there is one),
IsaacGymEnvs, hydra composing its config for TASK, and rl_games' version. Started by
``eureka-jax doctor backend=isaacgym`` and before every search, with the PYTHONPATH a training
gets. Stops at the first failure (later checks would only repeat it).
"""

import json
import os
import sys
import traceback


def _report(check, ok, detail):
    sys.stdout.write(json.dumps({"check": check, "ok": bool(ok), "detail": detail}) + "\n")
    sys.stdout.flush()
    return ok


def _last_line(exc):
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


def _import_order():
    from isaacgym import gymapi  # noqa: F401  (before torch, as every training does)

    return "isaacgym imported before torch"


def _runtime():
    import eureka_ig_runtime as rt
    import jax
    import torch

    api = "DLPack protocol" if rt.DLPACK_PROTOCOL else "DLPack capsules"
    return f"torch {torch.__version__}, jax {jax.__version__} ({jax.default_backend()}, {api})"


def _dlpack():
    import eureka_ig_runtime as rt
    import torch

    device = "cuda:0" if torch.cuda.is_available() else "cpu"
    tensor = torch.arange(16, dtype=torch.float32, device=device)
    array = rt.torch_to_jax(tensor)
    if array.unsafe_buffer_pointer() != tensor.data_ptr():
        raise RuntimeError("torch -> JAX copied the tensor")
    back = rt.jax_to_torch(array * 2.0)
    if not torch.equal(back, tensor * 2.0):
        raise RuntimeError("JAX -> torch returned wrong values")
    again = rt.jax_to_torch(array)
    if again.data_ptr() != tensor.data_ptr():
        raise RuntimeError("JAX -> torch copied the array")
    return f"torch <-> JAX round trip on {device}, zero-copy both ways"


def _isaacgymenvs():
    import isaacgymenvs
    from isaacgymenvs.tasks import isaacgym_task_map

    return f"{os.path.dirname(isaacgymenvs.__file__)} ({len(isaacgym_task_map)} tasks)"


def _hydra(task):
    import hydra
    import isaacgymenvs
    from hydra import compose, initialize_config_dir

    cfg_dir = os.path.join(os.path.dirname(os.path.abspath(isaacgymenvs.__file__)), "cfg")
    with initialize_config_dir(config_dir=cfg_dir, version_base="1.1"):
        cfg = compose(config_name="config", overrides=["task=" + task])
    return (f"hydra {hydra.__version__} composes {cfg_dir}/config.yaml with task={task} "
            f"(task {cfg.task.name})")


def _rl_games():
    try:
        from importlib.metadata import version
    except ImportError:  # Python < 3.8
        from importlib_metadata import version
    import rl_games  # noqa: F401

    return f"rl-games {version('rl-games')}"


def main(argv):
    task = argv[1] if len(argv) > 1 else "ShadowHand"
    checks = [("import order", _import_order), ("torch and jax", _runtime),
              ("dlpack", _dlpack), ("isaacgymenvs", _isaacgymenvs),
              ("hydra", lambda: _hydra(task)), ("rl_games", _rl_games)]
    for name, check in checks:
        try:
            detail = check()
        except Exception as exc:  # noqa: BLE001 (reported, not hidden: the doctor's job)
            _report(name, False, _last_line(exc))
            return 1
        _report(name, True, detail)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
