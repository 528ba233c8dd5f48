"""PNG charts of the report, one per scenario group, drawn with matplotlib's Agg backend.

Each scenario of a group is one panel of horizontal bars, one bar per row that has a figure,
coloured by kind (baseline, pypeln, peer, pypeln 0.4.9, a baseline checkout) and labelled
with its figure and, where a target applies, its verdict. A panel whose figures span more
than two decades uses a log scale, so that the slow contenders of the overhead scenario stay
readable next to the fast.

The charts are drawn for the docs page, where they are shown about 750 pixels wide: the figure
is about that wide, its text is no smaller than the page's small print, long names wrap, axis
numbers are written out (``250k/s``, not ``2.5e5``) and the legend sits under the panels.
"""

from __future__ import annotations

import textwrap
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
WIDTH_INCHES, DPI = 8.0, 100  # 800 pixels
FONT = {"label": 10, "tick": 10, "title": 11, "suptitle": 13}
NAME_WIDTH = 36  # characters per line of a contender's name
TITLE_WIDTH = 64  # characters per line of a panel's title (it starts where the bars do)
BAR_INCHES, LINE_INCHES = 0.36, 0.17  # height per bar, at least; per line of its name
PANEL_INCHES = 1.3  # per panel, for its title and axis


def bar_label(row: Row) -> str:
    assert row.value is not None
    verdict = row.verdict()
    suffix = f"  [{verdict}]" if verdict in ("met", "NOT MET") else ""
    return f" {format_value(row.value, row.unit)}{suffix}"


def axis_number(value: float, unit: str) -> str:
    """A tick label: ``250k/s``, ``1.5M/s``, ``0.2 s``, ``4 GB/s``."""
    if unit == "elements/s":
        for scale, suffix in ((1e6, "M"), (1e3, "k")):
            if abs(value) >= scale:
                return f"{value / scale:g}{suffix}/s"
        return f"{value:g}/s"
    return f"{value:g} {unit}" if unit else f"{value:g}"


def wrapped(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width, break_long_words=False)) or text


def panel_inches(result: ScenarioResult) -> float:
    """A panel's height: its bars, spaced so that the longest wrapped name fits beside each."""
    names = [wrapped(row.contender, NAME_WIDTH) for row in result.rows if row.value is not None]
    lines = max(name.count("\n") + 1 for name in names)
    return PANEL_INCHES + len(names) * max(BAR_INCHES, LINE_INCHES * lines + 0.04)


def draw_panel(axes: Any, result: ScenarioResult) -> list[Any]:
    """Draw one scenario's bars; return the value labels, which must fit in the panel."""
    from matplotlib.ticker import FuncFormatter

    rows = [row for row in result.rows if row.value is not None]
    values = [row.value or 0.0 for row in rows]
    positions = list(range(len(rows)))
    axes.barh(positions, values, color=[COLOURS.get(row.kind, "#2ca02c") for row in rows])
    names = [wrapped(row.contender, NAME_WIDTH) for row in rows]
    axes.set_yticks(positions, names, fontsize=FONT["tick"])
    axes.invert_yaxis()
    if values and min(values) > 0 and max(values) / min(values) > LOG_SPAN:
        axes.set_xscale("log")
    unit = rows[0].unit if rows else ""
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: axis_number(value, unit)))
    axes.tick_params(axis="x", labelsize=FONT["tick"])
    axes.set_title(wrapped(result.title, TITLE_WIDTH), fontsize=FONT["title"], loc="left")
    return [
        axes.text(row.value, position, bar_label(row), va="center", fontsize=FONT["label"])
        for position, row in zip(positions, rows, strict=True)
    ]


def fit_labels(figure: Any, axes: Any, labels: Sequence[Any]) -> None:
    """Widen the x axis until every value label ends inside the panel."""
    for _ in range(8):
        figure.canvas.draw()
        right_edge = axes.get_window_extent().x1
        overflow = max(label.get_window_extent().x1 for label in labels) - right_edge
        if overflow <= 0:
            return
        left, right = axes.get_xlim()
        if axes.get_xscale() == "log":
            axes.set_xlim(left, right * 1.6)
        else:
            axes.set_xlim(left, right + (right - left) * 0.15)


def group_chart(title: str, results: Sequence[ScenarioResult], path: Path) -> bool:
    """Draw ``results`` into ``path``; False (and no file) if no row has a figure."""
    drawable = [r for r in results if any(row.value is not None for row in r.rows)]
    if not drawable:
        return False
    import matplotlib

    matplotlib.use("Agg")  # no display: render to files only
    import matplotlib.pyplot as plt

    heights = [panel_inches(result) for result in drawable]
    figure, panels = plt.subplots(
        len(drawable),
        1,
        figsize=(WIDTH_INCHES, sum(heights) + 0.8),
        height_ratios=heights,
        squeeze=False,
        layout="constrained",
    )
    figure.get_layout_engine().set(w_pad=0.12, h_pad=0.08)  # inches around each panel
    figure.suptitle(title, fontsize=FONT["suptitle"])
    kinds = [k for k in COLOURS if any(row.kind == k for r in drawable for row in r.rows)]
    handles = [plt.Rectangle((0, 0), 1, 1, color=COLOURS[k]) for k in kinds]
    figure.legend(
        handles, kinds, loc="outside lower center", ncols=len(kinds), fontsize=FONT["label"]
    )
    for axes, result in zip(panels[:, 0], drawable, strict=True):
        labels = draw_panel(axes, result)
        fit_labels(figure, axes, labels)
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return True
