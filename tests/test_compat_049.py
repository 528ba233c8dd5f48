"""pypeln 0.4.9 programs call our functions unchanged.

Every public function of 0.4.9's backend namespaces must accept each of its parameters at
the same position, under the same name, with the same default (0.4.9's "no stage given"
sentinel ``UNDEFINED`` is our ``None``). The reference is the 0.4.9 wheel from the package
registry, downloaded once into ``.venv/`` and read with ``ast``: its code is never imported.
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import pypeln as pl

REFERENCE = "pypeln==0.4.9"
CACHE = Path(__file__).resolve().parents[1] / ".venv" / "reference" / "pypeln-0.4.9"
#: The backend namespaces pypeln 0.4.9 had (ours must keep their signatures).
NAMESPACES_OF_049 = ["sync", "thread", "task", "process"]
NO_DEFAULT = inspect.Parameter.empty
BY_POSITION = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


@dataclass(frozen=True)
class Reference:
    """One 0.4.9 function's parameters: positional ones, ``*args`` and keyword-only ones."""

    backend: str
    name: str
    positional: tuple[tuple[str, object], ...]  # (name, default or NO_DEFAULT)
    varargs: str | None
    keyword_only: tuple[tuple[str, object], ...]


@pytest.fixture(scope="session")
def wheel() -> zipfile.ZipFile:
    """The 0.4.9 wheel, fetched with pip on first use; a test fails if it cannot be had."""
    found = sorted(CACHE.glob("pypeln-0.4.9-*.whl"))
    if not found:
        CACHE.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", REFERENCE, "--no-deps"]
        command += ["--only-binary=:all:", "--quiet", "--dest", str(CACHE)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=50)
        found = sorted(CACHE.glob("pypeln-0.4.9-*.whl"))
        assert found, f"could not download {REFERENCE} (pip said: {result.stderr.strip()})"
    return zipfile.ZipFile(found[0])


def default_of(node: ast.expr) -> object:
    """A default as a value; 0.4.9's ``pypeln_utils.UNDEFINED`` is None here."""
    if "UNDEFINED" in ast.unparse(node):
        return None
    return ast.literal_eval(node)


def is_overload(function: ast.FunctionDef) -> bool:
    return any("overload" in ast.unparse(decorator) for decorator in function.decorator_list)


def parameters(backend: str, name: str, function: ast.FunctionDef) -> Reference:
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    defaults: list[object] = [NO_DEFAULT] * (len(positional) - len(args.defaults))
    defaults += [default_of(node) for node in args.defaults]
    keyword_only = tuple(
        (arg.arg, NO_DEFAULT if node is None else default_of(node))
        for arg, node in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    )
    return Reference(
        backend,
        name,
        tuple((arg.arg, default) for arg, default in zip(positional, defaults, strict=True)),
        None if args.vararg is None else args.vararg.arg,
        keyword_only,
    )


def public_functions(wheel: zipfile.ZipFile, backend: str) -> list[Reference]:
    """The functions ``pypeln/<backend>/__init__.py`` exports from its ``api`` modules."""
    package = f"pypeln/{backend}"
    init = ast.parse(wheel.read(f"{package}/__init__.py"))
    exported = [
        (node.module.partition(".")[2], alias.name)
        for node in init.body
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
        if node.module.startswith("api.")
        for alias in node.names
    ]
    references = []
    for module, name in exported:
        tree = ast.parse(wheel.read(f"{package}/api/{module}.py"))
        implementations = [
            node
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name == name and not is_overload(node)
        ]
        assert len(implementations) == 1, (backend, name)
        references.append(parameters(backend, name, implementations[0]))
    return references


def test_the_reference_is_read(wheel: zipfile.ZipFile) -> None:
    names = {ref.name for ref in public_functions(wheel, "task")}
    assert {"map", "each", "run", "to_iterable", "to_async_iterable", "ordered"} <= names
    (each,) = [ref for ref in public_functions(wheel, "thread") if ref.name == "each"]
    assert [name for name, _ in each.positional] == [
        "f",
        "stage",
        "workers",
        "maxsize",
        "timeout",
        "on_start",
        "on_done",
        "run",
    ]


#: The defaults 0.5 changes on purpose (the migration page says why), as (parameter, 0.4.9's
#: default, ours): a stage's queue is bounded by default; ``maxsize=0`` still means unbounded.
CHANGED_DEFAULTS = {("maxsize", 0, None)}


def mismatches(reference: Reference, ours: Callable[..., Any]) -> list[str]:
    """How ``ours`` fails to accept what 0.4.9's function accepted (empty when it does)."""
    params = list(inspect.signature(ours).parameters.values())
    positional = [p for p in params if p.kind in BY_POSITION]
    problems = []
    for position, (name, default) in enumerate(reference.positional):
        if position >= len(positional):
            problems.append(f"no parameter at position {position} ({name})")
            continue
        param = positional[position]
        if param.name != name or param.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD:
            problems.append(f"position {position} is {param}, 0.4.9 had {name}")
        elif param.default != default and (name, default, param.default) not in CHANGED_DEFAULTS:
            problems.append(f"{name} defaults to {param.default!r}, 0.4.9's to {default!r}")
    for extra in positional[len(reference.positional) :]:
        if extra.default is NO_DEFAULT:
            problems.append(f"our extra parameter {extra.name} needs a value")
    if reference.varargs is not None:
        star = [p for p in params if p.kind is inspect.Parameter.VAR_POSITIONAL]
        if [p.name for p in star] != [reference.varargs]:
            problems.append(f"no *{reference.varargs}")
    by_name = {p.name: p for p in params if p.kind is not inspect.Parameter.VAR_POSITIONAL}
    for name, default in reference.keyword_only:
        param = by_name.get(name)
        if param is None or param.kind is inspect.Parameter.POSITIONAL_ONLY:
            problems.append(f"no keyword {name}")
        elif param.default != default:
            problems.append(f"{name} defaults to {param.default!r}, 0.4.9's to {default!r}")
    return problems


@pytest.mark.parametrize("backend", NAMESPACES_OF_049)
def test_every_049_function_accepts_its_049_parameters(
    wheel: zipfile.ZipFile, backend: str
) -> None:
    namespace = getattr(pl, backend)
    problems = {}
    for reference in public_functions(wheel, backend):
        ours = getattr(namespace, reference.name, None)
        if ours is None:
            problems[reference.name] = ["missing"]
        elif found := mismatches(reference, ours):
            problems[reference.name] = found
    assert not problems, f"pl.{backend}: {problems}"
