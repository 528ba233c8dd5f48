"""The scenarios, by group: each group is one module, one section and one chart of the report.

``SCENARIOS`` maps a scenario's name to the function that runs it, ``GROUPS`` a group's name to
its title and scenarios. ``--only`` accepts either kind of name.
"""

from __future__ import annotations

from collections.abc import Callable

from ..options import Options
from ..results import ScenarioResult
from .bounds import bounded
from .cluster import ray_cpu, ray_payload, ray_startup, ray_trivial
from .io import sleep, task_sleep
from .memory import memory
from .overhead import process_trivial, task_trivial, trivial
from .payload import payload
from .policies import batching, ordered_stream, rate
from .scaling import process_cpu
from .startup import early_exit, process_latency, process_latency_threads

Scenario = Callable[[Options], ScenarioResult]

SCENARIOS: dict[str, Scenario] = {
    "trivial": trivial,
    "process-trivial": process_trivial,
    "task-trivial": task_trivial,
    "bounded": bounded,
    "process-cpu": process_cpu,
    "sleep": sleep,
    "task-sleep": task_sleep,
    "payload": payload,
    "memory": memory,
    "process-latency": process_latency,
    "process-latency-threads": process_latency_threads,
    "early-exit": early_exit,
    "ordered": ordered_stream,
    "rate": rate,
    "batching": batching,
    # Last: Ray leaves threads in this process (see cluster.py).
    "ray-trivial": ray_trivial,
    "ray-payload": ray_payload,
    "ray-cpu": ray_cpu,
    "ray-startup": ray_startup,
}

GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "overhead": ("Per-item overhead", ("trivial", "process-trivial", "task-trivial", "bounded")),
    "scaling": ("CPU-bound scaling on all cores", ("process-cpu",)),
    "io": ("I/O latency hiding", ("sleep", "task-sleep")),
    "payload": ("Large payloads against memcpy", ("payload",)),
    "memory": ("Memory under a fast producer and a slow consumer", ("memory",)),
    "startup": (
        "Start-up and early-exit cost",
        ("process-latency", "process-latency-threads", "early-exit"),
    ),
    "policies": ("Stage options", ("ordered", "rate", "batching")),
    "ray": ("Ray cluster backend", ("ray-trivial", "ray-payload", "ray-cpu", "ray-startup")),
}


def group_of(scenario: str) -> str:
    return next(group for group, (_, names) in GROUPS.items() if scenario in names)


def expand(names: list[str]) -> list[str]:
    """Scenario names for ``--only`` names (groups stand for their scenarios), in run order."""
    wanted: set[str] = set()
    for name in names:
        wanted.update(GROUPS[name][1] if name in GROUPS else (name,))
    return [name for name in SCENARIOS if name in wanted]
