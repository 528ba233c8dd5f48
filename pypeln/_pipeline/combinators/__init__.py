"""The public combinators, written once for every backend.

``api.py``: ``Api``, every combinator bound to one backend (what ``pl.<name>`` exports);
``flows.py``: shaping and running the flow (``from_iterable``, ``concat``, ``ordered``,
``to_iterable``, ``run``); ``transforms.py``: per-item work (``map``, ``flat_map``,
``filter``, ``each``); ``task_api.py``: the types of ``pl.task``, which awaits ``async``
functions; ``partial.py``: the partial form (``source | pl.thread.map(f)``);
``validation.py``: the checks every argument passes at the call.
"""
