"""Error policies under faults: a policy function that raises, retries that wait while the
run stops. Every case on every backend (``task`` with async functions too), with the fault
suite's checks that nothing is left behind."""

from __future__ import annotations

import time
from typing import Any

import pytest

import pypeln as pl
from tests.conftest import ASYNC_CASES, BACKENDS, capabilities, namespace_of

CASES = BACKENDS + ASYNC_CASES


class HandlerFault(Exception):
    pass


def fails_on_odd(x: int) -> int:
    if x % 2:
        raise ValueError(x)
    return x


async def afails_on_odd(x: int) -> int:
    return fails_on_odd(x)


def give_up_at(at: int) -> Any:
    def handler(failure: pl.Failure) -> Any:
        if failure.item == at:
            raise HandlerFault(f"handler gave up on {at}")
        return pl.SKIP

    return handler


def function(name: str) -> Any:
    return afails_on_odd if name.endswith("-async") else fails_on_odd


# The failing item first, in the middle and last; once on a cluster (its runs start actors).
POLICY_CASES = [
    (name, at)
    for name in CASES
    for at in ((21,) if capabilities(name).joins_cluster else (1, 21, 39))
]


@pytest.mark.parametrize(("name", "at"), POLICY_CASES)
def test_a_policy_function_that_raises_fails_the_run(name: str, at: int) -> None:
    api = namespace_of(name)
    stage = api.map(abs, range(40), workers=2, maxsize=1)
    stage = api.map(function(name), stage, workers=3, maxsize=1, on_error=give_up_at(at))
    stage = api.map(abs, stage, maxsize=1)
    with pytest.raises(HandlerFault, match=f"^handler gave up on {at}\n") as caught:
        list(stage)
    assert f"pypeln: stage '{stage.upstreams[0].name}'" in "\n".join(caught.value.__notes__)


@pytest.mark.parametrize(("name", "at"), POLICY_CASES)
def test_a_key_function_that_raises_fails_the_run(name: str, at: int) -> None:
    def user_of(x: int) -> int:
        if x == at:
            raise HandlerFault(f"no user for {at}")
        return x % 4

    api = namespace_of(name)
    stage = api.map(abs, range(40), workers=2, maxsize=1)
    stage = api.map(function(name), stage, workers=3, maxsize=1, on_error="skip", key=user_of)
    stage = api.map(abs, stage, maxsize=1)
    with pytest.raises(HandlerFault, match=f"^no user for {at}\n") as caught:
        list(stage)
    key_stage = stage.upstreams[0].name
    assert f"pypeln: stage '{key_stage} key=user_of' failed on element" in caught.value.__notes__[0]


@pytest.mark.parametrize("name", CASES)
def test_retries_waiting_while_the_consumer_breaks_out(name: str) -> None:
    # Every odd item's call fails and waits a minute before its next attempt: the run must
    # not wait for those pauses when the consumer leaves.
    api = namespace_of(name)
    stage = api.map(function(name), range(100), workers=2, retries=pl.Retry(5, delay=60))
    started = time.monotonic()
    run = api.to_iterable(stage)
    assert next(iter(run)) % 2 == 0
    run.close()
    assert time.monotonic() - started < 15


@pytest.mark.parametrize("name", [name for name in CASES if not name.endswith("-async")])
def test_a_batch_waiting_on_its_timeout_when_the_run_stops(name: str) -> None:
    api = namespace_of(name)
    if not api.backend.concurrent_workers:
        pytest.skip("on sync the consumer's own thread reads the source")
    stage = api.batch(100, api.map(abs, range(3), maxsize=1), timeout=30)
    started = time.monotonic()
    run = api.to_iterable(stage)
    assert sorted(next(iter(run))) == [0, 1, 2]  # the end of the input: the last batch
    run.close()
    stage = api.batch(5, api.map(abs, range(50), workers=2), timeout=60)
    run = api.to_iterable(stage)
    assert len(next(iter(run))) == 5
    run.close()  # the batch stage may wait on its 60 s timeout now: the close ends it
    assert time.monotonic() - started < 15
