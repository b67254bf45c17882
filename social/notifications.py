"""Reading the notification centre: my notifications (newest activity first), the unread count, marking
read, and my preferences per kind and channel.

Only the recipient reads a notification; another person's is "not found", never "forbidden", so ids
cannot be probed. A notification that arose in a group the reader can no longer read (they left, were
removed, or it became members-only) is no longer listed or counted: its text quotes a post they may not
open now. Preferences are a kind x channel grid (in-app, WeChat); SMS is refused for every kind
(SMS_NOT_FOR_SOCIAL) and the in-app notice of a moderation outcome cannot be switched off.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from community import access
from core import clock
from core.errors import CoreCode, DomainError
from core.identity import Actor
from core.pagination import Page, keyset_page
from social import accounts, centre, errors, kinds
from social.accounts import Account
from social.kinds import NotificationChannel, NotificationKind
from social.models import Notification, NotificationPreference

MAX_MARK = 100
MAX_PREFERENCES = 40


async def _readable(session: AsyncSession, actor: Actor, me: Account) -> ColumnElement[bool]:
    """Mine, and not of a group I can no longer read."""
    groups = await access.readable_group_ids(session, actor)
    mine = (Notification.recipient_kind == me.kind) & (Notification.recipient_id == me.id)
    return mine & or_(Notification.group_id.is_(None), Notification.group_id.in_(groups))


async def page(
    session: AsyncSession, actor: Actor, *, first: int | None, after: str | None, unread_only: bool = False
) -> Page[Notification]:
    me = accounts.of(actor)
    stmt = select(Notification).where(await _readable(session, actor, me))
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return await keyset_page(
        session, stmt, sort=Notification.updated_at, id_=Notification.id, first=first, after=after, descending=True
    )


async def unread_count(session: AsyncSession, actor: Actor) -> int:
    me = accounts.of(actor)
    count = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(await _readable(session, actor, me), Notification.read_at.is_(None))
    )
    return int(count or 0)


async def by_ids(session: AsyncSession, actor: Actor, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Notification]:
    """The actor's own notifications among `ids` (others are simply absent): node lookups, live events."""
    viewer = accounts.viewer(actor)
    if viewer is None or not ids:
        return {}
    rows = await session.scalars(
        select(Notification).where(
            Notification.id.in_(list(ids)),
            Notification.recipient_kind == viewer.kind,
            Notification.recipient_id == viewer.id,
        )
    )
    return {n.id: n for n in rows}


async def mark_read(session: AsyncSession, actor: Actor, ids: Sequence[uuid.UUID]) -> list[Notification]:
    """Mark these (1..100 of mine) read; marking again changes nothing. Any id that is not mine:
    NOTIFICATION_NOT_FOUND, and nothing is marked."""
    accounts.of(actor)  # NOT_AUTHENTICATED before anything else
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        raise errors.NotificationNotFound("请指定要标记的通知", field="ids")
    if len(wanted) > MAX_MARK:
        raise DomainError(f"一次最多标记{MAX_MARK}条", field="ids", code=CoreCode.TOO_MANY_IDS)
    found = await by_ids(session, actor, wanted)
    if len(found) != len(wanted):
        raise errors.NotificationNotFound(field="ids")
    now = clock.now()
    for n in found.values():
        n.read_at = n.read_at or now
    return [found[i] for i in wanted]


async def mark_all_read(session: AsyncSession, actor: Actor) -> int:
    me = accounts.of(actor)
    result = await session.execute(
        update(Notification)
        .where(
            Notification.recipient_kind == me.kind,
            Notification.recipient_id == me.id,
            Notification.read_at.is_(None),
        )
        .values(read_at=clock.now())
        .returning(Notification.id)
        .execution_options(synchronize_session=False)
    )
    return len(result.all())


# --- preferences ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preference:
    kind: NotificationKind
    channel: NotificationChannel
    enabled: bool
    locked: bool  # cannot be switched off (moderation outcomes in the app)


async def preferences(session: AsyncSession, actor: Actor) -> list[Preference]:
    """Every kind on every channel of the centre, as the person chose or by default."""
    me = accounts.of(actor)
    mine = await centre.choices(session, [me], [k.value for k in NotificationKind])
    return [
        Preference(kind, channel, centre.wants(mine, me, kind.value, channel.value), (kind, channel) in kinds.LOCKED)
        for kind in NotificationKind
        for channel in kinds.CHANNELS
    ]


@dataclass(frozen=True)
class Change:
    kind: str
    channel: str
    enabled: bool


async def update_preferences(session: AsyncSession, actor: Actor, changes: Sequence[Change]) -> list[Preference]:
    """Set some kinds x channels on or off (1..40 entries, each pair once); the rest stay as they were."""
    me = accounts.of(actor)
    pairs = [(c.kind, c.channel) for c in changes]
    if not 1 <= len(changes) <= MAX_PREFERENCES or len(set(pairs)) != len(pairs):
        raise errors.NotificationPreferencesInvalid(field="preferences")
    known_kinds = {k.value for k in NotificationKind}
    for i, c in enumerate(changes):
        where = f"preferences.{i}"
        if c.kind not in known_kinds:
            raise errors.NotificationPreferencesInvalid("通知类型无效", field=f"{where}.kind")
        if c.channel == NotificationChannel.SMS:
            raise errors.SmsNotForSocial(field=f"{where}.channel")
        if c.channel not in {ch.value for ch in kinds.CHANNELS}:
            raise errors.NotificationPreferencesInvalid("通知渠道无效", field=f"{where}.channel")
        if not c.enabled and (NotificationKind(c.kind), NotificationChannel(c.channel)) in kinds.LOCKED:
            raise errors.NotificationPreferenceLocked(field=where)
    now = clock.now()
    stmt = insert(NotificationPreference).values(
        [
            {
                "account_kind": me.kind,
                "account_id": me.id,
                "kind": c.kind,
                "channel": c.channel,
                "enabled": c.enabled,
                "updated_at": now,
            }
            for c in changes
        ]
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["account_kind", "account_id", "kind", "channel"],
            set_={"enabled": stmt.excluded.enabled, "updated_at": stmt.excluded.updated_at},
        )
    )
    return await preferences(session, actor)
