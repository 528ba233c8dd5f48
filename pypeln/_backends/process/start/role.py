"""Whether this process is one of pypeln's own (a worker, the fork server), which runs no
program of the user's: such a process never starts a fork server of its own.

>>> is_pypeln_process()
False
"""

from __future__ import annotations

_role: list[str] = []


def mark_pypeln_process() -> None:
    """This process is a worker or the fork server."""
    _role.append("pypeln")


def is_pypeln_process() -> bool:
    """Whether ``mark_pypeln_process`` was called here."""
    return bool(_role)
