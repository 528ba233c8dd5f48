"""Process-only: large buffers cross process stages through shared memory (zero-copy).

What any backend must do with large buffers is in the contract (``test_results.py``); here
is what the shared-memory transport adds: arrays a consumer keeps stay intact while the
chunks are reused, arrays passed on unchanged are not copied, owner-only permissions,
``$PYPELN_ZERO_COPY``, the pipe when shared memory is full, and ``maxsize`` counting large
items like any other. What it leaves behind after each way of ending is in
``tests/faults/test_large_buffers.py``.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import stat
import threading
from collections.abc import Iterator
from functools import partial
from typing import Any

import numpy as np
import pytest

import pypeln as pl
from pypeln._backends.process.memory import buffers as _shared_buffers
from pypeln._backends.process.pipes import Waiter
from pypeln._backends.remote.pickling import MIN_BUFFER, dumps

MiB = 1024 * 1024
METHODS = ["auto", "forkserver"]


def identity(x: Any) -> Any:
    return x


def filled(count: int, size: int) -> list[np.ndarray]:
    return [np.full(size, index % 251, dtype=np.uint8) for index in range(count)]


def run_directories() -> set[str]:
    return {name for name in os.listdir("/dev/shm") if name.startswith(f"pypeln-{os.getpid()}-")}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("size", [MIN_BUFFER, MiB, 8 * MiB])
def test_kept_results_stay_intact_while_chunks_are_reused(method: str, size: int) -> None:
    # 24 arrays through 2 stages; the consumer keeps them all, so a chunk reused too early
    # would show up as an array holding another's values.
    api = pl.process.using(method)
    count = 24 if size < 8 * MiB else 12
    stage = api.map(identity, filled(count, size), workers=2, maxsize=2)
    kept = list(api.map(identity, stage, workers=2))
    assert sorted(int(array[0]) for array in kept) == list(range(count))
    for array in kept:
        assert array.shape == (size,) and (array == array[0]).all()
        assert array.flags.writeable
    kept[0][:] = 255  # the caller's to change: no other array sees it
    assert all((array != 255).all() for array in kept[1:])


def add_one(array: np.ndarray) -> np.ndarray:
    array += 1
    return array


def tail(array: np.ndarray) -> np.ndarray:
    return array[1000:]  # a contiguous view: passed on without a copy


def test_arrays_passed_on_through_more_stages_than_holder_slots() -> None:
    stage: Any = filled(30, MiB)
    for step in range(_shared_buffers.HOLDERS + 3):  # passed on 7 times, then copied
        stage = pl.process.map(add_one if step % 4 == 0 else identity, stage, maxsize=3)
    stage = pl.process.map(tail, stage)
    results = sorted(stage, key=lambda array: int(array[0]))
    increments = len(range(0, _shared_buffers.HOLDERS + 3, 4))
    assert [int(array[0]) for array in results] == [i + increments for i in range(30)]
    assert all(array.shape == (MiB - 1000,) and (array == array[0]).all() for array in results)


def test_process_and_thread_stages_mixed() -> None:
    stage = pl.process.map(add_one, filled(20, MiB), workers=2)
    stage = pl.thread.map(add_one, stage, workers=2)
    stage = pl.process.map(add_one, stage, workers=2, maxsize=1)
    assert sorted(int(array[0]) for array in stage) == [i + 3 for i in range(20)]


def test_small_and_large_items_in_one_batch() -> None:
    items: list[Any] = []
    for index in range(200):
        items.append(index if index % 3 else (index, np.full(300_000, index % 251, np.uint8)))
    results = list(pl.process.map(identity, items))  # one worker: its order is kept
    assert [item if isinstance(item, int) else item[0] for item in results] == list(range(200))
    assert all((item[1] == item[0] % 251).all() for item in results if isinstance(item, tuple))


def owner_only(array: np.ndarray, parent: int) -> list[int]:
    """The modes of the run's directory and its chunks, seen from a worker."""
    modes = []
    for name in os.listdir("/dev/shm"):
        if name.startswith(f"pypeln-{parent}-"):
            directory = os.path.join("/dev/shm", name)
            modes.append(stat.S_IMODE(os.stat(directory).st_mode))
            modes += [
                stat.S_IMODE(os.stat(f"{directory}/{f}").st_mode) for f in os.listdir(directory)
            ]
    return modes


def test_chunks_are_readable_by_their_owner_only() -> None:
    [modes] = list(pl.process.map(partial(owner_only, parent=os.getpid()), filled(1, MiB)))
    assert modes[0] == 0o700 and len(modes) > 1
    assert set(modes[1:]) == {0o600}
    assert not run_directories()  # removed when the run ended


@pytest.mark.parametrize("value", ["0", "off", "false"])
def test_zero_copy_off_sends_everything_through_the_pipes(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYPELN_ZERO_COPY", value)
    [modes] = list(pl.process.map(partial(owner_only, parent=os.getpid()), filled(1, MiB)))
    assert modes == []  # no directory, no chunk
    results = list(pl.process.map(add_one, filled(5, MiB)))
    assert sorted(int(array[0]) for array in results) == [1, 2, 3, 4, 5]


def test_a_bad_zero_copy_setting_fails_before_any_worker_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYPELN_ZERO_COPY", "maybe")
    with pytest.raises(ValueError, match=r"\$PYPELN_ZERO_COPY must be 1 or 0 .*got 'maybe'"):
        list(pl.process.map(identity, [1]))


def test_without_room_for_chunks_frames_use_the_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    # As when /dev/shm is full: no chunk can be made (fork: the workers inherit the patch).
    monkeypatch.setattr(_shared_buffers.BufferArena, "_make", lambda self, size: None)
    stage = pl.process.using("fork").map(add_one, filled(10, MiB), workers=2)
    assert sorted(int(array[0]) for array in stage) == list(range(1, 11))


def test_maxsize_counts_large_items_like_any_other() -> None:
    # As the contract's test of maxsize, with items that travel through shared memory.
    produced = consumed = 0
    maxsize, workers = 2, 2
    bound = 2 * (2 * maxsize + workers) + 3 * maxsize
    over_bound = threading.Event()

    def source() -> Iterator[np.ndarray]:
        nonlocal produced
        while True:
            produced += 1
            if produced - consumed > bound:
                over_bound.set()
            yield np.zeros(256 * 1024, np.uint8)

    stage = pl.process.map(identity, source(), workers=workers, maxsize=maxsize)
    iterator = iter(pl.process.map(identity, stage, workers=workers, maxsize=maxsize))
    for _ in range(3):
        next(iterator)
        consumed += 1
    assert not over_bound.wait(timeout=0.5), f"{produced - consumed} items in flight > {bound}"
    iterator.close()  # type: ignore[attr-defined]


def test_an_unpicklable_item_beside_large_ones_is_named() -> None:
    items: list[Any] = [np.zeros(MiB, np.uint8), threading.Lock(), np.zeros(MiB, np.uint8)]
    with pytest.raises(pl.SerializationError, match=r"item at index \(1,\) \(lock\)"):
        list(pl.process.map(identity, pl.thread.map(identity, items)))


@pytest.mark.parametrize(
    "view",
    [
        memoryview(np.arange(100_000, dtype=np.int32)),
        memoryview(np.arange(100_000, dtype=np.float64)).toreadonly(),
        memoryview(bytes(range(256)) * 1000)[::3],  # not contiguous: copied into the pickle
        memoryview(np.zeros((300, 400), np.int16)),
        memoryview(np.asfortranarray(np.arange(120_000, dtype=np.int32).reshape(300, 400))),
    ],
    ids=["int32", "readonly float64", "strided", "2-D", "Fortran order"],
)
def test_memoryviews_keep_format_shape_and_read_only(view: memoryview) -> None:
    kept: list[pickle.PickleBuffer] = []
    again = pickle.loads(dumps(view, kept), buffers=kept)
    assert (again.format, again.shape, again.readonly) == (view.format, view.shape, view.readonly)
    assert again.tolist() == view.tolist()
    assert bool(kept) == (view.c_contiguous and view.nbytes >= MIN_BUFFER)


def test_directories_of_runs_whose_processes_are_gone_are_swept(tmp_path: Any) -> None:
    # A run holds a lock on its directory's owner file while any of its processes lives.
    names = ["pypeln-1-stale", "pypeln-2-live", "pypeln-3-no-owner-yet", "other"]
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / "chunk").write_bytes(b"x")
        if "owner" not in name:
            (tmp_path / name / _shared_buffers.OWNER).touch()
    live = os.open(tmp_path / "pypeln-2-live" / _shared_buffers.OWNER, os.O_RDWR)
    try:
        fcntl.flock(live, fcntl.LOCK_EX)
        assert _shared_buffers.sweep_stale_directories(str(tmp_path)) == ["pypeln-1-stale"]
    finally:
        os.close(live)
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(names[1:])


def test_a_running_run_holds_its_directory() -> None:
    [swept] = list(pl.process.map(lambda _: _shared_buffers.sweep_stale_directories(), [1]))
    assert not any(name.startswith(f"pypeln-{os.getpid()}-") for name in swept)


def test_two_threads_of_one_process_never_pass_on_the_same_chunk(tmp_path: Any) -> None:
    # A worker's main thread and a linger thread (or two outboxes) encode at once: only one
    # of them may name a held chunk; the other copies. Arena A stops inside _chunk_for (where
    # it waits for its own chunk) while B encodes the same held array.
    directory = str(tmp_path)
    owner = _shared_buffers.BufferArena(directory, 4, Waiter(None))
    [frame] = owner.encode([((0,), np.full(MiB, 7, np.uint8))])
    [((_,), held)] = _shared_buffers.BufferViews(directory).decode(frame)
    first, second = (_shared_buffers.BufferArena(directory, 4, Waiter(None)) for _ in range(2))
    inside, proceed = threading.Event(), threading.Event()
    making = first._chunk_for

    def stalled(need: int) -> Any:
        inside.set()
        proceed.wait(timeout=10)
        return making(need)

    first._chunk_for = stalled  # type: ignore[method-assign]
    batch = [((0,), held), ((1,), np.zeros(MiB, np.uint8))]
    frames: dict[str, list[bytes]] = {}
    encoding = threading.Thread(target=lambda: frames.update(a=list(first.encode(batch))))
    encoding.start()
    assert inside.wait(timeout=10)
    frames["b"] = list(second.encode(batch))
    proceed.set()
    encoding.join(timeout=10)
    held_chunk = pickle.loads(frame[1:])[0][0][0]  # the name of the chunk `held` lies in
    # A frame names its own chunk first, then the chunks it passes on.
    passes = [chunk for [sent] in frames.values() for chunk in pickle.loads(sent[1:])[0][1:]]
    assert [chunk[0] for chunk in passes] == [held_chunk]


def clobber(array: np.ndarray) -> np.ndarray:
    array[:] = 0  # its own to change
    return array


def untouched(array: np.ndarray) -> bool:
    return bool((array == array[0]).all()) and int(array[0]) > 0


def test_a_stage_feeding_two_stages_shares_its_arrays_with_neither() -> None:
    # Passed on to one reader, an array could be changed under the other's copy.
    shared = pl.process.map(identity, [np.full(MiB, i + 1, np.uint8) for i in range(20)])
    changed = pl.process.map(clobber, shared)
    checked = pl.process.map(untouched, shared)
    results = list(pl.process.concat([pl.process.map(lambda a: True, changed), checked]))
    assert results.count(True) == 40


def test_memoryviews_of_other_formats_are_refused_by_the_sender() -> None:
    big_endian = memoryview(np.arange(100_000, dtype=">i4"))
    with pytest.raises(pl.SerializationError, match="memoryview"):
        list(pl.process.map(identity, [big_endian]))


def test_a_consumer_keeping_more_than_max_chunks_gets_the_pipe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each chunk kept costs descriptors: past MAX_CHUNKS, frames go through the pipe.
    monkeypatch.setattr(_shared_buffers, "MAX_CHUNKS", 3)
    kept = list(pl.process.using("fork").map(add_one, filled(30, MiB), maxsize=2))
    assert sorted(int(array[0]) for array in kept) == list(range(1, 31))
    assert all((array == array[0]).all() for array in kept)


def stuck_at_every_fifth(array: np.ndarray) -> np.ndarray:
    if array[0] % 5 == 4:
        threading.Event().wait(10)  # over the timeout: this worker is replaced
    return array


def chunks_in_use(parent: int) -> int:
    """How many chunks of this process's runs some process still holds or has to read."""
    busy = 0
    for name in os.listdir("/dev/shm"):
        if name.startswith(f"pypeln-{parent}-"):
            directory = os.path.join("/dev/shm", name)
            for chunk in os.listdir(directory):
                try:
                    with open(os.path.join(directory, chunk), "rb") as file:
                        busy += any(file.read(_shared_buffers.HOLDERS))
                except FileNotFoundError:  # removed since the listing: not in use
                    continue
    return busy


def test_a_worker_replaced_after_a_timeout_gives_back_what_it_held() -> None:
    # Each replaced worker held the chunk of the item it was stuck on; the parent clears
    # its slots before its successor starts, so the chunks are reused, not left behind.
    stage = pl.process.map(stuck_at_every_fifth, filled(40, MiB), timeout=0.2, maxsize=2)
    received = 0
    for array in stage:
        received += 1
        if received == 32:  # the last one: 8 were skipped
            del array
            assert chunks_in_use(os.getpid()) <= 3  # in flight at most: not one per timeout
    assert received == 32


def inner_pipeline(_: int) -> list[int]:
    """In a worker: a pipeline of its own, with replaced workers, whose results it keeps."""
    kept = list(pl.process.map(stuck_at_every_fifth, filled(12, MiB), timeout=0.2, maxsize=2))
    return [int(array[0]) for array in kept]


def test_a_pipeline_run_inside_a_worker_keeps_its_holds_apart() -> None:
    # The worker reads its own run's output as that run's parent: the holder id it uses
    # there is not the one of the inner run's worker number 0, which gets replaced.
    [values] = list(pl.process.map(inner_pipeline, [0]))
    assert values == [0, 1, 2, 3, 5, 6, 7, 8, 10, 11]


def test_a_forked_child_starts_with_no_claim_and_nothing_held() -> None:
    # Another thread of the parent may hold the claims lock at the fork.
    with _shared_buffers._claims:
        pid = os.fork()
        if pid == 0:  # the child: exit status 0 only if it could claim at once
            free = _shared_buffers._claims.acquire(timeout=1)
            os._exit(0 if free and not _shared_buffers._held else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_past_the_mapping_budget_frames_are_copied(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each mapping costs a descriptor; a consumer keeping everything stops mapping new ones.
    monkeypatch.setattr(_shared_buffers, "_mapping_budget", lambda: 2)
    before = _shared_buffers._mapped[0]
    kept = list(pl.process.using("fork").map(add_one, filled(30, MiB), workers=2))
    assert sorted(int(array[0]) for array in kept) == list(range(1, 31))
    assert all((array == array[0]).all() and array.flags.writeable for array in kept)
    assert _shared_buffers._mapped[0] - before <= 2


def test_empty_memoryviews() -> None:
    assert [bytes(view) for view in pl.process.map(identity, [memoryview(b"")])] == [b""]
    with pytest.raises(pl.SerializationError, match="memoryview"):
        list(pl.process.map(identity, [memoryview(np.zeros((0, 3)))]))
