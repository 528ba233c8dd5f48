"""The architecture document describes the code as it is: its diagrams are the backends'
own, the files it names exist, and the folders keep the size it promises."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
BACKENDS = sorted(
    path.name
    for path in (ROOT / "pypeln" / "_backends").iterdir()
    if (path / "backend.py").exists()  # a backend's folder (not common/, remote/)
)


def diagram(docstring: str) -> str:
    """The first literal block (after ``::``) of a docstring."""
    match = re.search(r"::\n\n((?:    .*\n|\n)+)", docstring)
    assert match, "no diagram"
    return match.group(1).rstrip("\n")


@pytest.mark.parametrize("name", BACKENDS)
def test_each_backend_draws_its_diagram_and_the_document_shows_it(name: str) -> None:
    package = importlib.import_module(f"pypeln._backends.{name}")
    assert package.__doc__
    drawn = diagram(package.__doc__)
    assert f"### {name}\n\n```text\n{drawn}\n```" in DOCUMENT


def test_every_file_the_document_names_exists() -> None:
    named = set(re.findall(r"`((?:_backends|_pipeline|_worker)/[\w/]*(?:\.py|/))`", DOCUMENT))
    assert len(named) > 20
    for path in named:
        assert (ROOT / "pypeln" / path).exists(), path


def test_no_folder_holds_more_than_a_dozen_modules() -> None:
    for folder in (ROOT / "pypeln").rglob("*/"):
        modules = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
        assert len(modules) <= 12, folder
