"""pypeln's benchmark suite: every backend against the peers users would pick instead.

Modules, one role each:

* ``cli``: the command line, the run, the exit status; ``run.py`` is its entry point.
* ``options``: the options every scenario reads.
* ``measure``: ``Contender``, ``Timing``, interleaved rounds, medians, checked results.
* ``results``: rows of figures, ratios and verdicts.
* ``targets``: the figures pypeln aims for, with their goals, and how a row is judged.
* ``workloads``: the functions pipelines and peers run (importable by worker processes).
* ``peers``: the same work done with Pool, ThreadPoolExecutor, mpire, asyncio, aiostream and
  hand-written Ray actors.
* ``legacy`` and ``legacy_child``: the pypeln 0.4.9 release, in a virtualenv of its own.
* ``sampler``: peak memory of the process tree plus shared memory, from a child process.
* ``machine``: the description of the machine and of the code measured.
* ``report`` and ``charts``: the Markdown report and its PNG charts.
* ``scenarios``: one module per group of scenarios.
"""
