"""The worker process in which reward code is first executed, traced and probed.

Why a process: a hang in C (``10**10**10``, ``math.factorial(10**9)``) cannot be interrupted
by a signal handler in the same thread, and a memory bomb must not take the trainer with it.
The worker runs with an address-space limit and is killed at the wall-clock limit; the parent
then starts a new one. Only a program that passed there is ever executed in the parent.

Entry point: ``_worker_main(FD, LIMIT)``, started by ``Worker`` with ``python -c``.
"""

from __future__ import annotations

import os
import sys
import traceback

from eureka_jax.reward.policy import DEFAULT_POLICY, Policy


def _worker_main(fd: int, memory_limit_bytes: int) -> None:
    import resource
    from multiprocessing.connection import Connection

    resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))
    import jax

    jax.config.update("jax_platforms", "cpu")  # checks never take GPU memory from training
    # start XLA's CPU client (thread pools, allocator) now, so that each check's memory
    # budget measures the program, not the client
    jax.jit(lambda x: x + 1)(jax.numpy.ones(2)).block_until_ready()
    from eureka_jax.reward.checks import check_program

    conn = Connection(fd)
    conn.send("ready")
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        try:
            conn.send(check_program(**request))
        except Exception:  # noqa: BLE001 - a bug of ours, not the program's: report it
            conn.send({"ok": False, "internal": traceback.format_exc()})


class Worker:
    """A long-lived checker process; killed and replaced when a program exceeds its limits.

    A plain subprocess (``python -c``, calling ``_worker_main``) rather than multiprocessing's
    spawn, which would re-run the user's main script in the child.
    """

    STARTUP_TIMEOUT_S = 180.0

    def __init__(self, policy: Policy = DEFAULT_POLICY):
        self.policy = policy
        self._process = None
        self._conn = None

    def _start(self) -> None:
        import socket
        import subprocess
        from multiprocessing.connection import Connection

        ours, theirs = socket.socketpair()
        env = {**os.environ, "JAX_PLATFORMS": "cpu",
               "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self._process = subprocess.Popen(
            # -c, not -m: the package imports this module, and runpy warns when it runs a
            # module that is already imported
            [sys.executable, "-c", ("import sys; from eureka_jax.reward.worker import "
             "_worker_main; _worker_main(int(sys.argv[1]), int(sys.argv[2]))"),
             str(theirs.fileno()), str(self.policy.memory_limit_bytes)],
            pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self._conn = Connection(ours.detach())
        if not self._conn.poll(self.STARTUP_TIMEOUT_S) or self._conn.recv() != "ready":
            self.close()
            raise RuntimeError("the reward checker process did not start")

    def run(self, request: dict, timeout_s: float) -> dict:
        """Sends one check to the worker; returns its answer or a timeout/resource failure."""
        if self._process is None or self._process.poll() is not None:
            self._start()
        self._conn.send(request)
        try:
            if self._conn.poll(timeout_s):
                answer = self._conn.recv()
                if "internal" in answer:
                    raise RuntimeError(f"reward checker failed:\n{answer['internal']}")
                return answer
        except (EOFError, ConnectionResetError, OSError):
            self.close()
            return {
                "ok": False, "category": "resource", "line": None,
                "message": "the program exhausted the checker's memory "
                f"(limit {self.policy.memory_limit_bytes >> 20} MiB); use small arrays.",
            }
        self.close()
        return {
            "ok": False, "category": "timeout", "line": None,
            "message": f"executing and tracing the program took longer than {timeout_s:g} s; "
            "avoid huge Python loops and huge integer arithmetic.",
        }

    def close(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = None


if __name__ == "__main__":
    _worker_main(int(sys.argv[1]), int(sys.argv[2]))
