"""Policies under other physics: the physics prior of a trained policy and a held-out set of
perturbed models (``eureka-jax robustness run=DIR``; the domain-randomization stage).

Both evaluate trained policies (leaves [R, S, ...]) on M physics models (each a vector of the
task's ``randomize`` parameter values) with E episodes per model, in one compiled program:
runs x models x episodes are batched (the evaluation env axis holds models x episodes).
Every policy meets the same models and the same episode starts (one key), so differences
between policies are paired.

The **physics prior** (DrEureka's reward-aware prior) sweeps each parameter in turn over a
grid inside its valid bounds, the others at their nominal values, and reports per parameter
the range around the nominal value where the policy's fitness (mean over its seeds) stays
within ``tolerance`` (a fraction) of its fitness at the nominal physics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eureka_jax.randomize import nominal_values, parameters

HELD_OUT_SEED = 20_240_611  # the held-out perturbation set's draw: fixed, never trained on


def evaluate_physics(task, config, params, values, episodes: int, seed: int = 0):
    """[R, S, M] fitness of every policy (``params``: (normalizer, policy, value) leaves
    [R, S, ...]) on each of M physics models (``values`` [M, n]), ``episodes`` per model."""
    import jax
    import jax.numpy as jnp

    from eureka_jax.train import learners

    cache_key = (id(task), config, int(episodes))
    if cache_key not in _EVALUATORS:  # every round of a DR stage reuses the compiled program
        randomize = parameters(task)
        parts = learners.parts(task, config, randomize)  # shared with the DR stage's

        def one(normalizer, policy, physics, key):
            m = physics.shape[0] // episodes
            done = parts.evaluate(normalizer, policy, key, physics=physics)
            return done.fitness.reshape(m, episodes).mean(-1)

        batched = jax.vmap(jax.vmap(one, (0, 0, None, None)), (0, 0, None, None))
        _EVALUATORS[cache_key] = (task, jax.jit(batched))  # the task held: its id stays
    run = _EVALUATORS[cache_key][1]
    physics = jnp.repeat(jnp.asarray(values, jnp.float32), episodes, axis=0)  # model-major
    normalizer, policy, _ = params
    return np.asarray(run(normalizer, policy, physics, jax.random.PRNGKey(seed)))


_EVALUATORS: dict = {}  # (id(task), config, episodes) -> (task, the jitted evaluation)


def sweep_values(params, points: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """([M, n] models, per parameter its grid): each parameter over ``points`` values
    spread evenly over its bounds, plus its nominal value, the others nominal."""
    nominal = nominal_values(params)
    models, grids = [], []
    for i, p in enumerate(params):
        grid = np.unique(np.append(np.linspace(p.low, p.high, points), p.nominal))
        grids.append(grid.astype(np.float32))
        for v in grid:
            row = nominal.copy()
            row[i] = v
            models.append(row)
    return np.asarray(models, np.float32), grids


def held_out_values(params, count: int, seed: int = HELD_OUT_SEED) -> np.ndarray:
    """[count, n] the held-out perturbation set: every parameter drawn at once, uniformly
    over its test range (``test:`` in its declaration, else its bounds)."""
    rng = np.random.default_rng(seed)
    low = np.asarray([p.test[0] for p in params])
    high = np.asarray([p.test[1] for p in params])
    return rng.uniform(low, high, size=(count, len(params))).astype(np.float32)


@dataclass
class Prior:
    """The physics prior of one policy (its seeds): per parameter the grid, the fitness on it
    (mean and std over seeds) and the range where it stays within the tolerance."""

    task: str
    tolerance: float
    seeds: list
    nominal_fitness: list  # per seed
    parameters: dict = field(default_factory=dict)  # name -> {values, mean, std, range, unit}

    def ranges(self) -> dict:
        return {name: tuple(p["range"]) for name, p in self.parameters.items()}

    def to_json(self) -> dict:
        return {"task": self.task, "tolerance": self.tolerance, "seeds": self.seeds,
                "nominal_fitness": self.nominal_fitness, "parameters": self.parameters}

    @classmethod
    def from_json(cls, value: dict) -> Prior:
        return cls(**value)

    def text(self) -> str:
        """What the LLM reads: per parameter the range where the policy still succeeds."""
        nominal = float(np.mean(self.nominal_fitness))
        lines = [(f"The policy trained at the nominal physics scores {nominal:.3f} there; per "
                 f"parameter (others nominal), the range where it keeps at least "
                 f"{1 - self.tolerance:.0%} of that:")]
        for name, p in self.parameters.items():
            low, high = p["range"]
            worst = float(np.min(p["mean"]))
            lines.append(f"- {name}: [{low:g}, {high:g}] {p['unit']} (swept over "
                         f"[{p['values'][0]:g}, {p['values'][-1]:g}]; lowest fitness "
                         f"{worst:.3f})")
        return "\n".join(lines)


def physics_prior(task, config, params, seeds, points: int = 9, tolerance: float = 0.2,
                  episodes: int = 8, seed: int = 0) -> Prior:
    """The prior of one policy's seeds (``params`` leaves [S, ...])."""
    import jax

    randomize = parameters(task)
    models, grids = sweep_values(randomize, points)
    nominal = nominal_values(randomize)[None]
    fitness = evaluate_physics(task, config, jax.tree.map(lambda x: x[None], params),
                               np.concatenate([nominal, models]), episodes, seed)[0]
    at_nominal, swept = fitness[:, 0], fitness[:, 1:]
    threshold = (1.0 - tolerance) * float(np.mean(at_nominal))
    prior = Prior(task=task.name, tolerance=tolerance, seeds=list(seeds),
                  nominal_fitness=[float(x) for x in at_nominal])
    start = 0
    for p, grid in zip(randomize, grids):
        block = swept[:, start:start + len(grid)]
        start += len(grid)
        mean = block.mean(0)
        prior.parameters[p.name] = {
            "values": [float(v) for v in grid], "mean": [float(v) for v in mean],
            "std": [float(v) for v in block.std(0)], "unit": p.unit,
            "nominal": p.nominal, "range": list(_kept_range(grid, mean, p.nominal, threshold))}
    return prior


def _kept_range(grid, mean, nominal, threshold) -> tuple[float, float]:
    """The widest run of grid points around the nominal one whose fitness is at least
    ``threshold`` (just the nominal value when even its neighbours fall short)."""
    at = int(np.argmin(np.abs(grid - nominal)))
    low = high = at
    while low > 0 and mean[low - 1] >= threshold:
        low -= 1
    while high < len(grid) - 1 and mean[high + 1] >= threshold:
        high += 1
    return float(grid[low]), float(grid[high])


def plot_prior(prior: Prior, path: Path) -> Path:
    """Fitness vs parameter value, one panel per parameter, the kept range shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(prior.parameters)
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    threshold = (1 - prior.tolerance) * float(np.mean(prior.nominal_fitness))
    for ax, name in zip(axes.flat, names):
        p = prior.parameters[name]
        x, y, s = (np.asarray(p[k]) for k in ("values", "mean", "std"))
        ax.plot(x, y, marker="o", ms=3)
        ax.fill_between(x, y - s, y + s, alpha=0.2)
        ax.axvspan(*p["range"], color="tab:green", alpha=0.1)
        ax.axvline(p["nominal"], color="k", lw=0.8, ls=":")
        ax.axhline(threshold, color="tab:red", lw=0.8, ls="--")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(p["unit"], fontsize=8)
        ax.set_ylabel("fitness", fontsize=8)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle(f"{prior.task}: fitness vs physics (mean ± std over {len(prior.seeds)} seeds; "
                 f"green: within {prior.tolerance:.0%} of nominal)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
