"""Shared fixtures: every contract test runs once per backend, and must leave nothing behind."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from hypothesis import settings

import pypeln as pl
from tests.leaks import run_processes
from tests.shared import Shared

# `HYPOTHESIS_PROFILE=stress make test` runs every law on many more examples.
settings.register_profile("default", max_examples=60)
settings.register_profile("stress", max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

#: Every backend the contract suite covers; adding a backend is adding its name here.
#: "process" starts workers with the default "auto" (fork in a single-threaded process, as
#: most tests are), "process-forkserver" with forkserver: the suite runs under both.
BACKENDS = ["sync", "thread", "task", "process", "process-forkserver"]
#: Backends whose workers run at the same time (sync runs one call at a time by design).
CONCURRENT_BACKENDS = ["thread", "task", "process", "process-forkserver"]


def namespace_of(name: str) -> Any:
    """The backend called ``name``, e.g. ``pl.thread``, or ``pl.process`` with a start method."""
    if name.startswith("process-"):
        api = pl.process.using(name.partition("-")[2])
        public = {attribute: getattr(api, attribute, None) for attribute in pl.process.__all__}
        public.update(Namespace=pl.process.Namespace, Stage=pl.Stage, RunIterator=pl.RunIterator)
        public.update(WorkerInfo=pl.WorkerInfo)
        return SimpleNamespace(**public)
    module: ModuleType = getattr(pl, name)
    return module


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Any:
    """The backend namespace under test, e.g. ``pl.thread``."""
    return namespace_of(request.param)


@pytest.fixture(params=CONCURRENT_BACKENDS)
def concurrent_backend(request: pytest.FixtureRequest) -> Any:
    """A backend whose ``workers`` really run at once."""
    return namespace_of(request.param)


@pytest.fixture(scope="session", autouse=True)
def ctrl_c_raises() -> Iterator[None]:
    """Ctrl-C (SIGINT) raises KeyboardInterrupt in the main thread, as in a terminal, even
    where the suite was started with SIGINT ignored (a shell's background job): the tests
    that interrupt a run send a real signal."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.fixture(scope="session")
def manager() -> Iterator[Any]:
    """Events, lists and locks that worker processes share with the test (started once)."""
    with multiprocessing.get_context("spawn").Manager() as started:
        yield started


@pytest.fixture
def shared(backend: Any, manager: Any) -> Shared:
    """Events, barriers, locks and lists that ``backend``'s workers and the test both see."""
    return Shared(manager if backend.runtime.name == "process" else None)


@pytest.fixture(autouse=True)
def no_leaked_threads_or_processes(manager: Any) -> Iterator[None]:
    """After each test every thread and process it started must end (joined, not slept on)."""
    before = set(threading.enumerate())
    processes_before = run_processes()
    yield
    leaked = [thread for thread in threading.enumerate() if thread not in before]
    for thread in leaked:
        thread.join(timeout=5)
    alive = [thread.name for thread in leaked if thread.is_alive()]
    assert not alive, f"threads left running: {alive}"
    processes = {pid: what for pid, what in run_processes().items() if pid not in processes_before}
    assert not processes, f"processes left running: {processes}"
