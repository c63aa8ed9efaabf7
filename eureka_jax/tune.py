"""In-batch constant tuning (``tune=W``): each reward program trains as W variants of its
named constants, all rows of one compiled program.

A program's tunable constants (``eureka_jax.reward.constants``: module-level float literals
such as ``ANGLE_TEMPERATURE = 0.5``) are traced arguments of the trainer, so W variants of
one program cost no new compile: the reward switch keeps one branch per *program*, and every
row carries its own constant values (``train_candidates(..., constants=)``).

The design (what W variants of a program with n constants are):
  - variant 0 is the program as written (every factor 1);
  - variants 1..W-1 scale the constants by factors in [1/r, r] (``tune_range`` r, default 3),
    log-uniformly, as a Latin hypercube: for each constant the W-1 factors fall one in each of
    W-1 equal slices of [log 1/r, log r] (a random point within the slice), the slices paired
    across constants at random. So every constant is tried both lower and higher (W >= 3),
    and its effect can be read apart from the others' (the pairings are near-orthogonal).
    Signs never change (a cost stays a cost).
  - the draws are seeded by the search seed, the round and the program, so a resumed round
    draws the same variants.
  A program without tunable constants trains once (W copies would only be more seeds).

Rows are candidates like any others: they share the round's seeds, go through the seed race,
and the best row wins. The winning program is written back as source with its values
(``RewardFn.with_values``), and the reflection reports per constant the values tried, the
fitness each reached and a main-effect estimate (``constants_text``).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from eureka_jax.errors import EurekaError


def design(num_constants: int, width: int, rng, spread: float = 3.0) -> np.ndarray:
    """[width, num_constants] factors: row 0 all ones, rows 1.. a log-uniform Latin hypercube
    over [1/spread, spread] (see the module docstring)."""
    if width < 1:
        raise EurekaError(f"tune={width}: give the number of variants per program (1 = no "
                          "tuning, 3 or more to tune).")
    if not spread > 1.0:
        raise EurekaError(f"tune_range={spread}: the factors span [1/r, r]; give r > 1 "
                          "(e.g. 3).")
    factors = np.ones((width, num_constants))
    m = width - 1
    if m == 0 or num_constants == 0:
        return factors
    lo, hi = -np.log(spread), np.log(spread)
    for j in range(num_constants):
        slices = rng.permutation(m)
        points = (slices + rng.uniform(size=m)) / m
        factors[1:, j] = np.exp(lo + points * (hi - lo))
    return factors


@dataclass
class Plan:
    """The rows of a tuned round: which program each trains and with which constants.

    Attributes:
      programs: per row, the index of its program (into the round's compiled programs).
      variants: per row, its variant number within the program (0: as written).
      factors: per row, its factor for each of the program's constants.
      values: [rows, n] float32, each row's constant values (zero-padded to the widest).
      labels: per row, ``<program label>`` for variant 0, ``<program label>~v<n>`` after.
    """

    programs: list[int]
    variants: list[int]
    factors: list[np.ndarray]
    values: np.ndarray
    labels: list[str]

    def rows_of(self, program: int) -> list[int]:
        return [r for r, p in enumerate(self.programs) if p == program]

    def record(self, fns) -> list[dict]:
        """What round.json keeps of the plan: per row, program, variant and named values."""
        return [{"program": p, "variant": v, "label": label,
                 "values": {c.name: float(x) for c, x in zip(fns[p].constants, vals)},
                 "factors": {c.name: float(f) for c, f in zip(fns[p].constants, factors)}}
                for p, v, label, vals, factors in zip(self.programs, self.variants, self.labels,
                                                      self.values, self.factors)]


def make_plan(fns, labels, width: int, seed, spread: float = 3.0) -> Plan:
    """The rows for ``fns`` (a round's compiled programs) with ``width`` variants each;
    ``seed`` (any JSON-able value: the search seed and the round) seeds the draws."""
    programs, variants, factors, rows = [], [], [], []
    for p, fn in enumerate(fns):
        n = len(fn.constants)
        digest = zlib.crc32(repr((seed, p, fn.source)).encode())
        table = design(n, width if n else 1, np.random.default_rng(digest), spread)
        source = np.asarray(fn.constant_values, float)
        for v, row in enumerate(table):
            # a variant's values are rounded to 3 significant digits (a written-back program
            # reads 0.0458, not 0.045805365) before training, so what is written is what was
            # trained; the factors recorded are the rounded ones. Row 0 is the source's values.
            values = source if v == 0 else np.array([float(f"{x:.3g}") for x in source * row])
            programs.append(p)
            variants.append(v)
            factors.append(values / source if n else row)
            rows.append(np.float32(values))  # float32, as the trainer holds them
    width_max = max([len(r) for r in rows] + [0])
    values = np.zeros((len(rows), width_max), np.float32)
    for r, row in enumerate(rows):
        values[r, :len(row)] = row
    names = [labels[p] if v == 0 else f"{labels[p]}~v{v}" for p, v in zip(programs, variants)]
    return Plan(programs, variants, factors, values, names)


def plan_trainer(train, plan: Plan, fns, program_labels):
    """A trainer over the plan's rows with the ``train_candidates`` signature: it is called
    with the rows as candidates (``reward_fns`` = one per row, ``slots`` = row indices) and
    trains their programs with their constants; its result names rows, not programs."""

    def train_rows(task, row_fns, config, hparams=None, seeds=(0,), labels=None, slots=None,
                   **kwargs):
        rows = list(range(len(plan.programs))) if slots is None else [int(r) for r in slots]
        result = train(task, fns, config, hparams, seeds=seeds, labels=program_labels,
                       slots=[plan.programs[r] for r in rows],
                       constants=plan.values[rows], **kwargs)
        result.labels = [plan.labels[r] for r in rows]
        result.slots = None if slots is None else rows
        return result

    return train_rows


def constants_text(fn, plan: Plan, program: int, scores, winner: int, seeds=None) -> str:
    """What the variants of ``program`` taught: per constant, the values tried with the score
    each variant reached, and a main effect (the least-squares slope of score on log-factor
    across the variants, as the change from 1/r to r). ``scores``: per row, its mean score
    (-inf: failed); ``seeds``: per row, how many seeds that mean is over; ``winner``: the
    winning row."""
    rows = plan.rows_of(program)
    if len(rows) < 2 or not fn.constants:
        return ""
    s = np.array([scores[r] for r in rows], float)
    ok = np.isfinite(s)
    log_f = np.log(np.array([plan.factors[r] for r in rows]))  # [W, n]
    span = float(np.max(np.abs(log_f))) * 2 or 1.0
    lines = [(f"Constant tuning: this program trained as {len(rows)} variants of its constants "
              "in the same batch (variant 0 as written; the others scale every constant by "
              "factors drawn around 1); scores per value tried, and the estimated effect of "
              "the constant over the whole range (positive: larger is better):")]
    effects = []
    for j, c in enumerate(fn.constants):
        x = log_f[ok, j]
        effect = (float(np.polyfit(x, s[ok], 1)[0]) * span
                  if ok.sum() >= 2 and np.ptp(x) > 0 else float("nan"))
        counts = [1 if seeds is None else seeds[r] for r in rows]
        tried = sorted(zip(plan.values[rows, j], s, [plan.variants[r] for r in rows], counts))
        shown = ", ".join(f"{_num(v)}{' (as written)' if var == 0 else ''} -> "
                          + ("failed" if not np.isfinite(score) else
                             f"{score:.3g} ({n} seed{'s' if n > 1 else ''})")
                          for v, score, var, n in tried)
        effects.append((abs(effect) if np.isfinite(effect) else -1.0, c.name,
                        f"- {c.name}: {shown}; effect {effect:+.3g}"))
    lines += [text for _, _, text in sorted(effects, reverse=True)]
    if len(rows) - 1 <= len(fn.constants):
        lines.append(f"(With {len(rows)} variants for {len(fn.constants)} constants every variant "
                     "moved every constant, so these effects are confounded: read them as "
                     "hints, not measurements.)")
    won = plan.values[winner, :len(fn.constants)]
    if plan.variants[winner] == 0:
        lines.append("The program as written scored best; its values are kept.")
    else:
        lines.append("Best variant: " + ", ".join(
            f"{c.name} = {_num(v)} (x{f:.2f})" for c, v, f in
            zip(fn.constants, won, plan.factors[winner])) + "; the program shown uses these.")
    return "\n".join(lines) + "\n"


def _num(value) -> str:
    from eureka_jax.reward.constants import format_value

    return format_value(value)
