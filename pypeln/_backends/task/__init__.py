"""The ``task`` backend: stages run in one asyncio event loop; blocking code runs beside it.

::

    sync consumer ◄── output channel ◄── stage workers ◄── … ◄── source
    (its thread)        (LoopChannel)      tasks in the loop: async f, concat, ordered,
                                           async iterables and in-memory containers;
    async consumer ◄──┘                    threads: plain f (blocking calls must not
    (in the loop)                          stall the loop) and any other iterable

Every channel is a ``LoopChannel``: threads block on it, tasks await it. Consumed with
``async for`` / ``await``, the run lives in the caller's loop. Consumed from sync code
(``for``, ``list``), the loop runs in a helper thread of the run, whether or not the
caller's thread runs a loop of its own, so it never deadlocks a notebook cell or an async
handler. The first error stops the run: the stop signal wakes every thread's wait, every
task is cancelled (a worker cancelled mid-call still runs ``on_done``), and the consumer
raises the error.
"""
