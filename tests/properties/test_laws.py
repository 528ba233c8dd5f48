"""Laws every backend obeys, for any data, workers and maxsize (hypothesis)."""

from __future__ import annotations

from collections import Counter
from types import ModuleType

from hypothesis import given, settings
from hypothesis import strategies as st

import pypeln as pl
from tests.conftest import BACKENDS, law_examples, namespace_of

backends = st.sampled_from([namespace_of(name) for name in BACKENDS])
data = st.lists(st.integers(-1000, 1000), max_size=60)
workers = st.integers(1, 4)
maxsizes = st.integers(0, 3)
LAW_SETTINGS = settings(deadline=None, max_examples=law_examples())


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


STEP_FUNCTIONS = {"map": f, "filter": keep, "flat_map": expand}
steps = st.lists(
    st.tuples(st.sampled_from(sorted(STEP_FUNCTIONS)), backends, workers, maxsizes),
    min_size=1,
    max_size=4,
)


def reference(kind: str, items: list[int]) -> list[int]:
    if kind == "map":
        return [f(x) for x in items]
    if kind == "filter":
        return [x for x in items if keep(x)]
    return [y for x in items for y in expand(x)]


@LAW_SETTINGS
@given(data, steps)
def test_any_mix_of_backends_agrees_with_the_reference(
    xs: list[int], chain: list[tuple[str, ModuleType, int, int]]
) -> None:
    stage: object = iter(xs)  # a one-shot source, read by exactly one run
    expected = list(xs)
    for kind, backend, n, size in chain:
        stage = getattr(backend, kind)(STEP_FUNCTIONS[kind], stage, workers=n, maxsize=size)
        expected = reference(kind, expected)
    assert list(pl.sync.ordered(stage)) == expected  # type: ignore[call-overload]


@LAW_SETTINGS
@given(backends, data, workers, maxsizes)
def test_fan_out_branches_each_see_every_item(
    backend: ModuleType, xs: list[int], n: int, size: int
) -> None:
    shared = backend.map(f, iter(xs), workers=n, maxsize=size)
    branches = [backend.filter(keep, shared, workers=n), backend.map(g, shared, maxsize=size)]
    expected = Counter([x for x in map(f, xs) if keep(x)] + [g(f(x)) for x in xs])
    assert Counter(backend.concat(branches, maxsize=size)) == expected


def fragile(x: int) -> int:
    if x % 5 == 0:
        raise ValueError(x)
    return f(x)


@LAW_SETTINGS
@given(backends, data, workers, maxsizes)
def test_skip_keeps_exactly_the_items_whose_call_succeeds(
    backend: ModuleType, xs: list[int], n: int, size: int
) -> None:
    run = backend.to_iterable(backend.map(fragile, xs, workers=n, maxsize=size, on_error="skip"))
    assert Counter(run) == Counter(f(x) for x in xs if x % 5)
    failed = sum(1 for x in xs if x % 5 == 0)
    assert run.failed() == ({"map(fragile)": failed} if failed else {})


@LAW_SETTINGS
@given(backends, data, workers, st.integers(0, 2))
def test_failing_fewer_times_than_the_attempts_loses_nothing(
    backend: ModuleType, xs: list[int], n: int, failures: int
) -> None:
    calls: dict[int, int] = {}  # per worker (copied into each worker process): retries stay

    def flaky(x: int) -> int:
        calls[x] = calls.get(x, 0) + 1
        if calls[x] <= failures:
            raise OSError(x)
        return f(x)

    unique = list(dict.fromkeys(xs))  # each item once: a repeat would find its count used up
    retry = pl.Retry(attempts=failures + 1, delay=0)
    assert Counter(backend.map(flaky, unique, workers=n, retries=retry)) == Counter(map(f, unique))


@LAW_SETTINGS
@given(backends, data, st.integers(1, 7), workers, maxsizes)
def test_batches_cover_the_input_in_full_lists(
    backend: ModuleType, xs: list[int], size: int, n: int, maxsize: int
) -> None:
    batches = list(backend.batch(size, backend.map(f, xs, workers=n), maxsize=maxsize))
    assert Counter(x for batch in batches for x in batch) == Counter(map(f, xs))
    assert all(len(batch) == size for batch in batches[:-1])
    assert not batches or 1 <= len(batches[-1]) <= size
    if n == 1:  # one worker upstream: arrival order is input order
        assert [x for batch in batches for x in batch] == list(map(f, xs))


@LAW_SETTINGS
@given(backends, data, workers, maxsizes)
def test_ordered_true_is_the_list_comprehension(
    backend: ModuleType, xs: list[int], n: int, size: int
) -> None:
    assert list(backend.map(f, xs, workers=n, maxsize=size, ordered=True)) == [f(x) for x in xs]
    flat = backend.flat_map(expand, xs, workers=n, maxsize=size, ordered=True)
    assert list(flat) == [y for x in xs for y in expand(x)]


@LAW_SETTINGS
@given(backends, data, workers, maxsizes, st.integers(1, 6))
def test_each_key_reaches_one_worker_in_input_order(
    backend: ModuleType, xs: list[int], n: int, size: int, keys: int
) -> None:
    def tagged(x: int, worker_info: pl.WorkerInfo) -> tuple[int, int]:
        return x, worker_info.index

    results = list(backend.map(tagged, xs, workers=n, maxsize=size, key=lambda x: x % keys))
    assert Counter(x for x, _ in results) == Counter(xs)
    for key in range(keys):
        mine = [(x, worker) for x, worker in results if x % keys == key]
        assert len({worker for _, worker in mine}) <= 1
        assert [x for x, _ in mine] == [x for x in xs if x % keys == key]
