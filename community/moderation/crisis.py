"""Crisis first: a patient's text with an emergency word (胸痛, 想自杀 ...) is answered before anything
else decides about it. Posts and comments (community/posts.py), check-in notes (community/checkins/)
and complaints (care/complaints.py) ask `is_crisis` first; a crisis always brings the help reply to its
author and a page to the on-duty doctor, whether the text is then published, kept for staff, or refused.
"""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from community import access, audit, wordfilter
from community.models import Group, ItemReason, WordCategory
from community.moderation.rules import CARE_TEAM_RECIPIENT, HELP_TEXT, ITEM_REASON_LABELS
from core.channels import ChannelName, Message, send_later
from core.identity import SYSTEM, Actor, Role
from core.ids import new_id
from oncall import service as oncall
from oncall.models import Page, PageKind


def _trusted_author(actor: Actor) -> bool:
    return actor.is_staff or actor.is_system


async def is_crisis(session: AsyncSession, actor: Actor, text: str | None) -> bool:
    """A patient's text with an emergency word. Checked before any limit, mute, ban or lock."""
    if not text or _trusted_author(actor):
        return False
    return (await wordfilter.load(session)).scan(text).has(WordCategory.EMERGENCY)


async def help_in_crisis(session: AsyncSession, actor: Actor, *, where: str, ref: str, kept: bool) -> None:
    """The help reply to the author, an alert to the care-team inbox naming the patient (so someone can
    reach them) and a page to the on-duty doctor (its SMS names nobody and no condition). Idempotent per
    `ref`: a retried request pages once. `kept` says whether staff can read the text itself."""
    _, author_id = access.account_of(actor)
    page_ref = f"crisis:{hashlib.sha256(ref.encode()).hexdigest()[:40]}"
    body = (
        f"【紧急求助】患者在{where}中写下了紧急情况关键词"
        f"{'（内容已保存，仅本人和医护可见）' if kept else '，但内容未能保存'}。"
        f"请值班医护人员尽快联系该患者（患者编号 {author_id}）。"
    )
    seen = await session.scalar(select(Page.id).where(Page.kind == PageKind.CRISIS_TEXT.value, Page.ref == page_ref))
    if seen is not None:
        return  # this text was answered already (a retried request)
    await oncall.page(
        session,
        kind=PageKind.CRISIS_TEXT,
        ref=page_ref,
        site_id=None,
        role=Role.DOCTOR,
        subject="紧急求助提醒",
        body=body,
    )
    await send_later(session, Message(ChannelName.IN_APP, str(author_id), HELP_TEXT, subject="紧急求助提示"))
    await send_later(
        session, Message(ChannelName.IN_APP, CARE_TEAM_RECIPIENT, body, subject="紧急求助提醒"), sensitive=True
    )


async def help_refused_crisis(session: AsyncSession, actor: Actor, *, group_id: uuid.UUID | None) -> None:
    """A crisis post or comment that cannot be kept (not a member, no such group or post): help and a
    page all the same. The caller raises its refusal with `keep_changes`, so this commits."""
    group = await session.get(Group, group_id) if group_id is not None else None
    where = f"社群「{group.name}」" if group is not None else "社区"
    await help_in_crisis(session, actor, where=where, ref=f"refused:{new_id()}", kept=False)
    _, author_id = access.account_of(actor)
    await audit.record(
        session,
        SYSTEM,
        "emergency_escalate",
        target_kind="patient",
        target_id=author_id,
        group_id=group_id,
        reason=ITEM_REASON_LABELS[ItemReason.EMERGENCY],
        detail={"refused": True, "help_sent_to_author": True, "emergency": True},
    )
