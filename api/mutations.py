"""Running a mutation: one unit of work, domain errors turned into payload errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from api.context import Info
from api.errors import UserError, user_errors
from core.db import unit_of_work
from core.errors import DomainError
from core.identity import Actor

T = TypeVar("T")


@dataclass
class Outcome(Generic[T]):
    value: T | None = None
    errors: list[UserError] = field(default_factory=list)


async def perform(info: Info, work: Callable[[AsyncSession, Actor], Awaitable[T]]) -> Outcome[T]:
    """Commits when `work` returns, rolls back when it raises (nothing half-written).

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
        return Outcome(errors=user_errors(exc))
    return Outcome(value=value)


async def perform_at_once(info: Info, work: Callable[[Actor], Awaitable[T | None]]) -> T | None:
    """A domain fast path that runs its own single statement (no unit of work): None means the
    request needs the ordinary path, `perform`. The read connection goes back first, as in `perform`."""
    db = info.context.db
    await db.release()
    db.wrote = True
    return await work(info.context.actor)
