"""Guardians through the real schema over HTTP (issue 13.7), with real signed-in patients and staff:
who may create a delegation (desk staff after checking documents; a guardian's request confirmed by
the dependent; a guardian opening a minor's account with its phone's code) and who may not; acting
for a dependent with X-Act-For under its scopes; both actors on the record; a revocation stopping
the next request; the minors' defaults; bad inputs."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from api.relay import from_global_id, to_global_id
from community import events
from core import clock
from core.db import unit_of_work
from core.identity import Role
from loyalty.models import Entry, Redemption
from patients import minors
from tests.factories import make_group, next_phone, staff
from tests.loyalty.support import give_points, make_reward
from tests.support import (
    REQUEST_CODE,
    SIGN_IN,
    Session,
    data,
    gql,
    last_code,
    patient_session,
    signed_in_patient,
    staff_session,
)

FIELDS = """id status relation relationLabel scopes confirmation evidenceNote createdByStaff revokedByStaff
  revokedReason guardianId dependentId guardianNickname dependentNickname dependentMinor"""
CREATE = f"""mutation($g: ID!, $d: ID!, $r: GuardianRelation!, $s: [DelegationScope!]!, $note: String!) {{
  guardianshipCreate(input: {{guardianId: $g, dependentId: $d, relation: $r, scopes: $s, evidenceNote: $note}}) {{
    guardianship {{ {FIELDS} }} errors {{ field code }} }} }}"""
REQUEST = f"""mutation($phone: String!, $r: GuardianRelation!, $s: [DelegationScope!]!) {{
  guardianshipRequest(input: {{dependentPhone: $phone, relation: $r, scopes: $s}}) {{
    guardianship {{ {FIELDS} }} errors {{ field code }} }} }}"""
CONFIRM = """mutation($id: ID!) { guardianshipConfirm(input: {guardianshipId: $id}) {
  guardianship { id status confirmation } errors { field code } } }"""
REVOKE = """mutation($id: ID!, $reason: String) { guardianshipRevoke(input: {guardianshipId: $id, reason: $reason}) {
  guardianship { id status revokedByStaff revokedReason } errors { field code } } }"""
ACCOUNT = f"""mutation($input: DependentAccountCreateInput!) {{ dependentAccountCreate(input: $input) {{
  guardianship {{ {FIELDS} }} errors {{ field code }} }} }}"""
MINE = """{ myGuardianships { asGuardian { id status dependentId dependentNickname }
  asDependent { id status guardianId guardianNickname } } }"""
OF_PATIENT = """query($p: ID!) { patientGuardianships(patientId: $p) { id status guardianId dependentId } }"""
ACTIONS = """query($id: ID!) { guardianshipActions(guardianshipId: $id, first: 20) {
  edges { node { scope action actionLabel target guardianId dependentId guardianNickname occurredAt } } } }"""
NODE = """query($id: ID!) { node(id: $id) { ... on Guardianship { id status } } }"""
ME = "{ me { ... on Patient { id nickname phone } } }"
REDEEM = """mutation($r: ID!, $k: String!) { rewardRedeem(input: {rewardId: $r, idempotencyKey: $k}) {
  redemption { id points status } errors { field code } } }"""
RSVP = """mutation($e: ID!) { eventRsvp(input: {eventId: $e, response: GOING}) {
  rsvp { status } errors { field code } } }"""
PROFILE = """mutation($born: Date) { profileUpdate(input: {birthDate: $born}) {
  patient { id birthDate } errors { field code } } }"""
JOIN = """mutation($g: ID!) { groupJoin(input: {groupId: $g}) { state errors { code } } }"""
POST = """mutation($g: ID!) {
  postCreate(input: {groupId: $g, kind: QUESTION, title: "孩子咳嗽", body: "夜里咳得厉害"}) {
    post { id status } errors { code } } }"""
PREVIEW = """query($kind: CampaignClass!) { segmentPreview(criteria: {}, kind: $kind) {
  count suppressed sample { id } } }"""


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


def top_codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors") or []]


def _uuid(global_id: str) -> uuid.UUID:
    decoded = from_global_id(global_id)
    assert decoded is not None
    return uuid.UUID(decoded[1])


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.cn"


def acting(dependent_gid: str) -> dict[str, str]:
    """The header a signed-in guardian sends to act for a dependent."""
    return {"x-act-for": dependent_gid}


async def _desk(client: Any) -> Session:
    return await staff_session(client, _email("desk"), ["clinic_staff"])


async def _create(
    client: Any, desk: Session, guardian: Session, dependent: Session, scopes: list[str]
) -> dict[str, Any]:
    payload = data(
        await gql(
            client,
            CREATE,
            {"g": guardian.id, "d": dependent.id, "r": "CHILD", "s": scopes, "note": "核验户口本与出生医学证明"},
            token=desk.access,
        )
    )["guardianshipCreate"]
    assert payload["errors"] == [], payload
    return payload["guardianship"]  # type: ignore[no-any-return]


async def test_desk_staff_record_a_delegation_and_nobody_else_can(client: Any) -> None:
    guardian, _ = await signed_in_patient(client)
    dependent, _ = await signed_in_patient(client)
    stranger, _ = await signed_in_patient(client)
    desk = await _desk(client)
    marketer = await staff_session(client, _email("mkt"), ["marketer"])
    base = {"g": guardian.id, "d": dependent.id, "r": "PARENT", "s": ["VIEW"], "note": "核验身份证与授权委托书"}

    # A random patient cannot make themselves anyone's guardian; neither can staff outside the desk.
    for who in (stranger, guardian, marketer):
        mine = {**base, "g": who.id} if who is stranger else base
        payload = data(await gql(client, CREATE, mine, token=who.access))["guardianshipCreate"]
        assert codes(payload) == ["PERMISSION_DENIED"] and payload["guardianship"] is None
    anonymous = data(await gql(client, CREATE, base))["guardianshipCreate"]
    assert codes(anonymous) == ["NOT_AUTHENTICATED"]

    # Bad inputs: malformed ids, no scopes, a note too long or missing, the same person twice.
    bad = data(await gql(client, CREATE, {**base, "g": "not-an-id"}, token=desk.access))["guardianshipCreate"]
    assert bad["errors"] == [{"field": "guardianId", "code": "ID_INVALID"}]
    wrong_type = to_global_id("Group", uuid.uuid4())
    bad = data(await gql(client, CREATE, {**base, "d": wrong_type}, token=desk.access))["guardianshipCreate"]
    assert bad["errors"] == [{"field": "dependentId", "code": "ID_INVALID"}]
    bad = data(await gql(client, CREATE, {**base, "s": [], "note": "证" * 201}, token=desk.access))
    assert {e["code"] for e in bad["guardianshipCreate"]["errors"]} == {
        "GUARDIANSHIP_SCOPES_INVALID",
        "GUARDIANSHIP_EVIDENCE_REQUIRED",
    }
    bad = data(await gql(client, CREATE, {**base, "note": "   "}, token=desk.access))["guardianshipCreate"]
    assert codes(bad) == ["GUARDIANSHIP_EVIDENCE_REQUIRED"]
    bad = data(await gql(client, CREATE, {**base, "d": guardian.id}, token=desk.access))["guardianshipCreate"]
    assert codes(bad) == ["GUARDIANSHIP_SELF"]
    missing = to_global_id("Patient", uuid.uuid4())
    bad = data(await gql(client, CREATE, {**base, "d": missing}, token=desk.access))["guardianshipCreate"]
    assert bad["errors"] == [{"field": "dependentId", "code": "PATIENT_NOT_FOUND"}]
    nul = await gql(client, CREATE, {**base, "note": "户口本\x00"}, token=desk.access)
    assert top_codes(nul) == ["INVALID_STRING"]
    enum = await gql(client, CREATE, {**base, "r": "COUSIN"}, token=desk.access)
    assert top_codes(enum) == ["BAD_REQUEST"]

    created = await _create(client, desk, guardian, dependent, ["VIEW", "BOOK", "VIEW"])
    assert created["status"] == "ACTIVE" and created["confirmation"] == "STAFF_VERIFIED"
    assert created["scopes"] == ["BOOK", "VIEW"] and created["createdByStaff"] is True
    assert (created["guardianId"], created["dependentId"]) == (guardian.id, dependent.id)
    assert created["relationLabel"] == "子女" and created["dependentMinor"] is False
    again = data(await gql(client, CREATE, base, token=desk.access))["guardianshipCreate"]
    assert codes(again) == ["GUARDIANSHIP_EXISTS"]

    # Both sides see it; the desk sees a patient's delegations; a patient may not look at others'.
    mine = data(await gql(client, MINE, token=guardian.access))["myGuardianships"]
    assert [g["id"] for g in mine["asGuardian"]] == [created["id"]] and mine["asDependent"] == []
    theirs = data(await gql(client, MINE, token=dependent.access))["myGuardianships"]
    assert [g["guardianId"] for g in theirs["asDependent"]] == [guardian.id] and theirs["asGuardian"] == []
    assert top_codes(await gql(client, MINE)) == ["NOT_AUTHENTICATED"]
    listed = data(await gql(client, OF_PATIENT, {"p": dependent.id}, token=desk.access))["patientGuardianships"]
    assert [g["id"] for g in listed] == [created["id"]]
    assert top_codes(await gql(client, OF_PATIENT, {"p": dependent.id}, token=stranger.access)) == ["PERMISSION_DENIED"]
    assert top_codes(await gql(client, OF_PATIENT, {"p": "junk"}, token=desk.access)) == ["ID_INVALID"]
    # The node is visible to the two of them and the desk, not to a stranger.
    seen = data(await gql(client, NODE, {"id": created["id"]}, token=dependent.access))["node"]
    assert seen == {"id": created["id"], "status": "ACTIVE"}
    assert data(await gql(client, NODE, {"id": created["id"]}, token=stranger.access))["node"] is None


async def test_a_request_is_confirmed_by_the_dependent_then_acting_follows_the_scopes(client: Any) -> None:
    guardian, guardian_id = await signed_in_patient(client)
    phone = next_phone()
    dependent = await patient_session(client, phone)
    dependent_id = _uuid(dependent.id)
    stranger, _ = await signed_in_patient(client)
    admin = await staff_session(client, _email("admin"), ["admin"])

    ask = {"r": "PARENT", "s": ["VIEW"]}
    unknown = data(await gql(client, REQUEST, {**ask, "phone": next_phone()}, token=guardian.access))
    assert codes(unknown["guardianshipRequest"]) == ["DEPENDENT_NOT_FOUND"]
    malformed = data(await gql(client, REQUEST, {**ask, "phone": "12" * 40}, token=guardian.access))
    assert codes(malformed["guardianshipRequest"]) == ["PHONE_INVALID"]
    no_scope = data(await gql(client, REQUEST, {**ask, "phone": phone, "s": []}, token=guardian.access))
    assert codes(no_scope["guardianshipRequest"]) == ["GUARDIANSHIP_SCOPES_INVALID"]
    asked = data(
        await gql(client, REQUEST, {"phone": phone, "r": "PARENT", "s": ["VIEW", "BOOK"]}, token=guardian.access)
    )["guardianshipRequest"]
    assert asked["errors"] == [] and asked["guardianship"]["status"] == "PENDING"
    request_id = asked["guardianship"]["id"]

    # Not active yet: acting is refused before the request even runs.
    early = await gql(client, ME, token=guardian.access, headers=acting(dependent.id), expect_status=403)
    assert top_codes(early) == ["DELEGATION_INACTIVE"]
    # Only the dependent confirms: not the guardian, and a stranger does not even see it.
    by_guardian = data(await gql(client, CONFIRM, {"id": request_id}, token=guardian.access))["guardianshipConfirm"]
    assert codes(by_guardian) == ["PERMISSION_DENIED"]
    by_stranger = data(await gql(client, CONFIRM, {"id": request_id}, token=stranger.access))["guardianshipConfirm"]
    assert by_stranger["errors"] == [{"field": "guardianshipId", "code": "GUARDIANSHIP_NOT_FOUND"}]
    confirmed = data(await gql(client, CONFIRM, {"id": request_id}, token=dependent.access))["guardianshipConfirm"]
    assert confirmed["guardianship"]["status"] == "ACTIVE"
    assert confirmed["guardianship"]["confirmation"] == "DEPENDENT_CONFIRMED"
    twice = data(await gql(client, CONFIRM, {"id": request_id}, token=dependent.access))["guardianshipConfirm"]
    assert codes(twice) == ["GUARDIANSHIP_NOT_PENDING"]

    as_dependent = acting(dependent.id)
    me = data(await gql(client, ME, token=guardian.access, headers=as_dependent))["me"]
    assert me["id"] == dependent.id and me["phone"] == phone  # view: the dependent's own data
    # Outside the scopes (redeem) and outside what may be delegated at all (profile, delegations).
    reward = to_global_id("Reward", await make_reward(cost=10))
    refused = await gql(client, REDEEM, {"r": reward, "k": "guard-0001"}, token=guardian.access, headers=as_dependent)
    assert top_codes(refused) == ["DELEGATION_SCOPE_MISSING"] and refused["data"] is None
    for document in (PROFILE, MINE):
        assert top_codes(await gql(client, document, token=guardian.access, headers=as_dependent)) == [
            "DELEGATION_NOT_ALLOWED"
        ]
    # Book: an RSVP for the dependent, recorded with both of them.
    now = clock.now()
    async with unit_of_work() as session:
        [event] = await events.create_event(
            session,
            staff(Role.MARKETER),
            events.EventInput(
                kind="offline",
                title="老年人防跌倒讲座",
                starts_at=now + timedelta(days=2),
                ends_at=now + timedelta(days=2, hours=1),
                location="门诊楼一层",
                capacity=20,
            ),
        )
    rsvp = data(
        await gql(client, RSVP, {"e": to_global_id("Event", event.id)}, token=guardian.access, headers=as_dependent)
    )["eventRsvp"]
    assert rsvp["errors"] == [] and rsvp["rsvp"]["status"] == "GOING"
    async with unit_of_work() as session:
        assert (await events.rsvps_for(session, [(event.id, dependent_id)]))[(event.id, dependent_id)].status == "going"

    # The history: the guardian, the dependent and admins read it; a stranger does not.
    history = data(await gql(client, ACTIONS, {"id": request_id}, token=dependent.access))["guardianshipActions"]
    rows = [e["node"] for e in history["edges"]]
    assert [(r["action"], r["scope"]) for r in rows] == [("event_rsvp", "BOOK"), ("view", "VIEW")]
    assert {(r["guardianId"], r["dependentId"]) for r in rows} == {(guardian.id, dependent.id)}
    assert rows[0]["target"] == f"event:{event.id}:going" and rows[1]["target"] == "me"
    assert rows[0]["actionLabel"] == "活动报名"
    assert data(await gql(client, ACTIONS, {"id": request_id}, token=guardian.access))["guardianshipActions"] == history
    assert data(await gql(client, ACTIONS, {"id": request_id}, token=admin.access))["guardianshipActions"] == history
    assert top_codes(await gql(client, ACTIONS, {"id": request_id}, token=stranger.access)) == [
        "GUARDIANSHIP_NOT_FOUND"
    ]
    assert guardian_id != dependent_id


async def test_redeeming_for_a_dependent_records_the_guardian_and_a_revocation_stops_the_next_request(
    client: Any,
) -> None:
    guardian, guardian_id = await signed_in_patient(client)
    dependent, dependent_id = await signed_in_patient(client)
    desk = await _desk(client)
    row = await _create(client, desk, guardian, dependent, ["REDEEM"])
    await give_points(dependent_id, 300)
    reward = to_global_id("Reward", await make_reward(cost=120))
    as_dependent = acting(dependent.id)

    # Redeem only: reading the dependent's profile is outside the scopes.
    assert top_codes(await gql(client, ME, token=guardian.access, headers=as_dependent)) == ["DELEGATION_SCOPE_MISSING"]
    done = data(
        await gql(client, REDEEM, {"r": reward, "k": "guard-redeem-1"}, token=guardian.access, headers=as_dependent)
    )["rewardRedeem"]
    assert done["errors"] == [] and done["redemption"]["points"] == 120
    async with unit_of_work() as session:
        redemption = await session.get(Redemption, _uuid(done["redemption"]["id"]))
        assert redemption is not None and redemption.patient_id == dependent_id
        entry = await session.scalar(select(Entry).where(Entry.id == redemption.entry_id))
        assert entry is not None and (entry.patient_id, entry.actor_id) == (dependent_id, guardian_id)
    history = data(await gql(client, ACTIONS, {"id": row["id"]}, token=guardian.access))["guardianshipActions"]
    assert [e["node"]["action"] for e in history["edges"]] == ["reward_redeem"]

    # The dependent revokes; the guardian's very next request for them is refused.
    revoked = data(await gql(client, REVOKE, {"id": row["id"], "reason": "我自己来兑换"}, token=dependent.access))
    assert revoked["guardianshipRevoke"]["guardianship"]["status"] == "REVOKED"
    after = await gql(
        client,
        REDEEM,
        {"r": reward, "k": "guard-redeem-2"},
        token=guardian.access,
        headers=as_dependent,
        expect_status=403,
    )
    assert top_codes(after) == ["DELEGATION_INACTIVE"]
    # Staff revoke with a reason only; the guardian revokes their side too (nothing changes twice).
    again = data(await gql(client, REVOKE, {"id": row["id"]}, token=desk.access))["guardianshipRevoke"]
    assert again["errors"] == [{"field": "reason", "code": "REASON_REQUIRED"}]
    same = data(await gql(client, REVOKE, {"id": row["id"]}, token=guardian.access))["guardianshipRevoke"]
    assert same["guardianship"]["revokedReason"] == "我自己来兑换"
    stranger, _ = await signed_in_patient(client)
    theirs = data(await gql(client, REVOKE, {"id": row["id"]}, token=stranger.access))["guardianshipRevoke"]
    assert codes(theirs) == ["GUARDIANSHIP_NOT_FOUND"]
    long_reason = data(await gql(client, REVOKE, {"id": row["id"], "reason": "因" * 201}, token=guardian.access))
    assert codes(long_reason["guardianshipRevoke"]) == ["GUARDIANSHIP_REASON_LENGTH"]
    bad_id = data(await gql(client, REVOKE, {"id": "bad"}, token=guardian.access))["guardianshipRevoke"]
    assert bad_id["errors"] == [{"field": "guardianshipId", "code": "ID_INVALID"}]


async def test_the_act_for_header_is_refused_unless_a_signed_in_guardian_holds_the_delegation(client: Any) -> None:
    guardian, _ = await signed_in_patient(client)
    other, _ = await signed_in_patient(client)
    desk = await _desk(client)
    header = acting(other.id)
    assert top_codes(await gql(client, ME, headers=header, expect_status=401)) == ["NOT_AUTHENTICATED"]
    assert top_codes(await gql(client, ME, token=desk.access, headers=header, expect_status=403)) == [
        "PERMISSION_DENIED"
    ]
    assert top_codes(await gql(client, ME, token=guardian.access, headers=header, expect_status=403)) == [
        "DELEGATION_INACTIVE"
    ]
    for junk in ("junk", to_global_id("Staff", uuid.uuid4()), "x" * 5000):
        answer = await gql(client, ME, token=guardian.access, headers={"x-act-for": junk}, expect_status=400)
        assert top_codes(answer) == ["ACT_FOR_INVALID"]


async def test_a_guardian_opens_a_minor_account_and_the_minor_gets_the_minors_defaults(client: Any) -> None:
    guardian, _ = await signed_in_patient(client)
    phone = next_phone()
    born = minors.local_today().replace(year=minors.local_today().year - 10)
    base = {
        "phone": phone,
        "nickname": "小宝",
        "birthDate": born.isoformat(),
        "relation": "CHILD",
        "scopes": ["VIEW", "COMMUNITY"],
    }

    # A phone's code proves the guardian holds it: without one (or with a wrong one) nothing is opened.
    no_code = data(await gql(client, ACCOUNT, {"input": base}, token=guardian.access))["dependentAccountCreate"]
    assert codes(no_code) == ["OTP_INVALID"]
    assert data(await gql(client, REQUEST_CODE, {"phone": phone}))["authRequestCode"]["errors"] == []
    adult = {**base, "birthDate": "1990-01-01", "code": await last_code(phone)}
    refused = data(await gql(client, ACCOUNT, {"input": adult}, token=guardian.access))["dependentAccountCreate"]
    assert refused["errors"] == [{"field": "birthDate", "code": "DEPENDENT_NOT_MINOR"}]
    wrong = {**base, "code": "000000" if await last_code(phone) != "000000" else "111111"}
    assert codes(
        data(await gql(client, ACCOUNT, {"input": wrong}, token=guardian.access))["dependentAccountCreate"]
    ) == ["OTP_INVALID"]
    bad = {**base, "nickname": "宝" * 21, "code": await last_code(phone)}
    assert codes(data(await gql(client, ACCOUNT, {"input": bad}, token=guardian.access))["dependentAccountCreate"]) == [
        "NICKNAME_LENGTH"
    ]
    anonymous = data(await gql(client, ACCOUNT, {"input": {**base, "code": await last_code(phone)}}))
    assert codes(anonymous["dependentAccountCreate"]) == ["NOT_AUTHENTICATED"]
    opened = data(
        await gql(client, ACCOUNT, {"input": {**base, "code": await last_code(phone)}}, token=guardian.access)
    )["dependentAccountCreate"]
    assert opened["errors"] == [], opened
    row = opened["guardianship"]
    assert (row["status"], row["confirmation"], row["dependentMinor"], row["dependentNickname"]) == (
        "ACTIVE",
        "MINOR_ACCOUNT",
        True,
        "小宝",
    )

    # The minor signs in with their own phone: the account the guardian opened.
    clock.clock.advance(timedelta(seconds=61))
    assert data(await gql(client, REQUEST_CODE, {"phone": phone}))["authRequestCode"]["errors"] == []
    signed = data(await gql(client, SIGN_IN, {"phone": phone, "code": await last_code(phone)}))["authSignIn"]
    assert signed["registered"] is False and signed["patient"]["id"] == row["dependentId"]
    minor = Session(signed["tokens"]["accessToken"], signed["tokens"]["refreshToken"], signed["patient"]["id"])

    # No posting of their own; their guardian, with the community scope, posts for them.
    group = to_global_id("Group", await make_group())
    assert data(await gql(client, JOIN, {"g": group}, token=minor.access))["groupJoin"]["errors"] == []
    own = data(await gql(client, POST, {"g": group}, token=minor.access))["postCreate"]
    assert codes(own) == ["MINOR_POSTING_DISABLED"] and own["post"] is None
    for_them = data(await gql(client, POST, {"g": group}, token=guardian.access, headers=acting(minor.id)))
    assert for_them["postCreate"]["errors"] == [] and for_them["postCreate"]["post"] is not None
    # A minor cannot age themselves out of it.
    aged = data(await gql(client, PROFILE, {"born": "1990-01-01"}, token=minor.access))["profileUpdate"]
    assert aged["errors"] == [{"field": "birthDate", "code": "BIRTH_DATE_LOCKED"}]

    # No marketing: suppressed (reason minor) in a marketing audience, not in a care one.
    marketer = await staff_session(client, _email("mkt"), ["marketer"])
    marketing = data(await gql(client, PREVIEW, {"kind": "MARKETING"}, token=marketer.access))["segmentPreview"]
    care = data(await gql(client, PREVIEW, {"kind": "CARE"}, token=marketer.access))["segmentPreview"]
    reached = {p["id"] for p in marketing["sample"]}
    assert minor.id not in reached and guardian.id in reached
    assert minor.id in {p["id"] for p in care["sample"]}
    assert marketing["suppressed"] == care["suppressed"] + 1

    # The same phone cannot be opened twice.
    clock.clock.advance(timedelta(seconds=61))
    assert data(await gql(client, REQUEST_CODE, {"phone": phone}))["authRequestCode"]["errors"] == []
    taken = data(
        await gql(client, ACCOUNT, {"input": {**base, "code": await last_code(phone)}}, token=guardian.access)
    )["dependentAccountCreate"]
    assert taken["errors"] == [{"field": "phone", "code": "DEPENDENT_PHONE_TAKEN"}]


async def test_desk_staff_open_an_elders_account_for_a_named_guardian(client: Any) -> None:
    guardian, _ = await signed_in_patient(client)
    desk = await _desk(client)
    base = {
        "phone": next_phone(),
        "nickname": "王奶奶",
        "birthDate": "1942-05-01",
        "relation": "PARENT",
        "scopes": ["VIEW", "BOOK"],
    }
    missing = data(await gql(client, ACCOUNT, {"input": base}, token=desk.access))["dependentAccountCreate"]
    assert {e["code"] for e in missing["errors"]} == {"GUARDIAN_REQUIRED", "GUARDIANSHIP_EVIDENCE_REQUIRED"}
    full = {**base, "guardianId": guardian.id, "evidenceNote": "核验身份证、户口本"}
    opened = data(await gql(client, ACCOUNT, {"input": full}, token=desk.access))["dependentAccountCreate"]
    assert opened["errors"] == [] and opened["guardianship"]["confirmation"] == "STAFF_VERIFIED"
    assert opened["guardianship"]["dependentMinor"] is False
    marketer = await staff_session(client, _email("mkt"), ["marketer"])
    other = data(await gql(client, ACCOUNT, {"input": {**full, "phone": next_phone()}}, token=marketer.access))
    assert codes(other["dependentAccountCreate"]) == ["PERMISSION_DENIED"]


CONVERSATIONS = """query { myConversations(first: 5) { edges { node { id } } } }"""
MY_GROUPS = """query { myGroups(first: 5) { edges { node { id } } } }"""
START = """mutation { conversationStart(input: {subject: "复诊", body: "血糖偏高怎么办"}) { errors { code } } }"""


async def test_a_guardian_with_view_reads_the_dependents_care_threads_and_groups_but_never_writes_them(
    client: Any,
) -> None:
    guardian, _ = await signed_in_patient(client)
    dependent, _ = await signed_in_patient(client)
    other_guardian, _ = await signed_in_patient(client)
    desk = await _desk(client)
    await _create(client, desk, guardian, dependent, ["VIEW"])
    await _create(client, desk, other_guardian, dependent, ["BOOK"])
    as_dependent = acting(dependent.id)
    threads = data(await gql(client, CONVERSATIONS, token=guardian.access, headers=as_dependent))
    assert threads["myConversations"]["edges"] == []
    groups = data(await gql(client, MY_GROUPS, token=guardian.access, headers=as_dependent))
    assert groups["myGroups"]["edges"] == []
    unread = data(await gql(client, "query { notificationUnreadCount }", token=guardian.access, headers=as_dependent))
    assert unread["notificationUnreadCount"] == 0
    refused = await gql(client, CONVERSATIONS, token=other_guardian.access, headers=as_dependent)
    assert top_codes(refused) == ["DELEGATION_SCOPE_MISSING"]
    write = await gql(client, START, token=guardian.access, headers=as_dependent)
    assert top_codes(write) == ["DELEGATION_NOT_ALLOWED"]  # never delegable, whatever the scopes
