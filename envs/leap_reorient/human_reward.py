"""Human baseline for leap_reorient: MuJoCo Playground's own LeapCubeReorient reward, as
Playground computes it (read through a private reward input that searched rewards cannot
take)."""


def compute_reward(playground_reward):
    return playground_reward, {"playground": playground_reward}
