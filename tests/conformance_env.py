"""The Isaac Gym conformance environment: a second virtualenv holding what an Isaac Gym user's
interpreter holds (JAX/jaxlib 0.4.13, rl-games 1.6.5, hydra-core, torch CPU; requirements in
``tests/fixtures/isaacgym/conformance-requirements.txt``), in which the bridge's runtime, real
rl_games trainings and real hydra start-ups are tested. Only Isaac Gym itself is a stand-in.

Built once into ``.venv-ig/`` at the repository root (or where ``EUREKA_JAX_IG_VENV`` says) and
rebuilt when the requirements change; ``.ci/run`` builds it before the tests (and reports its
cost), and the tests' session fixture builds it if it is missing. Building it takes about 35 s
with a warm pip cache.

    python tests/conformance_env.py      # build (or check) it and print its interpreter
"""

import fcntl
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "tests" / "fixtures" / "isaacgym" / "conformance-requirements.txt"


def venv_dir() -> Path:
    return Path(os.environ.get("EUREKA_JAX_IG_VENV") or ROOT / ".venv-ig")


def _stamp() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def conformance_python(log=None) -> Path:
    """The conformance interpreter, built first if missing or stale (a lock file keeps two
    pytest workers from building it at once)."""
    venv = venv_dir()
    python = venv / "bin" / "python"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(str(venv) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = venv / "requirements.sha256"
        if python.exists() and stamp.is_file() and stamp.read_text() == _stamp():
            return python
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        for args in (["--upgrade", "pip"], ["-r", str(REQUIREMENTS)]):
            done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", *args],
                                  capture_output=True, text=True, check=False)
            if done.returncode:
                raise RuntimeError(f"building the Isaac Gym conformance environment in {venv} "
                                   f"failed (pip install {' '.join(args)}):\n{done.stderr}")
        stamp.write_text(_stamp())
        if log:
            log(f"built the Isaac Gym conformance environment in {venv} "
                f"({time.perf_counter() - start:.0f} s)")
        return python


if __name__ == "__main__":
    start = time.perf_counter()
    path = conformance_python(log=print)
    print(f"{path} ({time.perf_counter() - start:.0f} s)")
