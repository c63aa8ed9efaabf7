"""``search``: the Eureka loop from the command line (settings, resume, the live view)."""

from __future__ import annotations

import sys
from pathlib import Path

from eureka_jax.cli.common import new_run_dir
from eureka_jax.cli.views import SearchView, print_evaluation
from eureka_jax.config import load_config
from eureka_jax.errors import EurekaError


def _human_feedback(cfg):

    def ask(round_name) -> str:
        if cfg.feedback_file:
            path = Path(cfg.feedback_file).expanduser()
            return path.read_text() if path.is_file() else ""
        if not sys.stdin.isatty():
            raise EurekaError("feedback=human needs a terminal or feedback_file=PATH.")
        return input(f"your feedback on round {round_name} (empty line: none): ")

    return ask


# Settings that may change when a killed search is resumed: they do not alter anything it
# has already trained or asked for. Every other setting is refused there, in one sentence.
RESUME_SAFE = ("iteration", "num_eval", "target_fitness", "feedback", "feedback_file", "llm",
               "model", "base_url", "api_key", "max_retries", "request_timeout",
               "max_samples_per_request", "price_prompt_per_1k", "price_completion_per_1k",
               "prompts_dir", "replay", "resume", "runs_dir", "dr_iteration")


def changed_settings(cfg) -> list[str]:
    """The top-level keys the command line set to something other than the defaults."""
    from omegaconf import OmegaConf

    defaults = OmegaConf.to_container(load_config([]), resolve=True)
    given = OmegaConf.to_container(cfg, resolve=True)
    return [k for k in given if given[k] != defaults.get(k)]


def _search_settings(cfg):
    """(cfg, run_dir or None): the settings of a new search, or of the run given by resume=
    with the overrides that are safe to change on resume applied (others refused)."""

    from omegaconf import OmegaConf

    from eureka_jax.config import Config

    if not cfg.resume:
        return cfg, None
    run_dir = Path(cfg.resume).expanduser()
    if not (run_dir / "config.yaml").is_file():
        raise EurekaError(f"{run_dir} is not a run directory (no config.yaml); give the "
                          "folder a search printed when it started.")
    changed = changed_settings(cfg)
    unsafe = [k for k in changed if k not in RESUME_SAFE]
    if unsafe:
        raise EurekaError(
            f"--resume continues a run with the settings it started with, and "
            f"{', '.join(unsafe)} {'decides' if len(unsafe) == 1 else 'decide'} what it has "
            "already trained; drop "
            f"{'it' if len(unsafe) == 1 else 'them'} from the command line, or start a new "
            f"search (safe to change on resume: {', '.join(RESUME_SAFE[:3])}, the llm settings).")
    saved = OmegaConf.load(run_dir / "config.yaml")
    merged = OmegaConf.merge(OmegaConf.structured(Config), saved,
                             {k: cfg[k] for k in changed if k != "resume"}, {"resume": cfg.resume})
    OmegaConf.set_readonly(merged, True)
    return merged, run_dir


def _domain_randomization(cfg, settings, task, run_dir, best_source, backend) -> None:
    """The DR stage after the final evaluation (``eureka_jax.dr``)."""
    from eureka_jax.dr import DRStage
    from eureka_jax.llm.factory import make_proposer
    from eureka_jax.llm.offline_dr import OfflineDRProposer
    from eureka_jax.llm.prompts import Prompts
    from eureka_jax.randomize import parameters

    offline = OfflineDRProposer(parameters(task), seed=cfg.seed)
    proposer, kind, dr_usage = make_proposer(cfg, task, run_dir / "dr" / "llm.jsonl",
                                             offline=offline)
    print(f"domain randomization with llm={kind}: {cfg.dr_iteration} rounds x "
          f"{cfg.dr_sample} configurations x {cfg.dr_seeds} seeds", flush=True)
    config, hparams = settings.training.resolve(task)
    DRStage(settings.dr, task, run_dir, best_source, proposer,
            Prompts(cfg.prompts_dir), backend, config, hparams).run()
    print((run_dir / "dr" / "dr.md").read_text(), flush=True)
    if dr_usage.calls:
        print(f"domain randomization {dr_usage.text()}")


def cmd_search(cfg) -> int:
    """Runs the Eureka search (then the final evaluation and the report)."""
    from omegaconf import OmegaConf

    from eureka_jax.backend import make_backend
    from eureka_jax.budget import budget_warnings
    from eureka_jax.cli.results import film_best
    from eureka_jax.evaluate import evaluate
    from eureka_jax.llm.factory import make_proposer
    from eureka_jax.llm.prompts import Prompts
    from eureka_jax.report import make_report
    from eureka_jax.runs import atomic_write
    from eureka_jax.search import Search, SearchSettings

    cfg, run_dir = _search_settings(cfg)
    backend = make_backend(cfg)
    task = backend.load_task(cfg.task)
    settings = SearchSettings.from_config(cfg)  # typed and checked once, here
    config, _ = settings.check(task, backend)  # before anything is written
    backend.prepare(task, None)  # before any LLM call or run directory
    if run_dir is None:
        run_dir = new_run_dir(cfg, cfg.task, "search")
        atomic_write(run_dir / "config.yaml", OmegaConf.to_yaml(cfg))
    backend.prepare(task, run_dir)
    proposer, kind, usage = make_proposer(cfg, task, run_dir / "llm.jsonl")
    import jax

    for warning in (budget_warnings(task, config, jax.default_backend(), cfg.profile)
                    if "budget_checks" in backend.supports else []):
        print(f"warning: {warning}", flush=True)
    print(f"search on {task.name} with llm={kind}: {cfg.iteration} rounds x {cfg.sample} "
          f"samples x {cfg.seeds} seed(s) on {len(jax.devices())} {jax.default_backend()} "
          f"device(s) in {jax.process_count()} process(es); run directory {run_dir}",
          flush=True)
    view = SearchView(usage)
    search = Search(settings, task, run_dir, proposer, Prompts(cfg.prompts_dir), backend,
                    log=view.log, human_feedback=_human_feedback(cfg))
    view.search = search
    with view:
        summary = search.run()
    if summary.best is None:
        raise EurekaError(f"no candidate trained in {cfg.iteration} rounds; see {run_dir} for "
                          "the compile errors, or raise max_resample/sample.")
    if cfg.num_eval > 0:
        print(f"final evaluation: best, human and sparse rewards x {cfg.num_eval} seeds",
              flush=True)
        print_evaluation(evaluate(task, summary.best.source, run_dir, cfg.num_eval, backend,
                                  settings.training, settings.select, settings.references))
        if "video" in backend.supports:
            film_best(cfg, run_dir)
    if int(cfg.dr_iteration) > 0:
        _domain_randomization(cfg, settings, task, run_dir, summary.best.source, backend)
    report = make_report(run_dir)
    if usage.calls:
        print(usage.text()
              + (f", estimated cost {usage.cost:.4f}" if usage.cost is not None else ""))
    print(f"best reward: {run_dir / 'best_reward.py'}; report: {report}")
    return 0
