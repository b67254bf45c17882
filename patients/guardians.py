"""Guardians: a patient acting for a minor or a dependent elder, through an explicit, revocable
delegation with scopes (view, book, redeem, community).

How a delegation comes to be, so nobody makes themselves someone's guardian:
- staff at the desk (clinic staff, health managers, admins) record it after checking documents
  (户口本, 出生医学证明, 委托书 ...), noted on the delegation: active at once;
- a guardian asks by the dependent's phone number and the dependent, signed in as themselves,
  confirms it (pending until then);
- a guardian opens a minor's own account, proving the minor's phone with its SMS code (so no one
  can pre-register a stranger's number as their "child"), or staff open it after checking documents.
Either party or staff revoke it; it is never active again (a new one is asked for anew).

Acting: the guardian signs in as themselves and names the dependent in the X-Act-For header; the
request's actor is then the dependent with the guardian as `delegate` (core.identity), re-read on
every request, so a revocation stops the next request. Services that act for the patient call
`acting` (the scope, then a record of the action naming both); the API lets a delegated request use
only the root fields a scope covers (api/identity/guardians.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, ratelimit
from core.errors import CoreCode, DomainError, NotAuthenticated, NotFound, PermissionDenied, RateLimited, Validator
from core.identity import Actor, ActorKind, Delegate, DelegationScope, Role
from core.ids import new_id
from core.pagination import Page, keyset_page
from core.settings import get_settings
from patients import auth, errors, minors
from patients.errors import PatientsCode as Code
from patients.guardian_models import (
    LIVE_SQL,
    Confirmation,
    GuardianAction,
    GuardianRelation,
    Guardianship,
    GuardianshipStatus,
)
from patients.models import Patient
from patients.phones import normalize_phone
from patients.service import grant_default_consents

# Who records a delegation at the desk, sees a patient's delegations and revokes them.
DESK_ROLES = (Role.CLINIC_STAFF, Role.HEALTH_MANAGER)
MAX_AS_GUARDIAN = 10  # live (pending or active) delegations one guardian holds
MAX_AS_DEPENDENT = 5  # live delegations over one dependent
MAX_NOTE = 200
LIST_LIMIT = 50
# Requests by phone number tell whether a number has an account: a guardian may ask a few an hour.
REQUEST_WINDOW = ratelimit.Window("guardian-request", 10, 3600)


@dataclass(frozen=True)
class DependentAccount:
    guardianship: Guardianship
    patient: Patient


# --- acting for a dependent -------------------------------------------------------------------


async def act_for(session: AsyncSession, actor: Actor, dependent_id: uuid.UUID) -> Actor:
    """The actor for a request the signed-in guardian makes for `dependent_id`: the dependent as the
    subject, the guardian and the delegation's scopes as `delegate`. Refused without an active one."""
    guardian_id = actor.require_patient()
    if actor.delegate is not None:
        raise errors.DelegationInactive()
    row = (
        await session.execute(
            select(Guardianship.id, Guardianship.scopes)
            .join(Patient, Patient.id == Guardianship.dependent_id)
            .where(
                Guardianship.guardian_id == guardian_id,
                Guardianship.dependent_id == dependent_id,
                Guardianship.status == GuardianshipStatus.ACTIVE,
                Patient.erased_at.is_(None),  # an erased account has nobody left to act for
            )
        )
    ).one_or_none()
    if row is None:
        raise errors.DelegationInactive()
    scopes = frozenset(DelegationScope(s) for s in row.scopes)
    return Actor(
        kind=ActorKind.PATIENT,
        id=dependent_id,
        session_id=actor.session_id,
        delegate=Delegate(guardian_id=guardian_id, guardianship_id=row.id, scopes=scopes),
    )


def _record(actor: Actor, scope: DelegationScope, action: str, target: str, request_id: str | None) -> GuardianAction:
    delegate = actor.delegate
    assert delegate is not None and actor.id is not None
    return GuardianAction(
        id=new_id(),
        guardianship_id=delegate.guardianship_id,
        guardian_id=delegate.guardian_id,
        dependent_id=actor.id,
        scope=scope.value,
        action=action[:40],
        target=target[:MAX_NOTE],
        occurred_at=clock.now(),
        request_id=request_id,
    )


async def acting(session: AsyncSession, actor: Actor, scope: DelegationScope, action: str, target: str) -> None:
    """For a service acting as the patient: a guardian needs `scope`, and what they do is recorded
    with both of them, in the service's own transaction (a refused action rolls its record back).
    Nothing for a patient acting for themselves."""
    if actor.delegate is None:
        return
    actor.require_scope(scope)
    session.add(_record(actor, scope, action, target, None))


async def record_view(session: AsyncSession, actor: Actor, fields: Sequence[str], request_id: str | None) -> None:
    """A guardian's read of the dependent's data (the root fields of one query), recorded after it ran."""
    if actor.delegate is None:
        return
    session.add(_record(actor, DelegationScope.VIEW, "view", ",".join(fields) or "query", request_id))


async def check_posting(session: AsyncSession, actor: Actor, action: str, target: str) -> None:
    """Writing in the community as a patient: a guardian needs the community scope (and is recorded);
    a minor may not post or comment themselves (their guardian may, for them)."""
    if actor.delegate is not None:
        await acting(session, actor, DelegationScope.COMMUNITY, action, target)
        return
    if not actor.is_patient or actor.id is None:
        return
    born = (await session.execute(select(Patient.birth_date, Patient.birth_year).where(Patient.id == actor.id))).first()
    if born is not None and minors.is_minor(born.birth_date, born.birth_year):
        raise errors.MinorPostingDisabled()


# --- creating, confirming and revoking ----------------------------------------------------------


def _validated(
    v: Validator, relation: str, scopes: Iterable[str], note: str | None, *, note_required: bool
) -> tuple[list[str], str | None]:
    v.check(
        relation in {r.value for r in GuardianRelation},
        "relation",
        Code.GUARDIAN_RELATION_INVALID,
        "关系无效（子女、父母、配偶或其他）",
    )
    wanted = sorted(set(scopes))
    known = {s.value for s in DelegationScope}
    v.check(
        bool(wanted) and all(s in known for s in wanted),
        "scopes",
        Code.GUARDIANSHIP_SCOPES_INVALID,
        "请至少选择一项授权范围（查看、活动报名、积分兑换、社区发言）",
    )
    note_text = (note or "").strip() or None
    if note_required:
        v.check(
            note_text is not None and 2 <= len(note_text) <= MAX_NOTE,
            "evidenceNote",
            Code.GUARDIANSHIP_EVIDENCE_REQUIRED,
            "请填写已核验的证明材料（2到200个字符）",
        )
    else:
        v.check(
            note_text is None or len(note_text) <= MAX_NOTE,
            "evidenceNote",
            Code.GUARDIANSHIP_EVIDENCE_REQUIRED,
            "证明材料说明不能超过200个字符",
        )
    return wanted, note_text


async def _pair(
    session: AsyncSession, guardian_id: uuid.UUID, dependent_id: uuid.UUID, *, dependent_field: str
) -> tuple[Patient, Patient]:
    """Both patients, locked in id order (two delegations of one pair cannot race past the checks)."""
    if guardian_id == dependent_id:
        raise PermissionDenied("不能为自己设置代办人", code=Code.GUARDIANSHIP_SELF)
    rows = {
        p.id: p
        for p in await session.scalars(
            select(Patient).where(Patient.id.in_([guardian_id, dependent_id])).order_by(Patient.id).with_for_update()
        )
    }
    guardian, dependent = rows.get(guardian_id), rows.get(dependent_id)
    if guardian is not None and guardian.erased_at is not None:
        guardian = None
    if dependent is not None and dependent.erased_at is not None:
        dependent = None
    if guardian is None:
        raise NotFound("患者不存在", field="guardianId", code=CoreCode.PATIENT_NOT_FOUND)
    if dependent is None:
        raise NotFound("患者不存在", field=dependent_field, code=CoreCode.PATIENT_NOT_FOUND)
    if minors.is_minor(guardian.birth_date, guardian.birth_year):
        raise PermissionDenied("未成年人不能作为监护人或代办人", field="guardianId", code=Code.GUARDIAN_MINOR)
    return guardian, dependent


async def _check_room(session: AsyncSession, guardian_id: uuid.UUID, dependent_id: uuid.UUID) -> None:
    live = Guardianship.status.in_([GuardianshipStatus.PENDING, GuardianshipStatus.ACTIVE])
    pair = await session.scalar(
        select(func.count()).where(
            Guardianship.guardian_id == guardian_id, Guardianship.dependent_id == dependent_id, live
        )
    )
    if pair:
        raise DomainError("双方之间已有待确认或生效中的代办授权", code=Code.GUARDIANSHIP_EXISTS)
    as_guardian = await session.scalar(select(func.count()).where(Guardianship.guardian_id == guardian_id, live))
    as_dependent = await session.scalar(select(func.count()).where(Guardianship.dependent_id == dependent_id, live))
    if (as_guardian or 0) >= MAX_AS_GUARDIAN or (as_dependent or 0) >= MAX_AS_DEPENDENT:
        raise DomainError(
            f"代办授权数量已达上限（每人最多代办{MAX_AS_GUARDIAN}人、被{MAX_AS_DEPENDENT}人代办）",
            code=Code.GUARDIANSHIP_LIMIT,
        )


async def _insert(session: AsyncSession, values: dict[str, object]) -> Guardianship:
    # The partial unique index is the last word on "one live delegation per pair".
    new = await session.scalar(
        insert(Guardianship)
        .values(id=new_id(), created_at=clock.now(), **values)
        .on_conflict_do_nothing(
            index_elements=[Guardianship.guardian_id, Guardianship.dependent_id], index_where=text(LIVE_SQL)
        )
        .returning(Guardianship.id)
    )
    if new is None:
        raise DomainError("双方之间已有待确认或生效中的代办授权", code=Code.GUARDIANSHIP_EXISTS)
    found = await session.get(Guardianship, new)
    assert found is not None
    return found


def _active_by_staff(actor: Actor, note: str | None) -> dict[str, object]:
    now = clock.now()
    return {
        "status": GuardianshipStatus.ACTIVE,
        "created_by_kind": ActorKind.STAFF.value,
        "created_by": actor.id,
        "confirmation": Confirmation.STAFF_VERIFIED,
        "evidence_note": note,
        "confirmed_at": now,
        "confirmed_by": actor.id,
    }


async def create_by_staff(
    session: AsyncSession,
    actor: Actor,
    *,
    guardian_id: uuid.UUID,
    dependent_id: uuid.UUID,
    relation: str,
    scopes: Iterable[str],
    evidence_note: str | None,
) -> Guardianship:
    """Desk staff record a delegation after checking the documents (noted): active at once."""
    actor.require_role(*DESK_ROLES)
    v = Validator()
    wanted, note = _validated(v, relation, scopes, evidence_note, note_required=True)
    v.raise_if_any()
    await _pair(session, guardian_id, dependent_id, dependent_field="dependentId")
    await _check_room(session, guardian_id, dependent_id)
    return await _insert(
        session,
        {"guardian_id": guardian_id, "dependent_id": dependent_id, "relation": relation, "scopes": wanted}
        | _active_by_staff(actor, note),
    )


async def request(
    session: AsyncSession, actor: Actor, *, dependent_phone: str, relation: str, scopes: Iterable[str]
) -> Guardianship:
    """A guardian asks to act for the patient with this phone number: pending until that patient
    confirms it signed in as themselves."""
    guardian_id = actor.require_patient()
    if actor.delegate is not None:
        raise PermissionDenied(code=CoreCode.DELEGATION_NOT_ALLOWED)
    v = Validator()
    wanted, _ = _validated(v, relation, scopes, None, note_required=False)
    v.raise_if_any()
    phone = normalize_phone(dependent_phone)
    if await ratelimit.hit(REQUEST_WINDOW, ratelimit.subject_of(str(guardian_id))) > REQUEST_WINDOW.limit:
        raise RateLimited("代办申请过于频繁，请稍后再试", code=Code.GUARDIANSHIP_REQUEST_LIMIT)
    dependent_id = await session.scalar(select(Patient.id).where(Patient.phone == phone))
    if dependent_id is None:
        raise NotFound("未找到使用该手机号的患者账号", field="dependentPhone", code=Code.DEPENDENT_NOT_FOUND)
    await _pair(session, guardian_id, dependent_id, dependent_field="dependentPhone")
    await _check_room(session, guardian_id, dependent_id)
    return await _insert(
        session,
        {
            "guardian_id": guardian_id,
            "dependent_id": dependent_id,
            "relation": relation,
            "scopes": wanted,
            "status": GuardianshipStatus.PENDING,
            "created_by_kind": ActorKind.PATIENT.value,
            "created_by": guardian_id,
        },
    )


async def _locked(session: AsyncSession, actor: Actor, guardianship_id: uuid.UUID) -> Guardianship:
    """The delegation, locked, if the actor is one of its two patients or desk staff; else not found
    (an id is no key to someone else's family)."""
    row = await session.get(Guardianship, guardianship_id, with_for_update=True)
    if row is None or not sees(actor, row):
        raise errors.GuardianshipNotFound(field="guardianshipId")
    return row


def sees(actor: Actor, row: Guardianship) -> bool:
    if actor.delegate is not None:
        return False
    if actor.is_patient:
        return actor.id in (row.guardian_id, row.dependent_id)
    return actor.has_role(*DESK_ROLES)


async def confirm(session: AsyncSession, actor: Actor, guardianship_id: uuid.UUID) -> Guardianship:
    """The dependent, signed in as themselves, confirms a guardian's request."""
    patient_id = actor.require_patient()
    row = await _locked(session, actor, guardianship_id)
    if row.dependent_id != patient_id:
        raise PermissionDenied("只有被代办人本人可以确认代办申请")
    if row.status != GuardianshipStatus.PENDING:
        raise DomainError("该代办申请已处理（已生效或已撤销）", code=Code.GUARDIANSHIP_NOT_PENDING)
    now = clock.now()
    row.status = GuardianshipStatus.ACTIVE
    row.confirmation = Confirmation.DEPENDENT_CONFIRMED
    row.confirmed_at = now
    row.confirmed_by = patient_id
    return row


async def revoke(
    session: AsyncSession, actor: Actor, guardianship_id: uuid.UUID, *, reason: str | None = None
) -> Guardianship:
    """Either party or desk staff end a delegation (a dependent declining a request too); the next
    request that acts under it is refused. Revoking a revoked one changes nothing."""
    actor.require_authenticated()
    row = await _locked(session, actor, guardianship_id)
    why = (reason or "").strip() or None
    v = Validator()
    v.check(why is None or len(why) <= MAX_NOTE, "reason", Code.GUARDIANSHIP_REASON_LENGTH, "理由不能超过200个字符")
    v.check(not actor.is_staff or why is not None, "reason", CoreCode.REASON_REQUIRED, "请填写处理理由")
    v.raise_if_any()
    if row.status == GuardianshipStatus.REVOKED:
        return row
    row.status = GuardianshipStatus.REVOKED
    row.revoked_at = clock.now()
    row.revoked_by_kind = actor.kind.value
    row.revoked_by = actor.id
    row.revoked_reason = why
    return row


async def create_dependent_account(
    session: AsyncSession,
    actor: Actor,
    *,
    phone: str,
    nickname: str,
    birth_date: date,
    relation: str,
    scopes: Iterable[str],
    real_name: str | None = None,
    code: str | None = None,
    guardian_id: uuid.UUID | None = None,
    evidence_note: str | None = None,
) -> DependentAccount:
    """A dependent's own account with its guardian's delegation, active at once. A guardian opens it
    for a minor only, proving the minor's phone with the sign-in code sent to it (authRequestCode);
    desk staff open it for any dependent after checking documents, naming the guardian."""
    by_staff = actor.is_staff or actor.is_system
    if by_staff:
        actor.require_role(*DESK_ROLES)
    else:
        actor.require_patient()
        if actor.delegate is not None:
            raise PermissionDenied(code=CoreCode.DELEGATION_NOT_ALLOWED)
        guardian_id = actor.id
    today = minors.local_today()
    v = Validator()
    wanted, note = _validated(v, relation, scopes, evidence_note, note_required=by_staff)
    name = (nickname or "").strip()
    v.check(2 <= len(name) <= 20, "nickname", Code.NICKNAME_LENGTH, "昵称需为2到20个字符")
    real = (real_name or "").strip() or None
    v.check(real is None or len(real) <= 50, "realName", Code.REAL_NAME_LENGTH, "姓名不能超过50个字符")
    born_ok = date(1900, 1, 1) <= birth_date <= today
    v.check(born_ok, "birthDate", Code.BIRTH_DATE_INVALID, "出生日期无效")
    if born_ok and not by_staff:
        v.check(
            minors.is_minor(birth_date, None, today),
            "birthDate",
            Code.DEPENDENT_NOT_MINOR,
            "只能为未满18周岁的未成年人开通账号；成年家属请用其本人账号确认代办申请",
        )
    v.check(guardian_id is not None, "guardianId", Code.GUARDIAN_REQUIRED, "请指定监护人")
    v.raise_if_any()
    assert guardian_id is not None
    number = normalize_phone(phone)
    if not by_staff:
        # Before telling whether the number has an account: only whoever holds the phone learns it.
        await auth.consume_code(session, number, code or "")
    now = clock.now()
    patient_id = await session.scalar(
        insert(Patient)
        .values(
            id=new_id(),
            phone=number,
            nickname=name,
            real_name=real,
            birth_date=birth_date,
            birth_year=birth_date.year,
            timezone=get_settings().default_timezone,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["phone"])
        .returning(Patient.id)
    )
    if patient_id is None:
        raise DomainError("该手机号已注册，请改为向其发起代办申请", field="phone", code=Code.DEPENDENT_PHONE_TAKEN)
    await grant_default_consents(session, patient_id)
    await _pair(session, guardian_id, patient_id, dependent_field="phone")
    values: dict[str, object] = {
        "guardian_id": guardian_id,
        "dependent_id": patient_id,
        "relation": relation,
        "scopes": wanted,
    }
    if by_staff:
        values |= _active_by_staff(actor, note)
    else:
        values |= {
            "status": GuardianshipStatus.ACTIVE,
            "created_by_kind": ActorKind.PATIENT.value,
            "created_by": guardian_id,
            "confirmation": Confirmation.MINOR_ACCOUNT,
            "confirmed_at": now,
            "confirmed_by": guardian_id,
        }
    await _check_room(session, guardian_id, patient_id)
    guardianship = await _insert(session, values)
    patient = await session.get(Patient, patient_id)
    assert patient is not None
    return DependentAccount(guardianship=guardianship, patient=patient)


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mine:
    as_guardian: list[Guardianship]
    as_dependent: list[Guardianship]


async def mine(session: AsyncSession, actor: Actor) -> Mine:
    """The signed-in patient's delegations: those they hold for others and those over them, newest first."""
    patient_id = actor.require_patient()
    if actor.delegate is not None:
        raise PermissionDenied(code=CoreCode.DELEGATION_NOT_ALLOWED)
    newest = (Guardianship.created_at.desc(), Guardianship.id.desc())
    held = await session.scalars(
        select(Guardianship).where(Guardianship.guardian_id == patient_id).order_by(*newest).limit(LIST_LIMIT)
    )
    over = await session.scalars(
        select(Guardianship).where(Guardianship.dependent_id == patient_id).order_by(*newest).limit(LIST_LIMIT)
    )
    return Mine(as_guardian=list(held), as_dependent=list(over))


async def of_patient(session: AsyncSession, actor: Actor, patient_id: uuid.UUID) -> list[Guardianship]:
    """Desk staff: every delegation a patient holds or is under, newest first."""
    actor.require_role(*DESK_ROLES)
    rows = await session.scalars(
        select(Guardianship)
        .where(or_(Guardianship.guardian_id == patient_id, Guardianship.dependent_id == patient_id))
        .order_by(Guardianship.created_at.desc(), Guardianship.id.desc())
        .limit(2 * LIST_LIMIT)
    )
    return list(rows)


async def actions_page(
    session: AsyncSession, actor: Actor, *, guardianship_id: uuid.UUID, first: int | None, after: str | None
) -> Page[GuardianAction]:
    """What was done under one delegation, newest first: for its guardian, its dependent and admins."""
    if actor.kind is ActorKind.ANONYMOUS:
        raise NotAuthenticated()
    row = await session.get(Guardianship, guardianship_id)
    allowed = row is not None and (
        (actor.is_patient and actor.delegate is None and actor.id in (row.guardian_id, row.dependent_id))
        or actor.has_role(Role.ADMIN)
    )
    if not allowed:
        raise errors.GuardianshipNotFound(field="guardianshipId")
    return await keyset_page(
        session,
        select(GuardianAction).where(GuardianAction.guardianship_id == guardianship_id),
        sort=GuardianAction.occurred_at,
        id_=GuardianAction.id,
        first=first,
        after=after,
        descending=True,
    )


async def guardianships_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Guardianship]:
    """A batch load for the node fetcher; who may see each one is `sees`."""
    rows = await session.scalars(select(Guardianship).where(Guardianship.id.in_(ids)))
    return {r.id: r for r in rows}
