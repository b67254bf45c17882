"""Marketing dashboards over HTTP with signed-in actors: dashboardCampaignConversion,
dashboardCommunityActivity, dashboardLifecycleMovement and dashboardReferralConversion. Data is made
through the API (sign-ups with a referral code, campaigns drafted and approved, posts and check-ins)
and the domain helpers (visits); only marketers and admins may read, bad date ranges are refused."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from api.relay import parse_uuid_id, to_global_id
from core import clock
from core.db import unit_of_work
from loyalty.models import LifecycleChange
from tests.care.support import SHANGHAI, visit
from tests.factories import make_group, make_site, member_of, next_phone
from tests.support import REFRESH, REQUEST_CODE, Session, data, gql, last_code, patient_session, staff_session

# A Monday, mid-morning in Shanghai (outside quiet hours).
NOW = datetime(2026, 6, 15, 10, 0, tzinfo=SHANGHAI)

CONVERSION = """query($since: Date!, $until: Date!) { dashboardCampaignConversion(since: $since, until: $until) {
  campaignId name audience sent delivered opened converted conversionRate pointsCost } }"""
ACTIVITY = """query($since: Date!, $until: Date!) { dashboardCommunityActivity(since: $since, until: $until) {
  week activeMembers posts comments checkins } }"""
MOVEMENT = """query($period: DashboardPeriod!, $since: Date!, $until: Date!) {
  dashboardLifecycleMovement(period: $period, since: $since, until: $until) { period fromStage toStage changes } }"""
REFERRALS = """query($since: Date!, $until: Date!) { dashboardReferralConversion(since: $since, until: $until) {
  month referrals rejected converted conversionRate } }"""


def _uuid(global_id: str, type_name: str = "Patient"):
    value = parse_uuid_id(global_id, type_name)
    assert value is not None
    return value


async def _refreshed(client: Any, session: Session) -> Session:
    """New tokens after the clock moved past the access token's lifetime."""
    payload = data(await gql(client, REFRESH, {"t": session.refresh}))["authRefresh"]
    assert payload["errors"] == [], payload
    return Session(payload["tokens"]["accessToken"], payload["tokens"]["refreshToken"], session.id)


async def _assert_readers_only(client: Any, query: str, variables: dict[str, Any], unique_phone: str) -> None:
    """Marketers and admins read; a patient, a doctor, a reviewer, a clinic desk may not; nobody signed in neither."""
    admin = await staff_session(client, "dash-admin@example.cn", ["admin"])
    assert "errors" not in await gql(client, query, variables, token=admin.access)
    patient = await patient_session(client, unique_phone)
    for who in (
        patient,
        await staff_session(client, "dash-doc@example.cn", ["doctor"]),
        await staff_session(client, "dash-rev@example.cn", ["reviewer"]),
        await staff_session(client, "dash-desk@example.cn", ["clinic_staff"]),
    ):
        denied = await gql(client, query, variables, token=who.access)
        assert denied["data"] is None and denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    anonymous = await gql(client, query, variables)
    assert anonymous["data"] is None and anonymous["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"


async def _assert_bad_ranges(client: Any, query: str, token: str, **extra: Any) -> None:
    for since, until in (("2026-06-30", "2026-06-01"), ("2024-01-01", "2026-06-30")):
        bad = await gql(client, query, {"since": since, "until": until, **extra}, token=token)
        assert bad["data"] is None
        assert bad["errors"][0]["extensions"]["code"] == "DASHBOARD_RANGE", bad
    malformed = await gql(client, query, {"since": "2026-13-01", "until": "2026-06-30", **extra}, token=token)
    assert malformed["data"] is None  # not a Date: refused before any resolver
    assert malformed["errors"][0]["extensions"]["code"] == "DATE_INVALID"


async def test_campaign_conversion_for_campaigns_started_in_the_range(client, unique_phone):
    from campaigns import runner
    from tests.campaigns.support import make_patient, send_all
    from tests.loyalty.support import record_visit

    clock.clock.freeze(NOW)
    marketer = await staff_session(client, "dash-mkt@example.cn", ["marketer"])
    reviewer = await staff_session(client, "dash-rev2@example.cn", ["reviewer"])
    converted = await make_patient(consents=[("in_app", "marketing")])
    await make_patient(consents=[("in_app", "marketing")])

    seg = data(
        await gql(
            client,
            """mutation { segmentCreate(input: {name: "站内信会员", criteria: {}}) {
              segment { id } errors { code } } }""",
            token=marketer.access,
        )
    )["segmentCreate"]["segment"]["id"]
    created = data(
        await gql(
            client,
            """mutation($s: ID!) { campaignCreate(input: {name: "夏季会员日", kind: MARKETING, channels: ["in_app"],
              body: "{nickname}您好，会员日活动开始了。", segmentId: $s}) { campaign { id } errors { code } } }""",
            {"s": seg},
            token=marketer.access,
        )
    )["campaignCreate"]
    cid = created["campaign"]["id"]
    step = """mutation($id: ID!) { %s(input: {campaignId: $id}) { campaign { status } errors { code } } }"""
    assert (
        data(await gql(client, step % "campaignSubmit", {"id": cid}, token=marketer.access))["campaignSubmit"]["errors"]
        == []
    )
    approved = data(await gql(client, step % "campaignApprove", {"id": cid}, token=reviewer.access))["campaignApprove"]
    assert approved == {"campaign": {"status": "RUNNING"}, "errors": []}
    await runner.materialise(_uuid(cid, "Campaign"))
    await send_all()

    clock.clock.advance(timedelta(days=6))
    await record_visit(converted, "v-dash-conv", visited_at=clock.now() - timedelta(days=1))
    marketer = await _refreshed(client, marketer)

    rows = data(await gql(client, CONVERSION, {"since": "2026-06-15", "until": "2026-06-15"}, token=marketer.access))
    assert rows["dashboardCampaignConversion"] == [
        {
            "campaignId": cid,
            "name": "夏季会员日",
            "audience": 2,
            "sent": 2,
            "delivered": 2,
            "opened": 0,
            "converted": 1,
            "conversionRate": 0.5,
            "pointsCost": rows["dashboardCampaignConversion"][0]["pointsCost"],
        }
    ]
    before = data(await gql(client, CONVERSION, {"since": "2026-06-01", "until": "2026-06-14"}, token=marketer.access))
    assert before["dashboardCampaignConversion"] == []

    await _assert_readers_only(client, CONVERSION, {"since": "2026-06-01", "until": "2026-06-30"}, unique_phone)
    await _assert_bad_ranges(client, CONVERSION, marketer.access)


async def test_community_activity_by_week(client, unique_phone):
    clock.clock.freeze(NOW)
    marketer = await staff_session(client, "dash-mkt@example.cn", ["marketer"])
    alice = await patient_session(client, next_phone())
    bob = await patient_session(client, next_phone())
    group = await make_group()
    for who in (alice, bob):
        await member_of(group, _uuid(who.id))
    gid = to_global_id("Group", group)

    post = data(
        await gql(
            client,
            """mutation($g: ID!) { postCreate(input: {groupId: $g, kind: DISCUSSION, title: "控糖心得",
              body: "每天走路一小时，感觉很好"}) { post { id } errors { code } } }""",
            {"g": gid},
            token=alice.access,
        )
    )["postCreate"]
    assert post["errors"] == [], post
    check_in = """mutation($kg: Float!) { checkIn(input: {kind: WEIGHT, weightKg: $kg}) { errors { code } } }"""
    for who in (alice, bob):
        assert data(await gql(client, check_in, {"kg": 70.5}, token=who.access))["checkIn"]["errors"] == []

    clock.clock.advance(timedelta(days=7))  # Monday 22 June: the next week
    bob = await _refreshed(client, bob)
    assert data(await gql(client, check_in, {"kg": 70.0}, token=bob.access))["checkIn"]["errors"] == []
    marketer = await _refreshed(client, marketer)

    weeks = data(await gql(client, ACTIVITY, {"since": "2026-06-01", "until": "2026-06-30"}, token=marketer.access))
    assert weeks["dashboardCommunityActivity"] == [
        {"week": "2026-06-15", "activeMembers": 2, "posts": 1, "comments": 0, "checkins": 2},
        {"week": "2026-06-22", "activeMembers": 1, "posts": 0, "comments": 0, "checkins": 1},
    ]
    later = data(await gql(client, ACTIVITY, {"since": "2026-06-22", "until": "2026-06-28"}, token=marketer.access))
    assert [w["week"] for w in later["dashboardCommunityActivity"]] == ["2026-06-22"]

    await _assert_readers_only(client, ACTIVITY, {"since": "2026-06-01", "until": "2026-06-30"}, unique_phone)
    await _assert_bad_ranges(client, ACTIVITY, marketer.access)


async def test_lifecycle_movement_matches_the_recorded_changes(client, unique_phone):
    clock.clock.freeze(NOW)
    marketer = await staff_session(client, "dash-mkt@example.cn", ["marketer"])
    site = await make_site("S1")
    patients = [_uuid((await patient_session(client, next_phone())).id) for _ in range(3)]
    await visit(patients[0], site, "LM-1", at=NOW - timedelta(days=3))
    await visit(patients[0], site, "LM-2", at=NOW - timedelta(days=1))
    await visit(patients[1], site, "LM-3", at=NOW - timedelta(days=2))

    async with unit_of_work() as session:
        changes = list(await session.scalars(select(LifecycleChange)))
    expected = Counter((c.from_stage, c.to_stage) for c in changes)
    assert expected[(None, "acquisition")] == 3 and expected[("acquisition", "conversion")] == 2

    monthly = data(
        await gql(
            client, MOVEMENT, {"period": "MONTH", "since": "2026-06-01", "until": "2026-06-30"}, token=marketer.access
        )
    )["dashboardLifecycleMovement"]
    assert {(m["fromStage"], m["toStage"]): m["changes"] for m in monthly} == dict(expected)
    assert {m["period"] for m in monthly} == {"2026-06-01"}
    weekly = data(
        await gql(
            client, MOVEMENT, {"period": "WEEK", "since": "2026-06-15", "until": "2026-06-21"}, token=marketer.access
        )
    )["dashboardLifecycleMovement"]
    assert {m["period"] for m in weekly} == {"2026-06-15"} and sum(m["changes"] for m in weekly) == sum(
        expected.values()
    )
    earlier = data(
        await gql(
            client, MOVEMENT, {"period": "MONTH", "since": "2026-05-01", "until": "2026-05-31"}, token=marketer.access
        )
    )
    assert earlier["dashboardLifecycleMovement"] == []

    variables = {"period": "WEEK", "since": "2026-06-01", "until": "2026-06-30"}
    await _assert_readers_only(client, MOVEMENT, variables, unique_phone)
    await _assert_bad_ranges(client, MOVEMENT, marketer.access, period="MONTH")
    bad_period = await gql(client, MOVEMENT, {**variables, "period": "DAY"}, token=marketer.access)
    assert bad_period["data"] is None and bad_period["errors"]
    assert bad_period["errors"][0].get("extensions", {}).get("code") != "INTERNAL_ERROR"


async def test_referral_conversion_by_month(client, unique_phone):
    from tests.loyalty.support import record_visit

    clock.clock.freeze(NOW)
    marketer = await staff_session(client, "dash-mkt@example.cn", ["marketer"])
    referrer = await patient_session(client, next_phone())
    code = data(await gql(client, "{ me { ... on Patient { referralCode } } }", token=referrer.access))["me"][
        "referralCode"
    ]
    sign_in = """mutation($phone: String!, $code: String!, $ref: String) {
      authSignIn(input: {phone: $phone, code: $code, referralCode: $ref}) { patient { id } errors { code } } }"""
    friends = []
    for _ in range(2):
        phone = next_phone()
        await gql(client, REQUEST_CODE, {"phone": phone})
        joined = data(await gql(client, sign_in, {"phone": phone, "code": await last_code(phone), "ref": code}))
        assert joined["authSignIn"]["errors"] == []
        friends.append(_uuid(joined["authSignIn"]["patient"]["id"]))
    await record_visit(friends[0], "REF-DASH-1", consultation_fen=10_000)

    months = data(await gql(client, REFERRALS, {"since": "2026-05-01", "until": "2026-06-30"}, token=marketer.access))
    assert months["dashboardReferralConversion"] == [
        {"month": "2026-06-01", "referrals": 2, "rejected": 0, "converted": 1, "conversionRate": 0.5}
    ]
    may = data(await gql(client, REFERRALS, {"since": "2026-05-01", "until": "2026-05-31"}, token=marketer.access))
    assert may["dashboardReferralConversion"] == []

    await _assert_readers_only(client, REFERRALS, {"since": "2026-06-01", "until": "2026-06-30"}, unique_phone)
    await _assert_bad_ranges(client, REFERRALS, marketer.access)
