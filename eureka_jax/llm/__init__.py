"""Where reward programs come from: prompts, proposers (OpenAI-compatible, offline, replay)."""
