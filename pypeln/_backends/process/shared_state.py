"""``Namespace`` for the process backend: the same attribute bag, shared across processes.

The values live in a small manager process (a ``multiprocessing`` manager server, started
as a fresh interpreter that never runs the user's main module) which ends when the
namespace is garbage collected, or when this process ends; ``with ns:`` holds a lock that
every process sees.

>>> ns = Namespace(count=0)
>>> with ns:
...     ns.count += 1
>>> ns
Namespace(count=1)
>>> del ns
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import weakref
from typing import Any

from ..common import shared_state as in_process
from .start.boot import fresh_interpreter


class Namespace(in_process.HoldsLock):
    __doc__ = in_process.Namespace.__doc__
    __slots__ = ("__weakref__", "_lock", "_manager", "_task_locks", "_values")

    def __init__(self, **kwargs: Any) -> None:
        host = _ManagerProcess()
        object.__setattr__(self, "_manager", host)
        object.__setattr__(self, "_values", host.manager.Namespace(**kwargs))
        object.__setattr__(self, "_lock", host.manager.RLock())
        object.__setattr__(self, "_task_locks", weakref.WeakKeyDictionary())
        weakref.finalize(self, host.close)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(object.__getattribute__(self, "_values"), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._values, name, value)

    def __reduce__(self) -> tuple[Any, ...]:
        # Workers get the proxies only; the manager stays with (and ends with) its creator.
        return (_attach, (self._values, self._lock))

    def __repr__(self) -> str:
        values = vars(self._values._getvalue())
        return "Namespace(" + ", ".join(f"{k}={v!r}" for k, v in values.items()) + ")"


def _attach(values: Any, lock: Any) -> Namespace:
    ns = object.__new__(Namespace)
    object.__setattr__(ns, "_manager", None)
    object.__setattr__(ns, "_values", values)
    object.__setattr__(ns, "_lock", lock)
    object.__setattr__(ns, "_task_locks", weakref.WeakKeyDictionary())
    return ns


class _ManagerProcess:
    """A manager server in a process of its own, reached through a socket in a private
    directory; it ends when ``close()`` closes its stdin (or this process ends)."""

    def __init__(self) -> None:
        from multiprocessing import current_process
        from multiprocessing.managers import SyncManager

        self._directory = tempfile.mkdtemp(prefix="pypeln-namespace-")
        address = os.path.join(self._directory, "socket")
        authkey = bytes(current_process().authkey)
        self._process = subprocess.Popen(
            fresh_interpreter(f"{__name__}:serve", address),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # terminal signals (Ctrl-C) are the parent's
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(authkey.hex().encode() + b"\n")
        self._process.stdin.flush()
        if self._process.stdout.readline() != b"ready\n":
            self.close()
            raise RuntimeError("pl.process.Namespace: its manager process failed to start")
        self.manager = SyncManager(address=address, authkey=authkey)
        self.manager.connect()

    def close(self) -> None:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.close()
        self._process.stdout.close()
        self._process.wait()
        shutil.rmtree(self._directory, ignore_errors=True)


def serve() -> None:
    """The manager process: serve until stdin closes (``_ManagerProcess.close``)."""
    from multiprocessing import current_process
    from multiprocessing.managers import SyncManager

    address = sys.argv[1]
    authkey = bytes.fromhex(sys.stdin.readline().strip())
    current_process().authkey = authkey
    server = SyncManager(address=address, authkey=authkey).get_server()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.read()  # returns at end of file: the namespace's owner is done, or gone
    os._exit(0)
