"""Shadow Hand pen reorientation (MJX, reward removed): turn a 20 cm pen in the palm until its
long axis lines up with a random goal axis; each time it does, a new goal is drawn. The pen is
symmetric: which end points where, and roll about its axis, do not matter. The physics,
observation and reward inputs are in the shared module shown above (eureka_jax/shadow_hand.py).
"""

from eureka_jax.shadow_hand import ShadowHandEnv


class ShadowHandPen(ShadowHandEnv):
    scene = "hand_pen.xml"
    symmetric = True
    goal_mode = "random"


def make_env(config_overrides: dict) -> ShadowHandPen:
    return ShadowHandPen(config_overrides=config_overrides)
