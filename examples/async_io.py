"""Async I/O on pl.task: fifty requests in flight in one event loop, consumed three ways.

    urls ──► task.map(fetch, workers=50) ──► async for / await (async code), list() (sync code)

    ids ──► thread.map(read_record, workers=4) ──► task.map(enrich, workers=20) ──► list()

``fetch`` stands for an async HTTP request: it awaits ``asyncio.sleep``, so while one call
waits the loop runs the others, and fifty calls overlap without a thread each. The same
stage is run three times: with ``async for`` and ``await`` in async code (in the caller's
loop) and with ``list()`` from sync code (pypeln runs the loop in a helper thread); every
run must fetch the same pages. Finally a thread stage does blocking reads and feeds a task
stage that awaits one request per record: plain functions run in threads, async ones in
the loop.

Run it with ``python examples/async_io.py``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass

import pypeln as pl

PAGES = 200
FETCH_SECONDS = 0.05  # a slow server: 200 pages one after another take 10 s
WORKERS = 50
URLS = [f"https://example.test/page/{n}" for n in range(PAGES)]
RECORDS = 40


@dataclass
class InFlight:
    """Counts the requests running at once."""

    now: int = 0
    peak: int = 0

    def reset(self) -> None:
        self.now = self.peak = 0


in_flight = InFlight()


async def fetch(url: str) -> tuple[str, int]:
    """A stand-in for an async HTTP GET: the page's URL and its size."""
    in_flight.now += 1  # no lock needed: tasks of one loop take turns at each await
    in_flight.peak = max(in_flight.peak, in_flight.now)
    try:
        await asyncio.sleep(FETCH_SECONDS)
    finally:
        in_flight.now -= 1
    return url, 1000 + (37 * int(url.rsplit("/", 1)[1])) % 500


def report(how: str, pages: list[tuple[str, int]], seconds: float) -> None:
    print(
        f"  {how:<22}{len(pages):>4} pages in {seconds:.2f} s, "
        f"at most {in_flight.peak} requests in flight"
    )


async def consume_in_async_code(stage: pl.Stage[tuple[str, int]]) -> list[list[tuple[str, int]]]:
    """``async for`` and ``await``: both run the pipeline in this coroutine's loop."""
    in_flight.reset()
    start = time.perf_counter()
    streamed = [page async for page in stage]
    report("async for", streamed, time.perf_counter() - start)

    in_flight.reset()
    start = time.perf_counter()
    awaited = await stage
    report("await stage", awaited, time.perf_counter() - start)
    return [streamed, awaited]


def read_record(n: int) -> dict[str, object]:
    """A blocking read (a file, a sync database driver): a plain function, run in threads."""
    time.sleep(0.002)
    return {"id": n, "read by": threading.current_thread().name}


async def enrich(record: dict[str, object]) -> dict[str, object]:
    """An async request per record: runs as a task of the event loop."""
    await asyncio.sleep(0.02)
    return {**record, "enriched in": threading.current_thread().name}


def main() -> None:
    print(
        f"fetching {PAGES} simulated pages of {FETCH_SECONDS * 1000:.0f} ms each "
        f"with workers={WORKERS}"
    )
    pages = pl.task.map(fetch, URLS, workers=WORKERS, maxsize=WORKERS)

    streamed, awaited = asyncio.run(consume_in_async_code(pages))

    in_flight.reset()
    start = time.perf_counter()
    listed = list(pages)  # sync code: the loop runs in a helper thread
    report("list() from sync code", listed, time.perf_counter() - start)

    same = sorted(streamed) == sorted(awaited) == sorted(listed)
    print(f"  every run fetched the same {len(listed)} pages: {same}")
    print(f"  one after another they would take {PAGES * FETCH_SECONDS:.1f} s")

    records = pl.thread.map(read_record, range(RECORDS), workers=4, maxsize=8)
    enriched = pl.task.map(enrich, records, workers=20, maxsize=20)
    start = time.perf_counter()
    results = list(enriched)
    seconds = time.perf_counter() - start
    readers = {str(record["read by"]) for record in results}
    loops = {str(record["enriched in"]) for record in results}
    ids = sorted(int(str(record["id"])) for record in results)
    print(f"mixed pipeline: {len(results)} records in {seconds:.2f} s")
    print(f"  read in {len(readers)} threads: {', '.join(sorted(readers))}")
    print(f"  enriched in {len(loops)} thread: {', '.join(sorted(loops))}")
    print(f"  every record once: {ids == list(range(RECORDS))}")


if __name__ == "__main__":
    main()
