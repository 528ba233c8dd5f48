"""The backends pypeln knows, by name: the library owns this list.

A backend is one line below: its public name (``pl.<name>``) and where its ``Backend``
class lives. Nothing is imported before the backend is first used, so ``import pypeln``
stays cheap and a worker process loads only the backend it runs. ``pl.<name>``, the
contract suite and the fault suite all read this list.

>>> names()[:5]  # and any registered at run time
('sync', 'thread', 'task', 'process', 'ray')
>>> backend("thread").name, backend("thread") is backend("thread")
('thread', True)
>>> async_backend().name
'task'
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .contract import Backend

#: Every backend: its name, and ``module:class`` of its ``Backend``.
BACKENDS: dict[str, str] = {
    "sync": "pypeln._backends.sync.backend:SyncBackend",
    "thread": "pypeln._backends.thread.backend:ThreadBackend",
    "task": "pypeln._backends.task.backend:TaskBackend",
    "process": "pypeln._backends.process.backend:ProcessBackend",
    "ray": "pypeln._backends.ray.backend:RayBackend",
}

_instances: dict[str, Backend] = {}
_lock = threading.Lock()


def names() -> tuple[str, ...]:
    """Every registered backend's name, in the order registered."""
    return tuple(BACKENDS)


def register(name: str, where: str) -> None:
    """Add a backend at run time (a plugin, a test): ``where`` is ``"module:Class"``."""
    if not name.isidentifier() or name in BACKENDS:
        raise ValueError(f"register(): name must be a new identifier, got {name!r}")
    if where.count(":") != 1:
        raise ValueError(f"register(): where must be 'module:Class', got {where!r}")
    BACKENDS[name] = where


def unregister(name: str) -> None:
    """Forget a backend registered at run time."""
    BACKENDS.pop(name)
    _instances.pop(name, None)


def backend(name: str) -> Backend:
    """The default configuration of backend ``name`` (one per process): ``pl.<name>.backend``."""
    found = _instances.get(name)
    if found is not None:
        return found
    with _lock:
        if name not in _instances:
            _instances[name] = backend_class(name)()
        return _instances[name]


def backend_class(name: str) -> type[Backend]:
    """The ``Backend`` class of ``name``, imported now if it was not yet."""
    where = BACKENDS.get(name)
    if where is None:
        raise AttributeError(f"pypeln has no backend {name!r} (it has {', '.join(BACKENDS)})")
    module, _, attribute = where.partition(":")
    found: type[Backend] = getattr(importlib.import_module(module), attribute)
    return found


def async_backend() -> Backend:
    """The first backend whose workers are tasks of an event loop: how async iterables
    reach other backends, and other backends reach ``async for``."""
    for name in BACKENDS:
        if backend_class(name).async_workers:
            return backend(name)
    raise LookupError("no registered backend has async workers")
