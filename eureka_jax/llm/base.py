"""The proposer interface and token-usage bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class Proposer(Protocol):
    """Anything that answers chat messages with ``n`` reward programs (as reply text)."""

    def propose(self, messages: list[dict], n: int) -> list[str]: ...


@dataclass
class Usage:
    """Tokens used (and an estimated cost when prices per 1k tokens are configured)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    price_prompt_per_1k: float | None = None
    price_completion_per_1k: float | None = None
    per_call: list[dict] = field(default_factory=list)

    def add(self, prompt_tokens: int, completion_tokens: int, samples: int) -> dict:
        self.calls += 1
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        call = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                "samples": samples}
        self.per_call.append(call)
        return call

    @property
    def cost(self) -> float | None:
        if self.price_prompt_per_1k is None or self.price_completion_per_1k is None:
            return None
        return (self.prompt_tokens * self.price_prompt_per_1k
                + self.completion_tokens * self.price_completion_per_1k) / 1000

    def summary(self) -> dict:
        return {"calls": self.calls, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "estimated_cost": self.cost}
