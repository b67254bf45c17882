"""A patient's care team: who a conversation goes to, and which staff may read it.

The team of a patient is (1) their own clinicians, at most one doctor and one health manager
(care_assignments, set by the care desk or an admin), and (2) the clinical staff (doctors, health
managers) of the site the conversation belongs to: the patient's home site. Staff without a site
work for the whole group: they are the team of patients without a home site. Admins see everything.
Clinic desk staff, marketers and moderators are no part of it: a conversation is health data.

Sites and staff are read here, read-only, from the patients domain's tables (as complaints do).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from care import errors
from care.errors import CareCode as Code
from care.models import CareAssignment, CareTeamRole, Conversation
from core import clock
from core.errors import CoreCode, FieldIssue, NotFound, PermissionDenied, ValidationFailed
from core.identity import Actor, Role
from core.ids import new_id
from patients.models import Patient, Staff, StaffRole

CLINICAL_ROLES = (Role.DOCTOR, Role.HEALTH_MANAGER)  # admins hold every role
ASSIGNER_ROLES = (Role.CLINIC_STAFF, Role.HEALTH_MANAGER)  # who names a patient's clinicians
# A new conversation goes to the health manager first (they triage and bring the doctor in).
ROUTING_ORDER = (CareTeamRole.HEALTH_MANAGER, CareTeamRole.DOCTOR)


@dataclass(frozen=True)
class StaffInfo:
    id: uuid.UUID
    site_id: uuid.UUID | None
    active: bool
    roles: frozenset[str]

    @property
    def clinical(self) -> bool:
        return bool(self.roles & {Role.DOCTOR.value, Role.HEALTH_MANAGER.value, Role.ADMIN.value})


async def staff_info(session: AsyncSession, staff_id: uuid.UUID) -> StaffInfo | None:
    row = (
        await session.execute(
            select(Staff.id, Staff.site_id, Staff.active, func.array_remove(func.array_agg(StaffRole.role), None))
            .outerjoin(StaffRole, StaffRole.staff_id == Staff.id)
            .where(Staff.id == staff_id)
            .group_by(Staff.id)
        )
    ).first()
    if row is None:
        return None
    return StaffInfo(row[0], row[1], row[2], frozenset(row[3] or ()))


# --- who reads ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What one staff member's care-team reads cover."""

    staff_id: uuid.UUID | None
    everything: bool  # admins (and the system actor)
    site_id: uuid.UUID | None  # their site team (None: the group-wide team of patients without a site)


async def staff_scope(session: AsyncSession, actor: Actor) -> Scope | None:
    """None: the actor is no member of any care team (a patient, desk staff, a marketer ...)."""
    if actor.is_system or (actor.is_staff and actor.has_role(Role.ADMIN)):
        return Scope(actor.id, True, None)
    if not actor.is_staff or actor.id is None or not actor.has_role(*CLINICAL_ROLES):
        return None
    me = await staff_info(session, actor.id)
    if me is None or not me.active:
        return None
    return Scope(actor.id, False, me.site_id)


def visible_sql(scope: Scope) -> ColumnElement[bool]:
    """SQL: the conversations this staff member's care-team reads cover."""
    if scope.everything:
        return true()
    site = Conversation.site_id == scope.site_id if scope.site_id is not None else Conversation.site_id.is_(None)
    mine = exists().where(
        CareAssignment.patient_id == Conversation.patient_id, CareAssignment.staff_id == scope.staff_id
    )
    return or_(Conversation.assignee_id == scope.staff_id, site, mine)


async def readable(session: AsyncSession, actor: Actor, rows: Sequence[Conversation]) -> set[uuid.UUID]:
    """The ids of `rows` the actor may read: the patient's own, or their care team's (one statement
    for a batch of staff checks)."""
    if actor.is_patient:
        return {c.id for c in rows if c.patient_id == actor.id}
    scope = await staff_scope(session, actor)
    if scope is None or not rows:
        return set()
    if scope.everything:
        return {c.id for c in rows}
    ids = [c.id for c in rows]
    found = await session.scalars(select(Conversation.id).where(Conversation.id.in_(ids), visible_sql(scope)))
    return set(found)


# --- routing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    site_id: uuid.UUID | None
    assignee_id: uuid.UUID | None


async def route(session: AsyncSession, patient_id: uuid.UUID) -> Route:
    """Where a new conversation of this patient goes: their own health manager, else their doctor
    (each only while active and still holding the role), and always the team of their home site."""
    home = await session.scalar(select(Patient.home_site_id).where(Patient.id == patient_id))
    rows = (
        await session.execute(
            select(CareAssignment.role, Staff.id, Staff.site_id)
            .join(Staff, Staff.id == CareAssignment.staff_id)
            .where(
                CareAssignment.patient_id == patient_id,
                Staff.active.is_(True),
                exists().where(StaffRole.staff_id == Staff.id, StaffRole.role == CareAssignment.role),
            )
        )
    ).all()
    by_role = {r.role: (r.id, r.site_id) for r in rows}
    for role in ROUTING_ORDER:
        if role.value in by_role:
            staff_id, staff_site = by_role[role.value]
            return Route(home if home is not None else staff_site, staff_id)
    return Route(home, None)


# --- naming a patient's clinicians ----------------------------------------------------------------


def _role(value: str) -> CareTeamRole:
    try:
        return CareTeamRole(value)
    except ValueError:
        raise ValidationFailed(
            [FieldIssue(code=Code.CARE_ASSIGNEE_INVALID, message="负责角色需为医生或健康管理师", field="role")]
        ) from None


async def _patient_for_desk(session: AsyncSession, actor: Actor, patient_id: uuid.UUID) -> Patient:
    """The patient, for desk staff of their home site (or an admin)."""
    actor.require_role(*ASSIGNER_ROLES)
    patient = await session.get(Patient, patient_id)
    if patient is None or patient.erased_at is not None:
        raise NotFound("患者不存在", field="patientId", code=CoreCode.PATIENT_NOT_FOUND)
    if actor.has_role(Role.ADMIN) or actor.is_system or patient.home_site_id is None:
        return patient
    me = await staff_info(session, actor.id) if actor.id is not None else None
    if me is None or me.site_id != patient.home_site_id:
        raise PermissionDenied("只能为本院区的患者指定负责医护")
    return patient


async def set_assignment(
    session: AsyncSession, actor: Actor, *, patient_id: uuid.UUID, staff_id: uuid.UUID, role: str
) -> CareAssignment:
    """Name the patient's doctor or health manager (replacing the one before). New conversations go
    to them; conversations already open keep their assignee (reassign those one by one)."""
    the_role = _role(role)
    patient = await _patient_for_desk(session, actor, patient_id)
    target = await staff_info(session, staff_id)
    home = patient.home_site_id
    if (
        target is None
        or not target.active
        or the_role.value not in target.roles
        or (home is not None and target.site_id is not None and target.site_id != home)
    ):
        raise errors.CareAssigneeInvalid(field="staffId")
    now = clock.now()
    assignment_id = await session.scalar(
        insert(CareAssignment)
        .values(
            id=new_id(),
            patient_id=patient_id,
            staff_id=staff_id,
            role=the_role.value,
            assigned_by=actor.id,
            created_at=now,
        )
        .on_conflict_do_update(
            constraint="uq_care_assignments_patient_role",
            set_={"staff_id": staff_id, "assigned_by": actor.id, "created_at": now},
        )
        .returning(CareAssignment.id)
    )
    found = await session.get(CareAssignment, assignment_id, populate_existing=True)
    assert found is not None
    return found


async def remove_assignment(session: AsyncSession, actor: Actor, *, patient_id: uuid.UUID, role: str) -> CareAssignment:
    the_role = _role(role)
    await _patient_for_desk(session, actor, patient_id)
    removed = await session.scalar(
        delete(CareAssignment)
        .where(CareAssignment.patient_id == patient_id, CareAssignment.role == the_role.value)
        .returning(CareAssignment)
    )
    if removed is None:
        raise errors.CareAssignmentNotFound(field="role")
    return removed


async def care_team(session: AsyncSession, actor: Actor, patient_id: uuid.UUID | None) -> list[CareAssignment]:
    """The patient's named clinicians: for the patient (`patient_id` None: me) and for care staff."""
    if patient_id is None or (actor.is_patient and actor.id == patient_id):
        patient_id = actor.require_patient()
    elif not actor.has_role(*ASSIGNER_ROLES, *CLINICAL_ROLES):
        actor.require_authenticated()
        raise PermissionDenied()
    rows = await session.scalars(
        select(CareAssignment)
        .join(Staff, and_(Staff.id == CareAssignment.staff_id, Staff.active.is_(True)))
        .where(CareAssignment.patient_id == patient_id)
        .order_by(CareAssignment.role)
    )
    return list(rows)
