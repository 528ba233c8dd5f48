"""A stage or list read twice by one stage (``concat([s, s])``), or by stages that meet again
later (a diamond): every item arrives once per reference, and the run ends."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.conftest import namespace_of


def triple(x: int) -> int:
    return 3 * x + 1


@pytest.mark.timeout(20)
@pytest.mark.parametrize("twice", ["stage", "list"])
def test_a_node_read_twice_by_one_stage_ends(backend: Any, twice: str) -> None:
    xs = [1, 2, 3]
    source = backend.map(triple, xs) if twice == "stage" else xs
    values = [triple(x) for x in xs] if twice == "stage" else xs
    assert Counter(backend.concat([source, source])) == Counter(values * 2)
    nested = backend.concat([backend.concat([source, source]), source])
    assert Counter(nested) == Counter(values * 3)


@pytest.mark.timeout(20)
def test_a_diamond_with_a_repeated_branch_ends(backend: Any) -> None:
    source = backend.map(triple, range(20), workers=2, maxsize=1)
    left = backend.filter(bool, source, workers=2, maxsize=1)
    right = backend.concat([source, left], maxsize=1)
    merged = backend.concat([left, right, right], maxsize=2)
    values = [triple(x) for x in range(20)]
    assert Counter(merged) == Counter(values * 5)


OTHERS = ["sync", "thread", "task", "process"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("other", OTHERS)
def test_a_stage_read_by_a_branch_of_another_backend_runs_once(backend: Any, other: str) -> None:
    # One run: the shared stage reads a one-shot source once, and both branches see all of
    # it (a stage of another backend runs in a run of its own, which must not compute the
    # shared stage again: the two would split the source).
    if backend.backend.name == other:
        pytest.skip("one backend")
    inner = namespace_of(other)
    xs = list(range(40))
    shared = backend.map(triple, iter(xs), workers=2, maxsize=3)
    far = inner.map(negate, shared, workers=2)
    near = backend.map(abs, shared)
    values = [triple(x) for x in xs]
    assert Counter(backend.concat([far, near])) == Counter([-v for v in values] + values)
    # ... and a one-shot source read only by two stages of other backends.
    source = iter(xs)
    merged = backend.concat([inner.map(negate, source), inner.map(abs, source, workers=2)])
    assert Counter(merged) == Counter([-x for x in xs] + xs)


def negate(x: int) -> int:
    return -x
