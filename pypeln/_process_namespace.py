"""``Namespace`` for the process backend: the same attribute bag, shared across processes.

The values live in a small manager process (``multiprocessing.Manager``) that ends when the
namespace is garbage collected; ``with ns:`` holds a lock that every process sees.

>>> ns = Namespace(count=0)
>>> with ns:
...     ns.count += 1
>>> ns
Namespace(count=1)
>>> del ns
"""

from __future__ import annotations

from typing import Any

from . import _namespace
from ._runtime._processes import ProcessRuntime


class Namespace(_namespace.HoldsLock):
    __doc__ = _namespace.Namespace.__doc__
    __slots__ = ("_lock", "_manager", "_values")

    def __init__(self, **kwargs: Any) -> None:
        manager = ProcessRuntime().context().Manager()
        object.__setattr__(self, "_manager", manager)
        object.__setattr__(self, "_values", manager.Namespace(**kwargs))
        object.__setattr__(self, "_lock", manager.RLock())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(object.__getattribute__(self, "_values"), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._values, name, value)

    def __reduce__(self) -> tuple[Any, ...]:
        # Workers get the proxies only; the manager stays with (and ends with) its creator.
        return (_attach, (self._values, self._lock))

    def __repr__(self) -> str:
        values = vars(self._values._getvalue())
        return "Namespace(" + ", ".join(f"{k}={v!r}" for k, v in values.items()) + ")"


def _attach(values: Any, lock: Any) -> Namespace:
    ns = object.__new__(Namespace)
    object.__setattr__(ns, "_manager", None)
    object.__setattr__(ns, "_values", values)
    object.__setattr__(ns, "_lock", lock)
    return ns
