"""The public combinators, written once and bound to a runtime by each backend namespace.

``pl.thread.map`` is ``Api(ThreadRuntime()).map``: the same signature, checks and docstring
on every backend. The combinators live in two layers: ``Flows`` (shaping and running the
flow) and ``Transforms`` on top of it (per-item work, which ``each(run=True)`` runs).

>>> import pypeln as pl
>>> from pypeln._runtime._sync import SyncRuntime
>>> api = Api(SyncRuntime())
>>> list(api.map(abs, [-1, 2]))
[1, 2]
"""

from __future__ import annotations

from ._api_transforms import StageOptions, Transforms
from ._runtime._contract import Runtime

__all__ = ["Api", "StageOptions"]


class Api(Transforms):
    """Every combinator of one backend; a namespace module re-exports its bound methods."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
