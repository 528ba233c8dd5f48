"""``sync``: no concurrency. Every stage runs as a generator in the consumer's thread, in
exact input order. It is the reference semantics every other backend is tested against, and
the backend to debug a pipeline with.

>>> import pypeln as pl
>>> sorted(range(4) | pl.sync.map(lambda x: x + 1, workers=2))
[1, 2, 3, 4]
"""

from ._backends import registry
from ._backends.common.shared_state import Namespace
from ._pipeline.combinators.api import Api
from ._pipeline.stage import RunIterator, Stage
from ._worker.hooks import WorkerInfo

_api = Api(registry.backend("sync"))
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
]
