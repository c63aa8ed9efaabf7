"""The Eureka loop: propose -> compile -> train batched -> select -> reflect -> repeat.

Every step is written to the run directory (``runs.py``) as it finishes; a killed run resumes
from it: finished rounds are read back, recorded replies are answered from ``llm.jsonl``,
saved curves are not retrained.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eureka_jax import references, selection
from eureka_jax.backend import Backend, require
from eureka_jax.config import CHOICES, CoreConfig
from eureka_jax.errors import EurekaError
from eureka_jax.llm.base import Proposer
from eureka_jax.reflect import (
    behaviour,
    history_text,
    population_text,
    reference_text,
    reflect_runs,
)
from eureka_jax.reward import DEFAULT_POLICY, Policy, RewardError, compile_reward, policy_for
from eureka_jax.runs import (
    BestReward,
    Candidate,
    RoundRecord,
    Summary,
    atomic_write,
    read_json,
    train_or_load,
    write_json,
)
from eureka_jax.task import TaskSpec
from eureka_jax.train.config import TrainingRequest
from eureka_jax.tune import constants_text, make_plan, plan_trainer


@dataclass
class Best:
    """The program the next prompt is built around."""

    source: str
    fitness: float
    iteration: int | str
    index: int
    reflection: str
    std: float = 0.0
    num_seeds: int = 1
    components: tuple = ()


SCORE_KIND = {"max": "best evaluation over training", "final": "evaluation at the end"}


def _summary_text(config, seeds: int, confirm: int) -> str:
    race = (f"; the {confirm} leading candidates then trained on extra seeds and the best is "
            "the highest mean over all of its seeds" if confirm else "")
    return (f"{config.total_env_steps:,} environment steps per run, {seeds} seed(s) per "
            f"candidate{race}")




SLOW_FACTOR = 5.0  # a batch this many times slower than the search's fastest is reported


def slow_batch(rate: float, fastest: float, step_flops: float | None,
               costs: list[tuple[float, str]]) -> str | None:
    """The guard for what the compile-time cost check misses: a batch whose env steps/s fall
    ``SLOW_FACTOR`` times below the fastest batch of this search, or one with a reward that
    costs more than an environment step, is reported with the candidates whose rewards cost
    most per call (``costs``: (flops per call, name)). Under the batched program every
    candidate's reward runs for every environment, so one expensive reward slows all of its
    batch-mates."""
    top = sorted(costs, reverse=True)[:3]
    heavy = bool(step_flops and top and top[0][0] > step_flops)
    slow = rate * SLOW_FACTOR < fastest
    if not (slow or heavy):
        return None
    why = (f"ran {fastest / rate:.1f}x slower than this search's fastest batch ({rate:,.0f} vs "
           f"{fastest:,.0f} env steps/s)" if slow else f"ran at {rate:,.0f} env steps/s")
    names = ", ".join(f"{name} (~{flops:.3g} flops per call"
                      + (f", {flops / step_flops:.1f}x the env step)" if step_flops else ")")
                      for flops, name in top)
    return (f"this batch {why}; the rewards that cost most per call: {names}. Every "
            "candidate's reward runs in every environment of a batch: lower reward_cost_ratio "
            "to reject such rewards before training.")


@dataclass(frozen=True)
class SearchSettings:
    """A search's settings, typed once at the command-line edge (``from_config``; the keys
    are ``configs/config.yaml``'s). Bounds are checked here, one sentence each; what depends
    on the task or the backend is checked by ``check``.

    Attributes:
      training: the ``TrainingRequest`` (profile, ``train.*``, ``max_iterations``, seeds).
      references: measure/read the human and sparse rewards' scores (``references=auto``).
      policy: the reward ``Policy`` (``reward_cost_ratio``).
      dr: the domain-randomization stage's ``DRSettings`` (None: ``dr_iteration=0``).
      The others are the config keys of the same names.
    """

    training: TrainingRequest = dataclasses.field(default_factory=TrainingRequest)
    iteration: int = CoreConfig.iteration  # the config's default, one source
    sample: int = CoreConfig.sample
    confirm: int = CoreConfig.confirm
    race_score: str = CoreConfig.race_score
    tune: int = CoreConfig.tune
    tune_range: float = CoreConfig.tune_range
    target_fitness: float | str | None = CoreConfig.target_fitness
    num_eval: int = CoreConfig.num_eval
    select: str = CoreConfig.select
    context: str = CoreConfig.context
    init: str = CoreConfig.init
    feedback: str = CoreConfig.feedback
    max_resample: int = CoreConfig.max_resample
    reflection_tokens: int = CoreConfig.reflection_tokens
    references: bool = True
    policy: Policy = DEFAULT_POLICY
    dr: Any = None

    def __post_init__(self):
        for key, least in (("iteration", 1), ("sample", 1), ("confirm", 0), ("num_eval", 0),
                           ("max_resample", 0), ("tune", 1)):
            if int(getattr(self, key)) < least:
                raise EurekaError(f"{key}={getattr(self, key)} is too small; {key} must be at "
                                  f"least {least}.")
        for key, allowed in CHOICES.items():  # the config's enum-like keys that are ours
            if hasattr(self, key) and key != "references" and getattr(self, key) not in allowed:
                raise EurekaError(f"{key}={getattr(self, key)} is not known; use "
                                  + " or ".join(f"{key}={a}" for a in allowed) + ".")
        if not float(self.tune_range) > 1.0:
            raise EurekaError(f"tune_range={self.tune_range}: the variants' factors span "
                              "[1/r, r]; give r > 1 (e.g. tune_range=3).")
        value = self.target_fitness
        if value != "task" and value is not None and not isinstance(value, int | float):
            raise EurekaError(f"target_fitness={value} is not a number; give a number, null "
                              "(run every round) or task (the task's own).")
        if self.dr is not None and int(self.num_eval) < 1:
            raise EurekaError("dr_iteration > 0 starts from the final evaluation's saved best "
                              "policies (its physics prior); set num_eval to at least 1.")

    @classmethod
    def from_config(cls, cfg) -> SearchSettings:
        """The settings of a resolved command-line config (a resumed run's saved one may
        lack keys added since: those take their defaults)."""
        from eureka_jax.dr import DRSettings

        keys = ("iteration", "sample", "confirm", "race_score", "tune", "tune_range",
                "num_eval", "select", "context", "init", "feedback", "max_resample",
                "reflection_tokens")
        defaults = cls()
        values = {k: type(getattr(defaults, k))(cfg.get(k, getattr(defaults, k)))
                  for k in keys}
        target = cfg.get("target_fitness", "task")
        return cls(training=TrainingRequest.from_config(cfg), **values,
                   target_fitness=target,
                   references=cfg.get("references", "auto") != "off",
                   policy=policy_for(cfg),
                   dr=(DRSettings.from_config(cfg) if int(cfg.get("dr_iteration", 0)) > 0
                       else None))

    @property
    def seeds(self) -> list[int]:
        """The training seeds of every round's first pass."""
        return self.training.seed_list()

    def check(self, task, backend=None):
        """What the settings ask of the task and ``backend`` (tuning, the DR stage), one
        sentence each, before anything is written.

        Returns:
          The training settings (``TrainConfig``, ``PPOHyperparams``).
        """
        if int(self.tune) > 1 and backend is not None:
            require(backend, "tuning", f"tune={self.tune}")
        if self.dr is not None:
            from eureka_jax.dr import check_stage

            check_stage(task, backend)
        return self.training.resolve(task)


@dataclass
class _Trained:
    """What a round trained: its rows ([(reply index, RewardFn)]), the compiled programs, the
    tuning plan (or None), the first pass, the seed race (or None), the raced rows and the
    slow-batch note."""

    rows: list
    programs: list
    plan: Any
    first: Any
    race: Any
    top: list
    slow: str | None


class Search:
    """One search, bound to a run directory.

    Args:
      settings: the ``SearchSettings`` (``SearchSettings.from_config(cfg)`` at the edge).
      task: the ``Task``.
      run_dir: where everything is written (and read back on resume).
      proposer: a ``Proposer`` (already recording to ``run_dir / "llm.jsonl"``).
      prompts: the ``Prompts`` in use.
      backend: what trains the candidates (``backend.Backend``).
      log: where progress lines go.
      human_feedback: returns the user's text for a round (``feedback=human``).
    """

    def __init__(self, settings: SearchSettings, task: TaskSpec, run_dir: Path,
                 proposer: Proposer, prompts, backend: Backend,
                 log: Callable[[str], None] = print,
                 human_feedback: Callable[[int], str] | None = None):
        self.settings, self.task, self.run_dir = settings, task, Path(run_dir)
        self.backend = backend
        self.proposer, self.prompts, self.log = proposer, prompts, log
        # What a live view shows; updated before every log line.
        self.status = {"round": "-", "phase": "starting", "proposed": 0, "compiled": 0,
                       "failed": 0, "env_steps_per_s": None, "best": None}
        self.human_feedback = human_feedback
        self.config, self.hparams = settings.check(task, self.backend)
        self.seeds = settings.seeds
        self.budget_note, self.budget = self.backend.budget(task, self.config, self.hparams,
                                                            len(self.seeds), settings.select)
        self.reference: dict | None = None  # the baselines' scores at this budget
        self._history: list[dict] = []  # each finished round's best, for the next prompts
        self._rejected: list[Candidate] = []  # the current round's compile rejections
        self._shown_components = None  # components of the reward the current prompt shows

    @classmethod
    def from_config(cls, cfg, task: TaskSpec, run_dir: Path, proposer: Proposer, prompts,
                    backend: Backend | None = None, **kwargs) -> Search:
        """A script's shortcut at the command-line edge: the settings typed from ``cfg``
        and, unless given, the backend ``cfg.backend`` names."""
        from eureka_jax.backend import make_backend

        backend = backend if backend is not None else make_backend(cfg, Path(run_dir))
        return cls(SearchSettings.from_config(cfg), task, run_dir, proposer, prompts, backend,
                   **kwargs)

    # ---- one round -------------------------------------------------------------------------

    def _propose_and_compile(self, rdir: Path, messages):
        """Up to 1 + max_resample attempts until something compiles. Returns (fns, sources)."""
        for attempt in range(self.settings.max_resample + 1):
            adir = rdir / f"attempt_{attempt}"
            # Always through the proposer: on resume its recording answers finished requests
            # without the network and keeps its per-request sample count right, so a repeated
            # prompt later in the run still gets new samples.
            write_json(adir / "prompt.json", messages)
            self.status["phase"] = f"proposing (attempt {attempt})"
            self.log(f"  asking for {self.settings.sample} candidates (attempt {attempt})")
            replies = self.proposer.propose(messages, self.settings.sample)
            write_json(adir / "replies.json", replies)
            fns, first_error = [], None
            self._rejected = []
            for i, reply in enumerate(replies):
                try:
                    fn = compile_reward(reply, self.task, policy=self.settings.policy, public_only=True)
                    atomic_write(adir / f"candidate_{i:02d}.py", fn.source)
                    write_json(adir / f"candidate_{i:02d}.json",
                               {"ok": True, "components": fn.component_names,
                                "outside_total": fn.outside_total,
                                "inputs": fn.input_names, "compile_seconds": fn.compile_seconds})
                    fns.append((i, fn))
                except RewardError as e:
                    write_json(adir / f"candidate_{i:02d}.json",
                               {"ok": False, "category": e.category, "message": e.message})
                    self._rejected.append(Candidate(index=i, status="rejected",
                                                    category=e.category,
                                                    message=e.message[:300]))
                    first_error = first_error or (reply, e)
            self.status.update(proposed=self.status["proposed"] + len(replies),
                               compiled=self.status["compiled"] + len(fns),
                               failed=self.status["failed"] + len(replies) - len(fns))
            self.log(f"  attempt {attempt}: {len(fns)} of {len(replies)} candidates compile")
            for i, fn in fns:
                if fn.outside_total:
                    self.log(f"    candidate {i}: {', '.join(fn.outside_total)} never "
                             "enter(s) its total (reported, rewarding nothing)")
            if fns:
                return fns, attempt
            reply, err = first_error
            messages = self.prompts.execution_error(self.task, reply, err.category, err.message,
                                                     self.budget)
        return [], self.settings.max_resample

    def _round(self, name: str, messages, fixed=None) -> RoundRecord:
        """Runs (or reads back) one round. ``fixed``: [(label, source)] instead of proposals."""
        rdir = self.run_dir / name
        if (rdir / "round.json").is_file():
            return self._read_back(rdir)
        self._rejected = []
        if fixed is None:
            compiled, attempts = self._propose_and_compile(rdir, messages)
        else:
            compiled = [(i, compile_reward(src, self.task, policy=self.settings.policy))
                        for i, (_, src) in enumerate(fixed)]
            attempts = 0
        if not compiled:
            decision = RoundRecord(name=name, status="nothing compiled", attempts=attempts + 1)
        else:
            trained = self._train_round(rdir, name, compiled)
            decision = self._decide(rdir, name, attempts + 1, trained)
        write_json(rdir / "round.json", decision.to_json())
        return decision

    def _read_back(self, rdir: Path) -> RoundRecord:
        """A finished round's record. Asks again what the round asked (answered from the
        recording, no network), so the proposer counts a prompt that repeats later in the run
        as it did the first time: otherwise a resumed later round would be given this round's
        replies."""
        attempts = sorted(rdir.glob("attempt_*/prompt.json"),
                          key=lambda p: int(p.parent.name.split("_")[1]))
        for prompt in attempts:
            self.proposer.propose(read_json(prompt), self.settings.sample)
        return RoundRecord.from_json(read_json(rdir / "round.json"))

    def _train_round(self, rdir: Path, name: str, compiled) -> _Trained:
        """The round's rows (its programs, or with ``tune=`` their constant variants) trained
        with every seed, then the leaders' seed race."""
        labels = [f"{name}/candidate_{i:02d}" for i, _ in compiled]
        programs = [f for _, f in compiled]
        train = self._trainer()
        plan = None
        rows = compiled
        if int(self.settings.tune) > 1:  # rows = constant variants of the programs (tune.py)
            plan = make_plan(programs, labels, int(self.settings.tune), [self.settings.training.seed, name],
                             float(self.settings.tune_range))
            train = plan_trainer(train, plan, programs, labels)
            rows = [compiled[p] for p in plan.programs]
            labels = plan.labels
        fns = [f for _, f in rows]
        self.status["phase"] = f"training {len(rows)} x {len(self.seeds)} (one program)"
        self.log(f"  training {len(rows)} candidate(s) x {len(self.seeds)} seed(s), "
                 f"{self.config.total_env_steps:,} env steps each"
                 + (f" ({len(compiled)} program(s), up to {self.settings.tune} constant variants "
                    "each)" if plan else ""))
        first = train_or_load(rdir / "curves.npz", train, self.task, fns, self.config,
                              self.hparams, seeds=self.seeds, labels=labels)
        self._log_trained(first)
        slow = self._slow_batch(first, fns, labels)
        top = selection.leaders(selection.per_seed(first, self.settings.select), self.settings.confirm)
        race = self._race(rdir, train, fns, labels, top) if top else None
        return _Trained(rows=rows, programs=programs, plan=plan, first=first, race=race,
                        top=top, slow=slow)

    def _decide(self, rdir: Path, name: str, attempts: int, t: _Trained) -> RoundRecord:
        """The round's record: every row's score, the best (its source with tuned constants
        written back) and its reflection."""
        rows, plan, first, race, top = t.rows, t.plan, t.first, t.race, t.top
        scores = selection.combine(first, race, self.settings.select, top,
                                   heldout=self.settings.race_score == "heldout")
        k = scores.best()
        errors = dict(first.errors)  # crashed trainings (a backend that runs processes)
        mean = scores.mean(k)
        best_fn = rows[k][1]
        reflection = reflect_runs(
            selection.runs_of(first, race, k), first.component_names[k], self.task,
            seed_scores=scores.scored(k), score_kind=SCORE_KIND[self.settings.select],
            budget_note=self.budget_note, reference=self.reference,
            outside_total=best_fn.outside_total)
        best_source = best_fn.source
        extra = {}
        if plan is not None:
            best_source = best_fn.with_values(plan.values[k, :len(best_fn.constants)])
            reflection += constants_text(best_fn, plan, plan.programs[k],
                                         [scores.mean(j) for j in range(len(rows))], k,
                                         [len(scores.scored(j)) for j in range(len(rows))])
            extra = {"variants": plan.variants, "best_variant": plan.variants[k],
                     "tuning": plan.record(t.programs)}
            if plan.variants[k]:
                atomic_write(rdir / "best_tuned.py", best_source)
        if not np.isfinite(mean) and errors:
            extra["error_source"] = rows[int(next(iter(errors)))][1].source
        return RoundRecord(
            name=name, status="trained", attempts=attempts,
            # per row: the reply index of its program (with tune=, a program's variants
            # repeat it; "variants" says which is which)
            candidates=[i for i, _ in rows],
            scores=[None if not np.isfinite(scores.mean(j)) else scores.mean(j)
                    for j in range(len(rows))],
            seed_scores=[[None if np.isnan(v) else float(v) for v in scores.values[j]]
                         for j in range(len(rows))],
            seeds=scores.seeds,
            confirmed=[rows[j][0] for j in top],
            confirmed_rows=list(top),
            failed=[scores.failed(j) for j in range(len(rows))],
            best_candidate=rows[k][0],
            best_row=k,
            best_fitness=float(mean) if np.isfinite(mean) else None,
            best_std=scores.std(k),
            best_num_seeds=len(scores.scored(k)),
            first_pass_seeds=len(self.seeds),
            best_source=best_source,
            reflection=reflection,
            summary=_summary_text(self.config, len(self.seeds), len(top)),
            compile_seconds=first.compile_seconds + (race.compile_seconds if race else 0.0),
            run_seconds=first.run_seconds + (race.run_seconds if race else 0.0),
            env_steps=first.env_steps + (race.env_steps if race else 0),
            # trainings that crashed (a backend that runs processes): reply index -> its tail
            errors={str(rows[int(i)][0]): text for i, text in errors.items()},
            slow_batch=t.slow,
            population=self._population(rows, scores, first, race, plan),
            **extra,
        )

    def _log_estimate(self, decision: RoundRecord, rounds_left: int) -> None:
        """How long the rest will take, from this round's measured compile and run time."""
        if not rounds_left or not decision.run_seconds:
            return
        per_round = decision.compile_seconds + decision.run_seconds
        runs = len(decision.candidates) * len(self.seeds) * (2 if decision.confirmed else 1)
        evaluation = decision.run_seconds / max(runs, 1) * 3 * self.settings.num_eval
        total = rounds_left * per_round + evaluation + decision.compile_seconds
        self.log(f"  estimate: ~{per_round:.0f} s per round here; up to {rounds_left} more "
                 f"round(s) and the final evaluation: ~{total / 60:.1f} min")

    def _population(self, rows, scores, first, race=None, plan=None) -> list[Candidate]:
        """Every candidate of the round for the reflection: trained (score ± std over its
        seeds), failed in training (NaN at a checkpoint) or rejected by the compiler. With
        constant variants (``plan``), a program is listed once, with its best variant."""
        out = list(self._rejected)
        failed_at = np.asarray(first.curves.failed_at)
        programs: dict[int, list[int]] = {}
        for j, (i, _) in enumerate(rows):
            programs.setdefault(i, []).append(j)
        for i, members in programs.items():
            j = max(members, key=lambda m: (scores.mean(m), -m))
            fn = rows[j][1]
            common = {"index": i, "components": tuple(fn.component_names),
                      "num_seeds": len(scores.scored(j)),
                      "outside_total": tuple(fn.outside_total or ()),
                      "variants": len(members) if plan is not None else 1}
            if all(scores.failed(m) for m in members):
                at = failed_at[j][failed_at[j] >= 0]
                out.append(Candidate(status="failed", failed_at=int(at.min()) if at.size else -1,
                                     **common))
            else:
                out.append(Candidate(
                    status="trained", score=scores.mean(j), std=scores.std(j),
                    behaviour=behaviour(selection.runs_of(first, race, j),
                                        first.component_names[j], self.task), **common))
        return sorted(out, key=lambda c: c.index)

    def _slow_batch(self, result, fns, labels) -> str | None:
        """Reports a batch that ran far slower than this search's fastest (see
        ``slow_batch``); the fastest rate so far is kept in the live status."""
        rate = result.env_steps_per_second if result.run_seconds > 0 else None
        if not rate:
            return None
        fastest = max(self.status.get("fastest_env_steps_per_s") or rate, rate)
        self.status["fastest_env_steps_per_s"] = fastest
        costs = [(f.flops or 0.0, labels[i].split("/")[-1]) for i, f in enumerate(fns)]
        text = slow_batch(rate, fastest, getattr(self.task, "step_flops", None), costs)
        if text:
            self.log(f"  warning: {text}")
        return text

    def _log_trained(self, result) -> None:
        self.status["env_steps_per_s"] = result.env_steps_per_second
        self.log(f"  trained: compile {result.compile_seconds:.1f} s, run "
                 f"{result.run_seconds:.1f} s, {result.env_steps_per_second:,.0f} env steps/s")

    def _race(self, rdir: Path, train, fns, labels, top: list[int]):
        """The leaders' extra seeds: one more call of the first pass's shape (K rows of S
        seeds dealt to the leaders), so the JAX trainer reuses its compiled program."""
        slots, table = selection.race_plan(top, len(fns), len(self.seeds), self.settings.training.seed)
        extra = {k: sum(1 for s in slots if s == k) * len(self.seeds) for k in top}
        self.status["phase"] = f"seed race: {len(top)} leader(s)"
        self.log(f"  seed race: leaders {', '.join(labels[k].split('/')[-1] for k in top)} "
                 f"get {', '.join(str(extra[k]) for k in top)} more seed(s)")
        race = train_or_load(rdir / "race_curves.npz", train, self.task, fns, self.config,
                             self.hparams, seeds=table, labels=labels, slots=slots)
        self._log_trained(race)
        per_row = selection.per_seed(race, self.settings.select)
        for k in top:
            values = [v for row, s in enumerate(race.slots) if s == k for v in per_row[row]]
            self.log(f"    {labels[k].split('/')[-1]}: "
                     + ", ".join("failed" if np.isnan(v) else f"{v:.3f}" for v in values))
        return race

    def _next_messages(self, shown: Best, decision: RoundRecord, round_name,
                       before: Best | None = None) -> list[dict]:
        """The next prompt: ``shown`` (its code and reflection) and the whole of the round
        just finished (``decision``), compared with ``before``, the best before that round."""
        reflection = shown.reflection
        population = decision.population
        if population:
            reflection += "\n" + population_text(
                population, decision.round or round_name, decision.best_candidate,
                int(self.settings.reflection_tokens), parent_components=self._shown_components,
                best_so_far=None if before is None else {
                    "round": before.iteration, "score": before.fitness, "std": before.std,
                    "num_seeds": before.num_seeds},
                round_best_source=decision.best_source)
        reflection += history_text(self._history, self.reference)
        self._shown_components = list(shown.components)
        if self.settings.feedback == "human" and self.human_feedback is not None:
            note = self.human_feedback(round_name).strip()
            if note:
                reflection += f"Feedback from the user:\n{note}\n"
        return self.prompts.feedback(self.task, shown.source, reflection, decision.summary,
                                     self.budget)

    # ---- the loop ----------------------------------------------------------------------------

    def target_fitness(self) -> float | None:
        """The task's ``target_fitness``, unless ``target_fitness=`` overrides it (null: run
        every round)."""
        value = self.settings.target_fitness
        return self.task.target_fitness if value == "task" else value

    def _rows_per_pass(self) -> int:
        """The batch's row count in every pass of this search: ``sample`` programs (times
        their ``tune`` variants)."""
        return int(self.settings.sample) * max(1, int(self.settings.tune))

    def _trainer(self):
        """The backend's trainer with this search's rows: a round where fewer programs compile
        (or the init round's one) is padded to them, so every pass has one batch shape and
        reuses the physics and learner programs the first one compiled."""
        return functools.partial(self.backend.train_candidates, min_rows=self._rows_per_pass())

    def _references(self) -> dict | None:
        """The human and sparse rewards' scores at this budget: read back on resume, else
        from the cache (``references``), else measured now with the backend's trainer in the shape
        of a round's first pass (its physics and learner programs are the rounds')."""
        if (not self.settings.references
                or "references" not in self.backend.supports):
            return None
        saved = self.run_dir / "reference.json"
        if saved.is_file():
            return read_json(saved)
        found = references.lookup(self.task, self.config, self.hparams, self.settings.select)
        if found is None:
            self.status["phase"] = "measuring the baselines"
            self.log("measuring the human and sparse rewards at this budget (once per task and "
                     "budget; references=off skips it)")
            found = references.measure(self.task, self.config, self.hparams, self.settings.select,
                                       self._trainer(), rows=self._rows_per_pass(),
                                       num_seeds=len(self.seeds), seed=self.settings.training.seed)
        if found is not None:
            self.log(f"  reference points: human {found['human']['mean']:.3f}, sparse "
                     f"{found['sparse']['mean']:.3f} ({found['source']})")
            write_json(saved, found)
        return found

    def _remember(self, label, decision: RoundRecord) -> None:
        """Adds a finished round's best to the history the next prompts carry."""
        if not decision.trained:
            self._history.append({"round": label, "score": None})
            return
        self._history.append({"round": label, "score": decision.best_fitness,
                              "std": decision.best_std,
                              "seed_scores": decision.best_seed_scores()})

    def run(self) -> Summary:
        task, settings = self.task, self.settings
        best: Best | None = None
        self.reference = self._references()
        self.budget += reference_text(self.reference)
        messages = self.prompts.initial(task, self.budget)
        history = []
        target = self.target_fitness()
        if settings.init == "human":
            d = self._round("iter_init", None, fixed=[("human", task.human_reward_source)])
            self._remember("init (the human reward)", d)
            best = Best(d.best_source, d.best_fitness or -np.inf, "init", 0, d.reflection,
                        d.best_std or 0.0, d.best_num_seeds or 1, d.components_of(0))
            messages = self._next_messages(best, d, "init")
            self.log(f"init=human: human reward scores {_pm(best)}")
        for it in range(settings.iteration):
            name = f"iter_{it:02d}"
            self.status.update(round=f"{it + 1}/{settings.iteration}", phase="starting")
            self.log(f"round {it + 1}/{settings.iteration}")
            d = dataclasses.replace(self._round(name, messages), round=it + 1)
            history.append(d)
            self._remember(it + 1, d)
            if not d.trained:
                if d.errors:  # every training crashed: show the LLM why
                    error = next(iter(d.errors.values()))
                    messages = self.prompts.execution_error(
                        task, d.error_source, "exception", "training crashed:\n" + error,
                        self.budget)
                elif best is not None and d.population:  # every run went NaN: say so
                    messages = self._next_messages(best, d, it + 1, best)
                self.log(f"  {d.status}; the next round asks again")
                continue
            round_best = Best(d.best_source, d.best_fitness, it + 1, d.best_candidate,
                              d.reflection, d.best_std or 0.0, d.best_num_seeds or 1,
                              d.components_of(d.best_candidate))
            before = best
            if best is None or round_best.fitness > best.fitness:
                best = round_best
            self.status.update(best=best.fitness, phase="done")
            self.log(f"  round best {_pm(round_best)} (candidate {round_best.index}); best so far "
                     f"{_pm(best)} (round {best.iteration})")
            messages = self._next_messages(round_best if settings.context == "round" else best, d,
                                           it + 1, before)
            if target is not None and best.fitness >= target:
                self.log(f"  target fitness {target} reached; stopping early")
                break
            self._log_estimate(d, settings.iteration - it - 1)
        summary = Summary(
            task=task.name, run_dir=str(self.run_dir), rounds=history,
            best=None if best is None else BestReward(
                round=best.iteration, candidate=best.index, fitness=best.fitness,
                source=best.source, std=best.std, num_seeds=best.num_seeds))
        if best is not None:
            atomic_write(self.run_dir / "best_reward.py", best.source)
        write_json(self.run_dir / "summary.json", summary.to_json())
        return summary


def _pm(best: Best) -> str:
    """'0.412 ± 0.051 (5 seeds)'"""
    if best.num_seeds < 2:
        return f"{best.fitness:.3f} (1 seed)"
    return f"{best.fitness:.3f} ± {best.std:.3f} ({best.num_seeds} seeds)"
