"""Does an LLM-written domain-randomization configuration make a policy more robust?

On a task that learns on this machine (cartpole by default): the task's human reward stands
in for the searched best reward (so the table measures the DR stage, not the reward search).
It trains with ``--seeds`` fresh seeds at the nominal physics (the final evaluation, which
saves the policies), then runs the search's DR stage (``eureka_jax.dr.DRStage``) with the
proposer ``--llm`` gives: the physics prior of those policies, ``--rounds`` rounds of
``--sample`` configurations (each round one compiled program), the two baselines (no
randomization, every parameter uniform over its prior range) in round 1, every policy scored
on the same ``--models`` held-out perturbed models x ``--episodes`` episodes.

    python -m benchmarks.domain_randomization [--task cartpole] [--llm offline] [--seeds 5]
        [--rounds 2] [--sample 4] [--models 32] [--episodes 4]

Writes benchmarks/results/domain_randomization.md (the stage's table, the paired differences
and a verdict) and keeps the run directory's dr/ folder (prior.png) under
benchmarks/results/domain_randomization/.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.common import RESULTS, machine_header, peak_memory_mib


def verdict(outcome: dict) -> str:
    """Plain words: did the best configuration beat both baselines under perturbation?"""
    if outcome["best"] is None:
        return "No configuration trained without failing; nothing to compare."
    words = []
    for base, name in (("none", "no randomization"), ("uniform", "uniform over the prior")):
        d = outcome[f"best_minus_{base}_perturbed"]
        if d["low"] is None:
            words.append(f"against {name}: {d['mean']:+.3f}, too few seeds for an interval")
        elif d["low"] > 0:
            words.append(f"it beats {name} under perturbation ({d['mean']:+.3f}, interval "
                         f"above 0)")
        elif d["high"] < 0:
            words.append(f"it is worse than {name} under perturbation ({d['mean']:+.3f})")
        else:
            words.append(f"it is not distinguishable from {name} under perturbation "
                         f"({d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}])")
    nominal = outcome["best_minus_none_nominal"]
    cost = ("no measurable cost at the nominal physics" if nominal["mean"] is None
            or nominal["low"] is None or nominal["low"] <= 0 <= nominal["high"]
            else f"{nominal['mean']:+.3f} at the nominal physics vs no randomization")
    helped = all(outcome[f"best_minus_{b}_perturbed"]["low"] is not None
                 and outcome[f"best_minus_{b}_perturbed"]["low"] > 0 for b in ("none", "uniform"))
    return (f"**{'The configuration helped' if helped else 'The configuration did not clearly help'}"
            f"**: {'; '.join(words)}; {cost}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="cartpole")
    parser.add_argument("--llm", default="offline")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sample", type=int, default=4)
    parser.add_argument("--models", type=int, default=32)
    parser.add_argument("--episodes", type=int, default=4)
    args = parser.parse_args()

    from eureka_jax.backend import make_backend
    from eureka_jax.config import load_config
    from eureka_jax.dr import DRSettings, DRStage, dr_markdown
    from eureka_jax.evaluate import evaluate
    from eureka_jax.llm.factory import make_proposer
    from eureka_jax.llm.offline_dr import OfflineDRProposer
    from eureka_jax.llm.prompts import Prompts
    from eureka_jax.randomize import parameters
    from eureka_jax.train.config import TrainingRequest, training_settings

    cfg = load_config([f"task={args.task}", f"llm={args.llm}", f"dr_iteration={args.rounds}",
                       f"dr_sample={args.sample}", f"dr_seeds={args.seeds}",
                       f"dr_models={args.models}", f"dr_episodes={args.episodes}",
                       f"num_eval={args.seeds}", "references=off"])
    backend = make_backend(cfg)
    task = backend.load_task(args.task)
    run_dir = Path(tempfile.mkdtemp(prefix="dr-benchmark-"))
    start = time.perf_counter()
    evaluation = evaluate(task, task.human_reward_source, run_dir, args.seeds, backend,
                          TrainingRequest.from_config(cfg), references=False)
    nominal_seconds = time.perf_counter() - start
    proposer, kind, _ = make_proposer(cfg, task, run_dir / "dr" / "llm.jsonl",
                                      offline=OfflineDRProposer(parameters(task), cfg.seed))
    lines: list[str] = []
    start = time.perf_counter()
    config, hparams = training_settings(cfg, task)
    outcome = DRStage(DRSettings.from_config(cfg), task, run_dir, task.human_reward_source,
                      proposer, Prompts(cfg.prompts_dir), backend, config, hparams,
                      log=lambda s: (lines.append(s), print(s, flush=True))).run()
    dr_seconds = time.perf_counter() - start
    kept = RESULTS / "domain_randomization"
    shutil.rmtree(kept, ignore_errors=True)
    shutil.copytree(run_dir / "dr", kept)
    log = "\n".join(line for line in lines if line.startswith(("dr round", "dr confirmation", "  ")))
    text = (f"# Domain randomization on {task.name}: does the configuration help?\n\n"
            f"{machine_header()}- peak memory of the process: {peak_memory_mib():,.0f} MiB\n"
            f"- proposer: llm={kind}" + (" (the offline proposer: scaled prior ranges and "
                                         "variations of the best; no LLM here)"
                                         if kind == "offline" else "") + "\n"
            f"- reward: the task's human reward (standing in for a searched best reward)\n"
            f"- nominal training + final evaluation: {nominal_seconds:.0f} s "
            f"(best = human: {evaluation.rewards['best']['mean']:.3f} over {args.seeds} "
            f"seeds); DR stage (prior, {args.rounds} rounds, robustness): {dr_seconds:.0f} s\n"
            f"- held-out set: {args.models} models, every parameter drawn at once over its "
            f"test range (task.yaml randomize:), the same for every row; prior: "
            f"{kept.relative_to(RESULTS.parent)}/prior.png\n\n"
            f"## Verdict\n\n{verdict(outcome)}\n\n## Rounds\n\n```\n{log}\n```\n\n"
            + dr_markdown(outcome).split("\n", 2)[2])
    (RESULTS / "domain_randomization.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
