"""What only the ray backend has: its cluster, its actors, its resources, its large values.

The contract, fault and property suites run on ray through the registry; here: which
cluster a run uses (the program's own, one it names, the embedded one, bound to 127.0.0.1
only), that no actor of a run outlives it by Ray's own record, a dead actor, a plan the
cluster cannot place, arrays through the object store, and the missing extra.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import ray

import pypeln as pl
from tests.leaks import descendants, live_actors
from tests.shared import ctrl_c_when

ROOT = Path(__file__).resolve().parents[3]


def run_script(code: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    """Run ``code`` as a script of its own (no main guard); its standard output. Its
    environment is this one's as the user had it: without the ``RAY_AUTH_MODE`` that the
    session's own cluster set here."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    if "RAY_AUTH_MODE" not in (env or {}):
        environment.pop("RAY_AUTH_MODE", None)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=environment,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def listening_addresses(pids: set[int]) -> set[str]:
    """The addresses TCP sockets of processes ``pids`` listen on (from /proc)."""
    inodes: set[str] = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:
            continue
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
                    addresses.add(_address(fields[1]))
    return addresses


def _address(hex_address: str) -> str:
    host, _, _port = hex_address.partition(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


def test_the_embedded_cluster_listens_on_loopback_only() -> None:
    list(pl.ray.map(abs, [-1]))  # the session's cluster runs
    ray_pids = {pid for pid, what in descendants().items() if "ray" in what or "gcs" in what}
    addresses = listening_addresses(ray_pids | {os.getpid()})
    assert addresses, "no listening socket found"
    loopback = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}
    assert addresses <= loopback, addresses


def test_a_program_that_started_ray_runs_on_its_own_cluster() -> None:
    out = run_script(
        """
        import logging, ray
        ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.ERROR)
        before = ray.get_runtime_context().gcs_address
        import pypeln as pl
        print(sorted(pl.ray.map(abs, [-1, 2], workers=2)))
        print(ray.get_runtime_context().gcs_address == before)
        """,
        env={"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"},
    )
    assert out.split() == ["[1,", "2]", "True"]


def test_a_first_run_from_another_backends_thread_leaves_ray_working() -> None:
    # The first ray run of this script starts inside a thread run (a source thread of
    # pl.thread reads the ray stage), and that thread ends with the run: the next ray runs
    # must not wait forever on a connection made in a thread that is gone.
    out = run_script(
        """
        import faulthandler
        faulthandler.dump_traceback_later(90, exit=True)
        import pypeln as pl
        inner = pl.ray.map(lambda x: -x, range(3), workers=2)
        print(sorted(pl.thread.concat([inner, pl.thread.map(abs, range(2))])))
        print(sorted(pl.ray.map(abs, [-1, 2])))
        """,
        env={"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"},
    )
    assert out.split("\n")[:2] == ["[-2, -1, 0, 0, 1]", "[1, 2]"]


@pytest.fixture
def head() -> Iterator[str]:
    """A Ray cluster started with ``ray start --head`` on 127.0.0.1, stopped after the test."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ray_cli = str(Path(sys.executable).with_name("ray"))
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    command = [ray_cli, "start", "--head", "--block", "--node-ip-address=127.0.0.1"]
    command += [f"--port={port}", "--include-dashboard=false", "--num-cpus=1"]
    command += ["--disable-usage-stats"]
    started = subprocess.Popen(
        command, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        address = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the head is up once its GCS port answers
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert started.poll() is None, started.stderr.read() if started.stderr else ""
                time.sleep(0.2)
        yield address
    finally:
        # `ray start` drains the node and stops its processes (a second or two); a signal to
        # all of them at once would stop its GCS first, and it would wait 30 s for it.
        started.terminate()
        started.wait(timeout=60)
        with contextlib.suppress(ProcessLookupError):  # anything it left behind
            os.killpg(started.pid, signal.SIGKILL)
        # What `ray stop` would remove (it would stop every Ray of the machine, though).
        current = Path("/tmp/ray/ray_current_cluster")
        if current.exists() and current.read_text().strip() == address:
            current.unlink()


def test_ray_address_joins_a_running_cluster(head: str) -> None:
    out = run_script(
        """
        import pypeln as pl, ray
        print(sorted(pl.ray.map(abs, [-3, 4])))
        print(ray.get_runtime_context().gcs_address)
        """,
        env={"RAY_ADDRESS": head},
    )
    lines = out.splitlines()
    assert lines[0] == "[3, 4]" and lines[1] == head


def test_a_plan_the_cluster_cannot_place_fails_at_once() -> None:
    huge = pl.ray.using(num_cpus=1000)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"stage 'map\(abs\)' cannot be placed.*1000 CPU"):
        list(huge.map(abs, [1, 2]))
    assert time.monotonic() - started < 10
    assert not live_actors()


def die_or_hang(x: int) -> int:
    if x == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Event().wait()  # the other worker never finishes: only the crash ends the run
    return x


def test_an_actor_that_dies_is_a_crash_named_after_its_stage() -> None:
    # As soon as Ray reports the death: not when the stage's other worker is done (never).
    crash = r"stage 'map\(die_or_hang\)': worker \d died"
    with pytest.raises(pl.WorkerCrashedError, match=crash):
        list(pl.ray.map(die_or_hang, range(2), workers=2, maxsize=1))
    assert not live_actors()


def slow(x: int) -> int:
    time.sleep(0.01)
    return x


def test_leaving_early_kills_every_actor_of_the_run() -> None:
    stage = pl.ray.map(slow, range(10_000), workers=3)
    for _ in stage:
        break
    assert not live_actors()  # as Ray records them, once the loop is left


def test_large_arrays_travel_through_the_object_store() -> None:
    arrays = (np.full(1 << 20, index, dtype=np.float64) for index in range(6))  # 8 MiB each
    stage = pl.ray.map(lambda a: a + 1, arrays, workers=2)
    stage = pl.ray.map(lambda a: a * 2, stage)
    totals = sorted(float(array[0]) for array in stage)
    assert totals == [2.0 * (index + 1) for index in range(6)]


def test_ray_mixes_with_other_backends_both_ways() -> None:
    stage = pl.thread.map(lambda x: x + 1, range(20), workers=2)
    stage = pl.ray.map(lambda x: x * 10, stage, workers=2)

    async def halve(x: int) -> int:
        return x // 2

    stage = pl.task.map(halve, stage, workers=3)
    assert sorted(stage) == [5 * (x + 1) for x in range(20)]
    assert sorted(pl.process.map(abs, pl.ray.map(lambda x: -x, range(5)))) == list(range(5))

    async def read() -> list[Any]:
        return [x async for x in pl.ray.map(abs, [-1, -2])]

    import asyncio

    assert sorted(asyncio.run(read())) == [1, 2]


def test_without_ray_the_error_names_the_extra() -> None:
    out = run_script(
        """
        import sys
        sys.modules["ray"] = None  # as if it were not installed
        import pypeln as pl
        print(sorted(pl.thread.map(abs, [-1])))
        try:
            pl.ray
        except ImportError as error:
            print(error)
        """
    )
    assert "[1]" in out and "pip install 'pypeln[ray]'" in out


def test_ray_is_left_as_it_was() -> None:
    assert ray.is_initialized()  # the session's cluster, which the suite shares


def test_keyboard_interrupt_kills_every_actor_of_the_run(manager: Any) -> None:
    busy = manager.Barrier(4, timeout=30)  # three actors inside f, and the interrupter

    def wait_forever(x: int) -> int:
        busy.wait()
        threading.Event().wait()
        return x

    with pytest.raises(KeyboardInterrupt), ctrl_c_when(busy.wait):  # the consumer waits on a lock
        for _ in pl.ray.map(wait_forever, range(100), workers=3, maxsize=2):
            pass
    assert not live_actors()


def test_the_script_s_classes_cross_ray_inside_containers_and_come_back_as_themselves() -> None:
    out = run_script(
        """
        import pypeln as pl

        class Point:
            def __init__(self, x):
                self.x = x

        def moved(pair):
            index, point = pair
            assert isinstance(point, Point), type(point)
            return index, Point(point.x + 1)

        stage = pl.ray.map(moved, [(0, Point(1)), (1, Point(2))])
        results = sorted(pl.ray.map(moved, stage), key=lambda pair: pair[0])
        print([type(point) is Point for _, point in results], [p.x for _, p in results])
        """
    )
    assert out.split("\n")[0] == "[True, True] [3, 4]"


def test_a_result_that_cannot_be_pickled_names_its_stage_and_element() -> None:
    def lock(x: int) -> Any:
        return threading.Lock() if x == 2 else x

    with pytest.raises(pl.SerializationError, match=r"stage 'map\(lock\)' at index \(2,\)"):
        list(pl.ray.map(lock, range(4)))
    assert not live_actors()


def test_a_second_cluster_in_one_program_is_refused() -> None:
    with pytest.raises(RuntimeError, match=r"address='127\.0\.0\.1:1'.*one cluster"):
        list(pl.ray.using(address="127.0.0.1:1").map(abs, [1]))


def cpus_asked(x: int) -> tuple[int, float]:
    return x, ray.get_runtime_context().get_assigned_resources().get("CPU", 0.0)


def test_stages_of_different_using_options_run_together_each_with_its_own() -> None:
    from pypeln._pipeline.plan import compile_plan

    light = pl.ray.using(num_cpus=0.5)
    stage = light.map(cpus_asked, pl.ray.map(abs, [-1, -2]))
    # one run: the default stage is a stage of it, not a source read from another run
    assert [node.stage is not None for node in compile_plan(stage, stage.backend, 0).nodes] == [
        False,
        True,
        True,
    ]
    assert sorted(stage) == [(1, 0.5), (2, 0.5)]
    assert sorted(pl.ray.map(cpus_asked, light.map(abs, [-3]))) == [(3, 0.0)]


def test_any_number_of_callers_may_wait_for_a_namespace_lock() -> None:
    ns = pl.ray.Namespace(count=0)
    start = threading.Barrier(100, timeout=30)

    def add() -> None:
        start.wait()
        with ns:
            ns.count += 1

    threads = [threading.Thread(target=add) for _ in range(100)]  # more than a thread each
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert ns.count == 100
