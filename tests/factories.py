"""Factories shared by the tests of every domain: patients, staff (actors and accounts), sites,
community groups and their members, and the ledger invariants checked after loyalty-touching tests.

Domain-specific helpers live beside their tests (tests/<domain>/support.py) and build on these.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from community import credentials, groups
from core import clock, security
from core.db import unit_of_work
from core.identity import SYSTEM, Actor, ActorKind, Role
from loyalty import ledger
from loyalty.models import Account, AccountKind, Lot, LotStatus
from patients import service as patient_service

STAFF_PASSWORD = "Test-password-1"

# --- patients ---------------------------------------------------------------------------------------

_counter = iter(range(10_000_000))


def next_phone() -> str:
    """Unique within the test process (each xdist worker has its own database)."""
    return f"1380{next(_counter):07d}"


async def new_member(phone: str | None = None) -> uuid.UUID:
    async with unit_of_work() as session:
        patient, _ = await patient_service.register_patient(session, SYSTEM, phone=phone or next_phone())
    return patient.id


def as_patient(patient_id: uuid.UUID) -> Actor:
    return Actor(kind=ActorKind.PATIENT, id=patient_id)


# --- staff ------------------------------------------------------------------------------------------


def staff(*roles: Role, staff_id: uuid.UUID | None = None) -> Actor:
    """A staff actor for calling domain functions directly (no account row behind it)."""
    return Actor(kind=ActorKind.STAFF, id=staff_id or uuid.uuid4(), roles=frozenset(roles))


staff_actor = staff

# Creating a staff account hashes its password with argon2 (~0.3 s of CPU). The application offers no
# setting for cheaper parameters, so staff made by these factories reuse one real hash of
# STAFF_PASSWORD made by the application's own hasher (same parameters, so sign-in still verifies a
# real argon2 hash at full cost). Only calls made inside make_staff() take the shortcut: a context
# variable marks them, every other hash_password call (password changes, tests of hashing) is untouched.
_reuse_hash: contextvars.ContextVar[bool] = contextvars.ContextVar("reuse_staff_hash", default=False)
_hashes: dict[str, str] = {}


@contextmanager
def fast_staff_password_hash() -> Iterator[None]:
    original = security.hash_password

    async def hash_password(password: str) -> str:
        if not _reuse_hash.get():
            return await original(password)
        if password not in _hashes:
            _hashes[password] = await original(password)
        return _hashes[password]

    security.hash_password = hash_password  # type: ignore[assignment]
    try:
        yield
    finally:
        security.hash_password = original  # type: ignore[assignment]


async def make_staff(
    email: str,
    roles: list[str] | list[Role],
    site_id: uuid.UUID | None = None,
    *,
    name: str = "测试员工",
    password: str = STAFF_PASSWORD,
    phone: str | None = None,
    active: bool = True,
) -> uuid.UUID:
    """A staff account created by the application (as SYSTEM), signing in with `password`."""
    token = _reuse_hash.set(True)
    try:
        async with unit_of_work() as session:
            member = await patient_service.create_staff(
                session,
                SYSTEM,
                email=email,
                name=name,
                password=password,
                roles=[r.value if isinstance(r, Role) else r for r in roles],
                site_id=site_id,
            )
            if phone is not None:
                member.phone = phone
            if not active:
                member.active = False
            await session.flush()
            return member.id
    finally:
        _reuse_hash.reset(token)


async def verified_credential(staff_id: uuid.UUID, *, days: int = 365, number: str | None = None) -> uuid.UUID:
    """A practising credential for a doctor or health manager, recorded and verified by an admin, valid
    for `days` from now: what the group expert role and verifying answers need."""
    admin = staff(Role.ADMIN)
    async with unit_of_work() as session:
        credential = await credentials.record(
            session,
            admin,
            credentials.CredentialInput(
                staff_id=staff_id,
                certificate_number=number or f"{uuid.uuid4().int % 10**15:015d}",
                institution="康宁医院总院区",
                specialty="内分泌科",
                evidence_key=f"credentials/{staff_id}.pdf",
                expires_at=clock.now() + timedelta(days=days),
            ),
        )
        await credentials.verify(session, admin, credential.id)
        return credential.id


# --- sites ------------------------------------------------------------------------------------------


async def make_site(code: str, name: str | None = None) -> uuid.UUID:
    async with unit_of_work() as session:
        site = await patient_service.create_site(session, SYSTEM, code=code, name=name or f"院区{code}", kind="campus")
        await session.flush()
        return site.id


# --- community groups -------------------------------------------------------------------------------

MODERATOR = staff(Role.MODERATOR)


async def make_group(
    slug: str | None = None,
    *,
    name: str | None = None,
    visibility: str = "public",
    join_policy: str = "open",
    condition_code: str | None = "diabetes",
    allow_anonymous: bool = False,
    alias_prefix: str = "糖友",
    by: Actor = MODERATOR,
) -> uuid.UUID:
    """A group created by a moderator; a random slug when none is given."""
    slug = slug or f"g-{uuid.uuid4().hex[:10]}"
    async with unit_of_work() as session:
        group = await groups.create_group(
            session,
            by,
            groups.GroupInput(
                slug=slug,
                name=name or f"测试群{slug}",
                visibility=visibility,
                join_policy=join_policy,
                condition_code=condition_code,
                allow_anonymous=allow_anonymous,
                alias_prefix=alias_prefix,
            ),
        )
    return group.id


async def join(group_id: uuid.UUID, patient_id: uuid.UUID) -> None:
    async with unit_of_work() as session:
        await groups.join(session, as_patient(patient_id), group_id)


async def member_of(
    group_id: uuid.UUID, patient_id: uuid.UUID | None = None, *, veteran: bool = True, days_ago: int = 30
) -> uuid.UUID:
    """A patient who joined the group (admitted by a moderator if the group needs approval).
    Veterans joined `days_ago` days ago, so the new-member posting limits do not apply to them."""
    patient_id = patient_id or await new_member()
    async with unit_of_work() as session:
        m = await groups.join(session, as_patient(patient_id), group_id)
        if m.state == "pending":
            await groups.decide_request(session, MODERATOR, m.id, approve=True)
        if veteran:
            m.joined_at = clock.now() - timedelta(days=days_ago)
    return patient_id


# --- ledger invariants ------------------------------------------------------------------------------


async def check_ledger_invariants() -> None:
    """The journal balances; member balances never negative; available = spendable lots; pending = pending lots."""
    async with unit_of_work() as session:
        assert await ledger.journal_imbalance(session) == 0
        negatives = await session.scalar(
            select(func.count())
            .select_from(Account)
            .where(
                Account.patient_id.is_not(None),
                ((Account.kind != AccountKind.CLAWBACK) & (Account.balance < 0))
                | ((Account.kind == AccountKind.CLAWBACK) & (Account.balance > 0)),
            )
        )
        assert negatives == 0
        accounts = {
            (p, k): b
            for p, k, b in await session.execute(
                select(Account.patient_id, Account.kind, Account.balance).where(Account.patient_id.is_not(None))
            )
        }
        lots: dict[tuple[Any, str], int] = {}
        for p, status, remaining in await session.execute(
            select(Lot.patient_id, Lot.status, func.sum(Lot.remaining)).group_by(Lot.patient_id, Lot.status)
        ):
            lots[(p, status)] = int(remaining)
        for (patient_id, kind), balance in accounts.items():
            if kind == AccountKind.AVAILABLE:
                assert balance == lots.get((patient_id, LotStatus.AVAILABLE), 0), (patient_id, balance)
            if kind == AccountKind.PENDING:
                assert balance == lots.get((patient_id, LotStatus.PENDING), 0), (patient_id, balance)
