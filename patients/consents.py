"""Consent evidence: notice versions, when a grant still counts, reconfirmation and the history.

Every consent answer records the notice the patient was shown (its version and the hash of its text)
and where it was given. An admin publishes a new notice naming the purposes whose terms changed; a
grant of such a purpose under an older notice is *stale*: the patient is asked again
(`reconfirmations_by_patient`) and, for the marketing purposes, the stale grant no longer counts
until they answer. Service messages keep flowing meanwhile: they carry the care itself (PIPL art.
13(1)2, needed to perform the service), so their stale grants are only asked again.

`in_force_sql` is THE test of "this consents row counts as consent now": every sender (segments,
campaign runner and sender, invitations, `has_consent`) applies it, in SQL, so a new rule about
consent is written once.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.errors import NotFound, Validator
from core.identity import Actor, Role
from core.ids import new_id
from core.pagination import Page, keyset_page
from patients.errors import PatientsCode as Code
from patients.models import Consent, ConsentEvent, ConsentNotice, ConsentPurpose, ConsentSource, Patient
from patients.notices import text_sha256

# Purposes whose stale grants stop counting until reconfirmed (marketing can wait; care cannot).
VERSIONED_PURPOSES = (ConsentPurpose.MARKETING, ConsentPurpose.MARKETING_SENSITIVE)
MAX_TITLE = 100
MAX_BODY = 20_000
MAX_NOTE = 100
# Where each kind of actor may say an answer came from: a patient speaks for their own devices and
# replies, staff for the desk and imports; only the system records registration defaults.
SOURCES_OF_PATIENTS = frozenset({ConsentSource.APP, ConsentSource.WECHAT, ConsentSource.SMS_REPLY})
SOURCES_OF_STAFF = frozenset({ConsentSource.FRONT_DESK, ConsentSource.IMPORT})


def stale_sql(k: str = "consents") -> str:
    """SQL: a later notice changed the purpose of the consents row `k` (an alias in the query)."""
    return (
        f"EXISTS (SELECT 1 FROM consent_notices n"
        f" WHERE n.version > {k}.notice_version AND {k}.purpose = ANY(n.changed_purposes))"
    )


def in_force_sql(k: str = "consents") -> str:
    """SQL: the consents row `k` counts as consent now: granted and, for a marketing purpose, not
    stale. A condition on the row only (callers say which patient, channel and purpose)."""
    versioned = ", ".join(f"'{p.value}'" for p in VERSIONED_PURPOSES)
    return f"({k}.granted AND ({k}.purpose NOT IN ({versioned}) OR NOT {stale_sql(k)}))"


async def consenting(
    session: AsyncSession, patient_ids: Sequence[uuid.UUID], channel: str, purpose: str
) -> set[uuid.UUID]:
    """Which of the patients hold consent in force for (channel, purpose): one statement."""
    if not patient_ids:
        return set()
    rows = await session.scalars(
        select(Consent.patient_id).where(
            Consent.patient_id.in_(patient_ids),
            Consent.channel == channel,
            Consent.purpose == purpose,
            text(in_force_sql()),
        )
    )
    return set(rows)


# --- notices ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeBook:
    """Every notice's version and purposes (the table holds a few dozen rows: read whole)."""

    notices: dict[int, ConsentNotice]

    def current(self, purpose: str) -> ConsentNotice | None:
        """The latest notice covering `purpose`: the one a grant must be given under."""
        covering = [n for n in self.notices.values() if purpose in n.purposes]
        return max(covering, key=lambda n: n.version) if covering else None


async def notice_book(session: AsyncSession) -> NoticeBook:
    return NoticeBook({n.version: n for n in await session.scalars(select(ConsentNotice))})


async def current_notices(session: AsyncSession) -> list[ConsentNotice]:
    """The notice in force for each purpose (one notice may cover several), by version."""
    book = await notice_book(session)
    found = {n.version: n for p in ConsentPurpose if (n := book.current(p.value)) is not None}
    return [found[v] for v in sorted(found)]


async def notices_by_version(session: AsyncSession, versions: Sequence[int]) -> dict[int, ConsentNotice]:
    rows = await session.scalars(select(ConsentNotice).where(ConsentNotice.version.in_(versions)))
    return {n.version: n for n in rows}


async def notice_page(session: AsyncSession, *, first: int | None, after: str | None) -> Page[ConsentNotice]:
    """Every version ever published, newest first: what each answer in a history refers to."""
    return await keyset_page(
        session,
        select(ConsentNotice),
        sort=ConsentNotice.version,
        id_=ConsentNotice.id,
        first=first,
        after=after,
        descending=True,
    )


def _purposes(v: Validator, values: Sequence[str], field: str) -> list[str]:
    known = {p.value for p in ConsentPurpose}
    v.check(all(p in known for p in values), field, Code.CONSENT_PURPOSE_INVALID, "用途无效")
    return sorted({p for p in values if p in known})


async def publish_notice(
    session: AsyncSession,
    actor: Actor,
    *,
    title: str,
    body: str,
    purposes: Sequence[str],
    changed_purposes: Sequence[str],
) -> ConsentNotice:
    """Admins publish a new version. `changed_purposes`: the purposes whose terms changed (their
    earlier grants must be given again); a purpose no notice covered before counts as changed."""
    actor.require_role(Role.ADMIN)
    v = Validator()
    title = (title or "").strip()
    v.check(1 <= len(title) <= MAX_TITLE, "title", Code.CONSENT_NOTICE_TITLE_LENGTH, f"标题需为1到{MAX_TITLE}个字符")
    # Length first: the body is hashed and stored whole.
    v.check(
        bool((body or "").strip()) and len(body) <= MAX_BODY,
        "body",
        Code.CONSENT_NOTICE_BODY_LENGTH,
        f"正文需为1到{MAX_BODY}个字符",
    )
    v.check(len(purposes) <= len(ConsentPurpose) * 2, "purposes", Code.CONSENT_PURPOSE_INVALID, "用途无效")
    v.check(
        len(changed_purposes) <= len(ConsentPurpose) * 2, "changedPurposes", Code.CONSENT_PURPOSE_INVALID, "用途无效"
    )
    v.raise_if_any()
    covered = _purposes(v, purposes, "purposes")
    changed = _purposes(v, changed_purposes, "changedPurposes")
    v.check(bool(covered), "purposes", Code.CONSENT_NOTICE_PURPOSES_EMPTY, "请选择本版说明适用的用途")
    v.check(
        set(changed) <= set(covered),
        "changedPurposes",
        Code.CONSENT_NOTICE_CHANGED_NOT_COVERED,
        "变更的用途须在本版说明的适用范围内",
    )
    v.raise_if_any()
    # One publisher at a time: versions are consecutive and a purpose's current notice is unambiguous.
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended("consent_notices", 0))))
    book = await notice_book(session)
    changed = sorted(set(changed) | {p for p in covered if book.current(p) is None})
    notice = ConsentNotice(
        id=new_id(),
        version=max(book.notices, default=0) + 1,
        title=title,
        body=body,
        body_sha256=text_sha256(body),
        purposes=covered,
        changed_purposes=changed,
        published_at=clock.now(),
        published_by=actor.id,
    )
    session.add(notice)
    await session.flush()
    return notice


# --- reconfirmation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reconfirmation:
    """A purpose the patient granted under a notice that has since changed it: show `notice` and
    ask again for `channels`."""

    purpose: str
    channels: list[str]
    notice: ConsentNotice


async def reconfirmations_by_patient(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Reconfirmation]]:
    rows = (
        await session.execute(
            select(
                Consent.patient_id,
                Consent.purpose,
                func.array_agg(aggregate_order_by(Consent.channel, Consent.channel)),
            )
            .where(Consent.patient_id.in_(ids), Consent.granted.is_(True), text(stale_sql()))
            .group_by(Consent.patient_id, Consent.purpose)
            .order_by(Consent.patient_id, Consent.purpose)
        )
    ).all()
    if not rows:
        return {}
    book = await notice_book(session)
    out: dict[uuid.UUID, list[Reconfirmation]] = defaultdict(list)
    for patient_id, purpose, channels in rows:
        notice = book.current(purpose)
        if notice is not None:  # a stale grant implies a later notice for its purpose
            out[patient_id].append(Reconfirmation(purpose=purpose, channels=list(channels), notice=notice))
    return out


# --- history ----------------------------------------------------------------------------------


async def history_page(
    session: AsyncSession,
    actor: Actor,
    *,
    patient_id: uuid.UUID | None = None,
    first: int | None,
    after: str | None,
) -> Page[ConsentEvent]:
    """Every grant and withdrawal, newest first. A patient reads their own; admins anyone's (the
    evidence of what a person agreed to is not for marketing or care staff to browse)."""
    if patient_id is None or (actor.is_patient and actor.id == patient_id):
        target = actor.require_patient()
    else:
        actor.require_role(Role.ADMIN)
        target = patient_id
        if await session.get(Patient, target) is None:
            raise NotFound("患者不存在", field="patientId")
    return await keyset_page(
        session,
        select(ConsentEvent).where(ConsentEvent.patient_id == target),
        sort=ConsentEvent.occurred_at,
        id_=ConsentEvent.id,
        first=first,
        after=after,
        descending=True,
    )


def check_note(v: Validator, note: str | None) -> str | None:
    note = (note or "").strip() or None
    v.check(
        note is None or len(note) <= MAX_NOTE, "sourceNote", Code.CONSENT_NOTE_LENGTH, f"备注不能超过{MAX_NOTE}个字符"
    )
    return note


def check_source(v: Validator, actor: Actor, source: str) -> None:
    if source not in {s.value for s in ConsentSource}:
        v.add("source", Code.CONSENT_SOURCE_INVALID, "授权来源无效")
        return
    allowed = actor.is_system or (
        ConsentSource(source) in (SOURCES_OF_PATIENTS if actor.is_patient else SOURCES_OF_STAFF)
    )
    v.check(allowed, "source", Code.CONSENT_SOURCE_INVALID, "该授权来源不适用于当前账号")
