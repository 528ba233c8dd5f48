"""The live page: served on 127.0.0.1 while the run lives, ``/stats.json`` for tools, on
every backend; a port in use is a clear error; the server ends with the run."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from types import ModuleType
from typing import Any

import pytest

import pypeln as pl
from tests.shared import Shared


class Held:
    """Items from ``first_held`` on wait for ``gate`` (up to 10 s)."""

    def __init__(self, gate: Any, first_held: int) -> None:
        self.gate = gate
        self.first_held = first_held

    def __call__(self, x: int) -> int:
        if x >= self.first_held:
            self.gate.wait(10)
        return x


def fetch(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.status, answer.headers["Content-Type"], answer.read()


def test_the_page_and_its_statistics_while_the_run_lives(
    backend: ModuleType, shared: Shared
) -> None:
    gate = shared.event()
    stage = backend.filter(lambda x: x % 2 == 0, backend.map(Held(gate, 6), range(10), maxsize=1))
    run = backend.to_iterable(stage, monitor=0)
    try:
        assert [next(run) for _ in range(3)] == [0, 2, 4]
        url = run.monitor_url
        assert url is not None and url.startswith("http://127.0.0.1:")
        status, kind, body = fetch(url + "stats.json")
        assert (status, kind) == (200, "application/json")
        state = json.loads(body)
        assert state["running"] is True
        names = [stage["name"] for stage in state["stages"]]
        assert names == ["map(Held)", "filter(<lambda>)"]
        assert state["stages"][0]["received"] >= 5  # at least what the 3 results came from
        assert set(state["stages"][0]["history"]) == {"seconds", "emitted", "fill"}
        status, kind, page = fetch(url)
        assert kind.startswith("text/html") and b"<title>pypeln monitor</title>" in page
        assert b"src=" not in page and b"@import" not in page  # nothing to fetch elsewhere
        with pytest.raises(urllib.error.HTTPError, match="404"):
            fetch(url + "elsewhere")
    finally:
        gate.set()
        run.close()
    assert run.monitor_url is None
    with pytest.raises(urllib.error.URLError):  # the server ended with the run
        fetch(url + "stats.json")


def test_a_port_in_use_is_a_clear_error(backend: ModuleType) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = backend.to_iterable(backend.map(abs, range(3)), monitor=port)
        with pytest.raises(OSError, match=f"127.0.0.1:{port}: the port is in use"):
            next(run)


def test_the_environment_serves_the_page(
    backend: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYPELN_MONITOR", "0")
    run = backend.to_iterable(backend.map(abs, range(3)))
    assert next(run) in {0, 1, 2}
    assert run.monitor_url is not None
    run.close()


@pytest.mark.parametrize("port", [-1, 65536, "8000", True])
def test_a_bad_port_is_refused_at_the_call(port: Any) -> None:
    with pytest.raises(ValueError, match="to_iterable\\(\\): monitor must be a port number"):
        pl.thread.to_iterable(pl.thread.map(abs, range(3)), monitor=port)
    with pytest.raises(ValueError, match="run\\(\\): monitor must be a port number"):
        pl.thread.run(pl.thread.map(abs, range(3)), monitor=port)


def test_a_saved_page_holds_the_statistics(backend: ModuleType, tmp_path: Any) -> None:
    run = backend.to_iterable(backend.filter(lambda x: x % 3 != 0, backend.map(abs, range(30))))
    assert len(list(run)) == 20
    path = tmp_path / "run.html"
    run.stats().save_html(path)
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "src=" not in page
    data = page.split("const SAVED = ", 1)[1].split(";  /* SAVED", 1)[0]
    state = json.loads(data.replace("<\\/", "</"))
    assert [stage["name"] for stage in state["stages"]] == ["map(abs)", "filter(<lambda>)"]
    assert state["stages"][1]["filtered_out"] == 10
    assert state["running"] is False
