"""The ``task`` API: ``Api`` whose types know that an async ``f`` is awaited.

The behaviour, checks and docstrings are ``Api``'s; only the overloads differ, so that
``pl.task.map(fetch, urls)`` with ``async def fetch(url) -> bytes`` is a ``Stage[bytes]``
(on the other backends an async ``f`` would yield its coroutines).

>>> import asyncio
>>> from pypeln._backends.task.backend import TaskBackend
>>> async def inc(x):
...     return x + 1
>>> sorted(TaskApi(TaskBackend()).map(inc, [1, 2]))
[2, 3]
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from typing import Any, Concatenate, TypeVar, overload

from ..._worker.policies.failures import OnError, Retry
from ..stage import Stage
from .api import Api
from .partial import AwaitingFlatPipe, AwaitingPipe, Items
from .transforms import Hook, KeyFunction

T = TypeVar("T")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])


class TaskApi(Api):
    """``Api`` with overloads for async functions (see the module docstring)."""

    @overload  # type: ignore[override]
    def map(
        self,
        f: F,
        stage: None = None,
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> AwaitingPipe[F]: ...

    @overload
    def map(
        self,
        f: Callable[[T], Awaitable[R]],
        stage: Items[T],
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[R]: ...

    @overload
    def map(
        self,
        f: Callable[Concatenate[T, ...], Awaitable[R]],
        stage: Items[T],
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[R]: ...

    @overload
    def map(
        self,
        f: Callable[[T], R],
        stage: Items[T],
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[R]: ...

    @overload
    def map(
        self,
        f: Callable[Concatenate[T, ...], R],
        stage: Items[T],
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[R]: ...

    def map(
        self,
        f: Callable[..., Any],
        stage: Iterable[Any] | AsyncIterable[Any] | None = None,
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[Any] | AwaitingPipe[Any]:
        built = super().map(
            f,
            stage,
            workers,
            maxsize,
            timeout,
            on_start,
            on_done,
            on_error=on_error,
            retries=retries,
            rate=rate,
            ordered=ordered,
            key=key,
        )
        return built if isinstance(built, Stage) else AwaitingPipe(built.build)

    @overload  # type: ignore[override]
    def flat_map(
        self,
        f: F,
        stage: None = None,
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> AwaitingFlatPipe[F]: ...

    @overload
    def flat_map(
        self,
        f: Callable[[T], AsyncIterable[R] | Awaitable[Iterable[R]]],
        stage: Items[T],
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[R]: ...

    @overload
    def flat_map(
        self,
        f: Callable[Concatenate[T, ...], AsyncIterable[R] | Awaitable[Iterable[R]]],
        stage: Items[T],
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[R]: ...

    @overload
    def flat_map(
        self,
        f: Callable[[T], Iterable[R]],
        stage: Items[T],
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[R]: ...

    @overload
    def flat_map(
        self,
        f: Callable[Concatenate[T, ...], Iterable[R]],
        stage: Items[T],
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[R]: ...

    def flat_map(
        self,
        f: Callable[..., Any],
        stage: Iterable[Any] | AsyncIterable[Any] | None = None,
        workers: int = 1,
        maxsize: int | None = None,
        timeout: float = 0,
        on_start: Hook | None = None,
        on_done: Hook | None = None,
        *,
        on_error: OnError = "raise",
        retries: int | Retry = 0,
        rate: float | None = None,
        ordered: bool = False,
        key: KeyFunction | None = None,
    ) -> Stage[Any] | AwaitingFlatPipe[Any]:
        built = super().flat_map(
            f,
            stage,
            workers,
            maxsize,
            timeout,
            on_start,
            on_done,
            on_error=on_error,
            retries=retries,
            rate=rate,
            ordered=ordered,
            key=key,
        )
        return built if isinstance(built, Stage) else AwaitingFlatPipe(built.build)

    map.__doc__ = Api.map.__doc__
    flat_map.__doc__ = Api.flat_map.__doc__
