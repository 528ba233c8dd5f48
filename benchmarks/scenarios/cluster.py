"""The Ray cluster backend: ``pl.ray`` against hand-written Ray programs.

* ``ray-trivial``: ``map(x+1) -> filter(x%2==0) -> map(x*2)`` on ``pl.ray`` (``workers=1``,
  ``maxsize=0``), against the same three functions on a hand-written chain of three Ray
  actors fed batches of the size pl.ray sends (``RAY_BATCH``), each call's reference passed to
  the next actor, a few batches in flight (``ray.wait``). Both create and kill their actors in
  every run; the rate after the first result, which leaves that out, is what the target
  reads.
* ``ray-payload``: 8 MiB ``numpy.uint8`` arrays through two ``pl.ray`` identity stages
  (``workers=1``), against Ray's own two-actor chain: ``ray.put`` by the driver, the
  reference to actor A, A's reference to actor B, B's result read with ``ray.get``.
* ``ray-cpu``: ``spin`` (~1 ms of pure Python per item, as in ``process-cpu``) through
  ``pl.ray.map`` with ``workers=N`` against ``workers=1``; ``Pool(N).map`` shows what the
  machine allows in that run.
* ``ray-startup``: fresh interpreters (``python -c``) that import pypeln and run five 1-item
  ``pl.ray`` pipelines: with an embedded cluster (the first run starts it; it ends with the
  interpreter), and joining a cluster that ``ray start --head`` runs (``RAY_ADDRESS``).

The first three run in this process, on the cluster the scenario starts (untimed, by a 1-item
pipeline, as a pypeln program starts it) and shuts down at its end: an embedded one, or the
one ``$RAY_ADDRESS`` names. Ray leaves threads in this process, so these scenarios come last:
``pl.process``'s default start method forks only in a single-threaded process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pypeln as pl

from ..guard import guarded
from ..measure import Contender, Outcome, Timing, equals, measure, same_items
from ..options import Options
from ..peers import (
    copyto,
    generator_chain,
    missing,
    pool_spin,
    ray_actor_chain,
    ray_module,
    ray_ref_chain,
)
from ..results import BASELINE, PEER, PYPELN, Row, ScenarioResult, metric, rate, wall
from ..targets import RAY_PAYLOAD_MIB, ray_scaling_target
from ..workloads import (
    calibrate_spin,
    double,
    identity,
    inc,
    is_even,
    niceness,
    spin,
    time_spin,
)
from .common import FORKSERVER
from .payload import consume, make_items
from .scaling import add_pool_ceiling, cores

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_TIMEOUT = 120.0  # seconds for the untimed first run that starts the cluster
# pl.ray's batches of the trivial pipeline: "as many items as are queued, up to 4096" (MAX_BATCH
# in pypeln/_backends/common/batching.py). Counted on this machine (by wrapping the driver's
# hand-off) over 100,000 ints: 55 of the 68 batches sent to actors had 4,096 items, the first
# stage's all but its first few; the third stage gets the filter's halves, 2,048.
RAY_BATCH = 4096
# Batches the hand-written chain keeps submitted and not yet read: a batch at each of the three
# actors and one more, so that no actor waits for the driver. (pl.ray keeps up to 3 per
# single-worker stage: the one in work and IN_FLIGHT = 2 queued.)
RAY_IN_FLIGHT = 4
AUTH_MODE = "RAY_AUTH_MODE"  # "token": Ray's clients and clusters use token authentication
FIRST, REST = "first", "rest"  # metrics: seconds to the first result, and after it
AFTER = ": after the first result"  # the rows of the rate after it
SAME_SPAN = "same span"  # their ratio is to the baseline's rate after its first result


def lacks_ray(result: ScenarioResult) -> bool:
    """Whether Ray is missing; if so ``result`` gets a note saying so."""
    why = missing("ray", "ray")
    if why is None:
        return False
    result.notes.append(f"not measured: {why}")
    return True


@contextmanager
def ray_cluster(result: ScenarioResult) -> Iterator[None]:
    """The cluster of this scenario's runs, started as a pypeln program starts it: by a first
    pipeline (untimed). A cluster started here is shut down at the end; ``$RAY_ADDRESS``, if
    set, names one to join instead."""
    ray = ray_module()
    ours = not ray.is_initialized()
    auth_mode = os.environ.get(AUTH_MODE)  # ray.init of a cluster of its own may set it
    begin = time.perf_counter()
    try:
        with guarded(CLUSTER_TIMEOUT):
            [nice] = pl.ray.map(niceness, [0])
        seconds = time.perf_counter() - begin
        address = os.environ.get("RAY_ADDRESS")
        where = f"the cluster at RAY_ADDRESS={address}" if address else "an embedded cluster"
        cpus = ray.cluster_resources().get("CPU", 0)
        result.notes.append(
            f"Ray {ray.__version__}, {where} ({cpus:g} CPUs), joined or started by a 1-item "
            f"pl.ray run in {seconds:.1f} s before timing; every run creates and kills its "
            f"actors. Ray runs its workers at niceness {nice} (this process: {os.nice(0)}): "
            "on a machine busy with other work they get less of the CPU than the peers "
            "that are not Ray's"
        )
        yield
    finally:
        if ours:
            ray.shutdown()
        if auth_mode is None:
            os.environ.pop(AUTH_MODE, None)
        else:
            os.environ[AUTH_MODE] = auth_mode


def timed(iterable: Iterable[Any]) -> Outcome:
    """Read ``iterable`` into a list: the whole time, and ``first`` (to its first item) and
    ``rest`` (from there) as metrics. The caller makes ``iterable`` just before: pypeln
    starts a run at the first ``next()``."""
    begin = time.perf_counter()
    output = []
    first = None
    for item in iterable:
        first = first or time.perf_counter()
        output.append(item)
    end = time.perf_counter()
    first = first or end
    return Outcome(output, end - begin, {FIRST: first - begin, REST: end - first})


def first_notes(result: ScenarioResult, timings: dict[str, Timing]) -> None:
    """A note per contender that timed its first result: how long until it came."""
    parts = [
        f"{name} {timing.metric(FIRST):.2f} s"
        for name, timing in timings.items()
        if timing.ok and FIRST in timing.metrics
    ]
    if parts:
        result.notes.append("median time to the first result (actors started): " + "; ".join(parts))


# -- ray-trivial ------------------------------------------------------------------------------

RAY_TRIVIAL_N = (500_000, 50_000)
HAND_CHAIN = "Ray actors x3 (hand-written)"


def ray_pipeline(n: int) -> Outcome:
    """The trivial pipeline on ``pl.ray``, ``workers=1`` and ``maxsize=0`` on every stage."""
    stage = pl.ray.map(inc, range(n), workers=1, maxsize=0)
    stage = pl.ray.filter(is_even, stage, workers=1, maxsize=0)
    stage = pl.ray.map(double, stage, workers=1, maxsize=0)
    return timed(stage)


def rest_rate(n: int) -> Callable[[Timing], float]:
    """Elements/s after the first result: ``n`` over the time from the first result to the end
    (a little high: the items of the first batch were done before)."""
    return lambda timing: n / timing.metric(REST)


def split_rows(
    result: ScenarioResult, kinds: dict[str, str], timings: dict[str, Timing], n: int
) -> dict[str, Row]:
    """Two rows per contender of ``kinds`` (name -> kind, the baseline first): its rate over
    the whole run, and after its first result; each relative to the baseline's same figure.
    The rows, by name."""
    rows: dict[str, Row] = {}
    for span, value in (("", rate(n)), (AFTER, rest_rate(n))):
        base = None
        for name, kind in kinds.items():
            row = Row.of(name + span, kind, "elements/s", timings[name], value)
            base = base or row
            result.rows.append(row.relate(base.value, SAME_SPAN if span else None))
            rows[row.contender] = row
    return rows


def ray_trivial(options: Options) -> ScenarioResult:
    n = options.elements(*RAY_TRIVIAL_N)
    result = ScenarioResult(
        name="ray-trivial",
        title="ray-trivial: map(x+1) -> filter(x%2==0) -> map(x*2) on pl.ray, workers=1, "
        "maxsize=0, against three hand-written Ray actors",
        baseline=HAND_CHAIN,
        ratio_meaning=f"elements/s relative to a hand-written chain of three Ray actors over "
        f"the same n in the same run: batches of {RAY_BATCH:,} ints, each call's reference "
        f"passed to the next actor, {RAY_IN_FLIGHT} batches in flight; both start and kill "
        "their actors in every run. The 'after the first result' rows (the target's) leave "
        "out starting the actors: n over the time from the first result to the last",
    )
    if lacks_ray(result):
        return result
    check = same_items(generator_chain(n))
    contenders = [
        Contender(HAND_CHAIN, partial(ray_actor_chain, n, RAY_BATCH, RAY_IN_FLIGHT), check),
        Contender("ray", partial(ray_pipeline, n), check),
    ]
    with ray_cluster(result):
        timings = measure(contenders, options.repeat, settle=False)
    split_rows(result, {HAND_CHAIN: BASELINE, "ray": PYPELN}, timings, n)
    result.notes.append(
        f"n={n:,} elements per run; batches of {RAY_BATCH:,} for the hand-written chain: "
        "pl.ray's own batch size here (as many items as are queued, at most 4,096; counted "
        "once: nearly all of the first stage's batches are full, the third stage gets 2,048)"
    )
    first_notes(result, timings)
    result.spread_notes(timings)
    return result


# -- ray-payload ------------------------------------------------------------------------------

RAY_PAYLOAD_ITEMS = (64, 16)  # arrays per run (full, --quick)
REF_CHAIN = "Ray actors x2, ObjectRefs"
REF_IN_FLIGHT = 4  # arrays the hand-written chain keeps submitted and not yet read


def ray_payload_pipeline(items: list[Any]) -> tuple[int, int, int]:
    stage = pl.ray.map(identity, items, workers=1)
    stage = pl.ray.map(identity, stage, workers=1)
    return consume(stage)


def ray_payload(options: Options) -> ScenarioResult:
    mib = RAY_PAYLOAD_MIB
    count = options.pick(*RAY_PAYLOAD_ITEMS)
    names = {
        "chain": f"{REF_CHAIN}, {mib} MiB",
        "ray": f"ray, {mib} MiB",
        "memcpy": f"np.copyto, {mib} MiB",
    }
    result = ScenarioResult(
        name="ray-payload",
        title=f"ray-payload: map(identity) -> map(identity) on pl.ray, workers=1, {count} "
        f"numpy.uint8 arrays of {mib} MiB",
        baseline=names["chain"],
        ratio_meaning="GB/s (bytes of the items over the wall time, starting and killing the "
        "actors included) relative to Ray's own chain of two actors in the same run: ray.put "
        f"of each array, its reference to actor A, A's to actor B, ray.get of B's; "
        f"{REF_IN_FLIGHT} arrays in flight. np.copyto of the same arrays: memory speed",
    )
    if lacks_ray(result):
        return result
    why = missing("numpy")
    if why is not None:
        result.notes.append(f"not measured: {why}")
        return result
    items = make_items(mib, count)
    check = equals(consume(items))
    contenders = [
        Contender(names["chain"], partial(ray_ref_chain, items, REF_IN_FLIGHT, consume), check),
        Contender(names["ray"], partial(ray_payload_pipeline, items), check),
        Contender(names["memcpy"], partial(copyto, items), check),
    ]
    with ray_cluster(result):
        timings = measure(contenders, options.repeat, settle=False)
    gigabytes = count * (mib << 20) / 1e9
    speed = lambda timing: gigabytes / wall(timing)  # noqa: E731
    kinds = {"chain": BASELINE, "ray": PYPELN, "memcpy": PEER}
    rows = {
        role: Row.of(names[role], kind, "GB/s", timings[names[role]], speed)
        for role, kind in kinds.items()
    }
    for row in rows.values():
        result.rows.append(row.relate(rows["chain"].value))
    rows["ray"].compare("np.copyto", rows["memcpy"].value)
    result.notes.append(
        f"{count} arrays of {mib} MiB per run ({gigabytes:.2f} GB), 4 distinct arrays sent in "
        "turn; the consumer reads each array's first and last byte. Ray's chain hands the "
        "consumer read-only arrays mapped from its object store; pl.ray hands out arrays the "
        "consumer may change (a copy), as every backend does"
    )
    result.spread_notes(timings)
    return result


# -- ray-cpu ----------------------------------------------------------------------------------

RAY_CPU_ITEMS = (4_000, 500)
CPU_SECONDS = 0.001


def ray_cpu_pipeline(loops: int, items: int, workers: int) -> Outcome:
    return timed(pl.ray.map(partial(spin, loops), range(items), workers=workers))


def ray_cpu(options: Options) -> ScenarioResult:
    items = options.pick(*RAY_CPU_ITEMS)
    n = cores()
    serial, parallel = "ray workers=1", f"ray workers={n}"
    pool, single = f"Pool({n}).map, {FORKSERVER}", f"Pool(1).map, {FORKSERVER}"
    result = ScenarioResult(
        name="ray-cpu",
        title=f"ray-cpu: {items:,} x ~{CPU_SECONDS * 1000:g} ms of pure Python, pl.ray.map "
        f"workers={n} vs workers=1",
        baseline=serial,
        ratio_meaning=f"elements/s relative to workers=1 in the same run (the speed-up; at most "
        f"{n}x on {n} cores), over the whole run (starting and killing the actors included), "
        "and after the first result (the target's: the items over the time from the first "
        f"result to the last); {pool} over the same calls shows what this machine allows "
        f"(forkserver: a Ray driver must not fork itself), and {pool} over {single} is the "
        "machine's own speed-up in the same rounds",
    )
    if lacks_ray(result):
        return result
    loops = calibrate_spin(CPU_SECONDS)
    item_seconds = statistics.median(time_spin(loops) for _ in range(5))
    check = same_items(list(range(items)))
    contenders = [
        Contender(serial, partial(ray_cpu_pipeline, loops, items, 1), check),
        Contender(parallel, partial(ray_cpu_pipeline, loops, items, n), check),
        Contender(pool, partial(pool_spin, loops, items, n, FORKSERVER), check),
        Contender(single, partial(pool_spin, loops, items, 1, FORKSERVER), check),
    ]
    with ray_cluster(result):
        timings = measure(contenders, options.repeat, settle=False)
    rows = split_rows(result, {serial: BASELINE, parallel: PYPELN}, timings, items)
    peer = Row.of(pool, PEER, "elements/s", timings[pool], rate(items))
    result.rows.append(peer.relate(rows[serial].value))
    rows[parallel].compare(pool, peer.value)
    add_pool_ceiling(result, peer, single, timings[single], items, rows[serial])
    result.notes.append(
        f"calibration: {loops:,} loops per item, {item_seconds * 1000:.2f} ms in this process "
        f"(median of 5); ideal wall time {items * item_seconds:.2f} s / workers; the target, "
        f"{ray_scaling_target(n):.2f}x, is 85% of the ideal speed-up"
    )
    first_notes(result, timings)
    result.spread_notes(timings)
    return result


# -- ray-startup ------------------------------------------------------------------------------

EMBEDDED = "embedded cluster"
JOINED = "joined cluster (ray start --head)"
CHILD_TIMEOUT = 40.0  # seconds: with LEFT_TIMEOUT, under the guard's deadline (60 s)
LEFT_TIMEOUT = 10.0  # seconds for what a child started to end after it
HEAD_TIMEOUT = 60.0  # seconds for `ray start --head` to come up
HEAD_READY = "Ray runtime started"  # what `ray start` prints once the head is up
STOP_TIMEOUT = 20.0  # seconds for stopped Ray processes to end before they are killed
CURRENT_CLUSTER = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
LATER_RUNS = 4  # runs after the first in each child (an embedded cluster has prestarted 2)
# The child: import pypeln (pl.ray imports Ray), then 1 + LATER_RUNS 1-item runs; its figures
# as JSON: seconds of the import, of the first run, the median of the later ones and their sum.
CHILD = f"""\
import json, statistics, time
begin = time.perf_counter()
import pypeln as pl
api = pl.ray
imported = time.perf_counter()
output = list(api.map(abs, [-1]))
ran = time.perf_counter()
later = []
for x in range(2, {LATER_RUNS + 2}):
    start = time.perf_counter()
    output += api.map(abs, [-x])
    later.append(time.perf_counter() - start)
print(json.dumps({{"result": output, "import": imported - begin, "first": ran - imported,
                  "later": statistics.median(later), "runs": sum(later)}}))
"""
FIGURES = (
    ("first", "first run"),
    ("later", "later runs"),
    ("interpreter", "whole interpreter"),
    ("exit", "interpreter exit"),
)


def session_processes(session: int) -> list[int]:
    """The pids of the running processes of session ``session``, read from ``/proc`` (Linux;
    [] elsewhere). A Ray cluster's processes stay in the session of whoever started it, in
    process groups of their own."""
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []
    found = []
    for pid in pids:
        try:
            if os.getsid(pid) != session:
                continue
            with open(f"/proc/{pid}/stat") as stat:
                state = stat.read().rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            continue  # ended meanwhile
        if state not in ("Z", "X"):  # a zombie has ended: its parent has yet to reap it
            found.append(pid)
    return found


def end_session(session: int, timeout: float = STOP_TIMEOUT) -> int:
    """Wait up to ``timeout`` for session ``session`` to end, then kill what is left; how many
    processes had to be killed."""
    deadline = time.perf_counter() + timeout
    while (left := session_processes(session)) and time.perf_counter() < deadline:
        time.sleep(0.05)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue
    return len(left)


def token_auth() -> bool:
    """Whether a cluster that ``ray start`` starts here asks for a token: as Ray decides it,
    ``$RAY_AUTH_MODE`` if set, else whether this machine has a token."""
    mode = os.environ.get(AUTH_MODE)
    if mode is not None:
        return mode.lower() == "token"
    has_token = os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
    return bool(has_token) or (Path.home() / ".ray" / "auth_token").exists()


def fresh_interpreter(address: str | None, auth_mode: str | None = None) -> Outcome:
    """One child run (see ``CHILD``): joining ``address``, or with an embedded cluster;
    ``auth_mode``, if given, is its ``$RAY_AUTH_MODE``."""
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    if address is not None:
        env["RAY_ADDRESS"] = address
    if auth_mode is not None:
        env[AUTH_MODE] = auth_mode
    begin = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = child.communicate(timeout=CHILD_TIMEOUT)
        seconds = time.perf_counter() - begin
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        # The embedded cluster ends with its interpreter; whatever it left running goes now.
        left = end_session(child.pid, LEFT_TIMEOUT)
    if child.returncode != 0:
        raise RuntimeError(f"the child exited with {child.returncode}: {cause(err)}")
    if left:
        raise RuntimeError(f"{left} Ray processes outlived the child by {LEFT_TIMEOUT:g} s")
    figures = json.loads(out.strip().splitlines()[-1])
    result = figures.pop("result")
    inside = figures["import"] + figures["first"] + figures["runs"]
    metrics = {**figures, "interpreter": seconds, "exit": seconds - inside}
    return Outcome(result, seconds, metrics)


def cause(stderr: str) -> str:
    """What a child's traceback says went wrong: its last line, and the line of an
    ``AuthenticationError`` if one was on the way (Ray buries it under a ConnectionError)."""
    lines = stderr.strip().splitlines() or ["no output"]
    causes = [line.strip() for line in lines if "AuthenticationError:" in line][:1]
    return "; ".join([lines[-1], *(cause[:120] for cause in causes)])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def ray_head(result: ScenarioResult) -> Iterator[str]:
    """A cluster of ``ray start --head`` on 127.0.0.1, in a session of its own; its address.

    It is stopped by ending that session (SIGTERM to its process group, then whatever is
    left is killed), not by ``ray stop``, which would stop every Ray cluster on the machine.
    """
    port = free_port()
    address = f"127.0.0.1:{port}"
    command = [
        str(Path(sys.executable).with_name("ray")),
        "start",
        "--head",
        "--block",
        "--node-ip-address=127.0.0.1",
        f"--port={port}",
        "--include-dashboard=false",
        "--num-cpus=2",
        "--disable-usage-stats",
    ]
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "ray-start.log"
        begin = time.perf_counter()
        with log.open("w") as output:
            head = subprocess.Popen(
                command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            while not (HEAD_READY in log.read_text() and accepts(port)):
                if head.poll() is not None or time.perf_counter() - begin > HEAD_TIMEOUT:
                    last = (log.read_text().strip().splitlines() or ["no output"])[-1]
                    raise RuntimeError(f"ray start --head did not come up: {last}")
                time.sleep(0.05)
            result.notes.append(
                f"{JOINED}: `ray start` said '{HEAD_READY}' on {address} "
                f"{time.perf_counter() - begin:.1f} s after it began (untimed)"
            )
            yield address
        finally:
            stop_head(head, address)


def stop_head(head: subprocess.Popen[Any], address: str) -> None:
    try:
        os.killpg(head.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        head.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(head.pid, signal.SIGKILL)
        head.wait()
    end_session(head.pid)
    try:
        if CURRENT_CLUSTER.read_text().strip() == address:
            CURRENT_CLUSTER.unlink()
    except OSError:
        pass


def joins_alone(address: str) -> str:
    """A note: whether pypeln joins the token-protected cluster at ``address`` with
    ``$RAY_AUTH_MODE`` unset (it sets it itself when this machine has a token)."""
    try:
        with guarded():
            fresh_interpreter(address)
    except Exception as error:
        return (
            f"{JOINED}: the cluster asks for a token, and pypeln did not join it on its own "
            f"(RAY_AUTH_MODE unset in the child: {error}); the runs below set "
            "RAY_AUTH_MODE=token in the child's environment, as Ray's documentation says"
        )
    return (
        f"{JOINED}: the cluster asks for a token; pypeln joined it on its own (RAY_AUTH_MODE "
        "unset in the child). The runs below set RAY_AUTH_MODE=token in the child's "
        "environment, as Ray's documentation says"
    )


def ray_startup(options: Options) -> ScenarioResult:
    result = ScenarioResult(
        name="ray-startup",
        title="ray-startup: 1-item pl.ray.map in a fresh interpreter, with an embedded cluster "
        "and joining a running one",
        baseline=EMBEDDED,
        ratio_meaning=f"seconds relative to the same figure of the {EMBEDDED} in the same run; "
        "each run is a fresh `python -c` that imports pypeln, then runs list(pl.ray.map(abs, "
        f"[x])) {LATER_RUNS + 1} times",
    )
    if lacks_ray(result):
        return result
    check = equals(list(range(1, LATER_RUNS + 2)))
    with ExitStack() as stack:
        address, why = None, None
        try:
            address = stack.enter_context(ray_head(result))
        except (OSError, RuntimeError) as error:
            why = f"no cluster to join: {error}"
        # Joining a cluster that asks for a token, a program sets RAY_AUTH_MODE=token, as Ray's
        # documentation says; whether pypeln manages without is checked once.
        mode = "token" if token_auth() and AUTH_MODE not in os.environ else None
        if address is not None and mode is not None:
            result.notes.append(joins_alone(address))
        contenders = [
            Contender(EMBEDDED, partial(fresh_interpreter, None), check),
            Contender(JOINED, partial(fresh_interpreter, address, mode), check, why),
        ]
        timings = measure(contenders, options.repeat, settle=False)
    for figure, label in FIGURES:
        base = Row.of(f"{EMBEDDED}: {label}", BASELINE, "s", timings[EMBEDDED], metric(figure))
        joined = Row.of(f"{JOINED}: {label}", PYPELN, "s", timings[JOINED], metric(figure))
        result.rows += [base.relate(base.value), joined.relate(base.value)]
    result.notes.append(
        "first run: starts the embedded cluster (or connects to the running one) and one "
        f"actor; later runs: the median of the {LATER_RUNS} runs after it, each starting one "
        "actor on the cluster already joined (Ray prestarts a worker process per CPU for the "
        "first program that connects to a cluster, an embedded cluster's own, and its first "
        "actors take them); whole "
        "interpreter: the `python -c` from start to exit; interpreter exit: the whole "
        "less its import and runs, mostly its exit, where an embedded cluster shuts down. "
        "The running cluster was started with --num-cpus=2 and stays up between runs"
    )
    imports = [
        f"{name} {timing.metric('import'):.2f} s" for name, timing in timings.items() if timing.ok
    ]
    if imports:
        result.notes.append("importing pypeln and Ray (median): " + "; ".join(imports))
    result.spread_notes(timings)
    return result
