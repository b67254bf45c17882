"""Read queries of the identity domain, shaped for batching (one statement for many ids)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import CoreCode, DomainError, PermissionDenied
from core.identity import Actor, Role
from core.pagination import Page, keyset_page
from patients.models import AuthSession, Condition, Consent, Patient, PatientCondition, Site, Staff, StaffRole
from patients.phones import normalize_phone
from patients.service import CARE_ROLES
from privacy import reads
from privacy.models import PhiKind


async def patients_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Patient]:
    rows = await session.scalars(select(Patient).where(Patient.id.in_(ids)))
    return {p.id: p for p in rows}


async def staff_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Staff]:
    rows = await session.scalars(select(Staff).where(Staff.id.in_(ids)))
    return {s.id: s for s in rows}


async def sites_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Site]:
    rows = await session.scalars(select(Site).where(Site.id.in_(ids)))
    return {s.id: s for s in rows}


async def conditions_by_patient(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Condition]]:
    rows = await session.execute(
        select(PatientCondition.patient_id, Condition)
        .join(Condition, Condition.code == PatientCondition.condition_code)
        .where(PatientCondition.patient_id.in_(ids))
        .order_by(Condition.sort_order, Condition.code)
    )
    out: dict[uuid.UUID, list[Condition]] = defaultdict(list)
    for patient_id, condition in rows:
        out[patient_id].append(condition)
    return out


async def consents_by_patient(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Consent]]:
    rows = await session.scalars(
        select(Consent).where(Consent.patient_id.in_(ids)).order_by(Consent.channel, Consent.purpose)
    )
    out: dict[uuid.UUID, list[Consent]] = defaultdict(list)
    for consent in rows:
        out[consent.patient_id].append(consent)
    return out


async def roles_by_staff(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    rows = await session.execute(
        select(StaffRole.staff_id, StaffRole.role).where(StaffRole.staff_id.in_(ids)).order_by(StaffRole.role)
    )
    out: dict[uuid.UUID, list[str]] = defaultdict(list)
    for staff_id, role in rows:
        out[staff_id].append(role)
    return out


async def list_conditions(session: AsyncSession) -> list[Condition]:
    return list(await session.scalars(select(Condition).order_by(Condition.sort_order, Condition.code)))


async def list_sites(session: AsyncSession, *, include_inactive: bool = False) -> list[Site]:
    stmt = select(Site).order_by(Site.code)
    if not include_inactive:
        stmt = stmt.where(Site.active.is_(True))
    return list(await session.scalars(stmt))


NAME_SEARCH_MAX = 50  # patients.real_name is 50 characters


async def page_patients(
    session: AsyncSession,
    actor: Actor,
    *,
    first: int | None,
    after: str | None,
    condition_code: str | None = None,
    phone: str | None = None,
    name: str | None = None,
) -> Page[Patient]:
    """Newest first. Staff only: a patient list is health data. `phone`: the one patient with that
    number (the front desk finds the member in front of them; any written form, normalised). `name`:
    patients whose community nickname contains it, or (for the care roles, who see real names) whose
    real name is exactly it."""
    if not actor.has_role(*CARE_ROLES, Role.MARKETER):
        raise PermissionDenied()
    stmt = select(Patient)
    if phone is not None:
        stmt = stmt.where(Patient.phone == normalize_phone(phone))
    if name is not None:
        wanted = name.strip()
        if not 1 <= len(wanted) <= NAME_SEARCH_MAX:
            raise DomainError(f"姓名或昵称需为1到{NAME_SEARCH_MAX}个字符", field="name", code=CoreCode.NAME_LENGTH)
        matches = Patient.nickname.contains(wanted, autoescape=True)
        if actor.has_role(*CARE_ROLES):
            matches = or_(matches, Patient.real_name == wanted)
        stmt = stmt.where(matches)
    if condition_code:
        stmt = stmt.where(
            Patient.id.in_(select(PatientCondition.patient_id).where(PatientCondition.condition_code == condition_code))
        )
    page = await keyset_page(
        session, stmt, sort=Patient.created_at, id_=Patient.id, first=first, after=after, descending=True
    )
    if condition_code:
        # A list filtered by a condition tells the reader each listed patient has it.
        await reads.record_reads(session, actor, PhiKind.CONDITIONS, [p.id for p in page.items])
    return page


async def page_staff(session: AsyncSession, actor: Actor, *, first: int | None, after: str | None) -> Page[Staff]:
    actor.require_role(Role.ADMIN)
    return await keyset_page(session, select(Staff), sort=Staff.created_at, id_=Staff.id, first=first, after=after)


async def page_sites(session: AsyncSession, *, first: int | None, after: str | None) -> Page[Site]:
    return await keyset_page(
        session, select(Site).where(Site.active.is_(True)), sort=Site.code, id_=Site.id, first=first, after=after
    )


async def patient_ids_after(session: AsyncSession, after: uuid.UUID | None, limit: int) -> list[uuid.UUID]:
    """Keyset walk over every patient id, for batch jobs of other domains."""
    stmt = select(Patient.id).order_by(Patient.id).limit(limit)
    if after is not None:
        stmt = stmt.where(Patient.id > after)
    return list(await session.scalars(stmt))


async def patient_by_phone(session: AsyncSession, phone: str) -> Patient | None:
    return await session.scalar(select(Patient).where(Patient.phone == phone))


async def is_staff_phone(session: AsyncSession, phone: str) -> bool:
    found = await session.scalar(select(Staff.id).where(Staff.phone == phone, Staff.active.is_(True)).limit(1))
    return found is not None


async def device_ids_of_patient(session: AsyncSession, patient_id: uuid.UUID) -> set[str]:
    rows = await session.scalars(
        select(AuthSession.device_id).where(
            AuthSession.subject_kind == "patient",
            AuthSession.subject_id == patient_id,
            AuthSession.device_id.is_not(None),
        )
    )
    return {r for r in rows if r}


# A read-only SQL fragment for other domains' one-statement reads (content.access.load_viewer composes
# it with its own as a LATERAL subquery): the patient $1's condition codes, sorted, '{}' for none.
CONDITION_CODES_SQL = """SELECT coalesce(array_agg(condition_code ORDER BY condition_code), '{}') AS condition_codes
FROM patient_conditions WHERE patient_id = $1"""
