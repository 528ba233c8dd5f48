"""The figures pypeln aims for, what each means to a user, and how a result is judged.

Each target belongs to one row of one scenario, named ``(scenario, contender)``, and holds one
or more bounds on that row's figures: its value (elements/s, seconds, GB/s, MB), its ratio to
the scenario's baseline, or one of its other named ratios, and its goal: what meeting it means
to someone using pypeln. ``build_targets`` lists them all; the report's summary shows every
one of them, run or not, so none can silently drop out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Which figure of a row a bound reads: the row's value, its ratio to the scenario's baseline,
# or (any other string) the ratio of that name in the row's further comparisons.
VALUE = "value"
RATIO = "ratio"

# Names of comparisons that targets refer to, shared with the scenarios that compute them.
PICKLED = "PYPELN_ZERO_COPY=0"
MEMCPY = "np.copyto"


@dataclass(frozen=True)
class Bound:
    """``figure op limit``, e.g. value >= 250,000 elements/s or ratio <= 1.2."""

    op: str  # ">=" or "<="
    limit: float
    of: str = VALUE

    def met(self, figure: float) -> bool:
        return figure >= self.limit if self.op == ">=" else figure <= self.limit


@dataclass(frozen=True)
class Target:
    """The bounds one row must meet, and what meeting them means to a user (``goal``).

    ``unit`` is the unit of the row's value; ``against`` names what its ratio is relative to.
    """

    goal: str
    unit: str
    against: str
    bounds: tuple[Bound, ...]

    def met(self, figures: Mapping[str, float | None]) -> bool | None:
        """Whether every bound holds; None when a figure it needs is missing."""
        verdicts = []
        for bound in self.bounds:
            figure = figures.get(bound.of)
            if figure is None:
                return None
            verdicts.append(bound.met(figure))
        return all(verdicts)

    def figure_name(self, bound: Bound) -> str:
        """What a bound's figure is: the unit, or the ratio's reference."""
        if bound.of == VALUE:
            return self.unit
        return self.against if bound.of == RATIO else bound.of

    def describe(self) -> str:
        """``>= 250,000 elements/s and >= 0.20x chained Pool(1).imap``."""
        return " and ".join(
            f"{bound.op} {number(bound.limit, bound.of == VALUE)} {self.figure_name(bound)}"
            for bound in self.bounds
        )


def number(figure: float, is_value: bool) -> str:
    """A figure as the report writes it: values with separators, ratios with an ``x``."""
    if not is_value:
        return f"{figure:.2f}x" if figure < 100 else f"{figure:,.0f}x"
    return f"{figure:,.0f}" if figure >= 1000 else f"{figure:.2f}"


def at_least(limit: float, of: str = VALUE) -> Bound:
    return Bound(">=", limit, of)


def at_most(limit: float, of: str = VALUE) -> Bound:
    return Bound("<=", limit, of)


def scaling_target(cores: int) -> float:
    """The speed-up asked of ``cores`` workers: 1.9x on 2 cores (issue 3), i.e. 95% of ideal."""
    return 0.95 * cores


def ray_scaling_target(cores: int) -> float:
    """The speed-up asked of ``cores`` Ray actors: 1.7x on 2 cores (issue 13), 85% of ideal.

    Read on the rate after a run's first result (starting the actors, about a second, is
    Ray's cost, shown by ``ray-startup``), and lower than ``pl.process``'s: Ray's own
    processes and the driver share the cores with the actors.
    """
    return 0.85 * cores


# The payload sizes of issue 6, in MiB, and the maxsize of the memory scenario.
PAYLOAD_MIB = (8, 32)
MEMORY_MAXSIZE = 8
# The array size of the ray-payload scenario (issue 13: Ray's store moved ~1.6 GB/s here).
RAY_PAYLOAD_MIB = 8
MEMORY_ITEM_MIB = 1
# The backends of the policies group (rate, batching): those whose workers run calls at once.
POLICY_BACKENDS = ("thread", "process", "task")
# What a bounded pypeln run may add to the process tree: maxsize items in the bounded queue,
# as many again in transit (a batch being read, one being made, one in a pipe), and the
# constant of a worker's interpreter. Not stated by an issue: set here from issue 2's "maxsize
# bounds every stage's input queue" and checked so that a lost bound cannot go unnoticed.
MEMORY_BOUND_MB = 2 * MEMORY_MAXSIZE * MEMORY_ITEM_MIB * 1.048576 + 64


def build_targets(cores: int) -> dict[tuple[str, str], Target]:
    """Every target, keyed by ``(scenario, contender)``; ``cores`` sizes the scaling one."""
    rate, seconds = "elements/s", "s"
    generator, pools = "generator chain", "Pool(1).imap x3"
    executor, ideal, gather = "ProcessPoolExecutor(4)", "ideal", "gather"
    pipeline_3 = (at_least(250_000), at_least(0.20, RATIO))
    cheap = "little cost per item"
    small_items = "small items cross processes cheaply"
    startup = "a process run starts quickly"
    targets: dict[tuple[str, str], Target] = {
        # Issue 2: the foundation, sync and thread.
        ("trivial", "sync"): Target(cheap, rate, generator, (at_least(1e6), at_least(0.20, RATIO))),
        ("trivial", "thread"): Target(cheap, rate, generator, (at_least(250_000),)),
        ("sleep", "thread"): Target(
            "threads overlap blocking calls", seconds, ideal, (at_most(1.20, RATIO),)
        ),
        # Issue 3: process.
        ("process-trivial", "process"): Target(small_items, rate, pools, pipeline_3),
        ("process-trivial", "process using('forkserver')"): Target(
            small_items, rate, pools, pipeline_3
        ),
        ("process-cpu", f"process workers={cores}"): Target(
            "CPU-bound work uses every core",
            rate,
            "workers=1",
            (at_least(scaling_target(cores), RATIO),),
        ),
        ("process-latency", "process"): Target(startup, seconds, executor, (at_most(2.0, RATIO),)),
        ("process-latency", "process using('forkserver')"): Target(
            startup, seconds, executor, (at_most(2.0, RATIO),)
        ),
        ("process-latency", "process using('fork')"): Target(
            startup, seconds, executor, (at_most(2.0, RATIO),)
        ),
        ("early-exit", "process: exit after break"): Target(
            "break leaves no process behind", seconds, "", (at_most(1.0),)
        ),
        # Start-up in a program with threads, where workers come from the fork server.
        ("process-latency-threads", "process: first run"): Target(
            startup, seconds, executor, (at_most(4.0, RATIO),)
        ),
        ("process-latency-threads", "process: later runs"): Target(
            startup, seconds, executor, (at_most(2.0, RATIO),)
        ),
    }
    # Issue 4: task, on the default loop and on uvloop.
    for task in ("task", "task using('uvloop')"):
        targets[("task-trivial", task)] = Target(cheap, rate, generator, (at_least(175_000),))
    for task in ("task", "task using('uvloop')"):
        targets[("task-sleep", f"{task} workers=100")] = Target(
            "tasks overlap awaited calls", seconds, ideal, (at_most(1.10, RATIO),)
        )
        targets[("task-sleep", f"{task} workers=0")] = Target(
            "no limit costs little over gather", seconds, gather, (at_most(3.0, RATIO),)
        )
    # Issue 6: large payloads through a 2-stage process pipeline.
    for mib in PAYLOAD_MIB:
        targets[("payload", f"process, {mib} MiB")] = Target(
            "large arrays cross processes near memory speed",
            "GB/s",
            MEMCPY,
            (at_least(4.0), at_least(10.0, PICKLED), at_least(0.20, RATIO)),
        )
    # The suite's own expectation on backpressure (see MEMORY_BOUND_MB).
    for backend in ("process", "thread"):
        targets[("memory", f"{backend} maxsize={MEMORY_MAXSIZE}")] = Target(
            "maxsize bounds memory", "MB", "Pool(1).imap", (at_most(MEMORY_BOUND_MB),)
        )
    # Issue 14: the default bound costs nothing over no bound.
    for backend in ("thread", "task (async f)", "process"):
        targets[("bounded", f"{backend} default")] = Target(
            "memory is bounded by default, at no cost",
            rate,
            f"{backend} maxsize=0",
            (at_least(0.90, RATIO),),
        )
    # Issue 14: ordered streams, in little memory.
    ordered = "thread workers=8, ordered=True"
    streams = "ordered streams, in little memory"
    targets[("ordered", ordered)] = Target(streams, rate, "unordered", (at_least(0.8, RATIO),))
    targets[("ordered", f"{ordered}: memory")] = Target(streams, "MB", "", (at_most(33.55),))
    targets[("ordered", f"{ordered}: first item")] = Target(
        streams, seconds, "unordered", (at_most(2.0, RATIO),)
    )
    # Issue 14: a rate is held to, neither broken nor wasted.
    for backend in POLICY_BACKENDS:
        targets[("rate", backend)] = Target(
            "a rate limit holds, and is used in full",
            seconds,
            ideal,
            (at_least(0.95, RATIO), at_most(1.05, RATIO)),
        )
        targets[("batching", f"{backend} + batch")] = Target(
            "batching costs little", rate, "the same pipeline", (at_least(0.90, RATIO),)
        )
    # Issue 13: ray, against hand-written Ray programs doing the same work.
    ray_peers = "Ray stages cost little over hand-written actors"
    after = ": after the first result"  # the rate once a run's actors have started
    targets[("ray-trivial", f"ray{after}")] = Target(
        ray_peers, rate, f"Ray actors x3 (hand-written){after}", (at_least(0.5, RATIO),)
    )
    targets[("ray-payload", f"ray, {RAY_PAYLOAD_MIB} MiB")] = Target(
        "large arrays move through Ray's object store",
        "GB/s",
        "Ray actors x2, ObjectRefs",
        (at_least(0.5, RATIO),),
    )
    targets[("ray-cpu", f"ray workers={cores}{after}")] = Target(
        "CPU-bound work uses every core",
        rate,
        f"workers=1{after}",
        (at_least(ray_scaling_target(cores), RATIO),),
    )
    return targets
