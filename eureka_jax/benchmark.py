"""Benchmark suites: a list of tasks run the same way, and one table beside published numbers.

A suite is a YAML file in ``configs/suites/`` (or a path): its tasks, each with the number
its source publishes (or none), and the source. ``run_suite`` evaluates every task's human
and sparse rewards on ``num_eval`` fresh seeds (one batched training per task), or, with a
search function, searches a reward first and evaluates it beside them; each task's result
is written as it finishes (``<run>/<task>/evaluation.json``), so a killed suite resumes
where it stopped. A task that cannot run here (its robot models cannot be downloaded, say)
is reported with the reason and tried again on resume. ``suite_table`` writes the Markdown
table and ``suite_chart`` a PNG bar chart (one panel per task, like Eureka's per-task
figure), in Eureka's units where a task gives its scale.
"""

from __future__ import annotations

import os
import platform
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import yaml

from eureka_jax.config import CONFIG_DIR
from eureka_jax.errors import EurekaError
from eureka_jax.runs import read_json, write_json

SUITES_DIR = CONFIG_DIR / "suites"


def load_suite(name: str) -> dict:
    """A suite by name (``configs/suites/<name>.yaml``) or path."""
    path = Path(name).expanduser()
    if not path.is_file():
        path = SUITES_DIR / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))
        raise EurekaError(f"unknown suite '{name}'; choose one of {', '.join(known)} or give "
                          "the path of a suite YAML file.")
    suite = yaml.safe_load(path.read_text()) or {}
    if not isinstance(suite.get("tasks"), list) or not suite["tasks"]:
        raise EurekaError(f"{path}: a suite needs a list of tasks ({{task: NAME, published: "
                          "NUMBER or null}}).")
    suite["tasks"] = [t if isinstance(t, dict) else {"task": str(t)} for t in suite["tasks"]]
    suite["path"] = str(path)
    return suite


def suite_tasks(suite: dict, wanted, profile: str, task_dirs=()) -> list[str]:
    """The suite's tasks to run: ``wanted`` (a list, a comma-separated string or ``all``), or
    by default with profile=cpu those whose CPU budget learns here (``cpu_learns: true``),
    with profile=gpu all of them."""
    from eureka_jax.task import list_tasks, load_task

    names = [t["task"] for t in suite["tasks"]]
    known = list_tasks(task_dirs)
    missing = [n for n in names if n not in known]
    if missing:
        raise EurekaError(f"suite {suite['name']} names tasks that do not exist here: "
                          f"{', '.join(missing)}; fix {suite['path']}.")
    if wanted in (None, "", []):
        if profile == "gpu":
            return names
        return [n for n in names if load_task(n, task_dirs).cpu_learns]
    if isinstance(wanted, str):
        wanted = names if wanted == "all" else [w.strip() for w in wanted.split(",") if w.strip()]
    unknown = [w for w in wanted if w not in names]
    if unknown:
        raise EurekaError(f"tasks={','.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not "
                          f"in suite {suite['name']}; choose from {', '.join(names)} (or all).")
    return [n for n in names if n in wanted]


def run_suite(suite: dict, tasks: list[str], run_dir: Path, backend, settings, search=None,
              log=print) -> dict:
    """Evaluates each task (resuming finished ones) and returns ``{task: result}``; a result
    is the evaluation (with ``wall_seconds``) or ``{"skipped": reason}``.

    ``backend`` loads and trains the tasks; ``settings`` (``search.SearchSettings``): the
    training request, ``num_eval``, ``select`` and ``references`` of every evaluation.
    ``search(task, task_dir) -> best reward source``: a search per task before its
    evaluation (None: the baselines alone).
    """
    from eureka_jax.evaluate import evaluate

    results = {}
    for name in tasks:
        tdir = Path(run_dir) / name
        done = tdir / "evaluation.json"
        if done.is_file():
            results[name] = read_json(done)
            log(f"{name}: done in an earlier run of this suite (read back)")
            continue
        tdir.mkdir(parents=True, exist_ok=True)
        task = backend.load_task(name)
        start = time.perf_counter()
        try:
            _ = task.reward_input_specs  # builds the env: a missing model stops here
        except EurekaError as e:
            results[name] = {"skipped": str(e)}
            log(f"{name}: skipped: {e}")
            continue
        best = search(task, tdir) if search is not None else None
        n = settings.num_eval
        log(f"{name}: {'best, ' if best else ''}human and sparse rewards x {n} seeds")
        evaluation = {**evaluate(task, best, tdir, n, backend, settings.training,
                                 settings.select, settings.references).to_json(),
                      "wall_seconds": time.perf_counter() - start}
        write_json(done, evaluation)
        results[name] = evaluation
    write_json(Path(run_dir) / "suite.json", {"suite": suite["name"], "tasks": tasks,
                                              "results": results})
    return results


def _scale(task) -> float:
    return float(task.eureka.get("scale", 1.0)) if task.eureka else 1.0


def _cell(r: dict | None, scale: float) -> str:
    if not r or r.get("mean") is None:
        return "failed" if r else "-"
    return f"{scale * r['mean']:.3g} ± {abs(scale) * r['std']:.2g}"


def _interval(d: dict | None, scale: float) -> str:
    if not d or d.get("mean") is None:
        return "-"
    if d.get("low") is None:
        return f"{scale * d['mean']:+.3g}"
    lo, hi = sorted((scale * d["low"], scale * d["high"]))
    return f"{scale * d['mean']:+.3g} [{lo:+.3g}, {hi:+.3g}]"


def machine_lines() -> str:
    """The machine/version header of every results table (``benchmarks/`` uses it too)."""
    import jax

    versions = ", ".join(f"{p} {metadata.version(p)}"
                         for p in ("jax", "mujoco", "mujoco-mjx", "brax", "playground"))
    cpu = platform.processor() or platform.machine()
    return (f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n"
            f"- machine: {os.cpu_count()} CPU cores ({cpu}), {platform.system()}, "
            f"devices: {[d.device_kind for d in jax.devices()]}\n"
            f"- python {platform.python_version()}; {versions}\n")


def suite_table(suite: dict, results: dict, load_task, profile: str, select: str) -> str:
    """The suite's Markdown table: per task, human and sparse (and best) mean ± std over
    seeds in Eureka's units, paired differences with 95 % intervals, the normalized score,
    Eureka's published number, budget and wall time. ``load_task(name)`` gives a task (the
    backend's); ``profile`` and ``select`` are the run's, for the header."""
    from eureka_jax.evaluate import format_hns
    from eureka_jax.runs import Evaluation

    searched = any("best" in r.get("rewards", {}) for r in results.values())
    head = ["task", "Eureka task", "Eureka's metric (our units × scale)", "human", "sparse"]
    head += ["best", "best − human", "best − sparse", "normalized"] if searched else []
    head += ["human − sparse", "Eureka (published)", "env steps/run", "compile s", "run s",
             "wall s"]
    rows = []
    published = {t["task"]: t.get("published") for t in suite["tasks"]}
    for name, r in results.items():
        task = load_task(name)
        scale = _scale(task)
        eureka = task.eureka.get("task", "-") if task.eureka else "-"
        metric = (task.eureka.get("metric", "").split(" (")[0] if task.eureka
                  else task.fitness_description)
        pub = published.get(name)
        pub = "not published" if pub is None else str(pub)
        if "skipped" in r:
            cells = [name, eureka, metric, f"skipped: {r['skipped']}"]
            cells += [""] * (len(head) - len(cells) - 5) + [pub, "", "", "", ""]
            rows.append(cells)
            continue
        rw = r["rewards"]
        cells = [name, eureka, f"{metric} (×{scale:g})", _cell(rw.get("human"), scale),
                 _cell(rw.get("sparse"), scale)]
        if searched:
            cells += [_cell(rw.get("best"), scale), _interval(r.get("best_minus_human"), scale),
                      _interval(r.get("best_minus_sparse"), scale),
                      format_hns(Evaluation.from_json(r)) if "human_normalized_score" in r
                      else "-"]
        cells += [_interval(r.get("human_minus_sparse"), scale), pub,
                  f"{r['env_steps_per_run']:,}", f"{r.get('compile_seconds', 0):.0f}",
                  f"{r.get('run_seconds', 0):.0f}", f"{r.get('wall_seconds', 0):.0f}"]
        rows.append(cells)
    seeds = sorted({r["num_eval"] for r in results.values() if "num_eval" in r})
    lines = [
        f"# {suite.get('title', suite['name'])}: searched vs human vs sparse rewards\n",
        machine_lines().rstrip("\n"),
        f"- suite: {suite['name']} ({suite['path']}); profile={profile}; "
        f"{'/'.join(map(str, seeds)) or '-'} fresh seeds per reward, one batched training per "
        "task; fitness = " + ("the best evaluation over training" if select == "max"
                              else "the evaluation at the end of training"),
        ("- cells: mean ± std over seeds in Eureka's units (our fitness × the task's scale); "
         "differences are paired by seed, with 95% Student-t intervals"),
        f"- published numbers: {suite.get('source', '').strip()}",
        "",
        "| " + " | ".join(head) + " |",
        "| " + " | ".join("---" for _ in head) + " |",
        *("| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in rows),
        "",
        (suite.get("published_note") or "").strip(),
        "",
    ]
    return "\n".join(lines)


def suite_chart(results: dict, path: Path, load_task) -> Path | None:
    """A PNG bar chart, one panel per evaluated task: each reward's mean with its std over
    seeds, in Eureka's units (``load_task(name)``: a task, for its scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = {n: r for n, r in results.items() if "rewards" in r}
    if not done:
        return None
    fig, axes = plt.subplots(1, len(done), figsize=(2.6 * len(done), 3.2), squeeze=False)
    colors = {"best": "tab:green", "human": "tab:blue", "sparse": "tab:gray"}
    for ax, (name, r) in zip(axes[0], done.items()):
        scale = _scale(load_task(name))
        labels = [k for k in ("best", "human", "sparse") if k in r["rewards"]]
        means = [scale * (r["rewards"][k]["mean"] or np.nan) for k in labels]
        stds = [abs(scale) * r["rewards"][k]["std"] for k in labels]
        ax.bar(labels, means, yerr=stds, color=[colors[k] for k in labels], capsize=3)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=8)
    fig.suptitle("mean ± std over seeds (Eureka's units)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
