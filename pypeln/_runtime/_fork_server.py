"""pypeln's fork server: worker processes forked from a clean process, never from the parent.

::

    parent ──socketpair──► server (python -c …; single-threaded, pypeln's worker code loaded)
      │   request: body + descriptors (SCM_RIGHTS)      │ fork()
      │   reply: the worker's pid                        ▼
      └◄── status pipe: the exit code once reaped ── worker: runs the body, never __main__

Forking a process that has other threads can copy a lock one of them holds, and the child
may then deadlock on it; so once the parent has threads, workers are forked from this
server instead: a fresh interpreter started with ``exec`` (safe whatever the parent's
threads), which loads pypeln's worker code once and forks one worker per request. Unlike
``multiprocessing``'s fork server it never runs the user's main module: a worker gets the
stage's function by value. Before forking, the server imports the modules a stage's
function refers to (``modules_of``), so that the next worker of any stage has them loaded.

For each worker the parent sends a status pipe's write end: the server writes the exit
code there once it has reaped the worker, so the read end is the worker's sentinel, and
"readable" means "gone and reaped". The server ends when the parent's end of the socket
closes (the parent exited); it ignores Ctrl-C, which is the parent's to handle.

>>> modules_of(pickle.dumps(os.path.join))
['posixpath']
"""

from __future__ import annotations

import atexit
import importlib
import os
import pickle
import pickletools
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import traceback
from functools import lru_cache
from typing import Any

from ._process_boot import fresh_interpreter, run_worker_process

#: How long stopping waits for the server to exit before killing it.
STOP_WAIT = 5.0
#: Descriptors per message (the kernel's limit is 253 on Linux).
_FDS_PER_MESSAGE = 250
_HEADER = struct.Struct("!II")  # body length, descriptor count
_EXIT = struct.Struct("!i")


# -- the parent's side ---------------------------------------------------------------------


class ForkServerClient:
    """This process's fork server, started on first use and again if it ended."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._preloaded: set[str] = set()

    def start_soon(self) -> None:
        """Start the server now if it is not running, without waiting for it to be ready:
        it loads pypeln's worker code while this process goes on."""
        with self._lock:
            self._running()

    def spawn(self, body: bytes, fds: list[int], modules: list[str]) -> tuple[int, int]:
        """Start a worker running ``body`` with ``fds``; its pid and its status pipe."""
        status_r, status_w = os.pipe()
        try:
            with self._lock:
                pid = self._request(body, [status_w, *fds], modules)
        except BaseException:
            os.close(status_r)
            raise
        finally:
            os.close(status_w)
        return pid, status_r

    def _request(self, body: bytes, fds: list[int], modules: list[str]) -> int:
        for attempt in (1, 2):  # a server that ended meanwhile is started again, once
            sock = self._running()
            wanted = [name for name in modules if name not in self._preloaded]
            try:
                send_message(sock, pickle.dumps((wanted, body)), fds)
                reply = receive_message(sock)
            except OSError:
                reply = None
            except BaseException:  # Ctrl-C mid-request: its reply could answer the next one
                self.forget()
                raise
            if reply is not None:
                status, value = pickle.loads(reply[0])
                if status == "error":
                    raise OSError(value)
                self._preloaded.update(wanted)
                pid: int = value
                return pid
            self.forget()
            if attempt == 2:
                raise RuntimeError("pl.process: the fork server ended while starting a worker")
        raise AssertionError("unreachable")

    def _running(self) -> socket.socket:
        if self._socket is not None and self._process is not None:
            if self._process.poll() is None:
                return self._socket
            self.forget()
        ours, theirs = socket.socketpair()
        try:
            self._process = subprocess.Popen(
                fresh_interpreter(f"{__name__}:serve", str(theirs.fileno())),
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
        """End the server: it exits once its socket closes (workers still running go on)."""
        with self._lock:
            process = self._process
            self.forget()
        if process is not None:
            try:
                process.wait(timeout=STOP_WAIT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def forget(self) -> None:
        """Drop a server that ended (reaped if it has; the next request starts another)."""
        if self._socket is not None:
            self._socket.close()
        if self._process is not None:
            self._process.poll()
        self._socket = self._process = None
        self._preloaded = set()


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
    The inherited client is kept alive here (never collected: its process is not ours)."""
    global _client
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


@lru_cache(maxsize=64)
def modules_of(payload: bytes) -> list[str]:
    """The modules that loading ``payload`` imports, of those this process has loaded.

    A pickle names a module as the string before a global's name (or in cloudpickle's
    ``subimport("module")``), so every string that names a loaded module counts. Reading a
    pickle op by op is slow in Python: past ``SCAN_LIMIT`` bytes the workers import alone.
    """
    if len(payload) > SCAN_LIMIT:
        return []
    names: list[str] = []
    for opcode, argument, _ in pickletools.genops(payload):
        if isinstance(argument, str):
            names.append(argument.partition(" ")[0] if opcode.name == "GLOBAL" else argument)
    found = [name for name in dict.fromkeys(names) if name in sys.modules]
    return [name for name in found if name not in ("__main__", "builtins")]


#: What every worker loads: the worker loop, and what a shipped stage refers to.
WORKER_MODULES = ["pypeln._runtime._process_child", "pypeln._runtime._processes"]
#: The largest stage payload ``modules_of`` reads (a few milliseconds at most).
SCAN_LIMIT = 256 * 1024


# -- messages --------------------------------------------------------------------------------


def send_message(sock: socket.socket, body: bytes, fds: list[int]) -> None:
    """``body`` and ``fds`` as one message (several sends when there are many descriptors)."""
    socket.send_fds(sock, [_HEADER.pack(len(body), len(fds))], fds[:_FDS_PER_MESSAGE])
    sock.sendall(body)
    for start in range(_FDS_PER_MESSAGE, len(fds), _FDS_PER_MESSAGE):
        socket.send_fds(sock, [b"+"], fds[start : start + _FDS_PER_MESSAGE])


def receive_message(sock: socket.socket) -> tuple[bytes, list[int]] | None:
    """The next message's body and descriptors; None if the peer closed the socket."""
    header, fds = _receive_with_fds(sock, _HEADER.size, _FDS_PER_MESSAGE)
    if len(header) < _HEADER.size:
        return None
    size, count = _HEADER.unpack(header)
    body = bytearray()
    while len(body) < size:
        chunk = sock.recv(min(size - len(body), 1 << 20))
        if not chunk:
            return None
        body += chunk
    while len(fds) < count:
        marker, more = _receive_with_fds(sock, 1, _FDS_PER_MESSAGE)
        if not marker:
            return None
        fds += more
    return bytes(body), fds


def _receive_with_fds(sock: socket.socket, size: int, most: int) -> tuple[bytes, list[int]]:
    data, fds = b"", []
    while len(data) < size:
        chunk, received, _, _ = socket.recv_fds(sock, size - len(data), most)
        if not chunk:
            break
        data += chunk
        fds += received
    return data, fds


# -- the server ------------------------------------------------------------------------------


def serve() -> None:
    """The server's main loop (see the module docstring); never returns."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=int(sys.argv[1]))
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # the wake-up byte is what counts
    _preload(WORKER_MODULES)
    statuses: dict[int, int] = {}  # worker pid -> its status pipe's write end
    poller = _poller(sock.fileno(), wake_r)
    while True:
        ready = {fd for fd, _ in poller.poll()}
        if wake_r in ready:
            os.read(wake_r, 4096)
            _reap(statuses)
        if sock.fileno() in ready:
            message = receive_message(sock)
            if message is None:  # the parent is gone
                os._exit(0)
            body, fds = message
            modules, work = pickle.loads(body)
            _preload(modules)
            status_w, worker_fds = fds[0], fds[1:]
            keep = {sock.fileno(), wake_r, wake_w, *statuses.values(), status_w}
            reply: tuple[str, Any]
            try:
                pid = _fork(work, worker_fds, keep)
            except OSError as error:
                os.close(status_w)
                reply = ("error", f"fork failed: {error}")
            else:
                statuses[pid] = status_w
                reply = ("ok", pid)
            finally:
                for received in worker_fds:
                    os.close(received)
            send_message(sock, pickle.dumps(reply), [])


def _poller(*fds: int) -> select.poll:
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    return poller


def _preload(modules: list[str]) -> None:
    for name in modules:
        if name not in sys.modules:
            try:
                importlib.import_module(name)
            except BaseException:  # the worker will raise the real error, in the parent
                pass


def _fork(work: bytes, fds: list[int], server_fds: set[int]) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in server_fds:
            os.close(fd)
        code = run_worker_process(work, fds)
    except BaseException:  # pypeln's own failure: a user's error travels on the report pipe
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _reap(statuses: dict[int, int]) -> None:
    """Report every ended worker's exit code on its status pipe."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        status_w = statuses.pop(pid, None)
        if status_w is not None:
            try:
                os.write(status_w, _EXIT.pack(os.waitstatus_to_exitcode(status)))
            except OSError:  # the parent closed its end: nobody waits for this one
                pass
            os.close(status_w)


def read_exit_code(status_r: int) -> int | None:
    """What the server wrote on a worker's status pipe (None: the server itself ended)."""
    data = b""
    while len(data) < _EXIT.size:
        chunk = os.read(status_r, _EXIT.size - len(data))
        if not chunk:
            return None
        data += chunk
    code: int = _EXIT.unpack(data)[0]
    return code
