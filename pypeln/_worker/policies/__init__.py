"""A stage's policies: what happens around its calls besides the call itself.

* ``failures.py``: what users pass and receive: ``Retry``, ``Failure``, ``SKIP``;
* ``guards.py``: a call under ``retries`` and ``on_error``;
* ``rate.py``: the turns every worker of a stage with a ``rate`` takes before a call;
* ``keys.py``: which worker of a stage with a ``key`` an item goes to.
"""
