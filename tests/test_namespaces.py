"""Every backend namespace exports the same names, signatures and docstrings."""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest

import pypeln as pl
from tests.conftest import BACKENDS

MODULES = [getattr(pl, name) for name in BACKENDS if hasattr(pl, name)]
#: Names only some backends have: how process starts its workers, which loop task uses.
EXTRA = {"process": {"set_start_method", "using"}, "task": {"using"}}
PUBLIC = {
    "map",
    "flat_map",
    "filter",
    "each",
    "concat",
    "ordered",
    "from_iterable",
    "to_iterable",
    "to_async_iterable",
    "run",
    "Namespace",
    "Stage",
    "RunIterator",
    "WorkerInfo",
    "runtime",
}


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.__name__)
def test_exports(module: ModuleType) -> None:
    extra = EXTRA.get(module.__name__.rpartition(".")[2], set())
    assert set(module.__all__) == PUBLIC | extra
    for name in module.__all__:
        assert hasattr(module, name), name


@pytest.mark.parametrize("name", sorted(PUBLIC - {"runtime"}))
def test_same_signature_and_docstring_everywhere(name: str) -> None:
    reference = getattr(MODULES[0], name)
    for module in MODULES[1:]:
        other = getattr(module, name)
        assert inspect.signature(other) == inspect.signature(reference), module.__name__
        assert inspect.getdoc(other) == inspect.getdoc(reference), module.__name__
        assert inspect.getdoc(other), f"{name} has no docstring"


def test_the_issue_signatures() -> None:
    assert str(inspect.signature(pl.thread.map)) == (
        "(f: 'Callable[..., Any]', stage: 'Iterable[Any] | AsyncIterable[Any] | None' = None, "
        "workers: 'int' = 1, maxsize: 'int' = 0, timeout: 'float' = 0, "
        "on_start: 'Hook | None' = None, on_done: 'Hook | None' = None) "
        "-> 'Stage[Any] | Pipe[Any]'"
    )
    assert list(inspect.signature(pl.thread.each).parameters)[-1] == "run"
    assert list(inspect.signature(pl.thread.to_iterable).parameters) == [
        "stage",
        "maxsize",
        "return_index",
    ]


def test_package_surface() -> None:
    assert pl.th is pl.thread
    assert isinstance(pl.__version__, str)
    assert issubclass(pl.MissingInjectionError, pl.PypelnError)
    assert pl.pr is pl.process
    assert pl.Stage is pl.thread.Stage is pl.sync.Stage is pl.process.Stage
    assert issubclass(pl.WorkerCrashedError, pl.PypelnError)
    assert pl.thread.WorkerInfo is pl.WorkerInfo is pl.sync.WorkerInfo is pl.process.WorkerInfo
    assert pl.task.WorkerInfo(3).index == 3  # pypeln 0.4 built it from the index alone
    assert issubclass(pl.OneShotSourceWarning, RuntimeWarning)
