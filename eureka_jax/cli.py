"""The ``eureka-jax`` command: ``eureka-jax SUBCOMMAND key=value ...``.

Every error a user can cause ends with one sentence on stderr and exit code 2, never a
traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from eureka_jax.config import load_config
from eureka_jax.errors import EurekaError

# Piped output (not a terminal) gets a wide table instead of rich's 80-column default.
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, soft_wrap=True)


def cmd_tasks(cfg) -> None:
    """Lists the task folders: simulator, episode, fitness, CPU budget (reads task.yaml only)."""
    from rich.markup import escape

    from eureka_jax.task import list_tasks, load_task
    from eureka_jax.train.config import training_settings

    table = Table(title="eureka-jax tasks (show-task task=NAME: actions, reward inputs, source)")
    table.add_column("task", no_wrap=True)
    table.add_column("simulator")
    table.add_column("episode", justify="right")
    table.add_column("fitness", overflow="fold")
    table.add_column("default budget", justify="right")
    table.add_column("on 2 CPU cores", overflow="fold")
    for name in list_tasks(cfg.task_dirs):
        task = load_task(name, cfg.task_dirs)  # builds no environment
        config, _ = training_settings(cfg, task)
        cpu = {True: "learns", False: "smoke only", None: "not measured"}[task.cpu_learns]
        table.add_row(name, task.simulator, str(task.episode_length),
                      escape(f"{task.fitness_description} [{task.fitness_input}]"),
                      f"{config.total_env_steps:,}", cpu)
    console.print(table)


def cmd_show_task(cfg) -> None:
    """Prints exactly the task context the LLM receives (with the training budget of these
    settings, as in a search's first prompt)."""
    from eureka_jax.budget import budget_text
    from eureka_jax.task import load_task
    from eureka_jax.train.config import training_settings

    task = load_task(cfg.task, cfg.task_dirs)
    config, _ = training_settings(cfg, task)
    print(task.context(budget_text(task, config, cfg.seeds, cfg.select)), end="")


def reward_sources(spec: str | None, task) -> list[tuple[str, str]]:
    """``reward=PATH[,PATH...]`` (or ``human``/``sparse``) -> [(label, source)]."""
    from pathlib import Path

    if not spec:
        raise EurekaError("no reward given; pass reward=PATH (or reward=human, reward=sparse).")
    sources = []
    for item in str(spec).split(","):
        item = item.strip()
        if item == "human":
            sources.append(("human", task.human_reward_source))
        elif item == "sparse":
            sources.append(("sparse", task.sparse_reward_source))
        else:
            path = Path(item).expanduser()
            if not path.is_file():
                raise EurekaError(f"reward file '{item}' does not exist; give a path to a .py "
                                  "file or a saved LLM reply, or human/sparse.")
            sources.append((str(path), path.read_text()))
    return sources


def cmd_check_reward(cfg) -> int:
    """Compiles reward file(s) for a task: components and probe values, or why rejected."""
    import jax
    import numpy as np

    from eureka_jax.reward import RewardError, compile_reward, policy_for
    from eureka_jax.task import load_task

    task = load_task(cfg.task, cfg.task_dirs)
    rejected = 0
    for label, source in reward_sources(cfg.reward, task):
        try:
            reward_fn = compile_reward(source, task, policy=policy_for(cfg))
        except RewardError as e:
            rejected += 1
            print(f"{label}: REJECTED [{e.category}] {e.message}")
            continue
        total, parts = jax.vmap(reward_fn)(task.probe_inputs)
        table = Table(title=f"{label}: accepted ({reward_fn.compile_seconds:.2f} s), "
                      f"inputs {', '.join(reward_fn.input_names)}")
        for column in ("term", "mean", "min", "max"):
            table.add_column(column, justify="left" if column == "term" else "right")
        for name, values in [("total", total), *sorted(parts.items())]:
            v = np.asarray(values)
            table.add_row(name, f"{v.mean():.4g}", f"{v.min():.4g}", f"{v.max():.4g}")
        console.print(table)
        print("(probe: 128 transitions under random actions)")
    return 1 if rejected else 0


def cmd_train(cfg) -> int:
    """Trains reward file(s) batched (candidates x seeds): fitness per candidate and seed."""
    import numpy as np

    from eureka_jax.reward import RewardError, compile_reward, policy_for
    from eureka_jax.task import load_task
    from eureka_jax.train import train_candidates
    from eureka_jax.train.config import seed_list, training_settings

    task = load_task(cfg.task, cfg.task_dirs)
    config, hparams = training_settings(cfg, task)
    labels, fns = [], []
    for label, source in reward_sources(cfg.reward, task):
        try:
            fns.append(compile_reward(source, task, policy=policy_for(cfg)))
            labels.append(label)
        except RewardError as e:
            print(f"{label}: REJECTED [{e.category}] {e.message}")
    if not fns:
        raise EurekaError("no reward compiled; fix the rewards above (eureka-jax check-reward).")
    seeds = seed_list(cfg)
    import jax

    from eureka_jax.budget import budget_warnings

    for warning in budget_warnings(task, config, jax.default_backend()):
        print(f"warning: {warning}", flush=True)
    print(f"training {len(fns)} candidate(s) x {len(seeds)} seed(s) on {task.name}: "
          f"{config.total_env_steps:,} env steps each ({config.num_updates} updates x "
          f"{config.num_envs} envs x {config.unroll_length} steps)", flush=True)
    result = train_candidates(task, fns, config, hparams, seeds=seeds, labels=labels)
    table = Table(title=f"{task.name}: fitness = {task.fitness_description} "
                  "(best over checkpoints / final)")
    table.add_column("reward", overflow="fold")
    for s in seeds:
        table.add_column(f"seed {s}", justify="right")
    table.add_column("mean ± std (best)", justify="right")
    table.add_column("status")
    best, final = result.max_fitness(), result.final_fitness()
    for k, label in enumerate(labels):
        failed = result.curves.failed[k]
        status = "ok" if not failed.any() else "failed (non-finite) at checkpoint " + ", ".join(
            str(int(c)) for c in result.curves.failed_at[k] if c >= 0)
        cells = [f"{best[k, i]:.3f} / {final[k, i]:.3f}" for i in range(len(seeds))]
        table.add_row(label, *cells, f"{best[k].mean():.3f} ± {best[k].std():.3f}", status)
    console.print(table)
    print(f"compile {result.compile_seconds:.1f} s, run {result.run_seconds:.1f} s, "
          f"{result.env_steps_per_second:,.0f} env steps/s "
          f"({result.env_steps:,} steps in total)")
    return 0 if np.isfinite(best).all() else 1


def new_run_dir(cfg, task_name: str, kind: str):
    """``runs/<task>/<kind>-<UTC timestamp>/`` (created)."""
    import time
    from pathlib import Path

    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    path = Path(cfg.runs_dir).expanduser() / task_name / f"{kind}-{stamp}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = path.with_name(f"{kind}-{stamp}-{suffix}")
    path.mkdir(parents=True)
    return path


def cmd_propose(cfg) -> int:
    """Asks the proposer for `sample` reward programs for a task and compiles each."""
    from eureka_jax.llm.factory import make_proposer
    from eureka_jax.llm.prompts import Prompts
    from eureka_jax.reward import RewardError, compile_reward, policy_for
    from eureka_jax.task import load_task

    task = load_task(cfg.task, cfg.task_dirs)
    run_dir = new_run_dir(cfg, task.name, "propose")
    proposer, kind, usage = make_proposer(cfg, task, run_dir / "llm.jsonl")
    from eureka_jax.budget import budget_text
    from eureka_jax.train.config import training_settings

    config, _ = training_settings(cfg, task)
    messages = Prompts(cfg.prompts_dir).initial(task, budget_text(task, config, cfg.seeds,
                                                                  cfg.select))
    print(f"asking {kind} for {cfg.sample} reward program(s) for {task.name} ...", flush=True)
    replies = proposer.propose(messages, cfg.sample)
    accepted = 0
    for i, reply in enumerate(replies):
        try:
            reward_fn = compile_reward(reply, task, policy=policy_for(cfg))
        except RewardError as e:
            print(f"--- sample {i}: REJECTED [{e.category}] {e.message}")
            continue
        accepted += 1
        (run_dir / f"sample_{i}.py").write_text(reward_fn.source)
        print(f"--- sample {i}: compiles; components {', '.join(reward_fn.component_names)}")
        print(reward_fn.source)
    tokens = f"; {usage.text()}" if usage.calls else ""
    print(f"{accepted} of {len(replies)} compile; replies recorded in {run_dir / 'llm.jsonl'}"
          + tokens)
    return 0 if accepted else 1


def _human_feedback(cfg):
    from pathlib import Path

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
               "prompts_dir", "replay", "resume", "runs_dir")


def changed_settings(cfg) -> list[str]:
    """The top-level keys the command line set to something other than the defaults."""
    from omegaconf import OmegaConf

    defaults = OmegaConf.to_container(load_config([]), resolve=True)
    given = OmegaConf.to_container(cfg, resolve=True)
    return [k for k in given if given[k] != defaults.get(k)]


def _search_settings(cfg):
    """(cfg, run_dir or None): the settings of a new search, or of the run given by resume=
    with the overrides that are safe to change on resume applied (others refused)."""
    from pathlib import Path

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


class SearchView:
    """A rich live view of a search in a terminal; plain progress lines otherwise."""

    def __init__(self, usage):
        self.usage, self.search, self.lines, self.live = usage, None, [], None

    def __enter__(self):
        if console.is_terminal:
            from rich.live import Live

            self.live = Live(self._render(), console=console, refresh_per_second=4)
            self.live.__enter__()
        return self

    def __exit__(self, *exc):
        if self.live is not None:
            self.live.__exit__(*exc)

    def log(self, line: str) -> None:
        self.lines = (self.lines + [line])[-8:]
        if self.live is None:
            print(line, flush=True)
        else:
            self.live.update(self._render())

    def _render(self):
        from rich.console import Group
        from rich.text import Text

        status = self.search.status if self.search else {}
        table = Table(show_header=False, box=None)
        sps = status.get("env_steps_per_s")
        best = status.get("best")
        candidates = (f"{status.get('proposed', 0)} proposed, {status.get('compiled', 0)} "
                      f"compiled, {status.get('failed', 0)} failed")
        tokens = self.usage.text().removeprefix("tokens: ")
        for key, value in (
            ("round", status.get("round", "-")),
            ("now", status.get("phase", "starting")),
            ("candidates", candidates),
            ("training", "-" if sps is None else f"{sps:,.0f} env steps/s (last round)"),
            ("best fitness", "-" if best is None else f"{best:.3f}"),
            ("tokens", tokens),
        ):
            table.add_row(Text(key, style="bold"), str(value))
        return Group(table, Text("\n".join(self.lines), style="dim"))


def cmd_search(cfg) -> int:
    """Runs the Eureka search (then the final evaluation and the report)."""
    from omegaconf import OmegaConf

    from eureka_jax.budget import budget_warnings
    from eureka_jax.evaluate import evaluate
    from eureka_jax.llm.factory import make_proposer
    from eureka_jax.llm.prompts import Prompts
    from eureka_jax.report import make_report
    from eureka_jax.runs import atomic_write
    from eureka_jax.search import Search, check_settings
    from eureka_jax.task import load_task

    cfg, run_dir = _search_settings(cfg)
    if cfg.backend == "isaacgym":
        from eureka_jax.bridges.isaacgym import IsaacGymBackend, load_isaacgym_task

        task = load_isaacgym_task(cfg.task, cfg.isaacgym.isaacgymenvs)
    elif cfg.backend == "jax":
        task = load_task(cfg.task, cfg.task_dirs)
    else:
        raise EurekaError(f"backend={cfg.backend} is not known; use backend=jax or "
                          "backend=isaacgym.")
    config, _ = check_settings(cfg, task)  # every setting, before anything is written
    trainer = None
    if cfg.backend == "isaacgym":
        backend = IsaacGymBackend(cfg, None)
        backend.check_installed()  # before any LLM call or run directory
        task.check_num_envs(cfg.isaacgym.num_envs)
    if run_dir is None:
        run_dir = new_run_dir(cfg, cfg.task, "search")
        atomic_write(run_dir / "config.yaml", OmegaConf.to_yaml(cfg))
    if cfg.backend == "isaacgym":
        backend = IsaacGymBackend(cfg, run_dir / "isaacgym")
        trainer = backend.train_candidates
    proposer, kind, usage = make_proposer(cfg, task, run_dir / "llm.jsonl")
    import jax

    for warning in (budget_warnings(task, config, jax.default_backend())
                    if cfg.backend == "jax" else []):
        print(f"warning: {warning}", flush=True)
    print(f"search on {task.name} with llm={kind}: {cfg.iteration} rounds x {cfg.sample} "
          f"samples x {cfg.seeds} seed(s) on {len(jax.devices())} {jax.default_backend()} "
          f"device(s) in {jax.process_count()} process(es); run directory {run_dir}",
          flush=True)
    view = SearchView(usage)
    search = Search(cfg, task, run_dir, proposer, Prompts(cfg.prompts_dir), log=view.log,
                    human_feedback=_human_feedback(cfg), trainer=trainer)
    view.search = search
    with view:
        summary = search.run()
    if summary["best"] is None:
        raise EurekaError(f"no candidate trained in {cfg.iteration} rounds; see {run_dir} for "
                          "the compile errors, or raise max_resample/sample.")
    if cfg.num_eval > 0:
        print(f"final evaluation: best, human and sparse rewards x {cfg.num_eval} seeds",
              flush=True)
        _print_evaluation(evaluate(cfg, task, summary["best"]["source"], run_dir, cfg.num_eval,
                                   trainer=trainer))
    report = make_report(run_dir)
    if usage.calls:
        print(usage.text()
              + (f", estimated cost {usage.cost:.4f}" if usage.cost is not None else ""))
    print(f"best reward: {run_dir / 'best_reward.py'}; report: {report}")
    return 0


def _print_evaluation(evaluation) -> None:
    from eureka_jax.evaluate import format_difference, format_hns

    table = Table(title=f"final evaluation ({evaluation['num_eval']} fresh seeds): "
                  f"{evaluation['statistic']}")
    table.add_column("reward")
    table.add_column("per seed", overflow="fold")
    table.add_column("mean ± std", justify="right")
    for label, r in evaluation["rewards"].items():
        cells = ", ".join("failed" if v is None else f"{v:.3f}" for v in r["fitness_per_seed"])
        mean = "-" if r["mean"] is None else f"{r['mean']:.3f} ± {r['std']:.3f}"
        table.add_row(label, cells, mean)
    console.print(table)
    for key, text in (("best_minus_human", "best − human"), ("best_minus_sparse",
                                                             "best − sparse")):
        print(f"{text}: {format_difference(evaluation[key])}")
    print("human-normalized score: " + format_hns(evaluation))


def _existing_run(cfg):
    from pathlib import Path

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
    from eureka_jax.task import load_task

    saved, run_dir = _existing_run(cfg)
    trainer = None
    if saved.get("backend") == "isaacgym":
        from eureka_jax.bridges.isaacgym import IsaacGymBackend, load_isaacgym_task

        task = load_isaacgym_task(saved.task, saved.isaacgym.isaacgymenvs)
        trainer = IsaacGymBackend(saved, run_dir / "isaacgym").train_candidates
    else:
        task = load_task(saved.task, saved.task_dirs)
    best = read_json(run_dir / "summary.json")["best"]
    if best is None:
        raise EurekaError(f"{run_dir} has no best reward to evaluate.")
    (run_dir / "evaluation_curves.npz").unlink(missing_ok=True)
    _print_evaluation(evaluate(saved, task, best["source"], run_dir, cfg.num_eval,
                               trainer=trainer))
    make_report(run_dir)
    return 0


def cmd_report(cfg) -> int:
    """Writes the plots and report.md of a run directory."""
    from eureka_jax.report import make_report

    _, run_dir = _existing_run(cfg)
    print(f"report: {make_report(run_dir)}")
    return 0


def cmd_doctor(cfg) -> int:
    """Shows devices, the mesh a search would use, versions, cache and usable backends."""
    from importlib import metadata

    import jax

    from eureka_jax.compile_cache import enable_compilation_cache
    from eureka_jax.train.batch import device_layout

    table = Table(title="eureka-jax doctor", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    devices = jax.devices()
    table.add_row("devices", ", ".join(f"{d.platform}:{d.id} ({d.device_kind})" for d in devices))
    table.add_row("processes", f"{jax.process_count()} (this is process {jax.process_index()})")
    layout = device_layout(cfg.sample, devices)
    table.add_row("mesh", f"1-D mesh 'candidates' over {layout['devices']} device(s): "
                  f"sample={cfg.sample} candidates -> {layout['padded_candidates']} slots, "
                  f"{layout['per_device']} per device, each with its {cfg.seeds} seed(s)")
    table.add_row("versions", ", ".join(
        f"{p} {metadata.version(p)}" for p in ("jax", "jaxlib", "mujoco", "mujoco-mjx", "brax",
                                               "playground", "openai")))
    table.add_row("compile cache", str(enable_compilation_cache()))
    for name, status in backend_status(cfg):
        table.add_row(name, status)
    console.print(table)
    return 0


def backend_status(cfg) -> list[tuple[str, str]]:
    """Which training backends are usable here and, for each missing piece, how to install it."""
    import importlib.util
    from importlib import metadata

    import jax

    from eureka_jax.bridges.isaacgym import INSTALL_STEPS, IsaacGymBackend

    rows = [("backend jax", f"usable: {len(jax.devices())} {jax.default_backend()} device(s)")]
    if importlib.util.find_spec("torch") is None:
        rows.append(("torch (bridge)", 'missing; install with: pip install -e ".[torch]"'))
    else:
        version = metadata.version("torch")
        rows.append(("torch (bridge)", f"{version} (only the Isaac Gym bridge uses it)"))
    try:
        exe = IsaacGymBackend(cfg).check_installed()
        rows.append(("backend isaacgym", f"usable: {exe} imports isaacgym and isaacgymenvs"))
    except EurekaError as e:
        rows.append(("backend isaacgym", f"not usable: {e}"))
    envs = cfg.isaacgym.isaacgymenvs
    rows.append(("IsaacGymEnvs source", envs if envs else
                 "not set (isaacgym.isaacgymenvs=...; needed for task context); " + INSTALL_STEPS))
    return rows


def cmd_curriculum(cfg) -> int:
    """Runs a curriculum (e.g. name=pen_spinning): each stage fine-tunes the previous one."""
    from eureka_jax.curriculum import JaxBackend, list_curricula, load_curriculum, run_curriculum

    if not cfg.name:
        raise EurekaError("say which curriculum: name=NAME (one of: "
                          f"{', '.join(list_curricula())}) or name=PATH.yaml.")
    curriculum = load_curriculum(cfg.name)
    if cfg.backend == "jax":
        backend = JaxBackend(cfg)
    elif cfg.backend == "isaacgym":
        from eureka_jax.bridges.isaacgym import IsaacGymCurriculumBackend

        backend = IsaacGymCurriculumBackend(cfg)
    else:
        raise EurekaError(f"backend={cfg.backend} is not known; use backend=jax or "
                          "backend=isaacgym.")
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


COMMANDS = {
    "tasks": cmd_tasks,
    "show-task": cmd_show_task,
    "check-reward": cmd_check_reward,
    "train": cmd_train,
    "propose": cmd_propose,
    "search": cmd_search,
    "evaluate": cmd_evaluate,
    "report": cmd_report,
    "curriculum": cmd_curriculum,
    "doctor": cmd_doctor,
}

USAGE = (
    "usage: eureka-jax SUBCOMMAND [key=value ...]\n\n"
    "subcommands:\n"
    + "\n".join(f"  {name:<12} {fn.__doc__.splitlines()[0]}" for name, fn in COMMANDS.items())
    + "\n\nexamples:\n  eureka-jax tasks\n  eureka-jax show-task task=cartpole\n"
    "  eureka-jax check-reward task=cartpole reward=human\n"
    "  eureka-jax train task=cartpole reward=human,sparse seeds=2\n"
    "  eureka-jax propose task=cartpole sample=4 llm=offline\n"
    "  eureka-jax search task=cartpole iteration=3 sample=8 llm=offline\n"
    "  eureka-jax search --resume runs/cartpole/search-<time>\n"
    "  eureka-jax curriculum name=pen_spinning\n"
)


TRAINING_COMMANDS = ("train", "search", "evaluate", "curriculum")


def _run(command: str, cfg) -> int:
    """Runs a subcommand; with ``distributed.*`` set, process 0 runs it and the other
    processes train the batches it hands them (see ``eureka_jax.distributed``)."""
    from eureka_jax import distributed

    if not distributed.initialize(cfg):
        return COMMANDS[command](cfg)
    import jax

    if not distributed.is_leader():
        if command not in TRAINING_COMMANDS:
            return COMMANDS[command](cfg)
        jobs = distributed.serve(cfg.task_dirs, float(cfg.distributed.job_timeout))
        print(f"process {jax.process_index()}: trained {jobs} batch(es) for process 0; done.")
        return 0
    try:
        return COMMANDS[command](cfg)
    finally:
        distributed.finish()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0
    command, overrides = args[0], args[1:]
    if "--resume" in overrides:  # eureka-jax search --resume DIR
        i = overrides.index("--resume")
        if i + 1 >= len(overrides):
            err_console.print("error: --resume needs a run directory; write --resume DIR.")
            return 2
        overrides = overrides[:i] + [f"resume={overrides[i + 1]}"] + overrides[i + 2:]
    if command not in COMMANDS:
        err_console.print(
            f"error: unknown subcommand '{command}'; choose one of: {', '.join(COMMANDS)}.",
            highlight=False,
        )
        return 2
    try:
        cfg = load_config(overrides)
        from eureka_jax.compile_cache import enable_compilation_cache

        enable_compilation_cache()
        status = _run(command, cfg)
    except EurekaError as e:
        err_console.print(f"error: {e}", highlight=False, markup=False)
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted.")
        return 130
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
