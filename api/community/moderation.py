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

from api.community.members import member_ref
from api.community.types import MembershipType
from api.context import Info
from api.error_types import CommunityError
from api.mutations import ModelPayload, mutate, on_id
from api.relay import (
    Connection,
    Node,
    node_fetcher,
    parse_uuid_id,
    raw_uuids,
    read_page,
    require_id,
    require_id_of,
    to_global_id,
)
from api.views import node_view
from community import moderation
from community.models import AuditEntry, Membership, QueueStatus, Report, SensitiveWord, WordCategory, WordException
from core.errors import CoreCode, NotFound
from core.identity import Actor

ModerationDecision = moderation.Decision
strawberry.enum(ModerationDecision, name="ModerationDecision", description="审核处理方式")
ModerationQueueStatus = QueueStatus
strawberry.enum(ModerationQueueStatus, name="ModerationQueueStatus")
ReportReason = moderation.ReportReason
strawberry.enum(ReportReason, name="ReportReason", description="举报原因")
SensitiveWordCategory = WordCategory
strawberry.enum(
    SensitiveWordCategory,
    name="SensitiveWordCategory",
    description="BLOCK 拒绝发布；HOLD/AD 审核后发布；EMERGENCY 紧急求助",
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


_CONTENT = {"post": "Post", "comment": "Comment"}


@strawberry.type(description="某一举报原因的次数")
class ReportReasonCount:
    reason: ReportReason
    label: str
    count: int


@strawberry.type(description="敏感词过滤命中的一个词")
class FilterHit:
    word: str = strawberry.field(description="词库中的写法")
    category: SensitiveWordCategory


@strawberry.type(name="ModerationItem", description="审核队列条目；匿名内容只显示群内化名，不显示作者身份")
class ModerationItemType(Node):
    entry: strawberry.Private[moderation.QueueEntry]
    target_kind: str = strawberry.field(description="post 或 comment")
    target_id: strawberry.ID = strawberry.field(description="被审核内容的全局编号（Post 或 Comment）")
    post_id: strawberry.ID | None = strawberry.field(description="评论所属的帖子")
    group_id: strawberry.ID
    group_name: str
    reason: str = strawberry.field(description="reports / held_word / ad_claim / emergency")
    reason_label: str
    priority: int = strawberry.field(description="越大越紧急；紧急求助为100")
    score: float = strawberry.field(description="未处理举报的加权分")
    status: ModerationQueueStatus
    version: int = strawberry.field(description="认领和处理时须带上，防止两位版主互相覆盖")
    claimed_by_me: bool
    claimed_at: datetime | None
    decision: ModerationDecision | None
    decided_at: datetime | None
    created_at: datetime
    target_exists: bool
    target_status: str | None = strawberry.field(
        description="内容当前状态：published / held / author_only / hidden / removed"
    )
    title: str | None
    excerpt: str = strawberry.field(description="正文前140个字")
    anonymous: bool
    author_label: str = strawberry.field(description="作者显示名；匿名内容为群内化名")
    author_id: strawberry.ID | None = strawberry.field(description="作者编号（Patient 或 Staff）；匿名内容永远为 null")
    report_count: int
    report_reasons: list[ReportReasonCount]
    filter_hits: list[FilterHit] = strawberry.field(
        description="标题与正文中现在命中的敏感词（按出现顺序，去重）：“敏感词待审”的条目因这些词暂缓发布"
    )

    @classmethod
    def from_entry(cls, entry: moderation.QueueEntry) -> ModerationItemType:
        item = entry.item
        author_id = None
        if entry.author_id is not None and entry.author_kind is not None:
            author_id = to_global_id("Patient" if entry.author_kind == "patient" else "Staff", entry.author_id)
        labels: dict[str, str] = {str(k): v for k, v in moderation.ITEM_REASON_LABELS.items()}
        return cls(
            entry=entry,
            id=to_global_id("ModerationItem", item.id),
            target_kind=item.target_kind,
            target_id=to_global_id("Post" if item.target_kind == "post" else "Comment", item.target_id),
            post_id=to_global_id("Post", entry.post_id) if entry.post_id else None,
            group_id=to_global_id("Group", item.group_id),
            group_name=entry.group_name,
            reason=item.reason,
            reason_label=labels.get(item.reason, item.reason),
            priority=item.priority,
            score=float(item.score),
            status=QueueStatus(item.status),
            version=item.version,
            claimed_by_me=entry.claimed_by_me,
            claimed_at=item.claimed_at,
            decision=moderation.Decision(item.decision) if item.decision else None,
            decided_at=item.decided_at,
            created_at=item.created_at,
            target_exists=entry.target_exists,
            target_status=entry.target_status,
            title=entry.title,
            excerpt=entry.excerpt,
            anonymous=entry.anonymous,
            author_label=entry.author_label,
            author_id=author_id,
            report_count=entry.report_count,
            report_reasons=[
                ReportReasonCount(reason=r, label=moderation.REPORT_REASON_LABELS[r], count=count)
                for reason, count in sorted(entry.report_reasons.items())
                if reason in moderation.REPORT_REASON_LABELS
                for r in [moderation.ReportReason(reason)]
            ],
            filter_hits=[
                FilterHit(word=word, category=category)
                for word, category in dict.fromkeys((m.word, m.category) for m in entry.filter_hits)
            ],
        )


@strawberry.type(name="AuditEntry", description="审核日志（只可追加）：每一次处理及其结果")
class AuditEntryType(Node):
    entry: strawberry.Private[AuditEntry]
    action: str
    actor_kind: str = strawberry.field(description="staff / patient / system")
    actor_id: strawberry.ID | None
    target_kind: str
    target_id: strawberry.ID
    group_id: strawberry.ID | None
    reason: str | None
    detail: JSON = strawberry.field(description="处理结果：状态变化、举报结论、禁言/封禁期限、是否通知作者等")
    created_at: datetime

    @classmethod
    def from_entry(cls, entry: AuditEntry, visible: dict[str, Any]) -> AuditEntryType:
        """`visible`: the part of the entry's detail the viewer may read (moderation.visible_detail)."""
        actor_id = None
        if entry.actor_id is not None:
            actor_id = to_global_id("Staff" if entry.actor_kind == "staff" else "Patient", entry.actor_id)
        kind = entry.target_kind
        return cls(
            entry=entry,
            id=to_global_id("AuditEntry", entry.id),
            action=entry.action,
            actor_kind=entry.actor_kind,
            actor_id=actor_id,
            target_kind=kind,
            target_id=to_global_id(_TARGET_TYPES.get(kind, kind.title().replace("_", "")), entry.target_id),
            group_id=to_global_id("Group", entry.group_id) if entry.group_id else None,
            reason=entry.reason,
            detail=JSON(visible),
            created_at=entry.created_at,
        )


@strawberry.type(name="SensitiveWord", description="敏感词")
class SensitiveWordType(Node):
    model: strawberry.Private[SensitiveWord]

    word: str
    category: SensitiveWordCategory
    note: str | None
    active: bool
    created_at: datetime

    @classmethod
    def from_model(cls, row: SensitiveWord) -> SensitiveWordType:
        return node_view(cls, row, category=WordCategory(row.category))


@strawberry.type(name="WordException", description="例外短语：包含敏感词但无害，其中的匹配会被忽略")
class WordExceptionType(Node):
    model: strawberry.Private[WordException]

    phrase: str
    created_at: datetime

    @classmethod
    def from_model(cls, row: WordException) -> WordExceptionType:
        return node_view(cls, row)


@strawberry.type(name="ContentReport", description="我提交的举报")
class ContentReportType(Node):
    model: strawberry.Private[Report]

    reason: ReportReason
    status: str = strawberry.field(description="open 待处理 / upheld 举报成立 / rejected 未成立")
    created_at: datetime

    @classmethod
    def from_model(cls, row: Report) -> ContentReportType:
        return node_view(cls, row, reason=moderation.ReportReason(row.reason))


@node_fetcher("ModerationItem")
async def _fetch_items(info: Info, raw_ids: Sequence[str]) -> Sequence[Any | None]:
    ids = raw_uuids(raw_ids)
    wanted = [i for i in ids if i is not None]
    found = await info.context.read(moderation.items_by_ids, wanted)
    by_id = {e.item.id: e for e in found if e is not None}
    return [ModerationItemType.from_entry(by_id[i]) if i in by_id else None for i in ids]


def _optional_group(group_id: strawberry.ID | None) -> uuid.UUID | None:
    if group_id is None:
        return None
    parsed = parse_uuid_id(str(group_id), "Group")
    if parsed is None:
        raise NotFound("社群不存在", field="groupId", code=CoreCode.GROUP_NOT_FOUND)
    return parsed


@strawberry.type
class ModerationQuery:
    @strawberry.field(description="审核队列（版主）：最紧急的在前；默认显示未处理完的条目")
    async def moderation_queue(
        self,
        info: Info,
        group_id: strawberry.ID | None = None,
        status: ModerationQueueStatus | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> Connection[ModerationItemType]:
        return await read_page(
            info,
            lambda s, a: moderation.queue_page(
                s,
                a,
                group_id=_optional_group(group_id),
                status=status.value if status is not None else None,
                first=first,
                after=after,
            ),
            ModerationItemType.from_entry,
        )

    @strawberry.field(description="审核日志（版主），最新的在前")
    async def audit_log(
        self, info: Info, group_id: strawberry.ID | None = None, first: int | None = 20, after: str | None = None
    ) -> Connection[AuditEntryType]:
        actor = info.context.actor
        return await read_page(
            info,
            lambda s, a: moderation.audit_page(s, a, group_id=_optional_group(group_id), first=first, after=after),
            lambda e: AuditEntryType.from_entry(e, moderation.visible_detail(e, actor)),
        )

    @strawberry.field(description="敏感词库（管理员）")
    async def sensitive_words(
        self,
        info: Info,
        category: SensitiveWordCategory | None = None,
        include_inactive: bool = False,
        first: int | None = 50,
        after: str | None = None,
    ) -> Connection[SensitiveWordType]:
        return await read_page(
            info,
            lambda s, a: moderation.words_page(
                s,
                a,
                category=category.value if category is not None else None,
                include_inactive=include_inactive,
                first=first,
                after=after,
            ),
            SensitiveWordType.from_model,
        )

    @strawberry.field(description="敏感词例外短语（管理员）")
    async def sensitive_word_exceptions(self, info: Info) -> list[WordExceptionType]:
        rows = await info.context.read(moderation.word_exceptions)
        return [WordExceptionType.from_model(r) for r in rows]


# --- mutations ----------------------------------------------------------------------------------


@strawberry.input
class ReportInput:
    target_id: strawberry.ID = strawberry.field(description="Post 或 Comment 的全局编号")
    reason: ReportReason
    detail: str | None = None


@strawberry.type
class ReportPayload(ModelPayload):
    report: ContentReportType | None = None
    errors: list[CommunityError]


@strawberry.input
class ModerationClaimInput:
    item_id: strawberry.ID
    version: int


@strawberry.input
class ModerateInput:
    item_id: strawberry.ID
    version: int = strawberry.field(description="查看条目时的版本号；已被他人处理时返回 VERSION_CONFLICT")
    decision: ModerationDecision
    reason: str | None = strawberry.field(default=None, description="除 KEEP 外必填")
    mute_days: int | None = strawberry.field(default=None, description="MUTE 时必填，1到365天")
    ban_days: int | None = strawberry.field(default=None, description="BAN 时可选；不填为永久")


@strawberry.type
class ModerationItemPayload:
    item: ModerationItemType | None = None
    errors: list[CommunityError]

    @classmethod
    def of(cls, v: moderation.QueueEntry, _info: Info) -> ModerationItemPayload:
        return cls(item=ModerationItemType.from_entry(v), errors=[])


@strawberry.input(description="指定成员：membershipId，或 groupId 加 accountId（二选一）")
class MemberRestrictInput:
    reason: str
    membership_id: strawberry.ID | None = None
    group_id: strawberry.ID | None = None
    account_id: strawberry.ID | None = strawberry.field(default=None, description="成员的 Patient 或 Staff 全局编号")
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
    membership: MembershipType | None = strawberry.field(default=None, description="处理后的成员身份")
    errors: list[CommunityError]

    @classmethod
    def of(cls, m: Membership, info: Info) -> MemberRestrictPayload:
        return cls(
            membership_id=to_global_id("Membership", m.id),
            muted_until=m.muted_until,
            banned_until=m.banned_until,
            state=m.state,
            membership=MembershipType.from_model(m, viewer=info.context.actor),
            errors=[],
        )


@strawberry.input
class SensitiveWordAddInput:
    word: str
    category: SensitiveWordCategory
    note: str | None = None


@strawberry.input
class SensitiveWordRemoveInput:
    word_id: strawberry.ID


@strawberry.type
class SensitiveWordPayload(ModelPayload):
    word: SensitiveWordType | None = None
    errors: list[CommunityError]


@strawberry.input
class WordExceptionAddInput:
    phrase: str


@strawberry.input
class WordExceptionRemoveInput:
    exception_id: strawberry.ID


@strawberry.type
class WordExceptionPayload(ModelPayload):
    exception: WordExceptionType | None = None
    errors: list[CommunityError]


async def _item_entry(session: AsyncSession, actor: Actor, item: Any) -> moderation.QueueEntry:
    return (await moderation.entries_for(session, actor, [item]))[0]


@strawberry.type
class ModerationMutation:
    @strawberry.mutation(description="举报帖子或评论；多人举报达到阈值时内容自动隐藏，等待版主审核")
    async def report(self, info: Info, input: ReportInput) -> ReportPayload:
        async def work(s: AsyncSession, a: Actor) -> Report:
            kind, target_id = require_id_of(input.target_id, _CONTENT, "targetId")
            return await moderation.report(
                s, a, target_kind=kind, target_id=target_id, reason=input.reason.value, detail=input.detail
            )

        return await mutate(info, ReportPayload, work)

    @strawberry.mutation(description="认领审核条目（版主）")
    async def moderation_claim(self, info: Info, input: ModerationClaimInput) -> ModerationItemPayload:
        async def work(s: AsyncSession, a: Actor) -> moderation.QueueEntry:
            item = await moderation.claim(s, a, require_id(input.item_id, "ModerationItem", "itemId"), input.version)
            return await _item_entry(s, a, item)

        return await mutate(info, ModerationItemPayload, work)

    @strawberry.mutation(description="处理审核条目（版主）：保留、隐藏、删除、警告、禁言或封禁")
    async def moderate(self, info: Info, input: ModerateInput) -> ModerationItemPayload:
        async def work(s: AsyncSession, a: Actor) -> moderation.QueueEntry:
            item = await moderation.decide(
                s,
                a,
                require_id(input.item_id, "ModerationItem", "itemId"),
                version=input.version,
                decision=input.decision.value,
                reason=input.reason,
                mute_days=input.mute_days,
                ban_days=input.ban_days,
            )
            return await _item_entry(s, a, item)

        return await mutate(info, ModerationItemPayload, work)

    @strawberry.mutation(
        description="直接禁言、封禁或解除（版主），须填写理由：按 membershipId，或按 groupId 加 accountId"
    )
    async def member_restrict(self, info: Info, input: MemberRestrictInput) -> MemberRestrictPayload:
        return await mutate(
            info,
            MemberRestrictPayload,
            lambda s, a: moderation.restrict_member(
                s,
                a,
                member_ref(input.membership_id, input.group_id, input.account_id),
                reason=input.reason,
                mute_days=input.mute_days,
                ban=input.ban,
                ban_days=input.ban_days,
                lift=input.lift,
            ),
        )

    @strawberry.mutation(description="添加或重新启用敏感词（管理员）")
    async def sensitive_word_add(self, info: Info, input: SensitiveWordAddInput) -> SensitiveWordPayload:
        return await mutate(
            info,
            SensitiveWordPayload,
            lambda s, a: moderation.add_word(s, a, word=input.word, category=input.category.value, note=input.note),
        )

    @strawberry.mutation(description="停用敏感词（管理员）")
    async def sensitive_word_remove(self, info: Info, input: SensitiveWordRemoveInput) -> SensitiveWordPayload:
        return await mutate(
            info, SensitiveWordPayload, on_id(moderation.remove_word, input.word_id, "SensitiveWord", "wordId")
        )

    @strawberry.mutation(description="添加例外短语（管理员）")
    async def sensitive_word_exception_add(self, info: Info, input: WordExceptionAddInput) -> WordExceptionPayload:
        return await mutate(
            info, WordExceptionPayload, lambda s, a: moderation.add_exception(s, a, phrase=input.phrase)
        )

    @strawberry.mutation(description="删除例外短语（管理员）")
    async def sensitive_word_exception_remove(
        self, info: Info, input: WordExceptionRemoveInput
    ) -> WordExceptionPayload:
        return await mutate(
            info,
            WordExceptionPayload,
            on_id(moderation.remove_exception, input.exception_id, "WordException", "exceptionId"),
        )
