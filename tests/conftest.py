"""Shared fixtures: every contract test runs once per backend, and must leave nothing behind."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from hypothesis import settings

import pypeln as pl
from tests.shared import Shared

CONTRACT_MODULES = [
    "bad_input",
    "bounds",
    "concurrency",
    "diamonds",
    "errors",
    "hooks",
    "results",
    "teardown",
    "timeout",
]

# `HYPOTHESIS_PROFILE=stress make test` runs every law on many more examples.
settings.register_profile("default", max_examples=60)
settings.register_profile("stress", max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# Worker processes import the test module whose functions they run; without bytecode caches
# (PYTHONDONTWRITEBYTECODE) that means compiling it and hypothesis for every worker. The
# fork server imports them once instead (pypeln adds itself to this list).
multiprocessing.get_context("forkserver").set_forkserver_preload(
    [
        "__main__",
        "hypothesis",
        "tests.shared",
        *(f"tests.contract.test_{name}" for name in CONTRACT_MODULES),
        "tests.properties.test_laws",
        "tests.properties.test_graphs",
        "tests.runtime.test_process",
        "tests.faults.test_failures",
        "tests.faults.test_stall",
        "tests.faults.test_stops_and_crashes",
        "tests.faults.test_large_buffers",
        "tests.runtime.test_shared_buffers",
    ]
)

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
    children_before = set(multiprocessing.active_children())
    yield
    leaked = [thread for thread in threading.enumerate() if thread not in before]
    for thread in leaked:
        thread.join(timeout=5)
    alive = [thread.name for thread in leaked if thread.is_alive()]
    assert not alive, f"threads left running: {alive}"
    children = [p.name for p in multiprocessing.active_children() if p not in children_before]
    assert not children, f"processes left running: {children}"
