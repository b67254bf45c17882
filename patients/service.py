"""Rules for patient profiles and consent, staff accounts, sites and the condition catalogue."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date
from zoneinfo import available_timezones

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, security
from core.errors import CoreCode, NotFound, PermissionDenied, Validator
from core.identity import Actor, Role
from core.ids import new_id
from patients import consents, errors, minors
from patients.errors import PatientsCode as Code
from patients.models import (
    AuthSession,
    Condition,
    Consent,
    ConsentChannel,
    ConsentEvent,
    ConsentNotice,
    ConsentPurpose,
    ConsentSource,
    Gender,
    Patient,
    PatientCondition,
    Site,
    Staff,
    StaffRole,
    SubjectKind,
)
from patients.phones import normalize_phone

# Staff who care for patients may see private profile data (real name, birth year, phone).
CARE_ROLES = (Role.DOCTOR, Role.HEALTH_MANAGER, Role.CLINIC_STAFF)
_TIMEZONES = frozenset(available_timezones())
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
UNSET: object = object()


def can_view_private(actor: Actor, patient_id: uuid.UUID) -> bool:
    return (actor.is_patient and actor.id == patient_id) or actor.has_role(*CARE_ROLES)


def can_view_profile(actor: Actor, patient_id: uuid.UUID) -> bool:
    """Nicknames are public in communities; the full profile object is for the patient and staff."""
    return (actor.is_patient and actor.id == patient_id) or actor.is_staff or actor.is_system


def _target_patient(actor: Actor, patient_id: uuid.UUID | None) -> uuid.UUID:
    if patient_id is None or (actor.is_patient and actor.id == patient_id):
        return actor.require_patient()
    actor.require_role(*CARE_ROLES)
    return patient_id


async def grant_default_consents(session: AsyncSession, patient_id: uuid.UUID) -> None:
    """In-app service messages are part of the service; every other channel/purpose starts off."""
    await _record_consents(
        session,
        patient_id,
        [(ConsentChannel.IN_APP, ConsentPurpose.SERVICE, True, None)],
        source=ConsentSource.REGISTRATION,
        note=None,
        actor_id=patient_id,
    )


@dataclass(frozen=True)
class ProfileChanges:
    nickname: str | object | None = UNSET
    real_name: str | object | None = UNSET
    email: str | object | None = UNSET
    birth_year: int | object | None = UNSET
    birth_date: date | object | None = UNSET
    gender: str | object | None = UNSET
    timezone: str | object | None = UNSET
    condition_codes: list[str] | object | None = UNSET
    home_site_id: uuid.UUID | object | None = UNSET


async def update_profile(
    session: AsyncSession, actor: Actor, changes: ProfileChanges, *, patient_id: uuid.UUID | None = None
) -> Patient:
    target = _target_patient(actor, patient_id)
    patient = await session.get(Patient, target, with_for_update=True)
    if patient is None or patient.erased_at is not None:  # an erased account has no profile to edit
        raise NotFound("患者不存在")
    v = Validator()
    values: dict[str, object] = {}
    if changes.nickname is not UNSET:
        nickname = str(changes.nickname or "").strip()
        v.check(2 <= len(nickname) <= 20, "nickname", Code.NICKNAME_LENGTH, "昵称需为2到20个字符")
        values["nickname"] = nickname
    if changes.real_name is not UNSET:
        real_name = str(changes.real_name or "").strip() or None
        v.check(real_name is None or len(real_name) <= 50, "realName", Code.REAL_NAME_LENGTH, "姓名不能超过50个字符")
        values["real_name"] = real_name
    if changes.email is not UNSET:
        email = str(changes.email or "").strip() or None
        v.check(
            email is None or (len(email) <= 254 and _EMAIL.fullmatch(email) is not None),
            "email",
            Code.EMAIL_INVALID,
            "请输入正确的电子邮箱地址",
        )
        values["email"] = email
    if changes.birth_year is not UNSET:
        year = changes.birth_year
        this_year = clock.now().year
        v.check(
            year is None or (isinstance(year, int) and 1900 <= year <= this_year),
            "birthYear",
            Code.BIRTH_YEAR_INVALID,
            f"出生年份需在1900到{this_year}之间",
        )
        values["birth_year"] = year
    if changes.birth_date is not UNSET:
        born = changes.birth_date
        ok = born is None or (isinstance(born, date) and date(1900, 1, 1) <= born <= clock.now().date())
        v.check(ok, "birthDate", Code.BIRTH_DATE_INVALID, "出生日期无效")
        values["birth_date"] = born
        if ok and isinstance(born, date) and changes.birth_year is UNSET:
            values["birth_year"] = born.year  # one truth for the age
    if changes.gender is not UNSET:
        gender = changes.gender or Gender.UNDISCLOSED.value
        v.check(gender in {g.value for g in Gender}, "gender", CoreCode.GENDER_INVALID, "性别取值无效")
        values["gender"] = gender
    if changes.timezone is not UNSET:
        tz = changes.timezone or "Asia/Shanghai"
        v.check(tz in _TIMEZONES, "timezone", Code.TIMEZONE_INVALID, "时区无效，例如 Asia/Shanghai")
        values["timezone"] = tz
    if changes.home_site_id is not UNSET and changes.home_site_id is not None:
        site = await session.get(Site, changes.home_site_id)
        v.check(site is not None and site.active, "homeSiteId", CoreCode.SITE_NOT_FOUND, "院区不存在")
    if changes.home_site_id is not UNSET:
        values["home_site_id"] = changes.home_site_id
    codes: list[str] | None = None
    if changes.condition_codes is not UNSET:
        codes = sorted(set(changes.condition_codes or []))  # type: ignore[call-overload]
        # The count is checked before the codes reach the database (a client may send thousands).
        if len(codes) > 10:
            v.add("conditionCodes", Code.CONDITION_TOO_MANY, "最多选择10个病种")
        else:
            known = set(await session.scalars(select(Condition.code).where(Condition.code.in_(codes))))
            unknown = [c for c in codes if c not in known]
            v.check(not unknown, "conditionCodes", CoreCode.CONDITION_UNKNOWN, f"未知的病种：{'、'.join(unknown)}")
    was = (patient.birth_date, patient.birth_year)
    born = (values.get("birth_date", was[0]), values.get("birth_year", was[1]))
    # Giving the full date inside the year on record only makes it exact (a year alone counts as minor).
    exact = was[0] is None and isinstance(born[0], date) and born[0].year == was[1] == born[1]
    if actor.is_patient and born != was and not exact:
        # A minor cannot age themselves out of the minors' defaults (no posting, no marketing):
        # staff change the date after seeing a document.
        v.check(
            not minors.is_minor(patient.birth_date, patient.birth_year),
            "birthDate",
            Code.BIRTH_DATE_LOCKED,
            "未成年人的出生日期需由工作人员核实证件后修改",
        )
    v.raise_if_any()

    for key, value in values.items():
        setattr(patient, key, value)
    if codes is not None:
        await session.execute(delete(PatientCondition).where(PatientCondition.patient_id == target))
        if codes:
            await session.execute(
                insert(PatientCondition).values(
                    [{"patient_id": target, "condition_code": c, "added_at": clock.now()} for c in codes]
                )
            )
    patient.updated_at = clock.now()
    return patient


# A form sends each channel and purpose once; twice that leaves room for a repeated pair.
MAX_CONSENT_ITEMS = 2 * len(ConsentChannel) * len(ConsentPurpose)


@dataclass(frozen=True)
class ConsentChange:
    channel: str
    purpose: str
    granted: bool
    # The notice version the patient was shown. None (imports, SMS replies, tests): the current one.
    notice_version: int | None = None


async def update_consents(
    session: AsyncSession,
    actor: Actor,
    items: list[ConsentChange],
    *,
    source: str,
    note: str | None = None,
    patient_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Patients set their own consent; care staff may record one given in person (source says where,
    the note e.g. which paper form). A grant must be given under the current notice of its purpose;
    a withdrawal under any notice of its purpose (withdrawing is never harder than granting)."""
    target = _target_patient(actor, patient_id)
    v = Validator()
    v.check(bool(items), "items", Code.CONSENT_EMPTY, "请至少提交一项授权设置")
    # Checked before the items are read: each one costs a validation pass and an upsert.
    if len(items) > MAX_CONSENT_ITEMS:
        v.add("items", Code.CONSENT_TOO_MANY, f"一次最多提交{MAX_CONSENT_ITEMS}项授权设置")
        v.raise_if_any()
    consents.check_source(v, actor, source)
    note = consents.check_note(v, note)
    channels = {c.value for c in ConsentChannel}
    purposes = {p.value for p in ConsentPurpose}
    book = await consents.notice_book(session)
    resolved: list[tuple[ConsentChannel, ConsentPurpose, bool, ConsentNotice | None]] = []
    for i, item in enumerate(items):
        v.check(item.channel in channels, f"items.{i}.channel", Code.CONSENT_CHANNEL_INVALID, "渠道无效")
        v.check(item.purpose in purposes, f"items.{i}.purpose", Code.CONSENT_PURPOSE_INVALID, "用途无效")
        if item.channel not in channels or item.purpose not in purposes:
            continue
        notice = _notice_of(v, book, item, f"items.{i}.noticeVersion")
        resolved.append((ConsentChannel(item.channel), ConsentPurpose(item.purpose), item.granted, notice))
    v.raise_if_any()
    await _record_consents(session, target, resolved, source=ConsentSource(source), note=note, actor_id=actor.id)
    return target


def _notice_of(v: Validator, book: consents.NoticeBook, item: ConsentChange, field: str) -> ConsentNotice | None:
    """The notice an answer is recorded under (None: the current one, found when recording)."""
    if item.notice_version is None:
        return None
    notice = book.notices.get(item.notice_version)
    if notice is None:
        v.add(field, Code.CONSENT_NOTICE_UNKNOWN, "授权说明版本不存在")
    elif item.purpose not in notice.purposes:
        v.add(field, Code.CONSENT_NOTICE_WRONG_PURPOSE, "该版授权说明不适用于此用途")
    elif item.granted and notice is not book.current(item.purpose):
        v.add(field, Code.CONSENT_NOTICE_OUTDATED, "授权说明已更新，请阅读最新版本后再授权")
    return notice


async def _record_consents(
    session: AsyncSession,
    patient_id: uuid.UUID,
    items: list[tuple[ConsentChannel, ConsentPurpose, bool, ConsentNotice | None]],
    *,
    source: ConsentSource,
    note: str | None,
    actor_id: uuid.UUID | None,
) -> None:
    now = clock.now()
    book = await consents.notice_book(session) if any(n is None for *_, n in items) else None
    # Rows are upserted (and so locked) in one fixed order, whatever order the client listed them
    # in: two requests for the same patient then wait for each other instead of deadlocking. The
    # sort is stable, so a pair listed twice still ends with the value listed last.
    items = sorted(items, key=lambda item: (item[0].value, item[1].value))
    for channel, purpose, granted, given in items:
        notice = given or (book.current(purpose.value) if book is not None else None)
        if notice is None:  # the seeded notices cover every purpose; a deployment without them is broken
            raise RuntimeError(f"no consent notice covers {purpose.value}")
        stmt = insert(Consent).values(
            patient_id=patient_id,
            channel=channel.value,
            purpose=purpose.value,
            granted=granted,
            source=source.value,
            changed_at=now,
            notice_version=notice.version,
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["patient_id", "channel", "purpose"],
                set_={
                    "granted": stmt.excluded.granted,
                    "source": stmt.excluded.source,
                    "changed_at": stmt.excluded.changed_at,
                    "notice_version": stmt.excluded.notice_version,
                },
            )
        )
        session.add(
            ConsentEvent(
                id=new_id(),
                patient_id=patient_id,
                channel=channel.value,
                purpose=purpose.value,
                granted=granted,
                source=source.value,
                source_note=note,
                actor_id=actor_id,
                occurred_at=now,
                notice_version=notice.version,
                text_sha256=notice.body_sha256,
            )
        )


async def has_consent(
    session: AsyncSession, patient_id: uuid.UUID, channel: ConsentChannel, purpose: ConsentPurpose
) -> bool:
    """Consent in force (patients/consents.py: the one test every sender applies)."""
    return bool(await consents.consenting(session, [patient_id], channel.value, purpose.value))


async def get_patient(session: AsyncSession, actor: Actor, patient_id: uuid.UUID) -> Patient:
    if not can_view_profile(actor, patient_id):
        raise PermissionDenied()
    patient = await session.get(Patient, patient_id)
    if patient is None:
        raise NotFound("患者不存在")
    return patient


# Who may set the suppression flags: care staff (admission, death) and admins; marketers may record a
# patient's opt-out of all marketing (a phone call to the hotline) but not clinical states.
SUPPRESSION_ROLES = (*CARE_ROLES, Role.MARKETER)


async def set_suppression(
    session: AsyncSession,
    actor: Actor,
    patient_id: uuid.UUID,
    *,
    marketing_opt_out: bool | None = None,
    deceased: bool | None = None,
    admitted: bool | None = None,
) -> Patient:
    """Staff set a patient's campaign suppression flags; None leaves a flag as it is."""
    actor.require_role(*SUPPRESSION_ROLES)
    if (deceased is not None or admitted is not None) and not actor.has_role(*CARE_ROLES):
        raise PermissionDenied("只有医护人员可以登记住院或身故状态")
    patient = await session.get(Patient, patient_id, with_for_update=True)
    if patient is None:
        raise NotFound("患者不存在")
    if marketing_opt_out is not None:
        patient.marketing_opt_out = marketing_opt_out
    if deceased is not None:
        patient.deceased = deceased
    if admitted is not None:
        patient.admitted = admitted
    patient.updated_at = clock.now()
    return patient


# --- staff accounts ---------------------------------------------------------------------------


def _validate_roles(v: Validator, roles: list[str]) -> list[Role]:
    valid = {r.value for r in Role}
    bad = [r for r in roles if r not in valid]
    v.check(bool(roles), "roles", Code.ROLES_EMPTY, "请至少选择一个角色")
    v.check(not bad, "roles", Code.ROLE_UNKNOWN, f"未知角色：{'、'.join(bad)}")
    return [Role(r) for r in roles if r in valid]


async def create_staff(
    session: AsyncSession,
    actor: Actor,
    *,
    email: str,
    name: str,
    password: str,
    roles: list[str],
    site_id: uuid.UUID | None = None,
) -> Staff:
    actor.require_role(Role.ADMIN)
    email = (email or "").strip().lower()
    v = Validator()
    v.check(
        "@" in email and "." in email.split("@")[-1] and len(email) <= 200,
        "email",
        Code.EMAIL_INVALID,
        "邮箱格式不正确",
    )
    v.check(1 <= len((name or "").strip()) <= 50, "name", CoreCode.NAME_LENGTH, "姓名需为1到50个字符")
    v.check(len(password or "") >= 10, "password", Code.PASSWORD_TOO_SHORT, "密码至少10位")
    v.check(
        len(password or "") <= security.MAX_PASSWORD_LENGTH,
        "password",
        Code.PASSWORD_TOO_LONG,
        f"密码不能超过{security.MAX_PASSWORD_LENGTH}位",
    )
    parsed_roles = _validate_roles(v, roles)
    if site_id is not None:
        v.check(await session.get(Site, site_id) is not None, "siteId", CoreCode.SITE_NOT_FOUND, "院区不存在")
    v.raise_if_any()
    if await session.scalar(select(Staff.id).where(Staff.email == email)) is not None:
        raise errors.EmailTaken(field="email")
    staff = Staff(
        id=new_id(),
        email=email,
        name=name.strip(),
        password_hash=await security.hash_password(password),
        site_id=site_id,
        active=True,
        failed_logins=0,
    )
    session.add(staff)
    await session.flush()
    session.add_all([StaffRole(staff_id=staff.id, role=r.value) for r in sorted(set(parsed_roles))])
    return staff


async def set_staff_roles(session: AsyncSession, actor: Actor, staff_id: uuid.UUID, roles: list[str]) -> Staff:
    actor.require_role(Role.ADMIN)
    v = Validator()
    parsed = _validate_roles(v, roles)
    v.raise_if_any()
    staff = await session.get(Staff, staff_id, with_for_update=True)
    if staff is None:
        raise NotFound("员工不存在")
    await session.execute(delete(StaffRole).where(StaffRole.staff_id == staff_id))
    session.add_all([StaffRole(staff_id=staff_id, role=r.value) for r in sorted(set(parsed))])
    # Tokens carry roles: end the sessions so the new roles take effect at the next sign-in.
    await revoke_subject_sessions(session, SubjectKind.STAFF, staff_id, "roles_changed")
    return staff


async def set_staff_active(session: AsyncSession, actor: Actor, staff_id: uuid.UUID, *, active: bool) -> Staff:
    """staffDisable / staffEnable (admin). Disabling ends every session of that person at once:
    their access tokens stop working on the next request (the staff row is checked per request)."""
    actor.require_role(Role.ADMIN)
    if not active and staff_id == actor.id:
        raise errors.CannotDisableSelf(field="staffId")
    staff = await session.get(Staff, staff_id, with_for_update=True)
    if staff is None:
        raise NotFound("员工不存在", field="staffId")
    staff.active = active
    if not active:
        await revoke_subject_sessions(session, SubjectKind.STAFF, staff_id, "staff_disabled")
    return staff


async def revoke_subject_sessions(session: AsyncSession, kind: SubjectKind, subject_id: uuid.UUID, reason: str) -> None:
    await session.execute(
        update(AuthSession)
        .where(
            AuthSession.subject_kind == kind.value,
            AuthSession.subject_id == subject_id,
            AuthSession.revoked_at.is_(None),
        )
        .values(revoked_at=clock.now(), revoked_reason=reason)
    )


# --- sites ------------------------------------------------------------------------------------

SITE_KINDS = {"campus": "院区", "clinic": "门诊部"}


async def create_site(
    session: AsyncSession,
    actor: Actor,
    *,
    code: str,
    name: str,
    kind: str,
    address: str | None = None,
    phone: str | None = None,
) -> Site:
    actor.require_role(Role.ADMIN)
    code = (code or "").strip().upper()
    v = Validator()
    v.check(
        1 <= len(code) <= 32 and code.replace("-", "").isalnum(),
        "code",
        Code.SITE_CODE_INVALID,
        "院区编码需为1到32位字母或数字",
    )
    v.check(1 <= len((name or "").strip()) <= 100, "name", CoreCode.NAME_LENGTH, "名称需为1到100个字符")
    v.check(kind in SITE_KINDS, "kind", Code.SITE_KIND_INVALID, "类型需为院区(campus)或门诊部(clinic)")
    v.raise_if_any()
    if await session.scalar(select(Site.id).where(Site.code == code)) is not None:
        raise errors.SiteCodeTaken(field="code")
    site = Site(id=new_id(), code=code, name=name.strip(), kind=kind, address=address, phone=phone, active=True)
    session.add(site)
    return site


# --- patients registered by staff -------------------------------------------------------------


async def register_patient(
    session: AsyncSession, actor: Actor, *, phone: str, nickname: str | None = None
) -> tuple[Patient, bool]:
    """Front-desk registration (the patient signs in later with the same phone). Idempotent by phone."""
    actor.require_role(*CARE_ROLES)
    phone = normalize_phone(phone)
    existing = await session.scalar(select(Patient).where(Patient.phone == phone))
    if existing is not None:
        return existing, False
    patient = Patient(
        id=new_id(),
        phone=phone,
        nickname=(nickname or f"康友{phone[-4:]}")[:20],
        timezone="Asia/Shanghai",
        gender=Gender.UNDISCLOSED.value,
    )
    session.add(patient)
    await session.flush()
    await grant_default_consents(session, patient.id)
    return patient, True
