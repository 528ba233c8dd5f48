"""The ``process`` backend: every stage worker is a process; sources run in parent threads.

One run, with a source, one stage of two workers and the consumer::

     parent process                                            worker processes
    ┌───────────────────────────────────────────┐
    │ source thread ── data pipe ───────────────┼──────────►  ┌───────────────────────┐
    │   (elements_of)   tokens pipe ◄───────────┼────────────  │ stage worker #0       │
    │                                           │    ┌──────►  │  run_worker: reader   │
    │                                           │    │         │  end ► kernel ► writer│
    │ consumer ◄── data pipe (one per producer) ┼────┼───────  │  end                  │
    │   (ReaderEnd)  tokens pipe ───────────────┼────┼──────►  └──────────┬────────────┘
    │      │                                    │    │         ┌──────────┴────────────┐
    │      │ waits on data, and on every        │    └──────►  │ stage worker #1       │
    │      │ worker's report pipe and sentinel ◄┼───reports────┤  (same pipes, its own │
    │      │                                    │   sentinel   │   producer slot)      │
    │ stop pipe ────────────────────────────────┼──── wakes ──►│ every wait of every   │
    │   (written once: the run stops)           │              │ worker                │
    │ shared integers (memfd): counters, flags ◄┼──────────────┤ counted in place      │
    │ /dev/shm/pypeln-<pid>-<run>/ chunks ◄─────┼── large buffers, mapped by both ends ─┤
    └───────────────────────────────────────────┘              └───────────────────────┘

*The parent* (``supervisor.py``, ``ProcessRun``) allocates every pipe, the shared integers
and the run's shared-memory directory, starts the workers and runs each source in a thread.
The consumer reads the last channel; each of its waits also watches every worker's report
pipe and sentinel, so a worker's error, or its death without a word
(``WorkerCrashedError``), stops the run at once. Closing the run writes the stop pipe, which
ends every wait everywhere; workers run ``on_done`` and exit, and any still busy after
``STOP_GRACE`` is killed: every process of the run is gone and reaped when ``close()``
returns.

*A worker* (``child.py``) runs the shared worker loop with a ``ChildContext``: its channel
ends, the stage's shared status (active workers, for ``on_done``) and counters. It reports
its first error, traceback as frames (``remote/errors.py``), on its report pipe.

*A channel* (``channel.py``) is one data pipe per producer and a tokens pipe holding one
byte per item of room (``maxsize``); ``pipes.py`` makes every wait a ``poll()`` that also
watches the stop pipe. Batches are pickled (``codec.py``, with ``remote/pickling.py``);
large buffers travel through shared-memory chunks instead (``memory/``).

*Start methods* (``start/``): by fork while the parent has a single thread, else from
pypeln's fork server, or as a fresh interpreter (spawn). None runs the user's main module:
the stage's functions go by value, descriptors are passed beside the worker's spec.

*Shared state*: ``shared_state.py`` (``pl.process.Namespace``, in a manager process);
``run_state.py``: what a run's workers share (counters, active workers, a ``rate``'s
schedule, the shipped stage).

Everything here needs a POSIX system; elsewhere importing it raises a clear ImportError.
"""

from .posix import require_posix

require_posix()
