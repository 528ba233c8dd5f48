"""Which Ray cluster a run uses: the program's own, one it names, or an embedded one.

* A program that called ``ray.init()`` already: its cluster, as it is.
* An address (``using(address=...)``, else ``$RAY_ADDRESS``): that running cluster.
* Neither: the first run starts a local cluster inside this program, reused by every later
  run, and ended with the program: no dashboard, quiet logs, and every Ray process bound to
  127.0.0.1 and advertising it (Ray otherwise listens on every interface). A cluster that
  ``ray start`` runs on this machine is joined only through its address.

The connection is made in the main thread, or else in a thread of its own that stays for
the life of the program: a run of a Ray stage read by a stage of another backend starts in
one of that run's threads, and Ray calls made after the thread that called ``ray.init()``
ended never return (measured with Ray 2.60).

Ray reads where to bind when it is imported, so the package sets that up before it imports
Ray; a program that imported Ray first gets the same through Ray's constant.

>>> loopback("127.0.0.1:6379"), loopback("localhost:6379"), loopback("10.0.0.5:6379")
(True, True, False)
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import ray

_lock = threading.Lock()


def loopback(address: str) -> bool:
    """Whether ``address`` (``host:port``) is on this machine's loopback interface."""
    host = address.rpartition(":")[0] or address
    return host in {"localhost", "::1"} or host.startswith("127.")


def connect(address: str | None) -> None:
    """Connect this process to its Ray cluster, once (see the module docstring)."""
    if threading.current_thread() is threading.main_thread() or ray.is_initialized():
        _connect(address)
        return
    failure: list[BaseException] = []
    connected = threading.Event()

    def connection() -> None:
        try:
            _connect(address)
        except BaseException as error:
            failure.append(error)
            connected.set()
            return
        connected.set()
        threading.Event().wait()  # Ray needs the thread that connected to outlive its calls

    threading.Thread(target=connection, name="pypeln ray connection", daemon=True).start()
    connected.wait()
    if failure:
        raise failure[0]


def _connect(address: str | None) -> None:
    with _lock:
        if ray.is_initialized():
            _check_same(address)
            return
        address = address or os.environ.get("RAY_ADDRESS") or None
        # Ray's own messages only when they are errors; what the user's functions print in
        # the actors still shows here, as it does from threads and processes.
        quiet = {"log_to_driver": True, "logging_level": logging.ERROR}
        if address is None:  # a cluster of our own, even if `ray start` left one here
            _local_only()
            ray.init(address="local", include_dashboard=False, **quiet)  # type: ignore[arg-type]
            return
        if loopback(address):
            _local_only()
        _token_for(address)
        ray.init(address=address, **quiet)  # type: ignore[arg-type]


def _check_same(address: str | None) -> None:
    """A run that names a cluster other than the one this program is connected to fails:
    one program talks to one Ray cluster."""
    if address is None:
        return
    connected = ray.get_runtime_context().gcs_address
    if not _same_place(address.removeprefix("ray://"), connected):
        raise RuntimeError(
            f"pl.ray.using(address={address!r}): this program is connected to the Ray "
            f"cluster at {connected}, and a program talks to one cluster; name that one, "
            "or run the other stages in a program of their own"
        )


def _same_place(one: str, other: str) -> bool:
    """Whether two ``host:port`` addresses name one place (any loopback name is one)."""
    (host, _, port), (other_host, _, other_port) = one.rpartition(":"), other.rpartition(":")
    return port == other_port and (host == other_host or (loopback(one) and loopback(other)))


def _local_only() -> None:
    """Bind and advertise 127.0.0.1, also when Ray was imported before this module."""
    import ray._private.ray_constants as constants

    constants.ENABLE_RAY_CLUSTER = False


def _token_for(address: str) -> None:
    """Ray turns token authentication on for the clusters it starts, but not when joining
    one by address: join with the token this machine has, if any (an explicit
    ``$RAY_AUTH_MODE`` decides alone)."""
    if os.environ.get("RAY_AUTH_MODE"):
        return
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    has_token = os.environ.get("RAY_AUTH_TOKEN") or (path and Path(path).exists())
    if not (has_token or (Path.home() / ".ray" / "auth_token").exists()):
        return
    os.environ["RAY_AUTH_MODE"] = "token"
    # Ray read its settings when it was imported: they are read again, as Ray itself does
    # when it turns the mode on for a cluster it starts.
    try:
        from ray._raylet import Config  # type: ignore[attr-defined]
    except ImportError:  # a Ray without it reads the variable when it connects
        return
    Config.initialize("")
