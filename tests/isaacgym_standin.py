"""A STAND-IN for an IsaacGymEnvs VecTask, for the bridge tests (Isaac Gym cannot be installed
here). Imported by the tests and by the stand-in interpreter script they write."""

import torch


class StandInVecTask:
    """A stand-in for an IsaacGymEnvs VecTask (torch CPU tensors with ShadowHand's attribute
    names); its own compute_reward does the bookkeeping a real task does."""

    def __init__(self, n=64, seed=0, with_dof_vel=False):
        g = torch.Generator().manual_seed(seed)
        self.num_envs = n
        for name, shape in (("object_pos", (3,)), ("object_rot", (4,)), ("goal_pos", (3,)),
                            ("goal_rot", (4,)), ("object_linvel", (3,)), ("object_angvel", (3,)),
                            ("fingertip_pos", (5, 3)), ("shadow_hand_dof_pos", (24,))):
            setattr(self, name, torch.randn((n, *shape), generator=g))
        if with_dof_vel:
            self.shadow_hand_dof_vel = torch.randn((n, 24), generator=g)
        self.rew_buf = torch.zeros(n)
        self.extras = {}
        self.successes = torch.zeros(n)
        self.consecutive_successes = torch.zeros(())
        self.steps = 0

    def compute_reward(self, actions):
        self.steps += 1
        self.rew_buf[:] = -1.0  # the task's own reward (kept as gt_reward)
        self.successes += (self.steps % 3 == 0)
        self.consecutive_successes = self.successes.mean()
