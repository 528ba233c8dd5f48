"""The Markdown report: machine, the verdict on every target, then each group's figures.

The same Markdown is printed scenario by scenario while the suite runs and written whole to
``report.md`` at the end, with a chart per group beside it (``charts.py``) and the raw
timings in ``results.json``. The summary table lists every target of ``targets.py``, including
those whose scenario did not run or whose row is missing, so a target cannot silently vanish.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from .results import Row, ScenarioResult, format_ratio, format_value
from .scenarios import GROUPS
from .targets import VALUE, Bound, Target

# Four short columns fit the docs page; the longer lists go under each table.
HEADER = ["contender", "result", "ratio", "target"]
SUMMARY_HEADER = ["goal", "measured", "result (target)", "met"]
SIGNS = {">=": "≥", "<=": "≤"}
# How format_value writes each unit after a number.
UNIT_SUFFIX = {"elements/s": "/s", "s": " s", "x": "x"}
# ``git describe --dirty`` marks a checkout with uncommitted changes; such an id names no
# commit anyone can check out, so the report shows the version alone.
DIRTY = re.compile(r" at \S+-dirty$")


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(cell(c) for c in line) + " |" for line in lines)


def ratio_text(row: Row) -> str:
    if row.ratio is None:
        return "—"
    return format_ratio(row.ratio) + (f" {row.ratio_to}" if row.ratio_to else "")


def scenario_markdown(result: ScenarioResult) -> str:
    """One scenario: title, what its ratio means, its table, its comparisons and its notes."""
    rows = [
        [row.contender, row.result_text(), ratio_text(row), row.verdict()] for row in result.rows
    ]
    parts = [
        f"### {result.title}",
        f"Ratio: {result.ratio_meaning}. Scenario wall time {result.seconds:.0f} s.",
    ]
    if rows:
        parts.append(table(HEADER, rows))
    compared = [row for row in result.rows if row.ratios]
    if compared:
        lines = [f"- {cell(row.contender)}: {row.comparisons_text()}" for row in compared]
        parts.append("Compared with (the row's figure over the other's):\n\n" + "\n".join(lines))
    if result.notes:
        parts.append("Notes:\n\n" + "\n".join(f"- {cell(note)}" for note in result.notes))
    return "\n\n".join(parts) + "\n"


def limit_text(target: Target, bound: Bound) -> str:
    """``≥ 250,000/s`` or ``≥ 0.20x``: one bound's limit, in the report's units."""
    if bound.of == VALUE:
        return f"{SIGNS[bound.op]} {format_value(bound.limit, target.unit)}"
    return f"{SIGNS[bound.op]} {format_ratio(bound.limit)}"


def bound_text(target: Target, bound: Bound, row: Row | None) -> str:
    """``2,524,450/s (≥ 1,000,000/s)``: the figure a bound reads and its limit."""
    figure = row.figures().get(bound.of) if row is not None and row.error is None else None
    limit = limit_text(target, bound)
    name = "" if bound.of == VALUE else f" {target.figure_name(bound)}".rstrip()
    if figure is None:
        return f"{limit}{name}"
    return f"{figure_text(figure, target, bound)}{name} ({limit})"


def figure_text(figure: float, target: Target, bound: Bound) -> str:
    """The figure as the report writes it; with more digits where rounding would make it read
    as its limit while it misses it (1.8966x against 1.90x)."""
    shown = format_value(figure, target.unit) if bound.of == VALUE else format_ratio(figure)
    if bound.met(figure) or shown != limit_text(target, bound).split(" ", 1)[1]:
        return shown
    digits = 3
    while digits < 8 and f"{figure:,.{digits}f}" == f"{bound.limit:,.{digits}f}":
        digits += 1
    return f"{figure:,.{digits}f}" + (
        UNIT_SUFFIX.get(target.unit, f" {target.unit}") if bound.of == VALUE else "x"
    )


def summary_line(
    key: tuple[str, str], target: Target, results: Mapping[str, ScenarioResult]
) -> tuple[list[str], str]:
    """The summary's row for one target, and its verdict."""
    scenario, contender = key
    result = results.get(scenario)
    row = result.row(contender) if result else None
    if result is None:
        verdict = "not run"
    elif row is None:
        verdict = "not measured"
    else:
        verdict = row.verdict()
    figures = "; ".join(bound_text(target, bound, row) for bound in target.bounds)
    return [target.goal, f"{scenario}: {contender}", figures, verdict], verdict


def summary_markdown(
    targets: Mapping[tuple[str, str], Target], results: Mapping[str, ScenarioResult]
) -> str:
    lines, verdicts = [], []
    for key, target in targets.items():
        line, verdict = summary_line(key, target, results)
        lines.append(line)
        verdicts.append(verdict)
    counts = {v: verdicts.count(v) for v in dict.fromkeys(verdicts)}
    tally = ", ".join(f"{n} {verdict}" for verdict, n in counts.items())
    return (
        f"{len(targets)} targets: {tally}. Each row gives what the target means for you, the "
        "scenario and contender it is measured on, and each figure it reads with its limit "
        "in brackets.\n\n" + table(SUMMARY_HEADER, lines) + "\n"
    )


def machine_lines(machine: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The machine as the report shows it: a modified checkout's revision is left out."""
    return [(what, DIRTY.sub("", value)) for what, value in machine]


def report_markdown(
    machine: Sequence[tuple[str, str]],
    command: str,
    seconds: float,
    targets: Mapping[tuple[str, str], Target],
    results: Mapping[str, ScenarioResult],
    charts: Mapping[str, str],
) -> str:
    """The whole report; ``charts`` maps a group to its PNG's file name."""
    parts = [
        "# Benchmark report",
        f"Produced by `{command}` in {seconds:.0f} s. Every figure is a median of timed runs "
        "interleaved with its baseline and peers in the same run; compare ratios, not absolute "
        "figures, across machines and runs (see `benchmarks/README.md`).",
        "## Machine",
        table(["", ""], machine_lines(machine)),
        "## Targets",
        summary_markdown(targets, results),
    ]
    for group, (title, names) in GROUPS.items():
        ran = [results[name] for name in names if name in results]
        if not ran:
            continue
        parts.append(f"## {title}")
        if group in charts:
            parts.append(f"![{title}]({charts[group]})")
        parts.extend(scenario_markdown(result) for result in ran)
    return "\n\n".join(part.rstrip("\n") for part in parts) + "\n"


def write_json(
    path: Path,
    machine: Sequence[tuple[str, str]],
    results: Iterable[ScenarioResult],
    command: str,
    seconds: float,
) -> None:
    """Everything the report shows, as JSON: for comparing runs, and for ``--redraw``."""
    data = {
        "command": command,
        "seconds": seconds,
        "machine": dict(machine),
        "scenarios": [
            {
                "name": result.name,
                "title": result.title,
                "baseline": result.baseline,
                "ratio_meaning": result.ratio_meaning,
                "seconds": result.seconds,
                "rows": [
                    {**asdict(row), "target": None, "verdict": row.verdict()} for row in result.rows
                ],
                "notes": result.notes,
            }
            for result in results
        ],
    }
    path.write_text(json.dumps(data, indent=1) + "\n")


ROW_FIELDS = frozenset(field.name for field in fields(Row)) - {"target"}


def read_json(path: Path) -> tuple[list[tuple[str, str]], str, float, dict[str, ScenarioResult]]:
    """What ``write_json`` wrote: machine, command, seconds and results (targets unset)."""
    data: dict[str, Any] = json.loads(path.read_text())
    results = {}
    for scenario in data["scenarios"]:
        result = ScenarioResult(
            scenario["name"],
            scenario["title"],
            scenario["baseline"],
            scenario["ratio_meaning"],
            rows=[
                Row(**{k: v for k, v in row.items() if k in ROW_FIELDS}) for row in scenario["rows"]
            ],
            notes=list(scenario["notes"]),
            seconds=scenario["seconds"],
        )
        results[result.name] = result
    return list(data["machine"].items()), data["command"], data["seconds"], results


def groups_run(results: Mapping[str, ScenarioResult]) -> list[str]:
    return [g for g, (_, names) in GROUPS.items() if any(n in results for n in names)]
