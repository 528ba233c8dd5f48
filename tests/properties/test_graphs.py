"""Random graphs of stages, diamonds and repeated references included, against a list model.

A graph is drawn as plain data (``Graph``): a few input lists, then steps that each read
earlier nodes by position, so one stage or list is often read twice (a diamond, or
``concat([s, s])``). It is built on one backend (the ``backend`` fixture) or on a random
backend per step, run with ``to_iterable(..., return_index=True)`` and compared with
``model``, which computes the same graph on plain lists: equal as multisets of
``(index, item)``, and in the exact index order when the last step is ``ordered``.

A run that does not end (a diamond that hangs) fails after ``RUN_SECONDS`` as ``RunHung``;
such examples are reported as drawn, not shrunk: every shrinking step would hang as long.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import BACKENDS, capabilities, law_examples, namespace_of

Element = tuple[tuple[int, ...], int]
#: How long one run of a graph may take (they take milliseconds).
RUN_SECONDS = 20.0
#: Drawn examples only: a failure is reported as found (see the module docstring).
NO_SHRINKING = (Phase.explicit, Phase.reuse, Phase.generate)


class RunHung(Exception):
    """A run of a graph did not end."""


@contextmanager
def ends_within(seconds: float) -> Iterator[None]:
    """Raise ``RunHung`` in the main thread if the block lasts longer than ``seconds``.

    A signal, not a helper thread: a second thread would change the start method of
    ``pl.process`` ("auto" forks only in a single-threaded process). pytest-timeout uses the
    same timer: its alarm is set again afterwards, less the time spent here.
    """
    assert threading.current_thread() is threading.main_thread()

    def hung(signum: int, frame: object) -> None:
        raise RunHung(f"the run did not end within {seconds:g} s")

    outer, _ = signal.getitimer(signal.ITIMER_REAL)
    previous = signal.signal(signal.SIGALRM, hung)
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, min(seconds, outer) if outer else seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:
            left = outer - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(0.001, left))


def triple(x: int) -> int:
    return 3 * x + 1


def keep(x: int) -> bool:
    return x % 3 != 0


def expand(x: int) -> list[int]:
    return [x] * (abs(x) % 3)  # 0, 1 or 2 items: a graph's size stays small


FUNCTIONS: dict[str, Callable[[int], Any]] = {"map": triple, "filter": keep, "flat_map": expand}


@dataclass(frozen=True)
class Step:
    """One node of a graph: ``kind`` over the nodes at positions ``reads``."""

    kind: str  # map, filter, flat_map, concat or ordered
    reads: tuple[int, ...]
    backend: str
    workers: int = 1
    maxsize: int = 0


@dataclass(frozen=True)
class Graph:
    inputs: tuple[tuple[int, ...], ...]  # nodes 0 .. len(inputs) - 1: plain lists
    steps: tuple[Step, ...]  # node len(inputs) + i is steps[i]; the last one is run
    maxsize: int  # the consumer's (to_iterable)

    def __repr__(self) -> str:  # what a failing example prints: the graph as code
        names = [f"xs{i}" for i in range(len(self.inputs))]
        lines = [f"xs{i} = {list(xs)}" for i, xs in enumerate(self.inputs)]
        for position, step in enumerate(self.steps):
            name = f"s{position}"
            args = [names[read] for read in step.reads]
            options = f", workers={step.workers}, maxsize={step.maxsize}"
            if step.kind == "concat":
                call = f"concat([{', '.join(args)}], maxsize={step.maxsize})"
            elif step.kind == "ordered":
                call = f"ordered({args[0]})"
            else:
                call = f"{step.kind}({FUNCTIONS[step.kind].__name__}, {args[0]}{options})"
            lines.append(f"{name} = pl.{step.backend}.{call}")
            names.append(name)
        lines.append(f"to_iterable({names[-1]}, maxsize={self.maxsize}, return_index=True)")
        return "\n".join(lines)


@st.composite
def graphs(draw: st.DrawFn, backends: list[str], max_steps: int) -> Graph:
    inputs = draw(st.lists(st.lists(st.integers(-20, 20), max_size=20), min_size=1, max_size=2))
    nodes = len(inputs)
    steps = []
    for _ in range(draw(st.integers(1, max_steps))):
        # The newest nodes are read most, any other one too: diamonds and repeats.
        read = st.one_of(st.integers(max(0, nodes - 2), nodes - 1), st.integers(0, nodes - 1))
        kind = draw(st.sampled_from(["map", "filter", "flat_map", "concat", "concat", "ordered"]))
        backend = draw(st.sampled_from(backends))
        if kind == "concat":
            reads = tuple(draw(st.lists(st.integers(0, nodes - 1), min_size=1, max_size=3)))
        else:
            reads = (draw(read),)
        workers = 1 if kind in ("concat", "ordered") else draw(st.integers(1, 3))
        maxsize = 0 if kind == "ordered" else draw(st.integers(0, 3))
        steps.append(Step(kind, reads, backend, workers, maxsize))
        nodes += 1
    return Graph(tuple(map(tuple, inputs)), tuple(steps), draw(st.integers(0, 3)))


def model(graph: Graph) -> list[Element]:
    """The graph's elements, computed on lists: what every backend must deliver."""
    nodes: list[list[Element]] = [[((i,), x) for i, x in enumerate(xs)] for xs in graph.inputs]
    for step in graph.steps:
        reads = [nodes[read] for read in step.reads]
        if step.kind == "map":
            result = [(index, triple(x)) for index, x in reads[0]]
        elif step.kind == "filter":
            result = [(index, x) for index, x in reads[0] if keep(x)]
        elif step.kind == "flat_map":
            result = [((*index, p), y) for index, x in reads[0] for p, y in enumerate(expand(x))]
        elif step.kind == "concat":
            result = [element for elements in reads for element in elements]
        else:  # ordered: stable sort by index
            result = sorted(reads[0], key=lambda element: element[0])
        nodes.append(result)
    return nodes[-1]


def build(graph: Graph) -> list[Element]:
    """Run the graph on its backends; its elements, as the consumer got them."""
    # One-shot inputs: a graph whose backends compute something twice (a stage read by a
    # stage of another backend, in a run of its own) would split an input between them.
    nodes: list[Any] = [iter(list(xs)) for xs in graph.inputs]
    for step in graph.steps:
        api = namespace_of(step.backend)
        reads = [nodes[read] for read in step.reads]
        if step.kind == "concat":
            stage = api.concat(reads, maxsize=step.maxsize)
        elif step.kind == "ordered":
            stage = api.ordered(reads[0])
        else:
            fn = FUNCTIONS[step.kind]
            kind = getattr(api, step.kind)
            stage = kind(fn, reads[0], workers=step.workers, maxsize=step.maxsize)
        nodes.append(stage)
    consumer = namespace_of(graph.steps[-1].backend)
    with ends_within(RUN_SECONDS):
        return list(consumer.to_iterable(nodes[-1], maxsize=graph.maxsize, return_index=True))


def check(graph: Graph) -> None:
    got, expected = build(graph), model(graph)
    assert Counter(got) == Counter(expected)
    if graph.steps[-1].kind == "ordered":  # equal indices may come in any order off sync
        assert [index for index, _ in got] == [index for index, _ in expected]


def examples(name: str) -> int:
    """Examples per backend: the profile's, fewer where a run starts processes or actors."""
    count: int = settings().max_examples
    if capabilities(name).shares_memory:
        return count
    if capabilities(name).joins_cluster:
        return law_examples()
    return max(3, count // 4) if "-" in name else max(5, count // 2)


@pytest.mark.timeout(120)
def test_graphs_agree_with_the_list_model(request: pytest.FixtureRequest, backend: Any) -> None:
    name: str = request.node.callspec.params["backend"]

    @settings(
        max_examples=examples(name),
        deadline=None,
        phases=NO_SHRINKING,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(graphs([name], max_steps=6))
    def agrees(graph: Graph) -> None:
        check(graph)

    agrees()


@pytest.mark.timeout(120)
@settings(deadline=None, max_examples=max(5, settings().max_examples // 3), phases=NO_SHRINKING)
@given(graphs(BACKENDS, max_steps=5))
def test_mixed_backend_graphs_agree_with_the_list_model(graph: Graph) -> None:
    check(graph)
