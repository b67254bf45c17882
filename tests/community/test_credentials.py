"""Practising credentials behind the expert badge, in the domain: only an active clinician with a
credential verified by another admin and valid now may be a group expert or verify an answer; a
lapse (moved clock) takes the badge and the capability at once; the nightly job marks the row
expired, drops the role and e-mails once; answers verified before keep their dated mark."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from community import credentials, errors, groups, posts
from community.credentials import CredentialInput
from community.models import AuditEntry, CredentialStatus, MemberRole, Membership, Post, StaffCredential
from core import clock
from core.channels import NOTIFY_TOPIC
from core.db import unit_of_work
from core.errors import NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from core.identity import ANONYMOUS, SYSTEM, Actor, Role
from core.outbox import OutboxMessage
from tests.factories import (
    MODERATOR,
    as_patient,
    make_group,
    make_staff,
    member_of,
    staff,
    verified_credential,
)

ADMIN = staff(Role.ADMIN)
OTHER_ADMIN = staff(Role.ADMIN)


def _input(staff_id: uuid.UUID, **changes: Any) -> CredentialInput:
    base = CredentialInput(
        staff_id=staff_id,
        certificate_number="110310000123456",
        institution="康宁医院总院区",
        specialty="内分泌科",
        evidence_key="credentials/2025/110310000123456.pdf",
        expires_at=clock.now() + timedelta(days=365),
    )
    return replace(base, **changes)


async def _doctor(email: str | None = None, roles: list[Role] | None = None) -> uuid.UUID:
    return await make_staff(email or f"doc-{uuid.uuid4().hex[:8]}@example.cn", roles or [Role.DOCTOR])


async def _record(data: CredentialInput, actor: Actor = ADMIN) -> StaffCredential:
    async with unit_of_work() as session:
        return await credentials.record(session, actor, data)


async def _verify(credential_id: uuid.UUID, actor: Actor = OTHER_ADMIN) -> StaffCredential:
    async with unit_of_work() as session:
        return await credentials.verify(session, actor, credential_id)


async def _make_expert(group_id: uuid.UUID, staff_id: uuid.UUID) -> Membership:
    async with unit_of_work() as session:
        return await groups.set_role(
            session, MODERATOR, group_id, account_kind="staff", account_id=staff_id, role="expert"
        )


async def _role(group_id: uuid.UUID, staff_id: uuid.UUID) -> str | None:
    async with unit_of_work() as session:
        return await session.scalar(
            select(Membership.role).where(Membership.group_id == group_id, Membership.account_id == staff_id)
        )


async def _emails_to(address: str) -> list[OutboxMessage]:
    async with unit_of_work() as session:
        rows = await session.scalars(select(OutboxMessage).where(OutboxMessage.topic == NOTIFY_TOPIC))
        return [m for m in rows if m.payload["channel"] == "email" and m.payload["recipient"] == address]


async def _question_with_answer(group_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    asker, helper = await member_of(group_id), await member_of(group_id)
    async with unit_of_work() as session:
        question = (
            await posts.create_post(
                session, as_patient(asker), group_id=group_id, kind="question", title="空腹血糖偏高怎么办？", body="7.2"
            )
        ).item
        answer = (
            await posts.create_comment(session, as_patient(helper), post_id=question.id, body="建议复查糖化血红蛋白")
        ).item
    return question.id, answer.id


# --- the rule: a valid credential, and only then ---------------------------------------------------


async def test_only_a_clinician_with_a_verified_unexpired_credential_becomes_an_expert() -> None:
    group = await make_group()
    doctor = await _doctor()
    with pytest.raises(errors.CredentialRequired) as none_yet:
        await _make_expert(group, doctor)
    assert none_yet.value.code == "CREDENTIAL_REQUIRED" and none_yet.value.field == "accountId"

    pending = await _record(_input(doctor))
    assert pending.status == CredentialStatus.PENDING and pending.recorded_by == ADMIN.id
    with pytest.raises(errors.CredentialRequired):  # recorded is not verified
        await _make_expert(group, doctor)

    verified = await _verify(pending.id)
    assert verified.status == CredentialStatus.VERIFIED and verified.verified_by == OTHER_ADMIN.id
    membership = await _make_expert(group, doctor)
    assert membership.role == MemberRole.EXPERT
    async with unit_of_work() as session:
        assert await credentials.experts_now(session, [doctor]) == {doctor: True}

    # A patient, or staff without a clinical role, is never an expert.
    patient = await member_of(group)
    async with unit_of_work() as session:
        with pytest.raises(errors.CredentialRequired):
            await groups.set_role(session, MODERATOR, group, account_kind="patient", account_id=patient, role="expert")
    marketer = await _doctor(roles=[Role.MARKETER])
    with pytest.raises(errors.CredentialRoleNotClinical):
        await _record(_input(marketer, certificate_number="M00000001"))
    with pytest.raises(errors.CredentialRequired):
        await _make_expert(group, marketer)


async def test_a_lapsed_credential_takes_the_badge_and_new_verifications_at_once_but_keeps_old_marks() -> None:
    clock.clock.freeze(clock.now())
    group = await make_group()
    doctor_id = await _doctor()
    doctor = staff(Role.DOCTOR, staff_id=doctor_id)
    await verified_credential(doctor_id, days=30)
    await _make_expert(group, doctor_id)
    first_q, first_a = await _question_with_answer(group)
    async with unit_of_work() as session:
        verified = await posts.verify_answer(session, doctor, post_id=first_q, comment_id=first_a)
    marked_at = verified.verified_answer_at
    assert verified.verified_answer_by == doctor_id and marked_at == clock.now()

    clock.clock.advance(timedelta(days=31))  # no job has run: validity is computed now
    async with unit_of_work() as session:
        assert await credentials.experts_now(session, [doctor_id]) == {doctor_id: False}
    second_q, second_a = await _question_with_answer(group)
    async with unit_of_work() as session:
        with pytest.raises(errors.CredentialExpired) as lapsed:
            await posts.verify_answer(session, doctor, post_id=second_q, comment_id=second_a)
    assert lapsed.value.code == "CREDENTIAL_EXPIRED"
    with pytest.raises(errors.CredentialExpired):
        await _make_expert(group, doctor_id)
    async with unit_of_work() as session:
        old = await session.get(Post, first_q)
        new = await session.get(Post, second_q)
    # The mark made while the credential was valid stays, with who and when; nothing new was marked.
    assert old is not None and old.verified_answer_id == first_a and old.verified_answer_at == marked_at
    assert new is not None and new.verified_answer_id is None

    # A renewal recorded and verified restores both.
    await verified_credential(doctor_id, days=365)
    async with unit_of_work() as session:
        again = await posts.verify_answer(session, doctor, post_id=second_q, comment_id=second_a)
    assert again.verified_answer_id == second_a


async def test_the_nightly_job_expires_drops_the_role_and_emails_once() -> None:
    group = await make_group()
    lapsing = await _doctor("lapsing@example.cn")
    renewed = await _doctor("renewed@example.cn")
    staying = await _doctor("staying@example.cn")
    await verified_credential(lapsing, days=10)
    await verified_credential(renewed, days=10)
    await verified_credential(staying, days=400)
    for person in (lapsing, renewed, staying):
        await _make_expert(group, person)
    await verified_credential(renewed, days=400)  # the renewal, verified before the old one lapsed
    # An expert role from before credentials existed (no credential behind it) is tidied up too.
    legacy = await _doctor("legacy@example.cn")
    async with unit_of_work() as session:
        m = await groups.set_role(session, MODERATOR, group, account_kind="staff", account_id=legacy, role="member")
        m.role = MemberRole.EXPERT

    assert await credentials.expire_due() == {"expired": 0, "experts_dropped": 1}
    assert await _role(group, legacy) == MemberRole.MEMBER

    clock.clock.advance(timedelta(days=11))
    assert await credentials.expire_due() == {"expired": 2, "experts_dropped": 1}
    assert await credentials.expire_due() == {"expired": 0, "experts_dropped": 0}  # a repeat changes nothing
    assert await _role(group, lapsing) == MemberRole.MEMBER
    assert await _role(group, renewed) == MemberRole.EXPERT
    assert await _role(group, staying) == MemberRole.EXPERT
    async with unit_of_work() as session:
        statuses = sorted(
            await session.scalars(select(StaffCredential.status).where(StaffCredential.staff_id == renewed))
        )
        audit = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "role_change", AuditEntry.actor_kind == "system", AuditEntry.group_id == group)
        )
    assert statuses == [CredentialStatus.EXPIRED, CredentialStatus.VERIFIED]
    assert audit == 2  # the legacy expert and the lapsed one
    told = await _emails_to("lapsing@example.cn")
    assert len(told) == 1 and "到期" in told[0].payload["body"] and told[0].payload["subject"] == "执业资质已到期"
    assert await _emails_to("renewed@example.cn") == []  # still valid through the renewal


# --- who may record, verify and revoke ---------------------------------------------------------------


async def test_nobody_verifies_their_own_credential_and_only_admins_act() -> None:
    admin_doctor = await _doctor(roles=[Role.ADMIN, Role.DOCTOR])
    own = await _record(_input(admin_doctor), actor=staff(Role.ADMIN, staff_id=admin_doctor))
    with pytest.raises(errors.CredentialSelfVerify) as refused:
        await _verify(own.id, actor=staff(Role.ADMIN, Role.DOCTOR, staff_id=admin_doctor))
    assert refused.value.code == "CREDENTIAL_SELF_VERIFY"
    doctor = await _doctor()
    for not_admin in (staff(Role.DOCTOR, staff_id=doctor), MODERATOR, as_patient(uuid.uuid4())):
        with pytest.raises(PermissionDenied):
            await _record(_input(doctor, certificate_number="A12345678"), actor=not_admin)
        with pytest.raises(PermissionDenied):
            await _verify(own.id, actor=not_admin)
        async with unit_of_work() as session:
            with pytest.raises(PermissionDenied):
                await credentials.revoke(session, not_admin, own.id, reason="证书信息有误")
    with pytest.raises(NotAuthenticated):
        await _record(_input(doctor), actor=ANONYMOUS)
    with pytest.raises(PermissionDenied):  # the record names who vouched: a person, not the system
        await _verify(own.id, actor=SYSTEM)
    done = await _verify(own.id)
    with pytest.raises(errors.CredentialNotPending):
        await _verify(own.id)
    assert done.status == CredentialStatus.VERIFIED
    with pytest.raises(errors.CredentialNotFound):
        await _verify(uuid.uuid4())


async def test_revocation_takes_the_expert_role_at_once_with_a_reason() -> None:
    group = await make_group()
    doctor = await _doctor()
    credential_id = await verified_credential(doctor)
    await _make_expert(group, doctor)
    async with unit_of_work() as session:
        with pytest.raises(errors.DomainError) as no_reason:
            await credentials.revoke(session, ADMIN, credential_id, reason="  错 ")
    assert no_reason.value.code == "REASON_REQUIRED"
    async with unit_of_work() as session:
        revoked = await credentials.revoke(session, ADMIN, credential_id, reason="执业证书已注销")
    assert revoked.status == CredentialStatus.REVOKED and revoked.revocation_reason == "执业证书已注销"
    assert await _role(group, doctor) == MemberRole.MEMBER  # not at the nightly run: now
    async with unit_of_work() as session:
        with pytest.raises(errors.CredentialNotRevocable):
            await credentials.revoke(session, ADMIN, credential_id, reason="再次撤销")
    with pytest.raises(errors.CredentialRequired) as after:
        await _make_expert(group, doctor)
    assert after.value.code == "CREDENTIAL_REQUIRED"  # revoked is not "expired": it never counts again


async def test_one_pending_credential_per_person_and_a_number_belongs_to_one_person() -> None:
    first, second = await _doctor(), await _doctor(roles=[Role.HEALTH_MANAGER])
    await _record(_input(first, certificate_number="110310000999999"))
    with pytest.raises(errors.CredentialPendingExists):
        await _record(_input(first, certificate_number="110310000888888"))
    with pytest.raises(errors.CredentialNumberTaken) as taken:
        await _record(_input(second, certificate_number=" 110310000999999 "))
    assert taken.value.field == "certificateNumber"
    recorded = await _record(_input(second, certificate_number="hm2024ab01"))
    assert recorded.certificate_number == "HM2024AB01"  # stored upper-cased
    with pytest.raises(NotFound) as missing:
        await _record(_input(uuid.uuid4(), certificate_number="110310000777777"))
    assert missing.value.field == "staffId"


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("certificateNumber", {"certificate_number": "ABC-123"}),
        ("certificateNumber", {"certificate_number": "12345"}),
        ("certificateNumber", {"certificate_number": "1" * 33}),
        ("certificateNumber", {"certificate_number": "1" * 100_000}),
        ("certificateNumber", {"certificate_number": "1103100\x0000123"}),
        ("certificateNumber", {"certificate_number": "１１０３１０００"}),
        ("institution", {"institution": "康"}),
        ("institution", {"institution": "康" * 101}),
        ("institution", {"institution": "康宁\x00医院"}),
        ("specialty", {"specialty": "内" * 51}),
        ("specialty", {"specialty": "内分\n泌科"}),
        ("evidenceKey", {"evidence_key": "https://evil.example.com/cert.pdf"}),
        ("evidenceKey", {"evidence_key": "../../etc/passwd.pdf"}),
        ("evidenceKey", {"evidence_key": "/credentials/a.pdf"}),
        ("evidenceKey", {"evidence_key": "credentials//a.pdf"}),
        ("evidenceKey", {"evidence_key": "credentials/a.exe"}),
        ("evidenceKey", {"evidence_key": "credentials/" + "a" * 200 + ".pdf"}),
        ("evidenceKey", {"evidence_key": "credentials/a\x00.pdf"}),
        ("expiresAt", {"expires_at": datetime(2020, 1, 1, tzinfo=clock.now().tzinfo)}),
        ("expiresAt", {"expires_at": clock.now() + timedelta(days=3700)}),
        ("expiresAt", {"expires_at": datetime(2099, 1, 1)}),
    ],
)
async def test_bad_inputs_are_refused_with_their_field(field: str, changes: dict[str, object]) -> None:
    doctor = await _doctor()
    with pytest.raises(ValidationFailed) as refused:
        await _record(_input(doctor, **changes))
    assert [i.field for i in refused.value.issues] == [field]


async def test_admins_list_credentials_by_status_now_and_by_expiry() -> None:
    soon, later, waiting = await _doctor(), await _doctor(), await _doctor()
    await verified_credential(soon, days=5)
    await verified_credential(later, days=200)
    await _record(_input(waiting))

    async def listed(**filters: Any) -> list[uuid.UUID]:
        async with unit_of_work() as session:
            page = await credentials.credentials_page(session, ADMIN, first=50, after=None, **filters)
        return [c.staff_id for c in page.items]

    assert await listed(expiring_within_days=30) == [soon]
    assert await listed(expiring_within_days=365) == [soon, later]  # soonest first
    assert await listed(status="pending") == [waiting]
    assert set(await listed(status="verified")) == {soon, later}
    clock.clock.advance(timedelta(days=6))
    assert await listed(status="expired") == [soon]  # expired now, before the nightly job wrote it
    assert await listed(status="verified") == [later]
    assert await listed(staff_id=soon) == [soon]
    async with unit_of_work() as session:
        with pytest.raises(errors.DomainError) as days:
            await credentials.credentials_page(session, ADMIN, expiring_within_days=0, first=10, after=None)
        assert days.value.code == "CREDENTIAL_DAYS_INVALID"
        with pytest.raises(PermissionDenied):
            await credentials.credentials_page(session, staff(Role.DOCTOR, staff_id=soon), first=10, after=None)
        mine = await credentials.my_credentials(session, staff(Role.DOCTOR, staff_id=soon))
        assert [c.staff_id for c in mine] == [soon]
        assert credentials.effective_status(mine[0]) is CredentialStatus.EXPIRED
        with pytest.raises(PermissionDenied):
            await credentials.my_credentials(session, as_patient(uuid.uuid4()))
