"""Where the process backend's OS modules do not exist (Windows), the rest of pypeln works.

The test hides ``fcntl``, ``termios`` and ``resource`` from a fresh interpreter (an entry of
None in ``sys.modules`` makes their import fail, as on Windows) before pypeln is imported.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys
    for name in ("fcntl", "termios", "resource"):
        sys.modules[name] = None

    import pypeln as pl

    async def slow_double(x):
        return 2 * x

    print(sorted(pl.thread.map(abs, [-1, 2], workers=2)))
    print(list(pl.sync.filter(bool, [0, 3])))
    print(sorted(pl.task.map(slow_double, [1, 2], workers=2)))
    print(pl.WorkerCrashedError.__name__, pl.Stage.__name__)
    try:
        pl.process.map(abs, [1])
    except ImportError as error:
        print(error)
    """
)


def test_import_and_the_other_backends_work_without_posix_modules() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:4] == ["[1, 2]", "[3]", "[2, 4]", "WorkerCrashedError Stage"]
    assert lines[4] == (
        "pl.process needs a POSIX system (Linux or macOS): fcntl, termios, resource are "
        "missing here. pl.thread, pl.task and pl.sync work on every system."
    )
