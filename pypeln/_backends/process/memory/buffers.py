"""Large buffers between processes through shared memory; only the small rest through pipes.

A batch is pickled with protocol 5. The buffers it exposes out of band (numpy arrays,
``pickle.PickleBuffer``, and here also ``memoryview``) of at least ``MIN_BUFFER`` bytes are
copied into a *chunk*, a file in the run's directory under ``/dev/shm`` that its writer
maps once and reuses; the pipe carries a small frame naming the chunk and where each buffer
lies in it. A pickle whose own bytes are large (``bytes`` and ``bytearray`` stay inside the
pickle) goes into the chunk too, so it does not squeeze through the pipe.

::

    writer (one per producer and channel)           reader (one per process and channel)
    chunk a [S.......|buffers] ──frame: chunk a, ──►  maps chunk a once; rebuilds arrays
    chunk b [........|.......]   slot 0, spans, the   as views of it (no copy): slot 0 holds
          ▲                      rest of the pickle   its id until the last of them is gone
          └──────── free again once every holder slot is back to 0 ───────┘

*Reuse.* Writing into a fresh page of ``/dev/shm`` costs the kernel an allocation and a
zeroed page, which holds the copy to about 1 GB/s; a chunk written before takes it at
memory speed. So the reader does not copy out: pickle gets views of the chunk, all kept
alive through one ctypes object per chunk and frame, whose finalizer gives the chunk back.

*Passing on.* A process that sends on a buffer that lies in a chunk it holds (a stage that
returns the array it got, or a contiguous slice of it) names that chunk again instead of
copying it: it claims the next holder slot for the next reader. A chunk is free when all
its ``HOLDERS`` slots are 0; each slot is written by one process at a time (set by the one
that sends, cleared by the one that holds), so no atomic operation is needed. As between
threads, the stages then share that memory: a stage must not change an array after
returning it. A chunk is passed on once per holder and ``HOLDERS - 1`` times in all;
after that it is copied. A stage whose items go to several stages always copies. A slot
holds the id of the reader end that holds it (``holder_id``), so that the parent can give
back what a worker replaced after a ``timeout`` held (``release_worker``).

*Bounds.* Chunks sent and not yet read are the channel's buffer: a writer keeps at most
``limit`` of them, then waits for its reader, as it would on a full pipe. Chunks readers
hold are their memory: the writer makes new ones while they keep them, up to
``MAX_CHUNKS``, then uses the pipe. Each mapping costs a descriptor (CPython's ``mmap``
keeps one), so a reader past its budget copies chunks out instead of mapping them.

*Ownership.* The parent makes the run's directory (mode 0700, chunks 0600) and removes it
when the run is released, however it ended (end, early exit, error, a killed worker):
nothing stays in ``/dev/shm``. If the parent itself is killed, the first process run of
the next program that uses pypeln removes what it left (``sweep_stale_directories``). A
mapping outlives its unlinked file, so what a consumer kept stays valid.

``PYPELN_ZERO_COPY=0`` turns all this off (every batch is pickled through the pipes); where
``/dev/shm`` is missing, or a chunk cannot be made (it is full), frames go through the pipe.

>>> import numpy as np, tempfile
>>> from pypeln._backends.process.pipes import Waiter
>>> directory = tempfile.mkdtemp(dir="/dev/shm")
>>> arena, views = BufferArena(directory, 4, Waiter(None)), BufferViews(directory)
>>> [frame] = arena.encode([((0,), np.arange(100_000))])
>>> frame[:1], len(frame) < 300
(b'S', True)
>>> [((index,), array)] = views.decode(frame)
>>> int(array.sum()), array.flags.writeable
(4999950000, True)
>>> remove_directory(directory)
"""

from __future__ import annotations

import ctypes
import fcntl
import mmap
import os
import pickle
import resource
import shutil
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ...remote.pickling import PROTOCOL, dumps
from ..pipes import Waiter

#: A pickle (without its out-of-band buffers) at least this large goes into the chunk too.
MIN_INBAND = 1024 * 1024
#: A frame that names chunks starts with this byte; a pickle starts with b"\x80".
SHARED = b"S"
#: Bytes before a chunk's data; the first ``HOLDERS`` are its holder slots.
HEADER = 64
HOLDERS = 8
#: A slot holds NONE, SENT (sent, not yet read) or the id of the process that holds it:
#: PARENT, a worker's id (``holder_id``), or ANONYMOUS (past the ids there are).
NONE, SENT, PARENT, ANONYMOUS = 0, 1, 2, 255
#: Buffers start on this boundary in a chunk (what vector copies and numpy like best).
ALIGN = 64
#: A new chunk is this fraction larger than asked, so a slightly larger item fits it later.
SLACK = 8
#: Chunks a writer has at most; past that, while readers keep them all, frames use the pipe
#: (each chunk mapped costs a descriptor in the writer and in every reader that maps it).
MAX_CHUNKS = 128
#: Large items travel in frames of about this many bytes (one item if it is larger).
FRAME_BYTES = 4 * 1024 * 1024
#: Bytes per second at which a new chunk fills (the kernel allocates and zeroes each page).
FRESH_SPEED = 1e9
#: Mappings a reader keeps open (a writer retires chunks; their names never come back).
MAPPINGS = 64
_FALSE = ("0", "false", "no", "off")
_TRUE = ("", "1", "true", "yes", "on")
_UNUSED = bytes(HOLDERS)


def run_directory() -> str:
    """A new process run's directory for chunks, created now ('' if zero-copy is off).

    Read when a run starts, so ``$PYPELN_ZERO_COPY`` may change between runs. Made by
    the parent, never by a writer: one that is late cannot make it again after the run
    removed it.
    """
    value = os.environ.get("PYPELN_ZERO_COPY", "").strip().lower()
    if value not in _FALSE + _TRUE:
        raise ValueError(
            f"$PYPELN_ZERO_COPY must be 1 or 0 (also true/false, yes/no, on/off), got {value!r}"
        )
    if value in _FALSE or not os.path.isdir("/dev/shm"):
        return ""
    if not _swept:
        _swept.append(True)
        sweep_stale_directories()
    name = f"pypeln-{os.getpid()}-{os.urandom(6).hex()}"
    directory, making = os.path.join("/dev/shm", name), os.path.join("/dev/shm", f".{name}")
    owner = -1
    try:
        os.mkdir(making, 0o700)  # owner only, whatever the umask allows besides
        owner = os.open(os.path.join(making, OWNER), os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        fcntl.flock(owner, fcntl.LOCK_EX)  # held while the run (or a forked worker) lives
        os.rename(making, directory)  # a sweep sees it only now, locked
    except OSError:
        if owner >= 0:
            os.close(owner)
        remove_directory(making)
        return ""
    _owners[directory] = owner
    return directory


#: A run's directory holds this file, locked by its run: a sweep finding it unlocked knows
#: the run's processes are all gone (unlike a pid, this holds across pid namespaces).
OWNER = ".owner"
_owners: dict[str, int] = {}  # the lock's descriptor, by directory
_swept: list[bool] = []  # once per process


def sweep_stale_directories(root: str = "/dev/shm") -> list[str]:
    """Remove the run directories whose runs are gone (their process was killed before it
    could clean up); return their names. Only this user's, and only those whose owner file
    is unlocked: a directory still being made, or in use, stays."""
    removed = []
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if not name.startswith("pypeln-"):
            continue
        try:
            if os.lstat(path).st_uid != os.getuid():
                continue
            owner = os.open(os.path.join(path, OWNER), os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a live run holds it
        finally:
            os.close(owner)
        remove_directory(path)
        removed.append(name)
    return removed


def remove_directory(directory: str) -> None:
    """Remove a run's chunks (mappings stay valid: the memory goes with the last one)."""
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        owner = _owners.pop(directory, None)
        if owner is not None:
            os.close(owner)


def holder_id(worker: int) -> int:
    """The holder id of the run's worker number ``worker`` (its entry in the counters)."""
    return 3 + worker if worker < ANONYMOUS - 3 else ANONYMOUS


def release_worker(directory: str, worker: int, pid: int) -> None:
    """After worker number ``worker`` (process ``pid``) died, give back what it held.

    Its slots in every chunk are cleared (it cannot clear them itself now, and its
    successor, with the same id, does not start before this), and its own chunks that no
    reader holds any more are removed (no writer will use them again). Other chunks it
    wrote stay until their readers let go, then go with the run's directory.
    """
    mine, dead = f"{pid}-", holder_id(worker)
    if not directory or dead == ANONYMOUS:
        return
    try:
        names = os.listdir(directory)
    except OSError:
        return  # what it held stays held until the run ends
    for name in names:
        if name == OWNER:
            continue
        path = os.path.join(directory, name)
        try:
            fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            header = bytearray(os.pread(fd, HOLDERS, 0))
            for slot, holder in enumerate(header):
                if holder == dead:
                    os.pwrite(fd, bytes([NONE]), slot)  # the same pages as every mapping
                    header[slot] = NONE
            if name.startswith(mine) and header == _UNUSED:
                os.ftruncate(fd, 0)  # the memory now, even while readers still map it
                _unlink(path)
        finally:
            os.close(fd)


def chunk_limit(maxsize: int) -> int:
    """Unread chunks a writer may have: a bounded channel lets ``maxsize`` items wait."""
    return maxsize + 4 if maxsize else 8


# -- what a process holds, and may pass on ------------------------------------------------------


@dataclass(eq=False)
class _Held:
    """A chunk this process read from, while objects built on it are alive."""

    directory: str  # of its run: a chunk is passed on within its run only
    name: str
    size: int
    slot: int
    memory: mmap.mmap
    start: int  # the address of its data in this process
    passed: bool = False  # named in a frame of this process already

    def contains(self, address: int, length: int) -> bool:
        return self.start <= address and address + length <= self.start + self.size - HEADER


# By id; an entry leaves with the last object built on its chunk. No lock: a finalizer may
# run inside any allocation, even one made while this is read (hence the copy in
# ``_holding``); single dict operations are atomic.
_held: dict[int, _Held] = {}


def _holding(buffer: memoryview, directory: str) -> tuple[_Held, int] | None:
    """The held chunk of run ``directory`` that ``buffer`` lies in, and its offset there
    (None: it lies elsewhere)."""
    if not _held or buffer.readonly:  # ctypes finds the address of writable memory only
        return None
    address = ctypes.addressof(ctypes.c_char.from_buffer(buffer))
    for held in list(_held.values()):
        if held.directory == directory and held.contains(address, buffer.nbytes):
            return held, address - held.start
    return None


def _let_go(memory: mmap.mmap, slot: int, key: int) -> None:
    _held.pop(key, None)  # first: once the slot is clear the chunk may come back reused
    memory[slot] = NONE


#: A worker's threads (its main one, its linger threads, one per outbox) encode at once;
#: deciding to pass a chunk on and claiming its slot must be one step among them.
_claims = threading.Lock()


# -- writing -----------------------------------------------------------------------------------


@dataclass
class _Part:
    """Items and their pickle, with the buffers kept out of it."""

    items: list[Any]
    payload: bytes
    buffers: list[pickle.PickleBuffer]


def _size(part: _Part) -> int:
    return len(part.payload) + sum(buffer.raw().nbytes for buffer in part.buffers)


def _groups(parts: list[_Part]) -> list[list[_Part]]:
    """Consecutive parts in groups of about ``FRAME_BYTES``."""
    groups: list[list[_Part]] = []
    filled = FRAME_BYTES
    for part in parts:
        size = _size(part)
        if filled + size > FRAME_BYTES:
            groups.append([])
            filled = 0
        groups[-1].append(part)
        filled += size
    return groups


@dataclass
class _Chunk:
    name: str
    size: int
    memory: mmap.mmap
    view: memoryview

    @property
    def free(self) -> bool:
        return self.view[:HOLDERS] == _UNUSED

    @property
    def unread(self) -> bool:
        return SENT in self.view[:HOLDERS]


@dataclass
class _Layout:
    """Where a frame's buffers are: chunks it names (0: the writer's own) and copies to make."""

    chunks: list[Any] = field(default_factory=lambda: [None])  # (name, size, slot) or None
    parts: list[tuple[Any, list[tuple[int, int, int]]]] = field(default_factory=list)
    copies: list[tuple[int, Any]] = field(default_factory=list)  # into the own chunk
    passes: dict[int, tuple[_Held, int]] = field(default_factory=dict)  # by id(held)
    end: int = 0  # bytes used in the own chunk

    def place(self, data: Any, length: int) -> tuple[int, int, int]:
        span = (0, self.end, length)
        self.copies.append((self.end, data))
        self.end = -(-(self.end + length) // ALIGN) * ALIGN
        return span

    def may_pass(self, held: _Held) -> bool:
        """Whether ``held`` can be passed on in this frame (under ``_claims``)."""
        if id(held) in self.passes:
            return True  # claimed for this frame already
        return not held.passed and held.slot + 1 < HOLDERS

    def pass_on(self, held: _Held, offset: int, length: int) -> tuple[int, int, int]:
        """Claim ``held``'s next slot for this frame's reader (under ``_claims``)."""
        if id(held) not in self.passes:
            held.passed = True
            held.memory[held.slot + 1] = SENT
            self.passes[id(held)] = (held, len(self.chunks))
            self.chunks.append((held.name, held.size, held.slot + 1))
        return (self.passes[id(held)][1], offset, length)

    def unclaim(self) -> None:
        """Give the claimed slots back: the frame goes through the pipe after all."""
        with _claims:
            for held, _ in self.passes.values():
                held.memory[held.slot + 1] = NONE
                held.passed = False


class BufferArena:
    """One writer's chunks, and the encoding of its batches (see the module docstring).

    Used by one thread at a time (the writer's lock).
    """

    def __init__(self, directory: str, limit: int, waiter: Waiter, pass_on: bool = True) -> None:
        self._directory = directory
        self._pass_on = pass_on  # False: copy always (a stage whose items go to several)
        self._limit = max(1, limit)
        self._waiter = waiter
        self._chunks: list[_Chunk] = []
        self._prefix = f"{os.getpid()}-{os.urandom(4).hex()}"
        self._made = 0
        self._waited = 0.0  # seconds waited for held chunks since the last one was made
        self._patient = True  # False: readers kept the chunks last made; make, don't wait

    def encode(self, batch: list[Any], main_by_value: bool = False) -> Iterator[bytes]:
        """``batch`` as frames: pickles, or ``SHARED`` and where chunks hold the rest.

        Large items go in frames of about ``FRAME_BYTES`` (one item if larger), so that
        chunks come in the size of the items and are reused as they come back. The batch
        is pickled now (errors are raised here); each frame takes its chunk only when the
        one before it was sent, as a reader must see it to give a chunk back.
        """
        buffers: list[pickle.PickleBuffer] = []
        payload = dumps(batch, buffers, main_by_value=main_by_value)
        if not buffers and len(payload) < MIN_INBAND:
            return iter([payload])
        whole = _Part(batch, payload, buffers)
        if len(batch) == 1 or _size(whole) <= FRAME_BYTES:
            parts = [whole]
        else:  # pickled again item by item: cheap, the buffers are not copied
            parts = []
            for item in batch:
                kept: list[pickle.PickleBuffer] = []
                parts.append(_Part([item], dumps([item], kept, main_by_value=main_by_value), kept))
        return (self._frame(group, main_by_value) for group in _groups(parts))

    def _frame(self, parts: list[_Part], main_by_value: bool) -> bytes:
        """One frame for ``parts``: through chunks if it can, else a plain pickle."""
        layout = _Layout()
        with _claims:
            for part in parts:
                spans = []
                for buffer in part.buffers:
                    raw = buffer.raw()
                    holding = _holding(raw, self._directory) if self._pass_on else None
                    if holding is not None and layout.may_pass(holding[0]):
                        spans.append(layout.pass_on(holding[0], holding[1], raw.nbytes))
                    else:
                        spans.append(layout.place(raw, raw.nbytes))
                inband: Any = part.payload
                if len(inband) >= MIN_INBAND:
                    inband = layout.place(inband, len(inband))
                layout.parts.append((inband, spans))
        own = None
        if layout.copies:
            own = self._chunk_for(HEADER + layout.end)
            if own is None:
                layout.unclaim()
                return dumps(
                    [item for part in parts for item in part.items], main_by_value=main_by_value
                )
            for offset, data in layout.copies:
                own.view[HEADER + offset : HEADER + offset + len(data)] = data
            layout.chunks[0] = (own.name, own.size, 0)
        if own is not None:
            own.view[0] = SENT  # the first reader's now, until it sets the slot back to 0
        return SHARED + pickle.dumps((layout.chunks, layout.parts), PROTOCOL)

    def _chunk_for(self, need: int) -> _Chunk | None:
        """A free chunk that fits ``need`` bytes, made if need be (None: use the pipe).

        At ``limit`` unread chunks it waits for the reader. While readers hold the others
        it waits for one to come back, until its waits since it last made one add up to
        what making one takes (fresh pages of ``/dev/shm`` fill at about ``FRESH_SPEED``);
        then it makes one, and makes more without waiting until one comes back (readers
        that keep what they get must not cost a wait per item).
        """
        budget = need / FRESH_SPEED
        delay = 0.0001
        while True:
            free = [chunk for chunk in self._chunks if chunk.free]
            fits = [chunk for chunk in free if chunk.size >= need]
            if fits:
                self._patient = True
                for chunk in sorted(free, key=lambda chunk: chunk.size)[self._limit :]:
                    self._retire(chunk)  # after readers let go of many at once
                return min(fits, key=lambda chunk: chunk.size)
            if free:  # all too small: make room for a bigger one
                self._retire(min(free, key=lambda chunk: chunk.size))
                continue
            held = sum(not chunk.unread for chunk in self._chunks)
            unread = len(self._chunks) - held
            if unread < self._limit and len(self._chunks) >= MAX_CHUNKS:
                return None  # readers keep them all: the pipe, rather than more descriptors
            if unread < self._limit and (not held or not self._patient or self._waited >= budget):
                self._waited, self._patient = 0.0, False
                return self._make(need + need // SLACK)
            self._waiter.check()  # the run may be stopping
            time.sleep(delay)  # chunks come back from other processes: nothing to wait on
            if unread < self._limit:
                self._waited += delay
            delay = min(2 * delay, 0.005)

    def _make(self, size: int) -> _Chunk | None:
        size = -(-size // mmap.PAGESIZE) * mmap.PAGESIZE
        name = f"{self._prefix}-{self._made}"
        self._made += 1
        path = os.path.join(self._directory, name)
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(path, flags, 0o600)
        except OSError:
            return None
        try:
            os.posix_fallocate(fd, 0, size)  # ENOSPC now, not SIGBUS on a later write
            memory = mmap.mmap(fd, size)
        except OSError:
            _unlink(path)
            return None
        finally:
            os.close(fd)
        chunk = _Chunk(name, size, memory, memoryview(memory))
        self._chunks.append(chunk)
        return chunk

    def _retire(self, chunk: _Chunk) -> None:
        """Give a free chunk's memory back now (a reader may still map it, never to read)."""
        self._chunks.remove(chunk)
        path = os.path.join(self._directory, chunk.name)
        try:
            os.truncate(path, 0)
        except OSError:
            pass
        _unlink(path)
        chunk.view.release()
        chunk.memory.close()

    def close(self) -> None:
        """Retire the free chunks; the others go with the run's directory."""
        for chunk in [chunk for chunk in self._chunks if chunk.free]:
            self._retire(chunk)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


# -- reading -----------------------------------------------------------------------------------


class BufferViews:
    """One reader's mappings of the chunks it receives, and the decoding of frames.

    ``holder`` is the id its holds carry: ``PARENT`` for a run's consumer (a worker that
    runs a pipeline of its own is that run's parent), ``holder_id(n)`` for worker ``n``.
    """

    def __init__(self, directory: str, holder: int = PARENT) -> None:
        self._directory = directory
        self._holder = holder
        self._mappings: OrderedDict[str, mmap.mmap] = OrderedDict()

    def decode(self, frame: bytes | bytearray) -> list[Any]:
        """The batch in ``frame`` (see ``BufferArena.encode``)."""
        if frame[:1] != SHARED:
            loaded: list[Any] = pickle.loads(frame)
            return loaded
        chunks, parts = pickle.loads(memoryview(frame)[1:])
        views = [memoryview(b"") if chunk is None else self._hold(*chunk) for chunk in chunks]
        batch: list[Any] = []
        for inband, spans in parts:
            buffers = [views[index][start : start + length] for index, start, length in spans]
            if isinstance(inband, tuple):
                index, start, length = inband
                inband = views[index][start : start + length]
            batch += pickle.loads(inband, buffers=buffers)
        return batch

    def _hold(self, name: str, size: int, slot: int) -> memoryview:
        """A view of chunk ``name``'s data, whose last dependant gives ``slot`` back; or,
        when this process maps too many chunks already, a copy of it."""
        if name not in self._mappings and _mapped[0] >= _mapping_budget():
            return self._copy(name, size, slot)
        memory = self._mapping(name, size)
        memory[slot] = self._holder
        # Every view of the chunk (and whatever numpy or memoryview builds on them) keeps
        # this one object alive, so its finalizer runs when the last of them is gone.
        region = (ctypes.c_ubyte * (size - HEADER)).from_buffer(memory, HEADER)
        held = _Held(self._directory, name, size, slot, memory, ctypes.addressof(region))
        _held[id(held)] = held
        weakref.finalize(region, _let_go, memory, slot, id(held)).atexit = False
        return memoryview(region).cast("B")

    def _copy(self, name: str, size: int, slot: int) -> memoryview:
        """Chunk ``name``'s data copied out, the chunk given back at once."""
        memory = self._open(name, size)
        try:
            with memoryview(memory) as view:
                data = bytearray(view[HEADER:])
            memory[slot] = NONE
        finally:
            memory.close()
        return memoryview(data)

    def _open(self, name: str, size: int) -> mmap.mmap:
        path = os.path.join(self._directory, name)
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            memory = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        return memory

    def _mapping(self, name: str, size: int) -> mmap.mmap:
        memory = self._mappings.get(name)
        if memory is not None:
            self._mappings.move_to_end(name)
            return memory
        memory = self._open(name, size)
        _mapped[0] += 1
        weakref.finalize(memory, _unmapped).atexit = False
        self._mappings[name] = memory
        if len(self._mappings) > MAPPINGS:  # still-used mappings live on in their views
            self._mappings.popitem(last=False)
        return memory


# CPython's mmap keeps a descriptor per mapping: a consumer that keeps what it gets from
# many producers could run out. Past a quarter of the descriptor limit, frames are copied.
_mapped = [0]  # chunks this process maps (cached, or kept alive by what was built on them)


def _unmapped() -> None:
    _mapped[0] -= 1


def _mapping_budget() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(MAPPINGS, soft // 4) if soft != resource.RLIM_INFINITY else 1 << 20


def _after_fork_in_child() -> None:
    """A forked worker starts with no claims in progress and holds nothing of its parent's
    (the lock may have been held by another thread of the parent at the fork)."""
    global _claims
    _claims = threading.Lock()
    _held.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
