"""Reports by members and staff, weighted by the reporter's standing; enough weight hides the content
until a moderator decides."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from community import access, audit, errors
from community.errors import AlreadyReported, CannotReportOwn
from community.errors import CommunityCode as Code
from community.models import (
    ContentStatus,
    ItemReason,
    MemberRole,
    Membership,
    MemberState,
    Report,
    ReportReason,
    ReportStatus,
)
from community.moderation.items import (
    _alert_care_team,
    _is_care_staff,
    _notify_author,
    _open_item,
    _set_status,
    _targets,
)
from community.moderation.rules import (
    AUTO_HIDE_THRESHOLD,
    CARE_ROLES,
    CARE_TEAM_RECIPIENT,
    OTHER_STAFF_WEIGHT,
    PRIORITY_EMERGENCY,
    PRIORITY_HIDDEN,
    PRIORITY_REPORTS,
    REPORT_REASON_LABELS,
    SENIOR_MEMBER_DAYS,
    STAFF_WEIGHT,
    TARGET_KINDS,
)
from core import clock
from core.errors import Validator
from core.identity import SYSTEM, Actor, Role
from core.ids import new_id


async def reporter_counts(session: AsyncSession, reporter_kind: str, reporter_id: uuid.UUID) -> tuple[int, int]:
    """(upheld, rejected) reports of this reporter in any group."""
    row = (
        await session.execute(
            select(
                func.count().filter(Report.status == ReportStatus.UPHELD),
                func.count().filter(Report.status == ReportStatus.REJECTED),
            ).where(Report.reporter_kind == reporter_kind, Report.reporter_id == reporter_id)
        )
    ).one()
    return int(row[0]), int(row[1])


async def reporter_weight(session: AsyncSession, actor: Actor, m: Membership | None) -> Decimal:
    """How much one report of this actor counts (see REPORT WEIGHTS at the top)."""
    if actor.is_staff:
        if actor.has_role(Role.MODERATOR, *CARE_ROLES):
            return STAFF_WEIGHT
        return OTHER_STAFF_WEIGHT
    kind, reporter_id = access.account_of(actor)
    now = clock.now()
    if m is not None and m.state == MemberState.ACTIVE:
        # Not EXPERT: the expert role stands on a staff credential valid now (community/credentials.py),
        # so a patient still holding it (a lapse the nightly job has not reached) reports as a member.
        if m.role in (MemberRole.MODERATOR, MemberRole.OWNER):
            base = Decimal("2.0")
        elif m.joined_at is not None and m.joined_at <= now - timedelta(days=SENIOR_MEMBER_DAYS):
            base = Decimal("1.5")
        else:
            base = Decimal("1.0")
    else:
        base = Decimal("0.5")
    upheld, rejected = await reporter_counts(session, kind, reporter_id)
    weight = (base + Decimal("0.25") * min(upheld, 4)) * Decimal(upheld + 1) / Decimal(upheld + rejected + 1)
    weight = max(Decimal("0.1"), min(STAFF_WEIGHT, weight))
    return weight.quantize(Decimal("0.01"))


async def report(
    session: AsyncSession,
    actor: Actor,
    *,
    target_kind: str,
    target_id: uuid.UUID,
    reason: str,
    detail: str | None = None,
) -> Report:
    """Report a post or comment the actor can read. Auto-hides it when the weighted open reports
    reach AUTO_HIDE_THRESHOLD, except an emergency (a human must see it first)."""
    reporter_kind, reporter_id = access.account_of(actor)
    v = Validator()
    v.check(target_kind in TARGET_KINDS, "targetKind", Code.TARGET_KIND_INVALID, "内容类型无效")
    v.check(reason in {r.value for r in ReportReason}, "reason", Code.REPORT_REASON_INVALID, "请选择举报原因")
    v.check(detail is None or len(detail.strip()) <= 500, "detail", Code.DETAIL_LENGTH, "补充说明最多500个字")
    v.raise_if_any()
    target = (await _targets(session, [(target_kind, target_id)])).get((target_kind, target_id))
    not_found = errors.PostNotFound() if target_kind == "post" else errors.CommentNotFound()
    if target is None:
        raise not_found
    try:
        _, m = await access.require_reader(session, actor, target.group_id)
    except errors.GroupNotFound:
        raise not_found from None
    # members report what they can see; staff moderators and the care team also see held content
    if target.status != ContentStatus.PUBLISHED and not (access.is_staff_moderator(actor) or _is_care_staff(actor)):
        raise not_found
    if (target.author_kind, target.author_id) == (reporter_kind, reporter_id):
        raise CannotReportOwn()
    weight = await reporter_weight(session, actor, m)
    now = clock.now()
    report_id = await session.scalar(
        insert(Report)
        .values(
            id=new_id(),
            target_kind=target_kind,
            target_id=target_id,
            group_id=target.group_id,
            reporter_kind=reporter_kind,
            reporter_id=reporter_id,
            reason=reason,
            detail=(detail or "").strip() or None,
            weight=weight,
            status=ReportStatus.OPEN.value,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["target_kind", "target_id", "reporter_kind", "reporter_id"])
        .returning(Report.id)
    )
    if report_id is None:
        raise AlreadyReported()
    escalate = reason == ReportReason.SELF_HARM
    item = await _open_item(
        session,
        target_kind=target_kind,
        target_id=target_id,
        group_id=target.group_id,
        reason=ItemReason.EMERGENCY if escalate else ItemReason.REPORTS,
        priority=PRIORITY_EMERGENCY if escalate else PRIORITY_REPORTS,
    )
    # The item row is locked: concurrent reports of one target add up one after the other.
    score = Decimal(
        await session.scalar(
            select(func.coalesce(func.sum(Report.weight), 0)).where(
                Report.target_kind == target_kind, Report.target_id == target_id, Report.status == ReportStatus.OPEN
            )
        )
        or 0
    )
    item.score = score
    if escalate and await _alert_care_team(
        session,
        item=item,
        target_kind=target_kind,
        target_id=target_id,
        group_id=target.group_id,
        author_kind=target.author_kind,
        author_id=target.author_id,
        what="被其他用户举报可能有自伤风险",
    ):
        await audit.record(
            session,
            SYSTEM,
            "emergency_escalate",
            target_kind=target_kind,
            target_id=target_id,
            group_id=target.group_id,
            reason=REPORT_REASON_LABELS[ReportReason.SELF_HARM],
            detail={"item_id": str(item.id), "source": "report", "alerted": CARE_TEAM_RECIPIENT, "emergency": True},
        )
    if (
        score >= AUTO_HIDE_THRESHOLD
        and item.reason != ItemReason.EMERGENCY
        and target.status == ContentStatus.PUBLISHED
        and await _set_status(session, target, ContentStatus.HIDDEN.value, only_from=ContentStatus.PUBLISHED.value)
    ):
        item.priority = max(item.priority, PRIORITY_HIDDEN)
        notified = await _notify_author(
            session,
            target,
            "您发布的内容被多位用户举报，已暂时隐藏，等待版主审核。如审核认为没有问题，内容会自动恢复。",
            "内容已暂时隐藏",
        )
        await audit.record(
            session,
            SYSTEM,
            "auto_hide",
            target_kind=target_kind,
            target_id=target_id,
            group_id=target.group_id,
            reason="举报加权分达到自动隐藏阈值",
            detail={
                "item_id": str(item.id),
                "score": str(score),
                "threshold": str(AUTO_HIDE_THRESHOLD),
                "status": {"from": ContentStatus.PUBLISHED.value, "to": ContentStatus.HIDDEN.value},
                "author_notified": notified,
            },
        )
    found = await session.get(Report, report_id)
    assert found is not None
    return found
