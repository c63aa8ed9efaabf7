"""The JAX/MJX backend: our task folders, trained by the batched trainer (``train.batch``)."""

from __future__ import annotations

from pathlib import Path

from eureka_jax.errors import EurekaError


class JaxBackend:
    """Task folders (``envs/``, ``task_dirs``) trained candidates x seeds x envs in compiled
    programs on this process's JAX devices. Curriculum stages: one candidate x S seeds;
    checkpoints are the final parameters of every seed (msgpack), and seed s of a stage starts
    from seed s of the previous one.

    Args:
      cfg: the resolved command-line config, read here once (``make_backend`` is the edge):
        ``task_dirs`` and the ``TrainingRequest`` curriculum stages train with.
      work_dir: unused (the trainings write nothing of their own).
      fused: train with the rewards traced into one program (``train_candidates(fused=)``,
        the reference ``benchmarks/compile_once.py`` measures against).
    """

    name = "jax"
    supports = frozenset({"tuning", "references", "saved_policies", "video", "budget_checks",
                          "padding", "randomization", "suites"})

    def __init__(self, cfg, work_dir: Path | None = None, fused: bool = False):
        from eureka_jax.train.config import TrainingRequest

        self.task_dirs = list(cfg.task_dirs)
        self.training = TrainingRequest.from_config(cfg)
        self.fused = fused
        self._tasks = {}

    def load_task(self, name: str):
        from eureka_jax.task import load_task

        if name not in self._tasks:
            self._tasks[name] = load_task(name, self.task_dirs)
        return self._tasks[name]

    def prepare(self, task, work_dir: Path | None) -> None:
        """Nothing to check: a task folder that loaded trains here."""

    def train_candidates(self, task, reward_fns, config, hparams=None, seeds=(0,), labels=None,
                         slots=None, min_rows: int = 0, **options):
        """``train.batch.train_candidates`` across the joined processes
        (``distributed.train_candidates``; one process: the trainer itself). ``options``: its
        other arguments, e.g. ``constants`` for tuning, ``init_params``."""
        from eureka_jax.distributed import train_candidates

        return train_candidates(task, reward_fns, config, hparams, seeds=seeds, labels=labels,
                                slots=slots, min_rows=min_rows, fused=self.fused, **options)

    def budget(self, task, config, hparams, num_seeds: int, select: str) -> tuple:
        import jax

        from eureka_jax.budget import budget_note, budget_text

        platform = jax.default_backend()
        return (budget_note(task, config, platform),
                budget_text(task, config, num_seeds, select, hparams=hparams,
                            platform=platform))

    def task_rewards(self, stage):
        task = self.load_task(stage.task)
        return (lambda: task.human_reward_source), (lambda: task.sparse_reward_source)

    def train_stage(self, stage, reward_source, init, stage_dir):
        from eureka_jax.curriculum import StageOutcome
        from eureka_jax.reward import RewardError, compile_reward
        from eureka_jax.runs import load_params, save_params, save_result

        task = self.load_task(stage.task)
        try:
            fn = compile_reward(reward_source, task)
        except RewardError as e:
            raise EurekaError(f"stage {stage.name}: the reward does not compile on {task.name} "
                              f"[{e.category}]: {e.message}") from e
        config, hparams = self.training.resolve(task, stage.train)
        seeds = self.training.seed_list()
        init_params = None
        if init is not None:
            init_params = load_params(Path(init), task, config, [fn], len(seeds))
        result = self.train_candidates(task, [fn], config, hparams, seeds=seeds,
                                       labels=[stage.name], init_params=init_params)
        checkpoint = Path(stage_dir) / "params.msgpack"
        save_params(checkpoint, result.params)
        save_result(Path(stage_dir) / "curves.npz", result)
        return StageOutcome(
            checkpoint=str(checkpoint),
            fitness=[float(x) for x in result.max_fitness()[0]],
            final_fitness=[float(x) for x in result.final_fitness()[0]],
            details={"env_steps_per_run": config.total_env_steps,
                     "compile_seconds": result.compile_seconds,
                     "run_seconds": result.run_seconds, "seeds": seeds},
        )

    def status(self) -> list[tuple[str, str]]:
        import jax

        devices = f"{len(jax.devices())} {jax.default_backend()} device(s)"
        return [("backend jax", f"usable: {devices}")]
