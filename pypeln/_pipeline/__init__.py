"""The pipeline model: what users build, and what a run is to them.

* ``stage.py``: ``Stage``, an immutable, lazy node of the graph; iterating it runs the
  graph on its backend (``run_items``); ``RunIterator``, one run with its statistics;
* ``combinators/``: ``map``, ``filter``, ``concat``, ... written once and bound to a
  backend, with their partial form (``source | pl.thread.map(f)``) and argument checks;
* ``plan.py``: a graph compiled into nodes and channels, for backends with queues;
* ``sources.py``: the elements of what lies outside a backend (an iterable, a stage of
  another backend); ``relay.py``: what a run computes once and hands to the run of a
  stage of another backend that reads it too; ``element.py``: ``Element`` for
  ``return_index``; ``one_shot.py``: the warning for a generator read twice;
  ``stopping.py``: stopping a run from another thread.
"""
