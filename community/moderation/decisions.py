"""Decisions on queue items, with optimistic versions: of two moderators deciding one item, one wins."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from community import audit, errors
from community.errors import CommunityCode as Code
from community.errors import RestrictNotAllowed
from community.models import (
    ContentStatus,
    Decision,
    Group,
    Membership,
    ModerationItem,
    QueueStatus,
    Report,
    ReportStatus,
)
from community.moderation.items import _get_item, _local, _notify_author, _set_status, _targets
from community.moderation.queue import _emergency_flag, _refuse_foreign_claim
from community.moderation.restrictions import _restrict
from community.moderation.rules import DECISION_STATUS
from core import clock
from core.errors import CoreCode, Validator
from core.identity import Actor


def _validate_decision(decision: str, reason: str | None, mute_days: int | None, ban_days: int | None) -> None:
    v = Validator()
    v.check(decision in {d.value for d in Decision}, "decision", Code.DECISION_INVALID, "处理方式无效")
    text = (reason or "").strip()
    v.check(len(text) <= 300, "reason", Code.REASON_LENGTH, "理由最多300个字")
    v.check(decision == Decision.KEEP or bool(text), "reason", CoreCode.REASON_REQUIRED, "请填写处理理由")
    if decision == Decision.MUTE:
        v.check(
            mute_days is not None and 1 <= mute_days <= 365,
            "muteDays",
            Code.MUTE_DAYS_INVALID,
            "禁言天数需为1到365天",
        )
    if decision == Decision.BAN:
        v.check(
            ban_days is None or 1 <= ban_days <= 3650,
            "banDays",
            Code.BAN_DAYS_INVALID,
            "封禁天数需为1到3650天",
        )
    v.raise_if_any()


async def decide(
    session: AsyncSession,
    actor: Actor,
    item_id: uuid.UUID,
    *,
    version: int,
    decision: str,
    reason: str | None,
    mute_days: int | None = None,
    ban_days: int | None = None,
) -> ModerationItem:
    """Decide an item at the version the moderator saw. Applies the decision to the content, marks
    the open reports upheld (rejected for keep), restricts the author for mute/ban, tells the
    author, and writes one audit entry with all of it."""
    _validate_decision(decision, reason, mute_days, ban_days)
    choice = Decision(decision)
    item = await _get_item(session, actor, item_id)
    now = clock.now()
    _refuse_foreign_claim(actor, item, now)
    new_version = await session.scalar(
        update(ModerationItem)
        .where(
            ModerationItem.id == item_id,
            ModerationItem.version == version,
            ModerationItem.status != QueueStatus.DECIDED.value,
        )
        .values(
            status=QueueStatus.DECIDED.value,
            decision=choice.value,
            decided_by=actor.id,
            decided_at=now,
            version=ModerationItem.version + 1,
        )
        .returning(ModerationItem.version)
        .execution_options(synchronize_session=False)
    )
    if new_version is None:
        raise errors.VersionConflict()
    await session.refresh(item)
    reason_text = (reason or "").strip() or None
    effects: dict[str, Any] = {
        "item_id": str(item.id),
        "item_reason": item.reason,
        "decision": choice.value,
        "version": new_version,
        **_emergency_flag(item),
    }
    target = (await _targets(session, [(item.target_kind, item.target_id)], lock=True)).get(
        (item.target_kind, item.target_id)
    )
    if target is None:
        effects["target"] = "missing"
    else:
        effects["anonymous"] = target.anonymous
        before = target.status
        after = DECISION_STATUS[choice].value
        if choice == Decision.KEEP and before not in (
            ContentStatus.HIDDEN,
            ContentStatus.HELD,
            ContentStatus.AUTHOR_ONLY,
        ):
            after = before  # published stays; removed (e.g. by its author) is not brought back
        if before == ContentStatus.REMOVED and after == ContentStatus.HIDDEN:
            after = before
        if after != before:
            await _set_status(session, target, after)
            effects["status"] = {"from": before, "to": after}
        report_status = ReportStatus.REJECTED if choice == Decision.KEEP else ReportStatus.UPHELD
        marked = (
            await session.scalars(
                update(Report)
                .where(
                    Report.target_kind == item.target_kind,
                    Report.target_id == item.target_id,
                    Report.status == ReportStatus.OPEN.value,
                )
                .values(status=report_status.value)
                .returning(Report.id)
                .execution_options(synchronize_session=False)
            )
        ).all()
        effects["reports"] = {report_status.value: len(marked)}
        group = await session.get(Group, item.group_id)
        restriction: dict[str, Any] = {}
        if choice in (Decision.MUTE, Decision.BAN):
            member = await session.scalar(
                select(Membership)
                .where(
                    Membership.group_id == item.group_id,
                    Membership.account_kind == target.author_kind,
                    Membership.account_id == target.author_id,
                )
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            if member is None:
                raise RestrictNotAllowed("该作者已不在社群中，无法禁言或封禁")
            restriction = await _restrict(
                session,
                actor,
                member,
                mute_days=mute_days if choice == Decision.MUTE else None,
                ban=choice == Decision.BAN,
                ban_days=ban_days,
                now=now,
            )
            effects.update(restriction)
        notice = _decision_notice(choice, group.name if group else "", reason_text, before, after, restriction)
        effects["author_notified"] = notice is not None and await _notify_author(
            session, target, notice, "社区审核结果"
        )
    await audit.record(
        session,
        actor,
        f"moderate_{choice.value}",
        target_kind=item.target_kind,
        target_id=item.target_id,
        group_id=item.group_id,
        reason=reason_text,
        detail=effects,
    )
    return item


def _decision_notice(
    choice: Decision, group_name: str, reason: str | None, before: str, after: str, restriction: dict[str, Any]
) -> str | None:
    where = f"您在「{group_name}」发布的内容"
    why = f"原因：{reason}。" if reason else ""
    if choice == Decision.KEEP:
        return f"{where}已通过审核，现已公开。" if after != before else None
    if choice == Decision.HIDE:
        return f"{where}因违反社区规则已被隐藏。{why}"
    if choice == Decision.REMOVE:
        return f"{where}因违反社区规则已被删除。{why}"
    if choice == Decision.WARN:
        return f"{where}因违反社区规则已被隐藏，这是一次警告。{why}多次违规将被禁言或移出社群。"
    if choice == Decision.MUTE:
        until = restriction.get("muted_until")
        when = f"至{_local(datetime.fromisoformat(until))}" if until else ""
        return f"{where}因违反社区规则已被隐藏，您已被禁言{when}。{why}"
    until = restriction.get("banned_until")
    when = f"至{_local(datetime.fromisoformat(until))}" if until else ""
    return f"{where}因严重违反社区规则已被删除，您已被移出该社群{when}。{why}"
