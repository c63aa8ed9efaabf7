"""STAND-INs for Isaac Gym, for the bridge tests (Isaac Gym cannot be installed here).

- ``StandInVecTask``: an in-process VecTask with ShadowHand's attribute names (torch CPU
  tensors), for unit tests of the runtime's mixin.
- ``write_interpreter``: a stand-in for the Isaac Gym interpreter: the conformance
  environment's Python (JAX 0.4.13, real rl_games and hydra, torch CPU;
  ``tests/conformance_env.py``) with the fake ``isaacgym`` package of
  ``tests/fixtures/isaacgym/site`` importable. It runs our real entry script against the
  ``isaacgymenvs`` package of ``tests/fixtures/isaacgym`` (a real hydra app in IsaacGymEnvs'
  layout that trains with the real rl_games; see the README there).
"""

from pathlib import Path

import torch

FIXTURES = Path(__file__).parent / "fixtures" / "isaacgym"
ISAACGYMENVS = FIXTURES / "IsaacGymEnvs" / "isaacgymenvs"  # what isaacgym.isaacgymenvs names

INTERPRETER = '''#!{python}
"""STAND-IN for an Isaac Gym interpreter (tests only): the fake isaacgym package is
"installed" (on sys.path); ``-c CODE`` and ``SCRIPT ARGS...`` behave as python's."""
import os, runpy, sys
sys.path.insert(0, {site!r})
if sys.argv[1] == "-c":
    code = sys.argv[2]
    sys.argv = ["-c"] + sys.argv[3:]
    exec(compile(code, "<string>", "exec"))
    sys.exit(0)
script = os.path.abspath(sys.argv[1])
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(script))
runpy.run_path(script, run_name="__main__")
'''


def write_interpreter(path: Path, python: Path, site: Path = FIXTURES / "site") -> Path:
    """``site``: the stand-in isaacgym package's folder (``upstream_stub`` for the opt-in
    tests against the real IsaacGymEnvs)."""
    path.write_text(INTERPRETER.format(python=python, site=str(site)))
    path.chmod(0o755)
    return path


class StandInVecTask:
    """A stand-in for an IsaacGymEnvs VecTask (torch CPU tensors with ShadowHand's attribute
    names); its own compute_reward does the bookkeeping a real task does: a goal is reached
    every 3rd step (``reset_goal_buf``), counted in ``successes``."""

    def __init__(self, n=64, seed=0, with_dof_vel=False):
        g = torch.Generator().manual_seed(seed)
        self.num_envs = n
        for name, shape in (("object_pos", (3,)), ("object_rot", (4,)), ("goal_pos", (3,)),
                            ("goal_rot", (4,)), ("object_linvel", (3,)), ("object_angvel", (3,)),
                            ("fingertip_pos", (5, 3)), ("shadow_hand_dof_pos", (24,))):
            setattr(self, name, torch.randn((n, *shape), generator=g))
        if with_dof_vel:
            self.shadow_hand_dof_vel = torch.randn((n, 24), generator=g)
        self.shadow_hand_dof_lower_limits = -torch.ones(24)
        self.shadow_hand_dof_upper_limits = torch.ones(24)
        self.max_episode_length = 600
        self.reach_goal_bonus = 250.0
        self.rew_buf = torch.zeros(n)
        self.reset_goal_buf = torch.zeros(n, dtype=torch.long)
        self.extras = {}
        self.successes = torch.zeros(n)
        self.consecutive_successes = torch.zeros(())
        self.steps = 0

    def compute_reward(self, actions):
        self.steps += 1
        self.rew_buf[:] = -1.0  # the task's own reward (kept as gt_reward)
        self.reset_goal_buf[:] = int(self.steps % 3 == 0)
        self.reset_goal_buf[: self.num_envs // 2] = 0  # half the envs never reach a goal
        self.successes += self.reset_goal_buf
        self.consecutive_successes = self.successes.mean()
