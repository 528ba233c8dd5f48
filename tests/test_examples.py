"""The example programs run and report what they should; the docs' code examples run too."""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DOCS = ROOT / "docs"


def run_example(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> str:
    """Import ``examples/<name>.py``, call its ``main()`` and return what it printed."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    module: ModuleType = importlib.import_module(name)
    module.main()
    return capsys.readouterr().out


def test_crawl_like(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_example("crawl_like", monkeypatch, capsys)
    rows = {
        match["backend"]: match
        for match in re.finditer(
            r"(?P<backend>pl\.\w+) +(?P<read>\d+) +(?P<skipped>\d+) +(?P<kept>\d+) +"
            r"(?P<seconds>[\d.]+) +(?P<ahead>\d+)",
            out,
        )
    }
    assert set(rows) == {"pl.thread", "pl.sync"}
    for row in rows.values():  # 120 pages: 1 hangs past the timeout, 12 are missing
        assert (row["read"], row["skipped"], row["kept"]) == ("120", "1", "107")
    assert float(rows["pl.thread"]["seconds"]) < float(rows["pl.sync"]["seconds"])
    assert int(rows["pl.thread"]["ahead"]) < 120  # maxsize held the source back
    assert "same pages in the same order: True" in out
    assert re.search(r"map\(fetch\) +in +120 +out +119 +\(timed out: 1\)", out)
    assert re.search(r"filter\(Meter\.is_ok\) +in +119 +out +107", out)


def test_hooks_and_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run_example("hooks_and_errors", monkeypatch, capsys)
    # hooks: every worker closed its own connection; together they made every query
    closed = re.findall(r"on_done of worker (\d): closed conn-(\d) after (\d+) queries", out)
    assert sorted(worker for worker, _, _ in closed) == ["0", "1", "2"]
    assert all(worker == conn for worker, conn, _ in closed)
    assert sum(int(queries) for _, _, queries in closed) == 30
    assert "element_index=(0,) user-0 via conn-" in out
    assert "an on_done saw stage_status.done: True; all connections closed: True" in out
    # errors: the original exception, its note, its traceback, and the hooks still ran
    assert "caught ValueError: invalid literal for int() with base 10: 'seven'" in out
    assert re.search(
        r"note: pypeln: stage 'map\(parse_record\)' \(worker \d\) failed on element \(7,\): "
        r"'user7:seven'",
        out,
    )
    assert "raised in parse_record()" in out
    assert "connections of the downstream stage all closed: True" in out
    # early exit: the run stopped long before the end of its million items
    match = re.search(r"took 5 rows in [\d.]+ s; the workers made (\d+) queries", out)
    assert match is not None and int(match[1]) < 1000
    assert "connections opened: 3, all closed: True" in out


def test_word_count(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_example("word_count", monkeypatch, capsys)
    assert "counted 37 content words, 19 distinct, in 6 documents" in out
    assert re.search(r"^  flour +4$", out, re.MULTILINE)
    assert "same as a plain loop: True" in out


def test_async_io(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_example("async_io", monkeypatch, capsys)
    runs = re.findall(
        r"^  (async for|await stage|list\(\) from sync code) +(\d+) pages in ([\d.]+) s, "
        r"at most (\d+) requests in flight$",
        out,
        re.MULTILINE,
    )
    assert [how for how, *_ in runs] == ["async for", "await stage", "list() from sync code"]
    for _, pages, seconds, peak in runs:  # 200 calls of 50 ms, up to 50 at once
        assert pages == "200" and 1 < int(peak) <= 50
        assert float(seconds) < 2.5  # one after another: 10 s
    assert "every run fetched the same 200 pages: True" in out
    assert re.search(r"^mixed pipeline: 40 records in [\d.]+ s$", out, re.MULTILINE)
    assert re.search(r"^  read in \d threads: pypeln map\(read_record\) #", out, re.MULTILINE)
    assert "  enriched in 1 thread: pypeln task loop" in out  # async f: tasks of the loop
    assert "every record once: True" in out


def test_frames(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_example("frames", monkeypatch, capsys)
    assert "every frame as computed: True" in out
    assert "same frames both ways: True" in out
    assert "left in /dev/shm: nothing" in out
    assert re.search(r"shared memory \(default\) +[\d.]+ GB/s", out)


@pytest.mark.cluster
def test_ray_frames(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_example("ray_frames", monkeypatch, capsys)
    assert "in camera order, every level as computed: True" in out


@pytest.mark.cluster  # it runs the ray example too
def test_run_all(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_example("run_all", monkeypatch, capsys)
    names = ("crawl_like", "cpu_bound", "hooks_and_errors", "word_count", "async_io", "frames")
    for name in (*names, "ray_frames"):
        assert f"=== examples/{name}.py: " in out
        assert f"=== {name} finished in " in out
    assert out.count("True") >= 7  # each example's own checks printed their verdicts


PYCON = re.compile(r"^```pycon\n(.*?)^```", re.DOTALL | re.MULTILINE)


@pytest.mark.parametrize(
    "page", ["index.md", "tasks.md", "timeouts.md", "policies.md", "insight.md", "migrating.md"]
)
def test_docs_code_examples(page: str) -> None:
    """Every ```pycon block of a page, run in order as one doctest."""
    text = (DOCS / page).read_text(encoding="utf-8")
    blocks = PYCON.findall(text)
    assert blocks, f"no pycon blocks in {page}"
    test = doctest.DocTestParser().get_doctest("\n".join(blocks), {}, page, page, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, f"{results.failed} of {results.attempted} examples failed"


def test_cpu_bound(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_example("cpu_bound", monkeypatch, capsys)
    assert "primes below 200,000: 17984 (a plain loop counts 17984)" in out
    assert "crash reported: stage 'map(crash_on_seven)'" in out and "exit code 3" in out
