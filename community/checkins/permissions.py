"""Who reads health values: the patient and the care team (staff with the doctor or health manager
role; admins hold every staff role). A staff read is recorded (privacy.reads)."""

from __future__ import annotations

import uuid

from community.checkins.rules import CARE_TEAM_ROLES
from community.errors import NotCareTeam
from community.models import CheckIn, HealthAlert
from core.errors import NotAuthenticated
from core.identity import Actor, ActorKind
from privacy import reads
from privacy.models import PhiKind


def is_care_team(actor: Actor) -> bool:
    return actor.has_role(*CARE_TEAM_ROLES)


def can_read_values(actor: Actor, patient_id: uuid.UUID) -> bool:
    return (actor.is_patient and actor.id == patient_id) or is_care_team(actor)


def shows_values(actor: Actor, check_in: CheckIn) -> bool:
    """`can_read_values` for a check-in about to be shown (by id); a staff read is recorded."""
    return reads.noted(actor, PhiKind.CHECKINS, check_in.patient_id, can_read_values(actor, check_in.patient_id))


def shows_alert(actor: Actor, alert: HealthAlert) -> bool:
    """Whether an alert (it carries the reading) is shown to the actor; a staff read is recorded."""
    return reads.noted(actor, PhiKind.CHECKINS, alert.patient_id, is_care_team(actor))


def require_value_reader(actor: Actor, patient_id: uuid.UUID) -> None:
    if actor.kind is ActorKind.ANONYMOUS:
        raise NotAuthenticated()
    if not can_read_values(actor, patient_id):
        raise NotCareTeam()


def require_care_team(actor: Actor) -> None:
    if actor.kind is ActorKind.ANONYMOUS:
        raise NotAuthenticated()
    if not is_care_team(actor):
        raise NotCareTeam("仅医生和健康管理师可以处理健康预警")
