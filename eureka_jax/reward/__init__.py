"""LLM reward source in, a checked jit-compilable ``RewardFn`` (or a precise error) out."""

from eureka_jax.reward.compiler import RewardFn, compile_reward, parse_reward
from eureka_jax.reward.errors import CATEGORIES, RewardError
from eureka_jax.reward.extract import extract_code
from eureka_jax.reward.policy import DEFAULT_POLICY, Policy, policy_for

__all__ = [
    "CATEGORIES", "DEFAULT_POLICY", "Policy", "RewardError", "RewardFn", "compile_reward",
    "extract_code", "parse_reward", "policy_for",
]
