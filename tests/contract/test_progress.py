"""Progress bars: one per stage, named as the stage, with a total where the source's length
says it, on every backend; closed however the run ends."""

from __future__ import annotations

import io
import re
import sys
from types import ModuleType

import pytest

import pypeln as pl


def is_even(x: int) -> bool:
    return x % 2 == 0


def fails_on_fifty(x: int) -> int:
    if x == 50:
        raise ValueError(x)
    return x


def last_state(text: str, name: str) -> str:
    """The last drawing of the bar of stage ``name`` in what tqdm wrote."""
    drawings = [part for part in re.split(r"[\r\n]", text) if part.lstrip().startswith(name)]
    assert drawings, f"no bar for {name!r} in {text!r}"
    return drawings[-1]


def test_a_bar_per_stage_with_totals(backend: ModuleType) -> None:
    stream = io.StringIO()
    stage = backend.filter(is_even, backend.map(abs, range(100), workers=2))
    run = backend.to_iterable(stage, progress=stream)
    assert sorted(run) == list(range(0, 100, 2))
    text = stream.getvalue()
    assert "100/100" in last_state(text, "map(abs):")  # its source has a length
    assert "50 items" in last_state(text, "filter(is_even):")  # it drops some: no total


def test_run_shows_bars_too(backend: ModuleType) -> None:
    stream = io.StringIO()
    backend.run(backend.map(abs, range(30)), progress=stream)
    assert "30/30" in last_state(stream.getvalue(), "map(abs):")


def test_bars_close_on_break_and_on_error(backend: ModuleType) -> None:
    stream = io.StringIO()
    run = backend.to_iterable(backend.map(abs, range(1000), maxsize=2), progress=stream)
    for _ in run:
        break
    run.close()
    assert stream.getvalue().endswith("\n")  # tqdm ends a closed bar's line
    failing = io.StringIO()
    with pytest.raises(ValueError):
        list(backend.to_iterable(backend.map(fails_on_fifty, range(100)), progress=failing))
    assert "map(fails_on_fifty):" in failing.getvalue()
    assert failing.getvalue().endswith("\n")


def test_the_environment_turns_bars_on(
    backend: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PYPELN_PROGRESS", "1")
    assert sorted(backend.map(abs, range(-3, 3))) == [0, 1, 1, 2, 2, 3]
    assert "map(abs):" in capsys.readouterr().err  # tqdm writes to standard error


def test_without_tqdm_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import fails, as if not installed
    with pytest.raises(ImportError, match=r"pip install 'pypeln\[progress\]'"):
        pl.thread.to_iterable(pl.thread.map(abs, range(3)), progress=True)


def test_bad_progress_is_refused_at_the_call() -> None:
    with pytest.raises(TypeError, match="to_iterable\\(\\): progress must be a bool or a text"):
        pl.thread.to_iterable(pl.thread.map(abs, range(3)), progress="yes")  # type: ignore[call-overload]
