"""``ray``: every stage worker is a Ray actor. For pipelines that outgrow one machine: many
nodes, GPUs, other resources; the same API as every other backend.

Without a cluster the first run starts one inside the program (on 127.0.0.1 only); a
program that called ``ray.init()`` runs on its cluster, and ``RAY_ADDRESS`` or
``using(address=...)`` joins a running one. ``using(num_cpus=..., num_gpus=...,
resources=...)`` sets what each actor asks of the cluster. Needs the ``ray`` extra:
``pip install 'pypeln[ray]'``.

>>> import pypeln as pl
>>> sorted(range(4) | pl.ray.map(lambda x: x + 1, workers=2))
[1, 2, 3, 4]
"""

from collections.abc import Mapping

from ._backends import registry
from ._backends.ray.backend import RayBackend
from ._backends.ray.resources import ActorOptions
from ._backends.ray.shared_state import Namespace
from ._pipeline.combinators.api import Api
from ._pipeline.stage import RunIterator, Stage
from ._worker.hooks import WorkerInfo

_api = Api(registry.backend("ray"))
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


def using(
    *,
    num_cpus: float | None = None,
    num_gpus: float | None = None,
    resources: Mapping[str, float] | None = None,
    address: str | None = None,
) -> Api:
    """The ``ray`` API whose actors ask for these resources, on the cluster at ``address``.

    >>> import pypeln as pl
    >>> light = pl.ray.using(num_cpus=0.5)
    >>> sorted(light.map(abs, [-1, 2]))
    [1, 2]
    """
    options = ActorOptions(num_cpus, num_gpus, dict(resources or {}), address)
    return Api(RayBackend(options))


__all__ = [
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
    "using",
]
