"""Does in-batch constant tuning pay at equal compute? K programs x W constant variants
against K x W programs without tuning, in one round of a search.

For each task, program source and repetition r (seed r: other proposals, other training
seeds), two one-round searches run with the same training budget, the same seed race
(``seeds=1 confirm=2``) and the same number of rows, so the same env steps:

  - tuned:   ``sample=K tune=W``   (K programs, each as W variants of its constants);
  - untuned: ``sample=K*W tune=1`` (K*W programs).

Program sources: ``offline`` (the offline proposer: its first K proposals are the tuned arm's
programs, the untuned arm gets those and K*(W-1) more) and ``replies`` (the recorded replies
of a real coding LLM in tests/fixtures/llm_replies/<task>/: repetition r shuffles them with seed r;
the tuned arm takes the first K, the untuned arm the first K*W). Each arm's winner (the tuned
arm's as written back with its values) and the human reward then train on the same fresh
seeds in one batched call; reported per arm over repetitions: search score, fresh score, and
the paired fresh difference tuned - untuned with a 95% t interval.

    python -m benchmarks.tuning [--cases cartpole:offline,pendulum_swingup:offline,
        pendulum_swingup:replies] [--reps 4] [--k 4] [--w 3] [--fresh 5]
        [--budget cartpole=30 pendulum_swingup=100]

Rows accumulate per case in benchmarks/results/tuning.json; tuning.md is written from them.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from benchmarks.common import fresh_scores, machine_header
from eureka_jax import selection
from eureka_jax.config import load_config
from eureka_jax.evaluate import EVAL_SEED_OFFSET
from eureka_jax.llm.factory import make_proposer
from eureka_jax.llm.prompts import Prompts
from eureka_jax.search import Search
from eureka_jax.task import load_task
from eureka_jax.train.config import training_settings

REPLIES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "llm_replies"
ARMS = ("tuned", "untuned")


class Replies:
    """A proposer that answers every request with the first ``n`` of a fixed list."""

    def __init__(self, replies):
        self.replies = list(replies)

    def propose(self, messages, n):
        return self.replies[:n]


def one_search(cfg, task, proposer, tmp: Path) -> tuple[str, float, int]:
    """(best source, its search score, env steps of the round) of a one-round search."""
    summary = Search.from_config(cfg, task, tmp, proposer, Prompts(), log=lambda line: None).run()
    best = summary.best
    return best.source, float(best.fitness), int(summary.rounds[0].env_steps)


def run_case(name: str, source: str, args, budgets: dict) -> list[str]:
    k, w = args.k, args.w
    base_overrides = [f"task={name}", "iteration=1", "llm=offline", "seeds=1", "num_eval=0",
                      "target_fitness=null", "select=max", "confirm=2", "report_video=false"]
    if name in budgets:
        base_overrides.append(f"max_iterations={budgets[name]}")
    task = load_task(name)
    arms = {"tuned": load_config([*base_overrides, f"sample={k}", f"tune={w}"]),
            "untuned": load_config([*base_overrides, f"sample={k * w}", "tune=1"])}
    config, hparams = training_settings(arms["tuned"], task)
    replies = sorted((REPLIES / name).glob("round*_sample*.md")) if source == "replies" else []
    if source == "replies" and len(replies) < k * w:
        raise SystemExit(f"{len(replies)} recorded replies for {name}; need {k * w}")
    picks = {arm: [] for arm in ARMS}
    spent = {arm: [] for arm in ARMS}
    wall = {arm: 0.0 for arm in ARMS}
    for rep in range(args.reps):
        order = np.random.default_rng(rep).permutation(len(replies))
        texts = [replies[i].read_text() for i in order]
        for arm, cfg in arms.items():
            cfg = OmegaConf.merge(cfg, {"seed": rep})
            with tempfile.TemporaryDirectory() as tmp:
                if source == "replies":
                    proposer = Replies(texts)
                else:
                    proposer, _, _ = make_proposer(cfg, task, Path(tmp) / "llm.jsonl")
                start = time.perf_counter()
                src, score, steps = one_search(cfg, task, proposer, Path(tmp))
                wall[arm] += time.perf_counter() - start
            picks[arm].append((src, score))
            spent[arm].append(steps)
        print(f"{name}/{source} rep {rep}: " + "; ".join(
            f"{arm} {picks[arm][-1][1]:.3f} ({spent[arm][-1] / 1e6:.2f}M steps)"
            for arm in ARMS), flush=True)
    # every distinct pick and the human reward on the same fresh seeds, one batched call
    fresh_seeds = [EVAL_SEED_OFFSET + 200 + i for i in range(args.fresh)]
    sources, fresh = fresh_scores(task, picks, config, hparams, fresh_seeds, "max")
    human = fresh[0]
    means = {arm: np.array([np.nanmean(fresh[sources.index(src)]) for src, _ in picks[arm]])
             for arm in ARMS}
    diff = means["tuned"] - means["untuned"]
    mean, lo, hi = selection.t_interval(diff)
    rows = []
    for arm in ARMS:
        search_scores = np.array([score for _, score in picks[arm]])
        rows.append(
            f"| {name} | {source} | {arm} | "
            f"{f'{k} x {w} variants' if arm == 'tuned' else f'{k * w} programs'} | "
            f"{args.reps} | {config.total_env_steps:,} | "
            f"{search_scores.mean():.3f} ± {search_scores.std(ddof=1):.3f} | "
            f"{means[arm].mean():.3f} ± {means[arm].std(ddof=1):.3f} | "
            + (f"**{mean:+.3f}** [{lo:+.3f}, {hi:+.3f}] | {int((diff > 0).sum())}/{len(diff)} | "
               if arm == "tuned" else "| | ")
            + f"{np.nanmean(human):.3f} ± {np.nanstd(human, ddof=1):.3f} | "
            f"{np.mean(spent[arm]) / 1e6:.2f}M | {wall[arm]:.0f} |")
        print(rows[-1], flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", default="cartpole:offline,pendulum_swingup:offline,"
                        "pendulum_swingup:replies")
    parser.add_argument("--reps", type=int, default=4)
    parser.add_argument("--k", type=int, default=4, help="programs of the tuned arm")
    parser.add_argument("--w", type=int, default=3, help="variants per program (tune=W)")
    parser.add_argument("--fresh", type=int, default=5, help="fresh seeds per winner")
    parser.add_argument("--render-only", action="store_true")
    parser.add_argument("--budget", nargs="*", default=["cartpole=30", "pendulum_swingup=100"],
                        help="task=num_updates pairs (the selection benchmark's budgets)")
    args = parser.parse_args()
    budgets = {a: int(b) for a, b in (x.split("=") for x in args.budget)}
    store = Path(__file__).parent / "results" / "tuning.json"
    cases = [] if args.render_only else [c.split(":") for c in args.cases.split(",")]
    for name, source in cases:
        rows = run_case(name, source, args, budgets)
        stored = json.loads(store.read_text()) if store.is_file() else {}
        stored[f"{name}:{source}"] = rows
        store.write_text(json.dumps(stored, indent=1) + "\n")
    stored = json.loads(store.read_text()) if store.is_file() else {}
    rows = [row for key in sorted(stored) for row in stored[key]]
    text = (
        "# Constant tuning at equal compute: K programs x W variants vs K x W programs\n\n"
        + machine_header()
        + f"- one round per search, first pass 1 seed per row, seed race of the top 2 on the "
        "same number of rows again (seeds=1 confirm=2): both arms train the same rows, so "
        "the same env steps; repetition r = seed r\n"
        "- programs: offline = the offline proposer (the tuned arm's K programs are the "
        "untuned arm's first K); replies = recorded replies of a real coding LLM, shuffled "
        "per repetition (tuned: the first K, untuned: the first K x W)\n"
        "- tune: variant 0 as written, the others a Latin hypercube of log-uniform factors in "
        "[1/3, 3] on every float constant of the program (eureka_jax/tune.py)\n"
        f"- fresh: each arm's winner (tuned: as written back) and the human reward trained on "
        f"the same {args.fresh} fresh seeds ({EVAL_SEED_OFFSET + 200}..) in one batched call; "
        "score per seed = best evaluation fitness over training; mean ± std over "
        "repetitions; tuned − untuned: paired over repetitions, 95% t interval\n\n"
        "| task | programs | arm | rows | searches | env steps per run | search score | "
        "fresh score | tuned − untuned (fresh) | tuned better | human (fresh) | env steps "
        "per round | wall s (all searches) |\n"
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
        "---: |\n" + "\n".join(rows) + "\n")
    out = Path(__file__).parent / "results" / "tuning.md"
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
