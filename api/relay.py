"""Relay conventions: the Node interface, global ids and cursor connections."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from api.context import BatchFn, Info
from core.errors import CoreCode, FieldIssue, ValidationFailed
from core.identity import Actor
from core.pagination import Page, check_id_count

T = TypeVar("T")
R = TypeVar("R")


def to_global_id(type_name: str, raw_id: uuid.UUID | str) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{raw_id}".encode()).decode().rstrip("="))


def from_global_id(global_id: str) -> tuple[str, str] | None:
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, _, raw = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (type_name, raw) if type_name and raw else None


def parse_uuid_id(global_id: str, expected_type: str) -> uuid.UUID | None:
    decoded = from_global_id(global_id)
    if decoded is None or decoded[0] != expected_type:
        return None
    try:
        return uuid.UUID(decoded[1])
    except ValueError:
        return None


@strawberry.interface(description="An object with a global id, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID


# type name -> fetch(info, raw ids) returning objects or None where missing or not visible
NodeFetcher = Callable[[Info, Sequence[str]], Awaitable[Sequence[Any | None]]]
NODE_FETCHERS: dict[str, NodeFetcher] = {}


def node_fetcher(type_name: str) -> Callable[[NodeFetcher], NodeFetcher]:
    def register(fn: NodeFetcher) -> NodeFetcher:
        NODE_FETCHERS[type_name] = fn
        return fn

    return register


async def resolve_nodes(info: Info, ids: Sequence[str]) -> list[Any | None]:
    """Each type's fetcher re-checks permission: an id is no key to an object you may not see."""
    check_id_count(len(ids))
    decoded = [from_global_id(i) for i in ids]
    by_type: dict[str, list[tuple[int, str]]] = {}
    for index, item in enumerate(decoded):
        if item is not None and item[0] in NODE_FETCHERS:
            by_type.setdefault(item[0], []).append((index, item[1]))
    out: list[Any | None] = [None] * len(ids)
    for type_name, wanted in by_type.items():
        found = await NODE_FETCHERS[type_name](info, [raw for _, raw in wanted])
        for (index, _), obj in zip(wanted, found, strict=True):
            out[index] = obj
    return out


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[T]:
        return [e.node for e in self.edges]


def connection(page: Page[Any], wrap: Callable[[Any], T]) -> Connection[T]:
    edges = [Edge(cursor=c, node=wrap(item)) for item, c in zip(page.items, page.cursors, strict=True)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
    )


async def read_page(
    info: Info, fetch: Callable[[AsyncSession, Actor], Awaitable[Page[R]]], wrap: Callable[[R], T]
) -> Connection[T]:
    """A connection field: one page read as the viewer (on the request's read connection), each row
    wrapped as its GraphQL type."""
    page = await info.context.read(fetch)
    return connection(page, wrap)


class InvalidId(ValidationFailed):
    """A malformed global id, or one of another type: ID_INVALID as a payload error in mutations
    and, the same code, as the GraphQL error of a query (a plain ValidationFailed says INVALID_INPUT)."""

    code = CoreCode.ID_INVALID

    def __init__(self, field: str | None):
        super().__init__([FieldIssue(code=self.code, message="编号无效", field=field)])


def require_id(value: object, type_name: str, field: str) -> uuid.UUID:
    """The UUID inside a global id of `type_name`; anything else is a validation error on `field`."""
    parsed = parse_uuid_id(str(value), type_name) if value is not None else None
    if parsed is None:
        raise InvalidId(field)
    return parsed


def require_ids(values: Sequence[object] | None, type_name: str, field: str) -> list[uuid.UUID]:
    """`require_id` for each of a list of global ids (None is an empty list)."""
    return [require_id(v, type_name, field) for v in values or []]


def require_id_of(value: object, kinds: dict[str, str], field: str) -> tuple[str, uuid.UUID]:
    """A global id of one of several types, e.g. {"post": "Post", "comment": "Comment"}: the kind it
    is (the key) and its UUID; anything else is a validation error on `field`."""
    for kind, type_name in kinds.items():
        if value is not None and (parsed := parse_uuid_id(str(value), type_name)) is not None:
            return kind, parsed
    raise InvalidId(field)


def optional_id(value: object, type_name: str, field: str) -> uuid.UUID | None:
    """Like `require_id`, but None and UNSET pass through as None."""
    if value is None or value is strawberry.UNSET:
        return None
    return require_id(value, type_name, field)


def raw_uuids(raw: Sequence[str]) -> list[uuid.UUID | None]:
    """The raw parts of decoded global ids as UUIDs (None where malformed), for node fetchers."""
    out: list[uuid.UUID | None] = []
    for r in raw:
        try:
            out.append(uuid.UUID(r))
        except ValueError:
            out.append(None)
    return out


async def load_nodes(
    info: Info,
    raw: Sequence[str],
    fn: BatchFn[uuid.UUID, R],
    wrap: Callable[[R], T],
    *,
    allowed: Callable[[Actor, uuid.UUID], bool] | None = None,
    visible: Callable[[Actor, R], bool] | None = None,
) -> list[T | None]:
    """A node fetcher through a DataLoader: the rows of the raw ids `allowed` (all by default) that
    exist and are `visible` (all by default) wrapped, None for the others. Both are the domain's
    predicates, asked with the viewer: `allowed(actor, id)`, `visible(actor, row)`."""
    actor = info.context.actor
    ids = raw_uuids(raw)
    wanted = [i for i in ids if i is not None and (allowed is None or allowed(actor, i))]
    found = dict(zip(wanted, await info.context.loaders.get(fn).load_many(wanted), strict=True))
    out: list[T | None] = []
    for i in ids:
        row = found.get(i) if i is not None else None
        out.append(wrap(row) if row is not None and (visible is None or visible(actor, row)) else None)
    return out


# A domain's batch read as the viewer: the rows of `ids` the actor may see, by id (others left out).
VisibleBatch = Callable[[AsyncSession, Actor, Sequence[uuid.UUID]], Awaitable[Mapping[uuid.UUID, R]]]


async def read_nodes(
    info: Info,
    raw: Sequence[str],
    batch: VisibleBatch[R],
    wrap: Callable[[R], T],
) -> list[T | None]:
    """A node fetcher over a domain read that leaves out what the viewer may not see (one read as the
    viewer, no DataLoader): the rows of the raw ids wrapped, None for malformed ids and the others."""
    ids = raw_uuids(raw)
    found = await info.context.read(batch, [i for i in ids if i is not None])
    return [wrap(found[i]) if i is not None and i in found else None for i in ids]
