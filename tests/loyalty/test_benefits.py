"""Tier benefits as rules (loyalty.benefits): the birthday multiplier in earning (once, on the local
birthday, within the rule's caps), the monthly voucher job (once per member and month, also when run
twice, at once, or killed midway), the text derived from the rules, and who may change them."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from core import clock
from core.db import unit_of_work
from core.errors import PermissionDenied, ValidationFailed
from core.identity import Role
from core.outbox import OutboxMessage
from loyalty import benefits, errors, rewards
from loyalty.models import Entry, MemberTier, Redemption, Tier
from patients import service as patient_service
from patients.models import Patient
from tests.factories import as_patient, new_member, staff
from tests.loyalty.invariants import check_member_invariants
from tests.loyalty.support import award, balances, make_reward, record_visit

ADMIN = staff(Role.ADMIN)
MARKETER = staff(Role.MARKETER)
# 2026-03-14 17:00 UTC is 15 March 01:00 in Shanghai: the local date decides the birthday.
LATE_UTC = datetime(2026, 3, 14, 17, 0, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("ledger_invariants")


async def set_tier(patient_id: uuid.UUID, code: str) -> None:
    now = clock.now()
    async with unit_of_work() as session:
        await session.merge(
            MemberTier(patient_id=patient_id, tier_code=code, qualifying_points=0, since=now, evaluated_at=now)
        )


async def member(tier: str = "standard", born: date | None = None) -> uuid.UUID:
    patient_id = await new_member()
    if born is not None:
        async with unit_of_work() as session:
            await patient_service.update_profile(
                session, as_patient(patient_id), patient_service.ProfileChanges(birth_date=born)
            )
    if tier != "standard":
        await set_tier(patient_id, tier)
    return patient_id


async def change(code: str, actor: Any = ADMIN, **kw: Any) -> Tier:
    async with unit_of_work() as session:
        return await benefits.update_benefits(session, actor, code, benefits.BenefitChanges(**kw))


async def voucher_reward(name: str = "免费专家问诊券") -> uuid.UUID:
    async with unit_of_work() as session:
        reward = await rewards.create_reward(
            session,
            MARKETER,
            rewards.RewardInput(
                name=name,
                description="每月一次专家门诊免费问诊",
                category="service_voucher",
                points_cost=300,
                stock=None,
                active=False,  # not in the catalogue: only the tier benefit gives it
            ),
        )
    return reward.id


# --- the birthday multiplier ---------------------------------------------------------------------


def test_birthdays_including_29_february():
    assert benefits.is_birthday(date(1980, 3, 15), date(2026, 3, 15))
    assert not benefits.is_birthday(date(1980, 3, 15), date(2026, 3, 14))
    assert not benefits.is_birthday(None, date(2026, 3, 15))
    assert benefits.is_birthday(date(2000, 2, 29), date(2026, 2, 28))
    assert not benefits.is_birthday(date(2000, 2, 29), date(2028, 2, 28))
    assert benefits.is_birthday(date(2000, 2, 29), date(2028, 2, 29))


async def test_silver_members_earn_double_on_their_local_birthday_once():
    clock.clock.freeze(LATE_UTC)
    silver_birthday = await member("silver", date(1980, 3, 15))
    silver_other_day = await member("silver", date(1980, 3, 14))  # the UTC date, not the local one
    standard_birthday = await member("standard", date(1980, 3, 15))
    got = {p: await award(p, "event_attendance", "event:x", f"attend:{p}") for p in (silver_birthday, silver_other_day)}
    got[standard_birthday] = await award(standard_birthday, "event_attendance", "event:x", "attend:std")
    assert {p: a.points for p, a in got.items()} == {silver_birthday: 60, silver_other_day: 30, standard_birthday: 30}
    # A retry (even the next day) returns the first award: the multiplier is applied once.
    clock.clock.advance(timedelta(days=1))
    again = await award(silver_birthday, "event_attendance", "event:x", f"attend:{silver_birthday}")
    assert again.replayed and again.points == 60
    assert (await balances(silver_birthday))["available"] == 60
    async with unit_of_work() as session:
        memo = await session.scalar(select(Entry.memo).where(Entry.idempotency_key == f"attend:{silver_birthday}"))
    assert memo == "参加活动（生日双倍积分）"
    await check_member_invariants([silver_birthday, silver_other_day, standard_birthday])


async def test_a_birthday_visit_earns_double_pending_points_and_caps_still_bound():
    clock.clock.freeze(LATE_UTC)
    gold = await member("gold", date(1975, 3, 15))
    await record_visit(gold, "BDAY-1")  # visit_completed: 50, doubled, pending
    assert (await balances(gold))["pending"] == 100
    await change("diamond", birthday_multiplier=3)
    diamond = await member("diamond", date(1990, 3, 15))
    capped = await award(diamond, "event_attendance", "event:y", "attend:diamond")
    assert capped.points == 60 and capped.capped  # 3 x 30 = 90, the rule's daily cap is 60
    await check_member_invariants([gold, diamond])


# --- rules and the text derived from them ------------------------------------------------------------


async def test_benefit_text_is_derived_from_the_rules():
    async with unit_of_work() as session:
        by_code = {t.code: t for t in await session.scalars(select(Tier))}
    assert benefits.benefit_texts(by_code["silver"], None) == [
        "优先预约：挂号与活动候补优先",
        "生日双倍积分",
        "体检套餐95折",
    ]
    assert benefits.benefit_texts(by_code["standard"], None) == ["积分累积与兑换", "健康科普与社群活动"]
    assert all(
        by_code[c].priority_booking and by_code[c].birthday_multiplier == 2 for c in ("silver", "gold", "diamond")
    )
    reward = await voucher_reward()
    tier = await change("gold", monthly_voucher_reward_id=reward, birthday_multiplier=3, perks=[" 体检套餐9折 "])
    assert benefits.benefit_texts(tier, "免费专家问诊券") == [
        "优先预约：挂号与活动候补优先",
        "生日三倍积分",
        "每月赠送「免费专家问诊券」1张",
        "体检套餐9折",
    ]
    cleared = await change("gold", clear_monthly_voucher=True, priority_booking=False)
    assert cleared.monthly_voucher_reward_id is None and not cleared.priority_booking


async def test_only_admins_change_benefit_rules_and_bad_input_gets_typed_codes():
    for actor in (MARKETER, staff(Role.CLINIC_STAFF), as_patient(await new_member())):
        with pytest.raises(PermissionDenied):
            await change("silver", actor=actor, birthday_multiplier=3)
    with pytest.raises(errors.TierNotFound):
        await change("platinum", birthday_multiplier=2)
    limited = await make_reward(stock=5)
    bad: list[tuple[dict[str, Any], str, str]] = [
        ({"birthday_multiplier": 0}, "birthdayMultiplier", "OUT_OF_RANGE"),
        ({"birthday_multiplier": 6}, "birthdayMultiplier", "OUT_OF_RANGE"),
        ({"perks": ["x" * 41]}, "perks", "PERKS_INVALID"),
        ({"perks": ["   "]}, "perks", "PERKS_INVALID"),
        ({"perks": ["体检\x00折扣"]}, "perks", "PERKS_INVALID"),
        ({"perks": ["体检\u200b折扣"]}, "perks", "PERKS_INVALID"),
        ({"perks": [f"权益{i}" for i in range(11)]}, "perks", "PERKS_INVALID"),
        ({"monthly_voucher_reward_id": uuid.uuid4()}, "monthlyVoucherRewardId", "REWARD_NOT_FOUND"),
        ({"monthly_voucher_reward_id": limited}, "monthlyVoucherRewardId", "VOUCHER_REWARD_LIMITED"),
    ]
    for kw, field, code in bad:
        with pytest.raises(ValidationFailed) as refused:
            await change("silver", **kw)
        assert [(i.field, i.code) for i in refused.value.issues] == [(field, code)], kw
    async with unit_of_work() as session:
        silver = await session.get(Tier, "silver")
    assert silver is not None and silver.birthday_multiplier == 2 and silver.perks == ["体检套餐95折"]

    # A reward used as a tier voucher keeps unlimited stock (every member of the tier gets one a month).
    reward = await voucher_reward()
    await change("gold", monthly_voucher_reward_id=reward)
    data = rewards.RewardInput(
        name="免费专家问诊券", description="", category="service_voucher", points_cost=300, stock=9
    )
    async with unit_of_work() as session:
        with pytest.raises(ValidationFailed) as stocked:
            await rewards.update_reward(session, MARKETER, reward, data)
    assert [(i.field, i.code) for i in stocked.value.issues] == [("stock", "VOUCHER_REWARD_LIMITED")]


# --- the monthly voucher -----------------------------------------------------------------------------


async def vouchers(patient_ids: list[uuid.UUID] | None = None) -> list[Redemption]:
    async with unit_of_work() as session:
        stmt = select(Redemption).order_by(Redemption.patient_id, Redemption.created_at)
        if patient_ids is not None:
            stmt = stmt.where(Redemption.patient_id.in_(patient_ids))
        return list(await session.scalars(stmt))


async def test_the_monthly_voucher_is_issued_once_per_member_and_month():
    clock.clock.freeze(datetime(2026, 3, 31, 15, 0, tzinfo=UTC))  # 31 March, 23:00 in Shanghai
    reward = await voucher_reward()
    await change("gold", monthly_voucher_reward_id=reward)
    golds = [await member("gold") for _ in range(3)]
    silver, deceased = await member("silver"), await member("gold")
    async with unit_of_work() as session:
        await session.execute(update(Patient).where(Patient.id == deceased).values(deceased=True))

    assert await benefits.issue_monthly_vouchers() == 3
    assert await benefits.issue_monthly_vouchers() == 0  # run twice = once
    issued = await vouchers()
    assert sorted(v.patient_id for v in issued) == sorted(golds)
    assert all(v.points == 0 and v.status == "issued" and v.reward_id == reward for v in issued)
    # Valid to the end of the local month (1 April 00:00 in Shanghai).
    assert {v.expires_at for v in issued} == {datetime(2026, 3, 31, 16, 0, tzinfo=UTC)}
    assert {v.idempotency_key for v in issued} == {"tier_voucher:2026-03"}
    async with unit_of_work() as session:
        notices = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.payload["subject"].astext == "会员权益已发放")
        )
    assert notices == 3

    clock.clock.advance(timedelta(hours=2))  # April in Shanghai: a new month, a new voucher each
    async with unit_of_work() as session:
        expired = await rewards.expire_vouchers(session)  # March's lapse; nothing was spent on them
    assert expired == 3
    assert await benefits.issue_monthly_vouchers() == 3
    april = [v for v in await vouchers() if v.idempotency_key == "tier_voucher:2026-04"]
    assert len(april) == 3
    # Cancelling one gives nothing back (it cost nothing) and it is not issued again this month.
    mine = next(v for v in april if v.patient_id == golds[0])
    async with unit_of_work() as session:
        await rewards.cancel(session, as_patient(golds[0]), mine.id)
    assert await benefits.issue_monthly_vouchers() == 0
    assert (await balances(golds[0])).get("available", 0) == 0
    await check_member_invariants([*golds, silver, deceased])


async def test_a_voucher_run_killed_midway_then_rerun_issues_each_once(monkeypatch: pytest.MonkeyPatch):
    reward = await voucher_reward()
    await change("diamond", monthly_voucher_reward_id=reward)
    members = [await member("diamond") for _ in range(5)]
    real = benefits.issue_voucher_batch
    calls = 0

    async def dies_inside_the_second_batch(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        done = await real(*args, **kwargs)
        if calls == 2:  # its vouchers written, not yet committed
            raise RuntimeError("worker killed")
        return done

    monkeypatch.setattr(benefits, "issue_voucher_batch", dies_inside_the_second_batch)
    with pytest.raises(RuntimeError):
        await benefits.issue_monthly_vouchers(batch_size=2)
    assert len(await vouchers()) == 2  # the first batch committed, the second one rolled back whole
    monkeypatch.setattr(benefits, "issue_voucher_batch", real)
    assert await benefits.issue_monthly_vouchers(batch_size=2) == 3
    # Two workers at once, later in the month: nothing more.
    assert sum(await asyncio.gather(benefits.issue_monthly_vouchers(), benefits.issue_monthly_vouchers())) == 0
    assert sorted(v.patient_id for v in await vouchers()) == sorted(members)
    await check_member_invariants(members)


async def test_two_runs_at_once_issue_each_voucher_once():
    reward = await voucher_reward()
    await change("silver", monthly_voucher_reward_id=reward)
    members = [await member("silver") for _ in range(12)]
    results = await asyncio.gather(*[benefits.issue_monthly_vouchers(batch_size=5) for _ in range(3)])
    assert sum(results) == 12
    assert sorted(v.patient_id for v in await vouchers()) == sorted(members)
    await check_member_invariants(members)
