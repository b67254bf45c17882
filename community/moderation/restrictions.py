"""Muting and banning members, from a decision or directly."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from community import access, audit, groups
from community.errors import CommunityCode as Code
from community.errors import RestrictNotAllowed
from community.models import (
    Group,
    MemberRole,
    Membership,
    MemberState,
)
from community.moderation.items import _local
from core import clock
from core.channels import ChannelName, Message, send_later
from core.errors import CoreCode, NotFound, PermissionDenied, Validator
from core.identity import Actor
from social import notify


async def _restrict(
    session: AsyncSession,
    actor: Actor,
    m: Membership,
    *,
    mute_days: int | None,
    ban: bool,
    ban_days: int | None,
    now: datetime,
) -> dict[str, Any]:
    """Mute or ban one membership; returns the effects for the audit entry."""
    if actor.id is not None and (m.account_kind, m.account_id) == access.account_of(actor):
        raise RestrictNotAllowed("不能对自己执行此操作")
    if m.account_kind == "staff":
        raise RestrictNotAllowed("工作人员账号请由管理员处理")
    if m.role in (MemberRole.MODERATOR, MemberRole.OWNER) and not access.is_staff_moderator(actor):
        raise RestrictNotAllowed("版主和群主只能由社区工作人员处理")
    effects: dict[str, Any] = {"membership_id": str(m.id)}
    if mute_days is not None:
        m.muted_until = now + timedelta(days=mute_days)
        effects["muted_until"] = m.muted_until.isoformat()
        effects["mute_days"] = mute_days
    if ban:
        if m.state == MemberState.ACTIVE:
            await session.execute(
                update(Group).where(Group.id == m.group_id).values(member_count=Group.member_count - 1)
            )
        effects["state"] = {"from": m.state, "to": MemberState.BANNED.value}
        m.state = MemberState.BANNED.value
        m.banned_until = now + timedelta(days=ban_days) if ban_days else None
        effects["banned_until"] = m.banned_until.isoformat() if m.banned_until else None
    m.updated_at = now
    await session.flush()
    return effects


async def restrict_member(
    session: AsyncSession,
    actor: Actor,
    target: uuid.UUID | groups.MemberRef,
    *,
    reason: str,
    mute_days: int | None = None,
    ban: bool = False,
    ban_days: int | None = None,
    lift: bool = False,
) -> Membership:
    """Mute (mute_days), ban (ban, optionally for ban_days) or lift both (lift: unmuted, and a banned
    member becomes 'left' and may join again) directly, outside the queue. `target`: the membership id,
    or a MemberRef naming the group and the member's account."""
    v = Validator()
    chosen = sum([mute_days is not None, ban, lift])
    v.check(chosen == 1, "action", Code.RESTRICTION_INVALID, "请选择禁言、封禁或解除其中一项")
    v.check(mute_days is None or 1 <= mute_days <= 365, "muteDays", Code.MUTE_DAYS_INVALID, "禁言天数需为1到365天")
    v.check(ban_days is None or 1 <= ban_days <= 3650, "banDays", Code.BAN_DAYS_INVALID, "封禁天数需为1到3650天")
    v.check(1 <= len((reason or "").strip()) <= 300, "reason", CoreCode.REASON_REQUIRED, "请填写理由（最多300个字）")
    v.raise_if_any()
    actor.require_authenticated()
    ref = groups.ref_of(target)
    if ref.group_id is not None and not access.can_moderate(
        actor, await access.membership(session, ref.group_id, actor)
    ):
        # Asked by group and account: the right first, so the answer never says who is in a group.
        raise PermissionDenied("仅版主可以禁言或封禁成员")
    m = await groups.locked_membership(session, ref)
    if m is None:
        raise NotFound("成员不存在", code=Code.MEMBERSHIP_NOT_FOUND)
    mine = await access.membership(session, m.group_id, actor)
    if not access.can_moderate(actor, mine):
        raise PermissionDenied("仅版主可以禁言或封禁成员")
    now = clock.now()
    if lift:
        effects: dict[str, Any] = {"membership_id": str(m.id), "muted_until": None}
        m.muted_until = None
        if m.state == MemberState.BANNED:
            effects["state"] = {"from": m.state, "to": MemberState.LEFT.value}
            m.state = MemberState.LEFT.value
            m.banned_until = None
        m.updated_at = now
        action = "member_unrestrict"
        body = "您在社群中的禁言或封禁已解除。"
    else:
        effects = await _restrict(session, actor, m, mute_days=mute_days, ban=ban, ban_days=ban_days, now=now)
        action = "member_ban" if ban else "member_mute"
        if ban:
            until = f"至{_local(m.banned_until)}" if m.banned_until else ""
            body = f"您已被移出社群{until}。原因：{reason.strip()}"
        else:
            assert m.muted_until is not None
            body = f"您已被禁言至{_local(m.muted_until)}。原因：{reason.strip()}"
    if m.account_kind == "patient":
        await send_later(session, Message(ChannelName.IN_APP, str(m.account_id), body, subject="社区管理通知"))
        await notify.moderation_outcome(
            session, author=(m.account_kind, m.account_id), subject="社区管理通知", body=body
        )
    await audit.record(
        session,
        actor,
        action,
        target_kind="membership",
        target_id=m.id,
        group_id=m.group_id,
        reason=reason.strip(),
        detail=effects,
    )
    return m
