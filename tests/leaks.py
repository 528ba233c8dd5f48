"""What a run may leave behind, as the operating system sees it: processes and shared memory.

Only what this test process made counts: the machine is shared with other programs (other
pypeln runs among them), whose processes and ``/dev/shm`` entries are none of our business.
"""

from __future__ import annotations

import os

from pypeln._backends.process.start.fork_server_client import fork_server

#: Processes that live for the whole session once started, whatever a test does (pypeln's
#: fork server too, see ``run_processes``).
SESSION_HELPERS = (
    "multiprocessing.resource_tracker",
    "spawn_main",  # the session's manager (tests/conftest.py)
)


def descendants() -> dict[int, str]:
    """Every process below this one (zombies included), as ``pid -> "state command"``.

    Workers started by the fork server are its children, so the whole tree is walked.
    """
    parents: dict[int, int] = {}
    described: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # ended meanwhile
            continue
        parents[int(entry)] = int(fields[1])
        described[int(entry)] = f"{fields[0]} {command}"
    found: dict[int, str] = {}
    frontier = [os.getpid()]
    while frontier:
        parent = frontier.pop()
        for pid, its_parent in parents.items():
            if its_parent == parent and pid not in found:
                found[pid] = described[pid]
                frontier.append(pid)
    return found


def run_processes() -> dict[int, str]:
    """``descendants()`` but the session's helpers: what a run started and left.

    pypeln's fork server is known by its pid: its workers are forks of it, with the same
    command line, and they count.
    """
    server = fork_server()._process  # the server of this process, if one runs
    return {
        pid: what
        for pid, what in descendants().items()
        if not any(helper in what for helper in SESSION_HELPERS)
        and (server is None or pid != server.pid)
    }


def own_shared_memory() -> set[str]:
    """The ``/dev/shm`` entries this process made: its runs' directories, hidden or not
    (a directory is made under ``.pypeln-<pid>-…`` and renamed once locked)."""
    mine = (f"pypeln-{os.getpid()}-", f".pypeln-{os.getpid()}-")
    return {name for name in os.listdir("/dev/shm") if name.startswith(mine)}
