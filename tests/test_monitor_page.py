"""The live page and a saved page, rendered by a real browser (headless Chromium): the
stage names and figures its script draws from the statistics.

Chromium is a system package (``.ci/run`` installs Debian's ``chromium`` when missing);
without it these tests are skipped, and say so.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

import pypeln as pl

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian: chromium)")

#: Headless, offline, and nothing started beside the page (this machine's network is closed).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=4000",
]


def rendered(url: str, profile: Path) -> str:
    """The page's DOM once its script ran (Chromium's --dump-dom)."""
    assert CHROMIUM is not None
    command = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=50, check=True)
    return done.stdout


def boxes(dom: str) -> dict[str, str]:
    """Each stage's box, by its name: the text inside it."""
    found = re.findall(r'<div class="stage[^"]*" data-stage="([^"]+)">(.*?)<svg', dom, re.S)
    return {name.replace("&lt;", "<").replace("&gt;", ">"): text for name, text in found}


@pytest.mark.timeout(120)
def test_the_live_page_draws_every_stage_and_the_bottleneck(tmp_path: Path) -> None:
    gate = threading.Event()

    def slow(x: int) -> int:
        if x >= 40:
            gate.wait(30)
        return x

    stage = pl.thread.filter(lambda x: x % 2 == 0, pl.thread.map(slow, range(60), maxsize=1))
    run = pl.thread.to_iterable(stage, monitor=0)
    try:
        assert [next(run) for _ in range(10)] == list(range(0, 20, 2))
        assert run.monitor_url is not None
        dom = rendered(run.monitor_url, tmp_path / "profile")
    finally:
        gate.set()
        run.close()
    drawn = boxes(dom)
    assert list(drawn) == ["map(slow)", "filter(<lambda>)"]
    assert "thread · 1 worker" in drawn["map(slow)"]
    counts = re.search(r"in / out</span><span class=\"counts\">(\d+) / (\d+)<", drawn["map(slow)"])
    assert counts is not None and int(counts.group(1)) >= 20
    assert 'class="stage bottleneck" data-stage="map(slow)"' in dom
    assert "bottleneck: map(slow) is the bottleneck" in dom
    assert "run: " in dom and "running" in dom


@pytest.mark.timeout(120)
def test_a_saved_page_draws_without_a_server(tmp_path: Path) -> None:
    run: Any = pl.thread.to_iterable(pl.thread.filter(lambda x: x % 3 != 0, range(30)))
    assert len(list(run)) == 20
    path = tmp_path / "run.html"
    run.stats().save_html(path)
    dom = rendered(path.as_uri(), tmp_path / "profile")
    drawn = boxes(dom)
    assert list(drawn) == ["filter(<lambda>)"]
    assert re.search(r'class="counts">30 / 20<', drawn["filter(<lambda>)"])
    assert "ended" in dom
