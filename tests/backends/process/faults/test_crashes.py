"""Faults only worker processes have, under the fault suite's leak checks: a worker that
dies mid-item, values and exceptions that cannot cross a process boundary, and every
worker gone and reaped once the consumer leaves its loop."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import pypeln as pl
from tests.backends.process.test_process import (
    ExtraArguments,
    die_by_exit,
    die_by_kill,
    raise_extra,
    raise_unpicklable,
)
from tests.leaks import run_processes


@pytest.mark.parametrize("die", [die_by_kill, die_by_exit], ids=lambda die: die.__name__)
@pytest.mark.parametrize("method", ["auto", "forkserver"])
def test_a_worker_process_that_dies_mid_item_leaves_nothing(die: Any, method: str) -> None:
    api = pl.process.using(method)
    with pytest.raises(pl.WorkerCrashedError):
        list(api.map(die, range(1_000), workers=2, maxsize=2))


@pytest.mark.parametrize("method", ["auto", "forkserver"])
def test_what_cannot_cross_a_process_boundary_fails_cleanly(method: str) -> None:
    api = pl.process.using(method)
    with pytest.raises(ExtraArguments):
        list(api.map(raise_extra, range(10), workers=2, maxsize=1))
    with pytest.raises(pl.RemoteError):  # an exception that cannot be pickled at all
        list(api.map(raise_unpicklable, range(3)))
    with pytest.raises(pl.SerializationError):
        list(api.map(str, [1, threading.Lock(), 3]))
    with pytest.raises(pl.SerializationError):
        list(api.map(lambda x: threading.Lock() if x == 2 else x, range(5)))


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_every_worker_is_gone_and_reaped_when_the_loop_is_left(method: str) -> None:
    api = pl.process.using(method)
    rounds = 3 if method == "spawn" else 30  # spawn takes ~0.1 s a worker
    for round_ in range(rounds):
        for _ in api.map(abs, range(10_000), workers=2, maxsize=2):
            break
        left = run_processes()  # zombies count: a process not reaped is still there
        assert not left, f"round {round_}: {left}"
