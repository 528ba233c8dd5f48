"""Griffe extension for the docs build: show doctests in docstrings as Python console blocks.

pypeln's docstrings carry bare doctests (``>>> ...`` lines followed by their output), which
Markdown would otherwise read as nested block quotes. This wraps every such run of lines,
up to the next blank line, in a fenced ``pycon`` block at the same indentation.
"""

from __future__ import annotations

from typing import Any

import griffe


def fence_doctests(text: str) -> str:
    """``text`` with each doctest block wrapped in a ```pycon fence.

    >>> fence_doctests("Intro.\\n\\n>>> 1 + 1\\n2").splitlines()
    ['Intro.', '', '```pycon', '>>> 1 + 1', '2', '```']
    """
    out: list[str] = []
    indent: str | None = None  # the indentation of the open block, if any
    for line in text.splitlines():
        stripped = line.lstrip()
        if indent is None and stripped.startswith(">>>"):
            indent = line[: len(line) - len(stripped)]
            out.append(f"{indent}```pycon")
        elif indent is not None and not stripped:
            out.append(f"{indent}```")
            indent = None
        out.append(line)
    if indent is not None:
        out.append(f"{indent}```")
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Rewrite each docstring as it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
