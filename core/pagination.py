"""Keyset pagination: a cursor is the (sort key, id) of the last row seen, never an offset.

Rows inserted or deleted while a client pages do not shift later pages, and the query uses the
(sort key, id) index however deep the client goes.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.errors import CoreCode, DomainError
from core.settings import get_settings

T = TypeVar("T")


class InvalidCursor(DomainError):
    code: str = CoreCode.CURSOR_INVALID
    default_message = "分页游标无效"


class InvalidPageSize(DomainError):
    code: str = CoreCode.PAGE_SIZE_INVALID
    default_message = "每页数量需在1到100之间"


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"d": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"d"} and isinstance(value["d"], str):
            return datetime.fromisoformat(value["d"])
        if set(value) == {"u"} and isinstance(value["u"], str):
            return uuid.UUID(value["u"])
        raise ValueError("unknown cursor value")
    return value


# PostgreSQL bigint bounds: a larger number in a cursor would fail in asyncpg, not in the query.
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def _bindable(value: Any) -> bool:
    """Whether asyncpg can send the value at all (NUL and lone surrogates in text cannot be sent)."""
    if value is None or isinstance(value, bool | uuid.UUID):
        return True
    if isinstance(value, int):
        return _INT_MIN <= value <= _INT_MAX
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return "\x00" not in value and _utf8(value)
    if isinstance(value, datetime):
        # Every timestamp column is timestamptz: a naive datetime cannot be compared with it.
        return value.tzinfo is not None
    return False


def _fits(value: Any, kind: type | None) -> bool:
    """Whether a decoded cursor value can be compared with a column whose values are of `kind`.

    A client may send anything base64 encodes: a cursor of another connection, or one edited by
    hand. Each value is checked against the column it is compared with, so a wrong type is a
    CURSOR_INVALID here instead of a failed statement (and a broken transaction) in PostgreSQL.
    None passes: a row with a NULL sort key encodes it, and NULL binds to any column type."""
    if value is None or kind is None:
        return True
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


def _utf8(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:  # a lone surrogate from a \ud800 escape in the JSON
        return False
    return True


def encode_cursor(*values: Any) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(
    cursor: str, arity: int, *, types: Sequence[type | None] | None = None, field: str = "after"
) -> tuple[Any, ...]:
    """The values of a cursor made by `encode_cursor`; `types` (one per value, None for any) are
    the Python types of the columns they are compared with. Anything else is CURSOR_INVALID."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != arity:
            raise ValueError("wrong shape")
        decoded = tuple(_decode_value(v) for v in values)
    except (ValueError, TypeError, binascii.Error, RecursionError) as exc:
        # json.JSONDecodeError and UnicodeDecodeError are ValueErrors; RecursionError: "[[[[...".
        raise InvalidCursor(field=field) from exc
    if not all(_bindable(v) for v in decoded):
        raise InvalidCursor(field=field)
    if types is not None and not all(_fits(v, t) for v, t in zip(decoded, types, strict=True)):
        raise InvalidCursor(field=field)
    return decoded


def column_type(column: InstrumentedAttribute[Any]) -> type | None:
    """The Python type a column's values have, for checking cursors (None: not checked)."""
    try:
        kind = column.type.python_type
    except NotImplementedError:  # SQLAlchemy's answer for types without one Python type (JSONB ...)
        return None
    return kind if isinstance(kind, type) else None


class TooManyIds(DomainError):
    code: str = CoreCode.TOO_MANY_IDS
    default_message = "一次最多查询100个对象"


def check_id_count(count: int, field: str = "ids") -> None:
    """A batch of ids is capped like a page: each id may cost a lookup."""
    limit = get_settings().max_page_size
    if count > limit:
        raise TooManyIds(f"一次最多查询{limit}个对象", field=field)


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
        key = decode_cursor(after, 2, types=(column_type(sort), column_type(id_)))
        cmp = tuple_(sort, id_) < tuple_(*key) if descending else tuple_(sort, id_) > tuple_(*key)
        stmt = stmt.where(cmp)
    order = (sort.desc(), id_.desc()) if descending else (sort.asc(), id_.asc())
    rows = list((await session.scalars(stmt.order_by(*order).limit(size + 1))).all())
    has_next = len(rows) > size
    rows = rows[:size]
    cursors = [encode_cursor(getattr(r, sort.key), getattr(r, id_.key)) for r in rows]
    return Page(items=rows, cursors=cursors, has_next_page=has_next, has_previous_page=after is not None)
