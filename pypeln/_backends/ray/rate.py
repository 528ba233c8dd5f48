"""``rate`` on ray: the stage's turns are kept by one small actor that all its workers ask.

Its actors may run on several machines, whose clocks are not one: the keeper's clock alone
decides, and each worker is told how long to wait (a duration, the same everywhere). A turn
costs a call to the keeper (about a millisecond here), which a stage that is held to a
rate can spare.
"""

from __future__ import annotations

from typing import Any

import ray

from ..._worker.policies.rate import Schedule


class _Keeper:
    """The actor: a ``Schedule`` (its calls run one at a time, in the order they came)."""

    def __init__(self, rate: float, burst: int) -> None:
        self._schedule = Schedule(rate, burst)

    def wait(self) -> float:
        return self._schedule.wait()


_RemoteKeeper: Any = ray.remote(num_cpus=0)(_Keeper)


def keeper(rate: float, burst: int) -> Any:
    """A new keeper actor for a stage of ``burst`` workers held to ``rate`` calls/s (the run
    kills it with its workers)."""
    return _RemoteKeeper.remote(rate, burst)


class KeptSchedule:
    """The ``Limiter`` of a stage's actor: asks the stage's keeper for each turn."""

    def __init__(self, keeper: Any) -> None:
        self._keeper = keeper

    def wait(self) -> float:
        return float(ray.get(self._keeper.wait.remote()))
