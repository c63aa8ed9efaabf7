"""Shadow Hand pen spinning (MJX, reward removed): spin a 20 cm pen about the palm's normal.
The goal starts a fixed increment (spin_increment, pi/4) ahead of the pen's start and, each
time the pen's axis reaches it, advances by the same increment about the same fixed axis
(spin_axis, world +z), so successes can only come from turning the pen round and round. The
pen is symmetric (ends and roll do not matter). The physics, observation and reward inputs are
in the shared module shown above (eureka_jax/shadow_hand.py).
"""

from eureka_jax.shadow_hand import ShadowHandEnv


class ShadowHandSpin(ShadowHandEnv):
    scene = "hand_pen.xml"
    symmetric = True
    goal_mode = "spin"


def make_env(config_overrides: dict) -> ShadowHandSpin:
    return ShadowHandSpin(config_overrides=config_overrides)
