"""The pypeln 0.4.9 release from PyPI, in a virtualenv of its own, as a peer.

``ensure_venv`` creates ``benchmarks/.venv-pypeln-0.4.9`` on first use (``python -m venv``,
then ``pip install pypeln==0.4.9``: pip reaches the package index as configured on the machine)
and checks that the release imports there. ``LegacyServer`` starts ``legacy_child.py`` in that
interpreter once per scenario and asks it for one timed run at a time, so its runs take part in
the scenario's interleaved rounds like every other contender's. If the release cannot be
installed or started, every 0.4.9 row says why instead of the run failing.

``CheckoutServer`` does the same for another checkout of pypeln (a git worktree of an earlier
commit, ``--baseline``), with this interpreter: that commit's figures are then measured in
the same run as this one's.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from .machine import described
from .measure import Outcome

VERSION = "0.4.9"
VENV = Path(__file__).resolve().parent / f".venv-pypeln-{VERSION}"
CHILD = Path(__file__).resolve().parent / "legacy_child.py"
INSTALL_TIMEOUT = 600  # seconds; a first install downloads pypeln and its dependencies
RUN_TIMEOUT = 120  # seconds for one run of the pipeline in the child


def venv_python() -> Path:
    return VENV / "bin" / "python"


def installed_version() -> str | None:
    """The pypeln version the venv imports, or None if it has none that imports."""
    if not venv_python().exists():
        return None
    probe = "import importlib.metadata as m, pypeln; print(m.version('pypeln'))"
    try:
        found = subprocess.run(
            [str(venv_python()), "-I", "-c", probe],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return found.stdout.strip()


def ensure_venv() -> str | None:
    """Create the venv if needed. Returns None when it is ready, else why it is not."""
    if installed_version() == VERSION:
        return None
    steps = [
        [sys.executable, "-m", "venv", str(VENV)],
        [str(venv_python()), "-m", "pip", "install", "--quiet", f"pypeln=={VERSION}"],
    ]
    print(f"(creating {VENV.name} for the pypeln {VERSION} peer)", file=sys.stderr, flush=True)
    for step in steps:
        try:
            subprocess.run(
                step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=True
            )
        except subprocess.CalledProcessError as exc:
            last = (exc.stderr or exc.stdout or "").strip().splitlines()[-1:] or ["no output"]
            return f"`{' '.join(step[-3:])}` failed: {last[0][:120]}"
        except (OSError, subprocess.SubprocessError) as exc:
            return f"`{' '.join(step[-3:])}` failed: {type(exc).__name__}: {exc}"[:160]
    found = installed_version()
    if found != VERSION:
        return f"pypeln {VERSION} installed in {VENV.name} but does not import (found {found})"
    return None


class LegacyServer:
    """One ``legacy_child.py`` in the 0.4.9 venv, answering timed runs of the trivial pipeline."""

    label = f"pypeln {VERSION}"

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None

    def command(self) -> list[str]:
        # -I: isolated mode, so that neither the checkout nor $PYTHONPATH hides the release.
        return [str(venv_python()), "-I", str(CHILD)]

    def __enter__(self) -> LegacyServer:
        self.process = subprocess.Popen(
            self.command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process is None:
            return
        assert self.process.stdin is not None
        self.process.stdin.close()  # the child's loop ends at end of input
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def run(self, backend: str, n: int, maxsize: int = 0) -> Outcome:
        """One run on ``backend`` over ``n`` elements, timed inside the child."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"the {self.label} child has ended (code {self.process.poll()})")
        try:
            return self._ask(backend, n, maxsize)
        except BaseException:
            # Interrupted mid-request (a deadline): its answer would reach the next request.
            self.process.kill()
            self.process.wait()
            raise

    def _ask(self, backend: str, n: int, maxsize: int) -> Outcome:
        assert self.process is not None
        stdin: IO[str] | None = self.process.stdin
        stdout: IO[str] | None = self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps({"backend": backend, "n": n, "maxsize": maxsize}) + "\n")
        stdin.flush()
        # Wait with a bound, without a reader thread: a thread in this process would change
        # pl.process's default start method ("auto": fork only when single-threaded).
        ready, _, _ = select.select([stdout], [], [], RUN_TIMEOUT)
        if not ready:
            self.process.kill()
            raise TimeoutError(f"{self.label} gave no answer within {RUN_TIMEOUT} s")
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.label} child exited (code {self.process.poll()})")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"{self.label}: {answer['error']}")
        return Outcome(result=(answer["count"], answer["total"]), seconds=answer["seconds"])


class CheckoutServer(LegacyServer):
    """``legacy_child.py`` run by this interpreter with another checkout's pypeln first."""

    def __init__(self, checkout: Path) -> None:
        super().__init__()
        self.checkout = checkout
        self.label = f"pypeln at {checkout_name(checkout)}"

    def command(self) -> list[str]:
        return [sys.executable, "-I", str(CHILD), str(self.checkout)]


def checkout_problem(checkout: Path) -> str | None:
    """Why ``checkout`` cannot be measured (None: it has a pypeln package)."""
    if not (checkout / "pypeln" / "__init__.py").is_file():
        return f"{checkout} has no pypeln/__init__.py"
    return None


def checkout_name(checkout: Path) -> str:
    """The checkout's commit (``git describe --always --dirty``), else its directory name."""
    return described(checkout) or checkout.name
