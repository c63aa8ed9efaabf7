"""``benchmark``: a suite of tasks (Eureka's nine by default), one table beside published
numbers."""

from __future__ import annotations

from pathlib import Path

from eureka_jax.errors import EurekaError


def _searcher(cfg, settings, backend):
    """A search per task with the configured LLM; returns the best program's source."""
    from eureka_jax.llm.factory import make_proposer
    from eureka_jax.llm.prompts import Prompts
    from eureka_jax.runs import read_json
    from eureka_jax.search import Search

    def search(task, task_dir: Path) -> str:
        summary_path = task_dir / "summary.json"
        if summary_path.is_file() and read_json(summary_path).get("best"):
            return read_json(summary_path)["best"]["source"]  # searched before a kill
        proposer, kind, _ = make_proposer(cfg, task, task_dir / "llm.jsonl")
        print(f"{task.name}: search with llm={kind}: {settings.iteration} rounds x "
              f"{settings.sample} samples", flush=True)
        summary = Search(settings, task, task_dir, proposer, Prompts(cfg.prompts_dir), backend,
                         log=lambda text: print(f"  {text}", flush=True)).run()
        if summary.best is None:
            raise EurekaError(f"{task.name}: no candidate trained in {settings.iteration} "
                              f"rounds; see {task_dir} for the compile errors.")
        return summary.best.source

    return search


def cmd_benchmark(cfg) -> int:
    """Runs a benchmark suite (suite=eureka: Eureka's nine tasks), writes its table."""
    from omegaconf import OmegaConf

    from eureka_jax.backend import make_backend, require
    from eureka_jax.benchmark import load_suite, run_suite, suite_chart, suite_table, suite_tasks
    from eureka_jax.runs import atomic_write
    from eureka_jax.search import SearchSettings

    backend = make_backend(cfg)
    require(backend, "suites", f"benchmark suite={cfg.suite}")
    settings = SearchSettings.from_config(cfg)  # typed and checked once, here
    suite = load_suite(cfg.suite)
    tasks = suite_tasks(suite, cfg.tasks, cfg.profile, cfg.task_dirs)
    if not tasks:
        raise EurekaError(f"no task of suite {suite['name']} learns on profile={cfg.profile} "
                          "here; name them with tasks=a,b or tasks=all.")
    if cfg.resume:
        run_dir = Path(cfg.resume).expanduser()
        if not (run_dir / "config.yaml").is_file():
            raise EurekaError(f"{run_dir} is not a benchmark run directory (no config.yaml).")
    else:
        from eureka_jax.cli.common import new_run_dir

        run_dir = new_run_dir(cfg, f"benchmark-{suite['name']}", cfg.profile)
        atomic_write(run_dir / "config.yaml", OmegaConf.to_yaml(cfg))
    searching = cfg.llm != "auto"
    print(f"benchmark {suite['name']} (profile={cfg.profile}): {', '.join(tasks)}; "
          + (f"a search per task with llm={cfg.llm}, then " if searching else "")
          + f"human and sparse rewards x {cfg.num_eval} seeds; run directory {run_dir}",
          flush=True)
    results = run_suite(suite, tasks, run_dir, backend, settings,
                        search=_searcher(cfg, settings, backend) if searching else None)
    table = suite_table(suite, results, backend.load_task, settings.training.profile,
                        settings.select)
    atomic_write(run_dir / "suite.md", table)
    chart = suite_chart(results, run_dir / "suite.png", backend.load_task)
    print(table)
    print(f"table: {run_dir / 'suite.md'}" + (f"; chart: {chart}" if chart else ""))
    return 0
