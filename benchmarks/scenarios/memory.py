"""Memory under a fast producer and a slow consumer: ``memory``.

A worker makes fresh 1 MiB ``bytes`` blocks as fast as it can; the consumer, a for-loop in the
parent, sleeps 4 ms per block. With ``maxsize=K`` pypeln's queues hold at most about K blocks,
so the producer waits and memory stays near K x 1 MiB plus a constant; ``Pool.imap`` and
``ThreadPoolExecutor.map`` have no such bound and hold every block made ahead of the consumer.

Measured: the peak, during the run, of the whole process tree's memory (parent and children,
proportional set sizes) plus the growth of shared memory, above what the tree held just before
the run (see ``benchmarks/sampler.py``). Reported in MB (10^6 bytes) and as a ratio to
``Pool(1).imap``.
"""

from __future__ import annotations

import ctypes
import gc
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import pypeln as pl

from ..measure import Contender, Outcome, equals, measure
from ..options import Options
from ..peers import executor_map_blocks, missing, pool_imap_blocks
from ..results import BASELINE, PEER, PYPELN, Row, ScenarioResult, metric
from ..sampler import TreeSampler
from ..targets import MEMORY_BOUND_MB, MEMORY_ITEM_MIB, MEMORY_MAXSIZE
from ..workloads import make_block
from .common import default_start_note, lacks_backend

BLOCKS = (200, 40)  # blocks per run (full, quick)
BLOCK_BYTES = MEMORY_ITEM_MIB << 20
PAUSE = 0.004  # seconds the consumer sleeps per block: several times what making one takes
INTERVAL = 0.003  # seconds between samples
POOL = "Pool(1).imap"
EXECUTOR = "ThreadPoolExecutor(1).map"


def consume_slowly(blocks: Iterable[bytes]) -> tuple[int, int]:
    """Read each block after a pause, keep none: ``(blocks of the right size, sum of firsts)``."""
    count = first = 0
    for block in blocks:
        time.sleep(PAUSE)
        count += len(block) == BLOCK_BYTES
        first += block[0]
    return count, first


def pipeline_blocks(module: Any, n: int) -> tuple[int, int]:
    make = partial(make_block, BLOCK_BYTES)
    return consume_slowly(module.map(make, range(n), workers=1, maxsize=MEMORY_MAXSIZE))


def release_memory() -> None:
    """Give the previous run's freed memory back to the OS, so the next baseline is honest.

    glibc keeps freed blocks of this size in its heaps (its mmap threshold grows after the
    first ones are freed), where they would be reused without growing the tree: the next run
    would look smaller than it is.
    """
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to trim this way


def sampled(sampler: TreeSampler, run: Callable[[], Any]) -> Outcome:
    release_memory()
    sampler.start()
    start = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - start
    return Outcome(result, seconds, sampler.stop())


def memory(options: Options) -> ScenarioResult:
    n = options.pick(*BLOCKS)
    k = MEMORY_MAXSIZE
    result = ScenarioResult(
        name="memory",
        title=f"memory: {n} blocks of {MEMORY_ITEM_MIB} MiB made by one worker, consumed with a "
        f"{PAUSE * 1000:g} ms pause each; pypeln with maxsize={k}",
        baseline=POOL,
        ratio_meaning=f"peak memory growth of the process tree plus shared memory, relative to "
        f"{POOL} in the same run",
    )
    if lacks_backend(result, "process"):
        return result
    why = missing("psutil")
    if why is not None:
        result.notes.append(f"not measured: {why}")
        return result
    result.notes.append(default_start_note())
    expected = (n, sum(i % 256 for i in range(n)))
    runs = {
        f"process maxsize={k}": (PYPELN, partial(pipeline_blocks, pl.process, n)),
        f"thread maxsize={k}": (PYPELN, partial(pipeline_blocks, pl.thread, n)),
        POOL: (BASELINE, partial(pool_imap_blocks, n, BLOCK_BYTES, consume_slowly)),
        EXECUTOR: (PEER, partial(executor_map_blocks, n, BLOCK_BYTES, consume_slowly)),
    }
    with TreeSampler(INTERVAL) as sampler:
        contenders = [
            Contender(name, partial(sampled, sampler, run), equals(expected))
            for name, (_, run) in runs.items()
        ]
        timings = measure(contenders, options.repeat)
    base = Row.of(POOL, BASELINE, "MB", timings[POOL], metric("growth_mb"))
    for name, (kind, _) in runs.items():
        row = base if name == POOL else Row.of(name, kind, "MB", timings[name], metric("growth_mb"))
        result.rows.append(row.relate(base.value))
        timing = timings[name]
        if timing.ok:
            result.notes.append(
                f"{name}: of the median growth, process tree "
                f"{timing.metric('tree_growth_mb'):.1f} MB, shared memory "
                f"{timing.metric('shm_growth_mb'):.1f} MB; tree before the run "
                f"{timing.metric('base_mb'):.1f} MB; wall {timing.spread()}"
            )
    block_mb = BLOCK_BYTES / 1e6
    result.notes.append(
        f"{n} blocks are {n * block_mb:.0f} MB; maxsize x block = {k * block_mb:.1f} MB. The "
        f"suite's bound for pypeln, {MEMORY_BOUND_MB:.0f} MB, allows twice that in queues and "
        "in transit plus 64 MB for a worker's interpreter"
    )
    return result
