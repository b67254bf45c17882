"""Message templates: `{nickname}` style variables, per-patient preview and the privacy rule.

SMS and WeChat messages show on a locked phone screen, so their text may not name a condition
(the `conditions` catalogue plus a few diagnosis words): anyone glancing at the phone would learn
the patient's diagnosis. In-app and e-mail messages sit behind a sign-in and may name them.
`{{` and `}}` stand for literal braces.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import versions
from core.channels import ChannelName
from core.errors import FieldIssue, NotFound, ValidationFailed
from core.identity import Actor, Role
from core.settings import get_settings
from loyalty import service as loyalty_service
from messaging.errors import MessagingCode
from patients.models import Condition
from patients.queries import patients_by_ids, sites_by_ids

VARIABLES = frozenset(
    {
        "nickname",  # the patient's nickname
        "brand",  # the hospital group's brand name
        "points",  # available points (or the amount a campaign awards, when the caller passes it)
        "expiring_points",
        "expiry_date",
        "event_title",
        "event_time",
        "reward_name",
        "site_name",  # the patient's home site
        "link",
        "date",
    }
)
VARIABLE_LABELS = {
    "nickname": "昵称",
    "brand": "品牌名称",
    "points": "积分",
    "expiring_points": "即将过期积分",
    "expiry_date": "过期日期",
    "event_title": "活动名称",
    "event_time": "活动时间",
    "reward_name": "礼品名称",
    "site_name": "院区名称",
    "link": "链接",
    "date": "日期",
}
# Channels whose text is visible on a locked screen.
LOCK_SCREEN_CHANNELS = frozenset({ChannelName.SMS, ChannelName.WECHAT})
# Diagnosis words beyond the catalogue names (shorter forms and conditions outside the catalogue).
DIAGNOSIS_WORDS = (
    "乳腺癌",
    "癌",
    "肿瘤",
    "化疗",
    "放疗",
    "甲状腺",
    "抑郁",
    "焦虑症",
    "精神分裂",
    "艾滋",
    "HIV",
    "乙肝",
    "丙肝",
    "梅毒",
    "性病",
    "不孕",
    "不育",
    "流产",
    "透析",
    "肾病",
)
CONDITION_CODE = MessagingCode.TEMPLATE_CONDITION_NAME
UNKNOWN_CODE = MessagingCode.TEMPLATE_UNKNOWN_VARIABLE
MISSING_CODE = MessagingCode.TEMPLATE_MISSING_VARIABLE

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
# The condition catalogue can change under running processes (a migration, later a staff screen):
# each process keeps the word list only while its version in Redis is unchanged, so a new
# condition name is refused by every API process and worker right after the change.
CONDITIONS_VERSION = "conditions"
_WORDS_TTL_SECONDS = 60.0
_words_cache: versions.VersionedCache[tuple[str, ...]] = versions.VersionedCache(
    CONDITIONS_VERSION, ttl=_WORDS_TTL_SECONDS
)


@dataclass(frozen=True)
class TemplateIssue:
    code: str
    message: str
    start: int
    end: int
    field: str = "body"  # subject | body (renderedSubject | renderedBody for text a variable brought in)


@dataclass(frozen=True)
class RenderedMessage:
    channel: ChannelName
    subject: str | None
    body: str
    issues: list[TemplateIssue] = field(default_factory=list)


def _unknown_message(name: str) -> str:
    return f"未知的模板变量「{{{name}}}」，可用变量：" + "、".join(f"{{{v}}}" for v in sorted(VARIABLES))


def _scan(text: str, variables: Mapping[str, str] | None, fallback: Mapping[str, str] | None = None):
    """Yields (kind, start, end, name_or_text): kind is "text", "var", "unknown" or "missing"."""
    pos = 0
    for m in _PLACEHOLDER.finditer(text):
        if m.start() > pos:
            yield "text", pos, m.start(), text[pos : m.start()]
        token = m.group(0)
        if token in ("{{", "}}"):
            yield "text", m.start(), m.end(), token[0]
        else:
            name = (m.group(1) or "").strip()
            if name not in VARIABLES:
                yield "unknown", m.start(), m.end(), name
            elif variables is not None and name in variables:
                yield "var", m.start(), m.end(), str(variables[name])
            elif fallback is not None and name in fallback:
                yield "var", m.start(), m.end(), str(fallback[name])
            else:
                yield "missing", m.start(), m.end(), name
        pos = m.end()
    if pos < len(text):
        yield "text", pos, len(text), text[pos:]


def render(text: str, variables: Mapping[str, str], *, field: str = "body") -> str:
    """Fill `{name}` placeholders; an unknown or unfilled placeholder is a validation error."""
    out: list[str] = []
    issues: list[FieldIssue] = []
    for kind, _, _, value in _scan(text, variables):
        if kind in ("text", "var"):
            out.append(value)
        elif kind == "unknown":
            issues.append(FieldIssue(code=UNKNOWN_CODE, message=_unknown_message(value), field=field))
        else:
            label = VARIABLE_LABELS.get(value, value)
            message = f"模板变量「{{{value}}}」（{label}）缺少取值"
            issues.append(FieldIssue(code=MISSING_CODE, message=message, field=field))
    if issues:
        raise ValidationFailed(issues)
    return "".join(out)


def unknown_variables(text: str, *, field: str = "body") -> list[TemplateIssue]:
    return [
        TemplateIssue(UNKNOWN_CODE, _unknown_message(name), start, end, field)
        for kind, start, end, name in _scan(text, None)
        if kind == "unknown"
    ]


async def sensitive_words(session: AsyncSession) -> tuple[str, ...]:
    """Condition names from the catalogue plus DIAGNOSIS_WORDS, longest first (cached per version)."""

    async def load() -> tuple[str, ...]:
        names = set(await session.scalars(select(Condition.name)))
        return tuple(sorted(names | set(DIAGNOSIS_WORDS), key=lambda w: (-len(w), w)))

    return await _words_cache.get(load)


def conditions_changed(session: AsyncSession) -> None:
    """Call in the transaction that changes the condition catalogue: every process reloads the
    locked-screen word list once it commits."""
    versions.bump_after_commit(session, CONDITIONS_VERSION)


def find_condition_names(text: str, words: Iterable[str], *, field: str = "body") -> list[TemplateIssue]:
    """Every place `text` names a condition; where words overlap the longest one is reported."""
    lowered = text.lower()
    taken: list[tuple[int, int]] = []
    for word in words:  # longest first, so 乳腺癌术后 wins over 乳腺癌 and 癌
        needle = word.lower()
        start = lowered.find(needle)
        while start != -1:
            end = start + len(needle)
            if not any(s < end and start < e for s, e in taken):
                taken.append((start, end))
            start = lowered.find(needle, end)
    return [
        TemplateIssue(
            CONDITION_CODE,
            f"短信和微信消息会显示在锁屏上，不得出现病种或诊断名称「{text[s:e]}」",
            s,
            e,
            field,
        )
        for s, e in sorted(taken)
    ]


async def condition_issues(
    session: AsyncSession, channel: ChannelName, subject: str | None, body: str, *, prefix: str = ""
) -> list[TemplateIssue]:
    if ChannelName(channel) not in LOCK_SCREEN_CHANNELS:
        return []
    words = await sensitive_words(session)
    issues = find_condition_names(subject or "", words, field=f"{prefix}Subject" if prefix else "subject")
    issues += find_condition_names(body, words, field=f"{prefix}Body" if prefix else "body")
    return issues


async def check_template(
    session: AsyncSession, channel: ChannelName, subject: str | None, body: str
) -> list[TemplateIssue]:
    """Unknown variables (any channel) and condition names (SMS and WeChat), with their positions."""
    issues = unknown_variables(subject or "", field="subject") + unknown_variables(body, field="body")
    return issues + await condition_issues(session, channel, subject, body)


def _sample_values() -> dict[str, str]:
    base = get_settings().public_base_url.rstrip("/")
    return {
        "event_title": "【活动名称】",
        "event_time": "【活动时间】",
        "reward_name": "【礼品名称】",
        "expiring_points": "0",
        "expiry_date": "【过期日期】",
        "site_name": "【院区】",
        "link": f"{base}/",
        "date": "【日期】",
    }


async def patient_variables(session: AsyncSession, patient_id: uuid.UUID) -> dict[str, str]:
    """The variables a patient fills by themselves: nickname, brand, points balance, home site."""
    patient = (await patients_by_ids(session, [patient_id])).get(patient_id)
    if patient is None:
        raise NotFound("患者不存在", field="patientId")
    summary = (await loyalty_service.summaries(session, [patient_id]))[patient_id]
    values = {"nickname": patient.nickname, "brand": get_settings().brand_name, "points": str(summary.available)}
    if summary.expiring_soon:
        values["expiring_points"] = str(sum(e.amount for e in summary.expiring_soon))
        values["expiry_date"] = summary.expiring_soon[0].expires_at.strftime("%Y-%m-%d")
    if patient.home_site_id is not None:
        site = (await sites_by_ids(session, [patient.home_site_id])).get(patient.home_site_id)
        if site is not None:
            values["site_name"] = site.name
    return values


def _fill(text: str, variables: Mapping[str, str], fallback: Mapping[str, str]) -> str:
    # Unknown placeholders stay as written: the preview shows them and reports an issue.
    parts = _scan(text, variables, fallback)
    return "".join(value if kind in ("text", "var") else text[start:end] for kind, start, end, value in parts)


async def preview(
    session: AsyncSession,
    *,
    channel: ChannelName,
    subject: str | None,
    body: str,
    patient_id: uuid.UUID,
    extra: Mapping[str, str],
) -> RenderedMessage:
    """The text as `patient_id` would receive it. Variables the patient does not fill (an event
    title, say) come from `extra`, else a sample value; issues cover the template and the
    rendered text (a variable can bring a condition name in, e.g. an event title)."""
    channel = ChannelName(channel)
    variables = {**await patient_variables(session, patient_id), **{k: str(v) for k, v in extra.items()}}
    samples = _sample_values()
    rendered_subject = _fill(subject, variables, samples) if subject is not None else None
    rendered_body = _fill(body, variables, samples)
    issues = await check_template(session, channel, subject, body)
    in_template = {(i.field, i.message) for i in issues}
    for issue in await condition_issues(session, channel, rendered_subject, rendered_body, prefix="rendered"):
        plain_field = "subject" if issue.field.endswith("subject") else "body"
        if (plain_field, issue.message) not in in_template:
            issues.append(issue)
    return RenderedMessage(channel=channel, subject=rendered_subject, body=rendered_body, issues=issues)


async def staff_preview(
    session: AsyncSession,
    actor: Actor,
    *,
    channel: ChannelName,
    subject: str | None,
    body: str,
    patient_id: uuid.UUID,
    extra: Mapping[str, str],
) -> RenderedMessage:
    """`preview` for the console: marketers (and admins) only, since it reads a patient's data."""
    actor.require_role(Role.MARKETER)
    return await preview(session, channel=channel, subject=subject, body=body, patient_id=patient_id, extra=extra)
