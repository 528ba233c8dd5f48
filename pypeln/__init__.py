"""pypeln: concurrent data pipelines with one functional API over several backends.

>>> import pypeln as pl
>>> stage = pl.thread.map(lambda x: x * 2, range(5), workers=3, maxsize=4)
>>> stage = pl.sync.filter(lambda x: x > 2, stage)
>>> sorted(stage)
[4, 6, 8]
"""

from . import process, sync, task, thread
from . import process as pr
from . import task as io
from . import thread as th
from ._api import StageOptions
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

__version__ = "0.5.0.dev0"

__all__ = [
    "Index",
    "MissingInjectionError",
    "OneShotSourceWarning",
    "PypelnError",
    "RemoteError",
    "RunIterator",
    "SerializationError",
    "Stage",
    "StallWarning",
    "StageOptions",
    "StageStatus",
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
