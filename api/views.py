"""Exposing a domain row as a GraphQL type: the one way, a type's `from_model` calling `view`.

A type lists its fields once, as annotations; `view` sets each of them, as a plain attribute, from
the row's attribute of the same name (a column), unless `from_model` gives it (the global id, an
enum, a label, private fields). Plain attributes are what graphql-core reads without a resolver
call (api/plain.py); a field that needs the DataLoaders or an access check stays a resolver, which
`view` leaves alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Generator, Hashable
from typing import Any, TypeVar

from strawberry.types.base import get_object_definition

from api.context import BatchFn, Info
from api.relay import to_global_id

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
R = TypeVar("R")


_COPIED: dict[type, tuple[str, ...]] = {}


def _copied(cls: type) -> tuple[str, ...]:
    """The fields of `cls` set at construction with no default (resolvers and defaults are not)."""
    names = _COPIED.get(cls)
    if names is None:
        names = _COPIED[cls] = tuple(
            f.name
            for f in dataclasses.fields(cls)
            if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        )
    return names


def view(cls: type[T], row: object, **given: Any) -> T:
    """`cls` built from `row`: `given` as given, every other field the row's attribute of its name
    (a missing one raises AttributeError: a field that is no column must be given)."""
    values = {name: getattr(row, name) for name in _copied(cls) if name not in given}
    return cls(**values, **given)


async def related(info: Info, fn: BatchFn[K, R], key: K | None, wrap: Callable[[R], T]) -> T | None:
    """A to-one relation through the request's DataLoader for `fn`: the row of `key` wrapped, None
    when there is no key or no such row."""
    if key is None:
        return None
    found = await info.context.load(fn, key)
    return wrap(found) if found is not None else None


def node_view(cls: type[T], row: Any, **given: Any) -> T:
    """`view` for a Node type over a row with an `id`: the row kept as `model`, the global id made
    of the GraphQL type's name and the row's id."""
    name = get_object_definition(cls, strict=True).name
    return view(cls, row, model=row, id=to_global_id(name, row.id), **given)


class Later:
    """A field value made on first await (graphql-core awaits an awaitable attribute): a plain-attribute
    field that still loads through the DataLoaders, and only when the query asks for it."""

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[], Awaitable[Any]]) -> None:
        self._make = make

    def __await__(self) -> Generator[Any, None, Any]:
        return self._make().__await__()
