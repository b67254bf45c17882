"""Automated journeys: campaign templates with their own rules, run by a cron.

Each run of a journey, in one transaction:
1. upserts the journey's campaign for the local day (unique `journey_key` = "<journey>:<date>"), so a
   day's messages of one journey form one campaign with its own stats;
2. inserts the occasions its rule finds, INSERT ... SELECT ... ON CONFLICT DO NOTHING on
   (journey, patient, occasion): one SQL statement, and a patient is greeted once per occasion
   however often the cron runs, retries or overlaps;
3. when new occasions arrived, re-opens the day's campaign for the runner (which walks the
   occasions again; deliveries are unique per (campaign, patient), so nobody gets two).

Journey templates live here, in code: they were reviewed like code, so they run without a per-day
approval; marketers and reviewers can still pause or cancel a day's journey campaign. Consent,
suppression, quiet hours and (for marketing journeys) the frequency cap apply as for any campaign.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, String, and_, cast, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert

from campaigns.config import get_campaign_settings
from campaigns.errors import CampaignsCode
from campaigns.models import AudienceKind, Campaign, CampaignClass, CampaignStatus, JourneyOccasion
from campaigns.runner import enqueue_materialise
from campaigns.segments import READ_ROLES
from community.models import Event, Membership
from core import clock, jobs
from core.channels import CHANNEL_LABELS_ZH
from core.db import after_commit, unit_of_work
from core.errors import DomainError
from core.identity import Actor
from core.ids import new_id
from loyalty.models import LifecycleStage, PatientLifecycle, Visit
from messaging.outreach import zone
from patients.models import Patient

JOURNEYS_RUN = jobs.register("campaigns.journeys", "Run the automated journeys (follow-ups, birthdays, ...)")
FOLLOW_UP_GRACE = timedelta(days=3)  # a worker down for a while still follows up, a little late
EVENT_PROMOTION_DAYS = 7


def _empty() -> Any:
    return func.jsonb_build_object()


def _follow_up(days: int) -> Callable[[datetime], Select[Any]]:
    def rule(now: datetime) -> Select[Any]:
        due = now - timedelta(days=days)
        return select(
            Visit.patient_id, (literal("visit:") + cast(Visit.id, String)).label("occasion"), _empty().label("extra")
        ).where(Visit.status == "completed", Visit.visited_at <= due, Visit.visited_at > due - FOLLOW_UP_GRACE)

    return rule


def _reactivation(now: datetime) -> Select[Any]:
    since = now - timedelta(days=get_campaign_settings().dormant_journey_days)
    became = func.to_char(func.timezone("UTC", PatientLifecycle.changed_at), "YYYY-MM-DD")
    return select(
        PatientLifecycle.patient_id, (literal("dormant:") + became).label("occasion"), _empty().label("extra")
    ).where(PatientLifecycle.stage == LifecycleStage.DORMANT, PatientLifecycle.changed_at >= since)


def _birthday(now: datetime) -> Select[Any]:
    today = now.astimezone(zone(None)).date()
    days = [(today.month, today.day)]
    if (today.month, today.day) == (2, 28) and not _leap(today.year):
        days.append((2, 29))  # born on 29 February: greeted on the 28th in common years
    month, day = func.extract("month", Patient.birth_date), func.extract("day", Patient.birth_date)
    return select(Patient.id, literal(f"birthday:{today.year}").label("occasion"), _empty().label("extra")).where(
        Patient.birth_date.is_not(None), or_(*[and_(month == m, day == d) for m, d in days])
    )


def _leap(year: int) -> bool:
    try:
        date(year, 2, 29)
    except ValueError:
        return False
    return True


def _event_promotion(now: datetime) -> Select[Any]:
    return (
        select(
            Membership.account_id,
            (literal("event:") + cast(Event.id, String)).label("occasion"),
            func.jsonb_build_object("event_title", Event.title).label("extra"),
        )
        .join(Event, Event.group_id == Membership.group_id)
        .where(
            Membership.account_kind == "patient",
            Membership.state == "active",
            Event.status == "scheduled",
            Event.starts_at > now,
            Event.starts_at <= now + timedelta(days=EVENT_PROMOTION_DAYS),
            or_(Event.registration_deadline.is_(None), Event.registration_deadline > now),
        )
    )


@dataclass(frozen=True)
class Journey:
    code: str
    name: str
    kind: str
    channels: tuple[str, ...]
    subject: str
    body: str
    rule: Callable[[datetime], Select[Any]]
    trigger: str = ""  # what starts it, for staff (the console's journey page); {dormant_days} is filled in


# Lock-screen channels (SMS, WeChat) get no condition or event names: the texts below are generic.
# Points about to expire are announced by loyalty alone (`loyalty.jobs.notify_expiring`, once per lot,
# in the nightly expiry run): a journey for them sent every patient a second notice.
JOURNEYS = {
    j.code: j
    for j in (
        Journey(
            "reactivation",
            "沉睡唤醒",
            CampaignClass.MARKETING,
            ("in_app", "wechat", "sms"),
            "好久不见",
            "{nickname}您好，好久不见！{brand}近期新增多项健康服务，欢迎回来看看。",
            _reactivation,
            "会员转入沉睡期（{dormant_days}天内转入的），每次沉睡问候一次",
        ),
        *(
            Journey(
                f"follow_up_{d}",
                f"就诊后{d}天随访",
                CampaignClass.CARE,
                ("in_app", "wechat", "sms"),
                "就诊随访",
                f"{{nickname}}您好，距您就诊已{d}天，恢复得怎么样？如有不适请及时复诊，祝您早日康复。",
                _follow_up(d),
                f"完成就诊后第{d}天，每次就诊随访一次",
            )
            for d in (7, 30, 90)
        ),
        Journey(
            "birthday",
            "生日祝福",
            CampaignClass.MARKETING,
            ("in_app", "wechat", "sms"),
            "生日快乐",
            "{nickname}，{brand}祝您生日快乐，身体健康，万事如意！",
            _birthday,
            "会员生日当天（2月29日出生的会员在平年2月28日），每年一次",
        ),
        Journey(
            "event_promotion",
            "社群活动推广",
            CampaignClass.MARKETING,
            ("in_app",),  # an event title may name a condition: in-app only
            "社群活动邀请",
            "{nickname}您好，您所在社群的活动「{event_title}」即将举行，欢迎报名参加。",
            _event_promotion,
            f"所在社群有{EVENT_PROMOTION_DAYS}天内开始且仍可报名的活动，每个活动一次",
        ),
    )
}


async def run_journey(code: str) -> int:
    """One journey, one transaction: new occasions found (0 on a repeat run)."""
    journey = JOURNEYS[code]
    now = clock.now()
    day = now.astimezone(zone(None)).date()
    key = f"{code}:{day.isoformat()}"
    async with unit_of_work() as session:
        await session.execute(
            insert(Campaign)
            .values(
                id=new_id(),
                name=f"{journey.name} {day.isoformat()}",
                kind=journey.kind,
                status=CampaignStatus.RUNNING,
                audience_kind=AudienceKind.JOURNEY,
                channels=list(journey.channels),
                subject=journey.subject,
                body=journey.body,
                journey_key=key,
                criteria_snapshot={"journey": code},
                started_at=now,
                audience_count=0,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["journey_key"])
        )
        campaign = (
            await session.execute(
                select(Campaign.id, Campaign.status).where(Campaign.journey_key == key).with_for_update()
            )
        ).one()
        if campaign.status not in (CampaignStatus.RUNNING, CampaignStatus.COMPLETED):
            return 0  # paused or cancelled by staff for today
        found = journey.rule(now).subquery()
        inserted = (
            await session.execute(
                insert(JourneyOccasion)
                .from_select(
                    ["journey", "patient_id", "occasion", "campaign_id", "extra", "created_at"],
                    select(
                        literal(code),
                        found.c[0],
                        found.c.occasion,
                        literal(campaign.id),
                        cast(found.c.extra, JSONB),
                        literal(now),
                    ),
                )
                .on_conflict_do_nothing()
                .returning(JourneyOccasion.patient_id)
            )
        ).all()
        if inserted:
            await session.execute(
                update(Campaign)
                .where(Campaign.id == campaign.id)
                .values(status=CampaignStatus.RUNNING, cursor=None, materialised_at=None, finished_at=None)
            )
            campaign_id: uuid.UUID = campaign.id

            async def go() -> None:
                await enqueue_materialise(campaign_id)

            after_commit(session, go)
        return len(inserted)


async def run_all() -> dict[str, int]:
    """Cron `campaigns.journeys`: every journey, one transaction each."""
    return {code: await run_journey(code) for code in JOURNEYS}


# --- reading (staff) --------------------------------------------------------------------------

POLICY = {
    CampaignClass.MARKETING: "营销消息：需该渠道的营销用途授权；免打扰时段推迟到结束后发送；计入营销消息频次上限；"
    "已故、住院、员工、未成年与退订营销的会员不发送",
    CampaignClass.CARE: "关怀消息：需该渠道的服务用途授权；免打扰时段推迟到结束后发送；计入关怀消息频次上限；"
    "已故、住院与员工不发送",
}


def trigger_of(journey: Journey) -> str:
    return journey.trigger.format(dormant_days=get_campaign_settings().dormant_journey_days)


def steps_of(journey: Journey) -> list[str]:
    """The journey as the steps a patient goes through, in words."""
    channels = " → ".join(CHANNEL_LABELS_ZH.get(c, c) for c in journey.channels)
    return [
        f"触发：{trigger_of(journey)}",
        "每天由定时任务生成当天的旅程活动（模板已按代码评审，无需逐日审批；当天的活动可暂停或取消）",
        f"渠道：{channels}（依次选择第一个已授权且有联系方式的渠道）",
        POLICY[CampaignClass(journey.kind)],
        f"发送：{journey.subject} — {journey.body}",
    ]


def catalogue(actor: Actor) -> list[Journey]:
    """Every journey, for the marketing staff who read campaigns."""
    actor.require_role(*READ_ROLES)
    return list(JOURNEYS.values())


def require_known(code: str) -> str:
    if code not in JOURNEYS:
        raise DomainError("未知的自动旅程", field="journey", code=CampaignsCode.JOURNEY_UNKNOWN)
    return code
