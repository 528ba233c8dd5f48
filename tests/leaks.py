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


def _process_table() -> tuple[dict[int, int], dict[int, str]]:
    """Every process of the machine: its parent, and ``"state command"``."""
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
    return parents, described


def _below(roots: list[int], parents: dict[int, int]) -> set[int]:
    """The processes below ``roots`` (not the roots themselves)."""
    found: set[int] = set()
    frontier = list(roots)
    while frontier:
        parent = frontier.pop()
        for pid, its_parent in parents.items():
            if its_parent == parent and pid not in found:
                found.add(pid)
                frontier.append(pid)
    return found


def descendants() -> dict[int, str]:
    """Every process below this one (zombies included), as ``pid -> "state command"``.

    Workers started by the fork server are its children, so the whole tree is walked.
    """
    parents, described = _process_table()
    return {pid: described[pid] for pid in _below([os.getpid()], parents)}


#: Marks of the processes of the session's Ray cluster (its actors are checked as actors).
RAY_PROCESSES = ("ray::", "/ray/", "raylet", "gcs_server")


def run_processes() -> dict[int, str]:
    """``descendants()`` but the session's helpers: what a run started and left.

    pypeln's fork server is known by its pid: its workers are forks of it, with the same
    command line, and they count. The processes of the session's Ray cluster do not: Ray
    starts and ends its worker processes itself; a run's actors are checked with Ray's own
    record instead (``live_actors``).
    """
    server = fork_server()._process  # the server of this process, if one runs
    parents, described = _process_table()
    mine = _below([os.getpid()], parents)
    ray = [pid for pid in mine if any(mark in described[pid] for mark in RAY_PROCESSES)]
    ray_tree = set(ray) | _below(ray, parents)  # workers Ray is starting have no command yet
    return {
        pid: described[pid]
        for pid in mine - ray_tree
        if not any(helper in described[pid] for helper in SESSION_HELPERS)
        and (server is None or pid != server.pid)
    }


def live_actors() -> set[str]:
    """The ids of the pypeln stage actors Ray records as alive (none without Ray)."""
    import sys

    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return set()
    return {
        actor_id
        for actor_id, actor in ray._private.state.actors().items()
        if actor["State"] != "DEAD" and actor["ActorClassName"] == "StageWorker"
    }


def own_shared_memory() -> set[str]:
    """The ``/dev/shm`` entries this process made: its runs' directories, hidden or not
    (a directory is made under ``.pypeln-<pid>-…`` and renamed once locked)."""
    mine = (f"pypeln-{os.getpid()}-", f".pypeln-{os.getpid()}-")
    return {name for name in os.listdir("/dev/shm") if name.startswith(mine)}
