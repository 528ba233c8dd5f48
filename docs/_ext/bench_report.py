"""mkdocs hook: show the latest benchmark report on the ``benchmarks.md`` page.

``make bench`` writes ``benchmarks/results/report.md`` and one PNG chart per scenario group.
This hook puts the report's text in place of the page's marker comment, without the report's
own title (the page has one), and adds the charts to the site under ``benchmark-charts/``,
rewriting the report's image links to match. The report stays a single file that reads well
on its own (for instance on the repository's web page), and the docs never hold a stale copy.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
PAGE = "benchmarks.md"
MARKER = "<!-- benchmark-report -->"
CHARTS = "benchmark-charts"
IMAGE = re.compile(r"\]\(([\w.-]+\.png)\)")


def on_files(files: Files, config: Any) -> Files:
    for chart in sorted(RESULTS.glob("*.png")):
        files.append(File.generated(config, f"{CHARTS}/{chart.name}", abs_src_path=str(chart)))
    return files


def report_body() -> str:
    report = RESULTS / "report.md"
    if not report.exists():
        return "No report yet: run `make bench` to produce `benchmarks/results/report.md`."
    lines = report.read_text().splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]  # the page's own title stands for it
    return IMAGE.sub(rf"]({CHARTS}/\1)", "\n".join(lines))


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    return markdown.replace(MARKER, report_body())
