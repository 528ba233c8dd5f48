"""What each actor of a run asks of the cluster, and the check that the cluster has it.

A Ray actor that asks for more than any node has waits forever to be placed; pypeln checks
first, so a plan that cannot be placed fails at once, naming the stage that does not fit.

>>> ActorOptions(num_cpus=1).actor()
{'num_cpus': 1}
>>> ActorOptions(num_gpus=1, resources={"disk": 2}).asked()
{'GPU': 1, 'disk': 2}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ray

from ..._pipeline.plan import Node


@dataclass(frozen=True)
class ActorOptions:
    """``pl.ray.using(...)``: the resources of each actor, and the cluster to run on."""

    num_cpus: float | None = None
    num_gpus: float | None = None
    resources: Mapping[str, float] = field(default_factory=dict)
    address: str | None = None

    def actor(self) -> dict[str, Any]:
        """Ray's options for each actor."""
        options: dict[str, Any] = {}
        if self.num_cpus is not None:
            options["num_cpus"] = self.num_cpus
        if self.num_gpus is not None:
            options["num_gpus"] = self.num_gpus
        if self.resources:
            options["resources"] = dict(self.resources)
        return options

    def asked(self) -> dict[str, float]:
        """What each actor asks, by the names of the cluster's resources."""
        asked: dict[str, float] = {}
        if self.num_cpus:
            asked["CPU"] = self.num_cpus
        if self.num_gpus:
            asked["GPU"] = self.num_gpus
        asked.update(self.resources)
        return asked


def options_of(node: Node) -> ActorOptions:
    """What each actor of ``node`` asks: the options of the ``using(...)`` its stage was
    made with."""
    backend = None if node.stage is None else node.stage.backend
    options = getattr(backend, "options", None)
    return options if isinstance(options, ActorOptions) else ActorOptions()


def fits_one(asked: Mapping[str, float], machines: Sequence[Mapping[str, float]]) -> bool:
    """Whether one of ``machines`` (each node's resources) has all of ``asked``.

    >>> fits_one({"GPU": 2}, [{"CPU": 8, "GPU": 1}, {"CPU": 8, "GPU": 1}])
    False
    >>> fits_one({"GPU": 1, "CPU": 2}, [{"CPU": 8, "GPU": 1}])
    True
    """
    return any(all(m.get(k, 0) >= v for k, v in asked.items()) for m in machines)


def _listed(asked: Mapping[str, float]) -> str:
    return ", ".join(f"{amount:g} {name}" for name, amount in asked.items())


def check_placement(nodes: Sequence[Node]) -> None:
    """Raise if an actor of ``nodes`` asks more than any node of the cluster has, or all of
    them together more than the whole cluster has."""
    asks = [(node, options_of(node).asked()) for node in nodes]
    if not any(asked for _, asked in asks):
        return
    total: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    machines = [n["Resources"] for n in ray.nodes() if n.get("Alive")]  # type: ignore[no-untyped-call]
    needed: dict[str, float] = {}
    for node, asked in asks:
        if asked and not fits_one(asked, machines):
            raise RuntimeError(
                f"pl.ray: stage {node.name!r} cannot be placed: each of its actors asks "
                f"{_listed(asked)}, and no node of the cluster has that much (placed at "
                "once, its actors would wait forever)"
            )
        for name, each in asked.items():
            needed[name] = needed.get(name, 0) + each * node.workers
            has = total.get(name, 0)
            if needed[name] > has:
                raise RuntimeError(
                    f"pl.ray: stage {node.name!r} cannot be placed: with it the run's actors "
                    f"ask {needed[name]:g} {name} in all ({each:g} each), and the cluster has "
                    f"{has:g} (placed at once, its actors would wait forever)"
                )
