"""Shared fixtures: every contract test runs once per backend, and must leave nothing behind."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

import pypeln as pl
from pypeln._backends import registry
from pypeln._pipeline.combinators.api import Api
from tests.leaks import run_processes
from tests.shared import Shared

# `HYPOTHESIS_PROFILE=stress make test` runs every law on many more examples.
settings.register_profile("default", max_examples=60)
settings.register_profile("stress", max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


#: A backend written in the tests against the contract alone: every suite runs on it too.
registry.register("minimal", "tests.backends.minimal.backend:MinimalBackend")


def capabilities(name: str) -> Any:
    """The ``Backend`` class of ``name`` (``process-forkserver``, ``task-async``: of its
    backend), whose attributes say what it can do."""
    return registry.backend_class(name.partition("-")[0])


def _backend_names() -> list[str]:
    """Every registered backend, and each of its declared variants as ``name-variant``:
    ``process`` starts its workers with the default (fork in a single-threaded process, as
    most tests are), ``process-forkserver`` with forkserver."""
    names = []
    for name in registry.names():
        names.append(name)
        names.extend(f"{name}-{variant}" for variant in registry.backend_class(name).variants)
    return names


#: Every backend the contract suite covers, from the library's registry.
BACKENDS = _backend_names()
#: Backends whose workers run at the same time (sync runs one call at a time by design).
CONCURRENT_BACKENDS = [name for name in BACKENDS if capabilities(name).concurrent_workers]


#: Backends with async workers, driven with ``async def`` functions: ``task-async``.
ASYNC_CASES = [f"{name}-async" for name in registry.names() if capabilities(name).async_workers]


def namespace_of(name: str) -> Any:
    """The backend called ``name``, e.g. ``pl.thread``, or ``name-variant``: its API with
    the backend so configured."""
    base, _, variant = name.partition("-")
    if variant and variant != "async":
        return Api(registry.backend(base).variant(variant))
    return getattr(pl, base)


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
    return Shared(None if backend.backend.shares_memory else manager)


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
