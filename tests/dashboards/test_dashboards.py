"""Dashboards: figures equal hand-computed values on small seeded data (return-visit rate by site
and month with the local-time month boundary, funnel, movement against a Python reference, NPS,
referrals, community activity); only marketers and admins may read them."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from care.models import Survey
from community.models import CheckIn
from core import clock
from core.db import unit_of_work
from core.errors import PermissionDenied
from core.identity import Role
from dashboards import service
from dashboards.service import Period
from loyalty.models import LifecycleChange, Referral
from tests.care.support import SHANGHAI, visit
from tests.factories import as_patient, make_site, new_member, staff_actor
from tests.support import data, gql, patient_session, staff_session

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=SHANGHAI)
MARKETER = staff_actor(Role.MARKETER)


@pytest.fixture(autouse=True)
def _frozen():
    clock.clock.freeze(NOW)


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


async def seed_visits() -> dict[str, uuid.UUID]:
    s1, s2 = await make_site("S1"), await make_site("S2")
    p = {f"P{i}": await new_member() for i in range(1, 9)}
    await visit(p["P1"], s1, "1a", at=at(2026, 1, 15))
    await visit(p["P1"], s1, "1b", at=at(2026, 3, 5))  # March S1, returning (Jan 15 within 180 days)
    await visit(p["P2"], s1, "2a", at=at(2026, 3, 10))  # March S1, first visit
    await visit(p["P2"], s2, "2b", at=at(2026, 3, 20))  # March S2, returning (earlier visit at S1)
    await visit(p["P3"], s2, "3a", at=at(2025, 6, 1))
    await visit(p["P3"], s2, "3b", at=at(2026, 3, 12))  # March S2, previous visit 284 days before: not returning
    await visit(p["P4"], s1, "4a", at=at(2026, 3, 31, 23, 30))  # still March in Shanghai (15:30 UTC)
    await visit(p["P4"], s1, "4b", at=at(2026, 4, 1, 0, 30))  # April in Shanghai, March in UTC: returning
    await visit(p["P5"], s1, "5a", at=at(2026, 2, 1))
    await visit(p["P5"], s1, "5b", at=at(2026, 4, 10))
    await visit(p["P5"], s1, "5b", status="refunded")  # refunded: P5 has no April visit
    await visit(p["P6"], s1, "6a", at=at(2026, 4, 2))
    await visit(p["P6"], s1, "6a", status="refunded")
    await visit(p["P6"], s1, "6b", at=at(2026, 4, 5))  # April S1, the earlier visit was refunded: not returning
    await visit(p["P8"], s2, "8a", at=at(2025, 9, 1))  # long ago: dormant
    return {**p, "S1": s1, "S2": s2}


async def test_return_visit_rate_by_month_and_site_matches_hand_count():
    ids = await seed_visits()
    s1, s2 = ids["S1"], ids["S2"]
    async with unit_of_work() as session:
        rows = await service.return_visit_rate(
            session, MARKETER, period=Period.MONTH, since=date(2026, 3, 1), until=date(2026, 4, 30)
        )
    got = {(r.period, r.site_id): (r.patients, r.returning) for r in rows}
    assert got == {
        (date(2026, 3, 1), None): (4, 2),  # P1 P2 P3 P4; P1 and P2 returning (P2 counted once)
        (date(2026, 3, 1), s1): (3, 1),  # P1 P2 P4; P1
        (date(2026, 3, 1), s2): (2, 1),  # P2 P3; P2
        (date(2026, 4, 1), None): (2, 1),  # P4 P6; P4
        (date(2026, 4, 1), s1): (2, 1),
    }
    assert [r.rate for r in rows if r.site_id is None] == [0.5, 0.5]

    async with unit_of_work() as session:
        only_s2 = await service.return_visit_rate(
            session, MARKETER, period=Period.MONTH, since=date(2026, 3, 1), until=date(2026, 4, 30), site_id=s2
        )
        wide = await service.return_visit_rate(
            session,
            MARKETER,
            period=Period.MONTH,
            since=date(2026, 3, 1),
            until=date(2026, 3, 31),
            site_id=s2,
            window_days=365,
        )
        weekly = await service.return_visit_rate(
            session, MARKETER, period=Period.WEEK, since=date(2026, 3, 30), until=date(2026, 4, 5)
        )
    assert {(r.site_id, r.patients, r.returning) for r in only_s2} == {(None, 2, 1), (s2, 2, 1)}
    assert {(r.site_id, r.returning) for r in wide} == {(None, 2), (s2, 2)}  # P3's June visit now counts
    # Mon 30 March - Sun 5 April is one week: P4 (31 Mar, 1 Apr: returning) and P6 (5 Apr)
    assert {(r.period, r.site_id): (r.patients, r.returning) for r in weekly} == {
        (date(2026, 3, 30), None): (2, 1),
        (date(2026, 3, 30), s1): (2, 1),
    }


async def test_lifecycle_funnel_and_movement():
    ids = await seed_visits()
    async with unit_of_work() as session:
        funnel = await service.lifecycle_funnel(session, MARKETER)
        movement = await service.lifecycle_movement(
            session, MARKETER, period=Period.MONTH, since=date(2026, 5, 1), until=date(2026, 5, 31)
        )
        changes = list(await session.scalars(select(LifecycleChange)))
    # P7 no visit; P5 and P6 one completed visit after refunds; P1-P4 two or more; P8 last visit 8 months ago
    assert [(s.stage, s.patients) for s in funnel] == [
        ("acquisition", 1),
        ("conversion", 2),
        ("retention", 4),
        ("loyalty", 0),
        ("dormant", 1),
    ]
    assert ids["P7"]
    # Python reference: every change happened "now" (May); changes per (from, to)
    expected = Counter((c.from_stage, c.to_stage) for c in changes)
    assert {(m.from_stage, m.to_stage): m.changes for m in movement} == dict(expected)
    assert {m.period for m in movement} == {date(2026, 5, 1)}
    assert expected[("conversion", "retention")] >= 3


async def test_nps_trend_by_local_month():
    site = await make_site("S1")
    patient = await new_member()
    answers = [
        (at(2026, 3, 3), 10),
        (at(2026, 3, 9), 9),
        (at(2026, 3, 15), 8),
        (at(2026, 3, 20), 3),
        (at(2026, 3, 31, 23, 0), 6),
        (at(2026, 4, 1, 0, 30), 10),  # 31 March in UTC, April in Shanghai
        (at(2026, 4, 8), 10),
        (at(2026, 4, 9), 7),
        (at(2026, 4, 20), 0),
    ]
    async with unit_of_work() as session:
        for when, score in answers:
            visit_id = await _bare_visit(session, patient, site, when)
            session.add(_answered(visit_id, patient, site, when, score))
        expired_visit = await _bare_visit(session, patient, site, at(2026, 4, 2))
        unanswered = _answered(expired_visit, patient, site, at(2026, 4, 2), None)
        unanswered.status = "expired"
        session.add(unanswered)
    async with unit_of_work() as session:
        rows = await service.nps_trend(session, MARKETER, since=date(2026, 3, 1), until=date(2026, 4, 30))
    got = [(r.month, r.answers, r.promoters, r.passives, r.detractors, r.nps) for r in rows]
    assert got == [
        (date(2026, 3, 1), 5, 2, 1, 2, 0.0),
        (date(2026, 4, 1), 4, 2, 1, 1, 25.0),
    ]


async def _bare_visit(session, patient_id, site_id, when):
    from core.ids import new_id
    from loyalty.models import Visit

    v = Visit(
        id=new_id(),
        external_id=str(new_id()),
        patient_id=patient_id,
        site_id=site_id,
        department="内科",
        visited_at=when - timedelta(days=1),
        status="completed",
        self_paid_fen=0,
        insured_fen=0,
        items=[],
        source="staff",
    )
    session.add(v)
    await session.flush()
    return v.id


def _answered(visit_id, patient_id, site_id, when, score) -> Survey:
    return Survey(
        visit_id=visit_id,
        patient_id=patient_id,
        site_id=site_id,
        visited_at=when - timedelta(days=1),
        status="answered" if score is not None else "sent",
        created_at=when - timedelta(hours=2),
        sent_at=when - timedelta(hours=2),
        expires_at=when + timedelta(days=14),
        answered_at=when if score is not None else None,
        score=score,
        points_awarded=10,
    )


async def test_referral_conversion_and_community_activity():
    referrer = await new_member()
    referees = [await new_member() for _ in range(5)]
    statuses = ["converted", "rewarded", "rejected", "attributed"]
    async with unit_of_work() as session:
        for referee, status in zip(referees, statuses, strict=False):
            session.add(
                Referral(referrer_id=referrer, referee_id=referee, code="X", status=status, created_at=at(2026, 3, 5))
            )
        session.add(
            Referral(
                referrer_id=referrer, referee_id=referees[4], code="X", status="attributed", created_at=at(2026, 4, 2)
            )
        )
        for patient, day in ((referrer, 6), (referrer, 7), (referees[0], 7), (referees[1], 14)):
            session.add(
                CheckIn(
                    patient_id=patient,
                    kind="exercise",
                    local_date=date(2026, 4, day),
                    timezone="Asia/Shanghai",
                    value={"minutes": 30},
                    created_at=at(2026, 4, day, 8),
                )
            )
    async with unit_of_work() as session:
        referrals = await service.referral_conversion(
            session, MARKETER, since=date(2026, 3, 1), until=date(2026, 4, 30)
        )
        activity = await service.community_activity(session, MARKETER, since=date(2026, 4, 1), until=date(2026, 4, 30))
    assert [(r.month, r.referrals, r.rejected, r.converted, r.conversion_rate) for r in referrals] == [
        (date(2026, 3, 1), 4, 1, 2, 0.6667),
        (date(2026, 4, 1), 1, 0, 0, 0.0),
    ]
    # weeks start on Monday: 6-7 April (week of 6 April), 14 April (week of 13 April)
    assert [(a.week, a.active_members, a.posts, a.checkins) for a in activity] == [
        (date(2026, 4, 6), 2, 0, 3),
        (date(2026, 4, 13), 1, 0, 1),
    ]


async def test_only_marketers_and_admins_read_dashboards():
    patient = await new_member()
    readers = [staff_actor(Role.MARKETER), staff_actor(Role.ADMIN)]
    refused = [as_patient(patient), staff_actor(Role.DOCTOR), staff_actor(Role.CLINIC_STAFF)]
    calls = [
        lambda s, a: service.lifecycle_funnel(s, a),
        lambda s, a: service.nps_trend(s, a, since=date(2026, 4, 1), until=date(2026, 4, 30)),
        lambda s, a: service.points_liability(s, a),
        lambda s, a: service.return_visit_rate(
            s, a, period=Period.WEEK, since=date(2026, 4, 1), until=date(2026, 4, 30)
        ),
    ]
    async with unit_of_work() as session:
        for call in calls:
            for actor in readers:
                await call(session, actor)
            for actor in refused:
                with pytest.raises(PermissionDenied):
                    await call(session, actor)


DASHBOARD = """{ dashboardLifecycleFunnel { stage patients }
  dashboardReturnVisitRate(period: MONTH, since: "2026-03-01", until: "2026-04-30") {
    period site { code } patients returning rate }
  dashboardNpsTrend(since: "2026-01-01", until: "2026-04-30") { month nps }
  dashboardPointsLiability { available pending } }"""


async def test_graphql_dashboards_for_marketer_not_patient_or_doctor(client):
    clock.clock.reset()  # real time: tokens must be valid
    await make_site("S1")
    marketer = await staff_session(client, "mk@example.cn", ["marketer"])
    doctor = await staff_session(client, "doc@example.cn", ["doctor"])
    patient = await patient_session(client, "13900000009")
    result = data(await gql(client, DASHBOARD, token=marketer.access))
    assert [s["stage"] for s in result["dashboardLifecycleFunnel"]] == list(service.STAGES)
    assert result["dashboardReturnVisitRate"] == [] and result["dashboardPointsLiability"]["available"] == 0
    for token in (doctor.access, patient.access):
        denied = await gql(client, "{ dashboardLifecycleFunnel { stage patients } }", token=token)
        assert denied["data"] is None
        assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    bad = await gql(
        client,
        '{ dashboardNpsTrend(since: "2026-04-30", until: "2026-04-01") { month } }',
        token=marketer.access,
    )
    assert bad["errors"][0]["extensions"]["code"] == "DASHBOARD_RANGE"


async def test_campaign_conversion_from_campaign_stats_by_start_date():
    from tests.campaigns.support import approved_campaign, make_patient, run
    from tests.loyalty.support import record_visit

    clock.clock.freeze(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI))  # outside quiet hours
    converted = await make_patient(consents=[("in_app", "marketing")])
    await make_patient(consents=[("in_app", "marketing")])
    campaign_id = await approved_campaign()
    await run(campaign_id)
    clock.clock.advance(timedelta(days=6))
    await record_visit(converted, "v-conv", visited_at=clock.now() - timedelta(days=1))
    async with unit_of_work() as session:
        rows = await service.campaign_conversion(session, MARKETER, since=date(2026, 3, 2), until=date(2026, 3, 2))
        before = await service.campaign_conversion(session, MARKETER, since=date(2026, 3, 1), until=date(2026, 3, 1))
        with pytest.raises(PermissionDenied):
            await service.campaign_conversion(
                session, staff_actor(Role.DOCTOR), since=date(2026, 3, 1), until=date(2026, 3, 2)
            )
    assert [(r.campaign_id, r.audience, r.delivered, r.converted, r.conversion_rate) for r in rows] == [
        (campaign_id, 2, 2, 1, 0.5)
    ]
    assert before == []
