"""The statistics of a run as a text table, with the verdict under it (``print(stats)``).

>>> print(render("run: 0.00 s, ended", (), None))
run: 0.00 s, ended; no stage took an item
"""

from __future__ import annotations

from collections.abc import Sequence

from .stage_stats import StageStats
from .verdict import Verdict

COLUMNS = (
    "stage",
    "backend",
    "workers",
    "in",
    "out",
    "dropped",
    "busy",
    "waiting",
    "blocked",
    "queue (mean)",
    "call p50",
    "call p99",
    "items/s",
)


def render(head: str, stages: Sequence[StageStats], verdict: Verdict | None) -> str:
    """``head``, then a row per stage, then the verdict."""
    if not stages:
        return head + "; no stage took an item"
    rows = [COLUMNS, *(_row(stage) for stage in stages)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(COLUMNS))]
    lines = [
        "  ".join(
            cell.ljust(width) if column < 2 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    tail = [] if verdict is None else ["", f"bottleneck: {verdict}"]
    return "\n".join([head, *lines, *tail])


def _row(stage: StageStats) -> tuple[str, ...]:
    bound = stage.maxsize or "unbounded"
    return (
        stage.name,
        stage.backend,
        str(stage.workers),
        f"{stage.received:,}",
        f"{stage.emitted:,}",
        f"{stage.dropped:,}",
        f"{stage.busy:.0%}",
        f"{stage.waiting:.0%}",
        f"{stage.blocked:.0%}",
        f"{stage.fill} of {bound} ({stage.mean_fill:.0f})" if stage.concurrent else "-",
        _seconds(stage.call_p50),
        _seconds(stage.call_p99),
        f"{stage.per_second:,.0f}",
    )


def _seconds(value: float | None) -> str:
    """A duration, in the unit that reads best.

    >>> _seconds(0.0000021), _seconds(0.0042), _seconds(1.5), _seconds(None)
    ('2.1 µs', '4.2 ms', '1.50 s', '-')
    """
    if value is None:
        return "-"
    if value < 1e-3:
        return f"{value * 1e6:.1f} µs"
    if value < 1:
        return f"{value * 1e3:.1f} ms"
    return f"{value:.2f} s"
