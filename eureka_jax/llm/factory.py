"""Builds the proposer a config asks for, recording every reply into the run directory."""

from __future__ import annotations

import os
from pathlib import Path

from eureka_jax.config import CHOICES, check_choices
from eureka_jax.llm.base import Usage
from eureka_jax.llm.offline import OfflineProposer
from eureka_jax.llm.openai_client import OpenAIProposer
from eureka_jax.llm.replay import RecordingProposer, ReplayProposer

KINDS = CHOICES["llm"]


def resolve_llm(cfg) -> str:
    """``auto`` means openai when an API key is configured, else offline."""
    check_choices(cfg)
    if cfg.llm == "auto":
        return "openai" if (cfg.api_key or os.environ.get("OPENAI_API_KEY")) else "offline"
    return cfg.llm


def make_proposer(cfg, task, record_to: Path | None, offline=None):
    """The proposer for ``cfg.llm``; wrapped to append every reply to ``record_to``.

    Returns:
      (proposer, kind, usage): ``usage`` accumulates tokens (zero for offline/replay).
      ``offline``: the proposer for llm=offline (default: reward programs,
      ``OfflineProposer``; the domain-randomization stage gives its own).
    """
    kind = resolve_llm(cfg)
    usage = Usage(price_prompt_per_1k=cfg.price_prompt_per_1k,
                  price_completion_per_1k=cfg.price_completion_per_1k)
    if kind == "offline":
        proposer = offline if offline is not None else OfflineProposer(task, seed=cfg.seed)
        model = "offline"
    elif kind == "openai":
        proposer = OpenAIProposer(
            cfg.model, base_url=cfg.base_url, api_key=cfg.api_key, temperature=cfg.temperature,
            max_retries=cfg.max_retries, timeout=cfg.request_timeout,
            max_samples_per_request=cfg.max_samples_per_request, usage=usage,
        )
        model = cfg.model
    else:
        proposer = ReplayProposer(list(cfg.replay), cfg.model, cfg.temperature)
        model = cfg.model
    if record_to is not None:
        proposer = RecordingProposer(proposer, record_to, model, cfg.temperature)
    return proposer, kind, usage
