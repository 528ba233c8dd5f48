"""The ``sync`` backend: every stage is a generator in the consumer's thread.

::

    consumer ◄─ next() ─ kernel of stage n ◄─ next() ─ … ◄─ kernel of stage 1 ◄─ next() ─ source
       (one thread: each next() runs the chain down to the source; a call with a timeout
        runs in a helper thread, and the run's stop signal ends its wait)

It is the reference semantics: no concurrency, exact input order, one worker per stage
whatever ``workers`` says, and no queues, so ``maxsize`` has nothing to bound. A stage with a
``timeout`` runs each call in a helper thread, as the thread backend does (``ThreadDeadline``):
a call that runs over it is abandoned, its item skipped and counted, and the run goes on in
input order.

A stage read by several stages of one run (fan-out) runs once; its elements are shared with
``itertools.tee``, which keeps what one branch has read and another not yet. Under a sync
``concat``, which reads its sources one after the other, that is the whole stream: fan out
large or endless streams on a concurrent backend, whose bounded queues are shared instead.
"""
