"""``timeout``: an element whose call runs over it is skipped and counted, never waited for."""

from __future__ import annotations

from types import ModuleType

import pytest

import pypeln as pl
from tests.shared import Shared


def test_call_over_timeout_is_skipped_and_counted(backend: ModuleType, shared: Shared) -> None:
    release = shared.event()

    def stuck_on_three(x: int) -> int:
        if x == 3:
            release.wait(timeout=1.5)  # far over the timeout; released when the test ends
        return x

    run = backend.to_iterable(backend.map(stuck_on_three, range(8), workers=2, timeout=0.3))
    try:
        assert sorted(run) == [0, 1, 2, 4, 5, 6, 7]
        assert run.timed_out() == {"map(stuck_on_three)": 1}
    finally:
        release.set()


def test_timeout_covers_all_of_a_flat_map_expansion(backend: ModuleType, shared: Shared) -> None:
    release = shared.event()

    def slow_expansion(x: int):  # type: ignore[no-untyped-def]
        yield x
        if x == 1:
            release.wait(timeout=1.5)
        yield x

    run = backend.to_iterable(backend.flat_map(slow_expansion, range(3), timeout=0.3))
    try:
        assert sorted(run) == [0, 0, 2, 2]
        assert run.timed_out() == {"flat_map(slow_expansion)": 1}
    finally:
        release.set()


def test_errors_within_timeout_are_still_raised(backend: ModuleType) -> None:
    def fail(x: int) -> int:
        raise LookupError(x)

    with pytest.raises(LookupError):
        list(backend.filter(fail, range(3), timeout=5))


def test_fast_calls_are_unaffected_by_timeout(backend: ModuleType) -> None:
    run = backend.to_iterable(backend.map(lambda x: -x, range(100), workers=3, timeout=5))
    assert sorted(run) == sorted(-x for x in range(100))
    assert run.timed_out() == {}


@pytest.mark.timeout(20)
def test_a_call_that_never_returns_is_abandoned(backend: ModuleType, shared: Shared) -> None:
    release = shared.event()

    def never_returns_on_two(x: int) -> int:
        if x == 2:
            release.wait()  # only the end of the test lets it return
        return x

    run = backend.to_iterable(backend.map(never_returns_on_two, range(6), timeout=0.3))
    try:
        items = list(run)
        assert run.timed_out() == {"map(never_returns_on_two)": 1}
    finally:
        release.set()
    # The sync backend keeps input order: the abandoned call leaves a gap, nothing moves.
    assert (items if backend is pl.sync else sorted(items)) == [0, 1, 3, 4, 5]
