"""GraphQL for moderation: reports, the queue, decisions, restrictions, the audit log, the word list.

Mixins for api/schema.py: `ModerationQuery` and `ModerationMutation`. Only mapping lives here; the
rules (who may see what, anonymity, versions) are in community.moderation.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.scalars import JSON

from api.context import Info
from api.errors import UserError
from api.mutations import perform
from api.relay import Connection, InvalidId, Node, connection, node_fetcher, parse_uuid_id, to_global_id
from community import moderation
from community.models import AuditEntry, QueueStatus, Report, SensitiveWord, WordCategory, WordException
from core.errors import NotFound
from core.identity import Actor

ModerationDecision = strawberry.enum(moderation.Decision, name="ModerationDecision", description="审核处理方式")
ModerationQueueStatus = strawberry.enum(QueueStatus, name="ModerationQueueStatus")
ReportReason = strawberry.enum(moderation.ReportReason, name="ReportReason", description="举报原因")
SensitiveWordCategory = strawberry.enum(
    WordCategory, name="SensitiveWordCategory", description="BLOCK 拒绝发布；HOLD/AD 审核后发布；EMERGENCY 紧急求助"
)

# global-id type names of audit targets
_TARGET_TYPES = {
    "post": "Post",
    "comment": "Comment",
    "membership": "Membership",
    "group": "Group",
    "sensitive_word": "SensitiveWord",
    "word_exception": "WordException",
}


def _require_id(value: Any, type_name: str, field: str) -> uuid.UUID:
    parsed = parse_uuid_id(str(value), type_name) if value is not None else None
    if parsed is None:
        raise InvalidId(field)
    return parsed


def _content_id(value: Any, field: str) -> tuple[str, uuid.UUID]:
    """A Post or Comment global id."""
    if (post_id := parse_uuid_id(str(value), "Post")) is not None:
        return "post", post_id
    if (comment_id := parse_uuid_id(str(value), "Comment")) is not None:
        return "comment", comment_id
    raise InvalidId(field)


@strawberry.type(description="某一举报原因的次数")
class ReportReasonCount:
    reason: ReportReason  # type: ignore[valid-type]
    label: str
    count: int


@strawberry.type(name="ModerationItem", description="审核队列条目；匿名内容只显示群内化名，不显示作者身份")
class ModerationItemType(Node):
    entry: strawberry.Private[moderation.QueueEntry]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("ModerationItem", self.entry.item.id)

    @strawberry.field(description="post 或 comment")
    def target_kind(self) -> str:
        return self.entry.item.target_kind

    @strawberry.field(description="被审核内容的全局编号（Post 或 Comment）")
    def target_id(self) -> strawberry.ID:
        item = self.entry.item
        return to_global_id("Post" if item.target_kind == "post" else "Comment", item.target_id)

    @strawberry.field(description="评论所属的帖子")
    def post_id(self) -> strawberry.ID | None:
        return to_global_id("Post", self.entry.post_id) if self.entry.post_id else None

    @strawberry.field
    def group_id(self) -> strawberry.ID:
        return to_global_id("Group", self.entry.item.group_id)

    @strawberry.field
    def group_name(self) -> str:
        return self.entry.group_name

    @strawberry.field(description="reports / held_word / ad_claim / emergency")
    def reason(self) -> str:
        return self.entry.item.reason

    @strawberry.field
    def reason_label(self) -> str:
        reason = self.entry.item.reason
        labels: dict[str, str] = dict(moderation.ITEM_REASON_LABELS)
        return labels.get(reason, reason)

    @strawberry.field(description="越大越紧急；紧急求助为100")
    def priority(self) -> int:
        return self.entry.item.priority

    @strawberry.field(description="未处理举报的加权分")
    def score(self) -> float:
        return float(self.entry.item.score)

    @strawberry.field
    def status(self) -> ModerationQueueStatus:  # type: ignore[valid-type]
        return QueueStatus(self.entry.item.status)

    @strawberry.field(description="认领和处理时须带上，防止两位版主互相覆盖")
    def version(self) -> int:
        return self.entry.item.version

    @strawberry.field
    def claimed_by_me(self) -> bool:
        return self.entry.claimed_by_me

    @strawberry.field
    def claimed_at(self) -> datetime | None:
        return self.entry.item.claimed_at

    @strawberry.field
    def decision(self) -> ModerationDecision | None:  # type: ignore[valid-type]
        return moderation.Decision(self.entry.item.decision) if self.entry.item.decision else None

    @strawberry.field
    def decided_at(self) -> datetime | None:
        return self.entry.item.decided_at

    @strawberry.field
    def created_at(self) -> datetime:
        return self.entry.item.created_at

    @strawberry.field
    def target_exists(self) -> bool:
        return self.entry.target_exists

    @strawberry.field(description="内容当前状态：published / held / author_only / hidden / removed")
    def target_status(self) -> str | None:
        return self.entry.target_status

    @strawberry.field
    def title(self) -> str | None:
        return self.entry.title

    @strawberry.field(description="正文前140个字")
    def excerpt(self) -> str:
        return self.entry.excerpt

    @strawberry.field
    def anonymous(self) -> bool:
        return self.entry.anonymous

    @strawberry.field(description="作者显示名；匿名内容为群内化名")
    def author_label(self) -> str:
        return self.entry.author_label

    @strawberry.field(description="作者编号（Patient 或 Staff）；匿名内容永远为 null")
    def author_id(self) -> strawberry.ID | None:
        if self.entry.author_id is None or self.entry.author_kind is None:
            return None
        return to_global_id("Patient" if self.entry.author_kind == "patient" else "Staff", self.entry.author_id)

    @strawberry.field
    def report_count(self) -> int:
        return self.entry.report_count

    @strawberry.field
    def report_reasons(self) -> list[ReportReasonCount]:
        out = []
        for reason, count in sorted(self.entry.report_reasons.items()):
            if reason in moderation.REPORT_REASON_LABELS:
                r = moderation.ReportReason(reason)
                out.append(ReportReasonCount(reason=r, label=moderation.REPORT_REASON_LABELS[r], count=count))
        return out


@strawberry.type(name="AuditEntry", description="审核日志（只可追加）：每一次处理及其结果")
class AuditEntryType(Node):
    entry: strawberry.Private[AuditEntry]
    visible: strawberry.Private[dict[str, Any]]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("AuditEntry", self.entry.id)

    @strawberry.field
    def action(self) -> str:
        return self.entry.action

    @strawberry.field(description="staff / patient / system")
    def actor_kind(self) -> str:
        return self.entry.actor_kind

    @strawberry.field
    def actor_id(self) -> strawberry.ID | None:
        if self.entry.actor_id is None:
            return None
        return to_global_id("Staff" if self.entry.actor_kind == "staff" else "Patient", self.entry.actor_id)

    @strawberry.field
    def target_kind(self) -> str:
        return self.entry.target_kind

    @strawberry.field
    def target_id(self) -> strawberry.ID:
        kind = self.entry.target_kind
        return to_global_id(_TARGET_TYPES.get(kind, kind.title().replace("_", "")), self.entry.target_id)

    @strawberry.field
    def group_id(self) -> strawberry.ID | None:
        return to_global_id("Group", self.entry.group_id) if self.entry.group_id else None

    @strawberry.field
    def reason(self) -> str | None:
        return self.entry.reason

    @strawberry.field(description="处理结果：状态变化、举报结论、禁言/封禁期限、是否通知作者等")
    def detail(self) -> JSON:
        return self.visible

    @strawberry.field
    def created_at(self) -> datetime:
        return self.entry.created_at


@strawberry.type(name="SensitiveWord", description="敏感词")
class SensitiveWordType(Node):
    model: strawberry.Private[SensitiveWord]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("SensitiveWord", self.model.id)

    @strawberry.field
    def word(self) -> str:
        return self.model.word

    @strawberry.field
    def category(self) -> SensitiveWordCategory:  # type: ignore[valid-type]
        return WordCategory(self.model.category)

    @strawberry.field
    def note(self) -> str | None:
        return self.model.note

    @strawberry.field
    def active(self) -> bool:
        return self.model.active

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at


@strawberry.type(name="WordException", description="例外短语：包含敏感词但无害，其中的匹配会被忽略")
class WordExceptionType(Node):
    model: strawberry.Private[WordException]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("WordException", self.model.id)

    @strawberry.field
    def phrase(self) -> str:
        return self.model.phrase

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at


@strawberry.type(name="ContentReport", description="我提交的举报")
class ContentReportType(Node):
    model: strawberry.Private[Report]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("ContentReport", self.model.id)

    @strawberry.field
    def reason(self) -> ReportReason:  # type: ignore[valid-type]
        return moderation.ReportReason(self.model.reason)

    @strawberry.field(description="open 待处理 / upheld 举报成立 / rejected 未成立")
    def status(self) -> str:
        return self.model.status

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at


@node_fetcher("ModerationItem")
async def _fetch_items(info: Info, raw_ids: Sequence[str]) -> Sequence[Any | None]:
    ids: list[uuid.UUID | None] = []
    for raw in raw_ids:
        try:
            ids.append(uuid.UUID(raw))
        except ValueError:
            ids.append(None)
    wanted = [i for i in ids if i is not None]
    async with info.context.db.read() as session:
        found = await moderation.items_by_ids(session, info.context.actor, wanted)
    by_id = {e.item.id: e for e in found if e is not None}
    return [ModerationItemType(entry=by_id[i]) if i in by_id else None for i in ids]


def _optional_group(group_id: strawberry.ID | None) -> uuid.UUID | None:
    if group_id is None:
        return None
    parsed = parse_uuid_id(str(group_id), "Group")
    if parsed is None:
        raise NotFound("社群不存在", field="groupId", code="GROUP_NOT_FOUND")
    return parsed


@strawberry.type
class ModerationQuery:
    @strawberry.field(description="审核队列（版主）：最紧急的在前；默认显示未处理完的条目")
    async def moderation_queue(
        self,
        info: Info,
        group_id: strawberry.ID | None = None,
        status: ModerationQueueStatus | None = None,  # type: ignore[valid-type]
        first: int | None = 20,
        after: str | None = None,
    ) -> Connection[ModerationItemType]:
        async with info.context.db.read() as session:
            page = await moderation.queue_page(
                session,
                info.context.actor,
                group_id=_optional_group(group_id),
                status=status.value if status is not None else None,
                first=first,
                after=after,
            )
        return connection(page, lambda e: ModerationItemType(entry=e))

    @strawberry.field(description="审核日志（版主），最新的在前")
    async def audit_log(
        self, info: Info, group_id: strawberry.ID | None = None, first: int | None = 20, after: str | None = None
    ) -> Connection[AuditEntryType]:
        actor = info.context.actor
        async with info.context.db.read() as session:
            page = await moderation.audit_page(
                session, actor, group_id=_optional_group(group_id), first=first, after=after
            )
        return connection(page, lambda e: AuditEntryType(entry=e, visible=moderation.visible_detail(e, actor)))

    @strawberry.field(description="敏感词库（管理员）")
    async def sensitive_words(
        self,
        info: Info,
        category: SensitiveWordCategory | None = None,  # type: ignore[valid-type]
        include_inactive: bool = False,
        first: int | None = 50,
        after: str | None = None,
    ) -> Connection[SensitiveWordType]:
        async with info.context.db.read() as session:
            page = await moderation.words_page(
                session,
                info.context.actor,
                category=category.value if category is not None else None,
                include_inactive=include_inactive,
                first=first,
                after=after,
            )
        return connection(page, lambda m: SensitiveWordType(model=m))

    @strawberry.field(description="敏感词例外短语（管理员）")
    async def sensitive_word_exceptions(self, info: Info) -> list[WordExceptionType]:
        async with info.context.db.read() as session:
            rows = await moderation.word_exceptions(session, info.context.actor)
        return [WordExceptionType(model=r) for r in rows]


# --- mutations ----------------------------------------------------------------------------------


@strawberry.input
class ReportInput:
    target_id: strawberry.ID = strawberry.field(description="Post 或 Comment 的全局编号")
    reason: ReportReason  # type: ignore[valid-type]
    detail: str | None = None


@strawberry.type
class ReportPayload:
    report: ContentReportType | None = None
    errors: list[UserError]


@strawberry.input
class ModerationClaimInput:
    item_id: strawberry.ID
    version: int


@strawberry.input
class ModerateInput:
    item_id: strawberry.ID
    version: int = strawberry.field(description="查看条目时的版本号；已被他人处理时返回 VERSION_CONFLICT")
    decision: ModerationDecision  # type: ignore[valid-type]
    reason: str | None = strawberry.field(default=None, description="除 KEEP 外必填")
    mute_days: int | None = strawberry.field(default=None, description="MUTE 时必填，1到365天")
    ban_days: int | None = strawberry.field(default=None, description="BAN 时可选；不填为永久")


@strawberry.type
class ModerationItemPayload:
    item: ModerationItemType | None = None
    errors: list[UserError]


@strawberry.input
class MemberRestrictInput:
    membership_id: strawberry.ID
    reason: str
    mute_days: int | None = None
    ban: bool = False
    ban_days: int | None = None
    lift: bool = strawberry.field(default=False, description="解除禁言和封禁")


@strawberry.type
class MemberRestrictPayload:
    membership_id: strawberry.ID | None = None
    muted_until: datetime | None = None
    banned_until: datetime | None = None
    state: str | None = None
    errors: list[UserError]


@strawberry.input
class SensitiveWordAddInput:
    word: str
    category: SensitiveWordCategory  # type: ignore[valid-type]
    note: str | None = None


@strawberry.input
class SensitiveWordRemoveInput:
    word_id: strawberry.ID


@strawberry.type
class SensitiveWordPayload:
    word: SensitiveWordType | None = None
    errors: list[UserError]


@strawberry.input
class WordExceptionAddInput:
    phrase: str


@strawberry.input
class WordExceptionRemoveInput:
    exception_id: strawberry.ID


@strawberry.type
class WordExceptionPayload:
    exception: WordExceptionType | None = None
    errors: list[UserError]


async def _item_entry(session: AsyncSession, actor: Actor, item: Any) -> moderation.QueueEntry:
    return (await moderation.entries_for(session, actor, [item]))[0]


@strawberry.type
class ModerationMutation:
    @strawberry.mutation(description="举报帖子或评论；多人举报达到阈值时内容自动隐藏，等待版主审核")
    async def report(self, info: Info, input: ReportInput) -> ReportPayload:
        async def work(s: AsyncSession, a: Actor) -> Report:
            kind, target_id = _content_id(input.target_id, "targetId")
            return await moderation.report(
                s, a, target_kind=kind, target_id=target_id, reason=input.reason.value, detail=input.detail
            )

        out = await perform(info, work)
        return ReportPayload(report=ContentReportType(model=out.value) if out.value else None, errors=out.errors)

    @strawberry.mutation(description="认领审核条目（版主）")
    async def moderation_claim(self, info: Info, input: ModerationClaimInput) -> ModerationItemPayload:
        async def work(s: AsyncSession, a: Actor) -> moderation.QueueEntry:
            item = await moderation.claim(s, a, _require_id(input.item_id, "ModerationItem", "itemId"), input.version)
            return await _item_entry(s, a, item)

        out = await perform(info, work)
        return ModerationItemPayload(item=ModerationItemType(entry=out.value) if out.value else None, errors=out.errors)

    @strawberry.mutation(description="处理审核条目（版主）：保留、隐藏、删除、警告、禁言或封禁")
    async def moderate(self, info: Info, input: ModerateInput) -> ModerationItemPayload:
        async def work(s: AsyncSession, a: Actor) -> moderation.QueueEntry:
            item = await moderation.decide(
                s,
                a,
                _require_id(input.item_id, "ModerationItem", "itemId"),
                version=input.version,
                decision=input.decision.value,
                reason=input.reason,
                mute_days=input.mute_days,
                ban_days=input.ban_days,
            )
            return await _item_entry(s, a, item)

        out = await perform(info, work)
        return ModerationItemPayload(item=ModerationItemType(entry=out.value) if out.value else None, errors=out.errors)

    @strawberry.mutation(description="直接禁言、封禁或解除（版主），须填写理由")
    async def member_restrict(self, info: Info, input: MemberRestrictInput) -> MemberRestrictPayload:
        out = await perform(
            info,
            lambda s, a: moderation.restrict_member(
                s,
                a,
                _require_id(input.membership_id, "Membership", "membershipId"),
                reason=input.reason,
                mute_days=input.mute_days,
                ban=input.ban,
                ban_days=input.ban_days,
                lift=input.lift,
            ),
        )
        m = out.value
        if m is None:
            return MemberRestrictPayload(errors=out.errors)
        return MemberRestrictPayload(
            membership_id=to_global_id("Membership", m.id),
            muted_until=m.muted_until,
            banned_until=m.banned_until,
            state=m.state,
            errors=[],
        )

    @strawberry.mutation(description="添加或重新启用敏感词（管理员）")
    async def sensitive_word_add(self, info: Info, input: SensitiveWordAddInput) -> SensitiveWordPayload:
        out = await perform(
            info,
            lambda s, a: moderation.add_word(s, a, word=input.word, category=input.category.value, note=input.note),
        )
        return SensitiveWordPayload(word=SensitiveWordType(model=out.value) if out.value else None, errors=out.errors)

    @strawberry.mutation(description="停用敏感词（管理员）")
    async def sensitive_word_remove(self, info: Info, input: SensitiveWordRemoveInput) -> SensitiveWordPayload:
        out = await perform(
            info, lambda s, a: moderation.remove_word(s, a, _require_id(input.word_id, "SensitiveWord", "wordId"))
        )
        return SensitiveWordPayload(word=SensitiveWordType(model=out.value) if out.value else None, errors=out.errors)

    @strawberry.mutation(description="添加例外短语（管理员）")
    async def sensitive_word_exception_add(self, info: Info, input: WordExceptionAddInput) -> WordExceptionPayload:
        out = await perform(info, lambda s, a: moderation.add_exception(s, a, phrase=input.phrase))
        return WordExceptionPayload(
            exception=WordExceptionType(model=out.value) if out.value else None, errors=out.errors
        )

    @strawberry.mutation(description="删除例外短语（管理员）")
    async def sensitive_word_exception_remove(
        self, info: Info, input: WordExceptionRemoveInput
    ) -> WordExceptionPayload:
        out = await perform(
            info,
            lambda s, a: moderation.remove_exception(
                s, a, _require_id(input.exception_id, "WordException", "exceptionId")
            ),
        )
        return WordExceptionPayload(
            exception=WordExceptionType(model=out.value) if out.value else None, errors=out.errors
        )
