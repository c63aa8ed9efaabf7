"""Commands on finished runs and multi-stage runs: ``evaluate``, ``report``, ``curriculum``."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from eureka_jax.backend import make_backend
from eureka_jax.cli.common import console, new_run_dir
from eureka_jax.cli.views import print_evaluation
from eureka_jax.errors import EurekaError


def _existing_run(cfg):
    from omegaconf import OmegaConf

    if not cfg.run:
        raise EurekaError("give the run directory: run=runs/<task>/search-<time>.")
    run_dir = Path(cfg.run).expanduser()
    if not (run_dir / "summary.json").is_file():
        raise EurekaError(f"{run_dir} has no summary.json; give a finished search's directory.")
    saved = OmegaConf.load(run_dir / "config.yaml")
    return saved, run_dir


def cmd_evaluate(cfg) -> int:
    """Final evaluation of a run: best vs human vs sparse, num_eval seeds, normalized score."""
    from eureka_jax.evaluate import evaluate
    from eureka_jax.report import make_report
    from eureka_jax.runs import read_json
    from eureka_jax.search import SearchSettings

    saved, run_dir = _existing_run(cfg)
    backend = make_backend(saved)
    task = backend.load_task(saved.task)
    backend.prepare(task, run_dir)
    best = read_json(run_dir / "summary.json")["best"]
    if best is None:
        raise EurekaError(f"{run_dir} has no best reward to evaluate.")
    (run_dir / "evaluation_curves.npz").unlink(missing_ok=True)
    settings = SearchSettings.from_config(saved)  # the run's own, typed here
    print_evaluation(evaluate(task, best["source"], run_dir, cfg.num_eval, backend,
                              settings.training, settings.select, settings.references))
    if "video" in backend.supports:
        film_best(cfg, run_dir)
    make_report(run_dir)
    return 0


def _saved_policies(cfg, run_dir: Path):
    from omegaconf import OmegaConf

    from eureka_jax.play import SavedPolicies

    task_dirs = cfg.task_dirs
    if (run_dir / "config.yaml").is_file():
        task_dirs = OmegaConf.load(run_dir / "config.yaml").get("task_dirs", task_dirs)
    return SavedPolicies(run_dir, task_dirs)


def cmd_play(cfg) -> int:
    """Films a saved policy of a run (run=DIR reward=best seed=N episodes=N video=gif|mp4)."""
    from eureka_jax.play import choose_gl, play

    if not cfg.run:
        raise EurekaError("give the run directory: run=runs/<task>/search-<time> (or a train "
                          "run).")
    choose_gl()
    saved = _saved_policies(cfg, Path(cfg.run).expanduser())
    out = play(saved, cfg.reward, cfg.seed, cfg.episodes, cfg.video, cfg.video_width,
               cfg.video_height, cfg.camera)
    recorded = ("" if out["recorded_fitness"] is None
                else f" (the run recorded {out['recorded_fitness']:.4f})")
    print(f"{out['reward']}, seed {out['seed']}: the final evaluation replayed: fitness "
          f"{out['fitness']:.4f}{recorded}")
    for i, e in enumerate(out["episodes"]):
        print(f"  episode {i}: fitness {e['fitness']:.4f}, return {e['return']:.3f}, "
              f"{e['length']} steps")
    print(f"video: {out['video']} ({out['frames']} frames)")
    return 0


def cmd_robustness(cfg) -> int:
    """The physics prior of a saved policy: fitness as each physics parameter is swept
    (run=DIR reward=best dr_tolerance=0.2)."""
    import jax

    from eureka_jax.robustness import physics_prior, plot_prior
    from eureka_jax.runs import write_json

    if not cfg.run:
        raise EurekaError("give the run directory: run=runs/<task>/search-<time> (a search "
                          "with a final evaluation, or a train run).")
    run_dir = Path(cfg.run).expanduser()
    saved = _saved_policies(cfg, run_dir)
    row = saved.row(cfg.reward)
    params = jax.tree.map(lambda x: x[row], saved.params)
    prior = physics_prior(saved.task, saved.config, params, saved.seeds,
                          tolerance=float(cfg.dr_tolerance), episodes=2 * int(cfg.dr_episodes))
    out = run_dir / "robustness"
    out.mkdir(exist_ok=True)
    write_json(out / f"prior_{saved.labels[row]}.json", prior.to_json())
    figure = plot_prior(prior, out / f"prior_{saved.labels[row]}.png")
    print(f"{saved.labels[row]} policy of {run_dir} ({len(saved.seeds)} seeds):")
    print(prior.text())
    print(f"figure: {figure}")
    return 0


def film_best(cfg, run_dir: Path) -> None:
    """``best.gif`` in ``run_dir`` (report.md shows it): the best reward's policy of the final
    evaluation, first seed, one episode; skipped with the reason when nothing can render."""
    from eureka_jax.play import choose_gl, play

    if not cfg.report_video or not (run_dir / "policies.json").is_file():
        return
    try:
        choose_gl()
        out = play(_saved_policies(cfg, run_dir), "best", 0, 1, "gif", 240, 180, cfg.camera,
                   out=run_dir / "best.gif")
    except EurekaError as e:  # the run's results stand; only its film is missing
        console.print(f"no video of the best policy: {e}", highlight=False, markup=False)
        return
    console.print(f"video of the best policy: {out['video']}", highlight=False)


def cmd_report(cfg) -> int:
    """Writes the plots and report.md of a run directory."""
    from eureka_jax.report import make_report

    _, run_dir = _existing_run(cfg)
    print(f"report: {make_report(run_dir)}")
    return 0


def cmd_curriculum(cfg) -> int:
    """Runs a curriculum (e.g. name=pen_spinning): each stage fine-tunes the previous one."""
    from eureka_jax.curriculum import list_curricula, load_curriculum, run_curriculum

    if not cfg.name:
        raise EurekaError("say which curriculum: name=NAME (one of: "
                          f"{', '.join(list_curricula())}) or name=PATH.yaml.")
    curriculum = load_curriculum(cfg.name)
    backend = make_backend(cfg)
    run_dir = (Path(cfg.resume).expanduser() if cfg.resume
               else new_run_dir(cfg, curriculum.name, "curriculum"))
    print(f"curriculum {curriculum.name} ({len(curriculum.stages)} stages, backend="
          f"{cfg.backend}, {cfg.seeds} seed(s)); run directory {run_dir}", flush=True)
    summary = run_curriculum(curriculum, backend, run_dir, reward=cfg.reward)
    table = Table(title=f"curriculum {curriculum.name}: fitness per seed (best over checkpoints)")
    for column in ("stage", "task", "reward", "started from", "fitness"):
        table.add_column(column, overflow="fold")
    for r in summary["stages"]:
        table.add_row(f"{r['stage']} {r['name']}", r["task"], r["reward"],
                      f"stage {r['stage'] - 1}" if r["init_from"] else "scratch",
                      ", ".join(f"{f:.3f}" for f in r["fitness_per_seed"]))
    console.print(table)
    print(f"summary: {run_dir / 'curriculum.json'}")
    return 0
