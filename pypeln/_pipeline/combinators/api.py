"""The public combinators, written once and bound to a backend by each backend namespace.

``pl.thread.map`` is ``Api(ThreadBackend()).map``: the same signature, checks and docstring
on every backend. The combinators live in two layers: ``Flows`` (shaping and running the
flow) and ``Transforms`` on top of it (per-item work, which ``each(run=True)`` runs).

>>> import pypeln as pl
>>> from pypeln._backends.sync.backend import SyncBackend
>>> api = Api(SyncBackend())
>>> list(api.map(abs, [-1, 2]))
[1, 2]
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ..._backends.contract import Backend
from ..._worker.hooks import WorkerInfo
from ..stage import RunIterator, Stage
from .transforms import StageOptions, Transforms

__all__ = ["Api", "StageOptions"]


class Api(Transforms):
    """Every combinator of one backend, and the classes its namespace exports: all that
    ``pl.<name>`` holds (a namespace module re-exports its bound methods)."""

    Stage = Stage
    RunIterator = RunIterator
    WorkerInfo = WorkerInfo

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @property
    def Namespace(self) -> type[Any]:
        """The backend's ``Namespace`` class: state its workers share."""
        return self.backend.Namespace

    def as_module(self) -> ModuleType:
        """These names as the module ``pypeln.<name>``, for a registered backend that has no
        module of its own (``pl.<name>`` builds it on first use)."""
        name = self.backend.name
        module = ModuleType(f"pypeln.{name}", f"``{name}``: the pypeln API on this backend.")
        for attribute in EXPORTS:
            setattr(module, attribute, getattr(self, attribute))
        module.__all__ = list(EXPORTS)  # type: ignore[attr-defined]
        return module


#: What every backend's namespace exports (``pl.thread.map``, ...).
EXPORTS = (
    "Namespace",
    "RunIterator",
    "Stage",
    "WorkerInfo",
    "backend",
    "batch",
    "concat",
    "each",
    "feed",
    "filter",
    "flat_map",
    "from_iterable",
    "map",
    "ordered",
    "run",
    "to_async_iterable",
    "to_iterable",
)
