"""The description of the machine and the code measured, for the top of the report.

Figures from different machines, or from the same machine at different commits, are not
comparable; each report therefore carries the CPU, cores, memory, OS, Python, the pypeln
checkout's ``git describe --always --dirty``, the versions of the peers and the date.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

import pypeln as pl

PEER_PACKAGES = ("numpy", "mpire", "aiostream", "uvloop", "psutil", "matplotlib", "ray")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> str:
    try:
        import psutil

        return f"{psutil.virtual_memory().total / 2**30:.1f} GiB"
    except ImportError:
        return "unknown (psutil not installed)"


def os_name() -> str:
    pretty = ""
    try:
        with open("/etc/os-release") as release:
            for line in release:
                if line.startswith("PRETTY_NAME="):
                    pretty = line.split("=", 1)[1].strip().strip('"') + ", "
    except OSError:
        pass
    return f"{pretty}{platform.system()} {platform.release()} {platform.machine()}"


def usable_cores() -> int:
    """The cores this process may run on (its affinity), which is what workers can use."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def source_revision() -> str:
    """``git describe --always --dirty`` of the pypeln checkout measured, or ``unknown``."""
    return described(Path(pl.__file__).resolve().parent.parent) or "unknown"


def described(checkout: Path) -> str | None:
    """``git describe --always --dirty`` of ``checkout``; None if git cannot say."""
    try:
        found = subprocess.run(
            ["git", "-C", str(checkout), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return found.stdout.strip() or None


def peer_versions() -> str:
    found = []
    for name in PEER_PACKAGES:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def describe_machine() -> list[tuple[str, str]]:
    """``(what, value)`` pairs, in the report's order."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return [
        ("date", now.strftime("%Y-%m-%d %H:%M UTC")),
        ("CPU", cpu_model()),
        ("cores", f"{os.cpu_count()} (usable by this process: {usable_cores()})"),
        ("memory", memory_gib()),
        ("OS", os_name()),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("pypeln", f"{pl.__version__} at {source_revision()}"),
        ("peers", peer_versions()),
    ]
