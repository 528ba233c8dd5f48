"""The ``thread`` backend: every worker is a thread; stages talk through ``ThreadChannel``.

::

    consumer ◄── output channel ◄── stage n workers ◄── … ◄── stage 1 workers ◄── source thread
       │                                                                                │
       └── close()/break/error: StopSignal.set() wakes every wait, then workers are joined

The first error a worker reports is kept, the stop signal is set, and the consumer raises
that error. Worker threads are daemons, so a call stuck forever cannot block interpreter
exit; ``close()`` waits for workers at most ``JOIN_GRACE`` seconds.
"""
