"""A worker process's traceback, sent as frames and written out where the consumer runs.

A traceback cannot cross processes as an object, and its text, written in the worker, would
miss source lines the worker cannot read (a notebook cell lives in the consumer's
``linecache`` only). So the worker sends each frame's file, line number, function, column
range and the source line it could read; the consumer fills in the lines it has and writes
the traceback as Python would (with the ``^^^^`` marks on Python 3.11+).

>>> def fail():
...     raise KeyError("k")
>>> try:
...     fail()
... except KeyError as error:
...     frames = capture(error.__traceback__)
>>> render(frames, "KeyError", "'k'").splitlines()[-2:]
['    raise KeyError("k")', "KeyError: 'k'"]
"""

from __future__ import annotations

import linecache
import sys
import traceback
from types import TracebackType
from typing import Any

#: (file, line number, function, source line, end line, column, end column)
Frame = tuple[str, "int | None", str, str, "int | None", "int | None", "int | None"]


def capture(tb: TracebackType | None) -> list[Frame]:
    """The frames of ``tb``, with the source lines this process can read."""
    frames: list[Frame] = []
    for summary in traceback.extract_tb(tb):
        line = linecache.getline(summary.filename, summary.lineno) if summary.lineno else ""
        position = (
            getattr(summary, "end_lineno", None),
            getattr(summary, "colno", None),
            getattr(summary, "end_colno", None),
        )
        frames.append((summary.filename, summary.lineno, summary.name, line, *position))
    return frames


def render(frames: list[Frame], type_name: str, message: str) -> str:
    """The traceback text, source lines missing from ``frames`` read here."""
    summaries = []
    for filename, lineno, name, line, end_lineno, colno, end_colno in frames:
        if not line and lineno:
            line = linecache.getline(filename, lineno)
        summaries.append(_summary(filename, lineno, name, line, end_lineno, colno, end_colno))
    text = "".join(traceback.StackSummary.from_list(summaries).format())
    return f"Traceback (most recent call last):\n{text}{type_name}: {message}"


def _summary(
    filename: str,
    lineno: int | None,
    name: str,
    line: str,
    end_lineno: int | None,
    colno: int | None,
    end_colno: int | None,
) -> traceback.FrameSummary:
    position: dict[str, Any] = {}
    if sys.version_info >= (3, 11):  # where in the line: the ^^^^ marks
        position = {"end_lineno": end_lineno, "colno": colno, "end_colno": end_colno}
    return traceback.FrameSummary(filename, lineno, name, lookup_line=False, line=line, **position)
