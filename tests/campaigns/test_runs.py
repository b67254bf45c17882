"""Campaign workflow and runs: approval, exactly-once under crashes and concurrency, pause/resume,
quiet hours, frequency cap, consent, channel fallback, lock-screen privacy, engagement, journeys."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from campaigns import errors, journeys, runner, sender, service
from campaigns.models import JourneyOccasion
from core import clock, outbox
from core.db import unit_of_work
from core.errors import PermissionDenied, ValidationFailed
from core.identity import Role
from messaging import inbox
from messaging.models import InboxMessage, MessageDelivery
from tests.campaigns.support import (
    MARKETER,
    MARKETER_2,
    REVIEWER,
    approved_campaign,
    campaign,
    deliveries,
    make_patient,
    run,
    segment,
    send_all,
    withdraw,
)
from tests.factories import as_patient, staff
from tests.loyalty.support import record_visit

NOON = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai, 00:00 in New York (EDT)


async def _messages_per_patient() -> dict[uuid.UUID, int]:
    async with unit_of_work() as session:
        rows = await session.execute(
            select(MessageDelivery.patient_id, func.count())
            .where(MessageDelivery.source_ref.like("campaign_delivery:%"))
            .group_by(MessageDelivery.patient_id)
        )
        return dict(rows.all())


async def _audience(n: int, **kw) -> list[uuid.UUID]:
    return [await make_patient(consents=[("in_app", "marketing")], **kw) for _ in range(n)]


# --- workflow -----------------------------------------------------------------------------------


async def test_marketer_may_not_send_or_approve_and_reviewer_may_not_approve_own():
    clock.clock.freeze(NOON)
    await _audience(2)
    seg = await segment()
    data = service.CampaignInput(name="春季活动", kind="marketing", channels=["in_app"], body="您好", segment_id=seg)
    async with unit_of_work() as session:
        draft = await service.create_campaign(session, MARKETER, data)
    async with unit_of_work() as session:
        with pytest.raises(errors.NotApproved):
            await service.send_now(session, MARKETER, draft.id)
    assert await runner.materialise(draft.id) == 0  # the runner ignores what is not running
    async with unit_of_work() as session:
        await service.submit(session, MARKETER, draft.id)
    for actor in (MARKETER, MARKETER_2):  # marketers do not approve, their own or anyone's
        async with unit_of_work() as session:
            with pytest.raises(PermissionDenied):
                await service.approve(session, actor, draft.id)
    reviewer_author = staff(Role.REVIEWER, Role.MARKETER)
    async with unit_of_work() as session:
        own = await service.create_campaign(session, reviewer_author, data)
        await service.submit(session, reviewer_author, own.id)
    async with unit_of_work() as session:
        with pytest.raises(errors.OwnCampaign):
            await service.approve(session, reviewer_author, own.id)
    async with unit_of_work() as session:
        with pytest.raises(ValidationFailed):
            await service.reject(session, REVIEWER, draft.id, comment="")
        rejected = await service.reject(session, REVIEWER, draft.id, comment="标题不够清晰")
    assert rejected.status == "draft"
    patient = await make_patient()
    async with unit_of_work() as session:
        with pytest.raises(PermissionDenied):
            await service.get_campaign(session, as_patient(patient), draft.id)
        with pytest.raises(PermissionDenied):
            await service.campaigns_page(session, as_patient(patient), status=None, first=10, after=None)
    # Scheduled: approval does not start it; the tick does when the time comes; editing re-requires review.
    cid = await approved_campaign(scheduled_at=NOON + timedelta(hours=2))
    assert (await campaign(cid)).status == "approved"
    async with unit_of_work() as session:
        await service.update_campaign(
            session, MARKETER, cid, dataclass_replace(data, name="改名", scheduled_at=NOON + timedelta(hours=2))
        )
    assert (await campaign(cid)).status == "draft"


def dataclass_replace(obj, **changes):
    import dataclasses

    return dataclasses.replace(obj, **changes)


async def test_tick_starts_scheduled_campaign_and_completes_it():
    from campaigns import jobs

    clock.clock.freeze(NOON)
    people = await _audience(3)
    cid = await approved_campaign(scheduled_at=NOON + timedelta(hours=1))
    await jobs.tick()
    assert (await campaign(cid)).status == "approved"
    clock.clock.advance(timedelta(hours=1))
    await jobs.tick()
    assert (await campaign(cid)).status == "running"
    await run(cid)
    await jobs.tick()
    done = await campaign(cid)
    assert done.status == "completed" and done.audience_count == 3
    assert set(await _messages_per_patient()) == set(people)


# --- exactly once ---------------------------------------------------------------------------------


async def test_job_killed_after_first_batch_and_rerun_gives_each_patient_exactly_once(monkeypatch):
    clock.clock.freeze(NOON)
    people = await _audience(12)
    cid = await approved_campaign()
    original = runner._batch
    calls = {"n": 0}

    async def dying(session, campaign_id, size):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return await original(session, campaign_id, size)

    monkeypatch.setattr(runner, "_batch", dying)
    with pytest.raises(RuntimeError):
        await runner.materialise(cid, batch_size=5)
    assert len(await deliveries(cid)) == 5  # the first batch committed, the second rolled back
    # Senders may run meanwhile: the first five get their message now.
    await send_all("in_app")
    monkeypatch.setattr(runner, "_batch", original)
    await runner.materialise(cid, batch_size=5)
    await runner.materialise(cid, batch_size=5)  # a repeated job finds nothing to do
    await send_all("in_app")
    rows = await deliveries(cid)
    assert set(rows) == set(people) and all(d.status == "delivered" for d in rows.values())
    assert await _messages_per_patient() == {p: 1 for p in people}
    # Even a sender that crashes after delivering but before recording re-sends nothing:
    # messaging's deliver is idempotent per source_ref.
    assert (await campaign(cid)).audience_count == 12


async def test_two_workers_on_one_campaign_give_each_patient_once():
    clock.clock.freeze(NOON)
    people = await _audience(30)
    cid = await approved_campaign()
    await asyncio.gather(runner.materialise(cid, batch_size=4), runner.materialise(cid, batch_size=7))
    await asyncio.gather(sender.send_due("in_app", max_seconds=30), sender.send_due("in_app", max_seconds=30))
    rows = await deliveries(cid)
    assert set(rows) == set(people) and all(d.status == "delivered" for d in rows.values())
    assert await _messages_per_patient() == {p: 1 for p in people}
    assert (await campaign(cid)).audience_count == 30


async def test_pause_stops_runner_and_senders_resume_finishes():
    clock.clock.freeze(NOON)
    people = await _audience(10)
    cid = await approved_campaign()
    await runner.materialise_batch(cid, batch_size=4)
    async with unit_of_work() as session:
        await service.pause(session, MARKETER, cid)
    assert await runner.materialise(cid, batch_size=4) == 0
    assert await send_all("in_app") == 0
    assert await _messages_per_patient() == {}
    async with unit_of_work() as session:
        await service.resume(session, REVIEWER, cid)
    await run(cid, batch_size=4)
    assert await _messages_per_patient() == {p: 1 for p in people}


async def test_cancel_skips_what_is_still_queued():
    clock.clock.freeze(NOON)
    await _audience(4)
    cid = await approved_campaign()
    await runner.materialise(cid)
    async with unit_of_work() as session:
        await service.cancel(session, MARKETER, cid)
    assert await send_all("in_app") == 0
    rows = await deliveries(cid)
    assert {(d.status, d.skip_reason) for d in rows.values()} == {("skipped", "cancelled")}
    async with unit_of_work() as session:
        with pytest.raises(errors.WrongStatus):
            await service.resume(session, MARKETER, cid)


# --- rules at send time -----------------------------------------------------------------------------


async def test_quiet_hours_defer_in_the_patients_own_time_zone():
    clock.clock.freeze(NOON)  # noon in Shanghai, midnight in New York
    shanghai = await make_patient(consents=[("in_app", "marketing")])
    new_york = await make_patient(consents=[("in_app", "marketing")], timezone="America/New_York")
    cid = await approved_campaign()
    await run(cid)
    rows = await deliveries(cid)
    assert rows[shanghai].status == "delivered"
    assert rows[new_york].status == "queued"
    assert rows[new_york].not_before == datetime(2026, 6, 15, 12, 0, tzinfo=UTC)  # 08:00 EDT
    clock.clock.advance(timedelta(hours=7, minutes=59))
    assert await send_all("in_app") == 0  # still 07:59 in New York
    clock.clock.advance(timedelta(minutes=1))
    assert await send_all("in_app") == 1
    assert (await deliveries(cid))[new_york].status == "delivered"
    # 22:30 in Shanghai: deferred to 08:00 the next morning, not dropped.
    clock.clock.freeze(datetime(2026, 6, 15, 14, 30, tzinfo=UTC))
    late = await approved_campaign()
    await run(late)
    deferred = (await deliveries(late))[shanghai]
    assert deferred.status == "queued" and deferred.not_before == datetime(2026, 6, 16, 0, 0, tzinfo=UTC)


async def test_frequency_cap_for_marketing_and_care_bypasses_it_but_not_consent():
    clock.clock.freeze(NOON)
    patient = await make_patient(consents=[("in_app", "marketing")])
    no_service_sms = await make_patient(consents=[("in_app", "marketing"), ("sms", "marketing")])
    for _ in range(2):
        await run(await approved_campaign())
        clock.clock.advance(timedelta(days=1))
    third = await approved_campaign()
    await run(third)
    assert (await deliveries(third))[patient].skip_reason == "frequency_cap"
    care = await approved_campaign(kind="care", channels=["sms", "in_app"], body="{nickname}您好，请按时复诊。")
    await run(care)
    rows = await deliveries(care)
    assert rows[patient].status == "delivered" and rows[patient].channel == "in_app"  # default in-app service consent
    assert rows[no_service_sms].channel == "in_app"  # SMS marketing consent does not cover care messages
    # Seven days after the first message the window has room again.
    clock.clock.advance(timedelta(days=6))
    fourth = await approved_campaign()
    await run(fourth)
    assert (await deliveries(fourth))[patient].status == "delivered"


async def test_consent_withdrawn_after_materialising_wins_and_suppression_is_rechecked():
    clock.clock.freeze(NOON)
    keeps, withdraws, admitted = await _audience(3)
    cid = await approved_campaign()
    await runner.materialise(cid)
    await withdraw(withdraws, "in_app", "marketing")
    async with unit_of_work() as session:
        from patients import service as patient_service

        await patient_service.set_suppression(session, staff(Role.DOCTOR), admitted, admitted=True)
    await send_all("in_app")
    rows = await deliveries(cid)
    assert rows[keeps].status == "delivered"
    assert (rows[withdraws].status, rows[withdraws].skip_reason) == ("skipped", "no_consent")
    assert (rows[admitted].status, rows[admitted].skip_reason) == ("skipped", "suppressed")
    assert set(await _messages_per_patient()) == {keeps}


async def test_channel_order_with_fallback_and_explained_skips():
    clock.clock.freeze(NOON)
    wechat = await make_patient(consents=[("wechat", "marketing"), ("sms", "marketing")])
    sms = await make_patient(consents=[("sms", "marketing")])
    app = await make_patient(consents=[("in_app", "marketing")])
    nothing = await make_patient()
    email_only = await make_patient(consents=[("email", "marketing")])
    opted_out = await make_patient(consents=[("sms", "marketing")], marketing_opt_out=True)
    cid = await approved_campaign(
        channels=["wechat", "sms", "email", "in_app"], body="{nickname}您好，会员日活动来啦。"
    )
    await run(cid)
    rows = await deliveries(cid)
    assert {p: rows[p].channel for p in (wechat, sms, app)} == {wechat: "wechat", sms: "sms", app: "in_app"}
    # In-app is delivered; the development SMS/WeChat recorders reached nobody, so only "sent".
    assert [rows[p].status for p in (wechat, sms, app)] == ["sent", "sent", "delivered"]
    assert rows[wechat].consent["channel"] == "wechat" and rows[wechat].consent["purpose"] == "marketing"
    assert rows[wechat].consent["source"] == "import" and rows[wechat].consent["given_at"]
    assert (rows[nothing].status, rows[nothing].skip_reason) == ("skipped", "no_consent")
    assert [t["channel"] for t in rows[nothing].reason["tried"]] == ["wechat", "sms", "email", "in_app"]
    assert (rows[email_only].skip_reason, rows[email_only].reason["tried"][2]) == (
        "no_address",
        {"channel": "email", "missing": "address"},
    )
    assert rows[opted_out].reason["suppressed"] == "opted_out"


async def test_no_condition_name_in_sms_or_wechat_text():
    clock.clock.freeze(NOON)
    seg = await segment()
    for channels in (["sms"], ["in_app", "wechat"]):
        async with unit_of_work() as session:
            with pytest.raises(ValidationFailed) as caught:
                await service.create_campaign(
                    session,
                    MARKETER,
                    service.CampaignInput(
                        name="控糖", kind="care", channels=channels, body="糖尿病患者请按时复诊", segment_id=seg
                    ),
                )
        assert "TEMPLATE_CONDITION_NAME" in {i.code for i in caught.value.issues}
    async with unit_of_work() as session:  # in-app text sits behind a sign-in: allowed
        await service.create_campaign(
            session,
            MARKETER,
            service.CampaignInput(
                name="控糖", kind="care", channels=["in_app"], body="糖尿病患者请按时复诊", segment_id=seg
            ),
        )
        with pytest.raises(ValidationFailed) as caught:
            await service.create_campaign(
                session,
                MARKETER,
                service.CampaignInput(
                    name="x", kind="care", channels=["in_app"], body="{diagnosis}您好", segment_id=seg
                ),
            )
    assert "TEMPLATE_UNKNOWN_VARIABLE" in {i.code for i in caught.value.issues}


async def test_opens_and_clicks_from_the_inbox_move_deliveries_forward():
    clock.clock.freeze(NOON)
    patient = (await _audience(1))[0]
    cid = await approved_campaign(link="https://example.com/spring")
    await run(cid)
    async with unit_of_work() as session:
        message = await session.scalar(select(InboxMessage).where(InboxMessage.patient_id == patient))
        await inbox.mark_read(session, as_patient(patient), message.id)
    await _dispatch_outbox()
    assert (await deliveries(cid))[patient].status == "opened"
    async with unit_of_work() as session:
        await inbox.open_link(session, as_patient(patient), message.id)
    await _dispatch_outbox()
    row = (await deliveries(cid))[patient]
    assert row.status == "clicked" and row.opened_at is not None and row.clicked_at is not None


async def _dispatch_outbox() -> None:
    async with unit_of_work() as session:
        ids = list(
            await session.scalars(
                select(outbox.OutboxMessage.id).where(
                    outbox.OutboxMessage.status == "pending", outbox.OutboxMessage.topic == "message.engaged"
                )
            )
        )
    for message_id in ids:
        assert await outbox.dispatch(message_id) == "sent"


# --- journeys ---------------------------------------------------------------------------------------


async def test_journeys_are_idempotent_per_patient_and_occasion():
    clock.clock.freeze(NOON)
    visited = await make_patient()
    await record_visit(visited, "j-visit", visited_at=NOON - timedelta(days=7, hours=1))
    birthday = await make_patient(birth_date=date(1980, 6, 15), consents=[("in_app", "marketing")])
    not_today = await make_patient(birth_date=date(1980, 6, 16), consents=[("in_app", "marketing")])
    assert await journeys.run_journey("follow_up_7") == 1
    assert await journeys.run_journey("follow_up_7") == 0
    assert await journeys.run_journey("birthday") == 1
    for code in ("follow_up_7", "birthday"):
        async with unit_of_work() as session:
            from campaigns.models import Campaign

            cid = await session.scalar(select(Campaign.id).where(Campaign.journey_key == f"{code}:2026-06-15"))
        await run(cid)
    clock.clock.advance(timedelta(hours=3))  # a later run the same day finds nothing new
    assert await journeys.run_all() == {code: 0 for code in journeys.JOURNEYS}
    await send_all()
    counts = await _messages_per_patient()
    assert counts == {visited: 1, birthday: 1}
    assert not_today not in counts
    async with unit_of_work() as session:
        occasions = (await session.execute(select(JourneyOccasion.journey, JourneyOccasion.occasion))).all()
    assert sorted(occasions) == sorted([("birthday", "birthday:2026"), ("follow_up_7", f"visit:{await _visit_id()}")])


async def _visit_id() -> uuid.UUID:
    from loyalty.models import Visit

    async with unit_of_work() as session:
        return (await session.scalars(select(Visit.id))).one()


async def test_event_audience_and_event_promotion_journey():
    from community import events, groups, invitations

    clock.clock.freeze(NOON)
    group = await _group()
    invited, registered, both, outsider = await _audience(4)
    async with unit_of_work() as session:
        for p in (registered, both):
            await groups.join(session, as_patient(p), group)
        event = (
            await events.create_event(
                session,
                staff(Role.MARKETER),
                events.EventInput(
                    kind="online_lecture",
                    title="控糖直播课",
                    starts_at=NOON + timedelta(days=3),
                    ends_at=NOON + timedelta(days=3, hours=1),
                    group_id=group,
                    online_link="https://live.example.com/1",
                ),
            )
        )[0]
        run_ = await invitations.start_invitation(session, staff(Role.MARKETER), event.id, patient_ids=[invited, both])
    await invitations.run_invitation(run_.id)
    async with unit_of_work() as session:
        for p in (registered, both):
            await events.rsvp(session, as_patient(p), event.id, "going")
    async with unit_of_work() as session:
        draft = await service.create_campaign(
            session,
            MARKETER,
            service.CampaignInput(
                name="直播提醒",
                kind="care",
                channels=["in_app"],
                body="{nickname}您好，您报名的「{event_title}」后天开讲。",
                audience_kind="event",
                event_id=event.id,
                event_audience="registered",
            ),
        )
        await service.submit(session, MARKETER, draft.id)
    async with unit_of_work() as session:
        await service.approve(session, REVIEWER, draft.id)
    await run(draft.id)
    assert set(await deliveries(draft.id)) == {registered, both}
    async with unit_of_work() as session:
        texts = list(await session.scalars(select(InboxMessage.body).where(InboxMessage.patient_id == registered)))
    assert any("控糖直播课" in t for t in texts)
    # The promotion journey reaches the group's members once per event.
    assert await journeys.run_journey("event_promotion") == 2
    assert await journeys.run_journey("event_promotion") == 0
    del outsider


async def _group() -> uuid.UUID:
    from tests.factories import make_group

    return await make_group("campaign-event")


async def test_approval_enqueues_the_runner_and_a_real_worker_sends_everything():
    from core import queue
    from workers.settings import build_worker

    clock.clock.freeze(NOON)  # daytime in Shanghai whatever the wall clock says
    people = await _audience(6)
    cid = await approved_campaign()
    pool = await queue.get_pool()
    assert await pool.exists(f"arq:job:campaigns.materialise:{cid}")  # enqueued after commit
    worker = build_worker(burst=True, poll_delay=0.05, handle_signals=False)
    try:
        await worker.main()
    finally:
        await worker.close()
    rows = await deliveries(cid)
    assert set(rows) == set(people) and {d.status for d in rows.values()} == {"delivered"}
    assert await _messages_per_patient() == {p: 1 for p in people}


async def test_throttle_per_channel_and_second_is_shared(monkeypatch):
    from campaigns import config

    clock.clock.freeze(NOON)
    await _audience(5)
    cid = await approved_campaign()
    await runner.materialise(cid)
    monkeypatch.setenv("PORTAL_CAMPAIGN_RATE_IN_APP", "3")
    config.reset_campaign_settings()
    second = {"now": 1_000_000.25}
    monkeypatch.setattr(sender.time, "time", lambda: second["now"])
    try:
        assert await sender.reserve("sms", 2) == 2  # another channel has its own budget
        assert await sender.send_due("in_app", max_seconds=1.0) == 3  # then it waits for the next second
        assert await sender.reserve("in_app", 1) == 0
        second["now"] += 1
        assert await sender.send_due("in_app", max_seconds=1.0) == 2
    finally:
        monkeypatch.delenv("PORTAL_CAMPAIGN_RATE_IN_APP")
        config.reset_campaign_settings()
    assert {d.status for d in (await deliveries(cid)).values()} == {"delivered"}
