"""pypeln's fork server: its messages, its restarts, and workers it starts for a thread-y parent."""

from __future__ import annotations

import asyncio
import importlib
import os
import select
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest

import pypeln as pl
from pypeln._backends.process.start.fork_server import receive_message, send_message
from pypeln._backends.process.start.fork_server_client import fork_server


@pytest.fixture
def other_thread() -> Iterator[None]:
    """A second thread, so that "auto" starts workers from the fork server."""
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    yield
    release.set()
    thread.join()


def test_a_message_carries_more_descriptors_than_one_send_can() -> None:
    ours, theirs = socket.socketpair()
    pipes = [os.pipe() for _ in range(600)]
    try:
        sender = threading.Thread(
            target=send_message, args=(ours, b"x" * 100_000, [w for _, w in pipes])
        )
        sender.start()
        message = receive_message(theirs)
        sender.join()
        assert message is not None
        body, received = message
        assert body == b"x" * 100_000 and len(received) == 600
        for (read, _), fd in zip(pipes, received, strict=True):
            os.write(fd, b"!")  # each received descriptor is the write end it stands for
            assert os.read(read, 1) == b"!"
            os.close(fd)
    finally:
        for pair in pipes:
            for fd in pair:
                os.close(fd)
        ours.close()
        theirs.close()


def test_a_server_that_died_is_started_again(other_thread: None) -> None:
    assert pl.process.backend.start_method() == "forkserver"  # type: ignore[attr-defined]
    assert sorted(pl.process.map(abs, [-1, -2], workers=2)) == [1, 2]
    server = fork_server()._process
    assert server is not None
    os.kill(server.pid, signal.SIGKILL)
    server.wait()
    assert sorted(pl.process.map(abs, [-3, -4], workers=2)) == [3, 4]
    assert fork_server()._process is not server


def test_workers_exit_codes_come_from_the_server(other_thread: None) -> None:
    def exit_with_three(x: int) -> int:
        os._exit(3)

    with pytest.raises(pl.WorkerCrashedError, match=r"exit code 3"):
        list(pl.process.map(exit_with_three, [1]))


@pytest.mark.timeout(120)
def test_more_workers_than_replies_fit_in_the_socket(other_thread: None) -> None:
    # A server whose replies nobody reads stops reading requests: requests go in a window.
    assert sorted(pl.process.map(abs, range(-200, 0), workers=200)) == list(range(1, 201))


def wait_for(release: Any, x: int) -> int:
    release.wait(30)
    return x


def test_a_server_dropped_mid_run_still_reports_its_workers(
    other_thread: None, manager: Any
) -> None:
    release = manager.Event()
    run = iter(pl.process.map(partial(wait_for, release), range(4), workers=2, maxsize=1))
    fork_server().forget()  # its socket closes: it takes no more requests, but goes on
    release.set()
    assert sorted(run) == [0, 1, 2, 3]  # no worker reported as crashed


def record_and_wait(pids: Any, arrived: Any, release: Any, x: int) -> int:
    pids.append(os.getpid())
    arrived.wait()
    release.wait(30)
    return x


def test_workers_a_killed_server_leaves_are_killed_with_the_run(
    other_thread: None, manager: Any
) -> None:
    pids, release = manager.list(), manager.Event()
    arrived = manager.Barrier(3, timeout=30)  # both workers in f, and this test
    stage = pl.process.map(partial(record_and_wait, pids, arrived, release), range(4), workers=2)
    caught: list[BaseException] = []

    def consume() -> None:
        try:
            list(stage)
        except BaseException as error:
            caught.append(error)

    consumer = threading.Thread(target=consume)
    consumer.start()
    arrived.wait()
    server = fork_server()._process
    assert server is not None
    os.kill(server.pid, signal.SIGKILL)
    consumer.join(30)
    release.set()
    assert len(caught) == 1 and isinstance(caught[0], pl.WorkerCrashedError), caught
    for pid in pids:  # orphans now: the run killed them; init reaps them
        try:
            handle = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            assert select.select([handle], [], [], 10)[0], f"worker {pid} outlived its run"
        finally:
            os.close(handle)


@pytest.mark.parametrize("tasks", [10])
def test_async_with_lets_one_task_in_at_a_time(tasks: int) -> None:
    ns = pl.task.Namespace(count=0, inside=0, most=0)

    async def bump(x: int) -> int:
        async with ns:
            ns.inside += 1
            ns.most = max(ns.most, ns.inside)
            count = ns.count
            await asyncio.sleep(0)  # the other tasks run here: none may enter
            ns.count = count + 1
            ns.inside -= 1
        return x

    assert sorted(pl.task.map(bump, range(100), workers=tasks)) == list(range(100))
    assert (ns.count, ns.most) == (100, 1)


def test_a_module_edited_since_the_server_loaded_it_is_loaded_again(
    other_thread: None, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a notebook's autoreload does: the file changes, the parent reloads it.
    module = tmp_path / "edited_module.py"
    module.write_text("def version(x):\n    return 'v1'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import edited_module  # type: ignore[import-not-found]

    try:
        assert list(pl.process.map(edited_module.version, [0])) == ["v1"]  # the server loads it
        module.write_text("def version(x):\n    return 'v2'\n")
        stat = module.stat()
        os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        importlib.reload(edited_module)
        assert list(pl.process.map(edited_module.version, [0])) == ["v2"]
    finally:
        sys.modules.pop("edited_module", None)
