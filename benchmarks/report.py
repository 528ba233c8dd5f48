"""The Markdown report: machine, the verdict on every target, then each group's figures.

The same Markdown is printed scenario by scenario while the suite runs and written whole to
``report.md`` at the end, with a chart per group beside it (``charts.py``) and the raw
timings in ``results.json``. The summary table lists every target of ``targets.py``, including
those whose scenario did not run or whose row is missing, so a target cannot silently vanish.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

from .results import Row, ScenarioResult, format_ratio
from .scenarios import GROUPS
from .targets import Target

HEADER = ["contender", "result", "ratio", "compared with", "target", "met"]
SUMMARY_HEADER = ["source", "scenario", "contender", "target", "result", "met"]


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
    """One scenario: title, what its ratio means, its table and its notes."""
    rows = [
        [
            row.contender,
            row.result_text(),
            ratio_text(row),
            row.comparisons_text(),
            row.target_text(),
            row.verdict(),
        ]
        for row in result.rows
    ]
    parts = [
        f"### {result.title}",
        f"Ratio: {result.ratio_meaning}. Scenario wall time {result.seconds:.0f} s.",
    ]
    if rows:
        parts.append(table(HEADER, rows))
    if result.notes:
        parts.append("\n".join(f"- {cell(note)}" for note in result.notes))
    return "\n\n".join(parts) + "\n"


def summary_line(
    key: tuple[str, str], target: Target, results: Mapping[str, ScenarioResult]
) -> tuple[list[str], str]:
    """The summary's row for one target, and its verdict."""
    scenario, contender = key
    result = results.get(scenario)
    row = result.row(contender) if result else None
    if result is None:
        verdict, figures = "not run", "—"
    elif row is None:
        verdict, figures = "not measured", "—"
    else:
        verdict, figures = row.verdict(), row.target_figures_text()
    described = target.describe()
    return [target.source, scenario, contender, described, figures, verdict], verdict


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
        f"{len(targets)} targets: {tally}. Sources: the issue that states the target; "
        '"suite": a bound this suite sets itself (see benchmarks/README.md).\n\n'
        + table(SUMMARY_HEADER, lines)
        + "\n"
    )


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
        table(["", ""], machine),
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
    path: Path, machine: Sequence[tuple[str, str]], results: Iterable[ScenarioResult]
) -> None:
    """The rows of every scenario as JSON, for comparing runs without parsing Markdown."""
    data = {
        "machine": dict(machine),
        "scenarios": [
            {
                "name": result.name,
                "title": result.title,
                "baseline": result.baseline,
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


def groups_run(results: Mapping[str, ScenarioResult]) -> list[str]:
    return [g for g, (_, names) in GROUPS.items() if any(n in results for n in names)]
