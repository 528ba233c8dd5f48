"""Laws every backend obeys, for any data, workers and maxsize (hypothesis)."""

from __future__ import annotations

from collections import Counter
from types import ModuleType

from hypothesis import given, settings
from hypothesis import strategies as st

import pypeln as pl
from tests.conftest import BACKENDS

backends = st.sampled_from([getattr(pl, name) for name in BACKENDS])
data = st.lists(st.integers(-1000, 1000), max_size=60)
workers = st.integers(1, 4)
maxsizes = st.integers(0, 3)
LAW_SETTINGS = settings(max_examples=60, deadline=None)


def f(x: int) -> int:
    return 3 * x + 1


def g(x: int) -> int:
    return x // 2


def keep(x: int) -> bool:
    return x % 3 != 0


def expand(x: int) -> list[int]:
    return [x] * (abs(x) % 4)


@LAW_SETTINGS
@given(backends, data, workers, maxsizes)
def test_agrees_with_builtins(backend: ModuleType, xs: list[int], n: int, size: int) -> None:
    assert Counter(backend.map(f, xs, workers=n, maxsize=size)) == Counter(map(f, xs))
    assert Counter(backend.filter(keep, xs, workers=n, maxsize=size)) == Counter(filter(keep, xs))
    flat = backend.flat_map(expand, xs, workers=n, maxsize=size)
    assert Counter(flat) == Counter(y for x in xs for y in expand(x))


@LAW_SETTINGS
@given(backends, data, workers, maxsizes)
def test_ordered_is_exact_input_order(
    backend: ModuleType, xs: list[int], n: int, size: int
) -> None:
    stage = backend.flat_map(expand, xs, workers=n, maxsize=size)
    stage = backend.filter(keep, backend.map(f, stage, workers=n, maxsize=size), workers=n)
    expected = [f(y) for x in xs for y in expand(x) if keep(f(y))]
    assert list(backend.ordered(stage)) == expected


@LAW_SETTINGS
@given(backends, data, workers, workers, maxsizes, maxsizes)
def test_independent_of_workers_and_maxsize(
    backend: ModuleType, xs: list[int], n1: int, n2: int, s1: int, s2: int
) -> None:
    def build(n: int, size: int) -> list[int]:
        stage = backend.map(f, xs, workers=n, maxsize=size)
        return list(backend.ordered(backend.filter(keep, stage, workers=n, maxsize=size)))

    assert build(n1, s1) == build(n2, s2)


@LAW_SETTINGS
@given(backends, data, workers, maxsizes)
def test_map_of_map_is_map_of_composition(
    backend: ModuleType, xs: list[int], n: int, size: int
) -> None:
    chained = backend.map(g, backend.map(f, xs, workers=n, maxsize=size), workers=n)
    composed = backend.map(lambda x: g(f(x)), xs, workers=n, maxsize=size)
    assert list(backend.ordered(chained)) == list(backend.ordered(composed))


@LAW_SETTINGS
@given(backends, st.lists(data, min_size=1, max_size=4), workers, maxsizes)
def test_concat_delivers_every_item_once(
    backend: ModuleType, parts: list[list[int]], n: int, size: int
) -> None:
    stages = [backend.map(f, part, workers=n, maxsize=size) for part in parts]
    merged = backend.concat(stages, maxsize=size)
    assert Counter(merged) == Counter(f(x) for part in parts for x in part)
