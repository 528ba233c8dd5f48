"""Stall insight: ``PYPELN_STALL_AFTER`` reports where a stuck run is, on every backend
with workers (sync has none: its stack is the consumer's own)."""

from __future__ import annotations

import asyncio
import threading
import warnings
from typing import Any

import pytest

import pypeln as pl
from pypeln._backends.common.stall import StallWarning
from pypeln._backends.registry import names
from tests.conftest import ASYNC_CASES, capabilities, namespace_of
from tests.shared import Shared

#: Every backend with workers (sync has none: its stack is the consumer's own).
BACKENDS = [name for name in names() if capabilities(name).concurrent_workers] + ASYNC_CASES


@pytest.mark.parametrize("name", BACKENDS)
def test_a_stuck_run_reports_its_workers_and_queues(
    name: str, monkeypatch: pytest.MonkeyPatch, manager: Any
) -> None:
    monkeypatch.setenv("PYPELN_STALL_AFTER", "0.2")
    in_process = capabilities(name).shares_memory
    release = Shared(None if in_process else manager).event()
    # The stall looked at is the call on 3's: a backend whose workers take a while to start
    # (Ray's actors) may report that wait first, which is a stall too, but another one.
    entered = Shared(None if in_process else manager).event()
    warned = threading.Event()
    reports: list[str] = []

    def blocks_on_three(x: int) -> int:
        if x == 3:
            entered.set()
            release.wait(timeout=30)
        return x

    async def awaits_on_three(x: int) -> int:
        if x == 3:
            entered.set()
            while not release.is_set():  # the loop stays free: only this call waits
                await asyncio.sleep(0.01)
        return x

    def record(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        if issubclass(category, StallWarning) and entered.is_set():
            reports.append(str(message))
            warned.set()

    f = awaits_on_three if name.endswith("-async") else blocks_on_three
    api = namespace_of(name)
    stage = api.map(f, range(20), maxsize=2)
    stage = api.map(abs, stage, maxsize=2)  # idle, waiting for input: it holds nothing
    results: list[int] = []
    consumer = threading.Thread(target=lambda: results.extend(stage))
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = record
        consumer.start()
        try:
            assert warned.wait(timeout=10), "no StallWarning while the run was stuck"
        finally:
            release.set()
            consumer.join(timeout=10)
    assert sorted(results) == list(range(20))
    report = reports[0]
    assert f"stage 'map({f.__name__})': 2 of 2 in its queue" in report
    if not in_process:  # the worker's own dump of its stacks (no element: C handler)
        assert "in process" in report and f"in {f.__name__}" in report
    else:
        assert "holding element (3,)" in report and f"in {f.__name__}" in report
        assert report.count("holding element") == 1, report
    assert len(reports) == 1  # one warning per stall
    statistics = report.split("\nstatistics:\n", 1)[1]  # the run's own table
    assert f"map({f.__name__})" in statistics and "map(abs)" in statistics


def test_the_watch_is_off_by_default_and_checks_its_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PYPELN_STALL_AFTER", raising=False)
    before = threading.active_count()
    iterator = iter(pl.thread.map(abs, range(10), maxsize=1))
    next(iterator)
    assert not [t for t in threading.enumerate() if t.name == "pypeln stall watch"]
    iterator.close()  # type: ignore[attr-defined]
    assert threading.active_count() == before
    monkeypatch.setenv("PYPELN_STALL_AFTER", "soon")
    with pytest.raises(ValueError, match=r"PYPELN_STALL_AFTER must be a number of seconds"):
        list(pl.thread.map(abs, [1]))
