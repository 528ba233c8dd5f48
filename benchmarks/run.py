"""Entry point of pypeln's benchmark suite: ``python benchmarks/run.py [options]``.

See ``benchmarks/README.md`` for the scenarios, peers and targets, and ``benchmarks/cli.py``
for the options. This file only makes the ``benchmarks`` package importable and calls it.
"""

import sys
from pathlib import Path

# The repository root, so that ``benchmarks`` imports as a package here and in worker
# processes (forkserver and spawn children receive this sys.path): their functions are
# pickled by reference to ``benchmarks.workloads``.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Guarded: forkserver and spawn children import this file again as ``__mp_main__``.
if __name__ == "__main__":
    from benchmarks.cli import main

    sys.exit(main())
