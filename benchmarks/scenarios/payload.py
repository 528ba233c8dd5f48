"""Large payloads against memory speed: ``payload``.

A 2-stage ``pl.process`` pipeline of identity functions (``workers=1`` each) over a list of
pre-made ``numpy.uint8`` arrays of 8 MiB and of 32 MiB, consumed by a for-loop that checks
each array and keeps nothing. Reported in GB/s: bytes of the items over the wall time (start-up
included). In the same rounds, for each size:

* the same pipeline with zero-copy transport disabled (``PYPELN_ZERO_COPY=0``, which pypeln
  reads when a process run starts): the pickled path;
* ``np.copyto`` of the same arrays into one buffer: what memory allows in this run;
* two chained ``Pool(1).imap(identity)``: the pickled path of the standard library.

Issue 6 asks for >= 4 GB/s, >= 10x the pickled path and >= 0.2x ``np.copyto``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import pypeln as pl

from ..measure import Contender, Timing, equals, measure
from ..options import Options
from ..peers import copyto, missing, pool_identity_chain
from ..results import BASELINE, PEER, PYPELN, Row, ScenarioResult, wall
from ..targets import MEMCPY, PAYLOAD_MIB, PICKLED
from ..workloads import identity
from .common import default_start_note, lacks_backend

ZERO_COPY_VARIABLE = "PYPELN_ZERO_COPY"
# Bytes of items per run (full, --quick), by role: the pickled paths move them 20 to 80 times
# slower than memory, so they get fewer, and every run stays within a few seconds. Throughput
# is bytes over time, so the figures stay comparable.
RUN_BYTES = {
    "pypeln": (2048 << 20, 128 << 20),
    "pickled": (256 << 20, 32 << 20),
    "pool": (128 << 20, 16 << 20),
    "memcpy": (512 << 20, 64 << 20),
}
ROLES = {"pypeln": PYPELN, "pickled": PYPELN, "pool": PEER, "memcpy": BASELINE}  # and kinds
SHORT = {"pypeln": "pl.process", "pickled": PICKLED, "pool": "Pool.imap x2", "memcpy": MEMCPY}
DISTINCT = 4  # distinct source arrays, each sent several times: item i is array i % 4
SHM = "/dev/shm"


@contextmanager
def zero_copy(setting: str | None) -> Iterator[None]:
    """``$PYPELN_ZERO_COPY`` set to ``setting`` (None: unset, pypeln's default) meanwhile."""
    before = os.environ.pop(ZERO_COPY_VARIABLE, None)
    if setting is not None:
        os.environ[ZERO_COPY_VARIABLE] = setting
    try:
        yield
    finally:
        os.environ.pop(ZERO_COPY_VARIABLE, None)
        if before is not None:
            os.environ[ZERO_COPY_VARIABLE] = before


def consume(arrays: Iterable[Any]) -> tuple[int, int, int]:
    """Read every array, keep none: ``(count, sum of first bytes, sum of last bytes)``.

    Reading both ends touches the first and the last page of each array, so an array that did
    not really arrive cannot pass, while the check costs nothing next to the transfer.
    """
    count = first = last = 0
    for array in arrays:
        count += 1
        first += int(array[0])
        last += int(array[-1])
    return count, first, last


def pipeline(items: list[Any], setting: str | None) -> tuple[int, int, int]:
    with zero_copy(setting):
        stage = pl.process.map(identity, items, workers=1)
        stage = pl.process.map(identity, stage, workers=1)
        return consume(stage)


def make_items(mib: int, count: int) -> list[Any]:
    import numpy as np

    size = mib << 20
    arrays = [np.full(size, i + 1, dtype=np.uint8) for i in range(DISTINCT)]
    return [arrays[i % DISTINCT] for i in range(count)]


def per_second(gigabytes: float, timing: Timing) -> float:
    return gigabytes / wall(timing)


def shm_entries() -> set[str]:
    try:
        return set(os.listdir(SHM))
    except OSError:
        return set()


def payload(options: Options) -> ScenarioResult:
    result = ScenarioResult(
        name="payload",
        title="payload: map(identity) -> map(identity) on pl.process, workers=1, numpy.uint8 "
        "arrays of " + " and ".join(f"{mib} MiB" for mib in PAYLOAD_MIB),
        baseline=MEMCPY,
        ratio_meaning="GB/s relative to np.copyto of the same arrays in the same run; under the "
        f"table, against the same pipeline under {PICKLED} and two chained Pool(1).imap",
    )
    if lacks_backend(result, "process"):
        return result
    why = missing("numpy")
    if why is not None:
        result.notes.append(f"not measured: {why}")
        return result
    result.notes.append(default_start_note())
    shm_before = shm_entries()
    contenders: list[Contender] = []
    plan: list[tuple[int, dict[str, tuple[str, int]]]] = []  # (MiB, role -> (name, items))
    for mib in PAYLOAD_MIB:
        counts = {role: max(2, options.pick(*RUN_BYTES[role]) // (mib << 20)) for role in ROLES}
        items = make_items(mib, max(counts.values()))
        names = {
            "pypeln": f"process, {mib} MiB",
            "pickled": f"process {PICKLED}, {mib} MiB",
            "pool": f"Pool(1).imap x2, {mib} MiB",
            "memcpy": f"{MEMCPY}, {mib} MiB",
        }
        runs = {
            "pypeln": partial(pipeline, setting=None),
            "pickled": partial(pipeline, setting="0"),
            "pool": partial(pool_identity_chain, consume=consume),
            "memcpy": copyto,
        }
        for role in ROLES:
            some = items[: counts[role]]
            check = equals(consume(some))
            contenders.append(Contender(names[role], partial(runs[role], some), check))
        plan.append((mib, {role: (names[role], counts[role]) for role in ROLES}))
    timings = measure(contenders, options.repeat)
    for mib, roles in plan:
        rows = {}
        for role, (name, count) in roles.items():
            speed = partial(per_second, count * (mib << 20) / 1e9)
            rows[role] = Row.of(name, ROLES[role], "GB/s", timings[name], speed)
        for role, row in rows.items():
            row.relate(rows["memcpy"].value)
            if role == "pypeln":
                row.compare(PICKLED, rows["pickled"].value)
                row.compare("Pool.imap x2", rows["pool"].value)
            result.rows.append(row)
        sizes = ", ".join(f"{SHORT[role]} {count}" for role, (_, count) in roles.items())
        result.notes.append(f"items of {mib} MiB per run: {sizes}")
    result.spread_notes(timings)
    left = shm_entries() - shm_before
    result.notes.append(
        f"entries added to {SHM} during the scenario and still there after it: {len(left)} "
        "(the directory is shared by the whole machine)"
    )
    return result
