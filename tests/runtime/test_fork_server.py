"""pypeln's fork server: its messages, its restarts, and workers it starts for a thread-y parent."""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Iterator

import pytest

import pypeln as pl
from pypeln._runtime._fork_server import receive_message, send_message
from pypeln._runtime._fork_server_client import fork_server


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
    assert pl.process.runtime.start_method() == "forkserver"  # type: ignore[attr-defined]
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
