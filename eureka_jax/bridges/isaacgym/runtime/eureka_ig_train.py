"""Entry point of one Isaac Gym training (runs in the Isaac Gym interpreter, Python 3.8).

    python eureka_ig_train.py REWARD_JSON TASK [hydra overrides of IsaacGymEnvs' train.py ...]

Loads the checked reward from REWARD_JSON (written by eureka-jax's launcher), puts TASK's
class with that reward mixed in where IsaacGymEnvs' training looks the class up, and runs
IsaacGymEnvs' own ``train.py`` with the given overrides, as ``python train.py`` would: as
``__main__``, with its folder first on ``sys.path``. (Called as an imported function instead,
its ``@hydra.main(config_path="./cfg")`` resolves the config folder against the caller and
finds none.) No task file is rewritten.

Where the class is looked up: IsaacGymEnvs takes it from ``isaacgym_task_map[task]``;
Eureka's copy of IsaacGymEnvs first imports ``isaacgymenvs.tasks.<env.env_name lower-cased>``
and takes the attribute named like the task from it (falling back to the map). The subclass
goes into all three places.

A ``checkpoint=PATH`` override is replaced by a copy of that checkpoint whose epoch and frame
counters start at 0 (``fresh_checkpoint``): the stage trains ``max_iterations`` epochs under
either rl_games.
"""

# Isaac Gym refuses to load once torch is imported (isaacgym/gymdeps.py raises "PyTorch was
# imported before isaacgym modules"): gymapi first, before our runtime (torch, JAX) and before
# any IsaacGymEnvs module.
from isaacgym import gymapi  # noqa: F401,I001  (import order matters, see above)

import importlib
import json
import os
import runpy
import sys

from eureka_ig_runtime import fresh_checkpoint, from_spec


def _env_name(task):
    """``env.env_name`` of IsaacGymEnvs' task YAML for ``task``, if it sets one."""
    import isaacgymenvs
    import yaml

    path = os.path.join(os.path.dirname(isaacgymenvs.__file__), "cfg", "task", task + ".yaml")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        cfg = yaml.safe_load(f) or {}
    return (cfg.get("env") or {}).get("env_name")


def install(task, base, cls):
    """Makes ``cls`` the class IsaacGymEnvs (or Eureka's copy) builds for ``task``."""
    from isaacgymenvs.tasks import isaacgym_task_map

    isaacgym_task_map[task] = cls
    setattr(sys.modules[base.__module__], task, cls)
    env_name = _env_name(task)
    if env_name:
        setattr(importlib.import_module("isaacgymenvs.tasks." + env_name.lower()), task, cls)


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    reward_json, task = argv[1], argv[2]
    with open(reward_json) as f:
        spec = json.load(f)
    from isaacgymenvs.tasks import isaacgym_task_map

    base_name = spec.get("task_class") or task
    if base_name not in isaacgym_task_map:
        sys.stderr.write("IsaacGymEnvs has no task '" + base_name + "'; known: "
                         + ", ".join(sorted(isaacgym_task_map)) + "\n")
        return 2
    base = isaacgym_task_map[base_name]
    install(task, base, from_spec(base, spec))
    overrides = []
    for arg in argv[3:]:
        if arg.startswith("checkpoint=") and len(arg) > len("checkpoint="):
            arg = "checkpoint=" + fresh_checkpoint(arg[len("checkpoint="):],
                                                   os.path.abspath("handoff_checkpoint.pth"))
        overrides.append(arg)
    import isaacgymenvs

    script = os.path.join(os.path.dirname(os.path.abspath(isaacgymenvs.__file__)), "train.py")
    sys.argv = [script, "task=" + task] + overrides
    sys.path.insert(0, os.path.dirname(script))
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
