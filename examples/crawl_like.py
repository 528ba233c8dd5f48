"""A crawler-shaped pipeline: blocking fetches in threads, cheap steps in sync stages.

    urls ──► thread.map(fetch, workers=8, maxsize=16, timeout) ──► sync.filter(is_ok) ──► ordered

``fetch`` stands for an HTTP request: it sleeps a few milliseconds, and a sleeping thread
releases the GIL, so eight workers overlap eight requests. One page hangs; the stage's
``timeout`` skips it and counts it. The very same pipeline is then built on ``pl.sync``,
which fetches one page after another, and both runs must keep the same pages, in order.

Run it with ``python examples/crawl_like.py``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType

import pypeln as pl

PAGES = 120
FETCH_SECONDS = 0.004  # a fast server
HANGING_PAGE = 42  # this one takes HANG_SECONDS: longer than the stage's timeout
HANG_SECONDS = 0.3
TIMEOUT = 0.1
WORKERS = 8
MAXSIZE = 16
URLS = [f"https://example.test/page/{n}" for n in range(PAGES)]


@dataclass(frozen=True)
class Page:
    url: str
    status: int
    size: int
    worker: int = field(compare=False)  # which worker of the fetch stage fetched it


@dataclass
class Meter:
    """Counts the pages passing each point of one run."""

    read: int = 0  # taken from the list of URLs
    fetched: int = 0  # reached the filter
    kept: int = 0
    max_ahead: int = 0  # most URLs read but not yet fetched and filtered, at any moment

    def is_ok(self, page: Page) -> bool:
        """The filter's test; it also counts the pages reaching it."""
        self.fetched += 1
        self.max_ahead = max(self.max_ahead, self.read - self.fetched)
        return page.status == 200

    def read_urls(self) -> Iterator[str]:
        """The URLs to crawl, counting each one as the pipeline reads it."""
        for url in URLS:
            self.read += 1
            yield url


@dataclass
class Crawl:
    """What one run of the pipeline did."""

    backend: str
    pages: list[Page]
    seconds: float
    meter: Meter
    timed_out: dict[str, int]
    stage_names: list[str]


def fetch(url: str, worker_info: pl.WorkerInfo) -> Page:
    """A stand-in for an HTTP GET: it blocks, and every tenth page is missing."""
    number = int(url.rsplit("/", 1)[1])
    time.sleep(HANG_SECONDS if number == HANGING_PAGE else FETCH_SECONDS)
    status = 404 if number % 10 == 7 else 200
    return Page(url, status, size=1000 + (37 * number) % 500, worker=worker_info.index)


def crawl(backend: ModuleType) -> Crawl:
    """Run the pipeline on ``backend`` (``pl.thread`` or ``pl.sync``): same code for both."""
    meter = Meter()
    fetched = backend.map(
        fetch, meter.read_urls(), workers=WORKERS, maxsize=MAXSIZE, timeout=TIMEOUT
    )
    kept = pl.sync.filter(meter.is_ok, fetched)
    in_order = pl.sync.ordered(kept)

    start = time.perf_counter()
    run = pl.sync.to_iterable(in_order)  # the run's iterator: it knows what timed out
    pages = list(run)
    seconds = time.perf_counter() - start
    meter.kept = len(pages)
    name = backend.__name__.replace("pypeln.", "pl.")
    stage_names = [fetched.name, kept.name, in_order.name]
    return Crawl(name, pages, seconds, meter, run.timed_out(), stage_names)


def print_runs(runs: list[Crawl]) -> None:
    print(
        f"  {'backend':<10}{'read':>6}{'timed out':>11}{'kept':>6}{'seconds':>9}{'max ahead':>11}"
    )
    for run in runs:
        m = run.meter
        skipped = sum(run.timed_out.values())
        print(
            f"  {run.backend:<10}{m.read:>6}{skipped:>11}{m.kept:>6}"
            f"{run.seconds:>9.3f}{m.max_ahead:>11}"
        )


def print_stages(run: Crawl) -> None:
    m = run.meter
    fetch_name, filter_name, ordered_name = run.stage_names
    skipped = run.timed_out.get(fetch_name, 0)
    print(f"  per stage of the {run.backend} run:")
    print(f"    {fetch_name:<20} in {m.read:>4}  out {m.fetched:>4}  (timed out: {skipped})")
    print(f"    {filter_name:<20} in {m.fetched:>4}  out {m.kept:>4}")
    print(f"    {ordered_name:<20} in {m.kept:>4}  out {len(run.pages):>4}")


def main() -> None:
    print(
        f"crawling {PAGES} simulated pages of {FETCH_SECONDS * 1000:.0f} ms each "
        f"(page {HANGING_PAGE} hangs for {HANG_SECONDS} s, timeout {TIMEOUT} s)"
    )
    threaded = crawl(pl.thread)
    sequential = crawl(pl.sync)
    print_runs([threaded, sequential])
    print(f"  speedup of {WORKERS} threads: {sequential.seconds / threaded.seconds:.1f}x")
    print(f"  same pages in the same order: {threaded.pages == sequential.pages}")
    print(
        f"  the thread run read at most {threaded.meter.max_ahead} URLs ahead of the filter "
        f"(maxsize={MAXSIZE} bounds that, not the {PAGES} URLs)"
    )
    per_worker = Counter(page.worker for page in threaded.pages)
    print(f"  pages kept per fetch worker: {dict(sorted(per_worker.items()))}")
    kilobytes = sum(page.size for page in threaded.pages) / 1000
    print(f"  kept {kilobytes:.1f} kB of pages")
    print_stages(threaded)


if __name__ == "__main__":
    main()
