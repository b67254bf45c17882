"""Who may see what of a patient or a staff account: one predicate per decision, taking the viewer
and the subject, so every adapter (the GraphQL types, a worker, the staff console) decides alike."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from core.identity import Actor, Role
from patients import queries
from patients.auth import mask_phone
from patients.models import Condition
from patients.service import can_view_private, can_view_profile
from privacy import reads
from privacy.models import PhiKind

T = TypeVar("T")


def sees_profile(viewer: Actor, patient_id: uuid.UUID) -> bool:
    """The Patient object itself (fetched by id): the patient, staff and the system. A nickname in
    a community is public, but it is shown through the community, not as a profile."""
    return can_view_profile(viewer, patient_id)


def sees_private(viewer: Actor, patient_id: uuid.UUID) -> bool:
    """Real name, birth date and year, e-mail, gender, the full phone number and health data
    (conditions, consents): the patient and the care team."""
    return can_view_private(viewer, patient_id)


def private_field(viewer: Actor, patient_id: uuid.UUID, value: T) -> T | None:
    """`value`, a private field of the patient, as the viewer sees it: itself or None."""
    return value if sees_private(viewer, patient_id) else None


def phone_seen_by(viewer: Actor, patient_id: uuid.UUID, phone: str) -> str:
    """The full number for those who see private fields; the other staff see it masked."""
    return phone if sees_private(viewer, patient_id) else mask_phone(phone)


def sees_staff(viewer: Actor, staff_id: uuid.UUID) -> bool:
    """A staff account: administrators, and the staff member themselves."""
    return viewer.has_role(Role.ADMIN) or (viewer.is_staff and viewer.id == staff_id)


async def conditions_seen(
    session: AsyncSession, keys: Sequence[tuple[Actor, uuid.UUID]]
) -> dict[tuple[Actor, uuid.UUID], list[Condition]]:
    """Batch: each (viewer, patient)'s conditions as the viewer sees them, none outside the care team;
    a staff viewer's read is recorded (privacy.reads), one insert for the whole page."""
    visible = [(viewer, patient_id) for viewer, patient_id in keys if sees_private(viewer, patient_id)]
    found = await queries.conditions_by_patient(session, list({patient_id for _, patient_id in visible}))
    by_viewer: dict[Actor, list[uuid.UUID]] = {}
    for viewer, patient_id in visible:
        by_viewer.setdefault(viewer, []).append(patient_id)
    for viewer, patient_ids in by_viewer.items():
        await reads.record_reads(session, viewer, PhiKind.CONDITIONS, patient_ids)
    return {key: found.get(key[1], []) for key in visible}
