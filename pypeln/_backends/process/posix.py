"""What the process backend needs of the operating system, checked before it loads.

Its workers talk through non-blocking pipes (``fcntl``, ``termios``), size their descriptor
use by ``resource`` limits and start by ``fork``: a POSIX system (Linux, macOS). Elsewhere
(Windows) ``import pypeln`` and the sync, thread and task backends work, and using
``pl.process`` raises an ``ImportError`` that says so.

>>> require_posix()  # on this machine: nothing missing
"""

from __future__ import annotations

import importlib
import os


def require_posix() -> None:
    """Raise ``ImportError`` naming what the process backend lacks here, if anything."""
    missing = []
    for name in ("fcntl", "termios", "resource"):
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if not hasattr(os, "fork"):
        missing.append("os.fork")
    if missing:
        raise ImportError(
            "pl.process needs a POSIX system (Linux or macOS): "
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing here. "
            "pl.thread, pl.task and pl.sync work on every system."
        )
