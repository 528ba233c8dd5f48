"""The ``ray`` backend: every stage worker is a Ray actor; the driver hands batches on.

::

    driver (this program)                                    Ray cluster
    source thread ─► channel ─► thread of A #0 ── work(batch, pickled) ──► actor A #0
                                  ▲  (IN_FLIGHT calls queued)               │ on_start,
                                  └── report: count, error, counters ───────┤ kernel,
                  channel of references ◄── A's results, not read ──────────┤ on_done
                        └──────► thread of B #0 ── work(references) ──► actor B #0
                                  ▲                  (reads A's results from Ray)  │
    consumer ◄── channel ◄────────┴── B's results (the next reader is the driver) ─┘
       large buffers: beside each batch's pickle, through Ray's object store

A stage with a function of the user's runs in actors, one per worker (two stages, A and B,
above); its driver threads feed them batches from the stage's channel and hand the results
on, so ``maxsize`` bounds what waits in the driver and at the actors. Between two stages
of actors with no bound, a call's results go on as its reference, which the next actor
reads from Ray: the driver never unpickles them (``run.py``). A batch crosses Ray pickled
by pypeln as one ``bytes``, its large buffers beside it, moved by Ray's object store
(``values.py``).
Sources, ``concat`` and ``ordered`` run in driver threads.

*Cluster* (``cluster.py``): the program's own Ray if it called ``ray.init()``; an address
from ``using(address=...)`` or ``$RAY_ADDRESS``; else an embedded local cluster, started by
the first run and bound to 127.0.0.1. *Resources* (``resources.py``): what each actor asks
(``using(num_cpus=..., ...)``), checked against the cluster before any actor starts.
*Errors*: an actor sends back its exception with its traceback (``remote/errors.py``); an
actor that dies is a ``WorkerCrashedError``. Closing the run kills every actor it started.
*Shared state*: ``shared_state.py`` (``pl.ray.Namespace``, kept by an actor); ``rate.py``:
the turns of a stage with a ``rate``, kept by one small actor its workers ask.

Ray is an optional extra: ``pip install 'pypeln[ray]'``.
"""

import os

# Before Ray is imported through pypeln: its processes bind and advertise 127.0.0.1 (the
# embedded cluster; cluster.py decides for a cluster at an address).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

try:
    import ray  # noqa: F401
except ImportError as error:  # the optional extra is missing
    raise ImportError(
        "pl.ray needs Ray, an optional extra of pypeln: pip install 'pypeln[ray]'"
    ) from error
