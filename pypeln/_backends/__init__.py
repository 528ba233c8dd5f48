"""The backends: where workers run and how elements travel between them.

* ``contract.py``: what a backend implements (``Backend``, ``Run``, ``WorkerContext``, the
  two channel ends), each method with what it does on stop, on close, on a dead peer;
* ``registry.py``: the list of backends, by name; adding one is one line there;
* ``common/``: what several backends build on (the worker loop, the consumer's loop, the
  in-process channel and run, batching, the stop signal, timeouts, the stall watch);
* ``remote/``: what crosses to workers in other processes (pickling, exceptions with
  their tracebacks), for ``process`` and ``ray``;
* one folder per backend: ``sync/``, ``thread/``, ``task/``, ``process/``, ``ray/``, each
  with the picture of its moving parts in its docstring.

A new backend is a new folder here with a ``Backend`` subclass, and its line in the
registry: ``pl.<name>`` then exists, and the contract suite runs on it.
"""
