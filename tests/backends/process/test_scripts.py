"""Scripts as users write them: process stages at module level, with no main guard.

Each script runs in a fresh interpreter, under every start method (``auto`` picks fork in a
single-threaded process and the fork server once the process has threads). A worker never
runs the script again, so none of them needs ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

METHODS = ["auto", "fork", "forkserver", "spawn"]


def run_script(tmp_path: Path, code: str, method: str = "auto") -> subprocess.CompletedProcess[str]:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    environment = {**os.environ, "PYPELN_START_METHOD": method}
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env=environment,
    )


def succeeded(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0 and not done.stderr, done.stderr
    return done.stdout


@pytest.mark.parametrize("method", METHODS)
def test_thread_process_task_pipeline_at_module_level(tmp_path: Path, method: str) -> None:
    out = run_script(
        tmp_path,
        """
        import asyncio
        import pypeln as pl

        def fetch(x):
            return x

        def parse(x):
            return x * 2

        async def store(x):
            await asyncio.sleep(0)
            return x + 1

        stage = pl.thread.map(fetch, range(20), workers=4, maxsize=8)
        stage = pl.process.map(parse, stage, workers=3, maxsize=4)
        stage = pl.task.map(store, stage, workers=5)
        stage = pl.sync.filter(lambda x: x % 3, stage)
        print(sorted(stage))
        """,
        method,
    )
    assert succeeded(out) == f"{sorted(x * 2 + 1 for x in range(20) if (x * 2 + 1) % 3)}\n"


@pytest.mark.parametrize("method", METHODS)
def test_numpy_imported_first(tmp_path: Path, method: str) -> None:
    out = run_script(
        tmp_path,
        """
        import os
        import numpy as np
        import pypeln as pl

        def norm(x):
            return float(np.linalg.norm(np.arange(x)))

        threads = len(os.listdir("/proc/self/task"))  # numpy's BLAS may have started some
        method = pl.process.backend.start_method()
        print(threads, method, sum(pl.process.map(norm, range(6), workers=2)))
        """,
        method,
    )
    threads, used, total = succeeded(out).split()
    if method == "auto":
        assert used == ("fork" if threads == "1" else "forkserver")
    else:
        assert used == method
    expected = sum(sum(i * i for i in range(x)) ** 0.5 for x in range(6))
    assert float(total) == pytest.approx(expected)


@pytest.mark.parametrize("method", METHODS)
def test_process_stage_read_by_a_source_thread_of_another_stage(
    tmp_path: Path, method: str
) -> None:
    out = run_script(
        tmp_path,
        """
        import pypeln as pl

        inner = pl.process.map(lambda x: x + 1, range(10), workers=2)
        outer = pl.thread.map(lambda x: x * 10, inner, workers=2)
        nested = pl.process.map(lambda x: -x, outer, workers=2)
        print(sorted(nested))
        """,
        method,
    )
    assert succeeded(out) == f"{sorted(-(x + 1) * 10 for x in range(10))}\n"


@pytest.mark.parametrize("method", METHODS)
def test_classes_of_the_script_travel_both_ways(tmp_path: Path, method: str) -> None:
    out = run_script(
        tmp_path,
        """
        import threading
        from dataclasses import dataclass
        import pypeln as pl

        threading.Thread(target=threading.Event().wait, daemon=True).start()  # not single-threaded

        @dataclass
        class Point:
            x: int

        class Moved(Point):
            pass

        def move(p):
            assert isinstance(p, Point), type(p)
            return Moved(p.x + 1)

        results = list(pl.process.map(move, [Point(i) for i in range(5)], workers=2))
        print(all(type(r) is Moved and isinstance(r, Point) for r in results))
        print(sorted(r.x for r in results))
        """,
        method,
    )
    assert succeeded(out) == "True\n[1, 2, 3, 4, 5]\n"


@pytest.mark.parametrize("method", METHODS)
def test_worker_traceback_shows_the_scripts_file_line_and_source(
    tmp_path: Path, method: str
) -> None:
    done = run_script(
        tmp_path,
        """
        import pypeln as pl

        def check(x):
            if x == 3:
                raise ValueError(f"bad item {x}")
            return x

        list(pl.process.map(check, range(5), workers=2))
        """,
        method,
    )
    assert done.returncode != 0
    script = tmp_path / "script.py"
    assert f'File "{script}", line 6, in check' in done.stderr, done.stderr
    assert 'raise ValueError(f"bad item {x}")' in done.stderr
    assert "ValueError: bad item 3" in done.stderr


@pytest.mark.parametrize("method", ["forkserver", "spawn"])
def test_a_function_workers_cannot_load_is_one_short_error(tmp_path: Path, method: str) -> None:
    helpers = tmp_path / "helpers"
    helpers.mkdir()
    (helpers / "vanishing.py").write_text("def f(x):\n    return x\n")
    done = run_script(
        tmp_path,
        f"""
        import shutil, sys
        sys.path.insert(0, {str(helpers)!r})
        import vanishing
        import pypeln as pl

        shutil.rmtree({str(helpers)!r})  # the workers cannot import it any more
        list(pl.process.map(vanishing.f, range(9), workers=3))
        """,
        method,
    )
    assert done.returncode != 0
    assert "ModuleNotFoundError: No module named 'vanishing'" in done.stderr
    assert "stage 'map(f)': its function or hooks could not be loaded" in done.stderr
    # One error, raised in the script: not one dump per worker.
    assert done.stderr.count("ModuleNotFoundError: No module named") == 2  # raised + its note
    assert len(done.stderr.splitlines()) < 60, done.stderr


def test_namespace_in_a_script_with_threads(tmp_path: Path) -> None:
    out = run_script(
        tmp_path,
        """
        import threading
        import pypeln as pl

        threading.Thread(target=threading.Event().wait, daemon=True).start()
        ns = pl.process.Namespace(count=0)

        def count(x, ns=ns):
            with ns:
                ns.count += 1
            return x

        pl.process.run(pl.process.map(count, range(20), workers=3))
        print(ns.count)
        """,
    )
    assert succeeded(out) == "20\n"


def test_environment_and_directory_follow_the_parent(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "data").mkdir()
    out = run_script(
        tmp_path,
        """
        import os, threading
        import pypeln as pl

        threading.Thread(target=threading.Event().wait, daemon=True).start()
        list(pl.process.map(abs, [1]))  # the fork server starts here, before the changes
        os.environ["PIPELINE_SETTING"] = "on"
        os.chdir("data")

        def look(x):
            return os.environ.get("PIPELINE_SETTING"), os.path.basename(os.getcwd())

        print(set(pl.process.map(look, range(4), workers=2)))
        """,
    )
    assert succeeded(out) == "{('on', 'data')}\n"
