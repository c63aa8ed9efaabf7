"""The run directory: every step of a search is written as it finishes, atomically.

Layout of ``runs/<task>/search-<UTC time>/``::

    config.yaml            the resolved config
    llm.jsonl              every request and reply (replayable with llm=replay)
    iter_00/               one folder per round
      attempt_0/prompt.json, replies.json, candidate_00.py, candidate_00.json, ...
      curves.npz           training curves of the round's valid candidates (+ curves.json)
      race_curves.npz      the leaders' extra seeds (seed race), when confirm > 0
      round.json           the round's decision (best candidate, per-seed scores, reflection)
    evaluation.json        the final evaluation (+ evaluation_curves.npz)
    policies.msgpack       its trained policies (best, human, sparse; every seed) and
    policies.json          what rebuilds them (see ``save_policies``; ``eureka-jax play``)
    best.gif               the best policy filmed (report.md shows it)
    summary.json, report.md, fitness.png
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


def atomic_write(path: Path, data: bytes | str) -> None:
    """Writes ``path`` so that a reader sees the old file or the whole new one, never part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: Path, value) -> None:
    atomic_write(path, json.dumps(value, indent=2, default=_jsonable) + "\n")


def read_json(path: Path):
    return json.loads(Path(path).read_text())


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value)}")


def _known_and_extra(cls, value: dict) -> tuple[dict, dict]:
    """A record's JSON split into the fields ``cls`` has and the keys it does not know (kept
    in ``extra`` and written back, so a newer or older version's keys survive)."""
    names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
    return ({k: v for k, v in value.items() if k in names},
            {k: v for k, v in value.items() if k not in names})


@dataclass(frozen=True)
class Candidate:
    """One candidate of a round as the reflection and the report read it (``RoundRecord``'s
    ``population``): ``status`` "trained" (``score`` ± ``std`` over ``num_seeds``, the best
    of ``variants`` constant variants with ``tune=``, ``behaviour`` statistics), "failed"
    (non-finite from checkpoint ``failed_at``) or "rejected" by the compiler (``category``,
    ``message``). Reads every earlier version (a dict), unknown keys kept."""

    index: int
    status: str = ""  # "" only in a record that did not say
    components: tuple = ()
    outside_total: tuple = ()
    num_seeds: int = 1
    score: float | None = None
    std: float | None = None
    variants: int = 1
    failed_at: int = -1
    behaviour: Any = None
    category: str | None = None
    message: str | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """Only what the candidate has: the fields that differ from their defaults."""
        out = {"index": self.index}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            default = f.default if f.default is not dataclasses.MISSING else None
            if f.name not in ("index", "extra") and value != default:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return {**self.extra, **out}

    @classmethod
    def from_json(cls, value) -> Candidate:
        if isinstance(value, cls):
            return value
        known, extra = _known_and_extra(cls, value)
        for name in ("components", "outside_total"):
            if name in known:
                known[name] = tuple(known[name] or ())
        return cls(**known, extra=extra)


@dataclass(frozen=True)
class RoundRecord:
    """One round of a search as decided and written (``iter_XX/round.json``); the summary
    keeps ``SUMMARY_FIELDS`` of it. Lists run over the round's rows (a program, or with
    ``tune=`` a constant variant of one). ``from_json`` reads every earlier version: a field
    an older run did not write takes its default, a key this version does not know is kept
    (``extra``) and written back."""

    name: str
    status: str  # "trained" or "nothing compiled"
    attempts: int
    round: Any = None  # the round's number in the search (1, 2, ...), set by the loop
    candidates: list = field(default_factory=list)  # per row: the reply index of its program
    scores: list = field(default_factory=list)  # per row: the score (mean over its seeds)
    seed_scores: list = field(default_factory=list)  # per row: each seed's score (None: failed)
    seeds: list = field(default_factory=list)  # per row: the seeds its scores are of
    confirmed: list = field(default_factory=list)  # the raced programs (reply indices)
    confirmed_rows: list = field(default_factory=list)
    failed: list = field(default_factory=list)  # per row: went non-finite in training
    best_candidate: int | None = None  # reply index of the round's best
    best_row: int | None = None
    best_fitness: float | None = None
    best_std: float | None = None
    best_num_seeds: int | None = None
    first_pass_seeds: int | None = None
    best_source: str | None = None
    reflection: str | None = None
    summary: str | None = None  # how the round trained, for the next prompt
    compile_seconds: float = 0.0
    run_seconds: float = 0.0
    env_steps: int = 0
    errors: dict = field(default_factory=dict)  # crashed trainings: reply index -> traceback
    slow_batch: Any = None
    population: list = field(default_factory=list)  # every ``Candidate``, for the reflection
    variants: Any = None  # tune=: per row, its constant variant
    best_variant: Any = None
    tuning: Any = None
    error_source: str | None = None  # the program whose training crashed first
    extra: dict = field(default_factory=dict)

    @property
    def trained(self) -> bool:
        """A best was chosen (some row trained to a finite score)."""
        return self.status == "trained" and self.best_fitness is not None

    def best_seed_scores(self) -> list:
        """The values the best's score is the mean of: its last ``best_num_seeds`` (a raced
        leader's race seeds), failed seeds dropped."""
        if not self.trained:
            return []
        n = int(self.best_num_seeds or 1)
        return [v for v in self.seed_scores[self.best_row or 0][-n:] if v is not None]

    def components_of(self, index) -> tuple:
        """The component names of candidate ``index`` (from the population)."""
        for c in self.population or ():
            if c.index == index:
                return tuple(c.components)
        return ()

    def to_json(self, fields=None) -> dict:
        """The JSON object (``fields``: only these)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name != "extra" and (fields is None or f.name in fields)}
        if "population" in out:
            out["population"] = [c.to_json() for c in out["population"]]
        return {**(self.extra if fields is None else {}), **out}

    @classmethod
    def from_json(cls, value: dict) -> RoundRecord:
        known, extra = _known_and_extra(cls, value)
        known.setdefault("attempts", 0)
        known["population"] = [Candidate.from_json(c) for c in known.get("population") or ()]
        return cls(**known, extra=extra)


@dataclass(frozen=True)
class Evaluation:
    """A final evaluation (``evaluation.json``, and ``summary.json``'s ``evaluation``): the
    best, human and sparse rewards trained on ``num_eval`` fresh seeds. ``rewards``: label ->
    {fitness_per_seed, mean, std, final_mean, failed}; the differences: {mean, low, high,
    seeds}, a 95 % interval paired by seed. ``from_json`` reads earlier versions as
    ``RoundRecord`` does."""

    num_eval: int
    statistic: str
    rewards: dict
    task: str = ""  # earlier versions: not written
    seeds: list = field(default_factory=list)
    human_minus_sparse: dict | None = None
    env_steps_per_run: int = 0
    compile_seconds: float = 0.0
    run_seconds: float = 0.0
    interval: str = "95% Student-t over seeds, paired by seed"
    best_minus_human: dict | None = None  # None: the baselines alone (no best reward)
    best_minus_sparse: dict | None = None
    human_normalized_score: float | None = None
    human_normalized_flag: str = ""
    human_normalized_reason: str = ""
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name != "extra"}
        if self.best_minus_human is None:  # a baselines-only evaluation has no best's fields
            for name in ("best_minus_human", "best_minus_sparse", "human_normalized_score",
                         "human_normalized_flag", "human_normalized_reason"):
                out.pop(name)
        return {**self.extra, **out}

    @classmethod
    def from_json(cls, value: dict) -> Evaluation:
        known, extra = _known_and_extra(cls, value)
        return cls(**known, extra=extra)



# what summary.json keeps of each round
SUMMARY_FIELDS = ("round", "name", "status", "attempts", "scores", "seed_scores", "confirmed",
                  "best_candidate", "best_fitness", "best_std", "best_num_seeds", "env_steps")


@dataclass(frozen=True)
class BestReward:
    """The search's best reward: the round (a number, or "init") and reply index it came from,
    its score (mean and std over the seeds it was scored on) and its source."""

    round: Any
    candidate: int
    fitness: float
    source: str
    std: float = 0.0
    num_seeds: int = 1


@dataclass(frozen=True)
class Summary:
    """A finished search (``summary.json``): every round (``SUMMARY_FIELDS`` of its record),
    the best reward (None: nothing trained), and the final evaluation once it ran. Reads
    earlier versions as ``RoundRecord`` does."""

    task: str
    rounds: list  # [RoundRecord]
    best: BestReward | None = None
    run_dir: str = ""
    evaluation: Evaluation | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {"task": self.task, "run_dir": self.run_dir,
               "rounds": [r.to_json(SUMMARY_FIELDS) for r in self.rounds],
               "best": None if self.best is None else {
                   "round": self.best.round, "candidate": self.best.candidate,
                   "fitness": self.best.fitness, "std": self.best.std,
                   "num_seeds": self.best.num_seeds, "source": self.best.source}}
        if self.evaluation is not None:
            out["evaluation"] = self.evaluation.to_json()
        return {**self.extra, **out}

    @classmethod
    def from_json(cls, value: dict) -> Summary:
        best = value.get("best")
        _, extra = _known_and_extra(cls, value)
        return cls(task=value["task"], run_dir=value.get("run_dir", ""),
                   rounds=[RoundRecord.from_json(r) for r in value.get("rounds", [])],
                   best=None if not best else BestReward(
                       round=best["round"], candidate=best["candidate"],
                       fitness=best["fitness"], source=best["source"],
                       std=best.get("std") or 0.0, num_seeds=best.get("num_seeds") or 1),
                   evaluation=(Evaluation.from_json(value["evaluation"])
                               if value.get("evaluation") else None),
                   extra=extra)


def write_arrays(path: Path, **arrays) -> None:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write(path, buffer.getvalue())


def read_arrays(path: Path) -> dict:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


CURVE_FIELDS = ("fitness", "episode_return", "episode_length", "components", "env_steps",
                "failed", "failed_at", "train_fitness", "train_episode_return",
                "train_episode_length", "train_components", "peak_fitness", "watch",
                "policy_loss", "value_loss", "entropy_loss", "approx_kl")


def save_result(path: Path, result) -> None:
    """Writes a ``BatchResult``'s curves (``path``, .npz) and its metadata (.json)."""
    c = result.curves
    write_arrays(path, **{name: getattr(c, name) for name in CURVE_FIELDS
                          if getattr(c, name) is not None})
    write_json(Path(path).with_suffix(".json"), {
        "labels": result.labels, "component_names": result.component_names,
        "seeds": np.asarray(result.seeds).tolist(), "slots": result.slots,
        "compile_seconds": result.compile_seconds, "run_seconds": result.run_seconds,
        "reward_compile_seconds": result.reward_compile_seconds,
        "env_steps": result.env_steps,
        "errors": {str(k): v for k, v in result.errors.items()},
    })


def load_result(path: Path):
    """Reads back what ``save_result`` wrote (parameters are not kept there)."""
    from eureka_jax.train.batch import BatchResult
    from eureka_jax.train.curves import TrainingCurves

    arrays = read_arrays(path)
    meta = read_json(Path(path).with_suffix(".json"))
    return BatchResult(
        labels=meta["labels"], component_names=[tuple(n) for n in meta["component_names"]],
        seeds=meta["seeds"], curves=TrainingCurves(**arrays), params=None,
        compile_seconds=meta["compile_seconds"], run_seconds=meta["run_seconds"],
        env_steps=meta["env_steps"], slots=meta.get("slots"),
        reward_compile_seconds=meta.get("reward_compile_seconds", 0.0),
        errors={int(k): v for k, v in meta.get("errors", {}).items()},
    )


def train_or_load(path: Path, train, *args, **kwargs):
    """``train(*args, **kwargs)`` and save its result at ``path``, or read back a saved one
    (resume): a finished training is never repeated."""
    path = Path(path)
    if path.is_file() and path.with_suffix(".json").is_file():
        return load_result(path)
    result = train(*args, **kwargs)
    save_result(path, result)
    return result


def save_params(path, params) -> None:
    """Writes ``BatchResult.params`` (leaves [K, S, ...]) as msgpack, atomically."""
    import jax
    from flax import serialization

    atomic_write(path, serialization.msgpack_serialize(
        serialization.to_state_dict(jax.tree.map(np.asarray, params))))


def load_params(path, task, config, reward_fns, num_seeds: int):
    """Reads parameters saved by ``save_params`` for a training of ``task`` with ``config``;
    a file that does not fit (other network sizes or observation size) is a clear error."""
    import jax
    from flax import serialization

    from eureka_jax.errors import EurekaError
    from eureka_jax.train.learners import learner

    train = learner(config.learner).make_train(task, config, reward_fns)
    template = jax.eval_shape(train.initial_params, jax.random.PRNGKey(0))
    template = jax.tree.map(lambda x: np.zeros((len(reward_fns), num_seeds, *x.shape), x.dtype),
                            template)
    state = serialization.msgpack_restore(path.read_bytes())
    try:
        return serialization.from_state_dict(template, state)
    except (ValueError, KeyError) as e:
        raise EurekaError(f"{path} does not hold parameters for this training ({e}); start "
                          "from a checkpoint of the same observation size and network sizes.") from e


def save_policies(run_dir: Path, result, task, config, seeds, sources, curves: str) -> None:
    """A training's final parameters (every row and seed) as ``policies.msgpack`` (flax
    msgpack, the layout ``load_params`` reads: one file, no extra dependency, the same as
    the curriculum's hand-off) and ``policies.json``: what rebuilds the networks and the
    training (observation and action sizes, every static training setting), each row's
    reward source and the curves file of the training (``curves``, in ``run_dir``)."""
    import dataclasses

    save_params(Path(run_dir) / "policies.msgpack", result.params)
    env = getattr(task, "env", None)
    write_json(Path(run_dir) / "policies.json", {
        "task": task.name, "rewards": list(result.labels), "seeds": list(seeds),
        "layout": "leaves [rewards, seeds, ...] of (normalizer, policy, value) parameters",
        "observation_size": getattr(env, "observation_size", None),
        "action_size": getattr(env, "action_size", None),
        "train": dataclasses.asdict(config),
        "sources": dict(zip(result.labels, sources)),
        "curves": curves,
    })
