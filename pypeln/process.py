"""``process``: every worker is a process. For CPU-bound Python (parsing, image work,
feature extraction): true parallelism on every core. Alias: ``pl.pr``.

Functions, hooks, lambdas and closures reach the workers with cloudpickle, once per worker.
Workers start with ``fork`` while the process has a single thread and with ``forkserver``
once it has others (see the docs on start methods); choose another start method globally
with ``set_start_method`` (or the environment variable ``PYPELN_START_METHOD``), or per
stage with ``using(start_method=...)``.

>>> import pypeln as pl
>>> sorted(range(4) | pl.process.map(lambda x: x + 1, workers=2))
[1, 2, 3, 4]
"""

from ._backends.process.posix import require_posix

require_posix()  # elsewhere (Windows): a clear ImportError, before anything fails to load

from ._backends.process.start.methods import set_start_method, warm_up  # noqa: E402

# First of all: in a program that has threads, the fork server boots while the rest loads.
warm_up(None)

from ._backends import registry  # noqa: E402
from ._backends.process.backend import ProcessBackend  # noqa: E402
from ._backends.process.shared_state import Namespace  # noqa: E402
from ._pipeline.combinators.api import Api  # noqa: E402
from ._pipeline.stage import RunIterator, Stage  # noqa: E402
from ._worker.hooks import WorkerInfo  # noqa: E402

_api = Api(registry.backend("process"))
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


def using(start_method: str) -> Api:
    """The ``process`` API whose stages start their workers with ``start_method``.

    >>> import pypeln as pl
    >>> spawn = pl.process.using("spawn")
    >>> sorted(spawn.map(abs, [-1, 2]))
    [1, 2]
    """
    backend = ProcessBackend(start_method)
    warm_up(start_method)
    return Api(backend)


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
    "set_start_method",
    "to_async_iterable",
    "to_iterable",
    "using",
]
