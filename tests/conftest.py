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
from tests.leaks import live_actors, run_processes
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


#: Which part of the suite this session runs (``make test`` runs both, side by side):
#: "local", the backends whose runs leave nothing in this process; "cluster", those that join
#: a cluster (their driver's threads stay in the process, and would change what the others
#: see: ``auto`` forks only while the process has a single thread); unset, both at once.
PART = os.environ.get("PYPELN_TESTS", "")
if PART not in ("", "local", "cluster"):
    raise ValueError(f"$PYPELN_TESTS must be 'local' or 'cluster', got {PART!r}")


def _in_part(name: str) -> bool:
    return not PART or capabilities(name).joins_cluster == (PART == "cluster")


#: Every backend the contract suite covers, from the library's registry (this part's).
BACKENDS = [name for name in _backend_names() if _in_part(name)]


def law_examples() -> int:
    """Examples per law (hypothesis), over this part's backends: the profile's, and a
    twentieth when they all join a cluster, where every run starts its actors (a fifth of a
    second each here: a law's pipelines have up to a dozen)."""
    count: int = settings().max_examples
    if all(capabilities(name).joins_cluster for name in BACKENDS):
        return max(3, count // 20)
    return count


#: Backends whose workers run at the same time (sync runs one call at a time by design).
CONCURRENT_BACKENDS = [name for name in BACKENDS if capabilities(name).concurrent_workers]


#: Backends with async workers, driven with ``async def`` functions: ``task-async``.
ASYNC_CASES = [
    f"{name}-async"
    for name in registry.names()
    if capabilities(name).async_workers and _in_part(name)
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``$PYPELN_TESTS``, keep this part's tests: those of its backends, and the rest
    in the "local" part (the laws and graphs run in both, over the part's backends)."""
    if not PART:
        return
    kept, dropped = [], []
    for item in items:
        (kept if _part_of(item) in (PART, "both") else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def _part_of(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    for value in callspec.params.values() if callspec is not None else ():
        if isinstance(value, str) and value.split("-")[0] in registry.BACKENDS:
            return "cluster" if capabilities(value).joins_cluster else "local"
    joining = {name for name in registry.names() if capabilities(name).joins_cluster}
    places = {*item.path.parts, item.path.stem}  # tests/backends/ray/..., pypeln/ray.py
    if joining & places or item.get_closest_marker("cluster"):
        return "cluster"
    return "both" if "properties" in item.path.parts else "local"


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


@pytest.fixture(scope="session", autouse=True)
def ray_cluster(request: pytest.FixtureRequest) -> None:
    """The session's Ray cluster, started before the first test that runs on it: its
    processes and threads live for the whole session, and do not count as a test's."""
    if any(_uses_ray(item) for item in request.session.items):
        from pypeln._backends.ray.cluster import connect

        connect(None)


def _uses_ray(item: pytest.Item) -> bool:
    """Whether a test may run on ray: a ray parameter, a ray test, a law that draws it."""
    if PART == "local":
        return False
    callspec = getattr(item, "callspec", None)
    params = callspec.params.values() if callspec is not None else ()
    named = any(isinstance(value, str) and value.split("-")[0] == "ray" for value in params)
    marked = item.get_closest_marker("cluster") is not None
    return named or marked or "ray" in item.path.parts or "properties" in item.path.parts


@pytest.fixture(autouse=True)
def no_leaked_threads_or_processes(manager: Any, ray_cluster: None) -> Iterator[None]:
    """After each test every thread and process it started must end (joined, not slept on),
    and every Ray actor it started must be dead (as Ray records it)."""
    before = set(threading.enumerate())
    processes_before = run_processes()
    actors_before = live_actors()
    yield
    actors = live_actors() - actors_before
    assert not actors, f"Ray actors left alive: {actors}"
    leaked = [thread for thread in threading.enumerate() if thread not in before]
    for thread in leaked:
        thread.join(timeout=5)
    alive = [thread.name for thread in leaked if thread.is_alive()]
    assert not alive, f"threads left running: {alive}"
    processes = {pid: what for pid, what in run_processes().items() if pid not in processes_before}
    assert not processes, f"processes left running: {processes}"
