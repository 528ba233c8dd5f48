"""Bad input fails at the call that caused it, naming the argument and what it expected."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

STAGE_FUNCTIONS = ["map", "flat_map", "filter", "each"]

# (keyword arguments, exception type, words the message must contain)
BAD_OPTIONS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"workers": -3}, ValueError, "workers must be an int >= 1"),
    ({"workers": 2.5}, TypeError, "workers must be an int >= 1, got float"),
    ({"workers": True}, TypeError, "workers must be an int"),
    ({"workers": "4"}, TypeError, "workers must be an int"),
    ({"maxsize": -1}, ValueError, "maxsize must be an int >= 0 or None, got -1"),
    ({"maxsize": 2.5}, TypeError, "maxsize must be an int >= 0 or None, got float"),
    ({"timeout": -0.5}, ValueError, "timeout must be a finite number >= 0"),
    ({"timeout": float("inf")}, ValueError, "timeout must be a finite number >= 0"),
    ({"timeout": "1s"}, TypeError, "timeout must be a number of seconds"),
    ({"on_start": 3}, TypeError, "on_start must be callable or None"),
    ({"on_done": "x"}, TypeError, "on_done must be callable or None"),
    ({"on_error": "ignore"}, ValueError, 'on_error must be "raise", "skip" or a function'),
    ({"on_error": 3}, TypeError, 'on_error must be "raise", "skip" or a function .* got int 3'),
    ({"retries": -1}, ValueError, "retries must be an int >= 0 or a pl.Retry, got -1"),
    ({"retries": "3"}, TypeError, "retries must be an int >= 0 or a pl.Retry, got str"),
    ({"retries": True}, TypeError, "retries must be an int >= 0 or a pl.Retry, got bool"),
    ({"retries": 2.5}, TypeError, "retries must be an int >= 0 or a pl.Retry, got float"),
    ({"rate": 0}, ValueError, "rate must be a finite number of calls per second > 0"),
    ({"rate": -5}, ValueError, "rate must be a finite number of calls per second > 0"),
    ({"rate": float("inf")}, ValueError, "rate must be a finite number of calls per"),
    ({"rate": "10/s"}, TypeError, "rate must be a finite number of calls per second > 0"),
    ({"rate": True}, TypeError, "rate must be a finite number of calls per second > 0"),
    ({"key": "user"}, TypeError, "key must be a function of the item \\(or None\\), got str"),
    ({"key": 3}, TypeError, "key must be a function of the item \\(or None\\), got int 3"),
]


@pytest.mark.parametrize("name", STAGE_FUNCTIONS)
@pytest.mark.parametrize(("options", "error", "message"), BAD_OPTIONS)
def test_bad_options_raise_at_the_call(
    backend: ModuleType, name: str, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    function = getattr(backend, name)
    with pytest.raises(error, match=f"^{name}\\(\\): {message}"):
        function(str, [1], **options)
    with pytest.raises(error, match=f"^{name}\\(\\): {message}"):
        function(str, **options)  # the partial form checks just as early


@pytest.mark.parametrize("name", STAGE_FUNCTIONS)
def test_workers_zero_is_no_limit_where_the_backend_offers_it(
    backend: ModuleType, name: str
) -> None:
    function = getattr(backend, name)
    if backend.backend.unlimited_workers:  # pl.task
        assert function(str, [1], workers=0).workers >= 1  # a plain f: a pool of threads
    else:
        with pytest.raises(ValueError, match=f"^{name}\\(\\): workers must be an int >= 1, got 0$"):
            function(str, [1], workers=0)


@pytest.mark.parametrize("name", STAGE_FUNCTIONS)
def test_a_key_must_be_a_plain_function_with_fixed_workers(backend: ModuleType, name: str) -> None:
    function = getattr(backend, name)

    async def user_of(x: int) -> int:
        return x

    with pytest.raises(TypeError, match=f"^{name}\\(\\): key must be a plain function .* user_of"):
        function(str, [1], workers=2, key=user_of)
    if backend.backend.unlimited_workers:  # pl.task: workers=0 would be no fixed worker
        with pytest.raises(ValueError, match=f"^{name}\\(\\): key needs a fixed number of workers"):
            function(str, [1], workers=0, key=abs)


@pytest.mark.parametrize("name", STAGE_FUNCTIONS)
def test_bad_f_and_bad_source(backend: ModuleType, name: str) -> None:
    function = getattr(backend, name)
    with pytest.raises(TypeError, match=f"^{name}\\(\\): f must be callable, got int 42"):
        function(42, [1])
    with pytest.raises(TypeError, match=f"^{name}\\(\\): stage must be a Stage or an iterable"):
        function(str, 7)
    with pytest.raises(TypeError, match="stage must be a Stage or an iterable, got int"):
        7 | function(str)
    with pytest.raises(TypeError, match="f must accept the element"):
        function(lambda: 1, [1])
    with pytest.raises(TypeError, match="unexpected keyword argument 'worker'"):
        function(str, [1], worker=2)


@pytest.mark.parametrize(
    ("kwargs", "who", "param"),
    [
        ({"f": lambda x, db: x}, "f", "db"),
        ({"f": str, "on_start": lambda session: {}}, "on_start", "session"),
        ({"f": str, "on_done": lambda stats: None}, "on_done", "stats"),
    ],
)
def test_hook_asking_for_what_nothing_provides(
    backend: ModuleType, kwargs: dict[str, Callable[..., Any]], who: str, param: str
) -> None:
    kwargs = dict(kwargs)  # the parameter dict is shared by every backend's run
    f = kwargs.pop("f")
    with pytest.raises(TypeError, match=f"^map\\(\\): {who} asks for parameter '{param}'"):
        backend.map(f, [1], **kwargs)


def test_bad_arguments_of_batch(backend: ModuleType) -> None:
    with pytest.raises(ValueError, match=r"^batch\(\): size must be an int >= 1, got 0"):
        backend.batch(0, [1])
    with pytest.raises(TypeError, match=r"^batch\(\): size must be an int >= 1, got str"):
        backend.batch("3")
    with pytest.raises(ValueError, match=r"^batch\(\): timeout must be a finite number >= 0"):
        backend.batch(2, timeout=-1)
    with pytest.raises(ValueError, match=r"^batch\(\): maxsize must be an int >= 0"):
        backend.batch(2, [1], maxsize=-1)
    with pytest.raises(TypeError, match=r"^batch\(\): stage must be a Stage or an iterable"):
        backend.batch(2, 5)


def test_bad_arguments_of_the_other_functions(backend: ModuleType) -> None:
    with pytest.raises(TypeError, match=r"^concat\(\): stages must be a list or tuple"):
        backend.concat(5)
    with pytest.raises(TypeError, match=r"^concat\(\): stages\[1\] must be a Stage or an iter"):
        backend.concat([[1], 2])
    with pytest.raises(ValueError, match=r"^concat\(\): stages must name at least one"):
        backend.concat([])
    with pytest.raises(ValueError, match=r"^concat\(\): maxsize must be an int >= 0"):
        backend.concat([[1]], maxsize=-2)
    with pytest.raises(TypeError, match=r"^ordered\(\): stage must be a Stage or an iterable"):
        backend.ordered(3.5)
    with pytest.raises(TypeError, match=r"^from_iterable\(\): iterable must be a Stage or an"):
        backend.from_iterable(1)
    with pytest.raises(ValueError, match=r"^from_iterable\(\): maxsize must be an int >= 0"):
        backend.from_iterable([1], maxsize=-1)
    with pytest.raises(TypeError, match=r"^to_iterable\(\): stage must be a Stage or an iter"):
        backend.to_iterable(5)
    with pytest.raises(TypeError, match=r"^to_iterable\(\): return_index must be a bool"):
        backend.to_iterable([1], return_index="yes")
    with pytest.raises(TypeError, match=r"^run\(\): pass at least one stage"):
        backend.run()
    with pytest.raises(TypeError, match=r"^run\(\): stages\[0\] must be a Stage or an iterable"):
        backend.run(3)
    with pytest.raises(TypeError, match=r"^each\(\): run must be a bool"):
        backend.each(print, [1], run=1)
    with pytest.raises(ValueError, match=r"^run\(\): maxsize must be an int >= 0"):
        backend.run([1], maxsize=-1)
    with pytest.raises(ValueError, match=r"^to_iterable\(\): maxsize must be an int >= 0"):
        backend.to_iterable(maxsize=-1)


async def fetch(x: int) -> int:
    return x


async def chunks(x: int):  # type: ignore[no-untyped-def]
    yield x


async def connect() -> dict[str, int]:
    return {}


@pytest.mark.parametrize("name", STAGE_FUNCTIONS)
@pytest.mark.parametrize("who", ["f", "on_start", "on_done", "on_error"])
def test_async_functions_are_refused_where_nothing_awaits_them(
    backend: ModuleType, name: str, who: str
) -> None:
    function = getattr(backend, name)
    f, options = (fetch, {}) if who == "f" else (str, {who: connect})
    if backend.backend.async_workers:  # its workers await them
        assert function(f, [1], **options) is not None
        return
    label = "fetch" if who == "f" else "connect"
    message = (
        f"^{name}\\(\\): {who} must be a plain function on pl.{backend.backend.name}, "
        f"got async function {label}: .* pl.task.{name} awaits it"
    )
    with pytest.raises(TypeError, match=message):
        function(f, [1], **options)
    with pytest.raises(TypeError, match=message):
        function(f, **options)  # the partial form checks just as early


def test_an_async_generator_function_is_refused_by_flat_map(backend: ModuleType) -> None:
    if backend.backend.async_workers:
        assert sorted(backend.flat_map(chunks, [1, 2])) == [1, 2]
        return
    with pytest.raises(TypeError, match=r"^flat_map\(\): f must .* got async generator function"):
        backend.flat_map(chunks, [1])
