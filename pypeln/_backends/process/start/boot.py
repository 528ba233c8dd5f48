"""How a worker started by the fork server or by spawn begins, without the user's script.

``multiprocessing`` starts such a worker by running the parent's main module again (as
``__mp_main__``), which is why scripts need ``if __name__ == "__main__":``. pypeln's workers
never do: the stage's function and hooks reach them by value (cloudpickle), so what a new
worker needs is its spec, its descriptors and the parent's surroundings, captured at the
moment it starts: working directory, module path, ``sys.argv``, environment variables and
the ``multiprocessing`` authentication key (so that manager proxies in closures connect).

>>> body, fds = encode_start("spec")
>>> fds
[]
>>> environment, spec = decode_start(body, [])
>>> spec, environment.path == sys.path
('spec', True)
"""

from __future__ import annotations

import os
import pickle
import sys
from dataclasses import dataclass
from typing import Any

from .fd_transfer import collecting, receiving

PROTOCOL = pickle.HIGHEST_PROTOCOL


@dataclass
class Surroundings:
    """What a worker takes over from its parent before it loads anything of the user's."""

    cwd: str
    path: list[str]
    argv: list[str]
    environ: dict[str, str]
    authkey: bytes

    @classmethod
    def capture(cls) -> Surroundings:
        try:
            cwd = os.getcwd()
        except OSError:  # the directory was removed: the worker keeps its own
            cwd = ""
        from multiprocessing import current_process

        authkey = bytes(current_process().authkey)
        return cls(cwd, list(sys.path), list(sys.argv), dict(os.environ), authkey)

    def apply(self) -> None:
        if self.cwd:
            try:
                os.chdir(self.cwd)
            except OSError:
                pass
        sys.path[:] = self.path
        sys.argv[:] = self.argv
        if dict(os.environ) != self.environ:
            os.environ.clear()
            os.environ.update(self.environ)
        from multiprocessing import current_process

        current_process().authkey = self.authkey


def encode_start(spec: Any) -> tuple[bytes, list[int]]:
    """The bytes a new worker gets, and the descriptors the spec names, to pass beside them."""
    with collecting() as fds:
        payload = pickle.dumps(spec, PROTOCOL)
    return pickle.dumps((Surroundings.capture(), payload), PROTOCOL), fds


def decode_start(body: bytes, fds: list[int]) -> tuple[Surroundings, Any]:
    """In the new worker: take over the surroundings, then load the spec."""
    surroundings, payload = pickle.loads(body)
    surroundings.apply()
    with receiving(fds):
        spec = pickle.loads(payload)
    return surroundings, spec


def run_worker_process(body: bytes, fds: list[int]) -> int:
    """The whole life of a worker started by the fork server or spawn; its exit code."""
    from ..child import worker_main  # the fork server has it loaded already

    _, spec = decode_start(body, fds)
    worker_main(spec)
    return 0


def spawned_main() -> None:
    """Entry point of a worker started by spawn (``fresh_interpreter``): ``BODY_FD FD,FD``."""
    body_fd, fds = int(sys.argv[1]), [int(fd) for fd in sys.argv[2].split(",") if fd]
    with open(body_fd, "rb") as body:
        code = run_worker_process(body.read(), fds)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def fresh_interpreter(entry: str, *args: str) -> list[str]:
    """The command running ``entry`` ("module:function") in a new interpreter with this one's
    options and module path, ``args`` in its ``sys.argv[1:]``.

    >>> fresh_interpreter("m:f", "1")[-len(sys.path) - 1]
    '1'
    """
    module, _, function = entry.partition(":")
    end = len(args) + 1
    code = (
        f"import sys; sys.path[:] = sys.argv[{end}:]; del sys.argv[{end}:]; "
        f"from {module} import {function}; {function}()"
    )
    import subprocess

    flags: Any = getattr(subprocess, "_args_from_interpreter_flags", None)  # -X dev, -W, -O
    options = list(flags()) if flags is not None else []
    return [sys.executable, *options, "-c", code, *args, *sys.path]
