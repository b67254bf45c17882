"""Daily check-ins (打卡): readings, streaks and milestones, out-of-range alerts, group boards.

One module per idea: rules (who reads values, limits, labels, safe ranges, the fields of each kind),
permissions, dates (a patient's local calendar date), validation, streaks, alerts, checking_in,
reads, board. This package exports what the adapters and the other domains use.

Dates. A check-in belongs to the patient's *local calendar date* in the time zone of their profile
at the moment of the check-in, and streaks compare those dates, never timestamps: a patient who
checks in at 23:30 in Shanghai and next on the following calendar date in Los Angeles keeps the
streak. Flying east can swallow a whole calendar date (23:00 in Los Angeles, landing two Shanghai
dates later), so when the zone changed since the last check-in the date in the *previous* zone is
asked too; the streak survives when either zone says "the next day".

One row per (patient, kind, local date). A second check-in of the same kind on the same date
corrects the first: the value is replaced (the row and its streak day stay). A correction never
closes an alert raised by the earlier reading; a new dangerous reading re-opens an acknowledged one.

Streaks: `CheckInStreak` keeps (current, longest, last_date) per patient and is locked for the
whole check-in, so concurrent check-ins of one patient are serial. The start of the current run is
`last_date - (current - 1)`; the milestone idempotency key is derived from it, so each milestone
(7/30/100 days) is awarded once per run, through `loyalty.earning.award` only.

Privacy: values are read only by the patient and the care team (staff with the doctor or health
manager role; admins hold every staff role). Group boards show nicknames and counts, never values.
The care team is notified through one in-app recipient, ``care-team`` (the care-team inbox),
because the staff directory belongs to the identity domain and has no query for "active staff
with role X" yet.
"""

from __future__ import annotations

from community.checkins.alerts import acknowledge_alert, open_alerts
from community.checkins.board import group_board
from community.checkins.checking_in import CheckInResult, check_in
from community.checkins.permissions import is_care_team, shows_alert, shows_values
from community.checkins.reads import alerts_by_ids, check_ins_by_ids, my_check_ins, patient_check_ins
from community.checkins.rules import CARE_TEAM_RECIPIENT, MILESTONES
from community.checkins.streaks import MilestoneAward, Streak, streak_of
from community.errors import HealthAlertNotFound, NotCareTeam
from community.models import GlucoseContext

__all__ = [
    "CARE_TEAM_RECIPIENT",
    "MILESTONES",
    "CheckInResult",
    "GlucoseContext",
    "HealthAlertNotFound",
    "MilestoneAward",
    "NotCareTeam",
    "Streak",
    "acknowledge_alert",
    "alerts_by_ids",
    "check_in",
    "check_ins_by_ids",
    "group_board",
    "is_care_team",
    "my_check_ins",
    "open_alerts",
    "patient_check_ins",
    "shows_alert",
    "shows_values",
    "streak_of",
]
