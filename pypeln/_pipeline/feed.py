"""``feed``: a source that a running program pushes items into.

A ``Feed`` is a bounded queue that a stage reads like any iterable. Any thread may ``put``
into it (blocking while it is full), async code ``await``s ``aput``, and ``close()`` ends
the stream. A process may put too: a feed passed to another process (pickled, or inherited
by a fork) sends its items over a local socket to a thread of the process that made it,
where the run reads them; ``put`` there blocks just the same. A put after ``close()``
raises ``ValueError``; one into a feed whose run stopped raises ``FeedStoppedError``
instead of blocking.

>>> import threading
>>> import pypeln as pl
>>> feed = pl.thread.feed(maxsize=2)
>>> def produce():
...     for x in range(5):
...         feed.put(x)
...     feed.close()
>>> producer = threading.Thread(target=produce)
>>> producer.start()
>>> sorted(pl.thread.map(lambda x: x * 10, feed, workers=2))
[0, 10, 20, 30, 40]
>>> producer.join()
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import tempfile
import threading
import weakref
from collections import deque
from collections.abc import Iterator
from multiprocessing.connection import Client, Connection, Listener
from typing import Any, Generic, TypeVar

from .._errors import PypelnError

T = TypeVar("T")


class FeedStoppedError(PypelnError):
    """A put into a feed whose run stopped (the consumer left, or the run failed)."""


class Feed(Generic[T]):
    """A source to push items into while the pipeline runs (see the module docstring)."""

    def __init__(self, maxsize: int = 0) -> None:
        self.maxsize = maxsize
        self._items: deque[Any] = deque()
        self._changed = threading.Condition()
        self._closed = False
        self._stopped = False  # the run that read it stopped before the end
        self._read = False  # a run reads (or read) it: a feed is read once
        self._owner = os.getpid()
        self._server: _Server | None = None
        _live.add(self)

    # -- putting ------------------------------------------------------------------------------

    def put(self, item: T) -> None:
        """Add ``item``; wait while the feed is full."""
        if os.getpid() != self._owner:
            _client_of(self).call("put", item)
            return
        with self._changed:
            while True:
                self._check_open("put")
                if not self.maxsize or len(self._items) < self.maxsize:
                    self._items.append(item)
                    self._changed.notify_all()
                    return
                self._changed.wait()

    async def aput(self, item: T) -> None:
        """``put`` for async code: await room instead of blocking the event loop."""
        if os.getpid() == self._owner:
            with self._changed:
                self._check_open("aput")
                if not self.maxsize or len(self._items) < self.maxsize:
                    self._items.append(item)
                    self._changed.notify_all()
                    return
        await asyncio.get_running_loop().run_in_executor(None, self.put, item)

    def close(self) -> None:
        """End the stream: the run reads what is in the feed, then ends (idempotent)."""
        if os.getpid() != self._owner:
            _client_of(self).call("close", None)
            return
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        if self._server is not None:
            self._server.close()

    def _check_open(self, api: str) -> None:
        if self._closed:
            raise ValueError(f"Feed.{api}(): the feed is closed")
        if self._stopped:
            raise FeedStoppedError(
                f"Feed.{api}(): the run that read this feed has stopped; nothing reads it"
            )

    # -- reading -------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[T]:
        if os.getpid() != self._owner:
            raise RuntimeError("a feed is read in the process that made it")
        with self._changed:
            if self._read:
                raise RuntimeError("a feed is read by one run only; make a feed per run")
            self._read = True
        return self._items_until_closed()

    def _items_until_closed(self) -> Iterator[T]:
        ended = False
        try:
            while True:
                with self._changed:
                    while not self._items and not self._closed:
                        self._changed.wait()
                    if not self._items:
                        ended = True
                        return
                    item = self._items.popleft()
                    self._changed.notify_all()  # room for a waiting put
                yield item
        finally:
            if not ended:  # the run stopped early: puts must not wait for it
                with self._changed:
                    self._stopped = True
                    self._changed.notify_all()

    # -- crossing to other processes ----------------------------------------------------------

    def __reduce__(self) -> tuple[Any, ...]:
        server = self._serve()
        return (_RemoteFeed, (server.address, server.authkey, self.maxsize))

    def _serve(self) -> _Server:
        """The thread that takes the puts of other processes (started once)."""
        with self._changed:
            if self._server is None:
                self._server = _Server(self)
                weakref.finalize(self, self._server.close)  # a feed dropped unclosed
            return self._server


class _RemoteFeed(Feed[Any]):
    """A feed in another process: every put and close goes to the owner's server."""

    def __init__(self, address: str, authkey: bytes, maxsize: int) -> None:
        self.maxsize = maxsize
        self._address = address
        self._authkey = authkey
        self._owner = -1  # never this process: put and close go through the client

    def __reduce__(self) -> tuple[Any, ...]:
        return (_RemoteFeed, (self._address, self._authkey, self.maxsize))

    def __iter__(self) -> Iterator[Any]:
        raise RuntimeError("a feed is read in the process that made it")


class _Client:
    """One connection of a process to a feed's owner: a request, then its answer."""

    def __init__(self, address: str, authkey: bytes) -> None:
        self._connection: Connection = Client(address, family="AF_UNIX", authkey=authkey)
        self._lock = threading.Lock()

    def call(self, command: str, item: Any) -> None:
        with self._lock:
            self._connection.send((command, item))
            error = self._connection.recv()
        if error is not None:
            kind, message = error
            raise (ValueError if kind == "closed" else FeedStoppedError)(message)


_clients: dict[tuple[int, str], _Client] = {}
_clients_lock = threading.Lock()


def _client_of(feed: Feed[Any]) -> _Client:
    """This process's connection to ``feed``'s owner (a forked copy of a local feed
    connects to the server its parent started before the fork)."""
    if isinstance(feed, _RemoteFeed):
        address, authkey = feed._address, feed._authkey
    else:
        server = feed._server
        if server is None:
            raise RuntimeError(
                "Feed.put(): this feed was copied into another process before it could be "
                "shared; pass it to the process as an argument"
            )
        address, authkey = server.address, server.authkey
    key = (os.getpid(), address)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = _Client(address, authkey)
        return client


class _Server:
    """The owner's side: a listener on a socket of its own, a thread per connection."""

    def __init__(self, feed: Feed[Any]) -> None:
        self.authkey = secrets.token_bytes(32)
        self._directory = tempfile.mkdtemp(prefix="pypeln-feed-")
        self.address = os.path.join(self._directory, "socket")
        self._listener = Listener(self.address, family="AF_UNIX", authkey=self.authkey)
        self._feed = weakref.ref(feed)
        self._closed = False
        self._accepting = threading.Thread(target=self._accept, name="pypeln feed", daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                connection = self._listener.accept()
            except (OSError, EOFError):  # closed, or a connection that failed the handshake
                continue
            if self._closed:
                connection.close()
                return
            threading.Thread(
                target=self._serve, args=(connection,), name="pypeln feed client", daemon=True
            ).start()

    def _serve(self, connection: Connection) -> None:
        with connection:
            while True:
                try:
                    command, item = connection.recv()
                except (EOFError, OSError):
                    return  # the other process is gone
                feed = self._feed()
                answer: tuple[str, str] | None = None
                try:
                    if feed is None:
                        raise FeedStoppedError("Feed.put(): the feed is gone")
                    if command == "put":
                        feed.put(item)
                    else:
                        feed.close()
                except ValueError as error:
                    answer = ("closed", str(error))
                except FeedStoppedError as error:
                    answer = ("stopped", str(error))
                try:
                    connection.send(answer)
                except OSError:
                    return

    def close(self) -> None:
        """Stop listening (a connection still open ends when its process ends)."""
        if self._closed:
            return
        self._closed = True
        try:  # closing the socket does not wake accept(): a last connection does (it fails
            # the handshake, without waiting for the other side)
            with socket.socket(socket.AF_UNIX) as waking:
                waking.connect(self.address)
        except OSError:
            pass
        self._accepting.join(timeout=5)
        self._listener.close()
        shutil.rmtree(self._directory, ignore_errors=True)


#: Every feed of this process: before a fork, their servers start, so that a forked child
#: that puts into an inherited feed finds its owner.
_live: weakref.WeakSet[Feed[Any]] = weakref.WeakSet()


def _serve_all_before_fork() -> None:
    for feed in list(_live):
        if not feed._closed and os.getpid() == feed._owner:
            feed._serve()


os.register_at_fork(before=_serve_all_before_fork)
