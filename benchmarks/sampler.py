"""Peak memory of a process tree, sampled from a process of its own.

What is counted, every ``interval`` seconds: the proportional set size (PSS) of the measured
process and of all its descendants, without their shared-memory pages, plus the growth of the
machine's ``Shmem`` (``/proc/meminfo``) since the sampling started. PSS splits pages shared
between processes (as after ``fork``) among them, so the tree's sum counts each page once;
``Shmem`` counts every page of ``/dev/shm`` and of shared anonymous mappings once, whether a
process maps it or not, so memory parked in shared memory cannot hide between samples.

The sampler runs as a child process (``python -m benchmarks.sampler PID INTERVAL``) rather than
a thread: a thread would compete with the measured code for the GIL, and would make
``pl.process`` choose another start method (its default forks only in a single-threaded
process). ``TreeSampler`` is the measured process's side; the child leaves itself out of the
tree. Commands come one per line on stdin (``start``, ``stop``), answers go out as JSON lines.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

KIB = 1024
MB = 1e6
ROOT = Path(__file__).resolve().parent.parent  # where ``-m benchmarks.sampler`` resolves


# -- the child: reading memory ----------------------------------------------------------------


def shmem_bytes() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("Shmem:"):
                return int(line.split()[1]) * KIB
    return 0


def private_pss_bytes(pid: int) -> int:
    """PSS of ``pid`` without shared memory (which ``Shmem`` counts), from ``smaps_rollup``."""
    fields: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            name, _, rest = line.partition(":")
            if name in ("Pss", "Pss_Shmem"):
                fields[name] = int(rest.split()[0]) * KIB
    return fields.get("Pss", 0) - fields.get("Pss_Shmem", 0)


def tree_bytes(root: Any, me: int) -> int:
    """Private PSS of ``root`` (a ``psutil.Process``) and its descendants, except ``me``."""
    import psutil

    total = 0
    try:
        members = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        if member.pid == me:
            continue
        try:
            total += private_pss_bytes(member.pid)
        except FileNotFoundError:
            continue  # ended between listing and reading
        except OSError:
            try:
                total += member.memory_info().rss  # no smaps_rollup: RSS, which overcounts
            except psutil.Error:
                continue
    return total


class Peak:
    """The highest ``tree + shared-memory growth`` seen since ``start``, with its parts."""

    def __init__(self, root: Any, me: int) -> None:
        self.root, self.me = root, me
        self.base_tree = self.base_shm = 0
        self.total = self.tree = self.shm = 0
        self.samples = 0

    def start(self) -> None:
        self.base_tree, self.base_shm = tree_bytes(self.root, self.me), shmem_bytes()
        self.total, self.tree, self.shm, self.samples = self.base_tree, self.base_tree, 0, 1

    def sample(self) -> None:
        tree, shm = tree_bytes(self.root, self.me), shmem_bytes() - self.base_shm
        self.samples += 1
        if tree + shm > self.total:
            self.total, self.tree, self.shm = tree + shm, tree, shm

    def answer(self) -> dict[str, float]:
        return {
            "growth_mb": (self.total - self.base_tree) / MB,
            "tree_growth_mb": (self.tree - self.base_tree) / MB,
            "shm_growth_mb": self.shm / MB,
            "base_mb": self.base_tree / MB,
            "samples": self.samples,
        }


def serve(pid: int, interval: float) -> None:
    import psutil

    peak = Peak(psutil.Process(pid), os.getpid())
    sampling = False
    while True:
        ready, _, _ = select.select([sys.stdin], [], [], interval if sampling else None)
        if not ready:
            peak.sample()
            continue
        command = sys.stdin.readline().strip()
        if not command:
            return  # end of input: the measured process is done with us
        if command == "start":
            peak.start()
            sampling = True
            print(json.dumps({"started": True}), flush=True)
        elif command == "stop":
            peak.sample()
            sampling = False
            print(json.dumps(peak.answer()), flush=True)


# -- the measured process's side --------------------------------------------------------------


class TreeSampler:
    """A sampler child for this process's tree: ``start()`` before a run, ``stop()`` after."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> TreeSampler:
        command = [sys.executable, "-m", "benchmarks.sampler", str(os.getpid()), str(self.interval)]
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def ask(self, command: str) -> dict[str, float]:
        assert self.process is not None
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the memory sampler exited (code {self.process.poll()})")
        answer: dict[str, float] = json.loads(line)
        return answer

    def start(self) -> None:
        self.ask("start")

    def stop(self) -> dict[str, float]:
        return self.ask("stop")


if __name__ == "__main__":
    serve(int(sys.argv[1]), float(sys.argv[2]))
