"""``Element``: an item with its index, as ``to_iterable(return_index=True)`` yields it.

It is a ``(index, value)`` pair (it unpacks, compares and sorts as one) that also names its
parts, as pypeln 0.4.9's ``Element`` did: ``element.index`` is the position of the source
item it comes from (one level more per ``flat_map``), ``element.value`` the item.

>>> element = Element((2, 0), "c")
>>> element.index, element.value
((2, 0), 'c')
>>> index, value = element
>>> element == ((2, 0), "c"), sorted([Element((3,), "d"), element])[0] is element
(True, True)
"""

from __future__ import annotations

from typing import Generic, TypeVar

from .._worker.kernels import Index

T_co = TypeVar("T_co", covariant=True)


class Element(tuple[Index, T_co], Generic[T_co]):
    """An item (``value``) and the index of the source item it comes from (``index``)."""

    __slots__ = ()

    def __new__(cls, index: Index, value: T_co) -> Element[T_co]:
        return tuple.__new__(cls, (index, value))

    @property
    def index(self) -> Index:  # type: ignore[override]  # the field, not tuple.index
        return self[0]

    @property
    def value(self) -> T_co:
        return self[1]

    def __getnewargs__(self) -> tuple[Index, T_co]:
        return (self[0], self[1])

    def __repr__(self) -> str:
        return f"Element(index={self[0]!r}, value={self[1]!r})"
