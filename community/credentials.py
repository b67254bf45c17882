"""Practising credentials (执业证书) of clinical staff: what stands behind the group expert badge.

An admin records a doctor's or health manager's credential (certificate number, institution,
specialty, the object-storage key of the scanned certificate, expiry) and another admin checks the
evidence and verifies it; nobody verifies their own. Only an active staff account with a clinical
role and a credential that is valid *now* (verified, `expires_at` still ahead by `core.clock`) may be
given the group expert role, shows the expert badge and may mark an answer verified. Validity is
computed at the moment of checking, so a lapsed credential stops counting at once; the nightly job
only tidies up after it: it marks such rows expired, takes the expert role from everyone without a
valid credential, and e-mails the person.

Answers verified while the verifier's credential was valid keep their mark, with who and when (the
post's `verified_answer_by/at`): the check was true when it was made, as a signed report stays signed
after its author's licence lapses. Only new marks need a valid credential.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from community import access, audit, errors
from community.errors import CommunityCode as Code
from community.models import CredentialStatus, MemberRole, Membership, StaffCredential
from core import clock, jobs
from core.channels import ChannelName, Message, send_later
from core.db import unit_of_work
from core.errors import CoreCode, DomainError, NotFound, PermissionDenied, Validator
from core.identity import SYSTEM, Actor, Role
from core.ids import new_id
from core.pagination import Page, keyset_page
from core.settings import get_settings
from patients.models import Staff, StaffRole

CLINICAL_ROLES = access.STAFF_EXPERT_ROLES  # doctors and health managers
_CLINICAL = tuple(r.value for r in CLINICAL_ROLES)
# 医师执业证书编码 is 15 digits; other certificates (健康管理师, 护士) mix letters in. Upper-cased.
_NUMBER = re.compile(r"[0-9A-Z]{6,32}")
# An object-storage key (`credentials/2024/0001.pdf`): path segments of safe characters, each starting
# with a letter or digit (so no `..`, no leading slash, no `scheme:`), ending in a scan's extension.
_EVIDENCE = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9._-]*/){0,8}[A-Za-z0-9][A-Za-z0-9._-]*\.(?i:pdf|jpe?g|png)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_EVIDENCE = 200
MAX_VALIDITY = timedelta(days=3653)  # ten years: no certificate is registered for longer
MAX_EXPIRING_DAYS = 3650
MIN_REASON = 4
MAX_REASON = 500
TARGET = "staff_credential"  # the audit log's target kind (its GraphQL type is StaffCredential)

EXPIRE_DUE = jobs.register(
    "community.credentials_expire", "Mark lapsed staff credentials expired, take back their group expert roles"
)
BATCH = 200


@dataclass(frozen=True)
class CredentialInput:
    staff_id: uuid.UUID
    certificate_number: str
    institution: str
    specialty: str
    evidence_key: str
    expires_at: datetime


def _text_ok(value: str, low: int, high: int) -> bool:
    return low <= len(value) <= high and not _CONTROL.search(value)


def _validate(data: CredentialInput) -> CredentialInput:
    """Every problem at once; lengths are checked before any pattern runs. Returns the input cleaned."""
    number = data.certificate_number.strip().upper() if len(data.certificate_number) <= 64 else ""
    institution = data.institution.strip() if len(data.institution) <= 400 else ""
    specialty = data.specialty.strip() if len(data.specialty) <= 200 else ""
    evidence = data.evidence_key.strip() if len(data.evidence_key) <= MAX_EVIDENCE else ""
    now = clock.now()
    v = Validator()
    v.check(
        bool(_NUMBER.fullmatch(number)),
        "certificateNumber",
        Code.CREDENTIAL_NUMBER_INVALID,
        "执业证书编号需为6到32位字母或数字",
    )
    v.check(
        _text_ok(institution, 2, 100), "institution", Code.CREDENTIAL_INSTITUTION_LENGTH, "执业机构需为2到100个字符"
    )
    v.check(_text_ok(specialty, 2, 50), "specialty", Code.CREDENTIAL_SPECIALTY_LENGTH, "执业专业需为2到50个字符")
    v.check(
        bool(_EVIDENCE.fullmatch(evidence)),
        "evidenceKey",
        Code.CREDENTIAL_EVIDENCE_INVALID,
        "证明材料需为已上传文件的存储路径（如 credentials/2024/a1.pdf，pdf/jpg/png，不超过200个字符）",
    )
    aware = data.expires_at.tzinfo is not None
    v.check(
        aware and now < data.expires_at <= now + MAX_VALIDITY,
        "expiresAt",
        Code.CREDENTIAL_EXPIRY_INVALID,
        "有效期需晚于当前时间且不超过10年",
    )
    v.raise_if_any()
    return CredentialInput(
        staff_id=data.staff_id,
        certificate_number=number,
        institution=institution,
        specialty=specialty,
        evidence_key=evidence,
        expires_at=data.expires_at.astimezone(UTC),
    )


def _valid_now(now: datetime) -> list[ColumnElement[bool]]:
    return [StaffCredential.status == CredentialStatus.VERIFIED, StaffCredential.expires_at > now]


def _expert_now(staff_id: InstrumentedAttribute[uuid.UUID], now: datetime) -> ColumnElement[bool]:
    """The one rule, as SQL over a column of staff ids: an active account, a clinical role, and a
    credential verified and not yet expired at `now`."""
    return and_(
        staff_id.in_(select(Staff.id).where(Staff.active.is_(True))),
        staff_id.in_(select(StaffRole.staff_id).where(StaffRole.role.in_(_CLINICAL))),
        staff_id.in_(select(StaffCredential.staff_id).where(*_valid_now(now))),
    )


# --- admin: record, verify, revoke ---------------------------------------------------------------


async def record(session: AsyncSession, actor: Actor, data: CredentialInput) -> StaffCredential:
    """An admin records a clinician's credential; it counts only once another admin verified it."""
    actor.require_role(Role.ADMIN)
    data = _validate(data)
    # The staff row lock serialises recordings for one person (one pending credential at a time).
    staff = await session.get(Staff, data.staff_id, with_for_update=True)
    if staff is None:
        raise NotFound("员工不存在", field="staffId")
    roles = set(await session.scalars(select(StaffRole.role).where(StaffRole.staff_id == staff.id)))
    if not roles & set(_CLINICAL):
        raise errors.CredentialRoleNotClinical(field="staffId")
    # A certificate belongs to one person: the lock on its number makes "held by someone else" exact.
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(f"credential:{data.certificate_number}", 0)))
    )
    taken = await session.scalar(
        select(StaffCredential.id)
        .where(
            StaffCredential.certificate_number == data.certificate_number,
            StaffCredential.staff_id != staff.id,
            StaffCredential.status.in_([CredentialStatus.PENDING, CredentialStatus.VERIFIED]),
        )
        .limit(1)
    )
    if taken is not None:
        raise errors.CredentialNumberTaken(field="certificateNumber")
    pending = await session.scalar(
        select(StaffCredential.id).where(
            StaffCredential.staff_id == staff.id, StaffCredential.status == CredentialStatus.PENDING
        )
    )
    if pending is not None:
        raise errors.CredentialPendingExists(field="staffId")
    now = clock.now()
    credential = StaffCredential(
        id=new_id(),
        staff_id=staff.id,
        certificate_number=data.certificate_number,
        institution=data.institution,
        specialty=data.specialty,
        evidence_key=data.evidence_key,
        status=CredentialStatus.PENDING,
        expires_at=data.expires_at,
        recorded_by=actor.id,
        created_at=now,
        updated_at=now,
    )
    session.add(credential)
    await session.flush()
    await audit.record(
        session,
        actor,
        "credential_record",
        target_kind=TARGET,
        target_id=credential.id,
        group_id=None,
        detail={"staff_id": str(staff.id), "expires_at": credential.expires_at.isoformat()},
    )
    return credential


async def _locked(session: AsyncSession, credential_id: uuid.UUID) -> StaffCredential:
    credential = await session.get(StaffCredential, credential_id, with_for_update=True)
    if credential is None:
        raise errors.CredentialNotFound(field="credentialId")
    return credential


async def verify(session: AsyncSession, actor: Actor, credential_id: uuid.UUID) -> StaffCredential:
    """An admin who checked the evidence verifies a pending credential: never their own, and only a
    person (the record names who vouched for it), so not the system actor."""
    actor.require_role(Role.ADMIN)
    if not actor.is_staff or actor.id is None:
        raise PermissionDenied("资质需由管理员本人核验")
    credential = await _locked(session, credential_id)
    if credential.staff_id == actor.id:
        raise errors.CredentialSelfVerify(field="credentialId")
    if credential.status != CredentialStatus.PENDING:
        raise errors.CredentialNotPending(field="credentialId")
    now = clock.now()
    if credential.expires_at <= now:
        raise errors.CredentialExpired("该资质已过有效期，请重新登记", field="credentialId")
    credential.status = CredentialStatus.VERIFIED
    credential.verified_by = actor.id
    credential.verified_at = now
    credential.updated_at = now
    await audit.record(
        session,
        actor,
        "credential_verify",
        target_kind=TARGET,
        target_id=credential.id,
        group_id=None,
        detail={"staff_id": str(credential.staff_id), "expires_at": credential.expires_at.isoformat()},
    )
    return credential


async def revoke(session: AsyncSession, actor: Actor, credential_id: uuid.UUID, *, reason: str) -> StaffCredential:
    """An admin withdraws a pending or verified credential, with a reason. Someone left without a valid
    credential loses their group expert roles in the same transaction (not at the nightly run)."""
    actor.require_role(Role.ADMIN)
    reason = reason.strip() if len(reason) <= MAX_REASON * 2 else ""
    if not _text_ok(reason, MIN_REASON, MAX_REASON):
        raise DomainError("请填写撤销理由（4到500个字）", field="reason", code=CoreCode.REASON_REQUIRED)
    credential = await _locked(session, credential_id)
    if credential.status not in (CredentialStatus.PENDING, CredentialStatus.VERIFIED):
        raise errors.CredentialNotRevocable(field="credentialId")
    now = clock.now()
    before = credential.status
    credential.status = CredentialStatus.REVOKED
    credential.revoked_by = actor.id
    credential.revoked_at = now
    credential.revocation_reason = reason
    credential.updated_at = now
    await session.flush()
    await audit.record(
        session,
        actor,
        "credential_revoke",
        target_kind=TARGET,
        target_id=credential.id,
        group_id=None,
        reason=reason,
        detail={"staff_id": str(credential.staff_id), "from": before},
    )
    await drop_lapsed_experts(session, actor, staff_ids=[credential.staff_id])
    return credential


# --- who is an expert now --------------------------------------------------------------------------


async def experts_now(session: AsyncSession, staff_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, bool]:
    """For each staff id: may they act as a group expert at this moment (active, a clinical role, a
    verified credential not yet expired)? A batch function for the author badge's DataLoader."""
    if not staff_ids:
        return {}
    rows = await session.scalars(select(Staff.id).where(Staff.id.in_(staff_ids), _expert_now(Staff.id, clock.now())))
    found = set(rows)
    return {staff_id: staff_id in found for staff_id in staff_ids}


def expert_now_sql(staff_id: str, now: str) -> str:
    """`experts_now` as an SQL condition for the raw feed statement: `staff_id` the column holding the
    author's staff id, `now` the placeholder of the time of checking (the clock's, never SQL now())."""
    clinical = ", ".join(f"'{r}'" for r in _CLINICAL)
    return (
        f"EXISTS (SELECT 1 FROM staff_credentials cr WHERE cr.staff_id = {staff_id}"
        f" AND cr.status = '{CredentialStatus.VERIFIED.value}' AND cr.expires_at > {now})"
        f" AND EXISTS (SELECT 1 FROM staff_roles sr WHERE sr.staff_id = {staff_id} AND sr.role IN ({clinical}))"
        f" AND EXISTS (SELECT 1 FROM staff st WHERE st.id = {staff_id} AND st.active)"
    )


async def require_expert(session: AsyncSession, staff_id: uuid.UUID, *, field: str | None = None) -> None:
    """Refuse unless `staff_id` may act as an expert now: CREDENTIAL_EXPIRED when their credential has
    lapsed, CREDENTIAL_REQUIRED when there never was one verified (or they are no active clinician)."""
    if (await experts_now(session, [staff_id]))[staff_id]:
        return
    now = clock.now()
    lapsed = await session.scalar(
        select(StaffCredential.id)
        .where(
            StaffCredential.staff_id == staff_id,
            or_(
                StaffCredential.status == CredentialStatus.EXPIRED,
                and_(StaffCredential.status == CredentialStatus.VERIFIED, StaffCredential.expires_at <= now),
            ),
        )
        .limit(1)
    )
    clinician = await session.scalar(
        select(Staff.id).where(
            Staff.id == staff_id,
            Staff.active.is_(True),
            Staff.id.in_(select(StaffRole.staff_id).where(StaffRole.role.in_(_CLINICAL))),
        )
    )
    if lapsed is not None and clinician is not None:
        raise errors.CredentialExpired(field=field)
    raise errors.CredentialRequired(field=field)


async def drop_lapsed_experts(
    session: AsyncSession, actor: Actor, *, staff_ids: Iterable[uuid.UUID] | None = None, limit: int = BATCH
) -> int:
    """Group expert roles held by anyone who may not be an expert now (a patient, or staff without a
    valid credential) go back to plain membership, each change in the audit log. `staff_ids` narrows
    it to those people; without it, one batch of at most `limit` memberships over all groups (rows
    another run holds are skipped, and a dropped role is no longer picked: repeats change nothing)."""
    now = clock.now()
    stmt = select(Membership).where(
        Membership.role == MemberRole.EXPERT,
        ~and_(Membership.account_kind == "staff", _expert_now(Membership.account_id, now)),
    )
    if staff_ids is not None:
        stmt = stmt.where(Membership.account_kind == "staff", Membership.account_id.in_(list(staff_ids)))
    lapsed = list(await session.scalars(stmt.order_by(Membership.id).limit(limit).with_for_update(skip_locked=True)))
    for m in lapsed:
        m.role = MemberRole.MEMBER
        m.updated_at = now
        await audit.record(
            session,
            actor,
            "role_change",
            target_kind="membership",
            target_id=m.id,
            group_id=m.group_id,
            reason="执业资质已失效",
            detail={"from": MemberRole.EXPERT.value, "to": MemberRole.MEMBER.value, "credential": "lapsed"},
        )
    return len(lapsed)


# --- reading -------------------------------------------------------------------------------------


def effective_status(credential: StaffCredential, now: datetime | None = None) -> CredentialStatus:
    """The status at the time of reading: a verified credential past its expiry is expired even before
    the nightly job writes it down."""
    status = CredentialStatus(credential.status)
    if status is CredentialStatus.VERIFIED and credential.expires_at <= (now or clock.now()):
        return CredentialStatus.EXPIRED
    return status


async def credentials_page(
    session: AsyncSession,
    actor: Actor,
    *,
    status: str | None = None,
    expiring_within_days: int | None = None,
    staff_id: uuid.UUID | None = None,
    first: int | None,
    after: str | None,
) -> Page[StaffCredential]:
    """Admins list credentials, newest first; `status` is the status now (see `effective_status`);
    `expiring_within_days` keeps the currently valid ones lapsing within that many days, soonest first
    (the renewals to chase)."""
    actor.require_role(Role.ADMIN)
    now = clock.now()
    stmt = select(StaffCredential)
    if staff_id is not None:
        stmt = stmt.where(StaffCredential.staff_id == staff_id)
    if status is not None:
        if status == CredentialStatus.VERIFIED:
            stmt = stmt.where(*_valid_now(now))
        elif status == CredentialStatus.EXPIRED:
            stmt = stmt.where(
                or_(
                    StaffCredential.status == CredentialStatus.EXPIRED,
                    and_(StaffCredential.status == CredentialStatus.VERIFIED, StaffCredential.expires_at <= now),
                )
            )
        else:
            stmt = stmt.where(StaffCredential.status == status)
    if expiring_within_days is not None:
        if not 1 <= expiring_within_days <= MAX_EXPIRING_DAYS:
            raise DomainError("到期天数需为1到3650天", field="expiringWithinDays", code=Code.CREDENTIAL_DAYS_INVALID)
        stmt = stmt.where(*_valid_now(now), StaffCredential.expires_at <= now + timedelta(days=expiring_within_days))
        return await keyset_page(
            session, stmt, sort=StaffCredential.expires_at, id_=StaffCredential.id, first=first, after=after
        )
    return await keyset_page(
        session,
        stmt,
        sort=StaffCredential.created_at,
        id_=StaffCredential.id,
        first=first,
        after=after,
        descending=True,
    )


async def my_credentials(session: AsyncSession, actor: Actor) -> list[StaffCredential]:
    """A staff member's own credentials, newest first (what the admins recorded about them)."""
    if not actor.is_staff or actor.id is None:
        actor.require_authenticated()
        raise PermissionDenied("仅员工可以查看执业资质")
    return list(
        await session.scalars(
            select(StaffCredential)
            .where(StaffCredential.staff_id == actor.id)
            .order_by(StaffCredential.created_at.desc(), StaffCredential.id.desc())
            .limit(50)
        )
    )


def can_read(actor: Actor, credential: StaffCredential) -> bool:
    """Admins and the person themselves: a certificate number and its scan are that person's data."""
    return actor.has_role(Role.ADMIN) or (actor.is_staff and actor.id == credential.staff_id)


async def credentials_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, StaffCredential]:
    return {c.id: c for c in await session.scalars(select(StaffCredential).where(StaffCredential.id.in_(ids)))}


# --- the nightly job -------------------------------------------------------------------------------


async def expire_batch(session: AsyncSession, *, limit: int = BATCH) -> int:
    """Marks up to `limit` verified credentials past their expiry as expired and e-mails each person
    left without a valid one. Rows are locked and skipped when another run holds them, and only
    VERIFIED rows are picked, so a repeated or concurrent run changes and tells nobody twice."""
    now = clock.now()
    lapsed = list(
        await session.scalars(
            select(StaffCredential)
            .where(StaffCredential.status == CredentialStatus.VERIFIED, StaffCredential.expires_at <= now)
            .order_by(StaffCredential.expires_at, StaffCredential.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for credential in lapsed:
        credential.status = CredentialStatus.EXPIRED
        credential.updated_at = now
        await audit.record(
            session,
            SYSTEM,
            "credential_expire",
            target_kind=TARGET,
            target_id=credential.id,
            group_id=None,
            detail={"staff_id": str(credential.staff_id), "expires_at": credential.expires_at.isoformat()},
        )
    await session.flush()
    people = {c.staff_id for c in lapsed}
    still_valid = await experts_now(session, list(people))
    staff = {s.id: s for s in await session.scalars(select(Staff).where(Staff.id.in_(people)))}
    zone = ZoneInfo(get_settings().default_timezone)
    for credential in lapsed:
        person = staff.get(credential.staff_id)
        if person is None or not person.active or still_valid.get(credential.staff_id):
            continue  # a renewed credential still counts: nothing changed for them
        when = credential.expires_at.astimezone(zone).strftime("%Y年%m月%d日")
        await send_later(
            session,
            Message(
                ChannelName.EMAIL,
                person.email,
                f"{person.name}您好：您在{credential.institution}登记的执业资质已于{when}到期，"
                "社群专家身份和认证回答的权限已暂停。请将新的执业证书交给管理员登记核验后恢复。",
                subject="执业资质已到期",
            ),
        )
    return len(lapsed)


async def expire_due() -> dict[str, int]:
    """The cron body: lapsed credentials expired, then every expert role without a valid credential
    behind it dropped (lapsed, revoked, or appointed before credentials existed). Batches of their
    own transactions; each batch only finds what no earlier run changed, so running it twice is safe."""
    expired = dropped = 0
    while True:
        async with unit_of_work() as session:
            n = await expire_batch(session)
        expired += n
        if n < BATCH:
            break
    while True:
        async with unit_of_work() as session:
            n = await drop_lapsed_experts(session, SYSTEM)
        dropped += n
        if n < BATCH:
            break
    return {"expired": expired, "experts_dropped": dropped}
