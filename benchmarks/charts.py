"""PNG charts of the report, one per scenario group, drawn with matplotlib's Agg backend.

Each scenario of a group is one panel of horizontal bars, one bar per row that has a figure,
coloured by kind (baseline, pypeln, peer, pypeln 0.4.9, a baseline checkout) and labelled
with its figure and, where a target applies, its verdict. A panel whose figures span more
than two decades uses a log scale, so that the slow contenders of the overhead scenario stay
readable next to the fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .results import BASELINE, EARLIER, LEGACY, PEER, PYPELN, Row, ScenarioResult, format_value

COLOURS = {
    BASELINE: "#7f7f7f",
    PYPELN: "#1f77b4",
    PEER: "#ff7f0e",
    LEGACY: "#9467bd",
    EARLIER: "#8c564b",
}
LOG_SPAN = 100  # max / min above which a panel uses a log scale


def bar_label(row: Row) -> str:
    assert row.value is not None
    verdict = row.verdict()
    suffix = f"  [{verdict}]" if verdict in ("met", "NOT MET") else ""
    return f" {format_value(row.value, row.unit)}{suffix}"


def draw_panel(axes: Any, result: ScenarioResult) -> None:
    rows = [row for row in result.rows if row.value is not None]
    names = [row.contender for row in rows]
    values = [row.value or 0.0 for row in rows]
    positions = range(len(rows))
    axes.barh(positions, values, color=[COLOURS.get(row.kind, "#2ca02c") for row in rows])
    axes.set_yticks(list(positions), names, fontsize=8)
    axes.invert_yaxis()
    if values and min(values) > 0 and max(values) / min(values) > LOG_SPAN:
        axes.set_xscale("log")
    unit = rows[0].unit if rows else ""
    axes.set_xlabel(unit)
    axes.set_title(result.title, fontsize=9, loc="left", wrap=True)
    for position, row in zip(positions, rows, strict=True):
        axes.text(row.value, position, bar_label(row), va="center", fontsize=7)
    # Leave room on the right for the labels of the longest bars.
    left, right = axes.get_xlim()
    axes.set_xlim(left, right * (3 if axes.get_xscale() == "log" else 1.35))


def group_chart(title: str, results: Sequence[ScenarioResult], path: Path) -> bool:
    """Draw ``results`` into ``path``; False (and no file) if no row has a figure."""
    drawable = [r for r in results if any(row.value is not None for row in r.rows)]
    if not drawable:
        return False
    import matplotlib

    matplotlib.use("Agg")  # no display: render to files only
    import matplotlib.pyplot as plt

    heights = [1.2 + 0.3 * sum(row.value is not None for row in r.rows) for r in drawable]
    figure, panels = plt.subplots(
        len(drawable), 1, figsize=(11, sum(heights)), height_ratios=heights, squeeze=False
    )
    for axes, result in zip(panels[:, 0], drawable, strict=True):
        draw_panel(axes, result)
    figure.suptitle(title, fontsize=11)
    kinds = [k for k in COLOURS if any(row.kind == k for r in drawable for row in r.rows)]
    handles = [plt.Rectangle((0, 0), 1, 1, color=COLOURS[k]) for k in kinds]
    figure.legend(handles, kinds, loc="upper right", fontsize=8, ncols=len(kinds))
    figure.tight_layout(rect=(0, 0, 1, 0.97))
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return True
