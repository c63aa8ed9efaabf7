"""Entry point of one Isaac Gym training (runs in the Isaac Gym interpreter, Python 3.8).

    python eureka_ig_train.py REWARD_JSON TASK [hydra overrides of IsaacGymEnvs' train.py ...]

Loads the checked reward from REWARD_JSON (written by eureka-jax's launcher), registers TASK's
class with that reward mixed in under the same name in IsaacGymEnvs' task map, and runs
IsaacGymEnvs' own training (rl_games) with the given overrides. No task file is rewritten.
"""

import json
import sys

from eureka_ig_runtime import TorchReward, with_eureka_reward


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    reward_json, task = argv[1], argv[2]
    with open(reward_json) as f:
        spec = json.load(f)
    import isaacgym  # noqa: F401  (must be imported before torch-using IsaacGymEnvs modules)
    from isaacgymenvs.tasks import isaacgym_task_map

    base = spec.get("task_class") or task
    if base not in isaacgym_task_map:
        sys.stderr.write("IsaacGymEnvs has no task '" + base + "'; known: "
                         + ", ".join(sorted(isaacgym_task_map)) + "\n")
        return 2
    reward = TorchReward.from_spec(spec)
    isaacgym_task_map[task] = with_eureka_reward(isaacgym_task_map[base], reward,
                                                 spec.get("success_attr", "consecutive_successes"))
    from isaacgymenvs import train

    sys.argv = [train.__file__, "task=" + task] + list(argv[3:])
    train.launch_rlg_hydra()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
