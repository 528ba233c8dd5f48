"""Process-channel plumbing: one ``Waiter`` shared by the threads of one worker."""

from __future__ import annotations

import os
import sys
import threading

from pypeln._backends.process.pipes import Waiter, make_pipe


def test_threads_sharing_a_waiter_never_poll_one_poll_object_at_once() -> None:
    # A worker and its linger thread wait through the same Waiter, on different pipes. A
    # poll object cached for one thread must never be handed to the other: polling one
    # object from two threads at once raises "concurrent poll() invocation".
    stop_r, stop_w = make_pipe()
    waiter = Waiter(stop_r)
    pipes = [make_pipe() for _ in range(101)]
    one = [pipes[0][0]]
    many = [read for read, _ in pipes[1:]]  # long to register: the other thread cuts in
    errors: list[BaseException] = []
    start = threading.Barrier(2, timeout=10)

    def hammer(fds: list[int], rounds: int) -> None:
        start.wait()
        try:
            for _ in range(rounds):
                waiter.wait(fds, timeout=0.001)  # poll() blocks: the other thread runs
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [
        threading.Thread(target=hammer, args=(one, 3000)),
        threading.Thread(target=hammer, args=(many, 3000)),
    ]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads between any two lines of wait()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
        for fd in (stop_r, stop_w, *(fd for pipe in pipes for fd in pipe)):
            os.close(fd)
    assert not errors, errors[0]
