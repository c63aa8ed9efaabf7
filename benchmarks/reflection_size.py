"""How long the prompt after a round is: characters and estimated tokens of the round-2 prompt
of a search, for K = 6 and K = 16 candidates, for the code this script runs against.

    python -m benchmarks.reflection_size --label after
    # the same measurement for another checkout (its eureka_jax first on the path):
    cd OTHER && PYTHONPATH=$PWD python /path/to/benchmarks/reflection_size.py --label before

Each measurement is a real search (offline proposer, pendulum_swingup, 2 rounds, 1 seed per
candidate, the seed race on, a short budget: the prompt's length does not depend on it beyond
the number of checkpoints, which is the task's) in a temporary run directory; the round-2
prompt (``iter_01/attempt_0/prompt.json``) is measured and kept next to the table as an
excerpt. Rows accumulate in results/reflection_size.json; the table is rewritten from all.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
CHARS_PER_TOKEN = 4  # the reflection's own budgeting estimate (eureka_jax/reflect.py)
SETTINGS = ["task=pendulum_swingup", "iteration=2", "seeds=1", "llm=offline", "num_eval=0",
            "target_fitness=null", "max_iterations=20", "train.num_envs=32",
            "report_video=false"]


def measure(k: int, keep: Path) -> dict:
    from eureka_jax.config import load_config
    from eureka_jax.llm.factory import make_proposer
    from eureka_jax.llm.prompts import Prompts
    from eureka_jax.search import Search
    from eureka_jax.task import load_task

    task = load_task("pendulum_swingup")
    cfg = load_config([*SETTINGS, f"sample={k}"])
    with tempfile.TemporaryDirectory() as tmp:
        proposer, _, _ = make_proposer(cfg, task, Path(tmp) / "llm.jsonl")
        start = time.perf_counter()
        Search.from_config(cfg, task, Path(tmp), proposer, Prompts(), log=lambda line: None).run()
        wall = time.perf_counter() - start
        prompt = json.loads((Path(tmp) / "iter_01" / "attempt_0" / "prompt.json").read_text())
        keep.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(tmp) / "iter_01" / "attempt_0" / "prompt.json", keep)
    task_message = prompt[1]["content"]
    feedback = prompt[-1]["content"]
    total = sum(len(m["content"]) for m in prompt)
    return {"k": k, "task_chars": len(task_message), "feedback_chars": len(feedback),
            "total_chars": total, "total_tokens": total // CHARS_PER_TOKEN,
            "feedback_tokens": len(feedback) // CHARS_PER_TOKEN, "search_seconds": wall,
            "prompt": str(keep.relative_to(RESULTS))}


def render(rows: list[dict]) -> str:
    from benchmarks.common import machine_header

    lines = [("| code | K | task message chars | round feedback chars (~tokens) | whole prompt "
             "chars (~tokens) | prompt kept |"), "| --- | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        lines.append(f"| {r['label']} | {r['k']} | {r['task_chars']:,} | "
                     f"{r['feedback_chars']:,} (~{r['feedback_tokens']:,}) | "
                     f"{r['total_chars']:,} (~{r['total_tokens']:,}) | `{r['prompt']}` |")
    return ("# The prompt after a round: its length\n\n" + machine_header()
            + "- search: " + " ".join(SETTINGS) + ", sample=K; the round-2 prompt (after round "
            "1's training and race) is measured\n- tokens: characters / 4 (the reflection's "
            "own budgeting estimate; `reflection_tokens` bounds the round's list only)\n"
            "- task message: the task, model facts, env source, reward inputs and the budget "
            "paragraph; round feedback: the shown reward's reflection, the round's list, the "
            "history and the reward's code\n\n" + "\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--label", required=True, help="which code this is, e.g. before/after")
    parser.add_argument("--k", default="6,16")
    args = parser.parse_args()
    path = RESULTS / "reflection_size.json"
    rows = json.loads(path.read_text()) if path.exists() else []
    for k in (int(x) for x in args.k.split(",")):
        row = measure(k, RESULTS / "reflection_prompts" / f"{args.label}-k{k}.json")
        row["label"] = args.label
        rows = [r for r in rows if (r["label"], r["k"]) != (args.label, k)] + [row]
        print(json.dumps(row), flush=True)
    path.write_text(json.dumps(rows, indent=1))
    (RESULTS / "reflection_size.md").write_text(render(rows))
    print(render(rows))


if __name__ == "__main__":
    sys.path.append(str(Path(__file__).resolve().parents[1]))  # as a file: after PYTHONPATH
    main()
