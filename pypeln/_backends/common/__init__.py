"""What several backends build on.

* ``worker_loop.py``: the body of a blocking worker (threads, processes): read a batch,
  run the kernel, hand the results on;
* ``consumer.py``: the consumer's side of any ``Run``, and joining a run's threads;
* ``batching.py``: how big a batch is, and how batches stay within ``maxsize``;
* ``thread_channel.py``: the channel between the threads of one process (``thread``, and
  under ``task``'s ``LoopChannel``); ``local_run.py``: a run whose workers live in this
  process;
* ``stop_signal.py``: the run's "stop now"; ``deadline.py``: calls with a ``timeout``;
* ``stall.py``: the warning of a run where nothing moves; ``shared_state.py``: the
  ``Namespace`` of the in-process backends.
"""
