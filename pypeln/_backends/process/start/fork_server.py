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
stage's function by value. Before forking, the server imports the modules the request
names (those a stage's function refers to), so that the next worker of any stage has them
loaded.

For each worker the parent sends a status pipe's write end: the server writes the exit
code there once it has reaped the worker, so the read end is the worker's sentinel, and
"readable" means "gone and reaped". The server ends when the parent's end of the socket
closes (the parent exited); it ignores Ctrl-C, which is the parent's to handle. This
module is what the server loads; the parent's side is ``fork_server_client.py``.

>>> r, w = os.pipe()
>>> _ = os.write(w, _EXIT.pack(-9)); os.close(w)
>>> read_exit_code(r)
-9
>>> os.close(r)
"""

from __future__ import annotations

import importlib
import os
import pickle
import select
import signal
import socket
import struct
import sys

from .boot import run_worker_process
from .role import mark_pypeln_process

#: Descriptors per message (the kernel's limit is 253 on Linux).
_FDS_PER_MESSAGE = 250
_HEADER = struct.Struct("!II")  # body length, descriptor count
_EXIT = struct.Struct("!i")
#: What every worker loads: the worker loop, and multiprocessing (a worker takes over its
#: parent's authentication key, which manager proxies in closures need).
WORKER_MODULES = ["pypeln._backends.process.child", "multiprocessing"]


# -- messages --------------------------------------------------------------------------------


def send_message(sock: socket.socket, body: bytes, fds: list[int]) -> None:
    """``body`` and ``fds`` as one message (several sends when there are many descriptors)."""
    header = _HEADER.pack(len(body), len(fds))
    if fds:
        socket.send_fds(sock, [header], fds[:_FDS_PER_MESSAGE])
    else:  # no empty SCM_RIGHTS record: macOS refuses one
        sock.sendall(header)
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
    """The server's main loop (see the module docstring); never returns.

    Once the parent's end of the socket closes, it takes no more requests but goes on
    reaping and reporting its workers until the last has ended: a run still reading their
    status pipes must see their real ends.
    """
    mark_pypeln_process()  # modules it loads may use pl.process: no server of its own
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=int(sys.argv[1]))
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # the wake-up byte is what counts
    _preload(WORKER_MODULES)
    statuses: dict[int, int] = {}  # worker pid -> its status pipe's write end
    poller = _poller(sock.fileno(), wake_r)
    serving = True
    while serving or statuses:
        ready = {fd for fd, _ in poller.poll()}
        if wake_r in ready:
            os.read(wake_r, 4096)
            _reap(statuses)
        if serving and sock.fileno() in ready:
            message = receive_message(sock)
            if message is None:  # the parent closed its end (or exited): requests are over
                poller.unregister(sock.fileno())
                serving = False
                _reap(statuses)  # a worker may have ended before we unregistered
                continue
            reply = _start(message, statuses, {sock.fileno(), wake_r, wake_w})
            send_message(sock, pickle.dumps(reply), [])
    os._exit(0)


def _start(
    message: tuple[bytes, list[int]], statuses: dict[int, int], server_fds: set[int]
) -> tuple[str, int | str]:
    """Handle one request: load what it names, fork its worker; the reply to send."""
    body, fds = message
    modules, surroundings, work = pickle.loads(body)
    if modules:  # imported with the parent's directory, path and environment of now
        surroundings.apply()
        _preload(modules)
    status_w, worker_fds = fds[0], fds[1:]
    keep = {*server_fds, *statuses.values(), status_w}
    try:
        pid = _fork(work, worker_fds, keep)
    except OSError as error:
        os.close(status_w)
        return ("error", f"fork failed: {error}")
    finally:
        for received in worker_fds:
            os.close(received)
    statuses[pid] = status_w
    return ("ok", pid)


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
        import traceback

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
