"""A stage or list read twice by one stage (``concat([s, s])``), or by stages that meet again
later (a diamond): every item arrives once per reference, and the run ends."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest


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
