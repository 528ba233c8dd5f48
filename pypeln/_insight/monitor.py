"""The live page of a run: ``to_iterable(stage, monitor=PORT)`` (or ``PYPELN_MONITOR=PORT``)
serves it on 127.0.0.1 while the run lives.

``/`` is one self-contained page (no external script, style or font: it works offline)
that asks ``/stats.json`` every second and draws each stage with its throughput, busy
share and queue fill, the bottleneck highlighted; ``/stats.json`` is the run's statistics
(``Stats.as_dict()``) with each stage's samples over time, for tools. The server is the
standard library's, in a thread that ends with the run.

>>> import json, urllib.request
>>> import pypeln as pl
>>> run = pl.thread.to_iterable(pl.thread.map(abs, range(-3, 3)), monitor=0)  # 0: any port
>>> next(run) in {0, 1, 2, 3}
True
>>> with urllib.request.urlopen(run.monitor_url + "stats.json") as answer:
...     json.load(answer)["stages"][0]["name"]
'map(abs)'
>>> run.close()
"""

from __future__ import annotations

import errno
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .._worker.counters import RunStatistics
from .._worker.threads import wait_started
from .page import PAGE
from .stats import snapshot

#: Only this machine may see the page.
HOST = "127.0.0.1"


def monitor_port(caller: str, port: int | None) -> int | None:
    """``port`` (checked), else ``$PYPELN_MONITOR``'s, else None (no page).

    >>> monitor_port("to_iterable()", 8000), monitor_port("to_iterable()", None) is None
    (8000, True)
    """
    if port is None:
        value = os.environ.get("PYPELN_MONITOR", "")
        if not value:
            return None
        try:
            port = int(value)
        except ValueError:
            raise ValueError(f"$PYPELN_MONITOR must be a port number, got {value!r}") from None
        caller = "$PYPELN_MONITOR"
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"{caller}: monitor must be a port number from 0 to 65535, got {port!r}")
    return port


class Monitor:
    """The page of one run, served from a thread until ``close()``."""

    def __init__(self, statistics: RunStatistics, port: int, caller: str) -> None:
        try:
            self._server = ThreadingHTTPServer((HOST, port), _handler(statistics))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise OSError(
                    error.errno,
                    f"{caller}: cannot serve the monitor page on {HOST}:{port}: the port is "
                    "in use (another run's page, or another program); pass another port, or 0 "
                    "for any free one",
                ) from None
            raise
        self._server.daemon_threads = True
        self.url = f"http://{HOST}:{self._server.server_address[1]}/"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="pypeln monitor",
            daemon=True,
        )

    def start(self) -> None:
        """Serve. (Apart from ``__init__``, as the run's watch: see ``StallWatch.start``.)"""
        self._thread.start()

    def close(self) -> None:
        if wait_started(self._thread):
            self._server.shutdown()  # waits for serve_forever, which has begun
            self._thread.join()
        self._server.server_close()


def _handler(statistics: RunStatistics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path in ("/", "/index.html"):
                self._send(PAGE.encode(), "text/html; charset=utf-8")
            elif self.path == "/stats.json":
                body = json.dumps(snapshot(statistics).as_dict()).encode()
                self._send(body, "application/json")
            else:
                self.send_error(404, "the monitor serves / and /stats.json")

        def _send(self, body: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a page asked every second would fill the terminal

    return Handler
