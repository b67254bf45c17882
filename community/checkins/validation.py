"""Validating a check-in: the kind, its value normalised, the note; every problem reported at once."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from community.checkins.rules import FIELD_NAMES, KIND_KEYS, KIND_LABELS, NOTE_MAX
from community.errors import CommunityCode as Code
from community.models import CheckInKind, GlucoseContext
from core.errors import ValidationFailed, Validator


def _number(v: Validator, value: Mapping[str, Any], key: str, low: float, high: float, label: str) -> float | None:
    field = FIELD_NAMES[key]
    raw = value.get(key)
    if raw is None:
        v.add(field, Code.VALUE_REQUIRED, f"请填写{label}")
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        v.add(field, Code.VALUE_NOT_NUMBER, f"{label}需为数字")
        return None
    if not low <= raw <= high:
        v.add(field, Code.VALUE_OUT_OF_RANGE, f"{label}需在{low:g}到{high:g}之间")
        return None
    return float(raw)


def _whole(v: Validator, value: Mapping[str, Any], key: str, low: int, high: int, label: str) -> int | None:
    number = _number(v, value, key, low, high, label)
    if number is None:
        return None
    if not number.is_integer():
        v.add(FIELD_NAMES[key], Code.VALUE_NOT_INTEGER, f"{label}需为整数")
        return None
    return int(number)


def _text(v: Validator, value: Mapping[str, Any], key: str, max_len: int, label: str) -> str | None:
    raw = value.get(key)
    if raw is None:
        return None
    if not isinstance(raw, str):
        v.add(FIELD_NAMES[key], Code.VALUE_NOT_TEXT, f"{label}需为文字")
        return None
    text = raw.strip()
    if len(text) > max_len:
        v.add(FIELD_NAMES[key], Code.TEXT_TOO_LONG, f"{label}不能超过{max_len}个字符")
        return None
    return text or None


def validate(
    kind: str, value: Mapping[str, Any] | None, note: str | None
) -> tuple[CheckInKind, dict[str, Any], str | None]:
    """The kind, the normalised value and the note, or ValidationFailed listing every problem."""
    v = Validator()
    clean_note = (note or "").strip() or None
    v.check(
        clean_note is None or len(clean_note) <= NOTE_MAX,
        "note",
        Code.NOTE_TOO_LONG,
        f"备注不能超过{NOTE_MAX}个字符",
    )
    try:
        the_kind = CheckInKind(kind)
    except ValueError:
        v.add("kind", Code.CHECKIN_KIND_INVALID, "打卡类型无效，可选：血糖、血压、体重、运动、用药")
        raise ValidationFailed(v.issues) from None
    value = value or {}
    for key in value:
        if key not in KIND_KEYS[the_kind]:
            v.add(
                FIELD_NAMES.get(key, str(key)),
                Code.VALUE_UNEXPECTED,
                f"{KIND_LABELS[the_kind]}打卡不需要填写此项",
            )
    out: dict[str, Any] = {}
    if the_kind is CheckInKind.GLUCOSE:
        mmol = _number(v, value, "mmol", 1.0, 35.0, "血糖值（mmol/L）")
        if mmol is not None:
            out["mmol"] = round(mmol, 1)
        context = value.get("context")
        if context is not None:
            if context in {c.value for c in GlucoseContext}:
                out["context"] = str(context)
            else:
                v.add("glucoseContext", Code.GLUCOSE_CONTEXT_INVALID, "测量时段无效，可选：空腹、餐后、睡前")
    elif the_kind is CheckInKind.BLOOD_PRESSURE:
        systolic = _whole(v, value, "systolic", 60, 260, "收缩压（mmHg）")
        diastolic = _whole(v, value, "diastolic", 30, 160, "舒张压（mmHg）")
        if systolic is not None and diastolic is not None:
            if systolic > diastolic:
                out["systolic"], out["diastolic"] = systolic, diastolic
            else:
                v.add("systolic", Code.SYSTOLIC_NOT_ABOVE_DIASTOLIC, "收缩压应高于舒张压，请检查是否填反")
        if value.get("pulse") is not None:
            pulse = _whole(v, value, "pulse", 30, 220, "心率（次/分）")
            if pulse is not None:
                out["pulse"] = pulse
    elif the_kind is CheckInKind.WEIGHT:
        kg = _number(v, value, "kg", 20, 300, "体重（公斤）")
        if kg is not None:
            out["kg"] = round(kg, 1)
    elif the_kind is CheckInKind.EXERCISE:
        minutes = _whole(v, value, "minutes", 1, 600, "运动时长（分钟）")
        if minutes is not None:
            out["minutes"] = minutes
        exercise_type = _text(v, value, "type", 20, "运动类型")
        if exercise_type:
            out["type"] = exercise_type
    elif the_kind is CheckInKind.MEDICATION:
        taken = value.get("taken")
        if not isinstance(taken, bool):
            v.add("medicationTaken", Code.VALUE_REQUIRED, "请选择今天是否已按时用药")
        else:
            out["taken"] = taken
        name = _text(v, value, "name", 50, "药品名称")
        if name:
            out["name"] = name
    v.raise_if_any()
    return the_kind, out, clean_note
