"""pypeln: concurrent data pipelines with one functional API over several backends.

>>> import pypeln as pl
>>> stage = pl.thread.map(lambda x: x * 2, range(5), workers=3, maxsize=4)
>>> stage = pl.sync.filter(lambda x: x > 2, stage)
>>> sorted(stage)
[4, 6, 8]

Every name below is loaded on first use, so ``import pypeln`` costs next to nothing and a
worker process loads only the backend it runs (``pl.task`` alone brings in asyncio).
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

__version__ = "0.5.0.dev0"

#: Where each public name lives: a backend namespace module, or a name in a module.
_WHERE = {
    "process": ".process",
    "pr": ".process",
    "thread": ".thread",
    "th": ".thread",
    "task": ".task",
    "io": ".task",
    "sync": ".sync",
    "ray": ".ray",
    "StageOptions": "._pipeline.combinators.transforms",
    "MissingInjectionError": "._errors",
    "PypelnError": "._errors",
    "RemoteError": "._errors",
    "SerializationError": "._errors",
    "WorkerCrashedError": "._errors",
    "StageStatus": "._worker.hooks",
    "WorkerInfo": "._worker.hooks",
    "Element": "._pipeline.element",
    "Index": "._worker.kernels",
    "OneShotSourceWarning": "._pipeline.one_shot",
    "StallWarning": "._backends.common.stall",
    "RunIterator": "._pipeline.stage",
    "Failure": "._worker.policies.failures",
    "Feed": "._pipeline.feed",
    "FeedStoppedError": "._pipeline.feed",
    "Retry": "._worker.policies.failures",
    "SKIP": "._worker.policies.failures",
    "Stage": "._pipeline.stage",
    "Stats": "._insight.stats",
    "StageStats": "._insight.stage_stats",
    "Verdict": "._insight.verdict",
}
_NAMESPACES = {"process", "pr", "thread", "th", "task", "io", "sync", "ray"}

__all__ = [
    "SKIP",
    "Element",
    "Failure",
    "Feed",
    "FeedStoppedError",
    "Index",
    "MissingInjectionError",
    "OneShotSourceWarning",
    "PypelnError",
    "RemoteError",
    "Retry",
    "RunIterator",
    "SerializationError",
    "Stage",
    "StageOptions",
    "StageStats",
    "StageStatus",
    "StallWarning",
    "Stats",
    "Verdict",
    "WorkerCrashedError",
    "WorkerInfo",
    "__version__",
    "io",
    "pr",
    "process",
    "ray",
    "sync",
    "task",
    "th",
    "thread",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        value = _registered(name)
    else:
        module = importlib.import_module(where, __name__)
        value = module if name in _NAMESPACES else getattr(module, name)
    globals()[name] = value
    return value


def _registered(name: str) -> Any:
    """``pl.<name>`` of a registered backend without a module of its own."""
    from ._backends import registry

    if name not in registry.BACKENDS:
        raise AttributeError(f"module 'pypeln' has no attribute {name!r}")
    from ._pipeline.combinators.api import Api

    module = Api(registry.backend(name)).as_module()
    sys.modules[module.__name__] = module  # `from pypeln.<name> import map` works too
    return module


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


if TYPE_CHECKING:
    from . import process, ray, sync, task, thread
    from . import process as pr
    from . import task as io
    from . import thread as th
    from ._backends.common.stall import StallWarning
    from ._errors import (
        MissingInjectionError,
        PypelnError,
        RemoteError,
        SerializationError,
        WorkerCrashedError,
    )
    from ._insight.stage_stats import StageStats
    from ._insight.stats import Stats
    from ._insight.verdict import Verdict
    from ._pipeline.combinators.transforms import StageOptions
    from ._pipeline.element import Element
    from ._pipeline.feed import Feed, FeedStoppedError
    from ._pipeline.one_shot import OneShotSourceWarning
    from ._pipeline.stage import RunIterator, Stage
    from ._worker.hooks import StageStatus, WorkerInfo
    from ._worker.kernels import Index
    from ._worker.policies.failures import SKIP, Failure, Retry
