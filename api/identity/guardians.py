"""Guardians over GraphQL: delegations (desk staff record them, a guardian asks and the dependent
confirms, a guardian opens a minor's account), their history, and acting for a dependent.

A guardian acts for a dependent by sending `X-Act-For: <the dependent's Patient id>` with their own
access token: the request's actor is then the dependent with the guardian as delegate
(patients/guardians.py). Such a request may use only the root fields a scope covers (DELEGABLE):
everything else about the dependent's account (profile, consent, sign-out, complaints, ...) stays
theirs. The domain services check the scope again and record what the guardian did; a query's reads
are recorded here, after it ran.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from typing import Any

import strawberry
import structlog
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    SelectionSetNode,
    get_operation_ast,
)
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from api.context import Info
from api.error_types import IdentityError
from api.mutations import ModelPayload, mutate, on_id
from api.relay import (
    Connection,
    Node,
    load_nodes,
    node_fetcher,
    optional_id,
    parse_uuid_id,
    read_page,
    require_id,
    to_global_id,
)
from api.views import node_view, view
from core.db import unit_of_work
from core.errors import CoreCode, DelegationScopeMissing, DomainError, PermissionDenied
from core.identity import Actor, DelegationScope
from loyalty import lifecycle
from patients import guardian_models as models
from patients import guardians, minors, queries
from patients.errors import PatientsCode

log = structlog.get_logger("api.guardians")

strawberry.enum(DelegationScope, name="DelegationScope", description="代办范围：查看、活动报名、积分兑换、社区发言")
GuardianRelation = models.GuardianRelation
strawberry.enum(GuardianRelation, name="GuardianRelation", description="被代办人是代办人的：子女、父母、配偶、其他")
GuardianshipStatus = models.GuardianshipStatus
strawberry.enum(GuardianshipStatus, name="GuardianshipStatus", description="待被代办人确认、生效中、已撤销")
Confirmation = models.Confirmation
strawberry.enum(
    Confirmation,
    name="GuardianshipConfirmation",
    description="生效方式：工作人员核验证件、被代办人本人确认、监护人以短信验证码为未成年人开户",
)

RELATION_LABELS = {
    GuardianRelation.CHILD: "子女",
    GuardianRelation.PARENT: "父母",
    GuardianRelation.SPOUSE: "配偶",
    GuardianRelation.OTHER: "其他",
}
ACTION_LABELS = {
    "view": "查看",
    "reward_redeem": "积分兑换",
    "event_rsvp": "活动报名",
    "event_offer_accept": "接受候补名额",
    "post_create": "发帖",
    "comment_create": "评论",
}

# --- acting for a dependent (the request path) -------------------------------------------------

ACT_FOR_HEADER = "x-act-for"
# How the request path answers a refused X-Act-For (anything else there is the token's 401).
ACT_FOR_STATUS = {
    PatientsCode.ACT_FOR_INVALID.value: 400,
    PatientsCode.DELEGATION_INACTIVE.value: 403,
    CoreCode.PERMISSION_DENIED.value: 403,
}


async def acting_for(session: AsyncSession, actor: Actor, header: str) -> Actor:
    """The actor of a request with X-Act-For: the dependent, the signed-in guardian as delegate."""
    actor.require_patient()  # anonymous: sign in first; staff act as themselves
    dependent_id = parse_uuid_id(header.strip()[:200], "Patient")
    if dependent_id is None:
        raise DomainError("代办对象编号无效（X-Act-For 需为患者的全局编号）", code=PatientsCode.ACT_FOR_INVALID)
    return await guardians.act_for(session, actor, dependent_id)


# Root fields a guardian may use for a dependent, and the scopes that allow each (any one of them);
# an empty set: any delegation (public catalogues). Everything else is refused.
_ANY: frozenset[DelegationScope] = frozenset()
_VIEW = frozenset({DelegationScope.VIEW})
DELEGABLE: dict[str, frozenset[DelegationScope]] = {
    **dict.fromkeys(("conditions", "sites", "tiers", "errorCodes", "consentNotices"), _ANY),
    **dict.fromkeys(
        (
            "me",
            "pointsHistory",
            "myRedemptions",
            "myReferrals",
            "myCheckIns",
            "myCheckInStreak",
            "mySurveys",
            "myComplaints",
            "myInbox",
            "inboxUnreadCount",
            "myConsentHistory",
            "myHealthDataReads",
        ),
        _VIEW,
    ),
    "events": frozenset({DelegationScope.VIEW, DelegationScope.BOOK}),
    "event": frozenset({DelegationScope.VIEW, DelegationScope.BOOK}),
    "eventRsvp": frozenset({DelegationScope.BOOK}),
    "eventOfferAccept": frozenset({DelegationScope.BOOK}),
    "rewards": frozenset({DelegationScope.VIEW, DelegationScope.REDEEM}),
    "rewardRedeem": frozenset({DelegationScope.REDEEM}),
    "groups": frozenset({DelegationScope.VIEW, DelegationScope.COMMUNITY}),
    "group": frozenset({DelegationScope.VIEW, DelegationScope.COMMUNITY}),
    "postCreate": frozenset({DelegationScope.COMMUNITY}),
    "commentCreate": frozenset({DelegationScope.COMMUNITY}),
    # Reads added with the social layer and care-team threads (recorded after they ran, like the others);
    # their writes stay the dependent's own until their services record the guardian as the actor.
    "myGroups": frozenset({DelegationScope.VIEW, DelegationScope.COMMUNITY}),
    "myBookmarks": frozenset({DelegationScope.VIEW, DelegationScope.COMMUNITY}),
    "postSearch": frozenset({DelegationScope.VIEW, DelegationScope.COMMUNITY}),
    "followingFeed": frozenset({DelegationScope.COMMUNITY}),
    "myConversations": _VIEW,
    "conversation": _VIEW,
    "notifications": _VIEW,
    "notificationUnreadCount": _VIEW,
}


def root_fields(document: DocumentNode | None, operation_name: str | None) -> list[str]:
    """The root field names of the operation that runs (through fragments too), once each."""
    operation = get_operation_ast(document, operation_name) if document is not None else None
    if operation is None or document is None:
        return []
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    names: dict[str, None] = {}
    seen: set[str] = set()
    stack: list[SelectionSetNode] = [operation.selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FieldNode):
                if selection.name.value != "__typename":
                    names[selection.name.value] = None
            elif isinstance(selection, InlineFragmentNode):
                stack.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in fragments and name not in seen:
                    seen.add(name)
                    stack.append(fragments[name].selection_set)
    return list(names)


def refusal(actor: Actor, fields: Sequence[str]) -> DomainError | None:
    """Why a delegated request may not run these root fields, or None."""
    delegate = actor.delegate
    assert delegate is not None
    for name in fields:
        allowed = DELEGABLE.get(name)
        if allowed is None:
            return PermissionDenied(
                f"代家人操作时不能使用「{name}」，请切换回本人账号", code=CoreCode.DELEGATION_NOT_ALLOWED
            )
        if allowed and not allowed & delegate.scopes:
            return DelegationScopeMissing(min(allowed).value)
    return None


class DelegationGate(SchemaExtension):
    """A guardian's request runs only what their scopes cover; a query's reads are recorded after it ran
    (when the record cannot be written, the data does not go out)."""

    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        actor = getattr(ctx.context, "actor", None)
        if not isinstance(actor, Actor) or actor.delegate is None:
            yield
            return
        fields = root_fields(ctx.graphql_document, ctx.operation_name)
        refused = refusal(actor, fields)
        if refused is not None:
            # A result before execution: strawberry skips running the operation.
            ctx.result = ExecutionResult(
                data=None, errors=[GraphQLError(refused.message, extensions={"code": refused.code})]
            )
        yield
        if refused is not None or ctx.operation_type is not OperationType.QUERY:
            return  # mutations record what they did in their own transaction (the services)
        try:
            db = getattr(ctx.context, "db", None)
            if db is not None:
                await db.release()  # one pooled connection at a time (api/mutations.py)
            async with unit_of_work() as session:
                await guardians.record_view(session, actor, fields, getattr(ctx.context, "request_id", None))
        except Exception as exc:
            log.exception("guardian_view_unrecorded")
            if ctx.result is not None:
                ctx.result.data = None
                ctx.result.errors = [GraphQLError("代办查看记录写入失败", original_error=exc)]


# --- types -------------------------------------------------------------------------------------


@strawberry.type(name="Guardianship", description="一项代办授权：代办人（监护人）可按授权范围代被代办人办理事项")
class GuardianshipType(Node):
    model: strawberry.Private[models.Guardianship]

    relation: GuardianRelation = strawberry.field(description="被代办人是代办人的（子女、父母、配偶、其他）")
    relation_label: str
    scopes: list[DelegationScope]
    status: GuardianshipStatus
    confirmation: Confirmation | None = strawberry.field(description="生效方式；待确认或未生效时为 null")
    evidence_note: str | None = strawberry.field(description="工作人员核验的证明材料")
    created_by_staff: bool = strawberry.field(description="是否由工作人员登记")
    created_at: datetime
    confirmed_at: datetime | None
    revoked_at: datetime | None
    revoked_by_staff: bool = strawberry.field(description="是否由工作人员撤销")
    revoked_reason: str | None
    guardian_id: strawberry.ID = strawberry.field(description="代办人（患者全局编号）")
    dependent_id: strawberry.ID = strawberry.field(description="被代办人（患者全局编号）；代办时作为 X-Act-For 请求头")

    @classmethod
    def from_model(cls, row: models.Guardianship) -> GuardianshipType:
        relation = GuardianRelation(row.relation)
        return node_view(
            cls,
            row,
            relation=relation,
            relation_label=RELATION_LABELS[relation],
            scopes=[DelegationScope(s) for s in row.scopes],
            status=GuardianshipStatus(row.status),
            confirmation=Confirmation(row.confirmation) if row.confirmation else None,
            created_by_staff=row.created_by_kind == "staff",
            revoked_by_staff=row.revoked_by_kind == "staff",
            guardian_id=strawberry.ID(_patient_gid(row.guardian_id)),
            dependent_id=strawberry.ID(_patient_gid(row.dependent_id)),
        )

    @strawberry.field(description="代办人昵称")
    async def guardian_nickname(self, info: Info) -> str | None:
        return await _nickname(info, self.model.guardian_id)

    @strawberry.field(description="被代办人昵称")
    async def dependent_nickname(self, info: Info) -> str | None:
        return await _nickname(info, self.model.dependent_id)

    @strawberry.field(description="被代办人是否为未成年人（未满18周岁；默认不能在社区发言、不接收营销消息）")
    async def dependent_minor(self, info: Info) -> bool:
        found = await info.context.load(queries.patients_by_ids, self.model.dependent_id)
        return found is not None and minors.is_minor(found.birth_date, found.birth_year)


async def _nickname(info: Info, patient_id: uuid.UUID) -> str | None:
    found = await info.context.load(queries.patients_by_ids, patient_id)
    return found.nickname if found is not None else None


def _patient_gid(patient_id: uuid.UUID) -> str:
    return to_global_id("Patient", patient_id)


@node_fetcher("Guardianship")
async def _fetch_guardianships(info: Info, raw: Sequence[str]) -> Sequence[GuardianshipType | None]:
    return await load_nodes(
        info,
        raw,
        guardians.guardianships_by_ids,
        GuardianshipType.from_model,
        visible=guardians.sees,
    )


@strawberry.type(name="GuardianAction", description="代办人代被代办人办理的一件事（只可追加）")
class GuardianActionType:
    model: strawberry.Private[models.GuardianAction]

    scope: DelegationScope
    action: str = strawberry.field(description="view、reward_redeem、event_rsvp、post_create 等")
    action_label: str
    target: str = strawberry.field(description="对象：reward:<编号>、event:<编号>:<选项>、group:<编号>，查看时为根字段")
    occurred_at: datetime
    guardian_id: strawberry.ID
    dependent_id: strawberry.ID

    @classmethod
    def from_model(cls, row: models.GuardianAction) -> GuardianActionType:
        return view(
            cls,
            row,
            model=row,
            scope=DelegationScope(row.scope),
            action_label=ACTION_LABELS.get(row.action, row.action),
            guardian_id=strawberry.ID(_patient_gid(row.guardian_id)),
            dependent_id=strawberry.ID(_patient_gid(row.dependent_id)),
        )

    @strawberry.field(description="代办人昵称")
    async def guardian_nickname(self, info: Info) -> str | None:
        return await _nickname(info, self.model.guardian_id)


@strawberry.type(description="我的代办授权：我代办他人的，与他人代办我的")
class MyGuardianships:
    as_guardian: list[GuardianshipType] = strawberry.field(description="我作为代办人（最近50项）")
    as_dependent: list[GuardianshipType] = strawberry.field(description="我作为被代办人（最近50项）")


# --- inputs and payloads -----------------------------------------------------------------------


@strawberry.input
class GuardianshipCreateInput:
    guardian_id: strawberry.ID
    dependent_id: strawberry.ID
    relation: GuardianRelation
    scopes: list[DelegationScope]
    evidence_note: str = strawberry.field(description="已核验的证明材料，如 户口本、出生医学证明编号（2到200字）")


@strawberry.input
class GuardianshipRequestInput:
    dependent_phone: str = strawberry.field(description="被代办人的注册手机号")
    relation: GuardianRelation
    scopes: list[DelegationScope]


@strawberry.input
class GuardianshipConfirmInput:
    guardianship_id: strawberry.ID


@strawberry.input
class GuardianshipRevokeInput:
    guardianship_id: strawberry.ID
    reason: str | None = strawberry.field(default=None, description="理由（工作人员必填，最多200字）")


@strawberry.input
class DependentAccountCreateInput:
    phone: str = strawberry.field(description="被代办人登录用的手机号（尚未注册）")
    nickname: str
    birth_date: date
    relation: GuardianRelation
    scopes: list[DelegationScope]
    real_name: str | None = None
    code: str | None = strawberry.field(
        default=None, description="监护人开户：发送到该手机号的验证码（先调用 authRequestCode）"
    )
    guardian_id: strawberry.ID | None = strawberry.field(default=None, description="工作人员开户：监护人")
    evidence_note: str | None = strawberry.field(default=None, description="工作人员开户：已核验的证明材料")


@strawberry.type
class GuardianshipPayload(ModelPayload):
    guardianship: GuardianshipType | None = None
    errors: list[IdentityError]


@strawberry.type
class DependentAccountCreatePayload:
    guardianship: GuardianshipType | None = None
    errors: list[IdentityError]

    @classmethod
    def of(cls, v: guardians.DependentAccount, _info: Info) -> DependentAccountCreatePayload:
        return cls(guardianship=GuardianshipType.from_model(v.guardianship), errors=[])


def _scopes(values: Sequence[DelegationScope]) -> list[str]:
    return [s.value for s in values]


# --- root fields -------------------------------------------------------------------------------


@strawberry.type
class GuardianQuery:
    @strawberry.field(description="我的代办授权：我代办他人的与他人代办我的（含待确认与已撤销）")
    async def my_guardianships(self, info: Info) -> MyGuardianships:
        found = await info.context.read(guardians.mine)
        return MyGuardianships(
            as_guardian=[GuardianshipType.from_model(r) for r in found.as_guardian],
            as_dependent=[GuardianshipType.from_model(r) for r in found.as_dependent],
        )

    @strawberry.field(description="某位患者的代办授权：其代办他人的与他人代办其的（门诊前台、健康管理师与管理员）")
    async def patient_guardianships(self, info: Info, patient_id: strawberry.ID) -> list[GuardianshipType]:
        target = require_id(patient_id, "Patient", "patientId")
        rows = await info.context.read(guardians.of_patient, target)
        return [GuardianshipType.from_model(r) for r in rows]

    @strawberry.field(description="代办记录：代办人在一项授权下代办的每件事，最新在前（代办人、被代办人本人与管理员）")
    async def guardianship_actions(
        self, info: Info, guardianship_id: strawberry.ID, first: int | None = 20, after: str | None = None
    ) -> Connection[GuardianActionType]:
        target = require_id(guardianship_id, "Guardianship", "guardianshipId")
        return await read_page(
            info,
            lambda s, a: guardians.actions_page(s, a, guardianship_id=target, first=first, after=after),
            GuardianActionType.from_model,
        )


@strawberry.type
class GuardianMutation:
    @strawberry.mutation(description="登记代办授权（门诊前台、健康管理师）：核验户口本、出生证明或委托书后立即生效")
    async def guardianship_create(self, info: Info, input: GuardianshipCreateInput) -> GuardianshipPayload:
        async def work(s: AsyncSession, a: Actor) -> Any:
            return await guardians.create_by_staff(
                s,
                a,
                guardian_id=require_id(input.guardian_id, "Patient", "guardianId"),
                dependent_id=require_id(input.dependent_id, "Patient", "dependentId"),
                relation=input.relation.value,
                scopes=_scopes(input.scopes),
                evidence_note=input.evidence_note,
            )

        return await mutate(info, GuardianshipPayload, work)

    @strawberry.mutation(description="申请代办家人的事项：对方登录本人账号确认后生效")
    async def guardianship_request(self, info: Info, input: GuardianshipRequestInput) -> GuardianshipPayload:
        return await mutate(
            info,
            GuardianshipPayload,
            lambda s, a: guardians.request(
                s, a, dependent_phone=input.dependent_phone, relation=input.relation.value, scopes=_scopes(input.scopes)
            ),
        )

    @strawberry.mutation(description="被代办人本人确认代办申请")
    async def guardianship_confirm(self, info: Info, input: GuardianshipConfirmInput) -> GuardianshipPayload:
        return await mutate(
            info, GuardianshipPayload, on_id(guardians.confirm, input.guardianship_id, "Guardianship", "guardianshipId")
        )

    @strawberry.mutation(description="撤销代办授权（代办人、被代办人或工作人员）；拒绝待确认的申请也用此操作；立即生效")
    async def guardianship_revoke(self, info: Info, input: GuardianshipRevokeInput) -> GuardianshipPayload:
        return await mutate(
            info,
            GuardianshipPayload,
            on_id(guardians.revoke, input.guardianship_id, "Guardianship", "guardianshipId", reason=input.reason),
        )

    @strawberry.mutation(
        description="为被代办人开户并建立代办授权：监护人为未成年子女开户（需该手机号的验证码），"
        "或工作人员核验证件后开户（需指定监护人并填写证明材料）"
    )
    async def dependent_account_create(
        self, info: Info, input: DependentAccountCreateInput
    ) -> DependentAccountCreatePayload:
        async def work(s: AsyncSession, a: Actor) -> Any:
            account = await guardians.create_dependent_account(
                s,
                a,
                phone=input.phone,
                nickname=input.nickname,
                birth_date=input.birth_date,
                relation=input.relation.value,
                scopes=_scopes(input.scopes),
                real_name=input.real_name,
                code=input.code,
                guardian_id=optional_id(input.guardian_id, "Patient", "guardianId"),
                evidence_note=input.evidence_note,
            )
            await lifecycle.recompute(s, [account.patient.id], reason="registered")  # as a sign-up does
            return account

        return await mutate(info, DependentAccountCreatePayload, work)
