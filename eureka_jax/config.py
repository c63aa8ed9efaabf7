"""Command-line configuration: Hydra composes ``configs/config.yaml`` with ``key=value``
overrides, then the result is checked against a typed schema so a bad value is reported as
one sentence."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from eureka_jax.backend import backend_names, backend_settings
from eureka_jax.errors import EurekaError

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"

# Eureka/IsaacGymEnvs spellings that mean one of our keys.
ALIASES = {"env": "task"}


@dataclass
class DistributedConfig:
    """``distributed.*``: joining several processes/hosts with ``jax.distributed``."""

    coordinator: str | None = None
    num_processes: int | None = None
    process_id: int | None = None
    auto: bool = False
    initialization_timeout: int = 300
    job_timeout: float = 86400.0


@dataclass
class CoreConfig:
    """The typed schema of ``configs/config.yaml`` (see that file for what each key does),
    less the backends' own sections (``Config`` adds them)."""

    task: str = "cartpole"
    task_dirs: list[str] = field(default_factory=list)
    seed: int = 0
    iteration: int = 5
    sample: int = 16
    seeds: int = 1
    confirm: int = 2
    race_score: str = "heldout"
    tune: int = 1
    tune_range: float = 3.0
    target_fitness: Any = "task"
    num_eval: int = 5
    select: str = "max"
    context: str = "global"
    init: str = "none"
    feedback: str = "none"
    feedback_file: str | None = None
    max_resample: int = 3
    reward_cost_ratio: float = 10.0
    reflection_tokens: int = 1500
    references: str = "auto"
    resume: str | None = None
    run: str | None = None
    llm: str = "auto"
    model: str = "gpt-4o"
    temperature: float = 1.0
    base_url: str | None = None
    api_key: str | None = None
    max_retries: int = 5
    request_timeout: float = 120.0
    max_samples_per_request: int | None = None
    replay: list[str] = field(default_factory=list)
    prompts_dir: str | None = None
    price_prompt_per_1k: float | None = None
    price_completion_per_1k: float | None = None
    runs_dir: str = "runs"
    max_iterations: int | None = None
    reward: str | None = None
    profile: str = "cpu"
    train: dict = field(default_factory=dict)
    episodes: int = 1
    video: str = "gif"
    video_width: int = 320
    video_height: int = 240
    camera: str | None = None
    report_video: bool = True
    name: str | None = None
    backend: str = "jax"
    dr_iteration: int = 0
    dr_sample: int = 4
    dr_seeds: int = 3
    dr_tolerance: float = 0.2
    dr_models: int = 32
    dr_episodes: int = 4
    suite: str = "eureka"
    tasks: Any = None
    distributed: DistributedConfig = field(default_factory=DistributedConfig)


# the schema: the core keys and one section per backend that registers settings of its own
# (``backend.BACKEND_SETTINGS``: e.g. ``isaacgym.python=...``)
Config = dataclasses.make_dataclass(
    "Config", [(name, section, field(default_factory=section))
               for name, section in backend_settings().items()], bases=(CoreConfig,))
Config.__module__ = __name__


VALID_KEYS = tuple(f.name for f in dataclasses.fields(Config))

# Enum-like keys and their values: checked here, once, for every command.
CHOICES = {
    "select": ("max", "final"),
    "context": ("global", "round"),
    "race_score": ("heldout", "all"),
    "init": ("none", "human"),
    "references": ("auto", "off"),
    "feedback": ("none", "human"),
    "llm": ("auto", "offline", "openai", "replay"),
    "profile": ("cpu", "gpu"),
    "video": ("gif", "mp4"),
}


def check_choices(cfg) -> None:
    """One sentence for the first enum-like key with a value it does not take."""
    for key, allowed in {**CHOICES, "backend": backend_names()}.items():
        if cfg[key] not in allowed:
            raise EurekaError(f"{key}={cfg[key]} is not known; use "
                              + " or ".join(f"{key}={a}" for a in allowed) + ".")


def _normalize(override: str) -> str:
    if "=" not in override:
        raise EurekaError(
            f"argument '{override}' is not of the form key=value; write e.g. task=cartpole."
        )
    key, value = override.split("=", 1)
    prefix = key[: len(key) - len(key.lstrip("+~"))]
    bare = key[len(prefix):]
    head, dot, tail = bare.partition(".")
    top = ALIASES.get(head, head)
    if top not in VALID_KEYS:
        raise EurekaError(f"unknown key '{bare}'; valid keys are: {', '.join(VALID_KEYS)}.")
    rest = dot + tail
    if top in LIST_KEYS and not rest and value[:1] != "[":
        # task_dirs=/path (or /a,/b) without brackets: a list of those paths
        items = [v for v in value.split(",") if v]
        return f"{prefix}{top}=[" + ",".join(_quote(v) for v in items) + "]"
    if top == "train" and rest and not prefix:
        prefix = "++"  # train.KEY=VALUE adds to or overrides the task's own training settings
    if "," in value and value[:1] not in "[{'\"":
        # Hydra reads a,b as a multirun sweep; for us it is one value (reward=a.py,b.py).
        value = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return f"{prefix}{top}{rest}={value}"


LIST_KEYS = ("task_dirs", "replay")


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def load_config(overrides: list[str] = ()) -> DictConfig:
    """Composes the config with ``key=value`` overrides and checks every value's type.

    Raises:
      EurekaError: for a malformed argument, an unknown key or a value of the wrong type.
    """
    normalized = [_normalize(o) for o in overrides]
    if not CONFIG_DIR.is_dir():
        raise EurekaError(
            f"config folder {CONFIG_DIR} is missing; install from a clone with 'pip install -e .'."
        )
    try:
        with initialize_config_dir(str(CONFIG_DIR), version_base=None):
            composed = compose("config", overrides=normalized)
        cfg = OmegaConf.merge(OmegaConf.structured(Config), composed)
    except (HydraException, OmegaConfBaseException) as e:
        raise EurekaError(f"bad override ({_first_line(e)}); check the value's type.") from e
    check_choices(cfg)
    OmegaConf.set_readonly(cfg, True)
    return cfg


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
