"""A stage graph as Mermaid text: each stage with its backend, workers and queue bound.

>>> import pypeln as pl
>>> stage = pl.thread.map(str, pl.process.filter(bool, range(3), workers=2), maxsize=8)
>>> print(mermaid(stage, lambda obj: isinstance(obj, pl.Stage)))
flowchart LR
    n0["range"]
    n1["filter(bool)<br/>process · 2 workers · maxsize auto"]
    n2["map(str)<br/>thread · 1 worker · maxsize 8"]
    n0 --> n1
    n1 --> n2
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


def mermaid(last: Any, is_stage: Callable[[object], bool]) -> str:
    """The graph that ends in ``last``, sources first, as a Mermaid ``flowchart``
    (``is_stage`` tells a ``Stage``, which ``stage.py`` defines, from a plain iterable)."""
    ids: dict[int, str] = {}
    nodes: list[str] = []
    edges: list[str] = []

    def visit(obj: Iterable[Any]) -> str:
        known = ids.get(id(obj))
        if known is not None:
            return known
        stage = is_stage(obj)
        upstreams = [visit(upstream) for upstream in _upstreams(obj, stage)]
        ident = ids[id(obj)] = f"n{len(ids)}"
        nodes.append(f'    {ident}["{_escape(_label(obj, stage))}"]')
        edges.extend(f"    {upstream} --> {ident}" for upstream in upstreams)
        return ident

    visit(last)
    return "\n".join(["flowchart LR", *nodes, *edges])


def _upstreams(obj: Any, stage: bool) -> tuple[Iterable[Any], ...]:
    if stage and obj.kind != "from_iterable":
        upstreams: tuple[Iterable[Any], ...] = obj.upstreams
        return upstreams
    return ()


def _label(obj: Any, stage: bool) -> str:
    if not stage:
        return type(obj).__name__
    name: str = obj.name
    if obj.kind == "from_iterable":
        return name
    workers = "no limit" if obj.workers == 0 else f"{obj.workers} worker"
    workers += "s" if obj.workers > 1 else ""
    bound = {None: "auto", 0: "unbounded"}.get(obj.maxsize, str(obj.maxsize))
    return f"{name}<br/>{obj.backend.name} · {workers} · maxsize {bound}"


def _escape(text: str) -> str:
    """Quotes and angle brackets of a name, as Mermaid reads them (``<br/>`` is kept)."""
    return (
        text.replace('"', "#quot;")
        .replace("<br/>", "\0")
        .replace("<", "#lt;")
        .replace(">", "#gt;")
        .replace("\0", "<br/>")
    )
