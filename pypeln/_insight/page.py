"""The monitor's page: one HTML file with its style and script inline (no external
script, style or font: it works offline). Its script reads the statistics from
``/stats.json`` every second and draws each stage as a box in pipeline order: its name,
backend and workers, items per second now, the share of time its workers work, its queue's
fill, and a line of its throughput over time; the bottleneck's box is highlighted, and the
verdict is written above.

>>> "<script>" in PAGE and "stats.json" in PAGE and "http" not in PAGE.split("<script>")[0]
True
>>> "</script><b>" in saved_page({"name": "</script><b>"})
False
"""

from __future__ import annotations

import json
from typing import Any

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>pypeln monitor</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #1b1f23; background: #fafafa; }
h1 { font-size: 1.2em; margin: 0 0 .3em; }
#head { color: #555; margin-bottom: .6em; }
#verdict { padding: .6em .8em; background: #fff4e5; border-left: 4px solid #e67e22;
           margin-bottom: 1em; min-height: 1.2em; }
#stages { display: flex; align-items: center; flex-wrap: wrap; gap: .4em; }
.stage { background: #fff; border: 2px solid #ccd; border-radius: 8px; padding: .6em .8em;
         min-width: 13em; }
.stage.bottleneck { border-color: #d63031; box-shadow: 0 0 0 3px #fab1a0; }
.arrow { color: #889; font-size: 1.6em; }
.name { font-weight: 600; font-family: ui-monospace, monospace; }
.meta { color: #667; font-size: .85em; margin-bottom: .3em; }
.figure { display: flex; justify-content: space-between; gap: 1em; }
.bar { height: 6px; background: #eee; border-radius: 3px; margin: .1em 0 .3em; }
.bar div { height: 100%; background: #0984e3; border-radius: 3px; }
.bar.busy div { background: #00b894; }
svg { display: block; margin-top: .3em; }
table { border-collapse: collapse; margin-top: 1.2em; background: #fff; }
th, td { padding: .25em .6em; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child { text-align: left; font-family: ui-monospace, monospace; }
</style>
</head>
<body>
<h1>pypeln monitor</h1>
<div id="head">waiting for the run's statistics...</div>
<div id="verdict"></div>
<div id="stages"></div>
<table id="table"></table>
<script>
"use strict";
const COLUMNS = ["stage", "backend", "workers", "in", "out", "dropped", "busy", "waiting",
                 "blocked", "queue (mean)", "call p50", "call p99", "items/s"];

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function percent(share) { return Math.round(share * 100) + "%"; }

function seconds(value) {
  if (value === null) return "-";
  if (value < 1e-3) return (value * 1e6).toFixed(1) + " \\u00b5s";
  if (value < 1) return (value * 1e3).toFixed(1) + " ms";
  return value.toFixed(2) + " s";
}

function rates(history) {
  const out = [];
  for (let i = 1; i < history.seconds.length; i++) {
    const spent = history.seconds[i] - history.seconds[i - 1];
    out.push(spent > 0 ? (history.emitted[i] - history.emitted[i - 1]) / spent : 0);
  }
  return out;
}

function sparkline(values) {
  const width = 200, height = 36;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  if (values.length < 2) return svg;
  const top = Math.max(...values) || 1;
  const points = values.map((v, i) =>
    (i * width / (values.length - 1)).toFixed(1) + "," +
    (height - 2 - v / top * (height - 4)).toFixed(1));
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points.join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#0984e3");
  line.setAttribute("stroke-width", "1.5");
  svg.appendChild(line);
  return svg;
}

function bar(share, kind) {
  const outer = element("div", "bar " + kind);
  const inner = element("div");
  inner.style.width = Math.min(100, Math.round(share * 100)) + "%";
  outer.appendChild(inner);
  return outer;
}

function figure(label, value, className) {
  const row = element("div", "figure");
  row.appendChild(element("span", "", label));
  row.appendChild(element("span", className, value));
  return row;
}

function draw(state) {
  const worst = state.bottleneck ? state.bottleneck.stage : null;
  document.getElementById("head").textContent =
    "run: " + state.seconds.toFixed(2) + " s, " + (state.running ? "running" : "ended") +
    ", " + state.stages.length + " stages";
  document.getElementById("verdict").textContent = state.bottleneck
    ? "bottleneck: " + state.bottleneck.why + " " + state.bottleneck.advice
    : "no stage took an item yet";
  const stages = document.getElementById("stages");
  stages.replaceChildren();
  state.stages.forEach((stage, position) => {
    if (position) stages.appendChild(element("span", "arrow", "\\u2192"));
    const box = element("div", "stage" + (stage.name === worst ? " bottleneck" : ""));
    box.dataset.stage = stage.name;
    box.appendChild(element("div", "name", stage.name));
    box.appendChild(element("div", "meta", stage.backend + " \\u00b7 " + stage.workers +
      (stage.workers === 1 ? " worker" : " workers")));
    const recent = rates(stage.history);
    const now = recent.length ? recent[recent.length - 1] : stage.per_second;
    box.appendChild(figure("items/s", Math.round(now).toLocaleString("en"), "rate"));
    box.appendChild(figure("busy", percent(stage.busy), "busy"));
    box.appendChild(bar(stage.busy, "busy"));
    const bound = stage.maxsize ? " of " + stage.maxsize : "";
    box.appendChild(figure("queue", stage.fill + bound, "fill"));
    box.appendChild(bar(stage.maxsize ? stage.fill / stage.maxsize : 0, "fill"));
    box.appendChild(figure("in / out", stage.received + " / " + stage.emitted, "counts"));
    box.appendChild(element("div", "meta", "items/s over time"));
    box.appendChild(sparkline(recent));
    if (stage.history.fill.length > 1) {
      box.appendChild(element("div", "meta", "queue fill over time"));
      box.appendChild(sparkline(stage.history.fill));
    }
    stages.appendChild(box);
  });
  const table = document.getElementById("table");
  table.replaceChildren();
  const head = element("tr");
  COLUMNS.forEach(name => head.appendChild(element("th", "", name)));
  table.appendChild(head);
  state.stages.forEach(stage => {
    const row = element("tr");
    [stage.name, stage.backend, stage.workers, stage.received, stage.emitted, stage.dropped,
     percent(stage.busy), percent(stage.waiting), percent(stage.blocked),
     stage.fill + " (" + stage.mean_fill.toFixed(0) + ")", seconds(stage.call_p50),
     seconds(stage.call_p99), Math.round(stage.per_second).toLocaleString("en")]
      .forEach(cell => row.appendChild(element("td", "", String(cell))));
    table.appendChild(row);
  });
}

const SAVED = null;  /* SAVED: a saved page carries its statistics here */

function refresh() {
  if (SAVED) { draw(SAVED); return; }
  fetch("stats.json", {cache: "no-store"})
    .then(answer => answer.json())
    .then(state => { draw(state); if (state.running) setTimeout(refresh, 1000); })
    .catch(() => {
      document.getElementById("head").textContent = "the run ended: its page is gone";
    });
}
refresh();
</script>
</body>
</html>
"""


def saved_page(state: dict[str, Any]) -> str:
    """The page with ``state`` (``Stats.as_dict()``) inside, drawn without a server."""
    data = json.dumps(state).replace("</", "<\\/")  # no "</script>" inside the script
    return PAGE.replace("const SAVED = null;  /* SAVED", f"const SAVED = {data};  /* SAVED", 1)
