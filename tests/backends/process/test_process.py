"""Process-only behaviour: start methods, pickling, crashes, interrupts and leaks."""

from __future__ import annotations

import gc
import linecache
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import pypeln as pl
from tests.leaks import own_shared_memory, run_processes
from tests.shared import ctrl_c_when

METHODS = ["auto", "forkserver", "spawn", "fork"]


def notes(error: BaseException) -> str:
    return "\n".join(getattr(error, "__notes__", []))


@pytest.mark.parametrize("method", METHODS)
def test_lambdas_closures_and_nested_functions_reach_workers(method: str) -> None:
    api = pl.process.using(method)
    offset = 100

    def nested(x: int) -> int:
        def inner(y: int) -> int:
            return y + offset

        return inner(x)

    stage = api.map(nested, range(20), workers=2, on_start=lambda: {"unused": offset})
    stage = api.filter(lambda x: x % 2 == 0, stage, workers=2)
    assert sorted(stage) == [x + offset for x in range(20) if (x + offset) % 2 == 0]


class ExtraArguments(Exception):
    """Its constructor takes other arguments than it passes on: plain unpickling fails."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code


class Unpicklable(Exception):
    def __init__(self) -> None:
        super().__init__("holds a lock")
        self.lock = threading.Lock()


def raise_extra(x: int) -> int:
    if x == 3:
        raise ExtraArguments(7, "bad row")
    return x


def raise_unpicklable(x: int) -> int:
    raise Unpicklable()


def test_exception_with_other_constructor_arguments_keeps_its_type() -> None:
    with pytest.raises(ExtraArguments) as caught:
        list(pl.process.map(raise_extra, range(10)))
    assert caught.value.args == ("7: bad row",) and caught.value.code == 7
    assert "in raise_extra" in notes(caught.value)  # the worker's traceback, as text
    assert "element (3,): 3" in notes(caught.value)


def test_exception_that_cannot_be_pickled_arrives_as_remote_error() -> None:
    with pytest.raises(pl.RemoteError) as caught:
        list(pl.process.map(raise_unpicklable, range(3)))
    error = caught.value
    assert error.type_name == "Unpicklable" and error.message == "holds a lock"
    assert "raise_unpicklable" in error.traceback_text


def test_result_that_cannot_be_pickled_names_stage_and_index() -> None:
    def lock_at_two(x: int) -> object:
        return threading.Lock() if x == 2 else x

    expected = (
        r"stage 'map\(lock_at_two\)': its result at index \(2,\) \(lock\) cannot be pickled "
        r"to go from its worker process to the worker processes of stage 'map\(str\)'"
    )
    with pytest.raises(pl.SerializationError, match=expected):
        list(pl.process.map(str, pl.process.map(lock_at_two, range(5))))
    with pytest.raises(pl.SerializationError, match="from its worker process to the consumer"):
        list(pl.process.map(lock_at_two, range(5)))


def test_item_that_cannot_be_pickled_names_source_and_index() -> None:
    expected = (
        r"the item at index \(1,\) \(lock\) cannot be pickled to go from the iterable passed "
        r"to map\(str\) \(list\) to the worker processes of stage 'map\(str\)'"
    )
    with pytest.raises(pl.SerializationError, match=expected):
        list(pl.process.map(str, [1, threading.Lock(), 3]))


def test_function_that_cannot_be_pickled_names_the_stage() -> None:
    lock = threading.Lock()
    with pytest.raises(pl.SerializationError, match=r"stage 'map\(<lambda>\)'"):
        list(pl.process.map(lambda x: lock, [1]))


def die_by_kill(x: int) -> int:
    if x == 5:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


def die_by_exit(x: int) -> int:
    if x == 5:
        os._exit(3)
    return x


@pytest.mark.parametrize(("die", "code"), [(die_by_kill, -signal.SIGKILL), (die_by_exit, 3)])
def test_a_worker_that_dies_raises_worker_crashed_error(die: Any, code: int) -> None:
    stage = pl.process.map(die, range(10_000), workers=2, maxsize=4)
    started = time.monotonic()
    with pytest.raises(pl.WorkerCrashedError) as caught:
        list(stage)
    assert time.monotonic() - started < 5  # seen through the sentinel, not a timeout
    error = caught.value
    assert error.exitcode == code and error.stage == f"map({die.__name__})"
    assert error.worker in (0, 1) and f"exit code {code}" in str(error)


def test_keyboard_interrupt_ends_every_worker_process(manager: Any) -> None:
    busy = manager.Barrier(4, timeout=10)  # three workers inside f, and the interrupter

    def wait_forever(x: int) -> int:
        busy.wait()
        threading.Event().wait()
        return x

    with pytest.raises(KeyboardInterrupt), ctrl_c_when(busy.wait):  # the consumer is in poll()
        for _ in pl.process.map(wait_forever, range(100), workers=3, maxsize=2):
            pass
    assert not run_processes()


def _snapshot() -> tuple[dict[str, str], set[str]]:
    """This process's descriptors (what each is) and its entries in ``/dev/shm``."""
    links = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            links[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the listing's own descriptor, closed by now
            pass
    return links, own_shared_memory()


@pytest.mark.timeout(150)  # 30-40 s alone; make test runs two sessions side by side
def test_a_thousand_runs_leave_no_zombie_descriptor_or_shared_memory() -> None:
    api = pl.process.using("fork")  # the fastest to start; the wiring is the same
    list(api.map(abs, range(3)))  # warm-up: anything created once per process
    gc.collect()  # what earlier tests left in reference cycles closes now, not during the count
    fds_before, shm_before = _snapshot()
    for round_ in range(1000):
        stage = api.filter(bool, api.map(abs, range(50), workers=2, maxsize=2), maxsize=1)
        if round_ % 2:
            list(stage)
        else:
            for _ in stage:
                break
    fds_after, shm_after = _snapshot()
    opened = {fd: what for fd, what in fds_after.items() if fds_before.get(fd) != what}
    assert len(fds_after) == len(fds_before), f"opened: {opened}"
    assert shm_after == shm_before
    assert not run_processes()  # zombies included


def test_start_method_is_checked_and_can_be_set_globally(monkeypatch: Any) -> None:
    with pytest.raises(ValueError, match=r"using\(\): start_method must be one of"):
        pl.process.using("threads")
    with pytest.raises(ValueError, match=r"set_start_method\(\): start_method must be one of"):
        pl.process.set_start_method("nope")
    monkeypatch.setenv("PYPELN_START_METHOD", "fork")
    assert pl.process.backend.start_method() == "fork"  # type: ignore[attr-defined]
    monkeypatch.setenv("PYPELN_START_METHOD", "bogus")
    with pytest.raises(ValueError, match="PYPELN_START_METHOD"):
        list(pl.process.map(abs, [1]))


def test_thread_process_thread_pipeline_with_bounded_queues() -> None:
    def source() -> Iterator[int]:
        yield from range(2000)

    stage = pl.thread.flat_map(lambda x: [x, x], source(), workers=4, maxsize=10)
    stage = pl.process.map(lambda x: x * 2, stage, workers=2, maxsize=5)
    stage = pl.thread.filter(lambda x: x % 4 == 0, stage, workers=3, maxsize=3)
    assert sorted(stage) == sorted(y * 2 for x in range(2000) for y in (x, x) if y * 2 % 4 == 0)


def test_a_call_over_timeout_replaces_its_worker(manager: Any) -> None:
    starts = manager.list()

    def spin_on_three(x: int) -> int:
        while x == 3:  # spins forever, holding the GIL: only ending the process stops it
            pass
        return x

    run = pl.process.to_iterable(
        pl.process.map(
            spin_on_three,
            range(8),
            workers=2,
            timeout=0.3,
            on_start=lambda worker_info: starts.append(worker_info.index),
        )
    )
    assert sorted(run) == [0, 1, 2, 4, 5, 6, 7]
    assert run.timed_out() == {"map(spin_on_three)": 1}
    assert len(starts) == 3  # two workers, and the successor of the one that spun


def test_auto_forks_only_while_the_process_has_a_single_thread() -> None:
    backend = pl.process.backend
    assert threading.active_count() == 1  # pytest runs tests in the main thread only
    assert backend.start_method() == "fork"  # type: ignore[attr-defined]
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert backend.start_method() == "forkserver"  # type: ignore[attr-defined]
    finally:
        release.set()
        other.join()


# -- regressions found in review ------------------------------------------------------------


@pytest.mark.parametrize("maxsize", [65_536, 131_072])
def test_maxsize_at_the_pipe_capacity_does_not_hang(maxsize: int) -> None:
    assert sum(pl.process.map(abs, range(100_000), maxsize=maxsize)) == sum(range(100_000))


def hold_three(x: int) -> int:
    if x == 3:
        time.sleep(0.5)  # the other producer ends first
    return x


def overrun_three(x: int) -> int:
    if x == 3:
        threading.Event().wait()
    return x


def test_a_successor_knows_which_producers_ended() -> None:
    upstream = pl.process.map(hold_three, range(4), workers=2)
    run = pl.process.to_iterable(pl.process.map(overrun_three, upstream, timeout=0.3))
    assert sorted(run) == [0, 1, 2] and run.timed_out() == {"map(overrun_three)": 1}


def test_a_source_busy_at_close_never_writes_into_the_next_run() -> None:
    release = threading.Event()

    def old_source() -> Iterator[tuple[str, int]]:
        yield ("old", 0)
        release.wait(timeout=10)  # busy past close()'s grace
        yield ("old", 1)

    iterator = iter(pl.process.map(lambda x: x, old_source(), maxsize=1))
    assert next(iterator) == ("old", 0)
    iterator.close()  # returns after its grace, leaving the busy source thread its pipes
    new_run = iter(pl.process.map(lambda x: x, range(40), maxsize=1))
    first = next(new_run)
    release.set()  # the old source wakes, and must not reach the new run's pipes
    assert sorted([first, *new_run]) == list(range(40))


def run_script(tmp_path: Any, code: str) -> Any:
    import subprocess
    import sys

    script = tmp_path / "script.py"
    script.write_text(code)
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    "threads", ["", "threading.Thread(target=threading.Event().wait, daemon=True).start()"]
)
def test_an_open_run_does_not_keep_the_interpreter_from_exiting(
    tmp_path: Any, threads: str
) -> None:
    done = run_script(  # with another thread, the workers come from the fork server
        tmp_path,
        "import threading\n"
        "import pypeln as pl\n"
        f"{threads}\n"
        "it = iter(pl.process.map(abs, range(10**7), maxsize=2))\n"
        "print(next(it))\n"
        "threading.Thread(target=lambda: None).start()\n",
    )
    assert done.returncode == 0 and done.stdout == "0\n", done.stderr


def test_workers_do_not_outlive_a_parent_that_dies(tmp_path: Any) -> None:
    done = run_script(
        tmp_path,
        "import os, pypeln as pl\n"
        "if __name__ == '__main__':\n"
        "    it = iter(pl.process.map(abs, range(10**7), workers=2, maxsize=2))\n"
        "    next(it)\n"
        "    children = [p for p in os.listdir('/proc') if p.isdigit() and\n"
        "                open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[1]\n"
        "                == str(os.getpid())]\n"
        "    print(' '.join(children), flush=True)\n"
        "    os._exit(0)\n",
    )
    for pid in map(int, done.stdout.split()):
        try:
            handle = os.pidfd_open(pid)
        except ProcessLookupError:
            continue  # already gone
        try:
            import select

            assert select.select([handle], [], [], 10)[0], f"worker {pid} outlived its parent"
        finally:
            os.close(handle)


def inner_sum(x: int) -> int:
    return sum(pl.process.map(abs, range(3), workers=2))


def test_a_process_stage_inside_a_worker_after_the_fork_server_started() -> None:
    assert sorted(pl.thread.map(abs, pl.process.map(abs, range(3)))) == [0, 1, 2]  # forkserver
    assert list(pl.process.map(inner_sum, range(2))) == [3, 3]


class BadStr(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str")


def raise_bad_str(x: int) -> int:
    raise BadStr(x)


def test_an_exception_whose_str_fails_still_arrives() -> None:
    with pytest.raises(BadStr):
        list(pl.process.map(raise_bad_str, range(3)))


CELL = "def from_a_cell(x):\n    return 1 / (x - 2)\n"


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_a_traceback_shows_lines_only_the_consumer_can_read(method: str) -> None:
    # As a notebook does: the source of a cell lives in the consumer's linecache only.
    name = f"<cell-{method}>"
    linecache.cache[name] = (len(CELL), None, CELL.splitlines(True), name)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(CELL, name, "exec"), namespace)
    try:
        with pytest.raises(ZeroDivisionError) as caught:
            list(pl.process.using(method).map(namespace["from_a_cell"], range(4)))
    finally:
        del linecache.cache[name]
    assert f'File "{name}", line 2, in from_a_cell\n    return 1 / (x - 2)' in notes(caught.value)
