"""Running a mutation: one unit of work, domain errors turned into payload errors."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, Protocol, Self, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types.base import get_object_definition

from api.context import Info
from api.error_types import payload_errors
from api.relay import require_id
from core.db import unit_of_work
from core.errors import DomainError
from core.identity import Actor

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)
P = TypeVar("P")
P_co = TypeVar("P_co", covariant=True)
Params = ParamSpec("Params")

Work = Callable[[AsyncSession, Actor], Awaitable[T]]


class PayloadType(Protocol[T_contra, P_co]):
    """A mutation payload type: built with only `errors` when the work raised a DomainError, and by
    its classmethod `of` from what the work returned (wrapped as GraphQL types; with the request's
    Info for types that load through the DataLoaders). Each payload type says once how it is filled."""

    def __call__(self, *, errors: list[Any]) -> P_co: ...

    def of(self, value: T_contra, info: Info, /) -> P_co: ...


class ModelPayload:
    """A payload of one object that its GraphQL type builds with `from_model`: the subclass declares
    that field first (`group: GroupType | None = None`), then `errors`, and `of` fills the field."""

    @classmethod
    def of(cls, value: Any, _info: Info, /) -> Self:
        name, from_model = _model_field(cls)
        make: Callable[..., Self] = cls  # the subclass's dataclass constructor
        return make(**{name: from_model(value)}, errors=[])


class ValuePayload:
    """A payload of one plain value that the work returns as it is (a flag, an id): the subclass
    declares that field first (`removed: bool = False`), then `errors`, and `of` fills the field."""

    @classmethod
    def of(cls, value: Any, _info: Info, /) -> Self:
        make: Callable[..., Self] = cls  # the subclass's dataclass constructor
        return make(**{_value_field(cls): value}, errors=[])


_MODEL_FIELDS: dict[type, tuple[str, Callable[[Any], Any]]] = {}


def _model_field(payload: type) -> tuple[str, Callable[[Any], Any]]:
    found = _MODEL_FIELDS.get(payload)
    if found is None:
        field = get_object_definition(payload, strict=True).fields[0]
        wrapped = getattr(field.type, "of_type")  # noqa: B009  # `X | None`: the optional's type
        found = _MODEL_FIELDS[payload] = (field.python_name, wrapped.from_model)
    return found


def _value_field(payload: type) -> str:
    return get_object_definition(payload, strict=True).fields[0].python_name


async def mutate(info: Info, payload: PayloadType[T, P], work: Work[T]) -> P:
    """The one way to run a mutation: `work` in one unit of work, committed when it returns and
    rolled back when it raises (nothing half-written); a DomainError becomes `payload(errors=...)`,
    a result `payload.of(result, info)`.

    The request's read connection goes back to the pool first: holding it while waiting for the
    unit of work's connection is how 31 concurrent mutations once deadlocked a pool of 30.
    """
    db = info.context.db
    await db.release()
    db.wrote = True  # later reads in this request see what it wrote (the primary, not a replica)
    try:
        async with unit_of_work() as session:
            value = await work(session, info.context.actor)
    except DomainError as exc:
        return payload(errors=payload_errors(payload, exc))
    return payload.of(value, info)


def on_id(
    fn: Callable[Concatenate[AsyncSession, Actor, uuid.UUID, Params], Awaitable[T]],
    global_id: object,
    type_name: str,
    field: str,
    /,
    *args: Params.args,
    **kwargs: Params.kwargs,
) -> Work[T]:
    """The work of a mutation on one object named by a global id: `fn(session, actor, its UUID, *args,
    **kwargs)`. The id is read when the work runs, inside `mutate`, so a malformed one or one of another
    type is the payload's ID_INVALID error on `field`; `args` are plain values, taken as they are."""

    async def work(session: AsyncSession, actor: Actor) -> T:
        return await fn(session, actor, require_id(global_id, type_name, field), *args, **kwargs)

    return work


async def perform_at_once(info: Info, work: Callable[[Actor], Awaitable[T | None]]) -> T | None:
    """A domain fast path that runs its own single statement (no unit of work): None means the
    request needs the ordinary path, `mutate`. The read connection goes back first, as in `mutate`."""
    db = info.context.db
    await db.release()
    db.wrote = True
    return await work(info.context.actor)
