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
    "StageOptions": "._api_transforms",
    "MissingInjectionError": "._errors",
    "PypelnError": "._errors",
    "RemoteError": "._errors",
    "SerializationError": "._errors",
    "WorkerCrashedError": "._errors",
    "StageStatus": "._hooks",
    "WorkerInfo": "._hooks",
    "Element": "._element",
    "Index": "._kernels",
    "OneShotSourceWarning": "._one_shot",
    "StallWarning": "._runtime._stall",
    "RunIterator": "._stage",
    "Stage": "._stage",
}
_NAMESPACES = {"process", "pr", "thread", "th", "task", "io", "sync"}

__all__ = [
    "Element",
    "Index",
    "MissingInjectionError",
    "OneShotSourceWarning",
    "PypelnError",
    "RemoteError",
    "RunIterator",
    "SerializationError",
    "Stage",
    "StageOptions",
    "StageStatus",
    "StallWarning",
    "WorkerCrashedError",
    "WorkerInfo",
    "__version__",
    "io",
    "pr",
    "process",
    "sync",
    "task",
    "th",
    "thread",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'pypeln' has no attribute {name!r}")
    module = importlib.import_module(where, __name__)
    value = module if name in _NAMESPACES else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


if TYPE_CHECKING:
    from . import process, sync, task, thread
    from . import process as pr
    from . import task as io
    from . import thread as th
    from ._api_transforms import StageOptions
    from ._element import Element
    from ._errors import (
        MissingInjectionError,
        PypelnError,
        RemoteError,
        SerializationError,
        WorkerCrashedError,
    )
    from ._hooks import StageStatus, WorkerInfo
    from ._kernels import Index
    from ._one_shot import OneShotSourceWarning
    from ._runtime._stall import StallWarning
    from ._stage import RunIterator, Stage
