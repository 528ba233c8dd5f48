"""Helpers that several scenario groups share: backends, start methods and event loops."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import pypeln as pl

from ..measure import quiesce
from ..peers import DEFAULT_LOOP, UVLOOP
from ..results import ScenarioResult
from ..workloads import inc, worker_parent

KNOWN_BACKENDS: tuple[str, ...] = ("sync", "thread", "process", "task")
FORKSERVER = "forkserver"


def available_backends() -> list[str]:
    return [name for name in KNOWN_BACKENDS if hasattr(pl, name)]


def lacks_backend(result: ScenarioResult, name: str) -> bool:
    """Whether pypeln has no ``name`` backend; if so ``result`` gets a note saying so."""
    if name in available_backends():
        return False
    result.notes.append(f"pypeln has no {name} backend: nothing measured")
    return True


def start_forkserver() -> None:
    """Start the fork server the way a pypeln program does: by running a pipeline on it.

    One fork server serves the whole program, and whoever starts it first decides what it
    preloads: pypeln has it import pypeln, so that workers do not. Had a peer started it
    first, pypeln's workers would pay for importing pypeln, which no pypeln program sees.
    """
    list(pl.process.using(FORKSERVER).map(inc, [0]))


def default_start_note() -> str:
    """How ``pl.process`` with its default start method starts workers in this process now."""
    quiesce()
    forked = list(pl.process.map(worker_parent, [0])) == [os.getpid()]
    how = "forks them from this process" if forked else "starts them from a server or spawns them"
    return f"pl.process (default start method), checked before timing: {how}"


def loops() -> list[str]:
    """The event loops measured: asyncio's default, and uvloop if it is installed."""
    found = importlib.util.find_spec(UVLOOP) is not None
    return [DEFAULT_LOOP, UVLOOP] if found else [DEFAULT_LOOP]


def task_api(loop: str) -> tuple[str, Any]:
    """The row name and the ``pl.task`` API whose runs from sync code use ``loop``."""
    if loop == DEFAULT_LOOP:
        return "task", pl.task
    return f"task using('{loop}')", pl.task.using(loop)


def uvloop_note(result: ScenarioResult) -> None:
    if UVLOOP not in loops():
        result.notes.append("uvloop is not installed: only asyncio's default loop measured")
