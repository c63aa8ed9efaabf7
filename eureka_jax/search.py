"""The Eureka loop: propose -> compile -> train batched -> select -> reflect -> repeat.

Every step is written to the run directory (``runs.py``) as it finishes; a killed run resumes
from it: finished rounds are read back, recorded replies are answered from ``llm.jsonl``,
saved curves are not retrained.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eureka_jax.errors import EurekaError
from eureka_jax.reflect import reflect_candidate
from eureka_jax.reward import RewardError, compile_reward
from eureka_jax.runs import atomic_write, read_arrays, read_json, write_arrays, write_json
from eureka_jax.train import TrainingCurves, train_candidates
from eureka_jax.train.batch import BatchResult
from eureka_jax.train.config import training_settings


@dataclass
class Best:
    """The program the next prompt is built around."""

    source: str
    fitness: float
    iteration: int | str
    index: int
    reflection: str


def score(result: BatchResult, select: str) -> np.ndarray:
    """[K] selection score: fitness (max over checkpoints, or final) averaged over seeds;
    -inf for candidates that failed."""
    per_seed = result.max_fitness() if select == "max" else result.final_fitness()
    scores = per_seed.mean(axis=1)
    return np.where(result.curves.failed.any(axis=1), -np.inf, scores)


def _save_result(path: Path, result: BatchResult) -> None:
    c = result.curves
    write_arrays(path, fitness=c.fitness, episode_return=c.episode_return,
                 episode_length=c.episode_length, components=c.components,
                 env_steps=c.env_steps, failed=c.failed, failed_at=c.failed_at)
    write_json(path.with_suffix(".json"), {
        "labels": result.labels, "component_names": result.component_names,
        "seeds": result.seeds, "compile_seconds": result.compile_seconds,
        "run_seconds": result.run_seconds, "env_steps": result.env_steps,
        "errors": {str(k): v for k, v in getattr(result, "errors", {}).items()},
    })


def load_result(path: Path) -> BatchResult:
    arrays = read_arrays(path)
    meta = read_json(path.with_suffix(".json"))
    result = BatchResult(
        labels=meta["labels"], component_names=[tuple(n) for n in meta["component_names"]],
        seeds=meta["seeds"], curves=TrainingCurves(**arrays), params=None,
        compile_seconds=meta["compile_seconds"], run_seconds=meta["run_seconds"],
        env_steps=meta["env_steps"],
    )
    result.errors = {int(k): v for k, v in meta.get("errors", {}).items()}
    return result


def train_or_load(path: Path, task, reward_fns, config, hparams, seeds, labels,
                  trainer=None) -> BatchResult:
    """Trains (with ``trainer``, the batched JAX trainer by default) and saves, or reads back
    a saved result (resume)."""
    if path.is_file() and path.with_suffix(".json").is_file():
        return load_result(path)
    result = (trainer or train_candidates)(task, reward_fns, config, hparams, seeds=seeds,
                                           labels=labels)
    _save_result(path, result)
    return result


def _summary_text(result: BatchResult, config) -> str:
    return (f"{config.total_env_steps:,} environment steps per run, "
            f"{len(result.seeds)} seed(s), task score averaged over seeds")


class Search:
    """One search, bound to a run directory.

    Args:
      cfg: the resolved config (iteration, sample, seeds, select, context, init, feedback...).
      task: the ``Task``.
      run_dir: where everything is written (and read back on resume).
      proposer: a ``Proposer`` (already recording to ``run_dir / "llm.jsonl"``).
      prompts: the ``Prompts`` in use.
      log: where progress lines go.
      human_feedback: returns the user's text for a round (``feedback=human``).
    """

    def __init__(self, cfg, task, run_dir: Path, proposer, prompts,
                 log: Callable[[str], None] = print,
                 human_feedback: Callable[[int], str] | None = None, trainer=None):
        self.cfg, self.task, self.run_dir = cfg, task, Path(run_dir)
        self.trainer = trainer  # None: the batched JAX trainer; else e.g. the Isaac Gym backend
        self.proposer, self.prompts, self.log = proposer, prompts, log
        # What a live view shows; updated before every log line.
        self.status = {"round": "-", "phase": "starting", "proposed": 0, "compiled": 0,
                       "failed": 0, "env_steps_per_s": None, "best": None}
        self.human_feedback = human_feedback
        self.config, self.hparams = training_settings(cfg, task)
        self.seeds = [cfg.seed + i for i in range(cfg.seeds)]
        if cfg.select not in ("max", "final"):
            raise EurekaError(f"select={cfg.select} is not known; use select=max or select=final.")
        if cfg.context not in ("global", "round"):
            raise EurekaError(f"context={cfg.context} is not known; use global or round.")

    # ---- one round -------------------------------------------------------------------------

    def _propose_and_compile(self, rdir: Path, messages):
        """Up to 1 + max_resample attempts until something compiles. Returns (fns, sources)."""
        for attempt in range(self.cfg.max_resample + 1):
            adir = rdir / f"attempt_{attempt}"
            # Always through the proposer: on resume its recording answers finished requests
            # without the network and keeps its per-request sample count right, so a repeated
            # prompt later in the run still gets new samples.
            write_json(adir / "prompt.json", messages)
            self.status["phase"] = f"proposing (attempt {attempt})"
            self.log(f"  asking for {self.cfg.sample} candidates (attempt {attempt})")
            replies = self.proposer.propose(messages, self.cfg.sample)
            write_json(adir / "replies.json", replies)
            fns, first_error = [], None
            for i, reply in enumerate(replies):
                try:
                    fn = compile_reward(reply, self.task)
                    atomic_write(adir / f"candidate_{i:02d}.py", fn.source)
                    write_json(adir / f"candidate_{i:02d}.json",
                               {"ok": True, "components": fn.component_names,
                                "inputs": fn.input_names, "compile_seconds": fn.compile_seconds})
                    fns.append((i, fn))
                except RewardError as e:
                    write_json(adir / f"candidate_{i:02d}.json",
                               {"ok": False, "category": e.category, "message": e.message})
                    first_error = first_error or (reply, e)
            self.status.update(proposed=self.status["proposed"] + len(replies),
                               compiled=self.status["compiled"] + len(fns),
                               failed=self.status["failed"] + len(replies) - len(fns))
            self.log(f"  attempt {attempt}: {len(fns)} of {len(replies)} candidates compile")
            if fns:
                return fns, attempt
            reply, err = first_error
            messages = self.prompts.execution_error(self.task, reply, err.category, err.message)
        return [], self.cfg.max_resample

    def _round(self, name: str, messages, fixed=None) -> dict:
        """Runs (or reads back) one round. ``fixed``: [(label, source)] instead of proposals."""
        rdir = self.run_dir / name
        if (rdir / "round.json").is_file():
            return read_json(rdir / "round.json")
        if fixed is None:
            compiled, attempts = self._propose_and_compile(rdir, messages)
        else:
            compiled = [(i, compile_reward(src, self.task)) for i, (_, src) in enumerate(fixed)]
            attempts = 0
        if not compiled:
            decision = {"name": name, "status": "nothing compiled", "attempts": attempts + 1}
            write_json(rdir / "round.json", decision)
            return decision
        labels = [f"{name}/candidate_{i:02d}" for i, _ in compiled]
        self.status["phase"] = f"training {len(compiled)} x {len(self.seeds)} (one program)"
        self.log(f"  training {len(compiled)} candidate(s) x {len(self.seeds)} seed(s), "
                 f"{self.config.total_env_steps:,} env steps each")
        result = train_or_load(rdir / "curves.npz", self.task, [f for _, f in compiled],
                               self.config, self.hparams, self.seeds, labels, self.trainer)
        scores = score(result, self.cfg.select)
        errors = getattr(result, "errors", {})  # crashed trainings (Isaac Gym backend)
        k = int(np.argmax(scores))
        self.status["env_steps_per_s"] = result.env_steps_per_second
        self.log(f"  trained: compile {result.compile_seconds:.1f} s, run "
                 f"{result.run_seconds:.1f} s, {result.env_steps_per_second:,.0f} env steps/s")
        decision = {
            "name": name,
            "status": "trained",
            "attempts": attempts + 1,
            "candidates": [i for i, _ in compiled],
            "scores": [None if not np.isfinite(s) else float(s) for s in scores],
            "failed": [bool(x) for x in result.curves.failed.any(axis=1)],
            "best_candidate": compiled[k][0],
            "best_fitness": float(scores[k]) if np.isfinite(scores[k]) else None,
            "best_source": compiled[k][1].source,
            "reflection": reflect_candidate(result, k, self.task),
            "summary": _summary_text(result, self.config),
            "compile_seconds": result.compile_seconds,
            "run_seconds": result.run_seconds,
            # trainings that crashed (Isaac Gym backend): candidate index -> traceback tail
            "errors": {str(compiled[int(i)][0]): text for i, text in errors.items()},
        }
        if decision["best_fitness"] is None and errors:
            first = next(iter(errors))
            decision["error_source"] = compiled[int(first)][1].source
        write_json(rdir / "round.json", decision)
        return decision

    def _next_messages(self, shown: Best, decision: dict, round_name) -> list[dict]:
        reflection = shown.reflection
        if self.cfg.feedback == "human" and self.human_feedback is not None:
            note = self.human_feedback(round_name).strip()
            if note:
                reflection += f"Feedback from the user:\n{note}\n"
        return self.prompts.feedback(self.task, shown.source, reflection, decision["summary"])

    # ---- the loop ----------------------------------------------------------------------------

    def run(self) -> dict:
        task, cfg = self.task, self.cfg
        best: Best | None = None
        messages = self.prompts.initial(task)
        history = []
        if cfg.init == "human":
            d = self._round("iter_init", None, fixed=[("human", task.human_reward_source)])
            best = Best(d["best_source"], d["best_fitness"] or -np.inf, "init", 0, d["reflection"])
            messages = self._next_messages(best, d, "init")
            self.log(f"init=human: human reward scores {best.fitness:.3f}")
        elif cfg.init != "none":
            raise EurekaError(f"init={cfg.init} is not known; use init=none or init=human.")
        for it in range(cfg.iteration):
            name = f"iter_{it:02d}"
            self.status.update(round=f"{it + 1}/{cfg.iteration}", phase="starting")
            self.log(f"round {it + 1}/{cfg.iteration}")
            d = self._round(name, messages)
            history.append(d)
            if d["status"] != "trained" or d["best_fitness"] is None:
                if d.get("errors"):  # every training crashed: show the LLM why
                    error = next(iter(d["errors"].values()))
                    messages = self.prompts.execution_error(
                        task, d["error_source"], "exception", "training crashed:\n" + error)
                self.log(f"  {d['status']}; the next round asks again")
                continue
            round_best = Best(d["best_source"], d["best_fitness"], it, d["best_candidate"],
                              d["reflection"])
            if best is None or round_best.fitness > best.fitness:
                best = round_best
            self.status.update(best=best.fitness, phase="done")
            self.log(f"  round best {round_best.fitness:.3f} (candidate "
                     f"{round_best.index}); best so far {best.fitness:.3f} (round {best.iteration})")
            messages = self._next_messages(round_best if cfg.context == "round" else best, d, it)
            if task.target_fitness is not None and best.fitness >= task.target_fitness:
                self.log(f"  target fitness {task.target_fitness} reached; stopping early")
                break
        summary = {
            "task": task.name,
            "run_dir": str(self.run_dir),
            "rounds": [{k: d.get(k) for k in ("name", "status", "attempts", "scores",
                                               "best_candidate", "best_fitness")}
                       for d in history],
            "best": None if best is None else {
                "iteration": best.iteration, "candidate": best.index, "fitness": best.fitness,
                "source": best.source},
        }
        if best is not None:
            atomic_write(self.run_dir / "best_reward.py", best.source)
        write_json(self.run_dir / "summary.json", summary)
        return summary
