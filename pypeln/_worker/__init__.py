"""What a worker does with items, whatever the backend.

* ``kernels.py`` / ``async_kernels.py``: ``map``, ``filter``, ``flat_map``, ``each`` over a
  stream (or batch) of elements, for plain and ``async`` functions;
* ``hooks.py``: ``on_start`` / ``on_done`` and what they inject (``worker_info``, ...);
* ``session.py`` / ``async_session.py``: one worker's life: hooks, ``f``, its timeout;
* ``counters.py``: what workers count (what they take, hand on and drop; their time),
  per run, and the stages a run's statistics know;
* ``flow.py``: how a worker meters its flow, once per batch;
* ``threads.py``: joining a run's helper threads, even after a Ctrl-C in ``start()``;
* ``activity.py``: the batch a worker works through, for the stall report;
* ``order.py`` / ``async_order.py``: ``ordered`` that streams, and the kernels that mark
  what they drop for it;
* ``policies/``: error policies, rate limits and keys.
"""
