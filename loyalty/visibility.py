"""Who may see what of a member's loyalty status: one predicate per decision, taking the viewer and
the member, so every adapter (the GraphQL types, a worker, the staff console) decides alike."""

from __future__ import annotations

import uuid

from core.identity import Actor, Role
from loyalty.service import POINTS_READERS, can_read_points


def sees_points(viewer: Actor, patient_id: uuid.UUID) -> bool:
    """Balance, tier and progress, points history: the member and the care and front-desk staff."""
    return can_read_points(viewer, patient_id)


def sees_referral_code(viewer: Actor, patient_id: uuid.UUID) -> bool:
    """The member's own referral code: the member only."""
    return viewer.is_patient and viewer.id == patient_id


def sees_lifecycle_stage(viewer: Actor, patient_id: uuid.UUID) -> bool:
    """The lifecycle stage: staff, and the member."""
    return viewer.is_staff or viewer.id == patient_id


def sees_lifecycle_history(viewer: Actor, patient_id: uuid.UUID) -> bool:
    """How the member moved between stages: staff only."""
    return viewer.is_staff


def require_earning_rules_reader(viewer: Actor) -> None:
    """The earning rules are for the staff who answer members about points, and for marketing."""
    viewer.require_role(*POINTS_READERS, Role.MARKETER)
