"""Keyset pagination: a cursor is the (sort key, id) of the last row seen, never an offset.

Rows inserted or deleted while a client pages do not shift later pages, and the query uses the
(sort key, id) index however deep the client goes.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.errors import DomainError
from core.settings import get_settings

T = TypeVar("T")


class InvalidCursor(DomainError):
    code = "CURSOR_INVALID"
    default_message = "分页游标无效"


class InvalidPageSize(DomainError):
    code = "PAGE_SIZE_INVALID"
    default_message = "每页数量需在1到100之间"


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"d": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "d" in value:
            return datetime.fromisoformat(value["d"])
        if "u" in value:
            return uuid.UUID(value["u"])
    return value


def encode_cursor(*values: Any) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> tuple[Any, ...]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != arity:
            raise ValueError
        return tuple(_decode_value(v) for v in values)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise InvalidCursor(field="after") from exc


def page_size(first: int | None, default: int = 20) -> int:
    limit = get_settings().max_page_size
    size = default if first is None else first
    if not 1 <= size <= limit:
        raise InvalidPageSize(f"每页数量需在1到{limit}之间", field="first")
    return size


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool


async def keyset_page(
    session: AsyncSession,
    stmt: Select[Any],
    *,
    sort: InstrumentedAttribute[Any],
    id_: InstrumentedAttribute[Any],
    first: int | None,
    after: str | None,
    descending: bool = False,
) -> Page[Any]:
    """Pages a select of ORM entities ordered by (sort, id); `sort` and `id_` are their columns."""
    size = page_size(first)
    if after:
        key = decode_cursor(after, 2)
        cmp = tuple_(sort, id_) < tuple_(*key) if descending else tuple_(sort, id_) > tuple_(*key)
        stmt = stmt.where(cmp)
    order = (sort.desc(), id_.desc()) if descending else (sort.asc(), id_.asc())
    rows = list((await session.scalars(stmt.order_by(*order).limit(size + 1))).all())
    has_next = len(rows) > size
    rows = rows[:size]
    cursors = [encode_cursor(getattr(r, sort.key), getattr(r, id_.key)) for r in rows]
    return Page(items=rows, cursors=cursors, has_next_page=has_next, has_previous_page=after is not None)
