"""The offline proposer of domain-randomization configurations (``eureka_jax.dr``): the
stage runs without a network, as the reward search does with ``offline.OfflineProposer``."""

from __future__ import annotations

import re
import zlib

import numpy as np

from eureka_jax.randomize import configuration_text, parse_configuration


class OfflineDRProposer:
    """Configurations without a network: each randomizes a random subset of the parameters
    over its prior range (read from the request) scaled by a random factor, or, when the
    request carries a best configuration so far, varies that one's ranges."""

    def __init__(self, params, seed: int = 0):
        self.params, self.seed = tuple(params), seed
        self.asked: dict[int, int] = {}

    def propose(self, messages: list[dict], n: int) -> list[str]:
        digest = zlib.crc32(repr(messages).encode())
        asked = self.asked.get(digest, 0)
        self.asked[digest] = asked + 1
        rng = np.random.default_rng([self.seed, digest, asked])
        text = messages[-1]["content"] if messages else ""
        prior = _prior_ranges(text, self.params)
        best = None
        if "most robust configuration so far" in text:
            best, _ = parse_configuration(text, self.params)
        return [f"```yaml\n{configuration_text(self._one(rng, prior, best))}\n```"
                for _ in range(n)]

    def _one(self, rng, prior, best) -> list[dict]:
        by_name = {p.name: p for p in self.params}
        if best:
            out = []
            for e in best:
                p = by_name[e["parameter"]]
                centre, half = np.mean(e["range"]), (e["range"][1] - e["range"][0]) / 2
                half *= rng.uniform(0.6, 1.5)
                out.append(_entry(p, centre - half, centre + half))
            return out
        k = int(rng.integers(1, len(self.params) + 1))
        chosen = sorted(rng.choice(len(self.params), size=k, replace=False))
        scale = float(rng.choice([0.5, 0.75, 1.0, 1.25]))
        out = []
        for i in chosen:
            p = self.params[i]
            low, high = prior.get(p.name, (p.low, p.high))
            out.append(_entry(p, p.nominal - scale * (p.nominal - low),
                              p.nominal + scale * (high - p.nominal)))
        return out


def _entry(p, low, high) -> dict:
    low, high = float(np.clip(low, p.low, p.high)), float(np.clip(high, p.low, p.high))
    return {"parameter": p.name, "distribution": "uniform",
            "range": [float(f"{min(low, high):.4g}"), float(f"{max(low, high):.4g}")]}


def _prior_ranges(text: str, params) -> dict:
    """The prior's kept range per parameter, read from a request ("- name: [low, high]")."""
    out = {}
    for p in params:
        m = re.search(rf"^- {re.escape(p.name)}: \[([-\d.eE+]+), ([-\d.eE+]+)\]", text, re.MULTILINE)
        if m:
            out[p.name] = (float(m.group(1)), float(m.group(2)))
    return out
