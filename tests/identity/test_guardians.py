"""Guardians in the domain (issue 13.7): who may create a delegation and how it becomes active, acting
for a dependent with scopes (redeem, book, community) and both actors on the record, revocation, and
the minors' defaults (no posting of their own, no marketing, a birth date they cannot change)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from community import events, moderation, posts
from community.models import Post
from core import clock
from core.db import unit_of_work
from core.errors import DomainError
from core.identity import SYSTEM, Actor, ActorKind, DelegationScope, Role
from core.outbox import OutboxMessage
from loyalty import rewards
from loyalty.models import Entry
from messaging.outreach import MessageClass, suppression
from patients import auth, guardians, minors
from patients import service as patient_service
from patients.guardian_models import GuardianAction, Guardianship
from patients.models import Patient
from tests.factories import as_patient, make_group, member_of, new_member, next_phone, staff
from tests.loyalty.support import give_points, make_reward
from tests.support import last_code

pytestmark = pytest.mark.usefixtures("ledger_invariants")

DESK = staff(Role.CLINIC_STAFF)
ALL = [s.value for s in DelegationScope]


async def _born(patient_id: uuid.UUID, born: date | None, year: int | None = None) -> None:
    async with unit_of_work() as session:
        await session.execute(
            update(Patient)
            .where(Patient.id == patient_id)
            .values(birth_date=born, birth_year=year if year is not None else (born.year if born else None))
        )


def _years_ago(years: int, days: int = 0) -> date:
    today = minors.local_today()
    return today.replace(year=today.year - years) - timedelta(days=days)


async def _by_desk(guardian: uuid.UUID, dependent: uuid.UUID, scopes: list[str] | None = None) -> Guardianship:
    async with unit_of_work() as session:
        return await guardians.create_by_staff(
            session,
            DESK,
            guardian_id=guardian,
            dependent_id=dependent,
            relation="child",
            scopes=scopes or ALL,
            evidence_note="核验户口本及出生医学证明",
        )


async def _acting(guardian: uuid.UUID, dependent: uuid.UUID) -> Actor:
    async with unit_of_work() as session:
        return await guardians.act_for(session, as_patient(guardian), dependent)


async def _code(coro: Any) -> str:
    """The code of the (first) problem: a validation failure's own code, not INVALID_INPUT."""
    with pytest.raises(DomainError) as caught:
        await coro
    return str(caught.value.issues[0].code)


async def _actions(guardianship_id: uuid.UUID) -> list[GuardianAction]:
    async with unit_of_work() as session:
        return list(
            await session.scalars(
                select(GuardianAction)
                .where(GuardianAction.guardianship_id == guardianship_id)
                .order_by(GuardianAction.occurred_at)
            )
        )


# --- who is a minor -----------------------------------------------------------------------------


def test_minor_turns_adult_on_the_eighteenth_birthday_on_the_local_date() -> None:
    today = date(2026, 6, 15)
    assert minors.is_minor(date(2008, 6, 16), None, today)
    assert not minors.is_minor(date(2008, 6, 15), None, today)
    assert not minors.is_minor(date(1960, 1, 1), None, today)
    # Born on 29 February: of age on 1 March in a common year; on a 29 February, born on the 28th is of age.
    assert minors.is_minor(date(2008, 2, 29), None, date(2026, 2, 28))
    assert not minors.is_minor(date(2008, 2, 29), None, date(2026, 3, 1))
    assert not minors.is_minor(date(2010, 2, 28), None, date(2028, 2, 29))
    assert minors.is_minor(date(2010, 3, 1), None, date(2028, 2, 29))
    # A year alone: the year 18 years back may still be 17, so it counts; nothing known: an adult.
    assert minors.is_minor(None, 2008, today) and minors.is_minor(None, 2015, today)
    assert not minors.is_minor(None, 2007, today)
    assert not minors.is_minor(None, None, today)
    # A full date decides over the year.
    assert not minors.is_minor(date(2008, 1, 1), 2008, today)


async def test_minor_sql_agrees_with_the_python_rule() -> None:
    cases = [
        (_years_ago(18), None),
        (_years_ago(18, days=-1), None),
        (_years_ago(10), None),
        (_years_ago(40), None),
        (None, minors.local_today().year - 18),
        (None, minors.local_today().year - 19),
        (None, None),
    ]
    ids = []
    for born, year in cases:
        pid = await new_member()
        await _born(pid, born, year)
        ids.append(pid)
    async with unit_of_work() as session:
        rows = dict((await session.execute(select(Patient.id, minors.minor_sql()).where(Patient.id.in_(ids)))).all())
    for pid, (born, year) in zip(ids, cases, strict=True):
        assert rows[pid] == minors.is_minor(born, year), (born, year)


async def test_minors_get_no_marketing_but_still_care_and_notices() -> None:
    minor, adult, unknown = await new_member(), await new_member(), await new_member()
    await _born(minor, _years_ago(12))
    await _born(adult, _years_ago(30))
    async with unit_of_work() as session:
        found = {
            pid: (m, c, n)
            for pid, m, c, n in await session.execute(
                select(
                    Patient.id,
                    suppression(MessageClass.MARKETING),
                    suppression(MessageClass.CARE),
                    suppression(MessageClass.NOTICE),
                ).where(Patient.id.in_([minor, adult, unknown]))
            )
        }
    assert found[minor] == ("minor", None, None)
    assert found[adult] == (None, None, None)
    assert found[unknown] == (None, None, None)


async def test_a_minor_cannot_change_their_birth_date_but_staff_can() -> None:
    minor = await new_member()
    await _born(minor, _years_ago(15))
    changes = patient_service.ProfileChanges(birth_date=_years_ago(25))
    async with unit_of_work() as session:
        code = await _code(patient_service.update_profile(session, as_patient(minor), changes))
    assert code == "BIRTH_DATE_LOCKED"
    async with unit_of_work() as session:  # the same date again is no change
        same = patient_service.ProfileChanges(birth_date=_years_ago(15))
        await patient_service.update_profile(session, as_patient(minor), same)
    async with unit_of_work() as session:
        done = await patient_service.update_profile(session, staff(Role.HEALTH_MANAGER), changes, patient_id=minor)
        assert done.birth_date == _years_ago(25)
    # A year alone counts as a minor; the full date inside that year only makes it exact.
    year_only = await new_member()
    await _born(year_only, None, minors.local_today().year - 18)
    async with unit_of_work() as session:
        exact = patient_service.ProfileChanges(birth_date=date(minors.local_today().year - 18, 1, 1))
        assert (await patient_service.update_profile(session, as_patient(year_only), exact)).birth_date is not None


# --- creating a delegation ----------------------------------------------------------------------


async def test_only_desk_staff_record_a_delegation_and_must_name_the_documents() -> None:
    guardian, dependent = await new_member(), await new_member()
    for actor in (as_patient(guardian), staff(Role.MARKETER), staff(Role.MODERATOR)):
        async with unit_of_work() as session:
            code = await _code(
                guardians.create_by_staff(
                    session,
                    actor,
                    guardian_id=guardian,
                    dependent_id=dependent,
                    relation="child",
                    scopes=ALL,
                    evidence_note="户口本",
                )
            )
        assert code == "PERMISSION_DENIED"
    async with unit_of_work() as session:
        kw: dict[str, Any] = {"guardian_id": guardian, "dependent_id": dependent}
        code = await _code(
            guardians.create_by_staff(session, DESK, relation="cousin", scopes=[], evidence_note=" ", **kw)
        )
    assert code == "GUARDIAN_RELATION_INVALID"
    async with unit_of_work() as session:
        with pytest.raises(DomainError) as caught:
            await guardians.create_by_staff(session, DESK, relation="cousin", scopes=["fly"], evidence_note="", **kw)
        assert {i.code for i in caught.value.issues} == {
            "GUARDIAN_RELATION_INVALID",
            "GUARDIANSHIP_SCOPES_INVALID",
            "GUARDIANSHIP_EVIDENCE_REQUIRED",
        }
    row = await _by_desk(guardian, dependent, ["view", "redeem"])
    assert (row.status, row.confirmation, row.scopes) == ("active", "staff_verified", ["redeem", "view"])
    assert row.created_by == DESK.id and row.evidence_note == "核验户口本及出生医学证明"
    # One live delegation per pair; nobody guards themselves; minors guard nobody; unknown patients.
    assert await _code(_by_desk(guardian, dependent)) == "GUARDIANSHIP_EXISTS"
    assert await _code(_by_desk(guardian, guardian)) == "GUARDIANSHIP_SELF"
    minor = await new_member()
    await _born(minor, _years_ago(16))
    assert await _code(_by_desk(minor, dependent)) == "GUARDIAN_MINOR"
    assert await _code(_by_desk(guardian, uuid.uuid4())) == "PATIENT_NOT_FOUND"


async def test_a_request_waits_for_the_dependent_and_only_the_dependent_confirms() -> None:
    guardian, stranger = await new_member(), await new_member()
    phone = next_phone()
    dependent = await new_member(phone)
    async with unit_of_work() as session:
        code = await _code(
            guardians.request(
                session, as_patient(guardian), dependent_phone=next_phone(), relation="parent", scopes=ALL
            )
        )
    assert code == "DEPENDENT_NOT_FOUND"
    async with unit_of_work() as session:
        row = await guardians.request(
            session, as_patient(guardian), dependent_phone=phone, relation="parent", scopes=["view"]
        )
    assert row.status == "pending" and row.confirmation is None
    # Pending is no delegation: acting for the dependent is refused until they confirm.
    assert await _code(_acting(guardian, dependent)) == "DELEGATION_INACTIVE"
    async with unit_of_work() as session:
        assert await _code(guardians.confirm(session, as_patient(guardian), row.id)) == "PERMISSION_DENIED"
    async with unit_of_work() as session:
        assert await _code(guardians.confirm(session, as_patient(stranger), row.id)) == "GUARDIANSHIP_NOT_FOUND"
    async with unit_of_work() as session:
        assert await _code(guardians.confirm(session, DESK, row.id)) == "PERMISSION_DENIED"
    async with unit_of_work() as session:
        done = await guardians.confirm(session, as_patient(dependent), row.id)
        assert (done.status, done.confirmation, done.confirmed_by) == ("active", "dependent_confirmed", dependent)
    async with unit_of_work() as session:
        assert await _code(guardians.confirm(session, as_patient(dependent), row.id)) == "GUARDIANSHIP_NOT_PENDING"
    actor = await _acting(guardian, dependent)
    assert actor.id == dependent and actor.delegate is not None
    assert actor.delegate.guardian_id == guardian and actor.delegate.scopes == {DelegationScope.VIEW}
    assert actor.performer_id == guardian


async def test_either_party_or_desk_staff_revoke_and_acting_stops_at_once() -> None:
    guardian, dependent, stranger = await new_member(), await new_member(), await new_member()
    row = await _by_desk(guardian, dependent)
    await _acting(guardian, dependent)
    async with unit_of_work() as session:
        assert await _code(guardians.revoke(session, as_patient(stranger), row.id)) == "GUARDIANSHIP_NOT_FOUND"
    async with unit_of_work() as session:
        assert await _code(guardians.revoke(session, staff(Role.MARKETER), row.id, reason="x")) == (
            "GUARDIANSHIP_NOT_FOUND"
        )
    async with unit_of_work() as session:
        assert await _code(guardians.revoke(session, DESK, row.id)) == "REASON_REQUIRED"  # staff give one
    async with unit_of_work() as session:
        assert await _code(guardians.revoke(session, as_patient(dependent), row.id, reason="长" * 201)) == (
            "GUARDIANSHIP_REASON_LENGTH"
        )
    async with unit_of_work() as session:
        done = await guardians.revoke(session, as_patient(dependent), row.id, reason="不再需要")
        assert (done.status, done.revoked_by, done.revoked_by_kind) == ("revoked", dependent, "patient")
    assert await _code(_acting(guardian, dependent)) == "DELEGATION_INACTIVE"
    async with unit_of_work() as session:  # again: nothing changes
        again = await guardians.revoke(session, as_patient(guardian), row.id)
        assert again.revoked_by == dependent
    # A new delegation of the pair may be recorded after a revocation.
    assert (await _by_desk(guardian, dependent)).status == "active"


async def test_limits_on_how_many_a_guardian_holds() -> None:
    guardian = await new_member()
    for _ in range(guardians.MAX_AS_GUARDIAN):
        await _by_desk(guardian, await new_member(), ["view"])
    assert await _code(_by_desk(guardian, await new_member())) == "GUARDIANSHIP_LIMIT"


# --- acting with scopes, both actors on the record ------------------------------------------------


async def test_redeeming_for_a_dependent_needs_the_scope_and_records_the_guardian() -> None:
    guardian, dependent = await new_member(), await new_member()
    await give_points(dependent, 500)
    reward = await make_reward(cost=100)
    viewer = await _by_desk(guardian, dependent, ["view"])
    actor = await _acting(guardian, dependent)
    assert await rewards.redeem_at_once(actor, reward, "guardian-0001") is None  # the locked path checks
    async with unit_of_work() as session:
        assert await _code(rewards.redeem(session, actor, reward, "guardian-0001")) == "DELEGATION_SCOPE_MISSING"
    async with unit_of_work() as session:
        await guardians.revoke(session, as_patient(guardian), viewer.id)
    row = await _by_desk(guardian, dependent, ["redeem"])
    actor = await _acting(guardian, dependent)
    async with unit_of_work() as session:
        redemption = await rewards.redeem(session, actor, reward, "guardian-0002")
    assert redemption.patient_id == dependent
    async with unit_of_work() as session:
        entry = await session.get(Entry, redemption.entry_id)
        assert entry is not None and entry.patient_id == dependent and entry.actor_id == guardian
    [action] = await _actions(row.id)
    assert (action.guardian_id, action.dependent_id, action.scope, action.action) == (
        guardian,
        dependent,
        "redeem",
        "reward_redeem",
    )
    assert action.target == f"reward:{reward}"


async def test_booking_for_a_dependent_needs_the_book_scope() -> None:
    guardian, dependent = await new_member(), await new_member()
    now = clock.now()
    async with unit_of_work() as session:
        [event] = await events.create_event(
            session,
            staff(Role.MARKETER),
            events.EventInput(
                kind="offline",
                title="家庭健康讲座",
                starts_at=now + timedelta(days=2),
                ends_at=now + timedelta(days=2, hours=1),
                location="门诊楼三层",
                capacity=5,
            ),
        )
    community = await _by_desk(guardian, dependent, ["community"])
    actor = await _acting(guardian, dependent)
    async with unit_of_work() as session:
        assert await _code(events.rsvp(session, actor, event.id, "going")) == "DELEGATION_SCOPE_MISSING"
    async with unit_of_work() as session:
        await guardians.revoke(session, DESK, community.id, reason="改为报名授权")
    row = await _by_desk(guardian, dependent, ["book"])
    actor = await _acting(guardian, dependent)
    async with unit_of_work() as session:
        rsvp = await events.rsvp(session, actor, event.id, "going")
        assert (rsvp.patient_id, rsvp.status) == (dependent, "going")
    [action] = await _actions(row.id)
    assert (action.action, action.target, action.guardian_id) == ("event_rsvp", f"event:{event.id}:going", guardian)


async def test_a_minor_does_not_post_but_their_guardian_with_the_community_scope_does() -> None:
    group_id = await make_group()
    guardian, minor = await new_member(), await new_member()
    await _born(minor, _years_ago(13))
    await member_of(group_id, minor)
    post_kw = {"group_id": group_id, "kind": "discussion", "title": "孩子哮喘", "body": "换季注意什么？"}
    async with unit_of_work() as session:
        assert await _code(posts.create_post(session, as_patient(minor), **post_kw)) == "MINOR_POSTING_DISABLED"
    viewer = await _by_desk(guardian, minor, ["view"])
    actor = await _acting(guardian, minor)
    async with unit_of_work() as session:
        assert await _code(posts.create_post(session, actor, **post_kw)) == "DELEGATION_SCOPE_MISSING"
    async with unit_of_work() as session:
        await guardians.revoke(session, as_patient(guardian), viewer.id)
    row = await _by_desk(guardian, minor, ["community"])
    actor = await _acting(guardian, minor)
    async with unit_of_work() as session:
        created = await posts.create_post(session, actor, **post_kw)
    async with unit_of_work() as session:
        post = await session.get(Post, created.item.id)
        assert post is not None and post.author_id == minor
        comment_code = await _code(posts.create_comment(session, as_patient(minor), post_id=post.id, body="谢谢"))
    assert comment_code == "MINOR_POSTING_DISABLED"
    assert [a.action for a in await _actions(row.id)] == ["post_create"]


async def test_a_minor_in_crisis_is_refused_posting_but_still_gets_help() -> None:
    group_id = await make_group()
    minor = await new_member()
    await _born(minor, _years_ago(14))
    await member_of(group_id, minor)
    async with unit_of_work() as session:
        code = await _code(
            posts.create_post(
                session, as_patient(minor), group_id=group_id, kind="discussion", title="求助", body="我想自杀"
            )
        )
    assert code == "MINOR_POSTING_DISABLED"
    async with unit_of_work() as session:
        helped = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.payload["recipient"].astext == str(minor),
                OutboxMessage.payload["body"].astext == moderation.HELP_TEXT,
            )
        )
    assert helped == 1


# --- a minor's own account --------------------------------------------------------------------------


async def test_a_guardian_opens_a_minor_account_only_with_the_phone_code() -> None:
    guardian = await new_member()
    phone = next_phone()
    kw: dict[str, Any] = {"phone": phone, "nickname": "小明", "relation": "child", "scopes": ALL}
    async with unit_of_work() as session:
        assert (
            await _code(
                guardians.create_dependent_account(session, as_patient(guardian), birth_date=_years_ago(30), **kw)
            )
            == "DEPENDENT_NOT_MINOR"
        )  # adults confirm a guardian's request themselves
    async with unit_of_work() as session:
        code = await _code(
            guardians.create_dependent_account(
                session, as_patient(guardian), birth_date=_years_ago(8), code="000000", **kw
            )
        )
    assert code == "OTP_EXPIRED"  # no code was ever sent to that phone
    async with unit_of_work() as session:
        await auth.request_code(session, phone=phone)
    async with unit_of_work() as session:
        account = await guardians.create_dependent_account(
            session, as_patient(guardian), birth_date=_years_ago(8), code=await last_code(phone), **kw
        )
    row, minor = account.guardianship, account.patient
    assert (row.status, row.confirmation, row.guardian_id, row.dependent_id) == (
        "active",
        "minor_account",
        guardian,
        minor.id,
    )
    assert minor.birth_date == _years_ago(8) and minor.phone == phone
    assert minors.is_minor(minor.birth_date, minor.birth_year)
    # The phone has an account now: a second one is refused (after the code proves the phone).
    clock.clock.advance(timedelta(seconds=61))
    async with unit_of_work() as session:
        await auth.request_code(session, phone=phone)
    async with unit_of_work() as session:
        code = await _code(
            guardians.create_dependent_account(
                session, as_patient(await new_member()), birth_date=_years_ago(8), code=await last_code(phone), **kw
            )
        )
    assert code == "DEPENDENT_PHONE_TAKEN"


async def test_desk_staff_open_a_dependent_account_naming_the_guardian_and_documents() -> None:
    guardian = await new_member()
    kw: dict[str, Any] = {"phone": next_phone(), "nickname": "王奶奶", "relation": "parent", "scopes": ["view"]}
    async with unit_of_work() as session:
        with pytest.raises(DomainError) as caught:
            await guardians.create_dependent_account(session, DESK, birth_date=date(1940, 3, 1), **kw)
        assert {i.code for i in caught.value.issues} == {"GUARDIAN_REQUIRED", "GUARDIANSHIP_EVIDENCE_REQUIRED"}
    async with unit_of_work() as session:
        account = await guardians.create_dependent_account(
            session, DESK, birth_date=date(1940, 3, 1), guardian_id=guardian, evidence_note="核验身份证与委托书", **kw
        )
    assert account.guardianship.confirmation == "staff_verified" and account.guardianship.created_by == DESK.id
    async with unit_of_work() as session:
        code = await _code(
            guardians.create_dependent_account(
                session, as_patient(guardian), birth_date=date(1940, 3, 1), code="123456", **kw
            )
        )
    assert code == "DEPENDENT_NOT_MINOR"  # a guardian opens accounts for minors only


# --- reading ------------------------------------------------------------------------------------------


async def test_the_history_is_for_the_two_patients_and_admins_only() -> None:
    guardian, dependent, stranger = await new_member(), await new_member(), await new_member()
    row = await _by_desk(guardian, dependent, ["view"])
    actor = await _acting(guardian, dependent)
    async with unit_of_work() as session:
        await guardians.record_view(session, actor, ["me", "pointsHistory"], "req-1")
    for who in (as_patient(guardian), as_patient(dependent), staff(Role.ADMIN), SYSTEM):
        async with unit_of_work() as session:
            page = await guardians.actions_page(session, who, guardianship_id=row.id, first=10, after=None)
        assert [(a.action, a.target) for a in page.items] == [("view", "me,pointsHistory")]
    for who in (as_patient(stranger), DESK, actor):
        async with unit_of_work() as session:
            code = await _code(guardians.actions_page(session, who, guardianship_id=row.id, first=10, after=None))
        assert code == "GUARDIANSHIP_NOT_FOUND"
    async with unit_of_work() as session:
        mine = await guardians.mine(session, as_patient(guardian))
        theirs = await guardians.mine(session, as_patient(dependent))
        assert [r.id for r in mine.as_guardian] == [row.id] and mine.as_dependent == []
        assert [r.id for r in theirs.as_dependent] == [row.id] and theirs.as_guardian == []
        assert await _code(guardians.mine(session, actor)) == "DELEGATION_NOT_ALLOWED"
        assert [r.id for r in await guardians.of_patient(session, DESK, dependent)] == [row.id]
        assert await _code(guardians.of_patient(session, staff(Role.MARKETER), dependent)) == "PERMISSION_DENIED"


def test_an_actor_without_a_delegate_passes_every_scope() -> None:
    me = Actor(kind=ActorKind.PATIENT, id=uuid.uuid4())
    for scope in DelegationScope:
        me.require_scope(scope)
    assert me.performer_id == me.id


async def test_nobody_acts_for_or_through_an_erased_account() -> None:
    guardian, dependent = await new_member(), await new_member()
    await _by_desk(guardian, dependent, ["view"])
    await _acting(guardian, dependent)
    async with unit_of_work() as session:
        await session.execute(update(Patient).where(Patient.id == dependent).values(erased_at=clock.now()))
    assert await _code(_acting(guardian, dependent)) == "DELEGATION_INACTIVE"
    assert await _code(_by_desk(await new_member(), dependent)) == "PATIENT_NOT_FOUND"
    assert await _code(_by_desk(dependent, await new_member())) == "PATIENT_NOT_FOUND"
