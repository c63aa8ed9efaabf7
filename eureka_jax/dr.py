"""The domain-randomization stage of a search (DrEureka on MJX): ``dr_iteration`` rounds of
``dr_sample`` LLM-written configurations, each round trained in one compiled program.

After the reward search and its final evaluation:

1. **Physics prior**: the saved best policy (every seed of the final evaluation) is evaluated
   with each randomizable parameter swept in turn (``robustness.physics_prior``).
2. **Rounds**: the proposer (the LLM, or ``llm.offline_dr.OfflineDRProposer``) writes
   configurations from the task, the best reward, the parameters and the prior; they are
   parsed and checked
   (``randomize.parse_configuration``: an unknown parameter, a range outside the valid one, a
   wrong type is a message and a resample, never a failed batch). The round's configurations
   x ``dr_seeds`` seeds train with the best reward in one program (the first round also trains
   the two baselines: no randomization, and every parameter uniform over its prior range),
   rows padded to one shape so that later rounds compile nothing.
3. **Robustness**: every trained policy is evaluated on one fixed held-out set of perturbed
   models (``robustness.held_out_values``); a configuration's score is its policies' mean
   fitness there. The most robust configuration is compared with both baselines by paired
   differences over seeds (the same seeds, models and episode starts), at the nominal physics
   and under perturbation.

Everything a round decided is written to ``dr/round_N.json`` first, so a resumed search skips
finished rounds; the outcome is ``dr/dr.json`` and ``dr/dr.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eureka_jax.errors import EurekaError
from eureka_jax.randomize import (
    configuration_table,
    configuration_text,
    nominal_table,
    parameters,
    parameters_text,
    parse_configuration,
)
from eureka_jax.runs import read_json, write_json

NONE, UNIFORM = "no randomization", "uniform over the prior"


def uniform_prior_configuration(prior, params) -> list[dict]:
    """The baseline: every parameter uniform over its prior range (where it is not a point)."""
    ranges = prior.ranges()
    return [{"parameter": p.name, "distribution": "uniform", "range": list(ranges[p.name])}
            for p in params if ranges[p.name][0] < ranges[p.name][1]]


@dataclass(frozen=True)
class DRSettings:
    """The stage's settings, typed and checked once (``from_config`` at the command line's
    edge: ``dr_iteration``, ``dr_sample``, ``dr_seeds``, ``dr_tolerance``, ``dr_models``,
    ``dr_episodes``, ``max_resample``, ``seed``)."""

    iterations: int
    samples: int = 4
    seeds: int = 3
    tolerance: float = 0.2
    models: int = 32
    episodes: int = 4
    max_resample: int = 3
    seed: int = 0

    def __post_init__(self):
        for name, key, least in (("samples", "dr_sample", 1), ("seeds", "dr_seeds", 1),
                                 ("models", "dr_models", 1), ("episodes", "dr_episodes", 1),
                                 ("max_resample", "max_resample", 0)):
            if int(getattr(self, name)) < least:
                raise EurekaError(f"{key}={getattr(self, name)} is too small; {key} must be at "
                                  f"least {least}.")
        if not 0.0 < float(self.tolerance) < 1.0:
            raise EurekaError(f"dr_tolerance={self.tolerance} is the fraction of the nominal "
                              "fitness a parameter's range may lose; give a number in (0, 1).")

    @classmethod
    def from_config(cls, cfg) -> DRSettings:
        """The stage's settings from the command-line config (a key an older run's config
        lacks takes its default)."""
        d = cls(iterations=0)
        return cls(iterations=int(cfg.get("dr_iteration", 0)),
                   samples=int(cfg.get("dr_sample", d.samples)),
                   seeds=int(cfg.get("dr_seeds", d.seeds)),
                   tolerance=float(cfg.get("dr_tolerance", d.tolerance)),
                   models=int(cfg.get("dr_models", d.models)),
                   episodes=int(cfg.get("dr_episodes", d.episodes)),
                   max_resample=int(cfg.get("max_resample", d.max_resample)),
                   seed=int(cfg.get("seed", 0)))

    @property
    def width(self) -> int:
        """Rows of every DR program (round 1: the two baselines and ``samples``
        configurations): later rounds and the confirmation are padded to it and compile
        nothing."""
        return self.samples + 2


def check_stage(task, backend=None) -> None:
    """What the stage needs of the task and the backend, one sentence each: randomizable
    parameters (``randomize:``) and the ``randomization`` feature."""
    from eureka_jax.backend import require

    if backend is not None:
        require(backend, "randomization", "dr_iteration > 0 (domain randomization)")
    if not parameters(task):
        raise EurekaError(f"task '{task.name}' declares no randomizable parameters "
                          "(randomize: in its task.yaml); add some, or set dr_iteration=0.")


class DRStage:
    """One search's domain-randomization stage (see the module docstring).

    Args:
      settings: the stage's ``DRSettings``.
      task, run_dir, best_source: the searched task, its run directory (holding the final
        evaluation's ``policies.msgpack``) and the best reward's source.
      proposer: answers the stage's requests with configurations.
      prompts: the ``Prompts`` in use; backend: the ``Backend`` (needs ``randomization``).
      config, hparams: the training settings (``TrainConfig``, ``PPOHyperparams``) of the
        search, which every configuration trains with.
    """

    def __init__(self, settings: DRSettings, task, run_dir, best_source: str, proposer,
                 prompts, backend, config, hparams, log=print):
        check_stage(task, backend)
        self.settings, self.task, self.best_source = settings, task, best_source
        self.config, self.hparams = config, hparams
        self.run_dir, self.dir = Path(run_dir), Path(run_dir) / "dr"
        self.proposer, self.prompts, self.backend, self.log = proposer, prompts, backend, log
        self.params = parameters(task)
        self.seeds = [settings.seed + 7000 + i for i in range(settings.seeds)]

    def run(self) -> dict:
        from eureka_jax.reward import compile_reward
        from eureka_jax.robustness import held_out_values

        self.dir.mkdir(parents=True, exist_ok=True)
        prior = self.prior()
        self.reward_fn = compile_reward(self.best_source, self.task)
        self.held_out = held_out_values(self.params, self.settings.models)
        rows: list[dict] = []
        for r in range(1, self.settings.iterations + 1):
            path = self.dir / f"round_{r}.json"
            if path.is_file():
                rows += read_json(path)["rows"]
                self.log(f"dr round {r}: read back from {path}")
                continue
            configs = self.propose(prior, rows, r)
            if r == 1:
                configs = [(NONE, []), (UNIFORM, uniform_prior_configuration(prior, self.params)),
                           *configs]
            trained = self.train(configs, r)
            write_json(path, {"round": r, "rows": trained})
            rows += trained
        best = _most_robust(rows)
        confirmation = None
        if best is not None:
            uniform = next(r["configuration"] for r in rows if r["label"] == UNIFORM)
            confirmation = self.confirm(best, uniform)
        outcome = self.decide(rows, confirmation)
        write_json(self.dir / "dr.json", outcome)
        (self.dir / "dr.md").write_text(dr_markdown(outcome))
        return outcome

    def prior(self):
        from eureka_jax.play import SavedPolicies
        from eureka_jax.robustness import Prior, physics_prior, plot_prior

        path = self.dir / "prior.json"
        if path.is_file():
            return Prior.from_json(read_json(path))
        saved = SavedPolicies(self.run_dir)
        row = saved.row("best")
        import jax

        params = jax.tree.map(lambda x: x[row], saved.params)
        prior = physics_prior(saved.task, saved.config, params, saved.seeds,
                              tolerance=self.settings.tolerance,
                              episodes=2 * self.settings.episodes)
        write_json(path, prior.to_json())
        plot_prior(prior, self.dir / "prior.png")
        self.log(f"dr physics prior of the best policy ({len(saved.seeds)} seeds), "
                 f"{self.dir / 'prior.png'}:\n{prior.text()}")
        return prior

    def request(self, prior, rows):
        reward, params = self.best_source, parameters_text(self.params)
        scored = [r for r in rows if r["perturbed_mean"] is not None]
        if not scored:
            return self.prompts.dr_initial(self.task, reward, params, prior.text())
        best = max((r for r in scored if r["label"] not in (NONE, UNIFORM)),
                   key=lambda r: r["perturbed_mean"], default=None) or max(
                       scored, key=lambda r: r["perturbed_mean"])
        return self.prompts.dr_feedback(self.task, reward, params, prior.text(),
                                        results=results_text(rows),
                                        best=configuration_text(best["configuration"]),
                                        seeds=len(self.seeds))

    def propose(self, prior, rows, round_index: int) -> list[tuple[str, list]]:
        """``dr_sample`` valid configurations; invalid replies are logged and asked again
        (with their message) up to ``max_resample`` times."""
        wanted, out, errors = self.settings.samples, [], []
        messages = self.request(prior, rows)
        for _ in range(self.settings.max_resample + 1):
            for reply in self.proposer.propose(messages, wanted - len(out)):
                entries, error = parse_configuration(reply, self.params)
                if error:
                    errors.append(error)
                    self.log(f"dr configuration rejected: {error}")
                else:
                    out.append(entries)
            if len(out) >= wanted:
                break
            messages = messages + [{"role": "user", "content": (
                "Your configuration could not be used: " + errors[-1]
                + " Write a corrected configuration in a ```yaml block.")}]
        if not out:
            raise EurekaError(f"no usable domain-randomization configuration in "
                              f"{self.settings.max_resample + 1} tries; the last reply's "
                              f"problem: {errors[-1]}")
        return [(f"configuration {(round_index - 1) * wanted + i + 1}", e)
                for i, e in enumerate(out)]

    def train(self, configs, round_index: int, seeds=None, held_out=None,
              what: str = "") -> list[dict]:
        """Trains configurations x seeds in one program (``seeds``: a list shared by the rows,
        or one list per row) and scores every policy on held-out perturbed models."""
        from eureka_jax.robustness import evaluate_physics

        seeds = self.seeds if seeds is None else seeds
        held_out = self.held_out if held_out is None else held_out
        tables = np.stack([configuration_table(c, self.params) if c else
                           nominal_table(self.params) for _, c in configs])
        result = self.backend.train_candidates(
            self.task, [self.reward_fn], self.config, self.hparams, seeds=seeds,
            labels=[label for label, _ in configs], slots=[0] * len(configs),
            min_rows=self.settings.width, physics=tables)
        per_model = evaluate_physics(self.task, self.config, result.params, held_out,
                                     self.settings.episodes)  # [P, S, M]
        perturbed = per_model.mean(-1)
        nominal = result.final_fitness()
        failed = np.asarray(result.curves.failed)
        table = result.seed_table()
        self.log(f"dr {what or f'round {round_index}'}: {len(configs)} configuration(s) x "
                 f"{table.shape[1]} seed(s) trained (compile {result.compile_seconds:.1f} s, "
                 f"run {result.run_seconds:.1f} s)")
        rows = []
        for i, (label, entries) in enumerate(configs):
            bad = bool(failed[i].any() or not np.isfinite(perturbed[i]).all())
            row = _row(label, round_index, entries, table[i], nominal[i], perturbed[i], bad)
            if not bad:
                row["weakest"] = weakest(self.params, held_out, per_model[i].mean(0))
            rows.append(row)
        if not what:
            for row in rows:
                self.log(f"  {row['label']}: nominal {_fmt(row['nominal_mean'])}, perturbed "
                         f"{_fmt(row['perturbed_mean'])}"
                         + (f" ({row['error']})" if row["error"] else ""))
        return rows

    def confirm(self, best: dict, uniform: list) -> dict:
        """The chosen configuration and both baselines again, on fresh seeds and a second
        held-out set: the comparison the report states, free of the selection's bias (the
        rounds chose the best on the first set with the same seeds). Each of the three fills
        a third of the program's rows, so it gets that many times ``dr_seeds`` seeds."""
        from eureka_jax.robustness import HELD_OUT_SEED, held_out_values

        path = self.dir / "confirm.json"
        if path.is_file():
            return read_json(path)
        configs = [(NONE, []), (UNIFORM, uniform), (best["label"], best["configuration"])]
        reps, n = self.settings.width // 3, len(self.seeds)
        fresh = [self.settings.seed + 9000 + i for i in range(reps * n)]
        rows = self.train([c for c in configs for _ in range(reps)], 0,
                          seeds=[fresh[j * n:(j + 1) * n] for _ in configs for j in range(reps)],
                          held_out=held_out_values(self.params, self.settings.models,
                                                   HELD_OUT_SEED + 1),
                          what=f"confirmation on {reps * n} fresh seeds and a second held-out set")
        merged = {}
        for k, (label, entries) in enumerate(configs):
            mine = rows[k * reps:(k + 1) * reps]
            merged[label] = _row(
                label, 0, entries, [seed for r in mine for seed in r["seeds"]],
                np.concatenate([_scores(r, "nominal") for r in mine]),
                np.concatenate([_scores(r, "perturbed") for r in mine]),
                any(r["error"] for r in mine))
            self.log(f"  {label}: nominal {_fmt(merged[label]['nominal_mean'])}, perturbed "
                     f"{_fmt(merged[label]['perturbed_mean'])}")
        confirmation = {"seeds": fresh, "rows": list(merged.values())}
        write_json(path, confirmation)
        return confirmation

    def decide(self, rows, confirmation: dict | None) -> dict:
        from eureka_jax.evaluate import difference

        best = _most_robust(rows)
        outcome = {"task": self.task.name, "seeds": self.seeds,
                   "held_out_models": self.settings.models,
                   "episodes_per_model": self.settings.episodes, "rows": rows,
                   "best": None if best is None else best["label"],
                   "confirmation": confirmation}
        if confirmation is not None:
            by_label = {r["label"]: r for r in confirmation["rows"]}
            chosen = by_label[best["label"]]
            for base in (NONE, UNIFORM):
                for k in ("perturbed", "nominal"):
                    outcome[f"best_minus_{'none' if base == NONE else 'uniform'}_{k}"] = \
                        difference(_scores(chosen, k), _scores(by_label[base], k))
        return outcome


def _most_robust(rows) -> dict | None:
    """The LLM configuration with the highest mean perturbed fitness (baselines excluded)."""
    candidates = [r for r in rows if r["label"] not in (NONE, UNIFORM)
                  and r["perturbed_mean"] is not None]
    return max(candidates, key=lambda r: r["perturbed_mean"], default=None)


def _row(label, round_index, entries, seeds, nominal, perturbed, bad: bool) -> dict:
    """A trained configuration's record: its scores per seed and their means."""
    row = {"label": label, "round": round_index, "configuration": entries,
           "seeds": [int(s) for s in seeds],
           "nominal": [_num(x) for x in nominal], "perturbed": [_num(x) for x in perturbed],
           "error": ("training went non-finite (NaN or inf: physics the simulator could not "
                     "integrate, or a diverging update)") if bad else None}
    ok = [x for x in row["perturbed"] if x is not None]
    row["perturbed_mean"] = float(np.mean(ok)) if ok and not bad else None
    row["nominal_mean"] = (float(np.nanmean(nominal)) if np.isfinite(nominal).any() else None)
    return row


def weakest(params, held_out, fitness, top: int = 2) -> list[dict]:
    """Where on the held-out set a policy does worst: for each parameter, the mean fitness
    of the models in the lower and the upper third of its test range; the ``top`` thirds
    with the lowest fitness (what a configuration should cover next)."""
    thirds = []
    for i, p in enumerate(params):
        low, high = p.test
        if high <= low:
            continue
        cut = np.linspace(low, high, 4)
        for side, mask in (("low", held_out[:, i] <= cut[1]), ("high", held_out[:, i] >= cut[2])):
            if mask.any():
                thirds.append({"parameter": p.name, "side": side,
                               "range": [float(cut[0] if side == "low" else cut[2]),
                                         float(cut[1] if side == "low" else cut[3])],
                               "fitness": float(np.mean(fitness[mask])), "models": int(mask.sum())})
    return sorted(thirds, key=lambda t: t["fitness"])[:top]


def _scores(row: dict, key: str) -> np.ndarray:
    """A row's per-seed scores (``nominal`` or ``perturbed``), a failed seed as NaN."""
    return np.asarray([np.nan if x is None else x for x in row[key]], float)


def _num(x) -> float | None:
    return float(x) if np.isfinite(x) else None


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def results_text(rows) -> str:
    lines = []
    for r in rows:
        weak = "; ".join(f"{w['parameter']} in [{w['range'][0]:.3g}, {w['range'][1]:.3g}]: "
                         f"{w['fitness']:.3f}" for w in r.get("weakest") or ())
        lines.append(f"{r['label']}: nominal {_fmt(r['nominal_mean'])}, perturbed "
                     f"{_fmt(r['perturbed_mean'])}" + (f" ({r['error']})" if r["error"] else "")
                     + (f"; weakest on the perturbed models where {weak}" if weak else "")
                     + "\n" + configuration_text(r["configuration"]))
    return "\n\n".join(lines)


def dr_markdown(outcome: dict) -> str:
    from eureka_jax.evaluate import format_difference

    lines = [f"# Domain randomization on {outcome['task']}", "",
             (f"Rounds: {len(outcome['seeds'])} seeds per configuration (the same for every "
              f"row); perturbed = mean fitness on {outcome['held_out_models']} held-out models "
              f"x {outcome['episodes_per_model']} episodes; nominal = the final evaluation at "
              "the nominal physics. Mean ± std over seeds."), "",
             *_table(outcome["rows"], outcome["best"])]
    confirmation = outcome.get("confirmation")
    if confirmation is not None:
        lines += ["", (f"Confirmation: the most robust configuration (**{outcome['best']}**) and "
                       f"both baselines retrained on {len(confirmation['seeds'])} fresh seeds "
                       "and scored on a second held-out set of as many models (the rounds "
                       "chose it on the first set, so their numbers carry the winner's curse):"),
                  "", *_table(confirmation["rows"], outcome["best"], rounds=False), "",
                  "Paired over the confirmation's seeds, 95% intervals:", ""]
        for base in ("none", "uniform"):
            for k in ("perturbed", "nominal"):
                lines.append(f"- best − {NONE if base == 'none' else UNIFORM}, {k}: "
                             f"{format_difference(outcome[f'best_minus_{base}_{k}'])}")
    return "\n".join(lines) + "\n"


def _table(rows, best, rounds: bool = True) -> list[str]:
    lines = [f"| configuration |{' round |' if rounds else ''} nominal | perturbed | randomizes |",
             f"| --- |{' ---: |' if rounds else ''} ---: | ---: | --- |"]
    for r in rows:
        cells = []
        for k in ("nominal", "perturbed"):
            v = _scores(r, k)
            spread = np.nanstd(v, ddof=1) if np.isfinite(v).sum() > 1 else 0.0
            cells.append("failed" if r["error"] else f"{np.nanmean(v):.3f} ± {spread:.3f}")
        ranges = ", ".join(f"{e['parameter']} [{e['range'][0]:g}, {e['range'][1]:g}]"
                           for e in r["configuration"]) or "nothing"
        mark = " (best)" if r["label"] == best else ""
        round_cell = f" {r['round']} |" if rounds else ""
        lines.append(f"| {r['label']}{mark} |{round_cell} {cells[0]} | {cells[1]} | {ranges} |")
    return lines
