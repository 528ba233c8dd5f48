"""The command-line options every scenario reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_REPEAT = 5
QUICK_REPEAT = 2


@dataclass(frozen=True)
class Options:
    """``repeat`` timed runs per contender; ``quick`` shrinks every count for a smoke check.

    ``n``, if given, replaces the element count of the element-count scenarios (``trivial``,
    ``process-trivial``, ``task-trivial``, ``bounded``, ``ray-trivial``) for every contender.
    ``baseline``, if given, is another checkout of pypeln that ``bounded`` measures beside
    this one.
    """

    repeat: int = DEFAULT_REPEAT
    quick: bool = False
    n: int | None = None
    baseline: Path | None = None

    def pick(self, full: int, quick: int) -> int:
        """``full`` in a normal run, ``quick`` under ``--quick``."""
        return quick if self.quick else full

    def elements(self, full: int, quick: int) -> int:
        """An element count: ``--n`` if given, else ``pick(full, quick)``."""
        return self.n if self.n is not None else self.pick(full, quick)

    def at_least(self, repeat: int) -> int:
        """``repeat``, raised to a scenario's minimum outside quick runs."""
        return self.repeat if self.quick else max(self.repeat, repeat)
