"""``check-reward``, ``train`` and ``propose``: rewards given by file, trained or asked for."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from eureka_jax.cli.common import console, new_run_dir
from eureka_jax.errors import EurekaError


def read_reward_file(path: Path) -> bytes:
    """A reward file's bytes, at most what the compiler could accept (plus one, so that a
    longer file is rejected as too long rather than read whole); the compiler decodes them."""
    from eureka_jax.reward.policy import DEFAULT_POLICY

    with open(path, "rb") as f:
        return f.read(4 * DEFAULT_POLICY.max_reply_chars + 1)


def reward_sources(spec: str | None, task) -> list[tuple[str, str]]:
    """``reward=PATH[,PATH...]`` (or ``human``/``sparse``) -> [(label, source)]."""

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
            sources.append((str(path), read_reward_file(path)))
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
    """Trains reward file(s) batched (candidates x seeds): fitness per candidate and seed; saves
    the curves and policies in runs/<task>/train-<time>/."""
    import numpy as np

    from eureka_jax.distributed import train_candidates
    from eureka_jax.reward import RewardError, compile_reward, policy_for
    from eureka_jax.task import load_task
    from eureka_jax.train.config import TrainingRequest

    task = load_task(cfg.task, cfg.task_dirs)
    request = TrainingRequest.from_config(cfg)
    config, hparams = request.resolve(task)
    labels, fns, sources = [], [], []
    for label, source in reward_sources(cfg.reward, task):
        try:
            fns.append(compile_reward(source, task, policy=policy_for(cfg)))
            labels.append(label)
            sources.append(source.decode() if isinstance(source, bytes) else source)
        except RewardError as e:
            print(f"{label}: REJECTED [{e.category}] {e.message}")
    if not fns:
        raise EurekaError("no reward compiled; fix the rewards above (eureka-jax check-reward).")
    seeds = request.seed_list()
    import jax

    from eureka_jax.budget import budget_warnings

    for warning in budget_warnings(task, config, jax.default_backend(), cfg.profile):
        print(f"warning: {warning}", flush=True)
    print(f"training {len(fns)} candidate(s) x {len(seeds)} seed(s) on {task.name}: "
          f"{config.total_env_steps:,} env steps each ({config.num_updates} updates x "
          f"{config.num_envs} envs x {config.unroll_length} steps)", flush=True)
    result = train_candidates(task, fns, config, hparams, seeds=seeds, labels=labels)
    run_dir = _save_training(cfg, task, result, config, seeds, sources)
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
    print(f"saved: {run_dir} (curves.npz, policies.msgpack; film one with eureka-jax play "
          f"run={run_dir} reward={labels[0]})")
    return 0 if np.isfinite(best).all() else 1


def _save_training(cfg, task, result, config, seeds, sources):
    """``runs/<task>/train-<time>/``: config.yaml, the curves and the trained policies (the
    layout ``eureka-jax play`` reads)."""
    from omegaconf import OmegaConf

    from eureka_jax.runs import atomic_write, save_policies, save_result

    run_dir = new_run_dir(cfg, task.name, "train")
    atomic_write(run_dir / "config.yaml", OmegaConf.to_yaml(cfg))
    save_result(run_dir / "curves.npz", result)
    save_policies(run_dir, result, task, config, seeds, sources=sources, curves="curves.npz")
    return run_dir


def cmd_propose(cfg) -> int:
    """Asks the proposer for `sample` reward programs for a task and compiles each."""
    from eureka_jax.llm.factory import make_proposer
    from eureka_jax.llm.prompts import Prompts
    from eureka_jax.reward import RewardError, compile_reward, policy_for
    from eureka_jax.task import load_task

    task = load_task(cfg.task, cfg.task_dirs)
    run_dir = new_run_dir(cfg, task.name, "propose")
    proposer, kind, usage = make_proposer(cfg, task, run_dir / "llm.jsonl")
    import jax

    from eureka_jax.budget import budget_text
    from eureka_jax.train.config import training_settings

    config, hparams = training_settings(cfg, task)
    messages = Prompts(cfg.prompts_dir).initial(task, budget_text(
        task, config, cfg.seeds, cfg.select, hparams=hparams, platform=jax.default_backend()))
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
