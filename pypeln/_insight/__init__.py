"""Insight into a run: what the workers' counters say, read as the user's questions.

* ``stats.py``: ``Stats``, a snapshot of a run's statistics per stage (``RunIterator.stats()``),
  each a ``StageStats`` (``stage_stats.py``);
* ``verdict.py``: which stage limits the run, and what to change (``Stats.bottleneck``);
* ``table.py``: the statistics and the verdict as text (``print(stats)``);
* ``progress.py``: a progress bar per stage (tqdm), moved as the statistics are sampled;
* ``monitor.py``, ``page.py``: the live page of a run, and the page ``save_html`` writes;
* ``shown.py``: starts and ends what shows a run as it goes (bars, page).

The counters themselves are kept by the workers (``_worker/counters.py``, ``_worker/flow.py``),
per batch and without a lock; nothing here runs unless someone asks (or a user asked for
bars or a page).
"""
