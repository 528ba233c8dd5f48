"""The parent's side of pypeln's fork server (``fork_server.py``): one per process.

The client starts the server on first use (or ahead of time, ``start_soon``), and again if
it ended; asks it for one worker at a time; and tells it which modules a stage's function
refers to (``modules_of``), so that the server loads them once for every later worker.
A forked child drops its parent's client (it must start a server of its own); at exit the
server is stopped after every run has closed.

>>> modules_of(pickle.dumps(os.path.join))
['posixpath']
"""

from __future__ import annotations

import atexit
import os
import pickle
import pickletools
import socket
import subprocess
import sys
import threading
from functools import lru_cache

from .boot import Surroundings, fresh_interpreter
from .fork_server import receive_message, send_message

#: How long stopping waits for the server to exit before killing it.
STOP_WAIT = 5.0
#: What starts one worker: the body it runs, its descriptors, the modules to load first.
Request = tuple[bytes, list[int], list[str]]
#: Requests sent ahead of their replies.
WINDOW = 16


class ForkServerClient:
    """This process's fork server, started on first use and again if it ended."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._preloaded: dict[str, int | None] = {}  # module -> its file's mtime then

    def start_soon(self) -> None:
        """Start the server now if it is not running, without waiting for it to be ready:
        it loads pypeln's worker code while this process goes on."""
        with self._lock:
            self._running()

    def spawn(self, requests: list[Request]) -> list[tuple[int, int]]:
        """Start a worker per request: each one's pid and status pipe (its sentinel).

        Up to ``WINDOW`` requests are sent before their replies are read, so the server
        forks the next worker while this process prepares the one after; never more, as a
        server whose replies nobody reads stops reading requests.
        """
        pipes = [os.pipe() for _ in requests]
        try:
            with self._lock:
                pids = self._exchange(requests, [write for _, write in pipes])
        except BaseException:
            for read, _ in pipes:
                os.close(read)
            raise
        finally:
            for _, write in pipes:
                os.close(write)
        return [(pid, read) for pid, (read, _) in zip(pids, pipes, strict=True)]

    def _exchange(self, requests: list[Request], statuses: list[int]) -> list[int]:
        for attempt in (1, 2):  # a server that ended meanwhile is started again, once
            self._drop_if_stale()
            sock = self._running()
            pids: list[int] = []
            try:
                for sent, (request, status) in enumerate(zip(requests, statuses, strict=True), 1):
                    send_message(sock, self._message(request), [status, *request[1]])
                    if sent - len(pids) >= WINDOW:
                        pids.append(self._reply(sock))
                while len(pids) < len(requests):
                    pids.append(self._reply(sock))
                return pids
            except (OSError, _ServerGone):
                pass
            except BaseException:  # Ctrl-C midway: a late reply could answer the next request
                self.forget()
                raise
            self.forget()
            if pids or attempt == 2:  # some workers started: they end with the run
                raise RuntimeError("pl.process: the fork server ended while starting workers")
        raise AssertionError("unreachable")

    def _message(self, request: Request) -> bytes:
        """The request as the server reads it: modules to load first (with the surroundings
        to load them in), then the worker's body."""
        body, _, modules = request
        wanted = [name for name in modules if name not in self._preloaded]
        self._preloaded.update({name: _stamp(name) for name in wanted})
        surroundings = Surroundings.capture() if wanted else None
        return pickle.dumps((wanted, surroundings, body))

    def _reply(self, sock: socket.socket) -> int:
        reply = receive_message(sock)
        if reply is None:
            raise _ServerGone
        status, value = pickle.loads(reply[0])
        if status == "error":
            self.forget()  # replies to the requests after this one are still to come
            raise RuntimeError(f"pl.process: the fork server could not start a worker: {value}")
        pid: int = value
        return pid

    def _drop_if_stale(self) -> None:
        """Drop a server that loaded a module whose file has changed since (a notebook's
        autoreload, an edited module): its workers would run the old code."""
        if any(_stamp(name) != stamp for name, stamp in self._preloaded.items()):
            self.forget()

    def _running(self) -> socket.socket:
        if self._socket is not None and self._process is not None:
            if self._process.poll() is None:
                return self._socket
            self.forget()
        ours, theirs = socket.socketpair()
        try:
            self._process = subprocess.Popen(
                fresh_interpreter(
                    "pypeln._backends.process.start.fork_server:serve", str(theirs.fileno())
                ),
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # terminal signals (Ctrl-C) are the parent's
            )
        except OSError as error:
            ours.close()
            raise RuntimeError(
                f"pl.process could not start its fork server with {sys.executable!r}: {error}"
            ) from error
        finally:
            theirs.close()
        self._socket = ours
        return ours

    def stop(self) -> None:
        """End the server, waiting for it (at exit): it exits once its socket closes and
        the workers it started have ended."""
        with self._lock:
            process = self._detach()
        if process is not None:
            try:
                process.wait(timeout=STOP_WAIT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def forget(self) -> None:
        """Drop the server: the next request starts another. Its socket closes, so it takes
        no more requests; it ends once the workers it started have, and is reaped then."""
        process = self._detach()
        if process is not None and process.poll() is None:
            reaper = threading.Thread(target=process.wait, name="pypeln fork server", daemon=True)
            reaper.start()

    def _detach(self) -> subprocess.Popen[bytes] | None:
        """Close the socket and forget the server; the server's process, to wait for."""
        process = self._process
        if self._socket is not None:
            self._socket.close()
        self._socket = self._process = None
        self._preloaded = {}
        return process


_client: ForkServerClient | None = None
_client_lock = threading.Lock()


def fork_server() -> ForkServerClient:
    """This process's fork server client."""
    global _client
    with _client_lock:
        if _client is None:
            _client = ForkServerClient()
        return _client


def _forget_after_fork() -> None:
    """A forked child must not share its parent's server: it starts its own if it needs one.
    The inherited client is kept alive here (never collected: its process is not ours), and
    the lock is new (another thread of the parent may have held it at the fork)."""
    global _client, _client_lock
    _client_lock = threading.Lock()
    if _client is not None:
        _abandoned.append(_client)
        if _client._socket is not None:
            _client._socket.close()
    _client = None


_abandoned: list[ForkServerClient] = []
os.register_at_fork(after_in_child=_forget_after_fork)


@atexit.register  # registered before any run's: it runs after they have all closed
def _stop_at_exit() -> None:
    if _client is not None:
        _client.stop()


def modules_of(payload: bytes) -> list[str]:
    """The modules that loading ``payload`` imports, of those this process has loaded.

    A pickle names a module as the string before a global's name (or in cloudpickle's
    ``subimport("module")``), so every string that names a loaded module counts. Reading a
    pickle op by op is slow in Python: past ``SCAN_LIMIT`` bytes the workers import alone.
    """
    return _modules_of(payload) if len(payload) <= SCAN_LIMIT else []


@lru_cache(maxsize=64)
def _modules_of(payload: bytes) -> list[str]:
    names: list[str] = []
    for opcode, argument, _ in pickletools.genops(payload):
        if isinstance(argument, str):
            names.append(argument.partition(" ")[0] if opcode.name == "GLOBAL" else argument)
    found = [name for name in dict.fromkeys(names) if name in sys.modules]
    return [name for name in found if name not in ("__main__", "builtins")]


#: The largest stage payload ``modules_of`` reads (a few milliseconds at most).
SCAN_LIMIT = 256 * 1024


def _stamp(name: str) -> int | None:
    """When the file of module ``name`` last changed (None: it has none)."""
    path = getattr(sys.modules.get(name), "__file__", None)
    try:
        return os.stat(path).st_mtime_ns if path else None
    except OSError:
        return None


class _ServerGone(Exception):
    """The server closed the socket before every reply came."""
