"""Every backend namespace exports the same names, signatures and docstrings."""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest

import pypeln as pl
from pypeln._backends import registry
from pypeln._pipeline.combinators.api import EXPORTS

MODULES = [getattr(pl, name) for name in registry.names()]
#: Names only some backends have: how process starts its workers, which loop task uses.
EXTRA = {"process": {"set_start_method", "using"}, "task": {"using"}, "ray": {"using"}}
PUBLIC = set(EXPORTS)


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.__name__)
def test_exports(module: ModuleType) -> None:
    extra = EXTRA.get(module.__name__.rpartition(".")[2], set())
    assert set(module.__all__) == PUBLIC | extra
    for name in module.__all__:
        assert hasattr(module, name), name


@pytest.mark.parametrize("name", sorted(PUBLIC - {"backend"}))
def test_same_signature_and_docstring_everywhere(name: str) -> None:
    # The same parameters; what the partial form returns is typed per namespace (pl.task's
    # pipes know that an async f is awaited).
    reference = getattr(MODULES[0], name)
    for module in MODULES[1:]:
        other = getattr(module, name)
        ours, theirs = inspect.signature(other), inspect.signature(reference)
        assert ours.parameters == theirs.parameters, module.__name__
        assert inspect.getdoc(other) == inspect.getdoc(reference), module.__name__
        assert inspect.getdoc(other), f"{name} has no docstring"


def test_the_issue_signatures() -> None:
    # pypeln 0.4's parameters, in its order and by position; the newer ones by keyword only.
    signature = inspect.signature(pl.thread.map)
    by_position = [
        p
        for p in signature.parameters.values()
        if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    ]
    assert str(signature.replace(parameters=by_position)) == (
        "(f: 'Callable[..., Any]', stage: 'Iterable[Any] | AsyncIterable[Any] | None' = None, "
        "workers: 'int' = 1, maxsize: 'int | None' = None, timeout: 'float' = 0, "
        "on_start: 'Hook | None' = None, on_done: 'Hook | None' = None) "
        "-> 'Stage[Any] | Pipe[Any]'"
    )
    keyword_only = [
        name for name, p in signature.parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    assert keyword_only == ["on_error", "retries", "rate", "ordered", "key"]
    each = inspect.signature(pl.thread.each).parameters.values()
    assert [p.name for p in each if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD][-1] == "run"
    parameters = inspect.signature(pl.thread.to_iterable).parameters
    assert list(parameters) == ["stage", "maxsize", "return_index", "progress", "monitor"]
    assert (
        parameters["progress"].kind is parameters["monitor"].kind is inspect.Parameter.KEYWORD_ONLY
    )


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


def test_a_registered_backend_without_a_module_gets_one() -> None:
    import importlib

    module = importlib.import_module("pypeln.minimal")  # registered by tests/conftest.py
    assert module is pl.minimal  # type: ignore[attr-defined]
    assert module.backend is registry.backend("minimal")
    assert sorted(module.map(abs, [-2, 1])) == [1, 2]
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        pl.nothing  # type: ignore[attr-defined]  # noqa: B018


@pytest.mark.parametrize("api", [pl.process.using("spawn"), pl.task.using("asyncio")])
def test_what_using_returns_is_a_whole_namespace(api: object) -> None:
    for name in EXPORTS:
        assert hasattr(api, name), name
    assert api.Stage is pl.Stage and api.WorkerInfo is pl.WorkerInfo  # type: ignore[attr-defined]
