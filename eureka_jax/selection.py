"""Choosing a round's best reward: scores per seed, the seed race, intervals.

One seed cannot rank rewards whose differences are smaller than PPO's seed-to-seed spread
(cartpole's human reward at 205k steps scores anywhere from 0.28 to 1.0 over 16 seeds), and
picking the maximum of K noisy one-seed scores picks the luckiest seed (the winner's curse).
So a round *races* its candidates: all K candidates train with ``seeds`` seeds, then the
``confirm`` leaders train again on fresh seeds in one more batched call of the same shape
(K rows of ``seeds`` seeds, shared out among the leaders: the compiled program is reused and a
round costs at most twice a one-pass round), and the best is the leader with the highest mean
over its race seeds.

Why the race seeds only (``heldout``): the first-pass score is what made a candidate a
leader, so it carries the selection's luck; leaving it out makes each leader's score an
unbiased estimate, and only the small choice among ``confirm`` leaders remains optimistic
(``race_score=all`` keeps every seed; ``benchmarks/selection.py`` measures both). Why a mean
and not a lower confidence bound: with the 2-8 seeds a leader gets, the sample standard
deviation is itself very noisy (relative error ~1/sqrt(2(n-1)), 25-70 %), so an LCB ranking
would mostly re-rank by that noise. The spread is reported beside every mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eureka_jax.train.batch import BatchResult
from eureka_jax.train.curves import TrainingCurves


def per_seed(result: BatchResult, select: str) -> np.ndarray:
    """[K, S] each run's score: best evaluated fitness over checkpoints (``max``, Eureka's)
    or the last checkpoint's (``final``); NaN for runs that failed."""
    values = result.max_fitness() if select == "max" else result.final_fitness()
    return np.where(np.asarray(result.curves.failed), np.nan, values)


@dataclass
class Scores:
    """Every candidate's per-seed scores after a round (first pass, then its race seeds).

    Attributes:
      values: per candidate, its runs' scores (NaN where a run failed).
      seeds: per candidate, the seed of each of those runs.
      confirmed: the candidates that were raced (in first-pass order, best first).
    """

    values: list[np.ndarray]
    seeds: list[list[int]]
    confirmed: list[int]
    first_pass: int = 1
    heldout: bool = True

    def failed(self, k: int) -> bool:
        return bool(np.isnan(self.values[k]).any())

    def scored(self, k: int) -> np.ndarray:
        """The values a candidate's score is the mean of: a raced leader's race seeds only
        (``heldout``), else all of its seeds."""
        v = self.values[k]
        if self.heldout and k in self.confirmed and len(v) > self.first_pass:
            return v[self.first_pass:]
        return v

    def mean(self, k: int) -> float:
        """The ranking score (-inf if any run of the candidate failed)."""
        return -np.inf if self.failed(k) else float(np.mean(self.scored(k)))

    def std(self, k: int) -> float:
        v = self.scored(k)
        return float(np.std(v, ddof=1)) if len(v) > 1 and not self.failed(k) else 0.0

    def best(self) -> int:
        """The confirmed candidate with the highest mean; without a race, the top first-pass
        mean."""
        pool = self.confirmed or range(len(self.values))
        return max(pool, key=lambda k: (self.mean(k), -list(pool).index(k)))


def leaders(first: np.ndarray, confirm: int) -> list[int]:
    """The ``confirm`` candidates with the highest first-pass mean (failed ones excluded).

    Args:
      first: [K, S] first-pass scores (NaN = failed).
    """
    means = np.where(np.isnan(first).any(1), -np.inf, np.nan_to_num(first).mean(1))
    order = [int(k) for k in np.argsort(-means, kind="stable") if np.isfinite(means[k])]
    return order[:max(0, int(confirm))]


def race_plan(top: list[int], num_rows: int, num_seeds: int, base_seed: int):
    """Slots and seeds of the race: ``num_rows`` rows of ``num_seeds`` seeds (the first pass's
    shape, so its compiled program serves again), dealt round-robin to the leaders.

    The m-th row of every leader gets the same fresh seeds (``base_seed + num_seeds * (m + 1)
    + s``), so the leaders are compared on common random numbers; when the rows do not divide
    evenly, the first leaders get one row more.

    Returns:
      (slots, seed table): per row the candidate index, and its [num_seeds] seeds.
    """
    slots, table = [], []
    for i in range(num_rows):
        m = i // len(top)
        slots.append(top[i % len(top)])
        table.append([base_seed + num_seeds * (m + 1) + s for s in range(num_seeds)])
    return slots, table


def combine(first: BatchResult, race: BatchResult | None, select: str,
            confirmed: list[int], heldout: bool = True) -> Scores:
    """Per-candidate scores from the first pass and (if any) the race; ``heldout``: a
    leader's score is the mean of its race seeds only (see ``Scores.scored``)."""
    values = per_seed(first, select)
    seeds = first.seed_table()
    out_v = [list(values[k]) for k in range(values.shape[0])]
    out_s = [[int(s) for s in seeds[k]] for k in range(values.shape[0])]
    if race is not None:
        race_values, race_seeds = per_seed(race, select), race.seed_table()
        for row, k in enumerate(race.slots):
            out_v[k] += list(race_values[row])
            out_s[k] += [int(s) for s in race_seeds[row]]
    return Scores([np.asarray(v, float) for v in out_v], out_s, list(confirmed),
                  first_pass=values.shape[1], heldout=heldout)


def runs_of(first: BatchResult, race: BatchResult | None, k: int) -> TrainingCurves:
    """Candidate ``k``'s runs from both calls: curves with arrays [n, C] (all its seeds)."""
    parts = [_rows(first.curves, [k])]
    if race is not None:
        rows = [i for i, slot in enumerate(race.slots) if slot == k]
        if rows:
            parts.append(_rows(race.curves, rows))
    fields = {}
    for name in TrainingCurves.__dataclass_fields__:
        pieces = [getattr(p, name) for p in parts]
        if any(x is None for x in pieces):
            fields[name] = None
            continue
        pieces = [np.asarray(x).reshape(-1, *np.asarray(x).shape[2:]) for x in pieces]
        width = max(x.shape[-1] for x in pieces) if pieces[0].ndim == 3 else None
        if width is not None:  # components: pad to the widest (race rows hold the same M)
            pieces = [np.pad(x, ((0, 0), (0, 0), (0, width - x.shape[-1]))) for x in pieces]
        fields[name] = np.concatenate(pieces)
    return TrainingCurves(**fields)


def _rows(curves: TrainingCurves, rows: list[int]) -> TrainingCurves:
    return TrainingCurves(**{name: None if getattr(curves, name) is None
                             else np.asarray(getattr(curves, name))[rows]
                             for name in TrainingCurves.__dataclass_fields__})


def t_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t interval of ``values`` (n >= 2; n = 1 gives an infinite interval).

    Used for paired differences over seeds: slot s of every reward in one batched call uses
    seed s (common random numbers), so best_s - human_s is one observation per seed.
    """
    from scipy import stats

    v = np.asarray(values, float)
    mean = float(v.mean())
    if len(v) < 2:
        return mean, -np.inf, np.inf
    half = float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return mean, mean - half, mean + half
