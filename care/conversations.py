"""Care-team conversations: private threads between one patient and their own care team.

There is no way for a patient to write to another patient: a conversation has exactly one patient (who
opened it) and the care team (care/careteam.py); nobody can be added, and every write and read checks
the actor against the conversation. Another patient's id in a request is simply "not found".

Crisis first: every patient text (subject and body) goes through the crisis screen before anything
else decides about it; an emergency word brings the help reply and a page to the on-duty doctor,
and the message is still delivered (or, when refused for another reason, help goes out all the same).

The reply clock: a patient message starts the clock when none runs (`due_at` = now plus the reply
time in working hours, care/workhours.py); a care-team reply stops it. The cron `care.conversations`
escalates each clock once past its deadline: `escalated_at` is set by one guarded UPDATE and the page
is unique per (conversation, clock start), so a second or concurrent run pages nobody twice.

Status: open (the patient wrote last: the clock runs) <-> waiting_on_patient (the team answered);
closed by either side, final. Notifications that leave the app say only NOTICE_TEXT: never a word of
the conversation, which may name a diagnosis, on a lock screen.

Every staff read of a conversation (the inbox, the thread, its messages, a reply) is recorded in the
PHI read audit under kind `conversations`; the patient reading their own is not.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text, tuple_
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from care import careteam, errors
from care.errors import CareCode as Code
from care.models import QUEUE_TIER, Conversation, ConversationMessage, ConversationStatus, MessageAuthor
from care.workhours import get_clock_settings, reply_due
from community import moderation
from core import clock, jobs, pubsub
from core.channels import ChannelName, Message
from core.db import unit_of_work
from core.errors import DomainError, PermissionDenied, Validator
from core.identity import Actor, Role
from core.ids import new_id
from core.pagination import InvalidCursor, Page, decode_cursor, encode_cursor, keyset_page, page_size
from messaging import outreach
from messaging.outreach import MessageClass, Notice
from oncall import service as oncall
from oncall.models import PageKind
from privacy import reads
from privacy.models import PhiKind

ESCALATE_DUE = jobs.register(
    "care.conversations", "Page the on-duty care team about conversations past their reply clock (once per clock)"
)

SUBJECT_MIN, SUBJECT_MAX = 2, 60
BODY_MAX = 2000
OPEN_LIMIT = 5  # unclosed conversations per patient: more questions go into the ones already open
WHERE = "护理团队咨询"
NOTICE_SUBJECT = "护理团队消息"
NOTICE_TEXT = "您有一条来自护理团队的新消息"
PAGE_ROLE = Role.HEALTH_MANAGER  # who is paged about an unanswered conversation (they triage)
PAGE_SMS = "您有一条患者咨询超时提醒，请立即登录工作台处理"
ALLOWED_CONTROLS = {"\n", "\t"}


def channel(conversation_id: uuid.UUID) -> str:
    """Live events of one conversation (hints: the subscriber re-reads and re-checks access)."""
    return f"care:conversation:{conversation_id}"


# --- input ------------------------------------------------------------------------------------------


def _storable(value: str) -> bool:
    """No NUL or other control characters (newlines and tabs allowed), no lone surrogates."""
    return not any(
        (unicodedata.category(ch) == "Cc" and ch not in ALLOWED_CONTROLS) or unicodedata.category(ch) == "Cs"
        for ch in value
    )


def _subject(raw: str, v: Validator) -> str:
    if not _storable(raw.replace("\r", "")):
        v.add("subject", Code.CONVERSATION_TEXT_INVALID, "主题含有不允许的字符")
        return ""
    cleaned = " ".join(raw.split())
    if not SUBJECT_MIN <= len(cleaned) <= SUBJECT_MAX:
        v.add("subject", Code.CONVERSATION_SUBJECT_LENGTH, f"咨询主题需为{SUBJECT_MIN}到{SUBJECT_MAX}字")
    return cleaned


def _body(raw: str, v: Validator, field: str = "body") -> str:
    cleaned = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not _storable(cleaned):
        v.add(field, Code.CONVERSATION_TEXT_INVALID, "消息含有不允许的字符")
    elif not 1 <= len(cleaned) <= BODY_MAX:
        v.add(field, Code.CONVERSATION_BODY_LENGTH, f"消息内容需为1到{BODY_MAX}字")
    return cleaned


async def _crisis_refused(session: AsyncSession, actor: Actor, refusal: DomainError, ref: str) -> None:
    """A crisis text that is refused still brings help and a page (they commit with the refusal)."""
    await moderation.help_in_crisis(session, actor, where=WHERE, ref=ref, kept=False)
    refusal.keep_changes = True


# --- the clock ----------------------------------------------------------------------------------------


def _queue(conversation: Conversation, now: datetime) -> None:
    """The inbox position: open ones by deadline, the others by when they got their status."""
    status = ConversationStatus(conversation.status)
    conversation.queue_tier = QUEUE_TIER[status]
    conversation.queue_at = conversation.due_at if status == ConversationStatus.OPEN and conversation.due_at else now


def _start_clock(conversation: Conversation, now: datetime) -> None:
    conversation.status = ConversationStatus.OPEN
    if conversation.due_at is None:  # a running clock keeps its deadline: the first message waits longest
        conversation.clock_started_at = now
        conversation.due_at = reply_due(now)
        conversation.escalated_at = None
    _queue(conversation, now)


def _stop_clock(conversation: Conversation, status: ConversationStatus, now: datetime) -> None:
    conversation.status = status
    conversation.clock_started_at = conversation.due_at = conversation.escalated_at = None
    _queue(conversation, now)


def overdue(conversation: Conversation, now: datetime | None = None) -> bool:
    return (
        conversation.status == ConversationStatus.OPEN
        and conversation.due_at is not None
        and conversation.due_at <= (now or clock.now())
    )


# --- writing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Posted:
    conversation: Conversation
    message: ConversationMessage


def _add_message(
    session: AsyncSession, conversation: Conversation, actor: Actor, body: str, *, crisis: bool, now: datetime
) -> ConversationMessage:
    assert actor.id is not None
    message = ConversationMessage(
        id=new_id(),
        conversation_id=conversation.id,
        author_kind=MessageAuthor.PATIENT if actor.is_patient else MessageAuthor.STAFF,
        author_id=actor.id,
        body=body,
        crisis=crisis,
        created_at=now,
    )
    session.add(message)
    conversation.message_count += 1
    conversation.last_message_at = conversation.updated_at = now
    pubsub.publish_after_commit(session, channel(conversation.id), {"message_id": str(message.id)})
    return message


async def start(session: AsyncSession, actor: Actor, *, subject: str, body: str) -> Posted:
    """A patient opens a conversation with their care team (`careteam.route` says whose)."""
    patient_id = actor.require_patient()
    crisis = await moderation.is_crisis(session, actor, f"{subject}\n{body}")  # crisis first
    v = Validator()
    clean_subject, clean_body = _subject(subject, v), _body(body, v)
    try:
        v.raise_if_any()
        unclosed = await session.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(Conversation.patient_id == patient_id, Conversation.status != ConversationStatus.CLOSED)
        )
        if (unclosed or 0) >= OPEN_LIMIT:
            raise errors.ConversationOpenLimit(f"进行中的咨询最多{OPEN_LIMIT}个，请在已有咨询中继续留言")
    except DomainError as refusal:
        if crisis:
            await _crisis_refused(session, actor, refusal, f"care_start:{patient_id}:{subject}\n{body}")
        raise
    where = await careteam.route(session, patient_id)
    now = clock.now()
    conversation = Conversation(
        id=new_id(),
        patient_id=patient_id,
        site_id=where.site_id,
        assignee_id=where.assignee_id,
        subject=clean_subject,
        status=ConversationStatus.OPEN,
        created_at=now,
        updated_at=now,
        last_message_at=now,
        message_count=0,
    )
    _start_clock(conversation, now)
    session.add(conversation)
    await session.flush()
    message = _add_message(session, conversation, actor, clean_body, crisis=crisis, now=now)
    await session.flush()
    if crisis:
        await moderation.help_in_crisis(session, actor, where=WHERE, ref=f"care_message:{message.id}", kept=True)
    return Posted(conversation, message)


async def _writable(session: AsyncSession, actor: Actor, conversation_id: uuid.UUID) -> Conversation:
    """The conversation, locked, for its patient or their care team; anyone else: not found."""
    actor.require_authenticated()
    conversation = await session.get(Conversation, conversation_id, with_for_update=True)
    if conversation is None or conversation.id not in await careteam.readable(session, actor, [conversation]):
        raise errors.ConversationNotFound(field="conversationId")
    await _record(session, actor, [conversation])  # the answer shows the conversation
    return conversation


async def reply(session: AsyncSession, actor: Actor, conversation_id: uuid.UUID, body: str) -> Posted:
    """A message by the patient or by their care team. The patient's starts the clock (when none
    runs); the team's stops it, takes an unassigned conversation and tells the patient (NOTICE_TEXT)."""
    crisis = await moderation.is_crisis(session, actor, body)  # crisis first (staff texts never are)
    v = Validator()
    clean = _body(body, v)
    try:
        v.raise_if_any()
        conversation = await _writable(session, actor, conversation_id)
        if conversation.status == ConversationStatus.CLOSED:
            raise errors.ConversationClosed(field="conversationId")
    except DomainError as refusal:
        if crisis:
            await _crisis_refused(session, actor, refusal, f"care_reply:{actor.id}:{conversation_id}:{body}")
        raise
    now = clock.now()
    message = _add_message(session, conversation, actor, clean, crisis=crisis, now=now)
    if actor.is_patient:
        _start_clock(conversation, now)
    else:
        _stop_clock(conversation, ConversationStatus.WAITING_ON_PATIENT, now)
        if conversation.first_response_at is None:
            conversation.first_response_at = now
        if conversation.assignee_id is None and actor.is_staff:
            conversation.assignee_id = actor.id
        note = Message(ChannelName.IN_APP, str(conversation.patient_id), NOTICE_TEXT, subject=NOTICE_SUBJECT)
        await outreach.notify(
            session, MessageClass.NOTICE, [Notice(conversation.patient_id, note, f"care_reply:{message.id}")]
        )
    await session.flush()
    if crisis:
        await moderation.help_in_crisis(session, actor, where=WHERE, ref=f"care_message:{message.id}", kept=True)
    return Posted(conversation, message)


async def assign(session: AsyncSession, actor: Actor, conversation_id: uuid.UUID, staff_id: uuid.UUID) -> Conversation:
    """The care team hands a conversation to one of them: an active doctor or health manager (or an
    admin) of the conversation's site, or one working for the whole group."""
    if not actor.has_role(*careteam.CLINICAL_ROLES):
        actor.require_authenticated()
        raise PermissionDenied()
    conversation = await _writable(session, actor, conversation_id)
    if conversation.status == ConversationStatus.CLOSED:
        raise errors.ConversationClosed(field="conversationId")
    target = await careteam.staff_info(session, staff_id)
    site = conversation.site_id
    if (
        target is None
        or not target.active
        or not target.clinical
        or (site is not None and target.site_id is not None and target.site_id != site)
    ):
        raise errors.ConversationAssigneeInvalid(field="staffId")
    conversation.assignee_id = staff_id
    conversation.updated_at = clock.now()
    return conversation


async def close(session: AsyncSession, actor: Actor, conversation_id: uuid.UUID) -> Conversation:
    """The patient or the care team ends the conversation (the clock stops; final)."""
    conversation = await _writable(session, actor, conversation_id)
    if conversation.status == ConversationStatus.CLOSED:
        raise errors.ConversationClosed(field="conversationId")
    now = clock.now()
    _stop_clock(conversation, ConversationStatus.CLOSED, now)
    conversation.closed_at = conversation.updated_at = now
    conversation.closed_by_kind = actor.kind.value
    return conversation


# --- escalation -----------------------------------------------------------------------------------

_ESCALATE = text(
    """
    UPDATE care_conversations SET escalated_at = :now
    WHERE id IN (
        SELECT id FROM care_conversations
        WHERE status = 'open' AND escalated_at IS NULL AND due_at <= :now
        ORDER BY due_at, id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id, site_id, assignee_id, clock_started_at
    """
)


async def escalate_batch(session: AsyncSession, *, limit: int = 500) -> int:
    """Overdue clocks escalated once each: a page to the on-duty health manager of the site."""
    now = clock.now()
    hours = get_clock_settings().reply_hours
    rows = (await session.execute(_ESCALATE, {"now": now, "limit": limit})).all()
    for row in rows:
        who = "已指派" if row.assignee_id else "未指派"
        body = (
            f"患者咨询{str(row.id)[:8]}（{who}）超过{hours:g}个工作小时未回复，"
            "请值班人员登录工作台的护理团队咨询中尽快处理。"
        )
        started = row.clock_started_at.isoformat() if row.clock_started_at else "-"
        await oncall.page(
            session,
            kind=PageKind.CONVERSATION_OVERDUE,
            ref=f"{row.id}:{started}",
            site_id=row.site_id,
            role=PAGE_ROLE,
            subject="患者咨询超时提醒",
            body=body,
            sms_text=PAGE_SMS,
        )
    return len(rows)


async def escalate_due(*, batch_size: int = 500) -> int:
    """Cron `care.conversations`."""
    total = 0
    while True:
        async with unit_of_work() as session:
            done = await escalate_batch(session, limit=batch_size)
        total += done
        if done < batch_size:
            return total


# --- reading ------------------------------------------------------------------------------------


async def _record(session: AsyncSession, actor: Actor, rows: Sequence[Conversation]) -> None:
    await reads.record_reads(session, actor, PhiKind.CONVERSATIONS, [c.patient_id for c in rows])


async def conversations_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Conversation]:
    return {c.id: c for c in await session.scalars(select(Conversation).where(Conversation.id.in_(ids)))}


async def last_messages(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, ConversationMessage]:
    """The latest message of each conversation (one statement for an inbox page; the caller showed
    the conversations, so their reads are recorded)."""
    rows = await session.scalars(
        select(ConversationMessage)
        .ext(distinct_on(ConversationMessage.conversation_id))
        .where(ConversationMessage.conversation_id.in_(ids))
        .order_by(
            ConversationMessage.conversation_id, ConversationMessage.created_at.desc(), ConversationMessage.id.desc()
        )
    )
    return {r.conversation_id: r for r in rows}


async def visible(session: AsyncSession, actor: Actor, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Conversation]:
    """The conversations of `ids` the actor may read (staff reads recorded)."""
    found = await conversations_by_ids(session, ids)
    allowed = await careteam.readable(session, actor, list(found.values()))
    shown = [c for c in found.values() if c.id in allowed]
    await _record(session, actor, shown)
    return {c.id: c for c in shown}


async def get(session: AsyncSession, actor: Actor, conversation_id: uuid.UUID) -> Conversation:
    actor.require_authenticated()
    found = (await visible(session, actor, [conversation_id])).get(conversation_id)
    if found is None:
        raise errors.ConversationNotFound(field="id")
    return found


async def my_page(session: AsyncSession, actor: Actor, *, first: int | None, after: str | None) -> Page[Conversation]:
    """The patient's own conversations, latest activity first."""
    patient_id = actor.require_patient()
    return await keyset_page(
        session,
        select(Conversation).where(Conversation.patient_id == patient_id),
        sort=Conversation.last_message_at,
        id_=Conversation.id,
        first=first,
        after=after,
        descending=True,
    )


async def inbox_page(
    session: AsyncSession,
    actor: Actor,
    *,
    status: ConversationStatus | None,
    overdue_only: bool,
    first: int | None,
    after: str | None,
) -> Page[Conversation]:
    """The care team's inbox: the conversations they are the team of (admins: all). Open ones first,
    by deadline (overdue first), then those waiting on the patient; closed ones only when asked for."""
    scope = await careteam.staff_scope(session, actor)
    if scope is None:
        actor.require_authenticated()
        raise PermissionDenied("仅限护理团队（医生、健康管理师）查看")
    size = page_size(first)
    stmt = select(Conversation).where(careteam.visible_sql(scope))
    if overdue_only:
        stmt = stmt.where(Conversation.status == ConversationStatus.OPEN, Conversation.due_at <= clock.now())
    elif status is not None:
        stmt = stmt.where(Conversation.queue_tier == QUEUE_TIER[status])
    else:
        stmt = stmt.where(Conversation.queue_tier < QUEUE_TIER[ConversationStatus.CLOSED])
    key = (Conversation.queue_tier, Conversation.queue_at, Conversation.id)
    if after:
        tier, at, last_id = decode_cursor(after, 3, types=(int, datetime, uuid.UUID))
        if not isinstance(tier, int) or isinstance(tier, bool) or not 0 <= tier <= 2:
            raise InvalidCursor(field="after")
        stmt = stmt.where(tuple_(*key) > tuple_(tier, at, last_id))
    rows = list((await session.scalars(stmt.order_by(*key).limit(size + 1))).all())
    has_next = len(rows) > size
    rows = rows[:size]
    await _record(session, actor, rows)
    return Page(
        items=rows,
        cursors=[encode_cursor(c.queue_tier, c.queue_at, c.id) for c in rows],
        has_next_page=has_next,
        has_previous_page=after is not None,
    )


async def messages_page(
    session: AsyncSession, actor: Actor, conversation: Conversation, *, first: int | None, after: str | None
) -> Page[ConversationMessage]:
    """A conversation's messages, newest first (the caller showed the conversation to this actor:
    the check is repeated, and a staff read recorded)."""
    if conversation.id not in await careteam.readable(session, actor, [conversation]):
        raise errors.ConversationNotFound(field="id")
    await _record(session, actor, [conversation])
    return await keyset_page(
        session,
        select(ConversationMessage).where(ConversationMessage.conversation_id == conversation.id),
        sort=ConversationMessage.created_at,
        id_=ConversationMessage.id,
        first=first,
        after=after,
        descending=True,
    )


async def message_for(session: AsyncSession, actor: Actor, message_id: uuid.UUID) -> ConversationMessage | None:
    """One message, if the actor may read its conversation (the live subscription re-checks each)."""
    message = await session.get(ConversationMessage, message_id)
    if message is None:
        return None
    conversation = await session.get(Conversation, message.conversation_id)
    if conversation is None or conversation.id not in await careteam.readable(session, actor, [conversation]):
        return None
    await _record(session, actor, [conversation])
    return message


def staff_view(actor: Actor) -> bool:
    """Whether the viewer sees the care team's side (deadline, escalation, assignee, crisis flags)."""
    return actor.is_staff
