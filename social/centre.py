"""Writing notifications: the one path every kind takes into the centre.

`write` takes drafts already decided for their recipients (who may read the post, their group level,
blocks: the callers in social/fanout.py and social/notify.py decide those) and
- drops those whose recipient turned the kind off in the app (one read for the whole batch);
- inserts the rest in one statement, unique per (recipient, key), so a batch written twice (a retried
  job, a worker killed after its commit) adds nothing: the rows it returns are the new ones only;
- queues a WeChat subscription message for new ones whose patient wants the kind on WeChat, as the
  outreach policy says (class notice: consent for service messages on WeChat, deferred to the end of
  quiet hours, caps if set), through an outbox row sent by a worker only if the notification is still
  unread then and WeChat has an authorisation to spend (else nothing: the app already has it);
- tells the recipients' live subscriptions after commit (one pipelined round per batch).
`regroup` is the in-place update of a grouped notification (reactions: "3 人觉得有帮助").
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, outbox, pubsub, rawsql
from core.channels import ChannelName
from core.ids import new_id
from messaging import delivery, outreach, wechat_service
from messaging.config import MessageKind, get_messaging_settings
from messaging.outreach import MessageClass, Verdict
from social import kinds
from social.accounts import Account
from social.models import Notification

WECHAT_TOPIC = "social.notification_wechat"
MAX_TITLE = 200
MAX_BODY = 500


def live_channel(account: Account) -> str:
    return f"notifications:{account.kind}:{account.id}"


def snippet(text: str, limit: int = 60) -> str:
    """One line of a post or comment for a notification: whitespace folded, cut with an ellipsis."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True)
class Draft:
    recipient: Account
    kind: kinds.NotificationKind
    key: str
    title: str
    body: str = ""
    group_id: uuid.UUID | None = None
    post_id: uuid.UUID | None = None
    target_kind: str | None = None
    target_id: uuid.UUID | None = None
    actor_count: int = 0
    actors: list[dict[str, Any]] = field(default_factory=list)


def actor_entry(account: Account | None, name: str) -> dict[str, Any]:
    """How one who caused a notification is stored: with their account when named, only the alias when
    they wrote anonymously (`account` None)."""
    if account is None:
        return {"name": name}
    return {"kind": account.kind, "id": str(account.id), "name": name}


# --- preferences ----------------------------------------------------------------------------------

_PREFS_SQL = """
SELECT p.account_kind, p.account_id, p.kind, p.channel, p.enabled
FROM social_notification_prefs p
JOIN unnest($2::varchar[], $3::uuid[]) AS r(kind, id) ON p.account_kind = r.kind AND p.account_id = r.id
WHERE p.kind = ANY($1::varchar[])
"""


async def choices(
    session: AsyncSession, accounts: Sequence[Account], kind_values: Sequence[str]
) -> dict[tuple[Account, str, str], bool]:
    """The recipients' own choices (kind, channel) for these kinds; the defaults are not in it."""
    unique = list(dict.fromkeys(accounts))
    if not unique:
        return {}
    rows = await rawsql.fetch(
        session, _PREFS_SQL, sorted(set(kind_values)), [a.kind for a in unique], [a.id for a in unique]
    )
    return {(Account(r[0], r[1]), r[2], r[3]): bool(r[4]) for r in rows}


_LOCKED = frozenset((k.value, c.value) for k, c in kinds.LOCKED)


def wants(prefs: dict[tuple[Account, str, str], bool], account: Account, kind: str, channel: str) -> bool:
    if (kind, channel) in _LOCKED:
        return True
    return prefs.get((account, kind, channel), kinds.default(kind, channel))


# --- writing --------------------------------------------------------------------------------------

# One statement per batch: the drafts as arrays (no statement with thousands of parameters to build).
_INSERT_SQL = """
INSERT INTO social_notifications (id, recipient_kind, recipient_id, kind, key, group_id, post_id, target_kind,
    target_id, title, body, actor_count, actors, created_at, updated_at)
SELECT d.id, d.recipient_kind, d.recipient_id, d.kind, d.key, d.group_id, d.post_id, d.target_kind, d.target_id,
    d.title, d.body, d.actor_count, d.actors::jsonb, $14, $14
FROM unnest($1::uuid[], $2::varchar[], $3::uuid[], $4::varchar[], $5::varchar[], $6::uuid[], $7::uuid[],
    $8::varchar[], $9::uuid[], $10::varchar[], $11::varchar[], $12::int[], $13::text[])
    AS d(id, recipient_kind, recipient_id, kind, key, group_id, post_id, target_kind, target_id, title, body,
         actor_count, actors)
ON CONFLICT (recipient_kind, recipient_id, key) DO NOTHING
RETURNING id, recipient_kind, recipient_id, kind
"""


async def write(session: AsyncSession, drafts: Sequence[Draft]) -> int:
    """Insert the drafts their recipients want in the app; returns how many are new."""
    if not drafts:
        return 0
    prefs = await choices(session, [d.recipient for d in drafts], [d.kind.value for d in drafts])
    wanted = [d for d in drafts if wants(prefs, d.recipient, d.kind.value, ChannelName.IN_APP.value)]
    if not wanted:
        return 0
    now = clock.now()
    columns: list[list[Any]] = [[] for _ in range(13)]
    for d in wanted:
        values = (
            new_id(),
            d.recipient.kind,
            d.recipient.id,
            d.kind.value,
            d.key[:200],
            d.group_id,
            d.post_id,
            d.target_kind,
            d.target_id,
            d.title[:MAX_TITLE],
            d.body[:MAX_BODY],
            d.actor_count,
            json.dumps(d.actors[:3], ensure_ascii=False),
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    rows = await rawsql.fetch(session, _INSERT_SQL, *columns, now)
    created = [(r[0], Account(r[1], r[2]), r[3]) for r in rows]
    await _wechat(session, prefs, created, now)
    _publish_after_commit(session, [(account, nid) for nid, account, _ in created])
    return len(created)


async def regroup(session: AsyncSession, draft: Draft) -> bool:
    """Create or update the one notification of a grouped occasion (reactions) with the count and sample
    the caller recounted. It comes back unread and moves up only when the count grew, so a reaction
    taken back and given again, or a job run twice, changes nothing. True when new or grown."""
    prefs = await choices(session, [draft.recipient], [draft.kind.value])
    if not wants(prefs, draft.recipient, draft.kind.value, ChannelName.IN_APP.value):
        return False
    now = clock.now()
    row = await session.scalar(
        select(Notification)
        .where(
            Notification.recipient_kind == draft.recipient.kind,
            Notification.recipient_id == draft.recipient.id,
            Notification.key == draft.key,
        )
        .with_for_update()
    )
    if row is None:
        return await write(session, [draft]) > 0
    row.title, row.body, row.actors = draft.title[:MAX_TITLE], draft.body[:MAX_BODY], draft.actors[:3]
    if draft.actor_count <= row.actor_count:
        row.actor_count = draft.actor_count  # one taken back: the count says so, quietly
        return False
    row.actor_count, row.updated_at, row.read_at = draft.actor_count, now, None
    _publish_after_commit(session, [(draft.recipient, row.id)])
    return True


# --- WeChat (through the outreach policy) -----------------------------------------------------------


async def _wechat(
    session: AsyncSession,
    prefs: dict[tuple[Account, str, str], bool],
    created: Sequence[tuple[uuid.UUID, Account, str]],
    now: datetime,
) -> None:
    """Queue a WeChat message for each new notification whose patient wants its kind there, as the
    outreach policy decides (skip, now, or at the end of quiet hours)."""
    asked = [
        (nid, account, kind)
        for nid, account, kind in created
        if account.kind == "patient" and wants(prefs, account, kind, ChannelName.WECHAT.value)
    ]
    if not asked:
        return
    message_class = MessageClass.NOTICE
    ids = [account.id for _, account, _ in asked]
    if outreach.get_outreach_settings().cap(message_class):
        await outreach.lock(session, ids)
    policy = await outreach.recipients(session, ids, now)
    sends = outreach.Sends()
    for nid, account, _kind in asked:
        r = policy.get(account.id)
        if r is None:
            continue
        decision = outreach.decide(r, message_class, ChannelName.WECHAT.value, now)
        if decision.verdict == Verdict.SKIP:
            continue
        await outbox.emit(session, WECHAT_TOPIC, {"notification_id": str(nid)}, available_at=decision.until)
        sends.add(r, message_class, ChannelName.WECHAT.value, f"notification:{nid}:wechat", now)
    await sends.flush(session)


async def _authorised(session: AsyncSession, patient_id: uuid.UUID) -> bool:
    """Whether WeChat may carry a message to this patient now: a mini-program subscribe message needs an
    unspent one-time authorisation for the notice template; an Official Account message a binding."""
    settings = get_messaging_settings()
    if settings.wechat_send_app == "mini_program":
        template = settings.wechat_template(MessageKind.NOTICE)
        if template is None:
            return False
        return (await wechat_service.unused_counts(session, patient_id)).get(template.template_id, 0) > 0
    return await wechat_service.binding_of(session, patient_id, "official_account") is not None


@outbox.handler(WECHAT_TOPIC)
async def _send_wechat(session: AsyncSession, message: outbox.OutboxMessage) -> None:
    """At the end of quiet hours (or at once): the WeChat card of one notification, unless it was read
    in the app meanwhile or WeChat holds no authorisation (the in-app notification is enough then).
    Once per notification: the delivery's source_ref is its id."""
    notification = await session.get(Notification, uuid.UUID(message.payload["notification_id"]))
    if notification is None or notification.read_at is not None or notification.recipient_kind != "patient":
        return
    if not await _authorised(session, notification.recipient_id):
        return
    await delivery.deliver(
        session,
        delivery.Outgoing(
            channel=ChannelName.WECHAT,
            patient_id=notification.recipient_id,
            subject="社区通知",
            body=kinds.WECHAT_TEXT[kinds.NotificationKind(notification.kind)],
            link=None,
            source_ref=f"notification:{notification.id}",
        ),
    )


# --- live -----------------------------------------------------------------------------------------


def _publish_after_commit(session: AsyncSession, items: Sequence[tuple[Account, uuid.UUID]]) -> None:
    """Live pushes of a whole fan-out batch in pipelined rounds after it commits (core/pubsub.py)."""
    if items:
        messages = [(live_channel(a), json.dumps({"notification_id": str(nid)})) for a, nid in items]
        pubsub.publish_batch_after_commit(session, messages)
