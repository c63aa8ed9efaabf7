"""Where reward programs come from: prompts, proposers (OpenAI-compatible, offline, replay).

``make_proposer(cfg, task, record_to)`` builds the one ``llm=`` names (``factory.py``); every
proposer answers ``Proposer.propose(messages, n)``; ``Prompts`` writes the messages."""

from eureka_jax.llm.base import Proposer, Usage
from eureka_jax.llm.factory import make_proposer
from eureka_jax.llm.prompts import Prompts

__all__ = ["Prompts", "Proposer", "Usage", "make_proposer"]
