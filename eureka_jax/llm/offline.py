"""The offline proposer: a reward-program search operator that needs no network.

It writes reward programs as JAX source, which go through the same compiler as an LLM's
replies. A program is a list of terms, each built from one reward input:

    term = weight * transform(input; temperature)

with the input's goal (``zero``: drive to 0, ``high``: increase, ``low``: decrease) taken from
the task's declared ``goals`` or, for optional shaping terms, from the input's kind (velocities
and the action: towards 0; ``terminated``: low). Transforms are bounded where possible
(``exp``, ``tanh``) or plain (``quadratic``, ``linear``). The term list is written into the
program as a comment, so a later request that carries the program back (the best program so
far, with its reflection) can be read and varied.

Operators, given the best program and its reflection: re-weight a term, change a temperature,
change a transform, drop a term, add a shaping term, recombine with another program proposed
earlier; the reflection steers them (a flat component gets a new temperature or transform; a
dominating one is down-weighted). Without a best program (the first round, or a best program
not written by this proposer) it samples fresh programs around the declared goals.
"""

from __future__ import annotations

import copy
import json
import re
import zlib

import numpy as np

from eureka_jax.errors import EurekaError

GENOME_TAG = "# offline-genome: "
TRANSFORMS = ("exp", "tanh", "quadratic", "linear")
WANTS = ("zero", "high", "low")


class OfflineProposer:
    """Proposes reward programs for ``task`` without any network access.

    Args:
      task: the ``Task`` (its reward inputs and declared goals).
      seed: seed of the proposer's own random choices (reproducible proposals).
    """

    def __init__(self, task, seed: int = 0):
        self.task = task
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        specs = task.reward_input_specs
        self.goals = []
        for goal in task.goals:
            name, want = goal.get("input"), goal.get("want", "zero")
            if name not in specs or want not in WANTS:
                raise EurekaError(
                    f"task '{task.name}': goal {goal} in task.yaml needs an input among "
                    f"{', '.join(specs)} and want one of {', '.join(WANTS)}; fix the goals list."
                )
            self.goals.append({"input": name, "want": want})
        goal_inputs = {g["input"] for g in self.goals}
        self.extras = []
        for name in specs:
            if name in goal_inputs or name == task.fitness_input:
                continue
            if "velocity" in name or name == "action":
                self.extras.append({"input": name, "want": "zero"})
            elif name == "terminated":
                self.extras.append({"input": name, "want": "low"})
        self.history: list[list[dict]] = []
        self.asked: dict[int, int] = {}

    # ---- proposing ---------------------------------------------------------------------

    def propose(self, messages: list[dict], n: int) -> list[str]:
        # Seeded by the request and how often it was asked: reproducible, and a repeated
        # request (the best program did not change) gets new proposals.
        digest = zlib.crc32(json.dumps(messages, sort_keys=True).encode())
        asked = self.asked.get(digest, 0)
        self.asked[digest] = asked + 1
        self.rng = np.random.default_rng([self.seed, digest, asked])
        best = _genome_in(messages[-1]["content"]) if messages else None
        flat, dominant = _read_reflection(messages[-1]["content"]) if messages else ((), None)
        replies, seen = [], [best]
        for _ in range(n):
            for _attempt in range(50):  # a no-op mutation or a repeat would waste a training
                genome = self._mutate(best, flat, dominant) if best else self._fresh()
                if genome not in seen:
                    break
            seen.append(genome)
            self.history.append(genome)
            replies.append(f"```python\n{self.render(genome)}```")
        return replies

    def replayed(self, messages: list[dict], replies: list[str]) -> None:
        """Updates the proposer's state for replies answered from a recording (resume), so
        that it continues exactly as if it had proposed them itself."""
        digest = zlib.crc32(json.dumps(messages, sort_keys=True).encode())
        self.asked[digest] = self.asked.get(digest, 0) + 1
        self.history.extend(g for g in map(_genome_in, replies) if g)

    def _term(self, base: dict) -> dict:
        return {
            "input": base["input"],
            "want": base["want"],
            "transform": str(self.rng.choice(TRANSFORMS)),
            "temperature": float(np.round(10 ** self.rng.uniform(-1.3, 0.5), 3)),
            "weight": float(np.round(10 ** self.rng.uniform(-1, 0.3), 3)),
        }

    def _fresh(self) -> list[dict]:
        genome = [self._term(g) for g in self.goals]
        for extra in self.extras:
            if self.rng.uniform() < 0.35:
                term = self._term(extra)
                term["weight"] = float(np.round(term["weight"] * 0.1, 4))
                genome.append(term)
        if not genome:  # a task without declared goals: shape on whatever it offers
            genome = [self._term(self.extras[0] if self.extras else
                                 {"input": self.task.fitness_input, "want": "high"})]
        return genome

    def _mutate(self, best, flat, dominant) -> list[dict]:
        genome = copy.deepcopy(best)
        steps = 1 + int(self.rng.integers(0, 2))
        for _ in range(steps):
            ops = ["reweight", "temperature", "transform", "add", "drop", "recombine"]
            if flat:
                ops += ["flat"] * 3
            if dominant is not None:
                ops += ["dominant"] * 2
            op = str(self.rng.choice(ops))
            i = int(self.rng.integers(len(genome)))
            if op == "reweight":
                genome[i]["weight"] = _scale(genome[i]["weight"], self.rng)
            elif op == "temperature":
                genome[i]["temperature"] = _scale(genome[i]["temperature"], self.rng)
            elif op == "transform":
                genome[i]["transform"] = str(self.rng.choice(TRANSFORMS))
            elif op == "add":
                present = {t["input"] for t in genome}
                pool = [x for x in self.goals + self.extras if x["input"] not in present]
                if pool:
                    genome.append(self._term(pool[int(self.rng.integers(len(pool)))]))
            elif op == "drop" and len(genome) > 1:
                genome.pop(i)
            elif op == "recombine" and self.history:
                other = self.history[int(self.rng.integers(len(self.history)))]
                by_input = {t["input"]: t for t in other}
                genome = [copy.deepcopy(by_input[t["input"]]) if t["input"] in by_input
                          and self.rng.uniform() < 0.5 else t for t in genome]
            elif op == "flat":
                names = [k for k, t in enumerate(genome) if _component(t) in flat]
                if names:
                    k = names[int(self.rng.integers(len(names)))]
                    genome[k]["temperature"] = float(np.round(genome[k]["temperature"]
                                                              * self.rng.choice([0.3, 3.0]), 4))
                    genome[k]["transform"] = str(self.rng.choice(TRANSFORMS))
            elif op == "dominant":
                for t in genome:
                    if _component(t) == dominant:
                        t["weight"] = float(np.round(t["weight"] * 0.5, 4))
        return genome

    # ---- writing source ------------------------------------------------------------------

    def render(self, genome: list[dict]) -> str:
        """The reward program for ``genome``, as JAX source in the LLM contract."""
        specs = self.task.reward_input_specs
        inputs = sorted({t["input"] for t in genome})
        lines = [GENOME_TAG + json.dumps(genome), "import jax.numpy as jnp", ""]
        for k, t in enumerate(genome):
            lines.append(f"{_component(t).upper()}_TEMPERATURE = {t['temperature']!r}")
            lines.append(f"{_component(t).upper()}_WEIGHT = {t['weight']!r}")
        lines += ["", "", f"def compute_reward({', '.join(inputs)}):"]
        names = []
        for t in genome:
            name = _component(t)
            x = t["input"]
            if specs[x].shape != ():
                magnitude = f"jnp.sqrt(jnp.sum({x} ** 2))"
                value = magnitude if t["want"] == "zero" else f"jnp.mean({x})"
            else:
                magnitude, value = f"jnp.abs({x})", x
            temp = f"{name.upper()}_TEMPERATURE"
            if t["want"] == "zero":
                body = {"exp": f"jnp.exp(-{magnitude} / {temp})",
                        "tanh": f"1.0 - jnp.tanh({magnitude} / {temp})",
                        "quadratic": f"-({magnitude} / {temp}) ** 2",
                        "linear": f"-{magnitude} / {temp}"}[t["transform"]]
            else:
                sign = "" if t["want"] == "high" else "-"
                body = {"exp": f"{sign}jnp.exp(jnp.clip({value} / {temp}, -10.0, 2.0))",
                        "tanh": f"{sign}jnp.tanh({value} / {temp})",
                        "quadratic": f"{sign}jnp.sign({value}) * ({value} / {temp}) ** 2",
                        "linear": f"{sign}{value} / {temp}"}[t["transform"]]
            lines.append(f"    {name} = {name.upper()}_WEIGHT * ({body})")
            names.append(name)
        lines.append(f"    total = {' + '.join(names)}")
        parts = ", ".join(f'"{n}": {n}' for n in names)
        lines.append(f"    return total, {{{parts}}}")
        return "\n".join(lines) + "\n"


def _component(term: dict) -> str:
    return f"{term['input']}_{term['want']}"


def _scale(value: float, rng) -> float:
    return float(np.round(value * 10 ** rng.uniform(-0.5, 0.5), 4))


def _genome_in(text: str):
    """The genome of the first program of ours in ``text``, with its temperatures and weights
    read from the program's constants where they follow it (a program written back by
    constant tuning, ``tune=``, keeps its genome comment but carries the tuned values)."""
    match = re.search(re.escape(GENOME_TAG) + r"(\[.*\])", text or "")
    if not match:
        return None
    genome = json.loads(match.group(1))
    if not (isinstance(genome, list) and genome):
        return None
    after = text[match.end():]
    for term in genome:
        for key in ("temperature", "weight"):
            name = f"{_component(term).upper()}_{key.upper()}"
            value = re.search(rf"^{re.escape(name)} = ([-+0-9.eE]+)\s*$", after, re.MULTILINE)
            if value:
                term[key] = float(value.group(1))
    return genome


_COMPONENT_LINE = re.compile(
    r"component '([^']+)'.*?max ([-+0-9.eE]+|nan), mean ([-+0-9.eE]+|nan), min ([-+0-9.eE]+|nan)"
)


def _read_reflection(text: str):
    """(flat component names, dominating component name or None) from a reflection text."""
    stats = {m.group(1): tuple(float(v) for v in m.groups()[1:])
             for m in _COMPONENT_LINE.finditer(text or "")}
    if not stats:
        return (), None
    spread = {k: abs(mx - mn) for k, (mx, _, mn) in stats.items()}
    scale = max(abs(mean) for _, mean, _ in stats.values()) or 1.0
    flat = tuple(k for k, s in spread.items() if s < 0.02 * scale)
    means = {k: abs(mean) for k, (_, mean, _) in stats.items()}
    top = max(means, key=means.get)
    rest = [v for k, v in means.items() if k != top]
    dominant = top if rest and means[top] > 5 * max(rest) else None
    return flat, dominant
