"""Every ```python block of the README runs, unchanged, as a script of its own.

Readers copy these blocks into a file and run it, so that is what the test does: each block is
written to a temporary directory and run there by this interpreter in a fresh process. Nothing
is added (no ``if __name__ == "__main__":`` guard), and the repository is not on the path: the
script imports the installed pypeln, as a user's would. Fragments that are not whole programs
belong in other fences (```sh, ```text).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
BLOCKS = PYTHON_BLOCK.findall(README.read_text(encoding="utf-8"))
#: Seconds one block may take; each is meant to finish in about one.
SCRIPT_TIMEOUT = 40


def test_readme_has_runnable_examples() -> None:
    """The quick example keeps a process stage: the case a script is most likely to break."""
    assert BLOCKS, "no ```python blocks in README.md"
    assert "pl.process." in BLOCKS[0]


@pytest.mark.timeout(SCRIPT_TIMEOUT + 15)
@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{n}" for n in range(len(BLOCKS))])
def test_readme_block_runs_as_a_script(block: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(block, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
    )
    assert done.returncode == 0, f"exit status {done.returncode}\n{done.stderr}"
