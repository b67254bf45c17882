"""Event rules: who runs events, limits, kinds and their labels, reminder stages, the waitlist order."""

from __future__ import annotations

from datetime import timedelta

from community.models import EventKind, EventRsvp, RsvpStatus
from core.identity import Actor, Role

# Staff who create, cancel and invite to events (admins hold every role).
EVENT_ADMIN_ROLES = (Role.MARKETER, Role.MODERATOR)
# Staff who check attendees in at the door.
CHECKIN_STAFF_ROLES = (Role.CLINIC_STAFF,)
# Staff who run events: they scan attendees' check-in codes and read the attendee list.
EVENT_STAFF_ROLES = (*EVENT_ADMIN_ROLES, *CHECKIN_STAFF_ROLES)

MAX_OCCURRENCES = 52
MAX_CAPACITY = 100_000
ONLINE_KINDS = frozenset({EventKind.ONLINE_LECTURE.value, EventKind.LIVESTREAM.value})
KIND_LABELS = {
    EventKind.ONLINE_LECTURE.value: "线上讲座",
    EventKind.LIVESTREAM.value: "直播",
    EventKind.OFFLINE.value: "线下活动",
    EventKind.FREE_CLINIC.value: "义诊",
}
# Reminder stages per kind, nearest first: an event inside several windows gets only the nearest
# stage's reminder (a sign-up 30 minutes before an activity gets the 1 h reminder, not both).
_OFFLINE_STAGES = (("1h", timedelta(hours=1)), ("24h", timedelta(hours=24)))
_ONLINE_STAGES = (("10m", timedelta(minutes=10)),)
REMINDER_STAGES: dict[str, tuple[tuple[str, timedelta], ...]] = {
    EventKind.OFFLINE.value: _OFFLINE_STAGES,
    EventKind.FREE_CLINIC.value: _OFFLINE_STAGES,
    EventKind.ONLINE_LECTURE.value: _ONLINE_STAGES,
    EventKind.LIVESTREAM.value: _ONLINE_STAGES,
}
REMINDER_HORIZON = max(lead for stages in REMINDER_STAGES.values() for _, lead in stages)
SEAT_HOLDING = (RsvpStatus.GOING.value, RsvpStatus.OFFERED.value)
# Priority members (a tier benefit) first, then in order of arrival.
WAITLIST_ORDER = (EventRsvp.priority.desc(), EventRsvp.waitlisted_at, EventRsvp.id)
NOTIFIED_ON_CANCEL = (RsvpStatus.GOING.value, RsvpStatus.WAITLISTED.value, RsvpStatus.OFFERED.value)


def can_manage(actor: Actor) -> bool:
    return actor.has_role(*EVENT_ADMIN_ROLES)


def sees_everything(actor: Actor) -> bool:
    """Staff who run events see every event, whatever its group."""
    return actor.has_role(*EVENT_STAFF_ROLES)
