"""Care-team conversations over GraphQL: a patient's private threads with their own care team, the
team's inbox, naming a patient's clinicians, and a live feed of new messages in one conversation.

The rules (who may read or write, routing, the reply clock, the PHI read record) live in
care/conversations.py and care/careteam.py; this module only maps them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Sequence
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from api.context import Info
from api.error_types import CareError
from api.identity.types import PatientType, SiteType, StaffType, patient_of, site_of, staff_of
from api.live import announced
from api.mutations import mutate, on_id
from api.relay import Connection, Node, node_fetcher, read_nodes, read_page, require_id, to_global_id
from api.views import node_view, related, view
from care import careteam, conversations
from care import models as m
from community import moderation
from core.identity import Actor
from patients import queries as patient_queries

CareConversationStatus = m.ConversationStatus
strawberry.enum(
    CareConversationStatus,
    name="CareConversationStatus",
    description="OPEN 等待护理团队回复（计时中）；WAITING_ON_PATIENT 已回复，等待患者；CLOSED 已结束",
)
CareTeamRole = m.CareTeamRole
strawberry.enum(CareTeamRole, name="CareTeamRole", description="负责医护的角色：医生或健康管理师")
CareMessageAuthor = m.MessageAuthor
strawberry.enum(CareMessageAuthor, name="CareMessageAuthor", description="消息由患者本人还是护理团队发出")


def _staff_name(row: Any) -> str:
    return str(row.name)


@strawberry.type(name="CareMessage", description="护理团队咨询中的一条消息")
class CareMessageType:
    model: strawberry.Private[m.ConversationMessage]
    staff_view: strawberry.Private[bool]

    id: strawberry.ID
    body: str
    author_kind: CareMessageAuthor
    mine: bool = strawberry.field(description="是否由当前查看者发出")
    crisis: bool | None = strawberry.field(description="含紧急情况关键词（已求助并通知值班医护；仅护理团队可见）")
    created_at: datetime

    @classmethod
    def from_model(cls, row: m.ConversationMessage, actor: Actor) -> CareMessageType:
        staff_view = conversations.staff_view(actor)
        return view(
            cls,
            row,
            model=row,
            staff_view=staff_view,
            id=to_global_id("CareMessage", row.id),
            author_kind=m.MessageAuthor(row.author_kind),
            mine=row.author_id == actor.id,
            crisis=row.crisis if staff_view else None,
        )

    @strawberry.field(description="回复的医护姓名（患者本人发出的为 null）")
    async def author_name(self, info: Info) -> str | None:
        if self.model.author_kind != m.MessageAuthor.STAFF:
            return None
        return await related(info, patient_queries.staff_by_ids, self.model.author_id, _staff_name)

    @strawberry.field(description="回复的员工账号（仅护理团队可见）")
    async def author(self, info: Info) -> StaffType | None:
        if not self.staff_view or self.model.author_kind != m.MessageAuthor.STAFF:
            return None
        return await staff_of(info, self.model.author_id)


@strawberry.type(
    name="CareConversation",
    description="患者与本人护理团队（负责医生/健康管理师或所属院区医护）之间的私密咨询；患者之间不能私信",
)
class CareConversationType(Node):
    model: strawberry.Private[m.Conversation]
    staff_view: strawberry.Private[bool]

    subject: str
    status: CareConversationStatus
    created_at: datetime
    last_message_at: datetime
    message_count: int
    first_response_at: datetime | None = strawberry.field(description="护理团队首次回复时间")
    closed_at: datetime | None
    reply_due_at: datetime | None = strawberry.field(description="回复期限（按工作时间计；仅护理团队可见）")
    overdue: bool = strawberry.field(description="已超过回复期限（仅护理团队可见，患者看到 false）")
    escalated_at: datetime | None = strawberry.field(description="超时升级、通知值班人员的时间（仅护理团队可见）")

    @classmethod
    def from_model(cls, row: m.Conversation, actor: Actor) -> CareConversationType:
        staff_view = conversations.staff_view(actor)
        return node_view(
            cls,
            row,
            staff_view=staff_view,
            status=m.ConversationStatus(row.status),
            reply_due_at=row.due_at if staff_view else None,
            overdue=conversations.overdue(row) if staff_view else False,
            escalated_at=row.escalated_at if staff_view else None,
        )

    @strawberry.field(description="所属院区")
    async def site(self, info: Info) -> SiteType | None:
        return await site_of(info, self.model.site_id)

    @strawberry.field(description="负责的医护（仅护理团队可见）")
    async def assignee(self, info: Info) -> StaffType | None:
        if not self.staff_view:
            return None
        return await staff_of(info, self.model.assignee_id)

    @strawberry.field(description="负责医护的姓名")
    async def assignee_name(self, info: Info) -> str | None:
        return await related(info, patient_queries.staff_by_ids, self.model.assignee_id, _staff_name)

    @strawberry.field(description="发起咨询的患者（仅护理团队可见）")
    async def patient(self, info: Info) -> PatientType | None:
        if not self.staff_view:
            return None
        return await patient_of(info, self.model.patient_id)

    @strawberry.field(description="最新一条消息")
    async def last_message(self, info: Info) -> CareMessageType | None:
        found = await info.context.load(conversations.last_messages, self.model.id)
        return CareMessageType.from_model(found, info.context.actor) if found is not None else None

    @strawberry.field(description="消息，最新在前（护理团队查看会记入健康信息查看记录）")
    async def messages(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[CareMessageType]:
        actor = info.context.actor
        return await read_page(
            info,
            lambda s, a: conversations.messages_page(s, a, self.model, first=first, after=after),
            lambda row: CareMessageType.from_model(row, actor),
        )


@strawberry.type(name="CareTeamMember", description="患者的负责医护（每位患者至多一位医生、一位健康管理师）")
class CareTeamMemberType:
    model: strawberry.Private[m.CareAssignment]
    staff_view: strawberry.Private[bool]

    role: CareTeamRole
    assigned_at: datetime

    @classmethod
    def from_model(cls, row: m.CareAssignment, actor: Actor) -> CareTeamMemberType:
        return cls(
            model=row,
            staff_view=actor.is_staff,
            role=m.CareTeamRole(row.role),
            assigned_at=row.created_at,
        )

    @strawberry.field(description="医护姓名")
    async def name(self, info: Info) -> str:
        found = await related(info, patient_queries.staff_by_ids, self.model.staff_id, _staff_name)
        return found or ""

    @strawberry.field(description="员工账号（仅工作人员可见）")
    async def staff(self, info: Info) -> StaffType | None:
        if not self.staff_view:
            return None
        return await staff_of(info, self.model.staff_id)


@node_fetcher("CareConversation")
async def _fetch_conversations(info: Info, raw: Sequence[str]) -> list[Any]:
    actor = info.context.actor
    return await read_nodes(info, raw, conversations.visible, lambda c: CareConversationType.from_model(c, actor))


# --- queries --------------------------------------------------------------------------------------


@strawberry.type
class ConversationQuery:
    @strawberry.field(description="我与护理团队的咨询，最近有消息的在前（仅患者本人）")
    async def my_conversations(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[CareConversationType]:
        actor = info.context.actor
        return await read_page(
            info,
            lambda s, a: conversations.my_page(s, a, first=first, after=after),
            lambda c: CareConversationType.from_model(c, actor),
        )

    @strawberry.field(
        description="护理团队收件箱（医生、健康管理师：本人负责、本人负责的患者与本院区的咨询；管理员：全部）。"
        "等待回复的在前，按回复期限排序（超时的最先）；status 为空时不含已结束的"
    )
    async def care_inbox(
        self,
        info: Info,
        status: CareConversationStatus | None = None,
        overdue_only: bool = False,
        first: int | None = 20,
        after: str | None = None,
    ) -> Connection[CareConversationType]:
        actor = info.context.actor
        return await read_page(
            info,
            lambda s, a: conversations.inbox_page(
                s, a, status=status, overdue_only=overdue_only, first=first, after=after
            ),
            lambda c: CareConversationType.from_model(c, actor),
        )

    @strawberry.field(
        description="按编号取一个咨询（仅患者本人与其护理团队；其他人得到 CONVERSATION_NOT_FOUND，"
        "该字段为 null，同一请求的其他字段照常返回）"
    )
    async def conversation(self, info: Info, id: strawberry.ID) -> CareConversationType | None:
        raw = require_id(id, "CareConversation", "id")
        found = await info.context.read(conversations.get, raw)
        return CareConversationType.from_model(found, info.context.actor)

    @strawberry.field(description="患者的负责医护：患者本人不传 patientId；门诊前台、医护与管理员传患者编号")
    async def care_team(self, info: Info, patient_id: strawberry.ID | None = None) -> list[CareTeamMemberType]:
        pid = require_id(patient_id, "Patient", "patientId") if patient_id is not None else None
        actor = info.context.actor
        rows = await info.context.read(careteam.care_team, pid)
        return [CareTeamMemberType.from_model(r, actor) for r in rows]


# --- mutations ------------------------------------------------------------------------------------


@strawberry.input
class ConversationStartInput:
    subject: str = strawberry.field(description="主题，2到60字")
    body: str = strawberry.field(description="第一条消息，1到2000字")


@strawberry.input
class ConversationReplyInput:
    conversation_id: strawberry.ID
    body: str = strawberry.field(description="1到2000字")


@strawberry.input
class ConversationAssignInput:
    conversation_id: strawberry.ID
    staff_id: strawberry.ID


@strawberry.input
class ConversationCloseInput:
    conversation_id: strawberry.ID


@strawberry.type
class ConversationMessagePayload:
    conversation: CareConversationType | None = None
    message: CareMessageType | None = None
    help_text: str | None = strawberry.field(
        default=None, description="消息含紧急情况关键词时给患者的求助指引（急救电话、心理援助热线），同时已通知值班医护"
    )
    errors: list[CareError]

    @classmethod
    def of(cls, v: conversations.Posted, info: Info) -> ConversationMessagePayload:
        actor = info.context.actor
        return cls(
            conversation=CareConversationType.from_model(v.conversation, actor),
            message=CareMessageType.from_model(v.message, actor),
            help_text=moderation.HELP_TEXT if v.message.crisis and actor.is_patient else None,
            errors=[],
        )


@strawberry.type
class ConversationPayload:
    conversation: CareConversationType | None = None
    errors: list[CareError]

    @classmethod
    def of(cls, v: m.Conversation, info: Info) -> ConversationPayload:
        return cls(conversation=CareConversationType.from_model(v, info.context.actor), errors=[])


@strawberry.input
class CareAssignmentSetInput:
    patient_id: strawberry.ID
    staff_id: strawberry.ID
    role: CareTeamRole


@strawberry.input
class CareAssignmentRemoveInput:
    patient_id: strawberry.ID
    role: CareTeamRole


@strawberry.type
class CareAssignmentPayload:
    member: CareTeamMemberType | None = None
    errors: list[CareError]

    @classmethod
    def of(cls, v: m.CareAssignment, info: Info) -> CareAssignmentPayload:
        return cls(member=CareTeamMemberType.from_model(v, info.context.actor), errors=[])


@strawberry.type
class ConversationMutation:
    @strawberry.mutation(
        description="患者向本人的护理团队发起咨询（先分给负责的健康管理师/医生，否则分给所属院区的医护）"
    )
    async def conversation_start(self, info: Info, input: ConversationStartInput) -> ConversationMessagePayload:
        async def work(session: AsyncSession, actor: Actor) -> conversations.Posted:
            return await conversations.start(session, actor, subject=input.subject, body=input.body)

        return await mutate(info, ConversationMessagePayload, work)

    @strawberry.mutation(description="在咨询中留言（仅患者本人与其护理团队）；护理团队回复时站内通知患者")
    async def conversation_reply(self, info: Info, input: ConversationReplyInput) -> ConversationMessagePayload:
        return await mutate(
            info,
            ConversationMessagePayload,
            on_id(conversations.reply, input.conversation_id, "CareConversation", "conversationId", input.body),
        )

    @strawberry.mutation(description="把咨询转给该院区的另一位医生或健康管理师（护理团队与管理员）")
    async def conversation_assign(self, info: Info, input: ConversationAssignInput) -> ConversationPayload:
        async def work(session: AsyncSession, actor: Actor) -> m.Conversation:
            conversation_id = require_id(input.conversation_id, "CareConversation", "conversationId")
            staff_id = require_id(input.staff_id, "Staff", "staffId")
            return await conversations.assign(session, actor, conversation_id, staff_id)

        return await mutate(info, ConversationPayload, work)

    @strawberry.mutation(description="结束咨询（患者本人或护理团队）")
    async def conversation_close(self, info: Info, input: ConversationCloseInput) -> ConversationPayload:
        return await mutate(
            info,
            ConversationPayload,
            on_id(conversations.close, input.conversation_id, "CareConversation", "conversationId"),
        )

    @strawberry.mutation(description="指定患者的负责医生或健康管理师（本院区门诊前台、健康管理师与管理员）")
    async def care_assignment_set(self, info: Info, input: CareAssignmentSetInput) -> CareAssignmentPayload:
        async def work(session: AsyncSession, actor: Actor) -> m.CareAssignment:
            patient_id = require_id(input.patient_id, "Patient", "patientId")
            staff_id = require_id(input.staff_id, "Staff", "staffId")
            return await careteam.set_assignment(
                session, actor, patient_id=patient_id, staff_id=staff_id, role=input.role.value
            )

        return await mutate(info, CareAssignmentPayload, work)

    @strawberry.mutation(description="取消患者某一角色的负责医护")
    async def care_assignment_remove(self, info: Info, input: CareAssignmentRemoveInput) -> CareAssignmentPayload:
        async def work(session: AsyncSession, actor: Actor) -> m.CareAssignment:
            patient_id = require_id(input.patient_id, "Patient", "patientId")
            return await careteam.remove_assignment(session, actor, patient_id=patient_id, role=input.role.value)

        return await mutate(info, CareAssignmentPayload, work)


# --- live -----------------------------------------------------------------------------------------


@strawberry.type
class ConversationSubscription:
    @strawberry.subscription(description="咨询中的新消息（仅患者本人与其护理团队；逐条再校验权限）")
    async def conversation_messages(
        self, info: Info, conversation_id: strawberry.ID
    ) -> AsyncGenerator[CareMessageType, None]:
        actor = info.context.actor
        raw = require_id(conversation_id, "CareConversation", "conversationId")
        await info.context.read(conversations.get, raw)

        async def read(session: AsyncSession, actor: Actor, message_id: uuid.UUID) -> m.ConversationMessage | None:
            found = await conversations.message_for(session, actor, message_id)
            return found if found is not None and found.conversation_id == raw else None

        async for message in announced(
            info, conversations.channel(raw), "message_id", read, lambda m: CareMessageType.from_model(m, actor)
        ):
            yield message
