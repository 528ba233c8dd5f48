"""Shared fixtures: every contract test runs once per backend, and must leave nothing behind."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from types import ModuleType

import pytest
from hypothesis import settings

import pypeln as pl

# `HYPOTHESIS_PROFILE=stress make test` runs every law on many more examples.
settings.register_profile("default", max_examples=60)
settings.register_profile("stress", max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

#: Every backend the contract suite covers; adding a backend is adding its name here.
BACKENDS = ["sync", "thread"]
#: Backends whose workers run at the same time (sync runs one call at a time by design).
CONCURRENT_BACKENDS = ["thread"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> ModuleType:
    """The backend namespace under test, e.g. ``pl.thread``."""
    module: ModuleType = getattr(pl, request.param)
    return module


@pytest.fixture(params=CONCURRENT_BACKENDS)
def concurrent_backend(request: pytest.FixtureRequest) -> ModuleType:
    """A backend whose ``workers`` really run at once."""
    module: ModuleType = getattr(pl, request.param)
    return module


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """After each test every thread it started must end (joined, not waited for by sleeping)."""
    before = set(threading.enumerate())
    yield
    leaked = [thread for thread in threading.enumerate() if thread not in before]
    for thread in leaked:
        thread.join(timeout=5)
    alive = [thread.name for thread in leaked if thread.is_alive()]
    assert not alive, f"threads left running: {alive}"
