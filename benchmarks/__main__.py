"""``python -m benchmarks`` (from the repository root): the same as ``benchmarks/run.py``."""

import sys

from benchmarks.cli import main

# Guarded: forkserver and spawn children import the main module again as ``__mp_main__``.
if __name__ == "__main__":
    sys.exit(main())
