"""Visits from the hospital information system or clinic staff, and what they move: points,
referral conversion and the lifecycle stage.

A visit is identified by the HIS's external id: a replay of the same visit changes nothing; the same id
with status refunded is the refund; the same id with other visit details (patient, site, department,
time, items) is refused with VISIT_CONFLICT, because answering "unchanged" hid a HIS that reused ids or
corrected a visit we would never re-score. Refund policy (README): pending points are voided; settled points are
reversed, first from that visit's own lot, then from other lots oldest-expiry first; whatever the
member already spent becomes a clawback that later earnings repay before anything else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.errors import Conflict, CoreCode, FieldIssue, Validator
from core.identity import SYSTEM, Actor, Role
from core.ids import new_id
from loyalty import earning, errors, lifecycle, referrals, reversals
from loyalty.errors import LoyaltyCode as Code
from loyalty.models import Visit, VisitStatus
from patients import queries as patient_queries
from patients import service as patient_service
from patients.errors import InvalidPhone
from patients.phones import normalize_phone
from privacy import reads
from privacy.models import PhiKind

ITEM_CATEGORIES = {
    "registration": "挂号",
    "consultation": "诊查",
    "exam": "检查",
    "lab": "检验",
    "imaging": "影像",
    "drug": "药品",
    "therapy": "治疗",
    "rehab": "康复",
    "checkup": "体检",
    "dental": "口腔",
    "other": "其他",
}
VISIT_RULE, SPEND_RULE = "visit_completed", "visit_spend"


@dataclass
class VisitItem:
    category: str
    self_paid_fen: int = 0
    insured_fen: int = 0


@dataclass
class VisitData:
    external_id: str
    visited_at: datetime
    status: str
    department: str
    patient_id: uuid.UUID | None = None
    phone: str | None = None
    site_id: uuid.UUID | None = None
    site_code: str | None = None
    items: list[VisitItem] = field(default_factory=list)


class VisitConflict(Conflict):
    """The external id is known with other visit details: the HIS must send a new id, or a refund."""

    code = Code.VISIT_CONFLICT
    default_message = "该外部就诊编号已用于另一条就诊记录，内容不一致：请核对编号，或用 refunded 退费后以新编号重新推送"

    def __init__(self, fields: list[str]) -> None:
        super().__init__(field=fields[0] if fields else None)
        self.fields = fields

    @property
    def issues(self) -> list[FieldIssue]:
        return [FieldIssue(code=self.code, message=self.message, field=f) for f in self.fields] or super().issues


@dataclass(frozen=True)
class VisitOutcome:
    visit: Visit
    result: str  # created | unchanged | refunded


async def _validate(session: AsyncSession, data: VisitData) -> tuple[uuid.UUID, uuid.UUID]:
    v = Validator()
    v.check(
        1 <= len(data.external_id.strip()) <= 100,
        "externalId",
        Code.EXTERNAL_ID_INVALID,
        "外部就诊编号需为1到100个字符",
    )
    v.check(
        data.status in {s.value for s in VisitStatus},
        "status",
        Code.STATUS_INVALID,
        "状态需为 completed 或 refunded",
    )
    v.check(1 <= len(data.department.strip()) <= 60, "department", Code.DEPARTMENT_INVALID, "科室需为1到60个字符")
    v.check(data.visited_at.tzinfo is not None, "visitedAt", Code.VISITED_AT_NAIVE, "就诊时间需带时区")
    if data.visited_at.tzinfo is not None:
        v.check(
            data.visited_at <= clock.now() + timedelta(hours=1),
            "visitedAt",
            Code.VISITED_AT_FUTURE,
            "就诊时间不能晚于当前时间",
        )
    for i, item in enumerate(data.items):
        v.check(
            item.category in ITEM_CATEGORIES,
            f"items.{i}.category",
            Code.ITEM_CATEGORY_INVALID,
            f"未知的项目类别：{item.category}",
        )
        v.check(item.self_paid_fen >= 0 and item.insured_fen >= 0, f"items.{i}", Code.AMOUNT_NEGATIVE, "金额不能为负")
    v.check(
        data.patient_id is not None or bool(data.phone), "patient", CoreCode.PATIENT_REQUIRED, "需提供患者编号或手机号"
    )
    v.check(data.site_id is not None or bool(data.site_code), "site", Code.SITE_REQUIRED, "需提供院区")
    v.raise_if_any()

    patient_id = data.patient_id
    if patient_id is None:
        assert data.phone is not None
        try:
            phone = normalize_phone(data.phone)
        except InvalidPhone as exc:
            raise errors.VisitInvalid(exc.message, field="phone", code=exc.code) from exc
        existing = await patient_queries.patient_by_phone(session, phone)
        if existing is None:
            # The HIS knows a patient we do not: register them so their visit is not lost.
            existing, _ = await patient_service.register_patient(session, SYSTEM, phone=phone)
        patient_id = existing.id
    else:
        found = (await patient_queries.patients_by_ids(session, [patient_id])).get(patient_id)
        # An erased account (privacy/erasure.py) earns nothing new; a refund of an old visit still applies.
        if found is None or (found.erased_at is not None and data.status != VisitStatus.REFUNDED):
            raise errors.PatientNotFound(field="patientId")
    sites = await patient_queries.list_sites(session, include_inactive=True)
    site = next(
        (s for s in sites if s.id == data.site_id or (data.site_code and s.code == data.site_code.upper())), None
    )
    if site is None:
        raise errors.VisitInvalid("院区不存在", field="site", code=CoreCode.SITE_NOT_FOUND)
    return patient_id, site.id


async def record(session: AsyncSession, actor: Actor, data: VisitData, *, source: str) -> VisitOutcome:
    actor.require_role(Role.CLINIC_STAFF)
    patient_id, site_id = await _validate(session, data)
    external_id = data.external_id.strip()
    # Replays and refunds of one visit may arrive together: one at a time per external id.
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"visit:{external_id}"})
    visit = await session.scalar(select(Visit).where(Visit.external_id == external_id).with_for_update())
    items = [
        {"category": i.category, "self_paid_fen": i.self_paid_fen, "insured_fen": i.insured_fen} for i in data.items
    ]
    if visit is not None:
        # The answer carries the stored visit: a read of it (recording a new one is not).
        await reads.record_reads(session, actor, PhiKind.VISITS, [visit.patient_id])
        if data.status == VisitStatus.REFUNDED:
            # A refund names the visit by its id alone: HIS refund messages may carry other items or times.
            if visit.status == VisitStatus.COMPLETED:
                await refund(session, visit)
                return VisitOutcome(visit, "refunded")
            return VisitOutcome(visit, "unchanged")
        differing = _differences(visit, patient_id, site_id, data, items)
        if differing:
            raise VisitConflict(differing)
        return VisitOutcome(visit, "unchanged")  # the identical visit again (also after its refund)

    now = clock.now()
    visit = Visit(
        id=new_id(),
        external_id=external_id,
        patient_id=patient_id,
        site_id=site_id,
        department=data.department.strip(),
        visited_at=data.visited_at,
        status=data.status,
        self_paid_fen=sum(i.self_paid_fen for i in data.items),
        insured_fen=sum(i.insured_fen for i in data.items),
        items=items,
        source=source,
        recorded_by=actor.id,
        created_at=now,
        updated_at=now,
        refunded_at=now if data.status == VisitStatus.REFUNDED else None,
    )
    session.add(visit)
    await session.flush()
    if data.status == VisitStatus.COMPLETED:
        ref = f"visit:{visit.id}"
        await earning.award(session, patient_id, VISIT_RULE, ref, f"{ref}:{VISIT_RULE}", earned_at=data.visited_at)
        await earning.award(
            session, patient_id, SPEND_RULE, ref, f"{ref}:{SPEND_RULE}", items=items, earned_at=data.visited_at
        )
        await referrals.on_completed_visit(session, patient_id, visit)
    await lifecycle.recompute(session, [patient_id], reason=f"visit_{data.status}")
    return VisitOutcome(visit, "created")


def _differences(
    visit: Visit, patient_id: uuid.UUID, site_id: uuid.UUID, data: VisitData, items: list[dict[str, object]]
) -> list[str]:
    """The fields of a completed-visit message that disagree with the stored visit (API field names)."""
    pairs = {
        "patient": (visit.patient_id, patient_id),
        "site": (visit.site_id, site_id),
        "department": (visit.department, data.department.strip()),
        "visitedAt": (visit.visited_at, data.visited_at),  # aware datetimes: equal instants in any zone
        "items": (list(visit.items or []), items),
    }
    return [name for name, (stored, sent) in pairs.items() if stored != sent]


async def refund(session: AsyncSession, visit: Visit) -> None:
    now = clock.now()
    visit.status = VisitStatus.REFUNDED
    visit.refunded_at = now
    visit.updated_at = now
    await referrals.lock_for_refund(session, visit.id)
    await refund_points(session, visit.patient_id, f"visit:{visit.id}")
    await referrals.on_visit_refunded(session, visit.id)
    await lifecycle.recompute(session, [visit.patient_id], reason="visit_refunded")


async def refund_points(session: AsyncSession, patient_id: uuid.UUID, source_ref: str) -> None:
    """Takes back the points of `source_ref` (see `reversals.reverse_source`)."""
    await reversals.reverse_source(session, patient_id, source_ref, reason="就诊退费")
