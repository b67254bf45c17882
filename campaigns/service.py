"""Campaign rules: a marketer drafts and submits, a reviewer (not the author) approves or rejects,
workers run what is approved. Pause, resume and cancel; reads for staff only (never patients).

Status machine: draft -> pending_review -> approved -> running -> completed, with
pending_review -> draft (rejected, with a comment), approved|running <-> paused, and cancelled from
any unfinished state. Editing an approved campaign sends it back to draft: what runs is what a
reviewer saw.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from campaigns import errors, journeys, runner
from campaigns.errors import CampaignsCode as Code
from campaigns.models import (
    AudienceKind,
    Campaign,
    CampaignClass,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    Segment,
    SkipReason,
)
from campaigns.segments import CAMPAIGN_ROLES, READ_ROLES
from community.models import Event
from core import clock
from core.channels import ChannelName
from core.db import after_commit
from core.errors import CoreCode, Validator
from core.identity import Actor, Role
from core.ids import new_id
from core.pagination import Page, keyset_page
from messaging import templates
from privacy import reads
from privacy.models import PhiKind

REVIEW_ROLES = (Role.REVIEWER,)  # admins too
UNFINISHED = (
    CampaignStatus.DRAFT,
    CampaignStatus.PENDING_REVIEW,
    CampaignStatus.APPROVED,
    CampaignStatus.RUNNING,
    CampaignStatus.PAUSED,
)
EVENT_AUDIENCES = ("invited", "registered", "both")
BODY_MAX = 1000


@dataclass(frozen=True)
class CampaignInput:
    name: str
    kind: str
    channels: list[str]
    body: str
    subject: str | None = None
    link: str | None = None
    audience_kind: str = AudienceKind.SEGMENT.value
    segment_id: uuid.UUID | None = None
    event_id: uuid.UUID | None = None
    event_audience: str | None = None
    scheduled_at: datetime | None = None
    # (channel, body) for channels whose text differs from `body`, as given (duplicates are refused).
    channel_bodies: tuple[tuple[str, str], ...] = ()


def channel_body_field(channel: str) -> str:
    return f"channelBodies.{channel}"


async def check_text(
    session: AsyncSession,
    v: Validator,
    channels: list[str],
    subject: str | None,
    body: str,
    channel_bodies: dict[str, str] | None = None,
) -> None:
    """messaging's template rules for what each channel sends: its own body or the common one (known
    variables in every body; no condition name in an SMS or WeChat text, the check used for SMS)."""
    own = channel_bodies or {}
    seen: set[tuple[str, str]] = set()

    def add(field: str, code: str, message: str) -> None:
        if (field, message) not in seen:
            seen.add((field, message))
            v.add(field, code, message)

    for issue in templates.unknown_variables(body):  # the common body, even when no channel falls back to it
        add(issue.field, issue.code, issue.message)
    for channel in channels:
        text = own.get(channel) or body
        for issue in await templates.check_template(session, ChannelName(channel), subject, text):
            field = channel_body_field(channel) if channel in own and issue.field == "body" else issue.field
            add(field, issue.code, issue.message)


def _check_channel_bodies(v: Validator, data: CampaignInput) -> dict[str, str]:
    """The per-channel bodies as a map, each for a channel of the campaign, once, of a valid length."""
    bodies: dict[str, str] = {}
    valid = {c.value for c in ChannelName}
    for channel, text in data.channel_bodies:
        field = channel_body_field(channel) if channel in valid else "channelBodies"
        if channel not in valid:
            v.add(field, Code.CHANNEL_INVALID, "渠道无效")
        elif channel in bodies:
            v.add(field, Code.CHANNEL_DUPLICATE, "每个渠道只能有一份正文")
        elif channel not in data.channels:
            v.add(field, Code.CHANNEL_BODY_UNUSED, "只能为活动选用的渠道单独填写正文")
        elif not 1 <= len(text.strip()) <= BODY_MAX:
            v.add(field, CoreCode.BODY_LENGTH, f"正文需为1到{BODY_MAX}个字符")
        else:
            bodies[channel] = text
    return bodies


async def _validate(session: AsyncSession, data: CampaignInput) -> Validator:
    v = Validator()
    v.check(1 <= len(data.name.strip()) <= 80, "name", CoreCode.NAME_LENGTH, "名称需为1到80个字符")
    v.check(data.kind in {k.value for k in CampaignClass}, "kind", Code.KIND_INVALID, "活动类型需为营销或关怀")
    valid = {c.value for c in ChannelName}
    v.check(bool(data.channels), "channels", Code.CHANNELS_EMPTY, "请至少选择一个渠道")
    v.check(all(c in valid for c in data.channels), "channels", Code.CHANNEL_INVALID, "渠道无效")
    v.check(len(set(data.channels)) == len(data.channels), "channels", Code.CHANNEL_DUPLICATE, "渠道不能重复")
    v.check(1 <= len(data.body.strip()) <= BODY_MAX, "body", CoreCode.BODY_LENGTH, f"正文需为1到{BODY_MAX}个字符")
    v.check(
        data.subject is None or len(data.subject) <= 100,
        "subject",
        Code.SUBJECT_LENGTH,
        "标题不能超过100个字符",
    )
    v.check(data.link is None or len(data.link) <= 500, "link", Code.LINK_LENGTH, "链接不能超过500个字符")
    v.check(
        data.scheduled_at is None or data.scheduled_at.tzinfo is not None,
        "scheduledAt",
        Code.DATETIME_NAIVE,
        "时间需带时区",
    )
    if data.audience_kind == AudienceKind.SEGMENT:
        segment = await session.get(Segment, data.segment_id) if data.segment_id is not None else None
        # A sensitive condition in it matches only patients with the separate consent (segments.py).
        v.check(segment is not None, "segmentId", Code.SEGMENT_NOT_FOUND, "人群不存在")
    elif data.audience_kind == AudienceKind.EVENT:
        ok = data.event_id is not None and await session.get(Event, data.event_id) is not None
        v.check(ok, "eventId", CoreCode.EVENT_NOT_FOUND, "活动不存在")
        v.check(
            (data.event_audience or "both") in EVENT_AUDIENCES,
            "eventAudience",
            Code.EVENT_AUDIENCE_INVALID,
            "活动受众需为已邀请、已报名或两者",
        )
    else:
        v.add("audienceKind", Code.AUDIENCE_INVALID, "受众需为人群或活动")
    bodies = _check_channel_bodies(v, data)
    if all(c in valid for c in data.channels):
        await check_text(session, v, data.channels, data.subject, data.body, bodies)
    return v


def _apply(campaign: Campaign, data: CampaignInput) -> None:
    campaign.name = data.name.strip()
    campaign.kind = data.kind
    campaign.audience_kind = data.audience_kind
    campaign.segment_id = data.segment_id if data.audience_kind == AudienceKind.SEGMENT else None
    campaign.event_id = data.event_id if data.audience_kind == AudienceKind.EVENT else None
    campaign.event_audience = (data.event_audience or "both") if data.audience_kind == AudienceKind.EVENT else None
    campaign.channels = list(data.channels)
    campaign.subject = data.subject
    campaign.body = data.body
    campaign.channel_bodies = dict(data.channel_bodies)
    campaign.link = data.link
    campaign.scheduled_at = data.scheduled_at


async def create_campaign(session: AsyncSession, actor: Actor, data: CampaignInput) -> Campaign:
    actor.require_role(*CAMPAIGN_ROLES)
    (await _validate(session, data)).raise_if_any()
    now = clock.now()
    campaign = Campaign(id=new_id(), status=CampaignStatus.DRAFT, created_by=actor.id, created_at=now, updated_at=now)
    _apply(campaign, data)
    session.add(campaign)
    await session.flush()
    return campaign


async def _load(session: AsyncSession, campaign_id: uuid.UUID, *, lock: bool = True) -> Campaign:
    campaign = await session.get(Campaign, campaign_id, with_for_update=lock)
    if campaign is None:
        raise errors.CampaignNotFound(field="campaignId")
    return campaign


def _require(campaign: Campaign, *allowed: CampaignStatus) -> None:
    if campaign.status not in allowed:
        raise errors.WrongStatus()


async def update_campaign(session: AsyncSession, actor: Actor, campaign_id: uuid.UUID, data: CampaignInput) -> Campaign:
    actor.require_role(*CAMPAIGN_ROLES)
    campaign = await _load(session, campaign_id)
    _require(campaign, CampaignStatus.DRAFT, CampaignStatus.PENDING_REVIEW, CampaignStatus.APPROVED)
    if campaign.journey_key is not None:
        raise errors.WrongStatus("自动旅程的活动不能编辑")
    (await _validate(session, data)).raise_if_any()
    _apply(campaign, data)
    campaign.status = CampaignStatus.DRAFT  # a changed campaign needs a fresh review
    campaign.reviewed_by = campaign.reviewed_at = None
    campaign.updated_at = clock.now()
    return campaign


async def submit(session: AsyncSession, actor: Actor, campaign_id: uuid.UUID) -> Campaign:
    actor.require_role(*CAMPAIGN_ROLES)
    campaign = await _load(session, campaign_id)
    _require(campaign, CampaignStatus.DRAFT)
    v = Validator()
    # The words may have changed since it was saved.
    await check_text(session, v, campaign.channels, campaign.subject, campaign.body, campaign.channel_bodies)
    v.raise_if_any()
    campaign.status = CampaignStatus.PENDING_REVIEW
    campaign.submitted_at = campaign.updated_at = clock.now()
    return campaign


async def approve(
    session: AsyncSession, actor: Actor, campaign_id: uuid.UUID, *, comment: str | None = None
) -> Campaign:
    actor.require_role(*REVIEW_ROLES)
    campaign = await _load(session, campaign_id)
    if campaign.created_by is not None and campaign.created_by == actor.id:
        raise errors.OwnCampaign()
    _require(campaign, CampaignStatus.PENDING_REVIEW)
    now = clock.now()
    campaign.status = CampaignStatus.APPROVED
    campaign.reviewed_by, campaign.reviewed_at, campaign.review_comment = actor.id, now, comment
    campaign.updated_at = now
    if campaign.scheduled_at is None or campaign.scheduled_at <= now:
        await start(session, campaign)
    return campaign


async def reject(session: AsyncSession, actor: Actor, campaign_id: uuid.UUID, *, comment: str) -> Campaign:
    actor.require_role(*REVIEW_ROLES)
    campaign = await _load(session, campaign_id)
    if campaign.created_by is not None and campaign.created_by == actor.id:
        raise errors.OwnCampaign("不能审批自己创建的活动")
    _require(campaign, CampaignStatus.PENDING_REVIEW)
    v = Validator()
    v.check(
        1 <= len((comment or "").strip()) <= 300,
        "comment",
        Code.COMMENT_REQUIRED,
        "请填写驳回意见（300字以内）",
    )
    v.raise_if_any()
    now = clock.now()
    campaign.status = CampaignStatus.DRAFT
    campaign.reviewed_by, campaign.reviewed_at, campaign.review_comment = actor.id, now, comment.strip()
    campaign.updated_at = now
    return campaign


async def start(session: AsyncSession, campaign: Campaign) -> None:
    """Approved -> running: freeze the audience criteria and queue the runner after commit. Nothing
    else ever starts a campaign, so nothing is sent without a reviewer's approval."""
    if campaign.status != CampaignStatus.APPROVED:
        raise errors.NotApproved()
    if campaign.audience_kind == AudienceKind.SEGMENT:
        segment = await session.get(Segment, campaign.segment_id) if campaign.segment_id else None
        if segment is None:
            raise errors.SegmentNotFound()
        campaign.criteria_snapshot = {"segment_id": str(segment.id), "segment_name": segment.name, **segment.criteria}
    now = clock.now()
    campaign.status = CampaignStatus.RUNNING
    campaign.started_at = campaign.started_at or now
    campaign.updated_at = now
    _enqueue_runner(session, campaign.id)


def _enqueue_runner(session: AsyncSession, campaign_id: uuid.UUID) -> None:
    async def go() -> None:
        await runner.enqueue_materialise(campaign_id)

    after_commit(session, go)


async def send_now(session: AsyncSession, actor: Actor, campaign_id: uuid.UUID) -> Campaign:
    """Start an approved, scheduled campaign now. Refused before approval."""
    actor.require_role(*CAMPAIGN_ROLES, *REVIEW_ROLES)
    campaign = await _load(session, campaign_id)
    if campaign.status in (CampaignStatus.DRAFT, CampaignStatus.PENDING_REVIEW):
        raise errors.NotApproved()
    _require(campaign, CampaignStatus.APPROVED)
    await start(session, campaign)
    return campaign


async def pause(session: AsyncSession, actor: Actor, campaign_id: uuid.UUID) -> Campaign:
    """Stops the runner at its next batch and the senders at their next one; nothing is lost."""
    actor.require_role(*CAMPAIGN_ROLES, *REVIEW_ROLES)
    campaign = await _load(session, campaign_id)
    _require(campaign, CampaignStatus.APPROVED, CampaignStatus.RUNNING)
    campaign.status = CampaignStatus.PAUSED
    campaign.updated_at = clock.now()
    return campaign


async def resume(session: AsyncSession, actor: Actor, campaign_id: uuid.UUID) -> Campaign:
    actor.require_role(*CAMPAIGN_ROLES, *REVIEW_ROLES)
    campaign = await _load(session, campaign_id)
    _require(campaign, CampaignStatus.PAUSED)
    campaign.updated_at = clock.now()
    if campaign.started_at is None:
        campaign.status = CampaignStatus.APPROVED  # the schedule (or the tick) starts it
    else:
        campaign.status = CampaignStatus.RUNNING
        _enqueue_runner(session, campaign.id)
    return campaign


async def cancel(session: AsyncSession, actor: Actor, campaign_id: uuid.UUID) -> Campaign:
    """Final. Queued deliveries become skipped (cancelled); what was sent stays sent."""
    actor.require_role(*CAMPAIGN_ROLES, *REVIEW_ROLES)
    campaign = await _load(session, campaign_id)
    _require(campaign, *UNFINISHED)
    now = clock.now()
    campaign.status = CampaignStatus.CANCELLED
    campaign.finished_at = campaign.updated_at = now
    await session.execute(
        update(Delivery)
        .where(Delivery.campaign_id == campaign.id, Delivery.status == DeliveryStatus.QUEUED)
        .values(status=DeliveryStatus.SKIPPED, skip_reason=SkipReason.CANCELLED)
    )
    return campaign


# --- reads (staff only) -----------------------------------------------------------------------


async def get_campaign(session: AsyncSession, actor: Actor, campaign_id: uuid.UUID) -> Campaign:
    actor.require_role(*READ_ROLES)
    return await _load(session, campaign_id, lock=False)


async def campaigns_page(
    session: AsyncSession,
    actor: Actor,
    *,
    status: str | None,
    first: int | None,
    after: str | None,
    journey: str | None = None,
) -> Page[Any]:
    """Newest first; `journey`: only the day campaigns of that journey (journey_key "<code>:<date>")."""
    actor.require_role(*READ_ROLES)
    stmt = select(Campaign)
    if status:
        stmt = stmt.where(Campaign.status == status)
    if journey is not None:
        stmt = stmt.where(Campaign.journey_key.startswith(journeys.require_known(journey) + ":", autoescape=True))
    return await keyset_page(
        session, stmt, sort=Campaign.created_at, id_=Campaign.id, first=first, after=after, descending=True
    )


async def campaigns_by_ids(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, Campaign]:
    return {c.id: c for c in await session.scalars(select(Campaign).where(Campaign.id.in_(ids)))}


async def deliveries_page(
    session: AsyncSession,
    actor: Actor,
    campaign_id: uuid.UUID,
    *,
    status: str | None,
    first: int | None,
    after: str | None,
) -> Page[Any]:
    actor.require_role(*READ_ROLES)
    stmt = select(Delivery).where(Delivery.campaign_id == campaign_id)
    if status:
        stmt = stmt.where(Delivery.status == status)
    page = await keyset_page(session, stmt, sort=Delivery.patient_id, id_=Delivery.id, first=first, after=after)
    campaign = await session.get(Campaign, campaign_id)
    if campaign is not None and (campaign.criteria_snapshot or {}).get("conditions"):
        # Each delivery of a campaign chosen by condition says its patient has one of them.
        await reads.record_reads(session, actor, PhiKind.CONDITIONS, [d.patient_id for d in page.items])
    return page


async def deliveries_by_ids(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, Delivery]:
    return {d.id: d for d in await session.scalars(select(Delivery).where(Delivery.id.in_(ids)))}
