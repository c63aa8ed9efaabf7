"""Replay a saved policy and film it: ``eureka-jax play run=DIR``.

A run directory that trained policies keeps them (``policies.msgpack`` + ``policies.json``:
the final evaluation of a search, or ``eureka-jax train``). ``replay`` runs the trainer's own
evaluation function (``make_parts(...).evaluate``) with the key of the run's last evaluation,
so its episodes are that evaluation's: with deterministic actions the replayed fitness is the
run's final fitness for that seed. ``render`` draws the recorded states with MuJoCo's
renderer and ``write_video`` writes a GIF or an MP4 with
mediapy (ffmpeg from PATH, else the one the ``imageio-ffmpeg`` wheel carries).

Rendering needs an OpenGL backend chosen before ``mujoco`` is first imported
(``MUJOCO_GL``): ``choose_gl`` picks EGL on an NVIDIA machine, OSMesa on a CPU one (Debian
package ``libosmesa6``), GLFW with a display, and says what to install when none is there.
"""

from __future__ import annotations

import ctypes.util
import os
import sys
from pathlib import Path

import numpy as np

from eureka_jax.errors import EurekaError

GL_LIBRARIES = {"egl": "EGL", "osmesa": "OSMesa"}
GL_HELP = ("install Debian's libosmesa6 (apt-get install libosmesa6) to render on the CPU, or "
           "on an NVIDIA GPU machine libegl1 with the driver; or set MUJOCO_GL yourself")


def choose_gl(environ=None, required: bool = True) -> str | None:
    """Sets ``MUJOCO_GL`` (when unset) to a backend this machine has and returns it: ``egl``
    where an NVIDIA device and libEGL are present, else ``osmesa`` where libOSMesa is, else
    ``glfw`` with a display. Call before ``mujoco`` is imported (it reads the variable once).
    With none available: an error that says what to install, or None if not ``required``.
    """
    environ = os.environ if environ is None else environ
    chosen = environ.get("MUJOCO_GL", "").strip().lower()
    if chosen:
        library = GL_LIBRARIES.get(chosen)
        if library and not ctypes.util.find_library(library):
            raise EurekaError(f"MUJOCO_GL={chosen} but lib{library} is not installed; "
                              f"{GL_HELP}.")
        return chosen
    nvidia = os.path.exists("/dev/nvidia0") or os.path.exists("/dev/nvidiactl")
    if nvidia and ctypes.util.find_library("EGL"):
        chosen = "egl"
    elif ctypes.util.find_library("OSMesa"):
        chosen = "osmesa"
    elif environ.get("DISPLAY"):
        chosen = "glfw"
    elif required:
        raise EurekaError(f"no OpenGL backend to render with (no libOSMesa, no NVIDIA EGL, "
                          f"no display); {GL_HELP}.")
    else:
        return None
    environ["MUJOCO_GL"] = chosen
    return chosen


def _check_gl_before_render() -> None:
    """A clear error when mujoco was imported with another (or no) backend than the one
    ``MUJOCO_GL`` names now."""
    gl = sys.modules.get("mujoco.rendering.classic.gl_context")
    wanted = os.environ.get("MUJOCO_GL", "").strip().lower()
    if gl is not None and getattr(gl, "_MUJOCO_GL", wanted) != wanted:
        raise EurekaError(f"mujoco was imported before MUJOCO_GL={wanted} was set; set it in "
                          "the environment before starting Python (the eureka-jax command "
                          "does this itself).")
    if gl is not None and getattr(gl, "GLContext", None) is None:
        raise EurekaError(f"MuJoCo has no OpenGL context ({getattr(gl, '_import_error', '')}); "
                          f"{GL_HELP}.")


class SavedPolicies:
    """The policies a run directory keeps, with what rebuilds their training.

    Attributes:
      run_dir, task, config (``TrainConfig``), labels (one per reward row), sources (each
      row's reward source), seeds (the columns), reward_fns (compiled), params (leaves
      [rows, seeds, ...]).
    """

    def __init__(self, run_dir, task_dirs=()):
        from eureka_jax.reward import compile_reward
        from eureka_jax.runs import load_params, read_json
        from eureka_jax.task import load_task
        from eureka_jax.train.config import split_train_settings

        self.run_dir = Path(run_dir).expanduser()
        meta_path = self.run_dir / "policies.json"
        if not meta_path.is_file() or not (self.run_dir / "policies.msgpack").is_file():
            raise EurekaError(
                f"{self.run_dir} keeps no policies (policies.json + policies.msgpack); give a "
                "search run with a final evaluation (num_eval > 0) or an 'eureka-jax train' run.")
        meta = read_json(meta_path)
        if not meta.get("sources"):
            raise EurekaError(f"{meta_path} does not record the reward sources (written by an "
                              "older eureka-jax); run 'eureka-jax evaluate run=...' again.")
        self.meta = meta
        self.task = load_task(meta["task"], task_dirs)
        self.config = split_train_settings(meta["train"])[0]
        self.labels = list(meta["rewards"])
        self.sources = [meta["sources"][label] for label in self.labels]
        self.seeds = [int(s) for s in meta["seeds"]]
        self.reward_fns = [compile_reward(src, self.task) for src in self.sources]
        self.params = load_params(self.run_dir / "policies.msgpack", self.task, self.config,
                                  self.reward_fns, len(self.seeds))

    def row(self, reward: str | None) -> int:
        """The row of ``reward`` (a label; None: the first, 'best' in a search run)."""
        if reward is None:
            return 0
        if reward not in self.labels:
            raise EurekaError(f"this run keeps no policy for reward '{reward}'; choose one of "
                              f"{', '.join(self.labels)}.")
        return self.labels.index(reward)

    def column(self, seed: int) -> int:
        """The column of ``seed``: a saved seed's number, or else its position (0-based)."""
        seed = int(seed)
        if seed in self.seeds:
            return self.seeds.index(seed)
        if 0 <= seed < len(self.seeds):
            return seed
        raise EurekaError(f"this run keeps no policy for seed {seed}; its seeds are "
                          f"{', '.join(map(str, self.seeds))} (or give their position, 0-"
                          f"{len(self.seeds) - 1}).")


def replay(saved: SavedPolicies, row: int, column: int) -> dict:
    """Runs the saved policy (row, column) through the run's last evaluation again.

    Returns ``fitness`` (the mean over the evaluation's envs: the run's final fitness),
    ``finite``, and per env ``env_fitness``, ``env_return``, ``env_length`` and the recorded
    ``states`` ([episode_length + 1, envs, ...]); numpy."""
    import jax
    import jax.numpy as jnp

    from eureka_jax.train import learners
    from eureka_jax.train import rewards as rewards_lib
    from eureka_jax.train.batch import source_constants
    from eureka_jax.train.ppo import evaluation_stats

    parts = learners.parts(saved.task, saved.config)
    normalizer, policy, _ = jax.tree.map(lambda x: x[row, column], saved.params)
    key = parts.eval_key(jax.random.PRNGKey(saved.seeds[column]))
    # the program's constants as arguments, as the trainer passed them (not folded literals)
    table = source_constants(saved.reward_fns)
    constants = None if table is None else jnp.asarray(table[row])
    reward_fn = saved.reward_fns[row]
    reward = rewards_lib.program(reward_fn, len(reward_fn.component_names))

    @jax.jit
    def run(normalizer, policy, key, constants):
        episodes = parts.evaluate(normalizer, policy, key, record=True)
        total, comps = jax.vmap(jax.vmap(lambda x: reward(x, constants)))(episodes.inputs)
        stats = evaluation_stats(episodes, total, comps)
        _, _, _, env_return = rewards_lib.episode_sums(total, comps, episodes.alive,
                                                       episodes.length)
        return stats, env_return, episodes

    (fitness, _, _, _, _, finite), env_return, episodes = run(normalizer, policy, key, constants)
    return {"fitness": float(fitness), "finite": bool(finite),
            "env_fitness": np.asarray(episodes.fitness), "env_return": np.asarray(env_return),
            "env_length": np.asarray(episodes.length),
            "states": jax.tree.map(np.asarray, episodes.states)}


def frame_every(dt: float, fps: float = 30.0) -> int:
    """Render every n-th control step, so a video plays near real time at <= ``fps``."""
    return max(1, round(1.0 / (float(dt) * fps)))


def render(task, states: dict, envs, lengths, width=320, height=240, camera=None,
           every: int = 1) -> list[np.ndarray]:
    """Frames [H, W, 3] of the recorded episodes ``envs`` (each up to its length), one after
    the other: each recorded state is set on an ``MjData`` and drawn by ``mujoco.Renderer``
    (as Playground's ``render_array`` does, without its progress bar)."""
    import mujoco

    _check_gl_before_render()
    model = _lit(task.env.mj_model)
    if camera is not None and mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera) < 0:
        names = [model.camera(i).name for i in range(model.ncam)]
        raise EurekaError(f"the task's model has no camera '{camera}'; choose one of "
                          f"{', '.join(names) or '(none: leave camera unset for the free one)'}.")
    renderer = mujoco.Renderer(model, height=int(height), width=int(width))
    data = mujoco.MjData(model)
    frames = []
    try:
        for env in envs:
            for t in range(0, int(lengths[env]) + 1, every):
                for name, values in states.items():
                    getattr(data, name)[:] = values[t, env]
                mujoco.mj_forward(model, data)
                renderer.update_scene(data, camera=-1 if camera is None else camera)
                frames.append(renderer.render())
    finally:
        renderer.close()
    return frames


def _lit(model):
    """The model with a brighter headlight when it defines no light of its own (our small
    task models), so frames are not near-black."""
    if model.nlight == 0:
        import copy

        model = copy.copy(model)
        model.vis.headlight.ambient[:] = 0.4
        model.vis.headlight.diffuse[:] = 0.8
    return model


def write_video(frames, path, fps: float) -> Path:
    """Writes ``frames`` as ``path`` (.gif or .mp4) with mediapy."""
    import mediapy

    path = Path(path)
    if path.suffix not in (".gif", ".mp4"):
        raise EurekaError(f"videos are written as .gif or .mp4, not '{path.suffix}'.")
    if not mediapy._search_for_ffmpeg_path():
        import imageio_ffmpeg

        mediapy.set_ffmpeg(imageio_ffmpeg.get_ffmpeg_exe())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    mediapy.write_video(tmp, np.asarray(frames), fps=fps,
                        codec="gif" if path.suffix == ".gif" else "h264")
    os.replace(tmp, path)
    return path


def play(saved: SavedPolicies, reward=None, seed: int = 0, episodes: int = 1, fmt="gif",
         width=320, height=240, camera=None, out=None) -> dict:
    """Replays one saved policy, films ``episodes`` of its evaluation episodes and returns
    what happened: the replayed and recorded final fitness, each filmed episode's fitness,
    return and length, and the video's path."""
    from eureka_jax.runs import read_arrays

    row, column = saved.row(reward), saved.column(seed)
    n = saved.config.eval_envs
    if not 1 <= int(episodes) <= n:
        raise EurekaError(f"episodes must be between 1 and the evaluation's {n} episodes "
                          "(train.eval_envs of the run).")
    result = replay(saved, row, column)
    every = frame_every(saved.task.env.dt)
    envs = list(range(int(episodes)))
    frames = render(saved.task, result["states"], envs, result["env_length"], width, height,
                    camera, every)
    label = saved.labels[row]
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(label).stem)
    path = Path(out) if out else saved.run_dir / "play" / (
        f"{name}-seed{saved.seeds[column]}.{fmt}")
    write_video(frames, path, fps=1.0 / (saved.task.env.dt * every))
    recorded = None
    curves = saved.run_dir / saved.meta.get("curves", "evaluation_curves.npz")
    if curves.is_file():
        recorded = float(read_arrays(curves)["fitness"][row, column, -1])
    return {
        "reward": label, "seed": saved.seeds[column], "video": str(path), "frames": len(frames),
        "fitness": result["fitness"], "recorded_fitness": recorded,
        "episodes": [{"fitness": float(result["env_fitness"][e]),
                      "return": float(result["env_return"][e]),
                      "length": int(result["env_length"][e])} for e in envs],
    }
