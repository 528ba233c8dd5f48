"""The fault suite's own check: after every case, no descriptor or shared memory is left."""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator

import pytest

from tests.conftest import BACKENDS, namespace_of
from tests.leaks import own_shared_memory


@pytest.fixture(scope="session")
def warmed_up() -> None:
    """What a process creates once and keeps (the resource tracker's pipe, the fork server)."""
    for name in BACKENDS:
        list(namespace_of(name).map(abs, [1]))


def _descriptors() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture(autouse=True)
def no_leaked_descriptors_or_shared_memory(
    warmed_up: None, request: pytest.FixtureRequest
) -> Iterator[None]:
    """Descriptors (pipes, sockets, event loops) and ``/dev/shm`` blocks: none more after.

    A run on ray opens no descriptor of its own: those in this process are Ray's, for its
    connections to its workers, and come and go with them (its actors are checked dead by
    the suite's own check, ``tests/conftest.py``)."""
    threads = set(threading.enumerate())
    descriptors, shared_memory = len(_descriptors()), own_shared_memory()
    yield
    if _on_ray(request):
        assert not own_shared_memory() - shared_memory
        return
    for thread in set(threading.enumerate()) - threads:
        thread.join(timeout=5)  # a run's threads end as it closes; give the last one time
    gc.collect()  # a caught error's traceback keeps its run's shared memory in a cycle
    left = _descriptors()
    if len(left) > descriptors:
        links = {}
        for fd in left:
            try:
                links[fd] = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                pass
        raise AssertionError(f"descriptors left open: {descriptors} before, now {links}")
    left_behind = own_shared_memory() - shared_memory
    assert not left_behind, f"shared memory left behind: {_describe(left_behind)}"


def _describe(names: set[str]) -> dict[str, list[str]]:
    """What each entry left in ``/dev/shm`` holds (a run's directory: its chunks)."""
    described = {}
    for name in names:
        path = os.path.join("/dev/shm", name)
        described[name] = sorted(os.listdir(path)) if os.path.isdir(path) else []
    return described


def _on_ray(request: pytest.FixtureRequest) -> bool:
    callspec = getattr(request.node, "callspec", None)
    values = callspec.params.values() if callspec is not None else ()
    return any(isinstance(value, str) and value.split("-")[0] == "ray" for value in values)
