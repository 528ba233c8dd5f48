"""``RunIterator.stats()``: per stage what went in, out and was dropped, how its workers
spent their time, and the verdict on what limits the run, on every backend."""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any

import pytest

import pypeln as pl
from tests.shared import Shared


def inc(x: int) -> int:
    return x + 1


def is_even(x: int) -> bool:
    return x % 2 == 0


def repeat(x: int) -> list[int]:
    return [x] * (x % 3)


def fails_on_sevens(x: int) -> int:
    if x % 7 == 0:
        raise ValueError(x)
    return x


def slow(x: int) -> int:
    time.sleep(0.01)
    return x


def finished(stage: Any, backend: ModuleType) -> Any:
    """The statistics of a whole run of ``stage``."""
    run = backend.to_iterable(stage)
    for _ in run:
        pass
    return run.stats()


@pytest.mark.parametrize("workers", [1, 3])
def test_counts_add_up_in_every_stage(backend: ModuleType, workers: int) -> None:
    stage = backend.map(fails_on_sevens, range(300), workers=workers, on_error="skip")
    stage = backend.filter(is_even, stage, workers=workers)
    stage = backend.flat_map(repeat, stage, workers=workers)
    stats = finished(stage, backend)
    assert stats.names() == ["map(fails_on_sevens)", "filter(is_even)", "flat_map(repeat)"]
    first, second, third = stats.stages
    survivors = [x for x in range(300) if x % 7]
    assert (first.received, first.failed, first.emitted) == (
        300,
        300 - len(survivors),
        len(survivors),
    )
    evens = [x for x in survivors if x % 2 == 0]
    assert (second.received, second.filtered_out, second.emitted) == (
        len(survivors),
        len(survivors) - len(evens),
        len(evens),
    )
    assert (third.received, third.emitted) == (len(evens), sum(x % 3 for x in evens))
    for stage_stats in stats.stages:
        assert stage_stats.workers == (workers if backend.backend.concurrent_workers else 1)
        assert stage_stats.backend == backend.backend.name
        if stage_stats is not third:
            assert stage_stats.received == stage_stats.emitted + stage_stats.dropped
    assert not stats.running and stats.seconds > 0


def test_counts_add_up_under_fan_out_and_concat(backend: ModuleType) -> None:
    source = backend.map(inc, range(100), workers=2)
    evens = backend.filter(is_even, source, workers=2)
    doubled = backend.map(lambda x: x * 2, source, workers=2)
    stats = finished(backend.concat([evens, doubled]), backend)
    assert stats["map(inc)"].received == 100
    assert stats["map(inc)"].emitted == 100
    assert stats["filter(is_even)"].received == 100
    assert stats["filter(is_even)"].emitted + stats["filter(is_even)"].filtered_out == 100
    assert stats["map(<lambda>)"].emitted == 100


def test_a_call_takes_its_time(backend: ModuleType) -> None:
    stats = finished(backend.map(slow, range(20), workers=2), backend)
    stage = stats["map(slow)"]
    # sync reads its stack 200 times a second: its durations are estimates
    least = 0.009 if backend.backend.concurrent_workers else 0.005
    assert stage.call_p50 is not None and least <= stage.call_p50 < 1
    assert stage.call_p99 is not None and stage.call_p99 >= stage.call_p50
    assert stage.busy > 0.5
    assert stage.per_second > 0


def test_the_verdict_names_the_slow_stage(backend: ModuleType) -> None:
    stage = backend.map(inc, range(60))
    stage = backend.map(slow, stage)
    stage = backend.filter(is_even, stage)
    verdict = finished(stage, backend).bottleneck
    assert verdict is not None
    assert (verdict.limit, verdict.stage) == ("stage", "map(slow)")
    assert "more workers" in verdict.advice


def test_a_slow_consumer_is_the_limit(backend: ModuleType) -> None:
    run = backend.to_iterable(backend.map(inc, range(40), maxsize=1))
    for _ in run:
        time.sleep(0.01)
    verdict = run.stats().bottleneck
    assert verdict is not None and verdict.limit == "consumer", str(run.stats())


class Held:
    """Items from 5 on wait for ``gate`` (up to 10 s)."""

    def __init__(self, gate: Any) -> None:
        self.gate = gate

    def __call__(self, x: int) -> int:
        if x >= 5:
            self.gate.wait(10)
        return x


def test_stats_while_the_run_goes_on(backend: ModuleType, shared: Shared) -> None:
    gate = shared.event()
    run = backend.to_iterable(backend.map(Held(gate), range(10), maxsize=1))
    try:
        assert [next(run) for _ in range(5)] == [0, 1, 2, 3, 4]
        stats = run.stats()
        assert stats.running
        assert 5 <= stats["map(Held)"].received <= 10
        assert stats["map(Held)"].emitted >= 5
    finally:
        gate.set()
        run.close()


def test_the_table_shows_every_stage_and_the_verdict(backend: ModuleType) -> None:
    stats = finished(backend.map(slow, backend.map(inc, range(30))), backend)
    table = str(stats)
    assert "map(inc)" in table and "map(slow)" in table
    assert "bottleneck: map(slow) is the bottleneck" in table


def test_stats_as_plain_data(backend: ModuleType) -> None:
    data = finished(backend.filter(is_even, range(10)), backend).as_dict()
    assert data["stages"][0]["name"] == "filter(is_even)"
    assert data["stages"][0]["dropped"] == 5
    assert data["bottleneck"] is None or data["bottleneck"]["stage"] == "filter(is_even)"


def test_diagram_shows_the_graph() -> None:
    source = pl.process.map(inc, range(3), workers=2, maxsize=4)
    stage = pl.thread.concat([pl.thread.filter(is_even, source), source])
    text = stage.diagram()
    assert text.splitlines()[0] == "flowchart LR"
    assert 'n1["map(inc)<br/>process · 2 workers · maxsize 4"]' in text
    assert text.count("n1 -->") == 2  # read by the filter and by concat
