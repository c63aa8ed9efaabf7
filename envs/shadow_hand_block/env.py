"""Shadow Hand block reorientation (MJX, reward removed): turn a 5 cm cube in the palm until
its orientation matches a random goal; each time it does, a new goal is drawn. The physics,
observation and reward inputs are in the shared module shown above (eureka_jax/shadow_hand.py).
"""

from eureka_jax.shadow_hand import ShadowHandEnv


class ShadowHandBlock(ShadowHandEnv):
    scene = "hand_block.xml"
    symmetric = False  # the full 3-D orientation counts
    goal_mode = "random"


def make_env(config_overrides: dict) -> ShadowHandBlock:
    return ShadowHandBlock(config_overrides=config_overrides)
