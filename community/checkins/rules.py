"""Check-in rules: who reads health values, limits, labels, safe ranges and the fields of each kind."""

from __future__ import annotations

from community.models import CheckInKind, GlucoseContext
from core.identity import Role

CARE_TEAM_ROLES = (Role.DOCTOR, Role.HEALTH_MANAGER)
CARE_TEAM_RECIPIENT = "care-team"
MILESTONES = (7, 30, 100)
MAX_DAYS = 90  # history window of one read (5 kinds x 90 days at most)
MAX_BOARD_MEMBERS = 100
NOTE_MAX = 200

KIND_LABELS = {
    CheckInKind.GLUCOSE: "血糖",
    CheckInKind.BLOOD_PRESSURE: "血压",
    CheckInKind.WEIGHT: "体重",
    CheckInKind.EXERCISE: "运动",
    CheckInKind.MEDICATION: "用药",
}

GLUCOSE_CONTEXT_LABELS = {
    GlucoseContext.FASTING: "空腹",
    GlucoseContext.AFTER_MEAL: "餐后",
    GlucoseContext.BEDTIME: "睡前",
}

# Safe ranges: outside them a reading raises an alert for the care team.
GLUCOSE_LOW = 3.9
GLUCOSE_HIGH = 16.7
SYSTOLIC_HIGH = 180
DIASTOLIC_HIGH = 110

# value key -> the input field name clients know (used in UserError.field)
FIELD_NAMES = {
    "mmol": "glucoseMmol",
    "context": "glucoseContext",
    "systolic": "systolic",
    "diastolic": "diastolic",
    "pulse": "pulse",
    "kg": "weightKg",
    "minutes": "exerciseMinutes",
    "type": "exerciseType",
    "taken": "medicationTaken",
    "name": "medicationName",
}
KIND_KEYS: dict[CheckInKind, tuple[str, ...]] = {
    CheckInKind.GLUCOSE: ("mmol", "context"),
    CheckInKind.BLOOD_PRESSURE: ("systolic", "diastolic", "pulse"),
    CheckInKind.WEIGHT: ("kg",),
    CheckInKind.EXERCISE: ("minutes", "type"),
    CheckInKind.MEDICATION: ("taken", "name"),
}
