"""The first error stops the run and reaches the consumer intact, naming stage and element."""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Iterator
from types import ModuleType

import pytest

import pypeln as pl
from tests.shared import Shared


class CustomError(Exception):
    def __init__(self, code: int, detail: str) -> None:
        super().__init__(code, detail)
        self.code = code


def fail_at(target: int):  # type: ignore[no-untyped-def]
    def explode_at(x: int) -> int:
        if x == target:
            raise CustomError(x, "boom")
        return x

    return explode_at


def notes(error: BaseException) -> str:
    return "\n".join(getattr(error, "__notes__", []))


@pytest.mark.parametrize("target", [0, 50, 99])
@pytest.mark.parametrize("maxsize", [0, 1])
@pytest.mark.parametrize("workers", [1, 4])
def test_error_in_f_reaches_consumer_with_type_args_and_location(
    backend: ModuleType, target: int, maxsize: int, workers: int
) -> None:
    stage = backend.map(inc_slowly_forever_safe, range(100), workers=2, maxsize=maxsize)
    stage = backend.map(fail_at(target), stage, workers=workers, maxsize=maxsize)
    stage = backend.map(str, stage, maxsize=maxsize)
    with pytest.raises(CustomError) as caught:
        list(stage)
    error = caught.value
    assert error.args == (target, "boom") and error.code == target
    assert "map(explode_at)" in notes(error)
    assert f"element ({target},): {target}" in notes(error)
    # The worker's own traceback is attached (its frames, or their text from a process).
    assert "explode_at" in "".join(traceback.format_exception(error)) + notes(error)


def inc_slowly_forever_safe(x: int) -> int:
    return x


def test_error_in_source_iterable_is_raised(backend: ModuleType) -> None:
    def source() -> Iterator[int]:
        yield 1
        raise KeyError("source broke")

    with pytest.raises(KeyError) as caught:
        list(backend.map(str, source(), maxsize=1))
    assert caught.value.args == ("source broke",)
    assert notes(caught.value) == "pypeln: the iterable passed to map(str) (generator) failed"


def test_a_failing_source_is_named_as_the_user_wrote_it(backend: ModuleType) -> None:
    def broken() -> Iterator[int]:
        raise KeyError("source broke")
        yield 0

    with pytest.raises(KeyError) as caught:  # the user wrote from_iterable
        list(backend.map(str, backend.from_iterable(broken())))
    assert notes(caught.value) == "pypeln: stage 'from_iterable(generator)' failed"
    with pytest.raises(KeyError) as caught:  # a plain iterable handed to to_iterable
        list(backend.to_iterable(broken()))
    assert notes(caught.value) == "pypeln: the iterable passed to to_iterable (generator) failed"
    with pytest.raises(KeyError) as caught:
        backend.run(broken(), [1])
    assert notes(caught.value) == "pypeln: the iterable passed to run (generator) failed"


def crash_at_two(x: int) -> int:
    if x == 2:
        os._exit(3)
    return x


def test_errors_of_another_backend_s_stage_pass_through_unlabelled(backend: ModuleType) -> None:
    message = r"^stage 'map\(crash_at_two\)': worker 0 died"
    with pytest.raises(pl.WorkerCrashedError, match=message) as crashed:
        list(backend.map(str, pl.process.map(crash_at_two, range(5)), on_start=lambda: None))
    assert notes(crashed.value) == ""  # it names its stage itself
    other = pl.thread if backend is pl.sync else pl.sync
    source = other.map(fail_at(2), range(5))
    for reader in (
        backend.map(str, source),
        backend.from_iterable(source),
        backend.concat([source]),
    ):
        with pytest.raises(CustomError) as caught:
            list(reader)
        assert only_note_is_of_explode_at(caught.value)  # the stage that raised it, once
    with pytest.raises(CustomError) as caught:
        list(backend.to_iterable(source))
    assert only_note_is_of_explode_at(caught.value)


def only_note_is_of_explode_at(error: BaseException) -> bool:
    (note,) = error.__notes__
    return note.startswith("pypeln: stage 'map(explode_at)'") and "element (2,): 2" in note


def test_error_in_flat_map_iteration_names_the_element(backend: ModuleType) -> None:
    def expand(x: int) -> Iterator[int]:
        yield x
        if x == 3:
            raise ValueError("half way")

    with pytest.raises(ValueError, match="half way") as caught:
        list(backend.flat_map(expand, range(5), workers=2))
    assert "element (3,): 3" in notes(caught.value)


@pytest.mark.parametrize("hook", ["on_start", "on_done"])
def test_error_in_hook_is_raised(backend: ModuleType, hook: str) -> None:
    def broken() -> None:
        raise RuntimeError(f"{hook} failed")

    stage = backend.map(str, range(10), workers=2, **{hook: broken})
    with pytest.raises(RuntimeError, match=f"{hook} failed") as caught:
        list(stage)
    assert "stage 'map(str)'" in notes(caught.value)


def test_error_with_full_queues_upstream_does_not_hang(backend: ModuleType) -> None:
    stage = backend.map(lambda x: x, range(10_000), workers=3, maxsize=1)
    stage = backend.map(fail_at(5), stage, maxsize=1)
    stage = backend.filter(lambda x: True, stage, maxsize=1)
    with pytest.raises(CustomError):
        for _ in stage:
            pass


def test_error_after_consumer_already_took_items(backend: ModuleType) -> None:
    taken = []
    with pytest.raises(CustomError):
        for item in pl.sync.ordered(backend.map(fail_at(7), range(10))):
            taken.append(item)
    assert all(item < 7 for item in taken)


def test_missing_injection_from_on_start_fails_before_any_item(
    backend: ModuleType, shared: Shared
) -> None:
    calls = shared.list()

    def f(x: int, db: object) -> int:
        calls.append(x)
        return x

    stage = backend.map(f, range(5), on_start=lambda: {"other": 1})
    with pytest.raises(pl.MissingInjectionError, match="'db'"):
        list(stage)
    assert len(calls) == 0


def test_on_start_must_return_a_dict(backend: ModuleType) -> None:
    with pytest.raises(TypeError, match="on_start must return a dict or None"):
        list(backend.map(str, range(3), on_start=lambda: 42))


def test_every_started_worker_runs_on_done_after_an_error(
    backend: ModuleType, shared: Shared
) -> None:
    finished = shared.list()
    upstream = backend.map(lambda x: x, range(100), maxsize=1, on_done=lambda: finished.append("a"))
    failing = backend.map(fail_at(3), upstream, on_done=lambda: finished.append("b"))
    with pytest.raises(CustomError):
        list(failing)
    assert sorted(finished) == ["a", "b"]  # before the error is even released


def test_stop_iteration_from_f_is_not_mistaken_for_the_end(backend: ModuleType) -> None:
    def stop_at_two(x: int) -> int:
        if x == 2:
            raise StopIteration("not the end")
        return x

    with pytest.raises(RuntimeError, match="raised StopIteration") as caught:
        list(backend.map(stop_at_two, range(5)))
    assert isinstance(caught.value.__cause__, StopIteration)
    assert "stage 'map(stop_at_two)'" in notes(caught.value)
    assert "element (2,): 2" in notes(caught.value)


def test_a_failed_on_start_still_lets_the_last_worker_see_done(
    backend: ModuleType, shared: Shared
) -> None:
    statuses = shared.list()
    failed = shared.event()

    def on_start(worker_info: pl.WorkerInfo) -> None:
        if worker_info.index == 0:
            failed.set()
            raise OSError("no connection")
        failed.wait(timeout=10)  # the others finish after the failed one, whatever the timing

    stage = backend.map(
        str,
        range(10),
        workers=3,
        on_start=on_start,
        on_done=lambda stage_status: statuses.append(stage_status),
    )
    with pytest.raises(OSError, match="no connection"):
        list(stage)
    # Workers that started run on_done; whichever finishes last is told the stage is done.
    assert [status.done for status in statuses].count(True) == (1 if statuses else 0)


def test_a_failure_between_backends_ends_the_upstream_run_at_once(backend: ModuleType) -> None:
    other = pl.thread if backend is pl.sync else pl.sync
    upstream_done = threading.Event()
    upstream = other.map(
        lambda x: x, range(10_000), workers=4, maxsize=2, on_done=lambda: upstream_done.set()
    )
    middle = backend.map(fail_at(3), upstream)
    with pytest.raises(CustomError):
        list(other.filter(bool, middle, workers=2))
    assert upstream_done.is_set()  # its on_done ran before the error reached us


@pytest.mark.parametrize("hook", ["on_start", "on_done"])
def test_stop_iteration_from_a_hook_is_not_mistaken_for_the_end(
    backend: ModuleType, hook: str
) -> None:
    def stop() -> None:
        raise StopIteration

    with pytest.raises(RuntimeError, match=f"{hook} of stage 'map\\(str\\)' raised StopIt"):
        list(backend.map(str, range(3), **{hook: stop}))


def test_filtered_out_is_counted_as_it_happens_and_after_an_error(backend: ModuleType) -> None:
    def source() -> Iterator[int]:
        yield from range(100)
        raise CustomError(0, "source ends badly")

    run = backend.to_iterable(backend.filter(lambda x: x % 4 == 0, source(), maxsize=1))
    seen = [next(run) for _ in range(5)]  # 0, 4, 8, 12, 16: at least 12 dropped by now
    assert seen == [0, 4, 8, 12, 16] and run.filtered_out()["filter(<lambda>)"] >= 12
    with pytest.raises(CustomError):
        list(run)
    # The error stops the run: what the filter saw by then is counted (all of it on sync).
    final = run.filtered_out()["filter(<lambda>)"]
    assert final == 75 if backend is pl.sync else 12 <= final <= 75
