"""Compile once: what a search's rounds spend compiling and running, with the fused trainer (one
program per round, the round's rewards traced into the physics and the learner) and with the
split trainer (physics and learner programs compiled once per task, a reward program per
round), measured in one run of this script on one machine.

    python -m benchmarks.compile_once [--tasks cartpole,pendulum_swingup,double_pendulum]
                                      [--iteration 4] [--sample 6]
                                      [--task-set double_pendulum:max_iterations=100] [--merge]

Each search (offline proposer, ``iteration`` rounds of ``sample`` programs, 1 seed per
candidate, the seed race on, no early stop, no final evaluation) runs in its own process with
a fresh, empty persistent compilation cache, so every first compile is cold; then a second
split search on the same task and settings runs in a new process with the first one's cache
(what a user's next search costs). Writes benchmarks/results/compile_once.md and .json.

``--task-set TASK:key=value`` changes one task's settings for its searches (e.g. a shorter
budget where the default makes a 4-round search take hours on a CPU: the programs compiled are
the same, only the number of updates differs); the table names every such change. ``--merge``
keeps the rows of tasks this run does not measure from the existing .json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def one_search(task_name: str, mode: str, iteration: int, sample: int, out: Path,
               extra: list[str]) -> None:
    """Runs one search in this process and writes its per-round timings to ``out``."""
    import dataclasses

    from eureka_jax.compile_cache import enable_compilation_cache
    from eureka_jax.config import load_config
    from eureka_jax.jax_backend import JaxBackend
    from eureka_jax.llm.factory import make_proposer
    from eureka_jax.llm.prompts import Prompts
    from eureka_jax.runs import read_json
    from eureka_jax.search import Search
    from eureka_jax.task import load_task

    enable_compilation_cache()  # EUREKA_JAX_CACHE, set by the parent
    task = dataclasses.replace(load_task(task_name), target_fitness=None)  # no early stop
    cfg = load_config([f"task={task_name}", f"iteration={iteration}", f"sample={sample}",
                       "llm=offline", "seeds=1", "num_eval=0", "report_video=false", *extra])
    backend = JaxBackend(cfg, fused=(mode == "fused"))
    with tempfile.TemporaryDirectory() as tmp:
        proposer, _, _ = make_proposer(cfg, task, Path(tmp) / "llm.jsonl")
        start = time.perf_counter()
        Search.from_config(cfg, task, Path(tmp), proposer, Prompts(), log=lambda line: None,
               backend=backend).run()
        wall = time.perf_counter() - start
        rounds = []
        for i in range(iteration):
            d = read_json(Path(tmp) / f"iter_{i:02d}" / "round.json")
            race = Path(tmp) / f"iter_{i:02d}" / "race_curves.json"
            first = Path(tmp) / f"iter_{i:02d}" / "curves.json"
            parts = [read_json(p) for p in (first, race) if p.exists()]
            rounds.append({
                "compile": d["compile_seconds"], "run": d["run_seconds"],
                "reward_compile": sum(p.get("reward_compile_seconds", 0.0) for p in parts),
                "env_steps": d["env_steps"]})
    out.write_text(json.dumps({"task": task_name, "mode": mode, "wall": wall,
                               "rounds": rounds}))


def task_overrides(args) -> dict[str, list[str]]:
    """``--task-set TASK:key=value`` arguments, grouped by task."""
    out: dict[str, list[str]] = {}
    for item in args.task_set:
        task, sep, setting = item.partition(":")
        if not sep or "=" not in setting:
            raise SystemExit(f"--task-set {item!r}: write it as TASK:key=value, e.g. "
                             "double_pendulum:max_iterations=100")
        out.setdefault(task, []).append(setting)
    return out


def run_child(task: str, mode: str, args, cache: Path) -> dict:
    overrides = task_overrides(args).get(task, [])
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        env = dict(os.environ, EUREKA_JAX_CACHE=str(cache))
        subprocess.run([sys.executable, "-m", "benchmarks.compile_once", "--one", task, mode,
                        "--iteration", str(args.iteration), "--sample", str(args.sample),
                        "--out", str(out), *[f"--set={x}" for x in [*args.set, *overrides]]],
                       check=True, env=env)
        result = json.loads(out.read_text())
        result["overrides"] = overrides
        return result


def render(results: list[dict], args) -> str:
    from benchmarks.common import machine_header

    by = {(r["task"], r["mode"]): r for r in results}
    changes = {r["task"]: r["overrides"] for r in results if r.get("overrides")}
    changed = "".join(f"\n- {task}: not its CPU default: {', '.join(o)} (every trainer alike)\n"
                      for task, o in changes.items())
    lines = [("| task | trainer | round | compile s | of which reward programs s | run s | "
              "env steps | compile share |"), "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        for i, x in enumerate(r["rounds"]):
            total = x["compile"] + x["run"]
            reward = "(one program)" if r["mode"] == "fused" else f"{x['reward_compile']:.1f}"
            lines.append(f"| {r['task']} | {r['mode']} | {i + 1} | {x['compile']:.1f} | "
                         f"{reward} | {x['run']:.1f} | {x['env_steps']:,} | "
                         f"{x['compile'] / total:.0%} |")
    summary = [("| task | fused: search wall s | split: search wall s | change | split, second "
                "search (warm cache) wall s | rounds 2+ compile / round 1 compile (split) | "
                "run s per env step, split / fused |"),
               "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for task in dict.fromkeys(r["task"] for r in results):
        fused, split = by.get((task, "fused")), by.get((task, "split"))
        warm = by.get((task, "split, second search"))
        if not fused or not split:
            continue
        later = max(x["compile"] for x in split["rounds"][1:]) if len(split["rounds"]) > 1 else 0
        ratio = later / split["rounds"][0]["compile"]

        def per_step(r):
            return sum(x["run"] for x in r["rounds"]) / sum(x["env_steps"] for x in r["rounds"])

        summary.append(f"| {task} | {fused['wall']:.0f} | {split['wall']:.0f} | "
                       f"{split['wall'] / fused['wall'] - 1:+.0%} | "
                       f"{warm['wall']:.0f} | {ratio:.1%} | "
                       f"{per_step(split) / per_step(fused):.2f} |" if warm else
                       f"| {task} | {fused['wall']:.0f} | {split['wall']:.0f} | "
                       f"{split['wall'] / fused['wall'] - 1:+.0%} | - | {ratio:.1%} | "
                       f"{per_step(split) / per_step(fused):.2f} |")
    return ("# Compile once: fused vs split trainer, per round of a search\n\n" + machine_header()
            + f"- searches: offline proposer, {args.iteration} rounds x {args.sample} programs, 1 "
            "seed per candidate, the seed race on (2 leaders x 4 seeds), no early stop, no "
            "final evaluation; each task's CPU default budget; each search in its own process "
            "with an empty persistent compilation cache, except the second split search, "
            "which reuses the first one's cache\n"
            "- compile s: tracing + XLA of the round's programs (first pass and race); run s: "
            "their execution\n\n## Per round\n\n" + "\n".join(lines)
            + "\n\n## Per search\n\n" + "\n".join(summary) + "\n" + changed)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default="cartpole,pendulum_swingup,double_pendulum")
    parser.add_argument("--iteration", type=int, default=4)
    parser.add_argument("--sample", type=int, default=6)
    parser.add_argument("--one", nargs=2, metavar=("TASK", "MODE"))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--task-set", action="append", default=[], metavar="TASK:KEY=VALUE",
                        help="change one task's settings for its searches (named in the table)")
    parser.add_argument("--merge", action="store_true",
                        help="keep the existing table's rows for the tasks not run now")
    parser.add_argument("--set", action="append", default=[],
                        help="a config override for every search, e.g. --set=max_iterations=4 "
                        "(a quick check of this script; the table is for the defaults)")
    args = parser.parse_args()
    if args.one:
        one_search(args.one[0], args.one[1], args.iteration, args.sample, args.out, args.set)
        return
    results = []
    for task in args.tasks.split(","):
        for mode in ("fused", "split"):
            with tempfile.TemporaryDirectory() as cache:
                results.append(run_child(task, mode, args, Path(cache)))
                print(json.dumps(results[-1]), flush=True)
                if mode == "split":
                    warm = run_child(task, mode, args, Path(cache))
                    warm["mode"] = "split, second search"
                    results.append(warm)
                    print(json.dumps(warm), flush=True)
    if args.set:  # not the defaults: print, do not overwrite the table
        print(render(results, args))
        return
    RESULTS.mkdir(exist_ok=True)
    if args.merge and (RESULTS / "compile_once.json").exists():
        ran = {r["task"] for r in results}
        kept = [r for r in json.loads((RESULTS / "compile_once.json").read_text())
                if r["task"] not in ran]
        results = kept + results
    (RESULTS / "compile_once.json").write_text(json.dumps(results, indent=1))
    from benchmarks.common import kept_notes

    text = render(results, args)
    print(text)
    (RESULTS / "compile_once.md").write_text(text + kept_notes(RESULTS / "compile_once.md"))


if __name__ == "__main__":
    main()
