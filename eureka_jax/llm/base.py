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
    unknown_calls: int = 0  # calls whose endpoint reported no usage (not counted as 0)

    def add(self, prompt_tokens: int | None, completion_tokens: int | None,
            samples: int) -> dict:
        """Records one call; ``None`` tokens: the endpoint sent no usage (unknown, not 0)."""
        self.calls += 1
        if prompt_tokens is None or completion_tokens is None:
            self.unknown_calls += 1
        else:
            self.prompt_tokens += prompt_tokens
            self.completion_tokens += completion_tokens
        call = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                "samples": samples}
        self.per_call.append(call)
        return call

    def text(self) -> str:
        """Tokens used, in words: the counts the endpoint reported, and how many calls it
        reported nothing for (those are unknown, not zero; no tokenizer guesses them)."""
        if self.calls and self.unknown_calls == self.calls:
            return f"tokens: unknown (the endpoint reported no usage for its {self.calls} call(s))"
        text = f"tokens: {self.prompt_tokens} prompt + {self.completion_tokens} completion"
        if self.unknown_calls:
            text += f" (plus {self.unknown_calls} of {self.calls} calls with no usage reported)"
        return text

    @property
    def cost(self) -> float | None:
        if self.price_prompt_per_1k is None or self.price_completion_per_1k is None:
            return None
        if self.unknown_calls:
            return None
        return (self.prompt_tokens * self.price_prompt_per_1k
                + self.completion_tokens * self.price_completion_per_1k) / 1000

    def summary(self) -> dict:
        return {"calls": self.calls, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "unknown_calls": self.unknown_calls,
                "estimated_cost": self.cost}
