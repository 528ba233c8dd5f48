"""Hooks, injected parameters, errors and early exit, on a pipeline that uses a database.

1. ``on_start`` opens one connection per worker and returns it in a dict; pypeln passes it
   to ``f`` and ``on_done`` by parameter name, with ``worker_info``, ``element_index`` and
   ``stage_status`` when they ask for them. ``on_done`` closes the connection.
2. A record that cannot be parsed fails its stage: the run stops and the consumer gets the
   original ``ValueError``, with a note naming the stage and the element.
3. The consumer stops early: the workers stop, and ``on_done`` still closes every
   connection.

Run it with ``python examples/hooks_and_errors.py``.
"""

from __future__ import annotations

import time
import traceback
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pypeln as pl

WORKERS = 3


@dataclass
class Connection:
    """A pretend database connection that remembers what it was used for."""

    name: str
    queries: int = 0
    open: bool = True

    def lookup(self, user_id: int) -> str:
        assert self.open, "query on a closed connection"
        time.sleep(0.002)  # a round trip to the server
        self.queries += 1
        return f"user-{user_id}"

    def close(self) -> None:
        self.open = False


@dataclass
class Database:
    """Hands out connections and keeps a log of what the hooks did."""

    connections: list[Connection] = field(default_factory=list)
    log: list[tuple[int, str, int, bool]] = field(default_factory=list)

    def on_start(self, worker_info: pl.WorkerInfo) -> dict[str, Connection]:
        conn = Connection(f"conn-{worker_info.index}")
        self.connections.append(conn)
        return {"conn": conn}

    def on_done(
        self, conn: Connection, worker_info: pl.WorkerInfo, stage_status: pl.StageStatus
    ) -> None:
        conn.close()
        self.log.append((worker_info.index, conn.name, conn.queries, stage_status.done))

    def all_closed(self) -> bool:
        return not any(conn.open for conn in self.connections)


def lookup(
    user_id: int, conn: Connection, element_index: tuple[int, ...]
) -> tuple[tuple[int, ...], str, str]:
    """``conn`` comes from ``on_start``; ``element_index`` is the item's source position."""
    return element_index, conn.name, conn.lookup(user_id)


def parse_record(line: str) -> int:
    """``"name:id"`` -> ``id``."""
    return int(line.split(":", 1)[1])


def hooks() -> None:
    print("1. hooks: one connection per worker")
    db = Database()
    stage = pl.thread.map(
        lookup, range(30), workers=WORKERS, on_start=db.on_start, on_done=db.on_done
    )
    rows = sorted(stage)  # the element index comes first: sorting restores input order
    print(f"   looked up {len(rows)} users; the first three:")
    for index, conn_name, user in rows[:3]:
        print(f"     element_index={index} {user} via {conn_name}")
    for worker, conn_name, queries, _ in sorted(db.log):
        print(f"   on_done of worker {worker}: closed {conn_name} after {queries} queries")
    saw_done = any(done for *_, done in db.log)  # the last worker to finish sees it
    closed = db.all_closed()
    print(f"   an on_done saw stage_status.done: {saw_done}; all connections closed: {closed}")


def errors() -> None:
    print("2. errors: a record that does not parse")
    db = Database()
    lines = [f"user{n}:{n}" for n in range(20)]
    lines[7] = "user7:seven"
    parsed = pl.thread.map(parse_record, lines, workers=WORKERS)
    users = pl.thread.map(lookup, parsed, workers=WORKERS, on_start=db.on_start, on_done=db.on_done)
    try:
        for _ in users:
            pass
    except ValueError as error:  # the original exception type, raised in the consumer
        print(f"   caught {type(error).__name__}: {error}")
        for note in getattr(error, "__notes__", []):
            print(f"   note: {note}")
        frame = traceback.extract_tb(error.__traceback__)[-1]
        print(f"   raised in {frame.name}(), line {frame.lineno} of {Path(frame.filename).name}")
    print(f"   connections of the downstream stage all closed: {db.all_closed()}")


def early_exit() -> None:
    print("3. early exit: stop after 5 of a million users")
    db = Database()
    stage = pl.thread.map(
        lookup,
        range(1_000_000),
        workers=WORKERS,
        maxsize=8,
        on_start=db.on_start,
        on_done=db.on_done,
    )
    start = time.perf_counter()
    taken = []
    with closing(pl.thread.to_iterable(stage)) as run:  # close() stops the run, even on error
        for row in run:
            taken.append(row)
            if len(taken) == 5:
                break
    seconds = time.perf_counter() - start
    queries = sum(conn.queries for conn in db.connections)
    print(f"   took {len(taken)} rows in {seconds:.3f} s; the workers made {queries} queries")
    print(f"   connections opened: {len(db.connections)}, all closed: {db.all_closed()}")


def main() -> None:
    hooks()
    errors()
    early_exit()


if __name__ == "__main__":
    main()
