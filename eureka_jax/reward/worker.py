"""The processes in which reward code is executed, traced, probed and exported.

Why processes: a hang in C (``10**10**10``, ``math.factorial(10**9)``) cannot be interrupted by a
signal handler in the same thread, a memory bomb must not take the trainer with it, and a
program must not change how later programs are judged. So a long-lived *zygote* process imports
JAX (without starting a backend, so without threads) and, for each program, forks a child that
starts JAX's CPU client, checks that one program under an address-space limit, sends back its
answer (with the exported program) and exits. Every program is checked from the same clean
state; the zygote itself never executes reward code. A child past the wall-clock limit is
killed. The next child is forked (and starts its JAX client) while the current one checks,
so a program waits for little more than its own check (``benchmarks/reward_compile.py``).

Entry point: ``_zygote_main(FD, LIMIT)``, started by ``Worker`` with ``python -c``.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback

from eureka_jax.reward.policy import DEFAULT_POLICY, Policy


def _spare(memory_limit_bytes: int, close=()):
    """Forks a child that starts JAX's CPU client, then waits for one request, checks that
    program, sends the answer and exits without cleanup. Returns (pid, request pipe, answer
    pipe). Forked ahead of need, so its start-up overlaps the previous check."""
    from multiprocessing.connection import Pipe

    request_reader, request_writer = Pipe(duplex=False)
    answer_reader, answer_writer = Pipe(duplex=False)
    pid = os.fork()
    if pid:
        request_reader.close()
        answer_writer.close()
        return pid, request_writer, answer_reader
    code = 0
    try:
        for c in (*close, request_writer, answer_reader):
            c.close()
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))
        import jax

        jax.config.update("jax_platforms", "cpu")  # checks never take GPU memory from training
        # no Python frames in the export's locations: the same program exports to the same
        # bytes whichever call path forked its checker
        jax.config.update("jax_include_full_tracebacks_in_locations", False)
        jax.config.update("jax_traceback_in_locations_limit", 0)
        # start XLA's CPU client now, so that the program's memory budget measures the
        # program, not the client
        jax.jit(lambda x: x + 1)(jax.numpy.ones(2)).block_until_ready()
        from eureka_jax.reward.checks import check_program

        request = request_reader.recv()
        answer_writer.send(check_program(**request))
    except EOFError:  # the zygote closed: no request will come
        pass
    except MemoryError:
        code = 3
    except BaseException:  # noqa: BLE001 - a bug of ours, not the program's: report it
        answer_writer.send({"ok": False, "internal": traceback.format_exc()})
    finally:
        os._exit(code)


def _zygote_main(fd: int, memory_limit_bytes: int) -> None:
    from multiprocessing.connection import Connection

    import jax
    import jax.export
    import jax.numpy  # noqa: F401

    import eureka_jax.reward.checks  # noqa: F401

    conn = Connection(fd)
    spare = _spare(memory_limit_bytes, (conn,))
    conn.send("ready")
    while True:
        try:
            request, timeout_s = conn.recv()
        except EOFError:
            os.kill(spare[0], signal.SIGKILL)
            os.waitpid(spare[0], 0)
            return
        pid, to_child, from_child = spare
        to_child.send(request)
        to_child.close()
        spare = _spare(memory_limit_bytes, (conn, from_child))  # the next one warms up now
        try:
            answer = from_child.recv() if from_child.poll(timeout_s) else "timeout"
        except (EOFError, OSError):
            answer = "died"
        if answer == "timeout":
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        from_child.close()
        conn.send(answer)


class Worker:
    """The checker: a zygote process that forks one child per program.

    A plain subprocess (``python -c``, calling ``_zygote_main``) rather than multiprocessing's
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
             "_zygote_main; _zygote_main(int(sys.argv[1]), int(sys.argv[2]))"),
             str(theirs.fileno()), str(self.policy.memory_limit_bytes)],
            pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self._conn = Connection(ours.detach())
        if not self._conn.poll(self.STARTUP_TIMEOUT_S) or self._conn.recv() != "ready":
            self.close()
            raise RuntimeError("the reward checker process did not start")

    def run(self, request: dict, timeout_s: float) -> dict:
        """Checks one program in a fresh child; returns its answer or a timeout/resource
        failure."""
        if self._process is None or self._process.poll() is not None:
            self._start()
        self._conn.send((request, timeout_s))
        # the zygote enforces the limit; this wait only guards against the zygote itself
        if not self._conn.poll(timeout_s + 60.0):
            self.close()
            raise RuntimeError("the reward checker process stopped answering")
        answer = self._conn.recv()
        if answer == "timeout":
            return {
                "ok": False, "category": "timeout", "line": None,
                "message": f"executing and tracing the program took longer than {timeout_s:g} "
                "s; avoid huge Python loops and huge integer arithmetic.",
            }
        if answer == "died":
            return {
                "ok": False, "category": "resource", "line": None,
                "message": "the program exhausted the checker's memory "
                f"(limit {self.policy.memory_limit_bytes >> 20} MiB); use small arrays.",
            }
        if "internal" in answer:
            raise RuntimeError(f"reward checker failed:\n{answer['internal']}")
        return answer

    def close(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = None


if __name__ == "__main__":
    _zygote_main(int(sys.argv[1]), int(sys.argv[2]))
