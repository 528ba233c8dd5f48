"""Error types, and how a failure is labelled with the stage and element where it happened.

A worker's exception reaches the consumer as the *same* object, with its original type,
arguments and traceback. pypeln only adds an exception note (PEP 678) saying which stage,
worker and element failed, so nothing about the user's error is distorted.

>>> error = ValueError("bad")
>>> mark_element(error, (3,), "x")
>>> mark_stage(error, "map(parse)", 0)
>>> error.__notes__
["pypeln: stage 'map(parse)' (worker 0) failed on element (3,): 'x'"]
"""

from __future__ import annotations

import reprlib
from typing import Any

_ELEMENT_ATTR = "_pypeln_element"
_LOCATED_ATTR = "_pypeln_located"
_short_repr = reprlib.Repr()
_short_repr.maxstring = 80
_short_repr.maxother = 80


class PypelnError(Exception):
    """Base class of the errors pypeln raises itself."""


class MissingInjectionError(PypelnError, TypeError):
    """A function or hook asks for a parameter that nothing provides at run time."""


class Stopped(BaseException):
    """Raised inside a worker when its run is stopping; never reaches the user.

    It derives from BaseException so that a user's ``except Exception`` does not swallow it.
    """


def mark_element(error: BaseException, index: object, value: object) -> None:
    """Remember which element ``error`` was raised for (the first stage to see it wins)."""
    if getattr(error, _ELEMENT_ATTR, None) is None and not getattr(error, _LOCATED_ATTR, False):
        _set(error, _ELEMENT_ATTR, (index, _short_repr.repr(value)))


class SourceLabel(str):
    """What errors and stall reports call a source the user did not write as a stage.

    It is a description ("the iterable passed to map(parse) (generator)"), written as it is
    in a note. A stage of another backend read as a source labels its own errors, so with
    ``passes_through`` its errors get no note from the run reading it.

    >>> error = KeyError("k")
    >>> mark_stage(error, SourceLabel("the iterable passed to map(f) (generator)"), None)
    >>> error.__notes__
    ['pypeln: the iterable passed to map(f) (generator) failed']
    """

    passes_through: bool

    def __new__(cls, text: str, *, passes_through: bool = False) -> SourceLabel:
        label = super().__new__(cls, text)
        label.passes_through = passes_through
        return label


def mark_stage(error: BaseException, stage: str, worker: int | None) -> None:
    """Attach the note naming stage, worker and element, once per exception.

    ``stage`` is a stage's name, or a ``SourceLabel`` describing a source.
    """
    if getattr(error, _LOCATED_ATTR, False):
        return
    _set(error, _LOCATED_ATTR, True)
    if isinstance(stage, SourceLabel):
        if stage.passes_through:  # labelled (or named in its message) by its own stage
            return
        where = f"pypeln: {stage}"
    else:
        where = f"pypeln: stage {stage!r}" + ("" if worker is None else f" (worker {worker})")
    element = getattr(error, _ELEMENT_ATTR, None)
    if element is None:
        add_note(error, f"{where} failed")
    else:
        index, text = element
        add_note(error, f"{where} failed on element {index}: {text}")


def add_note(error: BaseException, note: str) -> None:
    """``BaseException.add_note`` on Python 3.11+, the same list by hand on 3.10."""
    adder: Any = getattr(error, "add_note", None)
    if adder is not None:
        adder(note)
        return
    notes = getattr(error, "__notes__", None)
    _set(error, "__notes__", [*(notes or []), note])


def _set(error: BaseException, name: str, value: object) -> None:
    # Some C-level exceptions refuse new attributes; losing the label beats masking the error.
    try:
        setattr(error, name, value)
    except (AttributeError, TypeError):
        pass


class WorkerCrashedError(PypelnError):
    """A worker process ended without reporting (killed by a signal, ``os._exit``, a crash).

    >>> str(WorkerCrashedError("map(f)", 1, -9))
    "stage 'map(f)': worker 1 died without reporting (exit code -9: killed by signal 9)"
    """

    def __init__(
        self,
        stage: str,
        worker: int,
        exitcode: int | None,
        started: bool = True,
        cause: str | None = None,
    ) -> None:
        how = "" if exitcode is None or exitcode >= 0 else f": killed by signal {-exitcode}"
        hint = "" if started else "; it died while its process was starting"
        what = f"exit code {exitcode}{how}" if cause is None else cause
        super().__init__(f"stage {stage!r}: worker {worker} died without reporting ({what}){hint}")
        self.stage = stage
        self.worker = worker
        self.exitcode = exitcode
        self.started = started

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.stage, self.worker, self.exitcode, self.started))


class RemoteError(PypelnError):
    """An exception raised in a worker process that could not be sent back as itself.

    It carries what could be sent: the exception's type name, message and traceback text.
    """

    def __init__(self, type_name: str, message: str, traceback_text: str) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message
        self.traceback_text = traceback_text


class SerializationError(PypelnError, TypeError):
    """An item, result, function or hook cannot be pickled to cross a process boundary."""
