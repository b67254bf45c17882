"""HIS webhook, visits, lifecycle stages, referrals and tiers."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core import clock, security
from core.db import unit_of_work
from core.identity import SYSTEM, Actor, ActorKind, Role
from core.settings import get_settings
from loyalty import jobs, lifecycle, referrals, tiers
from loyalty.models import Entry, LifecycleChange, MemberTier, PatientLifecycle, Referral, TierChange
from patients import service as patient_service
from patients.models import AuthSession, Staff
from tests.factories import new_member, next_phone
from tests.loyalty.support import balances, days, give_points, record_visit
from tests.support import REQUEST_CODE, data, gql, last_code

HOOK = "/hooks/his/visits"


pytestmark = pytest.mark.usefixtures("ledger_invariants")


def _signed(body: bytes, *, ts: int | None = None, secret: str | None = None) -> dict[str, str]:
    stamp = str(ts if ts is not None else int(time.time()))
    signature = security.sign_webhook(secret or get_settings().his_webhook_secret, stamp, body)
    return {"x-his-timestamp": stamp, "x-his-signature": f"sha256={signature}", "content-type": "application/json"}


def _visit_json(phone: str, external_id: str, status: str = "completed") -> bytes:
    return json.dumps(
        {
            "external_id": external_id,
            "phone": phone,
            "site_code": "KN-T",
            "department": "心内科",
            "visited_at": datetime.now(UTC).isoformat(),
            "status": status,
            "items": [
                {"category": "consultation", "self_paid_fen": 20000, "insured_fen": 10000},
                {"category": "drug", "self_paid_fen": 50000},
            ],
        }
    ).encode()


async def _site() -> None:
    async with unit_of_work() as session:
        await patient_service.create_site(session, SYSTEM, code="KN-T", name="测试院区", kind="campus")


async def test_webhook_signature_freshness_and_validation(client):
    await _site()
    body = _visit_json(next_phone(), "V-100")
    bad = await client.post(HOOK, content=body, headers=_signed(body, secret="wrong-secret"))
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "SIGNATURE_INVALID"
    unsigned = await client.post(HOOK, content=body, headers={"content-type": "application/json"})
    assert unsigned.status_code == 401
    stale = await client.post(HOOK, content=body, headers=_signed(body, ts=int(time.time()) - 301))
    assert stale.status_code == 401 and stale.json()["error"]["code"] == "TIMESTAMP_STALE"
    garbage = b'{"external_id": "V-1", '
    malformed = await client.post(HOOK, content=garbage, headers=_signed(garbage))
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "INVALID_JSON"
    assert "JSON" in malformed.json()["error"]["message"]
    missing = json.dumps({"external_id": "V-2", "status": "maybe"}).encode()
    invalid = await client.post(HOOK, content=missing, headers=_signed(missing))
    assert invalid.status_code == 400
    fields = {d["field"] for d in invalid.json()["error"]["details"]}
    assert {"status", "site_code", "department", "visited_at"} <= fields
    async with unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Entry)) == 0


async def test_webhook_replay_is_harmless_and_refund_voids(client):
    await _site()
    phone = next_phone()
    body = _visit_json(phone, "V-200")
    first = await client.post(HOOK, content=body, headers=_signed(body))
    assert first.status_code == 200 and first.json()["result"] == "created"
    replay = await client.post(HOOK, content=body, headers=_signed(body))
    assert replay.status_code == 200 and replay.json()["result"] == "unchanged"
    assert replay.json()["visit_id"] == first.json()["visit_id"]
    async with unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Entry)) == 2  # visit + spend, once
        from patients.queries import patient_by_phone

        patient = await patient_by_phone(session, phone)
    assert patient is not None  # an unknown phone from the HIS becomes a registered patient
    assert await balances(patient.id) == {"pending": 70, "available": 0, "clawback": 0}
    refund = _visit_json(phone, "V-200", status="refunded")
    answer = await client.post(HOOK, content=refund, headers=_signed(refund))
    assert answer.json()["result"] == "refunded"
    assert await balances(patient.id) == {"pending": 0, "available": 0, "clawback": 0}


async def test_lifecycle_moves_with_visits_and_dormancy():
    member = await new_member()
    async with unit_of_work() as session:
        await lifecycle.recompute(session, [member], reason="registered")
    start = clock.now() - days(10)
    await record_visit(member, "L-1", visited_at=start)
    await record_visit(member, "L-2", visited_at=start + days(1))
    for i in range(3, 5):
        await record_visit(member, f"L-{i}", visited_at=start + days(i))
    clock.clock.advance(days(400))
    await lifecycle.recompute_all()
    async with unit_of_work() as session:
        stage = await session.get(PatientLifecycle, member)
        changes = (
            await session.scalars(
                select(LifecycleChange).where(LifecycleChange.patient_id == member).order_by(LifecycleChange.changed_at)
            )
        ).all()
    assert stage is not None and stage.stage == "dormant"
    assert [c.to_stage for c in changes] == ["acquisition", "conversion", "retention", "loyalty", "dormant"]


async def _register_with_code(client, code: str, *, device: str | None = None) -> uuid.UUID:
    phone = next_phone()
    await gql(client, REQUEST_CODE, {"phone": phone})
    query = """mutation($phone: String!, $code: String!, $ref: String, $device: String) {
      authSignIn(input: {phone: $phone, code: $code, referralCode: $ref, deviceId: $device}) {
        patient { id } errors { code } } }"""
    result = data(
        await gql(client, query, {"phone": phone, "code": await last_code(phone), "ref": code, "device": device})
    )["authSignIn"]
    assert result["errors"] == []
    from api.relay import parse_uuid_id

    parsed = parse_uuid_id(result["patient"]["id"], "Patient")
    assert parsed is not None
    return parsed


async def _code_of(patient_id: uuid.UUID) -> str:
    async with unit_of_work() as session:
        return await referrals.ensure_code(session, patient_id)


async def _referral(referee: uuid.UUID) -> Referral | None:
    async with unit_of_work() as session:
        return await session.scalar(select(Referral).where(Referral.referee_id == referee))


async def test_referral_converts_and_rewards_both_after_settlement(client):
    referrer = await new_member()
    referee = await _register_with_code(client, (await _code_of(referrer)).lower())
    assert (await _referral(referee)).status == "attributed"
    await record_visit(referee, "REF-1", consultation_fen=10_000)
    assert (await _referral(referee)).status == "converted"
    await jobs.settle_due()
    assert (await _referral(referee)).status == "converted"  # its visit points are still pending
    clock.clock.advance(days(8))
    await jobs.settle_due()
    assert (await _referral(referee)).status == "rewarded"
    assert (await balances(referrer))["available"] == 200
    assert (await balances(referee))["available"] == 60 + 100
    await jobs.settle_due()
    assert (await balances(referrer))["available"] == 200  # rewarded once


async def test_referral_refunded_first_visit_does_not_convert(client):
    referrer = await new_member()
    referee = await _register_with_code(client, await _code_of(referrer))
    await record_visit(referee, "REF-R", consultation_fen=10_000)
    await record_visit(referee, "REF-R", status="refunded")
    assert (await _referral(referee)).status == "attributed"
    clock.clock.advance(days(8))
    await jobs.settle_due()
    assert (await balances(referrer)).get("available", 0) == 0


async def test_referral_fraud_rules(client):
    referrer = await new_member()
    code = await _code_of(referrer)
    # same device as one the referrer signed in with
    async with unit_of_work() as session:
        session.add(
            AuthSession(
                id=uuid.uuid4(), subject_kind="patient", subject_id=referrer, device_id="dev-42", created_at=clock.now()
            )
        )
    same_device = await _register_with_code(client, code, device="dev-42")
    assert (await _referral(same_device)).reject_reason == "same_device"
    # an existing patient entering a code later
    existing = await new_member()
    async with unit_of_work() as session:
        await referrals.attribute(session, existing, code, device_id=None, registered=False)
    assert (await _referral(existing)).reject_reason == "existing_patient"
    # self-referral
    async with unit_of_work() as session:
        await referrals.attribute(session, referrer, code, device_id=None, registered=True)
    assert (await _referral(referrer)).reject_reason == "self_referral"
    # staff as referrer: the referrer's phone belongs to an active staff account
    staff_patient = await new_member(phone="13911112222")
    async with unit_of_work() as session:
        staff = await patient_service.create_staff(
            session, SYSTEM, email="s@example.cn", name="员工", password="long-password-1", roles=["doctor"]
        )
        staff.phone = "13911112222"
    by_staff = await _register_with_code(client, await _code_of(staff_patient))
    assert (await _referral(by_staff)).reject_reason == "staff_referrer"
    # unknown code: ignored, sign-in still works
    nobody = await _register_with_code(client, "ZZZZZZZZ")
    assert await _referral(nobody) is None
    # monthly cap of rewarded referrals
    get_settings().referral_monthly_cap = 1
    try:
        first = await _register_with_code(client, code)
        second = await _register_with_code(client, code)
        await record_visit(first, "CAP-1")
        await record_visit(second, "CAP-2")
        clock.clock.advance(days(8))
        await jobs.settle_due()
    finally:
        get_settings().referral_monthly_cap = 10
    statuses = sorted([(await _referral(first)).status, (await _referral(second)).status])
    assert statuses == ["rejected", "rewarded"]
    async with unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Staff)) == 1


async def test_tier_upgrade_grace_and_downgrade():
    member = await new_member()
    clock.clock.freeze(datetime(2026, 2, 10, 4, 0, tzinfo=UTC))
    for i in range(10):  # visit points capped at 100 a day + 10 x 300 spend = 3100 earned -> gold
        await record_visit(member, f"T-{i}", consultation_fen=300_000)
    async with unit_of_work() as session:
        state = await session.get(MemberTier, member)
    assert state is not None and state.tier_code == "gold" and state.grace_until is None
    # Spending never lowers a tier: it is qualified on points earned, not on the balance.
    clock.clock.advance(days(8))
    await jobs.settle_due()
    async with unit_of_work() as session:
        assert (await tiers.progress(session, member)).current.code == "gold"
    # Thirteen months later the points left the window: grace until the end of the next quarter.
    clock.clock.freeze(datetime(2027, 3, 15, 4, 0, tzinfo=UTC))
    await jobs.recompute_tiers()
    async with unit_of_work() as session:
        state = await session.get(MemberTier, member)
    assert state.tier_code == "gold"
    assert state.grace_until == datetime(2027, 6, 30, 16, 0, tzinfo=UTC)  # 2027-07-01 00:00 Shanghai
    clock.clock.freeze(datetime(2027, 7, 1, 0, 0, tzinfo=UTC))
    await jobs.recompute_tiers()
    async with unit_of_work() as session:
        state = await session.get(MemberTier, member)
        history = (
            await session.scalars(
                select(TierChange).where(TierChange.patient_id == member).order_by(TierChange.changed_at)
            )
        ).all()
    assert state.tier_code == "standard"
    assert [(h.from_tier, h.to_tier) for h in history] == [
        ("standard", "silver"),
        ("silver", "gold"),
        ("gold", "standard"),
    ]


async def test_adjustments_do_not_qualify_for_tiers():
    member = await new_member()
    await give_points(member, 5000)
    async with unit_of_work() as session:
        assert (await tiers.progress(session, member)).current.code == "standard"


async def test_staff_visit_record_requires_clinic_role():
    member = await new_member()
    from core.errors import PermissionDenied
    from loyalty import visits

    marketer = Actor(kind=ActorKind.STAFF, id=uuid.uuid4(), roles=frozenset({Role.MARKETER}))
    data_ = visits.VisitData(
        external_id="P-1",
        visited_at=clock.now(),
        status="completed",
        department="内科",
        patient_id=member,
        site_code="KN-T",
    )
    async with unit_of_work() as session:
        with pytest.raises(PermissionDenied):
            await visits.record(session, marketer, data_, source="staff")
    future = visits.VisitData(
        external_id="P-2",
        visited_at=clock.now() + timedelta(days=2),
        status="done",
        department="",
        patient_id=member,
        site_code="KN-T",
        items=[visits.VisitItem("massage", -1)],
    )
    from core.errors import ValidationFailed

    async with unit_of_work() as session:
        with pytest.raises(ValidationFailed) as failed:
            await visits.record(session, SYSTEM, future, source="staff")
    assert {i.code for i in failed.value.issues} >= {
        "STATUS_INVALID",
        "DEPARTMENT_INVALID",
        "VISITED_AT_FUTURE",
        "ITEM_CATEGORY_INVALID",
        "AMOUNT_NEGATIVE",
    }
