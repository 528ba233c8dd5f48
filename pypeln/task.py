"""``task``: every worker is an asyncio task in one event loop. For network-heavy work
(HTTP, databases, message queues) at high concurrency. Alias: ``pl.io``.

``f`` and the hooks may be ``async def`` functions or plain ones; ``flat_map`` takes
iterables, generators and async generators alike. An async ``f`` runs in the event loop
(``workers=0``: no limit on concurrent calls); a plain ``f`` runs in worker threads beside
it, so a blocking call never stalls the loop. Consume a stage with ``for`` or ``list()``
from sync code (the loop then runs in a helper thread, also when the caller's thread runs a
loop of its own), or with ``async for`` and ``await`` in async code (in the caller's loop).
``using(event_loop="uvloop")`` runs the loops pypeln creates on uvloop, if installed (or set
``PYPELN_EVENT_LOOP=uvloop``).

>>> import asyncio
>>> import pypeln as pl
>>> async def slow_add1(x):
...     await asyncio.sleep(0.01)
...     return x + 1
>>> sorted(range(4) | pl.task.map(slow_add1, workers=4))
[1, 2, 3, 4]
"""

from ._backends import registry
from ._backends.common.shared_state import Namespace
from ._backends.task.backend import TaskBackend
from ._pipeline.combinators.task_api import TaskApi
from ._pipeline.stage import RunIterator, Stage
from ._worker.hooks import WorkerInfo

_api = TaskApi(registry.backend("task"))
backend = _api.backend

map = _api.map
flat_map = _api.flat_map
filter = _api.filter
each = _api.each
batch = _api.batch
concat = _api.concat
feed = _api.feed
ordered = _api.ordered
from_iterable = _api.from_iterable
to_iterable = _api.to_iterable
to_async_iterable = _api.to_async_iterable
run = _api.run


def using(event_loop: str) -> TaskApi:
    """The ``task`` API whose runs consumed from sync code use ``event_loop``.

    ``"asyncio"`` (the default) or ``"uvloop"`` (needs the uvloop package). Runs consumed
    with ``async for`` or ``await`` use the caller's loop, whatever it is.

    >>> import pypeln as pl
    >>> default = pl.task.using("asyncio")
    >>> sorted(default.map(abs, [-1, 2]))
    [1, 2]
    """
    return TaskApi(TaskBackend(event_loop))


__all__ = [
    "Namespace",
    "RunIterator",
    "Stage",
    "WorkerInfo",
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
    "backend",
    "to_async_iterable",
    "to_iterable",
    "using",
]
