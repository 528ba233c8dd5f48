"""The command line: choose scenarios, run them, print and write the report, set the exit code.

Usage (from the repository root)::

    python benchmarks/run.py                        # every scenario; writes benchmarks/results/
    python benchmarks/run.py --quick                # small counts, 2 repeats: a smoke check
    python benchmarks/run.py --only overhead payload --repeat 3
    python benchmarks/run.py --redraw               # report.md and charts from results.json

The exit status is 1 if a contender raised or returned a wrong result, or a scenario crashed;
0 otherwise. A missed target is reported, not an error.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from . import charts, report
from .machine import describe_machine
from .options import DEFAULT_REPEAT, QUICK_REPEAT, Options
from .results import BASELINE, Row, ScenarioResult
from .scenarios import GROUPS, SCENARIOS, expand
from .scenarios.scaling import cores
from .targets import Target, build_targets

RESULTS = Path(__file__).resolve().parent / "results"
# Native libraries that start thread pools when imported. numpy's OpenBLAS does, and a second
# thread in this process would make pl.process's default start method ("auto": fork only in a
# single-threaded process) switch to forkserver for every scenario after the first import.
NATIVE_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# How machine.py writes the cores this process may use, which the scaling target depends on.
USABLE_CORES = re.compile(r"usable by this process: (\d+)")


def parse_args(argv: Sequence[str] | None) -> tuple[Options, list[str], Path | None, bool]:
    parser = argparse.ArgumentParser(description="pypeln's benchmark suite against its peers.")
    names = [*SCENARIOS, *(g for g in GROUPS if g not in SCENARIOS)]
    parser.add_argument(
        "--only", nargs="+", choices=names, help="scenarios or groups to run (default: all)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help=f"timed runs per contender, median reported (default {DEFAULT_REPEAT}, "
        f"{QUICK_REPEAT} with --quick)",
    )
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke check")
    parser.add_argument(
        "--n", type=int, default=None, help="elements per run of the element-count scenarios"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        metavar="DIR",
        help="another checkout of pypeln (e.g. a git worktree of an earlier commit) that the "
        "bounded scenario measures in the same run, for before/after figures",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"write report.md, charts and results.json here (default: {RESULTS} for a full "
        "run; not written for --only, --quick, --n or --baseline unless given)",
    )
    parser.add_argument(
        "--redraw",
        action="store_true",
        help="run nothing: write report.md and the charts again from the results.json in "
        f"--out (default {RESULTS})",
    )
    args = parser.parse_args(argv)
    if args.redraw:
        if args.only or args.quick or args.n is not None or args.repeat is not None:
            parser.error("--redraw runs nothing: it takes --out only")
        return Options(), [], args.out or RESULTS, True
    repeat = args.repeat or (QUICK_REPEAT if args.quick else DEFAULT_REPEAT)
    if repeat < 1 or (args.n is not None and args.n < 1):
        parser.error("--n and --repeat must be >= 1")
    full = not (args.only or args.quick or args.n or args.baseline)
    out = args.out if args.out is not None else (RESULTS if full else None)
    scenarios = expand(args.only) if args.only else list(SCENARIOS)
    baseline = args.baseline.resolve() if args.baseline is not None else None
    options = Options(repeat=repeat, quick=args.quick, n=args.n, baseline=baseline)
    return options, scenarios, out, False


def crashed(name: str, exc: Exception) -> ScenarioResult:
    """The result of a scenario that raised: an error row, so that the exit status shows it."""
    traceback.print_exc()
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    result = ScenarioResult(name, f"{name}: crashed", "—", "none, the scenario crashed")
    result.rows.append(Row("scenario", BASELINE, "", error=last[:160]))
    return result


def run_scenarios(names: Sequence[str], options: Options) -> dict[str, ScenarioResult]:
    targets = build_targets(cores())
    results = {}
    for name in names:
        start = time.perf_counter()
        try:
            result = SCENARIOS[name](options)
        except Exception as exc:
            result = crashed(name, exc)
        result.seconds = time.perf_counter() - start
        for row in result.rows:
            row.target = targets.get((result.name, row.contender))
        print(report.scenario_markdown(result), flush=True)
        results[name] = result
    return results


def write(
    out: Path,
    command: str,
    seconds: float,
    results: dict[str, ScenarioResult],
    machine: list[tuple[str, str]],
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    drawn = {}
    for group, (title, names) in GROUPS.items():
        path = out / f"{group}.png"
        ran = [results[name] for name in names if name in results]
        if ran and charts.group_chart(title, ran, path):
            drawn[group] = path.name
        elif path.exists():
            path.unlink()  # a chart of an earlier run would not match this report
    text = report.report_markdown(machine, command, seconds, targets_of(machine), results, drawn)
    (out / "report.md").write_text(text)
    report.write_json(out / "results.json", machine, results.values(), command, seconds)
    print(f"Report written to {out / 'report.md'} with {len(drawn)} charts.", flush=True)


def targets_of(machine: list[tuple[str, str]]) -> dict[tuple[str, str], Target]:
    """The targets for the machine the results come from (the scaling target counts its cores)."""
    found = USABLE_CORES.search(dict(machine).get("cores", ""))
    return build_targets(int(found[1]) if found else cores())


def redraw(out: Path) -> int:
    """Write the report and charts again from ``out/results.json``, with today's presentation."""
    machine, command, seconds, results = report.read_json(out / "results.json")
    targets = targets_of(machine)
    for result in results.values():
        for row in result.rows:
            row.target = targets.get((result.name, row.contender))
    write(out, command, seconds, results, machine)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    for variable in NATIVE_THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")
    options, names, out, redrawing = parse_args(argv)
    if redrawing:
        assert out is not None
        return redraw(out)
    command = "python benchmarks/run.py" + "".join(f" {a}" for a in (argv or sys.argv[1:]))
    for what, value in describe_machine():
        print(f"{what}: {value}")
    print(f"Command: {command} (repeat={options.repeat}, median reported)\n", flush=True)
    start = time.perf_counter()
    results = run_scenarios(names, options)
    seconds = time.perf_counter() - start
    print("## Targets\n")
    print(report.summary_markdown(build_targets(cores()), results))
    print(f"Suite wall time: {seconds:.0f} s", flush=True)
    if out is not None:
        write(out, command, seconds, results, describe_machine())
    return 1 if any(result.failed for result in results.values()) else 0
