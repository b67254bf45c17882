"""Referrals: a code per member, attribution only at registration, conversion at the referee's first
completed visit, rewards to both once that visit's points have settled, and fraud rules whose
rejections are recorded with their reason."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.ids import new_id
from core.settings import get_settings
from loyalty import earning, ledger, reversals
from loyalty.models import Lot, LotStatus, Referral, ReferralCode, ReferralStatus, Visit, VisitStatus
from patients import queries as patient_queries

REFUNDED_AFTER_REWARD = "visit_refunded"  # reject reason: the first visit was refunded after the rewards
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I/L look-alikes


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


async def ensure_code(session: AsyncSession, patient_id: uuid.UUID) -> str:
    for _ in range(5):
        await session.execute(
            insert(ReferralCode)
            .values(patient_id=patient_id, code=_new_code(), created_at=clock.now())
            .on_conflict_do_nothing()
        )
        code = await session.scalar(select(ReferralCode.code).where(ReferralCode.patient_id == patient_id))
        if code is not None:
            return code
    raise RuntimeError("could not allocate a referral code")


async def codes_by_patient(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = await session.execute(
        select(ReferralCode.patient_id, ReferralCode.code).where(ReferralCode.patient_id.in_(ids))
    )
    return dict(rows.all())


async def _rejection(
    session: AsyncSession, referrer_id: uuid.UUID, referee_id: uuid.UUID, device_id: str | None, registered: bool
) -> str | None:
    if referrer_id == referee_id:
        return "self_referral"
    has_visits = await session.scalar(select(Visit.id).where(Visit.patient_id == referee_id).limit(1))
    if not registered or has_visits is not None:
        return "existing_patient"
    phones = await patient_queries.patients_by_ids(session, [referrer_id, referee_id])
    referrer, referee = phones.get(referrer_id), phones.get(referee_id)
    if referrer is None or referee is None:
        return "unknown_patient"
    if referrer.phone == referee.phone:
        return "same_phone"
    if device_id and device_id in await patient_queries.device_ids_of_patient(session, referrer_id):
        return "same_device"
    if await patient_queries.is_staff_phone(session, referrer.phone):
        return "staff_referrer"
    return None


async def attribute(
    session: AsyncSession, referee_id: uuid.UUID, code: str, *, device_id: str | None, registered: bool
) -> Referral | None:
    """Links a new patient to the owner of `code`. Unknown codes are ignored (sign-in must not fail
    for a typo); a rejected referral is kept with its reason so fraud can be reviewed."""
    code = (code or "").strip().upper()
    owner = await session.scalar(select(ReferralCode.patient_id).where(ReferralCode.code == code))
    if owner is None:
        return None
    reason = await _rejection(session, owner, referee_id, device_id, registered)
    referral = Referral(
        id=new_id(),
        referrer_id=owner,
        referee_id=referee_id,
        code=code,
        status=ReferralStatus.REJECTED if reason else ReferralStatus.ATTRIBUTED,
        reject_reason=reason,
        device_id=device_id,
        created_at=clock.now(),
    )
    inserted = await session.scalar(
        insert(Referral)
        .values(
            id=referral.id,
            referrer_id=owner,
            referee_id=referee_id,
            code=code,
            status=referral.status,
            reject_reason=reason,
            device_id=device_id,
            created_at=referral.created_at,
        )
        .on_conflict_do_nothing(index_elements=["referee_id"])
        .returning(Referral.id)
    )
    return referral if inserted else None


async def on_completed_visit(session: AsyncSession, patient_id: uuid.UUID, visit: Visit) -> None:
    referral = await session.scalar(
        select(Referral)
        .where(Referral.referee_id == patient_id, Referral.status == ReferralStatus.ATTRIBUTED)
        .with_for_update()
    )
    if referral is None:
        return
    completed = await session.scalar(
        select(func.count())
        .select_from(Visit)
        .where(Visit.patient_id == patient_id, Visit.status == VisitStatus.COMPLETED)
    )
    if completed == 1:
        referral.status = ReferralStatus.CONVERTED
        referral.visit_id = visit.id
        referral.converted_at = clock.now()


async def lock_for_refund(session: AsyncSession, visit_id: uuid.UUID) -> None:
    """Called before a visit's points are taken back: locks the referral the visit converted, then,
    when it was rewarded, both members' accounts in account-id order. Rewarding takes the referral first
    too, and settlement batches lock accounts in id order, so a refund never waits on them crosswise."""
    referral = await session.scalar(
        select(Referral)
        .where(
            Referral.visit_id == visit_id,
            Referral.status.in_([ReferralStatus.CONVERTED, ReferralStatus.REWARDED]),
        )
        .with_for_update()
    )
    if referral is not None and referral.status == ReferralStatus.REWARDED:
        await ledger.lock_members(session, [referral.referee_id, referral.referrer_id])


async def on_visit_refunded(session: AsyncSession, visit_id: uuid.UUID) -> None:
    """A refunded first visit no longer converts; the next completed visit may. When the referral was
    already rewarded, both bonuses (referrer's and referee's) are taken back, as a refunded visit's own
    points are, and the referral is rejected for good (`visit_refunded`): exactly once, since the
    referral leaves `rewarded` in the same transaction and each lot is reversed under its own key."""
    referral = await session.scalar(
        select(Referral)
        .where(
            Referral.visit_id == visit_id,
            Referral.status.in_([ReferralStatus.CONVERTED, ReferralStatus.REWARDED]),
        )
        .with_for_update()
    )
    if referral is None:
        return
    if referral.status == ReferralStatus.CONVERTED:
        referral.status = ReferralStatus.ATTRIBUTED
        referral.visit_id = None
        referral.converted_at = None
        return
    ref = f"referral:{referral.id}"
    # Both members' accounts are locked already (`lock_for_refund`).
    await reversals.reverse_source(session, referral.referee_id, ref, reason="推荐就诊退费")
    await reversals.reverse_source(session, referral.referrer_id, ref, reason="推荐就诊退费")
    referral.status = ReferralStatus.REJECTED
    referral.reject_reason = REFUNDED_AFTER_REWARD


def _month_start(now: datetime) -> datetime:
    local = now.astimezone(ZoneInfo(get_settings().default_timezone))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def reward_settled(session: AsyncSession, *, limit: int = 500) -> int:
    """Rewards converted referrals whose visit points have settled. Idempotent: the status moves
    once, and the two awards carry keys derived from the referral."""
    now = clock.now()
    still_pending = (
        select(Lot.id)
        .where(Lot.source_ref == func.concat("visit:", Referral.visit_id), Lot.status == LotStatus.PENDING)
        .exists()
    )
    referrals = (
        await session.scalars(
            select(Referral)
            .where(Referral.status == ReferralStatus.CONVERTED, ~still_pending)
            .order_by(Referral.converted_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    done = 0
    for referral in referrals:
        rewarded_this_month = await session.scalar(
            select(func.count())
            .select_from(Referral)
            .where(
                Referral.referrer_id == referral.referrer_id,
                Referral.status == ReferralStatus.REWARDED,
                Referral.rewarded_at >= _month_start(now),
            )
        )
        if (rewarded_this_month or 0) >= get_settings().referral_monthly_cap:
            referral.status = ReferralStatus.REJECTED
            referral.reject_reason = "referrer_monthly_cap"
            continue
        ref = f"referral:{referral.id}"
        await earning.award(session, referral.referrer_id, "referral_converted", ref, f"{ref}:referrer")
        await earning.award(session, referral.referee_id, "referral_welcome", ref, f"{ref}:referee")
        referral.status = ReferralStatus.REWARDED
        referral.rewarded_at = now
        done += 1
    return done


async def referrals_of(session: AsyncSession, referrer_id: uuid.UUID) -> list[Referral]:
    return list(
        await session.scalars(
            select(Referral).where(Referral.referrer_id == referrer_id).order_by(Referral.created_at.desc())
        )
    )
