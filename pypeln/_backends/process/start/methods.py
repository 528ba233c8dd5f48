"""How a worker process starts: the start methods, and one handle for every kind of worker.

``"auto"`` (the default) forks the parent while it has a single thread (checked with the OS,
so threads started by C libraries such as numpy's BLAS count too): the fastest start, and
safe then. Once the parent has other threads, a fork could copy a lock one of them holds,
so workers are forked from pypeln's fork server instead (``fork_server.py``): a clean process
started with ``exec``. ``"spawn"`` starts a fresh interpreter per worker. Under none of them
does a worker run the user's main module: a script needs no ``if __name__ == "__main__":``.

Every worker is seen through the same handle: ``pid``, ``sentinel`` (readable once it has
ended), ``join()`` (then ``exitcode``), ``kill()`` and ``close()``.

>>> check_start_method("using()", "fork")
'fork'
>>> resolve("fork")
'fork'
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..memory.arrays import anonymous_file
from .boot import encode_start, fresh_interpreter
from .fork_server import read_exit_code
from .fork_server_client import fork_server
from .role import is_pypeln_process

START_METHODS = ("auto", "forkserver", "spawn", "fork")
#: Used when neither the stage's backend, ``set_start_method`` nor $PYPELN_START_METHOD says.
DEFAULT_START_METHOD = "auto"
#: How long a killed worker's end waits for the fork server to report it reaped.
REAP_WAIT = 5.0

_chosen: dict[str, str] = {}  # the global start method, set by set_start_method


class WorkerProcess(Protocol):
    """A started worker process, whatever started it."""

    @property
    def pid(self) -> int | None:
        """Known once started."""
        ...

    @property
    def sentinel(self) -> int:
        """Readable once the process has ended."""
        ...

    @property
    def exitcode(self) -> int | None:
        """After ``join()``: the exit code (-N: killed by signal N; None: unknown)."""
        ...

    def join(self) -> None:
        """Wait until it has ended and been reaped."""

    def kill(self) -> None: ...

    def close(self) -> None:
        """Release the handle's descriptors (after ``join()``)."""


def check_start_method(where: str, method: object) -> str:
    if method not in START_METHODS or (method == "fork" and not hasattr(os, "fork")):
        available = [m for m in START_METHODS if m != "fork" or hasattr(os, "fork")]
        raise ValueError(f"{where}: start_method must be one of {available}, got {method!r}")
    return str(method)


def set_start_method(method: str | None) -> None:
    """Start the workers of every ``pl.process`` stage with ``method`` from now on.

    One of ``"auto"`` (the default: ``fork`` in a single-threaded process, pypeln's fork
    server otherwise), ``"forkserver"``, ``"spawn"`` or ``"fork"``; the environment variable
    ``PYPELN_START_METHOD`` does the same without code. ``None`` undoes the choice.

    >>> set_start_method("spawn")
    >>> default_start_method()
    'spawn'
    >>> set_start_method(None)  # back to $PYPELN_START_METHOD, or "auto"
    """
    if method is None:
        _chosen.clear()
        return
    _chosen["method"] = check_start_method("set_start_method()", method)


def default_start_method() -> str:
    if "method" in _chosen:
        return _chosen["method"]
    from_env = os.environ.get("PYPELN_START_METHOD")
    if from_env:
        return check_start_method("$PYPELN_START_METHOD", from_env)
    return DEFAULT_START_METHOD


def resolve(method: str | None) -> str:
    """The start method a run uses now: ``"fork"``, ``"forkserver"`` or ``"spawn"``."""
    method = method or default_start_method()
    if method == "auto":
        return "fork" if _single_threaded() else "forkserver"
    return method


def warm_up(method: str | None) -> None:
    """If runs started now would use the fork server, start it in the background: it boots
    while the program builds its pipeline, so the first run waits less for its workers.

    Not in a worker process or the fork server, where loading a stage's function (or a
    module it names) may import ``pl.process`` without any pipeline to run (one that does
    run starts its server when it needs it).
    """
    if not is_pypeln_process() and resolve(method) == "forkserver":
        fork_server().start_soon()


def _single_threaded() -> bool:
    """Whether this process runs one thread only (C libraries' threads included, on Linux)."""
    if sys.platform != "linux":
        return False  # fork is unsafe on macOS whatever the threads; elsewhere unknown
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


@dataclass
class WorkerStart:
    """What starts one worker: ``target(spec)`` in a process called ``name``; ``preload``:
    the modules the fork server should have loaded before it forks this worker."""

    target: Callable[[Any], None]
    spec: Any
    name: str
    preload: list[str]


def start_workers(method: str, starts: list[WorkerStart]) -> list[WorkerProcess]:
    """Start a worker per ``WorkerStart`` by ``method`` (a resolved start method)."""
    if method == "fork":
        return [_fork(start) for start in starts]
    encoded = [encode_start(start.spec) for start in starts]
    if method == "forkserver":
        requests = [(body, fds, s.preload) for (body, fds), s in zip(encoded, starts, strict=True)]
        return [ServedProcess(pid, status) for pid, status in fork_server().spawn(requests)]
    return [SpawnedProcess(body, fds) for body, fds in encoded]


def _fork(start: WorkerStart) -> WorkerProcess:
    import multiprocessing  # its Process resets multiprocessing's state in the child

    process = multiprocessing.get_context("fork").Process(
        target=start.target, args=(start.spec,), name=start.name
    )
    process.start()
    return process


class ServedProcess:
    """A worker forked by the fork server, which reports its exit code once it reaped it."""

    def __init__(self, pid: int, status_fd: int) -> None:
        self.pid = pid
        self.sentinel = status_fd
        self.exitcode: int | None = None
        self._joined = False
        self._kill_deadline: float | None = None

    def join(self) -> None:
        """Wait until the server reports the worker reaped; after ``kill()``, only until
        ``REAP_WAIT`` seconds after it (a server stuck loading a module must not hang the
        end of a run: the exit code is then unknown). If the server itself ended without a
        report, the worker it left is killed."""
        if self._joined:
            return
        wait = None
        if self._kill_deadline is not None:
            wait = max(0, round((self._kill_deadline - time.monotonic()) * 1000))
        if self._readable(wait):
            self.exitcode = read_exit_code(self.sentinel)
            if self.exitcode is None:  # the server ended: its worker may live on, orphaned
                self._signal_kill()
        self._joined = True

    def kill(self) -> None:
        if not self._joined and not self._readable(0):  # not reaped: the pid is the worker's
            self._kill_deadline = time.monotonic() + REAP_WAIT
            self._signal_kill()

    def close(self) -> None:
        if self.sentinel >= 0:
            os.close(self.sentinel)
            self.sentinel = -1

    def _readable(self, wait_ms: int | None) -> bool:
        poller = select.poll()
        poller.register(self.sentinel, select.POLLIN)
        return bool(poller.poll(wait_ms))

    def _signal_kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class SpawnedProcess:
    """A worker in a fresh interpreter (spawn); it holds its sentinel pipe's write end."""

    def __init__(self, body: bytes, fds: list[int]) -> None:
        body_fd = anonymous_file(0)  # the body waits in a file: writing it never blocks
        sentinel_r, sentinel_w = os.pipe()
        try:
            os.write(body_fd, body)
            os.lseek(body_fd, 0, os.SEEK_SET)
            self._popen = subprocess.Popen(
                fresh_interpreter(
                    "pypeln._backends.process.start.boot:spawned_main",
                    str(body_fd),
                    ",".join(map(str, fds)),
                ),
                pass_fds=[body_fd, sentinel_w, *fds],
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # terminal signals (Ctrl-C) are the parent's
            )
        except BaseException:
            os.close(sentinel_r)
            raise
        finally:
            os.close(body_fd)
            os.close(sentinel_w)
        self.pid = self._popen.pid
        self.sentinel = sentinel_r
        self.exitcode: int | None = None

    def join(self) -> None:
        self.exitcode = self._popen.wait()

    def kill(self) -> None:
        if self._popen.returncode is None:
            self._popen.kill()

    def close(self) -> None:
        if self.sentinel >= 0:
            os.close(self.sentinel)
            self.sentinel = -1
