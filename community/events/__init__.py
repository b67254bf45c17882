"""Events: online lectures, livestreams, offline activities and free clinics (义诊).

One module per idea: rules (who runs events, limits, labels, reminder stages, the waitlist order),
notices (sent once per key), locks (event -> rsvp), creating, visibility, seats (RSVPs, the waitlist,
offers and their expiry), cancellation, reminders, reads (batch reads for the API). This package
exports what the adapters and the other domains use. Check-in at the door, with each attendee's own
signed one-use token: community.attendance.

Capacity, a waitlist and seat offers: when a seat frees up the first person on the waitlist is
offered it for `offer_hold_hours`; they accept (going) or the offer expires and passes on. An offered
seat is held: seats taken = going + offered (`going_count` counts only the people going). Members
whose tier has priority booking wait ahead of the others (`priority`, set when they join the list).

Concurrency: every change of who holds a seat locks the event row first (SELECT ... FOR UPDATE) and
only then the RSVP rows, so RSVPs, offers, expiries and cancellations of one event are serialised
and the lock order is always event -> rsvp (no deadlocks). Waitlist order is (priority first,
waitlisted_at, id); under the lock each new waitlisted_at is strictly later than the last one, so
within a priority class the order is the order in which requests took the lock, even with a frozen
clock.

Notices (offers, reminders, cancellations) are claimed in `community_notices_sent` first (insert ...
on conflict do nothing returning) and sent through the outbox only when the claim was new, so a
retried or overlapping cron never sends one twice.
"""

from __future__ import annotations

from community.errors import (
    EventCancelled,
    EventEnded,
    EventNotFound,
    EventStarted,
    NotRegistered,
    OfferExpired,
    OfferNotFound,
    RegistrationClosed,
)
from community.events.cancellation import cancel_event
from community.events.creating import EventInput, create_event
from community.events.locks import lock_event, lock_rsvp
from community.events.notices import local_text
from community.events.reads import Occupancy, occupancy, rsvps_for, waitlist, waitlist_positions
from community.events.reminders import EVENT_REMINDERS, send_reminders
from community.events.rules import EVENT_ADMIN_ROLES, EVENT_STAFF_ROLES, KIND_LABELS
from community.events.seats import EXPIRE_OFFERS, accept_offer, expire_offers, rsvp
from community.events.visibility import events_page, get_event, visible_events, visible_link
from community.models import EventStatus, RsvpResponse

__all__ = [
    "EVENT_ADMIN_ROLES",
    "EVENT_REMINDERS",
    "EVENT_STAFF_ROLES",
    "EXPIRE_OFFERS",
    "KIND_LABELS",
    "EventCancelled",
    "EventEnded",
    "EventInput",
    "EventNotFound",
    "EventStarted",
    "EventStatus",
    "NotRegistered",
    "Occupancy",
    "OfferExpired",
    "OfferNotFound",
    "RegistrationClosed",
    "RsvpResponse",
    "accept_offer",
    "cancel_event",
    "create_event",
    "events_page",
    "expire_offers",
    "get_event",
    "local_text",
    "lock_event",
    "lock_rsvp",
    "occupancy",
    "rsvp",
    "rsvps_for",
    "send_reminders",
    "visible_events",
    "visible_link",
    "waitlist",
    "waitlist_positions",
]
