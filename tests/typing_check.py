"""Static checks of the public types, run by ``mypy --strict`` and by pyright (basedpyright,
standard mode) in ``make test`` (not by pytest).

If an overload regresses, ``assert_type`` makes either checker fail; a line marked
``# type: ignore`` must be one that both checkers reject (both report an unneeded one).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from typing_extensions import assert_type

import pypeln as pl
from pypeln import Index, RunIterator, Stage, StageOptions


def parse(line: str) -> int:
    return int(line)


def words(line: str) -> list[str]:
    return line.split()


def check_chains() -> None:
    numbers = pl.thread.map(parse, ["1", "2"], workers=2)
    assert_type(numbers, Stage[int])
    assert_type(pl.sync.filter(lambda x: x > 1, numbers), Stage[int])
    assert_type(pl.thread.flat_map(words, ["a b"]), Stage[str])
    assert_type(pl.thread.ordered(numbers), Stage[int])
    assert_type(pl.thread.concat([numbers, numbers]), Stage[int])
    assert_type(pl.thread.from_iterable(range(3)), Stage[int])
    assert_type(pl.thread.to_iterable(numbers), RunIterator[int])
    assert_type(pl.thread.each(print, numbers, run=True), None)
    assert_type(list(numbers), list[int])


def check_pipes() -> None:
    assert_type(["1"] | pl.thread.map(parse), Stage[int])
    assert_type(["1"] | pl.thread.map(parse) | pl.sync.filter(bool), Stage[int])
    assert_type(["1"] | pl.thread.map(parse) | pl.thread.ordered(), Stage[int])
    assert_type(["1"] | pl.thread.map(parse) | list, list[int])
    assert_type(pl.th.map(parse, ["1"]) | sum, int)
    assert_type(["1"] | pl.thread.each(print, run=True), None)
    assert_type(["1"] | pl.thread.to_iterable(maxsize=1), RunIterator[str])
    assert_type([1] | pl.thread.to_iterable(return_index=True), RunIterator[pl.Element[int]])


def check_049_call_forms() -> None:
    """pypeln 0.4's keyword ``stage`` and positional options keep the item types."""
    numbers = pl.thread.map(parse, stage=["1"])
    assert_type(numbers, Stage[int])
    assert_type(pl.thread.map(parse, ["1"], 2), Stage[int])
    assert_type(pl.process.map(parse, ["1"], 2, 0, 1.5, None, None), Stage[int])
    assert_type(pl.sync.filter(bool, stage=numbers, workers=2), Stage[int])
    assert_type(pl.thread.flat_map(words, stage=["a b"]), Stage[str])
    assert_type(pl.thread.ordered(stage=numbers, maxsize=2), Stage[int])
    assert_type(pl.thread.ordered(numbers, 2), Stage[int])
    assert_type(pl.thread.from_iterable(range(3), use_thread=False), Stage[int])
    assert_type(pl.thread.from_iterable(iterable=range(3)), Stage[int])
    assert_type(pl.thread.to_iterable(stage=numbers), RunIterator[int])
    assert_type(pl.thread.to_iterable(numbers, 1, True), RunIterator[Any])
    assert_type(pl.thread.each(print, stage=numbers, run=True), None)
    assert_type(pl.thread.each(print, numbers, 1, 0, 0, None, None, True), Stage[Any] | None)
    assert_type(["1"] | pl.thread.map(parse, workers=2) | pl.thread.ordered(maxsize=1), Stage[int])
    assert_type([1] | pl.thread.from_iterable(use_thread=True), Stage[int])
    assert_type(pl.task.to_async_iterable(numbers), RunIterator[int])
    assert_type(pl.task.map(fetch, stage=["a"]), Stage[bytes])
    assert_type(pl.thread.WorkerInfo(0), pl.WorkerInfo)


def check_policies_batches_and_feeds() -> None:
    numbers = pl.thread.map(parse, ["1"], on_error="skip", retries=pl.Retry(2), rate=5.0)
    assert_type(numbers, Stage[int])
    assert_type(pl.thread.map(parse, ["1"], retries=3, ordered=True), Stage[int])
    assert_type(pl.thread.map(parse, ["1"], workers=2, key=len, maxsize=None), Stage[int])
    assert_type(pl.task.map(fetch, ["a"], workers=2, key=str.lower), Stage[bytes])

    def fallback(failure: pl.Failure) -> int:
        assert_type(failure.index, tuple[int, ...])
        return -1 if isinstance(failure.error, ValueError) else 0

    assert_type(pl.process.map(parse, ["x"], on_error=fallback), Stage[int])
    assert_type(pl.thread.batch(2, numbers), Stage[list[int]])
    assert_type(numbers | pl.thread.batch(2, timeout=0.5), Stage[list[int]])
    feed = pl.thread.feed(maxsize=4)
    assert_type(feed, pl.Feed[Any])
    assert_type(pl.thread.map(parse, feed), Stage[int])


def check_wrong_inputs_are_rejected() -> None:
    pl.thread.map(parse, ["1"], on_error="ignore")  # type: ignore[call-overload]
    pl.thread.map(parse, ["1"], retries="3")  # type: ignore[call-overload]
    pl.thread.batch("2", [1])  # type: ignore[call-overload]
    pl.thread.map(parse, ["1"], "2")  # type: ignore[call-overload]
    pl.thread.map(parse, stage=3)  # type: ignore[call-overload]
    pl.thread.ordered(["1"], maxsize="1")  # type: ignore[call-overload]
    pl.thread.from_iterable([1], use_thread="no")  # type: ignore[call-overload]
    pl.thread.to_iterable(stage=5)  # type: ignore[call-overload]
    pl.thread.map(parse, ["1"], key="user")  # type: ignore[call-overload]
    pl.thread.map(parse, ["1"], key=str.split)  # type: ignore[arg-type]


def parse_bytes(data: bytes) -> int:
    return len(data)


def tag(x: int, worker_info: pl.WorkerInfo) -> str:
    return f"{x}@{worker_info.index}"


def check_the_input_flows_into_f() -> None:
    """The source's item type must be what ``f`` accepts, in the call and the ``|`` form;
    parameters pypeln injects by name (``worker_info``, resources) stay allowed."""
    assert_type(pl.thread.map(tag, range(3)), Stage[str])
    assert_type(range(3) | pl.thread.map(tag), Stage[str])
    assert_type(range(3) | pl.thread.map(tag, workers=2) | pl.thread.map(len), Stage[int])
    assert_type(range(3) | pl.thread.map(lambda x: x + 1), Stage[Any])
    assert_type(["a b"] | pl.thread.flat_map(words), Stage[str])
    assert_type(range(3) | pl.thread.filter(lambda x: x > 1), Stage[int])
    assert_type(range(3) | pl.thread.each(tag), Stage[Any])
    assert_type(["a"] | pl.task.map(fetch), Stage[bytes])
    pl.thread.map(parse_bytes, range(3))  # type: ignore[arg-type]
    range(3) | pl.thread.map(parse_bytes)  # type: ignore[operator]
    pl.thread.map(tag, ["a"])  # type: ignore[arg-type]
    ["a"] | pl.process.map(tag)  # type: ignore[operator]
    pl.thread.flat_map(words, range(3))  # type: ignore[arg-type]
    range(3) | pl.thread.flat_map(words)  # type: ignore[operator]
    pl.thread.filter(parse_bytes, range(3))  # type: ignore[arg-type]
    pl.thread.each(parse_bytes, range(3))  # type: ignore[arg-type]
    range(3) | pl.thread.each(parse_bytes)  # type: ignore[operator]
    pl.task.map(fetch, range(3))  # type: ignore[arg-type]
    range(3) | pl.task.map(fetch)  # type: ignore[operator]


def check_options(flag: bool, options: StageOptions) -> None:
    assert_type(pl.thread.each(print, [1], run=flag), Stage[Any] | None)
    assert_type(pl.thread.map(parse, ["1"], **options), Stage[int])


async def fetch(url: str) -> bytes:
    return url.encode()


async def chunks(url: str) -> AsyncIterator[bytes]:
    yield url.encode()


async def check_tasks() -> None:
    pages = pl.task.map(fetch, ["a"], workers=0)
    assert_type(pages, Stage[bytes])
    assert_type(pl.task.map(len, pages), Stage[int])
    assert_type(pl.task.flat_map(chunks, ["a"]), Stage[bytes])
    assert_type(pl.task.flat_map(words, ["a b"]), Stage[str])
    assert_type(["a"] | pl.task.map(fetch), Stage[bytes])
    assert_type(await pages, list[bytes])
    async for page in pl.io.map(fetch, ["a"]):
        assert_type(page, bytes)
    async for number in pl.thread.map(parse, ["1"]):
        assert_type(number, int)
    async for number in pl.thread.to_iterable(pl.thread.map(parse, ["1"])):
        assert_type(number, int)
    async for page in pl.task.to_async_iterable(pages):
        assert_type(page, bytes)
    async for indexed in ["a"] | pl.task.to_async_iterable(return_index=True):
        assert_type(indexed, pl.Element[str])
        assert_type(indexed.value, str)
        assert_type(indexed.index, Index)
