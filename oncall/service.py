"""On-call rules: the duty roster, paging whoever is on duty, acknowledgement and escalation.

A page is one urgent fact (an emergency post, an out-of-range check-in, an overdue complaint) that a
human must acknowledge. It lands in each recipient's staff inbox (a recipient row), is pushed live
after commit, and is texted to recipients with a phone through the outbox. The SMS names nothing
but the brand and the page number: no diagnosis, patient or condition ever leaves in a text message
or shows on a lock screen; the details are behind the staff sign-in.

Services take the actor and decide authorization; they never commit (the caller's unit of work
does), so a page exists if and only if the event that caused it committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, or_, select, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, pubsub
from core.channels import ChannelName, Message, send_later
from core.errors import NotAuthenticated, Validator
from core.identity import Actor, ActorKind, Role
from core.ids import new_id
from core.pagination import Page as ResultPage
from core.pagination import keyset_page
from core.settings import get_settings
from oncall import errors
from oncall.errors import OncallCode as Code
from oncall.models import MAX_LEVEL, DutyShift, Fallback, Page, PageEvent, PageEventKind, PageRecipient
from patients.models import Site, Staff, StaffRole

MAX_SHIFT = timedelta(days=7)
MAX_ROSTER_RANGE = timedelta(days=31)
SMS_KIND = "staff_page"  # outbox message kind: the provider sends it with the notice template
DEFAULT_SMS = "您有一条紧急值班提醒，请立即登录工作台处理"
SUBJECT_MAX = 200


def staff_channel(staff_id: uuid.UUID) -> str:
    """Live events for one staff member's page inbox (hints only: the subscriber re-reads)."""
    return f"oncall:staff:{staff_id}"


def page_number(page_id: uuid.UUID) -> str:
    """The short number staff quote on the phone; in the SMS instead of any detail."""
    return page_id.hex[:8].upper()


def escalate_after() -> timedelta:
    return timedelta(minutes=get_settings().page_escalate_after_minutes)


# --- who may do what ------------------------------------------------------------------------------


def require_staff(actor: Actor) -> None:
    """Any staff member (or a worker); patients get a typed refusal, anonymous users 'please sign in'."""
    if actor.kind is ActorKind.ANONYMOUS:
        raise NotAuthenticated()
    if not (actor.is_staff or actor.is_system):
        raise errors.StaffOnly()


def require_admin(actor: Actor) -> None:
    require_staff(actor)
    actor.require_role(Role.ADMIN)


def inbox_owner(actor: Actor) -> uuid.UUID:
    require_staff(actor)
    if actor.id is None:  # the system actor has no inbox
        raise errors.StaffOnly()
    return actor.id


# --- the roster --------------------------------------------------------------------------------


def _role(value: str, v: Validator, field: str = "role") -> Role | None:
    try:
        return Role(value)
    except ValueError:
        v.add(field, Code.DUTY_ROLE_INVALID, "值班角色无效")
        return None


async def create_shift(
    session: AsyncSession,
    actor: Actor,
    *,
    staff_id: uuid.UUID,
    site_id: uuid.UUID | None,
    role: str,
    starts_at: datetime,
    ends_at: datetime,
) -> DutyShift:
    """An admin puts a staff member on duty. Overlapping shifts are allowed (two doctors at night)."""
    require_admin(actor)
    v = Validator()
    parsed_role = _role(role, v)
    if ends_at <= starts_at:
        v.add("endsAt", Code.DUTY_SHIFT_TIMES_INVALID, "结束时间需晚于开始时间")
    elif ends_at - starts_at > MAX_SHIFT:
        v.add("endsAt", Code.DUTY_SHIFT_TOO_LONG, f"单次值班最长{MAX_SHIFT.days}天")
    if ends_at <= clock.now():
        v.add("endsAt", Code.DUTY_SHIFT_ENDED, "不能安排已经结束的值班")
    staff = await session.get(Staff, staff_id)
    if staff is None or not staff.active:
        v.add("staffId", Code.DUTY_STAFF_INVALID, "员工不存在或已停用")
    elif parsed_role is not None:
        holds = await session.scalar(
            select(exists().where(StaffRole.staff_id == staff_id, StaffRole.role == parsed_role.value))
        )
        if not holds:
            v.add("role", Code.DUTY_STAFF_LACKS_ROLE, "该员工没有此值班角色")
    if site_id is not None:
        site = await session.get(Site, site_id)
        if site is None or not site.active:
            v.add("siteId", Code.DUTY_SITE_INVALID, "院区不存在或已停用")
    v.raise_if_any()
    assert parsed_role is not None
    shift = DutyShift(
        id=new_id(),
        staff_id=staff_id,
        site_id=site_id,
        role=parsed_role.value,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=actor.id,
        created_at=clock.now(),
    )
    session.add(shift)
    await session.flush()
    return shift


async def remove_shift(session: AsyncSession, actor: Actor, shift_id: uuid.UUID) -> DutyShift:
    require_admin(actor)
    shift = await session.get(DutyShift, shift_id)
    if shift is None:
        raise errors.ShiftNotFound(field="shiftId")
    await session.execute(delete(DutyShift).where(DutyShift.id == shift_id))
    return shift


async def roster(
    session: AsyncSession,
    actor: Actor,
    *,
    site_id: uuid.UUID | None,
    start: datetime,
    end: datetime,
) -> list[DutyShift]:
    """Shifts overlapping [start, end); for a site, its own shifts and the all-sites ones."""
    require_staff(actor)
    if end <= start or end - start > MAX_ROSTER_RANGE:
        raise errors.RangeInvalid(f"查询范围需大于0且不超过{MAX_ROSTER_RANGE.days}天", field="to")
    stmt = select(DutyShift).where(DutyShift.starts_at < end, DutyShift.ends_at > start)
    if site_id is not None:
        stmt = stmt.where(or_(DutyShift.site_id == site_id, DutyShift.site_id.is_(None)))
    return list(await session.scalars(stmt.order_by(DutyShift.starts_at, DutyShift.id)))


def _holds(role: Role) -> Any:
    return exists().where(StaffRole.staff_id == Staff.id, StaffRole.role == role.value)


def _at_site(site_id: uuid.UUID | None) -> Any:
    # Staff without a site work for the whole group, so they count at every site.
    return true() if site_id is None else or_(Staff.site_id == site_id, Staff.site_id.is_(None))


async def _ids(session: AsyncSession, stmt: Any) -> list[uuid.UUID]:
    return list(dict.fromkeys(await session.scalars(stmt)))


async def on_duty_ids(
    session: AsyncSession, *, site_id: uuid.UUID | None, role: Role, at: datetime | None = None
) -> list[uuid.UUID]:
    """Active staff with a shift of `role` covering `at` at the site (or for every site), who still
    hold the role (a role taken away ends their duty too). For site None, any shift of the role."""
    at = at or clock.now()
    stmt = (
        select(Staff.id)
        .join(DutyShift, DutyShift.staff_id == Staff.id)
        .where(
            DutyShift.role == role.value,
            DutyShift.starts_at <= at,
            DutyShift.ends_at > at,
            Staff.active,
            _holds(role),
        )
        .order_by(Staff.id)
    )
    if site_id is not None:
        stmt = stmt.where(or_(DutyShift.site_id == site_id, DutyShift.site_id.is_(None)))
    return await _ids(session, stmt)


async def _with_role(session: AsyncSession, *, site_id: uuid.UUID | None, role: Role) -> list[uuid.UUID]:
    stmt = select(Staff.id).where(Staff.active, _holds(role), _at_site(site_id)).order_by(Staff.id)
    return await _ids(session, stmt)


async def _admins(session: AsyncSession, *, site_id: uuid.UUID | None = None) -> list[uuid.UUID]:
    return await _with_role(session, site_id=site_id, role=Role.ADMIN)


async def on_duty_now(session: AsyncSession, actor: Actor, *, site_id: uuid.UUID | None, role: str) -> list[Staff]:
    require_staff(actor)
    v = Validator()
    parsed = _role(role, v)
    v.raise_if_any()
    assert parsed is not None
    ids = await on_duty_ids(session, site_id=site_id, role=parsed)
    found = {s.id: s for s in await session.scalars(select(Staff).where(Staff.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


# --- paging ------------------------------------------------------------------------------------


def _event(
    session: AsyncSession,
    page: Page,
    kind: PageEventKind,
    *,
    actor: Actor | None = None,
    staff_id: uuid.UUID | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        PageEvent(
            id=new_id(),
            page_id=page.id,
            kind=kind.value,
            level=page.level,
            actor_kind=actor.kind.value if actor else ActorKind.SYSTEM.value,
            actor_id=actor.id if actor else None,
            staff_id=staff_id,
            detail=detail or {},
            created_at=clock.now(),
        )
    )


def _sms_body(page: Page) -> str:
    return f"【{get_settings().brand_name}】{page.sms_text}（编号{page_number(page.id)}）"


async def _notify(session: AsyncSession, page: Page, staff_ids: Sequence[uuid.UUID], level: int) -> list[uuid.UUID]:
    """Adds recipients; only the ones new to this page are notified (in-app row + live event + SMS).

    The insert skips (page, staff) pairs that exist, so a repeated escalation, or two workers
    escalating at once, never notify anybody twice."""
    if not staff_ids:
        return []
    rows = await session.execute(select(Staff.id, Staff.phone).where(Staff.id.in_(staff_ids)))
    phones: dict[uuid.UUID, str | None] = {sid: phone for sid, phone in rows}
    now = clock.now()
    added = list(
        await session.scalars(
            insert(PageRecipient)
            .values(
                [
                    {
                        "id": new_id(),
                        "page_id": page.id,
                        "staff_id": sid,
                        "level": level,
                        "sms_queued": bool(phones.get(sid)),
                        "created_at": now,
                    }
                    for sid in staff_ids
                ]
            )
            .on_conflict_do_nothing(constraint="uq_oncall_page_recipients_page_staff")
            .returning(PageRecipient.staff_id)
        )
    )
    for sid in added:
        phone = phones.get(sid)
        if phone:
            await send_later(session, Message(ChannelName.SMS, phone, _sms_body(page), kind=SMS_KIND), sensitive=True)
        _event(session, page, PageEventKind.NOTIFIED, staff_id=sid, detail={"in_app": True, "sms": bool(phone)})
        pubsub.publish_after_commit(session, staff_channel(sid), {"page_id": str(page.id)})
    return added


async def page(
    session: AsyncSession,
    *,
    kind: str,
    ref: str,
    site_id: uuid.UUID | None,
    role: Role,
    subject: str,
    body: str,
    sms_text: str = DEFAULT_SMS,
) -> Page:
    """Page whoever is on duty for (site, role). Idempotent per (kind, ref): a repeat returns the
    existing page and notifies nobody again.

    `sms_text` must carry no health data (no diagnosis, patient or condition): it is texted as is.
    Nobody on duty: every active staff member with the role at the site, then anywhere, then the
    admins, so a page never goes nowhere; the fallback is recorded on the page and in its events."""
    now = clock.now()
    page_id = new_id()
    inserted = await session.scalar(
        insert(Page)
        .values(
            id=page_id,
            kind=str(kind),
            ref=ref[:120],
            site_id=site_id,
            role=role.value,
            subject=subject[:SUBJECT_MAX],
            body=body,
            sms_text=sms_text[:150],
            level=1,
            created_at=now,
            escalate_at=now + escalate_after(),
        )
        .on_conflict_do_nothing(constraint="uq_oncall_pages_kind_ref")
        .returning(Page.id)
    )
    if inserted is None:
        existing = await session.scalar(select(Page).where(Page.kind == kind, Page.ref == ref[:120]))
        assert existing is not None  # the conflicting row committed before our insert gave up
        return existing
    row = await session.get(Page, page_id)
    assert row is not None
    recipients = await on_duty_ids(session, site_id=site_id, role=role, at=now)
    fallback: Fallback | None = None
    if not recipients:
        for option, finder in (
            (Fallback.SITE_ROLE, lambda: _with_role(session, site_id=site_id, role=role)),
            (Fallback.ANY_ROLE, lambda: _with_role(session, site_id=None, role=role)),
            (Fallback.ADMINS, lambda: _admins(session)),
        ):
            recipients = await finder()
            if recipients:
                fallback = option
                break
    row.fallback = fallback.value if fallback else None
    _event(
        session,
        row,
        PageEventKind.CREATED,
        detail={"fallback": row.fallback, "recipients": len(recipients), "site_id": str(site_id) if site_id else None},
    )
    await _notify(session, row, recipients, 1)
    return row


async def _level_recipients(session: AsyncSession, page: Page, level: int) -> list[uuid.UUID]:
    role = Role(page.role)
    if level == 2:
        staff = await _with_role(session, site_id=page.site_id, role=role)
        return staff + [a for a in await _admins(session, site_id=page.site_id) if a not in staff]
    return await _admins(session)


async def escalate_batch(session: AsyncSession, *, limit: int = 100) -> int:
    """Escalate each unacknowledged page whose time passed by one level. The row lock (SKIP LOCKED)
    lets two workers share the work without escalating a page twice; the unique (page, staff)
    recipient keeps a repeated run from notifying anyone twice."""
    now = clock.now()
    due = list(
        await session.scalars(
            select(Page)
            .where(Page.acknowledged_at.is_(None), Page.escalate_at.is_not(None), Page.escalate_at <= now)
            .order_by(Page.escalate_at, Page.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    )
    for row in due:
        level = min(row.level + 1, MAX_LEVEL)
        row.level = level
        recipients = await _level_recipients(session, row, level)
        added = await _notify(session, row, recipients, level)
        _event(session, row, PageEventKind.ESCALATED, detail={"to_level": level, "new_recipients": len(added)})
        row.escalate_at = now + escalate_after() if level < MAX_LEVEL else None
    return len(due)


async def acknowledge(session: AsyncSession, actor: Actor, page_id: uuid.UUID) -> Page:
    """A recipient (or an admin) acknowledges; recorded once, later acknowledgements change nothing."""
    require_staff(actor)
    row = await session.scalar(
        select(Page).where(Page.id == page_id).with_for_update().execution_options(populate_existing=True)
    )
    if row is None:
        raise errors.PageNotFound(field="pageId")
    if not actor.has_role(Role.ADMIN):
        recipient = await session.scalar(
            select(exists().where(PageRecipient.page_id == page_id, PageRecipient.staff_id == actor.id))
        )
        if not recipient:
            raise errors.NotPageRecipient()
    if row.acknowledged_at is not None:
        return row
    row.acknowledged_at = clock.now()
    row.acknowledged_by = actor.id
    row.escalate_at = None  # acknowledgement stops the escalation
    _event(session, row, PageEventKind.ACKNOWLEDGED, actor=actor)
    await session.flush()
    return row


# --- reading -----------------------------------------------------------------------------------


async def my_pages(
    session: AsyncSession, actor: Actor, *, first: int | None, after: str | None, unacknowledged_only: bool = False
) -> ResultPage[Page]:
    """The signed-in staff member's page inbox, newest first."""
    staff_id = inbox_owner(actor)
    stmt = select(Page).where(exists().where(PageRecipient.page_id == Page.id, PageRecipient.staff_id == staff_id))
    if unacknowledged_only:
        stmt = stmt.where(Page.acknowledged_at.is_(None))
    return await keyset_page(
        session, stmt, sort=Page.created_at, id_=Page.id, first=first, after=after, descending=True
    )


async def my_pages_by_ids(session: AsyncSession, actor: Actor, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Page]:
    """Pages among `ids` that are in the actor's inbox (the live subscription re-checks each event)."""
    staff_id = inbox_owner(actor)
    rows = await session.scalars(
        select(Page).where(
            Page.id.in_(ids),
            exists().where(and_(PageRecipient.page_id == Page.id, PageRecipient.staff_id == staff_id)),
        )
    )
    return {p.id: p for p in rows}


async def page_events(session: AsyncSession, actor: Actor, page_id: uuid.UUID) -> list[PageEvent]:
    require_admin(actor)
    if await session.get(Page, page_id) is None:
        raise errors.PageNotFound(field="pageId")
    return list(
        await session.scalars(
            select(PageEvent).where(PageEvent.page_id == page_id).order_by(PageEvent.created_at, PageEvent.id)
        )
    )
