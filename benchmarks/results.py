"""What a scenario reports: rows of figures with their ratios and verdicts, and notes.

A scenario turns its ``Timing``s into ``Row``s: one figure per contender (elements/s,
seconds, GB/s or MB), its ratio to the scenario's baseline, further named ratios to peers, and
the verdict against the contender's target if it has one. The report writer and the
charts read only these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .measure import Timing
from .targets import RATIO, VALUE, Target

# Kinds of rows, which the charts colour differently.
BASELINE = "baseline"
PYPELN = "pypeln"
PEER = "peer"
LEGACY = "pypeln 0.4.9"
EARLIER = "pypeln, baseline checkout"  # --baseline: another commit, measured in the same run

# Units whose larger figures are better; for the others (seconds, MB) smaller is better.
RATES = ("elements/s", "GB/s")


def format_value(value: float, unit: str) -> str:
    if unit == "elements/s":
        return f"{value:,.0f}/s"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:,.2f} {unit}"


def format_ratio(ratio: float) -> str:
    """Two decimals; two significant digits below 0.1, so that slow peers do not read 0.00x."""
    if ratio >= 100:
        return f"{ratio:,.0f}x"
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.2g}x"


@dataclass
class Row:
    """One contender's line in a scenario's table."""

    contender: str
    kind: str
    unit: str
    value: float | None = None
    ratio: float | None = None
    # What ``ratio`` is relative to, when not the scenario's baseline (e.g. an ideal time).
    ratio_to: str | None = None
    # Further comparisons, shown in the table and readable by targets: name -> ratio.
    ratios: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    unavailable: str | None = None
    target: Target | None = None

    @classmethod
    def of(
        cls, contender: str, kind: str, unit: str, timing: Timing, value: Callable[[Timing], float]
    ) -> Row:
        """The row of ``timing``: ``value`` of it, or why there is none."""
        if not timing.ok:
            error = timing.error or (None if timing.unavailable else "no timed runs")
            return cls(contender, kind, unit, error=error, unavailable=timing.unavailable)
        return cls(contender, kind, unit, value=value(timing))

    def relate(self, reference: float | None, to: str | None = None) -> Row:
        """Set the ratio to the baseline's figure (None: the baseline has none).

        ``to`` names the reference when it is not the scenario's baseline.
        """
        if self.value is not None and reference:
            self.ratio = self.value / reference
        self.ratio_to = to
        return self

    def compare(self, name: str, reference: float | None) -> Row:
        """Add the ratio of this row's figure to ``reference``, under ``name``."""
        if self.value is not None and reference:
            self.ratios[name] = self.value / reference
        return self

    def figures(self) -> dict[str, float | None]:
        return {VALUE: self.value, RATIO: self.ratio, **self.ratios}

    @property
    def met(self) -> bool | None:
        if self.target is None or self.error is not None:
            return None
        return self.target.met(self.figures())

    def verdict(self) -> str:
        if self.error is not None:
            return "ERROR"
        if self.unavailable is not None:
            return "unavailable"
        if self.target is None:
            return "—"
        met = self.met
        if met is None:
            return "no figure"
        return "met" if met else "NOT MET"

    def result_text(self) -> str:
        """The row's figure, or what stands in for it."""
        if self.error is not None:
            return f"ERROR: {self.error}"
        if self.unavailable is not None:
            return f"unavailable: {self.unavailable}"
        return "—" if self.value is None else format_value(self.value, self.unit)

    def comparisons_text(self) -> str:
        return "; ".join(f"{format_ratio(r)} {name}" for name, r in self.ratios.items()) or "—"

    def target_text(self) -> str:
        return "—" if self.target is None else self.target.describe()

    def target_figures_text(self) -> str:
        """The figures the target reads, in its order, e.g. ``5.10 GB/s; 12.0x PYPELN...``."""
        if self.target is None or self.value is None:
            return self.result_text()
        parts = []
        figures = self.figures()
        for bound in self.target.bounds:
            figure = figures.get(bound.of)
            if figure is None:
                parts.append("—")
            elif bound.of == VALUE:
                parts.append(format_value(figure, self.unit))
            else:
                parts.append(f"{format_ratio(figure)} {self.target.figure_name(bound)}")
        return "; ".join(parts)


@dataclass
class ScenarioResult:
    """A scenario's table and notes. ``baseline`` names what ``Row.ratio`` is relative to."""

    name: str
    title: str
    baseline: str
    ratio_meaning: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0  # the scenario's own wall time, set by the runner

    @property
    def failed(self) -> bool:
        return any(row.error is not None for row in self.rows)

    def row(self, contender: str) -> Row | None:
        return next((row for row in self.rows if row.contender == contender), None)

    def spread_notes(self, timings: dict[str, Timing]) -> None:
        """A note per contender with the range of its timed runs."""
        for name, timing in timings.items():
            if timing.unavailable is None:
                self.notes.append(f"{name}: {timing.spread()}")


def rate(n: int) -> Callable[[Timing], float]:
    """Elements per second of a median run over ``n`` elements."""
    return lambda timing: n / timing.median


def wall(timing: Timing) -> float:
    return timing.median


def metric(name: str, scale: float = 1.0) -> Callable[[Timing], float]:
    """The median of one of the runs' metrics, times ``scale``."""
    return lambda timing: timing.metric(name) * scale
