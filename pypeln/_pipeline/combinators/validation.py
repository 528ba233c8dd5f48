"""Eager argument checks: bad input fails at the call that caused it, naming the argument.

>>> check_workers("map", 0)
Traceback (most recent call last):
...
ValueError: map(): workers must be an int >= 1, got 0
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import AsyncIterable, Callable, Iterable
from functools import partial
from typing import Any

from ..._insight.monitor import monitor_port
from ..._insight.progress import bar_type
from ..._worker.async_kernels import is_async_callable
from ..._worker.policies.failures import OnError, Retry
from ..stage import function_name


def check_function(api: str, name: str, value: object) -> Callable[..., Any]:
    """``value`` must be callable."""
    if not callable(value):
        raise TypeError(f"{api}(): {name} must be callable, got {_describe(value)}")
    return value


def check_hook(api: str, name: str, value: object) -> Callable[..., Any] | None:
    """``value`` must be None or callable."""
    if value is None:
        return None
    if not callable(value):
        raise TypeError(f"{api}(): {name} must be callable or None, got {_describe(value)}")
    return value


def check_plain_function(api: str, name: str, value: object, backend: str) -> None:
    """On a backend that does not await, ``value`` (None or a callable) must not be async.

    >>> async def fetch(url): ...
    >>> check_plain_function("map", "f", fetch, "thread")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: map(): f must be a plain function on pl.thread, got async function fetch: ...
    """
    if value is None or not is_async_callable(value):
        return
    target: Any = value
    while isinstance(target, partial):
        target = target.func
    kind = "async generator function" if inspect.isasyncgenfunction(target) else "async function"
    label = getattr(target, "__qualname__", type(target).__name__).rpartition("<locals>.")[2]
    raise TypeError(
        f"{api}(): {name} must be a plain function on pl.{backend}, got {kind} {label}: "
        f"pl.{backend} would not await it (each call would only make a coroutine); "
        f"pl.task.{api} awaits it"
    )


def check_workers(api: str, value: object, *, unlimited: bool = False) -> int:
    """``value`` must be an int >= 1; 0 (no limit) too where ``unlimited`` is True."""
    if unlimited and value == 0 and not isinstance(value, bool):
        return 0
    return _check_int(api, "workers", value, 1)


def plain_function_threads() -> int:
    """How many threads ``workers=0`` ("no limit") gives a plain function on ``pl.task``:
    as many as asyncio's default executor has (pypeln 0.4.9 accepted it too).

    >>> plain_function_threads() == min(32, (os.cpu_count() or 1) + 4)
    True
    """
    return min(32, (os.cpu_count() or 1) + 4)


def check_size(api: str, value: object) -> int:
    """``value`` must be an int >= 1 (a batch's items).

    >>> check_size("batch", 0)
    Traceback (most recent call last):
    ...
    ValueError: batch(): size must be an int >= 1, got 0
    """
    return _check_int(api, "size", value, 1)


def check_maxsize(api: str, value: object) -> int:
    """``value`` must be an int >= 0 (0 means unbounded)."""
    return _check_int(api, "maxsize", value, 0)


def check_stage_maxsize(api: str, value: object) -> int | None:
    """A stage's ``maxsize``: None (a bound the plan sizes) or an int >= 0 (0: unbounded).

    >>> check_stage_maxsize("map", None), check_stage_maxsize("map", 0)
    (None, 0)
    >>> check_stage_maxsize("map", -1)
    Traceback (most recent call last):
    ...
    ValueError: map(): maxsize must be an int >= 0 or None, got -1
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{api}(): maxsize must be an int >= 0 or None, got {_describe(value)}")
    if value < 0:
        raise ValueError(f"{api}(): maxsize must be an int >= 0 or None, got {value!r}")
    return value


def check_timeout(api: str, value: object) -> float:
    """``value`` must be a finite number of seconds >= 0 (0 means no timeout)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{api}(): timeout must be a number of seconds, got {_describe(value)}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{api}(): timeout must be a finite number >= 0, got {value!r}")
    return float(value)


def check_on_error(api: str, value: object) -> OnError:
    """``value`` must be ``"raise"``, ``"skip"`` or a function of a ``Failure``.

    >>> check_on_error("map", "ignore")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: map(): on_error must be "raise", "skip" or a function taking a pl.Failure, ...
    """
    if value in ("raise", "skip") and isinstance(value, str):
        return value
    if callable(value):
        return value
    error = ValueError if isinstance(value, str) else TypeError
    raise error(
        f'{api}(): on_error must be "raise", "skip" or a function taking a pl.Failure, '
        f"got {_describe(value)}"
    )


def check_retries(api: str, value: object) -> Retry | None:
    """``value`` must be an int >= 0 (retries after the first call) or a ``pl.Retry``.

    >>> check_retries("map", 2)
    Retry(attempts=3, delay=0.1, backoff=2.0, on=(<class 'Exception'>,))
    """
    if isinstance(value, Retry):
        return value if value.attempts > 1 else None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{api}(): retries must be an int >= 0 or a pl.Retry, got {_describe(value)}"
        )
    if value < 0:
        raise ValueError(f"{api}(): retries must be an int >= 0 or a pl.Retry, got {value!r}")
    return Retry(attempts=value + 1) if value else None


def check_rate(api: str, value: object) -> float | None:
    """``value`` must be None (no limit) or a finite number of calls per second > 0.

    >>> check_rate("map", 0)
    Traceback (most recent call last):
    ...
    ValueError: map(): rate must be a finite number of calls per second > 0 (or None), got 0
    """
    if value is None:
        return None
    expected = f"{api}(): rate must be a finite number of calls per second > 0 (or None), got"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{expected} {_describe(value)}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{expected} {value!r}")
    return float(value)


def check_key(api: str, value: object, workers: object) -> Callable[[Any], Any] | None:
    """``key=``: None or a plain function, on a stage with a fixed number of workers.

    >>> check_key("map", "name", 2)
    Traceback (most recent call last):
    ...
    TypeError: map(): key must be a function of the item (or None), got str 'name'
    """
    if value is None:
        return None
    if not callable(value):
        raise TypeError(
            f"{api}(): key must be a function of the item (or None), got {_describe(value)}"
        )
    if is_async_callable(value):
        raise TypeError(
            f"{api}(): key must be a plain function (it picks a worker before any call "
            f"starts), got the async function {function_name(value)}"
        )
    if workers == 0:
        raise ValueError(
            f"{api}(): key needs a fixed number of workers (each key goes to one of them), "
            "got workers=0"
        )
    return value


def check_bool(api: str, name: str, value: object) -> bool:
    """``value`` must be a bool."""
    if not isinstance(value, bool):
        raise TypeError(f"{api}(): {name} must be a bool, got {_describe(value)}")
    return value


def check_progress(api: str, value: object) -> None:
    """``progress`` must be a bool or a text stream (something with ``write``); bars need
    tqdm, checked now.

    >>> check_progress("to_iterable", "yes")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: to_iterable(): progress must be a bool or a text stream ..., got str 'yes'
    """
    if not isinstance(value, bool) and not callable(getattr(value, "write", None)):
        raise TypeError(
            f"{api}(): progress must be a bool or a text stream to write the bars to, "
            f"got {_describe(value)}"
        )
    if value is not False:
        bar_type(f"{api}()")


def check_monitor(api: str, value: object) -> None:
    """``monitor`` must be None or a port number (0: any free one).

    >>> check_monitor("run", 70000)
    Traceback (most recent call last):
    ...
    ValueError: run(): monitor must be a port number from 0 to 65535, got 70000
    """
    if value is not None:
        monitor_port(f"{api}()", value)  # type: ignore[arg-type]


def check_source(api: str, name: str, value: object) -> Iterable[Any]:
    """``value`` must be a stage or any iterable (a string counts), sync or async."""
    if not isinstance(value, (Iterable, AsyncIterable)):
        raise TypeError(
            f"{api}(): {name} must be a Stage or an iterable, got {_describe(value)} "
            "(sync and async iterables both work)"
        )
    return value  # type: ignore[return-value]  # an async iterable is read by a task stage


def check_sources(api: str, name: str, value: object) -> tuple[Iterable[Any], ...]:
    """``value`` must be a list or tuple of stages or iterables."""
    if not isinstance(value, (list, tuple)):
        raise TypeError(
            f"{api}(): {name} must be a list or tuple of stages or iterables, "
            f"got {_describe(value)}"
        )
    return tuple(check_source(api, f"{name}[{i}]", item) for i, item in enumerate(value))


def _check_int(api: str, name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{api}(): {name} must be an int >= {minimum}, got {_describe(value)}")
    if value < minimum:
        raise ValueError(f"{api}(): {name} must be an int >= {minimum}, got {value!r}")
    return value


def _describe(value: object) -> str:
    return f"{type(value).__name__} {value!r}"[:120]
