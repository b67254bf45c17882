"""People as the social layer sees them: an account (kind + id, as community memberships store it), its
name and whether it is clinical or on-duty staff. Every social module asks here."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from community import access
from core.identity import Actor, Role
from patients import queries as patient_queries

# Doctors and health managers may be followed whatever their profile's default; other staff not at all.
CLINICAL_ROLES = frozenset({Role.DOCTOR.value, Role.HEALTH_MANAGER.value})
# Staff on moderation or care duty: a block never keeps them from that work (social/blocks.py).
DUTY_ROLES = frozenset({Role.ADMIN.value, Role.MODERATOR.value, Role.DOCTOR.value, Role.HEALTH_MANAGER.value})


class Account(NamedTuple):
    kind: str  # 'patient' | 'staff'
    id: uuid.UUID


@dataclass(frozen=True)
class Person:
    account: Account
    display_name: str
    active: bool  # a staff account that was switched off is nobody to follow
    roles: frozenset[str]  # staff roles; empty for patients

    @property
    def clinical(self) -> bool:
        return self.account.kind == "staff" and bool(self.roles & CLINICAL_ROLES)


def of(actor: Actor) -> Account:
    """The signed-in patient's or staff member's account (NOT_AUTHENTICATED for anyone else)."""
    kind, account_id = access.account_of(actor)
    return Account(kind, account_id)


def viewer(actor: Actor) -> Account | None:
    """The viewer's account, or None for an anonymous viewer (and the system)."""
    kind, account_id = access.viewer_account(actor)
    return Account(kind, account_id) if kind is not None and account_id is not None else None


async def people(session: AsyncSession, accounts: Sequence[Account]) -> dict[Account, Person]:
    """The accounts that exist, with their names and staff roles (three statements at most)."""
    patient_ids = [a.id for a in accounts if a.kind == "patient"]
    staff_ids = [a.id for a in accounts if a.kind == "staff"]
    out: dict[Account, Person] = {}
    if patient_ids:
        for p in (await patient_queries.patients_by_ids(session, patient_ids)).values():
            out[Account("patient", p.id)] = Person(Account("patient", p.id), p.nickname, True, frozenset())
    if staff_ids:
        found = await patient_queries.staff_by_ids(session, staff_ids)
        roles = await patient_queries.roles_by_staff(session, list(found)) if found else {}
        for s in found.values():
            out[Account("staff", s.id)] = Person(
                Account("staff", s.id), s.name, s.active, frozenset(roles.get(s.id, ()))
            )
    return out


async def person(session: AsyncSession, account: Account) -> Person | None:
    return (await people(session, [account])).get(account)


def on_duty(person: Person) -> bool:
    return person.account.kind == "staff" and person.active and bool(person.roles & DUTY_ROLES)


async def lock_pair(session: AsyncSession, a: Account, b: Account) -> None:
    """Serialises follows and blocks between two people (in either direction): a follow that checked
    "no block" cannot be written after a block removed the follows."""
    first, second = sorted((f"{a.kind}:{a.id}", f"{b.kind}:{b.id}"))
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"social:{first}|{second}", 0))))


async def lock_own(session: AsyncSession, account: Account, what: str) -> None:
    """Serialises one person's follows (or blocks), so two at once cannot both pass the limit."""
    key = f"social:{what}:{account.kind}:{account.id}"
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))
